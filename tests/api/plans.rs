//! The main queries are served by indexes on both backends. Each plan is printed (run with
//! `--nocapture` to read them) and checked for the index it must use.
//!
//! PostgreSQL plans are taken with `enable_seqscan = off`: on a test-sized table a sequential
//! scan is cheaper and would hide whether an index can serve the query at all.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use the_eye::lifecycle::retention::old_events_statement;
use the_eye::processing::job::claim_statement;
use the_eye::query::EventFilter;
use the_eye::query::counts::{CountDimension, counts_statement};
use the_eye::query::events::{EventOrder, list_statement};

use crate::helpers::spawn_app;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

async fn plan(app: &crate::helpers::TestApp, statement: Statement) -> String {
    let backend = app.db.get_database_backend();
    let prefix = match backend {
        DbBackend::Sqlite => "EXPLAIN QUERY PLAN ",
        _ => "EXPLAIN ",
    };
    let explain = Statement::from_sql_and_values(
        backend,
        format!("{prefix}{}", statement.sql),
        statement.values.map(|v| v.0).unwrap_or_default(),
    );
    let txn = app.db.begin().await.unwrap();
    if backend == DbBackend::Postgres {
        txn.execute_unprepared("SET LOCAL enable_seqscan = off")
            .await
            .unwrap();
    }
    let rows = txn.query_all_raw(explain).await.unwrap();
    txn.rollback().await.unwrap();
    rows.iter()
        .map(|row| match backend {
            DbBackend::Sqlite => row.try_get::<String>("", "detail").unwrap(),
            _ => row.try_get::<String>("", "QUERY PLAN").unwrap(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_main_queries_use_indexes() {
    let app = spawn_app().await;
    let backend = app.db.get_database_backend();
    let hour = (
        Some(at("2021-01-01T09:00:00Z")),
        Some(at("2021-01-01T09:59:59Z")),
    );
    let events =
        |filter: EventFilter| list_statement(backend, &filter, EventOrder::TimestampAsc, None, 101);
    // Each query with the indexes that may serve it (an empty table makes several equally cheap).
    let cases: Vec<(&str, Statement, &[&str])> = vec![
        (
            "events of a session",
            events(EventFilter {
                session_id: Some("s".into()),
                ..Default::default()
            }),
            &["idx_events_session_time"],
        ),
        (
            "events of a category in one hour",
            events(EventFilter {
                category: Some("c".into()),
                from: hour.0,
                to: hour.1,
                ..Default::default()
            }),
            &["idx_events_category_time", "idx_events_time_covering"],
        ),
        (
            "events with a name",
            events(EventFilter {
                name: Some("n".into()),
                ..Default::default()
            }),
            &["idx_events_name_time"],
        ),
        (
            "events in a time range",
            events(EventFilter {
                from: hour.0,
                to: hour.1,
                ..Default::default()
            }),
            &["idx_events_time_covering"],
        ),
        (
            // The queue's primary key finds the claimed rows and gives them in order, unsorted.
            "claiming unprocessed events",
            claim_statement(backend, 5000),
            &["USING INTEGER PRIMARY KEY", "event_queue_pkey"],
        ),
        (
            // SQLite: by hour, then in arrival order, read in that order (no sort).
            "retention's oldest events of an application",
            old_events_statement(backend, 1, at("2021-01-21T12:00:00Z"), 500),
            match backend {
                DbBackend::Sqlite => &["idx_events_application_hour"],
                _ => &["idx_events_application_time"],
            },
        ),
        (
            "counts by category over a range",
            counts_statement(
                backend,
                CountDimension::Category,
                &EventFilter {
                    from: Some(at("2021-01-01T08:30:00Z")),
                    to: Some(at("2021-01-01T17:45:00Z")),
                    ..Default::default()
                },
                1000,
                None,
            ),
            &["type_counts_hourly"],
        ),
        (
            // One index range count per name, not a grouping of every event of the range
            // (PostgreSQL, on an empty table, may count from the covering time index instead).
            "counts by name within an hour",
            counts_statement(
                backend,
                CountDimension::Name,
                &EventFilter {
                    from: Some(at("2021-01-01T09:10:00Z")),
                    to: Some(at("2021-01-01T09:50:00Z")),
                    ..Default::default()
                },
                1000,
                None,
            ),
            match backend {
                DbBackend::Sqlite => &["idx_events_name_time"],
                _ => &["idx_events_name_time", "idx_events_time_covering"],
            },
        ),
    ];
    for (what, statement, indexes) in cases {
        let plan = plan(&app, statement).await;
        println!("-- {what} ({backend:?})\n{plan}\n");
        let served = indexes.iter().any(|index| plan.contains(index));
        assert!(served, "{what}: expected one of {indexes:?} in\n{plan}");
        let sorts = plan.contains("TEMP B-TREE FOR ORDER BY") || plan.contains("Sort Key");
        assert!(
            !(what.starts_with("claiming") && sorts),
            "{what}: sorts the queue instead of reading it in key order\n{plan}"
        );
        assert!(
            !(what.starts_with("retention") && backend == DbBackend::Sqlite && sorts),
            "{what}: sorts instead of reading the index in order\n{plan}"
        );
        if backend == DbBackend::Sqlite {
            if what == "events of a session" {
                // The session's key is looked up once, through the unique index on the id.
                assert!(
                    plan.contains(
                        "SEARCH session_keys USING COVERING INDEX uq_session_keys_session_id"
                    ),
                    "{what}: the key lookup in\n{plan}"
                );
            }
            // A whole table or a whole index read in place of a range: each part of a query
            // (see `the_eye::db::event_parts`) must search its own index.
            let full_scan = plan.lines().any(|line| {
                let line = line.trim();
                line == "SCAN events" || line.starts_with("SCAN events USING")
            });
            assert!(!full_scan, "{what}: full scan of events in\n{plan}");
        } else {
            assert!(
                !plan.contains("Seq Scan on events"),
                "{what}: full scan of events in\n{plan}"
            );
        }
    }
}

/// A month-long series counts the events the job has not processed yet by walking the job's
/// queue, not by checking every event of the month against it (one second on 10M events).
#[tokio::test]
async fn a_long_series_reads_unprocessed_events_from_the_queue() {
    use the_eye::query::series::{
        BucketSize, SeriesDimension, SeriesFilter, SeriesRequest, series_statement,
    };
    let app = spawn_app().await;
    let backend = app.db.get_database_backend();
    let request = SeriesRequest {
        bucket: BucketSize::Day,
        from: at("2021-01-01T00:00:00Z"),
        to: at("2021-01-31T00:00:00Z"),
        zone: chrono_tz::UTC,
        filter: SeriesFilter::default(),
        split: Some((SeriesDimension::Category, 5)),
    };
    let statement = series_statement(backend, &request, 1500).unwrap();
    assert!(
        !statement.sql.contains("EXISTS"),
        "no per-event check against the queue:\n{}",
        statement.sql
    );
    let plan = plan(&app, statement).await;
    println!("-- a month of days by category ({backend:?})\n{plan}\n");
    assert!(plan.contains("type_counts_hourly"), "aggregates in\n{plan}");
    if backend == DbBackend::Sqlite {
        assert!(
            plan.lines().any(|line| line.trim() == "SCAN q"),
            "the queue drives the unprocessed part in\n{plan}"
        );
        assert!(
            !plan.contains("idx_events_time"),
            "no walk of the month's events in\n{plan}"
        );
    }
}

/// On SQLite, `eventCounts(groupBy: SESSION)` has two statements of its own: without a filter
/// the largest sessions come from `idx_sessions_count` in its order (no sort of the sessions),
/// and the sessions with queued events from a walk of the queue; over a time range the
/// sessions' keys come from the covering time index, never from a scan of every event, and
/// are counted in the server.
#[tokio::test]
async fn session_counts_on_sqlite_read_indexes_in_order() {
    use the_eye::query::counts::{
        largest_sessions_statement, session_ids_statement, sessions_in_range_statement,
    };
    use the_eye::query::cursor::CountCursor;
    let app = spawn_app().await;
    if app.db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    let cursor = CountCursor {
        count: 7,
        key: "s3".into(),
    };
    for after in [None, Some(&cursor)] {
        let plan = plan(&app, largest_sessions_statement(1000, after)).await;
        println!("-- largest sessions, after {after:?}\n{plan}\n");
        assert!(plan.contains("idx_sessions_count"), "the index in\n{plan}");
        assert!(
            plan.lines().any(|line| line.trim() == "SCAN q"),
            "the queue drives the queued part in\n{plan}"
        );
        let sorts = plan.matches("TEMP B-TREE FOR ORDER BY").count();
        assert_eq!(sorts, 0, "no sort of the sessions in\n{plan}");
        // The sessions updated since they were ranked come from their small partial index.
        assert_eq!(
            plan.matches("SCAN sessions USING INDEX idx_sessions_unranked")
                .count(),
            2,
            "the unranked sessions, to skip and to count, in\n{plan}"
        );
        assert!(
            !plan.lines().any(|line| line.trim() == "SCAN sessions"),
            "no scan of every session in\n{plan}"
        );
    }
    let range = EventFilter {
        from: Some(at("2021-01-01T09:10:00Z")),
        to: Some(at("2021-01-01T10:09:59Z")),
        category: Some("page interaction".into()),
        ..Default::default()
    };
    let plan = plan(&app, sessions_in_range_statement(&range)).await;
    println!("-- sessions of a range\n{plan}\n");
    assert!(
        plan.contains("idx_events_"),
        "an index of events in\n{plan}"
    );
    assert!(
        !plan.lines().any(|line| line.trim() == "SCAN events"),
        "no scan of every event in\n{plan}"
    );
    let sorts = plan.matches("TEMP B-TREE").count();
    assert_eq!(sorts, 0, "no sort or grouping in SQLite in\n{plan}");
    let ids = self::plan(&app, session_ids_statement("[1, 2]".into())).await;
    println!("-- ids of a range's session keys\n{ids}\n");
    assert!(
        ids.contains("SEARCH k USING INTEGER PRIMARY KEY"),
        "each id looked up by key in\n{ids}"
    );
    assert_eq!(ids.matches("TEMP B-TREE").count(), 0, "no sort in\n{ids}");
}
