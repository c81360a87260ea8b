//! The HTTP server: routes, middleware, and [`serve`], which the binary and the tests call.
//!
//! - `POST /graphql`: the API (single or batched operations);
//! - `GET /graphql`: GraphiQL, with its assets under `/graphiql/assets/`;
//! - `GET /dashboard`: the dashboard, with its assets under `/dashboard/assets/`; `GET /`
//!   redirects there;
//! - `GET /health`: the process is up; `GET /ready`: the database answers;
//! - `GET /export`: events streamed as NDJSON (scope `read`), see [`export`];
//! - `GET /metrics` on the separate `--metrics-listen` address only (see [`metrics`]).
//!
//! Connections are accepted and served by [`connections`], which bounds how many are open and
//! how long each phase of one may take. Every request passes through the middleware stack of
//! [`layers`] (applied by [`with_layers`], which the tests use too). A GraphQL request is then
//! authenticated once (key, scopes, the client's address against the application's allowlist),
//! counted against its key's request rate, checked for bracket nesting, and executed; its span
//! carries the request id, and one line is logged when it is answered ([`RequestLog`]).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use async_graphql::{BatchRequest, BatchResponse, ParseRequestError};
use async_graphql_axum::GraphQLResponse;
use async_graphql_axum::rejection::GraphQLRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use ipnet::IpNet;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::Instrument;

use crate::auth::client_addr::client_addr;
use crate::auth::last_used::LastUsed;
use crate::auth::rate_limit::RateLimits;
use crate::auth::{Authentication, Scopes, keys};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::error::AppError;
use crate::graphql::error::classify_unlabelled;
use crate::graphql::{AppSchema, Schemas, build_schemas};
use crate::ingest::Ingest;
use crate::ingest::registry::{self, Registry};
use crate::ingest::writer::Writer;
use crate::live::{self, Live};
use crate::state::AppState;
use crate::telemetry::exporter::ScrapeSources;
use crate::telemetry::request_log::RequestLog;
use crate::{checkpoint, dashboard, db, graphiql, processing};

mod body;
mod connections;
mod descriptors;
mod export;
mod introspection;
mod layers;
pub mod metrics;
mod nesting;
mod websocket;

use body::GraphQlBody;
pub use layers::with_layers;
use layers::{body_too_large, error_response};
use nesting::nesting_depth;

/// The header carrying each request's id (set when the client did not send one).
pub(crate) const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// How long shutdown waits for the writer to drain queued batches.
const WRITER_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct HttpState {
    schemas: Schemas,
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    trusted_proxies: Arc<[IpNet]>,
    rate_limits: Arc<RateLimits>,
    last_used: Arc<LastUsed>,
    max_body_bytes: usize,
    max_batch_operations: usize,
    max_query_nesting: usize,
    max_query_depth: usize,
    /// Turns true when the server stops (open websockets end then).
    stopped: watch::Receiver<bool>,
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
            .map_err(anyhow::Error::from)
            .context("loading the event-type registry")?,
    );
    let write_db = db::connect_writer(&settings.database, &db, db::Checkpoints::Background).await?;
    let live = Live::new(settings.limits.subscription_buffer);
    let (writer, writer_task) = Writer::spawn(write_db.clone(), &settings.ingest, live.clone());
    let (stop, stopped) = watch::channel(false);
    let relay = live::spawn_relay(live.clone(), db.clone(), stopped.clone());
    let listener_task = live::spawn_postgres_listener(live.clone(), &db, stopped.clone());
    let metrics_listener = match settings.metrics_listen {
        Some(address) => {
            let sources = ScrapeSources {
                db: db.clone(),
                write_db: write_db.clone(),
                clock: clock.clone(),
            };
            Some(metrics::spawn(address, sources, stopped.clone()).await?)
        }
        None => None,
    };
    let checkpointer = checkpoint::spawn(
        db.clone(),
        Duration::from_millis(settings.database.sqlite_checkpoint_interval_ms),
        stopped.clone(),
    );
    let worker = processing::worker::spawn(
        write_db.clone(),
        settings.processing.clone(),
        clock.clone(),
        stopped.clone(),
    );
    let refresher = registry::spawn_refresh(
        registry.clone(),
        Duration::from_millis(settings.ingest.registry_refresh_ms.max(100)),
        stopped.clone(),
    );
    let limits = settings.limits.clone();
    let connection_settings = settings.connections.clone();
    descriptors::check(&settings);
    let rate_limits = Arc::new(RateLimits::new(&settings.security));
    let http = HttpState {
        db: db.clone(),
        clock: clock.clone(),
        trusted_proxies: settings.security.trusted_proxies.clone().into(),
        rate_limits: rate_limits.clone(),
        last_used: Arc::new(LastUsed::default()),
        max_body_bytes: limits.max_body_bytes,
        max_batch_operations: limits.max_batch_operations,
        max_query_nesting: limits.max_query_nesting,
        max_query_depth: limits.max_query_depth,
        stopped,
        schemas: build_schemas(AppState {
            db,
            write_db,
            ingest: Ingest {
                registry,
                writer,
                limits: settings.limits.clone(),
                settings: settings.ingest.clone(),
                clock: clock.clone(),
                rate_limits: rate_limits.clone(),
            },
            settings: Arc::new(settings),
            clock,
            rate_limits,
            live,
        }),
    };
    let app = with_layers(router(http), &limits, &connection_settings);
    tracing::info!(%address, "The Eye is listening");
    connections::serve(listener, app, &connection_settings, shutdown).await;
    // In-flight requests are done and the router (holding the last writer handles) is gone:
    // stop the background tasks, then let the writer drain what is queued.
    let _ = stop.send(true);
    let _ = worker.await;
    let _ = refresher.await;
    let _ = checkpointer.await;
    let _ = relay.await;
    if let Some(task) = listener_task {
        let _ = task.await;
    }
    if let Some(listener) = metrics_listener {
        let _ = listener.await;
    }
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
        .route("/graphql/ws", get(websocket::graphql_ws))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/export", get(export::export))
        .with_state(state)
        .merge(graphiql::asset_router())
        .merge(dashboard::router())
}

/// A whole request refused for an [`AppError`] before execution, with a `Retry-After` header
/// when it was rate limited.
fn refusal(log: &RequestLog, err: AppError) -> Response {
    log.refused(err.code());
    refusal_response(err)
}

/// The answer to a request refused for `err`: its HTTP status, and a `Retry-After` header when
/// retrying later may succeed.
fn refusal_response(err: AppError) -> Response {
    let status = err.http_status();
    let retry_after = err.retry_after_secs();
    let error = async_graphql::Error::from(err);
    let mut body = serde_json::json!({ "errors": [{ "message": error.message }] });
    if let Some(ext) = error.extensions {
        body["errors"][0]["extensions"] = serde_json::to_value(ext).unwrap_or_default();
    }
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(seconds) = retry_after {
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

/// Answers a GraphQL request inside a span carrying its id, then logs its one line.
async fn graphql(
    State(state): State<HttpState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    request: Result<GraphQlBody, GraphQLRejection>,
) -> Response {
    let started = Instant::now();
    let request_id = crate::telemetry::request_id();
    let log = Arc::new(RequestLog::default());
    let span = tracing::info_span!("request", request_id = %request_id);
    let response = answer_graphql(state, connect, headers, request, &log)
        .instrument(span)
        .await;
    log.finish(&request_id, response.status().as_u16(), started.elapsed());
    response
}

async fn answer_graphql(
    state: HttpState,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    request: Result<GraphQlBody, GraphQLRejection>,
    log: &Arc<RequestLog>,
) -> Response {
    let request = match request {
        Ok(GraphQlBody(request)) => request,
        Err(rejection) => return unparsable_request(rejection, state.max_body_bytes, log),
    };
    log.set_operation(operation_names(&request));
    if let BatchRequest::Batch(operations) = &request
        && operations.len() > state.max_batch_operations
    {
        return refusal(
            log,
            AppError::LimitExceeded(format!(
                "a batched request holds at most {} operations (EYE_MAX_BATCH_OPERATIONS); this one has {}",
                state.max_batch_operations,
                operations.len()
            )),
        );
    }
    if let Err(err) = check_nesting(&request, state.max_query_nesting) {
        return refusal(log, err);
    }
    let client = client_of(connect, &headers, &state);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth = Authentication::from_header(&state.db, authorization, client).await;
    if let Some(caller) = auth.caller() {
        log.set_caller(&caller.application_name, caller.key_id);
        if let Err(err) = state.rate_limits.check_request(caller.key_id) {
            return refusal(log, err);
        }
        state
            .last_used
            .touch(&state.db, caller.key_id, state.clock.now());
    }
    let schema = schema_for(&request, &state);
    let mut response = schema
        .execute_batch(request.data(auth).data(log.clone()))
        .await;
    let singles = match &mut response {
        BatchResponse::Single(single) => std::slice::from_mut(single),
        BatchResponse::Batch(many) => many.as_mut_slice(),
    };
    for single in singles {
        classify_unlabelled(&mut single.errors);
        for error in &single.errors {
            if let Some(async_graphql::Value::String(code)) =
                error.extensions.as_ref().and_then(|ext| ext.get("code"))
            {
                log.refused(code);
            }
        }
    }
    GraphQLResponse::from(response).into_response()
}

/// The names the client gave its operations, for the request's log line.
fn operation_names(request: &BatchRequest) -> String {
    let names: Vec<&str> = request
        .iter()
        .map(|operation| operation.operation_name.as_deref().unwrap_or("anonymous"))
        .collect();
    names.join(",")
}

/// The client's address: the TCP peer, or what a trusted proxy put in `X-Forwarded-For`.
/// Without connection info (a router served without it) the address is unknown and only an
/// application without an allowlist can be used: fail closed.
fn client_of(
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: &HeaderMap,
    state: &HttpState,
) -> IpAddr {
    let peer = connect.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.0.ip());
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    client_addr(peer, forwarded, &state.trusted_proxies)
}

/// The schema to run `request` on: the one without a depth limit when every operation is an
/// introspection query within the depth limit once `ofType` links are not counted (see
/// [`introspection`]), the one with every limit otherwise.
fn schema_for<'a>(request: &BatchRequest, state: &'a HttpState) -> &'a AppSchema {
    let shallow_introspection = request.iter().all(|operation| {
        introspection::introspection_depth(&operation.query, operation.operation_name.as_deref())
            .is_some_and(|depth| depth <= state.max_query_depth)
    });
    if shallow_introspection {
        &state.schemas.introspection
    } else {
        &state.schemas.api
    }
}

/// A body that is not a GraphQL request gets a GraphQL-shaped error with a stable code, not
/// the parser's debug output.
fn unparsable_request(
    rejection: GraphQLRejection,
    max_body_bytes: usize,
    log: &RequestLog,
) -> Response {
    let too_large = matches!(rejection.0, ParseRequestError::PayloadTooLarge);
    log.refused(if too_large {
        "LIMIT_EXCEEDED"
    } else {
        "BAD_USER_INPUT"
    });
    match rejection.0 {
        ParseRequestError::PayloadTooLarge => body_too_large(max_body_bytes),
        other => error_response(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            format!("the body is not a GraphQL request: {other}"),
        ),
    }
}

async fn graphiql_page() -> impl IntoResponse {
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            graphiql::CONTENT_SECURITY_POLICY,
        )],
        graphiql::page("/graphql"),
    )
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
        .map_err(anyhow::Error::from)
        .context("counting API keys")?;
    if count > 0 {
        return Ok(());
    }
    let key = keys::create_key(db, "admin", Scopes::of([crate::auth::Scope::Admin]))
        .await
        .map_err(anyhow::Error::from)
        .context("creating the first admin key")?;
    println!(
        "No API key existed, so an admin key was created for application `admin`.\n\
         It is shown only this once; keep it:\n\n    {}\n\n\
         GraphiQL: {graphiql_url}  (set the header  Authorization: Bearer <key>)\n",
        key.secret
    );
    Ok(())
}
