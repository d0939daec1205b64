//! Accepting connections and telling who is on the other end (README "Limits" and
//! "Security"):
//!
//! - HTTP/1.1 is served by hyper directly rather than through `axum::serve`, which
//!   exposes neither a header-read timeout nor the accepted socket: a request's headers
//!   must arrive within `--http-header-timeout-ms`, and a kept-alive connection waits
//!   no longer than that for its next request.
//! - One client address holds at most `--max-connections-per-address` connections,
//!   HTTP and WebSocket alike (a WebSocket keeps its connection's place until it
//!   closes); over it a new connection is answered 503 with a `RateLimitExceededError`
//!   body and closed, so one client cannot take every file descriptor.
//! - The client address is the socket's peer. Only a peer listed in
//!   `--trusted-proxies` may name another one, in `X-Forwarded-For`; no other header
//!   is believed.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request};
use axum::Router;
use chatkitty_protocol::error::{names, ErrorBody};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::state::AppState;

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

/// The client address of a request (see the module docs); `None` when the request did
/// not come through [`serve`] (e.g. a router driven directly in a test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddr(peer.map(|p| {
            client_ip(p, &parts.headers, &state.trusted_proxies)
        })))
    }
}

tokio::task_local! {
    /// The client address of the WebSocket a session task serves: set around the
    /// session by the upgrade handler, read when it CONNECTs (login throttling).
    pub static SESSION_CLIENT: Option<IpAddr>;
}

/// The client address of the current session task, if known.
pub fn session_client() -> Option<IpAddr> {
    SESSION_CLIENT.try_with(|c| *c).ok().flatten()
}

/// Open connections per client address.
#[derive(Debug)]
struct AddressCounts {
    limit: u32,
    open: Mutex<HashMap<IpAddr, u32>>,
}

/// A connection's place in its address's count, given back when the last clone is
/// dropped. Requests carry a clone in their extensions, so the WebSocket a request
/// upgrades to keeps the place.
#[derive(Debug, Clone)]
pub struct ConnectionSlot(#[allow(dead_code)] Arc<Slot>);

#[derive(Debug)]
struct Slot {
    counts: Arc<AddressCounts>,
    key: IpAddr,
}

impl AddressCounts {
    fn take(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let key = limit_key(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(key).or_insert(0);
        if self.limit > 0 && *n >= self.limit {
            return None;
        }
        *n += 1;
        Some(Slot {
            counts: self.clone(),
            key,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// What [`serve`] enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Headers must arrive within this long (and idle kept-alive connections close).
    pub header_timeout: Duration,
    /// Connections per client address (0: no limit).
    pub per_address: u32,
    /// Proxies: not counted per address; their `X-Forwarded-For` is believed.
    pub trusted: TrustedProxies,
    /// How long to wait at shutdown for HTTP requests in progress.
    pub grace: Duration,
}

impl Limits {
    /// The limits of the configuration.
    pub fn of(state: &AppState) -> Limits {
        let c = &state.config;
        Limits {
            header_timeout: Duration::from_millis(c.http_header_timeout_ms.max(1)),
            per_address: c.max_connections_per_address,
            trusted: state.trusted_proxies.clone(),
            grace: Duration::from_secs(c.shutdown_grace_secs),
        }
    }
}

/// Serves `router` on `listener` until `stop` completes; then lets HTTP requests in
/// progress finish (at most `limits.grace`). `shutdown` flips to `true` when the
/// server stops (upgraded WebSockets watch it themselves).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: watch::Receiver<bool>,
    stop: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let counts = Arc::new(AddressCounts {
        limit: limits.per_address,
        open: Mutex::new(HashMap::new()),
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Some(limits.header_timeout));
    // Every connection task holds a receiver; all of them dropped means all finished.
    let (done_tx, done_rx) = watch::channel(());
    tokio::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // Out of file descriptors, typically: wait for some to close.
                        tracing::error!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
        };
        let slot = if limits.trusted.contains(peer.ip()) {
            None
        } else {
            match counts.take(peer.ip()) {
                Some(s) => Some(ConnectionSlot(Arc::new(s))),
                None => {
                    refuse(&tcp, limits.per_address);
                    continue;
                }
            }
        };
        // No Nagle delay: a connection often gets several small frames in a row with
        // no client data in between (CONNECTED, then the answers to the frames
        // pipelined behind CONNECT), and the second would wait for the client's
        // delayed ACK.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
        let in_request = slot.clone();
        let service = router
            .clone()
            .map_request(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                if let Some(slot) = &in_request {
                    req.extensions_mut().insert(slot.clone());
                }
                req
            });
        let conn = http
            .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service))
            .with_upgrades();
        let mut shutdown = shutdown.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let stopping = async move {
                let _ = shutdown.wait_for(|s| *s).await;
            };
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "HTTP connection ended");
                    }
                }
                _ = stopping => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(slot);
            drop(done);
        });
    }
    drop(listener);
    drop(done_rx);
    let _ = tokio::time::timeout(limits.grace, done_tx.closed()).await;
    Ok(())
}

/// Over the per-address limit: a 503 in docs/protocol.md's error shape, written without
/// waiting (a fresh socket's send buffer takes it), then the connection is closed.
fn refuse(tcp: &TcpStream, limit: u32) {
    tracing::debug!(peer = ?tcp.peer_addr().ok(), "connection refused: too many from its address");
    let body = serde_json::to_string(&ErrorBody::new(
        names::RATE_LIMITED,
        format!("Too many connections from your address (at most {limit}); close some and retry."),
        crate::clock::now_iso(),
    ))
    .unwrap_or_default();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: 5\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tcp.try_write(response.as_bytes());
}

fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
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
        let counts = Arc::new(AddressCounts {
            limit: 2,
            open: Mutex::new(HashMap::new()),
        });
        let one = counts.take(a).unwrap();
        let _two = counts.take(b).unwrap();
        assert!(counts.take(a).is_none());
        assert!(counts.take(c).is_some());
        drop(one);
        assert!(counts.take(b).is_some());
    }
}
