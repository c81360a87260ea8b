//! Latency samples and their percentiles (exact: every sample is kept and sorted).

use std::time::Duration;

/// Latencies in microseconds.
#[derive(Debug, Default, Clone)]
pub struct Latencies(Vec<u64>);

/// The usual summary of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub count: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latencies {
    /// Adds one sample.
    pub fn record(&mut self, latency: Duration) {
        self.0.push(latency.as_micros() as u64);
    }

    /// Percentiles by the nearest-rank method.
    pub fn summary(&self) -> Summary {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let at = |q: f64| {
            if sorted.is_empty() {
                return 0.0;
            }
            let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            sorted[rank - 1] as f64 / 1000.0
        };
        Summary {
            count: sorted.len(),
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms (n={})",
            self.p50, self.p95, self.p99, self.max, self.count
        )
    }
}
