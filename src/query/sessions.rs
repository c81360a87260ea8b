//! Sessions: bookkeeping kept by the background job, made exact by adding the session's events
//! that the job has not processed yet — in one statement, so both parts come from one snapshot.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use super::QUEUED;
use crate::db::Sql;
use crate::entities::applications;
use crate::error::AppResult;

/// What is known of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// The session id.
    pub session_id: String,
    /// Timestamp of its earliest event.
    pub first_seen: DateTime<Utc>,
    /// Timestamp of its latest event.
    pub last_seen: DateTime<Utc>,
    /// How many events it has.
    pub event_count: i64,
}

/// The session `id`, or `None` when it has no events.
pub async fn get_session(db: &DatabaseConnection, id: &str) -> AppResult<Option<SessionSummary>> {
    let backend = db.get_database_backend();
    let mut sql = Sql::new(backend);
    sql.push(
        "SELECT MIN(f) AS first_seen, MAX(l) AS last_seen, CAST(SUM(c) AS BIGINT) AS event_count \
         FROM (SELECT first_seen AS f, last_seen AS l, event_count AS c FROM sessions WHERE ",
    )
    .session_is(id)
    .push(" UNION ALL SELECT MIN(timestamp), MAX(timestamp), COUNT(*) FROM events WHERE ")
    .session_is(id)
    .push(&format!(" AND {QUEUED}) t"));
    let Some(row) = db.query_one_raw(sql.build()).await? else {
        return Ok(None);
    };
    let count: Option<i64> = row.try_get("", "event_count")?;
    if count.unwrap_or(0) == 0 {
        return Ok(None);
    }
    Ok(Some(SessionSummary {
        session_id: id.to_string(),
        first_seen: crate::db::read_event_time(backend, &row, "first_seen")?,
        last_seen: crate::db::read_event_time(backend, &row, "last_seen")?,
        event_count: count.unwrap_or(0),
    }))
}

/// The applications that sent events to session `id`, by name.
pub async fn session_applications(
    db: &DatabaseConnection,
    id: &str,
) -> AppResult<Vec<applications::Model>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT id, name, created_at, allowed_ips, retention_days FROM applications WHERE id IN (SELECT application_id FROM session_applications WHERE ")
        .session_is(id)
        .push(" UNION SELECT application_id FROM events WHERE ")
        .session_is(id)
        .push(&format!(" AND {QUEUED}) ORDER BY name"));
    let rows = db.query_all_raw(sql.build()).await?;
    rows.iter()
        .map(|row| {
            Ok(applications::Model {
                id: row.try_get("", "id")?,
                name: row.try_get("", "name")?,
                created_at: row.try_get("", "created_at")?,
                allowed_ips: row.try_get("", "allowed_ips")?,
                retention_days: row.try_get("", "retention_days")?,
            })
        })
        .collect()
}
