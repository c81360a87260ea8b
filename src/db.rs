//! Opening the database and applying migrations, plus a small builder for the few hand-written
//! statements whose SQL both backends share but whose placeholders differ (`?` vs `$n`).

use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr, Statement, Value,
};

use crate::config::{DatabaseSettings, SqliteSync};

/// Page cache of SQLite's write connection, in KiB (the default is 2 MiB per connection).
/// Index pages touched by consecutive group commits stay in memory instead of being read back
/// through the OS for every commit.
pub const SQLITE_WRITER_CACHE_KIB: u32 = 32 * 1024;

/// Connects to the configured database. SQLite is opened in WAL mode with foreign keys on and
/// a busy timeout, so the writer, the background job and readers can work side by side.
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<DatabaseConnection> {
    open(settings, settings.db_max_connections, None, None).await
}

/// WAL pages after which SQLite's write connection checkpoints by itself when a background
/// checkpointer runs: a backstop in case the checkpointer falls behind (SQLite's own default,
/// used otherwise, is 1000 pages).
pub const SQLITE_BACKSTOP_CHECKPOINT_PAGES: u32 = 16_384;

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
    open(settings, 1, Some(SQLITE_WRITER_CACHE_KIB), backstop).await
}

async fn open(
    settings: &DatabaseSettings,
    max_connections: u32,
    cache_kib: Option<u32>,
    autocheckpoint_pages: Option<u32>,
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
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |opts| {
            let opts = opts
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .busy_timeout(timeout)
                .foreign_keys(true)
                .create_if_missing(true)
                // Statement journals (kept while a multi-row INSERT runs, to undo it alone if
                // it fails) and sorts stay in memory instead of temporary files.
                .pragma("temp_store", "MEMORY");
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

/// Whether `err` means the database could not be reached or could not answer in time, so
/// that the same request may succeed when retried: connection failures and timeouts, a pool
/// that is closed or exhausted, a PostgreSQL server shutting down or cancelling a statement
/// (`57xxx`, `08xxx`) or rolling a transaction back for a conflict (`40xxx`, see
/// [`is_conflict`]), and a SQLite database still locked after the busy timeout.
pub fn is_transient(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as SqlxError;
    if matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) {
        return true;
    }
    let Some(sqlx_err) = sqlx_error(err) else {
        return false;
    };
    match sqlx_err {
        SqlxError::Io(_)
        | SqlxError::Tls(_)
        | SqlxError::Protocol(_)
        | SqlxError::PoolTimedOut
        | SqlxError::PoolClosed
        | SqlxError::WorkerCrashed => true,
        SqlxError::Database(db_err) => {
            let code = db_err.code().unwrap_or_default();
            // PostgreSQL: connection exceptions and operator intervention (shutdown, cancel).
            // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6), extended codes included.
            is_conflict(err)
                || sqlstate_class(&code, "08")
                || sqlstate_class(&code, "57")
                || matches!(code.parse::<i32>(), Ok(c) if c & 0xff == 5 || c & 0xff == 6)
        }
        _ => false,
    }
}

/// Whether PostgreSQL rolled the transaction back to resolve a conflict with a concurrent one
/// (SQLSTATE class `40`: deadlock detected, serialization failure). Running the same
/// transaction again is safe and normally succeeds at once.
pub fn is_conflict(err: &DbErr) -> bool {
    match sqlx_error(err) {
        Some(sea_orm::sqlx::Error::Database(db_err)) => db_err
            .code()
            .is_some_and(|code| sqlstate_class(&code, "40")),
        _ => false,
    }
}

/// The driver's error behind a failed statement, if any.
fn sqlx_error(err: &DbErr) -> Option<&sea_orm::sqlx::Error> {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            Some(e.as_ref())
        }
        _ => None,
    }
}

/// Whether `code` is a PostgreSQL SQLSTATE (five characters) of `class`. SQLite's numeric codes
/// are never five characters long.
fn sqlstate_class(code: &str, class: &str) -> bool {
    code.len() == 5 && code.starts_with(class)
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("applying database migrations")
}

/// The URL without its password, for logs and messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// A hand-written statement under construction: SQL text plus its bound values, with
/// placeholders in the backend's style.
pub struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    /// An empty statement for `backend`.
    pub fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            text: String::with_capacity(256),
            values: Vec::new(),
        }
    }

    /// Appends SQL text.
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.values.len().to_string());
            }
            _ => self.text.push('?'),
        }
        self
    }

    /// Appends `(v1, v2, …)`, each value bound (`values` must not be empty).
    pub fn bind_list<V: Into<Value> + Clone>(&mut self, values: &[V]) -> &mut Self {
        self.push("(");
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(value.clone());
        }
        self.push(")")
    }

    /// The backend this statement is written for.
    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    /// The finished statement.
    pub fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://x.db?mode=rwc"), "sqlite://x.db?mode=rwc");
    }

    #[test]
    fn placeholders_follow_the_backend() {
        let mut sql = Sql::new(DbBackend::Postgres);
        sql.push("a = ").bind(1).push(" AND b = ").bind("x");
        assert_eq!(sql.build().sql, "a = $1 AND b = $2");
        let mut sql = Sql::new(DbBackend::Sqlite);
        sql.push("a = ").bind(1);
        assert_eq!(sql.build().sql, "a = ?");
    }
}
