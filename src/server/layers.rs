//! The middleware stack every route runs under, outermost first: a request id (taken from
//! `x-request-id` or made up, and echoed back), tracing, the whole request's deadline, the body
//! limits (the body is read here, up to its size limit and by its deadline, so nothing bigger is
//! ever parsed and nothing slower holds a request open), the request id made available to the
//! code below, and a panic catcher that turns a panic into an `INTERNAL` answer.
//!
//! Both deadlines are `tokio::time::timeout` around the work rather than tower-http's layers:
//! `RequestBodyTimeoutLayer` restarts its clock on every chunk, so a body trickling in a byte at
//! a time never trips it, and `TimeoutLayer` answers with an empty body where every error of
//! The Eye is GraphQL-shaped with a stable code.

use std::any::Any;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use super::REQUEST_ID_HEADER;
use crate::config::{ConnectionSettings, Limits};
use crate::telemetry::{REQUEST_ID, request_id};

/// What [`limit_body`] enforces.
#[derive(Clone, Copy)]
struct BodyLimits {
    max_bytes: usize,
    read_timeout: Duration,
}

/// Applies the middleware stack every route of The Eye runs under (see the module docs).
pub fn with_layers(router: Router, limits: &Limits, connections: &ConnectionSettings) -> Router {
    let body = BodyLimits {
        max_bytes: limits.max_body_bytes,
        read_timeout: Duration::from_millis(connections.body_read_timeout_ms),
    };
    let request_timeout = Duration::from_millis(connections.request_timeout_ms);
    router
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(scope_request_id))
        .layer(middleware::from_fn_with_state(body, limit_body))
        .layer(middleware::from_fn_with_state(request_timeout, deadline))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
        .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
}

/// Makes the request id available to everything below (errors, logs, the panic answer).
async fn scope_request_id(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    REQUEST_ID.scope(id, next.run(request)).await
}

/// Answers 503 `UNAVAILABLE` when the request (body, execution, commit) is not done within
/// `EYE_REQUEST_TIMEOUT_MS`, dropping the work. Dropping is safe: a `recordEvents` batch not yet
/// handed to the writer is never stored, and one already queued is committed or not as a whole
/// by the writer, which ignores that nobody waits for its answer (`ingest/writer.rs`); a
/// retried batch is then answered `DUPLICATE`. Other writes are single statements or
/// transactions, each of which happens whole or not at all. A websocket, once upgraded, lives
/// outside this request and its deadline.
async fn deadline(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                timeout_ms = timeout.as_millis(),
                "a request ran past its deadline"
            );
            error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                format!(
                    "the request did not finish within {} ms (EYE_REQUEST_TIMEOUT_MS); retrying is safe",
                    timeout.as_millis()
                ),
            )
        }
    }
}

/// Reads the whole body, refusing it with 413 as soon as it is known to exceed the size limit
/// (from `Content-Length` before reading anything, or while reading a body of undeclared
/// length), and with 408 when it has not all arrived by its deadline. Either way the request
/// goes no further, so nothing of it is stored.
async fn limit_body(State(limits): State<BodyLimits>, request: Request, next: Next) -> Response {
    let BodyLimits {
        max_bytes,
        read_timeout,
    } = limits;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_bytes as u64) {
        crate::telemetry::meters::refused("LIMIT_EXCEEDED");
        return body_too_large(max_bytes);
    }
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(read_timeout, axum::body::to_bytes(body, max_bytes)).await;
    let bytes = match read {
        Ok(Ok(bytes)) => bytes,
        Err(_) => return body_too_slow(read_timeout),
        Ok(Err(err)) => {
            if err
                .into_inner()
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                crate::telemetry::meters::refused("LIMIT_EXCEEDED");
                return body_too_large(max_bytes);
            }
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                "the request body could not be read".into(),
            );
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn body_too_slow(read_timeout: Duration) -> Response {
    error_response(
        StatusCode::REQUEST_TIMEOUT,
        "LIMIT_EXCEEDED",
        format!(
            "the request body did not arrive within {} ms (EYE_BODY_READ_TIMEOUT_MS)",
            read_timeout.as_millis()
        ),
    )
}

/// The answer 413 `LIMIT_EXCEEDED` to a body over `EYE_MAX_BODY_BYTES`, wherever that is found
/// (the caller counts the refusal).
pub(super) fn body_too_large(max_bytes: usize) -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "LIMIT_EXCEEDED",
        format!("the request body is larger than {max_bytes} bytes (EYE_MAX_BODY_BYTES)"),
    )
}

/// A panic anywhere below becomes an `INTERNAL` answer with the request id; the panic's
/// message goes to the log only.
fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    let id = request_id();
    tracing::error!(request_id = %id, panic = %message, "a request handler panicked");
    let body = serde_json::json!({ "errors": [{
        "message": format!("internal error; quote request id {id} when reporting it"),
        "extensions": { "code": "INTERNAL", "requestId": id },
    }] });
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}

/// A GraphQL-shaped error answer for a request refused before execution.
pub(super) fn error_response(status: StatusCode, code: &str, message: String) -> Response {
    let body =
        serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, axum::Json(body)).into_response()
}
