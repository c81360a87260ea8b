//! The signal that stops the server's background tasks (the job, the checkpointer, the
//! registry refresh): a `watch` channel that turns `true`, or whose sender is dropped, when the
//! server shuts down.

use std::time::Duration;

use tokio::sync::watch;

/// Sleeps for `every`, or less if shutdown is signalled first. Returns `true` when the caller
/// should stop (the signal turned `true` or its sender is gone), `false` after a full sleep.
pub async fn sleep_or_stopped(every: Duration, stopped: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(every) => false,
        changed = stopped.changed() => changed.is_err() || *stopped.borrow(),
    }
}
