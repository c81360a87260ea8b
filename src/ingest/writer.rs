//! The group-commit writer.
//!
//! Every `recordEvents` call hands its validated batch to the writer queue and waits for the
//! answer. A writer task takes whatever batches are queued (up to `EYE_MAX_COMMIT_EVENTS`
//! events) and stores them in one transaction, then answers each caller. SQLite has one writer
//! task; PostgreSQL, which commits concurrently, has `EYE_POSTGRES_WRITERS`. Concurrent requests therefore
//! share one commit — one fsync on SQLite — instead of queueing for a transaction each, and a
//! caller is answered only after its events are durable.
//!
//! Duplicates are decided by the database, not by luck: `UNIQUE (application_id, event_id)`
//! with `ON CONFLICT DO NOTHING` stores only new rows, also across instances sharing one
//! PostgreSQL, and `RETURNING` (on SQLite, a read of the rows above the previous largest `seq`)
//! tells which they were. Within one group the first occurrence of an id wins.
//!
//! On PostgreSQL a writer inserting an id that another uncommitted group holds waits for that
//! group. Two groups holding each other's retried ids would wait for each other, and PostgreSQL
//! only breaks such a deadlock after `deadlock_timeout` (a second by default), which then stalls
//! every request of both groups. So each PostgreSQL group takes its `seq`s from the sequence in
//! arrival order first, then inserts its rows in `(application_id, event_id)` order: every
//! writer of every instance waits for ids in the same order, and a cycle cannot form.
//!
//! Each stored event's `seq` also enters `event_queue` in the same transaction: the background
//! job's work list, so claiming work never rewrites rows. On SQLite the row is stored
//! `pending`: the job writes its entries in the time-keyed indexes later, for many commits at
//! once, which clears the flag (see [`crate::db::index_pending`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, IntoIden, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryTrait,
    Statement,
};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::validate::{RejectedEvent, ValidEvent};
use crate::config::IngestSettings;
use crate::db::{as_json_page, read_json_rows};
use crate::entities::{event_error_codes, event_errors, events};
use crate::error::{AppError, AppResult};
use crate::live::{self, Commit, Live};
use crate::telemetry::meters;

/// Rows per multi-row `INSERT`: at most 10 bound values each (an error row with its id),
/// 30,000 in all, below SQLite's limit of 32,766. While a multi-row statement runs, SQLite copies every existing page it
/// changes into a statement journal (to undo that statement alone if it fails), once per
/// statement; a group in few large statements copies each index page it touches a few times
/// instead of once per 500 rows.
const INSERT_CHUNK_ROWS: usize = 3_000;

/// Times a group commit that PostgreSQL rolled back for a conflict (deadlock) is run again
/// before its callers are answered `UNAVAILABLE`.
const CONFLICT_RETRIES: usize = 3;

/// One request's validated batch.
#[derive(Debug)]
pub struct WriteBatch {
    /// The sending application.
    pub application_id: i32,
    /// When the batch arrived.
    pub received_at: DateTime<Utc>,
    /// Events to store.
    pub events: Vec<ValidEvent>,
    /// Events to record as errors.
    pub rejected: Vec<RejectedEvent>,
}

/// What happened to a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    /// For each of `events`, whether it was new (`false`: a duplicate).
    pub inserted: Vec<bool>,
    /// For each of `rejected`, the id of its error row.
    pub error_ids: Vec<i64>,
}

struct Pending {
    batch: WriteBatch,
    /// The request that sent the batch, named in the span of the commit that stores it.
    request_id: String,
    reply: oneshot::Sender<AppResult<WriteOutcome>>,
}

/// A handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Pending>,
    timeout: Duration,
}

impl Writer {
    /// Starts the writer tasks: one on SQLite, `EYE_POSTGRES_WRITERS` on PostgreSQL, all taking
    /// groups from one queue. They end once every handle is dropped and the queue is drained;
    /// the returned task ends when all of them have.
    pub fn spawn(
        db: DatabaseConnection,
        settings: &IngestSettings,
        live: Arc<Live>,
    ) -> (Self, JoinHandle<()>) {
        let (queue, rx) = mpsc::channel(settings.write_queue_capacity.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let writers = match db.get_database_backend() {
            DbBackend::Postgres => settings.postgres_writers.max(1),
            _ => 1,
        };
        let max_events = settings.max_commit_events.max(1);
        let tasks: Vec<_> = (0..writers)
            .map(|_| tokio::spawn(run(db.clone(), rx.clone(), max_events, live.clone())))
            .collect();
        let task = tokio::spawn(async move {
            for task in tasks {
                let _ = task.await;
            }
        });
        let writer = Self {
            queue,
            timeout: Duration::from_millis(settings.write_timeout_ms),
        };
        (writer, task)
    }

    /// Stores a batch and returns once it is committed (or failed, or timed out).
    pub async fn write(&self, batch: WriteBatch) -> AppResult<WriteOutcome> {
        let (reply, answer) = oneshot::channel();
        let request_id = crate::telemetry::request_id();
        let work = async {
            self.queue
                .send(Pending {
                    batch,
                    request_id,
                    reply,
                })
                .await
                .map_err(|_| AppError::Unavailable("the service is shutting down".into()))?;
            answer
                .await
                .map_err(|_| AppError::Unavailable("the writer stopped; retry".into()))?
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(AppError::Unavailable(
                    "storing the batch took too long; retrying it is safe".into(),
                ))
            })
    }
}

/// Takes the next group: the first waiting batch and whatever else is queued, up to
/// `max_events` events. `None` once the queue is closed and drained. The lock is held only
/// while taking, so other writer tasks take the following groups while this one commits.
async fn next_group(
    rx: &Mutex<mpsc::Receiver<Pending>>,
    max_events: usize,
) -> Option<Vec<Pending>> {
    let mut rx = rx.lock().await;
    let first = rx.recv().await?;
    let mut size = first.batch.events.len() + first.batch.rejected.len();
    let mut group = vec![first];
    while size < max_events {
        match rx.try_recv() {
            Ok(next) => {
                size += next.batch.events.len() + next.batch.rejected.len();
                group.push(next);
            }
            Err(_) => break,
        }
    }
    Some(group)
}

async fn run(
    db: DatabaseConnection,
    rx: Arc<Mutex<mpsc::Receiver<Pending>>>,
    max_events: usize,
    live: Arc<Live>,
) {
    while let Some(group) = next_group(&rx, max_events).await {
        // The group's span names every request it answers: that is how a request id leads to
        // the commit that stored its events (several requests share one commit).
        let rows: usize = group
            .iter()
            .map(|p| p.batch.events.len() + p.batch.rejected.len())
            .sum();
        let batches = group.len();
        let request_ids: Vec<&str> = group.iter().map(|p| p.request_id.as_str()).collect();
        let span = tracing::info_span!("group_commit", batches, rows, request_ids = %request_ids.join(","));
        let started = Instant::now();
        let ok = commit_and_answer(&db, group, &live)
            .instrument(span.clone())
            .await;
        let elapsed = started.elapsed();
        meters::group_committed(rows, batches, elapsed, ok);
        span.in_scope(|| {
            tracing::debug!(ok, duration_ms = elapsed.as_millis() as u64, "group commit");
        });
    }
}

/// Hands what a commit stored to this instance's subscribers. On PostgreSQL the commit itself
/// notifies every instance (see [`commit_group`]), so nothing is announced here.
fn announce(db: &DatabaseConnection, live: &Live, stored: Commit) {
    if db.get_database_backend() != DbBackend::Postgres {
        live.announce(stored);
    }
}

/// Commits a group and answers each of its requests; `false` when the group failed (whether or
/// not its batches then succeeded one by one).
async fn commit_and_answer(db: &DatabaseConnection, group: Vec<Pending>, live: &Live) -> bool {
    let batches: Vec<&WriteBatch> = group.iter().map(|p| &p.batch).collect();
    let mut result = commit_group(db, &batches).await;
    // PostgreSQL may still roll a group back for a conflict: a serialization failure, or a
    // deadlock with a writer of an older version that inserts in arrival order. Running the
    // group again is safe.
    for _ in 0..CONFLICT_RETRIES {
        match &result {
            Err(err) if crate::db::is_conflict(err) => {
                tracing::debug!(error = %err, "group commit conflicted; running it again");
                result = commit_group(db, &batches).await;
            }
            _ => break,
        }
    }
    match result {
        Ok(Committed { outcomes, stored }) => {
            announce(db, live, stored);
            for (pending, outcome) in group.into_iter().zip(outcomes) {
                let _ = pending.reply.send(Ok(outcome));
            }
            true
        }
        Err(err) if group.len() > 1 && !crate::db::is_transient(&err) => {
            // One batch must not sink the others it was grouped with: retry each alone.
            tracing::warn!(error = %err, batches = group.len(), "group commit failed; committing batches one by one");
            for pending in group {
                let result = commit_group(db, &[&pending.batch]).await.map(|c| {
                    announce(db, live, c.stored);
                    c.outcomes
                });
                let _ = pending.reply.send(answer_one(result));
            }
            false
        }
        Err(err) => {
            tracing::error!(error = %err, batches = group.len(), "group commit failed");
            for pending in group {
                let answer = AppError::from(err.clone()).context("storing the batch");
                let _ = pending.reply.send(Err(answer));
            }
            false
        }
    }
}

fn answer_one(result: Result<Vec<WriteOutcome>, sea_orm::DbErr>) -> AppResult<WriteOutcome> {
    match result {
        Ok(mut outcomes) => outcomes
            .pop()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a committed batch had no outcome"))),
        Err(err) => {
            let err = AppError::from(err);
            tracing::error!(error = ?err, "committing a batch failed");
            Err(err)
        }
    }
}

/// Stores `batches` in one transaction and returns one outcome per batch. The writer task calls
/// it for each group; `the-eye import` calls it directly for its large transactions.
pub async fn commit_group(
    db: &DatabaseConnection,
    batches: &[&WriteBatch],
) -> Result<Committed, sea_orm::DbErr> {
    // On SQLite the transaction holds the write lock from its start (see `insert_reading_back`).
    let txn = crate::db::begin_writing(db).await?;
    // First occurrence of each (application, id) in the group; later ones are duplicates
    // without asking the database.
    let mut first_seen: HashSet<(i32, &str)> = HashSet::new();
    let mut to_insert: Vec<NewRow> = Vec::new();
    for batch in batches {
        for event in &batch.events {
            if first_seen.insert((batch.application_id, event.event_id())) {
                to_insert.push(NewRow {
                    seq: None,
                    application_id: batch.application_id,
                    received_at: batch.received_at,
                    event,
                });
            }
        }
    }
    if txn.get_database_backend() == DbBackend::Postgres && to_insert.len() > 1 {
        // Arrival order keeps the `seq`s; the id order keeps concurrent groups from deadlocking
        // (see the module's documentation).
        let seqs = take_ids(&txn, "events", "seq", to_insert.len()).await?;
        for (row, seq) in to_insert.iter_mut().zip(seqs) {
            row.seq = Some(seq);
        }
        to_insert.sort_unstable_by(|a, b| {
            (a.application_id, a.event.event_id()).cmp(&(b.application_id, b.event.event_id()))
        });
    }
    let keys = crate::db::register_sessions(
        &txn,
        to_insert.iter().map(|row| row.event.session_id().as_str()),
    )
    .await?;
    let mut inserted: HashSet<(i32, String)> = HashSet::with_capacity(to_insert.len());
    let mut stored = Commit::default();
    for chunk in to_insert.chunks(INSERT_CHUNK_ROWS) {
        let (rows, seqs) = insert_events(&txn, chunk, &keys).await?;
        inserted.extend(rows);
        stored.seqs.extend(seqs);
    }
    if !keys.is_empty() && inserted.len() < to_insert.len() {
        // A session whose every event here was a duplicate of a stored one got a key for
        // nothing: forget it unless another event refers to it.
        let mut unused: Vec<String> = to_insert
            .iter()
            .filter(|row| {
                !inserted.contains(&(row.application_id, row.event.event_id().to_owned()))
            })
            .map(|row| row.event.session_id().as_str().to_owned())
            .collect();
        if !unused.is_empty() {
            unused.sort_unstable();
            unused.dedup();
            crate::db::forget_sessions(&txn, &unused).await?;
        }
    }
    let mut error_ids = insert_errors(&txn, batches).await?.into_iter();
    let mut outcomes = Vec::with_capacity(batches.len());
    for batch in batches {
        let error_ids: Vec<i64> = error_ids.by_ref().take(batch.rejected.len()).collect();
        // `remove` hands each stored row to exactly one event: a repeat within the group finds
        // it gone and is reported as a duplicate.
        let inserted = batch
            .events
            .iter()
            .map(|e| inserted.remove(&(batch.application_id, e.event_id().to_owned())))
            .collect();
        stored.error_ids.extend(&error_ids);
        outcomes.push(WriteOutcome {
            inserted,
            error_ids,
        });
    }
    stored.seqs.sort_unstable();
    stored.error_ids.sort_unstable();
    if txn.get_database_backend() == DbBackend::Postgres {
        // Delivered by PostgreSQL to every instance's listener when, and only if, this commits.
        for payload in stored.payloads() {
            let notify = Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [live::CHANNEL.into(), payload.into()],
            );
            txn.execute_raw(notify).await?;
        }
    }
    txn.commit().await?;
    Ok(Committed { outcomes, stored })
}

/// What a committed group did.
#[derive(Debug)]
pub struct Committed {
    /// One outcome per batch, in order.
    pub outcomes: Vec<WriteOutcome>,
    /// What it stored, for subscribers.
    pub stored: Commit,
}

/// An event of a group to insert.
struct NewRow<'a> {
    /// Its `seq`, taken beforehand on PostgreSQL; `None`: the database assigns it on insert.
    seq: Option<i64>,
    application_id: i32,
    received_at: DateTime<Utc>,
    event: &'a ValidEvent,
}

/// `n` new values, ascending, from the sequence behind `table`'s `column` (PostgreSQL).
async fn take_ids(
    txn: &impl ConnectionTrait,
    table: &str,
    column: &str,
    n: usize,
) -> Result<Vec<i64>, sea_orm::DbErr> {
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT nextval(pg_get_serial_sequence($1, $2)) AS id FROM generate_series(1, $3)",
        [table.into(), column.into(), (n as i64).into()],
    );
    let mut ids = txn
        .query_all_raw(statement)
        .await?
        .iter()
        .map(|row| row.try_get::<i64>("", "id"))
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// Inserts new events; returns (application, id) and `seq` of each row that was new.
async fn insert_events(
    txn: &impl ConnectionTrait,
    rows: &[NewRow<'_>],
    keys: &crate::db::SessionKeys,
) -> Result<(Vec<(i32, String)>, Vec<i64>), sea_orm::DbErr> {
    use events::Column as C;
    // `seq`s are taken for every row of a group or for none (see `commit_group`).
    let seq_column = rows.first().and_then(|row| row.seq).map(|_| C::Seq);
    let backend = txn.get_database_backend();
    let mut insert = Query::insert();
    insert.into_table(events::Entity).columns(
        seq_column
            .into_iter()
            .chain([
                C::EventId,
                C::ApplicationId,
                C::SessionId,
                C::Category,
                C::Name,
                C::Data,
                C::Timestamp,
                C::ReceivedAt,
            ])
            .map(IntoIden::into_iden)
            // SQLite's indexes find a session by its key (see `crate::db::session_key`), and
            // the job writes the time indexes' entries later (see `crate::db::pending`).
            .chain(
                (backend == DbBackend::Sqlite)
                    .then(|| [Alias::new("session_key"), Alias::new("pending")])
                    .into_iter()
                    .flatten()
                    .map(IntoIden::into_iden),
            ),
    );
    for row in rows {
        let e = row.event;
        // SQLite stores JSON as its text: serialize it once here rather than clone the tree
        // for the driver to serialize. PostgreSQL needs a `jsonb` parameter.
        let data = match backend {
            DbBackend::Sqlite => serde_json::to_string(e.data())
                .map_err(|err| sea_orm::DbErr::Custom(format!("encoding an event's data: {err}")))?
                .into(),
            _ => e.data().clone().into(),
        };
        let values: [sea_orm::Value; 8] = [
            e.event_id().to_owned().into(),
            row.application_id.into(),
            e.session_id().as_str().to_owned().into(),
            e.category().as_str().to_owned().into(),
            e.name().as_str().to_owned().into(),
            data,
            crate::db::event_time(backend, e.timestamp()),
            row.received_at.into(),
        ];
        let key = match backend {
            DbBackend::Sqlite => {
                Some(keys.get(e.session_id().as_str()).copied().ok_or_else(|| {
                    sea_orm::DbErr::Custom("an event's session has no key".into())
                })?)
            }
            _ => None,
        };
        insert.values_panic(
            row.seq
                .map(Into::into)
                .into_iter()
                .chain(values)
                .chain(
                    key.into_iter()
                        .flat_map(|key| [sea_orm::Value::from(key), sea_orm::Value::from(1)]),
                )
                .map(sea_orm::sea_query::SimpleExpr::from),
        );
    }
    insert.on_conflict(
        OnConflict::columns([C::ApplicationId, C::EventId])
            .do_nothing()
            .to_owned(),
    );
    let returned = if backend == DbBackend::Sqlite {
        let insert = backend.build(&insert);
        let columns = "r.seq, r.application_id, r.event_id";
        insert_reading_back(txn, insert, "events", "seq", columns, "the stored events").await?
    } else {
        insert.returning(Query::returning().columns([C::Seq, C::ApplicationId, C::EventId]));
        let rows = txn.query_all(&insert).await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("", "seq")?,
                    row.try_get("", "application_id")?,
                    row.try_get("", "event_id")?,
                ))
            })
            .collect::<Result<Vec<_>, sea_orm::DbErr>>()?
    };
    let seqs: Vec<i64> = returned.iter().map(|(seq, _, _)| *seq).collect();
    enqueue(txn, &seqs).await?;
    let stored = returned.into_iter().map(|(_, app, id)| (app, id)).collect();
    Ok((stored, seqs))
}

/// Runs `insert` on SQLite and returns `columns` of each row it stored, one JSON array per row
/// in `key` order (`what` names them in an error).
///
/// `RETURNING` would hand every new row from SQLite's worker thread to the runtime with a
/// wakeup of its own (see [`crate::db::json_page`]). The group's transaction holds SQLite's
/// write lock from its `BEGIN IMMEDIATE` on, so nothing else writes between the read below and
/// the insert, and a new `key` (`seq`, `id`: rowids) is larger than every existing one: the rows
/// this statement stored are exactly those above the largest `key` before it, read back as one
/// row.
async fn insert_reading_back<T: serde::de::DeserializeOwned>(
    txn: &impl ConnectionTrait,
    insert: Statement,
    table: &str,
    key: &str,
    columns: &str,
    what: &str,
) -> Result<Vec<T>, sea_orm::DbErr> {
    let largest = Statement::from_string(
        DbBackend::Sqlite,
        format!("SELECT COALESCE(MAX({key}), 0) AS n FROM {table}"),
    );
    let before: i64 = match txn.query_one_raw(largest).await? {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    txn.execute_raw(insert).await?;
    let stored = as_json_page(
        Statement::from_sql_and_values(
            DbBackend::Sqlite,
            format!("SELECT * FROM {table} WHERE {key} > ?"),
            [before.into()],
        ),
        columns,
        "",
        &format!("r.{key}"),
    );
    read_json_rows(txn, stored, what).await
}

/// Hands newly stored events to the background job (see `event_queue` in the migrations), in
/// the transaction that stores them.
async fn enqueue(txn: &impl ConnectionTrait, seqs: &[i64]) -> Result<(), sea_orm::DbErr> {
    if seqs.is_empty() {
        return Ok(());
    }
    let mut sql = crate::db::Sql::new(txn.get_database_backend());
    sql.push("INSERT INTO event_queue (seq) VALUES ");
    for (i, seq) in seqs.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.bind(*seq).push(")");
    }
    txn.execute_raw(sql.build()).await?;
    Ok(())
}

/// Stores the group's rejected events and their codes, [`INSERT_CHUNK_ROWS`] to a statement as
/// for events; returns the id of each one's error row, in the order of `batches` and of their
/// `rejected`. PostgreSQL's ids are taken from the sequence beforehand; SQLite's are read back
/// ([`insert_reading_back`]).
async fn insert_errors(
    txn: &impl ConnectionTrait,
    batches: &[&WriteBatch],
) -> Result<Vec<i64>, sea_orm::DbErr> {
    let rejected: Vec<(&WriteBatch, &RejectedEvent)> = batches
        .iter()
        .flat_map(|batch| batch.rejected.iter().map(move |r| (*batch, r)))
        .collect();
    let backend = txn.get_database_backend();
    let mut ids = Vec::with_capacity(rejected.len());
    for chunk in rejected.chunks(INSERT_CHUNK_ROWS) {
        let taken = match backend {
            DbBackend::Postgres => take_ids(txn, "event_errors", "id", chunk.len()).await?,
            _ => Vec::new(),
        };
        let mut rows = Vec::with_capacity(chunk.len());
        for (i, (batch, event)) in chunk.iter().enumerate() {
            let mut row = error_row(batch, event)?;
            if let Some(id) = taken.get(i) {
                row.id = Set(*id);
            }
            rows.push(row);
        }
        if backend == DbBackend::Postgres {
            event_errors::Entity::insert_many(rows)
                .exec_without_returning(txn)
                .await?;
            ids.extend(taken);
        } else {
            let insert = event_errors::Entity::insert_many(rows).build(backend);
            let stored: Vec<(i64,)> =
                insert_reading_back(txn, insert, "event_errors", "id", "r.id", "the error ids")
                    .await?;
            ids.extend(stored.into_iter().map(|(id,)| id));
        }
    }
    if ids.len() != rejected.len() {
        return Err(sea_orm::DbErr::Custom(format!(
            "stored {} error rows for {} rejected events",
            ids.len(),
            rejected.len()
        )));
    }
    let mut codes: Vec<(i64, &str)> = Vec::new();
    for ((_, event), id) in rejected.iter().zip(&ids) {
        let mut distinct: Vec<&str> = event.reasons.iter().map(|r| r.code.as_str()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        codes.extend(distinct.into_iter().map(|code| (*id, code)));
    }
    for chunk in codes.chunks(INSERT_CHUNK_ROWS) {
        let rows = chunk
            .iter()
            .map(|(id, code)| event_error_codes::ActiveModel {
                error_id: Set(*id),
                code: Set(code.to_string()),
            });
        event_error_codes::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(ids)
}

/// The error row of a rejected event, without its id.
fn error_row(
    batch: &WriteBatch,
    rejected: &RejectedEvent,
) -> Result<event_errors::ActiveModel, sea_orm::DbErr> {
    let reasons = serde_json::to_value(&rejected.reasons)
        .map_err(|e| sea_orm::DbErr::Custom(format!("encoding reasons: {e}")))?;
    Ok(event_errors::ActiveModel {
        application_id: Set(batch.application_id),
        received_at: Set(batch.received_at),
        batch_index: Set(rejected.index as i32),
        event_id: Set(rejected.event_id.as_deref().map(clip)),
        session_id: Set(Some(clip(&rejected.session_id))),
        category: Set(Some(clip(&rejected.category))),
        name: Set(Some(clip(&rejected.name))),
        payload: Set(without_nul(rejected.payload.clone())),
        reasons: Set(without_nul(reasons)),
        ..Default::default()
    })
}

/// Identifying columns of an error row are for filtering and display; the full values stay in
/// the payload. Long or NUL-bearing values are shortened so that storing the error can never
/// fail for the very reason the event was rejected.
fn clip(value: &str) -> String {
    value.chars().filter(|c| *c != '\0').take(256).collect()
}

/// The value with every NUL character in keys and strings replaced by U+FFFD. PostgreSQL's
/// `jsonb` cannot hold NUL, and an event rejected *because* it holds one must still be stored.
fn without_nul(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let fix = |s: String| {
        if s.contains('\0') {
            s.replace('\0', "\u{FFFD}")
        } else {
            s
        }
    };
    match value {
        Value::String(s) => Value::String(fix(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nul).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (fix(k), without_nul(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_characters_are_replaced_everywhere() {
        let value = json!({ "a\0": ["x\0y", 1, { "b": "\0" }] });
        assert_eq!(
            without_nul(value),
            json!({ "a\u{FFFD}": ["x\u{FFFD}y", 1, { "b": "\u{FFFD}" }] })
        );
    }
}
