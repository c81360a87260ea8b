//! The middleware stack every route runs under, outermost first: a request id (taken from
//! `x-request-id` or made up, and echoed back), tracing, the body-size limit (the body is read
//! here, up to the limit, so nothing bigger is ever parsed), the request id made available to
//! the code below, and a panic catcher that turns a panic into an `INTERNAL` answer.

use std::any::Any;

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
use crate::config::Limits;
use crate::graphql::error::{REQUEST_ID, request_id};

/// Applies the middleware stack every route of The Eye runs under (see the module docs).
pub fn with_layers(router: Router, limits: &Limits) -> Router {
    router
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(scope_request_id))
        .layer(middleware::from_fn_with_state(
            limits.max_body_bytes,
            limit_body,
        ))
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

/// Reads the whole body, refusing it with 413 as soon as it is known to exceed the limit: from
/// `Content-Length` before reading anything, or while reading a body of undeclared length.
async fn limit_body(State(max_bytes): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_bytes as u64) {
        return body_too_large(max_bytes);
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, max_bytes).await {
        Ok(bytes) => bytes,
        Err(err) => {
            if err
                .into_inner()
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
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

fn body_too_large(max_bytes: usize) -> Response {
    crate::telemetry::meters::refused("LIMIT_EXCEEDED");
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
