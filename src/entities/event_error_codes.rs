//! The distinct reason codes of a rejected event, so errors can be filtered by code with an index.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "event_error_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub error_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
