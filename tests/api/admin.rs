//! Administration of trusted clients over GraphQL: applications with allowlists, keys issued
//! once, listed without secrets, rotated without downtime and revoked at once.

use serde_json::{Value, json};

use crate::helpers::{TestApp, pageview, spawn_app_at_with, spawn_app_with};

const CREATE_APP: &str = "mutation($name: String!, $ips: [String!]) { createApplication(input: {name: $name, allowedIps: $ips}) { id name allowedIps } }";
const CREATE_KEY: &str = "mutation($app: ID!, $scopes: [Scope!]!) { createApiKey(input: {applicationId: $app, scopes: $scopes}) { key apiKey { id prefix scopes createdAt lastUsedAt revokedAt application { id name } } } }";
const KEYS: &str = "query($app: ID) { apiKeys(applicationId: $app) { id prefix scopes lastUsedAt revokedAt application { name } } }";
const READ: &str = "{ events { edges { cursor } } }";

async fn spawn() -> TestApp {
    spawn_app_with(|s| s.security.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await
}

async fn create_key(app: &TestApp, application: &Value, scopes: &[&str]) -> (String, Value) {
    let data = app
        .ok(
            &app.admin_key,
            CREATE_KEY,
            json!({ "app": application["id"], "scopes": scopes }),
        )
        .await;
    let payload = &data["createApiKey"];
    (
        payload["key"].as_str().unwrap().to_string(),
        payload["apiKey"].clone(),
    )
}

async fn read_from(app: &TestApp, key: &str, address: &str) -> (u16, Value) {
    let auth = format!("Bearer {key}");
    let (status, _, answer) = app
        .post_raw(
            json!({ "query": READ }).to_string(),
            &[
                ("authorization", auth.as_bytes()),
                ("x-forwarded-for", address.as_bytes()),
            ],
        )
        .await;
    (status, answer)
}

#[tokio::test]
async fn an_admin_creates_an_application_and_a_key_shown_once() {
    // The server's clock is pinned, so the key's last use has an exact value.
    let now = "2026-01-02T03:04:05.678901Z";
    let app = spawn_app_at_with(now.parse().unwrap(), |s| {
        s.security.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]
    })
    .await;
    let data = app
        .ok(
            &app.admin_key,
            CREATE_APP,
            json!({ "name": "blog", "ips": null }),
        )
        .await;
    let blog = data["createApplication"].clone();
    assert_eq!(blog["name"], "blog");
    assert_eq!(blog["allowedIps"], Value::Null);

    let (key, info) = create_key(&app, &blog, &["INGEST", "READ"]).await;
    assert!(key.starts_with("eye_") && key.len() == 68);
    assert_eq!(info["prefix"], key[..12]);
    assert_eq!(info["scopes"], json!(["INGEST", "READ"]));
    assert_eq!(info["application"]["name"], "blog");
    assert_eq!(info["lastUsedAt"], Value::Null);
    assert_eq!(info["revokedAt"], Value::Null);

    let result = app
        .record_as(&key, json!([pageview("s", "2021-01-01T00:00:00Z")]))
        .await;
    assert_eq!(result["accepted"], 1);
    // The list never shows a secret; last use is written in the background (by a spawned
    // task, against the real database: waited for, not slept through).
    let mut listed = Value::Null;
    for _ in 0..50 {
        let data = app
            .ok(&app.admin_key, KEYS, json!({ "app": blog["id"] }))
            .await;
        listed = data["apiKeys"].clone();
        if !listed[0]["lastUsedAt"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["prefix"], key[..12]);
    assert_eq!(listed[0]["lastUsedAt"], now, "{listed}");
    assert!(!listed.to_string().contains(&key[12..]));
    let all = app.ok(&app.admin_key, KEYS, json!({})).await;
    assert_eq!(all["apiKeys"].as_array().unwrap().len(), 4);
    let apps = app
        .ok(
            &app.admin_key,
            "{ applications { name allowedIps } }",
            json!({}),
        )
        .await;
    let names: Vec<&str> = apps["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "blog", "data team", "shop"]);
}

#[tokio::test]
async fn rotation_keeps_the_old_key_until_it_is_revoked() {
    let app = spawn().await;
    let data = app
        .ok(
            &app.admin_key,
            CREATE_APP,
            json!({ "name": "blog", "ips": null }),
        )
        .await;
    let (old_key, old) = create_key(&app, &data["createApplication"], &["READ"]).await;
    let rotated = app
        .ok(
            &app.admin_key,
            "mutation($id: ID!) { rotateApiKey(id: $id) { key apiKey { id scopes application { name } } } }",
            json!({ "id": old["id"] }),
        )
        .await;
    let new_key = rotated["rotateApiKey"]["key"].as_str().unwrap().to_string();
    assert_ne!(new_key, old_key);
    assert_eq!(rotated["rotateApiKey"]["apiKey"]["scopes"], json!(["READ"]));
    assert_eq!(
        rotated["rotateApiKey"]["apiKey"]["application"]["name"],
        "blog"
    );
    app.ok(&old_key, READ, json!({})).await;
    app.ok(&new_key, READ, json!({})).await;

    let revoked = app
        .ok(
            &app.admin_key,
            "mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }",
            json!({ "id": old["id"] }),
        )
        .await;
    assert!(revoked["revokeApiKey"]["revokedAt"].is_string());
    assert_eq!(
        app.error_code(Some(&old_key), READ, json!({})).await,
        "UNAUTHENTICATED"
    );
    app.ok(&new_key, READ, json!({})).await;
}

#[tokio::test]
async fn an_allowlist_admits_only_its_addresses() {
    let app = spawn().await;
    let data = app
        .ok(
            &app.admin_key,
            CREATE_APP,
            json!({ "name": "intranet", "ips": ["10.0.0.0/8", "2001:db8::7"] }),
        )
        .await;
    let intranet = data["createApplication"].clone();
    assert_eq!(
        intranet["allowedIps"],
        json!(["10.0.0.0/8", "2001:db8::7/128"])
    );
    let (key, _) = create_key(&app, &intranet, &["READ"]).await;

    let cases = [
        ("10.1.2.3", 200, None),
        ("2001:db8::7", 200, None),
        ("203.0.113.9, 10.1.2.3", 200, None),
        ("10.1.2.3, 203.0.113.9", 200, Some("FORBIDDEN")),
        ("192.168.0.1", 200, Some("FORBIDDEN")),
    ];
    for (address, status, code) in cases {
        let (got_status, answer) = read_from(&app, &key, address).await;
        assert_eq!(got_status, status, "{address}");
        assert_eq!(
            answer["errors"][0]["extensions"]["code"].as_str(),
            code,
            "{address}: {answer}"
        );
    }

    // Lifting the list admits any address from the next request on.
    app.ok(
        &app.admin_key,
        "mutation($id: ID!) { setApplicationAllowlist(applicationId: $id, allowedIps: null) { allowedIps } }",
        json!({ "id": intranet["id"] }),
    )
    .await;
    let (_, answer) = read_from(&app, &key, "192.168.0.1").await;
    assert!(answer.get("errors").is_none(), "{answer}");
}

#[tokio::test]
async fn without_trusted_proxies_x_forwarded_for_is_ignored() {
    let app = crate::helpers::spawn_app().await;
    let data = app
        .ok(
            &app.admin_key,
            CREATE_APP,
            json!({ "name": "intranet", "ips": ["10.0.0.0/8"] }),
        )
        .await;
    let (key, _) = create_key(&app, &data["createApplication"], &["READ"]).await;
    let (_, answer) = read_from(&app, &key, "10.1.2.3").await;
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{answer}"
    );
    let data = app
        .ok(
            &app.admin_key,
            CREATE_APP,
            json!({ "name": "local", "ips": ["127.0.0.1"] }),
        )
        .await;
    let (key, _) = create_key(&app, &data["createApplication"], &["INGEST"]).await;
    let result = app
        .record_as(&key, json!([pageview("s", "2021-01-01T00:00:00Z")]))
        .await;
    assert_eq!(result["accepted"], 1);
}
