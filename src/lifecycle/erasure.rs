//! Erasure of a session (GDPR article 17): its events and rejected events, of every
//! application, with every aggregate adjusted exactly, and an audit entry saying when, who
//! asked and how many rows each table lost.
//!
//! Erasure removes what is stored when it starts: the session's events up to the highest ingest
//! sequence at that moment, deleted in transactions of at most `batch_size` (so ingest is not
//! held up by a large session), until a batch finds fewer; the bound makes it finish even while
//! the session keeps sending faster than batches delete. The rejected events and the audit
//! entry go in a last transaction. An event of the session committed after the erasure started
//! (or after the batch that would have found it) is **stored normally**: erasure is of the
//! data held at the time, not a block on the session id (a tombstone would have to keep the id
//! it is meant to forget, and ids are chosen by clients, who can start a new session anyway).
//! Erasing again removes what arrived since; an erasure of nothing is still audited.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    QueryOrder, QuerySelect, Set, Statement,
};

use super::delete::{
    DeletedRows, begin_write, delete_events, read_events, select_events_to_delete,
};
use crate::db::Sql;
use crate::domain::{BoundedText, FieldError};
use crate::entities::erasures;
use crate::error::{AppError, AppResult};

/// Longest session id (the column's size).
const MAX_SESSION_ID_CHARS: usize = 128;

/// Values per `IN (…)` list.
const IN_LIST_ROWS: usize = 1000;

/// Who asked for an erasure.
#[derive(Debug, Clone, Copy, Default)]
pub struct Requester {
    /// The API key; `None`: the command line.
    pub key_id: Option<i32>,
    /// The key's application.
    pub application_id: Option<i32>,
}

/// Parses a session id to erase.
pub fn parse_session_id(raw: &str) -> AppResult<BoundedText> {
    BoundedText::parse(raw, MAX_SESSION_ID_CHARS).map_err(|e| {
        AppError::BadInput(match e {
            FieldError::Empty => "`sessionId` is empty".into(),
            FieldError::TooLong { max_chars } => {
                format!("`sessionId` is longer than {max_chars} characters")
            }
            FieldError::Nul => "`sessionId` contains a NUL character".into(),
        })
    })
}

/// Erases session `session` and records the erasure; returns the audit entry.
pub async fn erase_session(
    db: &DatabaseConnection,
    session: &BoundedText,
    requester: Requester,
    now: DateTime<Utc>,
    batch_size: u64,
) -> AppResult<erasures::Model> {
    let batch = batch_size.max(1);
    let mut deleted = DeletedRows::default();
    let last_seq = last_seq(db).await?;
    loop {
        let (rows, taken) = events_step(db, session.as_str(), last_seq, batch).await?;
        deleted += rows;
        if taken < batch {
            break;
        }
    }
    let txn = begin_write(db).await?;
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT id FROM event_errors WHERE session_id = ")
        .bind(session.as_str())
        .push(" ORDER BY id");
    let ids = ids_of(&txn, sql.build()).await?;
    deleted.event_errors = delete_errors(&txn, &ids).await?;
    // Also when no event was left to delete: a key can outlive its events (a new session whose
    // every event was a duplicate of a stored one).
    crate::db::forget_sessions(&txn, &[session.to_string()]).await?;
    let entry = audit(&txn, session.as_str(), requester, now, &deleted).await?;
    txn.commit().await?;
    tracing::info!(erasure = entry.id, key_id = ?requester.key_id, events = deleted.events, "session erased");
    Ok(entry)
}

/// The highest ingest sequence stored now (0 when there is none).
async fn last_seq(db: &DatabaseConnection) -> Result<i64, DbErr> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT MAX(seq) AS seq FROM events");
    let row = db.query_one_raw(sql.build()).await?;
    Ok(match row {
        Some(row) => row.try_get::<Option<i64>>("", "seq")?.unwrap_or(0),
        None => 0,
    })
}

/// One transaction: up to `batch` of the session's events up to `last_seq`.
async fn events_step(
    db: &DatabaseConnection,
    session: &str,
    last_seq: i64,
    batch: u64,
) -> Result<(DeletedRows, u64), DbErr> {
    let txn = begin_write(db).await?;
    let mut sql = select_events_to_delete(db.get_database_backend());
    sql.session_is(session)
        .push(" AND seq <= ")
        .bind(last_seq)
        .push(" ORDER BY seq LIMIT ")
        .bind(batch as i64);
    // Waits for (rather than skips) rows a retention batch holds: they must be gone or ours.
    if sql.backend() == DbBackend::Postgres {
        sql.push(" FOR UPDATE");
    }
    let events = read_events(&txn, sql.build()).await?;
    let deleted = delete_events(&txn, &events).await?;
    txn.commit().await?;
    Ok((deleted, events.len() as u64))
}

async fn audit(
    txn: &impl ConnectionTrait,
    session: &str,
    requester: Requester,
    now: DateTime<Utc>,
    deleted: &DeletedRows,
) -> Result<erasures::Model, DbErr> {
    let rows: serde_json::Map<String, serde_json::Value> = deleted
        .by_table()
        .iter()
        .map(|(table, n)| (table.to_string(), (*n).into()))
        .collect();
    erasures::ActiveModel {
        erased_at: Set(now),
        session_id: Set(session.to_string()),
        key_id: Set(requester.key_id),
        application_id: Set(requester.application_id),
        rows_deleted: Set(rows.into()),
        ..Default::default()
    }
    .insert(txn)
    .await
}

/// The audit log, newest first: at most `limit` entries, of one session or of all.
pub async fn list_erasures(
    db: &DatabaseConnection,
    session: Option<&str>,
    limit: u64,
) -> AppResult<Vec<erasures::Model>> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let mut query = erasures::Entity::find()
        .order_by_desc(erasures::Column::ErasedAt)
        .order_by_desc(erasures::Column::Id)
        .limit(limit);
    if let Some(session) = session {
        query = query.filter(erasures::Column::SessionId.eq(session));
    }
    Ok(query.all(db).await?)
}

/// The `id` column of `statement`'s rows.
pub(super) async fn ids_of(
    txn: &impl ConnectionTrait,
    statement: Statement,
) -> Result<Vec<i64>, DbErr> {
    txn.query_all_raw(statement)
        .await?
        .iter()
        .map(|row| row.try_get::<i64>("", "id"))
        .collect()
}

/// Deletes rejected events `ids` with their codes; returns how many.
pub(super) async fn delete_errors(txn: &impl ConnectionTrait, ids: &[i64]) -> Result<u64, DbErr> {
    let mut deleted = 0;
    for chunk in ids.chunks(IN_LIST_ROWS) {
        let backend = txn.get_database_backend();
        let mut codes = Sql::new(backend);
        codes
            .push("DELETE FROM event_error_codes WHERE error_id IN ")
            .bind_list(chunk);
        txn.execute_raw(codes.build()).await?;
        let mut errors = Sql::new(backend);
        errors
            .push("DELETE FROM event_errors WHERE id IN ")
            .bind_list(chunk);
        deleted += txn.execute_raw(errors.build()).await?.rows_affected();
    }
    Ok(deleted)
}

/// Rows deleted by table, read back from an audit entry.
pub fn rows_deleted(entry: &erasures::Model) -> Vec<(String, u64)> {
    entry
        .rows_deleted
        .as_object()
        .map(|rows| {
            rows.iter()
                .map(|(table, n)| (table.clone(), n.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}
