//! `GET /export`: events as NDJSON for warehouse loaders (scope `read`), streamed a page at a
//! time and resumable.
//!
//! Query parameters, all optional: `application` (id), `sessionId`, `category`, `name`, `from`,
//! `to` (as in queries), `cursor` (resume after it) and `limit` (most events in this response).
//! Each line is what `the-eye export` writes: an `EventInput` plus `application`, `receivedAt`
//! and `cursor`. A loader keeps the `cursor` of the last line it stored and passes it back; an
//! answer with no line (or fewer than `limit`) means it has caught up. Errors before the first
//! byte are GraphQL-shaped JSON with the usual codes, and HTTP statuses that say the same
//! (401, 403, 400, 429, 503, 500); a failure mid-stream ends
//! the response early, and the last cursor received is still the right place to resume.

use std::net::SocketAddr;

use axum::Extension;
use axum::body::Body;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{HttpState, client_of, refusal_response};
use crate::auth::{Authentication, Scope};
use crate::domain::parse_timestamp;
use crate::error::{AppError, AppResult};
use crate::lifecycle::export::{ExportCursor, ExportFilter, ExportFormat, Exporter};
use crate::query::EventFilter;

/// The query string of `/export`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ExportParams {
    application: Option<String>,
    session_id: Option<String>,
    category: Option<String>,
    name: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    limit: Option<u64>,
}

impl ExportParams {
    fn filter(self) -> AppResult<(ExportFilter, Option<ExportCursor>, Option<u64>)> {
        let instant = |raw: Option<String>, what: &str| {
            raw.map(|r| {
                parse_timestamp(&r)
                    .map_err(|e| AppError::BadInput(format!("`{what}` is not valid: {}", e.0)))
            })
            .transpose()
        };
        let application_id = self
            .application
            .map(|a| {
                a.parse::<i32>()
                    .map_err(|_| AppError::BadInput(format!("`{a}` is not a valid application id")))
            })
            .transpose()?;
        let filter = ExportFilter {
            application_id,
            events: EventFilter {
                session_id: self.session_id,
                category: self.category,
                name: self.name,
                from: instant(self.from, "from")?,
                to: instant(self.to, "to")?,
            },
        };
        let after = self
            .cursor
            .as_deref()
            .map(ExportCursor::decode)
            .transpose()?;
        Ok((filter, after, self.limit))
    }
}

/// The handler of `GET /export`.
pub(super) async fn export(
    State(state): State<HttpState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    params: Result<Query<ExportParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match start(state, connect, headers, params).await {
        Ok(response) => response,
        Err(err) => {
            // Not GraphQL: plain HTTP clients (curl, loaders) go by the status.
            let status = match err.code() {
                "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
                "FORBIDDEN" => StatusCode::FORBIDDEN,
                "UNAVAILABLE" => StatusCode::SERVICE_UNAVAILABLE,
                "INTERNAL" => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::OK,
            };
            let mut response = refusal_response(err);
            if status != StatusCode::OK {
                *response.status_mut() = status;
            }
            response
        }
    }
}

async fn start(
    state: HttpState,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    params: Result<Query<ExportParams>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Response> {
    let client = client_of(connect, &headers, &state);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth = Authentication::from_header(&state.db, authorization, client).await;
    let caller = auth.require(Scope::Read)?;
    state.rate_limits.check_request(caller.key_id)?;
    let Query(params) = params.map_err(|e| AppError::BadInput(e.body_text()))?;
    let (filter, after, limit) = params.filter()?;
    let exporter =
        Exporter::new(state.db.clone(), filter, ExportFormat::Ndjson, after, limit).await?;
    let pages = futures_util::stream::unfold(Some(exporter), |exporter| async move {
        let mut exporter = exporter?;
        match exporter.next_page().await {
            Ok(Some(page)) => Some((Ok(page), Some(exporter))),
            Ok(None) => None,
            Err(err) => {
                tracing::error!(error = ?err, "an export stream failed");
                Some((Err(std::io::Error::other("export failed")), None))
            }
        }
    });
    let mut response = Body::from_stream(pages).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(response)
}
