//! Export: events read in keyset pages of the ingest sequence and written as NDJSON or CSV, so
//! memory stays that of one page however many events there are.
//!
//! An NDJSON line is an `EventInput` (`id`, `sessionId`, `category`, `name`, `data`,
//! `timestamp`), which `the-eye import` reads back unchanged, plus the stored metadata
//! `application`, `receivedAt` and `cursor` (which import ignores). `cursor` is the position
//! after that line: an export resumed from it continues with the next event. Pages follow the
//! ingest sequence, the primary key, so each page is one range read and a resumed export starts
//! where it stopped. (On PostgreSQL an event whose sequence number commits later than higher
//! ones — concurrent writers — can land behind a cursor already handed out; a loader that
//! resumes from the last cursor of a *recent* export should re-read its last minutes.) A
//! filter on category, name or time is checked on the rows of that range: on SQLite the indexes
//! keyed by those are partial (see `crate::db::pending`) and are not read here.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::domain::parse_timestamp;
use crate::domain::timestamp::format_timestamp;
use crate::entities::{applications, events};
use crate::error::{AppError, AppResult};
use crate::query::EventFilter;
use crate::query::events::filter_condition;

/// Events read per page.
pub const EXPORT_PAGE_ROWS: u64 = 2_000;

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line: an `EventInput` plus `application`, `receivedAt`, `cursor`.
    Ndjson,
    /// A header line, then one row per event (RFC 4180 quoting; `data` as compact JSON).
    Csv,
}

/// Which events to export.
#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    /// Only this application's.
    pub application_id: Option<i32>,
    /// Session, type and time range, as in queries.
    pub events: EventFilter,
}

/// A position in an export: after the event with this ingest sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportCursor(pub i64);

impl ExportCursor {
    /// The opaque text form.
    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("x1:{}", self.0))
    }

    /// Parses what [`ExportCursor::encode`] produced.
    pub fn decode(text: &str) -> AppResult<Self> {
        let bad = || AppError::BadInput("`cursor` is not a cursor returned by an export".into());
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let seq = text.strip_prefix("x1:").ok_or_else(bad)?;
        seq.parse().map(Self).map_err(|_| bad())
    }
}

/// Reads pages of an export and formats them. While one page is formatted, the next is
/// already being read (on SQLite, by the connection's own thread), so reading and formatting
/// overlap.
pub struct Exporter {
    db: DatabaseConnection,
    filter: ExportFilter,
    format: ExportFormat,
    app_names: HashMap<i32, String>,
    after: Option<ExportCursor>,
    /// Events still to export (`u64::MAX`: all).
    left: u64,
    page_rows: u64,
    /// The read of the next page, started before the current one was formatted.
    next: Option<JoinHandle<AppResult<Vec<StoredRow>>>>,
}

impl Exporter {
    /// An export of at most `limit` events (all when `None`) of `filter`, from `after` (the
    /// start when `None`).
    pub async fn new(
        db: DatabaseConnection,
        filter: ExportFilter,
        format: ExportFormat,
        after: Option<ExportCursor>,
        limit: Option<u64>,
    ) -> AppResult<Self> {
        filter.events.check()?;
        let app_names = applications::Entity::find()
            .all(&db)
            .await?
            .into_iter()
            .map(|a| (a.id, a.name))
            .collect();
        Ok(Self {
            db,
            filter,
            format,
            app_names,
            after,
            left: limit.unwrap_or(u64::MAX),
            page_rows: EXPORT_PAGE_ROWS,
            next: None,
        })
    }

    /// The CSV header line (empty for NDJSON).
    pub fn header(&self) -> String {
        match self.format {
            ExportFormat::Ndjson => String::new(),
            ExportFormat::Csv => {
                "id,sessionId,category,name,timestamp,data,application,receivedAt,cursor\n".into()
            }
        }
    }

    /// The next page of events (at most a page, and no more than the limit), formatted; `None`
    /// when the export is complete.
    pub async fn next_page(&mut self) -> AppResult<Option<String>> {
        let rows = match self.next.take() {
            Some(read) => read
                .await
                .map_err(|e| AppError::internal("reading a page of an export", e))??,
            None => self.read_next().await?,
        };
        let Some(last) = rows.last() else {
            return Ok(None);
        };
        self.after = Some(ExportCursor(last.seq));
        self.left -= rows.len() as u64;
        if rows.len() as u64 == self.page_rows && self.left > 0 {
            let read = self.read_next();
            self.next = Some(tokio::spawn(read));
        }
        let backend = self.db.get_database_backend();
        let mut out = String::with_capacity(rows.len() * 384);
        for row in &rows {
            self.write_row(row, backend, &mut out)?;
        }
        Ok(Some(out))
    }

    /// Reads the page after `self.after` (empty once the limit is reached).
    fn read_next(&self) -> impl Future<Output = AppResult<Vec<StoredRow>>> + Send + 'static {
        let limit = self.page_rows.min(self.left);
        let backend = self.db.get_database_backend();
        let mut query = events::Entity::find()
            .select_only()
            .columns([
                events::Column::Seq,
                events::Column::EventId,
                events::Column::ApplicationId,
                events::Column::SessionId,
                events::Column::Category,
                events::Column::Name,
            ])
            .filter(filter_condition(backend, &self.filter.events))
            .order_by_asc(events::Column::Seq)
            .limit(limit);
        for (column, expr) in stored_text_columns(backend) {
            query = query.column_as(Expr::cust(expr), column);
        }
        if let Some(app) = self.filter.application_id {
            query = query.filter(events::Column::ApplicationId.eq(app));
        }
        if let Some(after) = self.after {
            query = query.filter(events::Column::Seq.gt(after.0));
        }
        let db = self.db.clone();
        async move {
            if limit == 0 {
                return Ok(Vec::new());
            }
            Ok(query.into_model::<StoredRow>().all(&db).await?)
        }
    }

    fn write_row(&self, row: &StoredRow, backend: DbBackend, out: &mut String) -> AppResult<()> {
        let app = self
            .app_names
            .get(&row.application_id)
            .map_or("", String::as_str);
        let cursor = ExportCursor(row.seq).encode();
        let timestamp = export_timestamp(&row.timestamp)?;
        let received = export_timestamp(&row.received_at)?;
        // SQLite keeps `data` as the compact JSON text ingest wrote; PostgreSQL prints `jsonb`
        // with a space after every `:` and `,`, compacted here so both write the same line.
        let compacted;
        let data = match backend {
            DbBackend::Postgres => {
                let value: Value = serde_json::from_str(&row.data)
                    .map_err(|e| AppError::internal("reading an event's stored data", e))?;
                compacted = value.to_string();
                compacted.as_str()
            }
            _ => row.data.as_str(),
        };
        match self.format {
            ExportFormat::Ndjson => {
                // Keys in alphabetical order, the order a `serde_json::Value` object writes
                // them in, which earlier exports had. `data` is copied as stored: it is the
                // JSON text ingest wrote, not parsed and written again.
                out.push_str("{\"application\":");
                push_json_string(app, out);
                out.push_str(",\"category\":");
                push_json_string(&row.category, out);
                out.push_str(",\"cursor\":");
                push_json_string(&cursor, out);
                out.push_str(",\"data\":");
                out.push_str(data);
                out.push_str(",\"id\":");
                push_json_string(&row.event_id, out);
                out.push_str(",\"name\":");
                push_json_string(&row.name, out);
                out.push_str(",\"receivedAt\":");
                push_json_string(&received, out);
                out.push_str(",\"sessionId\":");
                push_json_string(&row.session_id, out);
                out.push_str(",\"timestamp\":");
                push_json_string(&timestamp, out);
                out.push('}');
            }
            ExportFormat::Csv => {
                let fields = [
                    row.event_id.as_str(),
                    &row.session_id,
                    &row.category,
                    &row.name,
                    &timestamp,
                    data,
                    app,
                    &received,
                    &cursor,
                ];
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_csv_field(field, out);
                }
            }
        }
        out.push('\n');
        Ok(())
    }
}

impl Drop for Exporter {
    /// A read started ahead is not needed any more (the client went away, say).
    fn drop(&mut self) {
        if let Some(read) = self.next.take() {
            read.abort();
        }
    }
}

/// One exported event as stored: `data` and both instants as text, so that a line is copied
/// rather than decoded and encoded again.
#[derive(FromQueryResult)]
struct StoredRow {
    seq: i64,
    event_id: String,
    application_id: i32,
    session_id: String,
    category: String,
    name: String,
    data: String,
    timestamp: String,
    received_at: String,
}

/// The columns read as text, with the expression that reads each on `backend`. SQLite stores
/// them as text already but for event time, an integer of microseconds (see
/// [`crate::db::event_time`]) read here as its digits; PostgreSQL prints `timestamptz` in the
/// export's own format.
fn stored_text_columns(backend: DbBackend) -> [(&'static str, &'static str); 3] {
    match backend {
        DbBackend::Postgres => [
            ("data", "data::text"),
            (
                "timestamp",
                r#"to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#,
            ),
            (
                "received_at",
                r#"to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#,
            ),
        ],
        _ => [
            ("data", "data"),
            ("timestamp", "CAST(\"timestamp\" AS TEXT)"),
            ("received_at", "received_at"),
        ],
    }
}

/// A stored instant in the export's format ([`format_timestamp`]: microseconds, `Z`).
///
/// SQLite's event time comes as the digits of its microseconds. Stored text in UTC
/// (`2026-11-30T07:00:00.5+00:00`, `…Z`, with 0 to 9 digits of fraction) is rewritten without
/// parsing a date: the fraction cut or padded to six digits, as `format_timestamp` truncates.
/// Anything else goes through [`parse_timestamp`].
fn export_timestamp(stored: &str) -> AppResult<String> {
    const SECONDS: usize = "2026-11-30T07:00:00".len();
    if let Ok(micros) = stored.parse::<i64>() {
        let at = crate::db::from_micros(micros)
            .map_err(|e| AppError::internal("reading an event's stored timestamp", e))?;
        return Ok(format_timestamp(&at));
    }
    let utc = stored
        .strip_suffix("+00:00")
        .or_else(|| stored.strip_suffix('Z'))
        .filter(|t| t.len() >= SECONDS && t.is_char_boundary(SECONDS) && t.as_bytes()[10] == b'T');
    if let Some(utc) = utc {
        let (seconds, fraction) = utc.split_at(SECONDS);
        let digits = match fraction.strip_prefix('.') {
            None if fraction.is_empty() => Some(""),
            Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => Some(d),
            _ => None,
        };
        if let Some(digits) = digits {
            let kept = &digits[..digits.len().min(6)];
            let mut out = String::with_capacity(SECONDS + 8);
            out.push_str(seconds);
            out.push('.');
            out.push_str(kept);
            out.extend(std::iter::repeat_n('0', 6 - kept.len()));
            out.push('Z');
            return Ok(out);
        }
    }
    let parsed = parse_timestamp(stored).map_err(|e| {
        AppError::internal("reading an event's stored timestamp", anyhow::anyhow!(e.0))
    })?;
    Ok(format_timestamp(&parsed))
}

/// `text` as a JSON string: copied between quotes when nothing in it needs escaping (the usual
/// case for ids and names), escaped by `serde_json` otherwise.
fn push_json_string(text: &str, out: &mut String) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        // Writing a `str` as JSON cannot fail.
        out.push_str(&serde_json::to_string(text).unwrap_or_default());
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
fn push_csv_field(field: &str, out: &mut String) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_refuses_others() {
        let c = ExportCursor(42);
        assert_eq!(ExportCursor::decode(&c.encode()).unwrap(), c);
        assert_eq!(
            ExportCursor::decode("nope").unwrap_err().code(),
            "BAD_USER_INPUT"
        );
    }

    #[test]
    fn stored_instants_are_written_as_format_timestamp_writes_them() {
        for (stored, exported) in [
            ("2026-11-30T07:00:00+00:00", "2026-11-30T07:00:00.000000Z"),
            ("2026-11-30T07:00:00.5+00:00", "2026-11-30T07:00:00.500000Z"),
            (
                "2026-11-30T07:00:00.123456789Z",
                "2026-11-30T07:00:00.123456Z",
            ),
            ("2026-11-30T07:00:00.123456Z", "2026-11-30T07:00:00.123456Z"),
            // Not the usual form: parsed, and converted to UTC.
            (
                "2026-11-30 07:00:00.25+00:00",
                "2026-11-30T07:00:00.250000Z",
            ),
            ("2026-11-30T08:00:00+01:00", "2026-11-30T07:00:00.000000Z"),
            // SQLite's event time: microseconds since 1970.
            ("1796022000000000", "2026-11-30T07:00:00.000000Z"),
            ("1796022000123456", "2026-11-30T07:00:00.123456Z"),
            ("-1", "1969-12-31T23:59:59.999999Z"),
        ] {
            assert_eq!(export_timestamp(stored).unwrap(), exported, "{stored}");
        }
        assert_eq!(
            export_timestamp("yesterday").unwrap_err().code(),
            "INTERNAL"
        );
    }

    #[test]
    fn json_strings_are_escaped_as_serde_json_escapes_them() {
        for text in [
            "plain",
            "",
            "a\"b",
            "back\\slash",
            "tab\there",
            "é ✓ \u{7f}",
        ] {
            let mut out = String::new();
            push_json_string(text, &mut out);
            assert_eq!(out, serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        let mut out = String::new();
        push_csv_field("plain", &mut out);
        out.push('|');
        push_csv_field(r#"{"a":"b,c"}"#, &mut out);
        assert_eq!(out, r#"plain|"{""a"":""b,c""}""#);
    }
}
