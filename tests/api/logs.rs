//! Logs: `--log-format json` writes one JSON object per line; every GraphQL request gets one
//! line with its id, operation, caller and counts, never the key or a payload; and the group
//! commit that stored a request's events names that request's id. SQLite's worker threads are
//! named for what they serve.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use the_eye::auth::{Scope, Scopes, keys};

use crate::helpers::{ServerProcess, connect_migrated, fresh_database, pageview};

const MARKER: &str = "payload-text-that-must-not-be-logged";

#[tokio::test]
async fn json_logs_have_one_line_per_request_and_name_its_id_in_the_commit() {
    let database = fresh_database().await;
    let database_url = database.url.clone();
    let db = connect_migrated(&database_url).await;
    let key = keys::create_key(&db, "log shop", Scopes::of([Scope::Ingest]))
        .await
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_the-eye"))
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
        .args(["--database-url", &database_url])
        .env("EYE_LOG", "info,the_eye::ingest::writer=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen: Vec<Value> = Vec::new();
    let next = |seen: &mut Vec<Value>| {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("a log line");
        let value: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
        seen.push(value.clone());
        value
    };
    let address = loop {
        let line = next(&mut seen);
        if line["fields"]["message"] == "The Eye is listening" {
            break line["fields"]["address"].as_str().unwrap().to_string();
        }
    };

    let mut rejected = pageview("s1", "2026-01-01T00:00:00Z");
    rejected["data"] = json!([MARKER]);
    let mut accepted = pageview("s1", "2026-01-01T00:00:00Z");
    accepted["data"]["path"] = json!(MARKER);
    let answer: Value = reqwest::Client::new()
        .post(format!("http://{address}/graphql"))
        .bearer_auth(&key.secret)
        .header("x-request-id", "log-test-request-1")
        .json(&json!({
            "query": "mutation LogTest($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }",
            "operationName": "LogTest",
            "variables": { "e": [accepted, rejected] },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["data"]["recordEvents"]["accepted"], 1);

    let request = loop {
        let line = next(&mut seen);
        if line["target"] == "the_eye::request" {
            break line["fields"].clone();
        }
    };
    assert_eq!(
        request,
        json!({
            "message": "graphql request",
            "request_id": "log-test-request-1",
            "operation": "LogTest",
            "application": "log shop",
            "key_id": key.key_id,
            "status": 200,
            "outcome": "ok",
            "duration_ms": request["duration_ms"].as_f64().unwrap(),
            "accepted": 1,
            "duplicates": 0,
            "rejected": 1,
        })
    );
    let _ = child.kill();
    let _ = child.wait();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
        seen.push(serde_json::from_str(&line).unwrap());
    }

    // The commit's line (debug, asked for above) names the request in its span.
    let commit = seen
        .iter()
        .find(|l| l["fields"]["message"] == "group commit")
        .unwrap_or_else(|| panic!("no group commit line in {seen:#?}"));
    assert_eq!(commit["span"]["name"], "group_commit");
    assert_eq!(commit["span"]["request_ids"], "log-test-request-1");
    assert_eq!(commit["span"]["rows"], 2);
    let everything = seen.iter().map(Value::to_string).collect::<String>();
    assert!(!everything.contains(MARKER), "a payload was logged");
    assert!(!everything.contains(&key.secret), "the key was logged");
}

/// `top -H`, `perf` and `/proc` tell SQLite's write connection from the pooled readers: every
/// worker thread is named for what it serves, none keeps sqlx's generic name.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn sqlite_worker_threads_are_named_for_what_they_serve() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("threads.db").display()
    );
    let server = ServerProcess::start(&url, &[]);
    let names = server.thread_names();
    let writers = names
        .iter()
        .filter(|n| n.starts_with("sqlite-write-"))
        .count();
    let readers = names
        .iter()
        .filter(|n| n.starts_with("sqlite-read-"))
        .count();
    assert_eq!(writers, 1, "{names:?}");
    assert!(readers >= 1, "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with("sqlx-sqlite")),
        "{names:?}"
    );
}
