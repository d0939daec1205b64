//! CONNECT (docs/protocol.md §2.4, §2.5): the frame's headers to a sign-in
//! ([`crate::domain::sign_in`]), then CONNECTED with the heart-beats agreed and the
//! session id for the next connection, and the [`Session`] that serves the rest.

use base64::Engine;
use chatkitty_protocol::error::names;
use chatkitty_protocol::frame::encode_text;
use chatkitty_protocol::{header, Command, Frame};

use super::connection::Reader;
use super::session::{Flow, Session};
use crate::domain::sign_in::{self, SignedIn};
use crate::realtime::hub::Outbound;

/// Longest heart-beat interval taken from a client: a larger one (up to `u64::MAX`
/// ms) would overflow the timer's deadline.
const MAX_HEART_BEAT_MS: u64 = 24 * 3600 * 1000;

impl Reader {
    /// Handles the CONNECT frame: the session starts, or the connection is refused with
    /// an ERROR (docs/protocol.md §2.6).
    pub async fn connect(&mut self, frame: Frame) -> Flow {
        let state = self.state.clone();
        let Some(app_id) = self.peer.app_id else {
            return self.refuse(names::ACCESS_DENIED, "Unknown API key.").await;
        };
        if let Some(v) = frame.header(header::ACCEPT_VERSION) {
            if !v.split(',').any(|v| v.trim() == header::STOMP_VERSION) {
                return self
                    .refuse(names::ACCESS_DENIED, "This server speaks STOMP 1.2 only.")
                    .await;
            }
        }
        let request = sign_in::Request {
            app_id,
            username: frame.header(header::STOMPX_USER).unwrap_or(""),
            session_id: frame.header(header::STOMPX_AUTH_SESSION_ID),
            auth_params: frame
                .header(header::STOMPX_AUTH_PARAMS)
                .map(|p| decode_auth_params(p).ok_or(())),
            address: self.peer.client,
        };
        let SignedIn {
            user,
            session_id,
            credential_expires_ms,
            created,
        } = match sign_in::sign_in(&state, request).await {
            Ok(s) => s,
            Err(e) => return self.refuse(e.name, &e.message).await,
        };
        if state.presence.connections(user.id) >= state.config.max_connections_per_user {
            // Not AccessDeniedError: the official client would stop reconnecting for good.
            let message = format!(
                "Too many open connections for {}; close a tab and retry.",
                user.name
            );
            return self.refuse(names::RATE_LIMITED, &message).await;
        }
        self.span.record("user", user.id);
        let (client_cx, client_cy) = parse_heart_beat(frame.header(header::HEART_BEAT));
        let (sx, sy) = (state.config.heartbeat_ms, state.config.client_heartbeat_ms);
        // We send every max(ours, what the client wants), if both want them; the
        // client must send every max(what we want, what it offers).
        let out_ms = if sx == 0 || client_cy == 0 {
            0
        } else {
            sx.max(client_cy)
        };
        let in_ms = (sy != 0 && client_cx != 0).then(|| sy.max(client_cx));
        self.conn
            .control(Outbound::Frame(connected(
                &format!("{sx},{sy}"),
                &session_id,
            )))
            .await;
        if out_ms > 0 {
            self.conn.control(Outbound::Heartbeat(out_ms)).await;
        }
        tracing::info!(parent: &self.span, user = %user.name, "session started");
        let mut session = Session::new(
            state.clone(),
            self.conn.for_user(user.id),
            app_id,
            user,
            in_ms,
        );
        session.credential_expires_ms = credential_expires_ms;
        // Listed before its presence is announced: a revocation from now on ends it.
        state.live.register(session.user.id, &session.conn);
        crate::domain::presence::connected(&state, &session.user, created).await;
        self.session = Some(session);
        Flow::Continue
    }
}

/// The CONNECTED frame.
fn connected(heart_beat: &str, session_id: &str) -> String {
    encode_text(
        Command::Connected,
        &[
            (header::VERSION, header::STOMP_VERSION),
            (header::HEART_BEAT, heart_beat),
            (header::SESSION, session_id),
            (
                header::SERVER,
                concat!("chatkitty-server/", env!("CARGO_PKG_VERSION")),
            ),
        ],
        "",
    )
}

/// Decodes `StompX-Auth-Params`: Base64 of Latin-1 JSON text (docs/protocol.md §2.4).
pub fn decode_auth_params(b64: &str) -> Option<serde_json::Value> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    // ISO-8859-1: every byte is the code point of the same value.
    let text: String = bytes.iter().map(|&b| b as char).collect();
    serde_json::from_str(&text).ok()
}

fn parse_heart_beat(v: Option<&str>) -> (u64, u64) {
    let Some(v) = v else { return (0, 0) };
    let mut it = v
        .split(',')
        .map(|p| p.trim().parse::<u64>().unwrap_or(0).min(MAX_HEART_BEAT_MS));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}
