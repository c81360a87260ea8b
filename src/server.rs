//! The HTTP server: routes, middleware, and [`serve`], which the binary and the tests call.
//!
//! - `POST /graphql`: the API (single or batched operations);
//! - `GET /graphql`: GraphiQL, with its assets under `/graphiql/assets/`;
//! - `GET /health`: the process is up; `GET /ready`: the database answers.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_graphql::{BatchResponse, ParseRequestError};
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLBatchRequest, GraphQLResponse};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::{Authentication, Scopes, keys};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::graphql::error::{REQUEST_ID, classify_unlabelled};
use crate::graphql::{AppSchema, build_schema};
use crate::ingest::registry::Registry;
use crate::ingest::writer::Writer;
use crate::state::AppState;
use crate::{checkpoint, db, graphiql, processing};

const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// How long shutdown waits for the writer to drain queued batches.
const WRITER_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct HttpState {
    schema: AppSchema,
    db: DatabaseConnection,
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
    let worker = processing::worker::spawn(write_db, settings.processing.clone(), stopped.clone());
    let refresher = spawn_registry_refresh(
        registry.clone(),
        Duration::from_millis(settings.ingest.registry_refresh_ms.max(100)),
        stopped,
    );
    let max_body = settings.limits.max_body_bytes;
    let state = AppState {
        db: db.clone(),
        settings: Arc::new(settings),
        registry,
        writer,
        clock,
    };
    let app = router(
        HttpState {
            schema: build_schema(state),
            db,
        },
        max_body,
    );
    tracing::info!(%address, "The Eye is listening");
    axum::serve(listener, app)
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

fn router(state: HttpState, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/graphql", get(graphiql_page).post(graphql))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(state)
        .merge(graphiql::asset_router())
        .layer(RequestBodyLimitLayer::new(max_body_bytes))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
        .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
}

async fn graphql(
    State(state): State<HttpState>,
    headers: HeaderMap,
    request: Result<GraphQLBatchRequest, GraphQLRejection>,
) -> Response {
    let request = match request {
        Ok(request) => request,
        Err(rejection) => return unparsable_request(rejection),
    };
    let request_id = headers
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth = Authentication::from_header(&state.db, authorization).await;
    let request = request.into_inner().data(auth);
    let mut response = REQUEST_ID
        .scope(request_id, state.schema.execute_batch(request))
        .await;
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
    let (status, code, message) = match rejection.0 {
        ParseRequestError::PayloadTooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "LIMIT_EXCEEDED",
            "the request body is larger than EYE_MAX_BODY_BYTES".to_string(),
        ),
        other => (
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            format!("the body is not a GraphQL request: {other}"),
        ),
    };
    let body =
        serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, axum::Json(body)).into_response()
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
