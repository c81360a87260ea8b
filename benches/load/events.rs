//! Realistic events as JSON text: the brief's three types, sessions drawn from a pool, a share
//! of invalid events and a share of retried duplicates (an earlier event sent again, same id).
//! Text is built with `format!` rather than `serde_json::Value` so that the generator costs
//! little next to the service it loads.

use std::collections::VecDeque;
use std::fmt::Write;

use chrono::{DateTime, Duration, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// How many recent events a duplicate is drawn from.
const RECENT: usize = 4096;

/// What the generator produced, to check the service's answers against.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sent {
    /// Valid events with a new id: each must be accepted exactly once.
    pub unique_valid: u64,
    /// Invalid events: each must be rejected.
    pub invalid: u64,
    /// Earlier valid events sent again: each must be a duplicate.
    pub duplicates: u64,
}

/// When generated events happened.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// Up to a few seconds before now (live traffic). With `session_events` 0 every event goes
    /// to a session drawn at random from the whole pool, all of them active at once; otherwise
    /// the pool is the sessions in progress, and each sends 1 to `2 × session_events` events
    /// before a new session takes its place, as real sessions start and end (so the recent
    /// sessions are the ones that receive events).
    Live { session_events: u64 },
    /// `events` events in time order over `days` days from `start`, as an export of past traffic
    /// would be: a session's events lie within about half an hour, so the sessions active at
    /// any moment are few.
    History {
        start: DateTime<Utc>,
        days: i64,
        events: u64,
    },
}

/// The generator's knobs.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// Distinct session ids.
    pub sessions: u64,
    /// Share of invalid events (0 to 1).
    pub invalid: f64,
    /// Share of retried duplicates (0 to 1).
    pub duplicates: f64,
    /// Where timestamps come from.
    pub clock: Clock,
    /// Event ids drawn at random (shaped like UUIDs, as many clients make them) instead of
    /// counting up, which appends to the duplicate index and so hides what random ids cost.
    pub random_ids: bool,
}

/// A deterministic stream of events.
pub struct EventGen {
    rng: SmallRng,
    mix: Mix,
    run: String,
    next_id: u64,
    recent: VecDeque<String>,
    /// Sessions in progress (History): pool number and events left.
    active: Vec<(u64, u64)>,
    next_session: u64,
    /// Counts of what was produced.
    pub sent: Sent,
}

impl EventGen {
    /// A generator whose ids start with `run` (so several runs can share a database).
    pub fn new(mix: Mix, run: &str, seed: u64) -> Self {
        Self {
            rng: SmallRng::seed_from_u64(seed),
            mix,
            run: run.to_string(),
            next_id: 0,
            recent: VecDeque::with_capacity(RECENT),
            active: Vec::new(),
            next_session: 0,
            sent: Sent::default(),
        }
    }

    /// The session id of pool member `n`, shaped like a UUID; consecutive members are far
    /// apart in index order, like random UUIDs.
    pub fn session_id(n: u64) -> String {
        let scrambled = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        format!(
            "{:08x}-{:04x}-4eye-8000-{:012x}",
            scrambled >> 32,
            n % 0xffff,
            n & 0xffff_ffff_ffff
        )
    }

    /// The next event as a JSON object.
    pub fn next_event(&mut self) -> String {
        let roll: f64 = self.rng.random();
        if roll < self.mix.duplicates && !self.recent.is_empty() {
            let i = self.rng.random_range(0..self.recent.len());
            self.sent.duplicates += 1;
            return self.recent[i].clone();
        }
        if roll < self.mix.duplicates + self.mix.invalid {
            self.sent.invalid += 1;
            return self.invalid_event();
        }
        let event = self.valid_event();
        self.sent.unique_valid += 1;
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(event.clone());
        event
    }

    /// The next `n` events.
    pub fn batch(&mut self, n: usize) -> Vec<String> {
        (0..n).map(|_| self.next_event()).collect()
    }

    fn valid_event(&mut self) -> String {
        let (session, at) = self.session_and_time();
        let page = self.rng.random_range(0..500u32);
        let host = [
            "www.consumeraffairs.com",
            "shop.example.com",
            "blog.example.org",
        ][self.rng.random_range(0..3usize)];
        let (category, name, extra) = match self.rng.random_range(0..10u32) {
            0..=5 => ("page interaction", "pageview", String::new()),
            6..=8 => (
                "page interaction",
                "cta click",
                format!(r#","element":"button-{}""#, page % 17),
            ),
            _ => (
                "form interaction",
                "submit",
                format!(
                    r#","form":{{"first_name":"John","last_name":"Doe","plan":"p{}"}}"#,
                    page % 5
                ),
            ),
        };
        self.next_id += 1;
        let id = if self.mix.random_ids {
            let r: u128 = self.rng.random();
            format!(
                "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                r >> 96,
                (r >> 80) & 0xffff,
                (r >> 68) & 0xfff,
                (r >> 56) & 0xfff,
                r & 0xffff_ffff_ffff
            )
        } else {
            format!("{}-{:010}", self.run, self.next_id)
        };
        let mut text = String::with_capacity(320);
        let _ = write!(
            text,
            r#"{{"id":"{id}","sessionId":"{}","category":"{category}","name":"{name}","data":{{"host":"{host}","path":"/p/{page}"{extra}}},"timestamp":"{}"}}"#,
            Self::session_id(session),
            at.format("%Y-%m-%d %H:%M:%S%.6f"),
        );
        text
    }

    /// An event that must be rejected: a schema violation, a future or a malformed timestamp.
    fn invalid_event(&mut self) -> String {
        let session = Self::session_id(self.rng.random_range(0..self.mix.sessions.max(1)));
        match self.rng.random_range(0..3u32) {
            0 => format!(
                r#"{{"sessionId":"{session}","category":"page interaction","name":"cta click","data":{{"host":"www.consumeraffairs.com","path":"/"}},"timestamp":"{}"}}"#,
                Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ")
            ),
            1 => format!(
                r#"{{"sessionId":"{session}","category":"page interaction","name":"pageview","data":{{"host":"www.consumeraffairs.com","path":"/"}},"timestamp":"{}"}}"#,
                (Utc::now() + Duration::days(1)).format("%Y-%m-%dT%H:%M:%S%.6fZ")
            ),
            _ => format!(
                r#"{{"sessionId":"{session}","category":"page interaction","name":"pageview","data":{{"host":"www.consumeraffairs.com","path":"/"}},"timestamp":"yesterday"}}"#
            ),
        }
    }

    fn session_and_time(&mut self) -> (u64, DateTime<Utc>) {
        let sessions = self.mix.sessions.max(1);
        match self.mix.clock {
            Clock::Live { session_events } => {
                let session = if session_events == 0 {
                    self.rng.random_range(0..sessions)
                } else {
                    self.session_in_progress(sessions as usize, session_events)
                };
                let ago = Duration::microseconds(self.rng.random_range(0..5_000_000));
                (session, Utc::now() - ago)
            }
            Clock::History {
                start,
                days,
                events,
            } => {
                // Time advances evenly with each event; the event goes to one of the sessions
                // in progress (about half an hour's worth).
                let span_us = days.max(1) * 86_400_000_000;
                let step = span_us / events.max(1) as i64;
                let at = start + Duration::microseconds(step * self.next_id as i64);
                let per_session = (events / sessions).max(1);
                let in_progress = (sessions * 1_800_000_000 / span_us as u64).max(1) as usize;
                (self.session_in_progress(in_progress, per_session), at)
            }
        }
    }

    /// A session among up to `in_progress` at once, each sending 1 to `2 × per_session`
    /// events; a session that has sent its share makes room for a new one.
    fn session_in_progress(&mut self, in_progress: usize, per_session: u64) -> u64 {
        if self.active.len() < in_progress {
            let n = self.next_session;
            self.next_session += 1;
            let share = self.rng.random_range(1..=2 * per_session.max(1));
            self.active.push((n, share));
        }
        let slot = self.rng.random_range(0..self.active.len());
        let (session, left) = &mut self.active[slot];
        let session = *session;
        *left -= 1;
        if *left == 0 {
            self.active.swap_remove(slot);
        }
        session
    }
}
