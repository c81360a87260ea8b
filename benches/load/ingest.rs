//! The ingest load: `recordEvents` batches at an offered rate (open loop) or as fast as a fixed
//! number of clients can send (closed loop), then how long until everything acknowledged is
//! counted and processed, and whether the service stored exactly what it acknowledged.
//!
//! Open loop: request `i` is due at `start + i × batch / rate`, whatever happened to earlier
//! requests, and its latency is measured from that due time. A server that stalls therefore
//! shows the stall in the latency of every request due during it (no coordinated omission);
//! `--concurrency` caps the requests in flight, and time spent waiting for that cap counts too.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::{DateTime, Utc};
use clap::Args;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use tokio::sync::{Semaphore, watch};

use the_eye_client::operations::event_counts;
use the_eye_client::record_events::RecordEventsRecordEvents;

use crate::baseline::{self, BaselineArgs};
use crate::client::{Gql, code};
use crate::cost::device_written;
use crate::events::{Clock, EventGen, Mix, Sent};
use crate::pg_waits;
use crate::stats::Latencies;
use crate::subscribers::{Pace, Subscribers};
use crate::target::{Target, TargetArgs};

/// Options of an ingest run.
#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Offered load in events per second; 0 sends as fast as `--concurrency` clients can.
    #[arg(long, default_value_t = 1_000.0)]
    pub rate: f64,
    /// Events per `recordEvents` call.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Most requests in flight at once (the number of clients in closed loop).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Share of invalid events (schema violations, future and malformed timestamps).
    #[arg(long, default_value_t = 0.01)]
    pub invalid_share: f64,
    /// Share of retried duplicates (an earlier event sent again with its id).
    #[arg(long, default_value_t = 0.01)]
    pub duplicate_share: f64,
    /// Distinct sessions the events are spread over (with `--session-events`, the sessions in
    /// progress at once).
    #[arg(long, default_value_t = 10_000)]
    pub sessions: u64,
    /// 0: every event goes to a session drawn at random from `--sessions`, all active for the
    /// whole run. N: sessions start and end as in real traffic, each sending 1 to 2N events
    /// before a new one takes its place, so new sessions keep arriving and the recent ones
    /// receive the events.
    #[arg(long, default_value_t = 0)]
    pub session_events: u64,
    /// Event ids drawn at random, shaped like UUIDs, as many clients make them (default: ids
    /// that count up, which land at the end of the duplicate index).
    #[arg(long)]
    pub random_ids: bool,
    /// Fail unless every answer was a success and events stored = events accepted.
    #[arg(long)]
    pub check: bool,
    /// Rows of the raw no-secondary-index baseline run after the load on a spawned SQLite
    /// server, to report the service's rate as a ratio of it (0 skips it).
    #[arg(long, default_value_t = 100_000)]
    pub raw_rows: usize,
    /// Live-stream subscribers to every `eventRecorded` during the load.
    #[arg(long, default_value_t = 0)]
    pub subscribers: usize,
    /// Whether those subscribers read what they are sent or stall.
    #[arg(long, value_enum, default_value_t = Pace::Stalled)]
    pub subscriber_pace: Pace,
}

/// What the requests saw.
#[derive(Default)]
struct Tally {
    latencies: Latencies,
    requests: u64,
    acked: u64,
    accepted: u64,
    duplicates: u64,
    rejected: u64,
    errors: BTreeMap<String, u64>,
    last_answer: Option<Instant>,
}

impl Tally {
    fn record(
        &mut self,
        due: Instant,
        answer: Result<RecordEventsRecordEvents, String>,
        events: u64,
    ) {
        let now = Instant::now();
        self.latencies.record(now - due);
        self.requests += 1;
        self.last_answer = Some(now);
        match answer {
            Ok(r) => {
                let n = |count: i64| u64::try_from(count).unwrap_or(0);
                self.acked += events;
                self.accepted += n(r.accepted);
                self.duplicates += n(r.duplicates);
                self.rejected += n(r.rejected);
            }
            Err(code) => *self.errors.entry(code).or_default() += 1,
        }
    }
}

/// What the watcher saw of the background job while the load ran.
#[derive(Default, Clone, Copy)]
struct Watch {
    max_lag: Option<Duration>,
    max_rss_kib: u64,
}

/// Runs the load and prints the report.
pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    let target = Target::start(&args.target).await?;
    let gql = Gql::new(&target.url, &target.key, args.concurrency);
    let db = match &target.database_url {
        Some(url) => Some(watch_connection(url).await?),
        None => None,
    };
    let stored_before = stored_events(&gql).await?;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let mix = Mix {
        sessions: args.sessions,
        invalid: args.invalid_share,
        duplicates: args.duplicate_share,
        clock: Clock::Live {
            session_events: args.session_events,
        },
        random_ids: args.random_ids,
    };
    let generator = Arc::new(Mutex::new(EventGen::new(mix, &run_id, 42)));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let (stop, stopped) = watch::channel(false);
    let watcher = tokio::spawn(watch_job(db.clone(), target.pid(), stopped.clone()));
    // PostgreSQL's backends are sampled on a connection of their own, so that the job watcher's
    // statements do not delay the samples.
    let waits = match (&target.database_url, &db) {
        (Some(url), Some(db)) if db.get_database_backend() == sea_orm::DbBackend::Postgres => {
            let sampler = watch_connection(url).await?;
            Some(tokio::spawn(pg_waits::sample(sampler, stopped)))
        }
        _ => None,
    };
    let subscribers = if args.subscribers > 0 {
        Some(
            Subscribers::start(
                &target.url,
                &target.key,
                args.subscribers,
                args.subscriber_pace,
            )
            .await?,
        )
    } else {
        None
    };
    let storage = storage_dir(&target, db.as_ref()).await;
    let device_before = storage.as_deref().and_then(device_written);
    let usage_before = target.usage();
    let wal_before = match &db {
        Some(db) => wal_bytes(db).await,
        None => None,
    };

    let started = Instant::now();
    let duration = Duration::from_secs_f64(args.duration);
    if args.rate > 0.0 {
        open_loop(&args, started + duration, &gql, &generator, &tally).await;
    } else {
        closed_loop(&args, started + duration, &gql, &generator, &tally).await;
    }
    let _ = stop.send(true);
    let watched = watcher.await?;
    let waits = match waits {
        Some(sampler) => Some(sampler.await?),
        None => None,
    };
    let tally = std::mem::take(&mut *tally.lock().unwrap());
    let sent = generator.lock().unwrap().sent;
    let last = tally.last_answer.unwrap_or(started);

    let elapsed = (last - started).as_secs_f64().max(1e-9);
    println!("== ingest: {}", describe(&args));
    println!(
        "acknowledged {} events in {} requests over {elapsed:.2} s: {:.0} events/s \
         ({} accepted, {} duplicates, {} rejected)",
        tally.acked,
        tally.requests,
        tally.acked as f64 / elapsed,
        tally.accepted,
        tally.duplicates,
        tally.rejected
    );
    println!("ack latency: {}", tally.latencies.summary());
    println!("errors by code: {:?}", tally.errors);

    let memory = target.memory_kib();
    let expected = stored_before + tally.accepted;
    let visible = wait_for(|| async { Ok(stored_events(&gql).await? >= expected) }).await?;
    let processed = match &db {
        Some(db) => Some(wait_for(|| async { Ok(oldest_unprocessed(db).await?.is_none()) }).await?),
        None => None,
    };
    // Read when the backlog is empty: the background job's work for these events is included.
    let usage = target
        .usage()
        .zip(usage_before)
        .map(|(after, before)| after.since(&before));
    let device = storage
        .as_deref()
        .and_then(device_written)
        .zip(device_before)
        .map(|(after, before)| after.saturating_sub(before));
    let wal = match &db {
        Some(db) => wal_bytes(db)
            .await
            .zip(wal_before)
            .map(|(a, b)| a.saturating_sub(b)),
        None => None,
    };
    let stored = stored_events(&gql).await? - stored_before;
    if let Some(subscribers) = subscribers {
        let seen = subscribers.finish().await;
        let events: Vec<u64> = seen.iter().map(|s| s.events).collect();
        println!(
            "{} {:?} subscribers: {} ended with LAGGED; events received min {} max {}",
            seen.len(),
            args.subscriber_pace,
            seen.iter().filter(|s| s.lagged).count(),
            events.iter().min().unwrap_or(&0),
            events.iter().max().unwrap_or(&0)
        );
    }
    println!(
        "counted by eventCounts {:.0} ms after the last answer; job backlog empty after {}; \
         max processing lag during the load {}",
        visible.saturating_duration_since(last).as_secs_f64() * 1000.0,
        processed.map_or("n/a".into(), |t| format!(
            "{:.0} ms",
            t.saturating_duration_since(last).as_secs_f64() * 1000.0
        )),
        watched.max_lag.map_or("n/a".into(), |l| format!(
            "{:.0} ms",
            l.as_secs_f64() * 1000.0
        )),
    );
    match memory {
        Some((peak, _)) => println!(
            "server peak RSS {:.1} MiB (sampled max {:.1} MiB)",
            peak as f64 / 1024.0,
            watched.max_rss_kib as f64 / 1024.0
        ),
        None => println!("server memory: n/a (external server)"),
    }
    match usage {
        Some(usage) => println!(
            "server cost: {}",
            usage.per(tally.acked, "acknowledged event")
        ),
        None => println!("server cost: n/a (external server)"),
    }
    if let Some(device) = device {
        println!(
            "storage: {:.0} bytes per acknowledged event reached the database's disk ({:.1} MB, \
             the device's own count after sync, every writer on it included)",
            device as f64 / tally.acked.max(1) as f64,
            device as f64 / 1e6
        );
    }
    if let Some(wal) = wal {
        println!(
            "PostgreSQL WAL (pg_stat_wal, whole cluster): {:.0} bytes per acknowledged event \
             ({:.1} MB)",
            wal as f64 / tally.acked.max(1) as f64,
            wal as f64 / 1e6
        );
    }
    if let Some(waits) = waits {
        println!(
            "PostgreSQL backends of this database during the load, on average: {}",
            waits.summary()
        );
    }
    println!(
        "sent {} new valid, {} invalid, {} repeated; stored {stored} (accepted {})",
        sent.unique_valid, sent.invalid, sent.duplicates, tally.accepted
    );
    let spawned_sqlite = target.pid().is_some()
        && target
            .database_url
            .as_deref()
            .is_some_and(|u| u.starts_with("sqlite:"));
    drop(target);
    if spawned_sqlite && args.raw_rows > 0 {
        let raw =
            baseline::rate(&BaselineArgs::without_indexes(args.raw_rows, args.sessions)).await?;
        println!(
            "raw SQLite, no secondary index, {} rows in transactions of 10,000: {raw:.0} rows/s; \
             the service's acknowledged rate is {:.2}x of it",
            args.raw_rows,
            tally.acked as f64 / elapsed / raw
        );
    }
    if args.check {
        check(&tally, sent, stored)?;
        println!("check passed: events stored = events accepted = new valid events sent");
    }
    Ok(())
}

/// A directory on the block device that holds the database: the SQLite file's own, or
/// PostgreSQL's data directory when the server runs on this machine (asked of the server; as
/// root, its owner's permissions do not stop `sync -f`). `None` when neither is at hand.
async fn storage_dir(target: &Target, db: Option<&DatabaseConnection>) -> Option<PathBuf> {
    if let Some(file) = target.sqlite_path() {
        // A bare file name (`sqlite://bench.db`) lives in the working directory.
        let dir = match file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        return dir.exists().then_some(dir);
    }
    let sql = "SELECT current_setting('data_directory') AS v";
    let dir = PathBuf::from(postgres_value::<String>(db?, sql).await?);
    dir.exists().then_some(dir)
}

/// WAL bytes the PostgreSQL cluster has generated since its statistics were reset (`None` on
/// SQLite or before PostgreSQL 14).
async fn wal_bytes(db: &DatabaseConnection) -> Option<u64> {
    let sql = "SELECT wal_bytes::bigint AS v FROM pg_stat_wal";
    postgres_value::<i64>(db, sql).await.map(|b| b as u64)
}

/// Column `v` of the one row `sql` returns, on PostgreSQL only (`None` on SQLite, or when the
/// statement fails).
async fn postgres_value<T: sea_orm::TryGetable>(db: &DatabaseConnection, sql: &str) -> Option<T> {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return None;
    }
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .ok()??;
    row.try_get::<T>("", "v").ok()
}

fn describe(args: &IngestArgs) -> String {
    let rate = if args.rate > 0.0 {
        format!("open loop at {} events/s", args.rate)
    } else {
        "closed loop".into()
    };
    let subscribers = match args.subscribers {
        0 => String::new(),
        n => format!(", {n} {:?} subscribers", args.subscriber_pace),
    };
    let ids = if args.random_ids { ", random ids" } else { "" };
    let sessions = match args.session_events {
        0 => format!("{} sessions", args.sessions),
        n => format!(
            "{} sessions in progress, each of 1 to {} events",
            args.sessions,
            2 * n
        ),
    };
    format!(
        "{rate}, batches of {}, concurrency {}, {} s, {}% invalid, {}% repeated, {sessions}{ids}{subscribers}",
        args.batch,
        args.concurrency,
        args.duration,
        args.invalid_share * 100.0,
        args.duplicate_share * 100.0,
    )
}

fn check(tally: &Tally, sent: Sent, stored: u64) -> anyhow::Result<()> {
    if !tally.errors.is_empty() {
        bail!("requests failed: {:?}", tally.errors);
    }
    if stored != tally.accepted || tally.accepted != sent.unique_valid {
        bail!(
            "stored {stored}, accepted {}, new valid events sent {}",
            tally.accepted,
            sent.unique_valid
        );
    }
    if tally.duplicates != sent.duplicates || tally.rejected != sent.invalid {
        bail!(
            "duplicates {} (sent {}), rejected {} (sent {})",
            tally.duplicates,
            sent.duplicates,
            tally.rejected,
            sent.invalid
        );
    }
    Ok(())
}

async fn open_loop(
    args: &IngestArgs,
    end: Instant,
    gql: &Gql,
    generator: &Arc<Mutex<EventGen>>,
    tally: &Arc<Mutex<Tally>>,
) {
    let interval = Duration::from_secs_f64(args.batch as f64 / args.rate);
    let slots = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let start = Instant::now();
    let mut requests = Vec::new();
    for i in 0.. {
        let due = start + interval * i;
        if due >= end {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let (gql, generator, tally, slots) =
            (gql.clone(), generator.clone(), tally.clone(), slots.clone());
        let batch = args.batch;
        requests.push(tokio::spawn(async move {
            let _slot = slots.acquire().await;
            let events = generator.lock().unwrap().batch(batch);
            let answer = gql.record(&events).await;
            tally.lock().unwrap().record(due, answer, batch as u64);
        }));
    }
    for request in requests {
        let _ = request.await;
    }
}

async fn closed_loop(
    args: &IngestArgs,
    end: Instant,
    gql: &Gql,
    generator: &Arc<Mutex<EventGen>>,
    tally: &Arc<Mutex<Tally>>,
) {
    let clients: Vec<_> = (0..args.concurrency.max(1))
        .map(|_| {
            let (gql, generator, tally) = (gql.clone(), generator.clone(), tally.clone());
            let batch = args.batch;
            tokio::spawn(async move {
                while Instant::now() < end {
                    let due = Instant::now();
                    let events = generator.lock().unwrap().batch(batch);
                    let answer = gql.record(&events).await;
                    tally.lock().unwrap().record(due, answer, batch as u64);
                }
            })
        })
        .collect();
    for client in clients {
        let _ = client.await;
    }
}

/// Every stored event, by summing `eventCounts` over categories (all pages).
async fn stored_events(gql: &Gql) -> anyhow::Result<u64> {
    let mut total = 0;
    let mut after = None;
    loop {
        let page = gql
            .sdk()
            .event_counts(event_counts::Variables {
                group_by: event_counts::CountDimension::CATEGORY,
                filter: None,
                first: Some(1000),
                after,
            })
            .await
            .map_err(|e| anyhow::anyhow!("eventCounts failed: {}", code(&e)))?;
        total += page
            .edges
            .iter()
            .map(|e| u64::try_from(e.node.count).unwrap_or(0))
            .sum::<u64>();
        if !page.page_info.has_next_page {
            return Ok(total);
        }
        after = page.page_info.end_cursor;
    }
}

/// Polls `done` every 20 ms (for at most two minutes) and returns when it held.
async fn wait_for<F, Fut>(mut done: F) -> anyhow::Result<Instant>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if done().await? {
            return Ok(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("gave up waiting after two minutes")
}

async fn watch_connection(url: &str) -> anyhow::Result<DatabaseConnection> {
    let settings = the_eye::config::DatabaseSettings {
        database_url: url.to_string(),
        db_max_connections: 1,
        ..Default::default()
    };
    the_eye::db::connect(&settings).await
}

/// When the oldest event the job has not processed yet was received.
async fn oldest_unprocessed(db: &DatabaseConnection) -> anyhow::Result<Option<DateTime<Utc>>> {
    let sql = "SELECT e.received_at FROM event_queue q JOIN events e ON e.seq = q.seq \
               ORDER BY q.seq LIMIT 1";
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    Ok(row
        .map(|r| r.try_get::<DateTime<Utc>>("", "received_at"))
        .transpose()?)
}

/// Samples the job's lag (age of the oldest unprocessed event) and the server's memory every
/// 100 ms until `stopped`.
async fn watch_job(
    db: Option<DatabaseConnection>,
    pid: Option<u32>,
    mut stopped: watch::Receiver<bool>,
) -> Watch {
    let mut seen = Watch::default();
    loop {
        if let Some(db) = &db
            && let Ok(oldest) = oldest_unprocessed(db).await
        {
            let lag = oldest.map_or(Duration::ZERO, |at| {
                (Utc::now() - at).to_std().unwrap_or_default()
            });
            seen.max_lag = Some(seen.max_lag.unwrap_or_default().max(lag));
        }
        if let Some(rss) = pid.and_then(rss_kib) {
            seen.max_rss_kib = seen.max_rss_kib.max(rss);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = stopped.changed() => return seen,
        }
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
