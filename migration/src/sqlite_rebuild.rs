//! Helpers shared by the migrations that change SQLite alone: running their statements on
//! SQLite only, and, for those that rebuild a table (SQLite cannot change a column in place),
//! keeping the table's `AUTOINCREMENT` high-water mark across the rebuild, so no key is ever
//! handed out twice.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

/// Runs `statements` in order on SQLite; does nothing on PostgreSQL.
pub(crate) async fn on_sqlite_only(
    manager: &SchemaManager<'_>,
    statements: &[String],
) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Sqlite {
        return Ok(());
    }
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}

/// The `AUTOINCREMENT` high-water mark of `table`, if it has one.
pub(crate) async fn high_water(
    db: &impl ConnectionTrait,
    table: &str,
) -> Result<Option<i64>, DbErr> {
    let text = |sql: String| Statement::from_string(DbBackend::Sqlite, sql);
    // No `AUTOINCREMENT` table yet, so no `sqlite_sequence`; any other failure is an error.
    let exists = db
        .query_one_raw(text(
            "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
                .into(),
        ))
        .await?;
    if exists.is_none() {
        return Ok(None);
    }
    db.query_one_raw(text(format!(
        "SELECT seq FROM sqlite_sequence WHERE name = '{table}'"
    )))
    .await?
    .map(|r| r.try_get("", "seq"))
    .transpose()
}

/// The statements that give the rebuilt `table` back the high-water mark `seq` (dropping the
/// old table took its row in `sqlite_sequence` with it).
pub(crate) fn restore_high_water(table: &str, seq: i64) -> [String; 2] {
    [
        format!("UPDATE sqlite_sequence SET seq = MAX(seq, {seq}) WHERE name = '{table}'"),
        format!(
            "INSERT INTO sqlite_sequence (name, seq) SELECT '{table}', {seq} \
             WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = '{table}')"
        ),
    ]
}
