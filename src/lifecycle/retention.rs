//! Retention: events older than their application's retention, and rejected events older than
//! theirs, are deleted in bounded batches.
//!
//! The cutoff of an event is its `timestamp`, not its time of receipt: every query, count and
//! hourly aggregate is keyed on `timestamp`, so deleting by it removes whole hours of
//! `type_counts_hourly` and leaves no count answering for a period whose events are gone.
//! It is rounded down to the hour ([`retention_cutoff`]): an event is kept at least its
//! retention and at most an hour more. Rejected events have no trustworthy timestamp (an
//! invalid one is a reason to reject them), so theirs is the time they were received.
//!
//! Each batch is one transaction of at most `batch_size` events, taken oldest first with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL so that instances running retention at once take
//! disjoint batches; ingest and the job never wait for more than one batch. Between two
//! batches retention pauses for a share of the time the last one took
//! ([`RetentionPolicy::pause_percent`]), so that deleting a day of a large database does not
//! hold SQLite's one writer back to back for minutes.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

use super::delete::{
    DeletedRows, begin_write, delete_events, read_events, retention_cutoff, select_events_to_delete,
};
use crate::db::{SQLITE_EVENT_HOUR, Sql, sqlite_event_hour};
use crate::error::{AppError, AppResult};

/// The longest retention that can be set (a century); longer is "forever", i.e. none.
pub const MAX_RETENTION_DAYS: u32 = 36_500;

/// A number of days to keep data: 1 to [`MAX_RETENTION_DAYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionDays(u32);

impl RetentionDays {
    /// Parses a number of days.
    pub fn parse(days: i64) -> AppResult<Self> {
        match u32::try_from(days) {
            Ok(d) if (1..=MAX_RETENTION_DAYS).contains(&d) => Ok(Self(d)),
            _ => Err(AppError::BadInput(format!(
                "a retention is 1 to {MAX_RETENTION_DAYS} days; {days} is not"
            ))),
        }
    }

    /// The number of days.
    pub fn days(self) -> u32 {
        self.0
    }
}

/// What retention keeps, from the server's settings.
#[derive(Debug, Clone, Copy)]
pub struct RetentionPolicy {
    /// Days events are kept unless their application says otherwise; `None`: forever.
    pub default_days: Option<u32>,
    /// Days rejected events are kept (by time received); `None`: forever.
    pub error_days: Option<u32>,
    /// Rows deleted per transaction.
    pub batch_size: u64,
    /// Pause after each batch, as a percentage of the time the batch took.
    pub pause_percent: u32,
}

impl RetentionPolicy {
    /// Waits after a batch that took `took`, as the policy says.
    async fn pause_after(&self, took: std::time::Duration) {
        if self.pause_percent > 0 {
            tokio::time::sleep(took * self.pause_percent / 100).await;
        }
    }
}

/// What a retention run deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Rows deleted, by table.
    pub deleted: DeletedRows,
    /// Transactions committed.
    pub batches: u64,
}

/// Sets (or, with `None`, clears) an application's own retention. Returns whether it exists.
pub async fn set_application_retention(
    db: &impl ConnectionTrait,
    application_id: i32,
    days: Option<RetentionDays>,
) -> AppResult<bool> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("UPDATE applications SET retention_days = ")
        .bind(days.map(|d| d.0 as i32))
        .push(" WHERE id = ")
        .bind(application_id);
    Ok(db.execute_raw(sql.build()).await?.rows_affected() == 1)
}

/// Deletes everything past its retention at `now`, batch by batch, until nothing is left.
pub async fn apply_retention(
    db: &DatabaseConnection,
    policy: RetentionPolicy,
    now: DateTime<Utc>,
) -> AppResult<RetentionReport> {
    let batch = policy.batch_size.max(1);
    let mut report = RetentionReport::default();
    for (application_id, days) in retentions(db, policy.default_days).await? {
        let cutoff = retention_cutoff(now, days);
        loop {
            let started = std::time::Instant::now();
            let (deleted, taken) = old_events_step(db, application_id, cutoff, batch).await?;
            report.deleted += deleted;
            report.batches += u64::from(taken > 0);
            if taken < batch {
                break;
            }
            policy.pause_after(started.elapsed()).await;
        }
    }
    if let Some(days) = policy.error_days {
        let cutoff = now - TimeDelta::days(i64::from(days));
        loop {
            let started = std::time::Instant::now();
            let deleted = old_errors_step(db, cutoff, batch).await?;
            report.deleted.event_errors += deleted;
            report.batches += u64::from(deleted > 0);
            if deleted < batch {
                break;
            }
            policy.pause_after(started.elapsed()).await;
        }
    }
    Ok(report)
}

/// Each application with a retention, and its days.
async fn retentions(
    db: &DatabaseConnection,
    default_days: Option<u32>,
) -> Result<Vec<(i32, u32)>, DbErr> {
    let sql = Sql::new(db.get_database_backend());
    let mut sql = sql;
    sql.push("SELECT id, retention_days FROM applications ORDER BY id");
    let rows = db.query_all_raw(sql.build()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let own: Option<i32> = row.try_get("", "retention_days")?;
        let days = own.map(|d| d.max(1) as u32).or(default_days);
        if let Some(days) = days {
            out.push((row.try_get("", "id")?, days));
        }
    }
    Ok(out)
}

/// One transaction: up to `batch` of the application's events older than `cutoff`. Returns what
/// was deleted and how many events were taken.
async fn old_events_step(
    db: &DatabaseConnection,
    application_id: i32,
    cutoff: DateTime<Utc>,
    batch: u64,
) -> Result<(DeletedRows, u64), DbErr> {
    let txn = begin_write(db).await?;
    let statement = old_events_statement(db.get_database_backend(), application_id, cutoff, batch);
    let events = read_events(&txn, statement).await?;
    let deleted = delete_events(&txn, &events).await?;
    txn.commit().await?;
    Ok((deleted, events.len() as u64))
}

/// The statement that takes up to `batch` of the application's events older than `cutoff`,
/// oldest first (public for the plan tests).
pub fn old_events_statement(
    backend: DbBackend,
    application_id: i32,
    cutoff: DateTime<Utc>,
    batch: u64,
) -> Statement {
    let mut sql = select_events_to_delete(backend);
    sql.push("application_id = ").bind(application_id);
    let order = if backend == DbBackend::Sqlite {
        // SQLite's index holds an application's events by hour, then in arrival order (see
        // `SQLITE_EVENT_HOUR`), and the oldest hours go first. An event before the cutoff is at
        // or before its last microsecond, so in that instant's hour or an earlier one: with
        // the cutoff on the hour, the range ends with the hour before it, read to the end.
        let last = cutoff - TimeDelta::microseconds(1);
        sql.push(&format!(" AND {SQLITE_EVENT_HOUR} <= "))
            .bind(sqlite_event_hour(last));
        format!("{SQLITE_EVENT_HOUR}, seq")
    } else {
        "timestamp, seq".to_owned()
    };
    sql.push(" AND timestamp < ")
        .bind_time(cutoff)
        .push(&format!(" ORDER BY {order} LIMIT "))
        .bind(batch as i64);
    lock_skipping(&mut sql);
    sql.build()
}

/// One transaction: up to `batch` rejected events received before `cutoff`.
async fn old_errors_step(
    db: &DatabaseConnection,
    cutoff: DateTime<Utc>,
    batch: u64,
) -> Result<u64, DbErr> {
    let txn = begin_write(db).await?;
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT id FROM event_errors WHERE received_at < ")
        .bind(cutoff)
        .push(" ORDER BY received_at, id LIMIT ")
        .bind(batch as i64);
    lock_skipping(&mut sql);
    let ids = super::erasure::ids_of(&txn, sql.build()).await?;
    let deleted = super::erasure::delete_errors(&txn, &ids).await?;
    txn.commit().await?;
    Ok(deleted)
}

/// Makes a `SELECT` lock its rows, skipping rows another deleter holds (PostgreSQL).
fn lock_skipping(sql: &mut Sql) {
    if sql.backend() == DbBackend::Postgres {
        sql.push(" FOR UPDATE SKIP LOCKED");
    }
}
