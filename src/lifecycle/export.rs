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
//! resumes from the last cursor of a *recent* export should re-read its last minutes.)

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use serde_json::Value;

use crate::domain::timestamp::format_timestamp;
use crate::entities::{applications, events};
use crate::error::{AppError, AppResult};
use crate::query::EventFilter;
use crate::query::events::filter_condition;

/// Events read per page.
pub const EXPORT_PAGE_ROWS: u64 = 5_000;

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

/// Reads pages of an export and formats them.
pub struct Exporter {
    db: DatabaseConnection,
    filter: ExportFilter,
    format: ExportFormat,
    app_names: HashMap<i32, String>,
    after: Option<ExportCursor>,
    page_rows: u64,
}

impl Exporter {
    /// An export of `filter` from `after` (the start when `None`).
    pub async fn new(
        db: DatabaseConnection,
        filter: ExportFilter,
        format: ExportFormat,
        after: Option<ExportCursor>,
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
            page_rows: EXPORT_PAGE_ROWS,
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

    /// The next page of at most `max_rows` (and at most a page) events, formatted; `None` when
    /// the export is complete.
    pub async fn next_page(&mut self, max_rows: u64) -> AppResult<Option<String>> {
        let limit = self.page_rows.min(max_rows);
        if limit == 0 {
            return Ok(None);
        }
        let mut query = events::Entity::find()
            .filter(filter_condition(&self.filter.events))
            .order_by_asc(events::Column::Seq)
            .limit(limit);
        if let Some(app) = self.filter.application_id {
            query = query.filter(events::Column::ApplicationId.eq(app));
        }
        if let Some(after) = self.after {
            query = query.filter(events::Column::Seq.gt(after.0));
        }
        let rows = query.all(&self.db).await?;
        let Some(last) = rows.last() else {
            return Ok(None);
        };
        self.after = Some(ExportCursor(last.seq));
        let mut out = String::with_capacity(rows.len() * 256);
        for row in &rows {
            self.write_row(row, &mut out)?;
        }
        Ok(Some(out))
    }

    fn write_row(&self, row: &events::Model, out: &mut String) -> AppResult<()> {
        let app = self
            .app_names
            .get(&row.application_id)
            .map_or("", String::as_str);
        let cursor = ExportCursor(row.seq).encode();
        let timestamp = format_timestamp(&row.timestamp);
        let received = format_timestamp(&row.received_at);
        match self.format {
            ExportFormat::Ndjson => {
                let line = Line {
                    application: app,
                    category: &row.category,
                    cursor: &cursor,
                    data: &row.data,
                    id: &row.event_id,
                    name: &row.name,
                    received_at: &received,
                    session_id: &row.session_id,
                    timestamp: &timestamp,
                };
                // Serializing borrowed fields: no copy of each event into a JSON tree first.
                // Strings and a JSON value always serialize; an error would be a bug, reported.
                let text = serde_json::to_string(&line)
                    .map_err(|e| AppError::internal("writing an export line", e))?;
                out.push_str(&text);
            }
            ExportFormat::Csv => {
                let data = Value::to_string(&row.data);
                let fields = [
                    row.event_id.as_str(),
                    &row.session_id,
                    &row.category,
                    &row.name,
                    &timestamp,
                    &data,
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

/// An NDJSON line, its keys in alphabetical order (the order a `serde_json::Value` object
/// writes them in, which earlier exports had).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Line<'a> {
    application: &'a str,
    category: &'a str,
    cursor: &'a str,
    data: &'a Value,
    id: &'a str,
    name: &'a str,
    received_at: &'a str,
    session_id: &'a str,
    timestamp: &'a str,
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
    fn csv_fields_are_quoted_only_when_needed() {
        let mut out = String::new();
        push_csv_field("plain", &mut out);
        out.push('|');
        push_csv_field(r#"{"a":"b,c"}"#, &mut out);
        assert_eq!(out, r#"plain|"{""a"":""b,c""}""#);
    }
}
