//! Why an event was rejected: a stable code, a human message, and where in the event the
//! problem is (a JSON Pointer such as `/data/host`, or `/timestamp`).

use serde::{Deserialize, Serialize};

/// The stable reason codes of a rejected event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReasonCode {
    /// A required text field (`sessionId`, `category`, `name`, `id`) is empty.
    EmptyValue,
    /// A text field is longer than its limit.
    ValueTooLong,
    /// A text field or the payload holds a NUL character, which databases cannot store.
    InvalidCharacter,
    /// The timestamp is not a date-time in an accepted format.
    InvalidTimestamp,
    /// The timestamp lies later than the time of receipt plus the allowed skew.
    TimestampInFuture,
    /// `data` is not a JSON object.
    DataNotObject,
    /// `data` is larger than the per-event limit.
    DataTooLarge,
    /// `data` is nested deeper than the limit.
    DataTooDeep,
    /// `data` does not match the JSON Schema of the event type.
    SchemaViolation,
    /// The event type has no schema and unknown types are rejected.
    UnknownEventType,
}

impl ReasonCode {
    /// The code as clients see it, e.g. `TIMESTAMP_IN_FUTURE`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::EmptyValue => "EMPTY_VALUE",
            ReasonCode::ValueTooLong => "VALUE_TOO_LONG",
            ReasonCode::InvalidCharacter => "INVALID_CHARACTER",
            ReasonCode::InvalidTimestamp => "INVALID_TIMESTAMP",
            ReasonCode::TimestampInFuture => "TIMESTAMP_IN_FUTURE",
            ReasonCode::DataNotObject => "DATA_NOT_OBJECT",
            ReasonCode::DataTooLarge => "DATA_TOO_LARGE",
            ReasonCode::DataTooDeep => "DATA_TOO_DEEP",
            ReasonCode::SchemaViolation => "SCHEMA_VIOLATION",
            ReasonCode::UnknownEventType => "UNKNOWN_EVENT_TYPE",
        }
    }
}

/// One reason an event was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Stable code.
    pub code: ReasonCode,
    /// What is wrong, for humans.
    pub message: String,
    /// JSON Pointer into the event as sent (`/timestamp`, `/data/form/email`), if it applies.
    pub path: Option<String>,
}

impl Reason {
    /// A reason with a code, a message and a path.
    pub fn new(code: ReasonCode, message: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            path: Some(path.into()),
        }
    }
}
