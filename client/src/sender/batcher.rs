//! The batcher: one task that gathers events into batches and starts a delivery task for each,
//! at most `max_in_flight` at once. A batch leaves when full (events or bytes), when its linger
//! time is up, on `flush`, and when the sender closes.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};

use super::Shared;
use super::deliver::deliver;

/// An event taken by `send`: encoded once, with its id fixed for every retry.
pub(crate) struct Pending {
    pub seq: u64,
    pub id: Option<String>,
    pub encoded: String,
}

/// What the handle tells the batcher.
pub(crate) enum Command {
    Event(Pending),
    /// Send what is buffered; answer once every earlier event has its result.
    Flush(oneshot::Sender<()>),
}

/// The batch being filled.
struct Filling {
    events: Vec<Pending>,
    bytes: usize,
    /// When it must leave, set by its first event.
    deadline: Option<Instant>,
}

/// Runs until the handle is closed or dropped, then delivers what is left.
pub(crate) async fn run(mut commands: mpsc::UnboundedReceiver<Command>, shared: Arc<Shared>) {
    let slots = Arc::new(Semaphore::new(shared.config.max_in_flight));
    let mut deliveries = JoinSet::new();
    let mut batch = Filling {
        events: Vec::new(),
        bytes: 0,
        deadline: None,
    };
    loop {
        let deadline = batch.deadline;
        let command = tokio::select! {
            command = commands.recv() => command,
            _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                dispatch(&mut batch, &shared, &slots, &mut deliveries).await;
                continue;
            }
            Some(_) = deliveries.join_next(), if !deliveries.is_empty() => continue,
        };
        match command {
            Some(Command::Event(event)) => {
                let size = event.encoded.len() + 1;
                if !batch.events.is_empty() && batch.bytes + size > shared.config.max_batch_bytes {
                    dispatch(&mut batch, &shared, &slots, &mut deliveries).await;
                }
                if batch.events.is_empty() {
                    batch.deadline = Some(Instant::now() + shared.config.linger);
                }
                batch.bytes += size;
                batch.events.push(event);
                if batch.events.len() >= shared.config.max_batch_events {
                    dispatch(&mut batch, &shared, &slots, &mut deliveries).await;
                }
            }
            Some(Command::Flush(done)) => {
                dispatch(&mut batch, &shared, &slots, &mut deliveries).await;
                while deliveries.join_next().await.is_some() {}
                let _ = done.send(());
            }
            None => {
                dispatch(&mut batch, &shared, &slots, &mut deliveries).await;
                while deliveries.join_next().await.is_some() {}
                return;
            }
        }
    }
}

/// Starts the delivery of the batch, once a slot is free.
async fn dispatch(
    batch: &mut Filling,
    shared: &Arc<Shared>,
    slots: &Arc<Semaphore>,
    deliveries: &mut JoinSet<()>,
) {
    batch.deadline = None;
    batch.bytes = 0;
    if batch.events.is_empty() {
        return;
    }
    let events = std::mem::take(&mut batch.events);
    let Ok(slot) = slots.clone().acquire_owned().await else {
        return;
    };
    let shared = shared.clone();
    deliveries.spawn(async move {
        deliver(events, &shared).await;
        drop(slot);
    });
}
