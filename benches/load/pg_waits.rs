//! What PostgreSQL's backends were doing while the load ran: `pg_stat_activity`, sampled every
//! [`SAMPLE_EVERY`] on a connection of its own, gives for each state or wait event the average
//! number of the database's backends in it. It tells a stall's kind apart: backends running
//! (CPU), waiting on a lock (`Lock:transactionid` for a row another transaction has not
//! committed yet, `Lock:object` for the cluster-wide `NOTIFY` queue), on the disk
//! (`IO:WALSync`), or idle inside a transaction while the service works between statements.

use std::collections::BTreeMap;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::sync::watch;

/// How often `pg_stat_activity` is read.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(20);

/// How many of the busiest states the report names.
const REPORTED: usize = 6;

/// Sampled backend states: for each, how many backends were in it summed over the samples.
#[derive(Debug, Default)]
pub struct Waits {
    samples: u64,
    backends: BTreeMap<String, u64>,
}

/// One sample: the database's busy backends (other than the sampler's own) by state, or by
/// wait event when an active backend waits. `running` is active and not waiting: on a CPU or
/// ready for one.
const SAMPLE: &str = "SELECT CASE WHEN state = 'active' \
     THEN COALESCE(wait_event_type || ':' || wait_event, 'running') ELSE state END AS k, \
     COUNT(*)::bigint AS n FROM pg_stat_activity \
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle' \
     GROUP BY 1";

/// Samples `db` (a PostgreSQL connection of its own) until `stopped`.
pub async fn sample(db: DatabaseConnection, mut stopped: watch::Receiver<bool>) -> Waits {
    let mut waits = Waits::default();
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return waits,
        }
        let statement = Statement::from_string(DbBackend::Postgres, SAMPLE);
        let Ok(rows) = db.query_all_raw(statement).await else {
            continue;
        };
        waits.samples += 1;
        for row in rows {
            if let (Ok(state), Ok(n)) =
                (row.try_get::<String>("", "k"), row.try_get::<i64>("", "n"))
            {
                *waits.backends.entry(state).or_default() += u64::try_from(n).unwrap_or(0);
            }
        }
    }
}

impl Waits {
    /// The report line: average backends per state, busiest first.
    pub fn summary(&self) -> String {
        if self.samples == 0 {
            return "no samples".into();
        }
        let mut states: Vec<(&String, &u64)> = self.backends.iter().collect();
        states.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let busiest: Vec<String> = states
            .iter()
            .take(REPORTED)
            .map(|(state, n)| format!("{state} {:.2}", **n as f64 / self.samples as f64))
            .collect();
        format!(
            "{} ({} samples, every {} ms)",
            busiest.join(", "),
            self.samples,
            SAMPLE_EVERY.as_millis()
        )
    }
}
