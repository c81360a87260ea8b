//! Data lifecycle: per-application retention, the erasure audit log, and the indexes that make
//! deleting by age and by session cheap.
//!
//! - `applications.retention_days`: an application's own retention; `NULL` follows the
//!   server's `--retention-days`.
//! - `idx_events_application_time`: retention deletes an application's oldest events first, in
//!   bounded batches, each found by a range read of this index instead of a scan.
//! - `idx_event_errors_session`: erasure finds a session's rejected events.
//! - `erasures`: one row per erasure request, kept for audit: when, who asked (key and its
//!   application, or the command line), which session, and how many rows each table lost.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .add_column(integer_null(Applications::RetentionDays))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_events_application_time")
                    .table(Events::Table)
                    .col(Events::ApplicationId)
                    .col(Events::Timestamp)
                    .col(Events::Seq)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_event_errors_session")
                    .table(EventErrors::Table)
                    .col(EventErrors::SessionId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Erasures::Table)
                    .col(big_pk_auto(Erasures::Id))
                    .col(timestamp_with_time_zone(Erasures::ErasedAt))
                    .col(string_len(Erasures::SessionId, 128))
                    .col(integer_null(Erasures::KeyId))
                    .col(integer_null(Erasures::ApplicationId))
                    .col(json_binary(Erasures::RowsDeleted))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_erasures_erased_at")
                    .table(Erasures::Table)
                    .col(Erasures::ErasedAt)
                    .col(Erasures::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Erasures::Table).to_owned())
            .await?;
        for (table, index) in [
            (EventErrors::Table.into_iden(), "idx_event_errors_session"),
            (Events::Table.into_iden(), "idx_events_application_time"),
        ] {
            manager
                .drop_index(Index::drop().name(index).table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .drop_column(Applications::RetentionDays)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    RetentionDays,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    ApplicationId,
    Timestamp,
    Seq,
}

#[derive(DeriveIden)]
enum EventErrors {
    Table,
    SessionId,
}

#[derive(DeriveIden)]
enum Erasures {
    Table,
    Id,
    ErasedAt,
    SessionId,
    KeyId,
    ApplicationId,
    RowsDeleted,
}
