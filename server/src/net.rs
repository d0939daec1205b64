//! Client addresses (README, "Security"): the address limits count is the socket's
//! peer; only a peer listed in `--trusted-proxies` may name another one, in
//! `X-Forwarded-For`. No other header is believed.

use std::net::{IpAddr, Ipv6Addr};

use axum::http::HeaderMap;

/// Reverse proxies whose `X-Forwarded-For` is believed (`--trusted-proxies`).
///
/// A few address prefixes compared by hand: a CIDR crate would add a dependency for
/// what fits in the two functions below.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses `203.0.113.7`, `10.0.0.0/8`, `::1`, `fd00::/8`, ….
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let (addr, bits) = match entry.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (entry, None),
            };
            let bad = || format!("--trusted-proxies: {entry:?} is not an address or CIDR block");
            let ip: IpAddr = addr.parse().map_err(|_| bad())?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(bad)?,
                None => max,
            };
            // An IPv4-mapped IPv6 block is the IPv4 block it maps.
            let net = canonical(ip);
            let bits = if net.is_ipv4() && ip.is_ipv6() {
                bits.saturating_sub(96)
            } else {
                bits
            };
            nets.push((net, bits));
        }
        Ok(TrustedProxies(nets))
    }

    /// Whether `ip` is one of the proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|&(net, bits)| in_prefix(ip, net, bits))
    }
}

/// IPv4-mapped IPv6 addresses as IPv4, so one client has one address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_prefix(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    fn masked(x: u128, bits: u32, width: u32) -> u128 {
        if bits == 0 {
            0
        } else {
            x >> (width - bits)
        }
    }
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            masked(u32::from(a).into(), bits.into(), 32)
                == masked(u32::from(b).into(), bits.into(), 32)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            masked(u128::from(a), bits.into(), 128) == masked(u128::from(b), bits.into(), 128)
        }
        _ => false,
    }
}

/// The address limits count against: IPv4 as is; IPv6 by /64, the block one
/// subscriber usually gets (per address, anyone with IPv6 would have billions).
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// The client of a request from `peer`: `peer` itself, unless it is a trusted proxy;
/// then `X-Forwarded-For` read from the right, up to the first address that is not a
/// trusted proxy (what each proxy appended; anything left of it the client could
/// have written).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let mut client = canonical(peer);
    if !trusted.contains(client) {
        return client;
    }
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(value) = value.to_str() else {
            return client;
        };
        for part in value.rsplit(',') {
            let Ok(ip) = part.trim().parse::<IpAddr>() else {
                return client;
            };
            client = canonical(ip);
            if !trusted.contains(client) {
                return client;
            }
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let trusted =
            TrustedProxies::parse(&["10.0.0.0/8".into(), "::1".into(), " ".into()]).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Not a proxy: its header is ignored.
        assert_eq!(
            client_ip(ip("198.51.100.1"), &headers(&["1.2.3.4"]), &trusted),
            ip("198.51.100.1")
        );
        // A proxy: the right-most address that is not a proxy.
        assert_eq!(
            client_ip(
                ip("10.1.2.3"),
                &headers(&["6.6.6.6, 203.0.113.9", "10.9.9.9"]),
                &trusted
            ),
            ip("203.0.113.9")
        );
        // Garbage stops the walk at the last address a proxy vouched for.
        assert_eq!(
            client_ip(ip("::1"), &headers(&["nonsense, 10.0.0.5"]), &trusted),
            ip("10.0.0.5")
        );
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), &headers(&[]), &trusted),
            ip("10.0.0.1")
        );
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["example.com".into()]).is_err());
        assert!(TrustedProxies::parse(&["0.0.0.0/0".into()])
            .unwrap()
            .contains(ip("8.8.8.8")));
    }

    #[test]
    fn ipv6_clients_are_limited_per_64_block() {
        let a = limit_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = limit_key("2001:db8:1:2:bbbb::9".parse().unwrap());
        let c = limit_key("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
