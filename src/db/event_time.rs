//! Event time as the database stores it.
//!
//! An event's `timestamp`, and the aggregates derived from it (`sessions.first_seen` and
//! `last_seen`, `type_counts_hourly.bucket_start`), are *event time*. PostgreSQL keeps them as
//! `timestamptz` (eight bytes). SQLite has no date type: it stores them as an `INTEGER` of
//! microseconds since the Unix epoch, UTC: eight bytes where RFC 3339 text took 25–32,
//! compared as integers in every index keyed by time (see migration `m20261201_000001`). Every
//! statement that binds or reads one of these columns goes through this module, so the two stay
//! in step. Record times (`received_at`, `created_at`, …) keep the driver's own encoding.

use chrono::{DateTime, Utc};
use sea_orm::{DbBackend, DbErr, QueryResult, Value};
use serde::{Deserialize, Deserializer};

/// The hour of an event's time on SQLite, as `idx_events_application_hour` (retention's index)
/// names it: SQLite uses an index on an expression only for a statement that names the same
/// expression, so both say it this way. Integer division truncates, so the hour never decreases
/// as time increases: every event before an instant lies in that instant's hour or an earlier one.
pub const SQLITE_EVENT_HOUR: &str = "timestamp / 3600000000";

/// The hour of `at` as [`SQLITE_EVENT_HOUR`] computes it for an event at `at`: Rust's integer
/// division truncates toward zero as SQLite's does, also before 1970.
pub fn sqlite_event_hour(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros() / 3_600_000_000
}

/// `at` as bound against an event-time column of `backend`.
pub fn event_time(backend: DbBackend, at: DateTime<Utc>) -> Value {
    match backend {
        DbBackend::Sqlite => at.timestamp_micros().into(),
        _ => at.into(),
    }
}

/// The instant `micros` microseconds after the Unix epoch, as SQLite stores event time.
pub fn from_micros(micros: i64) -> Result<DateTime<Utc>, DbErr> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| DbErr::Custom(format!("stored event time {micros} is out of range")))
}

/// Reads the event-time column `column` of `row`, a row of `backend` (an `INTEGER` on SQLite,
/// a `timestamptz` on PostgreSQL).
pub fn read_event_time(
    backend: DbBackend,
    row: &QueryResult,
    column: &str,
) -> Result<DateTime<Utc>, DbErr> {
    match backend {
        DbBackend::Sqlite => from_micros(row.try_get("", column)?),
        _ => row.try_get("", column),
    }
}

/// An event time read from a JSON row (see [`crate::db::as_json_page`]): SQLite renders its
/// integer as a number, PostgreSQL its `timestamptz` as RFC 3339 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonEventTime(pub DateTime<Utc>);

impl<'de> Deserialize<'de> for JsonEventTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored<'a> {
            Micros(i64),
            Text(#[serde(borrow)] std::borrow::Cow<'a, str>),
        }
        let at = match Stored::deserialize(deserializer)? {
            Stored::Micros(micros) => from_micros(micros).map_err(serde::de::Error::custom)?,
            Stored::Text(text) => {
                crate::domain::parse_timestamp(&text).map_err(|e| serde::de::Error::custom(e.0))?
            }
        };
        Ok(Self(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_binds_microseconds_and_postgres_the_instant() {
        let at = DateTime::from_timestamp_micros(1_609_492_527_243_860).unwrap();
        assert_eq!(
            event_time(DbBackend::Sqlite, at),
            Value::BigInt(Some(1_609_492_527_243_860))
        );
        assert_eq!(event_time(DbBackend::Postgres, at), Value::from(at));
    }

    #[test]
    fn json_rows_of_either_backend_read_the_same_instant() {
        let at = DateTime::from_timestamp_micros(1_609_492_527_243_860).unwrap();
        let read = |text: &str| serde_json::from_str::<JsonEventTime>(text).unwrap().0;
        assert_eq!(read("1609492527243860"), at);
        assert_eq!(read("\"2021-01-01T09:15:27.24386+00:00\""), at);
        assert!(serde_json::from_str::<JsonEventTime>("\"yesterday\"").is_err());
        assert!(serde_json::from_str::<JsonEventTime>("9223372036854775807").is_err());
    }
}
