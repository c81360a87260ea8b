//! Raw connections for the slow-client tests: requests written byte by byte, answers read
//! until the server closes, the server's sockets counted from `/proc`, and a legitimate client
//! that records events alongside a flood.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;

use super::{MARGIN, P99_BOUND};
use crate::helpers::{RECORD, TestApp, event};

/// The raw head and body of a `recordEvents` request for one event with client id `id`.
pub(super) fn record_request(app: &TestApp, id: &str) -> (String, String) {
    let events = json!([event("s", "c", "n", "2021-01-01T00:00:00Z", Some(id))]);
    let body = json!({ "query": RECORD, "variables": { "events": events } }).to_string();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: eye\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {}\r\nContent-Length: {}\r\n\r\n",
        app.ingest_key,
        body.len()
    );
    (head, body)
}

/// The status line and the JSON body of a raw HTTP/1.1 answer.
pub(super) fn parse_answer(answer: &[u8]) -> (String, Value) {
    let answer = String::from_utf8_lossy(answer);
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("an HTTP answer: {answer:?}"));
    let status = head.lines().next().unwrap_or_default().to_string();
    let json = serde_json::from_str(body).unwrap_or_else(|_| panic!("a JSON body: {answer:?}"));
    (status, json)
}

/// Raises this process's soft open-file limit: the tests hold both ends of every connection.
pub(super) fn allow_many_descriptors() {
    let needed = 10_000;
    let limit = rlimit::increase_nofile_limit(needed).expect("raise the open-file limit");
    assert!(
        limit >= needed,
        "these tests need {needed} open files; the hard limit allows {limit} (ulimit -Hn)"
    );
}

pub(super) fn address(app: &TestApp) -> SocketAddr {
    app.url.trim_start_matches("http://").parse().unwrap()
}

/// How a slow connection ended: what the server sent, and how long after `since` it closed.
pub(super) struct Ended {
    pub answer: Vec<u8>,
    pub after: Duration,
}

/// Reads until the server closes the connection (end of stream, or a reset), or `None` when it
/// is still open after `limit`.
pub(super) async fn read_until_closed(
    mut stream: impl AsyncRead + Unpin,
    since: Instant,
    limit: Duration,
) -> Option<Ended> {
    let read_all = async {
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stream.read(&mut buf).await {
            answer.extend_from_slice(&buf[..n]);
        }
        answer
    };
    let answer = tokio::time::timeout(limit.saturating_sub(since.elapsed()), read_all)
        .await
        .ok()?;
    Some(Ended {
        answer,
        after: since.elapsed(),
    })
}

/// Sends `body` a byte every 50 ms, until the server answers or closes.
pub(super) async fn trickle(
    mut write: tokio::net::tcp::OwnedWriteHalf,
    body: Vec<u8>,
    answered: Arc<AtomicBool>,
) {
    for byte in body {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if answered.load(Ordering::SeqCst) || write.write_all(&[byte]).await.is_err() {
            return;
        }
    }
}

/// The flood's connections, all closed: a future the legitimate client runs alongside.
pub(super) async fn flood_done(flood: &mut JoinSet<Option<Ended>>) -> Vec<Option<Ended>> {
    let mut ended = Vec::new();
    while let Some(end) = flood.join_next().await {
        ended.push(end.expect("reader task"));
    }
    ended
}

/// A legitimate client recording batches of 10 events, one request at a time.
pub(super) struct Legit {
    /// Every request's latency, sorted.
    pub latencies: Vec<Duration>,
}

impl Legit {
    const EVENTS: usize = 10;

    /// Records batches until `flood` is done (at least 20), asserting each answer exactly and
    /// the 99th percentile of their latencies; returns them and what `flood` returned.
    pub(super) async fn record_until(
        app: &TestApp,
        flood: impl Future<Output = Vec<Option<Ended>>>,
    ) -> (Self, Vec<Option<Ended>>) {
        let client = reqwest::Client::new();
        let done = AtomicBool::new(false);
        let record = async {
            let mut latencies = Vec::new();
            while latencies.len() < 20 || !done.load(Ordering::SeqCst) {
                let i = latencies.len();
                let events: Vec<Value> = (0..Self::EVENTS)
                    .map(|j| {
                        let id = format!("legit-{i}-{j}");
                        event("legit", "c", "n", "2021-01-01T00:00:00Z", Some(&id))
                    })
                    .collect();
                let started = Instant::now();
                let answer: Value = client
                    .post(format!("{}/graphql", app.url))
                    .bearer_auth(&app.ingest_key)
                    .json(&json!({ "query": RECORD, "variables": { "events": events } }))
                    .send()
                    .await
                    .expect("the legitimate request is answered")
                    .json()
                    .await
                    .expect("JSON");
                latencies.push(started.elapsed());
                let result = &answer["data"]["recordEvents"];
                assert_eq!(result["accepted"], Self::EVENTS, "{answer}");
                assert_eq!(result["rejected"], 0, "{answer}");
            }
            latencies
        };
        let flood = async {
            let ended = flood.await;
            done.store(true, Ordering::SeqCst);
            ended
        };
        let (mut latencies, flood_ends) = tokio::join!(record, flood);
        latencies.sort();
        let legit = Self { latencies };
        let p99 = legit.percentile(99);
        assert!(p99 < P99_BOUND, "p99 {p99:?} during the flood");
        (legit, flood_ends)
    }

    pub(super) fn percentile(&self, p: usize) -> Duration {
        let rank = (self.latencies.len() * p).div_ceil(100).max(1);
        self.latencies[rank - 1]
    }

    /// Exactly the acknowledged events are stored.
    pub(super) async fn assert_all_stored(&self, app: &TestApp) {
        let acked = (self.latencies.len() * Self::EVENTS) as i64;
        assert_eq!(app.table_count("events").await, acked);
    }
}

pub(super) async fn assert_still_serving(app: &TestApp) {
    let health = reqwest::get(format!("{}/health", app.url)).await.unwrap();
    assert_eq!(health.status(), 200);
}

/// Waits (up to [`MARGIN`]) until the server holds `expected` sockets; returns the last count.
pub(super) async fn wait_for_server_sockets(port: u16, expected: usize) -> usize {
    let deadline = Instant::now() + MARGIN;
    loop {
        let count = server_sockets(port);
        if count == expected || Instant::now() > deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Descriptors this process holds open.
pub(super) fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// The connections the server in this process holds open on `port`: sockets in
/// `/proc/self/fd` whose local port is `port` and that are not the listener.
pub(super) fn server_sockets(port: u16) -> usize {
    let ours: HashSet<u64> = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|link| {
            let link = link.to_str()?;
            link.strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect();
    let local_port = format!(":{port:04X}");
    let held = |line: &&str| {
        const LISTEN: &str = "0A";
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() > 9
            && fields[1].ends_with(&local_port)
            && fields[3] != LISTEN
            && fields[9]
                .parse::<u64>()
                .is_ok_and(|inode| ours.contains(&inode))
    };
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .map(|table| table.lines().skip(1).filter(&held).count())
        .sum()
}
