//! `eventCounts`: events grouped by session, category or name.

use async_graphql::{Context, Enum, Object, Result, SimpleObject};

use super::context::{page_cost, require, state};
use super::types::{EventFilter, PageInfo};
use crate::auth::Scope;
use crate::query::counts::event_counts;
use crate::query::cursor::CountCursor;
use crate::query::page_size;

/// What to group counts by.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::query::counts::CountDimension")]
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

/// A group and its cursor, which is encoded only when it is asked for: a page of a thousand
/// sessions is often read whole, without cursors.
pub struct EventCountEdge {
    node: EventCount,
}

/// A group and its cursor.
#[Object]
impl EventCountEdge {
    /// Pass as `after` to continue after this group.
    async fn cursor(&self) -> String {
        count_cursor(self.node.count, &self.node.key)
    }

    /// The group.
    async fn node(&self) -> &EventCount {
        &self.node
    }
}

fn count_cursor(count: i64, key: &str) -> String {
    CountCursor {
        count,
        key: key.to_owned(),
    }
    .encode()
}

/// A page of groups, largest first (ties by key).
#[derive(SimpleObject)]
pub struct EventCountConnection {
    /// The groups of this page with their cursors.
    pub edges: Vec<EventCountEdge>,
    /// Paging information: `hasNextPage` tells whether more groups exist.
    pub page_info: PageInfo,
}

/// Count queries.
#[derive(Default)]
pub struct CountsQuery;

#[Object]
impl CountsQuery {
    /// Exact event counts matching `filter`, grouped by `groupBy`, largest first (ties by key)
    /// (scope `read`). A page holds at most `first` groups (default and maximum: the page-size
    /// limits); when `pageInfo.hasNextPage` is true, pass `pageInfo.endCursor` as `after` for
    /// the next groups.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn event_counts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to group by.")] group_by: CountDimension,
        #[graphql(desc = "Which events to count; absent: every event.")] filter: Option<
            EventFilter,
        >,
        #[graphql(desc = "Groups per page (default and maximum: the maximum page size).")]
        first: Option<i32>,
        #[graphql(desc = "A cursor from a previous page: only groups after it.")] after: Option<
            String,
        >,
    ) -> Result<EventCountConnection> {
        require(ctx, Scope::Read)?;
        let state = state(ctx);
        let limits = &state.settings.limits;
        let limit = match first {
            None => limits.max_page_size,
            some => page_size(some, limits)?,
        };
        let filter = filter.unwrap_or_default().parse()?;
        let after_cursor = after.as_deref().map(CountCursor::decode).transpose()?;
        let dimension = group_by.into();
        let page =
            event_counts(&state.db, dimension, &filter, limit, after_cursor.as_ref()).await?;
        let page_info = PageInfo {
            has_next_page: page.has_next_page,
            has_previous_page: after_cursor.is_some(),
            start_cursor: page.groups.first().map(|g| count_cursor(g.count, &g.key)),
            end_cursor: page.groups.last().map(|g| count_cursor(g.count, &g.key)),
        };
        let edges = page
            .groups
            .into_iter()
            .map(|group| EventCountEdge {
                node: EventCount {
                    key: group.key,
                    count: group.count,
                },
            })
            .collect();
        Ok(EventCountConnection { edges, page_info })
    }
}
