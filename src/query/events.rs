//! Listing events with filters, ordered by timestamp with the ingest sequence as tie-break,
//! paginated by keyset (a cursor holds the last row's timestamp and sequence), so a deep page
//! costs the same as the first.
//!
//! A page comes back from the database as one row (see [`crate::db::as_json_page`]), each
//! event with its application's name.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select, Statement,
};
use serde::Deserialize;

use super::cursor::Cursor;
use super::{EventFilter, Page};
use crate::db::{JsonEventTime, as_json_page, event_time, json_column, read_json_rows};
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

/// The SQL condition for `filter`, with instants bound as `backend` stores event time.
pub fn filter_condition(backend: DbBackend, filter: &EventFilter) -> Condition {
    let mut cond = Condition::all();
    if let Some(session) = &filter.session_id {
        cond = cond.add(crate::db::session_condition(backend, session.as_str()));
    }
    if let Some(category) = &filter.category {
        cond = cond.add(Column::Category.eq(category.as_str()));
    }
    if let Some(name) = &filter.name {
        cond = cond.add(Column::Name.eq(name.as_str()));
    }
    if let Some(from) = filter.from {
        cond = cond.add(Column::Timestamp.gte(event_time(backend, from)));
    }
    if let Some(to) = filter.to {
        cond = cond.add(Column::Timestamp.lte(event_time(backend, to)));
    }
    cond
}

/// The query behind [`list_events`], without its limit (exposed so tests can check its plan).
pub fn select_events(
    backend: DbBackend,
    filter: &EventFilter,
    order: EventOrder,
    after: Option<Cursor>,
) -> Select<events::Entity> {
    let mut cond = filter_condition(backend, filter);
    if let Some(after) = after {
        let at = event_time(backend, after.at);
        let (ts_past, seq_past) = match order {
            EventOrder::TimestampAsc => {
                (Column::Timestamp.gt(at.clone()), Column::Seq.gt(after.id))
            }
            EventOrder::TimestampDesc => {
                (Column::Timestamp.lt(at.clone()), Column::Seq.lt(after.id))
            }
        };
        cond = cond.add(
            Condition::any()
                .add(ts_past)
                .add(Condition::all().add(Column::Timestamp.eq(at)).add(seq_past)),
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
    let rows = list_statement(backend, filter, order, after, first + 1);
    let order = format!("r.timestamp {0}, r.seq {0}", direction(order));
    let items = read_listed(db, rows, &order).await?;
    Ok(Page::from_one_more(items, first))
}

fn direction(order: EventOrder) -> &'static str {
    match order {
        EventOrder::TimestampAsc => "ASC",
        EventOrder::TimestampDesc => "DESC",
    }
}

/// The statement behind [`list_events`]: at most `limit` events in `order` (exposed so tests
/// can check its plan). On SQLite it reads each part of `events` (see
/// [`crate::db::event_parts`]) in order, up to `limit` rows each, and merges them.
pub fn list_statement(
    backend: DbBackend,
    filter: &EventFilter,
    order: EventOrder,
    after: Option<Cursor>,
    limit: u64,
) -> Statement {
    let parts: Vec<Statement> = crate::db::event_parts(backend)
        .iter()
        .map(|part| {
            select_events(backend, filter, order, after)
                .filter(Expr::cust(*part))
                .limit(limit)
                .build(backend)
        })
        .collect();
    if parts.len() == 1 {
        return parts.into_iter().next().expect("one part");
    }
    let direction = direction(order);
    let mut values = Vec::new();
    let sql = parts
        .into_iter()
        .map(|part| {
            values.extend(part.values.map(|v| v.0).unwrap_or_default());
            format!("SELECT * FROM ({})", part.sql)
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    Statement::from_sql_and_values(
        backend,
        format!("{sql} ORDER BY timestamp {direction}, seq {direction} LIMIT {limit}"),
        values,
    )
}

/// The events that `rows` (a `SELECT` of `events`' columns) returns, each with its
/// application's name, in `order` (SQL over the rows as `r`), read as one JSON row (see
/// [`crate::db::as_json_page`]). Every read of whole events goes through here, so each
/// backend's encoding of event time is read the same way.
pub async fn read_listed(
    db: &impl ConnectionTrait,
    rows: Statement,
    order: &str,
) -> Result<Vec<ListedEvent>, DbErr> {
    let backend = rows.db_backend;
    let columns = format!(
        "r.seq, r.event_id, r.application_id, r.session_id, r.category, r.name, {}, \
         r.timestamp, r.received_at, a.name",
        json_column(backend, "r.data")
    );
    let page = as_json_page(
        rows,
        &columns,
        "LEFT JOIN applications a ON a.id = r.application_id",
        order,
    );
    Ok(read_json_rows::<PageRow>(db, page, "a page of events")
        .await?
        .into_iter()
        .map(PageRow::into_listed)
        .collect())
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
    timestamp: JsonEventTime,
    /// A record time, text on both backends; read as event time is, since that accepts text.
    received_at: JsonEventTime,
    application_name: Option<String>,
}

impl PageRow {
    fn into_listed(self) -> ListedEvent {
        ListedEvent {
            event: events::Model {
                timestamp: self.timestamp.0,
                received_at: self.received_at.0,
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
        }
    }
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
    let rows = events::Entity::find()
        .filter(Column::EventId.eq(id))
        .order_by_asc(Column::Seq)
        .limit(1)
        .build(db.get_database_backend());
    Ok(read_listed(db, rows, "r.seq")
        .await?
        .into_iter()
        .next()
        .map(|listed| listed.event))
}
