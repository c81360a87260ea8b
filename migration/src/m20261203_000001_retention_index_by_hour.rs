//! On SQLite, retention's index orders an application's events by the hour of their time, then
//! by arrival, instead of by their exact time.
//!
//! `idx_events_application_time (application_id, timestamp, seq)` serves only retention. Client
//! timestamps of events arriving together spread over the last seconds (a browser sends what it
//! gathered since its last batch), so a commit's events land all over the part of that index
//! holding the last seconds of every application, and each commit rewrote most of its pages: at
//! saturation it was 12 % of what SQLite's write-ahead log received (BENCHMARKS.md, session 16).
//!
//! `idx_events_application_hour (application_id, timestamp / 3600000000, seq, timestamp)` keeps
//! the events of one application and one hour in `seq` order, which is the order they arrive in:
//! a commit appends to the end of its hours (one or two at a time). `timestamp` follows `seq` so
//! that it is in the entry (retention checks the exact cutoff without reading rows) without
//! changing the order. Retention asks for `timestamp / 3600000000 <= ` the cutoff's hour, which
//! every event older than the cutoff satisfies, and for `timestamp <` the cutoff.
//!
//! PostgreSQL keeps `idx_events_application_time`; its B-trees are written once per page per
//! checkpoint, not once per commit.

use sea_orm_migration::prelude::*;

use crate::sqlite_rebuild::on_sqlite_only;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index before, as `m20261130_000001` created it.
const BY_TIME: &str = "CREATE INDEX \"idx_events_application_time\" ON \"events\" \
                       (\"application_id\", \"timestamp\", \"seq\")";

/// The index after: the hour is the same expression that retention's statement names
/// (`the_eye::db::SQLITE_EVENT_HOUR`), so that SQLite can use it.
const BY_HOUR: &str = "CREATE INDEX idx_events_application_hour ON events \
                       (application_id, timestamp / 3600000000, seq, timestamp)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = ["DROP INDEX idx_events_application_time", BY_HOUR];
        on_sqlite_only(manager, &statements.map(String::from)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = ["DROP INDEX idx_events_application_hour", BY_TIME];
        on_sqlite_only(manager, &statements.map(String::from)).await
    }
}
