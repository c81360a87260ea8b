//! Events whose entries in the time-keyed indexes are not written yet (SQLite).
//!
//! On SQLite, `idx_events_time_covering`, `idx_events_category_time` and `idx_events_name_time`
//! are partial, `WHERE NOT pending` (migration `m20261203_000002`): the writer stores each event
//! with `pending = 1`, and the background job writes their entries for many commits at once
//! ([`index_pending`]). A commit's events carry client timestamps spread over the last seconds,
//! so a commit that wrote these entries itself rewrote most of the pages holding those seconds;
//! the job writes each such page once for all the commits since its last merge.
//!
//! A statement that reads events through one of those indexes therefore reads two parts
//! ([`event_parts`]): the rows whose entries are written, through the index, and the pending
//! rows, the newest ones (the merge takes them in `seq` order), read by `seq` from the first
//! pending one. PostgreSQL writes every index at once: its one part is the whole table.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// Conditions on `events` that split it into parts holding every event exactly once, each
/// part read through its own indexes: `SELECT … FROM events WHERE {part} AND …`, once per part.
pub fn event_parts(backend: DbBackend) -> &'static [&'static str] {
    match backend {
        // `NOT pending` literally, as the partial indexes say it: SQLite uses a partial index
        // only for a statement whose `WHERE` names its condition.
        DbBackend::Sqlite => &[
            "NOT pending",
            "pending AND seq >= (SELECT MIN(seq) FROM events WHERE pending)",
        ],
        _ => &["1 = 1"],
    }
}

impl super::Sql {
    /// Appends `each(self, part)` once per part of `events` ([`event_parts`]), the parts joined
    /// by `separator` (` UNION ALL `, say).
    pub fn each_event_part(&mut self, separator: &str, mut each: impl FnMut(&mut Self, &str)) {
        for (i, part) in event_parts(self.backend()).iter().enumerate() {
            if i > 0 {
                self.push(separator);
            }
            each(self, part);
        }
    }
}

/// Writes the index entries of up to `limit` pending events, oldest first, in the caller's
/// transaction; returns how many. Nothing to do on PostgreSQL.
pub async fn index_pending(txn: &impl ConnectionTrait, limit: u64) -> Result<u64, DbErr> {
    if txn.get_database_backend() != DbBackend::Sqlite {
        return Ok(0);
    }
    // A literal limit: a bound one makes SQLite compile the statement again on every run.
    let update = Statement::from_string(
        DbBackend::Sqlite,
        format!(
            "UPDATE events SET pending = 0 WHERE seq IN \
             (SELECT seq FROM events WHERE pending ORDER BY seq LIMIT {limit})"
        ),
    );
    Ok(txn.execute_raw(update).await?.rows_affected())
}
