//! Folding claimed events into aggregate deltas in memory, so that a batch of thousands of
//! events becomes a few upserts. Keys are kept sorted so that concurrent runs on PostgreSQL
//! lock aggregate rows in the same order and cannot deadlock.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::domain::timestamp::hour_of;

/// The fields of a claimed event that aggregation needs.
#[derive(Debug, Clone)]
pub struct ClaimedEvent {
    /// Sending application.
    pub application_id: i32,
    /// Session.
    pub session_id: String,
    /// The session's integer key, on SQLite, where the per-session aggregates are keyed by it
    /// (`None` on PostgreSQL).
    pub session_key: Option<i64>,
    /// Category.
    pub category: String,
    /// Name.
    pub name: String,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
}

/// Per-session change: earliest and latest timestamp, and how many events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionDelta {
    /// Earliest timestamp in the batch.
    pub first_seen: DateTime<Utc>,
    /// Latest timestamp in the batch.
    pub last_seen: DateTime<Utc>,
    /// Events in the batch.
    pub count: i64,
}

/// Everything one batch adds to the aggregates.
#[derive(Debug, Default)]
pub struct Deltas {
    /// By session id.
    pub sessions: BTreeMap<String, SessionDelta>,
    /// (session id, application id) pairs seen.
    pub session_applications: BTreeSet<(String, i32)>,
    /// By (session id, category, name).
    pub session_types: BTreeMap<(String, String, String), i64>,
    /// By (hour, category, name).
    pub hourly: BTreeMap<(DateTime<Utc>, String, String), i64>,
    /// Each session's key, where the events carried one (SQLite).
    pub session_keys: HashMap<String, i64>,
}

impl Deltas {
    /// Folds a batch of events.
    pub fn from_events(events: &[ClaimedEvent]) -> Self {
        let mut deltas = Deltas::default();
        for e in events {
            if let Some(key) = e.session_key
                && !deltas.session_keys.contains_key(&e.session_id)
            {
                deltas.session_keys.insert(e.session_id.clone(), key);
            }
            deltas
                .sessions
                .entry(e.session_id.clone())
                .and_modify(|s| {
                    s.first_seen = s.first_seen.min(e.timestamp);
                    s.last_seen = s.last_seen.max(e.timestamp);
                    s.count += 1;
                })
                .or_insert(SessionDelta {
                    first_seen: e.timestamp,
                    last_seen: e.timestamp,
                    count: 1,
                });
            deltas
                .session_applications
                .insert((e.session_id.clone(), e.application_id));
            *deltas
                .session_types
                .entry((e.session_id.clone(), e.category.clone(), e.name.clone()))
                .or_default() += 1;
            *deltas
                .hourly
                .entry((hour_of(e.timestamp), e.category.clone(), e.name.clone()))
                .or_default() += 1;
        }
        deltas
    }

    /// What removing already aggregated `events` takes away: the same keys with negated
    /// counts. First and last seen are those of the removed events, which lie within the stored
    /// range, so the job's min/max upsert leaves them; the deleter recomputes them afterwards.
    /// Pairs of `session_applications` are left out: a pair goes only when none of the
    /// session's events from that application is left, which only the database can tell.
    pub fn removing(events: &[ClaimedEvent]) -> Self {
        let mut deltas = Self::from_events(events);
        deltas.session_applications.clear();
        deltas
            .sessions
            .values_mut()
            .for_each(|s| s.count = -s.count);
        deltas.session_types.values_mut().for_each(|n| *n = -*n);
        deltas.hourly.values_mut().for_each(|n| *n = -*n);
        deltas
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(session: &str, name: &str, app: i32, at: &str) -> ClaimedEvent {
        ClaimedEvent {
            application_id: app,
            session_id: session.into(),
            session_key: None,
            category: "c".into(),
            name: name.into(),
            timestamp: DateTime::parse_from_rfc3339(at)
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    #[test]
    fn folds_events_into_exact_deltas() {
        let events = [
            event("s1", "a", 1, "2021-01-01T09:59:59Z"),
            event("s1", "a", 2, "2021-01-01T10:00:00Z"),
            event("s1", "b", 1, "2021-01-01T09:00:00Z"),
            event("s2", "a", 1, "2021-01-01T10:30:00Z"),
        ];
        let d = Deltas::from_events(&events);
        let s1 = d.sessions["s1"];
        assert_eq!(s1.count, 3);
        assert_eq!(s1.first_seen, events[2].timestamp);
        assert_eq!(s1.last_seen, events[1].timestamp);
        assert_eq!(d.sessions["s2"].count, 1);
        assert_eq!(d.session_applications.len(), 3);
        assert_eq!(d.session_types[&("s1".into(), "c".into(), "a".into())], 2);
        let nine = hour_of(events[0].timestamp);
        let ten = hour_of(events[1].timestamp);
        assert_eq!(d.hourly[&(nine, "c".into(), "a".into())], 1);
        assert_eq!(d.hourly[&(ten, "c".into(), "a".into())], 2);
        assert_eq!(d.hourly[&(nine, "c".into(), "b".into())], 1);
    }

    #[test]
    fn removing_negates_every_count_and_keeps_no_pairs() {
        let events = [
            event("s1", "a", 1, "2021-01-01T09:59:59Z"),
            event("s1", "a", 2, "2021-01-01T10:00:00Z"),
        ];
        let d = Deltas::removing(&events);
        assert_eq!(d.sessions["s1"].count, -2);
        assert!(d.session_applications.is_empty());
        assert_eq!(d.session_types[&("s1".into(), "c".into(), "a".into())], -2);
        assert_eq!(d.hourly.values().copied().collect::<Vec<_>>(), vec![-1, -1]);
    }
}
