//! The loop around the job: wakes every `EYE_PROCESS_INTERVAL_MS`, runs steps until no work is
//! left, and stops when shutdown is signalled, after the step it is in. A failed run is logged and retried on
//! the next tick; the transaction design makes retries safe.

use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::job::run_once;
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
        let batch_size = settings.process_batch_size.max(1);
        loop {
            if crate::shutdown::sleep_or_stopped(interval, &mut shutdown).await {
                break;
            }
            // Step by step, so that shutdown waits for one step at most.
            while !*shutdown.borrow() {
                match run_once(&db, batch_size).await {
                    Ok((events, _)) if events == batch_size => continue,
                    Ok(_) => break,
                    Err(err) => {
                        tracing::warn!(error = %err, "background processing failed; will retry");
                        break;
                    }
                }
            }
        }
    })
}
