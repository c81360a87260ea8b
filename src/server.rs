//! The HTTP server: routes, middleware, and [`serve`], which the binary and the tests call.
//!
//! - `POST /graphql`: the API (single or batched operations);
//! - `GET /graphql`: GraphiQL, with its assets under `/graphiql/assets/`;
//! - `GET /health`: the process is up; `GET /ready`: the database answers.
//!
//! Every request passes, outermost first: a request id, tracing, the body-size limit (the body
//! is read here, up to the limit, so nothing bigger is ever parsed), the request id made
//! available to the code below, and a panic catcher that turns a panic into an `INTERNAL`
//! answer. [`with_layers`] applies that stack; the tests use it too. A GraphQL request is then
//! authenticated once (key, scopes, the client's address against the application's
//! allowlist), counted against its key's request rate, and executed.

use std::any::Any;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_graphql::{BatchRequest, BatchResponse, ParseRequestError};
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLBatchRequest, GraphQLResponse};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use ipnet::IpNet;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::client_addr::client_addr;
use crate::auth::last_used::LastUsed;
use crate::auth::rate_limit::RateLimits;
use crate::auth::{Authentication, Scopes, keys};
use crate::clock::{Clock, SystemClock};
use crate::config::{Limits, Settings};
use crate::error::AppError;
use crate::graphql::error::{REQUEST_ID, classify_unlabelled, request_id};
use crate::graphql::nesting::nesting_depth;
use crate::graphql::{AppSchema, build_schema};
use crate::ingest::registry::Registry;
use crate::ingest::writer::Writer;
use crate::state::AppState;
use crate::{db, graphiql, processing};

const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// How long shutdown waits for the writer to drain queued batches.
const WRITER_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct HttpState {
    schema: AppSchema,
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    trusted_proxies: Arc<[IpNet]>,
    rate_limits: Arc<RateLimits>,
    last_used: Arc<LastUsed>,
    max_batch_operations: usize,
    max_query_nesting: usize,
}

/// Runs the service on `listener` until `shutdown` completes, with the system clock.
pub async fn serve(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with_clock(settings, Arc::new(SystemClock), listener, shutdown).await
}

/// Runs the service with an injected clock (tests pin time with it).
pub async fn serve_with_clock(
    settings: Settings,
    clock: Arc<dyn Clock>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = db::connect(&settings.database).await?;
    db::migrate(&db).await?;
    let address = listener
        .local_addr()
        .context("reading the listening address")?;
    bootstrap_admin_key(&db, &format!("http://{address}/graphql")).await?;
    let registry = Arc::new(
        Registry::load(db.clone())
            .await
            .map_err(|e| anyhow::anyhow!("loading the event-type registry: {e:?}"))?,
    );
    let (writer, writer_task) = Writer::spawn(db.clone(), &settings.ingest);
    let (stop, stopped) = watch::channel(false);
    let worker =
        processing::worker::spawn(db.clone(), settings.processing.clone(), stopped.clone());
    let refresher = spawn_registry_refresh(
        registry.clone(),
        Duration::from_millis(settings.ingest.registry_refresh_ms.max(100)),
        stopped,
    );
    let limits = settings.limits.clone();
    let rate_limits = Arc::new(RateLimits::new(&settings.security));
    let http = HttpState {
        db: db.clone(),
        clock: clock.clone(),
        trusted_proxies: settings.security.trusted_proxies.clone().into(),
        rate_limits: rate_limits.clone(),
        last_used: Arc::new(LastUsed::default()),
        max_batch_operations: limits.max_batch_operations,
        max_query_nesting: limits.max_query_nesting,
        schema: build_schema(AppState {
            db,
            settings: Arc::new(settings),
            registry,
            writer,
            clock,
            rate_limits,
        }),
    };
    let app = with_layers(router(http), &limits);
    tracing::info!(%address, "The Eye is listening");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("serving HTTP")?;
    // In-flight requests are done and the router (holding the last writer handles) is gone:
    // stop the background tasks, then let the writer drain what is queued.
    let _ = stop.send(true);
    let _ = worker.await;
    let _ = refresher.await;
    if tokio::time::timeout(WRITER_DRAIN_TIMEOUT, writer_task)
        .await
        .is_err()
    {
        tracing::warn!("the writer did not drain in time");
    }
    Ok(())
}

fn router(state: HttpState) -> Router {
    Router::new()
        .route("/graphql", get(graphiql_page).post(graphql))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(state)
        .merge(graphiql::asset_router())
}

/// Applies the middleware stack every route of The Eye runs under (see the module docs).
pub fn with_layers(router: Router, limits: &Limits) -> Router {
    router
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(scope_request_id))
        .layer(middleware::from_fn_with_state(
            limits.max_body_bytes,
            limit_body,
        ))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
        .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
}

/// Makes the request id available to everything below (errors, logs, the panic answer).
async fn scope_request_id(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    REQUEST_ID.scope(id, next.run(request)).await
}

/// Reads the whole body, refusing it with 413 as soon as it is known to exceed the limit: from
/// `Content-Length` before reading anything, or while reading a body of undeclared length.
async fn limit_body(State(max_bytes): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_bytes as u64) {
        return body_too_large(max_bytes);
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, max_bytes).await {
        Ok(bytes) => bytes,
        Err(err) => {
            if err
                .into_inner()
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return body_too_large(max_bytes);
            }
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                "the request body could not be read".into(),
            );
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn body_too_large(max_bytes: usize) -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "LIMIT_EXCEEDED",
        format!("the request body is larger than {max_bytes} bytes (EYE_MAX_BODY_BYTES)"),
    )
}

/// A panic anywhere below becomes an `INTERNAL` answer with the request id; the panic's
/// message goes to the log only.
fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    let id = request_id();
    tracing::error!(request_id = %id, panic = %message, "a request handler panicked");
    let body = serde_json::json!({ "errors": [{
        "message": format!("internal error; quote request id {id} when reporting it"),
        "extensions": { "code": "INTERNAL", "requestId": id },
    }] });
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}

/// A GraphQL-shaped error answer for a request refused before execution.
fn error_response(status: StatusCode, code: &str, message: String) -> Response {
    let body =
        serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, axum::Json(body)).into_response()
}

/// A whole request refused for an [`AppError`] before execution, with a `Retry-After` header
/// when it was rate limited.
fn refusal(err: AppError) -> Response {
    let code = err.code();
    let retry_after_ms = match &err {
        AppError::RateLimited { retry_after_ms, .. } => Some(*retry_after_ms),
        _ => None,
    };
    let error = async_graphql::Error::from(err);
    let mut body = serde_json::json!({ "errors": [{ "message": error.message }] });
    if let Some(ext) = error.extensions {
        body["errors"][0]["extensions"] = serde_json::to_value(ext).unwrap_or_default();
    }
    let status = match code {
        "RATE_LIMITED" => StatusCode::TOO_MANY_REQUESTS,
        "LIMIT_EXCEEDED" | "BAD_USER_INPUT" => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(ms) = retry_after_ms {
        let seconds = ms.div_ceil(1_000).max(1);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn check_nesting(request: &BatchRequest, max: usize) -> Result<(), AppError> {
    let too_deep = request
        .iter()
        .map(|operation| nesting_depth(&operation.query))
        .find(|depth| *depth > max);
    match too_deep {
        Some(depth) => Err(AppError::LimitExceeded(format!(
            "the query nests brackets {depth} deep; the limit is {max} (EYE_MAX_QUERY_NESTING)"
        ))),
        None => Ok(()),
    }
}

async fn graphql(
    State(state): State<HttpState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    request: Result<GraphQLBatchRequest, GraphQLRejection>,
) -> Response {
    let request = match request {
        Ok(request) => request.into_inner(),
        Err(rejection) => return unparsable_request(rejection),
    };
    if let BatchRequest::Batch(operations) = &request
        && operations.len() > state.max_batch_operations
    {
        return refusal(AppError::LimitExceeded(format!(
            "a batched request holds at most {} operations (EYE_MAX_BATCH_OPERATIONS); this one has {}",
            state.max_batch_operations,
            operations.len()
        )));
    }
    if let Err(err) = check_nesting(&request, state.max_query_nesting) {
        return refusal(err);
    }
    // Without connection info (a router served without it) the address is unknown and only an
    // application without an allowlist can be used: fail closed.
    let peer = connect.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.0.ip());
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    let client = client_addr(peer, forwarded, &state.trusted_proxies);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth = Authentication::from_header(&state.db, authorization, client).await;
    if let Some(caller) = auth.caller() {
        if let Err(err) = state.rate_limits.check_request(caller.key_id) {
            return refusal(err);
        }
        state
            .last_used
            .touch(&state.db, caller.key_id, state.clock.now());
    }
    let mut response = state.schema.execute_batch(request.data(auth)).await;
    match &mut response {
        BatchResponse::Single(single) => classify_unlabelled(&mut single.errors),
        BatchResponse::Batch(many) => many
            .iter_mut()
            .for_each(|single| classify_unlabelled(&mut single.errors)),
    }
    GraphQLResponse::from(response).into_response()
}

/// A body that is not a GraphQL request gets a GraphQL-shaped error with a stable code, not
/// the parser's debug output.
fn unparsable_request(rejection: GraphQLRejection) -> Response {
    match rejection.0 {
        ParseRequestError::PayloadTooLarge => error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "LIMIT_EXCEEDED",
            "the request body is larger than EYE_MAX_BODY_BYTES".to_string(),
        ),
        other => error_response(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            format!("the body is not a GraphQL request: {other}"),
        ),
    }
}

async fn graphiql_page() -> Html<String> {
    graphiql::page("/graphql")
}

async fn health() -> &'static str {
    "ok"
}

async fn ready(State(state): State<HttpState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// On a database without any key, creates an admin key and prints it once, so a newcomer can
/// use the API straight away.
async fn bootstrap_admin_key(db: &DatabaseConnection, graphiql_url: &str) -> anyhow::Result<()> {
    let count = keys::count_keys(db)
        .await
        .map_err(|e| anyhow::anyhow!("counting API keys: {e:?}"))?;
    if count > 0 {
        return Ok(());
    }
    let key = keys::create_key(db, "admin", Scopes::of([crate::auth::Scope::Admin]))
        .await
        .map_err(|e| anyhow::anyhow!("creating the first admin key: {e:?}"))?;
    println!(
        "No API key existed, so an admin key was created for application `admin`.\n\
         It is shown only this once; keep it:\n\n    {}\n\n\
         GraphiQL: {graphiql_url}  (set the header  Authorization: Bearer <key>)\n",
        key.secret
    );
    Ok(())
}

fn spawn_registry_refresh(
    registry: Arc<Registry>,
    every: Duration,
    mut stopped: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                changed = stopped.changed() => {
                    if changed.is_err() || *stopped.borrow() {
                        break;
                    }
                }
            }
            if let Err(err) = registry.refresh().await {
                tracing::warn!(error = ?err, "refreshing the event-type registry failed");
            }
        }
    })
}
