//! Seeing the service work: Prometheus metrics, logs, and the request id that ties a request's
//! log lines together.
//!
//! - [`meters`]: every metric's name and the functions the services call to move them; with no
//!   recorder installed (no `--metrics-listen`) they cost a branch each.
//! - [`exporter`]: the process-wide Prometheus recorder and the scrape, which reads the
//!   gauges that are cheaper to compute when asked (backlog, lag, pool) than to keep current.
//! - [`logs`]: `--log-format text|json` and the subscriber behind it.
//! - [`request_log`]: what one GraphQL request did, collected while it runs and written as
//!   one line at its end.
//!
//! The request id lives here, not in the GraphQL layer, because the writer records the ids
//! of the requests each group commit answers, and the writer must not depend on transport.

pub mod exporter;
pub mod logs;
pub mod meters;
pub mod request_log;

tokio::task_local! {
    /// The id of the request being served, for logs and for `INTERNAL` answers.
    pub static REQUEST_ID: String;
}

/// The current request's id, or `-` outside a request.
pub fn request_id() -> String {
    REQUEST_ID
        .try_with(|id| id.clone())
        .unwrap_or_else(|_| "-".into())
}
