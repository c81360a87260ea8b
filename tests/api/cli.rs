//! The command line: `key create` prints a working key as its last line, and `serve` prints a
//! first admin key on an empty database.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::json;

use crate::helpers::{pageview, spawn_app};

fn the_eye(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_the-eye"))
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn key_create_prints_a_key_that_works_with_its_scopes() {
    let app = spawn_app().await;
    let output = the_eye(&[
        "key",
        "create",
        "--app",
        "blog",
        "--scope",
        "ingest",
        "--scope",
        "read",
        "--database-url",
        &app.database_url,
    ]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let key = stdout.lines().last().unwrap().trim().to_string();
    assert!(key.starts_with("eye_") && key.len() == 68, "{stdout}");

    let result = app
        .record_as(&key, json!([pageview("s", "2021-01-01T00:00:00Z")]))
        .await;
    assert_eq!(result["accepted"], 1);
    let data = app
        .ok(
            &key,
            "{ events { edges { node { application { name } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["events"]["edges"][0]["node"]["application"]["name"],
        "blog"
    );
    let code = app
        .error_code(
            Some(&key),
            "mutation { processEvents { batches } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
}

#[tokio::test]
async fn key_create_refuses_an_unknown_scope() {
    let app = spawn_app().await;
    let output = the_eye(&[
        "key",
        "create",
        "--app",
        "blog",
        "--scope",
        "root",
        "--database-url",
        &app.database_url,
    ]);
    assert!(!output.status.success());
    assert_eq!(app.table_count("api_keys").await, 3);
}

#[tokio::test]
async fn serve_on_an_empty_database_prints_an_admin_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("new.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_the-eye"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take_while(|l| !l.starts_with("GraphiQL"))
        .collect();
    let key = lines
        .iter()
        .map(|l| l.trim())
        .find(|l| l.starts_with("eye_"))
        .unwrap()
        .to_string();
    child.kill().unwrap();
    let _ = child.wait();

    // The printed key is an admin key of that database.
    let db = the_eye::db::connect(&the_eye::config::DatabaseSettings {
        database_url: url.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let auth = the_eye::auth::Authentication::from_header(
        &db,
        Some(&format!("Bearer {key}")),
        std::net::Ipv4Addr::LOCALHOST.into(),
    )
    .await;
    let caller = auth.require(the_eye::auth::Scope::Admin).unwrap();
    assert_eq!(caller.application_name, "admin");
}
