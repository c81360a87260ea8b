//! The dependencies every request shares, built once by the server and handed to the schema.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::rate_limit::RateLimits;
use crate::clock::Clock;
use crate::config::Settings;
use crate::ingest::Ingest;
use crate::live::Live;

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState {
    /// The connection pool.
    pub db: DatabaseConnection,
    /// The connection that writes events and aggregates (on SQLite a single connection shared
    /// by the writer and the job; on PostgreSQL the pool itself).
    pub write_db: DatabaseConnection,
    /// All settings.
    pub settings: Arc<Settings>,
    /// Recording events: the type registry, the group-commit writer and what validation needs.
    pub ingest: Ingest,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
    /// Per-key request and event rates.
    pub rate_limits: Arc<RateLimits>,
    /// The live stream of committed events, for subscriptions.
    pub live: Arc<Live>,
}
