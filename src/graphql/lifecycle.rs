//! Data lifecycle for administrators (scope `admin`): erasing a session, the erasure audit log,
//! retention overrides per application, and running retention now.

use async_graphql::{Context, ID, Object, Result, SimpleObject};

use super::admin::{ManagedApplication, parse_id};
use super::context::{require, state};
use super::scalars::DateTime;
use crate::auth::{Scope, applications};
use crate::entities::erasures;
use crate::error::AppError;
use crate::lifecycle::erasure::{parse_session_id, rows_deleted};
use crate::lifecycle::{self, Requester, RetentionDays};

/// Rows a deletion removed from one table.
#[derive(SimpleObject)]
pub struct TableRows {
    /// The table: `events`, `event_queue` (events not yet aggregated), `event_errors`,
    /// `sessions`, `session_applications`, `session_type_counts`, `type_counts_hourly`.
    pub table: String,
    /// Rows deleted.
    pub rows: i64,
}

fn table_rows(rows: impl IntoIterator<Item = (String, u64)>) -> Vec<TableRows> {
    rows.into_iter()
        .map(|(table, rows)| TableRows {
            table,
            rows: rows as i64,
        })
        .collect()
}

/// An audit entry: one erasure request and what it removed.
#[derive(SimpleObject)]
pub struct Erasure {
    /// Its id.
    pub id: ID,
    /// When it ran.
    pub erased_at: DateTime,
    /// The erased session.
    pub session_id: String,
    /// The id of the API key that asked; null: the command line (`the-eye erase`).
    pub api_key_id: Option<ID>,
    /// That key's application id.
    pub application_id: Option<ID>,
    /// Rows deleted, by table.
    pub rows_deleted: Vec<TableRows>,
}

impl From<erasures::Model> for Erasure {
    fn from(e: erasures::Model) -> Self {
        Self {
            id: ID(e.id.to_string()),
            erased_at: e.erased_at.into(),
            rows_deleted: table_rows(rows_deleted(&e)),
            session_id: e.session_id,
            api_key_id: e.key_id.map(|k| ID(k.to_string())),
            application_id: e.application_id.map(|a| ID(a.to_string())),
        }
    }
}

/// What a retention run deleted.
#[derive(SimpleObject)]
pub struct RetentionReport {
    /// Rows deleted, by table.
    pub rows_deleted: Vec<TableRows>,
    /// Transactions committed.
    pub batches: i64,
}

/// Lifecycle queries.
#[derive(Default)]
pub struct LifecycleQuery;

#[Object]
impl LifecycleQuery {
    /// The erasure audit log, newest first (scope `admin`).
    async fn erasures(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only erasures of this session.")] session_id: Option<String>,
        #[graphql(desc = "At most this many entries (default and maximum: EYE_MAX_PAGE_SIZE).")]
        first: Option<i32>,
    ) -> Result<Vec<Erasure>> {
        require(ctx, Scope::Admin)?;
        let state = state(ctx);
        let limit = match first {
            None => state.settings.limits.max_page_size,
            Some(_) => crate::query::page_size(first, &state.settings.limits)?,
        };
        let entries = lifecycle::list_erasures(&state.db, session_id.as_deref(), limit).await?;
        Ok(entries.into_iter().map(Erasure::from).collect())
    }
}

/// Lifecycle mutations.
#[derive(Default)]
pub struct LifecycleMutation;

#[Object]
impl LifecycleMutation {
    /// Erases a session (scope `admin`): its events and rejected events of every application,
    /// taken out of every count, and an audit entry. Idempotent: erasing again removes only
    /// what arrived since (usually nothing) and is audited too. Events of the session that
    /// arrive afterwards are stored normally.
    async fn erase_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session id.")] id: String,
    ) -> Result<Erasure> {
        let caller = require(ctx, Scope::Admin)?;
        let session = parse_session_id(&id)?;
        let state = state(ctx);
        let requester = Requester {
            key_id: Some(caller.key_id),
            application_id: Some(caller.application_id),
        };
        let entry = lifecycle::erase_session(
            &state.write_db,
            &session,
            requester,
            state.clock.now(),
            state.settings.processing.delete_batch_size,
        )
        .await?;
        Ok(entry.into())
    }

    /// Sets how many days an application's events are kept, or with null makes it follow the
    /// server's `--retention-days` (scope `admin`). Applies from the next retention run.
    async fn set_application_retention(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The application.")] application_id: ID,
        #[graphql(desc = "Days (1 to 36500); null: the server's default.")] days: Option<i32>,
    ) -> Result<ManagedApplication> {
        require(ctx, Scope::Admin)?;
        let id = parse_id(&application_id, "application")?;
        let days = days.map(|d| RetentionDays::parse(d.into())).transpose()?;
        let db = &state(ctx).db;
        if !lifecycle::retention::set_application_retention(db, id, days).await? {
            return Err(AppError::BadInput(format!("no application has id `{id}`")).into());
        }
        Ok(ManagedApplication::try_from(
            applications::get(db, id).await?,
        )?)
    }

    /// Applies retention now, until nothing past it is left, and reports (scope `admin`). The
    /// background job does the same every `EYE_RETENTION_INTERVAL_MS`.
    async fn apply_retention(&self, ctx: &Context<'_>) -> Result<RetentionReport> {
        require(ctx, Scope::Admin)?;
        let state = state(ctx);
        let report = lifecycle::apply_retention(
            &state.write_db,
            state.settings.processing.retention(),
            state.clock.now(),
        )
        .await?;
        Ok(RetentionReport {
            rows_deleted: table_rows(
                report
                    .deleted
                    .by_table()
                    .map(|(table, rows)| (table.to_string(), rows)),
            ),
            batches: report.batches as i64,
        })
    }
}
