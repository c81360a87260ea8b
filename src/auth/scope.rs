//! What a key may do. `admin` implies every other scope.

use std::fmt;
use std::str::FromStr;

/// One permission a key can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Scope {
    /// May record events.
    Ingest,
    /// May query events, sessions, counts, errors and event types.
    Read,
    /// May do everything, including defining event types and running the job.
    Admin,
}

impl Scope {
    /// Every scope, in display order.
    pub const ALL: [Scope; 3] = [Scope::Ingest, Scope::Read, Scope::Admin];

    /// The scope's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

/// A scope name that is not one of [`Scope::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}` (expected ingest, read or admin)")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| UnknownScope(s.to_string()))
    }
}

/// A set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u8);

impl Scopes {
    /// The set of the given scopes.
    pub fn of(scopes: impl IntoIterator<Item = Scope>) -> Self {
        Self(scopes.into_iter().fold(0, |bits, s| bits | (1 << s as u8)))
    }

    /// Whether a key with these scopes may do what `needed` allows.
    pub fn allows(self, needed: Scope) -> bool {
        self.contains(Scope::Admin) || self.contains(needed)
    }

    fn contains(self, scope: Scope) -> bool {
        self.0 & (1 << scope as u8) != 0
    }

    /// The scopes, in display order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// Parses the stored form, `ingest,read`.
    pub fn parse(stored: &str) -> Result<Self, UnknownScope> {
        stored
            .split(',')
            .filter(|s| !s.is_empty())
            .map(Scope::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(Self::of)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Scope::as_str).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_implies_everything_and_others_only_themselves() {
        let admin = Scopes::of([Scope::Admin]);
        assert!(Scope::ALL.iter().all(|s| admin.allows(*s)));
        let ingest = Scopes::of([Scope::Ingest]);
        assert!(ingest.allows(Scope::Ingest));
        assert!(!ingest.allows(Scope::Read));
        assert!(!ingest.allows(Scope::Admin));
    }

    #[test]
    fn stored_form_round_trips() {
        let scopes = Scopes::of([Scope::Read, Scope::Ingest]);
        assert_eq!(scopes.to_string(), "ingest,read");
        assert_eq!(Scopes::parse("ingest,read"), Ok(scopes));
        assert_eq!(
            Scopes::parse("ingest,root"),
            Err(UnknownScope("root".into()))
        );
    }
}
