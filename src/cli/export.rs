//! `the-eye export`: streams events as NDJSON (which `the-eye import` reads back) or CSV to a
//! file or standard output, a page at a time, so memory stays flat however large the store.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;

use crate::config::DatabaseSettings;
use crate::domain::parse_timestamp;
use crate::lifecycle::export::{ExportCursor, ExportFilter, ExportFormat, Exporter};
use crate::query::EventFilter;

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Ndjson)]
    pub format: ExportFormat,
    /// Write here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Only this application's events.
    #[arg(long)]
    pub app: Option<String>,
    /// Only this session's events.
    #[arg(long)]
    pub session: Option<String>,
    /// Only this category.
    #[arg(long)]
    pub category: Option<String>,
    /// Only this name.
    #[arg(long)]
    pub name: Option<String>,
    /// Only events at or after this instant.
    #[arg(long, value_parser = instant)]
    pub from: Option<DateTime<Utc>>,
    /// Only events at or before this instant.
    #[arg(long, value_parser = instant)]
    pub to: Option<DateTime<Utc>>,
    /// Resume after this cursor (the `cursor` of the last line already loaded).
    #[arg(long)]
    pub after: Option<String>,
    /// Database connection.
    #[command(flatten)]
    pub database: DatabaseSettings,
}

fn instant(raw: &str) -> Result<DateTime<Utc>, String> {
    parse_timestamp(raw).map_err(|e| e.0)
}

/// Runs `export`; reports the number of events on standard error.
pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let conn = super::open(&args.database).await?;
    let application_id = match &args.app {
        Some(name) => Some(super::find_app(&conn, name).await?.id),
        None => None,
    };
    let after = args
        .after
        .as_deref()
        .map(ExportCursor::decode)
        .transpose()?;
    let filter = ExportFilter {
        application_id,
        events: EventFilter {
            session_id: args.session,
            category: args.category,
            name: args.name,
            from: args.from,
            to: args.to,
        },
    };
    let mut exporter = Exporter::new(conn, filter, args.format, after, None).await?;
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 20, &mut out);
    out.write_all(exporter.header().as_bytes())?;
    let started = std::time::Instant::now();
    let mut lines = 0u64;
    while let Some(page) = exporter
        .next_page()
        .await
        .map_err(super::fail("reading events"))?
    {
        lines += page.bytes().filter(|b| *b == b'\n').count() as u64;
        out.write_all(page.as_bytes())?;
    }
    out.flush()?;
    eprintln!(
        "exported {lines} events in {} ms",
        started.elapsed().as_millis()
    );
    Ok(())
}
