//! The dashboard: served at `/dashboard` (with `/` redirecting there) under its
//! Content-Security-Policy with embedded assets only, and driven in headless Chromium by
//! `clients/browser/dashboard.test.mjs` (see that file for what a person must see).
//!
//! The browser test needs what GraphiQL's does (see `browser.rs`) and is skipped the same way.
//! Its screenshot goes to the test's temporary directory; `EYE_UPDATE_SCREENSHOT=1` writes it
//! to `clients/browser/dashboard.png` instead, the picture in the README.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::browser::{browser_or_skip, node_test};
use crate::helpers::{describe_output, event, repository, spawn_app};

const SESSION_A: &str = "dash-session-a";
const SESSION_B: &str = "dash-session-b";
/// The event recorded once the page is open, which the live tail must show.
const LIVE_EVENT: &str = "dash-live-1";
/// How the live tail gets new events: over the subscriptions' websocket.
const LIVE_MODE: &str = "subscriptions";
/// Longest wait for the page to say it is open.
const PAGE_OPEN_TIMEOUT: Duration = Duration::from_secs(150);

#[tokio::test]
async fn the_dashboard_is_served_at_the_root_with_embedded_assets_only() {
    let app = spawn_app().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let root = no_redirects.get(&app.url).send().await.unwrap();
    assert_eq!(root.status(), 303);
    assert_eq!(root.headers()["location"], "/dashboard");

    let page = app.client.get(&app.url).send().await.unwrap();
    assert_eq!(page.url().path(), "/dashboard");
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["content-security-policy"],
        the_eye::dashboard::CONTENT_SECURITY_POLICY
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("<title>The Eye — Dashboard</title>"));
    assert!(!html.contains("https://") && !html.contains("http://"));
    for (name, content_type, bytes) in the_eye::dashboard::ASSETS {
        let url = format!("{}/dashboard/assets/{name}", app.url);
        let response = app.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(response.headers()["content-type"], *content_type, "{name}");
        assert_eq!(&response.bytes().await.unwrap()[..], *bytes, "{name}");
    }
    let missing = format!("{}/dashboard/assets/nope.js", app.url);
    assert_eq!(app.client.get(missing).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn the_dashboard_works_in_a_browser() {
    let Some(chromium) = browser_or_skip() else {
        return;
    };
    let app = spawn_app().await;
    let recorded = app
        .record(json!([
            // Out of time order: the session explorer sorts them.
            event(
                SESSION_A,
                "page interaction",
                "pageview",
                "2021-01-01T10:05:00Z",
                Some("dash-3")
            ),
            event(
                SESSION_A,
                "page interaction",
                "pageview",
                "2021-01-01 09:15:27.243860",
                Some("dash-1")
            ),
            event(
                SESSION_A,
                "page interaction",
                "cta click",
                "2021-01-01T10:40:00+01:00",
                Some("dash-2")
            ),
            event(
                SESSION_B,
                "form interaction",
                "submit",
                "2021-01-01T11:30:00Z",
                Some("dash-4")
            ),
            // At the end of the half-open range: not in the chart nor in the top lists.
            event(
                SESSION_B,
                "page interaction",
                "pageview",
                "2021-01-01T12:00:00Z",
                Some("dash-5")
            ),
            event(
                SESSION_B,
                "page interaction",
                "pageview",
                "2021-01-01 25:00:00",
                None
            ),
        ]))
        .await;
    assert_eq!(
        (&recorded["accepted"], &recorded["rejected"]),
        (&json!(5), &json!(1))
    );

    let dir = tempfile::tempdir().unwrap();
    let page_open = dir.path().join("page-open");
    let screenshot = screenshot_path();
    let mut node = node_test("dashboard.test.mjs", &chromium, &app.url, &app.read_key);
    node.env("EYE_EXPECTED", expected().to_string())
        .env("EYE_PAGE_OPEN", &page_open)
        .env("EYE_SCREENSHOT", &screenshot);
    // The server runs on this test's runtime: wait for Node on a blocking thread.
    let run = tokio::task::spawn_blocking(move || node.output());

    let opened = wait_for(&page_open, &run).await;
    if opened {
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
        let live = app
            .record(json!([
                event(SESSION_B, "page interaction", "cta click", &now, Some(LIVE_EVENT)),
                {"sessionId": SESSION_B, "category": "page interaction", "name": "pageview",
                 "data": {"path": "/"}, "timestamp": now},
            ]))
            .await;
        assert_eq!(
            (&live["accepted"], &live["rejected"]),
            (&json!(1), &json!(1))
        );
    }
    let output = run.await.unwrap().expect("running node");
    assert!(output.status.success(), "{}", describe_output(&output));
    assert!(opened, "the page never said it was open");
    println!("screenshot: {}", screenshot.display());
}

/// What the page must show for the events recorded above, in Paris time.
fn expected() -> Value {
    let page = |extra: Value| {
        let mut data = json!({"host": "example.com", "path": "/"});
        data.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        data
    };
    json!({
        "timeZone": "Europe/Paris",
        // Local date-times: 09:00 to 12:00 UTC.
        "range": {"from": "2021-01-01T10:00", "to": "2021-01-01T13:00"},
        "series": {
            "bucket": "HOUR",
            "timeZone": "Europe/Paris",
            "starts": ["2021-01-01T09:00:00.000000Z", "2021-01-01T10:00:00.000000Z",
                       "2021-01-01T11:00:00.000000Z"],
            "lines": [
                {"label": "page interaction", "values": [2, 1, 0]},
                {"label": "form interaction", "values": [0, 0, 1]},
            ],
        },
        "tops": {
            "categories": [["page interaction", 3], ["form interaction", 1]],
            "names": [["pageview", 2], ["cta click", 1], ["submit", 1]],
            "sessions": [[SESSION_A, 3], [SESSION_B, 1]],
        },
        "session": {"id": SESSION_A, "events": [
            {"id": "dash-1", "data": page(json!({}))},
            {"id": "dash-2", "data": page(json!({"element": "buy"}))},
            {"id": "dash-3", "data": page(json!({}))},
        ]},
        "live": {"mode": LIVE_MODE, "eventId": LIVE_EVENT,
                 "earlierRejection": "INVALID_TIMESTAMP", "laterRejection": "SCHEMA_VIOLATION"},
    })
}

/// Where the screenshot goes: the README's picture with `EYE_UPDATE_SCREENSHOT=1`, else a
/// temporary file.
fn screenshot_path() -> PathBuf {
    if std::env::var("EYE_UPDATE_SCREENSHOT").as_deref() == Ok("1") {
        repository().join("clients/browser/dashboard.png")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png")
    }
}

/// Waits until `file` exists (true) or `run` has ended or timed out without it (false).
async fn wait_for<T>(file: &Path, run: &tokio::task::JoinHandle<T>) -> bool {
    let deadline = tokio::time::Instant::now() + PAGE_OPEN_TIMEOUT;
    while !file.exists() {
        if run.is_finished() || tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}
