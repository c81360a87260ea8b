//! The database goes away and comes back: requests fail fast with `UNAVAILABLE`, readiness
//! follows the database, and the service recovers by itself with nothing lost.
//!
//! Uses a throwaway PostgreSQL cluster started from the installed server binaries (never the
//! shared one), run as the `postgres` system user because PostgreSQL refuses to run as root.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use the_eye::auth::{Scope, Scopes, keys};

use crate::helpers::{RECORD, ServerProcess, connect_migrated, event};

struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Creates and starts a cluster; panics when no PostgreSQL server binaries are installed.
    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|entry| entry.path().join("bin"))
            .find(|bin| bin.join("initdb").exists())
            .expect("this test needs PostgreSQL's server binaries under /usr/lib/postgresql");
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("chmod")
            .arg("777")
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        let data = dir.path().join("data");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self {
            bin,
            data,
            port,
            _dir: dir,
        };
        cluster.as_postgres(
            "initdb",
            &["-D", path(&cluster.data), "-A", "trust", "-U", "postgres"],
        );
        cluster.resume();
        cluster
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn as_postgres(&self, tool: &str, args: &[&str]) {
        let tool = self.bin.join(tool);
        let output = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&tool)
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{tool:?} {args:?}: {output:?}");
    }

    fn resume(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            path(self.data.parent().unwrap())
        );
        let log = self.data.parent().unwrap().join("log");
        self.as_postgres(
            "pg_ctl",
            &[
                "-D",
                path(&self.data),
                "-l",
                path(&log),
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
    }

    fn halt(&self) {
        self.as_postgres(
            "pg_ctl",
            &["-D", path(&self.data), "-m", "immediate", "-w", "stop"],
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", path(&self.data), "-m", "immediate", "stop"])
            .output();
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

async fn post(http: &reqwest::Client, url: &str, key: &str, batch: &Value) -> Value {
    http.post(format!("{url}/graphql"))
        .bearer_auth(key)
        .json(&json!({ "query": RECORD, "variables": { "events": batch } }))
        .send()
        .await
        .expect("an answer, not a hang")
        .json()
        .await
        .unwrap()
}

async fn status(http: &reqwest::Client, url: &str) -> u16 {
    http.get(url).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL's server binaries; run with --include-ignored"]
async fn a_database_outage_fails_fast_and_heals_by_itself() {
    let cluster = Cluster::start();
    let db = connect_migrated(&cluster.url()).await;
    let key = keys::create_key(&db, "shop", Scopes::of([Scope::Admin]))
        .await
        .unwrap()
        .secret;
    drop(db);
    let server = ServerProcess::start(
        &cluster.url(),
        &[
            "--db-timeout-ms",
            "1000",
            "--db-connect-timeout-ms",
            "1000",
            "--write-timeout-ms",
            "3000",
            "--process-interval-ms",
            "50",
        ],
    );
    // The client's own timeout is the "never hangs" bound: far above the configured 1-3 s.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let batch = |prefix: &str| {
        let events: Vec<Value> = (0..5)
            .map(|i| {
                event(
                    "s",
                    "c",
                    "n",
                    "2021-01-01T00:00:00Z",
                    Some(&format!("{prefix}{i}")),
                )
            })
            .collect();
        json!(events)
    };

    let before = post(&http, &server.url, &key, &batch("a")).await;
    assert_eq!(before["data"]["recordEvents"]["accepted"], 5, "{before}");
    assert_eq!(status(&http, &format!("{}/ready", server.url)).await, 200);

    cluster.halt();
    let started = Instant::now();
    let during = post(&http, &server.url, &key, &batch("b")).await;
    assert_eq!(
        during["errors"][0]["extensions"]["code"], "UNAVAILABLE",
        "{during}"
    );
    assert!(
        !during.to_string().contains("127.0.0.1"),
        "no internals in the answer: {during}"
    );
    eprintln!("UNAVAILABLE after {:?}", started.elapsed());
    assert_eq!(status(&http, &format!("{}/ready", server.url)).await, 503);
    assert_eq!(status(&http, &format!("{}/health", server.url)).await, 200);

    cluster.resume();
    let mut ready = false;
    for _ in 0..100 {
        if status(&http, &format!("{}/ready", server.url)).await == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ready, "readiness recovers with the database");
    let after = post(&http, &server.url, &key, &batch("b")).await;
    assert_eq!(after["data"]["recordEvents"]["accepted"], 5, "{after}");
    let answer: Value = http
        .post(format!("{}/graphql", server.url))
        .bearer_auth(&key)
        .json(&json!({ "query": "{ eventCounts(groupBy: SESSION) { edges { node { key count } } } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["data"]["eventCounts"]["edges"],
        json!([{ "node": { "key": "s", "count": 10 } }]),
        "nothing lost"
    );
}
