//! [`Sender`]: send events one at a time; they reach the server in batches, with retries.
//!
//! - `send` gives an event without an id a UUIDv7 *before* buffering it, so every retry of
//!   that event carries the same id and the server stores it at most once (the id is its
//!   idempotency key). It then encodes the event once; retries reuse the bytes.
//! - A batch leaves when it holds [`SenderConfig::max_batch_events`] events (or
//!   [`SenderConfig::max_batch_bytes`]), or [`SenderConfig::linger`] after its first event.
//! - At most [`SenderConfig::max_in_flight`] requests are in flight.
//! - At most [`SenderConfig::buffer_events`] events are held, from `send` until their result
//!   is known: that bounds memory whatever the server does. When full, `send().await` waits
//!   and `try_send` fails.
//! - Retries (see [`Error::is_retryable`](crate::Error::is_retryable)) wait with exponential
//!   backoff and jitter, or as long as the server asked; a batch refused whole with
//!   `LIMIT_EXCEEDED` is split in halves until the parts pass (a single event still refused
//!   is reported as not delivered).
//! - Every event gets exactly one [`Delivery`], given to the callback: accepted, duplicate,
//!   rejected with its reasons, or not delivered with the error.
//! - `flush().await` and `close().await` return once everything sent before them has its
//!   result. Dropping a `Sender` without `close` abandons what is still buffered and logs how
//!   many events that was.

mod batcher;
mod deliver;
mod outcome;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use self::batcher::{Command, Pending};
pub use self::outcome::{Delivery, DeliveryStatus, Reason, code_name};
use crate::backoff::Backoff;
use crate::client::Client;
use crate::operations::record_events::EventInput;

/// Default [`SenderConfig::max_batch_events`]: half the server's default limit of 1000 per
/// `recordEvents` (`EYE_MAX_EVENTS_PER_BATCH`), so a server with a lower limit still fits.
pub const DEFAULT_MAX_BATCH_EVENTS: usize = 500;
/// Default [`SenderConfig::max_batch_bytes`]: 3/4 of the server's default body limit of 1 MiB
/// (`EYE_MAX_BODY_BYTES`), leaving room for the query text.
pub const DEFAULT_MAX_BATCH_BYTES: usize = 768 * 1024;
/// Default [`SenderConfig::linger`].
pub const DEFAULT_LINGER: Duration = Duration::from_millis(100);
/// Default [`SenderConfig::max_in_flight`].
pub const DEFAULT_MAX_IN_FLIGHT: usize = 4;
/// Default [`SenderConfig::buffer_events`].
pub const DEFAULT_BUFFER_EVENTS: usize = 10_000;
/// Default [`SenderConfig::give_up_after`].
pub const DEFAULT_GIVE_UP_AFTER: Duration = Duration::from_secs(300);

/// How a [`Sender`] batches, bounds and retries.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// Most events per request (N); must not exceed the server's `EYE_MAX_EVENTS_PER_BATCH`.
    pub max_batch_events: usize,
    /// Most encoded event bytes per request; must stay under the server's `EYE_MAX_BODY_BYTES`.
    pub max_batch_bytes: usize,
    /// How long a batch waits for more events after its first one (T).
    pub linger: Duration,
    /// Most requests in flight at once.
    pub max_in_flight: usize,
    /// Most events held (buffered or in flight) before `send` waits.
    pub buffer_events: usize,
    /// Waits between retries.
    pub backoff: Backoff,
    /// How long a batch is retried before its events are reported as not delivered.
    pub give_up_after: Duration,
    /// Give events without an id a UUIDv7 (the default). Without it such events are sent
    /// without an id and the server derives one from their content, which is stable across
    /// runs (what `the-eye send` needs to be re-runnable) but makes identical events one.
    pub assign_ids: bool,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            max_batch_events: DEFAULT_MAX_BATCH_EVENTS,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            linger: DEFAULT_LINGER,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            buffer_events: DEFAULT_BUFFER_EVENTS,
            backoff: Backoff::default(),
            give_up_after: DEFAULT_GIVE_UP_AFTER,
            assign_ids: true,
        }
    }
}

/// Why `send` did not take an event.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The sender is closed or its task ended.
    #[error("the sender is closed")]
    Closed,
    /// The event cannot be encoded as JSON.
    #[error("the event cannot be encoded: {0}")]
    Encode(#[source] serde_json::Error),
}

/// Why `try_send` did not take an event.
#[derive(Debug, thiserror::Error)]
pub enum TrySendError {
    /// The buffer is full; the event is given back.
    #[error("the sender's buffer is full")]
    Full(Box<EventInput>),
    /// As for `send`.
    #[error(transparent)]
    Send(#[from] SendError),
}

/// Counts since the sender started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events taken by `send`/`try_send`.
    pub sent: u64,
    /// Stored by the server.
    pub accepted: u64,
    /// Already stored before (same id).
    pub duplicates: u64,
    /// Refused by validation.
    pub rejected: u64,
    /// Given up on: not known to be stored.
    pub not_delivered: u64,
    /// Events held now: buffered or in flight.
    pub held: u64,
    /// Requests made, retries included.
    pub requests: u64,
    /// Requests that were retried.
    pub retries: u64,
}

/// A callback receiving each event's [`Delivery`]. Called from the sender's tasks: keep it
/// short (hand the result to a channel for slow work).
pub type OnDelivery = Arc<dyn Fn(Delivery) + Send + Sync>;

/// State shared by the handle, the batcher and the delivery tasks.
pub(crate) struct Shared {
    pub client: Client,
    pub config: SenderConfig,
    pub on_delivery: OnDelivery,
    /// One permit per event that may still be held.
    pub room: Semaphore,
    pub counters: Counters,
}

/// Live counts behind [`Stats`].
#[derive(Default)]
pub(crate) struct Counters {
    pub sent: AtomicU64,
    pub accepted: AtomicU64,
    pub duplicates: AtomicU64,
    pub rejected: AtomicU64,
    pub not_delivered: AtomicU64,
    pub requests: AtomicU64,
    pub retries: AtomicU64,
}

/// Sends events in batches with retries; see the module documentation.
pub struct Sender {
    shared: Arc<Shared>,
    commands: Option<mpsc::UnboundedSender<Command>>,
    batcher: Option<JoinHandle<()>>,
}

impl Sender {
    /// Starts a sender whose deliveries are logged (rejected and not-delivered events, at
    /// `warn`). Must be called inside a tokio runtime.
    pub fn new(client: Client, config: SenderConfig) -> Self {
        Self::with_callback(client, config, log_problems)
    }

    /// Starts a sender that hands every event's [`Delivery`] to `on_delivery`.
    pub fn with_callback(
        client: Client,
        mut config: SenderConfig,
        on_delivery: impl Fn(Delivery) + Send + Sync + 'static,
    ) -> Self {
        config.max_batch_events = config.max_batch_events.max(1);
        config.max_in_flight = config.max_in_flight.max(1);
        config.buffer_events = config.buffer_events.clamp(1, Semaphore::MAX_PERMITS);
        let shared = Arc::new(Shared {
            client,
            room: Semaphore::new(config.buffer_events),
            config,
            on_delivery: Arc::new(on_delivery),
            counters: Counters::default(),
        });
        let (commands, receiver) = mpsc::unbounded_channel();
        let batcher = tokio::spawn(batcher::run(receiver, shared.clone()));
        Self {
            shared,
            commands: Some(commands),
            batcher: Some(batcher),
        }
    }

    /// Takes an event, waiting while the buffer is full. Returns its sequence number (0 for
    /// the first event sent), which its [`Delivery`] carries.
    pub async fn send(&self, event: EventInput) -> Result<u64, SendError> {
        let permit = self
            .shared
            .room
            .acquire()
            .await
            .map_err(|_| SendError::Closed)?;
        permit.forget();
        self.enqueue(event)
    }

    /// Takes an event if there is room now; otherwise gives it back.
    pub fn try_send(&self, event: EventInput) -> Result<u64, TrySendError> {
        match self.shared.room.try_acquire() {
            Ok(permit) => permit.forget(),
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                return Err(TrySendError::Full(Box::new(event)));
            }
            Err(tokio::sync::TryAcquireError::Closed) => return Err(SendError::Closed.into()),
        }
        Ok(self.enqueue(event)?)
    }

    /// Encodes a taken event (its room already reserved) and hands it to the batcher.
    fn enqueue(&self, mut event: EventInput) -> Result<u64, SendError> {
        if self.shared.config.assign_ids && event.id.is_none() {
            event.id = Some(uuid::Uuid::now_v7().to_string());
        }
        let encoded = match serde_json::to_string(&event) {
            Ok(encoded) => encoded,
            Err(e) => {
                self.shared.room.add_permits(1);
                return Err(SendError::Encode(e));
            }
        };
        let seq = self.shared.counters.sent.fetch_add(1, Ordering::Relaxed);
        let pending = Pending {
            seq,
            id: event.id,
            encoded,
        };
        let sent = self
            .commands
            .as_ref()
            .is_some_and(|c| c.send(Command::Event(pending)).is_ok());
        if !sent {
            self.shared.room.add_permits(1);
            return Err(SendError::Closed);
        }
        Ok(seq)
    }

    /// Sends what is buffered now and returns once every event sent before this call has its
    /// result.
    pub async fn flush(&self) -> Result<Stats, SendError> {
        let (done, flushed) = oneshot::channel();
        let commands = self.commands.as_ref().ok_or(SendError::Closed)?;
        commands
            .send(Command::Flush(done))
            .map_err(|_| SendError::Closed)?;
        flushed.await.map_err(|_| SendError::Closed)?;
        Ok(self.stats())
    }

    /// Delivers everything buffered, then stops. Returns the final counts.
    pub async fn close(mut self) -> Stats {
        self.commands = None;
        if let Some(batcher) = self.batcher.take() {
            let _ = batcher.await;
        }
        self.shared.room.close();
        self.stats()
    }

    /// The counts so far.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        let free = self.shared.room.available_permits() as u64;
        Stats {
            sent: load(&c.sent),
            accepted: load(&c.accepted),
            duplicates: load(&c.duplicates),
            rejected: load(&c.rejected),
            not_delivered: load(&c.not_delivered),
            held: (self.shared.config.buffer_events as u64).saturating_sub(free),
            requests: load(&c.requests),
            retries: load(&c.retries),
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let Some(batcher) = self.batcher.take() else {
            return;
        };
        // Aborting the batcher drops its in-flight requests too: what they carried may or may
        // not have been stored, and nobody is left to learn which.
        batcher.abort();
        let lost = self.stats().held;
        if lost > 0 {
            tracing::error!(
                lost,
                "the-eye-client Sender dropped without close(): {lost} events buffered or in \
                 flight were abandoned and may not have been stored"
            );
        }
    }
}

/// The default callback: rejected and undelivered events are logged, the rest is counted.
fn log_problems(delivery: Delivery) {
    match &delivery.status {
        DeliveryStatus::Rejected { reasons, .. } => {
            let codes: Vec<String> = reasons.iter().map(|r| code_name(&r.code)).collect();
            tracing::warn!(seq = delivery.seq, id = ?delivery.id, ?codes, "event rejected");
        }
        DeliveryStatus::NotDelivered { error } => {
            tracing::warn!(seq = delivery.seq, id = ?delivery.id, error = %error, "event not delivered");
        }
        DeliveryStatus::Accepted | DeliveryStatus::Duplicate => {}
    }
}
