//! The client's address, which allowlists are checked against.
//!
//! It is the TCP peer, unless the peer is a configured trusted proxy: then `X-Forwarded-For`
//! is read from the right (the entry the nearest proxy appended) and the first address that is
//! not itself a trusted proxy is the client. Entries further left were written by the client
//! and are never believed. Without trusted proxies the header is ignored entirely, so a client
//! cannot pick its own address.

use std::net::IpAddr;

use ipnet::IpNet;

/// Resolves the client address from the TCP `peer`, the `X-Forwarded-For` header values (in
/// the order received) and the trusted proxies.
pub fn client_addr<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted_proxies: &[IpNet],
) -> IpAddr {
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    let mut client = peer.to_canonical();
    if !trusted(&client) {
        return client;
    }
    let hops: Vec<&str> = forwarded_for
        .into_iter()
        .flat_map(|value| value.split(','))
        .collect();
    for hop in hops.into_iter().rev() {
        // A hop that is not an address cannot be followed further: the last proxy that
        // forwarded it is as far as the chain can be trusted.
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            break;
        };
        client = ip.to_canonical();
        if !trusted(&client) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn the_header_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let proxies = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_addr(ip("192.0.2.1"), ["203.0.113.9"], &proxies),
            ip("192.0.2.1")
        );
        assert_eq!(
            client_addr(ip("10.0.0.1"), ["203.0.113.9"], &[]),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let proxies = nets(&["10.0.0.0/8"]);
        let cases = [
            (vec!["203.0.113.9"], "203.0.113.9"),
            (vec!["1.1.1.1, 203.0.113.9, 10.0.0.2"], "203.0.113.9"),
            (vec!["1.1.1.1", "203.0.113.9,10.0.0.2"], "203.0.113.9"),
            (vec!["10.0.0.3, 10.0.0.2"], "10.0.0.3"),
            (vec!["garbage, 10.0.0.2"], "10.0.0.2"),
            (vec![], "10.0.0.1"),
            (vec!["::ffff:203.0.113.9"], "203.0.113.9"),
        ];
        for (header, expected) in cases {
            assert_eq!(
                client_addr(ip("10.0.0.1"), header.clone(), &proxies),
                ip(expected),
                "{header:?}"
            );
        }
    }
}
