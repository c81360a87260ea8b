//! The GraphQL API, assembled in one place.
//!
//! One resolver struct per resource, merged into the query and mutation roots. Resolvers parse
//! their arguments into domain types, call one service and shape its answer; authorization is
//! the first line of each root field.

pub mod admin;
pub mod context;
pub mod counts;
pub mod error;
pub mod event_errors;
pub mod event_types;
pub mod events;
pub mod ingest;
pub mod nesting;
pub mod processing;
pub mod scalars;
pub mod sessions;

use async_graphql::{EmptySubscription, MergedObject, Schema, SchemaBuilder};

use crate::config::Limits;
use crate::state::AppState;

/// The query root.
#[derive(MergedObject, Default)]
pub struct Query(
    events::EventsQuery,
    sessions::SessionsQuery,
    counts::CountsQuery,
    event_errors::EventErrorsQuery,
    event_types::EventTypesQuery,
    admin::AdminQuery,
);

/// The mutation root.
#[derive(MergedObject, Default)]
pub struct Mutation(
    ingest::IngestMutation,
    event_types::EventTypesMutation,
    processing::ProcessingMutation,
    admin::AdminMutation,
);

/// The schema type served by The Eye.
pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

/// The schema with its limits but without data: enough to print the SDL.
pub fn schema_builder(limits: &Limits) -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(limits.max_query_depth)
        .limit_complexity(limits.max_query_complexity)
}

/// The schema serving requests with `state`.
pub fn build_schema(state: AppState) -> AppSchema {
    schema_builder(&state.settings.limits).data(state).finish()
}

/// The schema in SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    schema_builder(&Limits::default()).finish().sdl()
}
