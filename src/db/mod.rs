//! The database, one file per concern:
//! - `connect`: opening the pool and SQLite's one write connection, and migrating;
//! - `errors`: which failures are worth a retry;
//! - `redact`: URLs without their password, for logs;
//! - `sql`: the builder of hand-written statements shared by both backends.

mod connect;
mod errors;
mod redact;
mod sql;

pub use connect::{
    Checkpoints, SQLITE_BACKSTOP_CHECKPOINT_PAGES, SQLITE_WRITER_CACHE_KIB, connect,
    connect_writer, migrate,
};
pub use errors::{is_conflict, is_transient};
pub use redact::redact;
pub use sql::Sql;
