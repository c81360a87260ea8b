//! Checkpointing SQLite's write-ahead log in the background.
//!
//! By default the connection that commits past 1000 WAL pages copies the log back into the
//! database file itself, inside the commit that a request is waiting for. Here a task does it
//! on a pooled read connection instead, every `EYE_SQLITE_CHECKPOINT_INTERVAL_MS`, while the
//! writer goes on committing; the writer keeps a far larger automatic threshold only as a
//! backstop ([`crate::db::SQLITE_BACKSTOP_CHECKPOINT_PAGES`]). Durability is unchanged: a commit
//! is acknowledged once the log is synced, as before, and a `PASSIVE` checkpoint never blocks
//! readers or the writer. On PostgreSQL the task does nothing.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Starts the task, checkpointing every `interval`; it ends when `shutdown` turns `true` (or
/// its sender is dropped).
pub fn spawn(
    db: DatabaseConnection,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if db.get_database_backend() != DbBackend::Sqlite {
            return;
        }
        loop {
            if crate::shutdown::sleep_or_stopped(interval, &mut shutdown).await {
                break;
            }
            if let Err(err) = db
                .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                .await
            {
                tracing::warn!(error = %err, "checkpointing the write-ahead log failed");
            }
        }
    })
}
