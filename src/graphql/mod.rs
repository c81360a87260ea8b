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
pub mod lifecycle;
pub mod live;
pub mod processing;
pub mod scalars;
pub mod series;
pub mod sessions;
pub mod types;

use async_graphql::{MergedObject, Schema, SchemaBuilder};

use crate::config::Limits;
use crate::state::AppState;

/// The query root.
#[derive(MergedObject, Default)]
pub struct Query(
    events::EventsQuery,
    sessions::SessionsQuery,
    counts::CountsQuery,
    series::SeriesQuery,
    event_errors::EventErrorsQuery,
    event_types::EventTypesQuery,
    admin::AdminQuery,
    lifecycle::LifecycleQuery,
);

/// The mutation root.
#[derive(MergedObject, Default)]
pub struct Mutation(
    ingest::IngestMutation,
    event_types::EventTypesMutation,
    processing::ProcessingMutation,
    admin::AdminMutation,
    lifecycle::LifecycleMutation,
);

/// The schema type served by The Eye.
pub type AppSchema = Schema<Query, Mutation, live::Subscription>;

/// The schema with its limits but without data: enough to print the SDL.
pub fn schema_builder(limits: &Limits) -> SchemaBuilder<Query, Mutation, live::Subscription> {
    Schema::build(Query::default(), Mutation::default(), live::Subscription)
        .limit_depth(limits.max_query_depth)
        .limit_complexity(limits.max_query_complexity)
}

/// The schemas serving requests: the same types and data, with different limits.
#[derive(Clone)]
pub struct Schemas {
    /// Every operation but shallow introspection runs here, under every limit.
    pub api: AppSchema,
    /// Introspection queries whose depth, with `ofType` links not counted, is within
    /// `max_query_depth`: no depth limit (the text nesting limit still bounds it), the
    /// complexity limit kept. The server decides which operations may run here.
    pub introspection: AppSchema,
}

/// The schemas serving requests with `state`.
pub fn build_schemas(state: AppState) -> Schemas {
    let limits = state.settings.limits.clone();
    Schemas {
        api: schema_builder(&limits).data(state.clone()).finish(),
        introspection: schema_builder(&limits)
            .limit_depth(limits.max_query_nesting)
            .data(state)
            .finish(),
    }
}

/// The schema in SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    schema_builder(&Limits::default()).finish().sdl()
}
