//! The sans-IO client core: the whole STOMP session of one `ChatKitty` instance.
//!
//! [`Client`] performs no I/O, reads no clock and touches no JS. It is driven through
//! four kinds of methods, in the manner of quinn-proto's `Connection`:
//!
//! - **inputs** `handle_*`: the socket opened, data arrived, the socket closed, a timer
//!   fired — each with the current time `now` in milliseconds;
//! - **API calls** (`start_session`, `get_channel`, `start_chat_session`, …): each
//!   returns at once with an [`Id`] whose [`Completion`] comes out later, or a
//!   [`Misuse`] the caller throws synchronously;
//! - **outputs** `poll_*`: [`Io`] to perform (open/send/close), the next timer
//!   deadline, [`Completion`]s of calls, and [`Event`]s to hand to app callbacks;
//! - getters (`current_user`).
//!
//! After any input or call the driver drains every `poll_*` queue. Because events are
//! queued rather than delivered from inside the core, the driver can call app callbacks
//! with no borrow of the core held, and a callback may call straight back in.
//!
//! Decisions made here, with their docs/protocol.md sections: the CONNECT headers (2.4), the
//! pipelined start-up (4.1: the current user, the errors queue and both grants are
//! requested together right behind CONNECT, which the server answers in order; the ten
//! user topics as soon as the user arrives, so a session starts one round trip after
//! the socket opens), relay and
//! action correlation (3.1, 3.3, 3.5), topic subscriptions shared per destination so
//! each event reaches each handler set once (3.2, 16.5), chat-session sequencing (4.4),
//! heart-beats (2.7), reconnects with backoff and resubscription (4.2), keystroke
//! debouncing per destination (11.1, docs/api.md §13) and read-grant URL mapping (10.3).
//!
//! Reliability beyond the official client (which waits 5 s, then resubscribes and
//! forgets what it missed): reconnects back off exponentially with jitter between
//! configured bounds; each chat session with `onReceivedMessage` tracks the newest
//! message it delivered and, once its messages topic is confirmed again, relays the
//! channel's messages `after` it (page by page, oldest first) while holding live
//! events back, dropping any message id it already delivered; actions made offline
//! wait for the connection, every action fails with a timeout after
//! [`Config::send_timeout_ms`], and message sends carry an `idempotency-key` so the
//! ones in flight at a drop are sent again rather than failed.
//!
//! ACK frames are never sent: the server treats ACK as a no-op and must not gate
//! delivery on it (docs/protocol.md §3.2, 16.4), so an ACK per event would only cost traffic.

mod events;
pub mod ops;
pub mod payload;
pub mod text;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

use std::collections::VecDeque;
use std::rc::Rc;

use chatkitty_protocol::destination::{self as dest, ChannelTopic, UserTopic};
use chatkitty_protocol::error::names;
use chatkitty_protocol::event::completes_create_channel;
use chatkitty_protocol::{header, Command, Decoder, Frame, Item};

pub use events::{ChatEvent, UserEvent};
use events::{Lookup, THREAD_TOPICS};
use ops::Post;
pub use ops::{id as op, Op, Spec, Thrown, OPS};
pub use payload::Payload;
use text::{push_json_string, Rng};

/// Identifies a call (and a chat session) from its start to its [`Completion`].
pub type Id = u32;

/// The user agent sent in `StompX-User-Agent`.
pub const USER_AGENT: &str = concat!("chatkitty-wasm/", env!("CARGO_PKG_VERSION"));
/// The WebSocket path (docs/protocol.md §2.1).
pub const WEBSOCKET_PATH: &str = "/rtm/websocket";
/// The query parameter carrying the API key.
pub const API_KEY_PARAM: &str = "api-key";
/// The WebSocket subprotocol (docs/protocol.md §2.2).
pub const SUBPROTOCOL: &str = "v12.stomp";
/// The default host of `ChatKitty.getInstance`.
pub const DEFAULT_HOST: &str = "api.chatkitty.com";

/// `ack` mode of topic subscriptions (docs/protocol.md §3.2).
const ACK_CLIENT_INDIVIDUAL: &str = "client-individual";
/// Prefix of SUBSCRIBE ids (docs/protocol.md §3.1).
const SUBSCRIPTION_ID_PREFIX: &str = "subscription-id-";
/// Prefix of receipts.
const RECEIPT_PREFIX: &str = "receipt-";
/// Prefix of the DISCONNECT receipt (docs/protocol.md §2.8).
const CLOSE_RECEIPT_PREFIX: &str = "close-";
/// What we offer in CONNECT: send every 60 s, want to hear every 10 s (docs/protocol.md §2.4).
const HEART_BEAT: &str = "60000,10000";
const OFFER_OUT_MS: u64 = 60_000;
const OFFER_IN_MS: u64 = 10_000;
/// CONNECTED must arrive this long after the attempt started (docs/protocol.md §2.7).
const CONNECT_TIMEOUT_MS: u64 = 60_000;
/// How long `endSession` waits for the DISCONNECT receipt before closing anyway.
const DISCONNECT_TIMEOUT_MS: u64 = 5_000;
/// Keystroke debounce (docs/protocol.md §11.1).
const KEYSTROKES_DEBOUNCE_MS: u64 = 150;
/// Default reconnect backoff: first delay, cap.
pub const RECONNECT_MIN_MS: u64 = 1_000;
/// See [`RECONNECT_MIN_MS`].
pub const RECONNECT_MAX_MS: u64 = 30_000;
/// Default [`Config::send_timeout_ms`].
pub const SEND_TIMEOUT_MS: u64 = 30_000;
/// The query of gap-recovery relays before the cursor: pages of 100 (the server's
/// cap, docs/protocol.md §9.2) after a message id.
const RECOVERY_PAGE: &str = "size=100&after=";
/// How many delivered message ids a chat session remembers to drop duplicates (the
/// overlap of a recovery and the live events held behind it is a round trip's worth).
const SEEN: usize = 64;
/// Gap recovery starts after the oldest of the last this many delivered messages, not
/// after the newest: a server may publish a channel's messages slightly out of id
/// order, and one published after a newer one when the connection dropped is caught.
const RECHECK: usize = 16;
/// The `seq` of the queue entry holding live events back during gap recovery.
const HOLD: u64 = u64::MAX;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Config {
    /// The application's API key.
    pub api_key: String,
    /// Host and optional port, no scheme.
    pub host: String,
    /// `wss` when true, `ws` otherwise.
    pub secure: bool,
    /// The first reconnect delay (ms). Each failed attempt doubles it up to
    /// `reconnect_max_ms`; every delay is drawn at random in `[d/2, d]`.
    pub reconnect_min_ms: u64,
    /// The longest reconnect delay (ms).
    pub reconnect_max_ms: u64,
    /// How long an action (a SEND: `sendMessage`, `createChannel`, …) may wait for a
    /// connection and its answer before it fails with [`Failure::Timeout`]; 0: forever.
    pub send_timeout_ms: u64,
}

impl Config {
    /// `api_key` at `host` with the default reconnect and timeout settings.
    pub fn new(api_key: String, host: String, secure: bool) -> Config {
        Config {
            api_key,
            host,
            secure,
            reconnect_min_ms: RECONNECT_MIN_MS,
            reconnect_max_ms: RECONNECT_MAX_MS,
            send_timeout_ms: SEND_TIMEOUT_MS,
        }
    }

    /// `ws[s]://{host}/rtm/websocket?api-key={encodeURIComponent(apiKey)}`.
    pub fn url(&self) -> String {
        let mut u = String::from(if self.secure { "wss://" } else { "ws://" });
        u.push_str(&self.host);
        u.push_str(WEBSOCKET_PATH);
        u.push('?');
        u.push_str(API_KEY_PARAM);
        u.push('=');
        u.push_str(&text::encode_uri_component(&self.api_key));
        u
    }
}

/// I/O the driver must perform, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Io {
    /// Open a WebSocket to this URL with subprotocol [`SUBPROTOCOL`], then report
    /// [`Client::handle_open`] / [`Client::handle_data`] / [`Client::handle_closed`].
    Open(String),
    /// Send this text as one WebSocket message.
    Send(String),
    /// Close the socket. From now on the core considers it gone: the driver must not
    /// report anything more from it.
    Close,
}

/// How a paging call's items are found and delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageKind {
    /// The `_embedded` key of the items (docs/protocol.md §9.1).
    pub content: &'static str,
    /// Whether items are messages whose file URLs get the read grant (10.3).
    pub files: bool,
}

impl PageKind {
    /// Pages of `getMessages`.
    pub const MESSAGES: PageKind = PageKind {
        content: "messages",
        files: true,
    };
}

/// One page of a paginated relay.
#[derive(Debug, Clone)]
pub struct Page<P> {
    /// The items (an array, possibly empty).
    pub items: P,
    /// `_relays.next`, when there is a next page.
    pub next: Option<String>,
    /// `_relays.prev`, when there is a previous page.
    pub prev: Option<String>,
    /// The parameter headers of the first request, re-sent for every page (9.2).
    pub params: Rc<[(String, String)]>,
    /// What the pages hold.
    pub kind: PageKind,
}

/// What a successful call produced.
#[derive(Debug, Clone)]
pub enum Done<P> {
    /// `startSession`: the CurrentUser.
    Session(P),
    /// A relay answer or an action's result event: the `resource` (None when the
    /// server answered `null`).
    Resource(Option<P>),
    /// A paging relay.
    Page(Page<P>),
    /// `endSession`: the socket is closed.
    Closed,
    /// A chat session's subscriptions are all confirmed (or it was ended first).
    ChatReady,
}

/// Why a call failed.
#[derive(Debug, Clone)]
pub enum Failure<P> {
    /// The server's error object (errors queue or ERROR frame body).
    Server(P),
    /// `ChatKittyConnectionError`: the connection failed or was lost.
    Connection,
    /// `ChatKittyTimeoutError`: an action got no answer within
    /// [`Config::send_timeout_ms`] (offline all along, or no answer in time).
    Timeout,
    /// `UnknownChatKittyError`: an ERROR frame without a JSON body.
    Unknown,
    /// `ValidationError` made by the client, with its message.
    Validation(&'static str),
    /// `PageOutOfBoundsError`.
    PageOutOfBounds,
    /// `MessageNotAReplyError` for this message (a rejection, docs/api.md §2.2).
    NotAReply(P),
    /// An upload answered with a non-2xx status, and the body when it was JSON.
    Http {
        /// The HTTP status (0 when the request did not reach the server).
        status: u16,
        /// The parsed response body.
        body: Option<P>,
    },
}

/// The outcome of a call.
#[derive(Debug, Clone)]
pub struct Completion<P> {
    /// The call.
    pub id: Id,
    /// What happened.
    pub result: Result<Done<P>, Failure<P>>,
}

/// Something to tell the app's callbacks.
#[derive(Debug, Clone)]
pub enum Event<P> {
    /// `onCurrentUserChanged` (None after the session ended).
    CurrentUser(Option<P>),
    /// `onCurrentUserOnline`: a connection was established.
    Online,
    /// `onCurrentUserOffline`: the connection is closed.
    Offline,
    /// A chat-session handler, called with `first` and, when present, `second`.
    Chat {
        /// The chat session.
        session: Id,
        /// Which handler.
        kind: ChatEvent,
        /// First argument.
        first: P,
        /// Second argument (`parent` of a reply, the receipt/reaction of a lookup).
        second: Option<P>,
    },
    /// An instance observer fed by a user topic.
    User {
        /// Which observer.
        kind: UserEvent,
        /// The event's resource.
        value: P,
    },
}

/// What `startChatSession` needs (its topics are read from it).
const CHANNEL_FROM_SERVER: &str = "channel must be a channel the server sent (with _topics)";

/// A call the API contract says throws synchronously.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misuse {
    /// `NoActiveSessionError` (docs/api.md §2.3).
    NoActiveSession,
    /// `SessionActiveError`.
    SessionActive,
    /// An argument is missing or has the wrong type; the text names it.
    InvalidArgument(&'static str),
    /// An argument of a call the bindings name is wrong; the text says what it must be
    /// (`username must be a string`).
    Expected(&'static str),
    /// `authParams` has characters outside Latin-1 (docs/protocol.md §2.4).
    AuthParamsNotLatin1,
    /// The request's channel lacks the action this call needs (docs/api.md §2.2); thrown
    /// with the request's `channel`.
    Thrown(Thrown),
}

/// An HTTP upload the driver must perform (docs/protocol.md §10.2): `POST url` with header
/// `Grant: grant` and a multipart body of part `file` plus the JSON-encoded `fields`.
/// Report its outcome with [`Client::handle_upload`].
#[derive(Debug, Clone)]
pub struct Upload<P> {
    /// The call.
    pub id: Id,
    /// `http(s)://{host}{stream}` (or the stream itself when it is a full URL).
    pub url: String,
    /// The write grant.
    pub grant: String,
    /// The `File`/`Blob`, or a `{uri: 'data:…', name}` object to turn into one.
    pub file: P,
    /// Extra parts: `groupTag`, `properties`, each JSON-encoded (10.2).
    pub fields: Vec<(&'static str, String)>,
    /// The request's `progressListener`, if any (docs/api.md §2.6).
    pub listener: Option<P>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No session wanted.
    Idle,
    /// `startSession` in progress.
    Starting(Id),
    /// Session started: reconnect on loss.
    Active,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// No socket.
    Down,
    /// No socket; open one at this time.
    Retry(u64),
    /// `Io::Open` issued at this time; waiting for the socket to open.
    Opening(u64),
    /// CONNECT sent; waiting for CONNECTED. The attempt started at this time.
    Connecting(u64),
    /// STOMP session open.
    Up,
    /// DISCONNECT sent for `endSession` (the call's id); close at the deadline.
    Closing(Id, u64),
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Plain,
    /// One field of the resource (`count`, `exists`).
    Field(&'static str),
    Page(PageKind),
}

#[derive(Debug)]
enum Purpose {
    Call(Id, Shape),
    User,
    WriteGrant,
    ReadGrant,
    Lookup {
        chat: Id,
        seq: u64,
    },
    /// Gap recovery of a chat session; `seed` (no cursor yet): only learn the newest id.
    Recover {
        chat: Id,
        seed: bool,
    },
}

#[derive(Debug)]
struct RelayReq {
    sub: String,
    dest: String,
    params: Rc<[(String, String)]>,
    purpose: Purpose,
    sent: bool,
}

#[derive(Debug)]
enum Mode<P> {
    /// Completes on the first topic MESSAGE with our `receipt-id` (3.3).
    Event(Post),
    /// `createChannel`: only the channel-creation event types complete it.
    CreateChannel,
    /// Completes on the RECEIPT, with this value of the request (docs/api.md §11.3).
    Receipt(Option<P>),
}

#[derive(Debug)]
struct ActionReq<P> {
    receipt: String,
    id: Id,
    dest: String,
    body: String,
    mode: Mode<P>,
    sent: bool,
    /// `idempotency-key` (message sends): safe to send again after a drop.
    key: Option<String>,
    /// Fails with [`Failure::Timeout`] at this time.
    deadline: u64,
}

#[derive(Debug)]
struct TopicSub {
    id: String,
    dest: String,
    receipt: String,
    /// Handler sets interested in this destination.
    refs: u32,
    sent: bool,
    /// The RECEIPT of the SUBSCRIBE arrived on the current connection.
    confirmed: bool,
    user: Option<UserTopic>,
}

/// Gap recovery of a chat session (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recovery {
    /// Nothing to do.
    Idle,
    /// A relay is due once the messages topic is confirmed.
    Due,
    /// A relay is on its way.
    Asked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waiting for the self topic's RECEIPT (docs/protocol.md §4.4 step 3).
    SelfTopic,
    /// The other seven topics requested; waiting for their receipts.
    Rest,
    /// Every subscription confirmed.
    Confirmed,
}

#[derive(Debug)]
struct Queued<P> {
    seq: u64,
    kind: ChatEvent,
    first: Option<P>,
    second: Option<P>,
    waiting: bool,
}

#[derive(Debug)]
struct Chat<P> {
    id: Id,
    /// The channel's topics, in `ChannelTopic::ALL` order (None when the link is absent).
    topics: Vec<Option<String>>,
    mask: u32,
    stage: Stage,
    /// Events in arrival order; an event waiting for a lookup holds back later ones.
    queue: Vec<Queued<P>>,
    next_seq: u64,
    /// `setThread`: the thread and its topics in [`THREAD_TOPICS`] order (docs/api.md §13).
    thread: Option<(P, Vec<Option<String>>)>,
    /// `channel._relays.messages` when gap recovery is on (`onReceivedMessage` given).
    relay: Option<String>,
    /// The newest message id delivered (or known to precede the session).
    after: Option<u64>,
    /// The last [`SEEN`] delivered message ids (0: none), a ring written at
    /// `delivered % SEEN`.
    seen: [u64; SEEN],
    delivered: usize,
    recovery: Recovery,
}

#[derive(Debug)]
struct Keystrokes {
    dest: String,
    body: String,
    due: u64,
}

/// The client state machine. See the module docs.
#[derive(Debug)]
pub struct Client<P: Payload> {
    config: Config,
    rng: Rng,
    next_id: Id,
    phase: Phase,
    link: Link,
    decoder: Decoder,
    username: String,
    auth_params: Option<String>,
    stomp_session: Option<String>,
    user: Option<P>,
    write_grant: Option<String>,
    read_grant: Option<String>,
    hb_out: u64,
    hb_in: u64,
    last_tx: u64,
    last_rx: u64,
    attempts: u32,
    errors_sub: String,
    relays: Vec<RelayReq>,
    actions: Vec<ActionReq<P>>,
    uploads: VecDeque<Upload<P>>,
    uploading: Vec<(Id, Post)>,
    topics: Vec<TopicSub>,
    chats: Vec<Chat<P>>,
    keystrokes: Vec<Keystrokes>,
    disconnect_receipt: String,
    io: VecDeque<Io>,
    done: VecDeque<Completion<P>>,
    events: VecDeque<Event<P>>,
}

impl<P: Payload> Client<P> {
    /// A client for `config`; `seed` feeds the id generator.
    pub fn new(config: Config, seed: u64) -> Client<P> {
        let mut rng = Rng::new(seed);
        let mut errors_sub = String::from(SUBSCRIPTION_ID_PREFIX);
        rng.push_uuid(&mut errors_sub);
        Client {
            config,
            rng,
            next_id: 1,
            phase: Phase::Idle,
            link: Link::Down,
            decoder: Decoder::default(),
            username: String::new(),
            auth_params: None,
            stomp_session: None,
            user: None,
            write_grant: None,
            read_grant: None,
            hb_out: 0,
            hb_in: 0,
            last_tx: 0,
            last_rx: 0,
            attempts: 0,
            errors_sub,
            relays: Vec::new(),
            actions: Vec::new(),
            uploads: VecDeque::new(),
            uploading: Vec::new(),
            topics: Vec::new(),
            chats: Vec::new(),
            keystrokes: Vec::new(),
            disconnect_receipt: String::new(),
            io: VecDeque::new(),
            done: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    // ----- getters ---------------------------------------------------------------

    /// The current user while a session is active.
    pub fn current_user(&self) -> Option<&P> {
        if self.phase == Phase::Active {
            self.user.as_ref()
        } else {
            None
        }
    }

    /// Whether the STOMP session is open.
    pub fn is_connected(&self) -> bool {
        self.link == Link::Up
    }

    /// Whether a session is wanted (from `startSession` until `endSession` or a failed
    /// start) or a socket is still open or closing: while it is, socket and timer
    /// events can still reach the app, so the driver must keep the client alive.
    pub fn is_live(&self) -> bool {
        self.phase != Phase::Idle || self.link != Link::Down
    }

    /// The sizes of the core's tables — topics, relays, actions, chat sessions, queued
    /// chat events — for leak tests.
    pub fn table_sizes(&self) -> [usize; 5] {
        [
            self.topics.len(),
            self.relays.len(),
            self.actions.len(),
            self.chats.len(),
            self.chats.iter().map(|c| c.queue.len()).sum(),
        ]
    }

    // ----- outputs ---------------------------------------------------------------

    /// The next I/O to perform.
    pub fn poll_io(&mut self) -> Option<Io> {
        self.io.pop_front()
    }

    /// The next completed call.
    pub fn poll_completion(&mut self) -> Option<Completion<P>> {
        self.done.pop_front()
    }

    /// The next event for app callbacks.
    pub fn poll_event(&mut self) -> Option<Event<P>> {
        self.events.pop_front()
    }

    /// The next HTTP upload to perform.
    pub fn poll_upload(&mut self) -> Option<Upload<P>> {
        self.uploads.pop_front()
    }

    /// When [`Client::handle_timeout`] must be called next (ms), if at all.
    pub fn poll_timeout(&self) -> Option<u64> {
        let mut next: Option<u64> = None;
        let mut at = |t: u64| next = Some(next.map_or(t, |n| n.min(t)));
        match self.link {
            Link::Down => {}
            Link::Retry(t) => at(t),
            Link::Opening(t) | Link::Connecting(t) => at(t + CONNECT_TIMEOUT_MS),
            Link::Closing(_, t) => at(t),
            Link::Up => {
                if self.hb_out > 0 {
                    at(self.last_tx + self.hb_out);
                }
                if self.hb_in > 0 {
                    at(self.last_rx + 2 * self.hb_in + 1);
                }
            }
        }
        for k in &self.keystrokes {
            at(k.due);
        }
        for a in &self.actions {
            at(a.deadline);
        }
        next
    }

    // ----- inputs ----------------------------------------------------------------

    /// The socket opened: send CONNECT (docs/protocol.md §2.4).
    pub fn handle_open(&mut self, now: u64) {
        let Link::Opening(since) = self.link else {
            return;
        };
        self.link = Link::Connecting(since);
        self.decoder = Decoder::default();
        self.last_rx = now;
        let mut f = Frame::new(Command::Connect)
            .with_header(header::STOMPX_USER, self.username.as_str())
            .with_header(header::STOMPX_USER_AGENT, USER_AGENT);
        if let Some(auth) = &self.auth_params {
            f.push_header(header::STOMPX_AUTH_PARAMS, auth.as_str());
        }
        if let Some(session) = &self.stomp_session {
            f.push_header(header::STOMPX_AUTH_SESSION_ID, session.as_str());
        }
        f.push_header(header::ACCEPT_VERSION, header::STOMP_VERSION);
        f.push_header(header::HEART_BEAT, HEART_BEAT);
        self.send(&f, now);
        self.start_up(now);
    }

    /// The start-up frames (docs/protocol.md §4.1 steps 4–10: current user, errors queue,
    /// grants), pipelined right behind CONNECT instead of waiting for CONNECTED: the
    /// server handles a connection's frames in order, so they are answered after it,
    /// and `startSession` resolves one round trip after the socket opens. Refused
    /// CONNECTs close the socket, and these go with it.
    fn start_up(&mut self, now: u64) {
        self.relays.retain(|r| !matches!(r.purpose, Purpose::User));
        self.add_relay(
            dest::CURRENT_USER_RELAY.to_owned(),
            Rc::from([]),
            Purpose::User,
        );
        let f = Frame::new(Command::Subscribe)
            .with_header(header::ID, self.errors_sub.as_str())
            .with_header(header::DESTINATION, dest::ERRORS_QUEUE);
        self.send(&f, now);
        let pending = |c: &Self, p: fn(&Purpose) -> bool| c.relays.iter().any(|r| p(&r.purpose));
        if self.write_grant.is_none() && !pending(self, |p| matches!(p, Purpose::WriteGrant)) {
            self.add_relay(
                dest::WRITE_GRANT_RELAY.to_owned(),
                Rc::from([]),
                Purpose::WriteGrant,
            );
        }
        if self.read_grant.is_none() && !pending(self, |p| matches!(p, Purpose::ReadGrant)) {
            self.add_relay(
                dest::READ_GRANT_RELAY.to_owned(),
                Rc::from([]),
                Purpose::ReadGrant,
            );
        }
        let mut frames = Vec::new();
        for r in self.relays.iter_mut().filter(|r| {
            !r.sent
                && matches!(
                    r.purpose,
                    Purpose::User | Purpose::WriteGrant | Purpose::ReadGrant
                )
        }) {
            r.sent = true;
            frames.push(relay_frame(r));
        }
        for f in &frames {
            self.send(f, now);
        }
    }

    /// Bytes (a text or binary WebSocket message) arrived.
    pub fn handle_data(&mut self, data: &[u8], now: u64) {
        if matches!(self.link, Link::Down | Link::Retry(_) | Link::Opening(_)) {
            return;
        }
        self.last_rx = now;
        self.decoder.push(data);
        loop {
            match self.decoder.decode() {
                Ok(Some(Item::Frame(frame))) => {
                    self.handle_frame(frame, now);
                    if matches!(self.link, Link::Down | Link::Retry(_)) {
                        return;
                    }
                }
                Ok(Some(Item::Heartbeat)) => {}
                Ok(None) => return,
                Err(_) => {
                    self.io.push_back(Io::Close);
                    self.lost(now);
                    return;
                }
            }
        }
    }

    /// The socket closed (or failed to open).
    pub fn handle_closed(&mut self, now: u64) {
        match self.link {
            Link::Down | Link::Retry(_) => {}
            Link::Closing(id, _) => self.finish_end(id),
            _ => self.lost(now),
        }
    }

    /// A timer fired: reconnect, time out, heart-beat, flush keystrokes.
    pub fn handle_timeout(&mut self, now: u64) {
        match self.link {
            Link::Retry(t) if now >= t => self.open(now),
            Link::Opening(t) | Link::Connecting(t) if now >= t + CONNECT_TIMEOUT_MS => {
                self.io.push_back(Io::Close);
                self.lost(now);
            }
            Link::Closing(id, t) if now >= t => {
                self.io.push_back(Io::Close);
                self.finish_end(id);
            }
            Link::Up => {
                if self.hb_in > 0 && now > self.last_rx + 2 * self.hb_in {
                    // Nothing heard for two intervals: the connection is dead (2.7).
                    self.io.push_back(Io::Close);
                    self.lost(now);
                    return;
                }
                if self.hb_out > 0 && now >= self.last_tx + self.hb_out {
                    self.io.push_back(Io::Send("\n".to_owned()));
                    self.last_tx = now;
                }
            }
            _ => {}
        }
        self.fail_actions(|a, now| a.deadline <= now, now, Failure::Timeout);
        let mut i = 0;
        while i < self.keystrokes.len() {
            if self.keystrokes[i].due <= now {
                let k = self.keystrokes.remove(i);
                if self.link == Link::Up {
                    // Sent with a receipt nobody waits for (docs/protocol.md §3.3).
                    let receipt = self.new_receipt();
                    let f = action_frame(&k.dest, &receipt, &k.body);
                    self.send(&f, now);
                }
            } else {
                i += 1;
            }
        }
    }

    /// An upload finished with HTTP `status` (0: no answer) and response `body`.
    /// Returns whether it succeeded (a 2xx JSON resource), for the progress
    /// listener's `onCompleted` (docs/api.md §2.6). The response body is the resource itself,
    /// with no envelope (docs/protocol.md §3.4).
    pub fn handle_upload(&mut self, id: Id, status: u16, body: &str) -> bool {
        let Some(i) = self.uploading.iter().position(|u| u.0 == id) else {
            return false;
        };
        let (_, post) = self.uploading.remove(i);
        let parsed = P::parse(body).filter(|_| !body.is_empty());
        match parsed {
            Some(resource) if (200..300).contains(&status) => {
                let result = self.post(post, resource);
                self.complete(id, Ok(Done::Resource(Some(result))));
                true
            }
            parsed => {
                self.complete(
                    id,
                    Err(Failure::Http {
                        status,
                        body: parsed,
                    }),
                );
                false
            }
        }
    }

    // ----- API calls -------------------------------------------------------------

    /// Throws [`Misuse::NoActiveSession`] without a session (the NAS observers of
    /// docs/api.md §2.3).
    ///
    /// # Errors
    /// [`Misuse::NoActiveSession`].
    pub fn require_session(&self) -> Result<(), Misuse> {
        self.session_user().map(|_| ())
    }

    /// `startSession({username, authParams?})`.
    ///
    /// # Errors
    /// [`Misuse::SessionActive`] when a session is started or starting,
    /// [`Misuse::Expected`] without a string `username`,
    /// [`Misuse::AuthParamsNotLatin1`].
    pub fn start_session(&mut self, request: &P, now: u64) -> Result<Id, Misuse> {
        if self.phase != Phase::Idle {
            return Err(Misuse::SessionActive);
        }
        let username = request
            .get("username")
            .and_then(|u| u.as_string())
            .ok_or(Misuse::Expected("username must be a string"))?;
        let auth_params = match request.get("authParams").filter(Payload::truthy) {
            Some(a) => {
                let json = a
                    .to_json()
                    .ok_or(Misuse::Expected("authParams must serialise to JSON"))?;
                Some(text::latin1_base64(&json).ok_or(Misuse::AuthParamsNotLatin1)?)
            }
            None => None,
        };
        if let Link::Closing(end, _) = self.link {
            // A new session while the previous one is still saying goodbye.
            self.io.push_back(Io::Close);
            self.finish_end(end);
        }
        let id = self.new_id();
        self.username = username;
        self.auth_params = auth_params;
        self.stomp_session = None;
        self.phase = Phase::Starting(id);
        self.events.push_back(Event::Offline);
        if matches!(self.link, Link::Down | Link::Retry(_)) {
            self.attempts = 0;
            self.open(now);
        }
        Ok(id)
    }

    /// `endSession()`: DISCONNECT with a receipt, close when it arrives (or after
    /// [`DISCONNECT_TIMEOUT_MS`]), complete with [`Done::Closed`].
    pub fn end_session(&mut self, now: u64) -> Id {
        let id = self.new_id();
        if let Phase::Starting(start) = self.phase {
            self.complete(start, Err(Failure::Connection));
        }
        match self.link {
            Link::Up => {
                self.disconnect_receipt = String::from(CLOSE_RECEIPT_PREFIX);
                text::push_u64(&mut self.disconnect_receipt, id as u64);
                let f = Frame::new(Command::Disconnect)
                    .with_header(header::RECEIPT, self.disconnect_receipt.as_str());
                self.send(&f, now);
                self.link = Link::Closing(id, now + DISCONNECT_TIMEOUT_MS);
            }
            Link::Closing(previous, deadline) => {
                // Already ending: both calls complete when the socket closes.
                self.link = Link::Closing(id, deadline);
                self.complete(previous, Ok(Done::Closed));
            }
            Link::Down | Link::Retry(_) => self.finish_end(id),
            Link::Opening(_) | Link::Connecting(_) => {
                self.io.push_back(Io::Close);
                self.finish_end(id);
            }
        }
        id
    }

    /// `sendKeystrokes({channel|thread, keys})`: debounced 150 ms per destination, the
    /// last value of a burst wins (docs/api.md §13).
    ///
    /// # Errors
    /// [`Misuse::NoActiveSession`]; [`Misuse::InvalidArgument`].
    pub fn send_keystrokes(&mut self, request: &P, now: u64) -> Result<(), Misuse> {
        self.session_user()?;
        let target = request
            .get("thread")
            .or_else(|| request.get("channel"))
            .ok_or(Misuse::Expected("channel (or thread) is required"))?;
        let dest = link(&target, "_actions", "keystrokes")?;
        let keys = request
            .get("keys")
            .and_then(|k| k.as_string())
            .ok_or(Misuse::Expected("keys must be a string"))?;
        let mut body = String::from("{\"keys\":");
        push_json_string(&mut body, &keys);
        body.push('}');
        let due = now + KEYSTROKES_DEBOUNCE_MS;
        match self.keystrokes.iter_mut().find(|k| k.dest == dest) {
            Some(k) => {
                k.body = body;
                k.due = due;
            }
            None => self.keystrokes.push(Keystrokes { dest, body, due }),
        }
        Ok(())
    }

    /// `paginator.nextPage()` / `prevPage()`: relay `link` with the first request's
    /// parameters; without a link, fails with [`Failure::PageOutOfBounds`].
    pub fn page(
        &mut self,
        link: Option<&str>,
        params: Rc<[(String, String)]>,
        kind: PageKind,
        now: u64,
    ) -> Id {
        match link {
            Some(dest) if !dest.is_empty() => {
                self.call_relay(dest.to_owned(), params, Shape::Page(kind), now)
            }
            _ => self.fail_now(Failure::PageOutOfBounds),
        }
    }

    /// `startChatSession(request)`: registers the handler set and subscribes the
    /// channel's topics (self first, the seven others on its RECEIPT; docs/protocol.md
    /// 4.4), sharing subscriptions with other chat sessions on the same channel. The
    /// returned id completes with [`Done::ChatReady`] once every subscription of the
    /// session is confirmed. Waits for a connection if there is none.
    ///
    /// # Errors
    /// [`Misuse::Expected`] without a `channel` with `_topics.self`.
    pub fn start_chat_session(&mut self, request: &P, now: u64) -> Result<Id, Misuse> {
        let channel = request
            .get("channel")
            .ok_or(Misuse::Expected(CHANNEL_FROM_SERVER))?;
        let topics: Vec<Option<String>> = ChannelTopic::ALL
            .iter()
            .map(|t| channel.get_str(&["_topics", t.link_name()]))
            .collect();
        let self_topic = topics[0]
            .clone()
            .ok_or(Misuse::Expected(CHANNEL_FROM_SERVER))?;
        let mut mask = 0;
        for kind in ChatEvent::ALL {
            if request.get(kind.handler()).is_some()
                || kind.alias().is_some_and(|a| request.get(a).is_some())
            {
                mask |= kind.bit();
            }
        }
        let id = self.new_id();
        let relay = channel
            .get_str(&["_relays", "messages"])
            .filter(|_| mask & ChatEvent::ReceivedMessage.bit() != 0 && topics[1].is_some());
        self.chats.push(Chat {
            id,
            topics,
            mask,
            stage: Stage::SelfTopic,
            queue: Vec::new(),
            next_seq: 0,
            thread: None,
            recovery: if relay.is_some() {
                Recovery::Due
            } else {
                Recovery::Idle
            },
            relay,
            after: None,
            seen: [0; SEEN],
            delivered: 0,
        });
        self.retain_topic(&self_topic, None, now);
        self.advance_chats(now);
        Ok(id)
    }

    /// `session.end()`: removes the handler set and unsubscribes the topics no other
    /// chat session uses, including subscriptions still pending (docs/api.md §13). A no-op
    /// for an unknown or already ended session.
    pub fn end_chat_session(&mut self, id: Id, now: u64) {
        let Some(i) = self.chats.iter().position(|c| c.id == id) else {
            return;
        };
        let chat = self.chats.remove(i);
        if let Some((_, topics)) = &chat.thread {
            for dest in topics.iter().rev().flatten() {
                self.release_topic(dest, now);
            }
        }
        let held = match chat.stage {
            Stage::SelfTopic => 1,
            _ => chat.topics.len(),
        };
        // Reverse subscription order, as the official client unsubscribes (4.4).
        for dest in chat.topics[..held].iter().rev().flatten() {
            self.release_topic(dest, now);
        }
        if chat.stage != Stage::Confirmed {
            self.complete(id, Ok(Done::ChatReady));
        }
    }

    /// `session.setThread(thread)`: the chat session follows `thread`, subscribing its
    /// `messages`, `keystrokes` and `typing` topics and leaving the previous thread's
    /// (docs/api.md §13: the official client subscribes nothing). The topics are left on
    /// `end()` too. A no-op for an ended session.
    ///
    /// # Errors
    /// [`Misuse::Expected`] when `thread` is not an object with `_topics`.
    pub fn set_thread(&mut self, chat: Id, thread: &P, now: u64) -> Result<(), Misuse> {
        let topics: Vec<Option<String>> = THREAD_TOPICS
            .iter()
            .map(|t| thread.get_str(&["_topics", t.link_name()]))
            .collect();
        if topics.iter().all(Option::is_none) {
            return Err(Misuse::Expected("thread must be a thread the server sent"));
        }
        let Some(i) = self.chats.iter().position(|c| c.id == chat) else {
            return Ok(());
        };
        let old = self.chats[i]
            .thread
            .replace((thread.clone(), topics.clone()));
        for dest in topics.iter().flatten() {
            self.retain_topic(dest, None, now);
        }
        if let Some((_, old)) = old {
            for dest in old.iter().rev().flatten() {
                self.release_topic(dest, now);
            }
        }
        Ok(())
    }

    // ----- frames in -------------------------------------------------------------

    fn handle_frame(&mut self, frame: Frame, now: u64) {
        match frame.command {
            Command::Connected => self.on_connected(&frame, now),
            Command::Message => self.on_message(&frame, now),
            Command::Receipt => {
                if let Some(r) = frame.header(header::RECEIPT_ID) {
                    let r = r.to_owned();
                    self.on_receipt(&r, now);
                }
            }
            Command::Error => self.on_error_frame(&frame, now),
            _ => {}
        }
    }

    fn on_connected(&mut self, frame: &Frame, now: u64) {
        if !matches!(self.link, Link::Connecting(_)) {
            return;
        }
        self.link = Link::Up;
        self.attempts = 0;
        self.stomp_session = frame.header(header::SESSION).map(str::to_owned);
        // Heart-beat negotiation (STOMP 1.2 "Heart-beating"; docs/protocol.md §2.7).
        let (sx, sy) = frame
            .header(header::HEART_BEAT)
            .and_then(|v| v.split_once(','))
            .map(|(a, b)| {
                (
                    a.trim().parse::<u64>().unwrap_or(0),
                    b.trim().parse::<u64>().unwrap_or(0),
                )
            })
            .unwrap_or((0, 0));
        self.hb_out = if sy == 0 { 0 } else { OFFER_OUT_MS.max(sy) };
        self.hb_in = if sx == 0 { 0 } else { OFFER_IN_MS.max(sx) };
        self.last_rx = now;
        self.events.push_back(Event::Online);

        // The start-up frames went out behind CONNECT (`start_up`); what was queued
        // while offline goes now.
        self.flush_unsent(now);
    }

    fn on_message(&mut self, frame: &Frame, now: u64) {
        let Some(sub) = frame.header(header::SUBSCRIPTION) else {
            return;
        };
        if sub == self.errors_sub {
            return self.on_queued_error(frame, now);
        }
        if let Some(i) = self.relays.iter().position(|r| r.sub == sub) {
            let relay = self.relays.remove(i);
            let resource = body::<P>(frame).and_then(|b| b.get("resource"));
            return self.on_relay_answer(relay, resource, now);
        }
        let Some(topic) = self.topics.iter().find(|t| t.id == sub) else {
            return;
        };
        let (topic_dest, user_topic) = (topic.dest.clone(), topic.user);
        let Some(envelope) = body::<P>(frame) else {
            return;
        };
        let ty = envelope
            .get("type")
            .and_then(|t| t.as_string())
            .unwrap_or_default();
        let Some(mut resource) = envelope.get("resource") else {
            return;
        };
        if let Some(receipt) = frame.header(header::RECEIPT_ID) {
            let hit = self.actions.iter().position(|a| {
                a.receipt == receipt
                    && match a.mode {
                        Mode::Event(_) => true,
                        Mode::CreateChannel => completes_create_channel(&ty),
                        Mode::Receipt(_) => false,
                    }
            });
            if let Some(i) = hit {
                let action = self.actions.remove(i);
                let post = match action.mode {
                    Mode::Event(p) => p,
                    _ => Post::None,
                };
                let result = self.post(post, resource.clone());
                self.complete(action.id, Ok(Done::Resource(Some(result))));
            }
        }
        if let Some(ut) = user_topic {
            if let Some(kind) = UserEvent::route(ut, &ty) {
                self.events.push_back(Event::User {
                    kind,
                    value: resource.clone(),
                });
            }
        }
        self.dispatch_chat(&topic_dest, &ty, &mut resource, now);
    }

    fn dispatch_chat(&mut self, topic_dest: &str, ty: &str, resource: &mut P, now: u64) {
        let mut mapped = false;
        for ci in 0..self.chats.len() {
            let thread_kind = self.chats[ci].thread.as_ref().and_then(|(_, topics)| {
                let t = topics
                    .iter()
                    .position(|d| d.as_deref() == Some(topic_dest))?;
                ChatEvent::route_thread(THREAD_TOPICS[t], ty)
            });
            if let Some(kind) = thread_kind.filter(|k| self.chats[ci].mask & k.bit() != 0) {
                if kind == ChatEvent::ThreadReceivedMessage && !mapped {
                    self.map_file(resource);
                    mapped = true;
                }
                let chat = &mut self.chats[ci];
                let seq = chat.next_seq;
                chat.next_seq += 1;
                let thread = chat.thread.as_ref().map(|(t, _)| t.clone());
                chat.queue.push(Queued {
                    seq,
                    kind,
                    first: thread,
                    second: Some(resource.clone()),
                    waiting: false,
                });
                self.flush_chat(ci);
            }
            let chat = &self.chats[ci];
            let Some(t) = chat
                .topics
                .iter()
                .position(|d| d.as_deref() == Some(topic_dest))
            else {
                continue;
            };
            let Some(kind) = ChatEvent::route(ChannelTopic::ALL[t], ty) else {
                continue;
            };
            if chat.mask & kind.bit() == 0 {
                continue;
            }
            if kind == ChatEvent::ReceivedMessage && !mapped {
                self.map_file(resource);
                mapped = true;
            }
            let end = chat.queue.len();
            self.enqueue(ci, kind, resource, end);
            self.flush_unsent(now);
            self.flush_chat(ci);
        }
    }

    /// Queues event `kind` of `resource` at position `at` of chat `ci`, asking first
    /// for the message it needs (docs/protocol.md §11.2); later events wait behind it.
    fn enqueue(&mut self, ci: usize, kind: ChatEvent, resource: &P, at: usize) {
        let lookup = match kind.lookup() {
            Lookup::None => None,
            Lookup::Parent => resource.get_str(&["_relays", "parent"]),
            Lookup::Message => resource.get_str(&["_relays", "message"]),
        };
        let chat = &mut self.chats[ci];
        let seq = chat.next_seq;
        chat.next_seq += 1;
        let (first, second) = match kind.lookup() {
            Lookup::Message => (None, Some(resource.clone())),
            _ => (Some(resource.clone()), None),
        };
        chat.queue.insert(
            at,
            Queued {
                seq,
                kind,
                first,
                second,
                waiting: lookup.is_some(),
            },
        );
        if let Some(dest) = lookup {
            let purpose = Purpose::Lookup { chat: chat.id, seq };
            self.add_relay(dest, Rc::from([]), purpose);
        }
    }

    fn on_relay_answer(&mut self, relay: RelayReq, resource: Option<P>, now: u64) {
        match relay.purpose {
            Purpose::User => {
                let Some(user) = resource else {
                    return self.fail_start(Failure::Unknown);
                };
                self.user = Some(user.clone());
                if self.phase == Phase::Active {
                    self.events
                        .push_back(Event::CurrentUser(Some(user.clone())));
                }
                if !self.topics.iter().any(|t| t.user.is_some()) {
                    // The ten user topics, in the official order (4.1 step 11).
                    for ut in UserTopic::ALL {
                        if let Some(d) = user.get_str(&["_topics", ut.link_name()]) {
                            self.retain_topic(&d, Some(*ut), now);
                        }
                    }
                }
                self.check_started();
            }
            Purpose::WriteGrant | Purpose::ReadGrant => {
                let grant = resource
                    .and_then(|r| r.get("grant"))
                    .and_then(|g| g.as_string())
                    .unwrap_or_default();
                if matches!(relay.purpose, Purpose::WriteGrant) {
                    self.write_grant = Some(grant);
                } else {
                    self.read_grant = Some(grant);
                }
                self.check_started();
            }
            Purpose::Call(id, shape) => {
                let result = match shape {
                    Shape::Plain => Done::Resource(resource),
                    Shape::Field(f) => Done::Resource(resource.and_then(|r| r.get(f))),
                    Shape::Page(kind) => Done::Page(self.page_of(resource, relay.params, kind)),
                };
                self.complete(id, Ok(result));
            }
            Purpose::Lookup { chat, seq } => self.lookup_done(chat, seq, resource),
            Purpose::Recover { chat, seed } => self.recovered(chat, seed, resource, now),
        }
    }

    fn on_queued_error(&mut self, frame: &Frame, now: u64) {
        let error = body::<P>(frame);
        let failure = || match &error {
            Some(e) => Failure::Server(e.clone()),
            None => Failure::Unknown,
        };
        if let Some(sid) = frame.header(header::SUBSCRIPTION_ID) {
            if let Some(i) = self.relays.iter().position(|r| r.sub == sid) {
                let relay = self.relays.remove(i);
                match relay.purpose {
                    Purpose::Call(id, _) => self.complete(id, Err(failure())),
                    Purpose::User | Purpose::WriteGrant | Purpose::ReadGrant => {
                        if matches!(self.phase, Phase::Starting(_)) {
                            self.fail_start(failure());
                        }
                    }
                    Purpose::Lookup { chat, seq } => self.lookup_done(chat, seq, None),
                    // Recovery refused: stop holding live events back.
                    Purpose::Recover { chat, .. } => self.recovered(chat, false, None, now),
                }
            } else if let Some(t) = self.topics.iter().position(|t| t.id == sid) {
                // A refused topic: the chat sessions waiting on it fail.
                let dest = self.topics.remove(t).dest;
                let failed: Vec<Id> = self
                    .chats
                    .iter_mut()
                    .filter(|c| {
                        c.stage != Stage::Confirmed && c.topics.contains(&Some(dest.clone()))
                    })
                    .map(|c| {
                        c.stage = Stage::Confirmed;
                        c.id
                    })
                    .collect();
                for id in failed {
                    self.complete(id, Err(failure()));
                }
            }
            return;
        }
        if let Some(rid) = frame.header(header::RECEIPT_ID) {
            if let Some(i) = self.actions.iter().position(|a| a.receipt == rid) {
                let action = self.actions.remove(i);
                self.complete(action.id, Err(failure()));
            }
            return;
        }
        // No correlation header: every pending action fails (docs/protocol.md §3.5).
        self.fail_actions(|a, _| a.sent, now, failure());
    }

    fn on_receipt(&mut self, receipt: &str, now: u64) {
        if let Link::Closing(id, _) = self.link {
            if receipt == self.disconnect_receipt {
                self.io.push_back(Io::Close);
                return self.finish_end(id);
            }
        }
        if let Some(t) = self.topics.iter_mut().find(|t| t.receipt == receipt) {
            t.confirmed = true;
            return self.advance_chats(now);
        }
        if let Some(i) = self
            .actions
            .iter()
            .position(|a| a.receipt == receipt && matches!(a.mode, Mode::Receipt(_)))
        {
            let action = self.actions.remove(i);
            if let Mode::Receipt(echo) = action.mode {
                self.complete(action.id, Ok(Done::Resource(echo)));
            }
        }
        // Event-completed actions stay pending after their RECEIPT, as in the official
        // client: the server sends the result event first (3.3).
    }

    fn on_error_frame(&mut self, frame: &Frame, now: u64) {
        let error = body::<P>(frame);
        let access_denied = error
            .as_ref()
            .and_then(|e| e.get_str(&["error"]))
            .is_some_and(|e| e == names::ACCESS_DENIED);
        self.io.push_back(Io::Close);
        if let Phase::Starting(_) = self.phase {
            self.link = Link::Down;
            self.fail_start(match error {
                Some(e) => Failure::Server(e),
                None => Failure::Unknown,
            });
        } else if access_denied {
            // Deactivate: no reconnect after an AccessDeniedError (2.6).
            self.link = Link::Down;
            self.teardown(true);
        } else {
            // The server closes after ERROR (e.g. it is shutting down): reconnect as
            // after any loss, telling `onCurrentUserOffline` (the link is still up
            // here, so `lost` sees a connection that was up).
            self.lost(now);
        }
    }

    // ----- connection ------------------------------------------------------------

    fn open(&mut self, now: u64) {
        self.io.push_back(Io::Open(self.config.url()));
        self.link = Link::Opening(now);
    }

    /// The connection is gone (already closed or `Io::Close` issued).
    fn lost(&mut self, now: u64) {
        let was_up = self.link == Link::Up;
        self.decoder = Decoder::default();
        // Relays are reads: safe to repeat on the next connection. Recoveries are
        // asked again once their messages topic is confirmed there.
        self.relays
            .retain(|r| !matches!(r.purpose, Purpose::Recover { .. }));
        for r in &mut self.relays {
            r.sent = false;
        }
        for t in &mut self.topics {
            t.sent = false;
            t.confirmed = false;
        }
        // Actions in flight may or may not have been applied: fail them rather than
        // risk applying them twice, except message sends, which the server applies
        // once per idempotency key.
        self.fail_actions(|a, _| a.sent && a.key.is_none(), now, Failure::Connection);
        for a in &mut self.actions {
            a.sent = false;
        }
        for c in &mut self.chats {
            if c.relay.is_some() {
                c.recovery = Recovery::Due;
                if c.after.is_some() && !c.queue.iter().any(|q| q.seq == HOLD) {
                    c.queue.push(hold());
                }
            }
        }
        match self.phase {
            Phase::Starting(_) => {
                self.link = Link::Down;
                self.fail_start(Failure::Connection);
            }
            Phase::Active => {
                let delay = self.backoff();
                self.link = Link::Retry(now + delay);
                if was_up {
                    self.events.push_back(Event::Offline);
                }
            }
            Phase::Idle => {
                self.link = Link::Down;
            }
        }
    }

    /// The next reconnect delay: `min × 2^attempts` capped at `max`, drawn in
    /// `[d/2, d]` so clients dropped together do not come back in lockstep.
    fn backoff(&mut self) -> u64 {
        let c = &self.config;
        let d = c
            .reconnect_min_ms
            .saturating_mul(1 << self.attempts.min(20))
            .min(c.reconnect_max_ms);
        self.attempts += 1;
        d - self.rng.next_u64() % (d / 2 + 1)
    }

    /// Fails the actions `which` selects with `failure`.
    fn fail_actions(
        &mut self,
        which: fn(&ActionReq<P>, u64) -> bool,
        now: u64,
        failure: Failure<P>,
    ) {
        let mut i = 0;
        while i < self.actions.len() {
            if which(&self.actions[i], now) {
                let id = self.actions.remove(i).id;
                self.complete(id, Err(failure.clone()));
            } else {
                i += 1;
            }
        }
    }

    fn fail_start(&mut self, failure: Failure<P>) {
        let Phase::Starting(id) = self.phase else {
            return;
        };
        if !matches!(self.link, Link::Down) {
            self.io.push_back(Io::Close);
            self.link = Link::Down;
        }
        self.teardown(false);
        self.complete(id, Err(failure));
        self.events.push_back(Event::Offline);
    }

    fn check_started(&mut self) {
        if let Phase::Starting(id) = self.phase {
            if let (Some(user), Some(_), Some(_)) =
                (&self.user, &self.write_grant, &self.read_grant)
            {
                let user = user.clone();
                self.phase = Phase::Active;
                self.events
                    .push_back(Event::CurrentUser(Some(user.clone())));
                self.complete(id, Ok(Done::Session(user)));
            }
        }
    }

    fn finish_end(&mut self, id: Id) {
        self.link = Link::Down;
        self.teardown(true);
        self.complete(id, Ok(Done::Closed));
    }

    /// Forgets the session. `ended` (endSession, access denied) also drops chat
    /// sessions and fails calls that were sent and will never be answered; a failed
    /// start keeps the calls and chat sessions still waiting for a connection.
    fn teardown(&mut self, ended: bool) {
        let was_active = self.phase == Phase::Active;
        self.phase = Phase::Idle;
        self.decoder = Decoder::default();
        self.stomp_session = None;
        self.user = None;
        self.write_grant = None;
        self.read_grant = None;
        self.keystrokes.clear();
        self.relays
            .retain(|r| matches!(r.purpose, Purpose::Call(..)));
        self.topics.retain(|t| t.user.is_none());
        for r in &mut self.relays {
            r.sent = false;
        }
        for t in &mut self.topics {
            t.sent = false;
            t.confirmed = false;
        }
        if ended {
            let calls: Vec<Id> = self
                .relays
                .drain(..)
                .map(|r| match r.purpose {
                    Purpose::Call(id, _) => id,
                    _ => 0,
                })
                .chain(self.actions.drain(..).map(|a| a.id))
                .collect();
            for id in calls {
                self.complete(id, Err(Failure::Connection));
            }
            self.topics.clear();
            let chats: Vec<(Id, Stage)> = self.chats.drain(..).map(|c| (c.id, c.stage)).collect();
            for (id, stage) in chats {
                if stage != Stage::Confirmed {
                    self.complete(id, Ok(Done::ChatReady));
                }
            }
        }
        if was_active {
            self.events.push_back(Event::CurrentUser(None));
            self.events.push_back(Event::Offline);
        }
    }

    /// Sends everything that waited for a connection: topics, then relays and actions
    /// in the order they were made.
    fn flush_unsent(&mut self, now: u64) {
        if self.link != Link::Up {
            return;
        }
        let mut frames = Vec::new();
        for t in self.topics.iter_mut().filter(|t| !t.sent && t.refs > 0) {
            t.sent = true;
            frames.push(topic_frame(t));
        }
        for r in self.relays.iter_mut().filter(|r| !r.sent) {
            r.sent = true;
            frames.push(relay_frame(r));
        }
        for f in &frames {
            self.send(f, now);
        }
        let unsent: Vec<usize> = (0..self.actions.len())
            .filter(|&i| !self.actions[i].sent)
            .collect();
        for i in unsent {
            self.actions[i].sent = true;
            let a = &self.actions[i];
            let mut f = action_frame(&a.dest, &a.receipt, &a.body);
            if let Some(k) = &a.key {
                f.push_header(header::IDEMPOTENCY_KEY, k.as_str());
            }
            self.send(&f, now);
        }
    }

    // ----- topics and chat sessions ----------------------------------------------

    fn retain_topic(&mut self, dest: &str, user: Option<UserTopic>, now: u64) {
        if let Some(t) = self.topics.iter_mut().find(|t| t.dest == dest) {
            t.refs += 1;
            if user.is_some() {
                t.user = user;
            }
            return;
        }
        let mut id = String::from(SUBSCRIPTION_ID_PREFIX);
        self.rng.push_uuid(&mut id);
        let receipt = self.new_receipt();
        let mut t = TopicSub {
            id,
            dest: dest.to_owned(),
            receipt,
            refs: 1,
            sent: false,
            confirmed: false,
            user,
        };
        if self.link == Link::Up {
            t.sent = true;
            let f = topic_frame(&t);
            self.send(&f, now);
        }
        self.topics.push(t);
    }

    fn release_topic(&mut self, dest: &str, now: u64) {
        let Some(i) = self.topics.iter().position(|t| t.dest == dest) else {
            return;
        };
        let t = &mut self.topics[i];
        t.refs = t.refs.saturating_sub(1);
        if t.refs > 0 || t.user.is_some() {
            return;
        }
        let t = self.topics.remove(i);
        if t.sent && self.link == Link::Up {
            let f = Frame::new(Command::Unsubscribe).with_header(header::ID, t.id);
            self.send(&f, now);
        }
    }

    fn confirmed(&self, dest: &Option<String>) -> bool {
        match dest {
            None => true,
            Some(d) => self.topics.iter().any(|t| &t.dest == d && t.confirmed),
        }
    }

    fn advance_chats(&mut self, now: u64) {
        let mut i = 0;
        while i < self.chats.len() {
            let chat = &self.chats[i];
            match chat.stage {
                Stage::SelfTopic if self.confirmed(&chat.topics[0]) => {
                    let rest: Vec<String> = chat.topics[1..].iter().flatten().cloned().collect();
                    self.chats[i].stage = Stage::Rest;
                    for d in rest {
                        self.retain_topic(&d, None, now);
                    }
                    continue; // re-check this chat: its topics may all be confirmed
                }
                Stage::Rest if chat.topics.iter().all(|d| self.confirmed(d)) => {
                    let id = chat.id;
                    self.chats[i].stage = Stage::Confirmed;
                    self.complete(id, Ok(Done::ChatReady));
                }
                _ => {}
            }
            i += 1;
        }
        self.recover(now);
    }

    /// Asks for the messages of each chat session whose recovery is due, once its
    /// messages topic is confirmed on this connection (so nothing published later can
    /// be missed): a page `after` its cursor, oldest messages first, while live events
    /// wait; without a cursor yet (`seed`), the newest message, to set one.
    fn recover(&mut self, now: u64) {
        for ci in 0..self.chats.len() {
            let c = &self.chats[ci];
            if c.recovery != Recovery::Due
                || c.stage != Stage::Confirmed
                || !self.confirmed(&c.topics[1])
            {
                continue;
            }
            let c = &mut self.chats[ci];
            let Some(mut dest) = c.relay.clone() else {
                continue;
            };
            // The position goes in the relay's query, as in page links (docs/protocol.md §9.2).
            dest.push('?');
            match c.after {
                Some(after) => {
                    let from = (1..=RECHECK.min(c.delivered))
                        .map(|k| c.seen[(c.delivered - k) % SEEN])
                        .fold(after, u64::min);
                    dest.push_str(RECOVERY_PAGE);
                    text::push_u64(&mut dest, from);
                    if !c.queue.iter().any(|q| q.seq == HOLD) {
                        c.queue.push(hold());
                    }
                }
                None => dest.push_str("size=1"),
            }
            c.recovery = Recovery::Asked;
            let purpose = Purpose::Recover {
                chat: c.id,
                seed: c.after.is_none(),
            };
            self.add_relay(dest, Rc::from([]), purpose);
        }
        self.flush_unsent(now);
    }

    /// A recovery relay answered with `page` (None: refused). A seed sets the cursor;
    /// otherwise the page's messages go, oldest first, before the entry holding live
    /// events back, and the newer page (`prev`, docs/protocol.md §9.3) is asked for while
    /// there is one.
    fn recovered(&mut self, chat: Id, seed: bool, page: Option<P>, now: u64) {
        let Some(ci) = self.chats.iter().position(|c| c.id == chat) else {
            return;
        };
        let items = page
            .as_ref()
            .and_then(|p| p.get("_embedded"))
            .and_then(|e| e.get("messages"))
            .unwrap_or_else(P::empty_array);
        let c = &mut self.chats[ci];
        c.recovery = Recovery::Idle;
        if seed {
            if page.is_some() {
                // Pages list the newest first.
                let newest = items.at(0).as_ref().and_then(message_id).unwrap_or(0);
                c.after = c.after.max(Some(newest));
            }
            return;
        }
        let mut at = c.queue.iter().position(|q| q.seq == HOLD).unwrap_or(0);
        for i in (0..items.array_len()).rev() {
            if let Some(mut m) = items.at(i) {
                self.map_file(&mut m);
                self.enqueue(ci, ChatEvent::ReceivedMessage, &m, at);
                at += 1;
            }
        }
        match page.and_then(|p| p.get_str(&["_relays", "prev"])) {
            Some(newer) => {
                self.chats[ci].recovery = Recovery::Asked;
                let purpose = Purpose::Recover { chat, seed };
                self.add_relay(newer, Rc::from([]), purpose);
            }
            None => {
                let q = &mut self.chats[ci].queue;
                if let Some(i) = q.iter().position(|q| q.seq == HOLD) {
                    q.remove(i);
                }
            }
        }
        self.flush_unsent(now);
        self.flush_chat(ci);
    }

    fn lookup_done(&mut self, chat: Id, seq: u64, resource: Option<P>) {
        let Some(ci) = self.chats.iter().position(|c| c.id == chat) else {
            return;
        };
        let mut resource = resource;
        if let Some(q) = self.chats[ci].queue.iter().find(|q| q.seq == seq) {
            if q.kind == ChatEvent::ReceivedMessage {
                if let Some(parent) = resource.as_mut() {
                    self.map_file(parent);
                }
            }
        }
        if let Some(q) = self.chats[ci].queue.iter_mut().find(|q| q.seq == seq) {
            q.waiting = false;
            match q.kind.lookup() {
                Lookup::Message => q.first = resource,
                _ => q.second = resource,
            }
        }
        self.flush_chat(ci);
    }

    fn flush_chat(&mut self, ci: usize) {
        let chat = &mut self.chats[ci];
        while chat.queue.first().is_some_and(|q| !q.waiting) {
            let q = chat.queue.remove(0);
            // A message delivered already (live and recovered) is dropped; the newest
            // delivered id is the recovery cursor.
            if let (Some(m), Some(_), ChatEvent::ReceivedMessage) = (&q.first, &chat.relay, q.kind)
            {
                if let Some(id) = message_id(m) {
                    if chat.seen.contains(&id) {
                        continue;
                    }
                    chat.seen[chat.delivered % SEEN] = id;
                    chat.delivered += 1;
                    chat.after = chat.after.max(Some(id));
                }
            }
            // An event whose message could not be fetched is dropped (nothing to show).
            if let Some(first) = q.first {
                self.events.push_back(Event::Chat {
                    session: chat.id,
                    kind: q.kind,
                    first,
                    second: q.second,
                });
            }
        }
    }

    // ----- helpers ---------------------------------------------------------------

    fn session_user(&self) -> Result<P, Misuse> {
        self.current_user().cloned().ok_or(Misuse::NoActiveSession)
    }

    fn new_id(&mut self) -> Id {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    fn new_receipt(&mut self) -> String {
        let mut r = String::from(RECEIPT_PREFIX);
        self.rng.push_uuid(&mut r);
        r
    }

    fn complete(&mut self, id: Id, result: Result<Done<P>, Failure<P>>) {
        self.done.push_back(Completion { id, result });
    }

    fn fail_now(&mut self, failure: Failure<P>) -> Id {
        let id = self.new_id();
        self.complete(id, Err(failure));
        id
    }

    fn send(&mut self, frame: &Frame, now: u64) {
        self.io.push_back(Io::Send(frame.encode_to_string()));
        self.last_tx = now;
    }

    fn add_relay(&mut self, dest: String, params: Rc<[(String, String)]>, purpose: Purpose) {
        let mut sub = String::from(SUBSCRIPTION_ID_PREFIX);
        self.rng.push_uuid(&mut sub);
        self.relays.push(RelayReq {
            sub,
            dest,
            params,
            purpose,
            sent: false,
        });
    }

    fn call_relay(
        &mut self,
        dest: String,
        params: Rc<[(String, String)]>,
        shape: Shape,
        now: u64,
    ) -> Id {
        let id = self.new_id();
        self.add_relay(dest, params, Purpose::Call(id, shape));
        self.flush_unsent(now);
        id
    }

    /// Queues an action; `idempotent` (message sends) gives it an `idempotency-key`,
    /// one per logical send, kept when it is sent again after a drop.
    fn call_action(
        &mut self,
        dest: String,
        body: String,
        mode: Mode<P>,
        idempotent: bool,
        now: u64,
    ) -> Id {
        let id = self.new_id();
        let receipt = self.new_receipt();
        let key = idempotent.then(|| {
            let mut k = String::new();
            self.rng.push_uuid(&mut k);
            k
        });
        let t = self.config.send_timeout_ms;
        self.actions.push(ActionReq {
            receipt,
            id,
            dest,
            body,
            mode,
            sent: false,
            key,
            deadline: if t == 0 { u64::MAX } else { now + t },
        });
        self.flush_unsent(now);
        id
    }

    /// Queues an upload of `file` to `stream` (docs/protocol.md §10.2).
    fn upload(
        &mut self,
        stream: &str,
        file: P,
        fields: Vec<(&'static str, String)>,
        request: &P,
        post: Post,
    ) -> Id {
        let id = self.new_id();
        let mut url = String::new();
        if !stream.starts_with("http:") && !stream.starts_with("https:") {
            url.push_str(if self.config.secure {
                "https://"
            } else {
                "http://"
            });
            url.push_str(&self.config.host);
            if !stream.starts_with('/') {
                url.push('/');
            }
        }
        url.push_str(stream);
        self.uploads.push_back(Upload {
            id,
            url,
            grant: self.write_grant.clone().unwrap_or_default(),
            file,
            fields,
            listener: request.get("progressListener"),
        });
        self.uploading.push((id, post));
        id
    }

    /// What a successful result goes through before it is delivered.
    fn post(&mut self, post: Post, mut resource: P) -> P {
        match post {
            Post::None => {}
            Post::MapFile => self.map_file(&mut resource),
            Post::SetUser => {
                if self.phase == Phase::Active {
                    self.user = Some(resource.clone());
                    self.events
                        .push_back(Event::CurrentUser(Some(resource.clone())));
                }
            }
        }
        resource
    }

    fn page_of(
        &self,
        resource: Option<P>,
        params: Rc<[(String, String)]>,
        kind: PageKind,
    ) -> Page<P> {
        let mut items = resource
            .as_ref()
            .and_then(|r| r.get("_embedded"))
            .and_then(|e| e.get(kind.content))
            .unwrap_or_else(P::empty_array);
        if kind.files {
            for i in 0..items.array_len() {
                if let Some(mut item) = items.at(i) {
                    self.map_file(&mut item);
                    items.set_at(i, item);
                }
            }
        }
        let rel = |name: &str| {
            resource
                .as_ref()
                .and_then(|r| r.get_str(&["_relays", name]))
        };
        Page {
            next: rel("next"),
            prev: rel("prev"),
            items,
            params,
            kind,
        }
    }

    /// Appends the read grant to `message.file.url` (docs/protocol.md §10.3), with `?` or `&`
    /// as the URL needs, once (the same object may be delivered to several handlers).
    fn map_file(&self, message: &mut P) {
        let Some(grant) = self.read_grant.as_deref().filter(|g| !g.is_empty()) else {
            return;
        };
        let Some(url) = message.get_str(&["file", "url"]) else {
            return;
        };
        let mapped = with_grant(&url, grant);
        if mapped != url {
            message.set_str(&["file", "url"], &mapped);
        }
    }
}

/// `url` with `grant=<grant>` appended (`?` or `&`), unless it already carries it.
pub fn with_grant(url: &str, grant: &str) -> String {
    let mut param = String::from("grant=");
    param.push_str(grant);
    let query = url
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or(""));
    if query.is_some_and(|q| q.split('&').any(|kv| kv == param)) {
        return url.to_owned();
    }
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let mut out = String::from(base);
    out.push(if query.is_some() { '&' } else { '?' });
    out.push_str(&param);
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

fn message_id<P: Payload>(m: &P) -> Option<u64> {
    m.get("id")?.as_number().map(|n| n as u64)
}

fn body<P: Payload>(frame: &Frame) -> Option<P> {
    P::parse(frame.body_str()?)
}

fn link<P: Payload>(resource: &P, kind: &str, name: &'static str) -> Result<String, Misuse> {
    resource
        .get_str(&[kind, name])
        .ok_or(Misuse::InvalidArgument(name))
}

fn action_frame(dest: &str, receipt: &str, body: &str) -> Frame {
    Frame::new(Command::Send)
        .with_header(header::DESTINATION, dest)
        .with_header(header::CONTENT_TYPE, header::JSON_UTF8)
        .with_header(header::RECEIPT, receipt)
        .with_body(body)
}

/// The queue entry that holds a chat session's live events back during recovery.
fn hold<P>() -> Queued<P> {
    Queued {
        seq: HOLD,
        kind: ChatEvent::ReceivedMessage,
        first: None,
        second: None,
        waiting: true,
    }
}

fn topic_frame(t: &TopicSub) -> Frame {
    Frame::new(Command::Subscribe)
        .with_header(header::ID, t.id.as_str())
        .with_header(header::RECEIPT, t.receipt.as_str())
        .with_header(header::ACK, ACK_CLIENT_INDIVIDUAL)
        .with_header(header::DESTINATION, t.dest.as_str())
}

fn relay_frame(r: &RelayReq) -> Frame {
    let mut f = Frame::new(Command::Subscribe);
    for (k, v) in r.params.iter() {
        f.push_header(k.as_str(), v.as_str());
    }
    f.push_header(header::ID, r.sub.as_str());
    f.push_header(header::DESTINATION, r.dest.as_str());
    f
}
