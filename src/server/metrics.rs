//! The metrics listener: `GET /metrics` in Prometheus' text format, on its own address
//! (`--metrics-listen`), never on the API's.
//!
//! A separate listener keeps the scrape out of reach of the clients the API faces: it needs no
//! key, and it names applications and shows traffic. Bind it to a private interface (or
//! 127.0.0.1 with a local Prometheus agent). It also runs the recorder's upkeep, which folds
//! recorded histogram samples into their buckets even when nobody scrapes.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::telemetry::exporter::{self, ScrapeSources};

/// How often recorded histogram samples are folded into buckets between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The content type of Prometheus' text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone)]
struct MetricsState {
    handle: PrometheusHandle,
    sources: ScrapeSources,
}

/// Installs the recorder, binds `address` and serves `/metrics` until `stopped` turns true.
pub async fn spawn(
    address: SocketAddr,
    sources: ScrapeSources,
    mut stopped: watch::Receiver<bool>,
) -> anyhow::Result<JoinHandle<()>> {
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("listening for metrics on {address}"))?;
    let handle = exporter::install();
    let bound = listener
        .local_addr()
        .context("reading the metrics address")?;
    tracing::info!(metrics_address = %bound, "metrics are served at /metrics");
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(MetricsState {
            handle: handle.clone(),
            sources,
        });
    Ok(tokio::spawn(async move {
        let mut upkeep_stopped = stopped.clone();
        let upkeep = async {
            while !crate::shutdown::sleep_or_stopped(UPKEEP_EVERY, &mut upkeep_stopped).await {
                handle.run_upkeep();
            }
        };
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        });
        let (served, ()) = tokio::join!(serve.into_future(), upkeep);
        if let Err(err) = served {
            tracing::error!(error = %err, "the metrics listener failed");
        }
    }))
}

async fn metrics(State(state): State<MetricsState>) -> impl IntoResponse {
    let body = exporter::scrape(&state.handle, &state.sources).await;
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], body)
}
