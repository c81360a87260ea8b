//! `eventTypes` and `defineEventType`: the registry of event types and their schemas.

use async_graphql::{Context, InputObject, Object, Result};

use super::context::{require, state};
use super::scalars::{DateTime, JsonValue};
use crate::auth::Scope;
use crate::entities::event_types;
use crate::ingest::registry::TypeDefinition;

/// An event type: category + name, with the JSON Schema its `data` must match.
pub struct EventType(event_types::Model);

/// An event type (a category and a name) and the JSON Schema its payloads must match.
#[Object]
impl EventType {
    /// Category.
    async fn category(&self) -> &str {
        &self.0.category
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The JSON Schema of `data`; null when any object is accepted.
    async fn schema(&self) -> Option<JsonValue> {
        self.0.schema.as_ref().map(|s| JsonValue(s.clone()))
    }
    /// What the type means.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// When it was first defined.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    /// When it was last (re)defined.
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
}

/// A definition of an event type.
#[derive(InputObject)]
pub struct EventTypeInput {
    /// Category, e.g. `page interaction`.
    pub category: String,
    /// Name, e.g. `pageview`.
    pub name: String,
    /// JSON Schema (draft 2020-12 unless `$schema` says otherwise) of `data`; null or absent
    /// accepts any object.
    pub schema: Option<JsonValue>,
    /// What the type means.
    pub description: Option<String>,
}

/// Registry queries.
#[derive(Default)]
pub struct EventTypesQuery;

#[Object]
impl EventTypesQuery {
    /// Every registered event type, by category then name (scope `read`).
    async fn event_types(&self, ctx: &Context<'_>) -> Result<Vec<EventType>> {
        require(ctx, Scope::Read)?;
        Ok(state(ctx)
            .ingest
            .registry()
            .list()
            .into_iter()
            .map(EventType)
            .collect())
    }
}

/// Registry mutations.
#[derive(Default)]
pub struct EventTypesMutation;

#[Object]
impl EventTypesMutation {
    /// Creates or replaces an event type (scope `admin`). A schema that is not valid JSON
    /// Schema is refused with `BAD_USER_INPUT`. Applies to events received from now on.
    async fn define_event_type(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The type and its schema.")] input: EventTypeInput,
    ) -> Result<EventType> {
        require(ctx, Scope::Admin)?;
        let definition = TypeDefinition {
            category: input.category,
            name: input.name,
            schema: input.schema.map(|s| s.0),
            description: input.description,
        };
        let registry = state(ctx).ingest.registry();
        Ok(EventType(registry.define(definition).await?))
    }
}
