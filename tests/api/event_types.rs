//! The event-type registry: seeded with the brief's types, defined and redefined at run time.

use serde_json::json;

use crate::helpers::{event, pageview, spawn_app};

const DEFINE: &str = "mutation($i: EventTypeInput!) { defineEventType(input: $i) { category name schema description } }";

#[tokio::test]
async fn the_registry_starts_with_the_briefs_three_types() {
    let app = spawn_app().await;
    let data = app
        .ok(
            &app.read_key,
            "{ eventTypes { category name schema } }",
            json!({}),
        )
        .await;
    let types = data["eventTypes"].as_array().unwrap();
    let names: Vec<(&str, &str)> = types
        .iter()
        .map(|t| (t["category"].as_str().unwrap(), t["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("form interaction", "submit"),
            ("page interaction", "cta click"),
            ("page interaction", "pageview")
        ]
    );
    assert_eq!(types[2]["schema"]["required"], json!(["host", "path"]));
    assert_eq!(
        types[1]["schema"]["required"],
        json!(["host", "path", "element"])
    );
    assert_eq!(
        types[0]["schema"]["properties"]["form"],
        json!({ "type": "object" })
    );
}

#[tokio::test]
async fn a_defined_type_validates_from_then_on() {
    let app = spawn_app().await;
    let before = app
        .record(json!([event(
            "s",
            "video",
            "play",
            "2021-01-01T00:00:00Z",
            None
        )]))
        .await;
    assert_eq!(before["results"][0]["status"], "ACCEPTED");

    let schema = json!({ "type": "object", "properties": { "position": { "type": "number", "minimum": 0 } }, "required": ["position"] });
    let defined = app
        .ok(&app.admin_key, DEFINE, json!({ "i": { "category": "video", "name": "play", "schema": schema, "description": "Playback started." } }))
        .await;
    assert_eq!(defined["defineEventType"]["schema"], schema);
    assert_eq!(
        defined["defineEventType"]["description"],
        "Playback started."
    );

    let mut good = event("s", "video", "play", "2021-01-01T00:00:01Z", None);
    good["data"] = json!({ "position": 3.5 });
    let mut bad = event("s", "video", "play", "2021-01-01T00:00:02Z", None);
    bad["data"] = json!({ "position": -1 });
    let after = app.record(json!([good, bad])).await;
    assert_eq!(after["results"][0]["status"], "ACCEPTED");
    assert_eq!(after["results"][1]["status"], "REJECTED");
    assert_eq!(after["results"][1]["errors"][0]["path"], "/data/position");
}

#[tokio::test]
async fn redefining_a_type_replaces_its_schema() {
    let app = spawn_app().await;
    let loose = json!({ "type": "object" });
    app.ok(
        &app.admin_key,
        DEFINE,
        json!({ "i": { "category": "page interaction", "name": "pageview", "schema": loose } }),
    )
    .await;
    let mut anything = pageview("s", "2021-01-01T00:00:00Z");
    anything["data"] = json!({ "whatever": true });
    assert_eq!(app.record(json!([anything])).await["accepted"], 1);
    let data = app
        .ok(&app.read_key, "{ eventTypes { name schema } }", json!({}))
        .await;
    assert_eq!(data["eventTypes"].as_array().unwrap().len(), 3);
    assert_eq!(data["eventTypes"][2]["schema"], loose);
}

#[tokio::test]
async fn an_invalid_schema_is_refused() {
    let app = spawn_app().await;
    for schema in [
        json!({ "type": "nonsense" }),
        json!({ "minLength": -1 }),
        json!(42),
        json!({ "$ref": "https://example.com/s.json" }),
    ] {
        let code = app
            .error_code(
                Some(&app.admin_key),
                DEFINE,
                json!({ "i": { "category": "c", "name": "n", "schema": schema } }),
            )
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "{schema}");
    }
    let code = app
        .error_code(
            Some(&app.admin_key),
            DEFINE,
            json!({ "i": { "category": "", "name": "n" } }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert_eq!(app.table_count("event_types").await, 3);
}
