//! Files compiled into the binary and served over HTTP: the GraphiQL page's and the dashboard's
//! scripts, stylesheets and icon.
//!
//! Each page module lists its files as [`Asset`]s (`include_bytes!`) and routes its asset path to
//! [`serve`]; the page's settings are written into an inert JSON element with [`js_string`], so
//! neither page needs inline script and both work offline.

use std::fmt::Write as _;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One embedded file: (file name, `Content-Type`, contents).
pub type Asset = (&'static str, &'static str, &'static [u8]);

/// `Content-Type` of a script.
pub const JS: &str = "text/javascript; charset=utf-8";
/// `Content-Type` of a stylesheet.
pub const CSS: &str = "text/css; charset=utf-8";
/// `Content-Type` of an SVG image.
pub const SVG: &str = "image/svg+xml";
/// Assets change only with the binary; a day's caching keeps reloads quick.
pub const CACHE_CONTROL: &str = "public, max-age=86400";

/// The file named `file` among `assets`, with its type and caching headers, or 404.
pub fn serve(assets: &[Asset], file: &str) -> Response {
    match assets.iter().find(|(name, _, _)| *name == file) {
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
pub fn js_string(s: &str) -> String {
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

/// The content type an asset named `name` is served with (by its extension).
pub fn content_type_of(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("css") => CSS,
        Some("svg") => SVG,
        _ => JS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    const ASSETS: &[Asset] = &[("a.js", JS, b"let a = 1;")];

    #[tokio::test]
    async fn serves_a_known_asset_with_its_type() {
        let res = serve(ASSETS, "a.js");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_TYPE], JS);
        assert_eq!(res.headers()[header::CACHE_CONTROL], CACHE_CONTROL);
        let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&body[..], b"let a = 1;");
    }

    #[test]
    fn an_unknown_asset_is_404() {
        assert_eq!(serve(ASSETS, "b.js").status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn js_strings_cannot_close_the_script() {
        assert_eq!(
            js_string("</script>\"\n\u{2028}"),
            r#""\u003c/script\u003e\"\n\u2028""#
        );
    }

    #[test]
    fn types_follow_the_extension() {
        assert_eq!(content_type_of("x.css"), CSS);
        assert_eq!(content_type_of("x.svg"), SVG);
        assert_eq!(content_type_of("x.js"), JS);
    }
}
