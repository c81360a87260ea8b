//! `TestApp`: the real server on port 0 with a fresh database, and helpers to talk to it.
//!
//! Each test gets its own SQLite file in a temporary directory, or, when
//! `EYE_TEST_POSTGRES_URL` is set, its own freshly created PostgreSQL database.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};
use tempfile::TempDir;
use the_eye::auth::{Scope, Scopes, keys};
use the_eye::clock::{Clock, ManualClock, SystemClock};
use the_eye::config::Settings;
use tokio::sync::oneshot;

mod processes;

pub use processes::{Fixture, ServerProcess};

/// A running server and keys with each scope.
pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    pub admin_key: String,
    pub ingest_key: String,
    pub read_key: String,
    pub database_url: String,
    pub clock: Option<ManualClock>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// Last, so it is dropped after the connections above.
    _database: TestDatabase,
}

/// Spawns the app with default settings, except that the background job only runs on demand.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns the app after letting `configure` change the settings.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn(configure, None).await
}

/// Spawns the app with a clock fixed at `now`.
pub async fn spawn_app_at(now: DateTime<Utc>) -> TestApp {
    spawn(|_| {}, Some(ManualClock::new(now))).await
}

/// Spawns the app with a clock fixed at `now`, after letting `configure` change the settings.
pub async fn spawn_app_at_with(
    now: DateTime<Utc>,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn(configure, Some(ManualClock::new(now))).await
}

async fn spawn(configure: impl FnOnce(&mut Settings), clock: Option<ManualClock>) -> TestApp {
    let database = fresh_database().await;
    let database_url = database.url.clone();
    let mut settings = Settings::default();
    settings.database.database_url = database_url.clone();
    settings.processing.process_interval_ms = 3_600_000;
    configure(&mut settings);

    let db = connect_migrated(&settings.database.database_url).await;
    let key = |app: &'static str, scope: Scope| {
        let db = db.clone();
        async move {
            keys::create_key(&db, app, Scopes::of([scope]))
                .await
                .expect("create key")
                .secret
        }
    };
    let admin_key = key("admin", Scope::Admin).await;
    let ingest_key = key("shop", Scope::Ingest).await;
    let read_key = key("data team", Scope::Read).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let server_clock: Arc<dyn Clock> = match &clock {
        Some(c) => Arc::new(c.clone()),
        None => Arc::new(SystemClock),
    };
    let server = tokio::spawn(the_eye::server::serve_with_clock(
        settings,
        server_clock,
        listener,
        shutdown,
    ));
    TestApp {
        url,
        client: reqwest::Client::new(),
        db,
        admin_key,
        ingest_key,
        read_key,
        database_url,
        clock,
        stop: Some(stop),
        server: Some(server),
        _database: database,
    }
}

/// The first line of a PostgreSQL-only test. Such tests are `#[ignore]`d, so that plain
/// `cargo test` reports them as ignored; CI runs them with `--include-ignored` and
/// `EYE_TEST_POSTGRES_URL` set (`.ci/run`). Run without it, the test fails rather than passes
/// (and [`fresh_database`] fails when the server is unreachable).
pub fn require_postgres() {
    let url = std::env::var("EYE_TEST_POSTGRES_URL").unwrap_or_default();
    assert!(!url.is_empty(), "this test needs EYE_TEST_POSTGRES_URL");
}

/// Each event of the JSON array `events` as its own JSON text, as the SDK's
/// `record_encoded` takes them (valid or not).
pub fn encoded(events: &Value) -> Vec<String> {
    events
        .as_array()
        .expect("an array of events")
        .iter()
        .map(Value::to_string)
        .collect()
}

/// A connection to `database_url`, migrated.
pub async fn connect_migrated(database_url: &str) -> DatabaseConnection {
    let settings = the_eye::config::DatabaseSettings {
        database_url: database_url.to_string(),
        ..Default::default()
    };
    let db = the_eye::db::connect(&settings).await.expect("connect");
    the_eye::db::migrate(&db).await.expect("migrate");
    db
}

/// A database of one test: a SQLite file in its own temporary directory, or, when
/// `EYE_TEST_POSTGRES_URL` is set, a new PostgreSQL database, dropped again when this is
/// dropped, so test runs do not leave databases behind on a shared server.
pub struct TestDatabase {
    pub url: String,
    _dir: TempDir,
    /// The server's URL and the database's name, on PostgreSQL.
    postgres: Option<(String, String)>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((base, name)) = self.postgres.take() else {
            return;
        };
        // `drop` cannot await, and the test's runtime may be the one blocked here: drop the
        // database from a thread of its own. `WITH (FORCE)` ends the connections the test's
        // server may still hold.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let admin = sea_orm::Database::connect(&base).await?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                admin.close().await
            })
        })
        .join();
        if let Ok(Err(err)) = dropped {
            eprintln!("could not drop a test database: {err}");
        }
    }
}

/// A fresh database for one test (see [`TestDatabase`]).
pub async fn fresh_database() -> TestDatabase {
    let dir = tempfile::tempdir().expect("temp dir");
    match std::env::var("EYE_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => {
            let admin = sea_orm::Database::connect(&base)
                .await
                .expect("EYE_TEST_POSTGRES_URL is set but PostgreSQL is unreachable");
            let name = format!("eye_test_{}", uuid::Uuid::new_v4().simple());
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            let (prefix, _) = base.rsplit_once('/').expect("URL with a database name");
            TestDatabase {
                url: format!("{prefix}/{name}"),
                _dir: dir,
                postgres: Some((base, name)),
            }
        }
        _ => TestDatabase {
            url: format!("sqlite://{}?mode=rwc", dir.path().join("eye.db").display()),
            _dir: dir,
            postgres: None,
        },
    }
}

impl TestApp {
    /// Posts a GraphQL request with `key` (or none) and returns the whole JSON answer.
    pub async fn gql(&self, key: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.expect("request");
        response.json().await.expect("JSON answer")
    }

    /// Posts a raw body with extra headers; returns the status, the headers and the body as
    /// JSON (`null` when it is not JSON).
    pub async fn post_raw(
        &self,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, &[u8])],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.url))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            let value = reqwest::header::HeaderValue::from_bytes(value).expect("header value");
            request = request.header(*name, value);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        (
            status,
            headers,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Row counts of the tables a refused request must not change.
    pub async fn snapshot(&self) -> [i64; 4] {
        [
            self.table_count("events").await,
            self.table_count("event_errors").await,
            self.table_count("api_keys").await,
            self.table_count("applications").await,
        ]
    }

    /// Runs a query or mutation that must succeed, returning `data`.
    pub async fn ok(&self, key: &str, query: &str, variables: Value) -> Value {
        let answer = self.gql(Some(key), query, variables).await;
        assert!(
            answer.get("errors").is_none(),
            "unexpected errors: {answer}"
        );
        answer["data"].clone()
    }

    /// The first error's code of a request that must fail.
    pub async fn error_code(&self, key: Option<&str>, query: &str, variables: Value) -> String {
        let answer = self.gql(key, query, variables).await;
        answer["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error with a code: {answer}"))
            .to_string()
    }

    /// Records events with the ingest key; returns `recordEvents`.
    pub async fn record(&self, events: Value) -> Value {
        self.record_as(&self.ingest_key, events).await
    }

    /// The SDK's client of this server with `key`, as an application would use it.
    pub fn sdk(&self, key: &str) -> the_eye_client::Client {
        the_eye_client::Client::new(&self.url, key).expect("client")
    }

    /// Records events with `key` through the SDK (each JSON object sent as it is, valid or
    /// not); returns `recordEvents` as JSON.
    pub async fn record_as(&self, key: &str, events: Value) -> Value {
        let answer = self
            .sdk(key)
            .record_encoded(&encoded(&events))
            .await
            .unwrap_or_else(|e| panic!("recordEvents failed: {e}"));
        serde_json::to_value(answer).expect("JSON")
    }

    /// Runs the background job now through the SDK; returns the report as JSON.
    pub async fn process(&self) -> Value {
        let report = self
            .sdk(&self.admin_key)
            .process_events()
            .await
            .unwrap_or_else(|e| panic!("processEvents failed: {e}"));
        serde_json::to_value(report).expect("JSON")
    }

    /// Events matching `filter` (all pages of up to 1000), as `node` objects.
    pub async fn events(&self, filter: Value) -> Vec<Value> {
        let data = self
            .ok(
                &self.read_key,
                "query($f: EventFilter) { events(filter: $f, first: 1000) { edges { node { id sessionId category name data timestamp } } } }",
                json!({ "f": filter }),
            )
            .await;
        data["events"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"].clone())
            .collect()
    }

    /// `eventCounts` as (key, count) pairs.
    pub async fn counts(&self, group_by: &str, filter: Value) -> Vec<(String, i64)> {
        let data = self
            .ok(
                &self.read_key,
                "query($g: CountDimension!, $f: EventFilter) { eventCounts(groupBy: $g, filter: $f) { edges { node { key count } } } }",
                json!({ "g": group_by, "f": filter }),
            )
            .await;
        data["eventCounts"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["node"])
            .map(|c| {
                (
                    c["key"].as_str().unwrap().to_string(),
                    c["count"].as_i64().unwrap(),
                )
            })
            .collect()
    }

    /// How many rows a table holds, read straight from the database.
    pub async fn table_count(&self, table: &str) -> i64 {
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                backend,
                format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get("", "n").unwrap()
    }

    /// Stops the server gracefully and waits for it; the database stays.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server result");
        }
    }
}

/// The `recordEvents` mutation with every field of the payload: the SDK's operation text
/// (`clients/operations/RecordEvents.graphql`), for tests that send it raw.
pub const RECORD: &str = the_eye_client::record_events::QUERY;

/// A valid pageview.
pub fn pageview(session: &str, timestamp: &str) -> Value {
    json!({
        "sessionId": session,
        "category": "page interaction",
        "name": "pageview",
        "data": { "host": "www.consumeraffairs.com", "path": "/" },
        "timestamp": timestamp,
    })
}

/// A valid event of any type: the payload fits the brief's schemas for its types and is
/// `{"n": 1}` for any other type.
pub fn event(
    session: &str,
    category: &str,
    name: &str,
    timestamp: &str,
    id: Option<&str>,
) -> Value {
    let data = match name {
        "pageview" => json!({ "host": "example.com", "path": "/" }),
        "cta click" => json!({ "host": "example.com", "path": "/", "element": "buy" }),
        "submit" => json!({ "host": "example.com", "path": "/", "form": { "email": "a@b.c" } }),
        _ => json!({ "n": 1 }),
    };
    let mut e = json!({
        "sessionId": session,
        "category": category,
        "name": name,
        "data": data,
        "timestamp": timestamp,
    });
    if let Some(id) = id {
        e["id"] = json!(id);
    }
    e
}

/// The repository root.
pub fn repository() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `Some(())` when `node` runs, `npm ci` has installed `package` in the Node project at
/// `project` (relative to the repository root) and nothing else is `missing`. Otherwise says
/// why and returns `None`, so the test passes on a machine without Node, unless
/// `EYE_REQUIRE_BROWSER=1` (CI sets it), which makes a missing piece fail the test.
pub fn node_project_or_skip(project: &str, package: &str, missing: Option<String>) -> Option<()> {
    let node_runs = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let installed = repository()
        .join(project)
        .join("node_modules")
        .join(package)
        .is_dir();
    let missing = if !node_runs {
        Some("`node` is not installed".to_string())
    } else if !installed {
        Some(format!("run `npm ci --prefix {project}`"))
    } else {
        missing
    };
    match missing {
        None => Some(()),
        Some(why) if std::env::var("EYE_REQUIRE_BROWSER").as_deref() == Ok("1") => {
            panic!("EYE_REQUIRE_BROWSER=1 but {why}")
        }
        Some(why) => {
            eprintln!("skipping: {why}");
            None
        }
    }
}

/// A finished command's status and output, for an assertion message.
pub fn describe_output(output: &std::process::Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
