//! The loop around the job: wakes every `EYE_PROCESS_INTERVAL_MS` (or when poked), runs the
//! job until idle, and stops when shutdown is signalled. A failed run is logged and retried on
//! the next tick; the transaction design makes retries safe.

use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::job::run_until_idle;
use crate::config::ProcessingSettings;

/// Starts the loop. It ends when `shutdown` turns `true` (or its sender is dropped), after
/// finishing the step it is in.
pub fn spawn(
    db: DatabaseConnection,
    settings: ProcessingSettings,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let interval = Duration::from_millis(settings.process_interval_ms.max(1));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
            match run_until_idle(&db, settings.process_batch_size).await {
                Ok(report) if report.events_processed > 0 => {
                    tracing::debug!(
                        events = report.events_processed,
                        batches = report.batches,
                        ms = report.duration_ms,
                        "processed events"
                    );
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = ?err, "background processing failed; will retry")
                }
            }
        }
    })
}
