//! The `DateTime` and `JSON` scalars, each with `@specifiedBy` pointing to its standard.
//!
//! `JSON` carries any JSON value (ECMA-404) as is; it replaces async-graphql's own `Json` so
//! that the schema can say which standard it follows.
//!
//! As input it accepts any JSON value and keeps it raw: an event's malformed timestamp must
//! reject that event alone (recorded with `INVALID_TIMESTAMP`), not fail the whole request at
//! argument coercion. Filters parse it strictly and answer `BAD_USER_INPUT`. As output it is
//! always RFC 3339 in UTC with microseconds, e.g. `2021-01-01T09:15:27.243860Z`.

use async_graphql::{InputValueResult, Scalar, ScalarType, Value};

use crate::domain::parse_timestamp;
use crate::domain::timestamp::format_timestamp;
use crate::error::{AppError, AppResult};

/// A date-time: RFC 3339 or `YYYY-MM-DD HH:MM:SS[.ffffff]` (no zone = UTC).
#[derive(Debug, Clone)]
pub enum DateTime {
    /// A value as received, not yet parsed.
    Raw(serde_json::Value),
    /// A known instant.
    At(chrono::DateTime<chrono::Utc>),
}

/// A date-time: RFC 3339 (`2021-01-01T09:15:27.243860Z`) or the brief's
/// `2021-01-01 09:15:27.243860` (no zone means UTC). Returned as RFC 3339 in UTC.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339"
)]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        Ok(DateTime::Raw(value.into_json()?))
    }

    fn to_value(&self) -> Value {
        match self {
            DateTime::At(at) => Value::String(format_timestamp(at)),
            DateTime::Raw(raw) => Value::from_json(raw.clone()).unwrap_or(Value::Null),
        }
    }
}

impl From<chrono::DateTime<chrono::Utc>> for DateTime {
    fn from(at: chrono::DateTime<chrono::Utc>) -> Self {
        DateTime::At(at)
    }
}

impl DateTime {
    /// The value as sent, for storing a rejected event.
    pub fn into_raw(self) -> serde_json::Value {
        match self {
            DateTime::Raw(raw) => raw,
            DateTime::At(at) => serde_json::Value::String(format_timestamp(&at)),
        }
    }

    /// The instant, or `BAD_USER_INPUT` naming `argument`.
    pub fn instant(&self, argument: &str) -> AppResult<chrono::DateTime<chrono::Utc>> {
        match self {
            DateTime::At(at) => Ok(*at),
            DateTime::Raw(serde_json::Value::String(text)) => parse_timestamp(text).map_err(|e| {
                AppError::BadInput(format!("`{argument}` is not a valid date-time: {}", e.0))
            }),
            DateTime::Raw(_) => Err(AppError::BadInput(format!(
                "`{argument}` must be a date-time string"
            ))),
        }
    }
}

/// Any JSON value: an object, array, string, number, boolean or null.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JsonValue(pub serde_json::Value);

/// Any JSON value (ECMA-404): an object, array, string, number, boolean or null.
#[Scalar(
    name = "JSON",
    specified_by_url = "https://ecma-international.org/publications-and-standards/standards/ecma-404/"
)]
impl ScalarType for JsonValue {
    fn parse(value: Value) -> InputValueResult<Self> {
        Ok(JsonValue(value.into_json()?))
    }

    fn to_value(&self) -> Value {
        Value::from_json(self.0.clone()).unwrap_or(Value::Null)
    }
}

/// Parses an optional date-time argument.
pub fn optional_instant(
    value: &Option<DateTime>,
    argument: &str,
) -> AppResult<Option<chrono::DateTime<chrono::Utc>>> {
    value.as_ref().map(|v| v.instant(argument)).transpose()
}
