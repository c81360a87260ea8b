//! An application: a trusted client that sends events with its API keys.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub name: String,
    pub created_at: DateTimeUtc,
    /// Comma-separated CIDRs the application's keys may be used from; `None`: anywhere.
    pub allowed_ips: Option<String>,
    /// Days its events are kept; `None`: the server's `--retention-days`.
    pub retention_days: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
