//! The harness's GraphQL client: the SDK's [`Client`] (one client in the repo), with failures
//! classified as one code for the report: the GraphQL `extensions.code`, or the HTTP or
//! transport failure.

use serde_json::Value;
use the_eye_client::record_events::RecordEventsRecordEvents;
use the_eye_client::{Client, Error};

/// Talks to one server with one key.
#[derive(Clone)]
pub struct Gql {
    client: Client,
}

impl Gql {
    /// A client keeping up to `connections` idle connections to `url`.
    pub fn new(url: &str, key: &str, connections: usize) -> Self {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .tcp_nodelay(true)
            .build()
            .expect("HTTP client");
        Self {
            client: Client::with_http(url, key, http).expect("server URL and key"),
        }
    }

    /// The SDK client, for typed operations.
    pub fn sdk(&self) -> &Client {
        &self.client
    }

    /// `recordEvents` with events already encoded as JSON; returns the answer or an error code.
    pub async fn record(&self, events: &[String]) -> Result<RecordEventsRecordEvents, String> {
        self.client
            .record_encoded(events)
            .await
            .map_err(|e| code(&e))
    }

    /// Runs `query` with `variables`; returns `data` or an error code.
    pub async fn query(&self, query: &str, variables: Value) -> Result<Value, String> {
        self.client
            .query_json(query, variables)
            .await
            .map_err(|e| code(&e))
    }
}

/// One word for the report's "errors by code".
pub fn code(e: &Error) -> String {
    match e {
        Error::Server { code, .. } => code.to_string(),
        Error::Http { status, .. } => format!("HTTP_{status}"),
        Error::Malformed(_) => "MALFORMED_ANSWER".into(),
        Error::Transport(e) if e.is_timeout() => "TRANSPORT_TIMEOUT".into(),
        Error::Transport(e) if e.is_connect() => "TRANSPORT_CONNECT".into(),
        Error::Transport(_) => "TRANSPORT".into(),
        Error::Config(_) => "CONFIG".into(),
    }
}
