//! Typed settings. Defaults live here in code, and every setting can be overridden by an
//! environment variable and by a command-line flag (clap's `env`), in that order of precedence.
//! Units are part of the names (`_ms`, `_bytes`, `_chars`).

use std::net::SocketAddr;

use clap::{Args, ValueEnum};
use ipnet::IpNet;

/// The default database: a SQLite file in the working directory, created on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://the-eye.db?mode=rwc";

/// How to connect to the database.
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// Database URL: `sqlite://FILE?mode=rwc` or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Largest number of pooled connections.
    #[arg(long, env = "EYE_DB_MAX_CONNECTIONS", default_value_t = 8)]
    pub db_max_connections: u32,
    /// Connections kept open even when idle.
    #[arg(long, env = "EYE_DB_MIN_CONNECTIONS", default_value_t = 1)]
    pub db_min_connections: u32,
    /// How long to wait for a pooled connection (or, on SQLite, for the write lock) before
    /// answering `UNAVAILABLE`.
    #[arg(long, env = "EYE_DB_TIMEOUT_MS", default_value_t = 5_000)]
    pub db_timeout_ms: u64,
    /// How long opening a new connection may take.
    #[arg(long, env = "EYE_DB_CONNECT_TIMEOUT_MS", default_value_t = 3_000)]
    pub db_connect_timeout_ms: u64,
    /// PostgreSQL only: the server cancels any statement running longer than this (0: never).
    #[arg(long, env = "EYE_DB_STATEMENT_TIMEOUT_MS", default_value_t = 30_000)]
    pub db_statement_timeout_ms: u64,
    /// SQLite only: `full` fsyncs the WAL on every commit, so an acknowledged batch survives a
    /// power loss; `normal` survives a crash of the process but may lose the last commits on
    /// power loss.
    #[arg(long, env = "EYE_SQLITE_SYNCHRONOUS", value_enum, default_value_t = SqliteSync::Full)]
    pub sqlite_synchronous: SqliteSync,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.into(),
            db_max_connections: 8,
            db_min_connections: 1,
            db_timeout_ms: 5_000,
            db_connect_timeout_ms: 3_000,
            db_statement_timeout_ms: 30_000,
            sqlite_synchronous: SqliteSync::Full,
        }
    }
}

/// SQLite's `synchronous` pragma, limited to the two values that make sense in WAL mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqliteSync {
    /// fsync on every commit.
    Full,
    /// fsync at checkpoints only.
    Normal,
}

/// What to do with events whose type (category + name) has no registered schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum UnknownEventTypes {
    /// Store them; their payload only has to be a JSON object.
    #[default]
    Accept,
    /// Reject them with `UNKNOWN_EVENT_TYPE`.
    Reject,
}

/// Limits on what one request and one event may contain. Each has its own error code.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Largest request body; bigger requests are refused before parsing.
    #[arg(long, env = "EYE_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Most events in one `recordEvents` call; a bigger batch is refused whole.
    #[arg(long, env = "EYE_MAX_EVENTS_PER_BATCH", default_value_t = 1_000)]
    pub max_events_per_batch: usize,
    /// Largest `data` of one event, as compact JSON; a bigger event is rejected alone.
    #[arg(long, env = "EYE_MAX_DATA_BYTES", default_value_t = 32 * 1024)]
    pub max_data_bytes: usize,
    /// Deepest nesting of objects and arrays in `data`.
    #[arg(long, env = "EYE_MAX_DATA_DEPTH", default_value_t = 32)]
    pub max_data_depth: usize,
    /// Longest `sessionId`, in characters (the column holds at most 128).
    #[arg(long, env = "EYE_MAX_SESSION_ID_CHARS", default_value_t = 128, value_parser = column_chars)]
    pub max_session_id_chars: usize,
    /// Longest `category`, in characters (the column holds at most 128).
    #[arg(long, env = "EYE_MAX_CATEGORY_CHARS", default_value_t = 128, value_parser = column_chars)]
    pub max_category_chars: usize,
    /// Longest event `name`, in characters (the column holds at most 128).
    #[arg(long, env = "EYE_MAX_NAME_CHARS", default_value_t = 128, value_parser = column_chars)]
    pub max_name_chars: usize,
    /// Longest client event `id`, in characters (the column holds at most 128).
    #[arg(long, env = "EYE_MAX_EVENT_ID_CHARS", default_value_t = 128, value_parser = column_chars)]
    pub max_event_id_chars: usize,
    /// Page size used when `first` is not given.
    #[arg(long, env = "EYE_DEFAULT_PAGE_SIZE", default_value_t = 100)]
    pub default_page_size: u64,
    /// Largest `first` accepted by paginated queries.
    #[arg(long, env = "EYE_MAX_PAGE_SIZE", default_value_t = 1_000)]
    pub max_page_size: u64,
    /// Deepest GraphQL query accepted.
    #[arg(long, env = "EYE_MAX_QUERY_DEPTH", default_value_t = 12)]
    pub max_query_depth: usize,
    /// Highest GraphQL query complexity accepted: every field counts 1, and a paginated field
    /// counts its page size times what each item selects.
    #[arg(long, env = "EYE_MAX_QUERY_COMPLEXITY", default_value_t = 50_000)]
    pub max_query_complexity: usize,
    /// Deepest nesting of `{`, `[` and `(` in a query's text, checked before parsing (it
    /// protects the parser's stack; the selection depth is `max_query_depth`).
    #[arg(long, env = "EYE_MAX_QUERY_NESTING", default_value_t = 64)]
    pub max_query_nesting: usize,
    /// Most operations in one batched GraphQL request (a JSON array of requests); a bigger
    /// batch is refused whole, nothing executed.
    #[arg(long, env = "EYE_MAX_BATCH_OPERATIONS", default_value_t = 10)]
    pub max_batch_operations: usize,
    /// Most buckets in one `eventSeries` answer (1,440 is a day of minutes).
    #[arg(long, env = "EYE_MAX_SERIES_BUCKETS", default_value_t = 1_500)]
    pub max_series_buckets: usize,
    /// Most groups an `eventSeries` split shows apart from "other".
    #[arg(long, env = "EYE_MAX_SERIES_GROUPS", default_value_t = 20)]
    pub max_series_groups: usize,
}

/// The text columns of events hold at most this many characters, so no field limit may exceed
/// it: a longer value would pass validation and then fail the insert.
pub const MAX_COLUMN_CHARS: usize = 128;

fn column_chars(raw: &str) -> Result<usize, String> {
    let n: usize = raw.parse().map_err(|e| format!("{e}"))?;
    if n == 0 || n > MAX_COLUMN_CHARS {
        return Err(format!("must be between 1 and {MAX_COLUMN_CHARS}"));
    }
    Ok(n)
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_events_per_batch: 1_000,
            max_data_bytes: 32 * 1024,
            max_data_depth: 32,
            max_session_id_chars: 128,
            max_category_chars: 128,
            max_name_chars: 128,
            max_event_id_chars: 128,
            default_page_size: 100,
            max_page_size: 1_000,
            max_query_depth: 12,
            max_query_complexity: 50_000,
            max_query_nesting: 64,
            max_batch_operations: 10,
            max_series_buckets: 1_500,
            max_series_groups: 20,
        }
    }
}

/// How events are validated and written.
#[derive(Debug, Clone, Args)]
pub struct IngestSettings {
    /// Accept or reject events of a type without a registered schema.
    #[arg(long, env = "EYE_UNKNOWN_EVENT_TYPES", value_enum, default_value_t = UnknownEventTypes::Accept)]
    pub unknown_event_types: UnknownEventTypes,
    /// How far past the time of receipt an event's timestamp may lie before it is rejected as
    /// `TIMESTAMP_IN_FUTURE` (clients' clocks drift).
    #[arg(long, env = "EYE_MAX_FUTURE_SKEW_MS", default_value_t = 5 * 60 * 1_000)]
    pub max_future_skew_ms: u64,
    /// Most events written in one group commit.
    #[arg(long, env = "EYE_MAX_COMMIT_EVENTS", default_value_t = 10_000)]
    pub max_commit_events: usize,
    /// Batches that may wait for the writer; beyond that, requests wait for room.
    #[arg(long, env = "EYE_WRITE_QUEUE_CAPACITY", default_value_t = 1_024)]
    pub write_queue_capacity: usize,
    /// Group commits in flight at once on PostgreSQL, each on its own pooled connection, so that
    /// one commit's fsync overlaps the next one's work. SQLite always uses one (it has a single
    /// writer). Keep it below `EYE_DB_MAX_CONNECTIONS`, which queries share.
    #[arg(long, env = "EYE_POSTGRES_WRITERS", default_value_t = 4)]
    pub postgres_writers: usize,
    /// How long a request waits for its batch to be committed before answering `UNAVAILABLE`
    /// (the batch may still commit; retrying it is safe because ids are idempotency keys).
    #[arg(long, env = "EYE_WRITE_TIMEOUT_MS", default_value_t = 10_000)]
    pub write_timeout_ms: u64,
    /// How often each instance reloads the event-type registry, to see other instances' changes.
    #[arg(long, env = "EYE_REGISTRY_REFRESH_MS", default_value_t = 5_000)]
    pub registry_refresh_ms: u64,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self {
            unknown_event_types: UnknownEventTypes::Accept,
            max_future_skew_ms: 5 * 60 * 1_000,
            max_commit_events: 10_000,
            write_queue_capacity: 1_024,
            postgres_writers: 4,
            write_timeout_ms: 10_000,
            registry_refresh_ms: 5_000,
        }
    }
}

/// How the background job runs.
#[derive(Debug, Clone, Args)]
pub struct ProcessingSettings {
    /// Time between two runs of the background job (it also runs on demand).
    /// Short, so that each step is small: a step holds SQLite's one writer while it runs, and a
    /// step of a tenth of a second's events delays concurrent ingest commits far less than a
    /// step of a whole second's.
    #[arg(long, env = "EYE_PROCESS_INTERVAL_MS", default_value_t = 100)]
    pub process_interval_ms: u64,
    /// Events claimed and aggregated in one transaction.
    #[arg(long, env = "EYE_PROCESS_BATCH_SIZE", default_value_t = 5_000)]
    pub process_batch_size: u64,
}

impl Default for ProcessingSettings {
    fn default() -> Self {
        Self {
            process_interval_ms: 100,
            process_batch_size: 5_000,
        }
    }
}

/// Who may connect from where, and how fast.
#[derive(Debug, Clone, Args)]
pub struct SecuritySettings {
    /// Proxies whose `X-Forwarded-For` header is believed (comma-separated addresses or CIDR
    /// ranges). Empty: the header is ignored and the client is the TCP peer.
    #[arg(long, env = "EYE_TRUSTED_PROXIES", value_delimiter = ',', num_args = 0.., value_parser = crate::domain::allowlist::parse_net)]
    pub trusted_proxies: Vec<IpNet>,
    /// Requests per second one key may make on this instance (bursts up to as many); 0 disables.
    #[arg(long, env = "EYE_RATE_LIMIT_REQUESTS_PER_S", default_value_t = 1_000)]
    pub rate_limit_requests_per_s: u32,
    /// Events per second one key may send to this instance (bursts up to as many); 0 disables.
    #[arg(long, env = "EYE_RATE_LIMIT_EVENTS_PER_S", default_value_t = 100_000)]
    pub rate_limit_events_per_s: u32,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            rate_limit_requests_per_s: 1_000,
            rate_limit_events_per_s: 100_000,
        }
    }
}

/// Everything `serve` needs.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "EYE_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// Database connection.
    #[command(flatten)]
    pub database: DatabaseSettings,
    /// Ingest behaviour.
    #[command(flatten)]
    pub ingest: IngestSettings,
    /// Background job.
    #[command(flatten)]
    pub processing: ProcessingSettings,
    /// Request and event limits.
    #[command(flatten)]
    pub limits: Limits,
    /// Trusted proxies and rate limits.
    #[command(flatten)]
    pub security: SecuritySettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            database: DatabaseSettings::default(),
            ingest: IngestSettings::default(),
            processing: ProcessingSettings::default(),
            limits: Limits::default(),
            security: SecuritySettings::default(),
        }
    }
}
