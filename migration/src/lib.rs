//! Schema migrations of The Eye.
//!
//! Every migration is written once for both supported databases: SQLite (the embedded default)
//! and PostgreSQL (production). Types are chosen so that each maps to the natural native type on
//! both: `jsonb` / JSON text for payloads, `timestamptz` / RFC 3339 text for instants (event time
//! is an integer of microseconds on SQLite since `m20261201_000001`), `bigint` / `INTEGER
//! PRIMARY KEY` for the ingest sequence. Raw SQL is used only where both dialects share the
//! syntax (partial indexes, the queue table).

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_create_tables;
mod m20261127_000002_seed_event_types;
mod m20261127_000003_application_allowlists;
mod m20261127_000004_index_sessions_by_count;
mod m20261127_000005_event_queue;
mod m20261130_000001_data_lifecycle;
mod m20261201_000001_integer_event_time;
mod m20261201_000002_session_keys;
mod m20261202_000001_session_aggregates_by_key;
mod m20261203_000001_retention_index_by_hour;
mod m20261203_000002_deferred_time_indexes;
mod m20261204_000001_ranked_session_counts;
mod sqlite_rebuild;

/// The ordered list of migrations; `the-eye migrate` and `the-eye serve` apply the pending ones.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_tables::Migration),
            Box::new(m20261127_000002_seed_event_types::Migration),
            Box::new(m20261127_000003_application_allowlists::Migration),
            Box::new(m20261127_000004_index_sessions_by_count::Migration),
            Box::new(m20261127_000005_event_queue::Migration),
            Box::new(m20261130_000001_data_lifecycle::Migration),
            Box::new(m20261201_000001_integer_event_time::Migration),
            Box::new(m20261201_000002_session_keys::Migration),
            Box::new(m20261202_000001_session_aggregates_by_key::Migration),
            Box::new(m20261203_000001_retention_index_by_hour::Migration),
            Box::new(m20261203_000002_deferred_time_indexes::Migration),
            Box::new(m20261204_000001_ranked_session_counts::Migration),
        ]
    }
}
