//! One WebSocket connection (docs/protocol.md §2): its reader and writer tasks.
//!
//! The reader decodes frames and handles them in order (a client's SUBSCRIBE is active
//! before its next SEND is handled): CONNECT first ([`super::connect`]), then every
//! frame of the [`Session`]. The writer drains the connection's bounded outbound queue
//! to the socket and sends heart-beats. Handlers never write to the socket directly;
//! they queue frames, so fan-out from other connections and replies share one ordered
//! stream. Both stop on the connection's kill switch (a queue over its budget, a
//! revocation, the end of the connection).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chatkitty_protocol::error::names;
use chatkitty_protocol::{Command, DecodeError, Decoder, Frame, Item, Limits};
use futures_util::FutureExt;
use tokio_util::sync::CancellationToken;

use super::frames::error_frame;
use super::session::{Flow, Session};
use super::websocket::{self, Message};
use crate::realtime::hub::{ConnHandle, Outbound, QueueBudget};
use crate::realtime::queue;
use crate::state::AppState;

/// How STOMP travels in WebSocket messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// STOMP frames as WebSocket messages (`/rtm/websocket`).
    Stomp,
    /// SockJS's websocket transport (docs/protocol.md §2.3): the server sends `o` on
    /// open, `h` heart-beats and `a[…]` arrays of STOMP text; the client sends JSON
    /// arrays.
    SockJs,
}

/// Who is on the other end of a new connection, as the upgrade request said.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The application of its `api-key` (`None`: unknown; the CONNECT is refused with
    /// `AccessDeniedError`, docs/protocol.md §2.1, because an HTTP-level refusal makes
    /// the client retry forever).
    pub app_id: Option<i64>,
    /// Its address (see `crate::net`).
    pub client: Option<IpAddr>,
    /// How frames travel.
    pub framing: Framing,
}

/// How long the writer may take over the final frames of a connection that is ending
/// (a peer that stopped reading cannot hold the connection open).
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// How long the WebSocket closing handshake may take once the last frame is written:
/// the peer's answering close is waited for only this long (one that never answers
/// otherwise holds the connection, and its buffers, for the whole [`CLOSE_WAIT`]).
const CLOSE_HANDSHAKE_WAIT: Duration = Duration::from_secs(1);

/// At most this many queued frames are written together.
const MAX_BATCH: usize = 64;

/// Serves a connection until it closes.
///
/// This future is what a connection holds in memory for its whole life, so it stays
/// small: the reading loop and the closing steps are boxed (allocated only while they
/// run) instead of laid out inline, where the compiler kept room for both at once
/// (5.2 KB per connection before, bench/README.md "Idle memory").
pub async fn serve(state: AppState, socket: Io, peer: Peer) {
    state.connection_opened();
    let conn_id = state.next_conn_id();
    let span = tracing::info_span!("conn", id = conn_id, user = tracing::field::Empty);
    let (read, write) = tokio::io::split(socket);
    let stream = websocket::Reader::new(read, max_message(&state));
    let sink = websocket::Writer::new(write);
    let (tx, rx) = queue::channel(state.config.outbound_queue.max(16));
    let kill = CancellationToken::new();
    let budget = QueueBudget::new(
        state.config.outbound_queue_bytes,
        state.total_queued.clone(),
    );
    let writer = tokio::spawn(write_loop(
        sink,
        rx,
        kill.clone(),
        budget.clone(),
        peer.framing,
    ));
    let mut reader = Reader {
        state: state.clone(),
        conn: ConnHandle::new(conn_id, 0, tx, kill.clone(), budget),
        peer,
        session: None,
        span: span.clone(),
    };
    // A handler that panics (a bug) ends its connection, never the server; the
    // session is still closed below, so its connection count, subscriptions and
    // presence are not leaked.
    let read = std::panic::AssertUnwindSafe(Box::pin(reader.read_loop(stream))).catch_unwind();
    if read.await.is_err() {
        tracing::error!(parent: &span, "a request handler panicked: connection closed");
        kill.cancel();
    }
    Box::pin(finish(state, reader, writer, kill, span)).await;
}

/// After the reading loop: queued sends stored, the session closed, the writer given
/// [`CLOSE_WAIT`] to drain.
async fn finish(
    state: AppState,
    mut reader: Reader,
    writer: tokio::task::JoinHandle<()>,
    kill: CancellationToken,
    span: tracing::Span,
) {
    if let Some(mut session) = reader.session.take() {
        // Sends received before the connection ended are still stored and delivered.
        let flush =
            std::panic::AssertUnwindSafe(super::actions::flush_sends(&mut session)).catch_unwind();
        if flush.await.is_err() {
            tracing::error!(parent: &span, "storing queued sends panicked");
        }
        Box::pin(session.close()).await;
    }
    drop(reader);
    // The writer ends once every queue sender is gone (it drains what is queued
    // first); one whose peer stopped reading is cut off.
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

/// What the writer does after a queued item.
enum Step {
    More,
    Close,
}

/// What a connection's WebSocket runs over: the upgraded HTTP connection.
pub type Io = hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>;

type Sink = websocket::Writer<tokio::io::WriteHalf<Io>>;
type Stream = websocket::Reader<tokio::io::ReadHalf<Io>>;

/// The largest WebSocket message a client may send: a STOMP frame at its limit
/// (README, "Limits": `--max-frame-bytes`) with room for SockJS's JSON around it.
pub fn max_message(state: &AppState) -> usize {
    state.config.max_frame_bytes + 1024
}

/// Queues one item on the socket (written at the batch's flush).
async fn feed(
    sink: &mut Sink,
    framing: Framing,
    out: Outbound,
    heartbeat: &mut Option<tokio::time::Interval>,
) -> std::io::Result<Step> {
    match out {
        Outbound::Frame(text) if framing == Framing::SockJs && text == "\n" => {
            sink.text("h").await?
        }
        Outbound::Frame(text) => sink.text(&framed(framing, text)).await?,
        Outbound::Pong(payload) => sink.pong(&payload).await?,
        Outbound::Heartbeat(_) if framing == Framing::SockJs => {}
        Outbound::Heartbeat(ms) => *heartbeat = Some(every(Duration::from_millis(ms))),
        Outbound::Close(last) => {
            if let Some(text) = last {
                sink.text(&framed(framing, text)).await?;
            }
            if framing == Framing::SockJs {
                sink.text("c[3000,\"Go away!\"]").await?;
            }
            return Ok(Step::Close);
        }
    }
    Ok(Step::More)
}

/// A timer ticking every `period`, first after one period.
fn every(period: Duration) -> tokio::time::Interval {
    let mut iv = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    iv
}

async fn write_loop(
    mut sink: Sink,
    mut rx: queue::Receiver<Outbound>,
    kill: CancellationToken,
    budget: Arc<QueueBudget>,
    framing: Framing,
) {
    let mut heartbeat: Option<tokio::time::Interval> = None;
    if framing == Framing::SockJs {
        if sink.text("o").await.is_err() || sink.flush().await.is_err() {
            return;
        }
        // SockJS's own keep-alive, whatever STOMP negotiates.
        heartbeat = Some(every(Duration::from_secs(25)));
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
        // stops reading blocks the write; the kill switch still ends it.
        let write = async {
            let mut step = feed(&mut sink, framing, out, &mut heartbeat).await;
            let mut batched = 1;
            while let Ok(Step::More) = step {
                if batched == MAX_BATCH {
                    break;
                }
                match rx.try_recv() {
                    Some(out) => {
                        taken(&out);
                        step = feed(&mut sink, framing, out, &mut heartbeat).await
                    }
                    None => break,
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
    while let Some(out) = rx.try_recv() {
        taken(&out);
    }
    let _ = tokio::time::timeout(CLOSE_HANDSHAKE_WAIT, sink.close()).await;
}

/// The reading side of a connection.
pub struct Reader {
    /// Shared state.
    pub state: AppState,
    /// The connection's sending side (its user is known once CONNECT succeeds).
    pub conn: ConnHandle,
    /// Who connected.
    pub peer: Peer,
    /// The session, once CONNECT succeeded.
    pub session: Option<Session>,
    /// The connection's tracing span.
    pub span: tracing::Span,
}

/// Why the reader stopped waiting for the next WebSocket message.
enum Wake {
    Message(Message),
    Closed,
    Idle,
}

impl Reader {
    async fn read_loop(&mut self, mut stream: Stream) {
        let mut decoder = Decoder::new(Limits {
            max_frame_bytes: self.state.config.max_frame_bytes,
            max_headers: Limits::DEFAULT.max_headers,
        });
        // Until CONNECT: a deadline from the moment the socket opened, however the
        // bytes trickle in (README, "Limits": `--connect-timeout-ms`). After: three
        // client heart-beat periods (if it sends any) of silence.
        let connect_by = tokio::time::Instant::now()
            + Duration::from_millis(self.state.config.connect_timeout_ms);
        loop {
            let msg = match self.next_message(&mut stream, connect_by).await {
                Some(Wake::Message(m)) => m,
                Some(Wake::Idle) => return self.idle().await,
                Some(Wake::Closed) | None => return,
            };
            if !self.push(&mut decoder, msg).await {
                return;
            }
            if let Flow::Close = self.decode_all(&mut decoder).await {
                return;
            }
            if decoder.buffered() == 0 {
                decoder.shrink();
            }
        }
    }

    /// The next WebSocket message, handling what comes between: queued sends are
    /// stored once nothing more is waiting to be read, subscriptions revoked elsewhere
    /// are forgotten, and shutdown or the kill switch end the connection (`None`).
    async fn next_message(
        &mut self,
        stream: &mut Stream,
        connect_by: tokio::time::Instant,
    ) -> Option<Wake> {
        loop {
            // While SENDs are queued, WebSocket messages already received join them;
            // once nothing more is waiting, the queue is handled before waiting.
            if let Some(s) = &self.session {
                if super::actions::wants_more_sends(s) {
                    if let Some(ready) = stream.next().now_or_never() {
                        return Some(wake(ready));
                    }
                }
            }
            if let Some(s) = self.session.as_mut() {
                super::actions::flush_sends(s).await;
            }
            let idle = match &self.session {
                Some(s) => tokio::time::Instant::now() + s.idle_timeout(),
                None => connect_by,
            };
            let mut shutdown = self.state.shutdown.clone();
            let conn = self.conn.clone();
            let expires = self.credential_deadline();
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|s| *s).map(|_| ()) => {
                    let frame = error_frame(names::UNSUPPORTED_OPERATION, "The server is shutting down; reconnect shortly.");
                    self.conn.control(Outbound::Close(Some(frame))).await;
                    return None;
                }
                _ = conn.killed() => return None,
                _ = tokio::time::sleep_until(expires.unwrap_or(idle)), if expires.is_some() => {
                    // Not retried with the same credential: the app signs in again.
                    let frame = error_frame(names::ACCESS_DENIED, "The sign-in expired; start the session again.");
                    self.conn.control(Outbound::Close(Some(frame))).await;
                    return None;
                }
                _ = conn.revocations(), if self.session.is_some() => {
                    if let Some(s) = self.session.as_mut() {
                        Box::pin(s.apply_revocations()).await;
                    }
                }
                next = tokio::time::timeout_at(idle, stream.next()) => {
                    return Some(match next {
                        Err(_) => Wake::Idle,
                        Ok(next) => wake(next),
                    });
                }
            }
        }
    }

    /// When the session's credential expires, as a timer deadline.
    fn credential_deadline(&self) -> Option<tokio::time::Instant> {
        let at = self.session.as_ref()?.credential_expires_ms?;
        let left = at.saturating_sub(crate::clock::now_ms()).max(0) as u64;
        Some(tokio::time::Instant::now() + Duration::from_millis(left.min(u32::MAX as u64)))
    }

    /// No data for too long: before CONNECT, the deadline passed; after, the client's
    /// heart-beats stopped.
    async fn idle(&mut self) {
        if self.session.is_none() {
            tracing::info!(parent: &self.span, "no CONNECT in time: closing");
            let frame = error_frame(names::MALFORMED_FRAME, "No CONNECT frame in time.");
            self.conn.control(Outbound::Close(Some(frame))).await;
        } else {
            tracing::info!(parent: &self.span, "no data from the client in time: closing");
            self.conn.control(Outbound::Close(None)).await;
        }
    }

    /// Feeds a WebSocket message to the decoder; `false` when the connection ends.
    async fn push(&mut self, decoder: &mut Decoder, msg: Message) -> bool {
        match (msg, self.peer.framing) {
            (Message::Text(t), Framing::SockJs) => {
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
                        let e = DecodeError::UnknownCommand("non-SockJS message".into());
                        self.protocol_error(&e).await;
                        return false;
                    }
                }
            }
            (Message::Text(t), _) => decoder.push(t.as_bytes()),
            (Message::Binary(b), _) => decoder.push(&b),
            (Message::Ping(p), _) => self.conn.control(Outbound::Pong(p)).await,
        }
        true
    }

    /// Handles every complete frame the decoder holds.
    async fn decode_all(&mut self, decoder: &mut Decoder) -> Flow {
        loop {
            match decoder.decode() {
                Ok(None) => return Flow::Continue,
                Ok(Some(Item::Heartbeat)) => continue,
                Ok(Some(Item::Frame(frame))) => {
                    // Boxed: the handlers' futures (sign-in, queries, relays) are
                    // large, and inline they would be part of the connection's task
                    // for its whole life, idle or not. Here they exist while a frame
                    // is handled and are freed after.
                    if let Flow::Close = Box::pin(self.on_frame(frame)).await {
                        return Flow::Close;
                    }
                }
                Err(e) => {
                    // The frames before the malformed one are answered first.
                    if let Some(s) = self.session.as_mut() {
                        super::actions::flush_sends(s).await;
                    }
                    self.protocol_error(&e).await;
                    return Flow::Close;
                }
            }
        }
    }

    async fn protocol_error(&self, e: &DecodeError) {
        tracing::info!(parent: &self.span, error = %e, "malformed frame: closing");
        let name = match e {
            DecodeError::FrameTooLarge { .. } => names::PAYLOAD_TOO_LARGE,
            _ => names::MALFORMED_FRAME,
        };
        self.conn
            .control(Outbound::Close(Some(error_frame(name, &e.to_string()))))
            .await;
    }

    async fn on_frame(&mut self, frame: Frame) -> Flow {
        if let Some(session) = self.session.as_mut() {
            return super::dispatch::on_frame(session, frame).await;
        }
        match frame.command {
            Command::Connect | Command::Stomp => self.connect(frame).await,
            other => {
                let msg = format!("Expected CONNECT as the first frame, got {other}.");
                self.refuse(names::MALFORMED_FRAME, &msg).await
            }
        }
    }

    /// Refuses the connection: an ERROR frame, then the close.
    pub async fn refuse(&self, name: &str, message: &str) -> Flow {
        tracing::info!(parent: &self.span, error = name, message, "session refused");
        self.conn
            .control(Outbound::Close(Some(error_frame(name, message))))
            .await;
        Flow::Close
    }
}

fn wake(next: Result<Message, websocket::End>) -> Wake {
    match next {
        Ok(m) => Wake::Message(m),
        Err(end) => {
            tracing::debug!(?end, "WebSocket ended");
            Wake::Closed
        }
    }
}
