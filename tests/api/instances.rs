//! Several server processes on one database, crashes and graceful shutdown: the service's
//! promises checked against real `the-eye serve` processes.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{Fixture, ServerProcess, event, require_postgres};

/// Batch `b` of client `c`: 25 events with ids unique to (c, b, i).
fn client_batch(c: usize, b: usize) -> (Value, Vec<String>) {
    let ids: Vec<String> = (0..25).map(|i| format!("c{c}-b{b}-i{i}")).collect();
    let events: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let name = ["pageview", "cta click", "submit"][i % 3];
            let category = if name == "submit" {
                "form interaction"
            } else {
                "page interaction"
            };
            let at = format!("2021-01-01T{:02}:{:02}:{:02}Z", b % 24, i % 60, c % 60);
            event(&format!("s{c}-{}", b % 7), category, name, &at, Some(id))
        })
        .collect();
    (json!(events), ids)
}

fn statuses_ok(result: &Value) -> bool {
    result["results"].as_array().is_some_and(|r| {
        r.iter()
            .all(|e| e["status"] == "ACCEPTED" || e["status"] == "DUPLICATE")
    })
}

/// What one continuously sending client saw.
struct ClientLog {
    client: usize,
    /// Ids of events in acknowledged batches.
    acked: Vec<String>,
    /// Batches that got no answer (transport failure).
    unanswered: Vec<usize>,
    /// Answers that were GraphQL errors or rejections.
    errors: Vec<String>,
}

/// Client `c` sends its batches 0, 1, 2… to `url` until `stop` is set (or, with
/// `until_refused`, until a request gets no answer).
fn spawn_client(
    fx: Arc<Fixture>,
    url: String,
    c: usize,
    stop: Arc<AtomicBool>,
    until_refused: bool,
) -> tokio::task::JoinHandle<ClientLog> {
    tokio::spawn(async move {
        let mut log = ClientLog {
            client: c,
            acked: Vec::new(),
            unanswered: Vec::new(),
            errors: Vec::new(),
        };
        let mut b = 0;
        while !stop.load(Ordering::SeqCst) {
            let (batch, ids) = client_batch(c, b);
            match fx.send(&url, &batch).await {
                Ok(result) if statuses_ok(&result) => log.acked.extend(ids),
                Ok(result) => log.errors.push(result.to_string()),
                Err(e) if e.starts_with("graphql") => log.errors.push(e),
                Err(_) if until_refused => break,
                Err(_) => log.unanswered.push(b),
            }
            b += 1;
        }
        log
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_ingest_and_processing_exactly_once() {
    let fx = Arc::new(Fixture::new().await);
    let args = ["--process-interval-ms", "10", "--process-batch-size", "40"];
    let a = ServerProcess::start(&fx.database_url, &args);
    let b = ServerProcess::start(&fx.database_url, &args);
    let (url_a, url_b) = (a.url.clone(), b.url.clone());
    let mut tasks = Vec::new();
    for c in 0..4 {
        let (fx, url_a, url_b) = (fx.clone(), url_a.clone(), url_b.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for b in 0..8 {
                let (batch, batch_ids) = client_batch(c, b);
                // The same batch, with the same client ids, to both instances at once.
                let (ra, rb) = tokio::join!(fx.send(&url_a, &batch), fx.send(&url_b, &batch));
                let (ra, rb) = (ra.unwrap(), rb.unwrap());
                let accepted = ra["accepted"].as_i64().unwrap() + rb["accepted"].as_i64().unwrap();
                let duplicates =
                    ra["duplicates"].as_i64().unwrap() + rb["duplicates"].as_i64().unwrap();
                assert_eq!(
                    (accepted, duplicates),
                    (25, 25),
                    "each id accepted by exactly one instance"
                );
                ids.extend(batch_ids);
            }
            ids
        }));
    }
    let mut ids = BTreeSet::new();
    for task in tasks {
        ids.extend(task.await.unwrap());
    }
    // Both instances' jobs run, periodically and on demand, until nothing is left.
    for _ in 0..100 {
        let (pa, pb) = tokio::join!(fx.process(&url_a), fx.process(&url_b));
        let _ = (pa, pb);
        if fx
            .scalar("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM event_queue")
            .await
            == 0
        {
            break;
        }
    }
    fx.assert_stored_and_counted_once(&ids).await;
    assert_eq!(
        fx.scalar("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM event_errors")
            .await,
        0
    );
    // Exact per-session counts through the API of either instance.
    let answer: Value = fx
        .http
        .post(format!("{url_b}/graphql"))
        .bearer_auth(&fx.admin_key)
        .json(&json!({ "query": "{ eventCounts(groupBy: SESSION) { edges { node { key count } } } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let counts: Vec<&Value> = answer["data"]["eventCounts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .collect();
    assert_eq!(counts.len(), 28, "4 clients x 7 sessions");
    let sessions_of_client_0: i64 = counts
        .iter()
        .filter(|c| c["key"].as_str().unwrap().starts_with("s0-"))
        .map(|c| c["count"].as_i64().unwrap())
        .sum();
    assert_eq!(sessions_of_client_0, 200);
    let s0_0 = counts.iter().find(|c| c["key"] == "s0-0").unwrap();
    assert_eq!(s0_0["count"], 50, "batches 0 and 7 of client 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_acknowledged_event_and_retries_create_no_duplicates() {
    let fx = Arc::new(Fixture::new().await);
    let args = ["--process-interval-ms", "5", "--process-batch-size", "30"];
    let first = ServerProcess::start(&fx.database_url, &args);
    let url = first.url.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| spawn_client(fx.clone(), url.clone(), c, stop.clone(), false))
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    first.kill();
    stop.store(true, Ordering::SeqCst);
    let mut acked = BTreeSet::new();
    let mut to_retry = Vec::new();
    for client in clients {
        let log = client.await.unwrap();
        assert!(log.errors.is_empty(), "{:?}", log.errors);
        acked.extend(log.acked);
        to_retry.extend(log.unanswered.into_iter().map(|b| (log.client, b)));
    }
    assert!(
        !acked.is_empty(),
        "some batches were acknowledged before the kill"
    );
    eprintln!(
        "kill test: {} events acknowledged, {} batches to retry",
        acked.len(),
        to_retry.len()
    );

    // Every acknowledged event survived the kill.
    let second = ServerProcess::start(&fx.database_url, &args);
    let stored_before_retry = fx
        .scalar("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM events")
        .await;
    assert!(stored_before_retry >= acked.len() as i64);
    let mut all = acked.clone();
    for (c, b) in to_retry {
        let (batch, ids) = client_batch(c, b);
        let result = fx.send(&second.url, &batch).await.unwrap();
        assert!(statuses_ok(&result), "{result}");
        all.extend(ids);
    }
    while fx.process(&second.url).await > 0 {}
    fx.assert_stored_and_counted_once(&all).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_batches_and_exits_cleanly() {
    let fx = Arc::new(Fixture::new().await);
    let server = ServerProcess::start(&fx.database_url, &["--process-interval-ms", "10"]);
    let url = server.url.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..6)
        .map(|c| spawn_client(fx.clone(), url.clone(), c, stop.clone(), true))
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    assert!(status.success(), "exit status {status:?}");
    let mut acked = BTreeSet::new();
    for client in clients {
        let log = client.await.unwrap();
        let errors = &log.errors;
        assert!(
            errors.is_empty(),
            "a request was answered with an error: {errors:?}"
        );
        acked.extend(log.acked);
    }
    assert!(!acked.is_empty());
    let stored = fx
        .scalar("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM events")
        .await;
    assert_eq!(
        stored,
        acked.len() as i64,
        "every acknowledged event, and only those, stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: EYE_TEST_POSTGRES_URL and --include-ignored"]
async fn the_same_ids_sent_in_opposite_orders_to_two_instances_never_deadlock() {
    // Each round sends one batch to one instance and the same ids, reversed, to the other at
    // the same moment. Inserted in arrival order, each group would hold an id the other waits
    // for, until PostgreSQL's deadlock detector rolled one back a second later.
    require_postgres();
    let fx = Fixture::new().await;
    let backends = "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM pg_stat_activity \
                    WHERE datname = current_database()";
    let own_backends = fx.scalar(backends).await;
    let a = ServerProcess::start(&fx.database_url, &[]);
    let b = ServerProcess::start(&fx.database_url, &[]);
    for round in 0..20 {
        let batch: Vec<Value> = (0..60)
            .map(|i| {
                let id = format!("r{round}-i{i}");
                let at = format!("2021-01-01T00:{i:02}:00Z");
                event(
                    &format!("s{round}"),
                    "page interaction",
                    "pageview",
                    &at,
                    Some(&id),
                )
            })
            .collect();
        let reversed: Value = batch.iter().rev().cloned().collect();
        let batch = Value::Array(batch);
        let (ra, rb) = tokio::join!(fx.send(&a.url, &batch), fx.send(&b.url, &reversed));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let sum = |field: &str| ra[field].as_i64().unwrap() + rb[field].as_i64().unwrap();
        assert_eq!(
            (sum("accepted"), sum("duplicates")),
            (60, 60),
            "round {round}: each id accepted once"
        );
    }
    // A backend reports its statistics, deadlocks included, when it exits: wait until the
    // servers' backends have gone.
    assert!(a.terminate().success());
    assert!(b.terminate().success());
    for _ in 0..100 {
        if fx.scalar(backends).await <= own_backends {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadlocks = fx
        .scalar(
            "SELECT CAST(deadlocks AS BIGINT) AS n FROM pg_stat_database \
             WHERE datname = current_database()",
        )
        .await;
    assert_eq!(deadlocks, 0);
    assert_eq!(
        fx.scalar("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM events")
            .await,
        20 * 60
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL: EYE_TEST_POSTGRES_URL and --include-ignored"]
async fn events_committed_late_are_not_skipped_by_the_job() {
    // With concurrent writers (PostgreSQL), a lower ingest sequence can commit after higher
    // ones were processed. SQLite has a single writer, so sequences commit in order there and
    // this interleaving cannot happen.
    require_postgres();
    let fx = Fixture::new().await;
    let server = ServerProcess::start(&fx.database_url, &["--process-interval-ms", "3600000"]);
    let app_id = fx
        .scalar("SELECT CAST(id AS BIGINT) AS n FROM applications WHERE name = 'shop'")
        .await;
    let slow = sea_orm::TransactionTrait::begin(&fx.db).await.unwrap();
    slow.execute_unprepared(&format!(
        "INSERT INTO events (event_id, application_id, session_id, category, name, data, timestamp, received_at) \
         VALUES ('late', {app_id}, 's', 'c', 'n', '{{}}', '2021-01-01T00:00:00Z', '2021-01-01T00:00:00Z')"
    ))
    .await
    .unwrap();
    slow.execute_unprepared(
        "INSERT INTO event_queue (seq) SELECT seq FROM events WHERE event_id = 'late'",
    )
    .await
    .unwrap();
    let batch: Vec<Value> = (0..10)
        .map(|i| {
            event(
                "s",
                "c",
                "n",
                "2021-01-01T00:00:01Z",
                Some(&format!("e{i}")),
            )
        })
        .collect();
    fx.send(&server.url, &json!(batch)).await.unwrap();
    assert_eq!(
        fx.process(&server.url).await,
        10,
        "the uncommitted event is invisible"
    );
    slow.commit().await.unwrap();
    assert_eq!(
        fx.process(&server.url).await,
        1,
        "and is processed once it commits"
    );
    let mut ids: BTreeSet<String> = (0..10).map(|i| format!("e{i}")).collect();
    ids.insert("late".into());
    fx.assert_stored_and_counted_once(&ids).await;
}
