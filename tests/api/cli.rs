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

fn stdout_of(args: &[String]) -> String {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = the_eye(&args);
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn apps_and_keys_are_managed_from_the_command_line() {
    let app = spawn_app().await;
    let url = app.database_url.clone();
    let with_db = |args: &[&str]| -> Vec<String> {
        args.iter()
            .map(|a| a.to_string())
            .chain(["--database-url".to_string(), url.clone()])
            .collect()
    };

    let created = stdout_of(&with_db(&[
        "app",
        "create",
        "kiosk",
        "--allow",
        "10.0.0.0/8",
    ]));
    assert!(created.contains("kiosk\t10.0.0.0/8"), "{created}");
    let allowed = stdout_of(&with_db(&[
        "app",
        "allow",
        "kiosk",
        "127.0.0.1",
        "10.0.0.0/8",
    ]));
    assert!(
        allowed.contains("kiosk\t10.0.0.0/8 127.0.0.1/32"),
        "{allowed}"
    );
    let listed = stdout_of(&with_db(&["app", "list"]));
    let names: Vec<&str> = listed
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap())
        .collect();
    assert_eq!(names, ["admin", "data team", "kiosk", "shop"]);

    let created = stdout_of(&with_db(&[
        "key", "create", "--app", "kiosk", "--scope", "read",
    ]));
    let old_key = created.lines().last().unwrap().trim().to_string();
    let rotated = stdout_of(&with_db(&["key", "rotate", &old_key[..12]]));
    let new_key = rotated.lines().last().unwrap().trim().to_string();
    assert_ne!(old_key, new_key);
    let read = "{ events { edges { cursor } } }";
    app.ok(&old_key, read, json!({})).await;
    app.ok(&new_key, read, json!({})).await;

    let keys = stdout_of(&with_db(&["key", "list", "--app", "kiosk"]));
    assert_eq!(keys.lines().count(), 2, "{keys}");
    assert!(!keys.contains(&old_key[12..]) && !keys.contains(&new_key[12..]));
    assert!(keys.contains(&old_key[..12]) && keys.contains("read"));

    let revoked = stdout_of(&with_db(&["key", "revoke", &old_key[..12]]));
    assert!(!revoked.contains("revoked -"), "{revoked}");
    assert_eq!(
        app.error_code(Some(&old_key), read, json!({})).await,
        "UNAUTHENTICATED"
    );
    app.ok(&new_key, read, json!({})).await;

    // Refusals leave the database as it was.
    for args in [
        &["app", "create", "kiosk"][..],
        &["app", "allow", "kiosk", "not-an-ip"],
        &["key", "revoke", "eye_ffffffff"],
    ] {
        let args = with_db(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert!(!the_eye(&args).status.success(), "{args:?}");
    }
    assert_eq!(app.table_count("applications").await, 4);
    assert_eq!(app.table_count("api_keys").await, 5);
}
