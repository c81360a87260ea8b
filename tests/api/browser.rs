//! GraphiQL in a real browser: `clients/browser/graphiql.test.mjs`, run by Node, drives
//! headless Chromium against this server and checks what a person sees (see that file).
//!
//! The test needs `node`, Chromium (`EYE_CHROMIUM`, default `/usr/bin/chromium`) and
//! `npm ci` run in `clients/browser`. Without them it prints what is missing and passes, so
//! `cargo test` works on a machine without a browser; with `EYE_REQUIRE_BROWSER=1` (CI sets
//! it) a missing piece fails it instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::helpers::{describe_output, node_project_or_skip, repository, spawn_app};

/// The Node project, relative to the repository root.
const PROJECT: &str = "clients/browser";

/// Longest run of the whole Node test file (each step waits 30 s at most).
const NODE_TEST_TIMEOUT: Duration = Duration::from_secs(180);

#[tokio::test]
async fn graphiql_works_in_a_browser() {
    let Some(chromium) = browser_or_skip() else {
        return;
    };
    let app = spawn_app().await;
    let session = "0b5c7a5e-browser";
    let events = json!([
        {"id": "browser-1", "sessionId": session, "category": "page interaction",
         "name": "pageview", "data": {"host": "example.com", "path": "/"},
         "timestamp": "2021-01-01 09:15:27.243860"},
        {"id": "browser-2", "sessionId": session, "category": "page interaction",
         "name": "cta click", "data": {"host": "example.com", "path": "/", "element": "buy"},
         "timestamp": "2021-01-01T10:15:28+01:00"},
    ]);
    assert_eq!(app.record(events).await["accepted"], 2);
    let expected = json!({"edges": [
        {"node": {"id": "browser-1", "category": "page interaction", "name": "pageview",
                  "data": {"host": "example.com", "path": "/"},
                  "timestamp": "2021-01-01T09:15:27.243860Z"}},
        {"node": {"id": "browser-2", "category": "page interaction", "name": "cta click",
                  "data": {"element": "buy", "host": "example.com", "path": "/"},
                  "timestamp": "2021-01-01T09:15:28.000000Z"}},
    ]});
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("graphiql.png");

    let mut node = Command::new("node");
    node.current_dir(repository().join(PROJECT))
        .arg(format!("--test-timeout={}", NODE_TEST_TIMEOUT.as_millis()))
        .args(["--test", "graphiql.test.mjs"])
        .env("EYE_URL", &app.url)
        .env("EYE_READ_KEY", &app.read_key)
        .env("EYE_SESSION_ID", session)
        .env("EYE_EXPECTED_EVENTS", expected.to_string())
        .env("EYE_CHROMIUM", &chromium)
        .env("EYE_SCREENSHOT", &screenshot);
    // The server runs on this test's runtime: wait for Node on a blocking thread.
    let output = tokio::task::spawn_blocking(move || node.output())
        .await
        .unwrap()
        .expect("running node");
    assert!(output.status.success(), "{}", describe_output(&output));
    println!("screenshot: {}", screenshot.display());
}

/// The browser to drive, or `None` when a piece is missing (see [`node_project_or_skip`]).
fn browser_or_skip() -> Option<PathBuf> {
    let chromium = PathBuf::from(
        std::env::var("EYE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string()),
    );
    let missing = (!chromium.is_file())
        .then(|| format!("no browser at {} (set EYE_CHROMIUM)", chromium.display()));
    node_project_or_skip(PROJECT, "playwright-core", missing).map(|()| chromium)
}
