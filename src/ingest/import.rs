//! `the-eye import`: loading events from NDJSON, one event per line in the JSON shape of
//! `EventInput` (`id`, `sessionId`, `category`, `name`, `data`, `timestamp`), as `the-eye export`
//! writes it.
//!
//! Each line is validated by the same [`Validator`] as a `recordEvents` event and stored by the
//! writer's own [`commit_group`], so an imported event is indistinguishable from one sent over the
//! API: rejected lines become `eventErrors` entries, and ids already stored are duplicates.
//! Events are written in large transactions (`EYE_MAX_COMMIT_EVENTS` each) while the next chunk
//! is parsed and validated on another thread. A line that is not an event object at all (bad
//! JSON, a missing or unknown field) cannot be stored as an error, since it has no session or
//! type; it is counted as unreadable and reported by line number.

use std::io::BufRead;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use tokio::sync::mpsc;

use super::registry::TypeMap;
use super::validate::{RawEvent, Validator};
use super::writer::{WriteBatch, commit_group};
use crate::clock::Clock;
use crate::config::{IngestSettings, Limits};
use crate::domain::timestamp::truncate_to_micros;
use crate::error::{AppError, AppResult};

/// How many unreadable lines are reported individually.
const REPORTED_UNREADABLE: usize = 10;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Non-blank lines read.
    pub lines: u64,
    /// Events stored.
    pub accepted: u64,
    /// Events whose id was already stored (or repeated earlier in the file).
    pub duplicates: u64,
    /// Events that failed validation, stored as errors.
    pub rejected: u64,
    /// Lines that are not an event object; nothing was stored for them.
    pub unreadable: u64,
    /// The first unreadable lines: line number (from 1) and why.
    pub unreadable_lines: Vec<(u64, String)>,
}

/// Everything an import needs besides the database and the input.
pub struct ImportContext {
    /// The application the events are recorded for.
    pub application_id: i32,
    /// The registered event types.
    pub types: Arc<TypeMap>,
    /// Limits on fields and payloads.
    pub limits: Limits,
    /// Unknown-type policy, timestamp skew and events per transaction.
    pub ingest: IngestSettings,
    /// Where the time of receipt comes from.
    pub clock: Arc<dyn Clock>,
}

/// One line, in the shape of the GraphQL `EventInput`. The metadata that `the-eye export` adds
/// (`application`, `receivedAt`, `cursor`) is accepted and ignored, so an export loads back
/// as it is; any other field makes the line unreadable.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Line {
    id: Option<String>,
    session_id: String,
    category: String,
    name: String,
    data: Value,
    timestamp: Value,
    #[serde(default, rename = "application")]
    _application: IgnoredAny,
    #[serde(default, rename = "receivedAt")]
    _received_at: IgnoredAny,
    #[serde(default, rename = "cursor")]
    _cursor: IgnoredAny,
}

/// Imports every line of `source`.
pub async fn import_ndjson(
    db: &sea_orm::DatabaseConnection,
    source: impl BufRead + Send + 'static,
    context: ImportContext,
) -> AppResult<ImportReport> {
    // Two chunks in flight: one being written while the next is validated.
    let (chunks, mut ready) = mpsc::channel::<WriteBatch>(2);
    let reader = tokio::task::spawn_blocking(move || read_chunks(source, &context, &chunks));
    let mut report = ImportReport::default();
    while let Some(batch) = ready.recv().await {
        let outcome = commit_group(db, &[&batch])
            .await?
            .outcomes
            .pop()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a stored chunk had no outcome")))?;
        let accepted = outcome.inserted.iter().filter(|new| **new).count() as u64;
        report.accepted += accepted;
        report.duplicates += outcome.inserted.len() as u64 - accepted;
        report.rejected += batch.rejected.len() as u64;
    }
    // Leave nothing pending: on SQLite each chunk's time-index entries are written by the
    // job's merge (see `crate::db::pending`), which a database imported offline would only get
    // from the next server or `the-eye process`.
    crate::processing::job::index_all_pending(
        db,
        crate::config::ProcessingSettings::DEFAULT.sqlite_index_batch_size,
        || false,
    )
    .await?;
    let read = reader
        .await
        .map_err(|e| AppError::internal("reading the import", anyhow::anyhow!(e)))?
        .map_err(|e| AppError::BadInput(format!("reading the input failed: {e}")))?;
    report.lines = read.lines;
    report.unreadable = read.unreadable;
    report.unreadable_lines = read.unreadable_lines;
    Ok(report)
}

/// What the reading side counted.
#[derive(Default)]
struct ReadCounts {
    lines: u64,
    unreadable: u64,
    unreadable_lines: Vec<(u64, String)>,
}

/// Parses and validates `source` into chunks of at most `max_commit_events` events, handing
/// each to `chunks`. Runs on a blocking thread.
fn read_chunks(
    source: impl BufRead,
    context: &ImportContext,
    chunks: &mpsc::Sender<WriteBatch>,
) -> std::io::Result<ReadCounts> {
    let chunk_events = context.ingest.max_commit_events.max(1);
    let mut counts = ReadCounts::default();
    let mut batch = new_batch(context);
    for (number, line) in source.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        counts.lines += 1;
        let parsed: Line = match serde_json::from_str(&line) {
            Ok(parsed) => parsed,
            Err(e) => {
                counts.unreadable += 1;
                if counts.unreadable_lines.len() < REPORTED_UNREADABLE {
                    counts
                        .unreadable_lines
                        .push((number as u64 + 1, e.to_string()));
                }
                continue;
            }
        };
        let validator = Validator {
            limits: &context.limits,
            settings: &context.ingest,
            types: &context.types,
            received_at: batch.received_at,
        };
        // A rejected line's `batchIndex` is its line number (from 0): the file is the batch.
        match validator.validate(number, parsed.into_raw()) {
            Ok(event) => batch.events.push(event),
            Err(rejected) => batch.rejected.push(*rejected),
        }
        if batch.events.len() + batch.rejected.len() >= chunk_events {
            let full = std::mem::replace(&mut batch, new_batch(context));
            if chunks.blocking_send(full).is_err() {
                // The writing side failed; its error is the one reported.
                return Ok(counts);
            }
        }
    }
    if !batch.events.is_empty() || !batch.rejected.is_empty() {
        let _ = chunks.blocking_send(batch);
    }
    Ok(counts)
}

fn new_batch(context: &ImportContext) -> WriteBatch {
    WriteBatch {
        application_id: context.application_id,
        received_at: truncate_to_micros(context.clock.now()),
        events: Vec::new(),
        rejected: Vec::new(),
    }
}

impl Line {
    fn into_raw(self) -> RawEvent {
        RawEvent {
            id: self.id,
            session_id: self.session_id,
            category: self.category,
            name: self.name,
            data: self.data,
            timestamp: self.timestamp,
        }
    }
}
