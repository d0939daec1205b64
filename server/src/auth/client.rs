//! The HTTP client of the verifiers: one request to one of the operator's services
//! (the auth callback, an identity provider's JWKS), bounded in time by the caller and
//! in size here.
//!
//! hyper's own client connection (already built for the server side): it reads the
//! answer by its `Content-Length` or chunking, so a backend that keeps the connection
//! open answers as fast as one that closes it. Its `client` feature adds about 2 s to
//! hyper's release build and no crate; `reqwest` (or hyper-util's pooling client) would
//! add several crates for what is one request per login or per key refresh to one
//! host. `https://` goes through rustls (ring), trusting Mozilla's roots (compiled in)
//! or the operator's CA file.

use std::sync::Arc;

use axum::http::{header, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// Where requests go: scheme, host and port, and the path with its query.
#[derive(Clone)]
pub struct Target {
    /// `host:port` to connect to.
    authority: String,
    /// The host name (for TLS and `Host`).
    host: String,
    /// `Host` header value.
    host_header: String,
    /// Path and query.
    path: String,
    /// TLS, when the URL is `https://`.
    tls: Option<TlsConnector>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("authority", &self.authority)
            .field("path", &self.path)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Target {
    /// A target from a URL: `http://` always; `https://` when `tls` is given (else an
    /// error saying which schemes `what` accepts).
    pub fn parse(url: &str, tls: Option<&TlsConnector>, what: &str) -> Result<Target, String> {
        let schemes = if tls.is_some() {
            "an http:// or https:// URL"
        } else {
            "an http:// URL"
        };
        let bad = || format!("{what} {url:?} is not {schemes}");
        let uri: Uri = url.parse().map_err(|_| bad())?;
        let (secure, default_port) = match uri.scheme_str() {
            Some("http") => (false, 80),
            Some("https") if tls.is_some() => (true, 443),
            _ => return Err(bad()),
        };
        let host = uri.host().filter(|h| !h.is_empty()).ok_or_else(bad)?;
        let port = uri.port_u16().unwrap_or(default_port);
        Ok(Target {
            authority: format!("{host}:{port}"),
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            host_header: uri.authority().map_or(host, |a| a.as_str()).to_owned(),
            path: uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
            tls: if secure { tls.cloned() } else { None },
        })
    }
}

/// A TLS client trusting the certificates of `ca_file` (PEM), or Mozilla's roots.
pub fn tls_connector(ca_file: Option<&std::path::Path>) -> Result<TlsConnector, String> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("reading {}: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            if roots.is_empty() {
                return Err(format!("{} holds no certificate", path.display()));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Sends one request (a JSON body for POST) and reads the status and at most
/// `max_bytes` of the answer; more is an error. The caller bounds the time.
pub async fn request(
    target: &Target,
    method: Method,
    json_body: Option<String>,
    max_bytes: usize,
) -> Result<(u16, Bytes), String> {
    let stream = tokio::net::TcpStream::connect(&target.authority)
        .await
        .map_err(|e| e.to_string())?;
    match &target.tls {
        None => exchange(target, stream, method, json_body, max_bytes).await,
        Some(tls) => {
            let name = ServerName::try_from(target.host.clone()).map_err(|e| e.to_string())?;
            let stream = tls
                .connect(name, stream)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            exchange(target, stream, method, json_body, max_bytes).await
        }
    }
}

async fn exchange<S>(
    target: &Target,
    stream: S,
    method: Method,
    json_body: Option<String>,
    max_bytes: usize,
) -> Result<(u16, Bytes), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    // The connection is driven beside the request and dropped with it.
    let driver = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));
    let mut request = Request::builder()
        .method(method)
        .uri(target.path.as_str())
        .header(header::HOST, target.host_header.as_str())
        .header(header::ACCEPT, "application/json");
    if json_body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = request
        .body(Full::new(Bytes::from(json_body.unwrap_or_default())))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let bytes = Limited::new(response.into_body(), max_bytes)
        .collect()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
        .to_bytes();
    drop(driver);
    Ok((status, bytes))
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
