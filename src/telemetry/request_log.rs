//! One log line per GraphQL request.
//!
//! The handler creates a [`RequestLog`], hands it to the resolvers through the request's data,
//! and writes it when the answer is ready. What it holds is safe to log: the operation names
//! the client gave, the application and the key's row id (never the key), the error codes, and
//! the numbers of events accepted, found duplicate and rejected.

use std::sync::Mutex;
use std::time::Duration;

use super::meters;

/// The error codes of the API; anything else is counted as `OTHER`, so that the refusal
/// metric's label stays a fixed set.
const KNOWN_CODES: [&str; 7] = [
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "BAD_USER_INPUT",
    "LIMIT_EXCEEDED",
    "RATE_LIMITED",
    "UNAVAILABLE",
    "INTERNAL",
];

/// What one request did, filled in while it runs.
#[derive(Debug, Default)]
pub struct RequestLog(Mutex<Fields>);

#[derive(Debug, Default)]
struct Fields {
    operation: String,
    application: Option<String>,
    key_id: Option<i32>,
    codes: Vec<&'static str>,
    accepted: u64,
    duplicates: u64,
    rejected: u64,
}

impl RequestLog {
    fn fields(&self) -> std::sync::MutexGuard<'_, Fields> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The operation names of the request (`anonymous` for an unnamed one), comma-separated
    /// for a batched request.
    pub fn set_operation(&self, operation: String) {
        self.fields().operation = operation;
    }

    /// The authenticated caller.
    pub fn set_caller(&self, application: &str, key_id: i32) {
        let mut fields = self.fields();
        fields.application = Some(application.to_owned());
        fields.key_id = Some(key_id);
    }

    /// Adds a `recordEvents` answer's counts.
    pub fn add_events(&self, accepted: u64, duplicates: u64, rejected: u64) {
        let mut fields = self.fields();
        fields.accepted += accepted;
        fields.duplicates += duplicates;
        fields.rejected += rejected;
    }

    /// Notes an error answered with `code` and counts it in `eye_refusals_total`.
    pub fn refused(&self, code: &str) {
        let code = KNOWN_CODES
            .iter()
            .find(|known| **known == code)
            .copied()
            .unwrap_or("OTHER");
        meters::refused(code);
        self.fields().codes.push(code);
    }

    /// Writes the request's line.
    pub fn finish(&self, request_id: &str, status: u16, elapsed: Duration) {
        let fields = self.fields();
        let outcome = fields.codes.first().copied().unwrap_or("ok");
        let codes = fields.codes.join(",");
        tracing::info!(
            target: "the_eye::request",
            request_id,
            operation = fields.operation.as_str(),
            application = fields.application.as_deref(),
            key_id = fields.key_id,
            status,
            outcome,
            codes = (!codes.is_empty()).then_some(codes.as_str()),
            duration_ms = elapsed.as_secs_f64() * 1_000.0,
            accepted = fields.accepted,
            duplicates = fields.duplicates,
            rejected = fields.rejected,
            "graphql request"
        );
    }
}
