//! Opening the database (the pool, and SQLite's one write connection) and applying
//! migrations.

use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use super::redact;
use crate::config::{DatabaseSettings, SqliteSync};

/// Page cache of SQLite's write connection, in KiB (the default is 2 MiB per connection).
/// Index pages touched by consecutive group commits stay in memory instead of being read back
/// through the OS for every commit.
pub const SQLITE_WRITER_CACHE_KIB: u32 = 32 * 1024;

/// Connects to the configured database. SQLite is opened in WAL mode with foreign keys on and
/// a busy timeout, so the writer, the background job and readers can work side by side.
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<DatabaseConnection> {
    open(
        settings,
        settings.db_max_connections,
        READER_THREADS,
        None,
        None,
        settings.sqlite_mmap_mib,
    )
    .await
}

/// WAL pages after which SQLite's write connection checkpoints by itself when a background
/// checkpointer runs: a backstop in case the checkpointer falls behind (SQLite's own default,
/// used otherwise, is 1000 pages).
pub const SQLITE_BACKSTOP_CHECKPOINT_PAGES: u32 = 16_384;

/// How long a pooled PostgreSQL connection must have been idle before the pool checks it with
/// a round trip (a ping) ahead of handing it out. A connection in steady use is handed out
/// unchecked: a ping on every checkout added a round trip to every statement or transaction.
/// The pool still pings each connection when it is given back (and drops a broken one), and a
/// connection that a server, proxy or firewall dropped while idle is caught here. SQLite's
/// connections are files in this process and are never checked.
pub const POSTGRES_PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Who copies SQLite's write-ahead log back into the database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoints {
    /// The committing connection, whenever the log passes 1000 pages (SQLite's default).
    OnCommit,
    /// A background task ([`crate::checkpoint`]); the writer only as a backstop.
    Background,
}

/// The connection that writes events and aggregates. On SQLite, a pool of exactly one
/// connection with a larger page cache, shared by the group-commit writer and the background
/// job: SQLite runs one writer at a time anyway, and queueing for this connection hands it to
/// the next writer the moment the last one commits, where a second connection would poll on
/// `SQLITE_BUSY` with sleeps of up to tens of milliseconds. Its cache also stays warm, since
/// nothing else writes often. On PostgreSQL, which runs writers concurrently, `db` itself.
pub async fn connect_writer(
    settings: &DatabaseSettings,
    db: &DatabaseConnection,
    checkpoints: Checkpoints,
) -> anyhow::Result<DatabaseConnection> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(db.clone());
    }
    let backstop =
        (checkpoints == Checkpoints::Background).then_some(SQLITE_BACKSTOP_CHECKPOINT_PAGES);
    // The writer's cache stays valid (nothing else writes), so it maps nothing.
    open(
        settings,
        1,
        WRITER_THREAD,
        Some(SQLITE_WRITER_CACHE_KIB),
        backstop,
        0,
    )
    .await
}

/// The name of each pooled SQLite connection's worker thread (followed by a number), as `top
/// -H`, `perf` and `/proc/PID/task/*/comm` show it.
const READER_THREADS: &str = "sqlite-read-";

/// The name of the SQLite write connection's worker thread (followed by a number).
const WRITER_THREAD: &str = "sqlite-write-";

async fn open(
    settings: &DatabaseSettings,
    max_connections: u32,
    thread_name: &'static str,
    cache_kib: Option<u32>,
    autocheckpoint_pages: Option<u32>,
    mmap_mib: u64,
) -> anyhow::Result<DatabaseConnection> {
    let timeout = Duration::from_millis(settings.db_timeout_ms);
    let synchronous = match settings.sqlite_synchronous {
        SqliteSync::Full => SqliteSynchronous::Full,
        SqliteSync::Normal => SqliteSynchronous::Normal,
    };
    let mut options = ConnectOptions::new(settings.database_url.clone());
    options
        .max_connections(max_connections.max(1))
        .min_connections(settings.db_min_connections.min(max_connections))
        .connect_timeout(Duration::from_millis(settings.db_connect_timeout_ms))
        .acquire_timeout(timeout)
        .sqlx_logging(false);
    if settings.database_url.starts_with("sqlite:") {
        options.test_before_acquire(false);
    } else {
        options.test_before_acquire_if_idle_for(POSTGRES_PING_AFTER_IDLE);
    }
    options.map_sqlx_sqlite_opts(move |opts| {
        let opts = opts
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(timeout)
            .foreign_keys(true)
            .create_if_missing(true)
            // Statement journals (kept while a multi-row INSERT runs, to undo it alone if
            // it fails) and sorts stay in memory instead of temporary files.
            .pragma("temp_store", "MEMORY")
            .thread_name(move |id| format!("{thread_name}{id}"));
        let opts = match mmap_mib {
            0 => opts,
            mib => opts.pragma("mmap_size", (mib * 1024 * 1024).to_string()),
        };
        let opts = match cache_kib {
            // A negative cache_size is in KiB.
            Some(kib) => opts.pragma("cache_size", format!("-{kib}")),
            None => opts,
        };
        match autocheckpoint_pages {
            Some(pages) => opts.pragma("wal_autocheckpoint", pages.to_string()),
            None => opts,
        }
    });
    if settings.db_statement_timeout_ms > 0 {
        options.statement_timeout(Duration::from_millis(settings.db_statement_timeout_ms));
    }
    Database::connect(options)
        .await
        .with_context(|| format!("connecting to {}", redact(&settings.database_url)))
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("applying database migrations")
}

/// Begins a transaction that will write. On SQLite it takes the write lock at `BEGIN`
/// (`BEGIN IMMEDIATE`), so what it reads before its first write is still true when it writes:
/// the writer and the job read the largest key or the queue's head and then write after it.
/// PostgreSQL ignores the mode.
pub async fn begin_writing(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}
