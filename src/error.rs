//! The one error taxonomy of the service.
//!
//! Services return [`AppError`]; the GraphQL layer turns it into an error whose
//! `extensions.code` is one of a fixed set of stable codes. Storage and unexpected errors are
//! logged with their whole cause chain and reach the client only as `INTERNAL` with a request
//! id. `AppError` deliberately does not implement `Display`: async-graphql converts anything that
//! does into an error carrying its text, which is exactly how database messages leak to clients.

use std::fmt;

use axum::http::StatusCode;

/// An error a service can return, classified by what the client can do about it.
pub enum AppError {
    /// No credentials, or credentials that are not valid.
    Unauthenticated(String),
    /// Valid credentials without the scope the operation needs.
    Forbidden(String),
    /// The request itself is wrong (bad argument, malformed cursor, invalid schema, …).
    BadInput(String),
    /// A named limit was exceeded.
    LimitExceeded(String),
    /// The key is over its rate limit; retrying after `retry_after_ms` may succeed.
    RateLimited {
        /// What was exceeded, for humans.
        message: String,
        /// How long to wait before the request can succeed.
        retry_after_ms: u64,
    },
    /// The service cannot answer now (database unreachable, queue full); retrying is safe.
    Unavailable(String),
    /// A subscriber fell too far behind the live stream and was closed; `missed` items (when
    /// known) were not delivered. Subscribing again resumes from the next event.
    Lagged {
        /// Items not delivered, when known.
        missed: Option<u64>,
    },
    /// Anything else: a bug or a storage failure. The client sees only a request id.
    Internal(anyhow::Error),
}

impl AppError {
    /// The stable code clients can match on.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::BadInput(_) => "BAD_USER_INPUT",
            AppError::LimitExceeded(_) => "LIMIT_EXCEEDED",
            AppError::RateLimited { .. } => "RATE_LIMITED",
            AppError::Unavailable(_) => "UNAVAILABLE",
            AppError::Lagged { .. } => "LAGGED",
            AppError::Internal(_) => "INTERNAL",
        }
    }

    /// The HTTP status of a request refused whole for this error before any operation ran:
    /// 429 when rate limited, 400 when the request itself is wrong or over a limit, and 200
    /// otherwise (a GraphQL answer that carries the error).
    pub fn http_status(&self) -> StatusCode {
        match self {
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::LimitExceeded(_) | AppError::BadInput(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::OK,
        }
    }

    /// The `Retry-After` of the answer, in whole seconds (at least 1), when retrying later may
    /// succeed: a rate-limited request.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::RateLimited { retry_after_ms, .. } => {
                Some(retry_after_ms.div_ceil(1_000).max(1))
            }
            _ => None,
        }
    }

    /// Adds what was being done to an `Internal` error's cause chain; other errors are
    /// answers to the client and stay as they are.
    pub fn context(self, context: &'static str) -> Self {
        match self {
            AppError::Internal(err) => AppError::Internal(err.context(context)),
            other => other,
        }
    }

    /// Wraps an unexpected failure, adding what was being done.
    pub fn internal(context: &'static str, err: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(err.into().context(context))
    }
}

impl fmt::Debug for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Internal(err) => write!(f, "INTERNAL: {err:#}"),
            AppError::Lagged { missed } => write!(f, "LAGGED: missed {missed:?}"),
            AppError::RateLimited {
                message,
                retry_after_ms,
            } => write!(
                f,
                "RATE_LIMITED: {message} (retry after {retry_after_ms} ms)"
            ),
            AppError::Unauthenticated(m)
            | AppError::Forbidden(m)
            | AppError::BadInput(m)
            | AppError::LimitExceeded(m)
            | AppError::Unavailable(m) => write!(f, "{}: {m}", self.code()),
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        if crate::db::is_transient(&err) {
            tracing::warn!(error = %err, "database unavailable");
            AppError::Unavailable("the database is unavailable; retrying is safe".into())
        } else {
            AppError::Internal(anyhow::Error::new(err))
        }
    }
}

/// For the command line and start-up, where the operator is trusted: an `Internal` error keeps
/// its whole cause chain; any other becomes its code and message.
impl From<AppError> for anyhow::Error {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Internal(cause) => cause,
            other => anyhow::anyhow!("{other:?}"),
        }
    }
}

/// A result of a service call.
pub type AppResult<T> = Result<T, AppError>;

/// Turns a database error that is a unique-constraint violation into a client answer; the one
/// place where constraint violations become answers.
pub trait OnConstraint<T> {
    /// `answer()` when the statement violated a unique constraint, the usual mapping otherwise.
    fn on_unique_violation(self, answer: impl FnOnce() -> AppError) -> AppResult<T>;
}

impl<T> OnConstraint<T> for Result<T, sea_orm::DbErr> {
    fn on_unique_violation(self, answer: impl FnOnce() -> AppError) -> AppResult<T> {
        self.map_err(|err| match err.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => answer(),
            _ => AppError::from(err),
        })
    }
}
