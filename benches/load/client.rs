//! A minimal GraphQL-over-HTTP client: posts a body with the key and classifies the answer as
//! data or an error code (the GraphQL `extensions.code`, or the HTTP or transport failure).

use serde_json::{Value, json};

/// Talks to one server with one key.
#[derive(Clone)]
pub struct Gql {
    http: reqwest::Client,
    endpoint: String,
    authorization: String,
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
            http,
            endpoint: format!("{url}/graphql"),
            authorization: format!("Bearer {key}"),
        }
    }

    /// Posts a ready-made JSON body; returns `data` or an error code.
    pub async fn post(&self, body: String) -> Result<Value, String> {
        let response = self
            .http
            .post(&self.endpoint)
            .header("authorization", &self.authorization)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| transport_code(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| transport_code(&e))?;
        let mut answer: Value = serde_json::from_slice(&bytes)
            .map_err(|_| format!("HTTP_{}_NOT_JSON", status.as_u16()))?;
        if let Some(code) = answer["errors"][0]["extensions"]["code"].as_str() {
            return Err(code.to_string());
        }
        if !status.is_success() {
            return Err(format!("HTTP_{}", status.as_u16()));
        }
        Ok(answer["data"].take())
    }

    /// Runs `query` with `variables`; returns `data` or an error code.
    pub async fn query(&self, query: &str, variables: Value) -> Result<Value, String> {
        self.post(json!({ "query": query, "variables": variables }).to_string())
            .await
    }
}

fn transport_code(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "TRANSPORT_TIMEOUT".into()
    } else if e.is_connect() {
        "TRANSPORT_CONNECT".into()
    } else {
        "TRANSPORT".into()
    }
}
