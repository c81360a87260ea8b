//! The Eye: a self-hosted event-collection service.
//!
//! Applications (trusted clients holding API keys) send batches of analytics events through a
//! GraphQL API. Each batch is validated event by event, durably stored, and answered with one
//! result per event; invalid events are kept as queryable errors. A background job maintains
//! per-session bookkeeping and count aggregates, and the data team queries events, sessions,
//! grouped counts and errors.
//!
//! # Layout
//! Requests flow transport → services → storage:
//! - [`server`]: the axum router and [`server::serve`], which the binary and the tests both call.
//! - [`graphql`]: the schema assembled in one place, one resolver file per resource, and the
//!   mapping from [`error::AppError`] to stable GraphQL error codes.
//! - [`graphiql`]: the in-browser IDE, and [`dashboard`]: charts, top lists, a live tail and a
//!   session explorer; both with their assets compiled into the binary ([`embedded`]).
//! - [`auth`]: API keys, scopes and the authenticated caller of a request.
//! - [`domain`]: types that parse (timestamps, session ids, event types, event ids).
//! - [`ingest`]: the event-type registry, per-event validation and the group-commit writer.
//! - [`processing`]: the background job (`run_once` and the loop around it).
//! - [`lifecycle`]: retention, erasure of a session, and export: how data leaves.
//! - [`query`]: read services for events, sessions, counts and errors.
//! - [`entities`]: sea-orm entities; the schema itself lives in the `migration` crate.
//! - [`config`], [`cli`], [`db`], [`clock`], [`error`]: settings, commands, connections, time and
//!   the error taxonomy; [`checkpoint`]: SQLite's write-ahead log copied back off the commit path;
//!   [`shutdown`]: the signal that stops background tasks.
//! - [`telemetry`]: Prometheus metrics, the log format, and the one line logged per request.

pub mod auth;
pub mod checkpoint;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod db;
pub mod domain;
pub mod embedded;
pub mod entities;
pub mod error;
pub mod graphiql;
pub mod graphql;
pub mod ingest;
pub mod lifecycle;
pub mod live;
pub mod processing;
pub mod query;
pub mod server;
pub mod shutdown;
pub mod state;
pub mod telemetry;
