//! On SQLite new events are stored before their entries in the time-keyed indexes, which the
//! background job writes later for many commits at once (`pending`). Every query that reads
//! those indexes answers the same whether an event's entries are written or not: before the
//! merge, halfway through it, and after.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};

use crate::exact::format_at;
use crate::helpers::{TestApp, event, spawn_app_with};

const TYPES: [(&str, &str); 3] = [
    ("page", "pageview"),
    ("page", "cta click"),
    ("form", "submit"),
];

/// Each query with its variables.
fn queries() -> Vec<(&'static str, Value)> {
    let list = "query($f: EventFilter, $o: EventOrder) { events(filter: $f, first: 7, order: $o) { edges { node { id timestamp } } pageInfo { hasNextPage } } }";
    let counts = "query($g: CountDimension!, $f: EventFilter) { eventCounts(groupBy: $g, filter: $f) { edges { node { key count } } } }";
    let series = "query($f: SeriesFilter, $s: SeriesDimension) { eventSeries(bucket: MINUTE, from: \"2021-03-01T09:50:00Z\", to: \"2021-03-01T10:20:00Z\", filter: $f, splitBy: $s) { points { start total groups other } } }";
    let session = "query($id: String!) { session(id: $id) { eventCount firstSeen lastSeen applications { name } } }";
    let range = json!({ "from": "2021-03-01T09:17:30Z", "to": "2021-03-01T11:42:10Z" });
    vec![
        (list, json!({ "f": { "category": "page" } })),
        (
            list,
            json!({ "f": { "name": "submit" }, "o": "TIMESTAMP_DESC" }),
        ),
        (list, json!({ "f": range })),
        (
            list,
            json!({ "f": { "category": "page", "from": "2021-03-01T10:00:00Z" } }),
        ),
        (list, json!({ "f": { "sessionId": "s2" } })),
        (counts, json!({ "g": "CATEGORY", "f": range })),
        (counts, json!({ "g": "NAME", "f": range })),
        (counts, json!({ "g": "SESSION", "f": range })),
        (
            counts,
            json!({ "g": "NAME", "f": { "category": "page", "from": "2021-03-01T09:17:30Z", "to": "2021-03-01T09:58:00Z" } }),
        ),
        (series, json!({})),
        (series, json!({ "f": { "category": "page" }, "s": "NAME" })),
        (series, json!({ "s": "SESSION" })),
        (session, json!({ "id": "s1" })),
        (session, json!({ "id": "s3" })),
    ]
}

async fn answers(app: &TestApp) -> Vec<Value> {
    let mut out = Vec::new();
    for (query, variables) in queries() {
        out.push(app.ok(&app.read_key, query, variables).await);
    }
    out
}

async fn pending(app: &TestApp) -> i64 {
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT COUNT(*) AS n FROM events WHERE pending",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

#[tokio::test]
async fn queries_answer_the_same_before_during_and_after_the_index_merge() {
    // Neither the job nor the merge runs on its own during the test.
    let app = spawn_app_with(|s| {
        s.processing.process_interval_ms = 3_600_000;
        s.processing.sqlite_index_interval_ms = 3_600_000;
    })
    .await;
    let sqlite = app.db.get_database_backend() == DbBackend::Sqlite;
    // 60 events over three hours, sent out of time order, in two batches.
    let start: chrono::DateTime<chrono::Utc> = "2021-03-01T09:00:00Z".parse().unwrap();
    let all: Vec<Value> = (0..60i64)
        .map(|i| {
            let at = start + chrono::TimeDelta::seconds((i * 7_919) % 10_800);
            let (category, name) = TYPES[(i % 3) as usize];
            let session = format!("s{}", i % 4);
            event(
                &session,
                category,
                name,
                &format_at(at),
                Some(&format!("e{i}")),
            )
        })
        .collect();
    assert_eq!(app.record(json!(all[..30])).await["accepted"], 30);
    // The job has aggregated the first half: the second stays in its queue.
    app.process().await;
    assert_eq!(app.record(json!(all[30..])).await["accepted"], 30);
    if sqlite {
        assert_eq!(
            pending(&app).await,
            30,
            "the second half's entries are not written"
        );
    }
    let before = answers(&app).await;

    // The exact answer of one list: page events from 10:00, by time then arrival.
    let mut page: Vec<(String, String)> = all
        .iter()
        .filter(|e| {
            e["category"] == "page" && e["timestamp"].as_str().unwrap() >= "2021-03-01T10:00:00"
        })
        .map(|e| {
            (
                e["timestamp"].as_str().unwrap().to_owned(),
                e["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    page.sort();
    let listed: Vec<&str> = before[3]["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = page.iter().take(7).map(|(_, id)| id.as_str()).collect();
    assert_eq!(listed, expected);

    if sqlite {
        // Halfway: some of the pending events' entries written, the rest still pending.
        let txn = sea_orm::TransactionTrait::begin(&app.db).await.unwrap();
        assert_eq!(the_eye::db::index_pending(&txn, 12).await.unwrap(), 12);
        txn.commit().await.unwrap();
        assert_eq!(pending(&app).await, 18);
        assert_eq!(answers(&app).await, before, "halfway through the merge");
    }
    // Processing to the end writes every entry.
    app.process().await;
    if sqlite {
        assert_eq!(pending(&app).await, 0);
    }
    assert_eq!(answers(&app).await, before, "after the merge");
}

/// Erasing a session takes its events whether their index entries are written or not, and
/// leaves every count exact.
#[tokio::test]
async fn erasure_takes_pending_and_merged_events_alike() {
    let app = spawn_app_with(|s| {
        s.processing.process_interval_ms = 3_600_000;
        s.processing.sqlite_index_interval_ms = 3_600_000;
    })
    .await;
    let sqlite = app.db.get_database_backend() == DbBackend::Sqlite;
    let at = |minute: i64| {
        let start: chrono::DateTime<chrono::Utc> = "2021-03-01T09:00:00Z".parse().unwrap();
        format_at(start + chrono::TimeDelta::minutes(minute))
    };
    let first: Vec<Value> = (0..6)
        .map(|i| {
            event(
                ["victim", "other"][i % 2],
                "page",
                "pageview",
                &at(i as i64),
                Some(&format!("a{i}")),
            )
        })
        .collect();
    assert_eq!(app.record(json!(first)).await["accepted"], 6);
    // Merged and aggregated; then more of the victim's events, still pending and queued.
    app.process().await;
    let later: Vec<Value> = (0..4)
        .map(|i| {
            event(
                "victim",
                "form",
                "submit",
                &at(30 + i as i64),
                Some(&format!("b{i}")),
            )
        })
        .collect();
    assert_eq!(app.record(json!(later)).await["accepted"], 4);
    if sqlite {
        assert_eq!(pending(&app).await, 4);
    }
    let erase = "mutation { eraseSession(id: \"victim\") { rowsDeleted { table rows } } }";
    let erased = app.ok(&app.admin_key, erase, json!({})).await;
    let events = erased["eraseSession"]["rowsDeleted"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["table"] == "events")
        .unwrap()["rows"]
        .clone();
    assert_eq!(events, 7);
    let left = app
        .ok(
            &app.read_key,
            "{ session(id: \"victim\") { eventCount } }",
            json!({}),
        )
        .await;
    assert_eq!(left["session"], Value::Null);
    crate::exact::assert_aggregates_exact(&app).await;
    app.process().await;
    crate::exact::assert_aggregates_exact(&app).await;
    let other = app
        .ok(
            &app.read_key,
            "{ session(id: \"other\") { eventCount } }",
            json!({}),
        )
        .await;
    assert_eq!(other["session"]["eventCount"], 3);
}
