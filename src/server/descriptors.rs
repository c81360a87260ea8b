//! The process's open-file limit, checked against the connection cap at start.
//!
//! Every client connection costs a file descriptor, and so do the listener, the log and the
//! database connections (up to three files each on SQLite: the database, its write-ahead log
//! and its shared-memory index). When the cap allows more connections than the limit leaves
//! room for, the process runs out first: accepts fail with `EMFILE` (and so do the database's
//! files) where connections over the cap would have been answered 503 and closed. So at start
//! the soft limit is raised as far as the cap needs (never past the hard limit, which only an
//! administrator can raise), and a cap the limit cannot hold is warned about.

use rlimit::Resource;

use crate::config::Settings;

/// Descriptors besides client connections and the database's: the listener, standard streams,
/// the runtime's own (epoll, eventfd), with room to spare.
const PROCESS_DESCRIPTORS: u64 = 32;

/// Files one database connection may hold open (SQLite: database, log, shared-memory index).
const DESCRIPTORS_PER_DB_CONNECTION: u64 = 3;

/// Descriptors needed besides client connections: the pool, SQLite's separate writer
/// connection, and the process's own.
pub(super) fn reserved(settings: &Settings) -> u64 {
    let db_connections = u64::from(settings.database.db_max_connections) + 1;
    PROCESS_DESCRIPTORS + DESCRIPTORS_PER_DB_CONNECTION * db_connections
}

/// Raises the soft open-file limit to what `EYE_MAX_CONNECTIONS` needs if it is lower, logs the
/// cap and the limit, and warns when the limit still cannot hold the cap.
pub(super) fn check(settings: &Settings) {
    let max_connections = settings.connections.max_connections;
    let reserved = reserved(settings);
    let needed = max_connections as u64 + reserved;
    let limits = Resource::NOFILE
        .get()
        .and_then(|(soft, hard)| Ok((soft, rlimit::increase_nofile_limit(needed)?, hard)));
    let (was, soft, hard) = match limits {
        Ok(limits) => limits,
        Err(err) => {
            tracing::warn!(error = %err, "could not read or raise the open-file limit");
            return;
        }
    };
    tracing::info!(
        max_connections,
        open_files_limit = soft,
        raised_from = was,
        hard_limit = hard,
        "connection cap and open-file limit"
    );
    if soft < needed {
        tracing::warn!(
            max_connections,
            reserved,
            open_files_limit = soft,
            hard_limit = hard,
            "EYE_MAX_CONNECTIONS plus the descriptors reserved for the database and the process \
             exceed the open-file limit: a flood would exhaust descriptors before the cap \
             refuses it; lower EYE_MAX_CONNECTIONS or raise the limit (ulimit -n, LimitNOFILE=)"
        );
    }
}
