//! Recording events: results per event, durability before the answer, idempotency.

use serde_json::{Value, json};

use crate::helpers::{event, pageview, spawn_app};

/// The brief's three example events (the first without its trailing comma).
fn brief_events() -> Value {
    json!([
        {
            "sessionId": "e2085be5-9137-4e4e-80b5-f1ffddc25423",
            "category": "page interaction",
            "name": "pageview",
            "data": { "host": "www.consumeraffairs.com", "path": "/" },
            "timestamp": "2021-01-01 09:15:27.243860"
        },
        {
            "sessionId": "e2085be5-9137-4e4e-80b5-f1ffddc25423",
            "category": "page interaction",
            "name": "cta click",
            "data": { "host": "www.consumeraffairs.com", "path": "/", "element": "chat bubble" },
            "timestamp": "2021-01-01 09:15:27.243860"
        },
        {
            "sessionId": "e2085be5-9137-4e4e-80b5-f1ffddc25423",
            "category": "form interaction",
            "name": "submit",
            "data": { "host": "www.consumeraffairs.com", "path": "/", "form": { "first_name": "John", "last_name": "Doe" } },
            "timestamp": "2021-01-01 09:15:27.243860"
        }
    ])
}

#[tokio::test]
async fn the_briefs_three_events_are_accepted_and_queryable() {
    let app = spawn_app().await;
    let result = app.record(brief_events()).await;
    assert_eq!(result["accepted"], 3);
    assert_eq!(result["duplicates"], 0);
    assert_eq!(result["rejected"], 0);
    let results = result["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i);
        assert_eq!(r["status"], "ACCEPTED");
        assert_eq!(r["errors"], json!([]));
        assert_eq!(r["id"].as_str().unwrap().len(), 32, "derived id");
    }

    let stored = app
        .events(json!({ "sessionId": "e2085be5-9137-4e4e-80b5-f1ffddc25423" }))
        .await;
    let names: Vec<&str> = stored.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["pageview", "cta click", "submit"],
        "equal timestamps keep ingest order"
    );
    assert_eq!(stored[0]["timestamp"], "2021-01-01T09:15:27.243860Z");
    assert_eq!(
        stored[2]["data"]["form"],
        json!({ "first_name": "John", "last_name": "Doe" })
    );
    assert_eq!(stored[0]["id"], results[0]["id"]);
}

#[tokio::test]
async fn an_acknowledged_batch_is_already_stored() {
    let app = spawn_app().await;
    let batch: Vec<Value> = (0..50)
        .map(|i| {
            event(
                "s",
                "c",
                "n",
                &format!("2021-01-01T00:00:{:02}Z", i % 60),
                Some(&format!("id-{i}")),
            )
        })
        .collect();
    let result = app.record(json!(batch)).await;
    assert_eq!(result["accepted"], 50);
    // Read straight from the database, without any processing.
    assert_eq!(app.table_count("events").await, 50);
}

#[tokio::test]
async fn client_ids_are_idempotency_keys() {
    let app = spawn_app().await;
    let first = app
        .record(json!([
            event("s", "c", "n", "2021-01-01T00:00:00Z", Some("a")),
            event("s", "c", "n", "2021-01-01T00:00:01Z", Some("a")),
            event("s", "c", "n", "2021-01-01T00:00:02Z", Some("b")),
        ]))
        .await;
    let statuses: Vec<&str> = first["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ACCEPTED", "DUPLICATE", "ACCEPTED"]);
    assert_eq!(
        (first["accepted"].as_i64(), first["duplicates"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(first["results"][1]["id"], "a");

    // A retry of the whole batch stores nothing new.
    let retry = app
        .record(json!([
            event("s", "c", "n", "2021-01-01T00:00:00Z", Some("a")),
            event("s", "c", "n", "2021-01-01T00:00:02Z", Some("b")),
        ]))
        .await;
    assert_eq!(retry["accepted"], 0);
    assert_eq!(retry["duplicates"], 2);
    assert_eq!(app.table_count("events").await, 2);
    // The first version of "a" is the one kept.
    let stored = app.events(json!({})).await;
    assert_eq!(stored[0]["timestamp"], "2021-01-01T00:00:00.000000Z");
}

#[tokio::test]
async fn the_same_id_from_two_applications_is_two_events() {
    let app = spawn_app().await;
    let admin_result = app
        .record_as(
            &app.admin_key,
            json!([event("s", "c", "n", "2021-01-01T00:00:00Z", Some("x"))]),
        )
        .await;
    let shop_result = app
        .record(json!([event(
            "s",
            "c",
            "n",
            "2021-01-01T00:00:00Z",
            Some("x")
        )]))
        .await;
    assert_eq!(admin_result["accepted"], 1);
    assert_eq!(shop_result["accepted"], 1);
    assert_eq!(app.table_count("events").await, 2);
}

#[tokio::test]
async fn events_without_id_are_deduplicated_by_content() {
    let app = spawn_app().await;
    let once = pageview("s", "2021-01-01 09:15:27.243860");
    let mut reordered = once.clone();
    reordered["data"] = json!({ "path": "/", "host": "www.consumeraffairs.com" });
    let mut other = once.clone();
    other["data"]["path"] = json!("/other");
    let result = app.record(json!([once, reordered, other])).await;
    let r = result["results"].as_array().unwrap();
    assert_eq!(r[0]["status"], "ACCEPTED");
    assert_eq!(r[1]["status"], "DUPLICATE");
    assert_eq!(
        r[1]["id"], r[0]["id"],
        "key order does not change the derived id"
    );
    assert_eq!(r[2]["status"], "ACCEPTED");
    assert_ne!(r[2]["id"], r[0]["id"]);

    let retry = app
        .record(json!([pageview("s", "2021-01-01T09:15:27.24386Z")]))
        .await;
    assert_eq!(
        retry["results"][0]["status"], "DUPLICATE",
        "the same instant written differently"
    );
    assert_eq!(app.table_count("events").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_are_stored_once() {
    let app = std::sync::Arc::new(spawn_app().await);
    let batch: Vec<Value> = (0..100)
        .map(|i| {
            event(
                "s",
                "c",
                "n",
                "2021-01-01T00:00:00Z",
                Some(&format!("e{i}")),
            )
        })
        .collect();
    // Half the requests send the ids in the opposite order: on PostgreSQL, concurrent group
    // commits must still not deadlock on each other's rows.
    let reversed: Vec<Value> = batch.iter().rev().cloned().collect();
    let (batch, reversed) = (json!(batch), json!(reversed));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let app = app.clone();
        let batch = if i % 2 == 0 {
            batch.clone()
        } else {
            reversed.clone()
        };
        tasks.push(tokio::spawn(async move { app.record(batch).await }));
    }
    let mut accepted = 0;
    let mut duplicates = 0;
    for task in tasks {
        let result = task.await.unwrap();
        accepted += result["accepted"].as_i64().unwrap();
        duplicates += result["duplicates"].as_i64().unwrap();
    }
    assert_eq!(
        accepted, 100,
        "each id accepted exactly once across all requests"
    );
    assert_eq!(duplicates, 700);
    assert_eq!(app.table_count("events").await, 100);
}

#[tokio::test]
async fn an_empty_batch_is_answered_with_no_results() {
    let app = spawn_app().await;
    let result = app.record(json!([])).await;
    assert_eq!(
        result,
        json!({ "accepted": 0, "duplicates": 0, "rejected": 0, "results": [] })
    );
}
