//! Erasure of a session: its events and rejected events of every application go, every count
//! stays exact, an audit entry records it, erasing again changes nothing, and events of the
//! session that arrive afterwards are stored normally — also with ingest running concurrently.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use the_eye::auth::{Scope, Scopes, keys};

use crate::exact::{assert_aggregates_exact, stored_events, stored_ids};
use crate::helpers::{TestApp, event, spawn_app, spawn_app_with};

const ERASE: &str = "mutation($id: String!) { eraseSession(id: $id) { id sessionId apiKeyId applicationId erasedAt rowsDeleted { table rows } } }";
const AUDIT: &str = "query($s: String) { erasures(sessionId: $s) { id sessionId apiKeyId rowsDeleted { table rows } } }";

fn rows(entry: &Value) -> BTreeMap<String, i64> {
    entry["rowsDeleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["table"].as_str().unwrap().to_string(),
                r["rows"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn expect(pairs: [(&str, i64); 7]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(t, n)| (t.to_string(), *n)).collect()
}

async fn ingest_key(app: &TestApp, application: &str) -> String {
    keys::create_key(&app.db, application, Scopes::of([Scope::Ingest]))
        .await
        .unwrap()
        .secret
}

/// The sessions that have a key in SQLite's `session_keys`, by id (`None` on PostgreSQL).
async fn session_keys(app: &TestApp) -> Option<Vec<String>> {
    if app.db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return None;
    }
    let rows = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT session_id FROM session_keys ORDER BY session_id",
        ))
        .await
        .unwrap();
    Some(
        rows.iter()
            .map(|row| row.try_get::<String>("", "session_id").unwrap())
            .collect(),
    )
}

#[tokio::test]
async fn a_session_named_only_by_a_duplicate_keeps_no_key() {
    let app = spawn_app().await;
    let first = json!([event(
        "kept",
        "page",
        "view",
        "2021-01-01T09:00:00Z",
        Some("d1")
    )]);
    assert_eq!(app.record(first).await["accepted"], 1);
    // The same event id again, under a session never seen: a duplicate, nothing stored.
    let again = json!([event(
        "ghost",
        "page",
        "view",
        "2021-01-01T09:00:00Z",
        Some("d1")
    )]);
    let result = app.record(again).await;
    assert_eq!(result["accepted"], 0, "{result}");
    assert_eq!(result["duplicates"], 1, "{result}");
    if let Some(keys) = session_keys(&app).await {
        assert_eq!(keys, ["kept"]);
    }
    let erased = app
        .ok(&app.admin_key, ERASE, json!({ "id": "ghost" }))
        .await["eraseSession"]
        .clone();
    assert!(rows(&erased).values().all(|n| *n == 0), "{erased}");
    assert_eq!(app.table_count("events").await, 1);
}

#[tokio::test]
async fn erasing_a_session_removes_its_data_everywhere_and_keeps_counts_exact() {
    let app = spawn_app().await;
    let blog = ingest_key(&app, "blog").await;
    // Processed: the victim from two applications, alone in the 10:00 hour of `video/play`.
    let processed = json!([
        event("victim", "page", "view", "2021-01-01T09:10:00Z", Some("v1")),
        event(
            "victim",
            "page",
            "click",
            "2021-01-01T09:20:00Z",
            Some("v2")
        ),
        event(
            "victim",
            "video",
            "play",
            "2021-01-01T10:05:00Z",
            Some("v3")
        ),
        event("other", "page", "view", "2021-01-01T09:15:00Z", Some("o1")),
        event("other", "page", "click", "2021-01-01T11:00:00Z", Some("o2")),
    ]);
    assert_eq!(app.record(processed).await["accepted"], 5);
    let from_blog = json!([event(
        "victim",
        "page",
        "view",
        "2021-01-01T09:30:00Z",
        Some("b1")
    )]);
    assert_eq!(app.record_as(&blog, from_blog).await["accepted"], 1);
    app.process().await;
    // Queued (not aggregated yet), and a rejected event of the victim.
    let queued = json!([
        event("victim", "page", "view", "2021-01-01T12:00:00Z", Some("v4")),
        event("other", "page", "view", "2021-01-01T12:00:00Z", Some("o3")),
        { "id": "bad", "sessionId": "victim", "category": "c", "name": "n", "data": [], "timestamp": "2021-01-01T12:00:00Z" },
        { "id": "bad2", "sessionId": "other", "category": "c", "name": "n", "data": [], "timestamp": "2021-01-01T12:00:00Z" },
    ]);
    assert_eq!(app.record(queued).await["accepted"], 2);

    let erased = app
        .ok(&app.admin_key, ERASE, json!({ "id": "victim" }))
        .await["eraseSession"]
        .clone();
    assert_eq!(erased["sessionId"], "victim");
    assert_ne!(erased["apiKeyId"], Value::Null);
    assert_eq!(
        rows(&erased),
        expect([
            ("events", 5),
            ("event_queue", 1),
            ("event_errors", 1),
            ("sessions", 1),
            ("session_applications", 2),
            // (victim, page/view), (victim, page/click), (victim, video/play)
            ("session_type_counts", 3),
            // 10:00 video/play had only the victim's event; 09:00 page/click too.
            ("type_counts_hourly", 2),
        ])
    );
    assert_eq!(
        stored_ids(&app).await,
        BTreeSet::from(["o1".to_string(), "o2".into(), "o3".into()])
    );
    assert_eq!(app.table_count("event_errors").await, 1, "only `other`'s");
    assert_eq!(app.table_count("event_error_codes").await, 1);
    assert_aggregates_exact(&app).await;
    let session = app
        .ok(
            &app.read_key,
            "{ session(id: \"victim\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(session["session"], Value::Null);
    if let Some(keys) = session_keys(&app).await {
        // The session's id does not outlive its events in SQLite's session keys either.
        assert_eq!(keys, ["other"]);
    }

    // Idempotent: nothing more goes, and the request is audited too.
    let again = app
        .ok(&app.admin_key, ERASE, json!({ "id": "victim" }))
        .await["eraseSession"]
        .clone();
    assert!(rows(&again).values().all(|n| *n == 0), "{again}");
    assert_eq!(app.table_count("events").await, 3);
    let audit = app
        .ok(&app.admin_key, AUDIT, json!({ "s": "victim" }))
        .await["erasures"]
        .clone();
    let ids: Vec<&Value> = audit.as_array().unwrap().iter().map(|e| &e["id"]).collect();
    assert_eq!(ids, vec![&again["id"], &erased["id"]], "newest first");
    assert_eq!(rows(&audit[1]), rows(&erased));

    // Later events of the session are stored normally.
    let later = json!([event(
        "victim",
        "page",
        "view",
        "2021-01-02T00:00:00Z",
        Some("v5")
    )]);
    assert_eq!(app.record(later).await["accepted"], 1);
    assert_aggregates_exact(&app).await;

    // Administrators only; applications still cannot delete.
    for key in [&app.read_key, &app.ingest_key] {
        let code = app
            .error_code(Some(key), ERASE, json!({ "id": "other" }))
            .await;
        assert_eq!(code, "FORBIDDEN");
        let code = app.error_code(Some(key), AUDIT, json!({})).await;
        assert_eq!(code, "FORBIDDEN");
    }
    let code = app
        .error_code(Some(&app.admin_key), ERASE, json!({ "id": " " }))
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
}

/// Phases of the concurrent test, as seen by the ingest task.
const BEFORE: u8 = 0;
const DURING: u8 = 1;
const AFTER: u8 = 2;

#[tokio::test]
async fn erasure_under_concurrent_ingest_removes_what_was_stored_and_keeps_what_came_later() {
    let app = Arc::new(
        spawn_app_with(|s| {
            s.processing.process_interval_ms = 10;
            s.processing.delete_batch_size = 7;
        })
        .await,
    );
    let phase = Arc::new(AtomicU8::new(BEFORE));
    let acked = Arc::new(AtomicU8::new(0));
    let ingest = {
        let (app, phase, acked) = (app.clone(), phase.clone(), acked.clone());
        tokio::spawn(async move {
            // (id, phase when sent, phase when acknowledged) of every accepted event.
            let mut log: Vec<(String, String, u8, u8)> = Vec::new();
            let mut after_batches = 0;
            for b in 0.. {
                let sent = phase.load(Ordering::SeqCst);
                let batch: Vec<Value> = (0..10)
                    .map(|i| {
                        let session = if i % 2 == 0 { "victim" } else { "other" };
                        let at = format!("2021-01-01T{:02}:{:02}:00Z", (b / 60) % 24, b % 60);
                        event(session, "page", "view", &at, Some(&format!("e{b}-{i}")))
                    })
                    .collect();
                let result = app.record(json!(batch)).await;
                let done = phase.load(Ordering::SeqCst);
                for r in result["results"].as_array().unwrap() {
                    assert_eq!(r["status"], "ACCEPTED", "{result}");
                    let i = r["index"].as_u64().unwrap();
                    let session = if i % 2 == 0 { "victim" } else { "other" };
                    log.push((r["id"].as_str().unwrap().into(), session.into(), sent, done));
                }
                acked.store(
                    acked.load(Ordering::SeqCst).saturating_add(1),
                    Ordering::SeqCst,
                );
                if sent == AFTER {
                    after_batches += 1;
                    if after_batches == 20 {
                        break;
                    }
                }
            }
            log
        })
    };
    while acked.load(Ordering::SeqCst) < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    phase.store(DURING, Ordering::SeqCst);
    let erased = app
        .ok(&app.admin_key, ERASE, json!({ "id": "victim" }))
        .await["eraseSession"]
        .clone();
    phase.store(AFTER, Ordering::SeqCst);
    let log = ingest.await.unwrap();

    let stored = stored_ids(&app).await;
    let victim: Vec<_> = log.iter().filter(|e| e.1 == "victim").collect();
    for (id, _, sent, done) in &victim {
        if *done == BEFORE {
            assert!(
                !stored.contains(id),
                "{id} was acknowledged before the erasure began"
            );
        }
        if *sent == AFTER {
            assert!(stored.contains(id), "{id} was sent after the erasure ended");
        }
    }
    let kept_victim = victim.iter().filter(|e| stored.contains(&e.0)).count() as i64;
    assert_eq!(
        rows(&erased)["events"] + kept_victim,
        victim.len() as i64,
        "every accepted event of the session was either erased or is stored"
    );
    for (id, ..) in log.iter().filter(|e| e.1 == "other") {
        assert!(stored.contains(id), "{id} of another session is kept");
    }
    assert_eq!(stored.len(), log.len() - rows(&erased)["events"] as usize);
    let events = stored_events(&app).await;
    assert_eq!(events.len(), stored.len());
    assert_aggregates_exact(&app).await;
}
