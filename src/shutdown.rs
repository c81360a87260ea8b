//! Shutting down: [`signal`], the operating system's request that stops the server, and the
//! signal that stops the server's background tasks (the job, the checkpointer, the registry
//! refresh): a `watch` channel that turns `true`, or whose sender is dropped, when the server
//! shuts down.

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

/// Completes on Ctrl-C or SIGTERM.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}
