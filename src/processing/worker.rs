//! The loop around the job: wakes every `EYE_PROCESS_INTERVAL_MS`, runs steps (growing from
//! [`FIRST_STEP_EVENTS`] to `EYE_PROCESS_BATCH_SIZE`) until no work is left (on PostgreSQL,
//! `EYE_PROCESS_WORKERS` such loops side by side). On SQLite it writes new events' time-index
//! entries every `EYE_SQLITE_INDEX_INTERVAL_MS` and ranks the updated sessions by count every
//! `EYE_SQLITE_RANK_INTERVAL_MS` (see [`super::job::run_step`]). It applies retention every
//! `EYE_RETENTION_INTERVAL_MS` (when one is configured), and stops when shutdown is signalled,
//! after the step it is in. A failed run is logged and retried on the next tick; the
//! transaction design makes retries safe.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::job::{StepReport, index_all_pending, run_step};
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
    let upkeep = Upkeep::new(&settings, clock, db.get_database_backend());
    let first = tokio::spawn(run_loop(db, settings, Some(upkeep), shutdown));
    tokio::spawn(async move {
        let _ = first.await;
        for helper in helpers {
            let _ = helper.await;
        }
    })
}

/// What only the first loop does besides its steps, each when due: merging the time-keyed
/// indexes and having its steps rank the updated sessions by count (both SQLite), and
/// applying retention.
struct Upkeep {
    clock: Arc<dyn Clock>,
    index_every: Duration,
    index_batch: u64,
    index_due: Instant,
    /// `None` on PostgreSQL, whose index of sessions by count has no ranked count.
    rank_every: Option<Duration>,
    rank_due: Instant,
    /// Whether the steps rank sessions (from when ranking is due until none is left).
    ranking: bool,
    retention_every: Duration,
    retention_due: Instant,
}

impl Upkeep {
    fn new(settings: &ProcessingSettings, clock: Arc<dyn Clock>, backend: DbBackend) -> Self {
        let index_every = Duration::from_millis(settings.sqlite_index_interval_ms.max(1));
        let rank_every = Duration::from_millis(settings.sqlite_rank_interval_ms.max(1));
        Self {
            clock,
            index_every,
            index_batch: settings.sqlite_index_batch_size.max(1),
            index_due: Instant::now() + index_every,
            rank_every: (backend == DbBackend::Sqlite).then_some(rank_every),
            rank_due: Instant::now() + rank_every,
            ranking: false,
            retention_every: Duration::from_millis(settings.retention_interval_ms.max(1)),
            retention_due: Instant::now(),
        }
    }

    /// Once due, writes the time-index entries of every pending event (SQLite), a batch to a
    /// transaction, stopping early at shutdown; then sets the next time.
    async fn index_if_due(&mut self, db: &DatabaseConnection, shutdown: &watch::Receiver<bool>) {
        if Instant::now() < self.index_due {
            return;
        }
        self.index_due = Instant::now() + self.index_every;
        if let Err(err) = index_all_pending(db, self.index_batch, || *shutdown.borrow()).await {
            tracing::warn!(error = %err, "writing index entries failed; will retry");
        }
    }

    /// Whether the next step ranks sessions (SQLite): from each `EYE_SQLITE_RANK_INTERVAL_MS`
    /// on, until a step leaves none unranked ([`Upkeep::after_step`]).
    fn rank_now(&mut self) -> bool {
        if self.rank_every.is_some() && !self.ranking && Instant::now() >= self.rank_due {
            self.ranking = true;
        }
        self.ranking
    }

    /// Takes note of what a step did: once one asked to rank has left none unranked, the next
    /// ranking is due an interval later.
    fn after_step(&mut self, report: &StepReport) {
        if let (true, true, Some(every)) = (self.ranking, report.ranked_all, self.rank_every) {
            self.ranking = false;
            self.rank_due = Instant::now() + every;
        }
    }

    /// After a run of steps: the merge, then retention, each if due.
    async fn run_due(
        &mut self,
        db: &DatabaseConnection,
        settings: &ProcessingSettings,
        shutdown: &watch::Receiver<bool>,
    ) {
        self.index_if_due(db, shutdown).await;
        if Instant::now() >= self.retention_due && !*shutdown.borrow() {
            self.retention_due = Instant::now() + self.retention_every;
            retain(db, settings, self.clock.as_ref()).await;
        }
    }
}

/// One loop of steps. With `upkeep` it is the first loop, which also does that upkeep.
async fn run_loop(
    db: DatabaseConnection,
    settings: ProcessingSettings,
    mut upkeep: Option<Upkeep>,
    mut shutdown: watch::Receiver<bool>,
) {
    let interval = Duration::from_millis(settings.process_interval_ms.max(1));
    let batch_size = settings.process_batch_size.max(1);
    loop {
        if crate::shutdown::sleep_or_stopped(interval, &mut shutdown).await {
            break;
        }
        // Step by step, so that shutdown waits for one step at most. Steps start small and
        // double while they come back full: under a light load each step holds SQLite's one
        // writer briefly, while a backlog is still worked off in steps of `batch_size`.
        let mut step = batch_size.min(FIRST_STEP_EVENTS);
        while !*shutdown.borrow() {
            if let Some(upkeep) = upkeep.as_mut() {
                // Between steps too: a backlog must not keep new events pending.
                upkeep.index_if_due(&db, &shutdown).await;
            }
            let rank = upkeep.as_mut().is_some_and(Upkeep::rank_now);
            match run_step(&db, step, rank).await {
                Ok(report) => {
                    if let Some(upkeep) = upkeep.as_mut() {
                        upkeep.after_step(&report);
                    }
                    if report.events < step {
                        break;
                    }
                    step = (step * 2).min(batch_size);
                }
                Err(err) => {
                    tracing::warn!(error = %err, "background processing failed; will retry");
                    break;
                }
            }
        }
        if let Some(upkeep) = upkeep.as_mut() {
            upkeep.run_due(&db, &settings, &shutdown).await;
        }
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
