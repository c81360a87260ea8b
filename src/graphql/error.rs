//! From service errors to GraphQL errors with a stable `extensions.code`.
//!
//! The crate enables async-graphql's `custom-error-conversion` feature, which removes its
//! blanket conversion from any `Display` type: a stray `?` on a database error in a resolver
//! does not compile, instead of sending the database's message to the client.

use async_graphql::{Error, ErrorExtensions};

use crate::error::AppError;
use crate::telemetry::request_id;

impl From<AppError> for Error {
    fn from(err: AppError) -> Self {
        let code = err.code();
        match err {
            AppError::Internal(cause) => {
                let request_id = request_id();
                tracing::error!(%request_id, error = ?cause, "internal error");
                Error::new(format!(
                    "internal error; quote request id {request_id} when reporting it"
                ))
                .extend_with(|_, ext| {
                    ext.set("code", code);
                    ext.set("requestId", request_id.as_str());
                })
            }
            AppError::RateLimited {
                message,
                retry_after_ms,
            } => Error::new(message).extend_with(|_, ext| {
                ext.set("code", code);
                ext.set("retryAfterMs", retry_after_ms);
            }),
            AppError::Lagged { missed } => {
                let message = match missed {
                    Some(n) => format!(
                        "the subscription fell behind and missed {n} items; subscribe again"
                    ),
                    None => "the subscription may have missed items (the stream was \
                             interrupted); subscribe again"
                        .to_string(),
                };
                Error::new(message).extend_with(|_, ext| {
                    ext.set("code", code);
                    if let Some(n) = missed {
                        ext.set("missed", n);
                    }
                })
            }
            AppError::Unauthenticated(m)
            | AppError::Forbidden(m)
            | AppError::BadInput(m)
            | AppError::LimitExceeded(m)
            | AppError::Unavailable(m) => Error::new(m).extend_with(|_, ext| ext.set("code", code)),
        }
    }
}

/// Gives every error that async-graphql raised itself (syntax, validation, argument
/// coercion, depth and complexity limits) a stable code too.
pub fn classify_unlabelled(errors: &mut [async_graphql::ServerError]) {
    for error in errors {
        let labelled = error
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if labelled {
            continue;
        }
        // async-graphql's limits (depth, complexity, its recursion checks in the parser and
        // before validation) have no error type of their own, only these messages.
        let limit = ["nested too deep", "too complex", "recursion"]
            .iter()
            .any(|m| error.message.contains(m));
        let code = if limit {
            "LIMIT_EXCEEDED"
        } else {
            "BAD_USER_INPUT"
        };
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
}
