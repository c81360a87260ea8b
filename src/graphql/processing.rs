//! `processEvents`: run the background job now.

use async_graphql::{Context, Object, Result, SimpleObject};

use super::context::{require, state};
use crate::auth::Scope;
use crate::processing::{self, run_until_idle};

/// What a run of the background job did.
#[derive(SimpleObject)]
pub struct ProcessReport {
    /// Events aggregated by this run.
    pub events_processed: i64,
    /// Transactions committed.
    pub batches: i64,
    /// Session updates (a session touched by two batches counts twice).
    pub sessions_updated: i64,
    /// How long the run took.
    pub duration_ms: i64,
}

impl From<processing::ProcessReport> for ProcessReport {
    fn from(r: processing::ProcessReport) -> Self {
        Self {
            events_processed: r.events_processed as i64,
            batches: r.batches as i64,
            sessions_updated: r.sessions_updated as i64,
            duration_ms: r.duration_ms as i64,
        }
    }
}

/// Job mutations.
#[derive(Default)]
pub struct ProcessingMutation;

#[Object]
impl ProcessingMutation {
    /// Runs the background job until no unprocessed event is left and reports what it did
    /// (scope `admin`). Safe to call while the periodic job runs: work is never done twice.
    async fn process_events(&self, ctx: &Context<'_>) -> Result<ProcessReport> {
        require(ctx, Scope::Admin)?;
        let state = state(ctx);
        let report = run_until_idle(&state.write_db, &state.settings.processing).await?;
        Ok(report.into())
    }
}
