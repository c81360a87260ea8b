//! `eventErrors`: the monitoring view of rejected events.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::context::{filter_application_id, page_cost, require, state};
use super::ingest::{RejectionCode, ValidationError};
use super::scalars::{DateTime, JsonValue, optional_instant};
use super::types::{Application, PageInfo, connection, load_applications};
use crate::auth::Scope;
use crate::entities::event_errors;
use crate::error::AppResult;
use crate::query::cursor::Cursor;
use crate::query::errors::{ErrorFilter, cursor_of, list_errors, reasons_of};
use crate::query::page_size;

/// A rejected event: what was sent, when, by whom, and every reason.
pub struct EventError {
    model: event_errors::Model,
    application: Application,
}

impl EventError {
    /// A rejected event sent by `application`.
    pub fn new(model: event_errors::Model, application: Application) -> Self {
        Self { model, application }
    }
}

/// A rejected event: what was sent, when, by whom, and every reason.
#[Object]
impl EventError {
    /// The error's id.
    async fn id(&self) -> ID {
        ID(self.model.id.to_string())
    }
    /// When the batch holding the event arrived.
    async fn received_at(&self) -> DateTime {
        self.model.received_at.into()
    }
    /// The application that sent it.
    async fn application(&self) -> &Application {
        &self.application
    }
    /// Position of the event in its batch.
    async fn index(&self) -> i32 {
        self.model.batch_index
    }
    /// The client's event id, if one was sent.
    async fn event_id(&self) -> Option<&str> {
        self.model.event_id.as_deref()
    }
    /// Session id as sent.
    async fn session_id(&self) -> Option<&str> {
        self.model.session_id.as_deref()
    }
    /// Category as sent.
    async fn category(&self) -> Option<&str> {
        self.model.category.as_deref()
    }
    /// Name as sent.
    async fn name(&self) -> Option<&str> {
        self.model.name.as_deref()
    }
    /// The whole event exactly as sent (`id`, `sessionId`, `category`, `name`, `data`,
    /// `timestamp`).
    async fn payload(&self) -> JsonValue {
        JsonValue(self.model.payload.clone())
    }
    /// Every reason it was rejected.
    async fn reasons(&self) -> Result<Vec<ValidationError>> {
        let reasons = reasons_of(&self.model)?;
        Ok(reasons.into_iter().map(ValidationError::from).collect())
    }
}

/// A rejected event and its cursor.
#[derive(SimpleObject)]
pub struct EventErrorEdge {
    /// Pass as `after` to continue after this error.
    pub cursor: String,
    /// The error.
    pub node: EventError,
}

/// A page of rejected events, newest first.
#[derive(SimpleObject)]
pub struct EventErrorConnection {
    /// The errors of this page with their cursors.
    pub edges: Vec<EventErrorEdge>,
    /// Paging information.
    pub page_info: PageInfo,
}

/// Filters on rejected events, combined with AND. `from` and `to` (time of receipt) are
/// inclusive.
#[derive(InputObject, Default)]
pub struct EventErrorFilter {
    /// Received at or after.
    pub from: Option<DateTime>,
    /// Received at or before.
    pub to: Option<DateTime>,
    /// Having a reason with this code.
    pub code: Option<RejectionCode>,
    /// Sent by this application.
    pub application_id: Option<ID>,
    /// With this category, as sent.
    pub category: Option<String>,
    /// With this name, as sent.
    pub name: Option<String>,
    /// With this session id, as sent.
    pub session_id: Option<String>,
}

impl EventErrorFilter {
    fn parse(self) -> AppResult<ErrorFilter> {
        let application_id = filter_application_id(&self.application_id)?;
        Ok(ErrorFilter {
            from: optional_instant(&self.from, "filter.from")?,
            to: optional_instant(&self.to, "filter.to")?,
            code: self.code.map(Into::into),
            application_id,
            category: self.category,
            name: self.name,
            session_id: self.session_id,
        })
    }
}

/// Error monitoring queries.
#[derive(Default)]
pub struct EventErrorsQuery;

#[Object]
impl EventErrorsQuery {
    /// Rejected events matching `filter`, newest first (scope `read`).
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn event_errors(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which rejected events; absent: all.")] filter: Option<EventErrorFilter>,
        #[graphql(desc = "Errors per page (default 100, at most the maximum page size).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor from a previous page: only errors after it.")] after: Option<
            String,
        >,
    ) -> Result<EventErrorConnection> {
        require(ctx, Scope::Read)?;
        let state = state(ctx);
        let first = page_size(first, &state.settings.limits)?;
        let after_cursor = after.as_deref().map(Cursor::decode).transpose()?;
        let filter = filter.unwrap_or_default().parse()?;
        let page = list_errors(&state.db, &filter, first, after_cursor).await?;
        let app_ids: Vec<i32> = page.items.iter().map(|e| e.application_id).collect();
        let application_of = load_applications(&state.db, app_ids).await?;
        let (edges, page_info) = connection(
            page.items,
            page.has_next_page,
            after_cursor.is_some(),
            |model| cursor_of(model).encode(),
            |cursor, model| EventErrorEdge {
                cursor,
                node: EventError {
                    application: application_of(model.application_id),
                    model,
                },
            },
        );
        Ok(EventErrorConnection { edges, page_info })
    }
}
