//! A rejected event: the event as sent and every reason it was rejected.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "event_errors")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub application_id: i32,
    pub received_at: DateTimeUtc,
    pub batch_index: i32,
    pub event_id: Option<String>,
    pub session_id: Option<String>,
    pub category: Option<String>,
    pub name: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub reasons: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
