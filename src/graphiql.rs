//! Self-contained GraphiQL IDE page.
//!
//! [`page`] renders the GraphiQL HTML page and [`asset_router`] serves the
//! JavaScript/CSS it needs (React 18, ReactDOM 18 and the GraphiQL 3 UMD
//! bundle) from bytes embedded in the binary with `include_bytes!`, so the IDE
//! works fully offline: no CDN is contacted at run time. The vendored files,
//! their versions and licenses, and the command to refresh them are listed in
//! `src/graphiql/assets/LICENSES.md`.
//!
//! The page itself holds no code: its settings are an inert JSON element and
//! `the-eye.js` (embedded too) starts GraphiQL with them. It pre-fills the
//! headers editor with an `Authorization: Bearer …` template and opens with a
//! small example query. Headers are kept only in memory unless the user turns
//! on "Persist headers" in GraphiQL's settings: an admin key typed on a shared
//! machine must not stay in its local storage. Two GraphiQL 3.9 behaviours are
//! worked around there: it resets that setting to its `shouldPersistHeaders`
//! prop on every load (so the page passes the stored choice), and its history
//! keeps every query's headers whatever the setting (so its storage drops them).
//!
//! Nothing on the page talks to another origin: the fetcher sends requests
//! with `mode: "same-origin"`, and the page's Content-Security-Policy allows
//! only this origin, no inline script, and the inline styles and `data:` fonts
//! GraphiQL needs. The favicon, an eye, is one of the embedded assets, also
//! served at `/favicon.ico` for browsers that ask there.

use std::fmt::Write as _;

use axum::{
    Router,
    extract::Path,
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};

/// URL path prefix under which the embedded assets are served.
pub const ASSET_PREFIX: &str = "/graphiql/assets/";

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";
const CACHE_CONTROL: &str = "public, max-age=86400";

/// Embedded assets: (file name, `Content-Type`, contents).
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "react.production.min.js",
        JS,
        include_bytes!("graphiql/assets/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        JS,
        include_bytes!("graphiql/assets/react-dom.production.min.js"),
    ),
    (
        "graphiql.min.js",
        JS,
        include_bytes!("graphiql/assets/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        CSS,
        include_bytes!("graphiql/assets/graphiql.min.css"),
    ),
    (
        "the-eye.js",
        JS,
        include_bytes!("graphiql/assets/the-eye.js"),
    ),
    (FAVICON, SVG, include_bytes!("graphiql/assets/favicon.svg")),
];

/// The favicon's file name among [`ASSETS`].
const FAVICON: &str = "favicon.svg";

/// The page's Content-Security-Policy: everything from this origin only, no inline script.
/// GraphiQL adds inline styles and its stylesheet inlines its fonts as `data:` URLs.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Query shown in a fresh GraphiQL session.
const DEFAULT_QUERY: &str = "\
# Put your API key in the Headers tab below, then run the query.
query {
  eventTypes {
    category
    name
  }
}
";

/// Initial content of the headers editor.
const DEFAULT_HEADERS: &str = "{\n  \"Authorization\": \"Bearer <paste your API key>\"\n}";

const TEMPLATE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>The Eye — GraphiQL</title>
<link rel="icon" type="image/svg+xml" href="/graphiql/assets/favicon.svg">
<style>
  html, body { height: 100%; margin: 0; overflow: hidden; }
  #graphiql { height: 100vh; }
  .the-eye-logo { display: inline-flex; align-items: center; gap: 0.4em; }
  .the-eye-logo img { width: 1.2em; height: 1.2em; }
</style>
<link rel="stylesheet" href="/graphiql/assets/graphiql.min.css">
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script id="the-eye-config" type="application/json">__CONFIG__</script>
<script src="/graphiql/assets/react.production.min.js"></script>
<script src="/graphiql/assets/react-dom.production.min.js"></script>
<script src="/graphiql/assets/graphiql.min.js"></script>
<script src="/graphiql/assets/the-eye.js"></script>
</body>
</html>
"#;

/// The GraphiQL HTML page, sending its requests to `endpoint` (e.g. `/graphql`).
///
/// Scripts and styles are loaded from [`ASSET_PREFIX`], so the router serving
/// this page must also include [`asset_router`].
pub fn page(endpoint: &str) -> Html<String> {
    // `js_string` output is also a JSON string, and safe inside `<script>`.
    let config = format!(
        "{{\"endpoint\": {}, \"defaultQuery\": {}, \"defaultHeaders\": {}, \"logo\": {}}}",
        js_string(endpoint),
        js_string(DEFAULT_QUERY),
        js_string(DEFAULT_HEADERS),
        js_string(&format!("{ASSET_PREFIX}{FAVICON}")),
    );
    Html(TEMPLATE.replace("__CONFIG__", &config))
}

/// Routes `GET /graphiql/assets/{file}` to the embedded [`ASSETS`], and `GET /favicon.ico` to
/// the favicon.
pub fn asset_router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/graphiql/assets/{file}", get(asset))
        .route("/favicon.ico", get(|| asset(Path(FAVICON.to_owned()))))
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some(&(_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, CACHE_CONTROL),
            ],
            bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Encodes `s` as a double-quoted JavaScript string literal that is also safe
/// inside an HTML `<script>` element (no `<`, `>` or `&` survive literally).
fn js_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\0'..='\u{1f}' | '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    /// Values of every `attr="…"` attribute in `html`.
    fn attr_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
        let needle = format!("{attr}=\"");
        html.match_indices(&needle)
            .map(|(i, _)| {
                let rest = &html[i + needle.len()..];
                &rest[..rest.find('"').expect("unterminated attribute")]
            })
            .collect()
    }

    #[test]
    fn page_references_only_embedded_assets() {
        let Html(html) = page("/graphql");
        let refs: Vec<&str> = attr_values(&html, "src")
            .into_iter()
            .chain(attr_values(&html, "href"))
            .collect();
        assert_eq!(refs.len(), ASSETS.len(), "unexpected references: {refs:?}");
        for r in &refs {
            let file = r
                .strip_prefix(ASSET_PREFIX)
                .unwrap_or_else(|| panic!("{r} is not under {ASSET_PREFIX}"));
            assert!(
                ASSETS.iter().any(|(name, _, _)| *name == file),
                "{file} is not an embedded asset"
            );
        }
        for (name, _, _) in ASSETS {
            let path = format!("{ASSET_PREFIX}{name}");
            assert!(refs.contains(&path.as_str()), "{name} is never loaded");
        }
    }

    #[test]
    fn page_uses_no_cdn() {
        let Html(html) = page("/graphql");
        assert!(!html.contains("http://"), "page contains an http:// URL");
        assert!(!html.contains("https://"), "page contains an https:// URL");
    }

    /// The page's settings, parsed from its JSON element.
    fn config(html: &str) -> serde_json::Value {
        let open = r#"<script id="the-eye-config" type="application/json">"#;
        let start = html.find(open).expect("the settings element") + open.len();
        let end = start + html[start..].find("</script>").unwrap();
        serde_json::from_str(&html[start..end]).expect("the settings are JSON")
    }

    #[test]
    fn page_is_configured() {
        let Html(html) = page("/graphql");
        assert!(html.contains("<title>The Eye — GraphiQL</title>"));
        assert_eq!(
            config(&html),
            serde_json::json!({
                "endpoint": "/graphql",
                "defaultQuery": DEFAULT_QUERY,
                "defaultHeaders": "{\n  \"Authorization\": \"Bearer <paste your API key>\"\n}",
                "logo": "/graphiql/assets/favicon.svg",
            })
        );
        assert!(html.contains("Bearer \\u003cpaste your API key\\u003e"));
    }

    #[test]
    fn the_script_keeps_headers_out_of_storage_unless_chosen() {
        let script = std::str::from_utf8(include_bytes!("graphiql/assets/the-eye.js")).unwrap();
        for setting in [
            "fetch: sameOriginFetch",
            r#"mode: "same-origin""#,
            "storage: storage,",
            "shouldPersistHeaders: persistHeadersChosen(),",
            "showPersistHeadersSettings: true,",
            r#"const HEADERS_CHOICE = "graphiql:shouldPersistHeaders";"#,
            r#"HISTORY_KEYS.includes(key) && !persistHeadersChosen() ? withoutHeaders(value) : value"#,
        ] {
            assert!(script.contains(setting), "{setting}");
        }
    }

    #[test]
    fn the_policy_allows_no_inline_script_and_no_other_origin() {
        let directives: Vec<&str> = CONTENT_SECURITY_POLICY.split("; ").collect();
        assert!(directives.contains(&"default-src 'self'"));
        assert!(directives.contains(&"script-src 'self'"));
        assert!(directives.contains(&"connect-src 'self'"));
        assert!(!CONTENT_SECURITY_POLICY.contains("http"));
        assert!(!CONTENT_SECURITY_POLICY.contains('*'));
    }

    #[test]
    fn endpoint_cannot_break_out_of_the_script() {
        let endpoint = "</script><script>alert(1)//\"";
        let Html(html) = page(endpoint);
        assert_eq!(html.matches("</script>").count(), 5);
        assert!(
            html.contains(r#""endpoint": "\u003c/script\u003e\u003cscript\u003ealert(1)//\"""#)
        );
        assert_eq!(config(&html)["endpoint"], endpoint);
    }

    #[test]
    fn assets_are_not_empty_and_typed() {
        for (name, content_type, bytes) in ASSETS {
            assert!(!bytes.is_empty(), "{name} is empty");
            let expected = match name.rsplit_once('.').map(|(_, ext)| ext) {
                Some("css") => CSS,
                Some("svg") => SVG,
                _ => JS,
            };
            assert_eq!(*content_type, expected, "{name}");
        }
    }

    #[tokio::test]
    async fn serves_known_assets() {
        for (name, content_type, bytes) in ASSETS {
            let res = asset(Path((*name).to_owned())).await;
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(res.headers()[header::CONTENT_TYPE], *content_type);
            assert_eq!(res.headers()[header::CACHE_CONTROL], CACHE_CONTROL);
            let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
            assert_eq!(&body[..], *bytes);
        }
    }

    #[tokio::test]
    async fn unknown_asset_is_404() {
        let res = asset(Path("nope.js".to_owned())).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn favicon_is_an_svg() {
        let res = asset(Path(FAVICON.to_owned())).await;
        assert_eq!(res.headers()[header::CONTENT_TYPE], SVG);
        let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
        assert!(body.starts_with(b"<svg "));
    }

    #[test]
    fn router_builds() {
        let _: Router<()> = asset_router();
    }
}
