//! Trusted clients: a request needs a valid key holding the operation's scope, and a refused
//! request changes nothing.

use serde_json::json;

use crate::helpers::{RECORD, pageview, spawn_app};

const READ: &str = "{ events { edges { cursor } } }";
const DEFINE: &str =
    "mutation { defineEventType(input: { category: \"c\", name: \"n\" }) { name } }";
const PROCESS: &str = "mutation { processEvents { eventsProcessed } }";

#[tokio::test]
async fn requests_without_a_valid_key_are_unauthenticated_and_change_nothing() {
    let app = spawn_app().await;
    let events = json!({ "events": [pageview("s", "2021-01-01T00:00:00Z")] });
    for key in [None, Some("wrong"), Some("eye_0000"), Some("")] {
        assert_eq!(
            app.error_code(key, RECORD, events.clone()).await,
            "UNAUTHENTICATED",
            "{key:?}"
        );
        assert_eq!(
            app.error_code(key, READ, json!({})).await,
            "UNAUTHENTICATED"
        );
    }
    let answer = app
        .client
        .post(format!("{}/graphql", app.url))
        .header("Authorization", format!("Basic {}", app.admin_key))
        .json(&json!({ "query": READ }))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(answer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert_eq!(app.table_count("events").await, 0);
    assert_eq!(app.table_count("event_errors").await, 0);
}

#[tokio::test]
async fn a_malformed_authorization_header_is_told_the_expected_form() {
    let app = spawn_app().await;
    let expected = "malformed Authorization header: expected `Authorization: Bearer <key>`, but";
    let cases = [
        (
            app.read_key.clone(),
            format!("{expected} it does not start with `Bearer `"),
        ),
        (
            format!("Basic {}", app.read_key),
            format!("{expected} it does not start with `Bearer `"),
        ),
        (
            "Bearer <paste your API key>".to_string(),
            format!(
                "{expected} it still holds the placeholder `<paste your API key>`: put your API \
                 key there"
            ),
        ),
        (
            "Bearer".to_string(),
            format!("{expected} it has no key after `Bearer `"),
        ),
        // Well-formed but unknown: the one answer shared with wrong and revoked keys.
        (
            "Bearer eye_0123456789abcdef".to_string(),
            "the API key is not valid or has been revoked".to_string(),
        ),
    ];
    let body = json!({ "query": READ }).to_string();
    for (header, message) in cases {
        let (status, _, answer) = app
            .post_raw(body.clone(), &[("authorization", header.as_bytes())])
            .await;
        assert_eq!(status, 200, "{header}");
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{header}"
        );
        assert_eq!(answer["errors"][0]["message"], message, "{header}");
    }
}

#[tokio::test]
async fn each_scope_allows_exactly_its_operations() {
    let app = spawn_app().await;
    let events = json!({ "events": [pageview("s", "2021-01-01T00:00:00Z")] });
    // ingest: may record, nothing else.
    assert_eq!(
        app.error_code(Some(&app.ingest_key), READ, json!({})).await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(
            Some(&app.ingest_key),
            "{ eventErrors { edges { cursor } } }",
            json!({})
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(Some(&app.ingest_key), "{ eventTypes { name } }", json!({}))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(Some(&app.ingest_key), DEFINE, json!({}))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(Some(&app.ingest_key), PROCESS, json!({}))
            .await,
        "FORBIDDEN"
    );
    // read: may query, not record or administer.
    assert_eq!(
        app.error_code(Some(&app.read_key), RECORD, events.clone())
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(Some(&app.read_key), DEFINE, json!({})).await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(Some(&app.read_key), PROCESS, json!({}))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(app.table_count("events").await, 0);
    assert_eq!(app.table_count("event_types").await, 3);
    // admin: everything.
    app.record_as(&app.admin_key, events["events"].clone())
        .await;
    app.ok(&app.admin_key, READ, json!({})).await;
    app.ok(&app.admin_key, DEFINE, json!({})).await;
    app.ok(&app.admin_key, PROCESS, json!({})).await;
    app.ok(&app.read_key, READ, json!({})).await;
    assert_eq!(app.table_count("events").await, 1);
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once() {
    let app = spawn_app().await;
    app.ok(&app.read_key, READ, json!({})).await;
    let backend = sea_orm::ConnectionTrait::get_database_backend(&app.db);
    sea_orm::ConnectionTrait::execute_raw(
        &app.db,
        sea_orm::Statement::from_string(
            backend,
            "UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP".to_string(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        app.error_code(Some(&app.read_key), READ, json!({})).await,
        "UNAUTHENTICATED"
    );
}
