//! IP allowlists: the addresses and CIDR ranges an application's keys may be used from (the
//! prototype's `ALLOWED_HOSTS`). Parsed once, here; stored as a comma-separated list of
//! canonical CIDRs.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// Most entries an allowlist may hold; it is scanned on every request of the application.
pub const MAX_ALLOWLIST_ENTRIES: usize = 256;

/// A non-empty list of networks. An application without one accepts any address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowlist(Vec<IpNet>);

/// Why an allowlist or one of its entries was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowlistError {
    /// No entry at all.
    #[error(
        "an allowlist needs at least one address or range; to allow any address, remove the allowlist"
    )]
    Empty,
    /// More than [`MAX_ALLOWLIST_ENTRIES`] entries.
    #[error("an allowlist holds at most {max} entries", max = MAX_ALLOWLIST_ENTRIES)]
    TooManyEntries,
    /// An entry that is neither an address nor a CIDR range (as given, trimmed).
    #[error("`{0}` is neither an IP address nor a CIDR range")]
    NotANetwork(String),
}

/// Parses one address (`10.0.0.7`, `::1`, taken as a single host) or CIDR range (`10.0.0.0/8`).
pub fn parse_net(raw: &str) -> Result<IpNet, AllowlistError> {
    let raw = raw.trim();
    if let Ok(net) = raw.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    raw.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| AllowlistError::NotANetwork(raw.to_string()))
}

impl Allowlist {
    /// Parses entries as given by an administrator: at least one, at most
    /// [`MAX_ALLOWLIST_ENTRIES`], each an address or a CIDR range.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, AllowlistError> {
        if entries.is_empty() {
            return Err(AllowlistError::Empty);
        }
        if entries.len() > MAX_ALLOWLIST_ENTRIES {
            return Err(AllowlistError::TooManyEntries);
        }
        let mut nets = entries
            .iter()
            .map(|e| parse_net(e.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        nets.sort();
        nets.dedup();
        Ok(Self(nets))
    }

    /// Reads the stored form (`10.0.0.0/8,192.168.1.7/32`).
    pub fn from_stored(stored: &str) -> Result<Self, AllowlistError> {
        let entries: Vec<&str> = stored.split(',').filter(|e| !e.is_empty()).collect();
        Self::parse(&entries)
    }

    /// Whether `ip` is inside one of the networks. IPv4-mapped IPv6 addresses
    /// (`::ffff:10.0.0.1`) count as their IPv4 address.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The networks, as CIDR strings.
    pub fn entries(&self) -> Vec<String> {
        self.0.iter().map(IpNet::to_string).collect()
    }
}

impl fmt::Display for Allowlist {
    /// The stored form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.entries().join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_and_ranges_are_matched() {
        let list = Allowlist::parse(&["10.1.2.3", "192.168.0.0/16", "2001:db8::/32"]).unwrap();
        assert!(list.allows(ip("10.1.2.3")));
        assert!(!list.allows(ip("10.1.2.4")));
        assert!(list.allows(ip("192.168.200.1")));
        assert!(list.allows(ip("::ffff:192.168.0.1")));
        assert!(list.allows(ip("2001:db8::42")));
        assert!(!list.allows(ip("2001:db9::1")));
        assert_eq!(list.to_string(), "10.1.2.3/32,192.168.0.0/16,2001:db8::/32");
        assert_eq!(Allowlist::from_stored(&list.to_string()), Ok(list));
    }

    #[test]
    fn bad_entries_and_empty_lists_are_refused() {
        assert_eq!(Allowlist::parse::<&str>(&[]), Err(AllowlistError::Empty));
        assert_eq!(
            Allowlist::parse(&["10.0.0.0/33"]),
            Err(AllowlistError::NotANetwork("10.0.0.0/33".into()))
        );
        assert_eq!(
            Allowlist::parse(&[" example.com"]).unwrap_err().to_string(),
            "`example.com` is neither an IP address nor a CIDR range"
        );
        let many: Vec<String> = (0..=MAX_ALLOWLIST_ENTRIES)
            .map(|i| format!("10.0.{}.{}", i / 256, i % 256))
            .collect();
        assert_eq!(Allowlist::parse(&many), Err(AllowlistError::TooManyEntries));
        assert_eq!(parse_net("10.9.8.7/8"), Ok("10.0.0.0/8".parse().unwrap()));
    }
}
