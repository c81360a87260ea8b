//! The SDK's errors: what the server refused (with its stable `extensions.code`), what the
//! network did, and answers that could not be read. [`Error::is_retryable`] is the one place
//! that decides what the sender retries.

use std::fmt;
use std::time::Duration;

/// A request that did not produce typed data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a GraphQL error (the first one's code and message).
    #[error("the server refused the request ({code}, HTTP {status}): {message}")]
    Server {
        /// `extensions.code` of the first error.
        code: ErrorCode,
        /// Its message, for humans.
        message: String,
        /// The HTTP status of the answer.
        status: u16,
        /// When to try again: `extensions.retryAfterMs`, else the `Retry-After` header.
        retry_after: Option<Duration>,
    },
    /// An HTTP error status without a GraphQL error in the body (a proxy's 502, say).
    #[error("HTTP {status} without a GraphQL error")]
    Http {
        /// The status.
        status: u16,
        /// The `Retry-After` header, when there was one.
        retry_after: Option<Duration>,
    },
    /// A successful HTTP answer whose body is not the expected GraphQL response.
    #[error("the server's answer could not be read: {0}")]
    Malformed(String),
    /// The request did not get an answer: connection refused or reset, timeout.
    #[error("no answer from the server")]
    Transport(#[source] reqwest::Error),
    /// The client was set up with something unusable (a URL, a key).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

/// `extensions.code` of a GraphQL error, as The Eye documents them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No key, or an unknown or revoked one.
    Unauthenticated,
    /// The key lacks the scope, or is used from outside its allowlist.
    Forbidden,
    /// The request is malformed or invalid.
    BadUserInput,
    /// A documented limit was exceeded (body size, events per batch, page size, …).
    LimitExceeded,
    /// The key is over its request or event rate.
    RateLimited,
    /// The database cannot be reached or did not commit in time; retrying is safe.
    Unavailable,
    /// A bug or storage failure on the server.
    Internal,
    /// A code this SDK does not know, or none.
    Other(String),
}

impl ErrorCode {
    /// Parses a code as sent by the server.
    pub fn parse(code: &str) -> Self {
        match code {
            "UNAUTHENTICATED" => Self::Unauthenticated,
            "FORBIDDEN" => Self::Forbidden,
            "BAD_USER_INPUT" => Self::BadUserInput,
            "LIMIT_EXCEEDED" => Self::LimitExceeded,
            "RATE_LIMITED" => Self::RateLimited,
            "UNAVAILABLE" => Self::Unavailable,
            "INTERNAL" => Self::Internal,
            other => Self::Other(other.to_string()),
        }
    }

    /// The code as the server spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::LimitExceeded => "LIMIT_EXCEEDED",
            Self::RateLimited => "RATE_LIMITED",
            Self::Unavailable => "UNAVAILABLE",
            Self::Internal => "INTERNAL",
            Self::Other(code) => code,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// Whether sending the same request again can succeed: `UNAVAILABLE`, `RATE_LIMITED`, HTTP
    /// 5xx and 429, and transport failures. Never `BAD_USER_INPUT`, `UNAUTHENTICATED`,
    /// `FORBIDDEN` (the same request fails the same way), nor `LIMIT_EXCEEDED` (it must be
    /// made smaller first), `INTERNAL` (a bug) or an unreadable answer.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Server { code, .. } => {
                matches!(code, ErrorCode::Unavailable | ErrorCode::RateLimited)
            }
            Self::Http { status, .. } => *status >= 500 || *status == 429,
            Self::Transport(_) => true,
            Self::Malformed(_) | Self::Config(_) => false,
        }
    }

    /// The code of a GraphQL error, if this is one.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Server { code, .. } => Some(code),
            _ => None,
        }
    }

    /// How long the server asked to wait before trying again.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Server { retry_after, .. } | Self::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
