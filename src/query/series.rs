//! `eventSeries`: event counts over time, in minute, hour or day buckets of a time zone,
//! optionally split by a dimension into the largest groups and "other".
//!
//! Buckets follow the caller's IANA zone: a day is local midnight to local midnight (23 or 25
//! hours across a DST change), an hour starts where the local clock shows `:00`. The range is
//! half-open, `[from, to)`, and the first and last buckets count only what lies inside it, so
//! the series sums to the events of the range.
//!
//! Counts are exact in the way `eventCounts` is ([`super::counts`]): the database first counts
//! events in fine UTC slots, and the slots are then summed into the caller's buckets. Whole UTC
//! hours come from the `type_counts_hourly` aggregate plus the events the job has not processed
//! yet; everything the aggregate cannot answer (the partial hours at the range's edges, minute
//! buckets, a session or application filter or split, a zone whose buckets do not start on a
//! whole UTC hour) is counted from the events themselves, by slots of a minute, an hour or a
//! quarter of an hour (every zone's offset today is a whole number of quarter hours).

use std::collections::HashMap;

use chrono::{DateTime, NaiveTime, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use sea_orm::{DatabaseConnection, DbBackend, Statement};

use super::unprocessed_events;
use crate::db::{Sql, as_json_page, read_json_page};
use crate::domain::timestamp::{ceil_hour, hour_of};
use crate::error::{AppError, AppResult};

/// The size of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketSize {
    /// A minute.
    Minute,
    /// An hour of the local clock.
    Hour,
    /// A local calendar day.
    Day,
}

/// What a series can be split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesDimension {
    /// By category.
    Category,
    /// By name.
    Name,
    /// By session id.
    Session,
    /// By application (its name).
    Application,
}

/// Which events a series counts, besides its time range.
#[derive(Debug, Clone, Default)]
pub struct SeriesFilter {
    /// Only this session.
    pub session_id: Option<String>,
    /// Only this category.
    pub category: Option<String>,
    /// Only this name.
    pub name: Option<String>,
    /// Only this application.
    pub application_id: Option<i32>,
}

/// A series request, parsed.
#[derive(Debug, Clone)]
pub struct SeriesRequest {
    /// The bucket size.
    pub bucket: BucketSize,
    /// Start of the range (inclusive).
    pub from: DateTime<Utc>,
    /// End of the range (exclusive).
    pub to: DateTime<Utc>,
    /// The zone whose clock the buckets follow.
    pub zone: Tz,
    /// Which events.
    pub filter: SeriesFilter,
    /// The dimension to split by, with how many of its largest groups to show.
    pub split: Option<(SeriesDimension, usize)>,
}

/// One bucket of a series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesPoint {
    /// Where the bucket starts (clipped to the range's start for the first).
    pub start: DateTime<Utc>,
    /// Where the next bucket starts (clipped to the range's end for the last).
    pub end: DateTime<Utc>,
    /// Events in the bucket.
    pub total: i64,
    /// Events of each group of [`Series::groups`], in that order.
    pub groups: Vec<i64>,
    /// Events of every other group.
    pub other: i64,
}

/// A series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// The largest groups over the whole range (largest first, ties by key); empty without a split.
    pub groups: Vec<(String, i64)>,
    /// Every bucket of the range, in time order, empty ones included.
    pub points: Vec<SeriesPoint>,
}

/// Counts events over time as `request` says; `max_buckets` bounds the number of buckets.
pub async fn event_series(
    db: &DatabaseConnection,
    request: &SeriesRequest,
    max_buckets: usize,
) -> AppResult<Series> {
    if request.from >= request.to {
        return Err(AppError::BadInput(
            "`from` must be earlier than `to` (the range is [from, to))".into(),
        ));
    }
    let bounds = bucket_bounds(request, max_buckets)?;
    let plan = Plan::for_request(request, &bounds);
    let statement = plan.statement(db.get_database_backend(), request);
    let page = as_json_page(statement, "r.s, r.k, r.n", "", "r.s, r.k");
    let mut slots: Vec<(i64, String, i64)> =
        read_json_page::<(i64, String, i64)>(db, page, "reading a series")
            .await?
            .into_iter()
            .map(|(slot, key, count)| (slot * plan.slot_seconds, key, count))
            .collect();
    if request.split.map(|(d, _)| d) == Some(SeriesDimension::Application) {
        name_applications(db, &mut slots).await?;
    }
    Ok(fold(
        &bounds,
        request.split.map_or(0, |(_, top)| top),
        slots,
    ))
}

/// The one counting statement behind [`event_series`] (exposed so tests can check its plan).
pub fn series_statement(
    backend: DbBackend,
    request: &SeriesRequest,
    max_buckets: usize,
) -> AppResult<Statement> {
    let bounds = bucket_bounds(request, max_buckets)?;
    Ok(Plan::for_request(request, &bounds).statement(backend, request))
}

/// The bucket boundaries of the range: `n + 1` instants for `n` buckets, the first `from` and
/// the last `to`.
fn bucket_bounds(request: &SeriesRequest, max_buckets: usize) -> AppResult<Vec<DateTime<Utc>>> {
    let mut bounds = vec![request.from];
    let mut at = floor(request.bucket, request.zone, request.from);
    loop {
        at = next(request.bucket, request.zone, at);
        if at >= request.to {
            bounds.push(request.to);
            return Ok(bounds);
        }
        bounds.push(at);
        if bounds.len() > max_buckets {
            return Err(AppError::LimitExceeded(format!(
                "the series would have more than {max_buckets} buckets \
                 (EYE_MAX_SERIES_BUCKETS); use a larger bucket or a shorter range"
            )));
        }
    }
}

/// The start of the bucket holding `at`.
fn floor(bucket: BucketSize, zone: Tz, at: DateTime<Utc>) -> DateTime<Utc> {
    let local = at.with_timezone(&zone);
    match bucket {
        BucketSize::Minute => at - TimeDelta::seconds(i64::from(at.second())) - sub_second(at),
        BucketSize::Hour => {
            at - TimeDelta::minutes(i64::from(local.minute()))
                - TimeDelta::seconds(i64::from(local.second()))
                - sub_second(at)
        }
        BucketSize::Day => midnight(zone, local.date_naive()),
    }
}

fn sub_second(at: DateTime<Utc>) -> TimeDelta {
    TimeDelta::nanoseconds(i64::from(at.nanosecond() % 1_000_000_000))
}

/// The start of the bucket after the one starting at `start`.
fn next(bucket: BucketSize, zone: Tz, start: DateTime<Utc>) -> DateTime<Utc> {
    match bucket {
        BucketSize::Minute => start + TimeDelta::minutes(1),
        BucketSize::Hour => start + TimeDelta::hours(1),
        BucketSize::Day => {
            let day = start.with_timezone(&zone).date_naive();
            let following = day.succ_opt().unwrap_or(day);
            midnight(zone, following)
        }
    }
}

/// The first instant of a local day: midnight, or the first minute the clock shows on a day
/// whose midnight a DST change skips.
fn midnight(zone: Tz, day: chrono::NaiveDate) -> DateTime<Utc> {
    (0..24 * 60)
        .find_map(|minute| {
            let time = NaiveTime::from_num_seconds_from_midnight_opt(minute * 60, 0)?;
            zone.from_local_datetime(&day.and_time(time))
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        })
        .unwrap_or_else(|| Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN)))
}

/// The key column of a series without a split.
const NO_KEY: &str = "''";

/// How the counting statement reads: aggregates for whole hours or raw events only, and the
/// width of its slots.
struct Plan {
    slot_seconds: i64,
    /// Whole UTC hours answered by `type_counts_hourly`, when it can answer.
    hours: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Plan {
    fn for_request(request: &SeriesRequest, bounds: &[DateTime<Utc>]) -> Self {
        let on_hours = bounds[1..bounds.len() - 1]
            .iter()
            .all(|b| b.minute() == 0 && b.second() == 0 && b.nanosecond() == 0);
        let slot_seconds = match request.bucket {
            BucketSize::Minute => 60,
            _ if on_hours => 3_600,
            _ => 900,
        };
        let typed_only = request.filter.session_id.is_none()
            && request.filter.application_id.is_none()
            && matches!(
                request.split,
                None | Some((SeriesDimension::Category | SeriesDimension::Name, _))
            );
        let start = ceil_hour(request.from);
        let end = hour_of(request.to);
        let hours = (slot_seconds == 3_600 && typed_only && start < end).then_some((start, end));
        Plan {
            slot_seconds,
            hours,
        }
    }

    /// One statement: `(s, k, n)` rows, `s` a slot number (`s * slot_seconds` is its start in
    /// seconds since 1970), `k` the split key (`''` without a split), `n` events.
    fn statement(&self, backend: DbBackend, request: &SeriesRequest) -> Statement {
        let key = match request.split.map(|(d, _)| d) {
            None => NO_KEY,
            Some(SeriesDimension::Category) => "category",
            Some(SeriesDimension::Name) => "name",
            // Read from the indexes, by key on SQLite (see `crate::db::session_group`).
            Some(SeriesDimension::Session) => crate::db::session_group(backend).0,
            Some(SeriesDimension::Application) => "CAST(application_id AS TEXT)",
        };
        let mut sql = Sql::new(backend);
        sql.push("SELECT s, k, CAST(SUM(c) AS BIGINT) AS n FROM (");
        match self.hours {
            None => self.raw(&mut sql, key, request, (request.from, request.to), false),
            Some((start, end)) => {
                self.aggregate(&mut sql, key, request, (start, end));
                sql.push(" UNION ALL ");
                self.raw(&mut sql, key, request, (start, end), true);
                for edge in [(request.from, start), (end, request.to)] {
                    if edge.0 < edge.1 {
                        sql.push(" UNION ALL ");
                        self.raw(&mut sql, key, request, edge, false);
                    }
                }
            }
        }
        sql.push(") t GROUP BY s, k");
        sql.build()
    }

    fn aggregate(
        &self,
        sql: &mut Sql,
        key: &str,
        request: &SeriesRequest,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
    ) {
        let slot = slot_expression(sql.backend(), "bucket_start", self.slot_seconds);
        sql.push(&format!(
            "SELECT {slot} AS s, {key} AS k, event_count AS c FROM type_counts_hourly \
             WHERE bucket_start >= "
        ))
        .bind_time(start);
        sql.push(" AND bucket_start < ").bind_time(end);
        push_type_filter(sql, &request.filter);
    }

    fn raw(
        &self,
        sql: &mut Sql,
        key: &str,
        request: &SeriesRequest,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
        unprocessed_only: bool,
    ) {
        // Unprocessed events inside whole hours: the queue is the small set, so it drives the
        // join (checking each event of a month-long range against it took a second on 10M).
        // Otherwise each part of `events` through its own indexes (see `crate::db::event_parts`).
        if unprocessed_only {
            let source = unprocessed_events(sql.backend());
            return self.raw_from(sql, key, request, source, "1 = 1", (start, end));
        }
        sql.each_event_part(" UNION ALL ", |sql, part| {
            self.raw_from(sql, key, request, "events", part, (start, end))
        });
    }

    /// Counts by slot and key of the events of `source` (a `FROM` source) that meet `part`,
    /// in `[start, end)`.
    fn raw_from(
        &self,
        sql: &mut Sql,
        key: &str,
        request: &SeriesRequest,
        source: &str,
        part: &str,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
    ) {
        let slot = slot_expression(sql.backend(), "timestamp", self.slot_seconds);
        sql.push(&format!(
            "SELECT {slot} AS s, {key} AS k, COUNT(*) AS c FROM {source} \
             WHERE {part} AND timestamp >= "
        ))
        .bind_time(start);
        sql.push(" AND timestamp < ").bind_time(end);
        if let Some(session) = &request.filter.session_id {
            sql.push(" AND ").session_is(session.as_str());
        }
        if let Some(application) = request.filter.application_id {
            sql.push(" AND application_id = ").bind(application);
        }
        push_type_filter(sql, &request.filter);
        // By position: PostgreSQL refuses a literal (the key without a split) in GROUP BY. A
        // session is grouped by what the indexes carry, its id looked up once per group.
        let group = match request.split.map(|(d, _)| d) {
            None => "",
            Some(SeriesDimension::Session) => crate::db::session_group(sql.backend()).1,
            Some(_) => "2",
        };
        sql.push(" GROUP BY 1");
        if !group.is_empty() {
            sql.push(", ").push(group);
        }
    }
}

/// The slot number of a timestamp column: whole `seconds` since 1970.
fn slot_expression(backend: DbBackend, column: &str, seconds: i64) -> String {
    match backend {
        // Event time is integer microseconds on SQLite (see `crate::db::event_time`); SQLite's
        // integer division truncates, so instants before 1970 are floored by hand.
        DbBackend::Sqlite => {
            let micros = seconds * 1_000_000;
            format!(
                "(CASE WHEN {column} >= 0 THEN {column} / {micros} \
                 ELSE ({column} - {micros} + 1) / {micros} END)"
            )
        }
        _ => format!("CAST(FLOOR(EXTRACT(EPOCH FROM {column}) / {seconds}) AS BIGINT)"),
    }
}

fn push_type_filter(sql: &mut Sql, filter: &SeriesFilter) {
    if let Some(category) = &filter.category {
        sql.push(" AND category = ").bind(category.as_str());
    }
    if let Some(name) = &filter.name {
        sql.push(" AND name = ").bind(name.as_str());
    }
}

/// Replaces application ids by names in the keys of `slots`.
async fn name_applications(
    db: &DatabaseConnection,
    slots: &mut [(i64, String, i64)],
) -> AppResult<()> {
    let ids = slots.iter().filter_map(|(_, key, _)| key.parse().ok());
    let names = super::application_names(db, ids).await?;
    for (_, key, _) in slots.iter_mut() {
        if let Some(name) = key.parse().ok().and_then(|id: i32| names.get(&id)) {
            *key = name.clone();
        }
    }
    Ok(())
}

/// Sums slot counts (slot start in seconds since 1970, key, count) into the buckets between
/// `bounds`, keeping the `top` largest keys apart.
fn fold(bounds: &[DateTime<Utc>], top: usize, slots: Vec<(i64, String, i64)>) -> Series {
    let mut totals: HashMap<&str, i64> = HashMap::new();
    for (_, key, count) in &slots {
        *totals.entry(key.as_str()).or_default() += count;
    }
    let mut ranked: Vec<(String, i64)> = totals
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(top);
    let column: HashMap<&str, usize> = ranked
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (k.as_str(), i))
        .collect();
    let mut points: Vec<SeriesPoint> = bounds
        .windows(2)
        .map(|w| SeriesPoint {
            start: w[0],
            end: w[1],
            total: 0,
            groups: vec![0; ranked.len()],
            other: 0,
        })
        .collect();
    for (seconds, key, count) in &slots {
        let Some(at) = DateTime::from_timestamp(*seconds, 0) else {
            continue;
        };
        // A slot lies within one bucket: bucket bounds fall on slot bounds (or on the range's
        // edges, which the statement clips to).
        let index = bounds[1..].partition_point(|end| *end <= at.max(bounds[0]));
        let Some(point) = points.get_mut(index) else {
            continue;
        };
        point.total += count;
        match column.get(key.as_str()) {
            Some(i) => point.groups[*i] += count,
            None if top > 0 => point.other += count,
            None => {}
        }
    }
    Series {
        groups: ranked,
        points,
    }
}

/// The zone named `name` (an IANA name such as `Europe/Paris`).
pub fn parse_zone(name: &str) -> AppResult<Tz> {
    name.parse::<Tz>().map_err(|_| {
        AppError::BadInput(format!(
            "`timeZone` {name:?} is not an IANA time zone name such as `Europe/Paris`"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn request(bucket: BucketSize, from: &str, to: &str, zone: &str) -> SeriesRequest {
        SeriesRequest {
            bucket,
            from: at(from),
            to: at(to),
            zone: parse_zone(zone).unwrap(),
            filter: SeriesFilter::default(),
            split: None,
        }
    }

    fn hours(bounds: &[DateTime<Utc>]) -> Vec<i64> {
        bounds
            .windows(2)
            .map(|w| (w[1] - w[0]).num_hours())
            .collect()
    }

    #[test]
    fn days_across_dst_changes_have_23_and_25_hours() {
        let spring = request(
            BucketSize::Day,
            "2021-03-27T23:00:00Z",
            "2021-03-30T22:00:00Z",
            "Europe/Paris",
        );
        let bounds = bucket_bounds(&spring, 100).unwrap();
        assert_eq!(bounds[1], at("2021-03-28T22:00:00Z"));
        assert_eq!(hours(&bounds), [23, 24, 24]);
        let autumn = request(
            BucketSize::Day,
            "2021-10-30T22:00:00Z",
            "2021-11-01T23:00:00Z",
            "Europe/Paris",
        );
        assert_eq!(hours(&bucket_bounds(&autumn, 100).unwrap()), [25, 24]);
    }

    #[test]
    fn hours_follow_zones_with_half_hour_offsets() {
        let india = request(
            BucketSize::Hour,
            "2021-01-01T00:00:00Z",
            "2021-01-01T02:00:00Z",
            "Asia/Kolkata",
        );
        let bounds = bucket_bounds(&india, 100).unwrap();
        assert_eq!(
            bounds,
            [
                at("2021-01-01T00:00:00Z"),
                at("2021-01-01T00:30:00Z"),
                at("2021-01-01T01:30:00Z"),
                at("2021-01-01T02:00:00Z")
            ]
        );
        assert_eq!(Plan::for_request(&india, &bounds).slot_seconds, 900);
        let utc = request(
            BucketSize::Hour,
            "2021-01-01T00:00:00Z",
            "2021-01-01T05:00:00Z",
            "UTC",
        );
        let bounds = bucket_bounds(&utc, 100).unwrap();
        let plan = Plan::for_request(&utc, &bounds);
        assert_eq!(
            (plan.slot_seconds, plan.hours),
            (3_600, Some((utc.from, utc.to)))
        );
    }

    #[test]
    fn too_many_buckets_are_refused() {
        let long = request(
            BucketSize::Minute,
            "2021-01-01T00:00:00Z",
            "2021-01-02T00:00:00Z",
            "UTC",
        );
        assert_eq!(bucket_bounds(&long, 1_440).unwrap().len(), 1_441);
        assert_eq!(
            bucket_bounds(&long, 1_439).unwrap_err().code(),
            "LIMIT_EXCEEDED"
        );
    }

    #[test]
    fn folding_keeps_the_top_groups_and_sums_the_rest() {
        let bounds = [
            at("2021-01-01T00:00:00Z"),
            at("2021-01-01T01:00:00Z"),
            at("2021-01-01T02:00:00Z"),
        ];
        let t0 = at("2021-01-01T00:00:00Z").timestamp();
        let slots = vec![
            (t0, "a".into(), 5),
            (t0 + 3_600, "b".into(), 4),
            (t0 + 3_600, "c".into(), 1),
            (t0 + 900, "c".into(), 2),
        ];
        let series = fold(&bounds, 2, slots);
        assert_eq!(series.groups, [("a".to_string(), 5), ("b".to_string(), 4)]);
        assert_eq!(series.points[0].total, 7);
        assert_eq!(series.points[0].groups, [5, 0]);
        assert_eq!(series.points[0].other, 2);
        assert_eq!(series.points[1].groups, [0, 4]);
        assert_eq!(series.points[1].other, 1);
    }
}
