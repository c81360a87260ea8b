//! Deleting stored events with every aggregate adjusted exactly, inside the caller's
//! transaction. Retention and erasure both go through [`delete_events`].
//!
//! An event is in exactly one of two states, and the queue row decides which:
//! - **queued** (its `seq` still in `event_queue`): no aggregate counts it yet, so deleting it
//!   means deleting its queue row too — the job will never see it;
//! - **processed** (queue row gone): every aggregate counts it once, so its contribution is
//!   subtracted.
//!
//! The deleter learns the state by deleting the queue rows itself (`DELETE … RETURNING seq`),
//! which is the job's own claim. On PostgreSQL, a queue row claimed by a job step that has not
//! committed yet is row-locked: the deleter's `DELETE` waits for that step, then finds the row
//! gone and treats the event as processed — which it now is, since the step committed its
//! counts (had it rolled back, the row is back and the deleter claims it). Conversely a queue
//! row the deleter took first is skipped by the job's `SKIP LOCKED` claim and never aggregated.
//! So an event is never aggregated after its deletion, nor subtracted twice (the rows to delete
//! are row-locked by the caller, so two deleters never hold the same event). On SQLite, writers
//! run one at a time and none of this can interleave.
//!
//! Counts are subtracted with the job's own upserts (negative deltas, same key order, so no
//! deadlock with a concurrent step), then rows that reach zero go. A session's first and last
//! seen cannot be subtracted: they are recomputed from its remaining *processed* events, after
//! its `sessions` row is locked by the upsert — so a job step that claimed more of its events
//! either committed before (and is seen) or upserts after (its min/max applies on top).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, QueryResult,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

use crate::db::Sql;
use crate::domain::timestamp::hour_of;
use crate::processing::aggregate::{ClaimedEvent, Deltas};
use crate::processing::job::{apply, session_key_of};

/// Values per `IN (…)` list.
const IN_LIST_ROWS: usize = 1000;

/// The start of a `SELECT` of the events to delete, for [`read_events`]: the columns it needs
/// on `backend` (on SQLite the session's key too, which the per-session aggregates are keyed
/// by), up to `WHERE `, for the caller's conditions.
pub fn select_events_to_delete(backend: DbBackend) -> Sql {
    let columns = match backend {
        DbBackend::Sqlite => {
            "seq, application_id, session_id, session_key, category, name, timestamp"
        }
        _ => "seq, application_id, session_id, category, name, timestamp",
    };
    let mut sql = Sql::new(backend);
    sql.push(&format!("SELECT {columns} FROM events WHERE "));
    sql
}

/// A stored event about to be deleted.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Its ingest sequence.
    pub seq: i64,
    /// What its aggregates are keyed on.
    pub event: ClaimedEvent,
}

/// Rows deleted (or, for aggregates, emptied and deleted), by table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeletedRows {
    /// `events`.
    pub events: u64,
    /// `event_queue`: deleted events the job had not aggregated yet.
    pub event_queue: u64,
    /// `event_errors` (with their `event_error_codes`).
    pub event_errors: u64,
    /// `sessions` left without events.
    pub sessions: u64,
    /// `session_applications` pairs left without events.
    pub session_applications: u64,
    /// `session_type_counts` rows that reached zero.
    pub session_type_counts: u64,
    /// `type_counts_hourly` rows (hours of a type) that reached zero.
    pub type_counts_hourly: u64,
}

impl std::ops::AddAssign for DeletedRows {
    fn add_assign(&mut self, o: Self) {
        self.events += o.events;
        self.event_queue += o.event_queue;
        self.event_errors += o.event_errors;
        self.sessions += o.sessions;
        self.session_applications += o.session_applications;
        self.session_type_counts += o.session_type_counts;
        self.type_counts_hourly += o.type_counts_hourly;
    }
}

impl DeletedRows {
    /// (table, rows) pairs, in a fixed order.
    pub fn by_table(&self) -> [(&'static str, u64); 7] {
        [
            ("events", self.events),
            ("event_queue", self.event_queue),
            ("event_errors", self.event_errors),
            ("sessions", self.sessions),
            ("session_applications", self.session_applications),
            ("session_type_counts", self.session_type_counts),
            ("type_counts_hourly", self.type_counts_hourly),
        ]
    }
}

/// Begins a transaction that will write. On SQLite it takes the write lock at `BEGIN`
/// (`IMMEDIATE`): a deferred transaction that reads first and writes later fails at once with
/// `SQLITE_BUSY` when another connection (a key's last-used time, say) committed in between,
/// since its snapshot is stale, whereas waiting for the lock at `BEGIN` uses the busy timeout.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// Runs `statement` (begun by [`select_events_to_delete`], locking its rows on PostgreSQL) and
/// returns the events.
pub async fn read_events(
    txn: &impl ConnectionTrait,
    statement: Statement,
) -> Result<Vec<StoredEvent>, DbErr> {
    let backend = statement.db_backend;
    txn.query_all_raw(statement)
        .await?
        .iter()
        .map(|row| stored_event(backend, row))
        .collect()
}

fn stored_event(backend: DbBackend, row: &QueryResult) -> Result<StoredEvent, DbErr> {
    Ok(StoredEvent {
        seq: row.try_get("", "seq")?,
        event: ClaimedEvent {
            application_id: row.try_get("", "application_id")?,
            session_id: row.try_get("", "session_id")?,
            session_key: match backend {
                DbBackend::Sqlite => Some(row.try_get("", "session_key")?),
                _ => None,
            },
            category: row.try_get("", "category")?,
            name: row.try_get("", "name")?,
            timestamp: crate::db::read_event_time(backend, row, "timestamp")?,
        },
    })
}

/// Deletes `events` (already row-locked by the caller's `SELECT … FOR UPDATE` on PostgreSQL)
/// and takes them out of every aggregate, in `txn`.
pub async fn delete_events(
    txn: &impl ConnectionTrait,
    events: &[StoredEvent],
) -> Result<DeletedRows, DbErr> {
    if events.is_empty() {
        return Ok(DeletedRows::default());
    }
    let mut seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    seqs.sort_unstable();
    let queued = unqueue(txn, &seqs).await?;
    let processed: Vec<ClaimedEvent> = events
        .iter()
        .filter(|e| !queued.contains(&e.seq))
        .map(|e| e.event.clone())
        .collect();
    let backend = txn.get_database_backend();
    let deltas = Deltas::removing(&processed);
    apply(txn, &deltas).await?;
    let mut deleted = DeletedRows {
        events: delete_in(txn, "DELETE FROM events WHERE seq IN ", &seqs).await?,
        event_queue: queued.len() as u64,
        ..DeletedRows::default()
    };
    // The aggregates' sessions as their rows name them (keys on SQLite, already known).
    let sessions = deltas
        .sessions
        .keys()
        .map(|id| match backend {
            DbBackend::Sqlite => session_key_of(backend, &deltas, id).map(sea_orm::Value::from),
            _ => Ok(id.clone().into()),
        })
        .collect::<Result<Vec<sea_orm::Value>, DbErr>>()?;
    let hours: Vec<DateTime<Utc>> = deltas.hourly.keys().map(|(h, _, _)| *h).collect();
    tidy(txn, &sessions, &hours, &mut deleted).await?;
    // Queued events have no aggregate, so their sessions are taken from the events themselves.
    let mut sessions: Vec<String> = events.iter().map(|e| e.event.session_id.clone()).collect();
    sessions.sort_unstable();
    sessions.dedup();
    crate::db::forget_sessions(txn, &sessions).await?;
    Ok(deleted)
}

/// Deletes the queue rows of `seqs`; returns those that were queued.
async fn unqueue(txn: &impl ConnectionTrait, seqs: &[i64]) -> Result<HashSet<i64>, DbErr> {
    let mut queued = HashSet::new();
    for chunk in seqs.chunks(IN_LIST_ROWS) {
        let mut sql = Sql::new(txn.get_database_backend());
        sql.push("DELETE FROM event_queue WHERE seq IN ")
            .bind_list(chunk)
            .push(" RETURNING seq");
        for row in txn.query_all_raw(sql.build()).await? {
            queued.insert(row.try_get::<i64>("", "seq")?);
        }
    }
    Ok(queued)
}

/// Runs `prefix (…)` for each chunk of `values`; returns the rows affected.
async fn delete_in<V: Into<sea_orm::Value> + Clone>(
    txn: &impl ConnectionTrait,
    prefix: &str,
    values: &[V],
) -> Result<u64, DbErr> {
    let mut affected = 0;
    for chunk in values.chunks(IN_LIST_ROWS) {
        let mut sql = Sql::new(txn.get_database_backend());
        sql.push(prefix).bind_list(chunk);
        affected += txn.execute_raw(sql.build()).await?.rows_affected();
    }
    Ok(affected)
}

/// The processed events `e` of the `sessions` row's session that are left (the correlated
/// condition used by the recomputations below).
fn left_of_session(backend: DbBackend) -> String {
    format!(
        "{} AND NOT EXISTS (SELECT 1 FROM event_queue q WHERE q.seq = e.seq)",
        crate::db::same_session(backend, "e", "sessions")
    )
}

/// Removes aggregate rows left at zero and recomputes the first and last seen of `sessions`,
/// for `sessions` as the aggregates' rows name them ([`crate::db::session_column`]).
async fn tidy(
    txn: &impl ConnectionTrait,
    sessions: &[sea_orm::Value],
    hours: &[DateTime<Utc>],
    deleted: &mut DeletedRows,
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    let session = crate::db::session_column(backend);
    deleted.sessions = delete_in(
        txn,
        &format!("DELETE FROM sessions WHERE event_count <= 0 AND {session} IN "),
        sessions,
    )
    .await?;
    let left = left_of_session(backend);
    let bounds = format!(
        "UPDATE sessions SET \
         first_seen = (SELECT e.timestamp FROM events e WHERE {left} \
           ORDER BY e.timestamp LIMIT 1), \
         last_seen = (SELECT e.timestamp FROM events e WHERE {left} \
           ORDER BY e.timestamp DESC LIMIT 1) \
         WHERE {session} IN "
    );
    delete_in(txn, &bounds, sessions).await?;
    // `+e.application_id`: not an index term, so the session's own index is used; otherwise
    // SQLite picks `(application_id, timestamp, seq)` and reads all of the application's
    // events for every pair (measured: retention of 300k events did not finish in 10 min).
    let pairs = format!(
        "DELETE FROM session_applications WHERE NOT EXISTS (SELECT 1 FROM events e \
           WHERE {} \
           AND +e.application_id = session_applications.application_id \
           AND NOT EXISTS (SELECT 1 FROM event_queue q WHERE q.seq = e.seq)) \
         AND {session} IN ",
        crate::db::same_session(backend, "e", "session_applications")
    );
    deleted.session_applications = delete_in(txn, &pairs, sessions).await?;
    deleted.session_type_counts = delete_in(
        txn,
        &format!("DELETE FROM session_type_counts WHERE event_count <= 0 AND {session} IN "),
        sessions,
    )
    .await?;
    let mut hours = hours.to_vec();
    hours.dedup();
    let hours: Vec<sea_orm::Value> = hours
        .into_iter()
        .map(|hour| crate::db::event_time(backend, hour))
        .collect();
    deleted.type_counts_hourly = delete_in(
        txn,
        "DELETE FROM type_counts_hourly WHERE event_count <= 0 AND bucket_start IN ",
        &hours,
    )
    .await?;
    Ok(())
}

/// The hour before which retention deletes, for events kept `days` days at `now`: whole hours
/// only, so that every hourly aggregate row of a deleted hour goes with it.
pub fn retention_cutoff(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    hour_of(now - chrono::TimeDelta::days(i64::from(days)))
}
