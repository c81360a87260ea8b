//! Listing events with filters, ordered by timestamp with the ingest sequence as tie-break,
//! paginated by keyset (a cursor holds the last row's timestamp and sequence), so a deep page
//! costs the same as the first.
//!
//! A page comes back from the database as one row (see [`crate::db::as_json_page`]), each
//! event with its application's name.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Select,
};
use serde::Deserialize;

use super::cursor::Cursor;
use super::{EventFilter, Page};
use crate::db::{as_json_page, json_column, read_json_page};
use crate::domain::parse_timestamp;
use crate::entities::events::{self, Column};
use crate::error::{AppError, AppResult};

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

/// A listed event and the name of the application that sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedEvent {
    /// The event as stored.
    pub event: events::Model,
    /// Its application's name.
    pub application_name: String,
}

/// A page of events matching `filter`, after `after`.
pub async fn list_events(
    db: &DatabaseConnection,
    filter: &EventFilter,
    order: EventOrder,
    first: u64,
    after: Option<Cursor>,
) -> AppResult<Page<ListedEvent>> {
    filter.check()?;
    if first == 0 {
        return Ok(Page::from_one_more(Vec::new(), 0));
    }
    let backend = db.get_database_backend();
    let rows = select_events(filter, order, after)
        .limit(first + 1)
        .build(backend);
    let direction = match order {
        EventOrder::TimestampAsc => "ASC",
        EventOrder::TimestampDesc => "DESC",
    };
    let columns = format!(
        "r.seq, r.event_id, r.application_id, r.session_id, r.category, r.name, {}, \
         r.timestamp, r.received_at, a.name",
        json_column(backend, "r.data")
    );
    let page = as_json_page(
        rows,
        &columns,
        "LEFT JOIN applications a ON a.id = r.application_id",
        &format!("r.timestamp {direction}, r.seq {direction}"),
    );
    let items = read_json_page::<PageRow>(db, page, "reading a page of events")
        .await?
        .into_iter()
        .map(PageRow::into_listed)
        .collect::<AppResult<Vec<_>>>()?;
    Ok(Page::from_one_more(items, first))
}

/// One event of a page, as [`list_events`] reads it: a JSON array in field order.
#[derive(Deserialize)]
struct PageRow {
    seq: i64,
    event_id: String,
    application_id: i32,
    session_id: String,
    category: String,
    name: String,
    data: serde_json::Value,
    timestamp: String,
    received_at: String,
    application_name: Option<String>,
}

impl PageRow {
    fn into_listed(self) -> AppResult<ListedEvent> {
        Ok(ListedEvent {
            event: events::Model {
                timestamp: stored_instant(&self.timestamp)?,
                received_at: stored_instant(&self.received_at)?,
                seq: self.seq,
                event_id: self.event_id,
                application_id: self.application_id,
                session_id: self.session_id,
                category: self.category,
                name: self.name,
                data: self.data,
            },
            // No row only if the foreign key were missing; shown as an empty name, as before.
            application_name: self.application_name.unwrap_or_default(),
        })
    }
}

/// An instant as the database renders it in JSON (RFC 3339 with an offset on both backends).
fn stored_instant(text: &str) -> AppResult<DateTime<Utc>> {
    parse_timestamp(text)
        .map_err(|e| AppError::internal("reading a stored instant", anyhow::anyhow!(e.0)))
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
