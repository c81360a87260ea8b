//! The job's aggregate tables become `WITHOUT ROWID` tables on SQLite: each is one B-tree in
//! the order of its primary key instead of two.
//!
//! `sessions`, `session_applications`, `session_type_counts` and `type_counts_hourly` have
//! text (or composite) primary keys. An ordinary SQLite table stores its rows in a B-tree keyed
//! by a hidden rowid and keeps the primary key in a second B-tree of its own
//! (`sqlite_autoindex_…`), so each upsert of the job reads two trees and, for a new key, writes
//! both; `idx_sessions_count` carries the rowid as well. A job step touches thousands of
//! sessions at random, so it rewrites most pages of every such tree: a step's bytes follow the
//! size of the trees (BENCHMARKS.md, session 15). As `WITHOUT ROWID` tables the rows live in
//! the primary key's B-tree itself, and the secondary index refers to them by that key.
//!
//! SQLite cannot change a table's kind in place, so each table is rebuilt by its documented
//! procedure: a new table from the stored definition (plus or minus `WITHOUT ROWID`), the rows
//! copied in key order, the old table dropped, the new one renamed and its indexes created
//! again from their stored text. One transaction. No query changes: the tables keep their
//! names, columns and keys. PostgreSQL has no rowid; nothing changes there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables rebuilt, each with its primary key's columns (the order rows are copied in).
const TABLES: [(&str, &str); 4] = [
    ("sessions", "session_id"),
    ("session_applications", "session_id, application_id"),
    ("session_type_counts", "session_id, category, name"),
    ("type_counts_hourly", "bucket_start, category, name"),
];

/// What ends the definition of a table without a rowid.
const WITHOUT_ROWID: &str = " WITHOUT ROWID";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on SQLite too, so a failed rebuild leaves every table as it was.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild_all(manager, Kind::WithoutRowid).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild_all(manager, Kind::Rowid).await
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rowid,
    WithoutRowid,
}

async fn rebuild_all(manager: &SchemaManager<'_>, kind: Kind) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Sqlite {
        return Ok(());
    }
    for (table, key) in TABLES {
        rebuild(manager.get_connection(), table, key, kind).await?;
    }
    Ok(())
}

async fn rebuild(
    db: &impl ConnectionTrait,
    table: &str,
    key: &str,
    kind: Kind,
) -> Result<(), DbErr> {
    let text = |sql: String| Statement::from_string(DbBackend::Sqlite, sql);
    let definition: String = db
        .query_one_raw(text(format!(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
        )))
        .await?
        .ok_or_else(|| DbErr::Migration(format!("table {table} is missing")))?
        .try_get("", "sql")?;
    let indexes: Vec<String> = db
        .query_all_raw(text(format!(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}' \
             AND sql IS NOT NULL ORDER BY name"
        )))
        .await?
        .iter()
        .map(|row| row.try_get::<String>("", "sql"))
        .collect::<Result<_, _>>()?;

    // The stored text may read `CREATE TABLE IF NOT EXISTS "sessions" (`: the name is
    // replaced up to the column list, which runs to the last `)`.
    let unexpected = || DbErr::Migration(format!("unexpected definition: {definition}"));
    let columns_start = definition.find('(').ok_or_else(unexpected)?;
    let body = definition[columns_start..].trim_end();
    let is_without_rowid = body.ends_with(WITHOUT_ROWID.trim_start());
    let body = match (kind, is_without_rowid) {
        (Kind::WithoutRowid, false) => format!("{body}{WITHOUT_ROWID}"),
        (Kind::Rowid, true) => body[..body.len() - WITHOUT_ROWID.len()].to_owned(),
        // Already of the kind asked for: nothing to do.
        _ => return Ok(()),
    };
    let rebuilt = format!("{table}_rebuilt");
    let mut statements = vec![
        format!("CREATE TABLE {rebuilt} {body}"),
        // In key order, so the new B-tree is filled by appending.
        format!("INSERT INTO {rebuilt} SELECT * FROM {table} ORDER BY {key}"),
        format!("DROP TABLE {table}"),
        format!("ALTER TABLE {rebuilt} RENAME TO {table}"),
    ];
    statements.extend(indexes);
    for statement in statements {
        db.execute_unprepared(&statement).await?;
    }
    Ok(())
}
