//! A self-hostable chat server speaking the ChatKitty wire protocol: STOMP 1.2 over a
//! WebSocket at `/rtm/websocket?api-key=…` (see docs/protocol.md), so the official
//! `chatkitty` JavaScript client and our wasm SDK both work against it unchanged.
//!
//! # Layout
//!
//! In layers, each using only the ones below it (ARCHITECTURE.md; the test command
//! checks it with `scripts/check-layers.py`):
//!
//! - this file, `fuzzing`: assembly (state, bus wiring, serving, shutdown).
//! - [`http`]: routes, the WebSocket upgrade, files, the Platform API, accepting
//!   connections (header timeout, per-address limit).
//! - [`stomp`]: one connection's reader and writer, CONNECT, the session's
//!   subscriptions and limits, relays and actions turned into domain calls.
//! - [`domain`]: what every request does (access checks, the message pipeline,
//!   notifications, resources per viewer), transport-free.
//! - [`state`]: what every connection and request shares; event publishing.
//! - [`realtime`] (hub, presence/typing bookkeeping, the bus between nodes, live
//!   sessions) and [`auth`] (tokens, the verifier, failed-login throttling).
//! - [`limits`], [`error`], [`net`]: named limits, the one error type, client
//!   addresses.
//! - [`store`]: SQLite / PostgreSQL.
//! - [`config`], [`clock`].
//!
//! Not here: TLS (put a reverse proxy in front).

pub mod auth;
pub mod blocklist;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod http;
pub mod limits;
pub mod net;
pub mod realtime;
pub mod state;
pub mod stomp;
pub mod store;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use auth::keys::Keys;
pub use config::Config;
use state::{AppState, Shared};
use store::Store;

/// Startup failures.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error("{0}")]
    Store(store::StoreError),
    /// Serving failed.
    #[error("{0}")]
    Io(std::io::Error),
    /// The configuration is invalid.
    #[error("{0}")]
    Config(String),
}

/// Opens the database and builds the shared state.
pub async fn build_state(
    config: Config,
    shutdown: watch::Receiver<bool>,
) -> Result<AppState, StartError> {
    let store = Store::open(&config.database)
        .await
        .map_err(StartError::Store)?;
    let secret = match &config.secret {
        Some(s) => s.clone(),
        None => store
            .setting_or_insert("signing_secret", &Keys::generate_secret())
            .await
            .map_err(StartError::Store)?,
    };
    let mut apps = HashMap::new();
    for key in &config.api_keys {
        let id = store
            .ensure_application(key)
            .await
            .map_err(StartError::Store)?;
        apps.insert(key.clone(), id);
    }
    let verifier = auth::verifier::Verifier::from_config(&config).map_err(StartError::Config)?;
    let trusted_proxies =
        net::TrustedProxies::parse(&config.trusted_proxies).map_err(StartError::Config)?;
    http::check_allowed_origins(&config.allowed_origins).map_err(StartError::Config)?;
    http::check_page_csp(config.page_csp.as_deref()).map_err(StartError::Config)?;
    if let Some(url) = &config.public_url {
        check_public_url(url).map_err(StartError::Config)?;
    } else if config.bind.is_unspecified() {
        tracing::warn!(
            "links to files and avatars use http://{}:{}; set --public-url to the address clients use",
            config.bind,
            config.port
        );
    }
    if config.guests_on() && config.verifier_configured() {
        tracing::warn!(
            "guest sessions are on beside a verifier: anyone can sign in with a new username \
             (--guest-sessions false turns them off)"
        );
    }
    let node = {
        let mut b = [0u8; 4];
        let _ = getrandom::fill(&mut b);
        format!("{:x}{:08x}", store::now_ms(), u32::from_le_bytes(b))
    };
    let cluster = match &config.redis_url {
        Some(url) => realtime::bus::Cluster::redis(
            &node,
            url,
            &config.redis_prefix,
            Duration::from_millis(config.node_ttl_ms),
        )
        .await
        .map_err(StartError::Config)?,
        None => realtime::bus::Cluster::local(&node),
    };
    let state = Arc::new(Shared::new(
        config,
        store,
        Keys::new(secret),
        verifier,
        apps,
        shutdown,
        cluster,
        trusted_proxies,
    ));
    domain::webhooks::sync_default_endpoints(&state)
        .await
        .map_err(StartError::Config)?;
    Ok(state)
}

/// `--public-url` must be an `http(s)://` URL without query or fragment: every link the
/// server hands out starts with it.
fn check_public_url(url: &str) -> Result<(), String> {
    let bad = || format!("--public-url {url:?} is not an http:// or https:// URL");
    let uri: axum::http::Uri = url.parse().map_err(|_| bad())?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some_and(|h| !h.is_empty()) => {}
        _ => return Err(bad()),
    }
    if uri.query().is_some() || url.contains('#') {
        return Err(bad());
    }
    Ok(())
}

/// Binds `--metrics-bind`, if given.
async fn bind_metrics(config: &Config) -> Result<Option<TcpListener>, StartError> {
    match config.metrics_bind {
        Some(addr) => Ok(Some(TcpListener::bind(addr).await.map_err(StartError::Io)?)),
        None => Ok(None),
    }
}

/// Serves until `shutdown` completes, then closes every session (a STOMP ERROR telling
/// clients to reconnect) and waits for them, at most the configured grace period.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let metrics = bind_metrics(&config).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let state = build_state(config, stop_rx).await?;
    start_bus(&state).await;
    serve(state, listener, metrics, shutdown, stop_tx).await
}

async fn serve(
    state: AppState,
    listener: TcpListener,
    metrics: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    stop_tx: watch::Sender<bool>,
) -> Result<(), StartError> {
    // Before any connection: who was online when the server last stopped.
    domain::presence::restore(&state).await;
    tokio::spawn(typing_sweeper(state.clone()));
    if let Some(jwks) = state.verifier.jwks() {
        tokio::spawn(jwks.keep_fresh(state.shutdown.clone()));
    }
    tokio::spawn(domain::retention::run(state.clone()));
    start_webhooks(&state);
    let app = http::router(state.clone());
    let limits = http::listen::Limits::of(&state);
    if let Some(metrics) = metrics {
        if let Ok(addr) = metrics.local_addr() {
            tracing::info!(%addr, "metrics served here only");
        }
        let mut stopped = state.shutdown.clone();
        tokio::spawn(http::listen::serve(
            metrics,
            http::metrics_router(state.clone()),
            limits.clone(),
            state.shutdown.clone(),
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        ));
    }
    // Upgraded WebSockets are not covered by the HTTP graceful shutdown: sessions
    // watch the stop signal themselves, and we wait for them below.
    let stop = async move {
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    };
    http::listen::serve(listener, app, limits, state.shutdown.clone(), stop)
        .await
        .map_err(StartError::Io)?;
    state
        .wait_connections_closed(Duration::from_secs(state.config.shutdown_grace_secs))
        .await;
    domain::presence::write_records(&state).await;
    tracing::info!(open = state.open_connections(), "stopped");
    Ok(())
}

/// Wires the bus to this node's hub, live sessions and the domain's handler of what
/// other nodes report, and starts it.
async fn start_bus(state: &AppState) {
    let wiring = realtime::bus::Wiring {
        hub: state.hub.clone(),
        live: state.live.clone(),
        events: std::sync::Arc::new(domain::events::DomainEvents(std::sync::Arc::downgrade(
            state,
        ))),
        shutdown: state.shutdown.clone(),
    };
    state.bus.start(wiring).await;
}

/// Starts this node's webhook worker, rendering through the domain.
fn start_webhooks(state: &AppState) {
    let render = Arc::new(domain::webhooks::DomainRender(Arc::downgrade(state)));
    tokio::spawn(state.webhooks.clone().run(render, state.shutdown.clone()));
}

/// Ends typing that lapsed (no keystrokes for the typing timeout).
async fn typing_sweeper(state: AppState) {
    let mut shutdown = state.shutdown.clone();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s).map(|_| ()) => return,
            _ = tick.tick() => {}
        }
        for (thread, cid, uid) in state.typing.expired(Instant::now()) {
            let Some(key) = chatkitty_protocol::thread::ThreadKey::parse(&thread) else {
                continue;
            };
            match state.store.user_by_id(uid).await {
                Ok(Some(user)) => {
                    domain::delivery::typing_or_log(&state, key, cid, &user, false).await
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "loading a user whose typing lapsed"),
            }
        }
    }
}

/// A server running in the background (tests, benchmarks).
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where `/metrics` is served, with `--metrics-bind`.
    pub metrics_addr: Option<SocketAddr>,
    /// Its state.
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), StartError>>,
}

impl Running {
    /// `host:port`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Shuts down gracefully and waits.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = self.task.await;
    }
}

/// Starts a server on `config.bind:config.port` in the background.
pub async fn spawn(config: Config) -> Result<Running, StartError> {
    let listener = TcpListener::bind((config.bind, config.port))
        .await
        .map_err(StartError::Io)?;
    let addr = listener.local_addr().map_err(StartError::Io)?;
    let mut config = config;
    config.port = addr.port();
    let metrics = bind_metrics(&config).await?;
    let metrics_addr = metrics.as_ref().and_then(|m| m.local_addr().ok());
    let (stop_tx, stop_rx) = watch::channel(false);
    let state = build_state(config, stop_rx).await?;
    start_bus(&state).await;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(
        state.clone(),
        listener,
        metrics,
        async move {
            let _ = rx.await;
        },
        stop_tx,
    ));
    Ok(Running {
        addr,
        metrics_addr,
        state,
        stop: Some(tx),
        task,
    })
}
