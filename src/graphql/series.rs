//! `eventSeries`: event counts over time for charts, zero-filled, in the caller's time zone.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};

use super::context::{filter_application_id, require, state};
use super::scalars::DateTime;
use crate::auth::Scope;
use crate::error::{AppError, AppResult};
use crate::query::series::{self, SeriesRequest, event_series, parse_zone};

/// The size of a bucket.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::query::series::BucketSize")]
pub enum BucketSize {
    /// A minute.
    Minute,
    /// An hour of the time zone's clock (from `:00` to `:00`).
    Hour,
    /// A calendar day of the time zone, midnight to midnight (23 or 25 hours across a
    /// daylight-saving change).
    Day,
}

/// What a series can be split by.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::query::series::SeriesDimension")]
pub enum SeriesDimension {
    /// By category.
    Category,
    /// By name.
    Name,
    /// By session id.
    Session,
    /// By application name.
    Application,
}

/// Which events a series counts, combined with AND; the time range is given apart.
#[derive(InputObject, Default)]
pub struct SeriesFilter {
    /// Only events of this session.
    pub session_id: Option<String>,
    /// Only events of this category.
    pub category: Option<String>,
    /// Only events with this name.
    pub name: Option<String>,
    /// Only events sent by this application.
    pub application_id: Option<ID>,
}

/// A group of a split series and its events over the whole range.
#[derive(SimpleObject)]
pub struct SeriesGroup {
    /// The group: a category, a name, a session id or an application name.
    pub key: String,
    /// Its events over the whole range.
    pub total: i64,
}

/// One bucket of a series.
#[derive(SimpleObject)]
pub struct SeriesPoint {
    /// Where the bucket starts (the range's start for the first bucket).
    pub start: DateTime,
    /// Where the next bucket starts (the range's end for the last bucket).
    pub end: DateTime,
    /// Events in the bucket.
    pub total: i64,
    /// Events of each of the series' `groups`, in the same order.
    pub groups: Vec<i64>,
    /// Events of every group not in `groups` (0 without a split).
    pub other: i64,
}

/// Event counts over time.
#[derive(SimpleObject)]
pub struct EventSeries {
    /// The bucket size.
    pub bucket: BucketSize,
    /// The IANA time zone the buckets follow.
    pub time_zone: String,
    /// With a split, its largest groups over the whole range (largest first, ties by key).
    pub groups: Vec<SeriesGroup>,
    /// Every bucket of the range in time order, empty ones included.
    pub points: Vec<SeriesPoint>,
}

/// Time-series queries.
#[derive(Default)]
pub struct SeriesQuery;

#[Object]
impl SeriesQuery {
    /// Exact event counts per bucket over `[from, to)` (scope `read`): every bucket appears,
    /// empty ones with 0, and the counts include events the background job has not processed
    /// yet. Optionally split by a dimension into its `top` largest groups and "other".
    #[allow(clippy::too_many_arguments)]
    async fn event_series(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The bucket size.")] bucket: BucketSize,
        #[graphql(desc = "Start of the range (inclusive).")] from: DateTime,
        #[graphql(desc = "End of the range (exclusive).")] to: DateTime,
        #[graphql(
            desc = "IANA time zone whose clock the buckets follow, e.g. `Europe/Paris`; null or absent: UTC.",
            default_with = "Some(\"UTC\".to_string())"
        )]
        time_zone: Option<String>,
        #[graphql(desc = "Which events; absent: every event.")] filter: Option<SeriesFilter>,
        #[graphql(desc = "Split each bucket by this dimension; absent: totals only.")]
        split_by: Option<SeriesDimension>,
        #[graphql(
            desc = "With `splitBy`, how many of the largest groups to show apart from \"other\" (at most the configured maximum, 20 by default); null or absent: 5.",
            default_with = "Some(5)"
        )]
        top: Option<i32>,
    ) -> Result<EventSeries> {
        require(ctx, Scope::Read)?;
        let state = state(ctx);
        let limits = &state.settings.limits;
        let zone_name = time_zone.unwrap_or_else(|| "UTC".to_string());
        let split = match split_by {
            None => None,
            Some(dimension) => Some((
                dimension.into(),
                group_count(top, limits.max_series_groups)?,
            )),
        };
        let request = SeriesRequest {
            bucket: bucket.into(),
            from: from.instant("from")?,
            to: to.instant("to")?,
            zone: parse_zone(&zone_name)?,
            filter: filter.unwrap_or_default().parse()?,
            split,
        };
        let series = event_series(&state.db, &request, limits.max_series_buckets).await?;
        Ok(EventSeries {
            bucket,
            time_zone: zone_name,
            groups: series
                .groups
                .into_iter()
                .map(|(key, total)| SeriesGroup { key, total })
                .collect(),
            points: series
                .points
                .into_iter()
                .map(|p| SeriesPoint {
                    start: p.start.into(),
                    end: p.end.into(),
                    total: p.total,
                    groups: p.groups,
                    other: p.other,
                })
                .collect(),
        })
    }
}

/// The number of groups to keep apart, within `max`.
fn group_count(top: Option<i32>, max: usize) -> AppResult<usize> {
    let top = top.unwrap_or(5);
    if top < 0 {
        return Err(AppError::BadInput("`top` must not be negative".into()));
    }
    if top as usize > max {
        return Err(AppError::LimitExceeded(format!(
            "`top` is at most {max} (EYE_MAX_SERIES_GROUPS)"
        )));
    }
    Ok(top as usize)
}

impl SeriesFilter {
    fn parse(self) -> AppResult<series::SeriesFilter> {
        let application_id = filter_application_id(&self.application_id)?;
        Ok(series::SeriesFilter {
            session_id: self.session_id,
            category: self.category,
            name: self.name,
            application_id,
        })
    }
}
