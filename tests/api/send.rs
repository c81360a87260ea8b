//! `the-eye send FILE --url URL --key KEY`: a file of events streamed to a running server, a
//! summary, rejected lines written with their reasons, an exit code that tells, and a second
//! run on the same file that stores nothing twice.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use crate::helpers::{TestApp, event, pageview, spawn_app};

/// Runs `the-eye send` on a blocking thread (the server runs on this test's runtime).
async fn send(app: &TestApp, file: &Path) -> Output {
    let args = vec![
        "send".to_string(),
        file.display().to_string(),
        "--url".into(),
        app.url.clone(),
        "--key".into(),
        app.ingest_key.clone(),
    ];
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_the-eye"))
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// The summary line: everything after the rate.
fn summary(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().next().unwrap_or_default();
    line.split_once("events/s): ")
        .map_or(line.to_string(), |(_, counts)| counts.to_string())
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[tokio::test]
async fn a_clean_file_is_stored_once_however_often_it_is_sent() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    // Half with ids, half without: those get ids derived from their content by the server.
    let lines: Vec<String> = (0..40)
        .map(|i| {
            let timestamp = format!("2021-01-01T10:00:{i:02}Z");
            let id = format!("evt-{i}");
            let id = (i % 2 == 0).then_some(id.as_str());
            event("s1", "page interaction", "pageview", &timestamp, id).to_string()
        })
        .collect();
    write_lines(&file, &lines);

    let first = send(&app, &file).await;
    assert!(first.status.success(), "{first:?}");
    assert_eq!(
        summary(&first),
        "40 accepted, 0 duplicates, 0 rejected, 0 unreadable, 0 not delivered"
    );
    let second = send(&app, &file).await;
    assert!(second.status.success(), "{second:?}");
    assert_eq!(
        summary(&second),
        "0 accepted, 40 duplicates, 0 rejected, 0 unreadable, 0 not delivered"
    );
    assert_eq!(app.table_count("events").await, 40);
    assert!(!dir.path().join("events.ndjson.rejected.ndjson").exists());
}

#[tokio::test]
async fn rejected_and_unreadable_lines_are_written_with_their_reasons_and_fail_the_run() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mixed.ndjson");
    let no_element = json!({
        "id": "bad-1", "sessionId": "s", "category": "page interaction", "name": "cta click",
        "data": {"host": "h", "path": "/"}, "timestamp": "2021-01-01T00:00:00Z",
    });
    let lines = vec![
        pageview("s", "2021-01-01T00:00:01Z").to_string(),
        pageview("s", "2021-01-01T00:00:02Z").to_string(),
        String::new(),
        no_element.to_string(),
        "not an event".to_string(),
        pageview("s", "2021-01-01T00:00:03Z").to_string(),
    ];
    write_lines(&file, &lines);

    let output = send(&app, &file).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(
        summary(&output),
        "3 accepted, 0 duplicates, 1 rejected, 1 unreadable, 0 not delivered"
    );
    let rejected =
        std::fs::read_to_string(dir.path().join("mixed.ndjson.rejected.ndjson")).unwrap();
    let mut entries: Vec<Value> = rejected
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    entries.sort_by_key(|e| e["line"].as_u64());
    let digest: Vec<(u64, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["reasons"][0]["code"].as_str().unwrap(),
                e["reasons"][0]["path"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        digest,
        [
            (4, "SCHEMA_VIOLATION", "/data/element"),
            (5, "UNREADABLE", "-")
        ]
    );
    assert_eq!(entries[0]["event"], no_element);
    assert_eq!(entries[1]["event"], "not an event");
    assert_eq!(app.table_count("events").await, 3);

    let again = send(&app, &file).await;
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        summary(&again),
        "0 accepted, 3 duplicates, 1 rejected, 1 unreadable, 0 not delivered"
    );
    assert_eq!(app.table_count("events").await, 3);
}

#[tokio::test]
async fn a_refused_key_stops_the_run_and_nothing_is_stored() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    write_lines(&file, &[pageview("s", "2021-01-01T00:00:01Z").to_string()]);
    let args = [
        "send",
        file.to_str().unwrap(),
        "--url",
        &app.url,
        "--key",
        &app.read_key,
    ]
    .map(str::to_string);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_the-eye"))
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        summary(&output),
        "0 accepted, 0 duplicates, 0 rejected, 0 unreadable, 1 not delivered"
    );
    let rejected =
        std::fs::read_to_string(dir.path().join("events.ndjson.rejected.ndjson")).unwrap();
    let entry: Value = serde_json::from_str(rejected.trim()).unwrap();
    assert_eq!(entry["line"], 1);
    assert_eq!(entry["reasons"][0]["code"], "NOT_DELIVERED");
    assert!(
        entry["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("FORBIDDEN"),
        "{entry}"
    );
    assert_eq!(app.table_count("events").await, 0);
}
