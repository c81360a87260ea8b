//! On SQLite, the three indexes of `events` keyed by event time are written by the background
//! job, for many commits at once, instead of by every commit.
//!
//! `idx_events_time_covering`, `idx_events_category_time` and `idx_events_name_time` took 61 %
//! of what a saturated server's commits wrote to the write-ahead log (BENCHMARKS.md, session
//! 16): events sent together carry client timestamps spread over the last seconds, so each
//! commit inserted all over the part of each index holding those seconds and rewrote most of
//! its pages. Written once for all the commits of half a second, each such page is written once
//! instead of a dozen times.
//!
//! - `events.pending` (`1`: the row's entries in those three indexes are not written yet): the
//!   writer stores every new event with `pending = 1`; the job's merge sets it to `0`, which
//!   writes the entries. Existing rows get `0`.
//! - The three indexes become partial, `WHERE NOT pending`: a statement that names `NOT pending`
//!   reads them; it reads the pending rows separately (see `the_eye::db::event_parts`).
//! - `idx_events_pending (seq) WHERE pending` finds the pending rows: the newest ones, since
//!   the merge takes them in `seq` order.
//!
//! `down` writes every pending row's entries, rebuilds the three indexes whole and drops the
//! column. PostgreSQL keeps its indexes as they are.

use sea_orm_migration::prelude::*;

use crate::sqlite_rebuild::on_sqlite_only;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each index: its name and its columns.
const INDEXES: [(&str, &str); 3] = [
    (
        "idx_events_time_covering",
        "timestamp, seq, category, name, session_key",
    ),
    ("idx_events_category_time", "category, timestamp, seq"),
    ("idx_events_name_time", "name, timestamp, seq"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut statements =
            vec!["ALTER TABLE events ADD COLUMN pending INTEGER NOT NULL DEFAULT 0".to_owned()];
        for (name, columns) in INDEXES {
            statements.push(format!("DROP INDEX {name}"));
            statements.push(format!(
                "CREATE INDEX {name} ON events ({columns}) WHERE NOT pending"
            ));
        }
        statements.push("CREATE INDEX idx_events_pending ON events (seq) WHERE pending".into());
        on_sqlite_only(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut statements = vec!["DROP INDEX idx_events_pending".to_owned()];
        for (name, columns) in INDEXES {
            statements.push(format!("DROP INDEX {name}"));
            statements.push(format!("CREATE INDEX {name} ON events ({columns})"));
        }
        statements.push("ALTER TABLE events DROP COLUMN pending".into());
        on_sqlite_only(manager, &statements).await
    }
}
