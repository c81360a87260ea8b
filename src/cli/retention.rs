//! `the-eye retention …`: per-application retention overrides, and a retention run on demand.

use clap::{Args, Subcommand};

use crate::clock::{Clock, SystemClock};
use crate::config::{DatabaseSettings, ProcessingSettings};
use crate::db;
use crate::lifecycle::retention::set_application_retention;
use crate::lifecycle::{RetentionDays, apply_retention};

/// Retention commands.
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Set how many days an application's events are kept, or make it follow the server's
    /// `--retention-days` again.
    Set(SetArgs),
    /// Delete everything past its retention now, and report (the server does it every
    /// `EYE_RETENTION_INTERVAL_MS`). Takes the server's retention settings.
    Apply {
        /// Database connection.
        #[command(flatten)]
        database: DatabaseSettings,
        /// `--retention-days`, `--error-retention-days`, `--delete-batch-size`.
        #[command(flatten)]
        processing: ProcessingSettings,
    },
}

/// Arguments of `retention set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The application's name.
    #[arg(long)]
    pub app: String,
    /// Days to keep its events (1 to 36500).
    #[arg(long, required_unless_present = "default", conflicts_with = "default")]
    pub days: Option<i64>,
    /// Follow the server's `--retention-days`.
    #[arg(long)]
    pub default: bool,
    /// Database connection.
    #[command(flatten)]
    pub database: DatabaseSettings,
}

/// Runs a retention command.
pub async fn run(command: RetentionCommand) -> anyhow::Result<()> {
    match command {
        RetentionCommand::Set(args) => {
            let conn = super::open(&args.database).await?;
            let days = args.days.map(RetentionDays::parse).transpose()?;
            let app = super::find_app(&conn, &args.app).await?;
            set_application_retention(&conn, app.id, days)
                .await
                .map_err(super::fail("setting the retention"))?;
            match days {
                Some(d) => println!("`{}` keeps its events {} days", app.name, d.days()),
                None => println!("`{}` follows the server's retention", app.name),
            }
            Ok(())
        }
        RetentionCommand::Apply {
            database,
            processing,
        } => {
            let conn = super::open(&database).await?;
            let write_db = db::connect_writer(&database, &conn, db::Checkpoints::OnCommit).await?;
            let report = apply_retention(&write_db, processing.retention(), SystemClock.now())
                .await
                .map_err(super::fail("applying retention"))?;
            let rows: Vec<String> = report
                .deleted
                .by_table()
                .iter()
                .map(|(table, n)| format!("{table} {n}"))
                .collect();
            println!("{} batches: {}", report.batches, rows.join(", "));
            Ok(())
        }
    }
}
