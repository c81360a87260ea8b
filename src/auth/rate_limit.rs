//! Per-key rate limits: requests per second and events per second, each with a burst of one
//! second's worth, enforced with `governor`'s GCRA (a few atomic operations per check, no lock
//! held across requests).
//!
//! Limits are per instance: behind a load balancer spreading a key over N instances, the key
//! may reach N times the configured rate. A limit of 0 disables that limiter.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::SecuritySettings;
use crate::error::{AppError, AppResult};

/// The two limiters of an instance, keyed by API key id.
pub struct RateLimits {
    requests: Option<DefaultKeyedRateLimiter<i32>>,
    events: Option<DefaultKeyedRateLimiter<i32>>,
    clock: DefaultClock,
}

fn limiter(per_second: u32) -> Option<DefaultKeyedRateLimiter<i32>> {
    NonZeroU32::new(per_second).map(|n| RateLimiter::keyed(Quota::per_second(n)))
}

impl RateLimits {
    /// Limiters with the configured rates.
    pub fn new(settings: &SecuritySettings) -> Self {
        Self {
            requests: limiter(settings.rate_limit_requests_per_s),
            events: limiter(settings.rate_limit_events_per_s),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request of key `key_id`; `RATE_LIMITED` if it is over its rate.
    pub fn check_request(&self, key_id: i32) -> AppResult<()> {
        let Some(limiter) = &self.requests else {
            return Ok(());
        };
        limiter.check_key(&key_id).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            rate_limited(
                "this API key is over its request rate (EYE_RATE_LIMIT_REQUESTS_PER_S)",
                wait,
            )
        })
    }

    /// Counts `count` events of key `key_id`, all or none; `RATE_LIMITED` if they would take it
    /// over its rate (nothing is counted then), `LIMIT_EXCEEDED` if `count` exceeds the
    /// burst, since such a batch could never pass.
    pub fn check_events(&self, key_id: i32, count: usize) -> AppResult<()> {
        let Some(limiter) = &self.events else {
            return Ok(());
        };
        let Some(n) = u32::try_from(count).ok().and_then(NonZeroU32::new) else {
            return Ok(());
        };
        match limiter.check_key_n(&key_id, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(rate_limited(
                "this API key is over its event rate (EYE_RATE_LIMIT_EVENTS_PER_S)",
                not_until.wait_time_from(self.clock.now()),
            )),
            Err(_) => Err(AppError::LimitExceeded(format!(
                "a batch of {count} events exceeds the per-key burst (EYE_RATE_LIMIT_EVENTS_PER_S)"
            ))),
        }
    }
}

fn rate_limited(message: &str, wait: Duration) -> AppError {
    // Round up, and never advise 0 ms: retrying at once would be refused again.
    let retry_after_ms = (wait.as_micros().div_ceil(1_000) as u64).max(1);
    AppError::RateLimited {
        message: format!("{message}; retry after {retry_after_ms} ms"),
        retry_after_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(requests: u32, events: u32) -> RateLimits {
        RateLimits::new(&SecuritySettings {
            trusted_proxies: Vec::new(),
            rate_limit_requests_per_s: requests,
            rate_limit_events_per_s: events,
        })
    }

    #[test]
    fn a_key_gets_its_burst_then_is_limited_alone() {
        let limits = limits(2, 0);
        assert!(limits.check_request(1).is_ok());
        assert!(limits.check_request(1).is_ok());
        match limits.check_request(1) {
            Err(AppError::RateLimited { retry_after_ms, .. }) => {
                assert!((1..=500).contains(&retry_after_ms), "{retry_after_ms}")
            }
            other => panic!("expected RATE_LIMITED, got {other:?}"),
        }
        assert!(limits.check_request(2).is_ok(), "other keys are unaffected");
        for _ in 0..1_000 {
            assert!(limits.check_events(1, 1_000).is_ok(), "0 disables");
        }
    }

    #[test]
    fn events_are_counted_all_or_none() {
        let limits = limits(0, 10);
        assert!(limits.check_events(1, 8).is_ok());
        assert_eq!(
            limits.check_events(1, 3).map_err(|e| e.code()),
            Err("RATE_LIMITED")
        );
        assert!(
            limits.check_events(1, 2).is_ok(),
            "the refused 3 were not counted"
        );
        assert_eq!(
            limits.check_events(1, 11).map_err(|e| e.code()),
            Err("LIMIT_EXCEEDED")
        );
        assert!(limits.check_events(1, 0).is_ok());
    }
}
