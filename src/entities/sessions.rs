//! Per-session bookkeeping maintained by the background job.
//!
//! This is PostgreSQL's shape. On SQLite the table is keyed by the session's integer
//! `session_key` instead (`m20261202_000001`); no code reads it through this entity, only
//! through SQL that picks the key by backend (`crate::db::session_key`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub session_id: String,
    /// Event time: an `INTEGER` of microseconds on SQLite, which this entity's own decoding
    /// would misread; bind and read it through [`crate::db::event_time`].
    pub first_seen: DateTimeUtc,
    /// Event time: an `INTEGER` of microseconds on SQLite, which this entity's own decoding
    /// would misread; bind and read it through [`crate::db::event_time`].
    pub last_seen: DateTimeUtc,
    pub event_count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
