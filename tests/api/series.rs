//! `eventSeries`: every bucket of the range, each equal to a count of the stored rows in it,
//! in the caller's time zone (days of 23 and 25 hours across DST changes), split into the
//! largest groups and "other", and refused with `LIMIT_EXCEEDED` when too long.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{TestApp, event, spawn_app};

const SERIES: &str = "query Series($bucket: BucketSize!, $from: DateTime!, $to: DateTime!, $zone: String, $filter: SeriesFilter, $split: SeriesDimension, $top: Int) {
  eventSeries(bucket: $bucket, from: $from, to: $to, timeZone: $zone, filter: $filter, splitBy: $split, top: $top) {
    bucket timeZone groups { key total } points { start end total groups other }
  }
}";

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Every stored event as (timestamp, category, name, session, application name).
async fn stored(app: &TestApp) -> Vec<(DateTime<Utc>, String, String, String, String)> {
    let backend = app.db.get_database_backend();
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT e.timestamp, e.category, e.name, e.session_id, a.name AS app \
             FROM events e JOIN applications a ON a.id = e.application_id",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            (
                the_eye::db::read_event_time(backend, r, "timestamp").unwrap(),
                r.try_get("", "category").unwrap(),
                r.try_get("", "name").unwrap(),
                r.try_get("", "session_id").unwrap(),
                r.try_get("", "app").unwrap(),
            )
        })
        .collect()
}

/// Each point of a series as (start, length in hours, total).
fn buckets(series: &Value) -> Vec<(String, i64, i64)> {
    series["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let (s, e) = (
                at(p["start"].as_str().unwrap()),
                at(p["end"].as_str().unwrap()),
            );
            (
                p["start"].as_str().unwrap().to_string(),
                (e - s).num_hours(),
                p["total"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn series(app: &TestApp, variables: Value) -> Value {
    app.ok(&app.read_key, SERIES, variables).await["eventSeries"].clone()
}

/// Events over three days: hourly at :10 and :50 in two categories, some at exact hour and
/// day boundaries, half processed by the job and half left in its backlog.
async fn seed(app: &TestApp) {
    let start = at("2021-03-01T00:00:00Z");
    let mut batch = Vec::new();
    for hour in 0..72 {
        for (minute, name) in [(10, "pageview"), (50, "cta click"), (0, "submit")] {
            let t = start + TimeDelta::hours(hour) + TimeDelta::minutes(minute);
            let category = if name == "submit" {
                "form interaction"
            } else {
                "page interaction"
            };
            if name == "submit" && hour % 5 != 0 {
                continue;
            }
            batch.push(event(
                &format!("s{}", hour % 7),
                category,
                name,
                &stamp(t),
                None,
            ));
        }
        if batch.len() >= 100 || hour == 35 {
            app.record(json!(batch)).await;
            batch.clear();
            if hour == 35 {
                app.process().await;
            }
        }
    }
    app.record(json!(batch)).await;
}

/// Checks every point against the stored rows matching `keep`.
fn check_points(
    points: &Value,
    rows: &[(DateTime<Utc>, String, String, String, String)],
    keep: impl Fn(&(DateTime<Utc>, String, String, String, String)) -> bool,
) {
    for point in points.as_array().unwrap() {
        let (start, end) = (
            at(point["start"].as_str().unwrap()),
            at(point["end"].as_str().unwrap()),
        );
        let expected = rows
            .iter()
            .filter(|r| r.0 >= start && r.0 < end && keep(r))
            .count() as i64;
        assert_eq!(
            point["total"].as_i64().unwrap(),
            expected,
            "bucket {start}..{end}"
        );
    }
}

#[tokio::test]
async fn every_bucket_equals_the_stored_rows_in_it() {
    let app = spawn_app().await;
    seed(&app).await;
    let rows = stored(&app).await;
    assert_eq!(rows.len(), 72 * 2 + 15);
    for (bucket, from, to, buckets) in [
        ("DAY", "2021-03-01T00:00:00Z", "2021-03-04T00:00:00Z", 3),
        ("DAY", "2021-02-27T12:00:00Z", "2021-03-05T00:00:00Z", 6),
        ("HOUR", "2021-03-01T00:00:00Z", "2021-03-04T00:00:00Z", 72),
        ("HOUR", "2021-03-01T05:20:00Z", "2021-03-02T07:50:00Z", 27),
        ("MINUTE", "2021-03-02T10:00:00Z", "2021-03-02T11:00:00Z", 60),
    ] {
        let s = series(&app, json!({ "bucket": bucket, "from": from, "to": to })).await;
        let points = s["points"].as_array().unwrap();
        assert_eq!(points.len(), buckets, "{bucket} {from}..{to}");
        assert_eq!(points[0]["start"], stamp(at(from)));
        assert_eq!(points[buckets - 1]["end"], stamp(at(to)));
        check_points(&s["points"], &rows, |_| true);
        let sum: i64 = points.iter().map(|p| p["total"].as_i64().unwrap()).sum();
        let in_range = rows
            .iter()
            .filter(|r| r.0 >= at(from) && r.0 < at(to))
            .count() as i64;
        assert_eq!(sum, in_range, "{bucket} {from}..{to}");
    }
    let minutes = series(
        &app,
        json!({ "bucket": "MINUTE", "from": "2021-03-02T10:00:00Z", "to": "2021-03-02T11:00:00Z" }),
    )
    .await;
    let totals: Vec<i64> = minutes["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["total"].as_i64().unwrap())
        .collect();
    let mut expected = vec![0; 60];
    expected[0] = i64::from(34 % 5 == 0); // the submit at 10:00 is only sent every fifth hour
    expected[10] = 1;
    expected[50] = 1;
    assert_eq!(totals, expected, "zero-filled minutes");
}

#[tokio::test]
async fn filters_and_splits_keep_every_bucket_exact() {
    let app = spawn_app().await;
    seed(&app).await;
    let rows = stored(&app).await;
    let range =
        json!({ "bucket": "HOUR", "from": "2021-03-01T03:30:00Z", "to": "2021-03-02T20:00:00Z" });
    let with = |extra: Value| {
        let mut v = range.clone();
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    let by_name = series(&app, with(json!({ "filter": { "name": "cta click" } }))).await;
    check_points(&by_name["points"], &rows, |r| r.2 == "cta click");
    let by_session = series(&app, with(json!({ "filter": { "sessionId": "s3" } }))).await;
    check_points(&by_session["points"], &rows, |r| r.3 == "s3");

    let split = series(&app, with(json!({ "split": "SESSION", "top": 2 }))).await;
    check_points(&split["points"], &rows, |_| true);
    let groups: Vec<String> = split["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(groups.len(), 2);
    for point in split["points"].as_array().unwrap() {
        let (start, end) = (
            at(point["start"].as_str().unwrap()),
            at(point["end"].as_str().unwrap()),
        );
        for (i, key) in groups.iter().enumerate() {
            let expected = rows
                .iter()
                .filter(|r| r.0 >= start && r.0 < end && &r.3 == key)
                .count() as i64;
            assert_eq!(point["groups"][i].as_i64().unwrap(), expected);
        }
        let others = rows
            .iter()
            .filter(|r| r.0 >= start && r.0 < end && !groups.contains(&r.3))
            .count() as i64;
        assert_eq!(point["other"].as_i64().unwrap(), others);
    }
    let by_category = series(&app, with(json!({ "split": "CATEGORY" }))).await;
    assert_eq!(by_category["groups"][0]["key"], "page interaction");
    assert_eq!(by_category["groups"][1]["key"], "form interaction");
    let by_app = series(&app, with(json!({ "split": "APPLICATION" }))).await;
    let in_range = rows
        .iter()
        .filter(|r| r.0 >= at("2021-03-01T03:30:00Z") && r.0 < at("2021-03-02T20:00:00Z"))
        .count() as i64;
    assert_eq!(
        by_app["groups"],
        json!([{ "key": "shop", "total": in_range }])
    );
}

#[tokio::test]
async fn days_follow_the_time_zone_across_dst_changes() {
    let app = spawn_app().await;
    // Paris: 2021-03-28 has 23 hours, 2021-10-31 has 25.
    let times = [
        "2021-03-27T22:30:00Z", // 23:30 on the 27th in Paris
        "2021-03-27T23:30:00Z", // 00:30 on the 28th
        "2021-03-28T21:30:00Z", // 23:30 on the 28th (summer time)
        "2021-03-28T22:30:00Z", // 00:30 on the 29th
        "2021-10-30T22:30:00Z", // 00:30 on the 31st
        "2021-10-31T22:30:00Z", // 23:30 on the 31st (winter time)
        "2021-10-31T23:30:00Z", // 00:30 on November 1st
    ];
    let events: Vec<Value> = times
        .iter()
        .map(|t| event("s", "page interaction", "pageview", t, None))
        .collect();
    app.record(json!(events)).await;
    let spring = series(&app, json!({ "bucket": "DAY", "zone": "Europe/Paris", "from": "2021-03-26T23:00:00Z", "to": "2021-03-29T22:00:00Z" })).await;
    let shape = buckets(&spring);
    assert_eq!(
        shape,
        [
            ("2021-03-26T23:00:00.000000Z".to_string(), 24, 1),
            ("2021-03-27T23:00:00.000000Z".to_string(), 23, 2),
            ("2021-03-28T22:00:00.000000Z".to_string(), 24, 1),
        ]
    );
    let autumn = series(&app, json!({ "bucket": "DAY", "zone": "Europe/Paris", "from": "2021-10-30T22:00:00Z", "to": "2021-11-01T23:00:00Z" })).await;
    let shape: Vec<(i64, i64)> = buckets(&autumn)
        .into_iter()
        .map(|(_, hours, total)| (hours, total))
        .collect();
    assert_eq!(shape, [(25, 2), (24, 1)]);
    assert_eq!(autumn["timeZone"], "Europe/Paris");
    // Half-hour zones: hours start at :30 UTC in Kolkata.
    let india = series(&app, json!({ "bucket": "HOUR", "zone": "Asia/Kolkata", "from": "2021-03-27T22:00:00Z", "to": "2021-03-28T00:00:00Z" })).await;
    let totals: Vec<(String, i64)> = india["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["start"].as_str().unwrap().to_string(),
                p["total"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        totals,
        [
            ("2021-03-27T22:00:00.000000Z".to_string(), 0),
            ("2021-03-27T22:30:00.000000Z".to_string(), 1),
            ("2021-03-27T23:30:00.000000Z".to_string(), 1),
        ]
    );
}

#[tokio::test]
async fn bad_series_requests_get_stable_codes() {
    let app = spawn_app().await;
    let code = |v: Value| {
        let app = &app;
        async move { app.error_code(Some(&app.read_key), SERIES, v).await }
    };
    assert_eq!(code(json!({ "bucket": "MINUTE", "from": "2021-01-01T00:00:00Z", "to": "2021-01-03T00:00:00Z" })).await, "LIMIT_EXCEEDED");
    let answer = app.gql(Some(&app.read_key), SERIES, json!({ "bucket": "MINUTE", "from": "2021-01-01T00:00:00Z", "to": "2021-01-03T00:00:00Z" })).await;
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("EYE_MAX_SERIES_BUCKETS"),
        "{answer}"
    );
    assert_eq!(
        code(
            json!({ "bucket": "DAY", "from": "2021-01-02T00:00:00Z", "to": "2021-01-01T00:00:00Z" })
        )
        .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(code(json!({ "bucket": "DAY", "zone": "Mars/Olympus", "from": "2021-01-01T00:00:00Z", "to": "2021-01-02T00:00:00Z" })).await, "BAD_USER_INPUT");
    assert_eq!(code(json!({ "bucket": "DAY", "split": "NAME", "top": 21, "from": "2021-01-01T00:00:00Z", "to": "2021-01-02T00:00:00Z" })).await, "LIMIT_EXCEEDED");
    assert_eq!(
        app.error_code(
            Some(&app.ingest_key),
            SERIES,
            json!({ "bucket": "DAY", "from": "2021-01-01T00:00:00Z", "to": "2021-01-02T00:00:00Z" })
        )
        .await,
        "FORBIDDEN"
    );
}
