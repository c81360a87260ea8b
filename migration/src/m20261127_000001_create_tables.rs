//! The first schema: applications and their keys, the event-type registry, events, rejected
//! events, and the aggregates that the background job maintains.
//!
//! The constraints here are what make concurrent ingest and overlapping processing runs safe:
//! `UNIQUE (application_id, event_id)` turns a retried or concurrently repeated event into a
//! no-op insert, and the aggregate tables' primary keys let the job add to a count with an atomic
//! upsert instead of a read-modify-write.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            applications(),
            api_keys(),
            event_types(),
            events(),
            event_errors(),
            event_error_codes(),
            sessions(),
            session_applications(),
            session_type_counts(),
            type_counts_hourly(),
        ] {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        // Both SQLite and PostgreSQL accept this partial index verbatim. It keeps the queue of
        // events waiting for the background job small and cheap to scan however large the table.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_events_unprocessed ON events (seq) WHERE NOT processed",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            TypeCountsHourly::Table.into_iden(),
            SessionTypeCounts::Table.into_iden(),
            SessionApplications::Table.into_iden(),
            Sessions::Table.into_iden(),
            EventErrorCodes::Table.into_iden(),
            EventErrors::Table.into_iden(),
            Events::Table.into_iden(),
            EventTypes::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Applications::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

fn applications() -> TableCreateStatement {
    Table::create()
        .table(Applications::Table)
        .col(pk_auto(Applications::Id))
        .col(string_len_uniq(Applications::Name, 128))
        .col(timestamp_with_time_zone(Applications::CreatedAt))
        .to_owned()
}

fn api_keys() -> TableCreateStatement {
    Table::create()
        .table(ApiKeys::Table)
        .col(pk_auto(ApiKeys::Id))
        .col(integer(ApiKeys::ApplicationId))
        .col(string_len_uniq(ApiKeys::Prefix, 32))
        .col(string_len_uniq(ApiKeys::KeyHash, 64))
        .col(string_len(ApiKeys::Scopes, 64))
        .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
        .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
        .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
        .foreign_key(
            ForeignKey::create()
                .from(ApiKeys::Table, ApiKeys::ApplicationId)
                .to(Applications::Table, Applications::Id),
        )
        .to_owned()
}

fn event_types() -> TableCreateStatement {
    Table::create()
        .table(EventTypes::Table)
        .col(pk_auto(EventTypes::Id))
        .col(string_len(EventTypes::Category, 128))
        .col(string_len(EventTypes::Name, 128))
        .col(json_binary_null(EventTypes::Schema))
        .col(text_null(EventTypes::Description))
        .col(timestamp_with_time_zone(EventTypes::CreatedAt))
        .col(timestamp_with_time_zone(EventTypes::UpdatedAt))
        .index(
            Index::create()
                .name("uq_event_types_category_name")
                .col(EventTypes::Category)
                .col(EventTypes::Name)
                .unique(),
        )
        .to_owned()
}

fn events() -> TableCreateStatement {
    Table::create()
        .table(Events::Table)
        .col(big_pk_auto(Events::Seq))
        .col(string_len(Events::EventId, 128))
        .col(integer(Events::ApplicationId))
        .col(string_len(Events::SessionId, 128))
        .col(string_len(Events::Category, 128))
        .col(string_len(Events::Name, 128))
        .col(json_binary(Events::Data))
        .col(timestamp_with_time_zone(Events::Timestamp))
        .col(timestamp_with_time_zone(Events::ReceivedAt))
        .col(boolean(Events::Processed).default(false))
        .foreign_key(
            ForeignKey::create()
                .from(Events::Table, Events::ApplicationId)
                .to(Applications::Table, Applications::Id),
        )
        .to_owned()
}

fn event_errors() -> TableCreateStatement {
    Table::create()
        .table(EventErrors::Table)
        .col(big_pk_auto(EventErrors::Id))
        .col(integer(EventErrors::ApplicationId))
        .col(timestamp_with_time_zone(EventErrors::ReceivedAt))
        .col(integer(EventErrors::BatchIndex))
        .col(string_len_null(EventErrors::EventId, 1024))
        .col(text_null(EventErrors::SessionId))
        .col(text_null(EventErrors::Category))
        .col(text_null(EventErrors::Name))
        .col(json_binary(EventErrors::Payload))
        .col(json_binary(EventErrors::Reasons))
        .foreign_key(
            ForeignKey::create()
                .from(EventErrors::Table, EventErrors::ApplicationId)
                .to(Applications::Table, Applications::Id),
        )
        .to_owned()
}

fn event_error_codes() -> TableCreateStatement {
    Table::create()
        .table(EventErrorCodes::Table)
        .col(big_integer(EventErrorCodes::ErrorId))
        .col(string_len(EventErrorCodes::Code, 64))
        .primary_key(
            Index::create()
                .col(EventErrorCodes::ErrorId)
                .col(EventErrorCodes::Code),
        )
        .foreign_key(
            ForeignKey::create()
                .from(EventErrorCodes::Table, EventErrorCodes::ErrorId)
                .to(EventErrors::Table, EventErrors::Id),
        )
        .to_owned()
}

fn sessions() -> TableCreateStatement {
    Table::create()
        .table(Sessions::Table)
        .col(string_len(Sessions::SessionId, 128).primary_key())
        .col(timestamp_with_time_zone(Sessions::FirstSeen))
        .col(timestamp_with_time_zone(Sessions::LastSeen))
        .col(big_integer(Sessions::EventCount))
        .to_owned()
}

fn session_applications() -> TableCreateStatement {
    Table::create()
        .table(SessionApplications::Table)
        .col(string_len(SessionApplications::SessionId, 128))
        .col(integer(SessionApplications::ApplicationId))
        .primary_key(
            Index::create()
                .col(SessionApplications::SessionId)
                .col(SessionApplications::ApplicationId),
        )
        .to_owned()
}

fn session_type_counts() -> TableCreateStatement {
    Table::create()
        .table(SessionTypeCounts::Table)
        .col(string_len(SessionTypeCounts::SessionId, 128))
        .col(string_len(SessionTypeCounts::Category, 128))
        .col(string_len(SessionTypeCounts::Name, 128))
        .col(big_integer(SessionTypeCounts::EventCount))
        .primary_key(
            Index::create()
                .col(SessionTypeCounts::SessionId)
                .col(SessionTypeCounts::Category)
                .col(SessionTypeCounts::Name),
        )
        .to_owned()
}

fn type_counts_hourly() -> TableCreateStatement {
    Table::create()
        .table(TypeCountsHourly::Table)
        .col(timestamp_with_time_zone(TypeCountsHourly::BucketStart))
        .col(string_len(TypeCountsHourly::Category, 128))
        .col(string_len(TypeCountsHourly::Name, 128))
        .col(big_integer(TypeCountsHourly::EventCount))
        .primary_key(
            Index::create()
                .col(TypeCountsHourly::BucketStart)
                .col(TypeCountsHourly::Category)
                .col(TypeCountsHourly::Name),
        )
        .to_owned()
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("uq_events_application_event_id")
            .table(Events::Table)
            .col(Events::ApplicationId)
            .col(Events::EventId)
            .unique()
            .to_owned(),
        Index::create()
            .name("idx_events_session_time")
            .table(Events::Table)
            .col(Events::SessionId)
            .col(Events::Timestamp)
            .col(Events::Seq)
            .to_owned(),
        Index::create()
            .name("idx_events_category_time")
            .table(Events::Table)
            .col(Events::Category)
            .col(Events::Timestamp)
            .col(Events::Seq)
            .to_owned(),
        Index::create()
            .name("idx_events_name_time")
            .table(Events::Table)
            .col(Events::Name)
            .col(Events::Timestamp)
            .col(Events::Seq)
            .to_owned(),
        Index::create()
            .name("idx_events_time")
            .table(Events::Table)
            .col(Events::Timestamp)
            .col(Events::Seq)
            .to_owned(),
        Index::create()
            .name("idx_event_errors_received")
            .table(EventErrors::Table)
            .col(EventErrors::ReceivedAt)
            .col(EventErrors::Id)
            .to_owned(),
        Index::create()
            .name("idx_event_error_codes_code")
            .table(EventErrorCodes::Table)
            .col(EventErrorCodes::Code)
            .col(EventErrorCodes::ErrorId)
            .to_owned(),
        Index::create()
            .name("idx_api_keys_application")
            .table(ApiKeys::Table)
            .col(ApiKeys::ApplicationId)
            .to_owned(),
    ]
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    ApplicationId,
    Prefix,
    KeyHash,
    Scopes,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
pub(crate) enum EventTypes {
    Table,
    Id,
    Category,
    Name,
    Schema,
    Description,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Seq,
    EventId,
    ApplicationId,
    SessionId,
    Category,
    Name,
    Data,
    Timestamp,
    ReceivedAt,
    Processed,
}

#[derive(DeriveIden)]
enum EventErrors {
    Table,
    Id,
    ApplicationId,
    ReceivedAt,
    BatchIndex,
    EventId,
    SessionId,
    Category,
    Name,
    Payload,
    Reasons,
}

#[derive(DeriveIden)]
enum EventErrorCodes {
    Table,
    ErrorId,
    Code,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    SessionId,
    FirstSeen,
    LastSeen,
    EventCount,
}

#[derive(DeriveIden)]
enum SessionApplications {
    Table,
    SessionId,
    ApplicationId,
}

#[derive(DeriveIden)]
enum SessionTypeCounts {
    Table,
    SessionId,
    Category,
    Name,
    EventCount,
}

#[derive(DeriveIden)]
enum TypeCountsHourly {
    Table,
    BucketStart,
    Category,
    Name,
    EventCount,
}
