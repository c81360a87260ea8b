//! Recording events: validation against the type registry, then one durable write per batch
//! through the group-commit writer. Every event of a batch gets a result, in input order.

pub mod import;
pub mod registry;
pub mod validate;
pub mod writer;

use std::sync::Arc;
use std::time::Instant;

use crate::auth::Caller;
use crate::auth::rate_limit::RateLimits;
use crate::clock::Clock;
use crate::config::{IngestSettings, Limits};
use crate::domain::Reason;
use crate::error::{AppError, AppResult};
use crate::telemetry::meters;
use registry::Registry;
use validate::{RawEvent, Validator};
use writer::{WriteBatch, Writer};

/// What recording events needs, and nothing more: the type registry, the writer, the limits
/// and validation settings, the clock and the keys' event rates. The server builds it once.
#[derive(Clone)]
pub struct Ingest {
    pub(crate) registry: Arc<Registry>,
    pub(crate) writer: Writer,
    pub(crate) limits: Limits,
    pub(crate) settings: IngestSettings,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rate_limits: Arc<RateLimits>,
}

impl Ingest {
    /// The event-type registry events are validated against.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// What happened to one event of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    /// Stored now.
    Accepted,
    /// An event with the same id was stored before; nothing was written.
    Duplicate,
    /// Invalid; recorded as an error.
    Rejected,
}

/// The result of one event.
#[derive(Debug, Clone)]
pub struct EventOutcome {
    /// Position in the batch.
    pub index: usize,
    /// The event's id (client's or derived); `None` when rejected without a client id.
    pub id: Option<String>,
    /// What happened.
    pub status: EventStatus,
    /// Why it was rejected (empty otherwise).
    pub errors: Vec<Reason>,
    /// The error row of a rejected event.
    pub error_id: Option<i64>,
}

/// Validates and stores a batch for `caller`, answering once it is committed. A batch over
/// the size limit or the key's event rate is refused whole, before anything is stored. Each
/// answer moves the ingest metrics; the span names the application and the batch size, never
/// the events' contents.
#[tracing::instrument(name = "record_events", skip_all, fields(application = %caller.application_name, events = inputs.len()))]
pub async fn record_events(
    ingest: &Ingest,
    caller: &Caller,
    inputs: Vec<RawEvent>,
) -> AppResult<Vec<EventOutcome>> {
    let started = Instant::now();
    let result = validate_and_store(ingest, caller, inputs).await;
    match &result {
        Ok(outcomes) => {
            meters::events_answered(&caller.application_name, outcomes);
            meters::record_answered("ok", started.elapsed());
        }
        Err(err) => meters::record_answered(err.code(), started.elapsed()),
    }
    result
}

async fn validate_and_store(
    ingest: &Ingest,
    caller: &Caller,
    inputs: Vec<RawEvent>,
) -> AppResult<Vec<EventOutcome>> {
    let limits = &ingest.limits;
    if inputs.len() > limits.max_events_per_batch {
        return Err(AppError::LimitExceeded(format!(
            "a batch holds at most {} events (EYE_MAX_EVENTS_PER_BATCH); this one has {}",
            limits.max_events_per_batch,
            inputs.len()
        )));
    }
    // Counted before validation: rejected events cost the server as much as accepted ones.
    ingest
        .rate_limits
        .check_events(caller.key_id, inputs.len())?;
    let received_at = crate::domain::timestamp::truncate_to_micros(ingest.clock.now());
    let types = ingest.registry.snapshot();
    let validator = Validator {
        limits,
        settings: &ingest.settings,
        types: &types,
        received_at,
    };
    let mut batch = WriteBatch {
        application_id: caller.application_id,
        received_at,
        events: Vec::with_capacity(inputs.len()),
        rejected: Vec::new(),
    };
    // Which list (and where in it) each input went, to put the answers back in input order.
    let mut slots = Vec::with_capacity(inputs.len());
    for (index, raw) in inputs.into_iter().enumerate() {
        match validator.validate(index, raw) {
            Ok(event) => {
                slots.push(Ok(batch.events.len()));
                batch.events.push(event);
            }
            Err(rejected) => {
                slots.push(Err(batch.rejected.len()));
                batch.rejected.push(*rejected);
            }
        }
    }
    // Kept for the answers; each is moved out exactly once below.
    let mut ids: Vec<String> = batch
        .events
        .iter()
        .map(|e| e.event_id().to_owned())
        .collect();
    let mut rejected: Vec<_> = batch
        .rejected
        .iter()
        .map(|r| (r.event_id.clone(), r.reasons.clone()))
        .collect();
    let outcome = ingest.writer.write(batch).await?;
    let results = slots
        .into_iter()
        .enumerate()
        .map(|(index, slot)| match slot {
            Ok(i) => EventOutcome {
                index,
                id: Some(std::mem::take(&mut ids[i])),
                status: if outcome.inserted[i] {
                    EventStatus::Accepted
                } else {
                    EventStatus::Duplicate
                },
                errors: Vec::new(),
                error_id: None,
            },
            Err(i) => EventOutcome {
                index,
                id: rejected[i].0.take(),
                status: EventStatus::Rejected,
                errors: std::mem::take(&mut rejected[i].1),
                error_id: Some(outcome.error_ids[i]),
            },
        })
        .collect();
    Ok(results)
}
