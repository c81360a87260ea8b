//! On SQLite, the index of sessions by count is keyed by a count the background job refreshes
//! every few seconds (`ranked_count`) instead of the exact count it updates at every step.
//!
//! `idx_sessions_count (event_count DESC, session_id)` lists the largest sessions in order. Each
//! job step adds to the counts of the sessions it saw, and each such update moved the session's
//! entry to its new count's place: on a large file, a page of its own per session. It was 191 of
//! the 236 pages of a step (BENCHMARKS.md, session 15), written at every step (ten a second)
//! while requests waited for SQLite's one writer.
//!
//! `ranked_count` is the count the index holds. A step changes `event_count` only, which no
//! index keys on but `idx_sessions_unranked`, a partial index of the sessions whose two counts
//! differ: small (the sessions updated since the last refresh), so its pages stay few and hot.
//! The job refreshes `ranked_count` every few seconds, moving each updated session's entry once
//! for all the steps since. The largest sessions are read as before, with the unranked sessions
//! counted apart and merged in, as the sessions with unprocessed events already are.
//!
//! New sessions start unranked (`ranked_count` 0). PostgreSQL keeps its index on `event_count`:
//! it writes its B-trees once per page per checkpoint, not once per commit.

use sea_orm_migration::prelude::*;

use crate::sqlite_rebuild::on_sqlite_only;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = [
            "ALTER TABLE sessions ADD COLUMN ranked_count integer NOT NULL DEFAULT 0",
            "UPDATE sessions SET ranked_count = event_count",
            "DROP INDEX idx_sessions_count",
            "CREATE INDEX idx_sessions_count ON sessions (ranked_count DESC, session_id)",
            "CREATE INDEX idx_sessions_unranked ON sessions (session_key) \
             WHERE ranked_count <> event_count",
        ];
        on_sqlite_only(manager, &statements.map(String::from)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = [
            "DROP INDEX idx_sessions_unranked",
            "DROP INDEX idx_sessions_count",
            "ALTER TABLE sessions DROP COLUMN ranked_count",
            "CREATE INDEX idx_sessions_count ON sessions (event_count DESC, session_id)",
        ];
        on_sqlite_only(manager, &statements.map(String::from)).await
    }
}
