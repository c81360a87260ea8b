//! `events` and `event`: the data team's view of stored events, and the `Event` type and event
//! connection that sessions and subscriptions show too.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use sea_orm::DatabaseConnection;

use super::context::{page_cost, require, state};
use super::scalars::{DateTime, JsonValue};
use super::types::{Application, EventFilter, PageInfo, connection, load_applications};
use crate::auth::Scope;
use crate::entities::events;
use crate::error::AppResult;
use crate::query::cursor::Cursor;
use crate::query::events::{cursor_of, find_event, list_events};
use crate::query::{self, page_size};

/// A stored event.
pub struct Event {
    model: events::Model,
    application: Application,
}

impl Event {
    /// A stored event sent by `application`.
    pub fn new(model: events::Model, application: Application) -> Self {
        Self { model, application }
    }
}

/// An event as stored: who sent it, what happened, when.
#[Object]
impl Event {
    /// The event's id: the client's idempotency key, or one derived from its content.
    async fn id(&self) -> ID {
        ID(self.model.event_id.clone())
    }
    /// The session it belongs to.
    async fn session_id(&self) -> &str {
        &self.model.session_id
    }
    /// Category.
    async fn category(&self) -> &str {
        &self.model.category
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.model.name
    }
    /// The payload as stored.
    async fn data(&self) -> JsonValue {
        JsonValue(self.model.data.clone())
    }
    /// When it happened (UTC).
    async fn timestamp(&self) -> DateTime {
        self.model.timestamp.into()
    }
    /// When The Eye received it (UTC).
    async fn received_at(&self) -> DateTime {
        self.model.received_at.into()
    }
    /// The application that sent it.
    async fn application(&self) -> &Application {
        &self.application
    }
}

/// An event and its cursor.
#[derive(SimpleObject)]
pub struct EventEdge {
    /// Pass as `after` to continue after this event.
    pub cursor: String,
    /// The event.
    pub node: Event,
}

/// A page of events (Relay connection).
#[derive(SimpleObject)]
pub struct EventConnection {
    /// The events of this page with their cursors.
    pub edges: Vec<EventEdge>,
    /// Paging information.
    pub page_info: PageInfo,
}

/// Order of an event list.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
#[graphql(remote = "crate::query::events::EventOrder")]
pub enum EventOrder {
    /// Oldest first; equal timestamps in ingest order.
    #[default]
    TimestampAsc,
    /// Newest first; equal timestamps in reverse ingest order.
    TimestampDesc,
}

/// Runs an event list query and shapes it as a connection.
pub async fn event_connection(
    ctx: &Context<'_>,
    filter: query::EventFilter,
    first: Option<i32>,
    after: Option<String>,
    order: EventOrder,
) -> AppResult<EventConnection> {
    let state = state(ctx);
    let first = page_size(first, &state.settings.limits)?;
    let after_cursor = after.as_deref().map(Cursor::decode).transpose()?;
    let page = list_events(&state.db, &filter, order.into(), first, after_cursor).await?;
    let nodes = page
        .items
        .into_iter()
        .map(|listed| Event {
            application: Application::new(listed.event.application_id, listed.application_name),
            model: listed.event,
        })
        .collect();
    let (edges, page_info) = connection(
        nodes,
        page.has_next_page,
        after_cursor.is_some(),
        |node| cursor_of(&node.model).encode(),
        |cursor, node| EventEdge { cursor, node },
    );
    Ok(EventConnection { edges, page_info })
}

/// Attaches each event's application.
async fn with_applications(
    db: &DatabaseConnection,
    rows: Vec<events::Model>,
) -> AppResult<Vec<Event>> {
    let app_ids: Vec<i32> = rows.iter().map(|e| e.application_id).collect();
    let application_of = load_applications(db, app_ids).await?;
    Ok(rows
        .into_iter()
        .map(|model| Event {
            application: application_of(model.application_id),
            model,
        })
        .collect())
}

/// Event queries.
#[derive(Default)]
pub struct EventsQuery;

#[Object]
impl EventsQuery {
    /// Events matching `filter` (scope `read`), ordered by timestamp with ingest order as
    /// tie-break. `first` defaults to 100 and is at most 1000; pass `pageInfo.endCursor` as
    /// `after` for the next page.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which events; absent: every event.")] filter: Option<EventFilter>,
        #[graphql(desc = "Events per page (default 100, at most the maximum page size).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor from a previous page: only events after it.")] after: Option<
            String,
        >,
        #[graphql(
            desc = "Oldest or newest first; null or absent: oldest first.",
            default_with = "Some(EventOrder::TimestampAsc)"
        )]
        order: Option<EventOrder>,
    ) -> Result<EventConnection> {
        require(ctx, Scope::Read)?;
        let filter = filter.unwrap_or_default().parse()?;
        let order = order.unwrap_or_default();
        Ok(event_connection(ctx, filter, first, after, order).await?)
    }

    /// The event with this id (scope `read`), or null.
    async fn event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event's id.")] id: ID,
    ) -> Result<Option<Event>> {
        require(ctx, Scope::Read)?;
        let db = &state(ctx).db;
        let Some(model) = find_event(db, &id).await? else {
            return Ok(None);
        };
        Ok(with_applications(db, vec![model]).await?.pop())
    }
}
