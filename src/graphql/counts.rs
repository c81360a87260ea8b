//! `eventCounts`: events grouped by session, category or name.

use async_graphql::{Context, Enum, Object, Result, SimpleObject};

use super::context::{page_cost, require, state};
use super::events::EventFilter;
use crate::auth::Scope;
use crate::query::counts::{self, event_counts};
use crate::query::page_size;

/// What to group counts by.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum CountDimension {
    /// By session id.
    Session,
    /// By category.
    Category,
    /// By name.
    Name,
}

/// The number of events in one group.
#[derive(SimpleObject)]
pub struct EventCount {
    /// The group: a session id, a category or a name.
    pub key: String,
    /// Events in the group.
    pub count: i64,
}

/// Count queries.
#[derive(Default)]
pub struct CountsQuery;

#[Object]
impl CountsQuery {
    /// Exact event counts matching `filter`, grouped by `groupBy`, largest first (ties by key)
    /// (scope `read`). At most `first` groups (default and maximum: the page-size limits).
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn event_counts(
        &self,
        ctx: &Context<'_>,
        group_by: CountDimension,
        filter: Option<EventFilter>,
        first: Option<i32>,
    ) -> Result<Vec<EventCount>> {
        require(ctx, Scope::Read)?;
        let state = state(ctx);
        let limits = &state.settings.limits;
        let limit = match first {
            None => limits.max_page_size,
            some => page_size(some, limits)?,
        };
        let filter = filter.unwrap_or_default().parse()?;
        let dimension = match group_by {
            CountDimension::Session => counts::CountDimension::Session,
            CountDimension::Category => counts::CountDimension::Category,
            CountDimension::Name => counts::CountDimension::Name,
        };
        let rows = event_counts(&state.db, dimension, &filter, limit).await?;
        Ok(rows
            .into_iter()
            .map(|r| EventCount {
                key: r.key,
                count: r.count,
            })
            .collect())
    }
}
