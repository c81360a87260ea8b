//! Which applications sent events to which session (maintained by the background job).
//!
//! This is PostgreSQL's shape. On SQLite the table is keyed by the session's integer
//! `session_key` instead (`m20261202_000001`); no code reads it through this entity, only
//! through SQL that picks the key by backend (`crate::db::session_key`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "session_applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub session_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub application_id: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
