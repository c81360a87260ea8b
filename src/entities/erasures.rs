//! The audit log of erasures: one row per `eraseSession` / `the-eye erase` request.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "erasures")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub erased_at: DateTimeUtc,
    pub session_id: String,
    /// The key that asked; `None`: the command line.
    pub key_id: Option<i32>,
    /// That key's application.
    pub application_id: Option<i32>,
    /// Rows deleted, by table: `{"events": 3, "event_errors": 1, …}`.
    #[sea_orm(column_type = "JsonBinary")]
    pub rows_deleted: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
