//! One step of the background job, and running it until no work is left.
//!
//! The writer lists every stored event's `seq` in `event_queue`. A step claims up to
//! `batch_size` of them by deleting their queue rows (`DELETE … RETURNING`), reads those events,
//! folds them into aggregate deltas and applies those with atomic upserts — all in one
//! transaction. So:
//! - two overlapping runs never claim the same event: the delete is the claim, and a queue row
//!   already deleted is gone for everyone (PostgreSQL's `SKIP LOCKED` lets a second run take
//!   the next rows instead of waiting; SQLite runs writers one at a time);
//! - a run that dies before commit leaves its queue rows in place for the next run, and one
//!   that commits has counted its events exactly once: nothing is skipped or counted twice;
//! - there is no "last processed id" watermark, so events whose ingest sequence commits late
//!   (concurrent writers on PostgreSQL) are still picked up;
//! - a step never writes or locks an `events` row, so ingest (including a retried duplicate's
//!   `ON CONFLICT` check) never waits for it on PostgreSQL.
//!
//! On SQLite the job also writes new events' entries in the time-keyed indexes, for many
//! commits at once ([`index_once`]; see [`crate::db::index_pending`]): that clears their
//! `pending` flag, in transactions of their own. And it moves the sessions its steps updated
//! to their new place in the index of sessions by count once every few seconds, for all the
//! steps since, instead of at each step: steps asked to rank do it in their own transaction
//! ([`run_step`]); a run to the end ranks every session ([`rank_sessions`]).

use std::time::Instant;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

use super::aggregate::{ClaimedEvent, Deltas};
use crate::config::ProcessingSettings;
use crate::db::{JsonEventTime, Sql, as_json_page, read_event_time, read_json_rows};
use crate::error::AppResult;
use crate::telemetry::meters;

/// Rows per multi-row upsert statement: at most 5 bound values each, 25,000 in all, below
/// SQLite's limit of 32,766. SQLite copies each existing page a statement changes into that
/// statement's journal, so a step's upserts in few statements copy their pages fewer times.
const UPSERT_CHUNK_ROWS: usize = 5_000;

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessReport {
    /// Events aggregated.
    pub events_processed: u64,
    /// Transactions committed.
    pub batches: u64,
    /// Distinct sessions updated (summed over batches).
    pub sessions_updated: u64,
    /// Wall time of the run.
    pub duration_ms: u64,
}

/// Runs steps of `settings.process_batch_size` until a step finds nothing to do, then writes
/// every pending index entry (`settings.sqlite_index_batch_size` to a transaction).
pub async fn run_until_idle(
    db: &DatabaseConnection,
    settings: &ProcessingSettings,
) -> AppResult<ProcessReport> {
    let batch_size = settings.process_batch_size.max(1);
    let started = Instant::now();
    let mut report = ProcessReport::default();
    loop {
        let (events, sessions) = run_once(db, batch_size).await?;
        if events == 0 {
            break;
        }
        report.events_processed += events;
        report.sessions_updated += sessions;
        report.batches += 1;
        if events < batch_size {
            break;
        }
    }
    // What runs to the end writes every index entry too, so the store it leaves is whole.
    index_all_pending(db, settings.sqlite_index_batch_size, || false).await?;
    rank_sessions(db, || false).await?;
    report.duration_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Writes the time-index entries of up to `batch_size` pending events, oldest first, in one
/// transaction (SQLite; see [`crate::db::pending`]); returns how many.
pub async fn index_once(db: &DatabaseConnection, batch_size: u64) -> Result<u64, DbErr> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(0);
    }
    let txn = crate::db::begin_writing(db).await?;
    let done = crate::db::index_pending(&txn, batch_size.max(1)).await?;
    txn.commit().await?;
    Ok(done)
}

/// Writes the time-index entries of every pending event, `batch_size` to a transaction,
/// until none is left or `stop()` says so between two transactions; returns how many.
pub async fn index_all_pending(
    db: &DatabaseConnection,
    batch_size: u64,
    stop: impl Fn() -> bool,
) -> Result<u64, DbErr> {
    let mut total = 0;
    while !stop() {
        let done = index_once(db, batch_size).await?;
        total += done;
        if done < batch_size.max(1) {
            break;
        }
    }
    Ok(total)
}

/// Fewest sessions a step moves to their place in the index of sessions by count when the
/// ranking is due (see [`run_step`]); a step moves at least as many as it updated, so that
/// ranking keeps up with any rate.
pub const RANK_MIN_PER_STEP: u64 = 100;

/// The statement that moves up to `limit` sessions whose count changed since they were last
/// ranked to their count's place in `idx_sessions_count` (SQLite: migration
/// `m20261204_000001`), the oldest sessions first (those most likely over).
fn rank_statement(limit: u64) -> Statement {
    // A literal limit: a bound one makes SQLite compile the statement again on every run.
    Statement::from_string(
        DbBackend::Sqlite,
        format!(
            "UPDATE sessions SET ranked_count = event_count WHERE session_key IN \
             (SELECT session_key FROM sessions WHERE ranked_count <> event_count \
             ORDER BY session_key LIMIT {limit})"
        ),
    )
}

/// Ranks every session whose count changed since it was last ranked, [`RANK_MIN_PER_STEP`]
/// times ten to a transaction, until none is left or `stop()` says so between two
/// transactions (nothing to do on PostgreSQL); returns how many. Queries are exact either
/// way: an unranked session is counted apart (see `crate::query::counts`); ranking only keeps
/// that set small.
pub async fn rank_sessions(db: &DatabaseConnection, stop: impl Fn() -> bool) -> Result<u64, DbErr> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(0);
    }
    let batch = RANK_MIN_PER_STEP * 10;
    let mut total = 0;
    while !stop() {
        let txn = crate::db::begin_writing(db).await?;
        let done = txn
            .execute_raw(rank_statement(batch))
            .await?
            .rows_affected();
        txn.commit().await?;
        total += done;
        if done < batch {
            break;
        }
    }
    Ok(total)
}

/// What a step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepReport {
    /// Events claimed and aggregated.
    pub events: u64,
    /// Sessions whose aggregates it updated.
    pub sessions: u64,
    /// Whether it was asked to rank sessions and left none unranked.
    pub ranked_all: bool,
}

/// One step: claims and aggregates up to `batch_size` events in one transaction. Returns the
/// numbers of events and of sessions it updated. Its span carries what it did, and the step
/// moves the job metrics (see [`run_step`]).
pub async fn run_once(db: &DatabaseConnection, batch_size: u64) -> Result<(u64, u64), DbErr> {
    let report = run_step(db, batch_size, false).await?;
    Ok((report.events, report.sessions))
}

/// [`run_once`], which also ranks sessions when `rank` is set (SQLite): in the step's own
/// transaction, so that ranking never waits for SQLite's one writer apart, it moves at least
/// [`RANK_MIN_PER_STEP`] sessions, and at least as many as the step updated, to their place
/// in the index of sessions by count.
#[tracing::instrument(name = "job_step", skip(db), fields(events, sessions))]
pub async fn run_step(
    db: &DatabaseConnection,
    batch_size: u64,
    rank: bool,
) -> Result<StepReport, DbErr> {
    let started = Instant::now();
    let result = step(db, batch_size, rank).await;
    meters::job_step(
        result.as_ref().ok().map(|report| report.events),
        started.elapsed(),
    );
    if let Ok(report) = &result {
        let span = tracing::Span::current();
        span.record("events", report.events);
        span.record("sessions", report.sessions);
        if report.events > 0 {
            tracing::debug!(
                duration_ms = started.elapsed().as_millis() as u64,
                "job step committed"
            );
        }
    }
    result
}

async fn step(db: &DatabaseConnection, batch_size: u64, rank: bool) -> Result<StepReport, DbErr> {
    // On SQLite the step holds the write lock from its start, so the queue it reads is the
    // queue it deletes from (see `claim`).
    let txn = crate::db::begin_writing(db).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        // The step's commit does not wait for its WAL to reach the disk. A crash can lose only
        // whole steps, the queue rows they claimed with them, so those events are claimed and
        // counted again: exactness never depended on this commit being durable. Ingest's
        // commits, which are acknowledged to clients, keep waiting for their flush (and with
        // it for every earlier record, this step's included).
        txn.execute_unprepared("SET LOCAL synchronous_commit = off")
            .await?;
    }
    let claimed = claim(&txn, batch_size.max(1)).await?;
    let mut report = StepReport::default();
    if !claimed.is_empty() {
        let deltas = Deltas::from_events(&claimed);
        apply(&txn, &deltas).await?;
        report.events = claimed.len() as u64;
        report.sessions = deltas.sessions.len() as u64;
    }
    if rank && txn.get_database_backend() == DbBackend::Sqlite {
        let quota = report.sessions.max(RANK_MIN_PER_STEP);
        let ranked = txn
            .execute_raw(rank_statement(quota))
            .await?
            .rows_affected();
        report.ranked_all = ranked < quota;
    }
    txn.commit().await?;
    Ok(report)
}

/// Seqs per `SELECT … WHERE seq IN (…)` when reading claimed events.
const READ_CHUNK_ROWS: usize = 1000;

async fn claim(txn: &impl ConnectionTrait, batch_size: u64) -> Result<Vec<ClaimedEvent>, DbErr> {
    let backend = txn.get_database_backend();
    if backend == DbBackend::Sqlite {
        return claim_on_sqlite(txn, batch_size).await;
    }
    let rows = txn
        .query_all_raw(claim_statement(backend, batch_size))
        .await?;
    let mut seqs = rows
        .iter()
        .map(|row| row.try_get::<i64>("", "seq"))
        .collect::<Result<Vec<_>, _>>()?;
    seqs.sort_unstable();
    let mut claimed = Vec::with_capacity(seqs.len());
    for chunk in seqs.chunks(READ_CHUNK_ROWS) {
        let mut sql = Sql::new(backend);
        sql.push(
            "SELECT application_id, session_id, category, name, timestamp FROM events \
             WHERE seq IN (",
        );
        for (i, seq) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(*seq);
        }
        sql.push(")");
        for row in txn.query_all_raw(sql.build()).await? {
            claimed.push(ClaimedEvent {
                application_id: row.try_get("", "application_id")?,
                session_id: row.try_get("", "session_id")?,
                session_key: None,
                category: row.try_get("", "category")?,
                name: row.try_get("", "name")?,
                timestamp: read_event_time(backend, &row, "timestamp")?,
            });
        }
    }
    Ok(claimed)
}

/// A queued event as [`claim_statement`] reads it on SQLite: its `seq`, then its columns, null
/// if the event is gone.
type QueuedRow = (
    i64,
    Option<i32>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<JsonEventTime>,
);

/// Claims on SQLite: reads the oldest `batch_size` queue entries with their events as one JSON
/// row, then deletes those entries. A `DELETE … RETURNING` and a read of the events would each
/// hand every row from SQLite's worker thread to the runtime with a wakeup of its own (see
/// [`crate::db::json_page`]). The step's transaction holds the write lock from its `BEGIN
/// IMMEDIATE`, so the entries read are exactly the entries up to the last one read.
async fn claim_on_sqlite(
    txn: &impl ConnectionTrait,
    batch_size: u64,
) -> Result<Vec<ClaimedEvent>, DbErr> {
    let claim = claim_statement(DbBackend::Sqlite, batch_size);
    let queued: Vec<QueuedRow> = read_json_rows(txn, claim, "the claimed events").await?;
    let Some(&(last, ..)) = queued.last() else {
        return Ok(Vec::new());
    };
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "DELETE FROM event_queue WHERE seq <= ?",
        [last.into()],
    ))
    .await?;
    let mut claimed = Vec::with_capacity(queued.len());
    for row in queued {
        // An entry whose event is gone (erased meanwhile) only leaves the queue.
        if let (
            _,
            Some(application_id),
            Some(session_id),
            Some(session_key),
            Some(category),
            Some(name),
            Some(at),
        ) = row
        {
            claimed.push(ClaimedEvent {
                application_id,
                session_id,
                session_key: Some(session_key),
                category,
                name,
                timestamp: at.0,
            });
        }
    }
    Ok(claimed)
}

/// The statement that claims up to `batch_size` queued events, oldest first (exposed so tests
/// can check its plan). On PostgreSQL it deletes their queue entries and returns their `seq`;
/// on SQLite it reads the entries with their events as one JSON row (see [`claim_on_sqlite`]).
pub fn claim_statement(backend: DbBackend, batch_size: u64) -> Statement {
    if backend == DbBackend::Sqlite {
        // A literal limit: SQLite compiles a bound `LIMIT ?` again on every execution.
        let rows = Statement::from_string(
            DbBackend::Sqlite,
            format!(
                "SELECT q.seq, e.application_id, e.session_id, e.session_key, e.category, e.name, \
                 e.timestamp \
                 FROM (SELECT seq FROM event_queue ORDER BY seq LIMIT {batch_size}) q \
                 LEFT JOIN events e ON e.seq = q.seq"
            ),
        );
        return as_json_page(
            rows,
            "r.seq, r.application_id, r.session_id, r.session_key, r.category, r.name, r.timestamp",
            "",
            "r.seq",
        );
    }
    let mut sql = Sql::new(backend);
    sql.push(
        "DELETE FROM event_queue WHERE seq IN \
         (SELECT seq FROM event_queue ORDER BY seq LIMIT ",
    )
    .bind(batch_size as i64);
    if backend == DbBackend::Postgres {
        sql.push(" FOR UPDATE SKIP LOCKED");
    }
    sql.push(") RETURNING seq");
    sql.build()
}

/// The key of `session` in the per-session aggregates on `backend` (see
/// [`crate::db::session_column`]): on SQLite the key the claimed events carried
/// ([`Deltas::session_keys`]); 0 on PostgreSQL, whose rows are named by id and never use it.
pub(crate) fn session_key_of(
    backend: DbBackend,
    deltas: &Deltas,
    session: &str,
) -> Result<i64, DbErr> {
    if backend != DbBackend::Sqlite {
        return Ok(0);
    }
    deltas.session_keys.get(session).copied().ok_or_else(|| {
        DbErr::Custom(format!(
            "aggregating: no session key for session {session:?}"
        ))
    })
}

/// Adds `deltas` to the aggregates with atomic upserts, locking rows in key order (sessions,
/// pairs, session types, hours) so that concurrent writers cannot deadlock. Deleters pass
/// negative deltas ([`Deltas::removing`]). On SQLite the per-session aggregates are keyed by
/// the session's integer key (see `m20261202_000001`), which every claimed event carries;
/// `sessions` and `session_type_counts` keep the id beside it.
pub(crate) async fn apply(txn: &impl ConnectionTrait, deltas: &Deltas) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    let by_key = backend == DbBackend::Sqlite;
    let key_of = |session: &str| session_key_of(backend, deltas, session);
    let session = crate::db::session_column(backend);
    // The columns naming the session, and binding them, where the table keeps the id too.
    let (named, named_with_id) = if by_key {
        ("session_key", "session_key, session_id")
    } else {
        ("session_id", "session_id")
    };
    let bind_named = |sql: &mut Sql, id: &str, key: i64, with_id: bool| {
        match (by_key, with_id) {
            (true, true) => sql.bind(key).push(", ").bind(id),
            (true, false) => sql.bind(key),
            (false, _) => sql.bind(id),
        };
    };
    // On SQLite rows go in key order, the tables' own (one writer there, so no lock order).
    let mut sessions = deltas
        .sessions
        .iter()
        .map(|(id, d)| Ok((id, key_of(id)?, d)))
        .collect::<Result<Vec<_>, DbErr>>()?;
    if by_key {
        sessions.sort_by_key(|(_, key, _)| *key);
    }
    upsert(
        txn,
        &format!(
            "INSERT INTO sessions ({named_with_id}, first_seen, last_seen, event_count) VALUES "
        ),
        &sessions,
        |sql, (id, key, d)| {
            bind_named(sql, id, *key, true);
            sql.push(", ").bind_time(d.first_seen).push(", ");
            sql.bind_time(d.last_seen).push(", ").bind(d.count);
        },
        &format!(
            " ON CONFLICT ({session}) DO UPDATE SET \
             first_seen = CASE WHEN excluded.first_seen < sessions.first_seen \
               THEN excluded.first_seen ELSE sessions.first_seen END, \
             last_seen = CASE WHEN excluded.last_seen > sessions.last_seen \
               THEN excluded.last_seen ELSE sessions.last_seen END, \
             event_count = sessions.event_count + excluded.event_count"
        ),
    )
    .await?;
    let mut pairs = deltas
        .session_applications
        .iter()
        .map(|(id, app)| Ok((id, key_of(id)?, *app)))
        .collect::<Result<Vec<_>, DbErr>>()?;
    if by_key {
        pairs.sort_by_key(|(_, key, app)| (*key, *app));
    }
    upsert(
        txn,
        &format!("INSERT INTO session_applications ({named}, application_id) VALUES "),
        &pairs,
        |sql, (id, key, app)| {
            bind_named(sql, id, *key, false);
            sql.push(", ").bind(*app);
        },
        &format!(" ON CONFLICT ({session}, application_id) DO NOTHING"),
    )
    .await?;
    let mut types = deltas
        .session_types
        .iter()
        .map(|((id, category, name), count)| Ok((id, key_of(id)?, category, name, *count)))
        .collect::<Result<Vec<_>, DbErr>>()?;
    if by_key {
        types.sort_by(|a, b| (a.1, a.2, a.3).cmp(&(b.1, b.2, b.3)));
    }
    upsert(
        txn,
        &format!(
            "INSERT INTO session_type_counts ({named_with_id}, category, name, event_count) \
             VALUES "
        ),
        &types,
        |sql, (id, key, category, name, count)| {
            bind_named(sql, id, *key, true);
            sql.push(", ").bind(category.as_str());
            sql.push(", ").bind(name.as_str()).push(", ").bind(*count);
        },
        &format!(
            " ON CONFLICT ({session}, category, name) DO UPDATE SET \
             event_count = session_type_counts.event_count + excluded.event_count"
        ),
    )
    .await?;
    let hourly: Vec<_> = deltas.hourly.iter().collect();
    upsert(
        txn,
        "INSERT INTO type_counts_hourly (bucket_start, category, name, event_count) VALUES ",
        &hourly,
        |sql, ((bucket, category, name), count)| {
            sql.bind_time(*bucket).push(", ").bind(category.as_str());
            sql.push(", ").bind(name.as_str()).push(", ").bind(**count);
        },
        " ON CONFLICT (bucket_start, category, name) DO UPDATE SET \
         event_count = type_counts_hourly.event_count + excluded.event_count",
    )
    .await
}

/// Runs `insert` (`INSERT INTO … VALUES `) with one `(…)` per row, as bound by `bind_row`,
/// followed by `on_conflict`, in statements of at most [`UPSERT_CHUNK_ROWS`] rows, in the order
/// of `rows`.
async fn upsert<R>(
    txn: &impl ConnectionTrait,
    insert: &str,
    rows: &[R],
    bind_row: impl Fn(&mut Sql, &R),
    on_conflict: &str,
) -> Result<(), DbErr> {
    for chunk in rows.chunks(UPSERT_CHUNK_ROWS) {
        let mut sql = Sql::new(txn.get_database_backend());
        sql.push(insert);
        for (i, row) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            bind_row(&mut sql, row);
            sql.push(")");
        }
        sql.push(on_conflict);
        txn.execute_raw(sql.build()).await?;
    }
    Ok(())
}

/// The job's work list as seen now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Events stored and not yet aggregated.
    pub events: u64,
    /// When the oldest of them (lowest `seq`) was received; `None` when none is waiting.
    pub oldest_received_at: Option<DateTime<Utc>>,
}

/// Reads the backlog: the length of `event_queue` and the arrival time of its head (the same
/// measure the benchmark harness reports as processing lag).
pub async fn backlog(db: &DatabaseConnection) -> Result<Backlog, DbErr> {
    let backend = db.get_database_backend();
    let count = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM event_queue",
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    let oldest = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT e.received_at FROM events e \
             WHERE e.seq = (SELECT MIN(seq) FROM event_queue)",
        ))
        .await?
        .map(|row| row.try_get::<DateTime<Utc>>("", "received_at"))
        .transpose()?;
    Ok(Backlog {
        events: u64::try_from(count).unwrap_or(0),
        oldest_received_at: oldest,
    })
}
