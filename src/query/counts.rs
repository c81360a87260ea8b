//! Grouped event counts, served from the aggregates the background job maintains.
//!
//! A count is the sum of up to three parts, combined in one SQL statement (one snapshot, so an
//! event is never counted both as raw and as aggregated while the job commits):
//! 1. the aggregate rows that answer the filter exactly (whole hours of `type_counts_hourly`,
//!    or `session_type_counts` / `sessions` when there is no time range);
//! 2. events in the same range that the job has not processed yet (a small, indexed set);
//! 3. raw events where no aggregate can answer: the partial hours at the edges of a time range,
//!    and any time range combined with a session (grouping or filter), which has no hourly
//!    aggregate.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};

use super::cursor::CountCursor;
use super::{EventFilter, QUEUED, unprocessed_events};
use crate::db::{Sql, as_json_page, read_json_page, session_group};
use crate::domain::timestamp::{ceil_hour, hour_of};
use crate::error::{AppError, AppResult};

/// What to group counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountDimension {
    /// By session id.
    Session,
    /// By category.
    Category,
    /// By name.
    Name,
}

impl CountDimension {
    fn column(self) -> &'static str {
        match self {
            CountDimension::Session => "session_id",
            CountDimension::Category => "category",
            CountDimension::Name => "name",
        }
    }
}

/// The count of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCount {
    /// The group's key (a session id, category or name).
    pub key: String,
    /// Events in the group.
    pub count: i64,
}

/// Which events a raw part counts.
#[derive(Clone, Copy)]
enum Raw {
    All,
    Unprocessed,
}

/// A half-open or closed time range on event timestamps.
#[derive(Clone, Copy, Default)]
struct Range {
    from: Option<DateTime<Utc>>,
    /// Exclusive end.
    until: Option<DateTime<Utc>>,
}

/// One page of groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountPage {
    /// The groups, largest first (ties by key).
    pub groups: Vec<KeyCount>,
    /// Whether more groups follow.
    pub has_next_page: bool,
}

/// Counts events matching `filter` grouped by `dimension`, largest first (ties by key): at most
/// `limit` groups, those after `after` when it is given.
pub async fn event_counts(
    db: &DatabaseConnection,
    dimension: CountDimension,
    filter: &EventFilter,
    limit: u64,
    after: Option<&CountCursor>,
) -> AppResult<CountPage> {
    filter.check()?;
    let backend = db.get_database_backend();
    if backend == DbBackend::Sqlite
        && dimension == CountDimension::Session
        && filter.session_id.is_none()
        && (filter.from.is_some() || filter.to.is_some())
        && let Some(page) = sessions_in_range(db, filter, limit, after).await?
    {
        return Ok(page);
    }
    if backend == DbBackend::Sqlite
        && dimension == CountDimension::Session
        && filter.session_id.is_none()
        && filter.category.is_none()
        && filter.name.is_none()
        && filter.from.is_none()
        && filter.to.is_none()
    {
        return largest_sessions(db, limit, after).await;
    }
    let statement = as_json_page(
        counts_statement(backend, dimension, filter, limit + 1, after),
        "r.k, r.n",
        "",
        "r.n DESC, r.k",
    );
    let mut groups: Vec<KeyCount> =
        read_json_page::<(String, i64)>(db, statement, "reading a page of counts")
            .await?
            .into_iter()
            .map(|(key, count)| KeyCount { key, count })
            .collect();
    let has_next_page = groups.len() as u64 > limit;
    groups.truncate(limit as usize);
    Ok(CountPage {
        groups,
        has_next_page,
    })
}

/// Most events of a time range whose sessions [`sessions_in_range`] counts itself; a larger
/// range is grouped by SQLite, whose sort spills to disk instead of growing the heap.
pub const SESSIONS_COUNTED_IN_PROCESS: usize = 250_000;

/// Events of a time range counted by session on SQLite, which has no hash aggregation (its
/// `GROUP BY` sorts: a quarter of the CPU of an hour's count, even on integers). The covering
/// time index carries each event's session key (see [`crate::db::session_group`]): one
/// statement hands over the range's keys as one text, they are counted here, and a
/// second statement looks up the id of each distinct key, both in one read transaction (one
/// snapshot). `None` when the range holds more than [`SESSIONS_COUNTED_IN_PROCESS`] events;
/// the caller then lets SQLite group them. Every event of the range is read from the events
/// themselves, so the counts are exact whatever the job has processed, as with [`raw_part`].
async fn sessions_in_range(
    db: &DatabaseConnection,
    filter: &EventFilter,
    limit: u64,
    after: Option<&CountCursor>,
) -> AppResult<Option<CountPage>> {
    let txn = db.begin().await?;
    let text: Option<String> = match txn
        .query_one_raw(sessions_in_range_statement(filter))
        .await?
    {
        Some(row) => row.try_get("", "page")?,
        None => None,
    };
    let text = text.unwrap_or_default();
    let mut counts: HashMap<i64, i64, foldhash::fast::RandomState> = HashMap::default();
    let mut events = 0;
    for key in text.split(',').filter(|key| !key.is_empty()) {
        let key = key
            .parse::<i64>()
            .map_err(|e| AppError::internal("reading the sessions of a range", e))?;
        *counts.entry(key).or_default() += 1;
        events += 1;
    }
    if events > SESSIONS_COUNTED_IN_PROCESS {
        txn.commit().await?;
        return Ok(None);
    }
    let distinct: Vec<i64> = counts.keys().copied().collect();
    let list = serde_json::to_string(&distinct)
        .map_err(|e| AppError::internal("listing the sessions of a range", e))?;
    let names: Option<String> = match txn.query_one_raw(session_ids_statement(list)).await? {
        Some(row) => row.try_get("", "names")?,
        None => None,
    };
    txn.commit().await?;
    let names = serde_json::from_str::<Vec<(i64, String)>>(names.as_deref().unwrap_or("[]"))
        .map_err(|e| AppError::internal("reading the sessions of a range", e))?;
    if names.len() != counts.len() {
        return Err(AppError::internal(
            "reading the sessions of a range",
            anyhow::anyhow!("{} ids for {} session keys", names.len(), counts.len()),
        ));
    }
    let groups = names
        .into_iter()
        .map(|(key, id)| (id, counts.get(&key).copied().unwrap_or(0)));
    Ok(Some(ranked_page(groups, limit, after)))
}

/// The largest sessions of all, on SQLite. The job's `sessions` rows are read in the order of
/// `idx_sessions_count`, and two sets of sessions are counted apart and merged in here, in one
/// statement, so one snapshot: those with unprocessed events (their row plus their queued
/// events), and those the job updated since it last ranked them (`ranked_count`, the count the
/// index holds, differs from their row's count; see migration `m20261204_000001`). The general
/// statement would instead pass a page of a thousand sessions through a `UNION`, a `GROUP BY`
/// and an `ORDER BY`, each a temporary B-tree on SQLite. Exact: a session in neither set has
/// its ranked count, and those that belong on the page are among the first `limit + 1` rows of
/// the index past the cursor that are in neither.
async fn largest_sessions(
    db: &DatabaseConnection,
    limit: u64,
    after: Option<&CountCursor>,
) -> AppResult<CountPage> {
    let Some(row) = db
        .query_one_raw(largest_sessions_statement(limit, after))
        .await?
    else {
        return Err(AppError::internal(
            "counting the largest sessions",
            anyhow::anyhow!("the statement returned no row"),
        ));
    };
    let mut groups = Vec::new();
    for column in ["top", "queued", "unranked"] {
        let text: String = row.try_get("", column)?;
        let pairs = serde_json::from_str::<Vec<(String, i64)>>(&text)
            .map_err(|e| AppError::internal("reading the largest sessions", e))?;
        groups.extend(pairs);
    }
    Ok(ranked_page(groups, limit, after))
}

/// The statement behind [`largest_sessions`] (SQLite only; exposed so tests can check its
/// plan): columns `top`, `queued` and `unranked`, each a JSON array of `[session, count]`
/// pairs, each session in one of them.
pub fn largest_sessions_statement(limit: u64, after: Option<&CountCursor>) -> Statement {
    let queued_sessions = format!(
        "SELECT e.session_key FROM {}",
        unprocessed_events(DbBackend::Sqlite)
    );
    // The condition of the partial index `idx_sessions_unranked`, literally, so SQLite uses it.
    let unranked = "ranked_count <> event_count";
    let mut sql = Sql::new(DbBackend::Sqlite);
    sql.push(&format!(
        "SELECT (SELECT json_group_array(json_array(k, c)) FROM (SELECT session_id AS k, \
         ranked_count AS c FROM sessions WHERE session_key NOT IN ({queued_sessions}) \
         AND session_key NOT IN (SELECT session_key FROM sessions WHERE {unranked})"
    ));
    if let Some(after) = after {
        sql.push(" AND (ranked_count < ").bind(after.count);
        sql.push(" OR (ranked_count = ").bind(after.count);
        sql.push(" AND session_id > ").bind(after.key.as_str());
        sql.push("))");
    }
    // A literal: a bound `LIMIT` makes SQLite compile the statement again on every execution.
    sql.push(&format!(
        " ORDER BY ranked_count DESC, session_id ASC LIMIT {})) AS top, \
         (SELECT json_group_array(json_array(k, c)) FROM (SELECT e.session_id AS k, \
         COUNT(*) + COALESCE((SELECT s.event_count FROM sessions s \
         WHERE s.session_key = e.session_key), 0) AS c FROM {} GROUP BY e.session_id)) AS queued, \
         (SELECT json_group_array(json_array(session_id, event_count)) FROM sessions \
         WHERE {unranked} AND session_key NOT IN ({queued_sessions})) AS unranked",
        limit + 1,
        unprocessed_events(DbBackend::Sqlite)
    ));
    sql.build()
}

/// The page of `groups` (each key once) past `after`: largest first, ties in SQLite's
/// `ORDER BY n DESC, k` with its binary collation, which is byte order, as `str`'s. Only the
/// page is sorted (an hour's range can hold ten thousand sessions for a page of a thousand),
/// and only its keys are turned into `String`s.
fn ranked_page<K: AsRef<str> + Into<String>>(
    groups: impl IntoIterator<Item = (K, i64)>,
    limit: u64,
    after: Option<&CountCursor>,
) -> CountPage {
    let ranked =
        |a: &(K, i64), b: &(K, i64)| b.1.cmp(&a.1).then_with(|| a.0.as_ref().cmp(b.0.as_ref()));
    let mut groups: Vec<(K, i64)> = groups
        .into_iter()
        .filter(|(key, count)| {
            after.is_none_or(|a| {
                *count < a.count || (*count == a.count && key.as_ref() > a.key.as_str())
            })
        })
        .collect();
    // One more than the page, to tell whether another follows.
    let wanted = usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    if groups.len() > wanted {
        groups.select_nth_unstable_by(wanted - 1, ranked);
        groups.truncate(wanted);
    }
    groups.sort_unstable_by(ranked);
    let has_next_page = groups.len() as u64 > limit;
    groups.truncate(limit as usize);
    CountPage {
        groups: groups
            .into_iter()
            .map(|(key, count)| KeyCount {
                key: key.into(),
                count,
            })
            .collect(),
        has_next_page,
    }
}

/// The first statement behind [`sessions_in_range`] (SQLite only; exposed so tests can check
/// its plan): `page`, the session keys of the events matching `filter` as one comma-separated
/// text (`group_concat`: integers need no JSON, and the keys are counted as they are read,
/// with no array in between), at most one more than [`SESSIONS_COUNTED_IN_PROCESS`].
pub fn sessions_in_range_statement(filter: &EventFilter) -> Statement {
    let mut sql = Sql::new(DbBackend::Sqlite);
    sql.push("SELECT group_concat(session_key) AS page FROM (");
    sql.each_event_part(" UNION ALL ", |sql, part| {
        sql.push(&format!("SELECT session_key FROM events WHERE {part}"));
        push_type_filter(sql, filter);
        if let Some(from) = filter.from {
            sql.push(" AND timestamp >= ").bind_time(from);
        }
        // Exclusive end one microsecond after `to`, as in [`counts_statement`].
        if let Some(until) = filter.to.map(|t| t + TimeDelta::microseconds(1)) {
            sql.push(" AND timestamp < ").bind_time(until);
        }
    });
    // A literal: a bound `LIMIT` makes SQLite compile the statement again on every execution.
    sql.push(&format!(" LIMIT {})", SESSIONS_COUNTED_IN_PROCESS + 1));
    sql.build()
}

/// The second statement behind [`sessions_in_range`] (SQLite only; exposed so tests can check
/// its plan): `names`, the `[key, id]` pair of each session key in `keys` (a JSON array), each
/// looked up by primary key.
pub fn session_ids_statement(keys: String) -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "SELECT json_group_array(json_array(k.id, k.session_id)) AS names \
         FROM json_each(?) j CROSS JOIN session_keys k ON k.id = j.value",
        [keys.into()],
    )
}

/// The one statement behind [`event_counts`], returning at most `limit` groups (exposed so tests
/// can check its plan).
pub fn counts_statement(
    backend: DbBackend,
    dimension: CountDimension,
    filter: &EventFilter,
    limit: u64,
    after: Option<&CountCursor>,
) -> Statement {
    let key = dimension.column();
    let mut sql = Sql::new(backend);
    sql.push("SELECT k, CAST(SUM(c) AS BIGINT) AS n FROM (");
    let whole = Range {
        from: filter.from,
        until: filter.to.map(|t| t + TimeDelta::microseconds(1)),
    };
    let timed = filter.from.is_some() || filter.to.is_some();
    let per_session = filter.session_id.is_some() || dimension == CountDimension::Session;
    if per_session && timed {
        raw_part(&mut sql, key, filter, whole, Raw::All);
    } else if per_session {
        if filter.category.is_none() && filter.name.is_none() && filter.session_id.is_none() {
            top_sessions(&mut sql, limit, after);
        } else {
            aggregate_part(&mut sql, "session_type_counts", key, filter, None);
        }
        sql.push(" UNION ALL ");
        raw_part(&mut sql, key, filter, whole, Raw::Unprocessed);
    } else {
        hourly_parts(&mut sql, key, filter, whole);
    }
    sql.push(") t GROUP BY k");
    if let Some(after) = after {
        sql.push(" HAVING SUM(c) < ").bind(after.count);
        sql.push(" OR (SUM(c) = ").bind(after.count);
        sql.push(" AND k > ").bind(after.key.as_str());
        sql.push(")");
    }
    sql.push(" ORDER BY n DESC, k ASC LIMIT ")
        .bind(limit as i64);
    sql.build()
}

/// Whole hours from `type_counts_hourly`, plus raw events at the partial edges and unprocessed
/// events inside the whole hours.
fn hourly_parts(sql: &mut Sql, key: &str, filter: &EventFilter, whole: Range) {
    let full = Range {
        from: whole.from.map(ceil_hour),
        until: whole.until.map(hour_of),
    };
    if let (Some(start), Some(end)) = (full.from, full.until)
        && start >= end
    {
        // No whole hour inside the range: count it raw.
        raw_part(sql, key, filter, whole, Raw::All);
        return;
    }
    aggregate_part(sql, "type_counts_hourly", key, filter, Some(full));
    sql.push(" UNION ALL ");
    raw_part(sql, key, filter, full, Raw::Unprocessed);
    if let (Some(from), Some(start)) = (whole.from, full.from)
        && from < start
    {
        sql.push(" UNION ALL ");
        let edge = Range {
            from: Some(from),
            until: Some(start),
        };
        raw_part(sql, key, filter, edge, Raw::All);
    }
    if let (Some(end), Some(until)) = (full.until, whole.until)
        && end < until
    {
        sql.push(" UNION ALL ");
        let edge = Range {
            from: Some(end),
            until: Some(until),
        };
        raw_part(sql, key, filter, edge, Raw::All);
    }
}

fn aggregate_part(
    sql: &mut Sql,
    table: &str,
    key: &str,
    filter: &EventFilter,
    hours: Option<Range>,
) {
    sql.push(&format!(
        "SELECT {key} AS k, event_count AS c FROM {table} WHERE 1 = 1"
    ));
    if let Some(session) = &filter.session_id {
        sql.push(" AND ").session_is(session);
    }
    push_type_filter(sql, filter);
    if let Some(hours) = hours {
        if let Some(from) = hours.from {
            sql.push(" AND bucket_start >= ").bind_time(from);
        }
        if let Some(until) = hours.until {
            sql.push(" AND bucket_start < ").bind_time(until);
        }
    }
}

/// The `sessions` aggregates of the sessions that can be among the `limit` largest: the
/// `limit` largest by aggregate (read in order from the covering `idx_sessions_count`, with
/// no lookup of each session) and those with unprocessed events (few: looked up one by one).
/// Any other session's total is its aggregate, which ranks after each of those `limit`
/// sessions' aggregates (count descending, then key), and so after their totals too: the
/// answer is the same as counting every session, without sorting them all. A session in both
/// sets gives the same row twice, which `UNION` keeps once.
///
/// After a cursor, the `limit` largest are taken among the sessions that rank after it and
/// have no unprocessed events: their totals are their aggregates, so they stay after the
/// cursor (a session whose unprocessed events lift it above the cursor is not counted on, and
/// is among the candidates anyway through the second branch).
fn top_sessions(sql: &mut Sql, limit: u64, after: Option<&CountCursor>) {
    sql.push("SELECT k, c FROM (SELECT session_id AS k, event_count AS c FROM sessions");
    if let Some(after) = after {
        sql.push(" WHERE (event_count < ").bind(after.count);
        sql.push(" OR (event_count = ").bind(after.count);
        sql.push(" AND session_id > ").bind(after.key.as_str());
        sql.push(")) AND session_id NOT IN (SELECT e.session_id FROM ");
        sql.push(&unprocessed_source(sql.backend(), false));
        sql.push(")");
    }
    sql.push(" ORDER BY event_count DESC, session_id ASC LIMIT ")
        .bind(limit as i64);
    sql.push(") top UNION SELECT session_id AS k, event_count AS c FROM sessions WHERE session_id IN (SELECT e.session_id FROM ");
    sql.push(&unprocessed_source(sql.backend(), false));
    sql.push(")");
}

/// The events the job has not processed yet, followed by a `WHERE` clause that later
/// conditions extend with ` AND …`. Without a session, the queue is the small set: SQLite is
/// told to walk it and look each event up (`CROSS JOIN` fixes its join order; without
/// statistics it would rather scan an index of `events` that yields the `GROUP BY` order). With
/// a session, the session's own events are fewer still and each is checked against the queue.
/// PostgreSQL's planner has statistics and needs no hint.
fn unprocessed_source(backend: DbBackend, session_given: bool) -> String {
    if session_given {
        format!("events WHERE {QUEUED}")
    } else {
        format!("{} WHERE 1 = 1", unprocessed_events(backend))
    }
}

fn raw_part(sql: &mut Sql, key: &str, filter: &EventFilter, range: Range, which: Raw) {
    if let (Raw::All, Some(from), Some(until)) = (which, range.from, range.until)
        && filter.session_id.is_none()
        && !filters_other_type_column(key, filter)
    {
        return per_key_counts(sql, key, filter, from, until);
    }
    // A session is grouped by what the indexes carry (see `crate::db::session_group`).
    let (select, group) = match key {
        "session_id" => session_group(sql.backend()),
        _ => (key, key),
    };
    let counted = |sql: &mut Sql, source: &str| {
        sql.push(&format!(
            "SELECT {select} AS k, COUNT(*) AS c FROM {source}"
        ));
        raw_conditions(sql, filter, range);
        sql.push(&format!(" GROUP BY {group}"));
    };
    match which {
        // Each part of `events` through its own indexes (see `crate::db::event_parts`).
        Raw::All => sql.each_event_part(" UNION ALL ", |sql, part| {
            counted(sql, &format!("events WHERE {part}"))
        }),
        Raw::Unprocessed => {
            let source = unprocessed_source(sql.backend(), filter.session_id.is_some());
            counted(sql, &source)
        }
    }
}

/// The conditions of [`raw_part`] after its source.
fn raw_conditions(sql: &mut Sql, filter: &EventFilter, range: Range) {
    if let Some(session) = &filter.session_id {
        sql.push(" AND ").session_is(session.as_str());
    }
    push_type_filter(sql, filter);
    if let Some(from) = range.from {
        sql.push(" AND timestamp >= ").bind_time(from);
    }
    if let Some(until) = range.until {
        sql.push(" AND timestamp < ").bind_time(until);
    }
}

/// Whether `filter` names the type column that is not `key` (a name when grouping by category,
/// say), which the per-key index of `key` cannot check without reading each event.
fn filters_other_type_column(key: &str, filter: &EventFilter) -> bool {
    match key {
        "category" => filter.name.is_some(),
        "name" => filter.category.is_some(),
        _ => true,
    }
}

/// Events of `[from, until)` counted by category or by name, one index range count per key
/// (`idx_events_category_time` / `idx_events_name_time`), instead of grouping every event of the
/// range in a temporary B-tree: 14k events of an hour take 3 ms to group and well under 1 ms
/// to count this way. The keys are those of the hourly aggregates of the hours the range
/// touches, plus those of its unprocessed events: every event of the range is one or the
/// other. Keys with no event in the range are left out.
fn per_key_counts(
    sql: &mut Sql,
    key: &str,
    filter: &EventFilter,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) {
    // One count per part of `events`, each through its own indexes (see
    // `crate::db::event_parts`).
    sql.push("SELECT k, c FROM (SELECT keys.k AS k, ");
    sql.each_event_part(" + ", |sql, part| {
        sql.push(&format!(
            "(SELECT COUNT(*) FROM events WHERE {part} AND {key} = keys.k"
        ));
        sql.push(" AND timestamp >= ").bind_time(from);
        sql.push(" AND timestamp < ").bind_time(until);
        sql.push(")");
    });
    sql.push(&format!(
        " AS c FROM (SELECT {key} AS k FROM type_counts_hourly WHERE bucket_start >= "
    ));
    sql.bind_time(hour_of(from));
    sql.push(" AND bucket_start < ").bind_time(until);
    push_type_filter(sql, filter);
    // `event_queue` has no column but `seq`, so the names below are those of `events`.
    sql.push(&format!(" UNION SELECT {key} AS k FROM "));
    sql.push(unprocessed_events(sql.backend()));
    sql.push(" WHERE timestamp >= ").bind_time(from);
    sql.push(" AND timestamp < ").bind_time(until);
    push_type_filter(sql, filter);
    // The fence keeps the subquery from being merged into the `WHERE c > 0` around it, which
    // would count each key twice over (once for the filter, once for the value).
    sql.push(") keys ");
    sql.push(match sql.backend() {
        DbBackend::Postgres => "OFFSET 0",
        _ => "LIMIT -1",
    });
    sql.push(") per_key WHERE c > 0");
}

fn push_type_filter(sql: &mut Sql, filter: &EventFilter) {
    if let Some(category) = &filter.category {
        sql.push(" AND category = ").bind(category.as_str());
    }
    if let Some(name) = &filter.name {
        sql.push(" AND name = ").bind(name.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(pairs: &[(&str, i64)]) -> Vec<KeyCount> {
        pairs
            .iter()
            .map(|&(key, count)| KeyCount {
                key: key.into(),
                count,
            })
            .collect()
    }

    #[test]
    fn a_ranked_page_is_largest_first_then_by_bytes_and_starts_past_the_cursor() {
        let all = [("b", 2), ("a", 2), ("C", 2), ("d", 5), ("e", 1)];
        let first = ranked_page(all, 2, None);
        assert_eq!(first.groups, groups(&[("d", 5), ("C", 2)]));
        assert!(first.has_next_page);
        let cursor = CountCursor {
            count: 2,
            key: "C".into(),
        };
        let second = ranked_page(all, 2, Some(&cursor));
        assert_eq!(second.groups, groups(&[("a", 2), ("b", 2)]));
        assert!(second.has_next_page);
        let cursor = CountCursor {
            count: 2,
            key: "b".into(),
        };
        let last = ranked_page(all, 2, Some(&cursor));
        assert_eq!(last.groups, groups(&[("e", 1)]));
        assert!(!last.has_next_page);
    }

    #[test]
    fn pages_of_many_groups_are_the_pages_of_the_whole_sorted_list() {
        // Counts with many ties, in a scrambled order: every page must be the matching slice
        // of the fully sorted list, although only the page itself is sorted.
        let all: Vec<(String, i64)> = (0..2_000u64)
            .map(|i| {
                let n = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
                (format!("s{n:x}"), (n % 17) as i64)
            })
            .collect();
        let mut sorted = all.clone();
        sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        sorted.dedup_by(|a, b| a.0 == b.0);
        let all: Vec<(String, i64)> = sorted.clone().into_iter().rev().collect();
        let mut after = None;
        let mut seen = Vec::new();
        loop {
            let page = ranked_page(all.clone(), 150, after.as_ref());
            seen.extend(page.groups.iter().map(|g| (g.key.clone(), g.count)));
            let Some(last) = page.groups.last() else {
                break;
            };
            after = Some(CountCursor {
                count: last.count,
                key: last.key.clone(),
            });
            if !page.has_next_page {
                break;
            }
        }
        assert_eq!(seen, sorted);
    }
}
