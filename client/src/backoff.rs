//! How long to wait before retrying: exponential backoff with jitter, or what the server asked
//! for (`retryAfterMs` / `Retry-After`) plus a little jitter, never less.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff: attempt `n` (from 0) waits a random time between half and all of
/// `initial × 2ⁿ`, capped at `max` ("equal jitter": never a burst of clients retrying at once,
/// never a zero wait).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The base wait of the first retry.
    pub initial: Duration,
    /// The longest wait between two attempts (a server's `Retry-After` may ask for more).
    pub max: Duration,
}

/// Default [`Backoff::initial`].
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_millis(100);
/// Default [`Backoff::max`].
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(10);

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: DEFAULT_BACKOFF_INITIAL,
            max: DEFAULT_BACKOFF_MAX,
        }
    }
}

impl Backoff {
    /// The wait before retry `attempt` (0 for the first retry). When the server said how long
    /// to wait, that, plus up to a tenth more so that clients told the same instant spread out.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let mut rng = rand::rng();
        if let Some(wait) = retry_after {
            let spread = wait.as_micros().min(u128::from(u64::MAX)) as u64 / 10;
            return wait.saturating_add(Duration::from_micros(rng.random_range(0..=spread)));
        }
        let ceiling = self
            .initial
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.max);
        let half = ceiling.as_micros() as u64 / 2;
        Duration::from_micros(half + rng.random_range(0..=half))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_cap_and_stay_within_their_jitter() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        for (attempt, ceiling_ms) in [
            (0, 100),
            (1, 200),
            (2, 400),
            (3, 800),
            (4, 1000),
            (30, 1000),
        ] {
            for _ in 0..100 {
                let wait = backoff.delay(attempt, None).as_millis();
                assert!(
                    (ceiling_ms / 2..=ceiling_ms).contains(&wait),
                    "attempt {attempt}: {wait} ms"
                );
            }
        }
    }

    #[test]
    fn a_server_wait_is_honoured_never_shortened() {
        let backoff = Backoff::default();
        for _ in 0..100 {
            let wait = backoff
                .delay(0, Some(Duration::from_millis(1500)))
                .as_millis();
            assert!((1500..=1650).contains(&wait), "{wait} ms");
        }
        assert_eq!(backoff.delay(0, Some(Duration::MAX)), Duration::MAX);
    }
}
