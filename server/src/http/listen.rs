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
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::Request;
use axum::Router;
use chatkitty_protocol::error::{names, ErrorBody};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::net::{client_ip, limit_key, TrustedProxies};
use crate::state::AppState;

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
        let conn = Accepted {
            tcp,
            peer,
            slot,
            shutdown: shutdown.clone(),
            done: done_rx.clone(),
        };
        tokio::spawn(conn.serve(http.clone(), router.clone()));
    }
    drop(listener);
    drop(done_rx);
    let _ = tokio::time::timeout(limits.grace, done_tx.closed()).await;
    Ok(())
}

/// A connection taken in: its socket, peer and place in its address's count.
struct Accepted {
    tcp: TcpStream,
    peer: SocketAddr,
    slot: Option<ConnectionSlot>,
    shutdown: watch::Receiver<bool>,
    /// Dropped when the connection is done.
    done: watch::Receiver<()>,
}

impl Accepted {
    /// Serves the connection's requests (and its WebSocket, once upgraded) until it
    /// closes or the server shuts down.
    async fn serve(self, http: hyper::server::conn::http1::Builder, router: Router) {
        let Accepted {
            tcp,
            peer,
            slot,
            mut shutdown,
            done,
        } = self;
        // No Nagle delay: a connection often gets several small frames in a row with
        // no client data in between (CONNECTED, then the answers to the frames
        // pipelined behind CONNECT), and the second would wait for the client's
        // delayed ACK.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
        let in_request = slot.clone();
        let service = router.map_request(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            if let Some(slot) = &in_request {
                req.extensions_mut().insert(slot.clone());
            }
            req
        });
        let conn = http
            .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service))
            .with_upgrades();
        let mut conn = std::pin::pin!(conn);
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "HTTP connection ended");
                }
            }
            _ = async { let _ = shutdown.wait_for(|s| *s).await; } => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
        drop(slot);
        drop(done);
    }
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

    #[test]
    fn an_address_holds_a_bounded_number_of_connections_per_64_block() {
        let key = |s: &str| limit_key(s.parse().unwrap());
        let (a, b, c) = (
            key("2001:db8:1:2:aaaa::1"),
            key("2001:db8:1:2:bbbb::9"),
            key("2001:db8:1:3::1"),
        );
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
