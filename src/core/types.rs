//! The core's vocabulary: what goes in ([`Config`]) and comes out ([`Io`],
//! [`Completion`], [`Event`], [`Misuse`]) of the client, the fixed names of the
//! connection, and the generator of the ids the parts give calls, subscriptions and
//! receipts.

use std::rc::Rc;

use chatkitty_protocol::error::names;

use super::events::{ChatEvent, UserEvent};
use super::text::{self, Rng};

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
/// Default reconnect backoff: first delay, cap.
pub const RECONNECT_MIN_MS: u64 = 1_000;
/// See [`RECONNECT_MIN_MS`].
pub const RECONNECT_MAX_MS: u64 = 30_000;
/// Default [`Config::send_timeout_ms`].
pub const SEND_TIMEOUT_MS: u64 = 30_000;

/// Prefix of SUBSCRIBE ids (docs/protocol.md §3.1).
const SUBSCRIPTION_ID_PREFIX: &str = "subscription-id-";
/// Prefix of receipts.
const RECEIPT_PREFIX: &str = "receipt-";

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
    /// `Client::handle_open` / `handle_data` / `handle_closed`.
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

/// What a call throws (or rejects with) when its link is absent (docs/api.md §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thrown {
    /// `ChannelNotPubliclyJoinableError` (joinChannel).
    NotPubliclyJoinable,
    /// `NotAChannelMemberError` (leaveChannel).
    NotAChannelMember,
    /// `CannotAddModeratorToChannel` (addChannelModerator).
    CannotAddModerator,
    /// `ChannelNotInvitableError` (inviteUser).
    NotInvitable,
}

impl Thrown {
    /// The `error` name, the text around the channel's name in `message`.
    pub const fn text(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Thrown::NotPubliclyJoinable => (
                names::CHANNEL_NOT_PUBLICLY_JOINABLE,
                "The channel ",
                " can't be joined without an invite.",
            ),
            Thrown::NotAChannelMember => (
                names::NOT_A_CHANNEL_MEMBER,
                "You are not a member of channel ",
                ".",
            ),
            Thrown::CannotAddModerator => (
                "CannotAddModeratorToChannel",
                "The channel ",
                " is not a group channel and cannot have moderators.",
            ),
            Thrown::NotInvitable => (
                names::CHANNEL_NOT_INVITABLE,
                "The channel ",
                " does not accept invites.",
            ),
        }
    }
}

/// What is done with a successful result besides resolving the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Post {
    /// Nothing.
    None,
    /// Messages: the read grant goes into `file.url` (docs/protocol.md §10.3).
    MapFile,
    /// The CurrentUser: `currentUser` is replaced and observers hear (docs/api.md §13).
    SetUser,
}

/// The ids the client hands out: call ids counting up from 1, and random UUIDs for
/// subscription ids, receipts and idempotency keys (unique per connection; a seed
/// keeps tests reproducible).
#[derive(Debug)]
pub(crate) struct Ids {
    rng: Rng,
    next: Id,
}

impl Ids {
    pub(crate) fn new(seed: u64) -> Ids {
        Ids {
            rng: Rng::new(seed),
            next: 1,
        }
    }

    /// The next call id (never 0).
    pub(crate) fn call(&mut self) -> Id {
        let id = self.next;
        self.next = self.next.wrapping_add(1).max(1);
        id
    }

    /// `subscription-id-<uuid>`.
    pub(crate) fn subscription(&mut self) -> String {
        self.prefixed(SUBSCRIPTION_ID_PREFIX)
    }

    /// `receipt-<uuid>`.
    pub(crate) fn receipt(&mut self) -> String {
        self.prefixed(RECEIPT_PREFIX)
    }

    /// A bare UUID (idempotency keys).
    pub(crate) fn uuid(&mut self) -> String {
        self.prefixed("")
    }

    /// 64 random bits (reconnect jitter).
    pub(crate) fn random(&mut self) -> u64 {
        self.rng.next_u64()
    }

    fn prefixed(&mut self, prefix: &str) -> String {
        let mut s = String::from(prefix);
        self.rng.push_uuid(&mut s);
        s
    }
}
