//! Grouped counts: exact for every filter, before, during and after background processing.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{event, spawn_app};

struct Row {
    session: String,
    category: String,
    name: String,
    at: DateTime<Utc>,
}

/// Events spread over five hours, at awkward minutes, in three sessions and four types.
fn dataset() -> Vec<Row> {
    let start: DateTime<Utc> = "2021-01-01T08:00:00Z".parse().unwrap();
    let types = [
        ("page interaction", "pageview"),
        ("page interaction", "cta click"),
        ("form interaction", "submit"),
        ("video", "pageview"),
    ];
    (0..120)
        .map(|i: i64| {
            let (category, name) = types[(i % 4) as usize];
            Row {
                session: format!("s{}", i % 3),
                category: category.into(),
                name: name.into(),
                at: start + Duration::seconds(i * 151 + (i % 7) * 13),
            }
        })
        .collect()
}

fn as_input(rows: &[Row], offset: usize) -> Value {
    let events: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let at = r.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            event(
                &r.session,
                &r.category,
                &r.name,
                &at,
                Some(&format!("id{}", i + offset)),
            )
        })
        .collect();
    json!(events)
}

/// The counts computed by brute force, ordered like the API (largest first, then key).
fn expected(rows: &[Row], group_by: &str, filter: &Value) -> Vec<(String, i64)> {
    let parse = |v: &Value| v.as_str().map(|s| s.parse::<DateTime<Utc>>().unwrap());
    let (from, to) = (parse(&filter["from"]), parse(&filter["to"]));
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for r in rows {
        let keep = filter["sessionId"].as_str().is_none_or(|s| s == r.session)
            && filter["category"].as_str().is_none_or(|c| c == r.category)
            && filter["name"].as_str().is_none_or(|n| n == r.name)
            && from.is_none_or(|f| r.at >= f)
            && to.is_none_or(|t| r.at <= t);
        if keep {
            let key = match group_by {
                "SESSION" => &r.session,
                "CATEGORY" => &r.category,
                _ => &r.name,
            };
            *counts.entry(key.clone()).or_default() += 1;
        }
    }
    let mut list: Vec<(String, i64)> = counts.into_iter().collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    list
}

fn filters() -> Vec<Value> {
    vec![
        json!({}),
        json!({ "sessionId": "s1" }),
        json!({ "category": "page interaction" }),
        json!({ "name": "pageview" }),
        json!({ "category": "page interaction", "name": "pageview" }),
        // Whole hours only.
        json!({ "from": "2021-01-01T09:00:00Z", "to": "2021-01-01T10:59:59.999999Z" }),
        // Partial hours at both edges, with whole hours between.
        json!({ "from": "2021-01-01T08:17:03Z", "to": "2021-01-01T11:41:30Z" }),
        // Inside a single hour.
        json!({ "from": "2021-01-01T09:10:00Z", "to": "2021-01-01T09:50:00Z" }),
        // Open-ended ranges.
        json!({ "from": "2021-01-01T10:30:00Z" }),
        json!({ "to": "2021-01-01T09:30:00Z" }),
        // Boundaries exactly on events.
        json!({ "from": "2021-01-01T08:02:31Z", "to": "2021-01-01T08:02:31Z" }),
        json!({ "sessionId": "s2", "from": "2021-01-01T08:30:00Z", "to": "2021-01-01T10:30:00Z" }),
        json!({ "sessionId": "s0", "category": "video" }),
        json!({ "category": "form interaction", "from": "2021-01-01T08:45:00Z" }),
        json!({ "name": "pageview", "from": "2021-01-01T08:17:03Z", "to": "2021-01-01T09:41:30Z" }),
        json!({ "sessionId": "none" }),
    ]
}

async fn assert_all_counts(app: &crate::helpers::TestApp, rows: &[Row], stage: &str) {
    for filter in filters() {
        for group_by in ["SESSION", "CATEGORY", "NAME"] {
            let got = app.counts(group_by, filter.clone()).await;
            assert_eq!(
                got,
                expected(rows, group_by, &filter),
                "{stage}: {group_by} {filter}"
            );
        }
    }
}

#[tokio::test]
async fn counts_are_exact_for_every_filter_whatever_has_been_processed() {
    let app = spawn_app().await;
    let rows = dataset();
    let (first, second) = rows.split_at(70);
    app.record(as_input(first, 0)).await;
    assert_all_counts(&app, first, "nothing processed").await;

    let report = app.process().await;
    assert_eq!(report["eventsProcessed"], 70);
    assert_all_counts(&app, first, "all processed").await;

    app.record(as_input(second, 70)).await;
    assert_all_counts(&app, &rows, "partly processed").await;

    app.process().await;
    assert_all_counts(&app, &rows, "all processed again").await;

    // Duplicates and rejected events never count.
    app.record(as_input(first, 0)).await;
    app.record(json!([event(
        "s0",
        "video",
        "pageview",
        "2999-01-01T00:00:00Z",
        None
    )]))
    .await;
    app.process().await;
    assert_all_counts(&app, &rows, "after duplicates").await;
}

#[tokio::test]
async fn counts_are_served_from_aggregates_after_processing() {
    let app = spawn_app().await;
    let rows = dataset();
    app.record(as_input(&rows, 0)).await;
    app.process().await;
    // The aggregates alone hold the totals: one row per type and hour, far fewer than events.
    let hourly = app.table_count("type_counts_hourly").await;
    assert!(hourly < rows.len() as i64 / 4, "{hourly} hourly rows");
    assert_eq!(app.table_count("sessions").await, 3);
    let data = app
        .ok(
            &app.read_key,
            "{ eventCounts(groupBy: CATEGORY, first: 1) { edges { node { key count } } pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["eventCounts"],
        json!({
            "edges": [{ "node": { "key": "page interaction", "count": 60 } }],
            "pageInfo": { "hasNextPage": true },
        })
    );
}

/// The pages of `eventCounts(groupBy: SESSION)`, `first` groups at a time, concatenated.
async fn session_pages(app: &crate::helpers::TestApp, first: i64) -> Vec<(String, i64)> {
    let query = "query($n: Int, $after: String) { eventCounts(groupBy: SESSION, first: $n, after: $after) { edges { node { key count } } pageInfo { hasNextPage endCursor } } }";
    let (mut all, mut after) = (Vec::new(), Value::Null);
    loop {
        let data = app
            .ok(&app.read_key, query, json!({ "n": first, "after": after }))
            .await;
        let page = &data["eventCounts"];
        for edge in page["edges"].as_array().unwrap() {
            let node = &edge["node"];
            all.push((
                node["key"].as_str().unwrap().to_string(),
                node["count"].as_i64().unwrap(),
            ));
        }
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            return all;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// On SQLite the index of sessions by count holds the count each session had when the job last
/// ranked it (`ranked_count`, refreshed every few seconds); a session updated since is counted
/// apart. The counts, their order and every page stay exact whatever the ranks say, and
/// `processEvents` ranks every session again.
#[tokio::test]
async fn session_counts_are_exact_whatever_the_ranks_say() {
    let app = spawn_app().await;
    let sizes = [("a", 5), ("b", 4), ("c", 4), ("d", 2), ("e", 1), ("f", 1)];
    let mut events = Vec::new();
    for (session, size) in sizes {
        for i in 0..size {
            let at = format!("2021-01-01T08:0{i}:00Z");
            events.push(event(
                session,
                "video",
                "pageview",
                &at,
                Some(&format!("{session}{i}")),
            ));
        }
    }
    app.record(json!(events)).await;
    app.process().await;
    let ranked = exact_sizes(&[("a", 5), ("b", 4), ("c", 4), ("d", 2), ("e", 1), ("f", 1)]);
    if app.db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        // Ranks as a job's steps leave them: understated, overstated, right, never ranked.
        app.db
            .execute_unprepared(
                "UPDATE sessions SET ranked_count = CASE session_id WHEN 'a' THEN 1 \
                 WHEN 'b' THEN 9 WHEN 'd' THEN 0 WHEN 'f' THEN 7 ELSE ranked_count END",
            )
            .await
            .unwrap();
    }
    for first in [1, 2, 4, 1000] {
        assert_eq!(session_pages(&app, first).await, ranked, "pages of {first}");
    }
    // Unprocessed events of a session whose rank is stale as well.
    let more: Vec<Value> = (0..3)
        .map(|i| {
            event(
                "f",
                "video",
                "pageview",
                "2021-01-01T09:00:00Z",
                Some(&format!("f+{i}")),
            )
        })
        .collect();
    app.record(json!(more)).await;
    let with_queued = exact_sizes(&[("a", 5), ("b", 4), ("c", 4), ("f", 4), ("d", 2), ("e", 1)]);
    for first in [1, 2, 1000] {
        assert_eq!(
            session_pages(&app, first).await,
            with_queued,
            "pages of {first}, queued"
        );
    }
    app.process().await;
    assert_eq!(
        session_pages(&app, 2).await,
        with_queued,
        "processed and ranked"
    );
    assert_eq!(
        unranked_sessions(&app).await,
        0,
        "processEvents ranks every session"
    );
}

/// Sessions whose count changed since they were last ranked (none on PostgreSQL, which keeps
/// no ranked count).
async fn unranked_sessions(app: &crate::helpers::TestApp) -> i64 {
    if app.db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return 0;
    }
    app.table_count("sessions WHERE ranked_count <> event_count")
        .await
}

/// The background job ranks the sessions it updated on its own, every
/// `EYE_SQLITE_RANK_INTERVAL_MS`, in its steps: none is left unranked once it has caught up.
#[tokio::test]
async fn the_job_ranks_the_sessions_it_updated() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.processing.process_interval_ms = 20;
        s.processing.sqlite_rank_interval_ms = 50;
    })
    .await;
    let events: Vec<Value> = (0..30)
        .map(|i| {
            let session = format!("s{}", i % 7);
            event(
                &session,
                "video",
                "pageview",
                "2021-01-01T08:00:00Z",
                Some(&format!("r{i}")),
            )
        })
        .collect();
    app.record(json!(events)).await;
    let expected = exact_sizes(&[
        ("s0", 5),
        ("s1", 5),
        ("s2", 4),
        ("s3", 4),
        ("s4", 4),
        ("s5", 4),
        ("s6", 4),
    ]);
    // Waits for the job (a bound on how long, not a speed target).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let processed = app.table_count("event_queue").await == 0;
        let unranked = unranked_sessions(&app).await;
        if processed && unranked == 0 && app.table_count("sessions").await == 7 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job left {unranked} sessions unranked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(session_pages(&app, 3).await, expected);
}

fn exact_sizes(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
    pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}
