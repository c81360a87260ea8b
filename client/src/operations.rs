//! The operations of `clients/operations/*.graphql`, typed by `graphql_client` from
//! `schema.graphql`: one unit struct per operation and a module of the same name in snake case
//! (`RecordEvents` → [`record_events`]) holding its `Variables`, `ResponseData` and the input,
//! enum and object types it uses. The schema and the operation files are the only source: a
//! change to either that breaks a typed field fails this crate's build.
//!
//! Operation variables carry no defaults: `graphql_client` 0.16 emits an enum default as a
//! `&str`, which does not compile.
#![allow(missing_docs, clippy::all)]

use graphql_client::GraphQLQuery;

/// The `DateTime` scalar, as text: RFC 3339 (`2021-01-01T09:15:27.243860Z`) or the brief's
/// `2021-01-01 09:15:27.243860`. Answers are always RFC 3339 in UTC.
pub type DateTime = String;
/// The `JSON` scalar: any JSON value.
pub type JSON = serde_json::Value;

/// Records a batch of events (scope `ingest`); one result per event, in input order.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "../clients/operations/RecordEvents.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone, PartialEq, Deserialize",
    skip_serializing_none
)]
pub struct RecordEvents;

/// One page of events matching a filter (scope `read`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "../clients/operations/EventsPage.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone, PartialEq, Deserialize",
    skip_serializing_none
)]
pub struct EventsPage;

/// One event by id (scope `read`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "../clients/operations/Event.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone, PartialEq, Deserialize",
    skip_serializing_none
)]
pub struct Event;

/// One session with a page of its events (scope `read`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "../clients/operations/Session.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone, PartialEq, Deserialize",
    skip_serializing_none
)]
pub struct Session;

/// Exact event counts grouped by session, category or name (scope `read`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "../clients/operations/EventCounts.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone, PartialEq, Deserialize",
    skip_serializing_none
)]
pub struct EventCounts;

/// Rejected events, newest first, with every reason (scope `read`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "../clients/operations/EventErrors.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone, PartialEq, Deserialize",
    skip_serializing_none
)]
pub struct EventErrors;

/// Every registered event type (scope `read`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "../clients/operations/EventTypes.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone, PartialEq, Deserialize",
    skip_serializing_none
)]
pub struct EventTypes;

/// Creates or replaces an event type and its JSON Schema (scope `admin`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "../clients/operations/DefineEventType.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone, PartialEq, Deserialize",
    skip_serializing_none
)]
pub struct DefineEventType;

/// Runs the background job until nothing is left (scope `admin`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "../clients/operations/ProcessEvents.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone, PartialEq, Deserialize",
    skip_serializing_none
)]
pub struct ProcessEvents;

/// Every application (scope `admin`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "../clients/operations/Applications.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone, PartialEq, Deserialize",
    skip_serializing_none
)]
pub struct Applications;

/// Creates an application, optionally with an IP allowlist (scope `admin`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "../clients/operations/CreateApplication.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone, PartialEq, Deserialize",
    skip_serializing_none
)]
pub struct CreateApplication;

/// Replaces an application's IP allowlist (scope `admin`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "../clients/operations/SetApplicationAllowlist.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone, PartialEq, Deserialize",
    skip_serializing_none
)]
pub struct SetApplicationAllowlist;

/// API keys of one application or of all (scope `admin`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "../clients/operations/ApiKeys.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone, PartialEq, Deserialize",
    skip_serializing_none
)]
pub struct ApiKeys;

/// Issues a key; the secret is in this answer only (scope `admin`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "../clients/operations/CreateApiKey.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone, PartialEq, Deserialize",
    skip_serializing_none
)]
pub struct CreateApiKey;

/// Revokes a key (scope `admin`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "../clients/operations/RevokeApiKey.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone, PartialEq, Deserialize",
    skip_serializing_none
)]
pub struct RevokeApiKey;

/// Issues a new key with the same application and scopes (scope `admin`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "../clients/operations/RotateApiKey.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone, PartialEq, Deserialize",
    skip_serializing_none
)]
pub struct RotateApiKey;

/// Event counts per minute, hour or day of a time zone, zero-filled (scope `read`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "../clients/operations/EventSeries.graphql",
    response_derives = "Debug, Clone, PartialEq, Serialize",
    variables_derives = "Debug, Clone, PartialEq, Deserialize",
    skip_serializing_none
)]
pub struct EventSeries;
