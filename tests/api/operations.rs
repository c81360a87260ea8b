//! The named operations in `clients/operations/` — the README's examples, the TypeScript
//! types and the Rust SDK are all built from them — run against the real server with exact
//! answers, so none of them can rot. The README shows only these operations.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const OPERATIONS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/operations");

/// Every operation file, by operation name (the file's stem).
fn operations() -> BTreeMap<String, String> {
    std::fs::read_dir(OPERATIONS_DIR)
        .expect("clients/operations")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "graphql"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// Runs operations by name and remembers which ran.
struct Runner<'a> {
    app: &'a TestApp,
    operations: BTreeMap<String, String>,
    ran: Vec<String>,
}

impl Runner<'_> {
    async fn run(&mut self, key: &str, name: &str, variables: Value) -> Value {
        let document = self
            .operations
            .get(name)
            .unwrap_or_else(|| panic!("no operation file {name}.graphql"));
        assert!(
            document.contains(&format!(" {name}(")) || document.contains(&format!(" {name} {{")),
            "{name}.graphql must define the operation {name}"
        );
        let answer = self
            .app
            .client
            .post(format!("{}/graphql", self.app.url))
            .bearer_auth(key)
            .json(&json!({ "query": document, "operationName": name, "variables": variables }))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        assert!(answer.get("errors").is_none(), "{name}: {answer}");
        self.ran.push(name.to_string());
        answer["data"].clone()
    }
}

#[tokio::test]
async fn every_operation_file_runs_with_exact_answers() {
    let app = spawn_app().await;
    let mut ops = Runner {
        app: &app,
        operations: operations(),
        ran: Vec::new(),
    };
    let admin = app.admin_key.clone();

    let blog = ops
        .run(
            &admin,
            "CreateApplication",
            json!({ "input": { "name": "blog" } }),
        )
        .await["createApplication"]
        .clone();
    assert_eq!(blog["name"], "blog");
    assert_eq!(blog["allowedIps"], Value::Null);
    let created = ops
        .run(
            &admin,
            "CreateApiKey",
            json!({ "input": { "applicationId": blog["id"], "scopes": ["INGEST", "READ"] } }),
        )
        .await["createApiKey"]
        .clone();
    let key = created["key"].as_str().unwrap().to_string();
    assert_eq!(created["apiKey"]["scopes"], json!(["INGEST", "READ"]));
    assert_eq!(created["apiKey"]["application"]["name"], "blog");
    let keys = ops
        .run(&admin, "ApiKeys", json!({ "applicationId": blog["id"] }))
        .await;
    assert_eq!(keys["apiKeys"].as_array().unwrap().len(), 1);
    assert_eq!(keys["apiKeys"][0]["id"], created["apiKey"]["id"]);

    let play_schema = json!({
        "type": "object",
        "required": ["position"],
        "properties": { "position": { "type": "number" } }
    });
    let defined = ops
        .run(
            &admin,
            "DefineEventType",
            json!({ "input": { "category": "video", "name": "play", "schema": play_schema, "description": "A video started." } }),
        )
        .await;
    assert_eq!(defined["defineEventType"]["schema"], play_schema);
    let types = ops.run(&key, "EventTypes", json!({})).await;
    assert!(
        types["eventTypes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["category"] == "video"
                && t["name"] == "play"
                && t["description"] == "A video started."),
        "{types}"
    );

    let play = |id: &str, position: Value| {
        json!({ "id": id, "sessionId": "visit-1", "category": "video", "name": "play",
                "data": { "position": position }, "timestamp": "2021-01-01T09:15:27Z" })
    };
    let recorded = ops
        .run(
            &key,
            "RecordEvents",
            json!({ "events": [play("e1", json!(12.5)), play("e2", json!("start"))] }),
        )
        .await["recordEvents"]
        .clone();
    assert_eq!(
        (
            &recorded["accepted"],
            &recorded["duplicates"],
            &recorded["rejected"]
        ),
        (&json!(1), &json!(0), &json!(1))
    );
    assert_eq!(recorded["results"][0]["status"], "ACCEPTED");
    assert_eq!(recorded["results"][1]["status"], "REJECTED");
    assert_eq!(
        recorded["results"][1]["errors"][0]["code"],
        "SCHEMA_VIOLATION"
    );
    assert_eq!(
        recorded["results"][1]["errors"][0]["path"],
        "/data/position"
    );
    let processed = ops.run(&admin, "ProcessEvents", json!({})).await;
    assert_eq!(processed["processEvents"]["eventsProcessed"], 1);

    let page = ops
        .run(
            &key,
            "EventsPage",
            json!({ "filter": { "sessionId": "visit-1" }, "first": 10 }),
        )
        .await["events"]
        .clone();
    assert_eq!(page["edges"].as_array().unwrap().len(), 1);
    let node = &page["edges"][0]["node"];
    assert_eq!(node["id"], "e1");
    assert_eq!(node["data"], json!({ "position": 12.5 }));
    assert_eq!(node["timestamp"], "2021-01-01T09:15:27.000000Z");
    assert_eq!(node["application"]["name"], "blog");
    assert_eq!(page["pageInfo"]["hasNextPage"], false);
    let one = ops.run(&key, "Event", json!({ "id": "e1" })).await;
    assert_eq!(one["event"]["sessionId"], "visit-1");
    let session = ops
        .run(&key, "Session", json!({ "id": "visit-1", "first": 5 }))
        .await["session"]
        .clone();
    assert_eq!(session["eventCount"], 1);
    assert_eq!(session["applications"][0]["name"], "blog");
    assert_eq!(session["events"]["edges"][0]["node"]["id"], "e1");
    let counts = ops
        .run(&key, "EventCounts", json!({ "groupBy": "CATEGORY" }))
        .await;
    assert_eq!(
        counts["eventCounts"]["edges"][0]["node"],
        json!({ "key": "video", "count": 1 })
    );
    assert_eq!(counts["eventCounts"]["pageInfo"]["hasNextPage"], false);
    let series = ops
        .run(
            &key,
            "EventSeries",
            json!({ "bucket": "HOUR", "from": "2021-01-01T08:00:00Z", "to": "2021-01-01T11:00:00Z",
                    "timeZone": "Europe/Paris", "splitBy": "NAME", "top": 3 }),
        )
        .await["eventSeries"]
        .clone();
    assert_eq!(series["groups"], json!([{ "key": "play", "total": 1 }]));
    let totals: Vec<(&str, &Value, &Value)> = series["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["start"].as_str().unwrap(), &p["total"], &p["groups"]))
        .collect();
    assert_eq!(
        totals,
        [
            ("2021-01-01T08:00:00.000000Z", &json!(0), &json!([0])),
            ("2021-01-01T09:00:00.000000Z", &json!(1), &json!([1])),
            ("2021-01-01T10:00:00.000000Z", &json!(0), &json!([0])),
        ]
    );
    let errors = ops
        .run(
            &key,
            "EventErrors",
            json!({ "filter": { "code": "SCHEMA_VIOLATION" }, "first": 10 }),
        )
        .await["eventErrors"]
        .clone();
    assert_eq!(errors["edges"].as_array().unwrap().len(), 1);
    assert_eq!(errors["edges"][0]["node"]["eventId"], "e2");
    assert_eq!(
        errors["edges"][0]["node"]["payload"]["data"],
        json!({ "position": "start" })
    );

    let allowed = ops
        .run(
            &admin,
            "SetApplicationAllowlist",
            json!({ "applicationId": blog["id"], "allowedIps": ["127.0.0.1/32"] }),
        )
        .await;
    assert_eq!(
        allowed["setApplicationAllowlist"]["allowedIps"],
        json!(["127.0.0.1/32"])
    );
    let apps = ops.run(&admin, "Applications", json!({})).await;
    let names: Vec<&str> = apps["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "blog", "data team", "shop"]);
    let rotated = ops
        .run(
            &admin,
            "RotateApiKey",
            json!({ "id": created["apiKey"]["id"] }),
        )
        .await["rotateApiKey"]
        .clone();
    assert_ne!(rotated["key"], created["key"]);
    assert_eq!(rotated["apiKey"]["scopes"], json!(["INGEST", "READ"]));
    let revoked = ops
        .run(
            &admin,
            "RevokeApiKey",
            json!({ "id": created["apiKey"]["id"] }),
        )
        .await;
    assert!(
        revoked["revokeApiKey"]["revokedAt"].is_string(),
        "{revoked}"
    );

    let mut ran = ops.ran.clone();
    ran.sort();
    ran.dedup();
    let files: Vec<String> = ops.operations.keys().cloned().collect();
    assert_eq!(ran, files, "every operation file runs in this test");
}

/// The text of an operation without its comment lines, whitespace collapsed.
fn normalized(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_readme_graphql_example_is_an_operation_file() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let files: Vec<String> = operations().values().map(|t| normalized(t)).collect();
    let blocks: Vec<&str> = readme
        .split("```graphql\n")
        .skip(1)
        .map(|rest| &rest[..rest.find("```").expect("unterminated block")])
        .collect();
    assert!(blocks.len() >= 5, "the README shows the main operations");
    for block in blocks {
        assert!(
            files.contains(&normalized(block)),
            "this README example is not a file in clients/operations:\n{block}"
        );
    }
}
