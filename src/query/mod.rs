//! Read services for the data team: events, sessions, grouped counts and rejected events.
//! They take plain domain arguments and return rows; the GraphQL layer shapes the answers.

pub mod counts;
pub mod cursor;
pub mod errors;
pub mod events;
pub mod series;
pub mod sessions;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect, Select,
};

use crate::config::Limits;
use crate::entities::applications;
use crate::error::{AppError, AppResult};

/// A condition on `events` rows: the background job has not processed the event yet (its `seq`
/// is still in the job's queue). Each row is checked with one primary-key lookup.
pub(crate) const QUEUED: &str =
    "EXISTS (SELECT 1 FROM event_queue WHERE event_queue.seq = events.seq)";

/// The events the background job has not processed yet, as a `FROM` source whose columns are
/// those of `events`: the queue drives the join, for when the queue is the smaller set (a
/// time range or a type, as opposed to one session's events, which [`QUEUED`] checks one by
/// one). SQLite is told the join order with `CROSS JOIN`: without statistics it would rather
/// walk an index of `events` in the order a `GROUP BY` wants. PostgreSQL's planner has
/// statistics and needs no hint.
pub(crate) fn unprocessed_events(backend: sea_orm::DbBackend) -> &'static str {
    match backend {
        sea_orm::DbBackend::Sqlite => "event_queue AS q CROSS JOIN events AS e ON e.seq = q.seq",
        _ => "event_queue AS q JOIN events AS e ON e.seq = q.seq",
    }
}

/// One page of a keyset-paginated list.
#[derive(Debug)]
pub struct Page<T> {
    /// The rows, in the list's order.
    pub items: Vec<T>,
    /// Whether more rows follow.
    pub has_next_page: bool,
}

impl<T> Page<T> {
    /// The page of `first` items from `items`, read with one more than `first` asked for so
    /// that the extra one tells whether more follow.
    pub fn from_one_more(mut items: Vec<T>, first: u64) -> Self {
        let has_next_page = items.len() as u64 > first;
        items.truncate(first as usize);
        Self {
            items,
            has_next_page,
        }
    }
}

/// Reads the first `first` rows of `select` (already filtered past the cursor and ordered),
/// and whether more follow: one more row is asked for than is returned.
pub async fn fetch_page<E: EntityTrait>(
    db: &DatabaseConnection,
    select: Select<E>,
    first: u64,
) -> AppResult<Page<E::Model>> {
    if first == 0 {
        return Ok(Page::from_one_more(Vec::new(), 0));
    }
    let items = select.limit(first + 1).all(db).await?;
    Ok(Page::from_one_more(items, first))
}

/// The names of the applications with these ids, read in one query.
pub async fn application_names(
    db: &DatabaseConnection,
    ids: impl IntoIterator<Item = i32>,
) -> Result<HashMap<i32, String>, DbErr> {
    let mut ids: Vec<i32> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(applications::Entity::find()
        .filter(applications::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect())
}

/// Filters on events, all optional and combined with AND; `from` and `to` are inclusive.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only this session.
    pub session_id: Option<String>,
    /// Only this category.
    pub category: Option<String>,
    /// Only this name.
    pub name: Option<String>,
    /// Timestamp at or after.
    pub from: Option<DateTime<Utc>>,
    /// Timestamp at or before.
    pub to: Option<DateTime<Utc>>,
}

impl EventFilter {
    /// Refuses a range that ends before it starts.
    pub fn check(&self) -> AppResult<()> {
        check_range(self.from, self.to)
    }
}

/// Refuses `from` later than `to`.
pub fn check_range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> AppResult<()> {
    match (from, to) {
        (Some(from), Some(to)) if from > to => Err(AppError::BadInput(
            "`from` is later than `to`; the range would be empty".into(),
        )),
        _ => Ok(()),
    }
}

/// The page size to use for `first`, within the configured limits.
pub fn page_size(first: Option<i32>, limits: &Limits) -> AppResult<u64> {
    match first {
        None => Ok(limits.default_page_size.min(limits.max_page_size)),
        Some(n) if n < 0 => Err(AppError::BadInput("`first` must not be negative".into())),
        Some(n) if n as u64 > limits.max_page_size => Err(AppError::LimitExceeded(format!(
            "`first` is at most {} (EYE_MAX_PAGE_SIZE)",
            limits.max_page_size
        ))),
        Some(n) => Ok(n as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_defaults_and_limits() {
        let limits = Limits::default();
        assert_eq!(page_size(None, &limits).unwrap(), 100);
        assert_eq!(page_size(Some(0), &limits).unwrap(), 0);
        assert_eq!(page_size(Some(1000), &limits).unwrap(), 1000);
        assert_eq!(
            page_size(Some(1001), &limits).unwrap_err().code(),
            "LIMIT_EXCEEDED"
        );
        assert_eq!(
            page_size(Some(-1), &limits).unwrap_err().code(),
            "BAD_USER_INPUT"
        );
    }
}
