//! Data lifecycle: how stored data leaves The Eye.
//!
//! - [`delete`]: deleting events with every aggregate adjusted exactly, race-free against the
//!   background job and other deleters (the one place that subtracts from aggregates);
//! - [`retention`]: the age limits (server default, per-application overrides, rejected events)
//!   and the batched deletion the background loop runs;
//! - [`erasure`]: erasing a session on request, with its audit log;
//! - [`export`]: streaming events out as NDJSON (which `the-eye import` reads back) or CSV.

pub mod delete;
pub mod erasure;
pub mod export;
pub mod retention;

pub use delete::DeletedRows;
pub use erasure::{Requester, erase_session, list_erasures};
pub use retention::{RetentionDays, RetentionPolicy, RetentionReport, apply_retention};
