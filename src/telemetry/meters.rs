//! Every metric The Eye exports, by name, and the functions that move them.
//!
//! Names carry their unit (`_seconds`, `_events`) and counters end in `_total`. The
//! `application` label holds the application's name: bounded by the number of applications,
//! which an administrator creates one by one. Reason and refusal codes are the fixed sets of
//! the API. Everything here is a call into the global `metrics` recorder; without one (no
//! `--metrics-listen`) each call is a no-op.

use std::time::Duration;

use metrics::{counter, gauge, histogram};

use crate::ingest::{EventOutcome, EventStatus};

/// Build information: always 1, labelled with the version.
pub const BUILD_INFO: &str = "eye_build_info";
/// Events answered by `recordEvents`, by application and status (accepted, duplicate,
/// rejected).
pub const EVENTS: &str = "eye_events_total";
/// Reasons rejected events were rejected for, by application and reason code; an event with
/// two reasons counts once under each.
pub const REJECTION_REASONS: &str = "eye_event_rejections_total";
/// `recordEvents` calls, by outcome (`ok` or the error code that refused the batch).
pub const RECORD_REQUESTS: &str = "eye_record_requests_total";
/// Time from a `recordEvents` call starting to its answer (validation, queueing, commit).
pub const RECORD_ACK_SECONDS: &str = "eye_record_ack_seconds";
/// Rows (stored and rejected events) per group commit.
pub const COMMIT_EVENTS: &str = "eye_commit_events";
/// Requests answered by one group commit.
pub const COMMIT_BATCHES: &str = "eye_commit_batches";
/// Time one group commit took, retries included.
pub const COMMIT_SECONDS: &str = "eye_commit_seconds";
/// Group commits, by outcome (`ok`, `failed`).
pub const COMMITS: &str = "eye_commits_total";
/// Background job steps, by outcome (`ok`, `failed`).
pub const JOB_STEPS: &str = "eye_job_steps_total";
/// Time one job step took.
pub const JOB_STEP_SECONDS: &str = "eye_job_step_seconds";
/// Events the background job aggregated.
pub const JOB_EVENTS: &str = "eye_job_events_total";
/// Events stored but not yet aggregated (the length of `event_queue`), read at scrape time.
pub const BACKLOG_EVENTS: &str = "eye_processing_backlog_events";
/// Age of the oldest event not yet aggregated (0 when none is waiting), read at scrape time.
pub const LAG_SECONDS: &str = "eye_processing_lag_seconds";
/// Database pool connections, by pool (`read`, `write`) and state (`in_use`, `idle`, `max`).
pub const POOL_CONNECTIONS: &str = "eye_db_pool_connections";
/// Requests or operations refused with an error, by its `extensions.code`.
pub const REFUSALS: &str = "eye_refusals_total";

/// Histogram buckets (seconds) for the request and commit latencies: 1 ms to 10 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Histogram buckets (events or batches) for group-commit sizes, up to the default
/// `EYE_MAX_COMMIT_EVENTS`.
pub const SIZE_BUCKETS: &[f64] = &[
    1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0,
];

/// Counts a batch's answers under its application.
pub fn events_answered(application: &str, outcomes: &[EventOutcome]) {
    let (mut accepted, mut duplicate, mut rejected) = (0u64, 0u64, 0u64);
    for outcome in outcomes {
        match outcome.status {
            EventStatus::Accepted => accepted += 1,
            EventStatus::Duplicate => duplicate += 1,
            EventStatus::Rejected => {
                rejected += 1;
                for reason in &outcome.errors {
                    let reason = reason.code.as_str();
                    counter!(REJECTION_REASONS, "application" => application.to_owned(), "reason" => reason)
                        .increment(1);
                }
            }
        }
    }
    for (status, n) in [
        ("accepted", accepted),
        ("duplicate", duplicate),
        ("rejected", rejected),
    ] {
        if n > 0 {
            counter!(EVENTS, "application" => application.to_owned(), "status" => status)
                .increment(n);
        }
    }
}

/// A `recordEvents` call answered with `outcome` (`ok` or an error code) after `elapsed`.
pub fn record_answered(outcome: &'static str, elapsed: Duration) {
    counter!(RECORD_REQUESTS, "outcome" => outcome).increment(1);
    histogram!(RECORD_ACK_SECONDS).record(elapsed.as_secs_f64());
}

/// A group commit of `rows` rows for `batches` requests finished after `elapsed`.
pub fn group_committed(rows: usize, batches: usize, elapsed: Duration, ok: bool) {
    counter!(COMMITS, "outcome" => if ok { "ok" } else { "failed" }).increment(1);
    histogram!(COMMIT_EVENTS).record(rows as f64);
    histogram!(COMMIT_BATCHES).record(batches as f64);
    histogram!(COMMIT_SECONDS).record(elapsed.as_secs_f64());
}

/// A background job step that aggregated `events` (on success) finished after `elapsed`.
pub fn job_step(events: Option<u64>, elapsed: Duration) {
    let outcome = if events.is_some() { "ok" } else { "failed" };
    counter!(JOB_STEPS, "outcome" => outcome).increment(1);
    histogram!(JOB_STEP_SECONDS).record(elapsed.as_secs_f64());
    if let Some(n) = events.filter(|n| *n > 0) {
        counter!(JOB_EVENTS).increment(n);
    }
}

/// A request or operation refused with `code`.
pub fn refused(code: &str) {
    counter!(REFUSALS, "code" => code.to_owned()).increment(1);
}

/// The job's backlog as last read.
pub fn backlog(events: u64, lag: Duration) {
    gauge!(BACKLOG_EVENTS).set(events as f64);
    gauge!(LAG_SECONDS).set(lag.as_secs_f64());
}

/// One pool's connections as last read.
pub fn pool(pool: &'static str, in_use: u32, idle: u32, max: u32) {
    for (state, n) in [("in_use", in_use), ("idle", idle), ("max", max)] {
        gauge!(POOL_CONNECTIONS, "pool" => pool, "state" => state).set(f64::from(n));
    }
}
