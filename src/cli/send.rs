//! `the-eye send FILE.ndjson --url URL --key KEY`: streams a file of `EventInput` lines to a
//! running server through the SDK's [`Sender`], as an application would.
//!
//! Lines without an `id` are sent without one, so the server derives it from the event's
//! content: running the command again on the same file stores nothing twice (every event
//! comes back a duplicate). Rejected, unreadable and undelivered lines are written to the
//! rejected file with their line number and reasons; the exit code is non-zero if there are any.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use the_eye_client::record_events::EventInput;
use the_eye_client::{
    Client, DEFAULT_MAX_BATCH_EVENTS, DEFAULT_MAX_IN_FLIGHT, Delivery, DeliveryStatus, ErrorCode,
    Sender, SenderConfig, Stats,
};

/// Arguments of `send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The NDJSON file, one `EventInput` object per line; `-` reads standard input.
    pub file: PathBuf,
    /// The server's base URL, e.g. `https://eye.example.com`.
    #[arg(long, env = "EYE_URL")]
    pub url: String,
    /// An API key with the `ingest` scope.
    #[arg(long, env = "EYE_KEY", hide_env_values = true)]
    pub key: String,
    /// Where rejected and undelivered lines go (default: `FILE.rejected.ndjson`, or
    /// `rejected.ndjson` for standard input). Removed again when there are none.
    #[arg(long)]
    pub rejected: Option<PathBuf>,
    /// Events per request (at most the server's `EYE_MAX_EVENTS_PER_BATCH`).
    #[arg(long, default_value_t = DEFAULT_MAX_BATCH_EVENTS)]
    pub batch: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = DEFAULT_MAX_IN_FLIGHT)]
    pub in_flight: usize,
    /// How long a batch is retried (server down, rate limited) before its events count as
    /// not delivered.
    #[arg(long, default_value_t = 300)]
    pub give_up_after_s: u64,
}

/// Where rejected lines are written, and how to number them.
struct Rejections {
    out: Mutex<BufWriter<File>>,
    written: std::sync::atomic::AtomicU64,
    /// Line numbers (from 0) that were not sent (blank or unreadable), in order: the `seq`-th
    /// event sent is the `seq`-th line not in this list.
    skipped: Mutex<Vec<u64>>,
}

impl Rejections {
    fn line_of(&self, seq: u64) -> u64 {
        let skipped = self.skipped.lock().unwrap_or_else(|e| e.into_inner());
        let mut line = seq;
        for &s in skipped.iter() {
            if s > line {
                break;
            }
            line += 1;
        }
        line + 1
    }

    fn write(&self, entry: Value) {
        self.written.fetch_add(1, Ordering::Relaxed);
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = writeln!(out, "{entry}") {
            tracing::error!(error = %e, "writing the rejected file");
        }
    }
}

/// Runs `send`; an error when any event was rejected, unreadable or not delivered.
pub async fn run(args: SendArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.url, &args.key)?;
    let rejected_path = args
        .rejected
        .clone()
        .unwrap_or_else(|| default_rejected(&args.file));
    let out = File::create(&rejected_path)
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", rejected_path.display()))?;
    let rejections = Arc::new(Rejections {
        out: Mutex::new(BufWriter::new(out)),
        written: Default::default(),
        skipped: Mutex::new(Vec::new()),
    });
    let (source, size) = open(&args.file)?;
    let progress = progress_bar(size);
    let refused = Arc::new(AtomicBool::new(false));
    let config = SenderConfig {
        max_batch_events: args.batch,
        max_in_flight: args.in_flight,
        give_up_after: Duration::from_secs(args.give_up_after_s),
        assign_ids: false,
        ..SenderConfig::default()
    };
    let on_delivery = {
        let (rejections, refused) = (rejections.clone(), refused.clone());
        move |delivery: Delivery| record_problem(&rejections, &refused, delivery)
    };
    let sender = Arc::new(Sender::with_callback(client, config, on_delivery));
    let started = Instant::now();
    let reader = {
        let (sender, rejections, progress) = (sender.clone(), rejections.clone(), progress.clone());
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            read_lines(source, &runtime, &sender, &rejections, &progress, &refused)
        })
    };
    let read = reader.await??;
    let sender = Arc::try_unwrap(sender)
        .map_err(|_| anyhow::anyhow!("the reader still holds the sender"))?;
    let stats = sender.close().await;
    progress.finish_and_clear();
    rejections
        .out
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .flush()?;
    summarize(
        &stats,
        &read,
        started.elapsed(),
        &rejections,
        &rejected_path,
    )
}

/// What the reader counted.
struct Read {
    lines: u64,
    unreadable: u64,
}

fn default_rejected(file: &Path) -> PathBuf {
    if file.as_os_str() == "-" {
        return PathBuf::from("rejected.ndjson");
    }
    let mut name = file.as_os_str().to_owned();
    name.push(".rejected.ndjson");
    PathBuf::from(name)
}

fn open(file: &Path) -> anyhow::Result<(Box<dyn BufRead + Send>, Option<u64>)> {
    if file.as_os_str() == "-" {
        return Ok((Box::new(BufReader::new(std::io::stdin())), None));
    }
    let opened =
        File::open(file).map_err(|e| anyhow::anyhow!("opening {}: {e}", file.display()))?;
    let size = opened.metadata().ok().map(|m| m.len());
    Ok((Box::new(BufReader::with_capacity(1 << 20, opened)), size))
}

/// A bar over the file's bytes on a terminal; nothing otherwise.
fn progress_bar(size: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = size.map_or_else(ProgressBar::no_length, ProgressBar::new);
    let style = ProgressStyle::with_template(
        "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} {elapsed_precise} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// Reads, parses and sends every line; runs on a blocking thread so that parsing does not
/// hold up the sender's tasks.
fn read_lines(
    source: Box<dyn BufRead + Send>,
    runtime: &tokio::runtime::Handle,
    sender: &Sender,
    rejections: &Rejections,
    progress: &ProgressBar,
    refused: &AtomicBool,
) -> anyhow::Result<Read> {
    let mut read = Read {
        lines: 0,
        unreadable: 0,
    };
    for (number, line) in source.lines().enumerate() {
        let line = line?;
        progress.inc(line.len() as u64 + 1);
        if refused.load(Ordering::Relaxed) {
            break;
        }
        let skip = |rejections: &Rejections| {
            let mut skipped = rejections.skipped.lock().unwrap_or_else(|e| e.into_inner());
            skipped.push(number as u64);
        };
        if line.trim().is_empty() {
            skip(rejections);
            continue;
        }
        read.lines += 1;
        match serde_json::from_str::<EventInput>(&line) {
            Ok(event) => {
                runtime.block_on(sender.send(event))?;
            }
            Err(e) => {
                skip(rejections);
                read.unreadable += 1;
                rejections.write(json!({
                    "line": number + 1,
                    "event": line,
                    "reasons": [{ "code": "UNREADABLE", "message": e.to_string() }],
                }));
            }
        }
        if number % 4096 == 0 {
            progress.set_message(progress_message(&sender.stats()));
        }
    }
    Ok(read)
}

fn progress_message(stats: &Stats) -> String {
    format!(
        "{} accepted, {} duplicates, {} rejected, {} not delivered",
        stats.accepted, stats.duplicates, stats.rejected, stats.not_delivered
    )
}

/// Writes a rejected or undelivered event to the rejected file. A key refused outright stops
/// the reading: every further event would be refused the same way.
fn record_problem(rejections: &Rejections, refused: &AtomicBool, delivery: Delivery) {
    let event: Value = serde_json::from_str(&delivery.event).unwrap_or(Value::Null);
    match delivery.status {
        DeliveryStatus::Accepted | DeliveryStatus::Duplicate => {}
        DeliveryStatus::Rejected { reasons, error_id } => rejections.write(json!({
            "line": rejections.line_of(delivery.seq),
            "event": event,
            "errorId": error_id,
            "reasons": reasons,
        })),
        DeliveryStatus::NotDelivered { error } => {
            if matches!(
                error.code(),
                Some(ErrorCode::Unauthenticated | ErrorCode::Forbidden)
            ) {
                refused.store(true, Ordering::Relaxed);
            }
            rejections.write(json!({
                "line": rejections.line_of(delivery.seq),
                "event": event,
                "reasons": [{ "code": "NOT_DELIVERED", "message": error.to_string() }],
            }));
        }
    }
}

fn summarize(
    stats: &Stats,
    read: &Read,
    elapsed: Duration,
    rejections: &Rejections,
    rejected_path: &Path,
) -> anyhow::Result<()> {
    let seconds = elapsed.as_secs_f64().max(1e-9);
    println!(
        "sent {} events from {} lines in {:.2} s ({:.0} events/s): {} accepted, {} duplicates, \
         {} rejected, {} unreadable, {} not delivered",
        stats.sent,
        read.lines,
        seconds,
        stats.sent as f64 / seconds,
        stats.accepted,
        stats.duplicates,
        stats.rejected,
        read.unreadable,
        stats.not_delivered,
    );
    let problems = rejections.written.load(Ordering::Relaxed);
    if problems == 0 {
        let _ = std::fs::remove_file(rejected_path);
        return Ok(());
    }
    println!("{problems} lines written to {}", rejected_path.display());
    anyhow::bail!(
        "{} events rejected, {} lines unreadable, {} events not delivered",
        stats.rejected,
        read.unreadable,
        stats.not_delivered
    )
}
