//! Real `the-eye serve` processes ([`ServerProcess`]) and the fresh database with keys they run
//! on ([`Fixture`]), for the tests that need a process: several instances, crashes, signals,
//! open-file limits, outages.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::Value;
use the_eye::auth::{Scope, Scopes, keys};

use super::{TestDatabase, connect_migrated, encoded, fresh_database};

/// A `the-eye serve` process.
pub struct ServerProcess {
    child: Child,
    pub url: String,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `the-eye serve` on a free port against `database_url`.
    pub fn start(database_url: &str, args: &[&str]) -> Self {
        Self::spawn(
            Command::new(env!("CARGO_BIN_EXE_the-eye")),
            database_url,
            "127.0.0.1:0",
            args,
        )
    }

    /// Starts `the-eye serve` on `listen` (to come back on the same port after a kill).
    pub fn start_listening(database_url: &str, listen: &str, args: &[&str]) -> Self {
        Self::spawn(
            Command::new(env!("CARGO_BIN_EXE_the-eye")),
            database_url,
            listen,
            args,
        )
    }

    /// Starts `the-eye serve` like [`Self::start`], with at most `open_files` open files (soft
    /// and hard limit, set by `prlimit`).
    pub fn start_with_open_files(database_url: &str, args: &[&str], open_files: u64) -> Self {
        let mut prlimit = Command::new("prlimit");
        prlimit
            .arg(format!("--nofile={open_files}:{open_files}"))
            .arg(env!("CARGO_BIN_EXE_the-eye"));
        Self::spawn(prlimit, database_url, "127.0.0.1:0", args)
    }

    fn spawn(mut command: Command, database_url: &str, listen: &str, args: &[&str]) -> Self {
        let mut child = command
            .args(["serve", "--listen", listen, "--database-url", database_url])
            .args(args)
            .env("EYE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the-eye serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("address=").nth(1) {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let address = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("server did not start: {:?}", log.lock().unwrap()));
        Self {
            child,
            url: format!("http://{address}"),
            log,
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The names of the process's threads, as `/proc/PID/task/*/comm` gives them (Linux).
    pub fn thread_names(&self) -> Vec<String> {
        std::fs::read_dir(format!("/proc/{}/task", self.child.id()))
            .expect("the process's threads")
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .map(|name| name.trim_end().to_string())
            .collect()
    }

    /// Whether a line of its log contains `text`.
    pub fn logged(&self, text: &str) -> bool {
        self.log
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains(text))
    }

    /// SIGKILL: the process dies at once, wherever it is.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "no exit within 30 s of SIGTERM; log: {:?}",
            self.log.lock().unwrap()
        );
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh database with an ingest and an admin key.
pub struct Fixture {
    pub database_url: String,
    pub db: DatabaseConnection,
    pub ingest_key: String,
    pub admin_key: String,
    pub http: reqwest::Client,
    _database: TestDatabase,
}

impl Fixture {
    pub async fn new() -> Self {
        let database = fresh_database().await;
        let database_url = database.url.clone();
        let db = connect_migrated(&database_url).await;
        let ingest_key = keys::create_key(&db, "shop", Scopes::of([Scope::Ingest]))
            .await
            .unwrap()
            .secret;
        let admin_key = keys::create_key(&db, "admin", Scopes::of([Scope::Admin]))
            .await
            .unwrap()
            .secret;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            database_url,
            db,
            ingest_key,
            admin_key,
            http,
            _database: database,
        }
    }

    /// Sends a batch through the SDK's client; `Err` for anything but a GraphQL answer
    /// without errors.
    pub async fn send(&self, url: &str, batch: &Value) -> Result<Value, String> {
        let client = the_eye_client::Client::with_http(url, &self.ingest_key, self.http.clone())
            .map_err(|e| e.to_string())?;
        match client.record_encoded(&encoded(batch)).await {
            Ok(answer) => Ok(serde_json::to_value(answer).expect("JSON")),
            Err(e @ the_eye_client::Error::Server { .. }) => Err(format!("graphql: {e}")),
            Err(e) => Err(format!("transport: {e}")),
        }
    }

    /// Runs `processEvents` on `url` through the SDK's client.
    pub async fn process(&self, url: &str) -> i64 {
        let client = the_eye_client::Client::with_http(url, &self.admin_key, self.http.clone())
            .expect("client");
        let report = client
            .process_events()
            .await
            .unwrap_or_else(|e| panic!("processEvents failed: {e}"));
        report.events_processed
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one_raw(Statement::from_string(backend, sql.to_string()))
            .await
            .unwrap()
            .unwrap();
        let value: Option<i64> = row.try_get("", "n").unwrap();
        value.unwrap_or(0)
    }

    /// Asserts that exactly `ids` are stored, each once, all processed, and that every
    /// aggregate adds up to their number.
    pub async fn assert_stored_and_counted_once(&self, ids: &BTreeSet<String>) {
        let total = ids.len() as i64;
        assert_eq!(
            self.scalar("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM events")
                .await,
            total
        );
        assert_eq!(
            self.scalar("SELECT CAST(COUNT(DISTINCT event_id) AS BIGINT) AS n FROM events")
                .await,
            total
        );
        assert_eq!(
            self.scalar("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM event_queue")
                .await,
            0
        );
        for table in ["sessions", "session_type_counts", "type_counts_hourly"] {
            let sql = format!("SELECT CAST(SUM(event_count) AS BIGINT) AS n FROM {table}");
            assert_eq!(
                self.scalar(&sql).await,
                total,
                "{table} counts every event once"
            );
        }
        let stored: BTreeSet<String> = {
            let backend = self.db.get_database_backend();
            self.db
                .query_all_raw(Statement::from_string(
                    backend,
                    "SELECT event_id FROM events".to_string(),
                ))
                .await
                .unwrap()
                .iter()
                .map(|r| r.try_get::<String>("", "event_id").unwrap())
                .collect()
        };
        assert_eq!(&stored, ids);
    }
}
