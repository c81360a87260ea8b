//! Events per event type and hour of their timestamp (maintained by the background job).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "type_counts_hourly")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    /// Event time: an `INTEGER` of microseconds on SQLite, which this entity's own decoding
    /// would misread; bind and read it through [`crate::db::event_time`].
    pub bucket_start: DateTimeUtc,
    #[sea_orm(primary_key, auto_increment = false)]
    pub category: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub event_count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
