//! On SQLite, retention finds an application's oldest events through the time index, and
//! `idx_events_application_time` goes.
//!
//! That index served only retention (an application's events older than its cutoff, oldest
//! first), yet every stored event paid for it: with event time an integer, it was 8–17 % of
//! the bytes a commit writes (BENCHMARKS.md, session 13). The covering time index gains the
//! application as its last column instead, two bytes more per entry, so retention reads it in
//! time order and checks the application from the index itself, as do time-range series split
//! or filtered by application. Retention resumes each batch after the last event it deleted,
//! so other applications' older events are read once per run, not once per batch.
//!
//! PostgreSQL keeps its application index: its commits do not rewrite whole pages per index the
//! way SQLite's write-ahead log does, and its planner uses the index for retention as before.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on SQLite too: the index is dropped and rebuilt together or not at all.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        run(
            manager,
            &[
                "DROP INDEX idx_events_application_time",
                "DROP INDEX idx_events_time_covering",
                "CREATE INDEX idx_events_time_covering ON events \
                 (timestamp, seq, category, name, session_id, application_id)",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        run(
            manager,
            &[
                "DROP INDEX idx_events_time_covering",
                "CREATE INDEX idx_events_time_covering ON events \
                 (timestamp, seq, category, name, session_id)",
                "CREATE INDEX \"idx_events_application_time\" ON \"events\" \
                 (\"application_id\", \"timestamp\", \"seq\")",
            ],
        )
        .await
    }
}

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    for statement in statements {
        manager
            .get_connection()
            .execute_unprepared(statement)
            .await?;
    }
    Ok(())
}
