//! The loop around the job: wakes every `EYE_PROCESS_INTERVAL_MS`, runs steps (growing from
//! [`FIRST_STEP_EVENTS`] to `EYE_PROCESS_BATCH_SIZE`) until no work is left (on PostgreSQL,
//! `EYE_PROCESS_WORKERS` such loops side by side), on SQLite writes
//! new events' time-index entries every `EYE_SQLITE_INDEX_INTERVAL_MS`, applies retention
//! every `EYE_RETENTION_INTERVAL_MS` (when one is configured), and stops when shutdown is
//! signalled, after the step it is in. A failed run is logged and retried on the next tick; the
//! transaction design makes retries safe.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::job::{index_all_pending, run_once};
use crate::clock::Clock;
use crate::config::ProcessingSettings;
use crate::lifecycle::apply_retention;

/// Events claimed by the first step after each wake; each full step doubles the next, up to
/// `EYE_PROCESS_BATCH_SIZE`. On 10M events at half the saturation rate, steps of 1,000 instead
/// of 5,000 took a quarter off ingest's p99; at saturation, fixed steps of 1,000 let the job
/// fall 11 s behind (BENCHMARKS.md).
pub const FIRST_STEP_EVENTS: u64 = 1_000;

/// Starts the loops: one on SQLite, `EYE_PROCESS_WORKERS` on PostgreSQL, where steps commit
/// concurrently (each claims different events; see [`super::job`]). The first loop also merges
/// the time-keyed indexes (SQLite) and applies retention. The task ends when `shutdown` turns
/// `true` (or its sender is dropped), once every loop has finished the step it is in. `clock`
/// says when "now" is for retention cutoffs.
pub fn spawn(
    db: DatabaseConnection,
    settings: ProcessingSettings,
    clock: Arc<dyn Clock>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let loops = match db.get_database_backend() {
        DbBackend::Postgres => settings.process_workers.max(1),
        _ => 1,
    };
    let helpers: Vec<JoinHandle<()>> = (1..loops)
        .map(|_| {
            let (db, settings, shutdown) = (db.clone(), settings.clone(), shutdown.clone());
            tokio::spawn(run_loop(db, settings, None, shutdown))
        })
        .collect();
    let first = tokio::spawn(run_loop(db, settings, Some(clock), shutdown));
    tokio::spawn(async move {
        let _ = first.await;
        for helper in helpers {
            let _ = helper.await;
        }
    })
}

/// One loop of steps. With a `clock` it is the first loop, which also merges the time-keyed
/// indexes and applies retention.
async fn run_loop(
    db: DatabaseConnection,
    settings: ProcessingSettings,
    clock: Option<Arc<dyn Clock>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let interval = Duration::from_millis(settings.process_interval_ms.max(1));
    let retention_every = Duration::from_millis(settings.retention_interval_ms.max(1));
    let mut retention_due = Instant::now();
    let index_every = Duration::from_millis(settings.sqlite_index_interval_ms.max(1));
    let index_batch = settings.sqlite_index_batch_size.max(1);
    let mut index_due = Instant::now() + index_every;
    let batch_size = settings.process_batch_size.max(1);
    let first = clock.is_some();
    loop {
        if crate::shutdown::sleep_or_stopped(interval, &mut shutdown).await {
            break;
        }
        // Step by step, so that shutdown waits for one step at most. Steps start small and
        // double while they come back full: under a light load each step holds SQLite's one
        // writer briefly, while a backlog is still worked off in steps of `batch_size`.
        let mut step = batch_size.min(FIRST_STEP_EVENTS);
        while !*shutdown.borrow() {
            if first {
                // Between steps too: a backlog must not keep new events pending.
                index_if_due(&db, &mut index_due, index_every, index_batch, &shutdown).await;
            }
            match run_once(&db, step).await {
                Ok((events, _)) if events == step => {
                    step = (step * 2).min(batch_size);
                    continue;
                }
                Ok(_) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "background processing failed; will retry");
                    break;
                }
            }
        }
        let Some(clock) = &clock else { continue };
        index_if_due(&db, &mut index_due, index_every, index_batch, &shutdown).await;
        if Instant::now() >= retention_due && !*shutdown.borrow() {
            retention_due = Instant::now() + retention_every;
            retain(&db, &settings, clock.as_ref()).await;
        }
    }
}

/// Once `due`, writes the time-index entries of every pending event (SQLite), `batch` to a
/// transaction, stopping early at shutdown; then sets the next time.
async fn index_if_due(
    db: &DatabaseConnection,
    due: &mut Instant,
    every: Duration,
    batch: u64,
    shutdown: &watch::Receiver<bool>,
) {
    if Instant::now() < *due {
        return;
    }
    *due = Instant::now() + every;
    if let Err(err) = index_all_pending(db, batch, || *shutdown.borrow()).await {
        tracing::warn!(error = %err, "writing index entries failed; will retry");
    }
}

/// One retention run, if any retention is configured (applications' own included).
async fn retain(db: &DatabaseConnection, settings: &ProcessingSettings, clock: &dyn Clock) {
    match apply_retention(db, settings.retention(), clock.now()).await {
        Ok(report) if report.batches > 0 => tracing::info!(
            events = report.deleted.events,
            event_errors = report.deleted.event_errors,
            batches = report.batches,
            "retention deleted expired data"
        ),
        Ok(_) => {}
        Err(err) => tracing::warn!(error = ?err, "retention failed; will retry"),
    }
}
