//! Sessions get an integer key on SQLite, and `events`' indexes carry it instead of the id.
//!
//! A session id is the application's own text, typically a 36-byte UUID. Two of `events`'
//! indexes carried it in every entry: `idx_events_session_time` (events by session) and
//! `idx_events_time_covering` (which counts a range's sessions without reading rows). Each
//! was about a quarter of the bytes that an ingest commit writes (BENCHMARKS.md, session 13),
//! because a commit rewrites every index page it touches and these entries filled the most.
//!
//! Now each session id is stored once, in `session_keys (id, session_id)`, and every event
//! carries its session's `session_key` (`REFERENCES session_keys (id)`): a one- to three-byte
//! integer in those two indexes. The event keeps its `session_id` column too, so reading an
//! event needs no join; only the indexes change. The writer adds a batch's new sessions to
//! `session_keys` in the transaction that stores its events.
//!
//! SQLite cannot add a `NOT NULL` column without a default, so `events` is rebuilt by SQLite's
//! documented procedure (as in `m20261201_000001`): a new table from the old definition plus
//! the column, every row copied with its session's key, the old table dropped, the new one
//! renamed, its indexes created again (the two above on the key) and the `AUTOINCREMENT`
//! high-water mark kept. `down` rebuilds it without the column and drops `session_keys`.
//!
//! PostgreSQL keeps its indexes on the id: nothing changes there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The two indexes that change: their name, and their definition on the id and on the key.
const INDEXES: [(&str, &str, &str); 2] = [
    (
        "idx_events_session_time",
        "CREATE INDEX idx_events_session_time ON events (session_id, timestamp, seq)",
        "CREATE INDEX idx_events_session_time ON events (session_key, timestamp, seq)",
    ),
    (
        "idx_events_time_covering",
        "CREATE INDEX idx_events_time_covering ON events (timestamp, seq, category, name, session_id)",
        "CREATE INDEX idx_events_time_covering ON events (timestamp, seq, category, name, session_key)",
    ),
];

/// The column the new one is declared before.
const CATEGORY: &str = "\"category\" varchar(128)";

/// The new column as declared.
const KEY_COLUMN: &str = "\"session_key\" integer NOT NULL REFERENCES session_keys (id)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on SQLite too, so a failed rebuild leaves every table as it was.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        let db = manager.get_connection();
        for statement in [
            // `INTEGER PRIMARY KEY` is the rowid: new sessions are appended.
            "CREATE TABLE session_keys (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL)",
            "CREATE UNIQUE INDEX uq_session_keys_session_id ON session_keys (session_id)",
            // Read in the order of the old session index, without sorting.
            "INSERT INTO session_keys (session_id) SELECT session_id FROM events \
             GROUP BY session_id",
        ] {
            db.execute_unprepared(statement).await?;
        }
        rebuild_events(manager, Direction::AddKey).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        rebuild_events(manager, Direction::DropKey).await?;
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE session_keys")
            .await?;
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    AddKey,
    DropKey,
}

async fn rebuild_events(manager: &SchemaManager<'_>, direction: Direction) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let text = |sql: &str| Statement::from_string(DbBackend::Sqlite, sql);
    let definition: String = db
        .query_one_raw(text(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'",
        ))
        .await?
        .ok_or_else(|| DbErr::Migration("table events is missing".into()))?
        .try_get("", "sql")?;
    let indexes: Vec<(String, String)> = db
        .query_all_raw(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' \
             AND sql IS NOT NULL ORDER BY name",
        ))
        .await?
        .iter()
        .map(|row| Ok((row.try_get("", "name")?, row.try_get("", "sql")?)))
        .collect::<Result<_, DbErr>>()?;
    let names: Vec<String> = db
        .query_all_raw(text(
            "SELECT name FROM pragma_table_info('events') WHERE name <> 'session_key' ORDER BY cid",
        ))
        .await?
        .iter()
        .map(|row| row.try_get::<String>("", "name"))
        .collect::<Result<_, _>>()?;
    let high_water = crate::sqlite_rebuild::high_water(db, "events").await?;

    // The stored text may read `CREATE TABLE IF NOT EXISTS "events" (`: the name is replaced
    // up to the column list.
    let columns_start = definition
        .find('(')
        .ok_or_else(|| DbErr::Migration(format!("unexpected definition: {definition}")))?;
    let renamed = format!(
        "CREATE TABLE events_rebuilt {}",
        &definition[columns_start..]
    );
    let new_definition = match direction {
        // Beside the session id, before `category` (table constraints follow the columns).
        Direction::AddKey => {
            if !renamed.contains(CATEGORY) {
                return Err(DbErr::Migration(format!(
                    "unexpected definition: {definition}"
                )));
            }
            renamed.replacen(CATEGORY, &format!("{KEY_COLUMN}, {CATEGORY}"), 1)
        }
        Direction::DropKey => {
            let column = format!("{KEY_COLUMN}, ");
            if !renamed.contains(&column) {
                return Err(DbErr::Migration(format!(
                    "events.session_key is not declared as this migration declared it: \
                     {definition}"
                )));
            }
            renamed.replacen(&column, "", 1)
        }
    };
    let columns: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    let columns = columns.join(", ");
    let copy = match direction {
        // `CROSS JOIN` keeps `events` the outer loop, so rows arrive in `seq` order and are
        // appended; each looks its key up in `uq_session_keys_session_id`.
        Direction::AddKey => format!(
            "INSERT INTO events_rebuilt ({columns}, session_key) SELECT {}, k.id \
             FROM events e CROSS JOIN session_keys k ON k.session_id = e.session_id",
            names
                .iter()
                .map(|n| format!("e.\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Direction::DropKey => {
            format!("INSERT INTO events_rebuilt ({columns}) SELECT {columns} FROM events")
        }
    };
    let mut statements = vec![
        new_definition,
        copy,
        "DROP TABLE events".to_string(),
        "ALTER TABLE events_rebuilt RENAME TO events".to_string(),
    ];
    for (changed, ..) in INDEXES {
        if !indexes.iter().any(|(name, _)| name == changed) {
            return Err(DbErr::Migration(format!("events has no index {changed}")));
        }
    }
    for (name, sql) in indexes {
        let changed = INDEXES.iter().find(|(changed, ..)| *changed == name);
        statements.push(match (changed, direction) {
            (Some((_, _, by_key)), Direction::AddKey) => (*by_key).to_owned(),
            (Some((_, by_id, _)), Direction::DropKey) => (*by_id).to_owned(),
            (None, _) => sql,
        });
    }
    if let Some(seq) = high_water {
        statements.extend(crate::sqlite_rebuild::restore_high_water("events", seq));
    }
    for statement in statements {
        db.execute_unprepared(&statement).await?;
    }
    Ok(())
}
