//! What became of one event: [`Delivery`].

use std::sync::Arc;

use crate::error::Error;
use crate::operations::record_events::{RecordEventsRecordEventsResultsErrors, RejectionCode};

/// Why the server rejected an event: a stable `code`, a `message` for humans and the JSON
/// Pointer `path` of the offending field.
pub type Reason = RecordEventsRecordEventsResultsErrors;

/// The result of one event given to [`Sender::send`](crate::Sender::send).
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The sequence number `send` returned.
    pub seq: u64,
    /// The event's id: the caller's, the UUIDv7 the sender gave it, or the one the server
    /// derived; `None` only for an event sent without an id and not stored.
    pub id: Option<String>,
    /// The event as it was sent, JSON-encoded.
    pub event: String,
    /// What happened.
    pub status: DeliveryStatus,
}

/// What happened to one event.
#[derive(Debug, Clone)]
pub enum DeliveryStatus {
    /// Stored now.
    Accepted,
    /// Stored before (same id); nothing written. A retry of a request whose answer was lost
    /// ends here.
    Duplicate,
    /// Invalid: the server recorded it in `eventErrors` with every reason.
    Rejected {
        /// Every reason.
        reasons: Vec<Reason>,
        /// Its `eventErrors` entry.
        error_id: Option<String>,
    },
    /// Given up on (a non-retryable refusal, or retries exhausted): not known to be stored.
    NotDelivered {
        /// The last error.
        error: Arc<Error>,
    },
}

/// A rejection code as the server spells it (`SCHEMA_VIOLATION`, …).
pub fn code_name(code: &RejectionCode) -> String {
    match serde_json::to_value(code) {
        Ok(serde_json::Value::String(name)) => name,
        _ => "UNKNOWN".to_string(),
    }
}
