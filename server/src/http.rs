//! HTTP routes: the STOMP WebSocket endpoint, health and metrics, generated avatars,
//! and the demo app's static files.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::cors::CorsLayer;
use tower_http::services::{ServeDir, ServeFile};

use crate::state::AppState;

/// Largest WebSocket message accepted (a little above the largest STOMP frame).
fn max_ws_message(state: &AppState) -> usize {
    state.config.max_frame_bytes + 1024
}

/// The application router.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/rtm/websocket", get(websocket))
        .route("/rtm/info", get(sockjs_info))
        .route("/rtm/{server}/{session}/websocket", get(sockjs_websocket))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/avatars/{file}", get(avatar))
        .merge(crate::files::routes(&state))
        .merge(crate::platform::routes())
        .layer(CorsLayer::permissive());
    if let Some(dir) = &state.config.static_dir {
        let index = dir.join("index.html");
        router = router.fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)));
    }
    router.with_state(state)
}

/// `GET /rtm/websocket?api-key=…`: the STOMP endpoint (PROTOCOL.md 2.1, 2.2). The
/// subprotocol `v12.stomp` is echoed when asked for; Chromium aborts otherwise.
async fn websocket(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let app_id = upgrade_request(&state, &query, &headers);
    sized(&state, ws.protocols(["v12.stomp"]))
        .on_upgrade(move |socket| crate::session::run(state, socket, app_id))
}

/// The application of an upgrade's `api-key` (checked on CONNECT), noting the host
/// the client reached us by for the URLs we hand out.
fn upgrade_request(
    state: &AppState,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Option<i64> {
    if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        let scheme = headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("http");
        state.observe_base_url(scheme, host);
    }
    query
        .get("api-key")
        .and_then(|k| state.apps.get(k))
        .copied()
}

/// Buffer and message limits of a WebSocket: tungstenite's defaults (128 KiB read
/// buffer, large write buffers) dominate the memory of an idle connection; frames are
/// small, so buffers are too. Frames queued together are written together (the
/// connection's writer flushes after each batch), up to 16 KiB before a write.
fn sized(state: &AppState, ws: WebSocketUpgrade) -> WebSocketUpgrade {
    let max = max_ws_message(state);
    ws.read_buffer_size(4 * 1024)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(max * 4)
        .max_message_size(max)
        .max_frame_size(max)
}

/// SockJS `info` (PROTOCOL.md 2.3): used by clients without a global `WebSocket`.
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
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let app_id = upgrade_request(&state, &query, &headers);
    sized(&state, ws).on_upgrade(move |socket| {
        crate::session::run_with(state, socket, app_id, crate::session::Framing::SockJs)
    })
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.setting("signing_secret").await {
        Ok(_) => (StatusCode::OK, "ok\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n"),
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
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
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

/// `GET /avatars/{id}.svg`: a generated avatar (initials on a colour from the id).
async fn avatar(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(id) = file
        .strip_suffix(".svg")
        .and_then(|i| i.parse::<i64>().ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(Some(user)) = state.store.user_by_id(id).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
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
        ],
        svg,
    )
        .into_response()
}
