//! The Eye's Rust SDK.
//!
//! # Layout
//! - [`operations`]: every operation of `clients/operations/*.graphql`, typed by
//!   `graphql_client` from `schema.graphql` (variables, answers, enums);
//! - [`Client`] (`client.rs`): one method per operation over one HTTP pool and one key;
//! - [`Sender`] (`sender/`): `send(event)` one at a time, delivered in batches with bounded
//!   memory, bounded requests in flight, ids that make retries safe, retries with backoff, and
//!   one [`Delivery`] per event;
//! - [`Error`] (`error.rs`): what a request can end in, and which of those are retried;
//! - `response.rs`: reading any answer, however malformed, without panicking;
//! - `backoff.rs`: how long to wait between attempts.
//!
//! ```no_run
//! use the_eye_client::{Client, Sender, SenderConfig, record_events::EventInput};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::new("http://127.0.0.1:8000", "eye_…")?;
//! let sender = Sender::new(client, SenderConfig::default());
//! sender
//!     .send(EventInput {
//!         id: None, // the sender gives it a UUIDv7
//!         session_id: "e2085be5-9137-4e4e-80b5-f1ffddc25423".into(),
//!         category: "page interaction".into(),
//!         name: "pageview".into(),
//!         data: serde_json::json!({"host": "www.consumeraffairs.com", "path": "/"}),
//!         timestamp: "2021-01-01T09:15:27.243860Z".into(),
//!     })
//!     .await?;
//! let stats = sender.close().await; // delivers everything buffered
//! assert_eq!(stats.accepted + stats.duplicates, 1);
//! # Ok(())
//! # }
//! ```

mod backoff;
mod client;
mod error;
pub mod operations;
mod response;
mod sender;

pub use backoff::{Backoff, DEFAULT_BACKOFF_INITIAL, DEFAULT_BACKOFF_MAX};
pub use client::{CONNECT_TIMEOUT, Client, DEFAULT_TIMEOUT};
pub use error::{Error, ErrorCode};
pub use operations::record_events;
pub use response::parse_response;
pub use sender::{
    DEFAULT_BUFFER_EVENTS, DEFAULT_GIVE_UP_AFTER, DEFAULT_LINGER, DEFAULT_MAX_BATCH_BYTES,
    DEFAULT_MAX_BATCH_EVENTS, DEFAULT_MAX_IN_FLIGHT, Delivery, DeliveryStatus, OnDelivery, Reason,
    SendError, Sender, SenderConfig, Stats, TrySendError, code_name,
};
