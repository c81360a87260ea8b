//! Export: `the-eye export` streams NDJSON that `the-eye import` loads into an empty database
//! as identical events, sessions and counts; CSV has a header and quoted fields; `GET /export`
//! streams NDJSON to a read key and resumes from a cursor.

use std::collections::BTreeMap;
use std::process::Command;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};

use crate::helpers::{event, fresh_database, spawn_app};

fn the_eye(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_the-eye"))
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// Every row of `sql` as text, one string per row, sorted.
async fn dump(db: &DatabaseConnection, sql: &str, columns: &[&str]) -> Vec<String> {
    let backend = db.get_database_backend();
    let mut out: Vec<String> = db
        .query_all_raw(Statement::from_string(backend, sql.to_string()))
        .await
        .unwrap()
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| {
                    row.try_get::<String>("", c)
                        .or_else(|_| row.try_get::<i64>("", c).map(|n| n.to_string()))
                        .or_else(|_| {
                            row.try_get::<chrono::DateTime<chrono::Utc>>("", c)
                                .map(|t| t.to_rfc3339())
                        })
                        .or_else(|_| row.try_get::<Value>("", c).map(|v| v.to_string()))
                        .unwrap_or_else(|e| panic!("{c}: {e}"))
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    out.sort();
    out
}

async fn everything(db: &DatabaseConnection) -> BTreeMap<&'static str, Vec<String>> {
    let tables: [(&str, &str, &[&str]); 4] = [
        (
            "events",
            "SELECT event_id, session_id, category, name, data, timestamp FROM events",
            &[
                "event_id",
                "session_id",
                "category",
                "name",
                "data",
                "timestamp",
            ],
        ),
        (
            "sessions",
            "SELECT session_id, first_seen, last_seen, event_count FROM sessions",
            &["session_id", "first_seen", "last_seen", "event_count"],
        ),
        (
            "session_type_counts",
            "SELECT session_id, category, name, event_count FROM session_type_counts",
            &["session_id", "category", "name", "event_count"],
        ),
        (
            "type_counts_hourly",
            "SELECT bucket_start, category, name, event_count FROM type_counts_hourly",
            &["bucket_start", "category", "name", "event_count"],
        ),
    ];
    let mut out = BTreeMap::new();
    for (table, sql, columns) in tables {
        out.insert(table, dump(db, sql, columns).await);
    }
    out
}

/// Events with awkward content: commas, quotes, line breaks and non-ASCII in `data`, ids given
/// and derived, several sessions, types and hours.
fn awkward_events() -> Value {
    let mut events: Vec<Value> = (0..40)
        .map(|i| {
            let at = format!("2021-01-0{}T{:02}:{:02}:07.25{i:02}Z", 1 + i % 3, i % 24, i);
            let id = format!("id-{i}");
            event(
                &format!("s{}", i % 4),
                "cat",
                &format!("n{}", i % 3),
                &at,
                (i % 5 != 0).then_some(id.as_str()),
            )
        })
        .collect();
    events.push(json!({
        "sessionId": "s,1 \"quoted\"", "category": "c", "name": "n",
        "data": { "text": "a,b \"c\"\nd — é ✓" }, "timestamp": "2021-01-02T00:00:00Z", "id": "x"
    }));
    json!(events)
}

#[tokio::test]
async fn export_then_import_into_an_empty_database_gives_identical_events_sessions_and_counts() {
    let app = spawn_app().await;
    assert_eq!(app.record(awkward_events()).await["accepted"], 41);
    app.process().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    let out = file.to_str().unwrap();
    the_eye(&[
        "export",
        "--format",
        "ndjson",
        "--out",
        out,
        "--database-url",
        &app.database_url,
    ]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 41);

    let target_database = fresh_database().await;
    let target = target_database.url.clone();
    let report = the_eye(&["import", out, "--app", "shop", "--database-url", &target]);
    assert!(
        report.contains("41 accepted, 0 duplicates, 0 rejected, 0 unreadable"),
        "{report}"
    );
    the_eye(&["process", "--database-url", &target]);
    let target_db = sea_orm::Database::connect(&target).await.unwrap();
    assert_eq!(everything(&app.db).await, everything(&target_db).await);

    // A second import is all duplicates: the ids travelled too.
    let report = the_eye(&["import", out, "--app", "shop", "--database-url", &target]);
    assert!(report.contains("0 accepted, 41 duplicates"), "{report}");
}

#[tokio::test]
async fn csv_export_has_a_header_and_quotes_awkward_fields() {
    let app = spawn_app().await;
    app.record(awkward_events()).await;
    let csv = the_eye(&[
        "export",
        "--format",
        "csv",
        "--session",
        "s,1 \"quoted\"",
        "--database-url",
        &app.database_url,
    ]);
    let mut lines = csv.split('\n');
    assert_eq!(
        lines.next().unwrap(),
        "id,sessionId,category,name,timestamp,data,application,receivedAt,cursor"
    );
    let row = lines.collect::<Vec<_>>().join("\n");
    assert!(
        row.starts_with(r#"x,"s,1 ""quoted""",c,n,2021-01-02T00:00:00.000000Z,"{""text"":""a,b \""c\""\nd — é ✓""}",shop,"#),
        "{row}"
    );
}

async fn get_export(
    app: &crate::helpers::TestApp,
    key: Option<&str>,
    query: &str,
) -> (u16, String, String) {
    let mut request = app.client.get(format!("{}/export{query}", app.url));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn http_export_streams_ndjson_and_resumes_from_the_last_cursor() {
    let app = spawn_app().await;
    app.record(awkward_events()).await;
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit=15&cursor={c}"),
            None => "?limit=15".to_string(),
        };
        let (status, content_type, body) = get_export(&app, Some(&app.read_key), &query).await;
        assert_eq!(
            (status, content_type.as_str()),
            (200, "application/x-ndjson")
        );
        let lines: Vec<Value> = body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if lines.is_empty() {
            break;
        }
        assert!(lines.len() <= 15);
        pages += 1;
        ids.extend(lines.iter().map(|l| l["id"].as_str().unwrap().to_string()));
        cursor = Some(
            lines.last().unwrap()["cursor"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        assert_eq!(lines[0]["application"], "shop");
    }
    assert_eq!(pages, 3, "15 + 15 + 11 events");
    let all: Vec<String> = app
        .events(Value::Null)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let mut sorted_ids = ids.clone();
    sorted_ids.sort();
    let mut sorted_all = all.clone();
    sorted_all.sort();
    assert_eq!(sorted_ids, sorted_all, "every event exactly once");

    let (_, _, body) = get_export(&app, Some(&app.read_key), "?sessionId=s1&name=n1").await;
    let expected = app
        .events(json!({ "sessionId": "s1", "name": "n1" }))
        .await
        .len();
    assert_eq!(body.lines().count(), expected);
    assert!(expected > 0);

    let cases = [
        (None, "", 401, "UNAUTHENTICATED"),
        (Some(app.ingest_key.as_str()), "", 403, "FORBIDDEN"),
        (
            Some(app.read_key.as_str()),
            "?cursor=nope",
            400,
            "BAD_USER_INPUT",
        ),
        (
            Some(app.read_key.as_str()),
            "?from=yesterday",
            400,
            "BAD_USER_INPUT",
        ),
        (
            Some(app.read_key.as_str()),
            "?unknown=1",
            400,
            "BAD_USER_INPUT",
        ),
    ];
    for (key, query, status, code) in cases {
        let (got, _, body) = get_export(&app, key, query).await;
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (
                got,
                body["errors"][0]["extensions"]["code"].as_str().unwrap()
            ),
            (status, code),
            "{query}"
        );
    }
}
