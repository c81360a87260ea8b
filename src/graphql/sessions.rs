//! `session`: one session with its counts, time span, applications and events.

use async_graphql::{Context, Object, Result};

use super::context::{page_cost, require, state};
use super::events::{EventConnection, EventOrder, event_connection};
use super::scalars::DateTime;
use super::types::Application;
use crate::auth::Scope;
use crate::entities::applications;
use crate::query::EventFilter;
use crate::query::sessions::{SessionSummary, get_session, session_applications};

/// A session: the events an application (or several) sent under one session id, with its
/// applications when the query asked for them (read beside the summary, see
/// [`SessionsQuery::session`]).
pub struct Session(SessionSummary, Option<Vec<applications::Model>>);

/// A session: the events one or more applications sent under one session id.
#[Object]
impl Session {
    /// The session id.
    async fn id(&self) -> &str {
        &self.0.session_id
    }
    /// Timestamp of the earliest event.
    async fn first_seen(&self) -> DateTime {
        self.0.first_seen.into()
    }
    /// Timestamp of the latest event.
    async fn last_seen(&self) -> DateTime {
        self.0.last_seen.into()
    }
    /// Number of events.
    async fn event_count(&self) -> i64 {
        self.0.event_count
    }
    /// The applications that sent its events, by name.
    async fn applications(&self, ctx: &Context<'_>) -> Result<Vec<Application>> {
        let apps = match &self.1 {
            Some(apps) => apps.clone(),
            None => session_applications(&state(ctx).db, &self.0.session_id).await?,
        };
        Ok(apps.into_iter().map(Application::from).collect())
    }
    /// Its events in time order (ingest order for equal timestamps).
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
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
        let order = order.unwrap_or_default();
        let filter = EventFilter {
            session_id: Some(self.0.session_id.clone()),
            ..Default::default()
        };
        Ok(event_connection(ctx, filter, first, after, order).await?)
    }
}

/// Session queries.
#[derive(Default)]
pub struct SessionsQuery;

#[Object]
impl SessionsQuery {
    /// The session with this id (scope `read`), or null when it has no events.
    async fn session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session id, as the applications sent it.")] id: String,
    ) -> Result<Option<Session>> {
        require(ctx, Scope::Read)?;
        let db = &state(ctx).db;
        // When the query selects the session's applications, they are read at the same time
        // as its summary, on a second pooled connection, instead of after it: one wait for
        // the database instead of two. The two reads were never one snapshot (a resolver
        // each), so the answer is the same.
        if !ctx.look_ahead().field("applications").exists() {
            return Ok(get_session(db, &id).await?.map(|s| Session(s, None)));
        }
        let (summary, apps) = tokio::join!(get_session(db, &id), session_applications(db, &id));
        Ok(summary?
            .map(|s| apps.map(|apps| Session(s, Some(apps))))
            .transpose()?)
    }
}
