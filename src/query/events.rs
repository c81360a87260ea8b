//! Listing events with filters, ordered by timestamp with the ingest sequence as tie-break,
//! paginated by keyset (a cursor holds the last row's timestamp and sequence), so a deep page
//! costs the same as the first.

use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Select,
};

use super::cursor::Cursor;
use super::{EventFilter, Page, fetch_page};
use crate::entities::events::{self, Column};
use crate::error::AppResult;

/// Sort order of an event list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventOrder {
    /// Oldest first; equal timestamps in ingest order.
    #[default]
    TimestampAsc,
    /// Newest first; equal timestamps in reverse ingest order.
    TimestampDesc,
}

/// The SQL condition for `filter`.
pub fn filter_condition(filter: &EventFilter) -> Condition {
    let mut cond = Condition::all();
    if let Some(session) = &filter.session_id {
        cond = cond.add(Column::SessionId.eq(session.as_str()));
    }
    if let Some(category) = &filter.category {
        cond = cond.add(Column::Category.eq(category.as_str()));
    }
    if let Some(name) = &filter.name {
        cond = cond.add(Column::Name.eq(name.as_str()));
    }
    if let Some(from) = filter.from {
        cond = cond.add(Column::Timestamp.gte(from));
    }
    if let Some(to) = filter.to {
        cond = cond.add(Column::Timestamp.lte(to));
    }
    cond
}

/// The query behind [`list_events`], without its limit (exposed so tests can check its plan).
pub fn select_events(
    filter: &EventFilter,
    order: EventOrder,
    after: Option<Cursor>,
) -> Select<events::Entity> {
    let mut cond = filter_condition(filter);
    if let Some(after) = after {
        let (ts_past, seq_past) = match order {
            EventOrder::TimestampAsc => (Column::Timestamp.gt(after.at), Column::Seq.gt(after.id)),
            EventOrder::TimestampDesc => (Column::Timestamp.lt(after.at), Column::Seq.lt(after.id)),
        };
        cond = cond.add(
            Condition::any().add(ts_past).add(
                Condition::all()
                    .add(Column::Timestamp.eq(after.at))
                    .add(seq_past),
            ),
        );
    }
    let query = events::Entity::find().filter(cond);
    match order {
        EventOrder::TimestampAsc => query
            .order_by_asc(Column::Timestamp)
            .order_by_asc(Column::Seq),
        EventOrder::TimestampDesc => query
            .order_by_desc(Column::Timestamp)
            .order_by_desc(Column::Seq),
    }
}

/// A page of events matching `filter`, after `after`.
pub async fn list_events(
    db: &DatabaseConnection,
    filter: &EventFilter,
    order: EventOrder,
    first: u64,
    after: Option<Cursor>,
) -> AppResult<Page<events::Model>> {
    filter.check()?;
    fetch_page(db, select_events(filter, order, after), first).await
}

/// The cursor pointing at `event`.
pub fn cursor_of(event: &events::Model) -> Cursor {
    Cursor {
        at: event.timestamp,
        id: event.seq,
    }
}

/// The event with id `id`. Ids are unique per application; when several applications used
/// the same id, the one stored first is returned.
pub async fn find_event(db: &DatabaseConnection, id: &str) -> AppResult<Option<events::Model>> {
    Ok(events::Entity::find()
        .filter(Column::EventId.eq(id))
        .order_by_asc(Column::Seq)
        .one(db)
        .await?)
}
