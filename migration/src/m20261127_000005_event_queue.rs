//! The background job's queue moves off the `events` table.
//!
//! Until now an event waited for the job as a `processed = FALSE` row, and the job claimed it
//! by flipping the flag. That rewrote every event once more after it was stored (on PostgreSQL
//! not even a HOT update, since a partial index depends on the flag), and the job's transaction
//! held the row locks of the events it claimed, so a retried duplicate's
//! `INSERT … ON CONFLICT DO NOTHING` on PostgreSQL waited for the job to commit.
//!
//! Now the writer adds each stored event's `seq` to `event_queue` in the same transaction, and
//! the job claims a batch by deleting its rows (`DELETE … RETURNING`, with `SKIP LOCKED` on
//! PostgreSQL) in the transaction that updates the aggregates. Events are written once and
//! never locked by the job. The queue has no foreign key to `events`: rows only ever enter it
//! in the transaction that stores their event, and events are never deleted.
//!
//! The time index also becomes covering (`idx_events_time_covering`): `(timestamp, seq)` keeps its order and gains the
//! category, name and session, so a time-range count (the partial hours at the edges of an
//! `eventCounts` range) reads the index alone instead of looking up every row.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // On SQLite only `INTEGER PRIMARY KEY` makes the column the rowid, so the queue is a
        // single small B-tree of integers instead of a table plus a unique index.
        let create = match manager.get_database_backend() {
            DbBackend::Sqlite => "CREATE TABLE event_queue (seq INTEGER PRIMARY KEY)",
            _ => "CREATE TABLE event_queue (seq BIGINT PRIMARY KEY)",
        };
        for statement in [
            create,
            "INSERT INTO event_queue (seq) SELECT seq FROM events WHERE NOT processed",
            "DROP INDEX idx_events_unprocessed",
            "DROP INDEX idx_events_time",
            "CREATE INDEX idx_events_time_covering ON events (timestamp, seq, category, name, session_id)",
            "ALTER TABLE events DROP COLUMN processed",
        ] {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in [
            "DROP INDEX idx_events_time_covering",
            "CREATE INDEX idx_events_time ON events (timestamp, seq)",
            "ALTER TABLE events ADD COLUMN processed BOOLEAN NOT NULL DEFAULT TRUE",
            "UPDATE events SET processed = FALSE WHERE seq IN (SELECT seq FROM event_queue)",
            "CREATE INDEX idx_events_unprocessed ON events (seq) WHERE NOT processed",
            "DROP TABLE event_queue",
        ] {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }
}
