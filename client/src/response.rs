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
    // serde would read a struct from an array too (positionally); an answer is an object.
    let is_object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let typed = if is_object {
        serde_json::from_slice::<Envelope<T>>(body)
    } else {
        Err(serde::de::Error::custom("the answer is not a JSON object"))
    };
    match typed {
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::operations::record_events::ResponseData;

    /// JSON built from the words a GraphQL answer uses, so that shapes close to real answers
    /// (right keys, wrong types) come up often.
    fn answer_like() -> impl Strategy<Value = Value> {
        let key = prop::sample::select(vec![
            "data",
            "errors",
            "recordEvents",
            "results",
            "index",
            "id",
            "status",
            "errors",
            "extensions",
            "code",
            "retryAfterMs",
            "message",
            "accepted",
            "duplicates",
            "path",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
            prop::sample::select(vec![
                "ACCEPTED",
                "REJECTED",
                "RATE_LIMITED",
                "UNAVAILABLE",
                ""
            ])
            .prop_map(Value::from),
            ".*".prop_map(Value::from),
        ];
        leaf.prop_recursive(6, 64, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..6).prop_map(|fields| {
                    Value::Object(
                        fields
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v))
                            .collect(),
                    )
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_bytes_are_an_answer_or_an_error(
            status in any::<u16>(),
            retry_after in proptest::option::of(".*"),
            body in prop::collection::vec(any::<u8>(), 0..512),
        ) {
            let _ = parse_response::<ResponseData>(status, retry_after.as_deref(), &body);
        }

        #[test]
        fn only_a_successful_status_without_errors_gives_data(
            status in prop_oneof![Just(200u16), Just(429), Just(500), any::<u16>()],
            answer in answer_like(),
        ) {
            let body = serde_json::to_vec(&answer).unwrap();
            let parsed = parse_response::<ResponseData>(status, Some("2"), &body);
            let has_error = answer.get("errors").and_then(|e| e.get(0)).is_some();
            match parsed {
                Ok(_) => prop_assert!((200..300).contains(&status) && !has_error),
                Err(Error::Server { .. }) => prop_assert!(has_error),
                Err(_) => prop_assert!(!has_error),
            }
        }
    }

    #[test]
    fn a_rate_limit_answer_says_how_long_to_wait() {
        let body = br#"{"errors":[{"message":"slow down","extensions":{"code":"RATE_LIMITED","retryAfterMs":1234}}]}"#;
        let err = parse_response::<ResponseData>(429, Some("2"), body).unwrap_err();
        assert!(err.is_retryable());
        assert_eq!(err.code(), Some(&ErrorCode::RateLimited));
        assert_eq!(err.retry_after(), Some(Duration::from_millis(1234)));

        let without_ms =
            br#"{"errors":[{"message":"slow down","extensions":{"code":"RATE_LIMITED"}}]}"#;
        let err = parse_response::<ResponseData>(429, Some("2"), without_ms).unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
    }

    #[test]
    fn codes_decide_what_is_retried() {
        let cases = [
            ("UNAVAILABLE", true),
            ("RATE_LIMITED", true),
            ("BAD_USER_INPUT", false),
            ("UNAUTHENTICATED", false),
            ("FORBIDDEN", false),
            ("LIMIT_EXCEEDED", false),
            ("INTERNAL", false),
        ];
        for (code, retried) in cases {
            let body = json!({"errors": [{"message": "m", "extensions": {"code": code}}]});
            let err =
                parse_response::<ResponseData>(200, None, body.to_string().as_bytes()).unwrap_err();
            assert_eq!(err.is_retryable(), retried, "{code}");
            assert_eq!(err.code().map(ErrorCode::as_str), Some(code));
        }
        let proxy = parse_response::<ResponseData>(502, None, b"<html>Bad Gateway</html>");
        assert!(matches!(proxy, Err(Error::Http { status: 502, .. })));
        assert!(proxy.unwrap_err().is_retryable());
        let garbage = parse_response::<ResponseData>(200, None, b"<html>");
        assert!(matches!(garbage, Err(Error::Malformed(_))));
    }
}
