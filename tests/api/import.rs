//! `the-eye import`: NDJSON lines are validated and stored exactly like `recordEvents` events,
//! and the report counts each outcome.

use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::{TestApp, event, spawn_app};

fn import(app: &TestApp, path: &std::path::Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_the-eye"))
        .args(["import", path.to_str().unwrap(), "--app", "importer"])
        .args([
            "--max-commit-events",
            "2",
            "--database-url",
            &app.database_url,
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let last = stdout.lines().last().unwrap();
    // "read N lines in T ms: …": the timing varies, the counts must not.
    last.split_once(": ").unwrap().1.to_string()
}

fn ndjson(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[tokio::test]
async fn import_validates_each_line_and_reports_exact_counts() {
    let app = spawn_app().await;
    let invalid = json!({
        "sessionId": "s1", "category": "page interaction", "name": "pageview",
        "data": { "path": "/" }, "timestamp": "2021-01-01T09:00:03Z"
    });
    let mut text = ndjson(&[
        event(
            "s1",
            "page interaction",
            "pageview",
            "2021-01-01T09:00:00Z",
            Some("a"),
        ),
        event(
            "s1",
            "page interaction",
            "cta click",
            "2021-01-01T09:00:01Z",
            Some("b"),
        ),
        event(
            "s2",
            "form interaction",
            "submit",
            "2021-01-01T09:00:02Z",
            None,
        ),
        invalid,
        // The same id again: a duplicate, even inside one file.
        event(
            "s1",
            "page interaction",
            "pageview",
            "2021-01-01T09:00:00Z",
            Some("a"),
        ),
    ]);
    text.push_str("\nnot json\n{\"sessionId\": \"s3\"}\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    std::fs::write(&path, text).unwrap();

    let summary = import(&app, &path);
    assert_eq!(
        summary, "3 accepted, 1 duplicates, 1 rejected, 2 unreadable",
        "7 non-blank lines"
    );

    let counts = app.counts("SESSION", json!({})).await;
    assert_eq!(counts, [("s1".to_string(), 2), ("s2".to_string(), 1)]);
    let data = app
        .ok(
            &app.read_key,
            "{ eventErrors { edges { node { index sessionId application { name } reasons { code path } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["eventErrors"]["edges"],
        json!([{ "node": {
            "index": 3, "sessionId": "s1", "application": { "name": "importer" },
            "reasons": [{ "code": "SCHEMA_VIOLATION", "path": "/data/host" }]
        } }])
    );

    // Importing the same file again stores no event twice; the invalid line is recorded again.
    let summary = import(&app, &path);
    assert_eq!(
        summary,
        "0 accepted, 4 duplicates, 1 rejected, 2 unreadable"
    );
    assert_eq!(app.table_count("events").await, 3);
    assert_eq!(app.table_count("event_errors").await, 2);
}
