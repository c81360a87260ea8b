//! Live-stream subscribers during an ingest run (`ingest --subscribers N`): each opens
//! `/graphql/ws` (graphql-transport-ws) and subscribes to every `eventRecorded`. A *reading*
//! subscriber consumes messages as they come and counts them; a *stalled* one never reads
//! again after subscribing, so its socket's buffers fill and the server must drop it with
//! `LAGGED` rather than slow ingest down. Comparing the ack latencies of a run with and
//! without them shows what the live stream costs ingest.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const RECORDED: &str = "subscription { eventRecorded { id sessionId category name data timestamp application { name } } }";

/// How subscribers treat the messages they are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Pace {
    /// Read every message at once.
    Reading,
    /// Never read after subscribing.
    Stalled,
}

/// What a subscriber saw by the end of the run.
#[derive(Debug, Default, Clone, Copy)]
pub struct Seen {
    /// `next` messages received (reading subscribers only).
    pub events: u64,
    /// Whether the server ended the subscription with `LAGGED`.
    pub lagged: bool,
}

/// The subscribers of one run.
pub struct Subscribers {
    pace: Pace,
    // Each subscriber's task and what it has seen so far.
    each: Vec<(JoinHandle<()>, Arc<Mutex<Seen>>)>,
    // Releases the stalled subscribers' tasks to read what is left.
    stalled: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl Subscribers {
    /// Opens `count` subscriptions at `url` with `key`, each subscribed before this returns.
    pub async fn start(url: &str, key: &str, count: usize, pace: Pace) -> anyhow::Result<Self> {
        let mut each = Vec::new();
        let mut stalled = Vec::new();
        for _ in 0..count {
            let socket = subscribe(url, key).await?;
            let seen = Arc::new(Mutex::new(Seen::default()));
            let task = match pace {
                Pace::Reading => tokio::spawn(read(socket, seen.clone())),
                Pace::Stalled => {
                    let (done, wait) = tokio::sync::oneshot::channel::<()>();
                    stalled.push(done);
                    let seen = seen.clone();
                    tokio::spawn(async move {
                        let _ = wait.await;
                        // Now read what is left: was the subscription ended with LAGGED?
                        let drain = read(socket, seen);
                        let _ = tokio::time::timeout(Duration::from_secs(10), drain).await;
                    })
                }
            };
            each.push((task, seen));
        }
        Ok(Self {
            pace,
            each,
            stalled,
        })
    }

    /// Ends every subscription and reports what each saw.
    pub async fn finish(self) -> Vec<Seen> {
        for done in self.stalled {
            let _ = done.send(());
        }
        // Reading subscribers have had every event once the backlog is empty; give the last
        // messages a moment to arrive. Stalled ones end when they reach the end of the stream.
        if self.pace == Pace::Reading {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let mut seen = Vec::new();
        for (task, counted) in self.each {
            match self.pace {
                Pace::Reading => task.abort(),
                Pace::Stalled => {
                    let _ = task.await;
                }
            }
            seen.push(*counted.lock().unwrap_or_else(|e| e.into_inner()));
        }
        seen
    }
}

/// Counts the events a subscription delivers until it ends; notes a `LAGGED` end, which
/// arrives as an error in a `next` message (or, for protocol errors, an `error` message).
async fn read(mut socket: Socket, seen: Arc<Mutex<Seen>>) {
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        match value["type"].as_str() {
            Some("next") if value["payload"]["errors"].is_array() => {
                seen.lagged = text.contains("LAGGED");
            }
            Some("next") => seen.events += 1,
            Some("error") => {
                seen.lagged = text.contains("LAGGED");
                break;
            }
            Some("complete") => break,
            _ => {}
        }
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws connection, initialised with the key and subscribed to every
/// recorded event.
async fn subscribe(url: &str, key: &str) -> anyhow::Result<Socket> {
    let mut request =
        format!("{}/graphql/ws", url.replace("http://", "ws://")).into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .context("opening /graphql/ws")?;
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {key}") } });
    socket.send(Message::Text(init.to_string().into())).await?;
    loop {
        match socket
            .next()
            .await
            .context("the server closed the socket")??
        {
            Message::Text(text) if text.contains("connection_ack") => break,
            Message::Text(text) => anyhow::bail!("no connection_ack: {text}"),
            _ => continue,
        }
    }
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": RECORDED } });
    socket
        .send(Message::Text(subscribe.to_string().into()))
        .await?;
    Ok(socket)
}
