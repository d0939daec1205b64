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
use tokio::io::AsyncWrite;
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

/// A WebSocket message packing several STOMP frames holds at most this many bytes; a
/// larger frame goes alone (docs/protocol.md §2.2, "Messages out"). The frames being
/// packed have left the queue and its byte budget, so this is what a connection holds
/// beyond the budget while the writer waits on a peer that reads slowly: as much as
/// the writer's own buffer (`websocket::WRITE_CHUNK`), and as before packing, about
/// 16 KiB and one frame per writing connection.
const MAX_PACKED_BYTES: usize = 16 * 1024;

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
        Packing::new(peer.framing, state.config.max_frames_per_message),
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

type Stream = websocket::Reader<tokio::io::ReadHalf<Io>>;

/// The largest WebSocket message a client may send: a STOMP frame at its limit
/// (README, "Limits": `--max-frame-bytes`) with room for SockJS's JSON around it.
pub fn max_message(state: &AppState) -> usize {
    state.config.max_frame_bytes + 1024
}

/// How a batch's STOMP frames become WebSocket messages: up to `max_frames` (and
/// [`MAX_PACKED_BYTES`]) in one message (docs/protocol.md §2.2, "Messages out"). A
/// browser pays per WebSocket message (its network process, the hand-over to the page,
/// one task and one `MessageEvent` each), so a burst packed this way reaches
/// `onReceivedMessage` about twice as fast (bench/README.md, "Packed frames"). Only
/// frames already queued together are packed: none waits for another. SockJS keeps one
/// frame per message.
struct Packing {
    framing: Framing,
    max_frames: usize,
    /// Frames taken from the queue and not laid out yet.
    frames: Vec<String>,
    bytes: usize,
}

impl Packing {
    fn new(framing: Framing, max_frames: usize) -> Packing {
        Packing {
            framing,
            max_frames: if framing == Framing::Stomp {
                max_frames.max(1)
            } else {
                1
            },
            frames: Vec::new(),
            bytes: 0,
        }
    }

    /// Queues one item on the socket (written at the batch's flush): a STOMP frame
    /// joins the frames packed so far when it fits; anything else goes after them.
    async fn feed<W: AsyncWrite + Unpin>(
        &mut self,
        sink: &mut websocket::Writer<W>,
        out: Outbound,
        heartbeat: &mut Option<tokio::time::Interval>,
    ) -> std::io::Result<Step> {
        match out {
            Outbound::Frame(text) if self.max_frames > 1 && text != "\n" => {
                if self.frames.len() == self.max_frames
                    || self.bytes + text.len() > MAX_PACKED_BYTES
                {
                    self.lay_out(sink).await?;
                }
                self.bytes += text.len();
                self.frames.push(text);
                Ok(Step::More)
            }
            out => {
                self.lay_out(sink).await?;
                feed(sink, self.framing, out, heartbeat).await
            }
        }
    }

    /// Lays out the frames packed so far as one message. Their list is let go of, not
    /// kept for the next batch: an idle connection holds no room for frames
    /// (bench/README.md, "Packed frames", its idle-memory paragraph).
    async fn lay_out<W: AsyncWrite + Unpin>(
        &mut self,
        sink: &mut websocket::Writer<W>,
    ) -> std::io::Result<()> {
        if !self.frames.is_empty() {
            sink.text_of(&self.frames).await?;
            self.frames = Vec::new();
            self.bytes = 0;
        }
        Ok(())
    }
}

/// Queues one item on the socket (written at the batch's flush).
async fn feed<W: AsyncWrite + Unpin>(
    sink: &mut websocket::Writer<W>,
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

async fn write_loop<W: AsyncWrite + Unpin>(
    mut sink: websocket::Writer<W>,
    mut rx: queue::Receiver<Outbound>,
    kill: CancellationToken,
    budget: Arc<QueueBudget>,
    mut packing: Packing,
) {
    let framing = packing.framing;
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
        // call) for all of them, packed into as few WebSocket messages as [`Packing`]
        // allows. A peer that stops reading blocks the write; the kill switch still
        // ends it.
        let write = async {
            let mut step = packing.feed(&mut sink, out, &mut heartbeat).await;
            let mut batched = 1;
            while let Ok(Step::More) = step {
                if batched == MAX_BATCH {
                    break;
                }
                match rx.try_recv() {
                    Some(out) => {
                        taken(&out);
                        step = packing.feed(&mut sink, out, &mut heartbeat).await
                    }
                    None => break,
                }
                batched += 1;
            }
            match step {
                Ok(Step::More) => {
                    packing.lay_out(&mut sink).await.is_ok() && sink.flush().await.is_ok()
                }
                _ => false,
            }
        };
        // Boxed: allocated only while a batch is written, so the waiting writer of an
        // idle connection does not keep room for the packing's futures (bench/README.md,
        // "Packed frames").
        let write = Box::pin(write);
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

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::protocol::Role;
    use tokio_tungstenite::tungstenite::Message as WsMessage;

    use super::*;

    fn frame(i: usize, body: &str) -> String {
        format!("MESSAGE\ndestination:/t\nmessage-id:{i}\n\n{body}\0")
    }

    /// The text messages a client reads when `items` were queued before the writer ran
    /// (so they are one batch), laid out by `packing`.
    async fn written(packing: Packing, items: Vec<Outbound>) -> Vec<String> {
        let (tx, rx) = queue::channel(1024);
        let kill = CancellationToken::new();
        let budget = QueueBudget::unlimited();
        let conn = ConnHandle::new(1, 0, tx.clone(), kill.clone(), budget.clone());
        for item in items {
            match item {
                Outbound::Frame(f) => assert!(conn.send(f)),
                other => tx.try_send(other).unwrap(),
            }
        }
        drop((conn, tx));
        let (server, client) = tokio::io::duplex(1 << 20);
        let writer = tokio::spawn(write_loop(
            websocket::Writer::new(server),
            rx,
            kill,
            budget.clone(),
            packing,
        ));
        let mut ws =
            tokio_tungstenite::WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        let mut got = Vec::new();
        while let Some(Ok(m)) = ws.next().await {
            match m {
                WsMessage::Text(t) => got.push(t.to_string()),
                WsMessage::Close(_) => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        writer.await.unwrap();
        assert_eq!(budget.queued(), 0, "every frame released from the budget");
        got
    }

    fn frames_of(frames: &[String]) -> Vec<Outbound> {
        frames.iter().cloned().map(Outbound::Frame).collect()
    }

    #[tokio::test]
    async fn frames_queued_together_go_out_packed_into_few_messages() {
        let large = frame(5, &"x".repeat(MAX_PACKED_BYTES));
        let mut frames: Vec<String> = (0..5).map(|i| frame(i, "{}")).collect();
        frames.push(large.clone());
        frames.extend((6..8).map(|i| frame(i, "{}")));
        let joined = |r: std::ops::Range<usize>| frames[r].concat();
        let stomp = |max| Packing::new(Framing::Stomp, max);

        // The default: as many as fit in MAX_PACKED_BYTES; a frame larger than that alone.
        assert_eq!(
            written(stomp(64), frames_of(&frames)).await,
            vec![joined(0..5), large.clone(), joined(6..8)]
        );
        // At most `--max-frames-per-message` in one message.
        assert_eq!(
            written(stomp(3), frames_of(&frames)).await,
            vec![joined(0..3), joined(3..5), large.clone(), joined(6..8)]
        );
        // `1` (or `0`): one frame per message, as before.
        for one in [1, 0] {
            assert_eq!(written(stomp(one), frames_of(&frames)).await, frames);
        }
        // SockJS: one frame per SockJS message whatever the setting.
        let sockjs = written(Packing::new(Framing::SockJs, 64), frames_of(&frames[..2])).await;
        let expected: Vec<String> = ["o".to_owned()]
            .into_iter()
            .chain(
                frames[..2]
                    .iter()
                    .map(|f| framed(Framing::SockJs, f.clone())),
            )
            .collect();
        assert_eq!(sockjs, expected);
    }

    #[tokio::test]
    async fn frames_packed_are_let_go_of_once_laid_out() {
        let (server, _client) = tokio::io::duplex(1 << 20);
        let mut sink = websocket::Writer::new(server);
        let mut packing = Packing::new(Framing::Stomp, 64);
        let mut heartbeat = None;
        for i in 0..10 {
            let out = Outbound::Frame(frame(i, "{}"));
            assert!(matches!(
                packing.feed(&mut sink, out, &mut heartbeat).await,
                Ok(Step::More)
            ));
        }
        assert_eq!(packing.frames.len(), 10);
        packing.lay_out(&mut sink).await.unwrap();
        assert_eq!((packing.frames.capacity(), packing.bytes), (0, 0));
    }

    #[tokio::test]
    async fn heart_beats_and_the_last_frame_go_out_alone_and_in_order() {
        let items = vec![
            Outbound::Frame(frame(0, "a")),
            Outbound::Frame("\n".to_owned()),
            Outbound::Frame(frame(1, "b")),
            Outbound::Frame(frame(2, "c")),
            Outbound::Close(Some("ERROR\n\nbye\0".to_owned())),
        ];
        assert_eq!(
            written(Packing::new(Framing::Stomp, 64), items).await,
            vec![
                frame(0, "a"),
                "\n".to_owned(),
                [frame(1, "b"), frame(2, "c")].concat(),
                "ERROR\n\nbye\0".to_owned(),
            ]
        );
    }
}
