//! `the-eye erase --session ID`: erases a session, as the `eraseSession` mutation does, and
//! prints the audit entry (recorded without a key: the operator asked).

use clap::Args;

use crate::clock::{Clock, SystemClock};
use crate::config::{DatabaseSettings, ProcessingSettings};
use crate::lifecycle::erasure::{parse_session_id, rows_deleted};
use crate::lifecycle::{Requester, erase_session};
use crate::{db, domain};

/// Arguments of `erase`.
#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The session to erase, in every application.
    #[arg(long)]
    pub session: String,
    /// Database connection.
    #[command(flatten)]
    pub database: DatabaseSettings,
    /// `--delete-batch-size`: events deleted per transaction.
    #[command(flatten)]
    pub processing: ProcessingSettings,
}

/// Runs `erase`.
pub async fn run(args: EraseArgs) -> anyhow::Result<()> {
    let session = parse_session_id(&args.session)?;
    let conn = db::connect(&args.database).await?;
    db::migrate(&conn).await?;
    let write_db = db::connect_writer(&args.database, &conn, db::Checkpoints::OnCommit).await?;
    let entry = erase_session(
        &write_db,
        &session,
        Requester::default(),
        SystemClock.now(),
        args.processing.delete_batch_size,
    )
    .await
    .map_err(super::fail("erasing the session"))?;
    let rows: Vec<String> = rows_deleted(&entry)
        .iter()
        .map(|(table, n)| format!("{table} {n}"))
        .collect();
    println!(
        "erasure {} of session `{}` at {}: {}",
        entry.id,
        entry.session_id,
        domain::timestamp::format_timestamp(&entry.erased_at),
        rows.join(", ")
    );
    Ok(())
}
