//! Request-level protections: per-key rate limits, batched operations, the body limit, and
//! panics turned into answers.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use serde_json::json;

use crate::helpers::{RECORD, pageview, spawn_app_with};

const READ: &str = "{ events { edges { cursor } } }";

#[tokio::test]
async fn a_key_over_its_request_rate_is_told_when_to_retry() {
    let app = spawn_app_with(|s| s.security.rate_limit_requests_per_s = 3).await;
    let auth = format!("Bearer {}", app.read_key);
    let body = json!({ "query": READ }).to_string();
    for _ in 0..3 {
        let (status, _, answer) = app
            .post_raw(body.clone(), &[("authorization", auth.as_bytes())])
            .await;
        assert_eq!(status, 200, "{answer}");
        assert!(answer.get("errors").is_none());
    }
    let (status, headers, answer) = app
        .post_raw(body.clone(), &[("authorization", auth.as_bytes())])
        .await;
    assert_eq!(status, 429);
    assert_eq!(answer["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    let retry_ms = answer["errors"][0]["extensions"]["retryAfterMs"]
        .as_u64()
        .unwrap();
    assert!((1..=334).contains(&retry_ms), "{retry_ms}");
    assert_eq!(headers["retry-after"], "1");
    // Another key is not affected.
    app.ok(&app.admin_key, READ, json!({})).await;
    // After the advised wait the key is served again.
    tokio::time::sleep(Duration::from_millis(retry_ms + 5)).await;
    app.ok(&app.read_key, READ, json!({})).await;
}

#[tokio::test]
async fn a_batch_over_the_event_rate_is_refused_whole() {
    let app = spawn_app_with(|s| s.security.rate_limit_events_per_s = 5).await;
    let batch = |n: usize| {
        json!(
            (0..n)
                .map(|i| pageview(&format!("s{i}"), "2021-01-01T00:00:00Z"))
                .collect::<Vec<_>>()
        )
    };
    assert_eq!(app.record(batch(4)).await["accepted"], 4);
    let auth = format!("Bearer {}", app.ingest_key);
    let body = json!({ "query": RECORD, "variables": { "events": batch(3) } }).to_string();
    let (status, headers, answer) = app
        .post_raw(body, &[("authorization", auth.as_bytes())])
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{answer}"
    );
    assert!(
        answer["errors"][0]["extensions"]["retryAfterMs"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(app.table_count("events").await, 4);
    assert_eq!(app.table_count("event_errors").await, 0);
    let code = app
        .error_code(Some(&app.ingest_key), RECORD, json!({ "events": batch(6) }))
        .await;
    assert_eq!(
        code, "LIMIT_EXCEEDED",
        "a batch larger than the burst can never pass"
    );
    assert_eq!(app.table_count("events").await, 4);
}

#[tokio::test]
async fn batched_operations_run_up_to_the_limit() {
    let app = spawn_app_with(|s| s.limits.max_batch_operations = 2).await;
    let auth = format!("Bearer {}", app.read_key);
    let ops = |n: usize| serde_json::to_string(&vec![json!({ "query": READ }); n]).unwrap();
    let (status, _, answer) = app
        .post_raw(ops(2), &[("authorization", auth.as_bytes())])
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer.as_array().unwrap().len(), 2);
    let (status, _, answer) = app
        .post_raw(ops(3), &[("authorization", auth.as_bytes())])
        .await;
    assert_eq!(status, 400);
    assert_eq!(answer["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
}

#[tokio::test]
async fn a_body_of_undeclared_length_over_the_limit_is_refused() {
    let app = spawn_app_with(|s| s.limits.max_body_bytes = 1_000).await;
    let chunks: Vec<Result<String, std::io::Error>> =
        (0..10).map(|_| Ok("x".repeat(200))).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let (status, _, answer) = app.post_raw(body, &[]).await;
    assert_eq!(status, 413);
    assert_eq!(answer["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
}

#[tokio::test]
async fn a_panic_becomes_an_internal_answer_with_a_request_id() {
    async fn boom() -> &'static str {
        panic!("secret internals")
    }
    let router = Router::new().route("/boom", get(boom));
    let app = the_eye::server::with_layers(
        router,
        &the_eye::config::Limits::default(),
        &the_eye::config::ConnectionSettings::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/boom", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 500);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let answer: serde_json::Value = response.json().await.unwrap();
    let error = &answer["errors"][0];
    assert_eq!(error["extensions"]["code"], "INTERNAL");
    assert_eq!(error["extensions"]["requestId"], id.as_str());
    assert!(!answer.to_string().contains("secret"));
    // The server keeps serving.
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 500);
    server.abort();
}
