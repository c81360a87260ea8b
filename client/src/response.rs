//! Reading a GraphQL answer: typed `data`, or an [`Error`] with the first error's code. A pure
//! function of the status, the `Retry-After` header and the body, so that any answer, however
//! malformed, can be fed to it in a property test; it never panics.

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, ErrorCode};

/// The GraphQL response shape, read leniently: `data` and `errors` may each be absent.
#[derive(Deserialize)]
struct Envelope<T> {
    data: Option<T>,
    #[serde(default)]
    errors: Option<Vec<Value>>,
}

/// Reads an answer: `Ok(data)` only for a successful status with no error and `data` of the
/// expected shape.
pub fn parse_response<T: DeserializeOwned>(
    status: u16,
    retry_after_header: Option<&str>,
    body: &[u8],
) -> Result<T, Error> {
    let header_wait = retry_after_header.and_then(parse_retry_after);
    match serde_json::from_slice::<Envelope<T>>(body) {
        Ok(envelope) => {
            if let Some(error) = envelope.errors.as_deref().and_then(<[Value]>::first) {
                return Err(server_error(error, status, header_wait));
            }
            if !(200..300).contains(&status) {
                return Err(Error::Http {
                    status,
                    retry_after: header_wait,
                });
            }
            envelope
                .data
                .ok_or_else(|| Error::Malformed("an answer without data or errors".into()))
        }
        // Not the expected shape: an error answer still says why, whatever `data` holds.
        Err(typed) => match serde_json::from_slice::<Value>(body) {
            Ok(answer) => match answer.get("errors").and_then(|e| e.get(0)) {
                Some(error) => Err(server_error(error, status, header_wait)),
                None if !(200..300).contains(&status) => Err(Error::Http {
                    status,
                    retry_after: header_wait,
                }),
                None => Err(Error::Malformed(typed.to_string())),
            },
            Err(_) if !(200..300).contains(&status) => Err(Error::Http {
                status,
                retry_after: header_wait,
            }),
            Err(e) => Err(Error::Malformed(format!("not JSON: {e}"))),
        },
    }
}

/// One GraphQL error object as an [`Error::Server`]; a missing code is `Other("")`.
fn server_error(error: &Value, status: u16, header_wait: Option<Duration>) -> Error {
    let extensions = error.get("extensions");
    let code = extensions
        .and_then(|e| e.get("code"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let retry_after_ms = extensions
        .and_then(|e| e.get("retryAfterMs"))
        .and_then(Value::as_u64)
        .map(Duration::from_millis);
    Error::Server {
        code: ErrorCode::parse(code),
        message: error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        status,
        retry_after: retry_after_ms.or(header_wait),
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by The Eye and is ignored).
fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}
