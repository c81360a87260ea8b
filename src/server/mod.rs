//! The HTTP server: routes, middleware, and [`serve`], which the binary and the tests call.
//!
//! - `POST /graphql`: the API (single or batched operations);
//! - `GET /graphql`: GraphiQL, with its assets under `/graphiql/assets/`;
//! - `GET /health`: the process is up; `GET /ready`: the database answers.
//!
//! Every request passes through the middleware stack of [`layers`] (applied by
//! [`with_layers`], which the tests use too). A GraphQL request is then authenticated once (key,
//! scopes, the client's address against the application's allowlist), counted against its
//! key's request rate, checked for bracket nesting, and executed.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_graphql::{BatchRequest, BatchResponse, ParseRequestError};
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLBatchRequest, GraphQLResponse};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use ipnet::IpNet;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::client_addr::client_addr;
use crate::auth::last_used::LastUsed;
use crate::auth::rate_limit::RateLimits;
use crate::auth::{Authentication, Scopes, keys};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::error::AppError;
use crate::graphql::error::classify_unlabelled;
use crate::graphql::nesting::nesting_depth;
use crate::graphql::{AppSchema, Schemas, build_schemas};
use crate::ingest::registry::Registry;
use crate::ingest::writer::Writer;
use crate::state::AppState;
use crate::{checkpoint, db, graphiql, processing};

mod introspection;
mod layers;

use layers::error_response;
pub use layers::with_layers;

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
    max_batch_operations: usize,
    max_query_nesting: usize,
    max_query_depth: usize,
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
    let write_db = db::connect_writer(&settings.database, &db, db::Checkpoints::Background).await?;
    let (writer, writer_task) = Writer::spawn(write_db.clone(), &settings.ingest);
    let (stop, stopped) = watch::channel(false);
    let checkpointer = checkpoint::spawn(db.clone(), stopped.clone());
    let worker = processing::worker::spawn(
        write_db.clone(),
        settings.processing.clone(),
        stopped.clone(),
    );
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
        max_query_depth: limits.max_query_depth,
        schemas: build_schemas(AppState {
            db,
            write_db,
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
    let _ = checkpointer.await;
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
    let schema = schema_for(&request, &state);
    let mut response = schema.execute_batch(request.data(auth)).await;
    match &mut response {
        BatchResponse::Single(single) => classify_unlabelled(&mut single.errors),
        BatchResponse::Batch(many) => many
            .iter_mut()
            .for_each(|single| classify_unlabelled(&mut single.errors)),
    }
    GraphQLResponse::from(response).into_response()
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
            if crate::shutdown::sleep_or_stopped(every, &mut stopped).await {
                break;
            }
            if let Err(err) = registry.refresh().await {
                tracing::warn!(error = ?err, "refreshing the event-type registry failed");
            }
        }
    })
}
