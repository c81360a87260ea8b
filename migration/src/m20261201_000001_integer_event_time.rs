//! Event time becomes an integer on SQLite.
//!
//! SQLite has no date type; until now an event's `timestamp` was stored as the driver's RFC 3339
//! text (`2021-01-01T09:15:27.24386+00:00`, 25–32 bytes). That column is a key of five of
//! `events`' six indexes, so each event carried it six times, and every index insert compared it
//! as text. Now event time is an `INTEGER` of microseconds since the Unix epoch, UTC: eight
//! bytes, compared as a number, in the same order. The aggregates derived from it follow, so
//! that they compare and combine with it directly: `sessions.first_seen` and `last_seen`, and
//! `type_counts_hourly.bucket_start` (a key of its primary key). Record times (`received_at`,
//! `created_at`, …) stay text.
//!
//! SQLite cannot change a column's type, so each of the three tables is rebuilt as its
//! documented procedure prescribes: a new table from the old definition with those columns
//! retyped, every row copied with its instants converted, the old table dropped, the new one
//! renamed and the old table's indexes created again. `events` keeps its `AUTOINCREMENT`
//! high-water mark, so no `seq` is ever handed out twice. Only the driver ever wrote these
//! columns, always in UTC (`2021-01-01T09:15:27.24386+00:00`, 0 to 9 digits of fraction); a
//! value whose date does not parse fails the migration (the columns are `NOT NULL`), which
//! then changes nothing. `down` writes the driver's text back, with 0, 3 or 6 digits as it
//! would, so the previous release's text comparisons and upserts meet equal keys.
//!
//! PostgreSQL already stores these columns as eight-byte `timestamptz`: nothing changes there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The event-time columns, by table.
const EVENT_TIME_COLUMNS: [(&str, &[&str]); 3] = [
    ("events", &["timestamp"]),
    ("sessions", &["first_seen", "last_seen"]),
    ("type_counts_hourly", &["bucket_start"]),
];

/// How the first migration declared an instant on SQLite.
const TEXT_TYPE: &str = "timestamp_with_timezone_text";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on SQLite too, so a failed rebuild leaves every table as it was.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild_all(manager, Direction::ToMicros).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild_all(manager, Direction::ToText).await
    }
}

/// Rebuilds every table with event-time columns on SQLite; nothing on PostgreSQL.
async fn rebuild_all(manager: &SchemaManager<'_>, direction: Direction) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Sqlite {
        return Ok(());
    }
    for (table, columns) in EVENT_TIME_COLUMNS {
        rebuild(manager, table, columns, direction).await?;
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    ToMicros,
    ToText,
}

impl Direction {
    /// The column's declared type before and after.
    fn types(self) -> (&'static str, &'static str) {
        match self {
            Direction::ToMicros => (TEXT_TYPE, "integer"),
            Direction::ToText => ("integer", TEXT_TYPE),
        }
    }

    /// The expression that converts column `c`'s value.
    fn convert(self, c: &str) -> String {
        match self {
            // The driver writes UTC as `YYYY-MM-DDTHH:MM:SS[.f…]+00:00` with 0, 3, 6 or 9
            // fractional digits. `unixepoch` keeps only whole seconds of the first 19
            // characters; the digits after the dot are read as text, so no microsecond is
            // rounded through a double.
            Direction::ToMicros => format!(
                "unixepoch(substr(\"{c}\", 1, 19)) * 1000000 + CASE \
                   WHEN substr(\"{c}\", 20, 1) = '.' THEN CAST(substr(substr(\"{c}\", 21, \
                     length(\"{c}\") - 20 - CASE WHEN \"{c}\" LIKE '%Z' THEN 1 ELSE 6 END) \
                     || '000000', 1, 6) AS INTEGER) \
                   ELSE 0 END"
            ),
            // Whole seconds rounded down (SQLite's division truncates), then the fraction as
            // `SecondsFormat::AutoSi` writes it: none, milliseconds or microseconds.
            Direction::ToText => {
                let seconds = format!(
                    "(CASE WHEN \"{c}\" >= 0 THEN \"{c}\" / 1000000 \
                     ELSE (\"{c}\" - 999999) / 1000000 END)"
                );
                let fraction = format!("(\"{c}\" - {seconds} * 1000000)");
                format!(
                    "strftime('%Y-%m-%dT%H:%M:%S', {seconds}, 'unixepoch') || CASE \
                       WHEN {fraction} = 0 THEN '' \
                       WHEN {fraction} % 1000 = 0 THEN printf('.%03d', {fraction} / 1000) \
                       ELSE printf('.%06d', {fraction}) END || '+00:00'"
                )
            }
        }
    }
}

async fn rebuild(
    manager: &SchemaManager<'_>,
    table: &str,
    columns: &[&str],
    direction: Direction,
) -> Result<(), DbErr> {
    let db = manager.get_connection();
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
    let names: Vec<String> = db
        .query_all_raw(text(format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        )))
        .await?
        .iter()
        .map(|row| row.try_get::<String>("", "name"))
        .collect::<Result<_, _>>()?;
    let high_water = crate::sqlite_rebuild::high_water(db, table).await?;

    let rebuilt = format!("{table}_rebuilt");
    let (from, to) = direction.types();
    let mut new_definition = definition.replacen(
        &format!("CREATE TABLE \"{table}\""),
        &format!("CREATE TABLE \"{rebuilt}\""),
        1,
    );
    for column in columns {
        let old = format!("\"{column}\" {from} ");
        if !new_definition.contains(&old) {
            return Err(DbErr::Migration(format!(
                "{table}.{column} is not declared `{from}`: {definition}"
            )));
        }
        new_definition = new_definition.replacen(&old, &format!("\"{column}\" {to} "), 1);
    }
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    let values: Vec<String> = names
        .iter()
        .map(|n| {
            if columns.contains(&n.as_str()) {
                direction.convert(n)
            } else {
                format!("\"{n}\"")
            }
        })
        .collect();
    let mut statements = vec![
        new_definition,
        format!(
            "INSERT INTO \"{rebuilt}\" ({}) SELECT {} FROM \"{table}\"",
            quoted.join(", "),
            values.join(", ")
        ),
        format!("DROP TABLE \"{table}\""),
        format!("ALTER TABLE \"{rebuilt}\" RENAME TO \"{table}\""),
    ];
    statements.extend(indexes);
    if let Some(seq) = high_water {
        statements.extend(crate::sqlite_rebuild::restore_high_water(table, seq));
    }
    for statement in statements {
        db.execute_unprepared(&statement).await?;
    }
    Ok(())
}
