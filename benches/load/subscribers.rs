//! Live-stream subscribers during an ingest run (`ingest --subscribers N`): each opens
//! `/graphql/ws` (graphql-transport-ws) and subscribes to every `eventRecorded`. A *reading*
//! subscriber consumes messages as they come and counts them; a *stalled* one never reads
//! again after subscribing, so its socket's buffers fill and the server must drop it with
//! `LAGGED` rather than slow ingest down. Comparing the ack latencies of a run with and
//! without them shows what the live stream costs ingest.

use std::sync::{Arc, Mutex};

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
    tasks: Vec<JoinHandle<anyhow::Result<Seen>>>,
    // What each reading subscriber has seen so far, read when the run ends.
    counters: Vec<Arc<Mutex<Seen>>>,
    // Stalled subscribers' sockets, held unread until the end.
    stalled: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl Subscribers {
    /// Opens `count` subscriptions at `url` with `key`, each subscribed before this returns.
    pub async fn start(url: &str, key: &str, count: usize, pace: Pace) -> anyhow::Result<Self> {
        let mut tasks = Vec::new();
        let mut counters = Vec::new();
        let mut stalled = Vec::new();
        for _ in 0..count {
            let mut socket = subscribe(url, key).await?;
            match pace {
                Pace::Reading => {
                    let seen = Arc::new(Mutex::new(Seen::default()));
                    counters.push(seen.clone());
                    tasks.push(tokio::spawn(async move {
                        while let Some(message) = socket.next().await {
                            let Ok(Message::Text(text)) = message else {
                                continue;
                            };
                            let value: Value = serde_json::from_str(&text)?;
                            let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                            match value["type"].as_str() {
                                // A stream that fell behind ends with an error in a `next`.
                                Some("next") if value["payload"]["errors"].is_array() => {
                                    seen.lagged = value.to_string().contains("LAGGED");
                                }
                                Some("next") => seen.events += 1,
                                Some("error") => {
                                    seen.lagged = value.to_string().contains("LAGGED");
                                    break;
                                }
                                Some("complete") => break,
                                _ => {}
                            }
                        }
                        Ok(Seen::default())
                    }));
                }
                Pace::Stalled => {
                    let (done, wait) = tokio::sync::oneshot::channel();
                    stalled.push(done);
                    tasks.push(tokio::spawn(async move {
                        let _ = wait.await;
                        // Now read what is left: was the subscription ended with LAGGED?
                        let mut seen = Seen::default();
                        let drain = async {
                            while let Some(Ok(message)) = socket.next().await {
                                if let Message::Text(text) = message
                                    && text.contains("LAGGED")
                                {
                                    seen.lagged = true;
                                    break;
                                }
                            }
                        };
                        let _ =
                            tokio::time::timeout(std::time::Duration::from_secs(10), drain).await;
                        Ok(seen)
                    }));
                }
            }
        }
        Ok(Self {
            tasks,
            counters,
            stalled,
        })
    }

    /// Ends every subscription and reports what each saw.
    pub async fn finish(self) -> Vec<Seen> {
        // Reading subscribers have had every event once the backlog is empty; give the last
        // messages a moment to arrive.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let mut seen: Vec<Seen> = self
            .counters
            .iter()
            .map(|c| *c.lock().unwrap_or_else(|e| e.into_inner()))
            .collect();
        for done in self.stalled {
            let _ = done.send(());
        }
        for task in self.tasks {
            if seen.len() == self.counters.len() && !self.counters.is_empty() {
                task.abort();
                continue;
            }
            match task.await {
                Ok(Ok(s)) => seen.push(s),
                _ => seen.push(Seen::default()),
            }
        }
        seen
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
