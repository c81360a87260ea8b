//! Metrics, read through a real scrape of the app under test.
//!
//! Its own test binary, so its own process: `metrics` has one recorder per process, and the
//! `api` binary's tests, running alongside, would move the counters that carry no application
//! label (refusals). Counters with an `application` label are read for an application only
//! this test uses. The tests here make no refusals other than the ones they count.

#[path = "api/helpers/mod.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;

use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};

use helpers::{RECORD, TestApp, pageview, spawn_app_with};
use serde_json::json;
use the_eye::auth::{Scope, Scopes, keys};

/// Held from choosing a free port until the server listens on it, so that the two tests of
/// this process cannot choose the same one.
static CHOOSING_PORT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The app with metrics on a free local port, and the scrape URL, once it answers.
async fn spawn_with_metrics(max_events_per_batch: usize) -> (TestApp, String) {
    let _choosing = CHOOSING_PORT.lock().await;
    let address: SocketAddr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let app = spawn_app_with(|s| {
        s.metrics_listen = Some(address);
        s.limits.max_events_per_batch = max_events_per_batch;
    })
    .await;
    let url = format!("http://{address}/metrics");
    // The server binds the metrics listener after migrating the database.
    for _ in 0..200 {
        if app.client.get(&url).send().await.is_ok() {
            return (app, url);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the metrics listener did not start on {address}");
}

async fn scrape(app: &TestApp, url: &str) -> String {
    let response = app.client.get(url).send().await.expect("scrape");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.expect("scrape body")
}

/// The value of the sample `name{labels}` (labels in the order the service sets them); 0 when
/// the series does not exist yet.
fn sample(scrape: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    let series = if labels.is_empty() {
        format!("{name} ")
    } else {
        format!("{name}{{{}}} ", labels.join(","))
    };
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0.0, |value| value.trim().parse().expect("a number"))
}

/// A key with `scope` for a new application only this test uses.
async fn key_for_new_app(app: &TestApp, scope: Scope) -> (String, String) {
    let name = format!("metrics-{}", uuid::Uuid::new_v4().simple());
    let key = keys::create_key(&app.db, &name, Scopes::of([scope]))
        .await
        .expect("create key");
    (name, key.secret)
}

const T: &str = "2026-01-01T00:00:00Z";

#[tokio::test]
async fn counters_move_exactly_as_events_are_recorded_duplicated_rejected_and_refused() {
    let (app, url) = spawn_with_metrics(3).await;
    let (application, key) = key_for_new_app(&app, Scope::Ingest).await;
    let events = |status: &'static str| [("application", application.as_str()), ("status", status)];
    let reasons =
        |reason: &'static str| [("application", application.as_str()), ("reason", reason)];
    let before = scrape(&app, &url).await;

    let mut with_id = pageview("s1", T);
    with_id["id"] = json!("e1");
    let mut not_object = pageview("s1", T);
    not_object["data"] = json!([1]);
    let first = app
        .record_as(
            &key,
            json!([with_id.clone(), pageview("s2", T), not_object]),
        )
        .await;
    let future = pageview("s3", "2999-01-01T00:00:00Z");
    let second = app.record_as(&key, json!([with_id, future])).await;
    assert_eq!(
        [&first["accepted"], &first["duplicates"], &first["rejected"]],
        [&json!(2), &json!(0), &json!(1)]
    );
    assert_eq!(
        [
            &second["accepted"],
            &second["duplicates"],
            &second["rejected"]
        ],
        [&json!(0), &json!(1), &json!(1)]
    );
    let unauthenticated = app.error_code(None, RECORD, json!({ "events": [] })).await;
    let forbidden = app
        .error_code(Some(&app.read_key), RECORD, json!({ "events": [] }))
        .await;
    let four = json!({ "events": [pageview("s", T), pageview("s", T), pageview("s", T), pageview("s", T)] });
    let too_many = app.error_code(Some(&key), RECORD, four).await;
    assert_eq!(
        [
            unauthenticated.as_str(),
            forbidden.as_str(),
            too_many.as_str()
        ],
        ["UNAUTHENTICATED", "FORBIDDEN", "LIMIT_EXCEEDED"]
    );
    let after = scrape(&app, &url).await;

    let delta = |name: &str, labels: &[(&str, &str)]| {
        sample(&after, name, labels) - sample(&before, name, labels)
    };
    assert_eq!(delta("eye_events_total", &events("accepted")), 2.0);
    assert_eq!(delta("eye_events_total", &events("duplicate")), 1.0);
    assert_eq!(delta("eye_events_total", &events("rejected")), 2.0);
    assert_eq!(
        delta("eye_event_rejections_total", &reasons("DATA_NOT_OBJECT")),
        1.0
    );
    assert_eq!(
        delta(
            "eye_event_rejections_total",
            &reasons("TIMESTAMP_IN_FUTURE")
        ),
        1.0
    );
    assert_eq!(
        delta("eye_event_rejections_total", &reasons("SCHEMA_VIOLATION")),
        0.0
    );
    for code in ["UNAUTHENTICATED", "FORBIDDEN", "LIMIT_EXCEEDED"] {
        assert_eq!(
            delta("eye_refusals_total", &[("code", code)]),
            1.0,
            "{code}"
        );
    }
    assert_eq!(
        delta("eye_refusals_total", &[("code", "RATE_LIMITED")]),
        0.0
    );
    // The two accepted events wait for the job, which this app runs only on demand.
    assert_eq!(sample(&after, "eye_processing_backlog_events", &[]), 2.0);
    app.process().await;
    let processed = scrape(&app, &url).await;
    assert_eq!(
        sample(&processed, "eye_processing_backlog_events", &[]),
        0.0
    );
    assert_eq!(sample(&processed, "eye_processing_lag_seconds", &[]), 0.0);
    let build = [("version", env!("CARGO_PKG_VERSION"))];
    assert_eq!(sample(&processed, "eye_build_info", &build), 1.0);
}

/// Every metric family the README lists, as it appears once each has moved.
const FAMILIES: [(&str, &str); 17] = [
    ("eye_build_info", "gauge"),
    ("eye_events_total", "counter"),
    ("eye_event_rejections_total", "counter"),
    ("eye_record_requests_total", "counter"),
    ("eye_record_ack_seconds", "histogram"),
    ("eye_commit_events", "histogram"),
    ("eye_commit_batches", "histogram"),
    ("eye_commit_seconds", "histogram"),
    ("eye_commits_total", "counter"),
    ("eye_job_steps_total", "counter"),
    ("eye_job_step_seconds", "histogram"),
    ("eye_job_events_total", "counter"),
    ("eye_processing_backlog_events", "gauge"),
    ("eye_processing_lag_seconds", "gauge"),
    ("eye_db_pool_connections", "gauge"),
    ("eye_refusals_total", "counter"),
    ("eye_record_ack_seconds_bucket", "-"),
];

#[tokio::test]
async fn a_real_scrape_passes_promtool_check_metrics() {
    let (app, url) = spawn_with_metrics(1_000).await;
    let (_, key) = key_for_new_app(&app, Scope::Ingest).await;
    let mut not_object = pageview("s", T);
    not_object["data"] = json!("x");
    app.record_as(&key, json!([pageview("s", T), not_object]))
        .await;
    app.process().await;
    let text = scrape(&app, &url).await;
    // The refusal series exists once anything was refused; this test refuses nothing, so
    // that the other test's refusal counts stay exact. Its TYPE line is checked there.
    for (family, kind) in FAMILIES.iter().filter(|(f, _)| *f != "eye_refusals_total") {
        if *kind == "-" {
            assert!(
                text.contains(&format!("\n{family}{{le=\"0.001\"}} ")),
                "{family}"
            );
        } else {
            assert!(
                text.contains(&format!("# TYPE {family} {kind}\n")),
                "{family}\n{text}"
            );
        }
    }

    let promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match promtool {
        Ok(child) => child,
        Err(err) => {
            assert!(
                std::env::var("EYE_REQUIRE_PROMTOOL").as_deref() != Ok("1"),
                "EYE_REQUIRE_PROMTOOL=1 but promtool cannot be run: {err}"
            );
            eprintln!("promtool not found (Debian package `prometheus`); check skipped");
            return;
        }
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().expect("promtool ran");
    let said = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{said}\n{text}"
    );
    assert_eq!(said.trim(), "", "promtool found problems:\n{text}");
}
