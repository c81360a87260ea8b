//! Querying events: each filter alone and combined, inclusive ranges, order, pagination,
//! single events and sessions.

use serde_json::{Value, json};

use crate::helpers::{TestApp, event, spawn_app};

/// Seven events over two sessions, two categories and three names.
async fn seeded() -> TestApp {
    let app = spawn_app().await;
    let result = app
        .record(json!([
            event(
                "s1",
                "page interaction",
                "pageview",
                "2021-01-01T09:00:00Z",
                Some("e1")
            ),
            event(
                "s1",
                "page interaction",
                "cta click",
                "2021-01-01T09:30:00Z",
                Some("e2")
            ),
            event(
                "s1",
                "form interaction",
                "submit",
                "2021-01-01T10:00:00Z",
                Some("e3")
            ),
            event(
                "s2",
                "page interaction",
                "pageview",
                "2021-01-01T09:30:00Z",
                Some("e4")
            ),
            event(
                "s2",
                "page interaction",
                "pageview",
                "2021-01-01T11:00:00Z",
                Some("e5")
            ),
            event(
                "s2",
                "form interaction",
                "submit",
                "2021-01-01T08:00:00Z",
                Some("e6")
            ),
            event(
                "s2",
                "page interaction",
                "cta click",
                "2021-01-01T09:30:00Z",
                Some("e7")
            ),
        ]))
        .await;
    assert_eq!(result["accepted"], 7);
    app
}

fn ids(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn filters_alone_and_combined() {
    let app = seeded().await;
    let cases = [
        (json!({}), vec!["e6", "e1", "e2", "e4", "e7", "e3", "e5"]),
        (json!({ "sessionId": "s1" }), vec!["e1", "e2", "e3"]),
        (json!({ "category": "form interaction" }), vec!["e6", "e3"]),
        (json!({ "name": "pageview" }), vec!["e1", "e4", "e5"]),
        (
            json!({ "from": "2021-01-01T09:30:00Z" }),
            vec!["e2", "e4", "e7", "e3", "e5"],
        ),
        (
            json!({ "to": "2021-01-01T09:30:00Z" }),
            vec!["e6", "e1", "e2", "e4", "e7"],
        ),
        (
            json!({ "from": "2021-01-01T09:30:00Z", "to": "2021-01-01T10:00:00Z" }),
            vec!["e2", "e4", "e7", "e3"],
        ),
        (
            json!({ "sessionId": "s2", "category": "page interaction" }),
            vec!["e4", "e7", "e5"],
        ),
        (
            json!({ "sessionId": "s2", "name": "pageview", "from": "2021-01-01 10:00:00" }),
            vec!["e5"],
        ),
        (
            json!({ "category": "page interaction", "name": "cta click", "to": "2021-01-01T09:30:00.000001Z" }),
            vec!["e2", "e7"],
        ),
        (
            json!({ "from": "2021-01-01T09:30:00.000001Z", "to": "2021-01-01T09:59:59.999999Z" }),
            vec![],
        ),
        (json!({ "sessionId": "nope" }), vec![]),
        (
            json!({ "from": "2021-01-01T10:30:00+01:00", "to": "2021-01-01T09:30:00Z" }),
            vec!["e2", "e4", "e7"],
        ),
    ];
    for (filter, expected) in cases {
        let found = app.events(filter.clone()).await;
        assert_eq!(ids(&found), expected, "filter {filter}");
    }
}

#[tokio::test]
async fn order_is_by_timestamp_with_ingest_order_as_tie_break() {
    let app = seeded().await;
    let query = "query($o: EventOrder) { events(order: $o) { edges { node { id } } } }";
    let desc = app
        .ok(&app.read_key, query, json!({ "o": "TIMESTAMP_DESC" }))
        .await;
    let order: Vec<&str> = desc["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["e5", "e3", "e7", "e4", "e2", "e1", "e6"]);
}

#[tokio::test]
async fn pages_follow_each_other_without_gaps_or_repeats() {
    let app = seeded().await;
    let query = "query($after: String, $o: EventOrder) { events(first: 2, after: $after, order: $o) { edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    for (order, expected) in [
        ("TIMESTAMP_ASC", ["e6", "e1", "e2", "e4", "e7", "e3", "e5"]),
        ("TIMESTAMP_DESC", ["e5", "e3", "e7", "e4", "e2", "e1", "e6"]),
    ] {
        let mut seen = Vec::new();
        let mut after = Value::Null;
        let mut pages = 0;
        loop {
            let data = app
                .ok(&app.read_key, query, json!({ "after": after, "o": order }))
                .await;
            let page = &data["events"];
            let edges = page["edges"].as_array().unwrap();
            seen.extend(
                edges
                    .iter()
                    .map(|e| e["node"]["id"].as_str().unwrap().to_string()),
            );
            assert_eq!(page["pageInfo"]["hasPreviousPage"], pages > 0);
            assert_eq!(
                page["pageInfo"]["endCursor"],
                edges.last().unwrap()["cursor"]
            );
            assert_eq!(page["pageInfo"]["startCursor"], edges[0]["cursor"]);
            pages += 1;
            if page["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = page["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(pages, 4);
        assert_eq!(seen, expected, "{order}");
    }
}

#[tokio::test]
async fn page_size_defaults_to_100_and_is_limited_to_1000() {
    let app = spawn_app().await;
    let batch: Vec<Value> = (0..150)
        .map(|i| {
            event(
                "s",
                "c",
                "n",
                "2021-01-01T00:00:00Z",
                Some(&format!("{i:03}")),
            )
        })
        .collect();
    app.record(json!(batch)).await;
    let data = app
        .ok(
            &app.read_key,
            "{ events { edges { node { id } } pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["events"]["edges"].as_array().unwrap().len(), 100);
    assert_eq!(data["events"]["pageInfo"]["hasNextPage"], true);
    let code = app
        .error_code(
            Some(&app.read_key),
            "{ events(first: 1001) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    let code = app
        .error_code(
            Some(&app.read_key),
            "{ events(first: -1) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    let empty = app
        .ok(
            &app.read_key,
            "{ events(first: 0) { edges { cursor } pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(empty["events"]["edges"], json!([]));
}

#[tokio::test]
async fn bad_arguments_are_bad_user_input() {
    let app = seeded().await;
    let cases = [
        "{ events(after: \"not-a-cursor\") { edges { cursor } } }",
        "{ events(filter: { from: \"yesterday\" }) { edges { cursor } } }",
        "{ events(filter: { from: \"2021-01-02T00:00:00Z\", to: \"2021-01-01T00:00:00Z\" }) { edges { cursor } } }",
        "{ events(filter: { from: 12 }) { edges { cursor } } }",
        "{ eventCounts(groupBy: CATEGORY, filter: { to: \"2021-13-01\" }) { key } }",
        "{ events(filter: { unknown: 1 }) { edges { cursor } } }",
        "{ nope }",
        "{ events { edges { cursor } ",
    ];
    for query in cases {
        let code = app.error_code(Some(&app.read_key), query, json!({})).await;
        assert_eq!(code, "BAD_USER_INPUT", "{query}");
    }
}

#[tokio::test]
async fn a_single_event_by_id() {
    let app = seeded().await;
    let query = "query($id: ID!) { event(id: $id) { id sessionId category name data timestamp receivedAt application { id name } } }";
    let data = app.ok(&app.read_key, query, json!({ "id": "e3" })).await;
    let e = &data["event"];
    assert_eq!(e["id"], "e3");
    assert_eq!(e["sessionId"], "s1");
    assert_eq!(e["category"], "form interaction");
    assert_eq!(e["name"], "submit");
    assert_eq!(
        e["data"],
        json!({ "host": "example.com", "path": "/", "form": { "email": "a@b.c" } })
    );
    assert_eq!(e["timestamp"], "2021-01-01T10:00:00.000000Z");
    assert_eq!(e["application"]["name"], "shop");
    let missing = app.ok(&app.read_key, query, json!({ "id": "nope" })).await;
    assert_eq!(missing["event"], Value::Null);
}

#[tokio::test]
async fn a_session_with_its_events_counts_and_applications() {
    let app = seeded().await;
    app.record_as(
        &app.admin_key,
        json!([event("s1", "c", "n", "2021-01-01T08:59:59.5Z", Some("a1"))]),
    )
    .await;
    let query = "query($id: String!) { session(id: $id) { id eventCount firstSeen lastSeen applications { name } events(first: 10) { edges { node { id } } } } }";
    // Exact before the background job has run, and after.
    for processed in [false, true] {
        if processed {
            app.process().await;
        }
        let data = app.ok(&app.read_key, query, json!({ "id": "s1" })).await;
        let s = &data["session"];
        assert_eq!(s["id"], "s1");
        assert_eq!(s["eventCount"], 4, "processed: {processed}");
        assert_eq!(s["firstSeen"], "2021-01-01T08:59:59.500000Z");
        assert_eq!(s["lastSeen"], "2021-01-01T10:00:00.000000Z");
        assert_eq!(
            s["applications"],
            json!([{ "name": "admin" }, { "name": "shop" }])
        );
        let order: Vec<&str> = s["events"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(order, ["a1", "e1", "e2", "e3"]);
    }
    let missing = app.ok(&app.read_key, query, json!({ "id": "nope" })).await;
    assert_eq!(missing["session"], Value::Null);
}

/// `session` reads the applications beside the summary when the query selects them, however
/// it selects them (directly, aliased or through a fragment), and only when it does.
#[tokio::test]
async fn a_session_s_applications_through_an_alias_or_a_fragment() {
    let app = seeded().await;
    let apps = json!([{ "name": "shop" }]);
    let aliased = "query($id: String!) { session(id: $id) { apps: applications { name } } }";
    let data = app.ok(&app.read_key, aliased, json!({ "id": "s1" })).await;
    assert_eq!(data["session"]["apps"], apps);
    let fragment = "query($id: String!) { session(id: $id) { ...S } } \
                    fragment S on Session { eventCount applications { name } }";
    let data = app.ok(&app.read_key, fragment, json!({ "id": "s1" })).await;
    assert_eq!(
        data["session"],
        json!({ "eventCount": 3, "applications": apps })
    );
    let without = "query($id: String!) { session(id: $id) { eventCount } }";
    let data = app.ok(&app.read_key, without, json!({ "id": "s1" })).await;
    assert_eq!(data["session"], json!({ "eventCount": 3 }));
    let missing = app
        .ok(&app.read_key, fragment, json!({ "id": "nope" }))
        .await;
    assert_eq!(missing["session"], Value::Null);
}

#[tokio::test]
async fn query_cost_counts_page_sizes() {
    let app = seeded().await;
    let page = "events(first: 1000) { edges { cursor node { id sessionId category name data timestamp receivedAt application { id name } } } pageInfo { hasNextPage endCursor } }";
    let one = app
        .ok(&app.read_key, &format!("{{ {page} }}"), json!({}))
        .await;
    assert_eq!(one["events"]["edges"].as_array().unwrap().len(), 7);
    let many: String = (0..4).map(|i| format!("p{i}: {page} ")).collect();
    let code = app
        .error_code(Some(&app.read_key), &format!("{{ {many} }}"), json!({}))
        .await;
    assert_eq!(code, "LIMIT_EXCEEDED", "four maximal pages in one request");
}
