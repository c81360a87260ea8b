//! The invariant every deletion must keep: after the job has run, each aggregate equals what
//! the events still stored add up to, and `eventCounts` and `session` answer the same.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use the_eye::db::read_event_time;

use crate::helpers::TestApp;

/// A stored event, read straight from the table.
#[derive(Debug, Clone)]
pub struct Stored {
    pub event_id: String,
    pub application_id: i32,
    pub session: String,
    pub category: String,
    pub name: String,
    pub at: DateTime<Utc>,
}

async fn rows(app: &TestApp, sql: &str) -> Vec<sea_orm::QueryResult> {
    let backend = app.db.get_database_backend();
    app.db
        .query_all_raw(Statement::from_string(backend, sql.to_string()))
        .await
        .unwrap()
}

/// Every stored event.
pub async fn stored_events(app: &TestApp) -> Vec<Stored> {
    rows(app, "SELECT event_id, application_id, session_id, category, name, timestamp FROM events ORDER BY seq")
        .await
        .iter()
        .map(|r| Stored {
            event_id: r.try_get("", "event_id").unwrap(),
            application_id: r.try_get("", "application_id").unwrap(),
            session: r.try_get("", "session_id").unwrap(),
            category: r.try_get("", "category").unwrap(),
            name: r.try_get("", "name").unwrap(),
            at: read_event_time(app.db.get_database_backend(), r, "timestamp").unwrap(),
        })
        .collect()
}

/// The ids of the stored events.
pub async fn stored_ids(app: &TestApp) -> BTreeSet<String> {
    stored_events(app)
        .await
        .into_iter()
        .map(|e| e.event_id)
        .collect()
}

type SessionRow = (i64, DateTime<Utc>, DateTime<Utc>);

/// Runs the job, then asserts that every aggregate table and every `eventCounts` dimension
/// (whole store, and a range with partial hours at both ends) equal the stored events exactly.
pub async fn assert_aggregates_exact(app: &TestApp) {
    // A background step (when the test runs the job on a timer) may still be committing what it
    // claimed, which `processEvents` skips on PostgreSQL: wait until the queue reads empty.
    for _ in 0..100 {
        app.process().await;
        if app.table_count("event_queue").await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.table_count("event_queue").await, 0);
    let events = stored_events(app).await;

    let mut sessions: BTreeMap<String, SessionRow> = BTreeMap::new();
    let mut pairs = BTreeSet::new();
    let mut types: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    let mut hourly: BTreeMap<(DateTime<Utc>, String, String), i64> = BTreeMap::new();
    for e in &events {
        let s = sessions.entry(e.session.clone()).or_insert((0, e.at, e.at));
        s.0 += 1;
        s.1 = s.1.min(e.at);
        s.2 = s.2.max(e.at);
        pairs.insert((e.session.clone(), e.application_id));
        *types
            .entry((e.session.clone(), e.category.clone(), e.name.clone()))
            .or_default() += 1;
        let hour = e.at.duration_trunc(TimeDelta::hours(1)).unwrap();
        *hourly
            .entry((hour, e.category.clone(), e.name.clone()))
            .or_default() += 1;
    }
    let stored_sessions: BTreeMap<String, SessionRow> = rows(
        app,
        "SELECT session_id, event_count, first_seen, last_seen FROM sessions",
    )
    .await
    .iter()
    .map(|r| {
        (
            r.try_get("", "session_id").unwrap(),
            (
                r.try_get("", "event_count").unwrap(),
                read_event_time(app.db.get_database_backend(), r, "first_seen").unwrap(),
                read_event_time(app.db.get_database_backend(), r, "last_seen").unwrap(),
            ),
        )
    })
    .collect();
    assert_eq!(stored_sessions, sessions, "sessions");
    // SQLite keys the per-session aggregates by the session's key (`m20261202_000001`); the
    // two that keep the id beside it must name the same session as their key.
    let sqlite = app.db.get_database_backend() == sea_orm::DbBackend::Sqlite;
    if sqlite {
        for table in ["sessions", "session_type_counts"] {
            let mismatched = rows(
                app,
                &format!(
                    "SELECT t.session_id FROM {table} t LEFT JOIN session_keys k \
                     ON k.id = t.session_key WHERE k.session_id IS NOT t.session_id"
                ),
            )
            .await;
            assert_eq!(
                mismatched.len(),
                0,
                "{table} rows under another session's key"
            );
        }
    }
    let stored_pairs: BTreeSet<(String, i32)> = rows(
        app,
        if sqlite {
            "SELECT k.session_id, p.application_id FROM session_applications p \
             JOIN session_keys k ON k.id = p.session_key"
        } else {
            "SELECT session_id, application_id FROM session_applications"
        },
    )
    .await
    .iter()
    .map(|r| {
        (
            r.try_get("", "session_id").unwrap(),
            r.try_get("", "application_id").unwrap(),
        )
    })
    .collect();
    assert_eq!(stored_pairs, pairs, "session_applications");
    let stored_types: BTreeMap<(String, String, String), i64> = rows(
        app,
        "SELECT session_id, category, name, event_count FROM session_type_counts",
    )
    .await
    .iter()
    .map(|r| {
        (
            (
                r.try_get("", "session_id").unwrap(),
                r.try_get("", "category").unwrap(),
                r.try_get("", "name").unwrap(),
            ),
            r.try_get("", "event_count").unwrap(),
        )
    })
    .collect();
    assert_eq!(stored_types, types, "session_type_counts");
    let stored_hourly: BTreeMap<(DateTime<Utc>, String, String), i64> = rows(
        app,
        "SELECT bucket_start, category, name, event_count FROM type_counts_hourly",
    )
    .await
    .iter()
    .map(|r| {
        (
            (
                read_event_time(app.db.get_database_backend(), r, "bucket_start").unwrap(),
                r.try_get("", "category").unwrap(),
                r.try_get("", "name").unwrap(),
            ),
            r.try_get("", "event_count").unwrap(),
        )
    })
    .collect();
    assert_eq!(stored_hourly, hourly, "type_counts_hourly");

    assert_api_counts(app, &events, None).await;
    if let (Some(first), Some(last)) = (
        events.iter().map(|e| e.at).min(),
        events.iter().map(|e| e.at).max(),
    ) {
        let range = (
            first + TimeDelta::minutes(17),
            last - TimeDelta::minutes(23),
        );
        if range.0 <= range.1 {
            assert_api_counts(app, &events, Some(range)).await;
        }
    }
    for (id, (count, first, last)) in &sessions {
        let data = app
            .ok(
                &app.read_key,
                "query($id: String!) { session(id: $id) { eventCount firstSeen lastSeen } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(data["session"]["eventCount"], json!(count), "session {id}");
        assert_eq!(
            data["session"]["firstSeen"],
            json!(format_at(*first)),
            "session {id}"
        );
        assert_eq!(
            data["session"]["lastSeen"],
            json!(format_at(*last)),
            "session {id}"
        );
    }
}

/// RFC 3339 with microseconds, as the API writes instants.
pub fn format_at(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

async fn assert_api_counts(
    app: &TestApp,
    events: &[Stored],
    range: Option<(DateTime<Utc>, DateTime<Utc>)>,
) {
    let filter = match range {
        Some((from, to)) => json!({ "from": format_at(from), "to": format_at(to) }),
        None => Value::Null,
    };
    let inside = |e: &&Stored| range.is_none_or(|(from, to)| e.at >= from && e.at <= to);
    for dimension in ["SESSION", "CATEGORY", "NAME"] {
        let mut expected: BTreeMap<String, i64> = BTreeMap::new();
        for e in events.iter().filter(inside) {
            let key = match dimension {
                "SESSION" => &e.session,
                "CATEGORY" => &e.category,
                _ => &e.name,
            };
            *expected.entry(key.clone()).or_default() += 1;
        }
        let answered: BTreeMap<String, i64> = app
            .counts(dimension, filter.clone())
            .await
            .into_iter()
            .collect();
        assert_eq!(
            answered, expected,
            "eventCounts by {dimension}, filter {filter}"
        );
    }
}
