//! Keeping `api_keys.last_used_at` roughly current without slowing requests down.
//!
//! Each instance writes a key's last use at most once per [`LAST_USED_INTERVAL`], from a
//! spawned task, so an ingest request never waits for it and a busy key costs one small
//! `UPDATE` a minute. The value is therefore accurate to about a minute per instance.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::keys::mark_used;

/// The least time between two writes of one key's `last_used_at` by one instance.
pub const LAST_USED_INTERVAL: Duration = Duration::from_secs(60);

/// Remembers when this instance last wrote each key's use.
#[derive(Default)]
pub struct LastUsed {
    // A std mutex: held only for a map lookup, never across an await.
    written: Mutex<HashMap<i32, Instant>>,
}

impl LastUsed {
    /// Notes that key `key_id` was used at `at`; writes it in the background if this instance
    /// has not done so within the interval.
    pub fn touch(&self, db: &DatabaseConnection, key_id: i32, at: DateTime<Utc>) {
        if !self.due(key_id, Instant::now()) {
            return;
        }
        let db = db.clone();
        tokio::spawn(async move {
            if let Err(err) = mark_used(&db, key_id, at).await {
                tracing::warn!(key_id, error = ?err, "recording a key's last use failed");
            }
        });
    }

    fn due(&self, key_id: i32, now: Instant) -> bool {
        let mut written = self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match written.get(&key_id) {
            Some(last) if now.duration_since(*last) < LAST_USED_INTERVAL => false,
            _ => {
                written.insert(key_id, now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_written_once_per_interval() {
        let last = LastUsed::default();
        let start = Instant::now();
        assert!(last.due(1, start));
        assert!(!last.due(1, start + Duration::from_secs(59)));
        assert!(last.due(2, start + Duration::from_secs(59)));
        assert!(last.due(1, start + LAST_USED_INTERVAL));
    }
}
