//! Sessions ordered by event count, for `eventCounts(groupBy: SESSION)` without a time range:
//! its largest groups are read from the top of this index instead of sorting every session.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Raw SQL: both dialects accept a descending key verbatim.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_sessions_count ON sessions (event_count DESC, session_id)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX idx_sessions_count")
            .await?;
        Ok(())
    }
}
