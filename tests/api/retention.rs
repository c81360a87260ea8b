//! Retention: events past their application's retention (by timestamp, in whole hours) and
//! rejected events past theirs (by time received) are deleted in bounded batches, and every
//! count still equals the events left.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::exact::{assert_aggregates_exact, format_at, stored_ids};
use crate::helpers::{TestApp, event, spawn_app_at_with};

const RETAIN: &str = "mutation { applyRetention { batches rowsDeleted { table rows } } }";

fn now() -> DateTime<Utc> {
    "2021-01-31T12:30:00Z".parse().unwrap()
}

/// Events every 5 h 17 min over the last 20 days, in three sessions and three types, with ids
/// `{prefix}{i}`; returns (id, timestamp) pairs.
fn history(prefix: &str, sessions: &[&str]) -> (Value, Vec<(String, DateTime<Utc>)>) {
    let types = [("page", "view"), ("page", "click"), ("form", "submit")];
    let start = now() - TimeDelta::days(20);
    let mut events = Vec::new();
    let mut ids = Vec::new();
    for i in 0..90i64 {
        let at = start + TimeDelta::minutes(i * 317);
        let (category, name) = types[(i % 3) as usize];
        let id = format!("{prefix}{i}");
        let session = sessions[(i % sessions.len() as i64) as usize];
        events.push(event(session, category, name, &format_at(at), Some(&id)));
        ids.push((id, at));
    }
    (json!(events), ids)
}

fn rows_of(report: &Value, table: &str) -> i64 {
    report["rowsDeleted"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["table"] == table)
        .unwrap()["rows"]
        .as_i64()
        .unwrap()
}

async fn retain(app: &TestApp) -> Value {
    app.ok(&app.admin_key, RETAIN, json!({})).await["applyRetention"].clone()
}

#[tokio::test]
async fn retention_deletes_expired_hours_in_batches_and_counts_stay_exact() {
    let app = spawn_app_at_with(now(), |s| {
        s.processing.retention_days = Some(10);
        s.processing.delete_batch_size = 7;
    })
    .await;
    let (first, mut ids) = history("a", &["s1", "s2", "s3"]);
    let (old_half, new_half) = first.as_array().unwrap().split_at(45);
    assert_eq!(app.record(json!(old_half)).await["accepted"], 45);
    app.process().await;
    // The second half stays queued: deleted without ever being aggregated.
    assert_eq!(app.record(json!(new_half)).await["accepted"], 45);
    // A session of only expired events disappears entirely.
    let gone_at = format_at(now() - TimeDelta::days(15));
    let gone = event("gone", "page", "view", &gone_at, Some("gone1"));
    assert_eq!(app.record(json!([gone])).await["accepted"], 1);
    ids.push(("gone1".into(), now() - TimeDelta::days(15)));
    // Either side of the cutoff, by a microsecond, sent last: the one before it is deleted.
    let cutoff: DateTime<Utc> = "2021-01-21T12:00:00Z".parse().unwrap();
    for (id, at) in [
        ("edge-before", cutoff - TimeDelta::microseconds(1)),
        ("edge-at", cutoff),
    ] {
        let edge = event("s1", "page", "view", &format_at(at), Some(id));
        assert_eq!(app.record(json!([edge])).await["accepted"], 1);
        ids.push((id.into(), at));
    }

    let kept: BTreeSet<String> = ids
        .iter()
        .filter(|(_, at)| *at >= cutoff)
        .map(|(id, _)| id.clone())
        .collect();
    let expired = ids.len() - kept.len();
    let report = retain(&app).await;
    assert_eq!(rows_of(&report, "events"), expired as i64);
    assert_eq!(
        report["batches"],
        json!(expired.div_ceil(7)),
        "batches of at most --delete-batch-size"
    );
    assert_eq!(stored_ids(&app).await, kept);
    assert_aggregates_exact(&app).await;
    let session = app
        .ok(&app.read_key, "{ session(id: \"gone\") { id } }", json!({}))
        .await;
    assert_eq!(session["session"], Value::Null);

    // Nothing is left to delete: a second run is a no-op.
    let again = retain(&app).await;
    assert_eq!(rows_of(&again, "events"), 0);
    assert_eq!(again["batches"], 0);

    // Time passes: another day of hours expires, counts are still exact.
    app.clock.as_ref().unwrap().set(now() + TimeDelta::days(1));
    let cutoff = cutoff + TimeDelta::days(1);
    let kept: BTreeSet<String> = ids
        .iter()
        .filter(|(_, at)| *at >= cutoff)
        .map(|(id, _)| id.clone())
        .collect();
    retain(&app).await;
    assert_eq!(stored_ids(&app).await, kept);
    assert_aggregates_exact(&app).await;
}

#[tokio::test]
async fn an_application_can_keep_its_events_longer_or_shorter_than_the_default() {
    let app = spawn_app_at_with(now(), |s| s.processing.retention_days = Some(10)).await;
    let apps = app
        .ok(&app.admin_key, "{ applications { id name } }", json!({}))
        .await;
    let shop = apps["applications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "shop")
        .unwrap()["id"]
        .clone();
    let set = "mutation($id: ID!, $days: Int) { setApplicationRetention(applicationId: $id, days: $days) { name retentionDays } }";
    let data = app
        .ok(&app.admin_key, set, json!({ "id": shop, "days": 18 }))
        .await;
    assert_eq!(
        data["setApplicationRetention"],
        json!({ "name": "shop", "retentionDays": 18 })
    );
    for days in [0, -1, 36_501] {
        let code = app
            .error_code(
                Some(&app.admin_key),
                set,
                json!({ "id": shop, "days": days }),
            )
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "{days} days");
    }
    let code = app
        .error_code(Some(&app.read_key), set, json!({ "id": shop, "days": 5 }))
        .await;
    assert_eq!(code, "FORBIDDEN");

    let (events, ids) = history("b", &["s1", "s2"]);
    app.record(events).await;
    retain(&app).await;
    let cutoff: DateTime<Utc> = "2021-01-13T12:00:00Z".parse().unwrap();
    let kept: BTreeSet<String> = ids
        .iter()
        .filter(|(_, at)| *at >= cutoff)
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(stored_ids(&app).await, kept, "18 days for shop");
    assert_aggregates_exact(&app).await;

    // Back to the default (10 days).
    let data = app
        .ok(&app.admin_key, set, json!({ "id": shop, "days": null }))
        .await;
    assert_eq!(
        data["setApplicationRetention"]["retentionDays"],
        Value::Null
    );
    retain(&app).await;
    let cutoff: DateTime<Utc> = "2021-01-21T12:00:00Z".parse().unwrap();
    let kept: BTreeSet<String> = ids
        .iter()
        .filter(|(_, at)| *at >= cutoff)
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(stored_ids(&app).await, kept, "the default again");
    assert_aggregates_exact(&app).await;
}

#[tokio::test]
async fn rejected_events_have_their_own_retention_by_time_received() {
    let app = spawn_app_at_with(now() - TimeDelta::days(3), |s| {
        s.processing.error_retention_days = Some(2);
    })
    .await;
    let bad = |id: &str| {
        json!({ "id": id, "sessionId": "s", "category": "c", "name": "n", "data": 1,
                "timestamp": "2021-01-01T00:00:00Z" })
    };
    assert_eq!(
        app.record(json!([bad("old1"), bad("old2")])).await["rejected"],
        2
    );
    app.clock.as_ref().unwrap().set(now());
    assert_eq!(app.record(json!([bad("new1")])).await["rejected"], 1);
    let ok = event("s", "c", "n", "2020-01-01T00:00:00Z", Some("ancient"));
    assert_eq!(app.record(json!([ok])).await["accepted"], 1);

    let report = retain(&app).await;
    assert_eq!(rows_of(&report, "event_errors"), 2);
    assert_eq!(rows_of(&report, "events"), 0, "no event retention is set");
    assert_eq!(app.table_count("event_errors").await, 1);
    assert_eq!(app.table_count("event_error_codes").await, 1);
    assert_eq!(app.table_count("events").await, 1);
}
