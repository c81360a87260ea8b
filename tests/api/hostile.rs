//! Hostile input: a table of requests an attacker or a broken client might send. Each is
//! answered with an exact status and error code (or, for a bad event, that event's rejection
//! code), and none changes the database beyond what it says: a refused request stores nothing,
//! a rejected event adds exactly one `event_errors` row.

use serde_json::{Value, json};
use the_eye::auth::{Scope, Scopes, keys};

use crate::helpers::{RECORD, TestApp, pageview, spawn_app_with};

/// Who sends the request.
#[derive(Clone)]
enum Auth {
    None,
    Admin,
    Ingest,
    Read,
    Revoked,
    /// The allowlisted application's key (10.0.0.0/8), with this `X-Forwarded-For`.
    Intranet(Option<&'static str>),
    /// A literal `Authorization` header value.
    Raw(Vec<u8>),
}

/// What the answer must be.
enum Expect {
    /// This HTTP status and `errors[0].extensions.code`; nothing stored.
    Refused(u16, &'static str),
    /// HTTP 200, the single event rejected with this first reason code; one error row added.
    Rejected(&'static str),
}

struct Case {
    name: String,
    auth: Auth,
    body: Vec<u8>,
    expect: Expect,
}

fn case(name: impl Into<String>, auth: Auth, body: impl Into<Vec<u8>>, expect: Expect) -> Case {
    Case {
        name: name.into(),
        auth,
        body: body.into(),
        expect,
    }
}

fn gql(query: &str, variables: Value) -> Vec<u8> {
    json!({ "query": query, "variables": variables })
        .to_string()
        .into_bytes()
}

fn record(events: Value) -> Vec<u8> {
    gql(RECORD, json!({ "events": events }))
}

fn one_event(field: &str, value: Value) -> Vec<u8> {
    let mut event = pageview("s", "2021-01-01T00:00:00Z");
    event[field] = value;
    record(json!([event]))
}

fn nested(depth: usize) -> Value {
    (0..depth).fold(json!(1), |inner, _| json!({ "a": inner }))
}

const READ: &str = "{ events { edges { cursor } } }";

fn malformed_bodies() -> Vec<Case> {
    let bad = |body: &[u8]| (400, "BAD_USER_INPUT", body.to_vec());
    let mut bodies = vec![
        bad(b""),
        bad(b"not json"),
        bad(b"{"),
        bad(b"["),
        bad(b"null"),
        bad(b"true"),
        bad(b"42"),
        bad(b"\"query\""),
        bad(b"{\"query\": 5}"),
        bad(b"{\"query\": [\"{ events { edges { cursor } } }\"]}"),
        bad(b"{\"query\": \"{}\", \"variables\": 7}"),
        bad(b"[1, 2]"),
        bad(b"{\"query\": \"\xff\xfe\"}"),
        bad(b"\xef\xbb\xbf\xff"),
        bad(b"{\"query\": \"{ events \x00 }\"}"),
        bad(b"{\"query\": \"\\ud800\"}"),
        bad(b"{\"query\": \"x\", }"),
    ];
    // Deeper than the JSON parser's recursion limit: refused, not a stack overflow.
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    bodies.push(bad(deep_json.as_bytes()));
    let deep_vars = format!(
        "{{\"query\": \"{{ events {{ edges {{ cursor }} }} }}\", \"variables\": {{\"x\": {}1{}}}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    bodies.push(bad(deep_vars.as_bytes()));
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, (status, code, body))| {
            case(
                format!("malformed body #{i}"),
                Auth::Ingest,
                body,
                Expect::Refused(status, code),
            )
        })
        .collect()
}

fn bad_graphql() -> Vec<Case> {
    let bad = |name: &str, auth: Auth, query: &str, variables: Value| {
        case(
            name,
            auth,
            gql(query, variables),
            Expect::Refused(200, "BAD_USER_INPUT"),
        )
    };
    let event = pageview("s", "2021-01-01T00:00:00Z");
    let mut without_session = event.clone();
    without_session
        .as_object_mut()
        .map(|o| o.remove("sessionId"));
    let mut unknown_field = event.clone();
    unknown_field["color"] = json!("red");
    vec![
        bad("syntax error", Auth::Read, "{ events { ", json!({})),
        bad("empty query", Auth::Read, "", json!({})),
        bad("unknown field", Auth::Read, "{ secrets }", json!({})),
        bad(
            "unknown nested field",
            Auth::Read,
            "{ events { edges { node { password } } } }",
            json!({}),
        ),
        bad(
            "unknown argument",
            Auth::Read,
            "{ events(limit: 5) { edges { cursor } } }",
            json!({}),
        ),
        bad(
            "wrong argument type",
            Auth::Read,
            "{ events(first: \"many\") { edges { cursor } } }",
            json!({}),
        ),
        bad(
            "negative page size",
            Auth::Read,
            "{ events(first: -1) { edges { cursor } } }",
            json!({}),
        ),
        bad(
            "bad cursor",
            Auth::Read,
            "{ events(after: \"forged\") { edges { cursor } } }",
            json!({}),
        ),
        bad(
            "bad enum",
            Auth::Read,
            "{ eventCounts(groupBy: PASSWORD) { key } }",
            json!({}),
        ),
        bad(
            "bad date-time filter",
            Auth::Read,
            "{ events(filter: {from: \"yesterday\"}) { edges { cursor } } }",
            json!({}),
        ),
        bad(
            "from after to",
            Auth::Read,
            "{ events(filter: {from: \"2021-01-02T00:00:00Z\", to: \"2021-01-01T00:00:00Z\"}) { edges { cursor } } }",
            json!({}),
        ),
        bad(
            "missing required argument",
            Auth::Ingest,
            "mutation { recordEvents { accepted } }",
            json!({}),
        ),
        bad(
            "events not a list of objects",
            Auth::Ingest,
            RECORD,
            json!({ "events": "lots" }),
        ),
        bad(
            "events null",
            Auth::Ingest,
            RECORD,
            json!({ "events": null }),
        ),
        bad(
            "event missing sessionId",
            Auth::Ingest,
            RECORD,
            json!({ "events": [without_session] }),
        ),
        bad(
            "event with an unknown field",
            Auth::Ingest,
            RECORD,
            json!({ "events": [unknown_field] }),
        ),
        bad(
            "sessionId a number",
            Auth::Ingest,
            RECORD,
            json!({ "events": [with(&event, "sessionId", json!(5))] }),
        ),
        bad(
            "name an object",
            Auth::Ingest,
            RECORD,
            json!({ "events": [with(&event, "name", json!({"a": 1}))] }),
        ),
        bad(
            "data null",
            Auth::Ingest,
            RECORD,
            json!({ "events": [with(&event, "data", Value::Null)] }),
        ),
        bad(
            "timestamp null",
            Auth::Ingest,
            RECORD,
            json!({ "events": [with(&event, "timestamp", Value::Null)] }),
        ),
        bad(
            "id a list",
            Auth::Ingest,
            RECORD,
            json!({ "events": [with(&event, "id", json!(["a"]))] }),
        ),
        bad(
            "unknown operation name",
            Auth::Read,
            "query A { events { edges { cursor } } } query B { events { edges { cursor } } }",
            json!({}),
        ),
        // A fragment cycle is infinitely deep: the recursion check refuses it first.
        case(
            "fragment cycle",
            Auth::Read,
            gql(
                "{ events { ...A } } fragment A on EventConnection { ...B } fragment B on EventConnection { ...A }",
                json!({}),
            ),
            Expect::Refused(200, "LIMIT_EXCEEDED"),
        ),
        bad(
            "subscription",
            Auth::Read,
            "subscription { events }",
            json!({}),
        ),
        bad(
            "variable of the wrong type",
            Auth::Read,
            "query($n: Int) { events(first: $n) { edges { cursor } } }",
            json!({ "n": "ten" }),
        ),
        bad(
            "undeclared variable",
            Auth::Read,
            "{ events(first: $n) { edges { cursor } } }",
            json!({}),
        ),
        bad(
            "malformed application id",
            Auth::Admin,
            "{ apiKeys(applicationId: \"x\") { id } }",
            json!({}),
        ),
        bad(
            "invalid schema",
            Auth::Admin,
            "mutation { defineEventType(input: {category: \"c\", name: \"n\", schema: {type: 5}}) { name } }",
            json!({}),
        ),
    ]
}

fn with(base: &Value, field: &str, value: Value) -> Value {
    let mut event = base.clone();
    event[field] = value;
    event
}

fn limits() -> Vec<Case> {
    let many = |n: usize| {
        json!(
            (0..n)
                .map(|i| pageview(&format!("s{i}"), "2021-01-01T00:00:00Z"))
                .collect::<Vec<_>>()
        )
    };
    let aliases: String = (0..1_300)
        .map(|i| format!("a{i}: events(first: 1000) {{ edges {{ node {{ id data }} }} }} "))
        .collect();
    let batch = |n: usize| {
        let ops: Vec<Value> = (0..n).map(|_| json!({ "query": READ })).collect();
        serde_json::to_vec(&ops).unwrap()
    };
    let brace_bomb = format!("{}{}", "{ events ".repeat(20_000), "}".repeat(20_000));
    vec![
        case("batch over the event limit", Auth::Ingest, record(many(1_001)), Expect::Refused(200, "LIMIT_EXCEEDED")),
        case("body over 1 MiB", Auth::Ingest, gql(READ, json!({ "pad": "x".repeat(1_100_000) })), Expect::Refused(413, "LIMIT_EXCEEDED")),
        case("enormous body", Auth::None, vec![b' '; 5_000_000], Expect::Refused(413, "LIMIT_EXCEEDED")),
        case("11 operations in one batch", Auth::Read, batch(11), Expect::Refused(400, "LIMIT_EXCEEDED")),
        case("1000 operations in one batch", Auth::None, batch(1_000), Expect::Refused(400, "LIMIT_EXCEEDED")),
        case("query too deep", Auth::Read, gql(&format!("{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}", "ofType { ".repeat(10), "} ".repeat(10)), json!({})), Expect::Refused(200, "LIMIT_EXCEEDED")),
        case("selection 40 deep, under the nesting limit", Auth::Read, gql(&format!("{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}", "ofType { ".repeat(36), "} ".repeat(36)), json!({})), Expect::Refused(200, "LIMIT_EXCEEDED")),
        case("query too complex", Auth::Read, gql(&format!("{{ {aliases} }}"), json!({})), Expect::Refused(200, "LIMIT_EXCEEDED")),
        case("page over the maximum", Auth::Read, gql("{ events(first: 1001) { edges { cursor } } }", json!({})), Expect::Refused(200, "LIMIT_EXCEEDED")),
        case("error page over the maximum", Auth::Read, gql("{ eventErrors(first: 100000) { edges { cursor } } }", json!({})), Expect::Refused(200, "LIMIT_EXCEEDED")),
        case("selection nested 20,000 deep", Auth::Read, gql(&brace_bomb, json!({})), Expect::Refused(400, "LIMIT_EXCEEDED")),
        case("list literal nested 5,000 deep", Auth::Read, gql(&format!("{{ events(first: {}1{}) {{ edges {{ cursor }} }} }}", "[".repeat(5_000), "]".repeat(5_000)), json!({})), Expect::Refused(400, "LIMIT_EXCEEDED")),
        case("object literal nested 5,000 deep", Auth::Ingest, gql(&format!("mutation {{ recordEvents(events: [{{sessionId: \"s\", category: \"c\", name: \"n\", timestamp: \"2021-01-01T00:00:00Z\", data: {}1{}}}]) {{ accepted }} }}", "{a: ".repeat(5_000), "}".repeat(5_000)), json!({})), Expect::Refused(400, "LIMIT_EXCEEDED")),
        case("nesting hidden in a second batched operation", Auth::Read, serde_json::to_vec(&json!([{ "query": READ }, { "query": format!("{{ events(first: {}1{}) {{ edges {{ cursor }} }} }}", "[".repeat(100), "]".repeat(100)) }])).unwrap(), Expect::Refused(400, "LIMIT_EXCEEDED")),
    ]
}

fn bad_events() -> Vec<Case> {
    let long = |n: usize| json!("x".repeat(n));
    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "data over 32 KiB",
            one_event("data", json!({ "pad": "x".repeat(33 * 1024) })),
            "DATA_TOO_LARGE",
        ),
        (
            "data of many small keys",
            one_event(
                "data",
                Value::Object((0..5_000).map(|i| (format!("k{i}"), json!(i))).collect()),
            ),
            "DATA_TOO_LARGE",
        ),
        (
            "data nested 33 deep",
            one_event("data", nested(33)),
            "DATA_TOO_DEEP",
        ),
        (
            "data nested 120 deep",
            one_event("data", nested(120)),
            "DATA_TOO_DEEP",
        ),
        (
            "data a list",
            one_event("data", json!([1, 2])),
            "DATA_NOT_OBJECT",
        ),
        (
            "data a string",
            one_event("data", json!("{\"host\": \"x\"}")),
            "DATA_NOT_OBJECT",
        ),
        (
            "data a number",
            one_event("data", json!(1e308)),
            "DATA_NOT_OBJECT",
        ),
        (
            "NUL in data",
            one_event("data", json!({ "host": "a\u{0}b", "path": "/" })),
            "INVALID_CHARACTER",
        ),
        (
            "NUL in a data key",
            one_event("data", json!({ "host": "a", "path": "/", "\u{0}": 1 })),
            "INVALID_CHARACTER",
        ),
        (
            "NUL in sessionId",
            one_event("sessionId", json!("s\u{0}")),
            "INVALID_CHARACTER",
        ),
        (
            "NUL in category",
            one_event("category", json!("\u{0}")),
            "INVALID_CHARACTER",
        ),
        (
            "sessionId too long",
            one_event("sessionId", long(129)),
            "VALUE_TOO_LONG",
        ),
        (
            "sessionId giant",
            one_event("sessionId", long(500_000)),
            "VALUE_TOO_LONG",
        ),
        (
            "sessionId of 129 emoji",
            one_event("sessionId", json!("😀".repeat(129))),
            "VALUE_TOO_LONG",
        ),
        (
            "category too long",
            one_event("category", long(129)),
            "VALUE_TOO_LONG",
        ),
        (
            "name too long",
            one_event("name", long(129)),
            "VALUE_TOO_LONG",
        ),
        ("id too long", one_event("id", long(129)), "VALUE_TOO_LONG"),
        (
            "empty sessionId",
            one_event("sessionId", json!("")),
            "EMPTY_VALUE",
        ),
        (
            "blank name",
            one_event("name", json!(" \t ")),
            "EMPTY_VALUE",
        ),
        ("empty id", one_event("id", json!("")), "EMPTY_VALUE"),
        (
            "schema violation",
            one_event("data", json!({ "host": 5, "path": "/" })),
            "SCHEMA_VIOLATION",
        ),
        (
            "future timestamp",
            one_event("timestamp", json!("2999-01-01T00:00:00Z")),
            "TIMESTAMP_IN_FUTURE",
        ),
        (
            "giant timestamp",
            one_event("timestamp", long(300_000)),
            "INVALID_TIMESTAMP",
        ),
    ];
    let timestamps = [
        json!(1_609_459_200),
        json!(true),
        json!({ "at": "2021-01-01" }),
        json!(["2021-01-01T00:00:00Z"]),
        json!(""),
        json!("2021-01-01"),
        json!("2021-02-30T00:00:00Z"),
        json!("9999999-01-01T00:00:00Z"),
        json!("2021-01-01T00:00:00.1234567890Z"),
        json!("2021-01-01T00:00:00+99:00"),
        json!("2021-01-01T00:00:00\u{0}"),
        json!("２０２１-01-01T00:00:00Z"),
        json!("2021-01-01T00:00:00Z; DROP TABLE events"),
    ];
    for ts in timestamps {
        let body = one_event("timestamp", ts);
        cases.push(("bad timestamp", body, "INVALID_TIMESTAMP"));
    }
    cases
        .into_iter()
        .enumerate()
        .map(|(i, (name, body, code))| {
            case(
                format!("{name} #{i}"),
                Auth::Ingest,
                body,
                Expect::Rejected(code),
            )
        })
        .collect()
}

const ADMIN_OPERATIONS: [&str; 11] = [
    "{ applications { id } }",
    "{ apiKeys { id } }",
    "mutation { createApplication(input: {name: \"evil\"}) { id } }",
    "mutation { setApplicationAllowlist(applicationId: \"1\", allowedIps: null) { id } }",
    "mutation { createApiKey(input: {applicationId: \"1\", scopes: [ADMIN]}) { key } }",
    "mutation { revokeApiKey(id: \"1\") { id } }",
    "mutation { rotateApiKey(id: \"1\") { key } }",
    "mutation { defineEventType(input: {category: \"c\", name: \"n\"}) { name } }",
    "mutation { processEvents { batches } }",
    "mutation { createApiKey(input: {applicationId: \"2\", scopes: [READ]}) { key } }",
    "mutation { rotateApiKey(id: \"2\") { key } }",
];

const READ_OPERATIONS: [&str; 7] = [
    "{ events { edges { cursor } } }",
    "{ event(id: \"x\") { id } }",
    "{ session(id: \"s\") { eventCount } }",
    "{ eventCounts(groupBy: NAME) { edges { cursor } } }",
    "{ eventErrors { edges { cursor } } }",
    "{ eventTypes { name } }",
    "{ events { edges { node { data } } } eventErrors { edges { node { payload } } } }",
];

fn credentials() -> Vec<Case> {
    let event = json!([pageview("s", "2021-01-01T00:00:00Z")]);
    let unauthenticated = |name: &str, auth: Auth| {
        case(
            name,
            auth,
            record(event.clone()),
            Expect::Refused(200, "UNAUTHENTICATED"),
        )
    };
    let forbidden = |name: String, auth: Auth, body: Vec<u8>| {
        case(name, auth, body, Expect::Refused(200, "FORBIDDEN"))
    };
    let raw = |value: &[u8]| Auth::Raw(value.to_vec());
    let mut cases = vec![
        unauthenticated("no Authorization header", Auth::None),
        unauthenticated("empty header", raw(b"")),
        unauthenticated("Bearer without a key", raw(b"Bearer ")),
        unauthenticated("Basic scheme", raw(b"Basic dXNlcjpwYXNz")),
        unauthenticated(
            "made-up key",
            raw(b"Bearer eye_0000000000000000000000000000000000000000000000000000000000000000"),
        ),
        unauthenticated("short key", raw(b"Bearer eye_")),
        unauthenticated(
            "giant key",
            Auth::Raw(format!("Bearer eye_{}", "f".repeat(20_000)).into_bytes()),
        ),
        unauthenticated("non-ASCII header", raw(b"Bearer eye_\xff\xfe")),
        unauthenticated("SQL in the key", raw(b"Bearer eye_' OR '1'='1")),
        unauthenticated("revoked key", Auth::Revoked),
        case(
            "revoked key reading",
            Auth::Revoked,
            gql(READ, json!({})),
            Expect::Refused(200, "UNAUTHENTICATED"),
        ),
        forbidden(
            "read key recording".into(),
            Auth::Read,
            record(event.clone()),
        ),
        forbidden(
            "allowlisted key from outside".into(),
            Auth::Intranet(Some("203.0.113.5")),
            record(event.clone()),
        ),
        forbidden(
            "allowlisted key without a forwarded address".into(),
            Auth::Intranet(None),
            record(event.clone()),
        ),
        forbidden(
            "allowlisted key with a spoofed left-most hop".into(),
            Auth::Intranet(Some("10.0.0.5, 203.0.113.5")),
            record(event.clone()),
        ),
        forbidden(
            "allowlisted key from outside, reading".into(),
            Auth::Intranet(Some("192.168.1.1")),
            gql(READ, json!({})),
        ),
        forbidden(
            "allowlisted key from an IPv6 address".into(),
            Auth::Intranet(Some("2001:db8::1")),
            gql(READ, json!({})),
        ),
    ];
    for (i, query) in READ_OPERATIONS.iter().enumerate() {
        cases.push(forbidden(
            format!("ingest key reading #{i}"),
            Auth::Ingest,
            gql(query, json!({})),
        ));
    }
    for (i, query) in ADMIN_OPERATIONS.iter().enumerate() {
        cases.push(forbidden(
            format!("ingest key administering #{i}"),
            Auth::Ingest,
            gql(query, json!({})),
        ));
        cases.push(forbidden(
            format!("read key administering #{i}"),
            Auth::Read,
            gql(query, json!({})),
        ));
    }
    cases
}

fn bad_administration() -> Vec<Case> {
    let bad = |name: &str, query: String| {
        case(
            name,
            Auth::Admin,
            gql(&query, json!({})),
            Expect::Refused(200, "BAD_USER_INPUT"),
        )
    };
    let create_app = |name: &str, ips: &str| {
        format!(
            "mutation {{ createApplication(input: {{name: {name}, allowedIps: {ips}}}) {{ id }} }}"
        )
    };
    vec![
        bad("malformed CIDR", create_app("\"x\"", "[\"10.0.0.0/33\"]")),
        bad("host name in an allowlist", create_app("\"x\"", "[\"intranet.example\"]")),
        bad("empty allowlist", create_app("\"x\"", "[]")),
        bad("duplicate application", create_app("\"shop\"", "null")),
        bad("empty application name", create_app("\"  \"", "null")),
        bad("control characters in a name", create_app("\"a\\u0007b\"", "null")),
        bad("giant application name", create_app(&format!("\"{}\"", "n".repeat(10_000)), "null")),
        bad("unknown scope", "mutation { createApiKey(input: {applicationId: \"1\", scopes: [ROOT]}) { key } }".into()),
        bad("no scope", "mutation { createApiKey(input: {applicationId: \"1\", scopes: []}) { key } }".into()),
        bad("unknown application", "mutation { createApiKey(input: {applicationId: \"999\", scopes: [READ]}) { key } }".into()),
        bad("unknown key revoked", "mutation { revokeApiKey(id: \"999\") { id } }".into()),
        bad("non-numeric key id", "mutation { rotateApiKey(id: \"eye_abc\") { key } }".into()),
        bad("revoked key rotated", "mutation { rotateApiKey(id: \"REVOKED\") { key } }".into()),
        bad("allowlist of an unknown application", "mutation { setApplicationAllowlist(applicationId: \"999\", allowedIps: [\"10.0.0.1\"]) { id } }".into()),
    ]
}

struct Fixture {
    revoked_key: String,
    revoked_id: i32,
    intranet_key: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    let revoked = keys::create_key(&app.db, "old", Scopes::of([Scope::Admin]))
        .await
        .unwrap();
    keys::revoke_key(&app.db, revoked.key_id).await.unwrap();
    let intranet = the_eye::auth::applications::create_application(
        &app.db,
        "intranet",
        Some(the_eye::domain::Allowlist::parse(&["10.0.0.0/8"]).unwrap()),
    )
    .await
    .unwrap();
    let key = keys::create_key_for(
        &app.db,
        intranet.id,
        Scopes::of([Scope::Ingest, Scope::Read]),
    )
    .await
    .unwrap();
    Fixture {
        revoked_key: revoked.secret,
        revoked_id: revoked.key_id,
        intranet_key: key.secret,
    }
}

fn headers(app: &TestApp, fixture: &Fixture, auth: &Auth) -> Vec<(&'static str, Vec<u8>)> {
    let bearer = |key: &str| vec![("authorization", format!("Bearer {key}").into_bytes())];
    match auth {
        Auth::None => vec![],
        Auth::Admin => bearer(&app.admin_key),
        Auth::Ingest => bearer(&app.ingest_key),
        Auth::Read => bearer(&app.read_key),
        Auth::Revoked => bearer(&fixture.revoked_key),
        Auth::Intranet(forwarded) => {
            let mut h = bearer(&fixture.intranet_key);
            if let Some(f) = forwarded {
                h.push(("x-forwarded-for", f.as_bytes().to_vec()));
            }
            h
        }
        Auth::Raw(value) => vec![("authorization", value.clone())],
    }
}

#[tokio::test]
async fn hostile_requests_get_exact_codes_and_change_nothing() {
    let app = spawn_app_with(|s| {
        s.security.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let fixture = fixture(&app).await;
    let cases: Vec<Case> = [
        malformed_bodies(),
        bad_graphql(),
        limits(),
        bad_events(),
        credentials(),
        bad_administration(),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(cases.len() >= 100, "only {} cases", cases.len());

    let mut failures = Vec::new();
    for case in &cases {
        let body = String::from_utf8_lossy(&case.body)
            .replace("\"REVOKED\"", &format!("\"{}\"", fixture.revoked_id))
            .into_bytes();
        let body = if case.body.is_ascii() || std::str::from_utf8(&case.body).is_ok() {
            body
        } else {
            case.body.clone()
        };
        let before = app.snapshot().await;
        let headers = headers(&app, &fixture, &case.auth);
        let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        let (status, _, answer) = app.post_raw(body, &headers).await;
        let after = app.snapshot().await;
        let (expected_status, expected_code, expected_after) = match case.expect {
            Expect::Refused(status, code) => (status, code, before),
            Expect::Rejected(code) => (200, code, [before[0], before[1] + 1, before[2], before[3]]),
        };
        let code = match case.expect {
            Expect::Refused(..) => answer["errors"][0]["extensions"]["code"].as_str(),
            Expect::Rejected(_) => {
                answer["data"]["recordEvents"]["results"][0]["errors"][0]["code"].as_str()
            }
        };
        let text = answer.to_string();
        if status != expected_status || code != Some(expected_code) || after != expected_after {
            failures.push(format!(
                "{}: expected {expected_status} {expected_code} {expected_after:?}, got {status} {code:?} {after:?}: {}",
                case.name,
                text.chars().take(300).collect::<String>()
            ));
        }
        // No answer tells an outsider about the internals.
        for leak in ["sqlx", "SQLite", "postgres", "DbErr", "panicked", "src/"] {
            assert!(!text.contains(leak), "{}: {leak} in {text:.300}", case.name);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(app.table_count("events").await, 0);
}
