//! `baseline`: what SQLite itself takes on this machine. The same generated event rows are
//! inserted into a fresh database created by the real migrations, opened as the service opens
//! its write connection (`the_eye::db::connect_writer`: WAL, `synchronous` as given, the same
//! page cache, statement journals in memory),
//! through plain prepared multi-row `INSERT`s in transactions of a given size. No HTTP, no
//! GraphQL, no validation, no duplicate detection: the ceiling the service is measured against.

use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;
use sea_orm::sqlx;
use the_eye::config::{DatabaseSettings, SqliteSync};
use the_eye::db::Checkpoints;

use crate::cost::Usage;
use crate::events::{Clock, EventGen, Mix};

/// Options of `baseline`.
#[derive(Debug, Clone, Args)]
pub struct BaselineArgs {
    /// Rows inserted per run.
    #[arg(long, default_value_t = 300_000)]
    pub rows: usize,
    /// Rows per `INSERT` statement (the writer uses 500).
    #[arg(long, default_value_t = 500)]
    pub rows_per_statement: usize,
    /// Transaction sizes to measure, one fresh database each.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
    pub txn_rows: Vec<usize>,
    /// SQLite `synchronous` (`full` is the service's default).
    #[arg(long, value_enum, default_value_t = SqliteSync::Full)]
    pub sqlite_synchronous: SqliteSync,
    /// Distinct sessions.
    #[arg(long, default_value_t = 10_000)]
    pub sessions: u64,
    /// Statements run after the migrations, to measure a variant of the schema (for example
    /// `DROP INDEX idx_events_name_time`). Separate several with `;`.
    #[arg(long)]
    pub setup_sql: Option<String>,
    /// Drop every secondary index of `events` and `event_queue` after the migrations (and
    /// after `--setup-sql`): what the rows cost the storage without any index to maintain.
    #[arg(long)]
    pub no_secondary_indexes: bool,
}

impl BaselineArgs {
    /// The raw rate an ingest run is compared with: `rows` rows in transactions of 10,000,
    /// every secondary index dropped, the service's default `synchronous`.
    pub fn without_indexes(rows: usize, sessions: u64) -> Self {
        Self {
            rows,
            rows_per_statement: 500,
            txn_rows: vec![10_000],
            sqlite_synchronous: SqliteSync::Full,
            sessions,
            setup_sql: None,
            no_secondary_indexes: true,
        }
    }
}

struct Row {
    event_id: String,
    session_id: String,
    category: String,
    name: String,
    data: String,
    timestamp: DateTime<Utc>,
}

/// Runs the baseline for each transaction size and prints rows/s.
pub async fn run(args: BaselineArgs) -> anyhow::Result<()> {
    let rows = rows(&args)?;
    println!(
        "== baseline: {} rows straight into SQLite (synchronous={:?}), {} rows per INSERT",
        rows.len(),
        args.sqlite_synchronous,
        args.rows_per_statement
    );
    for &txn_rows in &args.txn_rows {
        let rate = insert_all(&args, &rows, txn_rows.max(1)).await?;
        println!("transactions of {txn_rows:>6} rows: {rate:>9.0} rows/s");
    }
    Ok(())
}

/// Rows per second for the first transaction size of `args`, without printing.
pub async fn rate(args: &BaselineArgs) -> anyhow::Result<f64> {
    let rows = rows(args)?;
    insert_all(
        args,
        &rows,
        args.txn_rows.first().copied().unwrap_or(10_000).max(1),
    )
    .await
}

fn rows(args: &BaselineArgs) -> anyhow::Result<Vec<Row>> {
    let mix = Mix {
        sessions: args.sessions,
        invalid: 0.0,
        duplicates: 0.0,
        clock: Clock::Live { session_events: 0 },
        random_ids: false,
    };
    let mut generator = EventGen::new(mix, "raw", 42);
    (0..args.rows)
        .map(|_| {
            let event: serde_json::Value = serde_json::from_str(&generator.next_event())?;
            let text = |f: &str| event[f].as_str().unwrap_or_default().to_string();
            let timestamp = the_eye::domain::parse_timestamp(&text("timestamp"))
                .map_err(|e| anyhow::anyhow!("generated timestamp: {}", e.0))?;
            Ok(Row {
                event_id: text("id"),
                session_id: text("sessionId"),
                category: text("category"),
                name: text("name"),
                data: event["data"].to_string(),
                timestamp,
            })
        })
        .collect()
}

async fn insert_all(args: &BaselineArgs, rows: &[Row], txn_rows: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let settings = DatabaseSettings {
        database_url: format!("sqlite://{}?mode=rwc", dir.path().join("raw.db").display()),
        sqlite_synchronous: args.sqlite_synchronous,
        ..Default::default()
    };
    let db = the_eye::db::connect(&settings).await?;
    the_eye::db::migrate(&db).await?;
    if let Some(setup) = &args.setup_sql {
        use sea_orm::ConnectionTrait;
        db.execute_unprepared(setup)
            .await
            .context("running --setup-sql")?;
    }
    if args.no_secondary_indexes {
        drop_secondary_indexes(&db).await?;
    }
    // The service's write connection: the same page cache and pragmas; SQLite checkpoints on
    // commit here, as a minimal program would.
    let db = the_eye::db::connect_writer(&settings, &db, Checkpoints::OnCommit).await?;
    let app = the_eye::auth::applications::ensure_application(&db, "raw")
        .await
        .map_err(|e| anyhow::anyhow!("creating the application: {e:?}"))?;
    let pool = db.get_sqlite_connection_pool();
    let per_statement = args.rows_per_statement.max(1);
    let received_at = Utc::now();
    let usage_before = Usage::of(std::process::id());
    let started = Instant::now();
    for transaction in rows.chunks(txn_rows) {
        let mut tx = pool.begin().await?;
        for statement in transaction.chunks(per_statement) {
            // Sessions get their keys first, as the service's writer does
            // (`the_eye::db::register_sessions`); `session_keys` and its unique index stay
            // with `--no-secondary-indexes` too, as part of storing an event.
            let mut sessions: Vec<&str> = statement.iter().map(|r| r.session_id.as_str()).collect();
            sessions.sort_unstable();
            sessions.dedup();
            let list = serde_json::to_string(&sessions)?;
            sqlx::query(
                "INSERT INTO session_keys (session_id) SELECT value FROM json_each(?) WHERE true \
                 ON CONFLICT (session_id) DO NOTHING",
            )
            .bind(&list)
            .execute(&mut *tx)
            .await
            .context("registering sessions")?;
            let (keys,): (String,) = sqlx::query_as(
                "SELECT json_group_array(json_array(k.session_id, k.id)) FROM json_each(?) j \
                 CROSS JOIN session_keys k ON k.session_id = j.value",
            )
            .bind(&list)
            .fetch_one(&mut *tx)
            .await
            .context("reading session keys")?;
            let keys: std::collections::HashMap<String, i64> =
                serde_json::from_str::<Vec<(String, i64)>>(&keys)?
                    .into_iter()
                    .collect();
            let sql = insert_sql(statement.len());
            // Built from a fixed template and a row count; no input reaches the SQL text.
            let mut query = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql));
            for r in statement {
                query = query
                    .bind(r.event_id.as_str())
                    .bind(app.id)
                    .bind(r.session_id.as_str())
                    .bind(r.category.as_str())
                    .bind(r.name.as_str())
                    .bind(r.data.as_str())
                    // Event time as the service stores it on SQLite (`the_eye::db::event_time`).
                    .bind(r.timestamp.timestamp_micros())
                    .bind(received_at)
                    .bind(keys[r.session_id.as_str()]);
            }
            let seqs = query.fetch_all(&mut *tx).await.context("inserting rows")?;
            // The background job's queue, as the service's writer fills it.
            let mut enqueue = sqlx::query(sqlx::AssertSqlSafe(queue_sql(seqs.len())));
            for (seq,) in seqs {
                enqueue = enqueue.bind(seq);
            }
            enqueue.execute(&mut *tx).await.context("queueing rows")?;
        }
        tx.commit().await?;
    }
    let rate = rows.len() as f64 / started.elapsed().as_secs_f64();
    if let Some((after, before)) = Usage::of(std::process::id()).zip(usage_before) {
        // SQLite's own checkpoints run inside the commits, so they are counted.
        eprintln!(
            "  transactions of {txn_rows}: {}",
            after.since(&before).per(rows.len() as u64, "row")
        );
    }
    Ok(rate)
}

/// Drops the indexes of `events` and `event_queue` that were created by statements (the
/// primary keys stay: they are the tables' own order).
async fn drop_secondary_indexes(db: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
               AND tbl_name IN ('events', 'event_queue')";
    let names = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    for row in names {
        let name: String = row.try_get("", "name")?;
        db.execute_unprepared(&format!("DROP INDEX \"{name}\""))
            .await
            .with_context(|| format!("dropping {name}"))?;
    }
    Ok(())
}

fn insert_sql(rows: usize) -> String {
    let one = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
    format!(
        "INSERT INTO events (event_id, application_id, session_id, category, name, data, \
         timestamp, received_at, session_key) VALUES {} RETURNING seq",
        vec![one; rows].join(", ")
    )
}

fn queue_sql(rows: usize) -> String {
    format!(
        "INSERT INTO event_queue (seq) VALUES {}",
        vec!["(?)"; rows].join(", ")
    )
}
