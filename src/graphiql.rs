//! Self-contained GraphiQL IDE page.
//!
//! [`page`] renders the GraphiQL HTML page and [`asset_router`] serves the
//! JavaScript/CSS it needs (React 18, ReactDOM 18 and the GraphiQL 3 UMD
//! bundle) from bytes embedded in the binary with `include_bytes!`, so the IDE
//! works fully offline: no CDN is contacted at run time. The vendored files,
//! their versions and licenses, and the command to refresh them are listed in
//! `src/graphiql/assets/LICENSES.md`.
//!
//! The page pre-fills the headers editor with an `Authorization: Bearer …`
//! template and opens with a small example query. Headers are kept only in
//! memory unless the user turns on "Persist headers" in GraphiQL's settings:
//! an admin key typed on a shared machine must not stay in its local storage.
//! GraphiQL 3.9 resets that setting to its `shouldPersistHeaders` prop on every
//! load, so the page passes the user's stored choice as the prop.
//!
//! Nothing on the page talks to another origin: the fetcher sends requests
//! with `mode: "same-origin"`, and the page's Content-Security-Policy allows
//! only this origin (plus inline code and `data:` fonts, which GraphiQL needs).
//! The favicon, an eye, is one of the embedded assets, also served at
//! `/favicon.ico` for browsers that ask there.

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
    (FAVICON, SVG, include_bytes!("graphiql/assets/favicon.svg")),
];

/// The favicon's file name among [`ASSETS`].
const FAVICON: &str = "favicon.svg";

/// The page's Content-Security-Policy: everything from this origin only. GraphiQL's React
/// components set inline styles, its stylesheet inlines its fonts as `data:` URLs, and the
/// page's own start-up script is inline.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
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
<script src="/graphiql/assets/react.production.min.js"></script>
<script src="/graphiql/assets/react-dom.production.min.js"></script>
<script src="/graphiql/assets/graphiql.min.js"></script>
<script>
  // Requests go to this origin only; the browser refuses anything else.
  function sameOriginFetch(url, init) {
    return window.fetch(url, Object.assign({}, init, { mode: "same-origin", credentials: "same-origin" }));
  }
  // Off unless the user turned "Persist headers" on in the settings (GraphiQL stores that
  // choice, but resets it to this prop on every load).
  function persistHeadersChosen() {
    try {
      return window.localStorage.getItem("graphiql:shouldPersistHeaders") === "true";
    } catch (e) {
      return false;
    }
  }
  const fetcher = GraphiQL.createFetcher({ url: __ENDPOINT__, fetch: sameOriginFetch });
  const h = React.createElement;
  const logo = h(GraphiQL.Logo, null,
    h("span", { className: "the-eye-logo" },
      h("img", { src: __FAVICON__, alt: "" }), "The Eye"));
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    h(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: __DEFAULT_QUERY__,
      defaultHeaders: __DEFAULT_HEADERS__,
      shouldPersistHeaders: persistHeadersChosen(),
      defaultEditorToolsVisibility: "headers",
    }, logo),
  );
</script>
</body>
</html>
"#;

/// The GraphiQL HTML page, sending its requests to `endpoint` (e.g. `/graphql`).
///
/// Scripts and styles are loaded from [`ASSET_PREFIX`], so the router serving
/// this page must also include [`asset_router`].
pub fn page(endpoint: &str) -> Html<String> {
    Html(
        TEMPLATE
            .replace("__ENDPOINT__", &js_string(endpoint))
            .replace("__DEFAULT_QUERY__", &js_string(DEFAULT_QUERY))
            .replace("__DEFAULT_HEADERS__", &js_string(DEFAULT_HEADERS))
            .replace(
                "__FAVICON__",
                &js_string(&format!("{ASSET_PREFIX}{FAVICON}")),
            ),
    )
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

    #[test]
    fn page_is_configured() {
        let Html(html) = page("/graphql");
        assert!(html.contains("<title>The Eye — GraphiQL</title>"));
        assert!(
            html.contains(r#"GraphiQL.createFetcher({ url: "/graphql", fetch: sameOriginFetch })"#)
        );
        assert!(html.contains(r#"mode: "same-origin""#));
        assert!(html.contains("shouldPersistHeaders: persistHeadersChosen()"));
        assert!(
            html.contains(r#"localStorage.getItem("graphiql:shouldPersistHeaders") === "true""#)
        );
        assert!(
            html.contains(
                r#"h("img", { src: "/graphiql/assets/favicon.svg", alt: "" }), "The Eye")"#
            )
        );
        assert!(html.contains("Bearer \\u003cpaste your API key\\u003e"));
        assert!(html.contains("eventTypes"));
    }

    #[test]
    fn endpoint_cannot_break_out_of_the_script() {
        let Html(html) = page("</script><script>alert(1)//\"");
        assert_eq!(html.matches("</script>").count(), 4);
        assert!(html.contains(r#"url: "\u003c/script\u003e\u003cscript\u003ealert(1)//\"""#));
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
