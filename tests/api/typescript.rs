//! The TypeScript example (`clients/typescript/src/example.ts`), compiled and run against this
//! server: the types generated from `schema.graphql` and `clients/operations` describe what
//! the server really answers, and the example does what its comments say.
//!
//! Needs `node` and `npm ci --prefix clients/typescript`; skipped without them unless
//! `EYE_REQUIRE_BROWSER=1` (see [`node_project_or_skip`]).

use std::process::Command;

use crate::helpers::{describe_output, node_project_or_skip, repository, spawn_app};

#[tokio::test]
async fn the_typescript_example_records_a_batch_and_pages_through_it() {
    if node_project_or_skip("clients/typescript", "typescript", None).is_none() {
        return;
    }
    let app = spawn_app().await;
    let mut example = Command::new("npm");
    example
        .current_dir(repository().join("clients/typescript"))
        .args(["run", "--silent", "example"])
        .env("EYE_URL", &app.url)
        .env("EYE_INGEST_KEY", &app.ingest_key)
        .env("EYE_READ_KEY", &app.read_key)
        .env("EYE_SESSION_ID", "ts-example");
    // The server runs on this test's runtime: wait for npm on a blocking thread.
    let output = tokio::task::spawn_blocking(move || example.output())
        .await
        .unwrap()
        .expect("running npm");
    assert!(output.status.success(), "{}", describe_output(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "accepted 3, duplicates 0, rejected 0\n\
         2021-01-01T09:15:00.000000Z page interaction/pageview {\"host\":\"www.example.com\",\"path\":\"/\"}\n\
         2021-01-01T09:15:01.000000Z page interaction/pageview {\"host\":\"www.example.com\",\"path\":\"/pricing\"}\n\
         2021-01-01T09:15:02.000000Z page interaction/pageview {\"host\":\"www.example.com\",\"path\":\"/signup\"}\n"
    );
    assert_eq!(app.table_count("events").await, 3);
}
