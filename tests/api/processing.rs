//! The background job: on demand, periodically, overlapping runs, and exactly-once counting.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{event, spawn_app, spawn_app_with};

fn batch(n: usize, offset: usize) -> Value {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let k = i + offset;
            event(
                &format!("s{}", k % 5),
                "c",
                &format!("n{}", k % 2),
                "2021-01-01T00:00:00Z",
                Some(&format!("e{k}")),
            )
        })
        .collect();
    json!(events)
}

#[tokio::test]
async fn process_events_reports_what_it_did_and_runs_once_per_event() {
    let app = spawn_app_with(|s| s.processing.process_batch_size = 7).await;
    app.record(batch(20, 0)).await;
    let report = app.process().await;
    assert_eq!(report["eventsProcessed"], 20);
    assert_eq!(report["batches"], 3, "7 + 7 + 6");
    assert!(report["durationMs"].as_i64().unwrap() >= 0);
    let again = app.process().await;
    assert_eq!(again["eventsProcessed"], 0);
    assert_eq!(again["batches"], 0);
    let sessions = app.counts("SESSION", json!({})).await;
    assert_eq!(
        sessions,
        [
            ("s0".into(), 4),
            ("s1".into(), 4),
            ("s2".into(), 4),
            ("s3".into(), 4),
            ("s4".into(), 4)
        ]
    );
    assert_eq!(app.table_count("sessions").await, 5);
}

#[tokio::test]
async fn the_job_runs_periodically_without_being_asked() {
    let app = spawn_app_with(|s| s.processing.process_interval_ms = 50).await;
    app.record(batch(10, 0)).await;
    let mut unprocessed = -1;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        unprocessed = count_unprocessed(&app).await;
        if unprocessed == 0 {
            break;
        }
    }
    assert_eq!(unprocessed, 0, "the periodic job processed every event");
    assert_eq!(app.table_count("sessions").await, 5);
}

async fn count_unprocessed(app: &crate::helpers::TestApp) -> i64 {
    let backend = sea_orm::ConnectionTrait::get_database_backend(&app.db);
    let row = sea_orm::ConnectionTrait::query_one_raw(
        &app.db,
        sea_orm::Statement::from_string(
            backend,
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM event_queue".to_string(),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    row.try_get("", "n").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_runs_count_every_event_exactly_once() {
    let app = Arc::new(spawn_app_with(|s| s.processing.process_batch_size = 13).await);
    let mut ingest = Vec::new();
    for round in 0..6 {
        let app = app.clone();
        ingest.push(tokio::spawn(async move {
            app.record(batch(50, round * 50)).await
        }));
    }
    let mut runs = Vec::new();
    for _ in 0..4 {
        let app = app.clone();
        runs.push(tokio::spawn(async move {
            app.process().await["eventsProcessed"].as_i64().unwrap()
        }));
    }
    for task in ingest {
        assert_eq!(task.await.unwrap()["accepted"], 50);
    }
    let mut processed: i64 = 0;
    for run in runs {
        processed += run.await.unwrap();
    }
    processed += app.process().await["eventsProcessed"].as_i64().unwrap();
    assert_eq!(processed, 300, "every event processed by exactly one run");
    assert_eq!(count_unprocessed(&app).await, 0);
    let by_session = app.counts("SESSION", json!({})).await;
    assert_eq!(by_session.iter().map(|(_, c)| c).sum::<i64>(), 300);
    assert!(by_session.iter().all(|(_, c)| *c == 60));
    let by_name = app.counts("NAME", json!({})).await;
    assert_eq!(by_name, [("n0".into(), 150), ("n1".into(), 150)]);
}

/// Several job loops in one instance (PostgreSQL; SQLite always runs one): steps of 7 events
/// taken side by side while requests keep arriving still count every event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_job_loops_count_every_event_exactly_once() {
    let app = Arc::new(
        spawn_app_with(|s| {
            s.processing.process_workers = 4;
            s.processing.process_batch_size = 7;
            s.processing.process_interval_ms = 10;
        })
        .await,
    );
    let mut ingest = Vec::new();
    for round in 0..8 {
        let app = app.clone();
        ingest.push(tokio::spawn(async move {
            app.record(batch(50, round * 50)).await
        }));
    }
    for task in ingest {
        assert_eq!(task.await.unwrap()["accepted"], 50);
    }
    let mut unprocessed = -1;
    for _ in 0..400 {
        unprocessed = count_unprocessed(&app).await;
        if unprocessed == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(unprocessed, 0, "the loops processed every event");
    let again = app.process().await;
    assert_eq!(
        again["eventsProcessed"], 0,
        "nothing was left for a manual run"
    );
    let by_session = app.counts("SESSION", json!({})).await;
    assert_eq!(
        by_session,
        [
            ("s0".into(), 80),
            ("s1".into(), 80),
            ("s2".into(), 80),
            ("s3".into(), 80),
            ("s4".into(), 80)
        ]
    );
    let by_name = app.counts("NAME", json!({})).await;
    assert_eq!(by_name, [("n0".into(), 200), ("n1".into(), 200)]);
    assert_eq!(app.table_count("sessions").await, 5);
}

#[tokio::test]
async fn a_restarted_server_continues_where_it_stopped() {
    let mut app = spawn_app().await;
    app.record(batch(30, 0)).await;
    app.process().await;
    app.record(batch(20, 30)).await;
    let database_url = app.database_url.clone();
    app.stop().await;

    // The `process` command on the same database finishes the remaining work only.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_the-eye"))
        .args(["process", "--database-url", &database_url])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.starts_with("processed 20 events"), "{stdout}");
}

#[tokio::test]
async fn upgrading_moves_unprocessed_events_into_the_queue() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::ConnectionTrait;

    // A database as the previous release left it: one event already aggregated, two waiting
    // behind the old `processed` flag.
    let database = crate::helpers::fresh_database().await;
    let url = database.url.clone();
    let db = sea_orm::Database::connect(&url).await.unwrap();
    Migrator::up(&db, Some(4)).await.unwrap();
    for statement in [
        "INSERT INTO applications (name, created_at) VALUES ('shop', '2021-01-01T00:00:00Z')",
        "INSERT INTO events (event_id, application_id, session_id, category, name, data, timestamp, received_at, processed) VALUES \
         ('done', 1, 's', 'c', 'n', '{}', '2021-01-01T00:00:00Z', '2021-01-01T00:00:00Z', TRUE), \
         ('wait1', 1, 's', 'c', 'n', '{}', '2021-01-01T00:00:01Z', '2021-01-01T00:00:01Z', FALSE), \
         ('wait2', 1, 't', 'c', 'n', '{}', '2021-01-01T00:00:02Z', '2021-01-01T00:00:02Z', FALSE)",
        "INSERT INTO sessions (session_id, first_seen, last_seen, event_count) VALUES \
         ('s', '2021-01-01T00:00:00Z', '2021-01-01T00:00:00Z', 1)",
    ] {
        db.execute_unprepared(statement).await.unwrap();
    }
    Migrator::up(&db, None).await.unwrap();
    let query = |sql: &'static str| {
        let db = &db;
        async move {
            let statement = sea_orm::Statement::from_string(db.get_database_backend(), sql);
            db.query_all_raw(statement).await.unwrap()
        }
    };
    let queued: Vec<String> =
        query("SELECT e.event_id FROM event_queue q JOIN events e ON e.seq = q.seq ORDER BY q.seq")
            .await
            .iter()
            .map(|row| row.try_get("", "event_id").unwrap())
            .collect();
    assert_eq!(queued, ["wait1", "wait2"]);
    let settings = the_eye::config::ProcessingSettings {
        process_batch_size: 100,
        ..Default::default()
    };
    let report = the_eye::processing::job::run_until_idle(&db, &settings)
        .await
        .unwrap();
    assert_eq!(report.events_processed, 2, "only the waiting events");
    let sessions: Vec<(String, i64)> = query(
        "SELECT session_id, CAST(event_count AS BIGINT) AS n FROM sessions ORDER BY session_id",
    )
    .await
    .iter()
    .map(|row| {
        (
            row.try_get("", "session_id").unwrap(),
            row.try_get("", "n").unwrap(),
        )
    })
    .collect();
    assert_eq!(sessions, [("s".to_string(), 2), ("t".to_string(), 1)]);
}

/// SQLite's event time moves from the driver's text to integer microseconds
/// (`m20261201_000001`): every format the driver wrote converts exactly, the tables keep their
/// indexes and `events` its `AUTOINCREMENT` high-water mark, and reverting restores the text.
#[tokio::test]
async fn upgrading_sqlite_stores_event_time_as_integer_microseconds() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, DbBackend};

    let database = crate::helpers::fresh_database().await;
    let db = sea_orm::Database::connect(&database.url).await.unwrap();
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    Migrator::up(&db, Some(6)).await.unwrap();
    // (stored text, microseconds since 1970): no fraction, milli-, micro- and nanoseconds, `Z`,
    // before 1970.
    let instants = [
        ("2021-01-01T00:00:00+00:00", 1_609_459_200_000_000_i64),
        ("2021-01-01T00:00:00.5+00:00", 1_609_459_200_500_000),
        ("2021-01-01T09:15:27.243+00:00", 1_609_492_527_243_000),
        ("2021-01-01T09:15:27.243860+00:00", 1_609_492_527_243_860),
        ("2021-01-01T09:15:27.243860999+00:00", 1_609_492_527_243_860),
        ("2021-01-01T09:15:27.000001Z", 1_609_492_527_000_001),
        ("1969-12-31T23:59:59.5+00:00", -500_000),
    ];
    let mut statements = vec![
        "INSERT INTO applications (name, created_at) VALUES ('shop', '2021-01-01T00:00:00Z')"
            .to_string(),
    ];
    for (i, (text, _)) in instants.iter().enumerate() {
        statements.push(format!(
            "INSERT INTO events (event_id, application_id, session_id, category, name, data, \
             timestamp, received_at) VALUES ('e{i}', 1, 's', 'c', 'n', '{{}}', '{text}', \
             '2021-01-02T00:00:00+00:00')"
        ));
    }
    statements.extend([
        // The newest event was erased: its `seq` must not be handed out again.
        "UPDATE sqlite_sequence SET seq = 40 WHERE name = 'events'".to_string(),
        "INSERT INTO sessions (session_id, first_seen, last_seen, event_count) VALUES \
         ('s', '2021-01-01T00:00:00+00:00', '2021-01-01T09:15:27.243860+00:00', 6)"
            .to_string(),
        "INSERT INTO type_counts_hourly (bucket_start, category, name, event_count) VALUES \
         ('2021-01-01T09:00:00+00:00', 'c', 'n', 4)"
            .to_string(),
    ]);
    for statement in &statements {
        db.execute_unprepared(statement).await.unwrap();
    }
    let query = |sql: &'static str| {
        let db = &db;
        async move {
            let statement = sea_orm::Statement::from_string(DbBackend::Sqlite, sql);
            db.query_all_raw(statement).await.unwrap()
        }
    };
    let indexes = || async {
        query("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name")
            .await
            .iter()
            .map(|row| row.try_get::<String>("", "name").unwrap())
            .collect::<Vec<_>>()
    };
    let indexes_before = indexes().await;

    Migrator::up(&db, Some(1)).await.unwrap();
    let stored: Vec<(String, i64)> = query(
        "SELECT event_id, timestamp FROM events WHERE typeof(timestamp) = 'integer' ORDER BY seq",
    )
    .await
    .iter()
    .map(|row| {
        (
            row.try_get("", "event_id").unwrap(),
            row.try_get("", "timestamp").unwrap(),
        )
    })
    .collect();
    let expected: Vec<(String, i64)> = instants
        .iter()
        .enumerate()
        .map(|(i, (_, micros))| (format!("e{i}"), *micros))
        .collect();
    assert_eq!(stored, expected);
    let aggregates: Vec<(i64, i64, i64)> = query(
        "SELECT s.first_seen AS f, s.last_seen AS l, h.bucket_start AS b \
         FROM sessions s, type_counts_hourly h",
    )
    .await
    .iter()
    .map(|row| {
        (
            row.try_get("", "f").unwrap(),
            row.try_get("", "l").unwrap(),
            row.try_get("", "b").unwrap(),
        )
    })
    .collect();
    assert_eq!(
        aggregates,
        [(
            1_609_459_200_000_000,
            1_609_492_527_243_860,
            1_609_491_600_000_000
        )]
    );
    assert_eq!(
        indexes().await,
        indexes_before,
        "every index is there again"
    );
    let high_water: Vec<i64> = query("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
        .await
        .iter()
        .map(|row| row.try_get("", "seq").unwrap())
        .collect();
    assert_eq!(high_water, [40]);
    // The service reads what the migration wrote, once the later migrations have run too.
    let later = Migrator::migrations().len() as u32 - 7;
    Migrator::up(&db, None).await.unwrap();
    let page = the_eye::query::events::list_events(
        &db,
        &the_eye::query::EventFilter::default(),
        the_eye::query::events::EventOrder::TimestampDesc,
        1,
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        page.items[0].event.timestamp.timestamp_micros(),
        1_609_492_527_243_860
    );

    // Reverting restores the driver's own text for each instant (what the previous release
    // compares and upserts as keys), to the microsecond.
    Migrator::down(&db, Some(later + 1)).await.unwrap();
    let reverted: Vec<String> =
        query("SELECT timestamp FROM events WHERE typeof(timestamp) = 'text' ORDER BY seq")
            .await
            .iter()
            .map(|row| row.try_get("", "timestamp").unwrap())
            .collect();
    let as_the_driver_writes: Vec<String> = instants
        .iter()
        .map(|(_, micros)| {
            chrono::DateTime::from_timestamp_micros(*micros)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
        })
        .collect();
    assert_eq!(reverted, as_the_driver_writes);
    let hours: Vec<String> = query("SELECT bucket_start FROM type_counts_hourly")
        .await
        .iter()
        .map(|row| row.try_get("", "bucket_start").unwrap())
        .collect();
    assert_eq!(hours, ["2021-01-01T09:00:00+00:00"]);
}

#[tokio::test]
async fn upgrading_sqlite_gives_each_session_an_integer_key_in_the_indexes() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, DbBackend};

    let database = crate::helpers::fresh_database().await;
    let db = sea_orm::Database::connect(&database.url).await.unwrap();
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    Migrator::up(&db, Some(7)).await.unwrap();
    let mut statements = vec![
        "INSERT INTO applications (name, created_at) VALUES ('shop', '2021-01-01T00:00:00Z')"
            .to_string(),
    ];
    // Session `b` first, so keys are not simply in order of arrival.
    for (i, session) in ["b", "a", "b", "c", "a", "b"].iter().enumerate() {
        statements.push(format!(
            "INSERT INTO events (event_id, application_id, session_id, category, name, data, \
             timestamp, received_at) VALUES ('e{i}', 1, '{session}', 'c', 'n', '{{}}', \
             {}, '2021-01-02T00:00:00+00:00')",
            1_609_459_200_000_000_i64 + i as i64
        ));
    }
    // The newest event was erased: its `seq` must not be handed out again.
    statements.push("UPDATE sqlite_sequence SET seq = 40 WHERE name = 'events'".to_string());
    for statement in &statements {
        db.execute_unprepared(statement).await.unwrap();
    }
    let query = |sql: &'static str| {
        let db = &db;
        async move {
            let statement = sea_orm::Statement::from_string(DbBackend::Sqlite, sql);
            db.query_all_raw(statement).await.unwrap()
        }
    };
    let strings = |sql: &'static str| async move {
        query(sql)
            .await
            .iter()
            .map(|row| row.try_get::<String>("", "v").unwrap())
            .collect::<Vec<_>>()
    };
    let indexes_before =
        strings("SELECT name AS v FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").await;
    let rows_before = strings(
        "SELECT json_array(seq, event_id, session_id, timestamp) AS v FROM events ORDER BY seq",
    )
    .await;

    Migrator::up(&db, Some(1)).await.unwrap();
    assert_eq!(
        strings("SELECT session_id AS v FROM session_keys ORDER BY id").await,
        ["a", "b", "c"]
    );
    assert_eq!(
        strings(
            "SELECT e.event_id || ':' || k.session_id AS v FROM events e \
             LEFT JOIN session_keys k ON k.id = e.session_key ORDER BY e.seq"
        )
        .await,
        ["e0:b", "e1:a", "e2:b", "e3:c", "e4:a", "e5:b"],
        "every event refers to its own session's key"
    );
    assert_eq!(
        strings(
            "SELECT json_array(seq, event_id, session_id, timestamp) AS v FROM events ORDER BY seq"
        )
        .await,
        rows_before
    );
    let mut expected_indexes = indexes_before.clone();
    expected_indexes.push("uq_session_keys_session_id".into());
    expected_indexes.sort();
    assert_eq!(
        strings("SELECT name AS v FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").await,
        expected_indexes
    );
    assert_eq!(
        strings(
            "SELECT group_concat(name, ',') AS v FROM (SELECT name FROM pragma_index_info('idx_events_session_time') ORDER BY seqno)"
        )
        .await,
        ["session_key,timestamp,seq"]
    );
    assert_eq!(
        strings(
            "SELECT group_concat(name, ',') AS v FROM (SELECT name FROM pragma_index_info('idx_events_time_covering') ORDER BY seqno)"
        )
        .await,
        ["timestamp,seq,category,name,session_key"]
    );
    assert_eq!(
        strings("SELECT CAST(seq AS TEXT) AS v FROM sqlite_sequence WHERE name = 'events'").await,
        ["40"]
    );
    // An event must name a session that has a key.
    let orphan = db
        .execute_unprepared(
            "INSERT INTO events (event_id, application_id, session_id, category, name, data, \
             timestamp, received_at, session_key) VALUES ('x', 1, 'z', 'c', 'n', '{}', 0, \
             '2021-01-02T00:00:00+00:00', 999)",
        )
        .await;
    assert!(orphan.is_err(), "{orphan:?}");
    // The service finds a session's events through the key, once the later migrations have
    // run too.
    let later = Migrator::migrations().len() as u32 - 8;
    Migrator::up(&db, None).await.unwrap();
    let filter = the_eye::query::EventFilter {
        session_id: Some("b".into()),
        ..Default::default()
    };
    let page = the_eye::query::events::list_events(
        &db,
        &filter,
        the_eye::query::events::EventOrder::TimestampAsc,
        10,
        None,
    )
    .await
    .unwrap();
    let ids: Vec<&str> = page
        .items
        .iter()
        .map(|i| i.event.event_id.as_str())
        .collect();
    assert_eq!(ids, ["e0", "e2", "e5"]);

    // Reverting drops the keys and indexes the id again, rows untouched.
    Migrator::down(&db, Some(later + 1)).await.unwrap();
    assert_eq!(
        strings(
            "SELECT json_array(seq, event_id, session_id, timestamp) AS v FROM events ORDER BY seq"
        )
        .await,
        rows_before
    );
    assert_eq!(
        strings("SELECT name AS v FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").await,
        indexes_before
    );
    assert_eq!(
        strings(
            "SELECT group_concat(name, ',') AS v FROM (SELECT name FROM pragma_index_info('idx_events_session_time') ORDER BY seqno)"
        )
        .await,
        ["session_id,timestamp,seq"]
    );
    assert_eq!(
        strings("SELECT name AS v FROM pragma_table_info('session_keys')").await,
        Vec::<String>::new()
    );
    assert_eq!(
        strings("SELECT CAST(seq AS TEXT) AS v FROM sqlite_sequence WHERE name = 'events'").await,
        ["40"]
    );
}

/// SQLite's per-session aggregates are keyed by the session's integer key
/// (`m20261202_000001`): the same rows, each under its own session's key, `sessions` one
/// B-tree (the key is its rowid) and the two others without rowid, the count index kept, and
/// a key that is not a session's refused; reverting gives back the text-keyed tables.
#[tokio::test]
async fn upgrading_sqlite_keys_the_session_aggregates_by_session_key() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, DbBackend};

    let database = crate::helpers::fresh_database().await;
    let db = sea_orm::Database::connect(&database.url).await.unwrap();
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    Migrator::up(&db, Some(8)).await.unwrap();
    for statement in [
        // Keys in another order than the ids; session `d` has aggregates but no key yet.
        "INSERT INTO session_keys (id, session_id) VALUES (1, 'c'), (2, 'a'), (3, 'b')",
        "INSERT INTO sessions (session_id, first_seen, last_seen, event_count) VALUES \
         ('b', 10, 20, 2), ('a', 5, 5, 1), ('c', 7, 9, 3), ('d', 1, 1, 1)",
        "INSERT INTO session_applications (session_id, application_id) VALUES \
         ('b', 2), ('b', 1), ('a', 1), ('d', 1)",
        "INSERT INTO session_type_counts (session_id, category, name, event_count) VALUES \
         ('b', 'c', 'n', 1), ('a', 'c', 'm', 1), ('b', 'c', 'm', 1), ('c', 'd', 'n', 3), \
         ('d', 'c', 'n', 1)",
    ] {
        db.execute_unprepared(statement).await.unwrap();
    }
    let strings = |sql: &'static str| {
        let db = &db;
        async move {
            db.query_all_raw(sea_orm::Statement::from_string(DbBackend::Sqlite, sql))
                .await
                .unwrap()
                .iter()
                .map(|row| row.try_get::<String>("", "v").unwrap())
                .collect::<Vec<_>>()
        }
    };
    let sessions = "SELECT json_array(session_id, first_seen, last_seen, event_count) AS v \
                    FROM sessions ORDER BY session_id";
    let types = "SELECT json_array(session_id, category, name, event_count) AS v \
                 FROM session_type_counts ORDER BY session_id, category, name";
    let sessions_before = strings(sessions).await;
    let types_before = strings(types).await;
    let pairs_before = strings(
        "SELECT session_id || ':' || application_id AS v FROM session_applications ORDER BY 1",
    )
    .await;

    Migrator::up(&db, Some(1)).await.unwrap();
    assert_eq!(strings(sessions).await, sessions_before);
    assert_eq!(strings(types).await, types_before);
    assert_eq!(
        strings(
            "SELECT k.session_id || ':' || p.application_id AS v FROM session_applications p \
             JOIN session_keys k ON k.id = p.session_key ORDER BY 1"
        )
        .await,
        pairs_before
    );
    // Every row under its own session's key; `d` got the next key.
    assert_eq!(
        strings(
            "SELECT s.session_id || ':' || s.session_key AS v FROM sessions s \
             JOIN session_keys k ON k.id = s.session_key AND k.session_id = s.session_id \
             ORDER BY s.session_key"
        )
        .await,
        ["c:1", "a:2", "b:3", "d:4"]
    );
    assert_eq!(
        strings(
            "SELECT CAST(count(*) AS TEXT) AS v FROM session_type_counts t JOIN session_keys k \
             ON k.id = t.session_key AND k.session_id = t.session_id"
        )
        .await,
        ["5"]
    );
    assert_eq!(
        strings(
            "SELECT name || ' ON ' || tbl_name AS v FROM sqlite_master WHERE type = 'index' \
             AND tbl_name IN ('sessions', 'session_applications', 'session_type_counts') \
             ORDER BY name"
        )
        .await,
        ["idx_sessions_count ON sessions"]
    );
    assert_eq!(
        strings(
            "SELECT name || CASE WHEN sql LIKE '%WITHOUT ROWID' THEN ' without rowid' ELSE '' END \
             AS v FROM sqlite_master WHERE name IN ('sessions', 'session_applications', \
             'session_type_counts') ORDER BY name"
        )
        .await,
        [
            "session_applications without rowid",
            "session_type_counts without rowid",
            "sessions"
        ]
    );
    // A key must be a session's.
    let orphan = db
        .execute_unprepared(
            "INSERT INTO sessions (session_key, session_id, first_seen, last_seen, event_count) \
             VALUES (99, 'z', 1, 1, 1)",
        )
        .await;
    assert!(orphan.is_err(), "{orphan:?}");
    // The service reads a session's summary and applications through the key.
    let summary = the_eye::query::sessions::get_session(&db, "b")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.event_count, 2);
    // Forgetting keys skips one that aggregates still use (`d` has no events) instead of
    // failing on the foreign key, and removes one nothing uses.
    db.execute_unprepared("INSERT INTO session_keys (session_id) VALUES ('unused')")
        .await
        .unwrap();
    the_eye::db::forget_sessions(&db, &["d".to_string(), "unused".to_string()])
        .await
        .unwrap();
    assert_eq!(
        strings("SELECT session_id AS v FROM session_keys ORDER BY id").await,
        ["c", "a", "b", "d"]
    );

    Migrator::down(&db, Some(1)).await.unwrap();
    assert_eq!(strings(sessions).await, sessions_before);
    assert_eq!(strings(types).await, types_before);
    assert_eq!(
        strings(
            "SELECT session_id || ':' || application_id AS v FROM session_applications ORDER BY 1"
        )
        .await,
        pairs_before
    );
    assert_eq!(
        strings(
            "SELECT name AS v FROM sqlite_master WHERE type = 'index' AND tbl_name IN \
             ('sessions', 'session_applications', 'session_type_counts') ORDER BY name"
        )
        .await,
        [
            "idx_sessions_count",
            "sqlite_autoindex_session_applications_1",
            "sqlite_autoindex_session_type_counts_1",
            "sqlite_autoindex_sessions_1"
        ]
    );
}

/// On SQLite retention's index orders an application's events by hour, then by arrival
/// (`m20261203_000001`); reverting gives back `(application_id, timestamp, seq)`. PostgreSQL
/// keeps its index.
#[tokio::test]
async fn upgrading_sqlite_orders_retentions_index_by_hour_then_arrival() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, DbBackend};

    let database = crate::helpers::fresh_database().await;
    let db = sea_orm::Database::connect(&database.url).await.unwrap();
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    let indexes = || {
        let db = &db;
        async move {
            let sql = "SELECT name || ': ' || sql AS v FROM sqlite_master WHERE type = 'index' \
                       AND name LIKE 'idx_events_application%'";
            db.query_all_raw(sea_orm::Statement::from_string(DbBackend::Sqlite, sql))
                .await
                .unwrap()
                .iter()
                .map(|row| row.try_get::<String>("", "v").unwrap())
                .collect::<Vec<_>>()
        }
    };
    Migrator::up(&db, Some(9)).await.unwrap();
    let before = indexes().await;
    assert_eq!(
        before,
        [
            "idx_events_application_time: CREATE INDEX \"idx_events_application_time\" ON \
          \"events\" (\"application_id\", \"timestamp\", \"seq\")"
        ]
    );
    Migrator::up(&db, Some(1)).await.unwrap();
    assert_eq!(
        indexes().await,
        [
            "idx_events_application_hour: CREATE INDEX idx_events_application_hour ON events \
          (application_id, timestamp / 3600000000, seq, timestamp)"
        ]
    );
    Migrator::down(&db, Some(1)).await.unwrap();
    assert_eq!(indexes().await, before);
}

/// On SQLite the three time-keyed indexes become partial, `WHERE NOT pending`, and events
/// stored before the upgrade count as merged (`m20261203_000002`); reverting makes them whole
/// again and drops the column.
#[tokio::test]
async fn upgrading_sqlite_defers_the_time_indexes_to_the_job() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, DbBackend};

    let database = crate::helpers::fresh_database().await;
    let db = sea_orm::Database::connect(&database.url).await.unwrap();
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    let strings = |sql: &'static str| {
        let db = &db;
        async move {
            db.query_all_raw(sea_orm::Statement::from_string(DbBackend::Sqlite, sql))
                .await
                .unwrap()
                .iter()
                .map(|row| row.try_get::<String>("", "v").unwrap())
                .collect::<Vec<_>>()
        }
    };
    let indexes = "SELECT name || ': ' || sql AS v FROM sqlite_master WHERE type = 'index' \
                   AND name IN ('idx_events_time_covering', 'idx_events_category_time', \
                   'idx_events_name_time', 'idx_events_pending') ORDER BY name";
    Migrator::up(&db, Some(10)).await.unwrap();
    for statement in [
        "INSERT INTO applications (id, name, created_at) VALUES (1, 'a', '2021-01-01T00:00:00Z')",
        "INSERT INTO session_keys (id, session_id) VALUES (1, 's')",
        "INSERT INTO events (event_id, application_id, session_id, session_key, category, name, \
         data, timestamp, received_at) VALUES ('e1', 1, 's', 1, 'c', 'n', '{}', 5, \
         '2021-01-01T00:00:00Z')",
    ] {
        db.execute_unprepared(statement).await.unwrap();
    }
    let before = strings(indexes).await;
    assert_eq!(before.len(), 3);

    Migrator::up(&db, Some(1)).await.unwrap();
    assert_eq!(
        strings(indexes).await,
        [
            "idx_events_category_time: CREATE INDEX idx_events_category_time ON events \
             (category, timestamp, seq) WHERE NOT pending",
            "idx_events_name_time: CREATE INDEX idx_events_name_time ON events \
             (name, timestamp, seq) WHERE NOT pending",
            "idx_events_pending: CREATE INDEX idx_events_pending ON events (seq) WHERE pending",
            "idx_events_time_covering: CREATE INDEX idx_events_time_covering ON events \
             (timestamp, seq, category, name, session_key) WHERE NOT pending",
        ]
    );
    assert_eq!(
        strings("SELECT event_id || ':' || pending AS v FROM events").await,
        ["e1:0"]
    );

    Migrator::down(&db, Some(1)).await.unwrap();
    assert_eq!(
        strings(indexes).await,
        [
            "idx_events_category_time: CREATE INDEX idx_events_category_time ON events \
             (category, timestamp, seq)",
            "idx_events_name_time: CREATE INDEX idx_events_name_time ON events \
             (name, timestamp, seq)",
            "idx_events_time_covering: CREATE INDEX idx_events_time_covering ON events \
             (timestamp, seq, category, name, session_key)",
        ]
    );
    assert!(
        strings("SELECT name AS v FROM pragma_table_info('events')")
            .await
            .iter()
            .all(|column| column != "pending")
    );
}
