//! The job's per-session aggregates are keyed by the session's integer key on SQLite.
//!
//! `sessions`, `session_applications` and `session_type_counts` were keyed by the session's
//! text id. An ordinary SQLite table keeps such a key in a second B-tree of its own
//! (`sqlite_autoindex_…`), in the order of the ids, which applications choose at random
//! (typically UUIDs). So every new session, and every new (session, event type) or (session,
//! application) pair, was inserted at a random place in three such trees. On events seeded in
//! time order (a session's events within half an hour), those three trees took two thirds of
//! the pages a job step wrote (BENCHMARKS.md, session 15).
//!
//! Session keys (`session_keys`, `m20261201_000002`) are handed out in order of first
//! appearance, so a table keyed by them receives new sessions at its end, and the sessions a
//! step updates — the recent ones — lie together near it:
//! - `sessions (session_key INTEGER PRIMARY KEY, session_id, first_seen, last_seen,
//!   event_count)`: one B-tree, the key being the rowid; `idx_sessions_count` stays on
//!   `(event_count DESC, session_id)`, the order in which the largest sessions are listed;
//! - `session_type_counts (session_key, session_id, category, name, event_count)`, `WITHOUT
//!   ROWID`, keyed by `(session_key, category, name)`;
//! - `session_applications (session_key, application_id)`, `WITHOUT ROWID`.
//!
//! Each `session_key` `REFERENCES session_keys (id)`. The two tables that list sessions keep
//! the id beside the key, so listing them needs no join. Each table is rebuilt by SQLite's
//! documented procedure, in one transaction; `down` rebuilds the text-keyed tables. PostgreSQL
//! keeps its tables as they are.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each table: its definition keyed by the session key (as `{table}_rebuilt`), the copy into it
/// from the text-keyed table, its definition keyed by the id, and the copy back.
struct Rebuild {
    table: &'static str,
    by_key: &'static str,
    copy_by_key: &'static str,
    by_id: &'static str,
    copy_by_id: &'static str,
}

const REBUILDS: [Rebuild; 3] = [
    Rebuild {
        table: "sessions",
        by_key: "CREATE TABLE sessions_rebuilt (\
                 session_key INTEGER PRIMARY KEY REFERENCES session_keys (id), \
                 session_id varchar(128) NOT NULL, first_seen integer NOT NULL, \
                 last_seen integer NOT NULL, event_count integer NOT NULL)",
        copy_by_key: "INSERT INTO sessions_rebuilt SELECT k.id, o.session_id, o.first_seen, \
                      o.last_seen, o.event_count FROM sessions o \
                      JOIN session_keys k ON k.session_id = o.session_id ORDER BY k.id",
        by_id: "CREATE TABLE sessions_rebuilt (\
                \"session_id\" varchar(128) NOT NULL PRIMARY KEY, \
                \"first_seen\" integer NOT NULL, \"last_seen\" integer NOT NULL, \
                \"event_count\" integer NOT NULL)",
        copy_by_id: "INSERT INTO sessions_rebuilt SELECT session_id, first_seen, last_seen, \
                     event_count FROM sessions ORDER BY session_id",
    },
    Rebuild {
        table: "session_applications",
        by_key: "CREATE TABLE session_applications_rebuilt (\
                 session_key integer NOT NULL REFERENCES session_keys (id), \
                 application_id integer NOT NULL, \
                 PRIMARY KEY (session_key, application_id)) WITHOUT ROWID",
        copy_by_key: "INSERT INTO session_applications_rebuilt SELECT k.id, o.application_id \
                      FROM session_applications o JOIN session_keys k ON k.session_id = o.session_id \
                      ORDER BY k.id, o.application_id",
        by_id: "CREATE TABLE session_applications_rebuilt (\
                \"session_id\" varchar(128) NOT NULL, \"application_id\" integer NOT NULL, \
                PRIMARY KEY (\"session_id\", \"application_id\"))",
        copy_by_id: "INSERT INTO session_applications_rebuilt SELECT k.session_id, \
                     o.application_id FROM session_applications o JOIN session_keys k ON k.id = o.session_key \
                     ORDER BY k.session_id, o.application_id",
    },
    Rebuild {
        table: "session_type_counts",
        by_key: "CREATE TABLE session_type_counts_rebuilt (\
                 session_key integer NOT NULL REFERENCES session_keys (id), \
                 session_id varchar(128) NOT NULL, category varchar(128) NOT NULL, \
                 name varchar(128) NOT NULL, event_count integer NOT NULL, \
                 PRIMARY KEY (session_key, category, name)) WITHOUT ROWID",
        copy_by_key: "INSERT INTO session_type_counts_rebuilt SELECT k.id, o.session_id, \
                      o.category, o.name, o.event_count FROM session_type_counts o \
                      JOIN session_keys k ON k.session_id = o.session_id \
                      ORDER BY k.id, o.category, o.name",
        by_id: "CREATE TABLE session_type_counts_rebuilt (\
                \"session_id\" varchar(128) NOT NULL, \"category\" varchar(128) NOT NULL, \
                \"name\" varchar(128) NOT NULL, \"event_count\" integer NOT NULL, \
                PRIMARY KEY (\"session_id\", \"category\", \"name\"))",
        copy_by_id: "INSERT INTO session_type_counts_rebuilt SELECT session_id, category, name, \
                     event_count FROM session_type_counts ORDER BY session_id, category, name",
    },
];

/// `sessions`' secondary index, the same in both shapes.
const SESSIONS_BY_COUNT: &str =
    "CREATE INDEX idx_sessions_count ON sessions (event_count DESC, session_id)";

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
        // Every aggregated session has events, so a key; should one not, it gets one here
        // rather than its aggregates being lost.
        for table in ["sessions", "session_applications", "session_type_counts"] {
            db.execute_unprepared(&format!(
                "INSERT INTO session_keys (session_id) SELECT DISTINCT session_id FROM {table} \
                 WHERE true ON CONFLICT (session_id) DO NOTHING"
            ))
            .await?;
        }
        for rebuild in &REBUILDS {
            run(manager, rebuild.table, rebuild.by_key, rebuild.copy_by_key).await?;
        }
        db.execute_unprepared(SESSIONS_BY_COUNT).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        for rebuild in &REBUILDS {
            run(manager, rebuild.table, rebuild.by_id, rebuild.copy_by_id).await?;
        }
        manager
            .get_connection()
            .execute_unprepared(SESSIONS_BY_COUNT)
            .await?;
        Ok(())
    }
}

/// Rebuilds `table` by SQLite's documented procedure: `create` defines `{table}_rebuilt`,
/// `copy` fills it from `table`, which is then dropped, and the new table takes its name.
async fn run(
    manager: &SchemaManager<'_>,
    table: &str,
    create: &str,
    copy: &str,
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for statement in [
        create.to_owned(),
        copy.to_owned(),
        format!("DROP TABLE {table}"),
        format!("ALTER TABLE {table}_rebuilt RENAME TO {table}"),
    ] {
        db.execute_unprepared(&statement).await?;
    }
    Ok(())
}
