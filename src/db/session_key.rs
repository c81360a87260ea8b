//! How `events`' indexes find a session.
//!
//! On SQLite each session id is stored once, in `session_keys (id, session_id)`, and an event's
//! `session_key` names it there: `idx_events_session_time` and `idx_events_time_covering` carry
//! that one- to three-byte integer instead of the id, typically 36 bytes (see migration
//! `m20261201_000002`). Events keep their `session_id` column, so reads need no join; every
//! condition on an event's session, and every insert of an event, goes through this module.
//! PostgreSQL indexes the id itself.

use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, DbErr, Statement};

/// The key of the session whose id is the one bound parameter, or `NULL` when it has none.
const KEY_OF_SESSION: &str = "(SELECT id FROM session_keys WHERE session_id = ?)";

/// Session ids and their keys, as [`register_sessions`] returns them.
pub type SessionKeys = std::collections::HashMap<String, i64>;

/// Gives every session in `ids` that has no key yet its key, and returns the key of each
/// (SQLite; an empty map on PostgreSQL). Called inside the transaction that inserts their
/// events: a key is never handed out twice (`uq_session_keys_session_id`), new keys are
/// appended, and the events are then inserted with their keys bound as integers (a lookup
/// per row inside the `INSERT` opened a cursor for every event: 20 % of the writer's CPU).
pub async fn register_sessions<'a>(
    txn: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<SessionKeys, DbErr> {
    if txn.get_database_backend() != DbBackend::Sqlite {
        return Ok(SessionKeys::new());
    }
    let mut ids: Vec<&str> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(SessionKeys::new());
    }
    let list = serde_json::to_string(&ids)
        .map_err(|e| DbErr::Custom(format!("encoding session ids: {e}")))?;
    // `WHERE true` tells SQLite's parser that `ON CONFLICT` belongs to the `INSERT`.
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "INSERT INTO session_keys (session_id) SELECT value FROM json_each(?) WHERE true \
         ON CONFLICT (session_id) DO NOTHING",
        [list.clone().into()],
    ))
    .await?;
    // One row holding every `[id, key]` pair.
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT json_group_array(json_array(k.session_id, k.id)) AS keys FROM json_each(?) j \
             CROSS JOIN session_keys k ON k.session_id = j.value",
            [list.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("reading session keys: no row".into()))?;
    let keys: String = row.try_get("", "keys")?;
    let keys: SessionKeys = serde_json::from_str::<Vec<(String, i64)>>(&keys)
        .map_err(|e| DbErr::Custom(format!("reading session keys: {e}")))?
        .into_iter()
        .collect();
    if let Some(missing) = ids.iter().find(|id| !keys.contains_key(**id)) {
        return Err(DbErr::Custom(format!(
            "reading session keys: none for session {missing:?}"
        )));
    }
    Ok(keys)
}

/// The condition "the event belongs to session `session`" on `backend`, for statements built
/// with sea-query.
pub fn session_condition(backend: DbBackend, session: &str) -> SimpleExpr {
    match backend {
        DbBackend::Sqlite => Expr::cust_with_values(
            format!("\"session_key\" = {KEY_OF_SESSION}"),
            [session.to_owned()],
        ),
        _ => crate::entities::events::Column::SessionId.eq(session),
    }
}

impl super::Sql {
    /// Appends the condition "the row (of `events` or of a per-session aggregate, unqualified)
    /// belongs to `session`".
    pub fn session_is(&mut self, session: &str) -> &mut Self {
        match self.backend() {
            DbBackend::Sqlite => self
                .push("session_key = (SELECT id FROM session_keys WHERE session_id = ")
                .bind(session)
                .push(")"),
            _ => self.push("session_id = ").bind(session),
        }
    }
}

/// The column by which events and the per-session aggregates name their session on
/// `backend`: the integer key on SQLite, the id on PostgreSQL.
pub fn session_column(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Sqlite => "session_key",
        _ => "session_id",
    }
}

/// The condition "row `e` belongs to the same session as row `row`", two tables that both
/// name a session (events or per-session aggregates; typically `row` is correlated).
pub fn same_session(backend: DbBackend, e: &str, row: &str) -> String {
    let column = session_column(backend);
    format!("{e}.{column} = {row}.{column}")
}

/// An event's session id as a statement over `events` that reads only its indexes names it,
/// and the expression to group its events by: on SQLite the id looked up by key (put it in
/// the select list and group by the key, so it is looked up once per group) and the key the
/// indexes carry; on PostgreSQL the column itself, twice.
pub fn session_group(backend: DbBackend) -> (&'static str, &'static str) {
    match backend {
        DbBackend::Sqlite => (
            "(SELECT session_keys.session_id FROM session_keys \
             WHERE session_keys.id = session_key)",
            "session_key",
        ),
        _ => ("session_id", "session_id"),
    }
}

/// Removes the keys of `sessions` that no event and no per-session aggregate refers to any
/// more (SQLite), so an erased or expired session's id does not outlive its events. Called in
/// the transaction that deleted them, after their aggregates were taken out. (An aggregate row
/// left without events, which only an inconsistency could leave, keeps its key rather than
/// failing the transaction on the foreign key.)
pub async fn forget_sessions(txn: &impl ConnectionTrait, sessions: &[String]) -> Result<(), DbErr> {
    if txn.get_database_backend() != DbBackend::Sqlite || sessions.is_empty() {
        return Ok(());
    }
    let list = serde_json::to_string(sessions)
        .map_err(|e| DbErr::Custom(format!("encoding session ids: {e}")))?;
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "DELETE FROM session_keys WHERE session_id IN (SELECT value FROM json_each(?)) \
         AND NOT EXISTS (SELECT 1 FROM events WHERE events.session_key = session_keys.id) \
         AND NOT EXISTS (SELECT 1 FROM sessions WHERE sessions.session_key = session_keys.id) \
         AND NOT EXISTS (SELECT 1 FROM session_type_counts t \
           WHERE t.session_key = session_keys.id) \
         AND NOT EXISTS (SELECT 1 FROM session_applications p \
           WHERE p.session_key = session_keys.id)",
        [list.into()],
    ))
    .await?;
    Ok(())
}
