//! Accepting and serving client connections, with a deadline on every phase of a connection
//! and a cap on how many are open at once.
//!
//! `axum::serve` has neither a header deadline nor a connection cap: a client that opened
//! connections and never finished a request held a file descriptor each, forever, and with the
//! common limit of 1,024 open files a thousand such sockets from one host took the service off
//! the air. Here:
//! - hyper closes a connection whose request head has not all arrived within
//!   `EYE_HEADER_READ_TIMEOUT_MS`. It starts that clock whenever a connection may send a request
//!   (when it is accepted, and again when an answer has been written), so it is also the idle
//!   keep-alive timeout.
//! - The body's and the whole request's deadlines are middleware ([`super::layers`]).
//! - `EYE_MAX_CONNECTIONS` permits of a semaphore: a connection accepted when none is free is
//!   answered 503 and closed at once, so a flood costs a descriptor for microseconds instead of
//!   growing a queue without bound. An upgraded connection (a websocket) leaves hyper once the
//!   upgrade is done, and with it its permit: websockets need their own bound where they are
//!   served.
//!
//! Only HTTP/1.1 is served, by hyper's `http1` builder rather than hyper-util's `auto` one:
//! `auto` first reads the opening bytes to detect HTTP/2, with no deadline (a client that sends
//! nothing would be held forever again), and HTTP/2 has no header deadline. HTTP/1 upgrades
//! (websockets) keep working. hyper-util's `GracefulShutdown` cannot watch hyper's upgradeable
//! HTTP/1 connection, so draining takes a watch channel here: every connection task holds a
//! receiver; shutdown flips the value and waits until every receiver is gone.

use std::future::Future;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::Service;

use crate::config::ConnectionSettings;

/// How long the accept loop pauses after an error such as running out of file descriptors
/// (`EMFILE`), which would otherwise repeat at once in a busy loop.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// At most one warning per interval about refused connections, and one about failed accepts,
/// each with the count since the last: a flood must not become a flood of log lines.
const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// The GraphQL-shaped body of the answer to a connection over the cap.
const OVER_CAPACITY_BODY: &str = r#"{"errors":[{"message":"too many open connections (EYE_MAX_CONNECTIONS); retry later","extensions":{"code":"UNAVAILABLE"}}]}"#;

/// The whole answer to a connection over the cap, written without reading its request.
static OVER_CAPACITY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{OVER_CAPACITY_BODY}",
        OVER_CAPACITY_BODY.len()
    )
});

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting and waits for
/// the open connections to finish their requests, each within its deadlines.
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    settings: &ConnectionSettings,
    shutdown: impl Future<Output = ()>,
) {
    let builder = Arc::new(http1_builder(settings));
    let permits = Arc::new(Semaphore::new(settings.max_connections));
    let (drain, draining) = watch::channel(false);
    let mut refusals = Throttled::default();
    let mut failures = Throttled::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                accept_failed(err, &mut failures).await;
                continue;
            }
        };
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let connection = Connection {
                    app: app.clone(),
                    builder: builder.clone(),
                    draining: draining.clone(),
                    _permit: permit,
                };
                tokio::spawn(connection.serve(stream, peer));
            }
            Err(_) => refuse(stream, settings.max_connections, &mut refusals),
        }
    }
    // New connections are now refused by the system; open ones finish their current request.
    drop(listener);
    drop(draining);
    let _ = drain.send(true);
    drain.closed().await;
}

fn http1_builder(settings: &ConnectionSettings) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(settings.header_read_timeout_ms))
        .keep_alive(true);
    builder
}

/// One accepted connection and what serving it needs; its permit is returned when it closes.
struct Connection {
    app: Router,
    builder: Arc<http1::Builder>,
    draining: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    async fn serve(self, stream: TcpStream, peer: SocketAddr) {
        // An answer goes out at once rather than waiting for the client's ACK of the last one.
        let _ = stream.set_nodelay(true);
        let Connection {
            app,
            builder,
            mut draining,
            _permit,
        } = self;
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            // What `into_make_service_with_connect_info` adds: handlers read the peer from it.
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().call(request)
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let shutdown = async move {
            // Its sender gone or set: either way the server is stopping.
            let _ = draining.wait_for(|stop| *stop).await;
        };
        tokio::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = shutdown => {
                // Finishes the request in progress, if any, then closes.
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(err) = result {
            // Header deadlines, resets and malformed requests: the client's problem, not ours.
            tracing::debug!(%peer, error = %err, "connection closed with an error");
        }
    }
}

/// Answers a connection over the cap and closes it. The write does not wait: a fresh socket's
/// send buffer has room, and a client that cannot take the answer just sees the close. It goes
/// through the plain socket because tokio's `try_write` refuses to write until its reactor has
/// seen the new socket become writable.
fn refuse(stream: TcpStream, max_connections: usize, refusals: &mut Throttled) {
    if let Ok(mut stream) = stream.into_std() {
        let _ = stream.write_all(OVER_CAPACITY.as_bytes());
    }
    if let Some(refused) = refusals.tick(Instant::now()) {
        tracing::warn!(
            refused,
            max_connections,
            "refusing connections: EYE_MAX_CONNECTIONS connections are open"
        );
    }
}

/// Logs (rate-limited) a failed accept and pauses, so that running out of descriptors neither
/// ends the server nor spins the loop; the connections that hold them close by their deadlines.
async fn accept_failed(err: io::Error, failures: &mut Throttled) {
    // A connection reset before it was accepted concerns that client only.
    if matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    ) {
        return;
    }
    if let Some(failed) = failures.tick(Instant::now()) {
        tracing::warn!(error = %err, failed, "accepting connections failed; pausing briefly");
    }
    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
}

/// Counts occurrences of something worth a warning and says when to log: at the first, then
/// at most once per [`WARN_INTERVAL`], with how many happened since the last line.
#[derive(Default)]
struct Throttled {
    last_logged: Option<Instant>,
    unlogged: u64,
}

impl Throttled {
    /// Counts one occurrence at `now`; `Some(count)` when it is time to log `count` of them.
    fn tick(&mut self, now: Instant) -> Option<u64> {
        self.unlogged += 1;
        if self
            .last_logged
            .is_some_and(|last| now.duration_since(last) < WARN_INTERVAL)
        {
            return None;
        }
        self.last_logged = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_logs_the_first_then_one_line_per_interval_with_the_count() {
        let start = Instant::now();
        let mut throttled = Throttled::default();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let logged: Vec<Option<u64>> = [0, 1, 2, 9_999, 10_000, 10_001, 25_000]
            .into_iter()
            .map(|ms| throttled.tick(at(ms)))
            .collect();
        assert_eq!(logged, [Some(1), None, None, None, Some(4), None, Some(2)]);
    }

    #[test]
    fn the_over_capacity_answer_declares_its_body_length() {
        let (head, body) = OVER_CAPACITY.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAVAILABLE");
    }
}
