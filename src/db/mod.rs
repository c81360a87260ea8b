//! The database, one file per concern:
//! - `connect`: opening the pool and SQLite's one write connection, migrating, and beginning a
//!   transaction that writes;
//! - `errors`: which failures are worth a retry;
//! - `event_time`: how event time is bound and read (integer microseconds on SQLite);
//! - `json_page`: reading a page of rows as one row, a JSON array;
//! - `pending`: events whose time-index entries the job writes later (SQLite);
//! - `redact`: URLs without their password, for logs;
//! - `session_key`: how `events`' indexes find a session (an integer key on SQLite);
//! - `sql`: the builder of hand-written statements shared by both backends.

mod connect;
mod errors;
mod event_time;
mod json_page;
mod pending;
mod redact;
mod session_key;
mod sql;

pub use connect::{
    Checkpoints, SQLITE_BACKSTOP_CHECKPOINT_PAGES, SQLITE_WRITER_CACHE_KIB, begin_writing, connect,
    connect_writer, migrate,
};
pub use errors::{is_conflict, is_transient};
pub use event_time::{
    JsonEventTime, SQLITE_EVENT_HOUR, event_time, from_micros, read_event_time, sqlite_event_hour,
};
pub use json_page::{as_json_page, json_column, read_json_page, read_json_rows};
pub use pending::{event_parts, index_pending};
pub use redact::redact;
pub use session_key::{
    SessionKeys, forget_sessions, register_sessions, same_session, session_column,
    session_condition, session_group,
};
pub use sql::Sql;
