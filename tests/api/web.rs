//! GraphiQL and the health endpoints, over plain HTTP.

use crate::helpers::spawn_app;

#[tokio::test]
async fn graphiql_is_served_with_local_assets_only() {
    let app = spawn_app().await;
    let page = app.client.get(format!("{}/graphql", app.url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("GraphiQL"));
    assert!(!html.contains("https://") && !html.contains("http://"), "no CDN");
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("/graphiql/assets/"))
        .collect();
    assert_eq!(assets.len(), 4, "{assets:?}");
    for asset in assets {
        let response = app.client.get(format!("{}{asset}", app.url)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert!(response.bytes().await.unwrap().len() > 1000, "{asset}");
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    for path in ["/health", "/ready"] {
        let response = app.client.get(format!("{}{path}", app.url)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let response = app.client.get(format!("{}/health", app.url)).send().await.unwrap();
    let id = response.headers().get("x-request-id").unwrap().to_str().unwrap();
    assert_eq!(id.len(), 36);
}
