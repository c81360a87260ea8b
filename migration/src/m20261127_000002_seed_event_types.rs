//! Seeds the registry with the three event types of the brief, so that a new installation
//! validates `pageview`, `cta click` and `submit` payloads from its first request. Admins may
//! redefine them later; this migration runs once and never overwrites their changes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::Expr;

use crate::m20261127_000001_create_tables::EventTypes;

#[derive(DeriveMigrationName)]
pub struct Migration;

const PAGEVIEW: &str = r#"{"type":"object","properties":{"host":{"type":"string","minLength":1},"path":{"type":"string"}},"required":["host","path"],"additionalProperties":false}"#;
const CTA_CLICK: &str = r#"{"type":"object","properties":{"host":{"type":"string","minLength":1},"path":{"type":"string"},"element":{"type":"string","minLength":1}},"required":["host","path","element"],"additionalProperties":false}"#;
const SUBMIT: &str = r#"{"type":"object","properties":{"host":{"type":"string","minLength":1},"path":{"type":"string"},"form":{"type":"object"}},"required":["host","path","form"],"additionalProperties":false}"#;

const SEEDS: [(&str, &str, &str, &str); 3] = [
    (
        "page interaction",
        "pageview",
        PAGEVIEW,
        "A page was viewed.",
    ),
    (
        "page interaction",
        "cta click",
        CTA_CLICK,
        "A call-to-action element was clicked.",
    ),
    (
        "form interaction",
        "submit",
        SUBMIT,
        "A form was submitted.",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let now = chrono::Utc::now();
        for (category, name, schema, description) in SEEDS {
            let schema: serde_json::Value =
                serde_json::from_str(schema).map_err(|e| DbErr::Custom(e.to_string()))?;
            let insert = Query::insert()
                .into_table(EventTypes::Table)
                .columns([
                    EventTypes::Category,
                    EventTypes::Name,
                    EventTypes::Schema,
                    EventTypes::Description,
                    EventTypes::CreatedAt,
                    EventTypes::UpdatedAt,
                ])
                .values_panic([
                    category.into(),
                    name.into(),
                    schema.into(),
                    description.into(),
                    now.into(),
                    now.into(),
                ])
                .to_owned();
            manager.exec_stmt(insert).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (category, name, _, _) in SEEDS {
            let delete = Query::delete()
                .from_table(EventTypes::Table)
                .and_where(Expr::col(EventTypes::Category).eq(category))
                .and_where(Expr::col(EventTypes::Name).eq(name))
                .to_owned();
            manager.exec_stmt(delete).await?;
        }
        Ok(())
    }
}
