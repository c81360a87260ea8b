//! A stored event. `seq` is the ingest sequence: the primary key and the tie-break between events with equal timestamps. Events the background job has not aggregated yet are listed in `event_queue`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub event_id: String,
    pub application_id: i32,
    /// On SQLite the indexes find a session by its `session_key` (a column this entity leaves
    /// out, as PostgreSQL has none): condition on it through [`crate::db::session_condition`]
    /// and insert through the writer, which fills it.
    pub session_id: String,
    pub category: String,
    pub name: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub data: Json,
    /// Event time: an `INTEGER` of microseconds on SQLite, which this entity's own decoding
    /// would misread; bind and read it through [`crate::db::event_time`].
    pub timestamp: DateTimeUtc,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
