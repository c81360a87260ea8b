//! Whatever a server answers — any status, any `Retry-After`, any body — the `Sender` does not
//! panic, and every event sent gets exactly one delivery. The "server" is a bare TCP listener
//! answering each request with the case's status, header and body.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};
use the_eye_client::record_events::EventInput;
use the_eye_client::{Backoff, Client, Delivery, Sender, SenderConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const EVENTS: usize = 7;

#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Vec<u8>,
}

/// A `recordEvents` answer with results of any index and status, or any JSON, or any bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let result = (
        -2i64..10,
        prop::sample::select(vec!["ACCEPTED", "DUPLICATE", "REJECTED", "LOST", ""]),
        prop::option::of(".{0,8}"),
    )
        .prop_map(|(index, status, id)| {
            json!({"index": index, "id": id, "status": status, "errorId": null,
                   "errors": [{"code": "SCHEMA_VIOLATION", "message": "m", "path": null}]})
        });
    let record = prop::collection::vec(result, 0..10).prop_map(|results| {
        json!({"data": {"recordEvents": {"accepted": 1, "duplicates": 0, "rejected": 0,
                                          "results": results}}})
    });
    let error = prop::sample::select(vec![
        "RATE_LIMITED",
        "UNAVAILABLE",
        "LIMIT_EXCEEDED",
        "FORBIDDEN",
        "INTERNAL",
        "WHAT",
    ])
    .prop_flat_map(|code| {
        prop::option::of(any::<u64>()).prop_map(move |ms| {
            json!({"errors": [{"message": "no", "extensions": {"code": code, "retryAfterMs": ms}}],
                   "data": null})
        })
    });
    prop_oneof![
        record.prop_map(|v: Value| v.to_string().into_bytes()),
        error.prop_map(|v: Value| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..256),
    ]
}

fn answer() -> impl Strategy<Value = Answer> {
    (
        prop::sample::select(vec![200u16, 400, 413, 429, 500, 502, 503]),
        prop::option::of(prop_oneof!["[0-9]{1,25}".boxed(), "[ -~]{0,12}".boxed()]),
        body(),
    )
        .prop_map(|(status, retry_after, body)| Answer {
            status,
            retry_after,
            body,
        })
}

/// Answers every request on `listener` with `answer`.
async fn serve(listener: TcpListener, answer: Answer) {
    while let Ok((mut socket, _)) = listener.accept().await {
        let answer = answer.clone();
        tokio::spawn(async move {
            read_request(&mut socket).await;
            let mut head = format!(
                "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                answer.status,
                answer.body.len()
            );
            if let Some(value) = &answer.retry_after {
                head.push_str(&format!("retry-after: {value}\r\n"));
            }
            head.push_str("\r\n");
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&answer.body).await;
            let _ = socket.shutdown().await;
        });
    }
}

/// Reads the headers and `content-length` bytes of body.
async fn read_request(socket: &mut tokio::net::TcpStream) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let Ok(n) = socket.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if seen.len() >= end + 4 + length {
                return;
            }
        }
    }
}

fn event(i: usize) -> EventInput {
    EventInput {
        id: None,
        session_id: "s".into(),
        category: "c".into(),
        name: "n".into(),
        data: json!({"i": i}),
        timestamp: "2021-01-01T00:00:00Z".into(),
    }
}

async fn run_case(answer: Answer) -> (Vec<u64>, u64) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(serve(listener, answer));
    let client = Client::with_timeout(&url, "eye_test", Duration::from_secs(5)).unwrap();
    let config = SenderConfig {
        max_batch_events: 3,
        linger: Duration::from_millis(1),
        backoff: Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(5),
        },
        give_up_after: Duration::from_millis(100),
        ..SenderConfig::default()
    };
    let seen: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let sink = seen.clone();
    let sender = Sender::with_callback(client, config, move |d| sink.lock().unwrap().push(d));
    for i in 0..EVENTS {
        sender.send(event(i)).await.unwrap();
    }
    let stats = sender.close().await;
    server.abort();
    let mut seqs: Vec<u64> = seen.lock().unwrap().iter().map(|d| d.seq).collect();
    seqs.sort_unstable();
    let counted = stats.accepted + stats.duplicates + stats.rejected + stats.not_delivered;
    assert_eq!(stats.held, 0);
    (seqs, counted)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_answer_gives_every_event_exactly_one_delivery(answer in answer()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (seqs, counted) = runtime.block_on(run_case(answer));
        prop_assert_eq!(seqs, (0..EVENTS as u64).collect::<Vec<_>>());
        prop_assert_eq!(counted, EVENTS as u64);
    }
}
