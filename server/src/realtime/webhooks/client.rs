//! The HTTP client of webhooks and the before-send hook: one POST over HTTP/1.1 (hyper's
//! client connection, as the auth callback uses) or HTTPS (rustls, Mozilla's roots),
//! the answer read up to a byte limit.
//!
//! Server-side request forgery: a webhook URL is given by whoever holds the Platform
//! API's secret, and the server would POST wherever it points, from inside the
//! operator's network. So unless the operator allows it (`--webhook-allow-private`)
//! the name is resolved here and only public addresses are connected to: never
//! loopback, private (RFC 1918, unique-local), link-local (cloud metadata services
//! live there), carrier-grade NAT, multicast or unspecified ones. The address checked
//! is the one connected to, so a name that resolves differently the second time
//! (DNS rebinding) gains nothing. Redirects are not followed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::http::{header, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// Where a URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `https://`.
    pub https: bool,
    /// Host name or address (without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path and query.
    pub path: String,
}

impl Target {
    /// An `http://` or `https://` URL with a host and no user information.
    pub fn parse(url: &str) -> Result<Target, String> {
        let bad = |why: &str| format!("{url:?} is not a usable URL: {why}.");
        let uri: Uri = url.parse().map_err(|_| bad("it does not parse"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("only http:// and https:// are accepted")),
        };
        let authority = uri.authority().ok_or_else(|| bad("it has no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user information is not accepted"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("it has no host"));
        }
        Ok(Target {
            https,
            host: host.to_owned(),
            port: uri.port_u16().unwrap_or(if https { 443 } else { 80 }),
            path: uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
        })
    }

    /// The `Host` header.
    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match (self.https, self.port) {
            (true, 443) | (false, 80) => host,
            _ => format!("{host}:{}", self.port),
        }
    }

    /// Whether the host is an address that is not public, or a name for this machine.
    /// (Names are checked again when resolved.)
    pub fn names_private_host(&self) -> bool {
        let h = self.host.to_ascii_lowercase();
        if h == "localhost" || h.ends_with(".localhost") {
            return true;
        }
        h.parse::<IpAddr>().is_ok_and(|ip| !is_public(ip))
    }
}

/// Whether an address is reachable on the public internet (see the module's comment).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0xdb8
                || first == 0x0064 && v6.segments()[1] == 0xff9b)
        }
    }
}

/// An answer: its status and the first bytes of its body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body, at most the limit asked for.
    pub body: Bytes,
}

/// Makes requests; cheap to clone.
#[derive(Clone)]
pub struct Client {
    tls: TlsConnector,
    allow_private: bool,
}

impl Client {
    /// A client; `allow_private` lets it connect to any address (see the module's
    /// comment).
    pub fn new(allow_private: bool) -> Client {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let config = ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Client {
            tls: TlsConnector::from(Arc::new(config)),
            allow_private,
        }
    }

    /// POSTs `body` (JSON) with `headers` to `target`, reading at most `max_bytes` of
    /// the answer (a longer answer is an error). The caller bounds the time.
    pub async fn post(
        &self,
        target: &Target,
        headers: &[(&str, String)],
        body: Bytes,
        max_bytes: usize,
    ) -> Result<Answer, String> {
        let addr = self.resolve(target).await?;
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let request = build_request(target, headers, body)?;
        if target.https {
            let name = ServerName::try_from(target.host.clone())
                .map_err(|_| format!("{:?} is not a valid TLS server name", target.host))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {}: {e}", target.host))?;
            exchange(tls, request, max_bytes).await
        } else {
            exchange(tcp, request, max_bytes).await
        }
    }

    /// The first address of the target's host that may be connected to.
    async fn resolve(&self, target: &Target) -> Result<SocketAddr, String> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((target.host.as_str(), target.port))
            .await
            .map_err(|e| format!("resolving {}: {e}", target.host))?
            .collect();
        addrs
            .iter()
            .copied()
            .find(|a| self.allow_private || is_public(a.ip()))
            .ok_or_else(|| {
                if addrs.is_empty() {
                    format!("{} has no address", target.host)
                } else {
                    format!(
                        "{} resolves to private addresses only (--webhook-allow-private allows them)",
                        target.host
                    )
                }
            })
    }
}

fn build_request(
    target: &Target,
    headers: &[(&str, String)],
    body: Bytes,
) -> Result<Request<Full<Bytes>>, String> {
    let mut b = Request::post(target.path.as_str())
        .header(header::HOST, target.host_header())
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::USER_AGENT,
            concat!("chatkitty-server/", env!("CARGO_PKG_VERSION")),
        );
    for (name, value) in headers {
        b = b.header(*name, value.as_str());
    }
    b.body(Full::new(body)).map_err(|e| e.to_string())
}

async fn exchange<S>(
    io: S,
    request: Request<Full<Bytes>>,
    max_bytes: usize,
) -> Result<Answer, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    // The connection is driven beside the request and dropped with it.
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), max_bytes)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        Ok(Answer { status, body })
    }
    .await;
    driver.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_http_or_https_with_a_host_and_no_credentials() {
        let t = Target::parse("https://hooks.example.com/in?x=1").unwrap();
        assert_eq!(
            (t.https, t.host.as_str(), t.port, t.path.as_str()),
            (true, "hooks.example.com", 443, "/in?x=1")
        );
        let t = Target::parse("http://[::1]:9000").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("::1", 9000, "/")
        );
        assert_eq!(t.host_header(), "[::1]:9000");
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://x",
            "example.com/x",
            "http://user:pw@example.com/",
            "",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_private_and_link_local_addresses_are_not_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        assert!(Target::parse("http://localhost:1/")
            .unwrap()
            .names_private_host());
        assert!(Target::parse("http://127.0.0.1/")
            .unwrap()
            .names_private_host());
        assert!(!Target::parse("https://example.com/")
            .unwrap()
            .names_private_host());
    }
}
