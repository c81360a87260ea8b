//! The Prometheus recorder (one per process, as `metrics` has one global recorder) and the
//! scrape.
//!
//! Counters and histograms are moved where things happen ([`super::meters`]). The job's
//! backlog and lag and the pools' connections are instead read when Prometheus scrapes: one
//! indexed `COUNT` and one single-row read every scrape interval cost less than keeping a
//! gauge current on every commit and every step.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::{DatabaseConnection, DbBackend};

use super::meters::{self as m, LATENCY_BUCKETS, SIZE_BUCKETS};
use crate::clock::Clock;
use crate::processing::job::backlog;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder the first time it is called and returns its handle. Later
/// calls (several servers in one test process) share it.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let handle = builder().install_recorder().unwrap_or_else(|err| {
                // Another recorder was set by the embedding program: render an empty one
                // rather than fail the server.
                tracing::warn!(error = %err, "a metrics recorder was already installed");
                PrometheusBuilder::new().build_recorder().handle()
            });
            describe();
            gauge!(m::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            handle
        })
        .clone()
}

fn builder() -> PrometheusBuilder {
    let buckets = [
        (m::RECORD_ACK_SECONDS, LATENCY_BUCKETS),
        (m::COMMIT_SECONDS, LATENCY_BUCKETS),
        (m::JOB_STEP_SECONDS, LATENCY_BUCKETS),
        (m::COMMIT_EVENTS, SIZE_BUCKETS),
        (m::COMMIT_BATCHES, SIZE_BUCKETS),
    ];
    buckets
        .into_iter()
        .fold(PrometheusBuilder::new(), |builder, (name, values)| {
            builder
                .set_buckets_for_metric(Matcher::Full(name.into()), values)
                .expect("bucket lists are constant and non-empty")
        })
}

fn describe() {
    describe_gauge!(m::BUILD_INFO, "Build information; always 1.");
    describe_counter!(
        m::EVENTS,
        "Events answered by recordEvents, by application and status."
    );
    describe_counter!(
        m::REJECTION_REASONS,
        "Reasons of rejected events, by application and reason code."
    );
    describe_counter!(m::RECORD_REQUESTS, "recordEvents calls, by outcome.");
    describe_histogram!(
        m::RECORD_ACK_SECONDS,
        metrics::Unit::Seconds,
        "Time from a recordEvents call to its answer."
    );
    describe_histogram!(m::COMMIT_EVENTS, "Rows per group commit.");
    describe_histogram!(m::COMMIT_BATCHES, "Requests answered per group commit.");
    describe_histogram!(
        m::COMMIT_SECONDS,
        metrics::Unit::Seconds,
        "Duration of a group commit."
    );
    describe_counter!(m::COMMITS, "Group commits, by outcome.");
    describe_counter!(m::JOB_STEPS, "Background job steps, by outcome.");
    describe_histogram!(
        m::JOB_STEP_SECONDS,
        metrics::Unit::Seconds,
        "Duration of a background job step."
    );
    describe_counter!(m::JOB_EVENTS, "Events aggregated by the background job.");
    describe_gauge!(m::BACKLOG_EVENTS, "Events stored but not yet aggregated.");
    describe_gauge!(
        m::LAG_SECONDS,
        metrics::Unit::Seconds,
        "Age of the oldest event not yet aggregated."
    );
    describe_gauge!(
        m::POOL_CONNECTIONS,
        "Database pool connections, by pool and state."
    );
    describe_counter!(
        m::REFUSALS,
        "Requests or operations refused, by error code."
    );
}

/// What a scrape reads besides the recorder.
#[derive(Clone)]
pub struct ScrapeSources {
    /// The read pool.
    pub db: DatabaseConnection,
    /// The write connection (on PostgreSQL, the same pool as `db`).
    pub write_db: DatabaseConnection,
    /// Where "now" comes from, for the lag.
    pub clock: std::sync::Arc<dyn Clock>,
}

/// Refreshes the gauges read at scrape time, then renders every metric in Prometheus' text
/// format. A failed backlog read leaves the last values and is logged.
pub async fn scrape(handle: &PrometheusHandle, sources: &ScrapeSources) -> String {
    match backlog(&sources.db).await {
        Ok(backlog) => {
            let lag = backlog
                .oldest_received_at
                .map(|at| (sources.clock.now() - at).to_std().unwrap_or_default())
                .unwrap_or(Duration::ZERO);
            m::backlog(backlog.events, lag);
        }
        Err(err) => tracing::warn!(error = %err, "reading the processing backlog failed"),
    }
    pool_gauges(&sources.db, "read");
    if sources.db.get_database_backend() == DbBackend::Sqlite {
        pool_gauges(&sources.write_db, "write");
    }
    handle.render()
}

fn pool_gauges(db: &DatabaseConnection, name: &'static str) {
    let (size, idle, max) = match db.get_database_backend() {
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => return,
    };
    let idle = u32::try_from(idle).unwrap_or(u32::MAX);
    m::pool(name, size.saturating_sub(idle), idle, max);
}
