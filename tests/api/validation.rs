//! Validation: every kind of rejection, with its code and path, kept as a queryable error
//! while the rest of the batch is stored.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::{RECORD, event, pageview, spawn_app, spawn_app_at, spawn_app_with};
use the_eye::config::UnknownEventTypes;

/// Sends `bad` between two valid events and returns the reasons of `bad` as (code, path),
/// after checking that the same reasons and the event as sent are kept in `eventErrors`.
async fn reasons_for(bad: Value) -> Reasons {
    let app = spawn_app().await;
    let batch = json!([
        pageview("s", "2021-01-01T00:00:00Z"),
        bad.clone(),
        pageview("s", "2021-01-01T00:00:01Z")
    ]);
    let result = app.record(batch).await;
    assert_eq!(
        result["accepted"], 2,
        "the valid events are stored: {result}"
    );
    assert_eq!(result["rejected"], 1);
    let rejected = &result["results"][1];
    assert_eq!(rejected["status"], "REJECTED");
    assert_eq!(rejected["index"], 1);
    assert_eq!(app.table_count("events").await, 2);
    let answered = as_pairs(&rejected["errors"]);

    let query =
        "{ eventErrors { edges { node { id index payload reasons { code path message } } } } }";
    let data = app.ok(&app.read_key, query, json!({})).await;
    let edges = data["eventErrors"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    let node = &edges[0]["node"];
    assert_eq!(node["id"], rejected["errorId"]);
    assert_eq!(node["index"], 1);
    assert_eq!(as_pairs(&node["reasons"]), answered);
    let nul_free = !bad.to_string().contains("\\u0000");
    if nul_free {
        assert_eq!(node["payload"], bad, "the event exactly as sent");
    }
    answered
}

fn as_pairs(errors: &Value) -> Reasons {
    errors
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(!e["message"].as_str().unwrap().is_empty());
            let path = e["path"].as_str().unwrap_or("").to_string();
            (e["code"].as_str().unwrap().to_string(), path)
        })
        .collect()
}

/// Reasons as (code, path) pairs.
type Reasons = Vec<(String, String)>;

fn with(mut base: Value, field: &str, value: Value) -> Value {
    base[field] = value;
    base
}

fn pairs(expected: &[(&str, &str)]) -> Reasons {
    expected
        .iter()
        .map(|(c, p)| (c.to_string(), p.to_string()))
        .collect()
}

#[tokio::test]
async fn each_kind_of_invalid_event_is_rejected_with_its_code_and_path() {
    let ok = pageview("s", "2021-01-01T00:00:00Z");
    let cases: Vec<(&str, Value, Reasons)> = vec![
        (
            "missing required property",
            with(ok.clone(), "data", json!({ "host": "h" })),
            pairs(&[("SCHEMA_VIOLATION", "/data/path")]),
        ),
        (
            "empty host",
            with(ok.clone(), "data", json!({ "host": "", "path": "/" })),
            pairs(&[("SCHEMA_VIOLATION", "/data/host")]),
        ),
        (
            "wrong type",
            with(ok.clone(), "data", json!({ "host": "h", "path": 3 })),
            pairs(&[("SCHEMA_VIOLATION", "/data/path")]),
        ),
        (
            "unexpected property",
            with(
                ok.clone(),
                "data",
                json!({ "host": "h", "path": "/", "x": 1 }),
            ),
            pairs(&[("SCHEMA_VIOLATION", "/data/x")]),
        ),
        (
            "data not an object",
            with(ok.clone(), "data", json!([1, 2])),
            pairs(&[("DATA_NOT_OBJECT", "/data")]),
        ),
        (
            "data a string",
            with(ok.clone(), "data", json!("hello")),
            pairs(&[("DATA_NOT_OBJECT", "/data")]),
        ),
        (
            "future timestamp",
            with(ok.clone(), "timestamp", json!("2999-01-01T00:00:00Z")),
            pairs(&[("TIMESTAMP_IN_FUTURE", "/timestamp")]),
        ),
        (
            "malformed timestamp",
            with(ok.clone(), "timestamp", json!("yesterday")),
            pairs(&[("INVALID_TIMESTAMP", "/timestamp")]),
        ),
        (
            "impossible date",
            with(ok.clone(), "timestamp", json!("2021-02-30 10:00:00")),
            pairs(&[("INVALID_TIMESTAMP", "/timestamp")]),
        ),
        (
            "numeric timestamp",
            with(ok.clone(), "timestamp", json!(1609492527)),
            pairs(&[("INVALID_TIMESTAMP", "/timestamp")]),
        ),
        (
            "empty session",
            with(ok.clone(), "sessionId", json!("")),
            pairs(&[("EMPTY_VALUE", "/sessionId")]),
        ),
        (
            "long session",
            with(ok.clone(), "sessionId", json!("x".repeat(129))),
            pairs(&[("VALUE_TOO_LONG", "/sessionId")]),
        ),
        (
            "empty category",
            with(ok.clone(), "category", json!(" ")),
            pairs(&[("EMPTY_VALUE", "/category")]),
        ),
        (
            "long name",
            with(ok.clone(), "name", json!("n".repeat(129))),
            pairs(&[("VALUE_TOO_LONG", "/name")]),
        ),
        (
            "empty id",
            with(ok.clone(), "id", json!("")),
            pairs(&[("EMPTY_VALUE", "/id")]),
        ),
        (
            "NUL in session",
            with(ok.clone(), "sessionId", json!("a\u{0}b")),
            pairs(&[("INVALID_CHARACTER", "/sessionId")]),
        ),
        (
            "NUL in data",
            with(
                event("s", "x", "y", "2021-01-01T00:00:00Z", None),
                "data",
                json!({ "a": ["\u{0}"] }),
            ),
            pairs(&[("INVALID_CHARACTER", "/data/a/0")]),
        ),
        (
            "too large",
            with(
                event("s", "x", "y", "2021-01-01T00:00:00Z", None),
                "data",
                json!({ "blob": "x".repeat(33 * 1024) }),
            ),
            pairs(&[("DATA_TOO_LARGE", "/data")]),
        ),
    ];
    for (what, bad, expected) in cases {
        assert_eq!(reasons_for(bad).await, expected, "{what}");
    }
}

#[tokio::test]
async fn every_reason_is_reported_not_only_the_first() {
    let bad = json!({
        "sessionId": "",
        "category": "page interaction",
        "name": "pageview",
        "data": { "host": "", "extra": true },
        "timestamp": "2999-01-01T00:00:00Z",
    });
    let mut reasons = reasons_for(bad).await;
    reasons.sort();
    let expected = pairs(&[
        ("EMPTY_VALUE", "/sessionId"),
        ("SCHEMA_VIOLATION", "/data/extra"),
        ("SCHEMA_VIOLATION", "/data/host"),
        ("SCHEMA_VIOLATION", "/data/path"),
        ("TIMESTAMP_IN_FUTURE", "/timestamp"),
    ]);
    assert_eq!(reasons, expected);
}

#[tokio::test]
async fn rejected_events_are_queryable_errors_with_the_payload_as_sent() {
    let app = spawn_app().await;
    let bad = json!({
        "id": "evt-7",
        "sessionId": "s1",
        "category": "page interaction",
        "name": "pageview",
        "data": { "host": "h" },
        "timestamp": "2021-01-01 09:15:27.243860",
    });
    let result = app
        .record(json!([pageview("s1", "2021-01-01T00:00:00Z"), bad.clone()]))
        .await;
    let error_id = result["results"][1]["errorId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(result["results"][1]["id"], "evt-7");

    let data = app
        .ok(
            &app.read_key,
            "{ eventErrors { edges { node { id index eventId sessionId category name payload receivedAt application { name } reasons { code path message } } } pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    let edges = data["eventErrors"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    let node = &edges[0]["node"];
    assert_eq!(node["id"], error_id);
    assert_eq!(node["index"], 1);
    assert_eq!(node["eventId"], "evt-7");
    assert_eq!(node["sessionId"], "s1");
    assert_eq!(node["category"], "page interaction");
    assert_eq!(node["name"], "pageview");
    assert_eq!(node["payload"], bad, "the event exactly as sent");
    assert_eq!(node["application"]["name"], "shop");
    assert_eq!(node["reasons"][0]["code"], "SCHEMA_VIOLATION");
    assert_eq!(node["reasons"][0]["path"], "/data/path");
    assert!(node["receivedAt"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn errors_can_be_filtered_by_code_and_time_and_paginated() {
    let app = spawn_app().await;
    let future = with(
        pageview("s", "x"),
        "timestamp",
        json!("2999-01-01T00:00:00Z"),
    );
    let malformed = with(pageview("s", "x"), "timestamp", json!("nope"));
    let schema = with(pageview("s", "2021-01-01T00:00:00Z"), "data", json!({}));
    app.record(json!([
        future.clone(),
        malformed.clone(),
        schema.clone(),
        future
    ]))
    .await;

    let query = "query($f: EventErrorFilter, $after: String) { eventErrors(filter: $f, first: 1, after: $after) { edges { node { index reasons { code } } } pageInfo { hasNextPage endCursor } } }";
    let by_code = |code: &str| json!({ "f": { "code": code } });
    let first = app
        .ok(&app.read_key, query, by_code("TIMESTAMP_IN_FUTURE"))
        .await;
    let page = &first["eventErrors"];
    assert_eq!(
        page["edges"][0]["node"]["index"], 3,
        "newest first; same batch by position descending"
    );
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let cursor = page["pageInfo"]["endCursor"].clone();
    let second = app
        .ok(
            &app.read_key,
            query,
            json!({ "f": { "code": "TIMESTAMP_IN_FUTURE" }, "after": cursor }),
        )
        .await;
    assert_eq!(second["eventErrors"]["edges"][0]["node"]["index"], 0);
    assert_eq!(second["eventErrors"]["pageInfo"]["hasNextPage"], false);

    let invalid = app
        .ok(&app.read_key, query, by_code("INVALID_TIMESTAMP"))
        .await;
    assert_eq!(invalid["eventErrors"]["edges"][0]["node"]["index"], 1);
    let none = app
        .ok(
            &app.read_key,
            query,
            json!({ "f": { "to": "2000-01-01T00:00:00Z" } }),
        )
        .await;
    assert_eq!(none["eventErrors"]["edges"], json!([]));
    let recent = app
        .ok(
            &app.read_key,
            query,
            json!({ "f": { "from": "2000-01-01T00:00:00Z", "code": "SCHEMA_VIOLATION" } }),
        )
        .await;
    assert_eq!(recent["eventErrors"]["edges"][0]["node"]["index"], 2);
}

#[tokio::test]
async fn the_future_tolerance_is_exact_to_the_microsecond() {
    let now: DateTime<Utc> = "2024-06-01T12:00:00Z".parse().unwrap();
    let app = spawn_app_at(now).await;
    let edge = now + Duration::minutes(5);
    let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let result = app
        .record(json!([
            pageview("s", &fmt(edge)),
            pageview("s", &fmt(edge + Duration::microseconds(1))),
        ]))
        .await;
    assert_eq!(result["results"][0]["status"], "ACCEPTED");
    assert_eq!(result["results"][1]["status"], "REJECTED");
    assert_eq!(
        result["results"][1]["errors"][0]["code"],
        "TIMESTAMP_IN_FUTURE"
    );
    // The clock moves on: the same event is fine later.
    app.clock.as_ref().unwrap().set(now + Duration::hours(1));
    let later = app
        .record(json!([pageview(
            "s",
            &fmt(edge + Duration::microseconds(1))
        )]))
        .await;
    assert_eq!(later["results"][0]["status"], "ACCEPTED");
}

#[tokio::test]
async fn unknown_event_types_are_accepted_by_default() {
    let app = spawn_app().await;
    let result = app
        .record(json!([event(
            "s",
            "video",
            "play",
            "2021-01-01T00:00:00Z",
            None
        )]))
        .await;
    assert_eq!(result["results"][0]["status"], "ACCEPTED");
}

#[tokio::test]
async fn unknown_event_types_can_be_rejected() {
    let app = spawn_app_with(|s| s.ingest.unknown_event_types = UnknownEventTypes::Reject).await;
    let result = app
        .record(json!([
            event("s", "video", "play", "2021-01-01T00:00:00Z", None),
            pageview("s", "2021-01-01T00:00:00Z"),
        ]))
        .await;
    assert_eq!(result["results"][0]["status"], "REJECTED");
    assert_eq!(
        result["results"][0]["errors"][0]["code"],
        "UNKNOWN_EVENT_TYPE"
    );
    assert_eq!(result["results"][1]["status"], "ACCEPTED");
}

#[tokio::test]
async fn a_batch_over_the_limit_is_refused_whole() {
    let app = spawn_app_with(|s| s.limits.max_events_per_batch = 3).await;
    let batch: Vec<Value> = (0..4)
        .map(|i| pageview("s", &format!("2021-01-01T00:00:0{i}Z")))
        .collect();
    let code = app
        .error_code(Some(&app.ingest_key), RECORD, json!({ "events": batch }))
        .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    assert_eq!(app.table_count("events").await, 0);
    assert_eq!(app.table_count("event_errors").await, 0);
}

#[tokio::test]
async fn a_missing_required_field_fails_the_request_and_stores_nothing() {
    let app = spawn_app().await;
    let mut bad = pageview("s", "2021-01-01T00:00:00Z");
    bad.as_object_mut().unwrap().remove("sessionId");
    let answer = app
        .gql(
            Some(&app.ingest_key),
            RECORD,
            json!({ "events": [pageview("s", "2021-01-01T00:00:00Z"), bad] }),
        )
        .await;
    assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("sessionId"),
        "{answer}"
    );
    assert_eq!(app.table_count("events").await, 0);
}

#[tokio::test]
async fn a_malformed_timestamp_rejects_only_its_event_and_names_its_position() {
    let app = spawn_app().await;
    let result = app
        .record(json!([
            pageview("s", "2021-01-01T00:00:00Z"),
            pageview("s", "2021-01-01T00:00:01Z"),
            pageview("s", "2021-01-01 25:00:00"),
        ]))
        .await;
    assert_eq!(
        (result["accepted"].as_i64(), result["rejected"].as_i64()),
        (Some(2), Some(1))
    );
    let error = &result["results"][2]["errors"][0];
    assert_eq!(error["code"], "INVALID_TIMESTAMP");
    assert_eq!(error["path"], "/timestamp");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("events[2].timestamp \"2021-01-01 25:00:00\""),
        "{message}"
    );
}
