//! The background job: session bookkeeping and count aggregation, outside the request path.
//!
//! [`job`] holds the single step (claim a batch of unprocessed events, fold them into the
//! aggregates, commit) and [`job::run_until_idle`]; [`worker`] is the loop that runs it on a
//! timer until shutdown. `processEvents` and `the-eye process` call the same step on demand.

pub mod aggregate;
pub mod job;
pub mod worker;

pub use job::{ProcessReport, run_until_idle};
