//! What client authors rely on: the standard introspection query answered under the default
//! limits (GraphiQL's docs pane, every codegen), optional arguments that take their defaults,
//! closed sets as enums, grouped counts that never truncate silently, and a schema in which
//! everything is described.

use serde_json::{Value, json};

use crate::helpers::{TestApp, event, pageview, spawn_app};

/// graphql-js 16's `getIntrospectionQuery()` with every option on (descriptions,
/// `specifiedByURL`, repeatable directives, schema description, deprecated input values,
/// `isOneOf`): the query GraphiQL and graphql-codegen send.
const INTROSPECTION: &str = include_str!("introspection_query.graphql");

async fn introspect(app: &TestApp, key: Option<&str>) -> Value {
    let answer = app
        .client
        .post(format!("{}/graphql", app.url))
        .bearer_auth(key.unwrap_or_default())
        .json(&json!({ "query": INTROSPECTION, "operationName": "IntrospectionQuery" }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(answer.get("errors").is_none(), "{answer}");
    answer["data"]["__schema"].clone()
}

#[tokio::test]
async fn the_standard_introspection_query_is_answered_under_the_default_limits() {
    let app = spawn_app().await;
    for key in [&app.read_key, &app.ingest_key, &app.admin_key] {
        let schema = introspect(&app, Some(key)).await;
        assert_eq!(schema["queryType"]["name"], "Query");
        assert_eq!(schema["mutationType"]["name"], "Mutation");
        let types = schema["types"].as_array().unwrap();
        let query = types.iter().find(|t| t["name"] == "Query").unwrap();
        let fields: Vec<&str> = query["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "events",
                "event",
                "session",
                "eventCounts",
                "eventSeries",
                "eventErrors",
                "eventTypes",
                "applications",
                "apiKeys",
                "erasures"
            ]
        );
    }
}

#[tokio::test]
async fn deep_queries_that_start_with_introspection_are_still_refused() {
    let app = spawn_app().await;
    let deep = "{ __schema { types { fields { type { fields { type { fields { type { fields { type { fields { type { name } } } } } } } } } } } } }";
    assert_eq!(
        app.error_code(Some(&app.read_key), deep, json!({})).await,
        "LIMIT_EXCEEDED"
    );
    let mixed = format!(
        "{{ __schema {{ description }} events {{ edges {{ node {{ application {{ name }} }} }} }} {} }}",
        "__typename"
    );
    let nested_api = mixed.replace(
        "application { name }",
        "application { name } data timestamp",
    );
    // Introspection beside an API field runs under the API's limits (this one is shallow).
    let answer = app.gql(Some(&app.read_key), &nested_api, json!({})).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    // An `ofType` chain as long as the standard query's is free; a longer one counts in full.
    let chain = |links: usize| {
        format!(
            "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
            "ofType { ".repeat(links),
            "} ".repeat(links)
        )
    };
    assert!(
        app.gql(Some(&app.read_key), &chain(9), json!({}))
            .await
            .get("errors")
            .is_none()
    );
    assert_eq!(
        app.error_code(Some(&app.read_key), &chain(10), json!({}))
            .await,
        "LIMIT_EXCEEDED"
    );
    // What hangs below an `ofType` link counts.
    let below_of_type = format!(
        "{{ __type(name: \"Event\") {{ {} name {} }} }}",
        "fields { type { ofType { ".repeat(6),
        "} } } ".repeat(6)
    );
    assert_eq!(
        app.error_code(Some(&app.read_key), &below_of_type, json!({}))
            .await,
        "LIMIT_EXCEEDED"
    );
}

#[tokio::test]
async fn an_omitted_or_null_order_takes_its_default() {
    let app = spawn_app().await;
    app.record(json!([
        pageview("s", "2021-01-01T00:00:02Z"),
        pageview("s", "2021-01-01T00:00:01Z"),
    ]))
    .await;
    let query = "query Page($order: EventOrder) { events(order: $order) { edges { node { timestamp } } } \
                 session(id: \"s\") { events(order: $order) { edges { node { timestamp } } } } }";
    let ascending = json!(["2021-01-01T00:00:01.000000Z", "2021-01-01T00:00:02.000000Z"]);
    for variables in [json!({}), json!({ "order": null })] {
        let data = app.ok(&app.read_key, query, variables).await;
        assert_eq!(timestamps(&data["events"]), ascending);
        assert_eq!(timestamps(&data["session"]["events"]), ascending);
    }
    let data = app
        .ok(&app.read_key, query, json!({ "order": "TIMESTAMP_DESC" }))
        .await;
    assert_eq!(
        timestamps(&data["events"]),
        json!(["2021-01-01T00:00:02.000000Z", "2021-01-01T00:00:01.000000Z"])
    );
}

fn timestamps(connection: &Value) -> Value {
    connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["timestamp"].clone())
        .collect()
}

#[tokio::test]
async fn rejection_codes_and_scopes_are_enums() {
    let app = spawn_app().await;
    let mut bad = pageview("s", "2021-01-01T00:00:00Z");
    bad["timestamp"] = json!("yesterday");
    app.record(json!([bad])).await;
    let data = app
        .ok(
            &app.read_key,
            "{ eventErrors(filter: { code: INVALID_TIMESTAMP }) { edges { node { reasons { code } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["eventErrors"]["edges"][0]["node"]["reasons"],
        json!([{ "code": "INVALID_TIMESTAMP" }])
    );
    assert_eq!(
        app.error_code(
            Some(&app.read_key),
            "query($c: RejectionCode) { eventErrors(filter: { code: $c }) { edges { cursor } } }",
            json!({ "c": "NO_SUCH_CODE" })
        )
        .await,
        "BAD_USER_INPUT"
    );
    let keys = app
        .ok(
            &app.admin_key,
            "{ apiKeys { scopes application { name } } }",
            json!({}),
        )
        .await;
    let mut scopes: Vec<(String, Value)> = keys["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["application"]["name"].as_str().unwrap().to_string(),
                k["scopes"].clone(),
            )
        })
        .collect();
    scopes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        scopes,
        [
            ("admin".to_string(), json!(["ADMIN"])),
            ("data team".to_string(), json!(["READ"])),
            ("shop".to_string(), json!(["INGEST"])),
        ]
    );
}

const COUNTS_PAGE: &str = "query($g: CountDimension!, $f: EventFilter, $first: Int, $after: String) { eventCounts(groupBy: $g, filter: $f, first: $first, after: $after) { edges { cursor node { key count } } pageInfo { hasNextPage hasPreviousPage endCursor } } }";

/// Every group of the events matching `filter`, fetched `first` at a time; also returns the
/// number of pages.
async fn all_count_pages(
    app: &TestApp,
    group_by: &str,
    filter: &Value,
    first: i64,
) -> (Vec<(String, i64)>, usize) {
    let (mut groups, mut after, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let data = app
            .ok(
                &app.read_key,
                COUNTS_PAGE,
                json!({ "g": group_by, "f": filter, "first": first, "after": after }),
            )
            .await;
        let page = &data["eventCounts"];
        pages += 1;
        assert_eq!(page["pageInfo"]["hasPreviousPage"], !after.is_null());
        for edge in page["edges"].as_array().unwrap() {
            groups.push((
                edge["node"]["key"].as_str().unwrap().to_string(),
                edge["node"]["count"].as_i64().unwrap(),
            ));
        }
        if page["pageInfo"]["hasNextPage"] == false {
            return (groups, pages);
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

#[tokio::test]
async fn grouped_counts_page_through_every_group() {
    let app = spawn_app().await;
    // Sessions s0..s6 with 7, 6, 5, 4, 4, 4, 1 events; the first batch is processed and the
    // second left in the backlog, so pages mix aggregates and unprocessed events.
    let sizes = [(0, 4), (1, 3), (2, 5), (3, 1), (4, 2), (5, 4), (6, 1)];
    let batch = |part: usize| {
        let mut events = Vec::new();
        for (s, n) in sizes {
            for i in 0..n + if part == 1 { 3 - (s as i64).min(3) } else { 0 } {
                let name = if s % 2 == 0 { "pageview" } else { "scroll" };
                events.push(event(
                    &format!("s{s}"),
                    "page interaction",
                    name,
                    &format!("2021-01-01T00:{s:02}:{i:02}Z"),
                    Some(&format!("p{part}-s{s}-{i}")),
                ));
            }
        }
        json!(events)
    };
    app.record(batch(0)).await;
    app.process().await;
    app.record(batch(1)).await;
    let expected = app.counts("SESSION", Value::Null).await;
    assert_eq!(expected.len(), 7);
    for first in [1, 2, 3, 7] {
        let (groups, pages) = all_count_pages(&app, "SESSION", &Value::Null, first).await;
        assert_eq!(groups, expected, "pages of {first}");
        assert_eq!(pages, 7usize.div_ceil(first as usize), "pages of {first}");
    }
    // With a time range, sessions are counted from the events themselves (on SQLite in the
    // server's memory): the same order, ties by key, and the same cursors. Every event of
    // sessions s1..s5 lies in it, none of s0 and s6.
    let range = json!({ "from": "2021-01-01T00:01:00Z", "to": "2021-01-01T00:05:59Z" });
    let in_range = app.counts("SESSION", range.clone()).await;
    let without_s0_s6: Vec<(String, i64)> = expected
        .iter()
        .filter(|(k, _)| k != "s0" && k != "s6")
        .cloned()
        .collect();
    assert_eq!(in_range, without_s0_s6);
    for first in [1, 2, 5] {
        let (groups, pages) = all_count_pages(&app, "SESSION", &range, first).await;
        assert_eq!(groups, in_range, "pages of {first} in a range");
        assert_eq!(
            pages,
            5usize.div_ceil(first as usize),
            "pages of {first} in a range"
        );
    }
    let (names, pages) = all_count_pages(&app, "NAME", &Value::Null, 1).await;
    assert_eq!(names, app.counts("NAME", Value::Null).await);
    assert_eq!(pages, 2);
}

/// The scalars every GraphQL schema has.
const SPEC_SCALARS: [&str; 5] = ["Int", "Float", "String", "Boolean", "ID"];

/// Every type, field, argument and enum value of the schema without a description.
fn undescribed(schema: &Value) -> Vec<String> {
    let mut missing = Vec::new();
    let described = |v: &Value| {
        v["description"]
            .as_str()
            .is_some_and(|d| !d.trim().is_empty())
    };
    for ty in schema["types"].as_array().unwrap() {
        let name = ty["name"].as_str().unwrap();
        // Introspection types and the scalars the GraphQL specification defines are not ours
        // (async-graphql describes every one but `ID`).
        if name.starts_with("__") || SPEC_SCALARS.contains(&name) {
            continue;
        }
        if !described(ty) {
            missing.push(name.to_string());
        }
        for field in ty["fields"]
            .as_array()
            .into_iter()
            .chain(ty["inputFields"].as_array())
            .flatten()
        {
            let field_name = format!("{name}.{}", field["name"].as_str().unwrap());
            if !described(field) {
                missing.push(field_name.clone());
            }
            for arg in field["args"].as_array().into_iter().flatten() {
                if !described(arg) {
                    missing.push(format!("{field_name}({})", arg["name"].as_str().unwrap()));
                }
            }
        }
        for value in ty["enumValues"].as_array().into_iter().flatten() {
            if !described(value) {
                missing.push(format!("{name}.{}", value["name"].as_str().unwrap()));
            }
        }
    }
    missing
}

#[tokio::test]
async fn everything_in_the_schema_is_described() {
    let app = spawn_app().await;
    let schema = introspect(&app, Some(&app.read_key)).await;
    assert_eq!(undescribed(&schema), Vec::<String>::new());
    let specified_by = |name: &str| {
        schema["types"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["specifiedByURL"]
            .clone()
    };
    assert_eq!(
        specified_by("DateTime"),
        "https://datatracker.ietf.org/doc/html/rfc3339"
    );
    assert_eq!(
        specified_by("JSON"),
        "https://ecma-international.org/publications-and-standards/standards/ecma-404/"
    );
}
