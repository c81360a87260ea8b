//! `events` and `event`: the data team's view of stored events, plus the shared `Event`,
//! `Application`, connection and filter types.

use std::collections::HashMap;

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::context::{page_cost, require, state};
use super::scalars::{DateTime, JsonValue, optional_instant};
use crate::auth::Scope;
use crate::entities::{applications, events};
use crate::error::AppResult;
use crate::query::cursor::Cursor;
use crate::query::events::{EventOrder as Order, cursor_of, find_event, list_events};
use crate::query::{self, page_size};

/// An application: a trusted client that sends events.
#[derive(SimpleObject, Clone)]
pub struct Application {
    /// Its id.
    pub id: ID,
    /// Its unique name.
    pub name: String,
}

impl From<applications::Model> for Application {
    fn from(app: applications::Model) -> Self {
        Self {
            id: ID(app.id.to_string()),
            name: app.name,
        }
    }
}

/// A stored event.
pub struct Event {
    model: events::Model,
    application: Application,
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

/// Where a page is in its list.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// Whether more items follow this page.
    pub has_next_page: bool,
    /// Whether items precede this page (true when `after` was given).
    pub has_previous_page: bool,
    /// Cursor of the first item of the page.
    pub start_cursor: Option<String>,
    /// Cursor of the last item of the page; pass it as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// A page of events (Relay connection).
#[derive(SimpleObject)]
pub struct EventConnection {
    /// The events of this page with their cursors.
    pub edges: Vec<EventEdge>,
    /// Paging information.
    pub page_info: PageInfo,
}

/// Filters on events, combined with AND. `from` and `to` are inclusive.
#[derive(InputObject, Default)]
pub struct EventFilter {
    /// Only events of this session.
    pub session_id: Option<String>,
    /// Only events of this category.
    pub category: Option<String>,
    /// Only events with this name.
    pub name: Option<String>,
    /// Only events with a timestamp at or after this instant.
    pub from: Option<DateTime>,
    /// Only events with a timestamp at or before this instant.
    pub to: Option<DateTime>,
}

impl EventFilter {
    /// The domain filter.
    pub fn parse(&self) -> AppResult<query::EventFilter> {
        Ok(query::EventFilter {
            session_id: self.session_id.clone(),
            category: self.category.clone(),
            name: self.name.clone(),
            from: optional_instant(&self.from, "filter.from")?,
            to: optional_instant(&self.to, "filter.to")?,
        })
    }
}

/// Order of an event list.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
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
    let order = match order {
        EventOrder::TimestampAsc => Order::TimestampAsc,
        EventOrder::TimestampDesc => Order::TimestampDesc,
    };
    let page = list_events(&state.db, &filter, order, first, after_cursor).await?;
    let nodes = with_applications(&state.db, page.events).await?;
    let edges: Vec<EventEdge> = nodes
        .into_iter()
        .map(|node| EventEdge {
            cursor: cursor_of(&node.model).encode(),
            node,
        })
        .collect();
    Ok(EventConnection {
        page_info: PageInfo {
            has_next_page: page.has_next_page,
            has_previous_page: after_cursor.is_some(),
            start_cursor: edges.first().map(|e| e.cursor.clone()),
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        },
        edges,
    })
}

/// The applications with these ids, loaded in one query. An id with no row (impossible with
/// the foreign keys in place) maps to an application with an empty name.
pub async fn load_applications(
    db: &DatabaseConnection,
    ids: impl IntoIterator<Item = i32>,
) -> AppResult<impl Fn(i32) -> Application> {
    let mut ids: Vec<i32> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let apps: HashMap<i32, Application> = applications::Entity::find()
        .filter(applications::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, Application::from(a)))
        .collect();
    Ok(move |id: i32| {
        apps.get(&id).cloned().unwrap_or(Application {
            id: ID(id.to_string()),
            name: String::new(),
        })
    })
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
