//! Typed settings. Defaults live here in code, and every setting can be overridden by an
//! environment variable and by a command-line flag (clap's `env`), in that order of precedence.
//! Units are part of the names (`_ms`, `_bytes`, `_chars`).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

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
    #[arg(long, env = "EYE_DB_MAX_CONNECTIONS", default_value_t = DEFAULT_DB_MAX_CONNECTIONS)]
    pub db_max_connections: u32,
    /// Connections kept open even when idle.
    #[arg(long, env = "EYE_DB_MIN_CONNECTIONS", default_value_t = DEFAULT_DB_MIN_CONNECTIONS)]
    pub db_min_connections: u32,
    /// How long to wait for a pooled connection (or, on SQLite, for the write lock) before
    /// answering `UNAVAILABLE`.
    #[arg(long, env = "EYE_DB_TIMEOUT_MS", default_value_t = DEFAULT_DB_TIMEOUT_MS)]
    pub db_timeout_ms: u64,
    /// How long opening a new connection may take.
    #[arg(long, env = "EYE_DB_CONNECT_TIMEOUT_MS", default_value_t = DEFAULT_DB_CONNECT_TIMEOUT_MS)]
    pub db_connect_timeout_ms: u64,
    /// PostgreSQL only: the server cancels any statement running longer than this (0: never).
    #[arg(long, env = "EYE_DB_STATEMENT_TIMEOUT_MS", default_value_t = DEFAULT_DB_STATEMENT_TIMEOUT_MS)]
    pub db_statement_timeout_ms: u64,
    /// SQLite only: `full` fsyncs the WAL on every commit, so an acknowledged batch survives a
    /// power loss; `normal` survives a crash of the process but may lose the last commits on
    /// power loss.
    #[arg(long, env = "EYE_SQLITE_SYNCHRONOUS", value_enum, default_value_t = DEFAULT_SQLITE_SYNCHRONOUS)]
    pub sqlite_synchronous: SqliteSync,
    /// SQLite only: milliseconds between two background checkpoints, which copy the
    /// write-ahead log back into the database file. Shorter: each checkpoint's burst of writes
    /// and its sync are smaller, so commits wait less behind them (ack p99 on 10M events at
    /// 1,000 events/s: 20 ms at 50, 52-67 ms at 250, 93 ms at 1000). Longer: a page that many
    /// commits change is copied once for all of them (fewer bytes written), with a longer log.
    #[arg(long, env = "EYE_SQLITE_CHECKPOINT_INTERVAL_MS", default_value_t = DEFAULT_SQLITE_CHECKPOINT_INTERVAL_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub sqlite_checkpoint_interval_ms: u64,
    /// SQLite only: MiB of the database file that each reading connection maps into memory
    /// (`PRAGMA mmap_size`; 0: none). SQLite drops a connection's page cache whenever another
    /// connection has committed, so while events arrive every query reads its pages again;
    /// mapped pages are read in place instead of copied through a system call each.
    #[arg(long, env = "EYE_SQLITE_MMAP_MIB", default_value_t = DEFAULT_SQLITE_MMAP_MIB)]
    pub sqlite_mmap_mib: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.into(),
            db_max_connections: DEFAULT_DB_MAX_CONNECTIONS,
            db_min_connections: DEFAULT_DB_MIN_CONNECTIONS,
            db_timeout_ms: DEFAULT_DB_TIMEOUT_MS,
            db_connect_timeout_ms: DEFAULT_DB_CONNECT_TIMEOUT_MS,
            db_statement_timeout_ms: DEFAULT_DB_STATEMENT_TIMEOUT_MS,
            sqlite_synchronous: DEFAULT_SQLITE_SYNCHRONOUS,
            sqlite_checkpoint_interval_ms: DEFAULT_SQLITE_CHECKPOINT_INTERVAL_MS,
            sqlite_mmap_mib: DEFAULT_SQLITE_MMAP_MIB,
        }
    }
}

/// Default of `EYE_DB_MAX_CONNECTIONS`.
pub const DEFAULT_DB_MAX_CONNECTIONS: u32 = 8;
/// Default of `EYE_DB_MIN_CONNECTIONS`.
pub const DEFAULT_DB_MIN_CONNECTIONS: u32 = 1;
/// Default of `EYE_DB_TIMEOUT_MS`.
pub const DEFAULT_DB_TIMEOUT_MS: u64 = 5_000;
/// Default of `EYE_DB_CONNECT_TIMEOUT_MS`.
pub const DEFAULT_DB_CONNECT_TIMEOUT_MS: u64 = 3_000;
/// Default of `EYE_DB_STATEMENT_TIMEOUT_MS`.
pub const DEFAULT_DB_STATEMENT_TIMEOUT_MS: u64 = 30_000;
/// Default of `EYE_SQLITE_SYNCHRONOUS`: an acknowledged batch survives a power loss.
pub const DEFAULT_SQLITE_SYNCHRONOUS: SqliteSync = SqliteSync::Full;
/// Default of `EYE_SQLITE_CHECKPOINT_INTERVAL_MS`.
pub const DEFAULT_SQLITE_CHECKPOINT_INTERVAL_MS: u64 = 50;

/// Default of `EYE_SQLITE_MMAP_MIB`.
pub const DEFAULT_SQLITE_MMAP_MIB: u64 = 0;

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
    #[arg(long, env = "EYE_MAX_BODY_BYTES", default_value_t = Limits::DEFAULT.max_body_bytes)]
    pub max_body_bytes: usize,
    /// Most events in one `recordEvents` call; a bigger batch is refused whole.
    #[arg(long, env = "EYE_MAX_EVENTS_PER_BATCH", default_value_t = Limits::DEFAULT.max_events_per_batch)]
    pub max_events_per_batch: usize,
    /// Largest `data` of one event, as compact JSON; a bigger event is rejected alone.
    #[arg(long, env = "EYE_MAX_DATA_BYTES", default_value_t = Limits::DEFAULT.max_data_bytes)]
    pub max_data_bytes: usize,
    /// Deepest nesting of objects and arrays in `data`.
    #[arg(long, env = "EYE_MAX_DATA_DEPTH", default_value_t = Limits::DEFAULT.max_data_depth)]
    pub max_data_depth: usize,
    /// Longest `sessionId`, in characters (the column holds at most 128).
    #[arg(long, env = "EYE_MAX_SESSION_ID_CHARS", default_value_t = Limits::DEFAULT.max_session_id_chars, value_parser = column_chars)]
    pub max_session_id_chars: usize,
    /// Longest `category`, in characters (the column holds at most 128).
    #[arg(long, env = "EYE_MAX_CATEGORY_CHARS", default_value_t = Limits::DEFAULT.max_category_chars, value_parser = column_chars)]
    pub max_category_chars: usize,
    /// Longest event `name`, in characters (the column holds at most 128).
    #[arg(long, env = "EYE_MAX_NAME_CHARS", default_value_t = Limits::DEFAULT.max_name_chars, value_parser = column_chars)]
    pub max_name_chars: usize,
    /// Longest client event `id`, in characters (the column holds at most 128).
    #[arg(long, env = "EYE_MAX_EVENT_ID_CHARS", default_value_t = Limits::DEFAULT.max_event_id_chars, value_parser = column_chars)]
    pub max_event_id_chars: usize,
    /// Page size used when `first` is not given.
    #[arg(long, env = "EYE_DEFAULT_PAGE_SIZE", default_value_t = Limits::DEFAULT.default_page_size)]
    pub default_page_size: u64,
    /// Largest `first` accepted by paginated queries.
    #[arg(long, env = "EYE_MAX_PAGE_SIZE", default_value_t = Limits::DEFAULT.max_page_size)]
    pub max_page_size: u64,
    /// Deepest GraphQL query accepted.
    #[arg(long, env = "EYE_MAX_QUERY_DEPTH", default_value_t = Limits::DEFAULT.max_query_depth)]
    pub max_query_depth: usize,
    /// Highest GraphQL query complexity accepted: every field counts 1, and a paginated field
    /// counts its page size times what each item selects.
    #[arg(long, env = "EYE_MAX_QUERY_COMPLEXITY", default_value_t = Limits::DEFAULT.max_query_complexity)]
    pub max_query_complexity: usize,
    /// Deepest nesting of `{`, `[` and `(` in a query's text, checked before parsing (it
    /// protects the parser's stack; the selection depth is `max_query_depth`).
    #[arg(long, env = "EYE_MAX_QUERY_NESTING", default_value_t = Limits::DEFAULT.max_query_nesting)]
    pub max_query_nesting: usize,
    /// Most operations in one batched GraphQL request (a JSON array of requests); a bigger
    /// batch is refused whole, nothing executed.
    #[arg(long, env = "EYE_MAX_BATCH_OPERATIONS", default_value_t = Limits::DEFAULT.max_batch_operations)]
    pub max_batch_operations: usize,
    /// Most buckets in one `eventSeries` answer (1,440 is a day of minutes).
    #[arg(long, env = "EYE_MAX_SERIES_BUCKETS", default_value_t = Limits::DEFAULT.max_series_buckets)]
    pub max_series_buckets: usize,
    /// Most groups an `eventSeries` split shows apart from "other".
    #[arg(long, env = "EYE_MAX_SERIES_GROUPS", default_value_t = Limits::DEFAULT.max_series_groups)]
    pub max_series_groups: usize,
    /// Items a live subscriber may fall behind before it is closed with `LAGGED`.
    #[arg(long, env = "EYE_SUBSCRIPTION_BUFFER", default_value_t = Limits::DEFAULT.subscription_buffer)]
    pub subscription_buffer: usize,
    /// Most open subscriptions on one instance.
    #[arg(long, env = "EYE_MAX_SUBSCRIPTIONS", default_value_t = Limits::DEFAULT.max_subscriptions)]
    pub max_subscriptions: usize,
    /// Most open subscriptions of one API key on one instance.
    #[arg(long, env = "EYE_MAX_SUBSCRIPTIONS_PER_KEY", default_value_t = Limits::DEFAULT.max_subscriptions_per_key)]
    pub max_subscriptions_per_key: usize,
    /// Most open subscriptions on one websocket connection.
    #[arg(
        long,
        env = "EYE_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = Limits::DEFAULT.max_subscriptions_per_connection
    )]
    pub max_subscriptions_per_connection: usize,
}

/// Default of `EYE_MAX_PAGE_SIZE`.
const DEFAULT_MAX_PAGE_SIZE: u64 = 1_000;

/// What each item of a page may select under the default `EYE_MAX_QUERY_COMPLEXITY`, which is a
/// page of the default `EYE_MAX_PAGE_SIZE` times this: a full page with a rich selection passes,
/// nested pages of pages do not.
pub const COMPLEXITY_PER_ITEM: usize = 50;

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

impl Limits {
    /// The defaults, each written once: the flags' defaults (`--help`) and `Limits::default()`.
    pub const DEFAULT: Self = Self {
        max_body_bytes: 1024 * 1024,
        max_events_per_batch: 1_000,
        max_data_bytes: 32 * 1024,
        max_data_depth: 32,
        max_session_id_chars: MAX_COLUMN_CHARS,
        max_category_chars: MAX_COLUMN_CHARS,
        max_name_chars: MAX_COLUMN_CHARS,
        max_event_id_chars: MAX_COLUMN_CHARS,
        default_page_size: 100,
        max_page_size: DEFAULT_MAX_PAGE_SIZE,
        max_query_depth: 12,
        max_query_complexity: DEFAULT_MAX_PAGE_SIZE as usize * COMPLEXITY_PER_ITEM,
        max_query_nesting: 64,
        max_batch_operations: 10,
        max_series_buckets: 1_500,
        max_series_groups: 20,
        subscription_buffer: 16_384,
        max_subscriptions: 1_000,
        max_subscriptions_per_key: 20,
        max_subscriptions_per_connection: 10,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How events are validated and written.
#[derive(Debug, Clone, Args)]
pub struct IngestSettings {
    /// Accept or reject events of a type without a registered schema.
    #[arg(long, env = "EYE_UNKNOWN_EVENT_TYPES", value_enum, default_value_t = IngestSettings::DEFAULT.unknown_event_types)]
    pub unknown_event_types: UnknownEventTypes,
    /// How far past the time of receipt an event's timestamp may lie before it is rejected as
    /// `TIMESTAMP_IN_FUTURE` (clients' clocks drift).
    #[arg(long, env = "EYE_MAX_FUTURE_SKEW_MS", default_value_t = IngestSettings::DEFAULT.max_future_skew_ms)]
    pub max_future_skew_ms: u64,
    /// Most events written in one group commit.
    #[arg(long, env = "EYE_MAX_COMMIT_EVENTS", default_value_t = IngestSettings::DEFAULT.max_commit_events)]
    pub max_commit_events: usize,
    /// Batches that may wait for the writer; beyond that, requests wait for room.
    #[arg(long, env = "EYE_WRITE_QUEUE_CAPACITY", default_value_t = IngestSettings::DEFAULT.write_queue_capacity)]
    pub write_queue_capacity: usize,
    /// Group commits in flight at once on PostgreSQL, each on its own pooled connection, so that
    /// one commit's fsync overlaps the next one's work. SQLite always uses one (it has a single
    /// writer). Keep it below `EYE_DB_MAX_CONNECTIONS`, which queries share.
    #[arg(long, env = "EYE_POSTGRES_WRITERS", default_value_t = IngestSettings::DEFAULT.postgres_writers)]
    pub postgres_writers: usize,
    /// How long a request waits for its batch to be committed before answering `UNAVAILABLE`
    /// (the batch may still commit; retrying it is safe because ids are idempotency keys).
    #[arg(long, env = "EYE_WRITE_TIMEOUT_MS", default_value_t = IngestSettings::DEFAULT.write_timeout_ms)]
    pub write_timeout_ms: u64,
    /// How often each instance reloads the event-type registry, to see other instances' changes.
    #[arg(long, env = "EYE_REGISTRY_REFRESH_MS", default_value_t = IngestSettings::DEFAULT.registry_refresh_ms)]
    pub registry_refresh_ms: u64,
}

impl IngestSettings {
    /// The defaults, each written once: the flags' defaults (`--help`) and `IngestSettings::default()`.
    pub const DEFAULT: Self = Self {
        unknown_event_types: UnknownEventTypes::Accept,
        max_future_skew_ms: 5 * 60 * 1_000,
        max_commit_events: 10_000,
        write_queue_capacity: 1_024,
        postgres_writers: 4,
        write_timeout_ms: 10_000,
        registry_refresh_ms: 5_000,
    };
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How the background job runs.
#[derive(Debug, Clone, Args)]
pub struct ProcessingSettings {
    /// Time between two runs of the background job (it also runs on demand).
    /// Short, so that each step is small: a step holds SQLite's one writer while it runs, and a
    /// step of a tenth of a second's events delays concurrent ingest commits far less than a
    /// step of a whole second's.
    #[arg(long, env = "EYE_PROCESS_INTERVAL_MS", default_value_t = ProcessingSettings::DEFAULT.process_interval_ms)]
    pub process_interval_ms: u64,
    /// Events claimed and aggregated in one transaction.
    #[arg(long, env = "EYE_PROCESS_BATCH_SIZE", default_value_t = ProcessingSettings::DEFAULT.process_batch_size)]
    pub process_batch_size: u64,
    /// PostgreSQL only: job loops this instance runs side by side, each claiming its own steps
    /// (claims skip rows another step holds, as between instances). Ingest commits
    /// concurrently there, and a single loop's one transaction at a time falls seconds behind a
    /// saturated instance. SQLite has one writer and always runs one loop.
    #[arg(long, env = "EYE_PROCESS_WORKERS", default_value_t = ProcessingSettings::DEFAULT.process_workers, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub process_workers: u32,
    /// SQLite only: time between two merges of new events into the time-keyed indexes, which
    /// the job writes for many commits at once rather than each commit (see README, *Background
    /// processing*). Longer: each hot index page is written once for more commits (fewer
    /// bytes), but the merge holds the one writer longer and reads of a time range, category or
    /// name read more unmerged events one by one.
    #[arg(long, env = "EYE_SQLITE_INDEX_INTERVAL_MS", default_value_t = ProcessingSettings::DEFAULT.sqlite_index_interval_ms)]
    pub sqlite_index_interval_ms: u64,
    /// SQLite only: time between two rankings of the sessions the job updated, which move them
    /// to their new place in the index of sessions by count for all the steps since, rather
    /// than at each step (see README, *Background processing*). Longer: each session's entry
    /// moves once for more steps (fewer bytes), and `eventCounts(groupBy: SESSION)` counts more
    /// unranked sessions apart.
    #[arg(long, env = "EYE_SQLITE_RANK_INTERVAL_MS", default_value_t = ProcessingSettings::DEFAULT.sqlite_rank_interval_ms, value_parser = clap::value_parser!(u64).range(1..))]
    pub sqlite_rank_interval_ms: u64,
    /// SQLite only: events whose index entries one merge transaction writes at most.
    #[arg(long, env = "EYE_SQLITE_INDEX_BATCH_SIZE", default_value_t = ProcessingSettings::DEFAULT.sqlite_index_batch_size)]
    pub sqlite_index_batch_size: u64,
    /// Days events are kept (by their timestamp, in whole hours), unless their application has
    /// its own retention; unset: forever.
    #[arg(long, env = "EYE_RETENTION_DAYS", value_parser = retention_days)]
    pub retention_days: Option<u32>,
    /// Days rejected events are kept (by time received); unset: forever.
    #[arg(long, env = "EYE_ERROR_RETENTION_DAYS", value_parser = retention_days)]
    pub error_retention_days: Option<u32>,
    /// Time between two retention runs of the background job.
    #[arg(long, env = "EYE_RETENTION_INTERVAL_MS", default_value_t = ProcessingSettings::DEFAULT.retention_interval_ms)]
    pub retention_interval_ms: u64,
    /// Events (or rejected events) deleted per transaction by retention and erasure: small, so
    /// that a deletion holds SQLite's one writer no longer than a job step.
    #[arg(long, env = "EYE_DELETE_BATCH_SIZE", default_value_t = ProcessingSettings::DEFAULT.delete_batch_size)]
    pub delete_batch_size: u64,
    /// After each retention batch, wait this percentage of the time the batch took before the
    /// next, so that a large deletion leaves SQLite's one writer to ingest most of the time
    /// (300: deletion holds the writer at most a quarter of the time; 0: no pause).
    #[arg(long, env = "EYE_DELETE_PAUSE_PERCENT", default_value_t = ProcessingSettings::DEFAULT.delete_pause_percent)]
    pub delete_pause_percent: u32,
}

impl ProcessingSettings {
    /// The retention the background job applies.
    pub fn retention(&self) -> crate::lifecycle::RetentionPolicy {
        crate::lifecycle::RetentionPolicy {
            default_days: self.retention_days,
            error_days: self.error_retention_days,
            batch_size: self.delete_batch_size,
            pause_percent: self.delete_pause_percent,
        }
    }
}

/// A retention of 1 to [`crate::lifecycle::retention::MAX_RETENTION_DAYS`] days.
fn retention_days(raw: &str) -> Result<u32, String> {
    let days: i64 = raw.parse().map_err(|e| format!("{e}"))?;
    crate::lifecycle::RetentionDays::parse(days)
        .map(|d| d.days())
        .map_err(|_| {
            format!(
                "a retention is 1 to {} days",
                crate::lifecycle::retention::MAX_RETENTION_DAYS
            )
        })
}

impl ProcessingSettings {
    /// The defaults, each written once: the flags' defaults (`--help`) and `ProcessingSettings::default()`.
    pub const DEFAULT: Self = Self {
        process_interval_ms: 100,
        process_batch_size: 5_000,
        process_workers: 2,
        sqlite_index_interval_ms: 500,
        sqlite_index_batch_size: 50_000,
        sqlite_rank_interval_ms: 5_000,
        retention_days: None,
        error_retention_days: None,
        retention_interval_ms: 60_000,
        delete_batch_size: 200,
        delete_pause_percent: 300,
    };
}

impl Default for ProcessingSettings {
    fn default() -> Self {
        Self::DEFAULT
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
    #[arg(long, env = "EYE_RATE_LIMIT_REQUESTS_PER_S", default_value_t = SecuritySettings::DEFAULT.rate_limit_requests_per_s)]
    pub rate_limit_requests_per_s: u32,
    /// Events per second one key may send to this instance (bursts up to as many); 0 disables.
    #[arg(long, env = "EYE_RATE_LIMIT_EVENTS_PER_S", default_value_t = SecuritySettings::DEFAULT.rate_limit_events_per_s)]
    pub rate_limit_events_per_s: u32,
}

impl SecuritySettings {
    /// The defaults, each written once: the flags' defaults (`--help`) and `SecuritySettings::default()`.
    pub const DEFAULT: Self = Self {
        trusted_proxies: Vec::new(),
        rate_limit_requests_per_s: 1_000,
        rate_limit_events_per_s: 100_000,
    };
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Default of `EYE_HEADER_READ_TIMEOUT_MS`.
pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// Default of `EYE_BODY_READ_TIMEOUT_MS`: a full `EYE_MAX_BODY_BYTES` (1 MiB) body still
/// arrives in time at about 52 KiB/s, a slow mobile uplink.
pub const DEFAULT_BODY_READ_TIMEOUT_MS: u64 = 20_000;
/// Default of `EYE_REQUEST_TIMEOUT_MS`: longer than the body's deadline plus
/// `EYE_WRITE_TIMEOUT_MS`, so that those answer first with their own messages.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 60_000;
/// Default of `EYE_MAX_CONNECTIONS`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1_024;

/// Deadlines on each phase of a client connection, and how many may be open at once, so that
/// slow or idle clients are shed instead of holding a file descriptor each forever.
#[derive(Debug, Clone, Args)]
pub struct ConnectionSettings {
    /// Deadline for a request's head (request line and headers), counted from the moment the
    /// connection can send one: when it is accepted, or when the previous answer was written.
    /// It is therefore also the idle keep-alive timeout. Past it the connection is closed.
    #[arg(long, env = "EYE_HEADER_READ_TIMEOUT_MS", default_value_t = DEFAULT_HEADER_READ_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_ms: u64,
    /// Deadline for reading a request's whole body once its head has arrived; past it the
    /// request is answered 408 `LIMIT_EXCEEDED`, nothing is stored, and the connection closes.
    #[arg(long, env = "EYE_BODY_READ_TIMEOUT_MS", default_value_t = DEFAULT_BODY_READ_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_read_timeout_ms: u64,
    /// Deadline for a whole request, from its head to its answer (body, execution, commit);
    /// past it the request is answered 503 `UNAVAILABLE`.
    #[arg(long, env = "EYE_REQUEST_TIMEOUT_MS", default_value_t = DEFAULT_REQUEST_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: u64,
    /// Most client connections open at once; a connection over it is answered 503 and closed
    /// at once. Keep it, plus the database's descriptors, below the open-file limit.
    #[arg(long, env = "EYE_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections: usize,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: DEFAULT_HEADER_READ_TIMEOUT_MS,
            body_read_timeout_ms: DEFAULT_BODY_READ_TIMEOUT_MS,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Default of `EYE_LISTEN`: this machine only.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 8000));

/// Everything `serve` needs.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "EYE_LISTEN", default_value_t = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Address of the Prometheus metrics listener (`GET /metrics`), separate from the API's so
    /// that it is never exposed with it. Unset: no metrics are collected or served.
    #[arg(long, env = "EYE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
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
    /// Connection deadlines and the connection cap.
    #[command(flatten)]
    pub connections: ConnectionSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            metrics_listen: None,
            database: DatabaseSettings::default(),
            ingest: IngestSettings::default(),
            processing: ProcessingSettings::default(),
            limits: Limits::default(),
            security: SecuritySettings::default(),
            connections: ConnectionSettings::default(),
        }
    }
}
