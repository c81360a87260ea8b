//! The live stream behind the `eventRecorded` and `eventRejected` subscriptions.
//!
//! After each commit, the writer announces what it stored: the `seq` of every new event and the
//! id of every rejected one ([`Commit`]). On SQLite (one instance) the writer hands the
//! announcement to this instance's [`Live`] directly. On PostgreSQL the announcement is a
//! `NOTIFY` sent inside the committing transaction, so PostgreSQL delivers it when, and only
//! if, the transaction commits, to every instance in commit order; each instance's listener
//! ([`spawn_postgres_listener`]) hands it to its [`Live`]. No home-made bus: the database is the
//! only thing instances share.
//!
//! A relay task per instance turns announcements into rows, read once for every subscriber and
//! only while someone subscribes, and broadcasts them over a bounded [`broadcast`] channel. Each
//! subscriber reads that ring at its own pace: one that falls more than the ring's capacity
//! behind is told how many items it missed (`LAGGED`) and closed. The writer never waits for
//! subscribers, and memory is bounded by the ring.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sea_orm::{ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryTrait};
use tokio::sync::{broadcast, watch};

use crate::entities::{event_errors, events};
use crate::error::{AppError, AppResult};
use crate::query::events::ListedEvent;

/// The `NOTIFY` channel announcing commits on PostgreSQL.
pub const CHANNEL: &str = "eye_commits";

/// Most event and error ids the relay reads in one query (commits waiting in line are read
/// together up to this): well under a subscriber's buffer, so that one read does not fill it.
const RELAY_BATCH_IDS: usize = 500;

/// Items the relay publishes before letting subscriber tasks run.
const RELAY_YIELD_EVERY: usize = 128;

/// The longest `NOTIFY` payload sent; PostgreSQL refuses 8,000 bytes and more.
const MAX_PAYLOAD_BYTES: usize = 7_000;

/// What one commit stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commit {
    /// The `seq` of each new event, ascending.
    pub seqs: Vec<i64>,
    /// The id of each rejected event's error row, ascending.
    pub error_ids: Vec<i64>,
}

impl Commit {
    /// Whether nothing was stored.
    pub fn is_empty(&self) -> bool {
        self.seqs.is_empty() && self.error_ids.is_empty()
    }

    /// The commit as `NOTIFY` payloads of at most [`MAX_PAYLOAD_BYTES`]: `e` or `r`, then runs
    /// of consecutive numbers (`12-40,45`).
    pub fn payloads(&self) -> Vec<String> {
        let mut payloads = Vec::new();
        for (tag, ids) in [('e', &self.seqs), ('r', &self.error_ids)] {
            let mut current = String::new();
            for run in runs(ids) {
                if current.len() + run.len() + 1 > MAX_PAYLOAD_BYTES {
                    payloads.push(std::mem::take(&mut current));
                }
                if current.is_empty() {
                    current.push(tag);
                } else {
                    current.push(',');
                }
                current.push_str(&run);
            }
            if !current.is_empty() {
                payloads.push(current);
            }
        }
        payloads
    }

    /// Parses one payload of [`Commit::payloads`]; `None` if it is not one.
    pub fn parse(payload: &str) -> Option<Self> {
        let (tag, body) = payload.split_at_checked(1)?;
        let mut ids = Vec::new();
        for run in body.split(',') {
            let (start, end) = match run.split_once('-') {
                Some((a, b)) => (a.parse::<i64>().ok()?, b.parse::<i64>().ok()?),
                None => {
                    let n = run.parse::<i64>().ok()?;
                    (n, n)
                }
            };
            if end < start || end - start > 1_000_000 {
                return None;
            }
            ids.extend(start..=end);
        }
        match tag {
            "e" => Some(Commit {
                seqs: ids,
                error_ids: Vec::new(),
            }),
            "r" => Some(Commit {
                seqs: Vec::new(),
                error_ids: ids,
            }),
            _ => None,
        }
    }
}

/// `ids` (ascending) as runs of consecutive numbers.
fn runs(ids: &[i64]) -> Vec<String> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        runs.push(if i == j {
            ids[i].to_string()
        } else {
            format!("{}-{}", ids[i], ids[j])
        });
        i = j + 1;
    }
    runs
}

/// One item of the stream.
#[derive(Debug, Clone)]
pub enum LiveItem {
    /// A stored event and its application's name.
    Recorded(Arc<(events::Model, String)>),
    /// A rejected event and its application's name.
    Rejected(Arc<(event_errors::Model, String)>),
    /// Announcements were lost (the listener reconnected, or the relay fell behind): every
    /// subscriber must be told it may have missed items.
    Gap,
}

/// This instance's live stream: announcements in, items out.
pub struct Live {
    commits: broadcast::Sender<Commit>,
    items: broadcast::Sender<LiveItem>,
    open: AtomicUsize,
    per_key: Mutex<HashMap<i32, usize>>,
}

/// The caps on open subscriptions.
#[derive(Debug, Clone, Copy)]
pub struct SubscriptionLimits {
    /// On this instance.
    pub total: usize,
    /// Of one key on this instance.
    pub per_key: usize,
    /// On one websocket connection.
    pub per_connection: usize,
}

/// An open subscription's place under the caps, given back when dropped.
pub struct Slot {
    live: Arc<Live>,
    key_id: i32,
    connection: Arc<AtomicUsize>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.live.open.fetch_sub(1, Ordering::Relaxed);
        self.connection.fetch_sub(1, Ordering::Relaxed);
        let mut per_key = self.live.per_key.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = per_key.get_mut(&self.key_id) {
            *n -= 1;
            if *n == 0 {
                per_key.remove(&self.key_id);
            }
        }
    }
}

impl Live {
    /// A stream whose subscribers may fall `buffer` items behind.
    pub fn new(buffer: usize) -> Arc<Self> {
        let (commits, _) = broadcast::channel(1_024);
        let (items, _) = broadcast::channel(buffer.max(1));
        Arc::new(Self {
            commits,
            items,
            open: AtomicUsize::new(0),
            per_key: Mutex::new(HashMap::new()),
        })
    }

    /// Announces a commit (dropped at once when nobody subscribes).
    pub fn announce(&self, commit: Commit) {
        if self.items.receiver_count() > 0 && !commit.is_empty() {
            let _ = self.commits.send(commit);
        }
    }

    /// Hands `item` to every subscriber (nothing waits: a full ring overwrites its oldest).
    pub(crate) fn publish(&self, item: LiveItem) {
        let _ = self.items.send(item);
    }

    /// A new subscriber, seeing items from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveItem> {
        self.items.subscribe()
    }

    /// Open subscriptions on this instance.
    pub fn open_subscriptions(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Takes a place for a new subscription of `key_id` on a connection holding `connection`
    /// subscriptions, or says which cap is reached.
    pub fn open_slot(
        self: &Arc<Self>,
        key_id: i32,
        connection: Arc<AtomicUsize>,
        limits: SubscriptionLimits,
    ) -> AppResult<Slot> {
        let mut per_key = self.per_key.lock().unwrap_or_else(|e| e.into_inner());
        let of_key = per_key.get(&key_id).copied().unwrap_or(0);
        let refuse = |what: &str, max: usize, setting: &str| {
            Err(AppError::LimitExceeded(format!(
                "at most {max} open subscriptions {what} ({setting})"
            )))
        };
        if self.open.load(Ordering::Relaxed) >= limits.total {
            return refuse("on this instance", limits.total, "EYE_MAX_SUBSCRIPTIONS");
        }
        if of_key >= limits.per_key {
            return refuse(
                "per API key",
                limits.per_key,
                "EYE_MAX_SUBSCRIPTIONS_PER_KEY",
            );
        }
        if connection.load(Ordering::Relaxed) >= limits.per_connection {
            return refuse(
                "per connection",
                limits.per_connection,
                "EYE_MAX_SUBSCRIPTIONS_PER_CONNECTION",
            );
        }
        per_key.insert(key_id, of_key + 1);
        self.open.fetch_add(1, Ordering::Relaxed);
        connection.fetch_add(1, Ordering::Relaxed);
        Ok(Slot {
            live: self.clone(),
            key_id,
            connection,
        })
    }
}

/// Starts the relay: reads the rows of each announced commit (in commit order) and broadcasts
/// them. Ends when `stopped` turns true.
pub fn spawn_relay(
    live: Arc<Live>,
    db: DatabaseConnection,
    mut stopped: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let mut commits = live.commits.subscribe();
    tokio::spawn(async move {
        loop {
            let commit = tokio::select! {
                _ = stopped.changed() => break,
                commit = commits.recv() => commit,
            };
            match commit {
                Ok(commit) => {
                    // Commits already waiting are read with this one, in one query: under
                    // load one query per commit fell far behind on PostgreSQL.
                    let mut batch = vec![commit];
                    let mut ids = batch[0].seqs.len() + batch[0].error_ids.len();
                    let mut missed = None;
                    while ids < RELAY_BATCH_IDS {
                        match commits.try_recv() {
                            Ok(next) => {
                                ids += next.seqs.len() + next.error_ids.len();
                                batch.push(next);
                            }
                            Err(broadcast::error::TryRecvError::Lagged(n)) => {
                                missed = Some(n);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    if let Err(err) = relay(&live, &db, &batch).await {
                        tracing::warn!(error = ?err, "reading committed rows for subscribers failed");
                        live.publish(LiveItem::Gap);
                    }
                    if let Some(missed) = missed {
                        tracing::warn!(missed, "the live relay fell behind the commits");
                        live.publish(LiveItem::Gap);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the live relay fell behind the commits");
                    live.publish(LiveItem::Gap);
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    })
}

/// Publishes the rows of `commits`, commit by commit in the order they were announced (each
/// one's events in `seq` order, then its rejections), read with one query per table.
async fn relay(
    live: &Live,
    db: &DatabaseConnection,
    commits: &[Commit],
) -> Result<(), sea_orm::DbErr> {
    if live.items.receiver_count() == 0 {
        return Ok(());
    }
    let seqs: Vec<i64> = commits
        .iter()
        .flat_map(|c| c.seqs.iter().copied())
        .collect();
    let error_ids: Vec<i64> = commits
        .iter()
        .flat_map(|c| c.error_ids.iter().copied())
        .collect();
    // Each event comes with its application's name (`read_listed` joins it).
    let mut recorded: HashMap<i64, ListedEvent> = if seqs.is_empty() {
        HashMap::new()
    } else {
        let rows = events::Entity::find()
            .filter(events::Column::Seq.is_in(seqs))
            .build(db.get_database_backend());
        crate::query::events::read_listed(db, rows, "r.seq")
            .await?
            .into_iter()
            .map(|listed| (listed.event.seq, listed))
            .collect()
    };
    let mut rejected: HashMap<i64, event_errors::Model> = if error_ids.is_empty() {
        HashMap::new()
    } else {
        event_errors::Entity::find()
            .filter(event_errors::Column::Id.is_in(error_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect()
    };
    let names = if rejected.is_empty() {
        HashMap::new()
    } else {
        crate::query::application_names(db, rejected.values().map(|e| e.application_id)).await?
    };
    let name = |id: i32| names.get(&id).cloned().unwrap_or_default();
    let mut published = 0;
    for commit in commits {
        for listed in commit.seqs.iter().filter_map(|seq| recorded.remove(seq)) {
            let item = (listed.event, listed.application_name);
            live.publish(LiveItem::Recorded(Arc::new(item)));
            published += 1;
            if published % RELAY_YIELD_EVERY == 0 {
                // Publishing never waits; give the subscribers' tasks a turn to read.
                tokio::task::yield_now().await;
            }
        }
        for error in commit.error_ids.iter().filter_map(|id| rejected.remove(id)) {
            let app = name(error.application_id);
            live.publish(LiveItem::Rejected(Arc::new((error, app))));
        }
    }
    Ok(())
}

/// On PostgreSQL, listens for the commits of every instance and announces them to `live`.
/// Does nothing on SQLite, where the writer announces directly.
pub fn spawn_postgres_listener(
    live: Arc<Live>,
    db: &DatabaseConnection,
    mut stopped: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    if db.get_database_backend() != DbBackend::Postgres {
        return None;
    }
    let pool = db.get_postgres_connection_pool().clone();
    Some(tokio::spawn(async move {
        let mut listener = loop {
            match listen(&pool).await {
                Ok(listener) => break listener,
                Err(err) => {
                    tracing::warn!(error = %err, "listening for commits failed; retrying");
                    if crate::shutdown::sleep_or_stopped(
                        std::time::Duration::from_secs(1),
                        &mut stopped,
                    )
                    .await
                    {
                        return;
                    }
                }
            }
        };
        loop {
            let notification = tokio::select! {
                _ = stopped.changed() => break,
                n = listener.try_recv() => n,
            };
            match notification {
                Ok(Some(n)) => match Commit::parse(n.payload()) {
                    Some(commit) => live.announce(commit),
                    None => tracing::warn!(payload = n.payload(), "an unreadable commit notice"),
                },
                // The connection was lost and re-established: notices may be missing.
                Ok(None) => {
                    live.publish(LiveItem::Gap);
                }
                Err(err) => {
                    tracing::warn!(error = %err, "the commit listener failed");
                    live.publish(LiveItem::Gap);
                    if crate::shutdown::sleep_or_stopped(
                        std::time::Duration::from_secs(1),
                        &mut stopped,
                    )
                    .await
                    {
                        break;
                    }
                }
            }
        }
    }))
}

async fn listen(
    pool: &sea_orm::sqlx::PgPool,
) -> Result<sea_orm::sqlx::postgres::PgListener, sea_orm::sqlx::Error> {
    let mut listener = sea_orm::sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_as_runs_within_the_size_limit() {
        let commit = Commit {
            seqs: vec![1, 2, 3, 7, 9, 10],
            error_ids: vec![4],
        };
        assert_eq!(commit.payloads(), ["e1-3,7,9-10", "r4"]);
        let parsed: Vec<Commit> = commit
            .payloads()
            .iter()
            .map(|p| Commit::parse(p).unwrap())
            .collect();
        assert_eq!(parsed[0].seqs, commit.seqs);
        assert_eq!(parsed[1].error_ids, commit.error_ids);
        let scattered = Commit {
            seqs: (0..5_000).map(|i| i * 2).collect(),
            error_ids: Vec::new(),
        };
        let payloads = scattered.payloads();
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD_BYTES));
        let back: Vec<i64> = payloads
            .iter()
            .flat_map(|p| Commit::parse(p).unwrap().seqs)
            .collect();
        assert_eq!(back, scattered.seqs);
        for bad in ["", "x1", "e", "e1-", "e5-1", "e1-99999999999"] {
            assert_eq!(Commit::parse(bad), None, "{bad}");
        }
    }
}
