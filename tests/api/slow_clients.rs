//! Slow clients and connection floods (slowloris): the server sheds them instead of holding
//! them. Each test floods a real server with connections that never finish a request, while a
//! legitimate client records events, and checks that every slow connection is closed by its
//! deadline (and no earlier), that the server's sockets go back to none, that nothing of a
//! half-sent request is stored, that the legitimate client gets every answer exactly right, and
//! that the server keeps serving.
//!
//! Deadlines are shortened through `Settings` to keep the tests fast. Bounds on time are
//! generous ([`MARGIN`], [`P99_BOUND`]) so that a loaded 2-core machine does not make them
//! flaky: they check that a deadline applies, not how precisely. The server's sockets are
//! counted exactly, from `/proc` (Linux): the sockets this process holds whose local port is
//! the server's, which other tests running in the same process cannot disturb.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::helpers::{Fixture, ServerProcess};
use crate::helpers::{event, spawn_app_with};

mod raw;

use raw::{
    Legit, address, allow_many_descriptors, assert_still_serving, flood_done, open_descriptors,
    parse_answer, read_until_closed, record_request, server_sockets, trickle,
    wait_for_server_sockets,
};

/// Connections in a flood.
const FLOOD: usize = 1_500;

/// How late past its deadline a slow connection may be closed before a test fails: the
/// deadline is what is tested, a loaded machine only makes it late.
const MARGIN: Duration = Duration::from_secs(5);

/// The bound on the legitimate client's 99th-percentile latency during a flood. Generous on
/// purpose (a few milliseconds are usual); what it catches is a client starved until the
/// flood's deadlines free the server, which would take seconds.
const P99_BOUND: Duration = Duration::from_secs(1);

/// A request head that never ends: the blank line after the headers never comes.
const UNFINISHED_HEAD: &[u8] =
    b"POST /graphql HTTP/1.1\r\nHost: eye\r\nContent-Type: application/json\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_heads_are_closed_by_the_header_deadline_while_a_client_records() {
    allow_many_descriptors();
    let header_deadline = Duration::from_millis(2_000);
    let app = spawn_app_with(|s| {
        s.connections.header_read_timeout_ms = header_deadline.as_millis() as u64;
        s.connections.max_connections = 2 * FLOOD;
    })
    .await;
    let server = address(&app);
    let descriptors_before = open_descriptors();

    let mut flood = JoinSet::new();
    for _ in 0..FLOOD {
        let since = Instant::now();
        let mut stream = TcpStream::connect(server).await.expect("connect");
        stream.write_all(UNFINISHED_HEAD).await.expect("write");
        flood.spawn(read_until_closed(stream, since, header_deadline + MARGIN));
    }
    let held = server_sockets(server.port());
    let descriptors_held = open_descriptors();
    let (legit, ended) = Legit::record_until(&app, flood_done(&mut flood)).await;
    let server_sockets_after = wait_for_server_sockets(server.port(), 0).await;

    eprintln!(
        "{FLOOD} half-sent heads: {held} server sockets right after they were opened, none \
         after ({server_sockets_after}); descriptors of the process (both ends, and other \
         tests) {descriptors_before} before, {descriptors_held} held, {} after; legitimate \
         client: {} requests, p50 {:?}, p99 {:?}, max {:?}",
        open_descriptors(),
        legit.latencies.len(),
        legit.percentile(50),
        legit.percentile(99),
        legit.latencies.last().unwrap()
    );
    assert!(held >= FLOOD / 2, "the flood reached the server: {held}");
    assert_eq!(ended.len(), FLOOD);
    for end in &ended {
        let end = end
            .as_ref()
            .expect("closed by the header deadline plus the margin");
        assert!(
            end.after >= header_deadline,
            "closed early: {:?}",
            end.after
        );
        assert!(
            end.answer.is_empty(),
            "a head that never ends gets no answer"
        );
    }
    legit.assert_all_stored(&app).await;
    assert_eq!(server_sockets_after, 0, "the server holds no connection");
    assert_eq!(app.table_count("event_errors").await, 0);
    assert_still_serving(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_bodies_are_answered_408_by_the_body_deadline_and_store_nothing() {
    allow_many_descriptors();
    const TRICKLERS: usize = 300;
    const CUT_OFF: usize = 50;
    let body_deadline = Duration::from_millis(1_500);
    let app = spawn_app_with(|s| s.connections.body_read_timeout_ms = 1_500).await;
    let server = address(&app);
    let (head, body) = record_request(&app, "trickled");

    let mut flood = JoinSet::new();
    for _ in 0..TRICKLERS {
        let mut stream = TcpStream::connect(server).await.expect("connect");
        let since = Instant::now();
        stream.write_all(head.as_bytes()).await.expect("write");
        let (read, write) = stream.into_split();
        let answered = Arc::new(AtomicBool::new(false));
        tokio::spawn(trickle(write, body.clone().into_bytes(), answered.clone()));
        flood.spawn(async move {
            let end = read_until_closed(read, since, body_deadline + MARGIN).await;
            answered.store(true, Ordering::SeqCst);
            end
        });
    }
    // Bodies cut off half-way: the client gives up and closes.
    for _ in 0..CUT_OFF {
        let mut stream = TcpStream::connect(server).await.expect("connect");
        stream.write_all(head.as_bytes()).await.expect("write");
        stream
            .write_all(&body.as_bytes()[..body.len() / 2])
            .await
            .expect("write");
    }
    let (legit, ended) = Legit::record_until(&app, flood_done(&mut flood)).await;

    eprintln!(
        "{TRICKLERS} trickling bodies: legitimate client {} requests, p50 {:?}, p99 {:?}",
        legit.latencies.len(),
        legit.percentile(50),
        legit.percentile(99)
    );
    assert_eq!(ended.len(), TRICKLERS);
    for end in &ended {
        let end = end
            .as_ref()
            .expect("closed by the body deadline plus the margin");
        assert!(
            end.after >= body_deadline,
            "answered early: {:?}",
            end.after
        );
        let (status, json) = parse_answer(&end.answer);
        assert_eq!(status, "HTTP/1.1 408 Request Timeout");
        assert_eq!(json["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
        assert!(
            json["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("EYE_BODY_READ_TIMEOUT_MS")
        );
    }
    // Exactly the legitimate client's events: nothing of a half-sent request.
    legit.assert_all_stored(&app).await;
    assert_eq!(app.table_count("event_errors").await, 0);
    assert_eq!(wait_for_server_sockets(server.port(), 0).await, 0);
    assert_still_serving(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_refused_at_once_until_the_held_ones_close() {
    allow_many_descriptors();
    const CAP: usize = 50;
    let header_deadline = Duration::from_millis(3_000);
    let app = spawn_app_with(|s| {
        s.connections.max_connections = CAP;
        s.connections.header_read_timeout_ms = 3_000;
    })
    .await;
    let server = address(&app);
    let mut held = Vec::new();
    for _ in 0..CAP {
        let mut stream = TcpStream::connect(server).await.expect("connect");
        stream.write_all(UNFINISHED_HEAD).await.expect("write");
        held.push((stream, Instant::now()));
    }
    assert_eq!(wait_for_server_sockets(server.port(), CAP).await, CAP);

    // Over the cap: answered at once, long before any deadline, without sending anything.
    for _ in 0..20 {
        let since = Instant::now();
        let stream = TcpStream::connect(server).await.expect("connect");
        let end = read_until_closed(stream, since, MARGIN)
            .await
            .expect("refused at once");
        let (status, json) = parse_answer(&end.answer);
        assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
        assert_eq!(json["errors"][0]["extensions"]["code"], "UNAVAILABLE");
        let answer = String::from_utf8_lossy(&end.answer);
        assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
        assert!(answer.contains("\r\nretry-after: 1\r\n"), "{answer}");
        assert!(end.after < header_deadline, "not queued: {:?}", end.after);
    }
    // A refused socket is closed right after its answer, which the client may read first.
    assert_eq!(
        wait_for_server_sockets(server.port(), CAP).await,
        CAP,
        "refused ones hold nothing"
    );

    // The held connections close by their deadline, and their permits serve others again.
    for (stream, since) in held {
        let end = read_until_closed(stream, since, header_deadline + MARGIN).await;
        assert!(end.is_some(), "closed by the header deadline");
    }
    let answer = app
        .record(json!([event(
            "s",
            "c",
            "n",
            "2021-01-01T00:00:00Z",
            Some("after")
        )]))
        .await;
    assert_eq!(answer["accepted"], 1);
    assert_eq!(app.table_count("events").await, 1);
}

#[tokio::test]
async fn a_request_past_its_deadline_is_answered_503_and_stores_nothing() {
    let request_deadline = Duration::from_millis(1_000);
    let app = spawn_app_with(|s| {
        s.connections.request_timeout_ms = 1_000;
        s.connections.body_read_timeout_ms = 30_000;
    })
    .await;
    let (head, body) = record_request(&app, "late");
    let before = app.snapshot().await;
    let mut stream = TcpStream::connect(address(&app)).await.expect("connect");
    let since = Instant::now();
    stream.write_all(head.as_bytes()).await.unwrap();
    let (read, write) = stream.into_split();
    let answered = Arc::new(AtomicBool::new(false));
    tokio::spawn(trickle(write, body.into_bytes(), answered.clone()));
    let end = read_until_closed(read, since, request_deadline + MARGIN)
        .await
        .expect("answered by the request deadline");
    answered.store(true, Ordering::SeqCst);

    assert!(
        end.after >= request_deadline,
        "answered early: {:?}",
        end.after
    );
    let (status, json) = parse_answer(&end.answer);
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
    assert_eq!(json["errors"][0]["extensions"]["code"], "UNAVAILABLE");
    let message = json["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("EYE_REQUEST_TIMEOUT_MS"), "{message}");
    assert_eq!(app.snapshot().await, before, "nothing stored");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_by_the_header_deadline() {
    let header_deadline = Duration::from_millis(1_000);
    let app = spawn_app_with(|s| s.connections.header_read_timeout_ms = 1_000).await;
    let mut stream = TcpStream::connect(address(&app)).await.expect("connect");
    // The server's idle clock starts after its answer, so after this.
    let asked = Instant::now();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: eye\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    while !answer.ends_with(b"\r\n\r\nok") {
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before answering: {answer:?}");
        answer.extend_from_slice(&buf[..n]);
    }

    let end = read_until_closed(stream, asked, header_deadline + MARGIN)
        .await
        .expect("closed by the header deadline");
    assert!(
        end.after >= header_deadline,
        "closed early: {:?}",
        end.after
    );
    assert!(end.answer.is_empty(), "{:?}", end.answer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_a_request_in_flight_and_waits_no_longer_than_the_deadlines() {
    let header_deadline = Duration::from_millis(1_500);
    let mut app = spawn_app_with(|s| s.connections.header_read_timeout_ms = 1_500).await;
    let server = address(&app);
    let mut slow = Vec::new();
    for _ in 0..100 {
        let mut stream = TcpStream::connect(server).await.expect("connect");
        stream.write_all(UNFINISHED_HEAD).await.expect("write");
        slow.push(stream);
    }
    let (head, body) = record_request(&app, "in flight");
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    let mut in_flight = TcpStream::connect(server).await.expect("connect");
    in_flight.write_all(head.as_bytes()).await.unwrap();
    in_flight.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let stopping = Instant::now();
    let finish_request = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        in_flight.write_all(rest).await.unwrap();
        read_until_closed(&mut in_flight, stopping, MARGIN).await
    };
    let ((), answered) = tokio::join!(app.stop(), finish_request);
    let stopped_after = stopping.elapsed();

    let answer = answered.expect("answered before the server stopped");
    let answer = String::from_utf8_lossy(&answer.answer);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("\"accepted\":1"), "{answer}");
    assert_eq!(app.table_count("events").await, 1);
    assert!(
        stopped_after < header_deadline + MARGIN,
        "slow connections held the shutdown for {stopped_after:?}"
    );
    assert!(
        TcpStream::connect(server).await.is_err(),
        "a stopped server accepts nothing"
    );
    drop(slow);
}

/// With a descriptor limit far below the cap (`ulimit -n 128`), the server warns at start, and
/// a flood that exhausts its descriptors makes accepting fail for a while (`EMFILE`) without
/// ending the process: once the flood's deadline has closed it, requests succeed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_descriptors_is_logged_and_survived() {
    allow_many_descriptors();
    let fx = Fixture::new().await;
    let args = ["--header-read-timeout-ms", "1000"];
    let mut server = ServerProcess::start_with_open_files(&fx.database_url, &args, 128);
    let address: SocketAddr = server.url.trim_start_matches("http://").parse().unwrap();
    assert!(
        server.logged("exceed the open-file limit"),
        "warned at start: {:?}",
        server.log.lock().unwrap()
    );

    let mut flood = Vec::new();
    for _ in 0..300 {
        if let Ok(mut stream) = TcpStream::connect(address).await {
            let _ = stream.write_all(UNFINISHED_HEAD).await;
            flood.push(stream);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.logged("accepting connections failed") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        server.logged("accepting connections failed"),
        "{:?}",
        server.log.lock().unwrap()
    );
    // Every flood connection is closed by the deadline (the backlog's once accepted).
    let mut closed = JoinSet::new();
    for stream in flood {
        closed.spawn(read_until_closed(
            stream,
            Instant::now(),
            Duration::from_secs(20),
        ));
    }
    while let Some(end) = closed.join_next().await {
        assert!(
            end.unwrap().is_some(),
            "a flood connection was never closed"
        );
    }
    assert!(server.is_running(), "the server exited");
    let batch = json!([event("s", "c", "n", "2021-01-01T00:00:00Z", Some("after"))]);
    let answer = fx.send(&server.url, &batch).await.expect("served again");
    assert_eq!(answer["accepted"], 1, "{answer}");
}
