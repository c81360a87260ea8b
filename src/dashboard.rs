//! The dashboard: a page for people who would rather look at a chart than read JSON.
//!
//! `GET /dashboard` serves the page (and `GET /` redirects there); its scripts, stylesheets and
//! the vendored uPlot chart library are compiled into the binary and served under
//! [`ASSET_PREFIX`], so it works offline like GraphiQL. The vendored files, their licence and
//! the command to refresh them are in `src/dashboard/assets/LICENSES.md`.
//!
//! The page is a client of the public GraphQL API only, with a read key typed once and kept in
//! the tab's `sessionStorage` (gone when the tab closes). It shows events over time
//! (`eventSeries`), the top categories, names and sessions (`eventCounts`), a session explorer
//! (`session`), and a live tail of events and rejections: subscriptions over the websocket at
//! `/graphql/ws` (graphql-transport-ws), or polling `events` and `eventErrors` every two
//! seconds when the websocket cannot be used. The scripts are ES modules, one per panel:
//! `app.js` starts them, `api.js` talks to the server.
//!
//! The page holds no code and no inline style: its settings are an inert JSON element, and its
//! Content-Security-Policy allows scripts, styles and connections (including the same-origin
//! websocket) to this origin only.

use axum::{
    Router,
    extract::Path,
    http::header,
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
};

use crate::embedded::{self, Asset, CSS, JS, js_string};

/// Where the page is served.
pub const PATH: &str = "/dashboard";

/// URL path prefix under which the embedded assets are served.
pub const ASSET_PREFIX: &str = "/dashboard/assets/";

/// Embedded assets, in the order the page loads them.
pub const ASSETS: &[Asset] = &[
    (
        "uPlot.min.css",
        CSS,
        include_bytes!("dashboard/assets/uPlot.min.css"),
    ),
    (
        "dashboard.css",
        CSS,
        include_bytes!("dashboard/assets/dashboard.css"),
    ),
    (
        "uPlot.iife.min.js",
        JS,
        include_bytes!("dashboard/assets/uPlot.iife.min.js"),
    ),
    ("app.js", JS, include_bytes!("dashboard/assets/app.js")),
    ("api.js", JS, include_bytes!("dashboard/assets/api.js")),
    ("chart.js", JS, include_bytes!("dashboard/assets/chart.js")),
    ("tops.js", JS, include_bytes!("dashboard/assets/tops.js")),
    ("live.js", JS, include_bytes!("dashboard/assets/live.js")),
    (
        "session.js",
        JS,
        include_bytes!("dashboard/assets/session.js"),
    ),
    ("range.js", JS, include_bytes!("dashboard/assets/range.js")),
    ("dom.js", JS, include_bytes!("dashboard/assets/dom.js")),
];

/// The page's Content-Security-Policy: everything from this origin only, no inline script or
/// style. `connect-src 'self'` also admits the websocket to this host and port (CSP Level 3).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The GraphQL endpoint the page queries.
const ENDPOINT: &str = "/graphql";

/// The websocket endpoint of GraphQL subscriptions.
const SUBSCRIPTIONS: &str = "/graphql/ws";

const TEMPLATE: &str = include_str!("dashboard/page.html");

/// The dashboard's HTML page.
pub fn page() -> Html<String> {
    let config = format!(
        "{{\"endpoint\": {}, \"subscriptions\": {}}}",
        js_string(ENDPOINT),
        js_string(SUBSCRIPTIONS),
    );
    Html(TEMPLATE.replace("__CONFIG__", &config))
}

/// Routes `GET /dashboard` to the page, `GET /` to it, and `GET /dashboard/assets/{file}` to
/// the embedded [`ASSETS`].
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to(PATH) }))
        .route(PATH, get(page_response))
        .route("/dashboard/assets/{file}", get(asset))
}

async fn page_response() -> impl IntoResponse {
    (
        [(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)],
        page(),
    )
}

async fn asset(Path(file): Path<String>) -> Response {
    embedded::serve(ASSETS, &file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::content_type_of;

    /// The files the page itself references; the other scripts are imported by `app.js`.
    const PAGE_ASSETS: [&str; 4] = [
        "uPlot.min.css",
        "dashboard.css",
        "uPlot.iife.min.js",
        "app.js",
    ];

    #[test]
    fn page_references_exactly_its_entry_assets() {
        let Html(html) = page();
        let mut refs: Vec<&str> = html
            .split('"')
            .filter(|s| s.starts_with(ASSET_PREFIX))
            .map(|s| &s[ASSET_PREFIX.len()..])
            .collect();
        refs.sort_unstable();
        let mut expected = PAGE_ASSETS.to_vec();
        expected.sort_unstable();
        assert_eq!(refs, expected);
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(!html.contains("style="), "no inline style");
    }

    #[test]
    fn every_module_import_is_an_embedded_asset() {
        for (name, _, bytes) in ASSETS.iter().filter(|(n, _, _)| !n.starts_with("uPlot")) {
            let text = std::str::from_utf8(bytes).unwrap();
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let target = line.split('"').nth(1).expect("a quoted module path");
                let file = target.strip_prefix("./").expect("a relative import");
                assert!(
                    ASSETS.iter().any(|(n, _, _)| *n == file),
                    "{name} imports {file}, which is not embedded"
                );
            }
        }
    }

    #[test]
    fn page_is_configured() {
        let Html(html) = page();
        assert!(html.contains(
            r#"<script id="the-eye-config" type="application/json">{"endpoint": "/graphql", "subscriptions": "/graphql/ws"}</script>"#
        ));
        assert!(html.contains("<title>The Eye — Dashboard</title>"));
    }

    #[test]
    fn assets_are_not_empty_and_typed() {
        for (name, content_type, bytes) in ASSETS {
            assert!(!bytes.is_empty(), "{name} is empty");
            assert_eq!(*content_type, content_type_of(name), "{name}");
        }
    }

    #[test]
    fn the_policy_allows_no_inline_code_and_no_other_origin() {
        let directives: Vec<&str> = CONTENT_SECURITY_POLICY.split("; ").collect();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
        ] {
            assert!(directives.contains(&directive), "{directive}");
        }
        assert!(directives.contains(&"connect-src 'self'"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
        assert!(!CONTENT_SECURITY_POLICY.contains("http"));
        assert!(!CONTENT_SECURITY_POLICY.contains('*'));
    }

    #[test]
    fn router_builds() {
        let _: Router<()> = router();
    }
}
