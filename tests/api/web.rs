//! GraphiQL and the health endpoints, over plain HTTP.

use std::collections::BTreeSet;

use crate::helpers::spawn_app;

#[tokio::test]
async fn graphiql_is_served_with_local_assets_only() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(format!("{}/graphql", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["content-security-policy"],
        the_eye::graphiql::CONTENT_SECURITY_POLICY
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("GraphiQL"));
    assert!(
        !html.contains("https://") && !html.contains("http://"),
        "no CDN"
    );
    let assets: BTreeSet<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("/graphiql/assets/"))
        .collect();
    assert_eq!(
        assets.iter().copied().collect::<Vec<_>>(),
        [
            "/graphiql/assets/favicon.svg",
            "/graphiql/assets/graphiql.min.css",
            "/graphiql/assets/graphiql.min.js",
            "/graphiql/assets/react-dom.production.min.js",
            "/graphiql/assets/react.production.min.js",
            "/graphiql/assets/the-eye.js",
        ]
    );
    for asset in assets {
        let response = app
            .client
            .get(format!("{}{asset}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert!(response.bytes().await.unwrap().len() > 200, "{asset}");
    }
}

#[tokio::test]
async fn the_favicon_is_served_where_browsers_look_for_it() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/favicon.ico", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    let body = response.bytes().await.unwrap();
    assert_eq!(
        &body[..],
        include_bytes!("../../src/graphiql/assets/favicon.svg")
    );
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    for path in ["/health", "/ready"] {
        let response = app
            .client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/health", app.url))
        .send()
        .await
        .unwrap();
    let id = response
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(id.len(), 36);
}

#[tokio::test]
async fn a_body_that_is_not_graphql_gets_a_coded_error() {
    let app = spawn_app().await;
    for body in ["not json", "{\"query\": 5}", "[1, 2]", ""] {
        let response = app
            .client
            .post(format!("{}/graphql", app.url))
            .header("content-type", "application/json")
            .bearer_auth(&app.ingest_key)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body:?}");
        let answer: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body:?}"
        );
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_before_parsing() {
    let app = crate::helpers::spawn_app_with(|s| s.limits.max_body_bytes = 10_000).await;
    let response = app
        .client
        .post(format!("{}/graphql", app.url))
        .header("content-type", "application/json")
        .bearer_auth(&app.ingest_key)
        .body(format!("{{\"query\": \"{}\"}}", "x".repeat(20_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(app.table_count("events").await, 0);
}
