//! The Rust SDK (`the-eye-client`) against the real server: its `Sender` delivers every event
//! exactly once through a server crash, waits as a rate limit tells it, reports rejections
//! event by event, and holds a bounded number of events while the server is down.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;
use the_eye_client::record_events::EventInput;
use the_eye_client::{
    Backoff, Client, Delivery, DeliveryStatus, Sender, SenderConfig, TrySendError, code_name,
};

use crate::helpers::{Fixture, ServerProcess};
use crate::helpers::{event, spawn_app, spawn_app_with};

/// A valid pageview without an id (the sender gives it one), numbered `i`.
fn pageview(i: usize) -> EventInput {
    let timestamp = format!("2021-01-01T00:{:02}:{:02}Z", i / 60 % 60, i % 60);
    input(event(
        &format!("s{}", i % 7),
        "page interaction",
        "pageview",
        &timestamp,
        None,
    ))
}

fn input(value: Value) -> EventInput {
    serde_json::from_value(value).expect("an EventInput")
}

/// A config that retries quickly, so that tests spend their time on what they test.
fn quick(config: SenderConfig) -> SenderConfig {
    SenderConfig {
        linger: Duration::from_millis(5),
        backoff: Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
        },
        give_up_after: Duration::from_secs(120),
        ..config
    }
}

/// A sender whose deliveries are collected.
fn collecting(client: Client, config: SenderConfig) -> (Sender, Arc<Mutex<Vec<Delivery>>>) {
    let deliveries = Arc::new(Mutex::new(Vec::new()));
    let sink = deliveries.clone();
    let sender = Sender::with_callback(client, config, move |d| sink.lock().unwrap().push(d));
    (sender, deliveries)
}

/// Deliveries by sequence number; panics unless each of `0..n` has exactly one.
fn by_seq(deliveries: &Mutex<Vec<Delivery>>, n: usize) -> Vec<Delivery> {
    let mut all = deliveries.lock().unwrap().clone();
    all.sort_by_key(|d| d.seq);
    let seqs: Vec<u64> = all.iter().map(|d| d.seq).collect();
    assert_eq!(
        seqs,
        (0..n as u64).collect::<Vec<_>>(),
        "one delivery per event"
    );
    all
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn stored_ids(db: &sea_orm::DatabaseConnection) -> Vec<String> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT event_id FROM events ORDER BY event_id",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "event_id").unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_and_restarted_mid_stream_stores_every_event_exactly_once() {
    const EVENTS: usize = 3_000;
    let fx = Fixture::new().await;
    let listen = format!("127.0.0.1:{}", free_port());
    let server = ServerProcess::start_listening(&fx.database_url, &listen, &[]);
    let client = Client::new(&server.url, &fx.ingest_key).unwrap();
    let config = quick(SenderConfig {
        max_batch_events: 50,
        buffer_events: 500,
        ..SenderConfig::default()
    });
    let (sender, deliveries) = collecting(client, config);
    let sender = Arc::new(sender);
    let sending = {
        let sender = sender.clone();
        tokio::spawn(async move {
            for i in 0..EVENTS {
                sender.send(pageview(i)).await.unwrap();
            }
        })
    };

    while sender.stats().accepted < 1_000 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _restarted = ServerProcess::start_listening(&fx.database_url, &listen, &[]);
    sending.await.unwrap();
    let stats = Arc::try_unwrap(sender).ok().unwrap().close().await;

    assert_eq!(stats.sent, EVENTS as u64);
    assert_eq!(
        stats.accepted + stats.duplicates,
        EVENTS as u64,
        "{stats:?}"
    );
    assert_eq!((stats.rejected, stats.not_delivered, stats.held), (0, 0, 0));
    assert!(
        stats.retries > 0,
        "the kill must have been noticed: {stats:?}"
    );
    let delivered: BTreeSet<String> = by_seq(&deliveries, EVENTS)
        .into_iter()
        .map(|d| d.id.expect("every event has an id"))
        .collect();
    assert_eq!(delivered.len(), EVENTS, "ids are unique");
    let stored = stored_ids(&fx.db).await;
    assert_eq!(stored.len(), EVENTS, "every event stored once");
    assert_eq!(stored.into_iter().collect::<BTreeSet<_>>(), delivered);
}

#[tokio::test]
async fn a_rate_limited_key_gets_everything_delivered_waiting_as_told() {
    // (requests per second, events per second): refused with HTTP 429 and `Retry-After`, or
    // by `recordEvents` itself with `retryAfterMs`.
    for (requests_per_s, events_per_s) in [(2, 0), (0, 20)] {
        let app = spawn_app_with(|s| {
            s.security.rate_limit_requests_per_s = requests_per_s;
            s.security.rate_limit_events_per_s = events_per_s;
        })
        .await;
        let client = Client::new(&app.url, &app.ingest_key).unwrap();
        // Backoff of 1-2 ms: a client that ignored the server's wait would retry hundreds of
        // times before the limit let a batch through.
        let config = SenderConfig {
            max_batch_events: 10,
            max_in_flight: 1,
            linger: Duration::from_millis(1),
            backoff: Backoff {
                initial: Duration::from_millis(1),
                max: Duration::from_millis(2),
            },
            ..SenderConfig::default()
        };
        let (sender, deliveries) = collecting(client, config);
        for i in 0..80 {
            sender.send(pageview(i)).await.unwrap();
        }
        let stats = sender.close().await;

        let case = format!("{requests_per_s} requests/s, {events_per_s} events/s: {stats:?}");
        assert_eq!((stats.accepted, stats.not_delivered), (80, 0), "{case}");
        assert!(
            stats.retries >= 1,
            "the limit must have refused a batch: {case}"
        );
        assert!(stats.retries <= 8, "at most one refusal per batch: {case}");
        assert_eq!(by_seq(&deliveries, 80).len(), 80);
        assert_eq!(app.table_count("events").await, 80, "{case}");
    }
}

#[tokio::test]
async fn rejected_events_reach_the_caller_with_their_codes_and_the_rest_is_stored() {
    let app = spawn_app().await;
    let client = Client::new(&app.url, &app.ingest_key).unwrap();
    let (sender, deliveries) = collecting(client, quick(SenderConfig::default()));
    let mut future = pageview(3);
    future.timestamp = "2999-01-01T00:00:00Z".into();
    let mut no_element = input(event(
        "s",
        "page interaction",
        "cta click",
        "2021-01-01T00:00:00Z",
        None,
    ));
    no_element.data = serde_json::json!({"host": "example.com", "path": "/"});
    let mut malformed = pageview(8);
    malformed.timestamp = "yesterday".into();
    let mut events: Vec<EventInput> = (0..10).map(pageview).collect();
    events[3] = future;
    events[6] = no_element;
    events[8] = malformed;
    for e in events {
        sender.send(e).await.unwrap();
    }
    let stats = sender.close().await;

    let outcomes: Vec<String> = by_seq(&deliveries, 10)
        .iter()
        .map(|d| match &d.status {
            DeliveryStatus::Accepted => "ACCEPTED".to_string(),
            DeliveryStatus::Rejected { reasons, error_id } => {
                assert!(error_id.is_some());
                let codes: Vec<String> = reasons.iter().map(|r| code_name(&r.code)).collect();
                codes.join("+")
            }
            other => format!("{other:?}"),
        })
        .collect();
    let expected = [
        "ACCEPTED",
        "ACCEPTED",
        "ACCEPTED",
        "TIMESTAMP_IN_FUTURE",
        "ACCEPTED",
        "ACCEPTED",
        "SCHEMA_VIOLATION",
        "ACCEPTED",
        "INVALID_TIMESTAMP",
        "ACCEPTED",
    ];
    assert_eq!(outcomes, expected);
    assert_eq!((stats.accepted, stats.rejected), (7, 3));
    assert_eq!(app.table_count("events").await, 7);
    assert_eq!(app.table_count("event_errors").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_server_down_the_buffer_stays_bounded_and_send_waits() {
    let fx = Fixture::new().await;
    let listen = format!("127.0.0.1:{}", free_port());
    let client = Client::new(&format!("http://{listen}"), &fx.ingest_key).unwrap();
    let config = quick(SenderConfig {
        max_batch_events: 10,
        max_in_flight: 2,
        buffer_events: 100,
        ..SenderConfig::default()
    });
    let sender = Sender::new(client, config);

    let mut taken = 0;
    let refused = loop {
        match sender.try_send(pageview(taken)) {
            Ok(_) => taken += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(taken, 100);
    assert!(matches!(refused, TrySendError::Full(_)), "{refused:?}");
    // Retrying against a closed port frees nothing: the bound holds, and `send` waits.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = sender.stats();
    assert_eq!((stats.held, stats.accepted), (100, 0));
    assert!(stats.retries > 0, "{stats:?}");
    assert!(
        sender.send(pageview(100)).now_or_never().is_none(),
        "send must wait"
    );
    assert!(matches!(
        sender.try_send(pageview(100)),
        Err(TrySendError::Full(_))
    ));

    let _server = ServerProcess::start_listening(&fx.database_url, &listen, &[]);
    sender.send(pageview(100)).await.unwrap();
    let stats = sender.close().await;
    assert_eq!((stats.sent, stats.accepted, stats.held), (101, 101, 0));
    assert_eq!(
        fx.scalar("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM events")
            .await,
        101
    );
}

/// A log sink for one test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_sender_dropped_without_close_logs_how_many_events_it_abandoned() {
    let client = Client::new(&format!("http://127.0.0.1:{}", free_port()), "eye_x").unwrap();
    let sender = Sender::new(client, quick(SenderConfig::default()));
    for i in 0..25 {
        sender.try_send(pageview(i)).unwrap();
    }
    let log = Captured::default();
    let sink = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || drop(sender));

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("ERROR"), "{text}");
    assert!(text.contains("lost=25"), "{text}");
    assert!(
        text.contains("25 events buffered or in flight were abandoned"),
        "{text}"
    );
}

#[tokio::test]
async fn the_client_reads_a_typed_event_series() {
    use the_eye_client::operations::event_series::{BucketSize, Variables};
    let app = crate::helpers::spawn_app().await;
    app.record(serde_json::json!([
        crate::helpers::pageview("s", "2021-01-01T00:10:00Z"),
        crate::helpers::pageview("s", "2021-01-01T02:10:00Z"),
    ]))
    .await;
    let client = Client::new(&app.url, &app.read_key).unwrap();
    let series = client
        .event_series(Variables {
            bucket: BucketSize::HOUR,
            from: "2021-01-01T00:00:00Z".into(),
            to: "2021-01-01T03:00:00Z".into(),
            time_zone: None,
            filter: None,
            split_by: None,
            top: None,
        })
        .await
        .unwrap();
    let totals: Vec<i64> = series.points.iter().map(|p| p.total).collect();
    assert_eq!(totals, [1, 0, 1]);
    assert_eq!(series.time_zone, "UTC");
}
