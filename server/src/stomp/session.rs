//! One WebSocket connection: the STOMP session on it (docs/protocol.md §2–4).
//!
//! Two tasks per connection: this one reads and handles frames in order (a client's
//! SUBSCRIBE is active before its next SEND is handled), the writer drains the bounded
//! outbound queue to the socket and sends heart-beats. Handlers never write to the
//! socket directly; they queue frames, so fan-out from other connections and replies
//! share one ordered stream.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message as WsMessage, WebSocket};
use base64::Engine;
use chatkitty_protocol::destination::{
    Action, ChannelTopic, ChannelVerb, Destination, Topic, UserTopic, ERRORS_QUEUE,
};
use chatkitty_protocol::error::{names, ErrorBody};
use chatkitty_protocol::event::types;
use chatkitty_protocol::frame::encode_text;
use chatkitty_protocol::resource::ChannelType;
use chatkitty_protocol::{header, Command, DecodeError, Decoder, Frame, Item, Limits};
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::domain::messages::QueuedSend;
use crate::error::{ApiError, ApiResult};
use crate::realtime::hub::{message_frame, ConnHandle, Exclude, Outbound, QueueBudget};
use crate::realtime::tracker::RateLimit;
use crate::state::{event_json, AppState};
use crate::store::{now_ms, UserRow};

/// What the reader does after a frame.
enum Flow {
    Continue,
    Close,
}

/// Runs a connection until it closes. `app_id` is `None` for an unknown API key: the
/// upgrade is accepted and the CONNECT refused with `AccessDeniedError`
/// (docs/protocol.md §2.1), because an HTTP-level refusal makes the client retry forever.
pub async fn run(state: AppState, socket: WebSocket, app_id: Option<i64>) {
    run_with(state, socket, app_id, Framing::Stomp).await;
}

/// How STOMP travels in WebSocket messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// STOMP frames as WebSocket messages (`/rtm/websocket`).
    Stomp,
    /// SockJS's websocket transport (docs/protocol.md §2.3): the server sends `o` on open,
    /// `h` heart-beats and `a[…]` arrays of STOMP text; the client sends JSON arrays.
    SockJs,
}

/// [`run`] with a framing.
pub async fn run_with(state: AppState, socket: WebSocket, app_id: Option<i64>, framing: Framing) {
    state.connection_opened();
    let conn_id = state.next_conn_id();
    let span = tracing::info_span!("conn", id = conn_id, user = tracing::field::Empty);
    let _enter = span.enter();
    drop(_enter);
    let (sink, stream) = socket.split();
    let (tx, rx) = mpsc::channel(state.config.outbound_queue.max(16));
    let kill = CancellationToken::new();
    let budget = QueueBudget::new(
        state.config.outbound_queue_bytes,
        state.total_queued.clone(),
    );
    let writer = tokio::spawn(write_loop(sink, rx, kill.clone(), budget.clone(), framing));
    let mut reader = Reader {
        state: state.clone(),
        conn: ConnHandle::new(conn_id, 0, tx, kill.clone(), budget),
        app_id,
        session: None,
        span: span.clone(),
        framing,
    };
    // A handler that panics (a bug) ends its connection, never the server; the
    // session is still closed below, so its connection count, subscriptions and
    // presence are not leaked.
    let read = std::panic::AssertUnwindSafe(reader.read_loop(stream)).catch_unwind();
    if read.await.is_err() {
        tracing::error!(parent: &span, "a request handler panicked: connection closed");
        kill.cancel();
    }
    if let Some(session) = reader.session.as_mut() {
        // Sends received before the connection ended are still stored and delivered.
        let flush = std::panic::AssertUnwindSafe(session.flush_sends()).catch_unwind();
        if flush.await.is_err() {
            tracing::error!(parent: &span, "storing queued sends panicked");
        }
    }
    if let Some(session) = reader.session.take() {
        session.close().await;
    }
    drop(reader);
    // The writer ends once every queue sender is gone (it drains what is queued first);
    // one whose peer stopped reading is cut off.
    tokio::pin!(writer);
    if tokio::time::timeout(CLOSE_WAIT, &mut writer).await.is_err() {
        kill.cancel();
        let _ = writer.await;
    }
    state.connection_closed();
}

/// Wraps STOMP text for the transport.
fn framed(framing: Framing, text: String) -> String {
    match framing {
        Framing::Stomp => text,
        Framing::SockJs => format!("a[{}]", serde_json::Value::String(text)),
    }
}

/// At most this many queued frames are written together.
const MAX_BATCH: usize = 64;

/// What the writer does after a queued item.
enum Step {
    More,
    Close,
}

/// Queues one item on the socket without flushing it.
async fn feed(
    sink: &mut futures_util::stream::SplitSink<WebSocket, WsMessage>,
    framing: Framing,
    out: Outbound,
    heartbeat: &mut Option<tokio::time::Interval>,
) -> Result<Step, axum::Error> {
    match out {
        Outbound::Frame(text) if framing == Framing::SockJs && text == "\n" => {
            sink.feed(WsMessage::Text("h".into())).await?
        }
        Outbound::Frame(text) => {
            sink.feed(WsMessage::Text(framed(framing, text).into()))
                .await?
        }
        Outbound::Heartbeat(_) if framing == Framing::SockJs => {}
        Outbound::Heartbeat(ms) => {
            let mut iv = tokio::time::interval_at(
                tokio::time::Instant::now() + Duration::from_millis(ms),
                Duration::from_millis(ms),
            );
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            *heartbeat = Some(iv);
        }
        Outbound::Close(last) => {
            if let Some(text) = last {
                sink.feed(WsMessage::Text(framed(framing, text).into()))
                    .await?;
            }
            if framing == Framing::SockJs {
                sink.feed(WsMessage::Text("c[3000,\"Go away!\"]".into()))
                    .await?;
            }
            return Ok(Step::Close);
        }
    }
    Ok(Step::More)
}

/// How long the writer may take over the final frames and the close of a connection
/// that is ending (a peer that stopped reading cannot hold the connection open).
const CLOSE_WAIT: Duration = Duration::from_secs(5);

async fn write_loop(
    mut sink: futures_util::stream::SplitSink<WebSocket, WsMessage>,
    mut rx: mpsc::Receiver<Outbound>,
    kill: CancellationToken,
    budget: Arc<QueueBudget>,
    framing: Framing,
) {
    let mut heartbeat: Option<tokio::time::Interval> = None;
    if framing == Framing::SockJs {
        if sink.send(WsMessage::Text("o".into())).await.is_err() {
            return;
        }
        // SockJS's own keep-alive, whatever STOMP negotiates.
        let mut iv = tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(25),
            Duration::from_secs(25),
        );
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat = Some(iv);
    }
    let taken = |out: &Outbound| {
        if let Outbound::Frame(f) = out {
            budget.release(f.len());
        }
    };
    loop {
        let out = tokio::select! {
            biased;
            _ = kill.cancelled() => break,
            out = rx.recv() => {
                if let Some(out) = &out {
                    taken(out);
                }
                out
            }
            _ = async { heartbeat.as_mut().map(|h| h.tick()).unwrap_or_else(|| unreachable!()).await }, if heartbeat.is_some() => {
                Some(Outbound::Frame("\n".to_owned()))
            }
        };
        let Some(out) = out else { break };
        // The frames queued behind this one go out with it: one write (one system
        // call) for all of them, each still its own WebSocket message. A peer that
        // stops reading blocks the write; the kill switch (its queue overflowing, the
        // connection ending) still ends it.
        let write = async {
            let mut step = feed(&mut sink, framing, out, &mut heartbeat).await;
            let mut batched = 1;
            while let Ok(Step::More) = step {
                if batched == MAX_BATCH {
                    break;
                }
                match rx.try_recv() {
                    Ok(out) => {
                        taken(&out);
                        step = feed(&mut sink, framing, out, &mut heartbeat).await
                    }
                    Err(_) => break,
                }
                batched += 1;
            }
            match step {
                Ok(Step::More) => sink.flush().await.is_ok(),
                _ => false,
            }
        };
        let more = tokio::select! {
            biased;
            _ = kill.cancelled() => false,
            more = write => more,
        };
        if !more {
            break;
        }
    }
    // Nothing more is queued; what was is released from the byte budgets.
    rx.close();
    while let Ok(out) = rx.try_recv() {
        taken(&out);
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        let _ = sink.send(WsMessage::Close(None)).await;
        let _ = sink.close().await;
    })
    .await;
}

struct Reader {
    state: AppState,
    /// The connection's sending side (its user is known once CONNECT succeeds).
    conn: ConnHandle,
    app_id: Option<i64>,
    session: Option<Session>,
    span: tracing::Span,
    framing: Framing,
}

impl Reader {
    async fn read_loop(&mut self, mut stream: futures_util::stream::SplitStream<WebSocket>) {
        let mut decoder = Decoder::new(Limits {
            max_frame_bytes: self.state.config.max_frame_bytes,
            max_headers: Limits::DEFAULT.max_headers,
        });
        let mut shutdown = self.state.shutdown.clone();
        let conn = self.conn.clone();
        // Until CONNECT: a deadline from the moment the socket opened, however the
        // bytes trickle in (README, "Limits": `--connect-timeout-ms`). After: three
        // client heart-beat periods (if it sends any) of silence.
        let connect_by = tokio::time::Instant::now()
            + Duration::from_millis(self.state.config.connect_timeout_ms);
        let mut idle = Duration::from_secs(30);
        loop {
            // While SENDs are queued, WebSocket messages already received join them;
            // once nothing more is waiting, the queue is handled before waiting.
            let ready = match &self.session {
                Some(s) if s.wants_more_sends() => stream.next().now_or_never(),
                _ => None,
            };
            let next = if let Some(ready) = ready {
                Ok(ready)
            } else {
                if let Some(s) = self.session.as_mut() {
                    s.flush_sends().await;
                }
                tokio::select! {
                biased;
                _ = shutdown.wait_for(|s| *s).map(|_| ()) => {
                    let frame = error_frame(names::UNSUPPORTED_OPERATION, "The server is shutting down; reconnect shortly.");
                    let _ = self.conn.control(Outbound::Close(Some(frame))).await;
                    return;
                }
                _ = conn.killed() => return,
                _ = conn.revocations(), if self.session.is_some() => {
                    if let Some(s) = self.session.as_mut() {
                        s.apply_revocations().await;
                    }
                    continue;
                }
                next = async {
                    if self.session.is_some() {
                        tokio::time::timeout(idle, stream.next()).await
                    } else {
                        tokio::time::timeout_at(connect_by, stream.next()).await
                    }
                } => next,
                }
            };
            let msg = match next {
                Err(_) if self.session.is_none() => {
                    tracing::info!(parent: &self.span, "no CONNECT in time: closing");
                    let frame = error_frame(names::MALFORMED_FRAME, "No CONNECT frame in time.");
                    let _ = self.conn.control(Outbound::Close(Some(frame))).await;
                    return;
                }
                Err(_) => {
                    tracing::info!(parent: &self.span, "no data from client within {idle:?}: closing");
                    let _ = self.conn.control(Outbound::Close(None)).await;
                    return;
                }
                Ok(None) | Ok(Some(Err(_))) => return,
                Ok(Some(Ok(m))) => m,
            };
            match (msg, self.framing) {
                (WsMessage::Text(t), Framing::SockJs) => {
                    // A JSON array of STOMP strings (or one string).
                    match serde_json::from_str::<serde_json::Value>(&t) {
                        Ok(serde_json::Value::Array(parts)) => {
                            for p in parts {
                                if let serde_json::Value::String(p) = p {
                                    decoder.push(p.as_bytes());
                                }
                            }
                        }
                        Ok(serde_json::Value::String(p)) => decoder.push(p.as_bytes()),
                        _ => {
                            self.protocol_error(&DecodeError::UnknownCommand(
                                "non-SockJS message".into(),
                            ))
                            .await;
                            return;
                        }
                    }
                }
                (WsMessage::Text(t), _) => decoder.push(t.as_bytes()),
                (WsMessage::Binary(b), _) => decoder.push(&b),
                (WsMessage::Close(_), _) => return,
                (WsMessage::Ping(_) | WsMessage::Pong(_), _) => continue,
            }
            loop {
                match decoder.decode() {
                    Ok(None) => break,
                    Ok(Some(Item::Heartbeat)) => continue,
                    Ok(Some(Item::Frame(frame))) => {
                        if let Flow::Close = self.on_frame(frame).await {
                            return;
                        }
                        if let Some(s) = &self.session {
                            if let Some(ms) = s.client_heartbeat_ms {
                                idle = Duration::from_millis(ms.saturating_mul(3).max(1000));
                            } else {
                                idle = Duration::from_secs(24 * 3600);
                            }
                        }
                    }
                    Err(e) => {
                        // The frames before the malformed one are answered first.
                        if let Some(s) = self.session.as_mut() {
                            s.flush_sends().await;
                        }
                        self.protocol_error(&e).await;
                        return;
                    }
                }
            }
            if decoder.buffered() == 0 {
                decoder.shrink();
            }
        }
    }

    async fn protocol_error(&self, e: &DecodeError) {
        tracing::info!(parent: &self.span, error = %e, "malformed frame: closing");
        let name = match e {
            DecodeError::FrameTooLarge { .. } => names::PAYLOAD_TOO_LARGE,
            _ => names::MALFORMED_FRAME,
        };
        let _ = self
            .conn
            .control(Outbound::Close(Some(error_frame(name, &e.to_string()))))
            .await;
    }

    async fn on_frame(&mut self, frame: Frame) -> Flow {
        if let Some(session) = self.session.as_mut() {
            return session.on_frame(frame).await;
        }
        match frame.command {
            Command::Connect | Command::Stomp => self.connect(frame).await,
            other => {
                let msg = format!("Expected CONNECT as the first frame, got {other}.");
                let _ = self
                    .conn
                    .control(Outbound::Close(Some(error_frame(
                        names::MALFORMED_FRAME,
                        &msg,
                    ))))
                    .await;
                Flow::Close
            }
        }
    }

    async fn refuse(&self, name: &str, message: &str) -> Flow {
        tracing::info!(parent: &self.span, error = name, message, "session refused");
        let _ = self
            .conn
            .control(Outbound::Close(Some(error_frame(name, message))))
            .await;
        Flow::Close
    }

    /// CONNECT (docs/protocol.md §2.4, 2.5).
    ///
    /// Who gets in (README "Security"): the holder of a session id whose signature,
    /// expiry and generation hold (a guest's only while guest sessions are on); else
    /// whoever the verifier accepts the `authParams` of, failed logins being throttled
    /// per username and client address; else a guest, when guest sessions are on, and
    /// never as a user who signed in with credentials while a verifier is configured.
    async fn connect(&mut self, frame: Frame) -> Flow {
        let state = self.state.clone();
        let Some(app_id) = self.app_id else {
            return self.refuse(names::ACCESS_DENIED, "Unknown API key.").await;
        };
        if let Some(v) = frame.header(header::ACCEPT_VERSION) {
            if !v.split(',').any(|v| v.trim() == header::STOMP_VERSION) {
                return self
                    .refuse(names::ACCESS_DENIED, "This server speaks STOMP 1.2 only.")
                    .await;
            }
        }
        let username = frame.header(header::STOMPX_USER).unwrap_or("").to_owned();
        if username.trim().is_empty() || username.chars().count() > 256 {
            return self
                .refuse(
                    names::ACCESS_DENIED,
                    "A username (StompX-User, 1 to 256 characters) is required.",
                )
                .await;
        }
        let now = now_ms();
        let guests = state.config.guests_on();
        let verifier = state.config.verifier_configured();
        let failed = || async {
            self.refuse(names::INTERNAL, "The server could not start the session.")
                .await
        };
        let resumed = frame
            .header(header::STOMPX_AUTH_SESSION_ID)
            .and_then(|t| state.keys.verify_session(t, now))
            .filter(|c| c.app_id == app_id && (!c.guest || guests));
        // The user, and whether their new session id is a guest's and until when it
        // resumes: a guest's for 30 days from now (as ever), an authenticated one never
        // longer than the credential it came from.
        let mut found: Option<(UserRow, bool, i64)> = None;
        let mut generation = None;
        if let Some(claims) = resumed {
            match state.store.user(app_id, claims.user_id).await {
                Ok(Some(u)) if u.name == username => {
                    match state.store.session_generation(u.id).await {
                        Ok(g)
                            if g == claims.generation
                                && !(claims.guest && verifier && !u.is_guest) =>
                        {
                            let expires = if claims.guest {
                                now + crate::auth::keys::TOKEN_LIFETIME_MS
                            } else {
                                claims.expires_ms
                            };
                            found = Some((u, claims.guest, expires));
                            generation = Some(g);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::error!(error = %e, "loading the session generation");
                            return failed().await;
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "loading user");
                    return failed().await;
                }
            }
        }
        let (user, guest, expires_ms) = match found {
            Some(found) => found,
            None => {
                if let Some(params) = frame.header(header::STOMPX_AUTH_PARAMS) {
                    let Some(params) = decode_auth_params(params) else {
                        return self
                            .refuse(
                                names::ACCESS_DENIED,
                                "StompX-Auth-Params is not Base64 JSON.",
                            )
                            .await;
                    };
                    let attempt = crate::auth::logins::Attempt {
                        user: Some((app_id, &username)),
                        address: crate::http::listen::session_client(),
                    };
                    if let Err(wait) = state.logins.check(attempt, Instant::now()) {
                        // Not AccessDeniedError: the official client would stop
                        // reconnecting for good (docs/protocol.md §2.6).
                        let message = format!(
                            "Too many failed sign-ins; try again in {} s.",
                            wait.as_secs().max(1)
                        );
                        return self.refuse(names::RATE_LIMITED, &message).await;
                    }
                    let now_secs = now / 1000;
                    let verified = match state
                        .verifier
                        .verify(&username, &params, app_id, now_secs)
                        .await
                    {
                        Ok(v) => {
                            state.logins.succeeded(attempt);
                            v
                        }
                        Err(refused) => {
                            if let crate::auth::verifier::Refused::Denied(_) = refused {
                                state.logins.failed(attempt, Instant::now());
                            }
                            return self.refuse(names::ACCESS_DENIED, refused.message()).await;
                        }
                    };
                    let user = match state.store.user_or_create(app_id, &username, false).await {
                        Ok(u) => u,
                        Err(e) => {
                            tracing::error!(error = %e, "creating user");
                            return failed().await;
                        }
                    };
                    let display = verified
                        .display_name
                        .as_deref()
                        .map(str::trim)
                        .filter(|d| !d.is_empty());
                    let updated = async {
                        if user.is_guest {
                            state.store.mark_authenticated(user.id).await?;
                        }
                        if display.is_some_and(|d| d != user.display_name) {
                            state
                                .store
                                .update_user(user.id, display, None, None, None)
                                .await?;
                        }
                        state.store.user(app_id, user.id).await
                    };
                    let longest = now.saturating_add(
                        (state.config.auth_session_max_secs as i64).saturating_mul(1000),
                    );
                    let expires = verified.expires_ms.map_or(longest, |e| e.min(longest));
                    match updated.await {
                        Ok(Some(u)) => (u, false, expires),
                        _ => return failed().await,
                    }
                } else {
                    if !guests {
                        return self
                            .refuse(
                                names::ACCESS_DENIED,
                                "Guest sessions are disabled on this server; authenticate with authParams.",
                            )
                            .await;
                    }
                    let user = match state.store.user_or_create(app_id, &username, true).await {
                        Ok(u) => u,
                        Err(e) => {
                            tracing::error!(error = %e, "creating user");
                            return failed().await;
                        }
                    };
                    if verifier && !user.is_guest {
                        return self
                            .refuse(
                                names::ACCESS_DENIED,
                                "This username signs in with authParams, not as a guest.",
                            )
                            .await;
                    }
                    (user, true, now + crate::auth::keys::TOKEN_LIFETIME_MS)
                }
            }
        };
        if state.presence.connections(user.id) >= state.config.max_connections_per_user {
            // Not AccessDeniedError: the official client would stop reconnecting for good.
            return self
                .refuse(
                    names::RATE_LIMITED,
                    &format!(
                        "Too many open connections for {}; close a tab and retry.",
                        user.name
                    ),
                )
                .await;
        }
        self.span.record("user", user.id);
        let (client_cx, client_cy) = parse_heart_beat(frame.header(header::HEART_BEAT));
        let (sx, sy) = (state.config.heartbeat_ms, state.config.client_heartbeat_ms);
        let out_ms = if sx == 0 || client_cy == 0 {
            0
        } else {
            sx.max(client_cy)
        };
        let in_ms = if sy == 0 || client_cx == 0 {
            None
        } else {
            Some(sy.max(client_cx))
        };
        let generation = match generation {
            Some(g) => g,
            None => match state.store.session_generation(user.id).await {
                Ok(g) => g,
                Err(e) => {
                    tracing::error!(error = %e, "loading the session generation");
                    return self
                        .refuse(names::INTERNAL, "The server could not start the session.")
                        .await;
                }
            },
        };
        let token = state.keys.issue_session(&crate::auth::keys::SessionClaims {
            app_id,
            user_id: user.id,
            expires_ms,
            generation,
            guest,
        });
        let heart_beat = format!("{sx},{sy}");
        let connected = encode_text(
            Command::Connected,
            &[
                (header::VERSION, header::STOMP_VERSION),
                (header::HEART_BEAT, &heart_beat),
                (header::SESSION, &token),
                (
                    header::SERVER,
                    concat!("chatkitty-server/", env!("CARGO_PKG_VERSION")),
                ),
            ],
            "",
        );
        let _ = self.conn.control(Outbound::Frame(connected)).await;
        if out_ms > 0 {
            let _ = self.conn.control(Outbound::Heartbeat(out_ms)).await;
        }
        let conn = self.conn.for_user(user.id);
        tracing::info!(parent: &self.span, user = %user.name, "session started");
        let now = Instant::now();
        let session = Session {
            send_limit: RateLimit::new(state.config.send_rate, state.config.send_burst, now),
            relay_limit: RateLimit::new(state.config.relay_rate, state.config.relay_burst, now),
            subscribe_pace: RateLimit::new(
                state.config.subscribe_rate.max(1),
                state.config.subscribe_burst,
                now,
            ),
            violations: Vec::new(),
            state: state.clone(),
            conn,
            app_id,
            user,
            client_heartbeat_ms: in_ms,
            errors_sub: None,
            pending_errors: Vec::new(),
            subs: HashMap::new(),
            queued: Vec::new(),
            queued_for: 0,
        };
        if state.presence.connect(session.user.id)
            && state.cluster.user_online(session.user.id).await
        {
            session.announce_presence().await;
        }
        state.live.register(session.user.id, &session.conn);
        self.session = Some(session);
        Flow::Continue
    }
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

/// Longest heart-beat interval taken from a client: a larger one (up to `u64::MAX`
/// ms) would overflow the timer's deadline.
const MAX_HEART_BEAT_MS: u64 = 24 * 3600 * 1000;

fn parse_heart_beat(v: Option<&str>) -> (u64, u64) {
    let Some(v) = v else { return (0, 0) };
    let mut it = v
        .split(',')
        .map(|p| p.trim().parse::<u64>().unwrap_or(0).min(MAX_HEART_BEAT_MS));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// An ERROR frame with the JSON body the client parses (docs/protocol.md §2.6).
pub fn error_frame(name: &str, message: &str) -> String {
    let body = serde_json::to_string(&ErrorBody::new(name, message, crate::clock::now_iso()))
        .unwrap_or_default();
    let short: String = message.chars().take(120).collect();
    encode_text(
        Command::Error,
        &[
            (header::MESSAGE, &short),
            (header::CONTENT_TYPE, header::JSON),
        ],
        &body,
    )
}

/// Which request an error answers (docs/protocol.md §3.5).
#[derive(Debug, Clone, Copy, Default)]
pub struct Correlation<'a> {
    /// The failed relay's SUBSCRIBE id.
    pub subscription_id: Option<&'a str>,
    /// The failed SEND's receipt.
    pub receipt_id: Option<&'a str>,
}

/// An established STOMP session.
pub struct Session {
    /// Shared state.
    pub state: AppState,
    /// This connection's sending side.
    pub conn: ConnHandle,
    /// Application.
    pub app_id: i64,
    /// The user.
    pub user: UserRow,
    client_heartbeat_ms: Option<u64>,
    errors_sub: Option<String>,
    /// Errors raised before the errors queue was subscribed (bounded).
    pending_errors: Vec<(ApiError, Option<String>, Option<String>)>,
    /// Topic subscriptions: id → destination.
    subs: HashMap<String, Arc<str>>,
    send_limit: RateLimit,
    relay_limit: RateLimit,
    /// Paces topic SUBSCRIBE/UNSUBSCRIBE: each can announce a participant to a whole
    /// channel, so toggling them is amplification (README, "Limits").
    subscribe_pace: RateLimit,
    /// When requests were refused for rate, within the last minute.
    violations: Vec<Instant>,
    /// SENDs to channel `queued_for`'s `message` action not handled yet: they are
    /// handled together once a frame of another kind arrives or nothing more is
    /// waiting to be read (see [`Session::send_batch`]).
    queued: Vec<QueuedSend>,
    queued_for: i64,
}

const MAX_PENDING_ERRORS: usize = 16;

impl Session {
    /// Records a request refused for rate; `true` when the connection has abused the
    /// limit long enough to be closed.
    fn violation(&mut self) -> bool {
        let now = Instant::now();
        self.violations
            .retain(|t| now.duration_since(*t) < Duration::from_secs(60));
        self.violations.push(now);
        self.violations.len() as u32 > self.state.config.abuse_limit
    }

    async fn close_for_abuse(&self) -> Flow {
        tracing::warn!(
            user = self.user.id,
            "closing a connection over its rate limits"
        );
        let frame = error_frame(
            names::RATE_LIMITED,
            "Too many requests: the connection is closed. Slow down and reconnect.",
        );
        let _ = self.conn.control(Outbound::Close(Some(frame))).await;
        Flow::Close
    }

    async fn on_frame(&mut self, frame: Frame) -> Flow {
        let to_channel = channel_message_send(&frame);
        if !self.queued.is_empty() && to_channel != Some(self.queued_for) {
            self.flush_sends().await;
        }
        // Room for this frame's answers (a result, events on the user's own topics, a
        // RECEIPT): a client that sends faster than it reads is paced, not dropped.
        self.conn.room(4, ANSWER_WAIT).await;
        let topic_change = match frame.command {
            Command::Unsubscribe => true,
            Command::Subscribe => frame
                .header(header::DESTINATION)
                .is_some_and(|d| !d.contains(".relay")),
            _ => false,
        };
        if topic_change {
            let wait = self.subscribe_pace.pace(Instant::now());
            if !wait.is_zero() {
                self.flush_sends().await;
                tokio::time::sleep(wait).await;
            }
        }
        let receipt = frame.header(header::RECEIPT).map(str::to_owned);
        let limited = match frame.command {
            Command::Send => !self.send_limit.take(Instant::now()),
            Command::Subscribe
                if frame
                    .header(header::DESTINATION)
                    .is_some_and(|d| d.contains(".relay")) =>
            {
                !self.relay_limit.take(Instant::now())
            }
            _ => false,
        };
        if limited {
            // Answered after the sends queued before it.
            self.flush_sends().await;
            if self.violation() {
                return self.close_for_abuse().await;
            }
            let e = ApiError::new(names::RATE_LIMITED, "Too many requests: slow down.");
            let c = match frame.command {
                Command::Send => Correlation {
                    receipt_id: receipt.as_deref(),
                    ..Default::default()
                },
                _ => Correlation {
                    subscription_id: frame.header(header::ID),
                    ..Default::default()
                },
            };
            self.send_error(&e, c);
            if let (Command::Send, Some(r)) = (frame.command, &receipt) {
                self.conn.send(receipt_frame(r));
            }
            return Flow::Continue;
        }
        let flow = match frame.command {
            Command::Subscribe => {
                if !self.on_subscribe(&frame).await {
                    // A refused subscription gets its error and no RECEIPT, so a chat
                    // session waiting on it is never confirmed.
                    return Flow::Continue;
                }
                Flow::Continue
            }
            Command::Unsubscribe => {
                if let Some(id) = frame.header(header::ID) {
                    self.unsubscribe(id).await;
                }
                Flow::Continue
            }
            Command::Send => {
                if let Some(cid) = to_channel {
                    self.queued.push(QueuedSend {
                        receipt,
                        idempotency_key: frame.header(header::IDEMPOTENCY_KEY).map(str::to_owned),
                        body: json_body(&frame),
                    });
                    self.queued_for = cid;
                    if self.queued.len() >= MAX_QUEUED_SENDS {
                        self.flush_sends().await;
                    }
                    // Its RECEIPT follows its answer.
                    return Flow::Continue;
                }
                self.on_send(&frame).await;
                Flow::Continue
            }
            Command::Ack | Command::Nack => Flow::Continue,
            Command::Disconnect => {
                if let Some(r) = &receipt {
                    let _ = self.conn.control(Outbound::Frame(receipt_frame(r))).await;
                }
                let _ = self.conn.control(Outbound::Close(None)).await;
                return Flow::Close;
            }
            Command::Begin | Command::Commit | Command::Abort => {
                self.send_error(
                    &ApiError::unsupported("STOMP transactions"),
                    Correlation {
                        receipt_id: receipt.as_deref(),
                        ..Default::default()
                    },
                );
                Flow::Continue
            }
            Command::Connect | Command::Stomp => {
                self.send_error(
                    &ApiError::validation("The session is already connected."),
                    Correlation {
                        receipt_id: receipt.as_deref(),
                        ..Default::default()
                    },
                );
                Flow::Continue
            }
            Command::Connected | Command::Message | Command::Receipt | Command::Error => {
                let msg = format!("{} is a server command.", frame.command);
                let _ = self
                    .conn
                    .control(Outbound::Close(Some(error_frame(
                        names::MALFORMED_FRAME,
                        &msg,
                    ))))
                    .await;
                return Flow::Close;
            }
        };
        if let Some(r) = receipt {
            self.conn.send(receipt_frame(&r));
        }
        flow
    }

    /// Handles a SUBSCRIBE; `false` if it was refused.
    async fn on_subscribe(&mut self, frame: &Frame) -> bool {
        let Some(id) = frame.header(header::ID).map(str::to_owned) else {
            self.send_error(
                &ApiError::validation("SUBSCRIBE needs an id header."),
                Correlation {
                    receipt_id: frame.header(header::RECEIPT),
                    ..Default::default()
                },
            );
            return false;
        };
        let dest = frame.header(header::DESTINATION).unwrap_or("");
        let fail = Correlation {
            subscription_id: Some(&id),
            receipt_id: frame.header(header::RECEIPT),
        };
        match Destination::parse(dest) {
            Some(Destination::Relay(relay, query)) => {
                let params = Params::new(frame, query);
                match self.relay(relay, &params).await {
                    Ok(resource_json) => {
                        let body = format!("{{\"resource\":{resource_json}}}");
                        let mid = self.state.hub.next_message_id();
                        self.conn.send(message_frame(dest, &id, &mid, None, &body));
                    }
                    Err(e) => {
                        self.send_error(&e, fail);
                        return false;
                    }
                }
            }
            Some(Destination::Topic(topic)) => {
                if let Err(e) = self.subscribe_topic(&id, dest, &topic).await {
                    self.send_error(&e, fail);
                    return false;
                }
            }
            Some(Destination::ErrorsQueue) => {
                self.errors_sub = Some(id);
                for (e, sid, rid) in std::mem::take(&mut self.pending_errors) {
                    self.send_error(
                        &e,
                        Correlation {
                            subscription_id: sid.as_deref(),
                            receipt_id: rid.as_deref(),
                        },
                    );
                }
            }
            Some(Destination::Action(_)) => {
                self.send_error(
                    &ApiError::validation(format!("{dest} is an action: SEND to it.")),
                    fail,
                );
                return false;
            }
            None if dest.contains(".relay") => {
                self.send_error(&ApiError::not_found(format!("The relay {dest}")), fail);
                return false;
            }
            // Unknown topics (including "undefined", docs/protocol.md §16.9) are accepted as
            // no-ops: the RECEIPT is sent by the caller.
            None => {}
        }
        true
    }

    async fn subscribe_topic(&mut self, id: &str, dest: &str, topic: &Topic) -> ApiResult<()> {
        // What gives the right to a channel's topics is membership, unless the channel
        // is public: that grant is recorded, and leaving ends the subscription.
        let granted_by =
            |c: &crate::store::ChannelRow| (c.kind != ChannelType::Public).then_some(c.id);
        let grant = match topic {
            Topic::User(uid, _) => {
                if *uid as i64 != self.user.id {
                    return Err(ApiError::forbidden(
                        "You can only subscribe to your own user topics.",
                    ));
                }
                None
            }
            Topic::Channel(cid, _) => granted_by(&self.readable_channel(*cid as i64).await?),
            Topic::Thread(tid, _) => granted_by(&self.readable_thread(tid).await?.1),
        };
        if let Some(old) = self.subs.get(id).cloned() {
            // Same id reused: replace the old subscription.
            self.unsubscribe_dest(id, &old).await;
        }
        if self.subs.len() >= self.state.config.max_subscriptions {
            return Err(ApiError::new(
                names::RATE_LIMITED,
                format!(
                    "A connection holds at most {} subscriptions.",
                    self.state.config.max_subscriptions
                ),
            ));
        }
        let dest: Arc<str> = Arc::from(dest);
        self.subs.insert(id.to_owned(), dest.clone());
        let first = self.state.hub.subscribe(&dest, &self.conn, id, grant);
        if let (true, Topic::Channel(cid, ChannelTopic::Self_)) = (first, topic) {
            let cid = *cid as i64;
            if self.state.participants.enter(cid, self.user.id)
                && self.state.cluster.entered(cid, self.user.id).await
            {
                let me = self.state.render_user(&self.user);
                self.state.publish_to_channel(
                    cid,
                    ChannelTopic::Participants,
                    types::CHANNEL_PARTICIPANT_ACTIVE,
                    &me,
                    Exclude::User(self.user.id),
                );
            }
        }
        Ok(())
    }

    async fn unsubscribe(&mut self, id: &str) {
        if let Some(dest) = self.subs.get(id).cloned() {
            self.unsubscribe_dest(id, &dest).await;
        }
    }

    async fn unsubscribe_dest(&mut self, id: &str, dest: &Arc<str>) {
        self.subs.remove(id);
        if self.state.hub.unsubscribe(dest, self.conn.id) {
            if let Some(Destination::Topic(Topic::Channel(cid, ChannelTopic::Self_))) =
                Destination::parse(dest)
            {
                self.left_chat(cid as i64).await;
            }
        }
    }

    /// Forgets the subscriptions the hub ended ([`crate::realtime::hub::Hub::revoke`]): the user
    /// lost the membership they were granted by. A chat session there ends as if
    /// unsubscribed.
    async fn apply_revocations(&mut self) {
        for dest in self.conn.take_revoked() {
            let before = self.subs.len();
            self.subs.retain(|_, d| *d != dest);
            if self.subs.len() == before {
                continue;
            }
            if let Some(Destination::Topic(Topic::Channel(cid, ChannelTopic::Self_))) =
                Destination::parse(&dest)
            {
                self.left_chat(cid as i64).await;
            }
        }
    }

    /// This connection ended its last chat session on a channel.
    async fn left_chat(&self, cid: i64) {
        let state = &self.state;
        for thread in state.typing.stop_channel(cid, self.user.id) {
            if let Some(key) = crate::domain::threads::ThreadKey::parse(&thread) {
                crate::stomp::actions::publish_typing_in(state, key, cid, &self.user, false).await;
            }
        }
        if state.participants.leave(cid, self.user.id)
            && state.cluster.left(cid, self.user.id).await
        {
            let me = state.render_user(&self.user);
            state.publish_to_channel(
                cid,
                ChannelTopic::Participants,
                types::CHANNEL_PARTICIPANT_INACTIVE,
                &me,
                Exclude::User(self.user.id),
            );
        }
    }

    async fn on_send(&mut self, frame: &Frame) {
        let receipt = frame.header(header::RECEIPT).map(str::to_owned);
        let fail = Correlation {
            receipt_id: receipt.as_deref(),
            ..Default::default()
        };
        let dest = frame.header(header::DESTINATION).unwrap_or("");
        let Some(Destination::Action(action)) = Destination::parse(dest) else {
            self.send_error(&ApiError::not_found(format!("The action {dest}")), fail);
            return;
        };
        let body = match json_body(frame) {
            Ok(v) => v,
            Err(e) => {
                self.send_error(&e, fail);
                return;
            }
        };
        let ctx = crate::stomp::actions::ActionCtx {
            receipt: receipt.as_deref(),
            idempotency_key: frame.header(header::IDEMPOTENCY_KEY),
        };
        if let Err(e) = self.action(action, body, ctx).await {
            self.send_error(&e, fail);
        }
    }

    /// Handles the queued SENDs to a channel, if any (see [`Session::send_batch`]).
    pub async fn flush_sends(&mut self) {
        if self.queued.is_empty() {
            return;
        }
        let sends = std::mem::take(&mut self.queued);
        self.send_batch(self.queued_for, sends).await;
    }

    /// Whether SENDs are queued, fewer than a batch holds.
    fn wants_more_sends(&self) -> bool {
        !self.queued.is_empty() && self.queued.len() < MAX_QUEUED_SENDS
    }

    /// Sends an error on the errors queue, correlated to its request (docs/protocol.md §3.5).
    pub fn send_error(&mut self, e: &ApiError, c: Correlation<'_>) {
        let Some(sub) = self.errors_sub.clone() else {
            if self.pending_errors.len() < MAX_PENDING_ERRORS {
                self.pending_errors.push((
                    e.clone(),
                    c.subscription_id.map(Into::into),
                    c.receipt_id.map(Into::into),
                ));
            }
            return;
        };
        let body = serde_json::to_string(&e.body()).unwrap_or_default();
        let mid = self.state.hub.next_message_id();
        let mut headers: Vec<(&str, &str)> = vec![
            (header::DESTINATION, ERRORS_QUEUE),
            (header::SUBSCRIPTION, &sub),
            (header::MESSAGE_ID, &mid),
            (header::CONTENT_TYPE, header::JSON),
        ];
        if let Some(s) = c.subscription_id {
            headers.push((header::SUBSCRIPTION_ID, s));
        }
        if let Some(r) = c.receipt_id {
            headers.push((header::RECEIPT_ID, r));
        }
        self.conn
            .send(encode_text(Command::Message, &headers, &body));
    }

    /// Sends an action's result event to this connection with its `receipt-id`, on the
    /// connection's subscription to the user topic (docs/protocol.md §3.3).
    pub fn reply_event(&self, topic: UserTopic, body: &str, receipt: Option<&str>) {
        let dest = Topic::User(self.user.id as u64, topic).to_destination();
        let found = self
            .subs
            .iter()
            .find(|(_, d)| d.as_ref() == dest)
            .or_else(|| {
                self.subs.iter().find(|(_, d)| {
                    d.starts_with(
                        &Topic::User(self.user.id as u64, UserTopic::Self_).to_destination(),
                    )
                })
            });
        let (sub_id, dest) = match found {
            Some((id, d)) => (id.as_str(), d.as_ref()),
            None => match &self.errors_sub {
                Some(id) => (id.as_str(), ERRORS_QUEUE),
                None => {
                    tracing::warn!("result event with no subscription to carry it");
                    return;
                }
            },
        };
        let mid = self.state.hub.next_message_id();
        self.conn
            .send(message_frame(dest, sub_id, &mid, receipt, body));
    }

    /// A channel the user may read: a member, or any user for a PUBLIC channel.
    pub async fn readable_channel(&self, cid: i64) -> ApiResult<crate::store::ChannelRow> {
        let (channel, _) = self.channel_and_membership(cid).await?;
        Ok(channel)
    }

    /// A channel the user may read and whether they are one of its members.
    pub async fn channel_and_membership(
        &self,
        cid: i64,
    ) -> ApiResult<(crate::store::ChannelRow, bool)> {
        let (channel, member) = self
            .state
            .store
            .channel_for(self.app_id, cid, self.user.id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("Channel {cid}")))?;
        if channel.kind != ChannelType::Public && !member {
            return Err(ApiError::not_a_member(&channel.name));
        }
        Ok((channel, member))
    }

    /// Tells contacts and channel participants that this user came online or went
    /// offline (docs/protocol.md §13.4).
    pub async fn announce_presence(&self) {
        announce_presence(&self.state, &self.user).await;
    }

    async fn close(mut self) {
        let dests: Vec<(String, Arc<str>)> = self.subs.drain().collect();
        let mut seen = std::collections::HashSet::new();
        for (_, dest) in &dests {
            if !seen.insert(dest.clone()) {
                continue;
            }
            self.state.hub.remove_all(self.conn.id, [dest.as_ref()]);
            if let Some(Destination::Topic(Topic::Channel(cid, ChannelTopic::Self_))) =
                Destination::parse(dest)
            {
                self.left_chat(cid as i64).await;
            }
        }
        if let Some(generation) = self.state.presence.disconnect(self.user.id) {
            let state = self.state.clone();
            let user = self.user.clone();
            let grace = Duration::from_millis(state.config.presence_grace_ms);
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                if state.presence.expire(user.id, generation)
                    && state.cluster.user_offline(user.id).await
                {
                    announce_presence(&state, &user).await;
                }
            });
        }
        tracing::info!("session ended");
    }
}

/// Tells contacts and channel participants of `user` about its presence (rendered as
/// it is now).
pub async fn announce_presence(state: &AppState, user: &UserRow) {
    let rendered = state.render_user(user);
    let contacts = state.store.contact_ids(user.id).await.unwrap_or_default();
    let body = event_json(types::CONTACT_PRESENCE_CHANGED, &rendered);
    for c in contacts {
        let dest = Topic::User(c as u64, UserTopic::Contacts).to_destination();
        state.publish(&dest, &body, Exclude::Nobody);
    }
    let channels = state
        .store
        .channel_ids_of(user.id)
        .await
        .unwrap_or_default();
    let body = event_json(types::PARTICIPANT_PRESENCE_CHANGED, &rendered);
    for cid in channels {
        let dest = Topic::Channel(cid as u64, ChannelTopic::Participants).to_destination();
        state.publish(&dest, &body, Exclude::User(user.id));
    }
}

/// How long the answers to a connection's own requests wait for room in its queue
/// before they are queued anyway (a full queue then closes the connection as a slow
/// consumer).
pub(crate) const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// At most this many SENDs are handled together.
const MAX_QUEUED_SENDS: usize = 64;

/// The channel of a SEND to a channel's `message` action.
fn channel_message_send(frame: &Frame) -> Option<i64> {
    if frame.command != Command::Send {
        return None;
    }
    match Destination::parse(frame.header(header::DESTINATION)?)? {
        Destination::Action(Action::Channel(cid, ChannelVerb::Message)) => Some(cid as i64),
        _ => None,
    }
}

/// A SEND's JSON body; blank is `{}`.
fn json_body(frame: &Frame) -> ApiResult<serde_json::Value> {
    if frame.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    serde_json::from_slice(&frame.body)
        .map_err(|e| ApiError::validation(format!("The body is not valid JSON: {e}.")))
}

pub(crate) fn receipt_frame(receipt: &str) -> String {
    encode_text(Command::Receipt, &[(header::RECEIPT_ID, receipt)], "")
}

/// Relay parameters: the SUBSCRIBE's extra headers merged with the destination's
/// `?query` (docs/protocol.md §9.2, 16.14: `undefined`, `null` and empty values are absent).
#[derive(Debug, Default)]
pub struct Params {
    values: Vec<(String, String)>,
}

impl Params {
    fn new(frame: &Frame, query: Vec<(String, String)>) -> Params {
        const RESERVED: [&str; 5] = [
            header::ID,
            header::DESTINATION,
            header::RECEIPT,
            header::ACK,
            header::CONTENT_LENGTH,
        ];
        let mut values = query;
        for (k, v) in &frame.headers {
            if !RESERVED.contains(&k.as_str()) && !values.iter().any(|(q, _)| q == k) {
                values.push((k.clone(), v.clone()));
            }
        }
        values
            .retain(|(_, v)| !matches!(v.as_str(), "" | "undefined" | "null" | "[object Object]"));
        Params { values }
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter (`true`/`false`).
    pub fn flag(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name)?.parse().ok()
    }
}

/// Monotonic "now" for typing deadlines.
pub fn instant_now() -> Instant {
    Instant::now()
}

#[cfg(feature = "fuzzing")]
impl Session {
    /// A session of `user` over a connection whose frames go to `tx` (fuzzing only).
    pub fn for_fuzzing(
        state: AppState,
        app_id: i64,
        user: UserRow,
        tx: mpsc::Sender<Outbound>,
    ) -> Session {
        let now = Instant::now();
        Session {
            send_limit: RateLimit::new(u32::MAX, u32::MAX, now),
            relay_limit: RateLimit::new(u32::MAX, u32::MAX, now),
            subscribe_pace: RateLimit::new(u32::MAX, u32::MAX, now),
            violations: Vec::new(),
            conn: ConnHandle::new(
                state.next_conn_id(),
                user.id,
                tx,
                CancellationToken::new(),
                QueueBudget::unlimited(),
            ),
            state,
            app_id,
            user,
            client_heartbeat_ms: None,
            errors_sub: None,
            pending_errors: Vec::new(),
            subs: HashMap::new(),
            queued: Vec::new(),
            queued_for: 0,
        }
    }

    /// Handles one frame; `true` if the session would close the connection.
    pub async fn handle_for_fuzzing(&mut self, frame: Frame) -> bool {
        let close = matches!(self.on_frame(frame).await, Flow::Close);
        self.flush_sends().await;
        close
    }
}
