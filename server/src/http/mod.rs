//! HTTP routes: the STOMP WebSocket endpoint, health and metrics, generated avatars,
//! and the demo app's static files.
//!
//! What is exposed, and to whom (README "Security"): WebSocket upgrades and CORS
//! requests only from `--allowed-origins` (any origin when empty); `/metrics` only with
//! `--metrics-token`, on `--metrics-bind`, or else to loopback clients; avatars only at
//! the unguessable URL a user's resource carries; static pages with security headers
//! and a content security policy the demo app works under.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use chatkitty_protocol::error::names;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::ApiError;
use crate::http::listen::{ClientAddr, ConnectionSlot};
use crate::http::upgrade::Upgrade;
use crate::state::AppState;
use crate::stomp::connection::{Framing, Peer};

pub mod files;
pub mod listen;
pub mod moderation;
pub mod platform;
pub mod upgrade;
pub mod webhooks;

/// The application router.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/rtm/websocket", get(websocket))
        .route("/rtm/info", get(sockjs_info))
        .route("/rtm/{server}/{session}/websocket", get(sockjs_websocket))
        .route("/health", get(health))
        .route("/avatars/{tag}/{file}", get(avatar))
        .merge(crate::http::files::routes(&state))
        .merge(crate::http::platform::routes())
        .merge(crate::http::moderation::routes())
        .merge(crate::http::webhooks::routes());
    if state.config.metrics_bind.is_none() {
        router = router.route("/metrics", get(metrics));
    }
    let mut router = router.layer(cors(&state));
    if let Some(dir) = &state.config.static_dir {
        let index = dir.join("index.html");
        let policy = match state.config.page_csp.as_deref().map(str::trim) {
            Some("off") => None,
            Some(own) => Some(HeaderValue::from_str(own).map_err(|_| ())),
            None => Some(Ok(page_policy(state.base_url()))),
        };
        // Checked at start-up (`check_page_csp`), so the error arm is never taken.
        let policy = policy.and_then(Result::ok);
        let pages = tower::ServiceBuilder::new()
            .layer(tower::util::option_layer(policy.map(|p| {
                SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, p)
            })))
            .service(ServeDir::new(dir).fallback(ServeFile::new(index)));
        router = router.fallback_service(pages);
    }
    // On every response: no MIME sniffing, no framing, no referrer to other sites.
    let router = router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ));
    router.with_state(state)
}

/// The router of `--metrics-bind`: `/metrics` only.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// The content security policy of the static pages: scripts, styles and fonts from
/// the page's own origin (and WebAssembly compiled from them), images and media also
/// from `blob:`/`data:` (upload previews, the icon) and from the server's public base
/// URL (files, avatars), connections (WebSocket, uploads) to the page's origin and that
/// base URL; no plugins, no framing, no `<base>`. The demo app in `www/` runs under it.
fn page_policy(base: &str) -> HeaderValue {
    let ws = base
        .replacen("https://", "wss://", 1)
        .replacen("http://", "ws://", 1);
    let policy = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' blob: data: {base}; media-src 'self' blob: {base}; \
         connect-src 'self' {base} {ws}; font-src 'self' data:; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"))
}

/// Checks `--page-csp` at startup: a header value (no control characters), not empty.
pub fn check_page_csp(policy: Option<&str>) -> Result<(), String> {
    match policy.map(str::trim) {
        Some("") => Err("--page-csp: empty (use `off` to send no policy)".into()),
        Some(p) if HeaderValue::from_str(p).is_err() => {
            Err("--page-csp: not a valid header value".into())
        }
        _ => Ok(()),
    }
}

/// An origin as browsers send it: `scheme://host[:port]`, lower-cased.
fn normalized_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// Checks `--allowed-origins` entries at startup.
pub fn check_allowed_origins(origins: &[String]) -> Result<(), String> {
    for o in origins {
        let n = normalized_origin(o);
        let ok = ["http://", "https://"]
            .iter()
            .find_map(|s| n.strip_prefix(s))
            .is_some_and(|rest| !rest.is_empty() && !rest.contains(['/', '?', '#', ' ']));
        if !ok {
            return Err(format!(
                "--allowed-origins: {o:?} is not an origin like https://chat.example.com"
            ));
        }
    }
    Ok(())
}

/// Whether a request's `Origin` may use the server: always when no list is configured
/// or the request has no `Origin` (not a browser).
fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let allowed = &state.config.allowed_origins;
    if allowed.is_empty() {
        return true;
    }
    match headers.get(header::ORIGIN).map(|o| o.to_str()) {
        None => true,
        Some(Ok(o)) => {
            let o = normalized_origin(o);
            allowed.iter().any(|a| normalized_origin(a) == o)
        }
        Some(Err(_)) => false,
    }
}

/// CORS (docs/protocol.md §2.9) for `--allowed-origins`, or for every origin.
fn cors(state: &AppState) -> CorsLayer {
    let allowed: Vec<String> = state
        .config
        .allowed_origins
        .iter()
        .map(|o| normalized_origin(o))
        .collect();
    let origins = if allowed.is_empty() {
        AllowOrigin::any()
    } else {
        AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origin
                .to_str()
                .is_ok_and(|o| allowed.contains(&normalized_origin(o)))
        })
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods(Any)
        .allow_headers(Any)
        .expose_headers(Any)
}

/// A WebSocket upgrade from an origin not in `--allowed-origins`.
fn origin_refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(
            ApiError::new(
                names::FORBIDDEN,
                "This origin may not use this server (--allowed-origins).",
            )
            .body(),
        ),
    )
        .into_response()
}

/// `GET /rtm/websocket?api-key=…`: the STOMP endpoint (docs/protocol.md §2.1, 2.2). The
/// subprotocol `v12.stomp` is echoed when asked for; Chromium aborts otherwise.
async fn websocket(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    slot: Option<Extension<ConnectionSlot>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    ws: Upgrade,
) -> Response {
    if !origin_allowed(&state, &headers) {
        return origin_refused();
    }
    let app_id = app_of(&state, &query);
    let peer = Peer {
        app_id,
        client,
        framing: Framing::Stomp,
    };
    ws.accept(&["v12.stomp"], move |socket| async move {
        // The connection keeps its place in its address's count while it lives.
        let _slot = slot;
        crate::stomp::connection::serve(state, socket, peer).await;
    })
}

/// The application of an upgrade's `api-key` (checked on CONNECT). Nothing else of the
/// request is kept: links are made from the configured base URL, never from `Host`.
fn app_of(state: &AppState, query: &HashMap<String, String>) -> Option<i64> {
    query
        .get("api-key")
        .and_then(|k| state.apps.get(k))
        .copied()
}

/// SockJS `info` (docs/protocol.md §2.3): used by clients without a global `WebSocket`.
async fn sockjs_info() -> impl IntoResponse {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    (
        [(
            header::CACHE_CONTROL,
            "no-store, no-cache, must-revalidate, max-age=0",
        )],
        axum::Json(serde_json::json!({
            "websocket": true,
            "cookie_needed": false,
            "origins": ["*:*"],
            "entropy": u32::from_le_bytes(b),
        })),
    )
}

/// SockJS's websocket transport: the same STOMP session in SockJS framing.
async fn sockjs_websocket(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    slot: Option<Extension<ConnectionSlot>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    ws: Upgrade,
) -> Response {
    if !origin_allowed(&state, &headers) {
        return origin_refused();
    }
    let app_id = app_of(&state, &query);
    let peer = Peer {
        app_id,
        client,
        framing: Framing::SockJs,
    };
    ws.accept(&[], move |socket| async move {
        let _slot = slot;
        crate::stomp::connection::serve(state, socket, peer).await;
    })
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.setting("signing_secret").await {
        Ok(_) => (StatusCode::OK, "ok\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n"),
    }
}

/// `GET /metrics`: with `--metrics-token`, for its bearer only; on `--metrics-bind`,
/// for whoever reaches that address; else for loopback clients only.
async fn metrics(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
) -> Response {
    let allowed = match &state.config.metrics_token {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .is_some_and(|given| {
                crate::http::platform::constant_time_eq(given.trim().as_bytes(), token.as_bytes())
            }),
        None => state.config.metrics_bind.is_some() || client.is_some_and(|c| c.is_loopback()),
    };
    if !allowed {
        let (status, message) = if state.config.metrics_token.is_some() {
            (
                StatusCode::UNAUTHORIZED,
                "A bearer token (--metrics-token) is required.",
            )
        } else {
            (
                StatusCode::FORBIDDEN,
                "Metrics are served to local clients only (see --metrics-token, --metrics-bind).",
            )
        };
        let mut r = (
            status,
            Json(ApiError::new(names::ACCESS_DENIED, message).body()),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        return r;
    }
    metrics_text(&state).into_response()
}

fn metrics_text(state: &AppState) -> impl IntoResponse {
    let s = &state.hub.stats;
    let mut out = String::new();
    let mut metric = |name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    };
    metric(
        "chatkitty_connections",
        "Open WebSocket connections.",
        state.open_connections() as u64,
    );
    metric(
        "chatkitty_online_users",
        "Users with a live session.",
        state.presence.online_count() as u64,
    );
    metric(
        "chatkitty_subscriptions",
        "Topic subscriptions held (per connection and destination).",
        state.hub.subscription_count() as u64,
    );
    metric(
        "chatkitty_topics",
        "Destinations with subscribers.",
        state.hub.topic_count() as u64,
    );
    metric(
        "chatkitty_events_total",
        "Events published.",
        s.events.load(Ordering::Relaxed),
    );
    metric(
        "chatkitty_deliveries_total",
        "MESSAGE frames queued to connections.",
        s.deliveries.load(Ordering::Relaxed),
    );
    metric(
        "chatkitty_slow_consumers_total",
        "Connections dropped for falling behind.",
        s.slow_consumers.load(Ordering::Relaxed),
    );
    // Histograms and labelled counters (webhooks, the before-send hook) come from the
    // prometheus crate's registry, in the same text format.
    out.push_str(&state.webhooks.metrics.encode());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

/// `GET /avatars/{tag}/{id}.svg`: a generated avatar (initials on a colour from the
/// id). Only at the URL the user's resource carries: a tag that is not this user's (in
/// their application) is a 404 like an unknown id.
async fn avatar(
    State(state): State<AppState>,
    Path((tag, file)): Path<(String, String)>,
) -> Response {
    let Some(id) = file
        .strip_suffix(".svg")
        .and_then(|i| i.parse::<i64>().ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(Some(user)) = state.store.user_by_id(id).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let expected = state.keys.avatar_tag(user.app_id, user.id);
    if !crate::http::platform::constant_time_eq(expected.as_bytes(), tag.as_bytes()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let initials: String = user
        .display_name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect();
    let initials = if initials.is_empty() {
        "?".to_owned()
    } else {
        initials
    };
    let hue = (id.wrapping_mul(137)).rem_euclid(360);
    let text = initials
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"64\" height=\"64\" viewBox=\"0 0 64 64\">\
         <rect width=\"64\" height=\"64\" rx=\"32\" fill=\"hsl({hue},55%,45%)\"/>\
         <text x=\"32\" y=\"41\" font-family=\"system-ui,sans-serif\" font-size=\"26\" fill=\"#fff\" \
         text-anchor=\"middle\">{text}</text></svg>"
    );
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            // An image, never a document that runs anything.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox",
            ),
        ],
        svg,
    )
        .into_response()
}
