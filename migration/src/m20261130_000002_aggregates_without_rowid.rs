//! SQLite: the background job's aggregate tables become `WITHOUT ROWID` tables.
//!
//! `sessions`, `session_applications`, `session_type_counts` and `type_counts_hourly` are each
//! looked up and updated by their primary key alone. As ordinary SQLite tables each was two
//! B-trees: the rows by a hidden rowid, and the primary key as a separate unique index. Every
//! upsert searched the index, then the table, and dirtied a page in both. Stored in their
//! primary key's order instead, each is one B-tree: a job step that touches a few thousand
//! sessions writes about half the pages, and `session(id)` reads one tree. Columns, keys and
//! `idx_sessions_count` are unchanged.
//!
//! PostgreSQL has no rowid (its tables are heaps with a separate primary-key index either way),
//! so this migration does nothing there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables rebuilt, each with its indexes other than the primary key's.
const TABLES: [(&str, &[&str]); 4] = [
    (
        "sessions",
        &["CREATE INDEX idx_sessions_count ON sessions (event_count DESC, session_id)"],
    ),
    ("session_applications", &[]),
    ("session_type_counts", &[]),
    ("type_counts_hourly", &[]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        // Each table is copied, dropped and renamed: all of them or none.
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild(manager, true).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild(manager, false).await
    }
}

/// Rebuilds every table of [`TABLES`] from its own `CREATE TABLE` text, with `WITHOUT ROWID`
/// appended (`without_rowid`) or removed, copying the rows across.
async fn rebuild(manager: &SchemaManager<'_>, without_rowid: bool) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Sqlite {
        return Ok(());
    }
    let db = manager.get_connection();
    for (table, indexes) in TABLES {
        let create = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?",
                [table.into()],
            ))
            .await?
            .ok_or_else(|| DbErr::Migration(format!("table {table} not found")))?
            .try_get_by_index::<String>(0)?;
        let columns = create
            .find('(')
            .map(|at| &create[at..])
            .ok_or_else(|| DbErr::Migration(format!("unexpected definition of {table}")))?;
        let columns = columns
            .trim_end()
            .trim_end_matches("WITHOUT ROWID")
            .trim_end();
        let suffix = if without_rowid { " WITHOUT ROWID" } else { "" };
        for statement in [
            format!("CREATE TABLE \"{table}_rebuilt\" {columns}{suffix}"),
            format!("INSERT INTO \"{table}_rebuilt\" SELECT * FROM \"{table}\""),
            format!("DROP TABLE \"{table}\""),
            format!("ALTER TABLE \"{table}_rebuilt\" RENAME TO \"{table}\""),
        ]
        .iter()
        .map(String::as_str)
        .chain(indexes.iter().copied())
        {
            db.execute_unprepared(statement).await?;
        }
    }
    Ok(())
}
