//! The sans-IO client core: the whole STOMP session of one `ChatKitty` instance.
//!
//! [`Client`] performs no I/O, reads no clock and touches no JS. It is driven through
//! four kinds of methods, in the manner of quinn-proto's `Connection`:
//!
//! - **inputs** `handle_*`: the socket opened, data arrived, the socket closed, a timer
//!   fired — each with the current time `now` in milliseconds;
//! - **API calls** (`start_session`, [`Client::call`] for a row of the [`OPS`] table,
//!   `start_chat_session`, …): each returns at once with an [`Id`] whose
//!   [`Completion`] comes out later, or a [`Misuse`] the caller throws synchronously;
//! - **outputs** `poll_*`: [`Io`] to perform (open/send/close), the next timer
//!   deadline, [`Completion`]s of calls, and [`Event`]s to hand to app callbacks;
//! - getters (`current_user`).
//!
//! After any input or call the driver drains every `poll_*` queue. Because events are
//! queued rather than delivered from inside the core, the driver can call app callbacks
//! with no borrow of the core held, and a callback may call straight back in.
//!
//! # Layout
//!
//! `Client` is a façade over its parts; each owns its state and its deadlines in the
//! timer table, and dependencies run one way (types, timer and out at the bottom):
//!
//! - `types`: the public vocabulary (config, I/O, completions, events) and the ids;
//! - `timer`: the timer table; `poll_timeout` is its earliest deadline;
//! - `out`: the queues the driver polls, with the timer table;
//! - `link`: connecting, heart-beats, reconnects with backoff and jitter, the goodbye;
//! - `requests`: relay and action correlation, the offline queue, send timeouts;
//! - `topics`: topic subscriptions shared by reference count;
//! - `chats`: chat sessions, their event queues and gap recovery;
//! - `keystrokes`: keystroke debouncing;
//! - `uploads`: the grants, uploads and read-grant URLs;
//! - [`ops`]: the API calls as a table; `events`: which handler an event runs;
//!   [`payload`]: the JSON the core routes on; [`text`]: small encoders.
//!
//! Decisions made here, with their docs/protocol.md sections: the CONNECT headers (2.4),
//! the pipelined start-up (4.1: the current user, the errors queue and both grants are
//! requested together right behind CONNECT, which the server answers in order; the ten
//! user topics as soon as the user arrives, so a session starts one round trip after
//! the socket opens), relay and action correlation (3.1, 3.3, 3.5), topic subscriptions
//! shared per destination so each event reaches each handler set once (3.2, 16.5),
//! chat-session sequencing (4.4), heart-beats (2.7), reconnects with backoff and
//! resubscription (4.2), keystroke debouncing per destination (11.1, docs/api.md §13)
//! and read-grant URL mapping (10.3).
//!
//! Reliability beyond the official client (which waits 5 s, then resubscribes and
//! forgets what it missed): reconnects back off exponentially with jitter between
//! configured bounds; each chat session with `onReceivedMessage` recovers the messages
//! it missed (see `chats`); actions made offline wait for the connection, every action
//! fails with a timeout after [`Config::send_timeout_ms`], and message sends carry an
//! `idempotency-key` so the ones in flight at a drop are sent again rather than failed.
//!
//! ACK frames are never sent: the server treats ACK as a no-op and must not gate
//! delivery on it (docs/protocol.md §3.2, 16.4), so an ACK per event would only cost
//! traffic.

mod chats;
mod events;
mod keystrokes;
mod link;
pub mod ops;
mod out;
pub mod payload;
mod requests;
pub mod text;
mod timer;
mod topics;
mod types;
mod uploads;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

use std::rc::Rc;

use chatkitty_protocol::destination::UserTopic;
use chatkitty_protocol::error::names;
use chatkitty_protocol::{header, Command, Frame, Item};

use chats::{Chats, Cx};
use keystrokes::Keystrokes;
use link::{Link, Phase, State};
use out::Out;
use requests::{page_of, Action, Mode, Purpose, Relay, Requests, Shape};
use text::push_json_string;
use timer::Timer;
use topics::Topics;
use types::{Ids, Post};
use uploads::Uploads;

pub use events::{ChatEvent, UserEvent};
pub use ops::{Call, JsMethod, Op, Spec, JS, OPS};
pub use payload::Payload;
pub use types::{
    Completion, Config, Done, Event, Failure, Id, Io, Misuse, Page, PageKind, Thrown,
    API_KEY_PARAM, DEFAULT_HOST, RECONNECT_MAX_MS, RECONNECT_MIN_MS, SEND_TIMEOUT_MS, SUBPROTOCOL,
    USER_AGENT, WEBSOCKET_PATH,
};
pub use uploads::{with_grant, Upload};

/// The client state machine. See the module docs.
#[derive(Debug)]
pub struct Client<P: Payload> {
    config: Config,
    ids: Ids,
    link: Link,
    /// The current user, once the start-up fetched it.
    user: Option<P>,
    requests: Requests<P>,
    topics: Topics,
    chats: Chats<P>,
    keystrokes: Keystrokes,
    uploads: Uploads<P>,
    out: Out<P>,
}

impl<P: Payload> Client<P> {
    /// A client for `config`; `seed` feeds the id generator.
    pub fn new(config: Config, seed: u64) -> Client<P> {
        let mut ids = Ids::new(seed);
        Client {
            config,
            requests: Requests::new(&mut ids),
            ids,
            link: Link::new(),
            user: None,
            topics: Topics::default(),
            chats: Chats::new(),
            keystrokes: Keystrokes::default(),
            uploads: Uploads::new(),
            out: Out::new(),
        }
    }

    // ----- getters ---------------------------------------------------------------

    /// The current user while a session is active.
    pub fn current_user(&self) -> Option<&P> {
        if self.link.phase == Phase::Active {
            self.user.as_ref()
        } else {
            None
        }
    }

    /// Whether a session is wanted (from `startSession` until `endSession` or a failed
    /// start) or a socket is still open or closing: while it is, socket and timer
    /// events can still reach the app, so the driver must keep the client alive.
    pub fn is_live(&self) -> bool {
        self.link.phase != Phase::Idle || self.link.state() != State::Down
    }

    /// The sizes of the core's tables — topics, relays, actions, chat sessions, queued
    /// chat events — for leak tests.
    pub fn table_sizes(&self) -> [usize; 5] {
        let (relays, actions) = self.requests.sizes();
        [
            self.topics.len(),
            relays,
            actions,
            self.chats.list.len(),
            self.chats.queued(),
        ]
    }

    // ----- outputs ---------------------------------------------------------------

    /// The next I/O to perform.
    pub fn poll_io(&mut self) -> Option<Io> {
        self.out.poll_io()
    }

    /// The next completed call.
    pub fn poll_completion(&mut self) -> Option<Completion<P>> {
        self.out.poll_completion()
    }

    /// The next event for app callbacks.
    pub fn poll_event(&mut self) -> Option<Event<P>> {
        self.out.poll_event()
    }

    /// The next HTTP upload to perform.
    pub fn poll_upload(&mut self) -> Option<Upload<P>> {
        self.uploads.poll()
    }

    /// When [`Client::handle_timeout`] must be called next (ms), if at all: the
    /// earliest deadline of the timer table.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.out.timers.next()
    }

    // ----- inputs ----------------------------------------------------------------

    /// The socket opened: send CONNECT (docs/protocol.md §2.4) and the start-up frames
    /// (§4.1 steps 4–10: current user, errors queue, grants), pipelined right behind
    /// it instead of waiting for CONNECTED: the server handles a connection's frames
    /// in order, so they are answered after it, and `startSession` resolves one round
    /// trip after the socket opens. Refused CONNECTs close the socket, and these go
    /// with it.
    pub fn handle_open(&mut self, now: u64) {
        if self.link.connect(&mut self.out, now) {
            let held = (
                self.uploads.write_grant.is_some(),
                self.uploads.read_grant.is_some(),
            );
            self.requests
                .start_up(&mut self.ids, held, &mut self.out, now);
        }
    }

    /// Bytes (a text or binary WebSocket message) arrived.
    pub fn handle_data(&mut self, data: &[u8], now: u64) {
        if !self.link.receive(data, &mut self.out, now) {
            return;
        }
        loop {
            match self.link.decode() {
                Ok(Some(Item::Frame(frame))) => {
                    self.handle_frame(frame, now);
                    if self.link.is_down() {
                        return;
                    }
                }
                Ok(Some(Item::Heartbeat)) => {}
                Ok(None) => return,
                Err(_) => {
                    self.out.close();
                    self.lost(now);
                    return;
                }
            }
        }
    }

    /// The socket closed (or failed to open).
    pub fn handle_closed(&mut self, now: u64) {
        match self.link.state() {
            State::Down | State::Retry => {}
            State::Closing(id) => self.finish_end(id),
            _ => self.lost(now),
        }
    }

    /// A timer fired: runs every timer of the table that is due, in `Timer::ALL`
    /// order.
    pub fn handle_timeout(&mut self, now: u64) {
        for timer in Timer::ALL {
            if self.out.timers.expire(timer, now) {
                self.fire(timer, now);
            }
        }
    }

    /// An upload finished with HTTP `status` (0: no answer) and response `body`.
    /// Returns whether it succeeded (a 2xx JSON resource), for the progress
    /// listener's `onCompleted` (docs/api.md §2.6). The response body is the resource itself,
    /// with no envelope (docs/protocol.md §3.4).
    pub fn handle_upload(&mut self, id: Id, status: u16, body: &str) -> bool {
        let Some(post) = self.uploads.finish(id) else {
            return false;
        };
        let parsed = P::parse(body).filter(|_| !body.is_empty());
        match parsed {
            Some(resource) if (200..300).contains(&status) => {
                let result = self.post(post, resource);
                self.out.complete(id, Ok(Done::Resource(Some(result))));
                true
            }
            parsed => {
                let failure = Failure::Http {
                    status,
                    body: parsed,
                };
                self.out.complete(id, Err(failure));
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
        if self.link.phase != Phase::Idle {
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
        if let State::Closing(end) = self.link.state() {
            // A new session while the previous one is still saying goodbye.
            self.out.close();
            self.finish_end(end);
        }
        let id = self.ids.call();
        self.out.event(Event::Offline);
        self.link
            .sign_in(id, username, auth_params, &self.config, &mut self.out, now);
        Ok(id)
    }

    /// `endSession()`: DISCONNECT with a receipt, close when it arrives (or after the
    /// disconnect timeout), complete with [`Done::Closed`].
    pub fn end_session(&mut self, now: u64) -> Id {
        let id = self.ids.call();
        if let Phase::Starting(start) = self.link.phase {
            self.out.complete(start, Err(Failure::Connection));
        }
        match self.link.state() {
            State::Up => self.link.disconnect(id, &mut self.out, now),
            State::Closing(_) => {
                // Already ending: both calls complete when the socket closes.
                if let Some(previous) = self.link.disconnect_again(id) {
                    self.out.complete(previous, Ok(Done::Closed));
                }
            }
            State::Down | State::Retry => self.finish_end(id),
            State::Opening | State::Connecting => {
                self.out.close();
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
        let dest = ops::hyperlink(&target, "_actions", "keystrokes")?;
        let keys = request
            .get("keys")
            .and_then(|k| k.as_string())
            .ok_or(Misuse::Expected("keys must be a string"))?;
        let mut body = String::from("{\"keys\":");
        push_json_string(&mut body, &keys);
        body.push('}');
        self.keystrokes.set(dest, body, now, &mut self.out.timers);
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
        let (chats, mut cx) = self.parts(now);
        chats.start(request, &mut cx)
    }

    /// `session.end()`: removes the handler set and unsubscribes the topics no other
    /// chat session uses, including subscriptions still pending (docs/api.md §13). A no-op
    /// for an unknown or already ended session.
    pub fn end_chat_session(&mut self, id: Id, now: u64) {
        let (chats, mut cx) = self.parts(now);
        chats.end(id, &mut cx);
    }

    /// `session.setThread(thread)`: the chat session follows `thread`, subscribing its
    /// `messages`, `keystrokes` and `typing` topics and leaving the previous thread's
    /// (docs/api.md §13: the official client subscribes nothing). The topics are left on
    /// `end()` too. A no-op for an ended session.
    ///
    /// # Errors
    /// [`Misuse::Expected`] when `thread` is not an object with `_topics`.
    pub fn set_thread(&mut self, chat: Id, thread: &P, now: u64) -> Result<(), Misuse> {
        let (chats, mut cx) = self.parts(now);
        chats.set_thread(chat, thread, &mut cx)
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
        // The start-up frames went out behind CONNECT (`handle_open`); what was
        // queued while offline goes now.
        if self.link.connected(frame, &mut self.out, now) {
            self.flush_unsent(now);
        }
    }

    /// A MESSAGE: an error on the errors queue, a relay's answer, or a topic event —
    /// which may complete the action whose receipt it carries (3.3), feed an instance
    /// observer, and go to the chat sessions.
    fn on_message(&mut self, frame: &Frame, now: u64) {
        let Some(sub) = frame.header(header::SUBSCRIPTION) else {
            return;
        };
        if sub == self.requests.errors_sub {
            return self.on_queued_error(frame, now);
        }
        if let Some(relay) = self.requests.take_relay(sub) {
            let resource = body::<P>(frame).and_then(|b| b.get("resource"));
            return self.on_relay_answer(relay, resource, now);
        }
        let Some(topic) = self.topics.by_subscription(sub) else {
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
            let timers = &mut self.out.timers;
            if let Some(action) = self.requests.take_event_answer(receipt, &ty, timers) {
                let post = match action.mode {
                    Mode::Event(p) => p,
                    _ => Post::None,
                };
                let result = self.post(post, resource.clone());
                self.out
                    .complete(action.id, Ok(Done::Resource(Some(result))));
            }
        }
        if let Some(kind) = user_topic.and_then(|ut| UserEvent::route(ut, &ty)) {
            let value = resource.clone();
            self.out.event(Event::User { kind, value });
        }
        let (chats, mut cx) = self.parts(now);
        chats.dispatch(&topic_dest, &ty, &mut resource, &mut cx);
    }

    fn on_relay_answer(&mut self, relay: Relay, resource: Option<P>, now: u64) {
        match relay.purpose {
            Purpose::User => self.user_arrived(resource, now),
            Purpose::WriteGrant | Purpose::ReadGrant => {
                let grant = resource
                    .and_then(|r| r.get("grant"))
                    .and_then(|g| g.as_string())
                    .unwrap_or_default();
                if matches!(relay.purpose, Purpose::WriteGrant) {
                    self.uploads.write_grant = Some(grant);
                } else {
                    self.uploads.read_grant = Some(grant);
                }
                self.check_started();
            }
            Purpose::Call(id, shape) => {
                let result = match shape {
                    Shape::Plain => Done::Resource(resource),
                    Shape::Field(f) => Done::Resource(resource.and_then(|r| r.get(f))),
                    Shape::Page(kind) => {
                        Done::Page(page_of(resource, relay.params, kind, &self.uploads))
                    }
                };
                self.out.complete(id, Ok(result));
            }
            Purpose::Lookup { chat, seq } => {
                let (chats, mut cx) = self.parts(now);
                chats.looked_up(chat, seq, resource, &mut cx);
            }
            Purpose::Recover { chat, seed } => {
                let (chats, mut cx) = self.parts(now);
                chats.recovered(chat, seed, resource, &mut cx);
            }
        }
    }

    /// The start-up's current user arrived: the ten user topics, in the official
    /// order, are subscribed once per session (4.1 step 11).
    fn user_arrived(&mut self, user: Option<P>, now: u64) {
        let Some(user) = user else {
            return self.fail_start(Failure::Unknown);
        };
        self.user = Some(user.clone());
        if self.link.phase == Phase::Active {
            self.out.event(Event::CurrentUser(Some(user.clone())));
        }
        if !self.topics.has_user_topics() {
            let up = self.link.is_up();
            for ut in UserTopic::ALL {
                if let Some(d) = user.get_str(&["_topics", ut.link_name()]) {
                    let (ids, out) = (&mut self.ids, &mut self.out);
                    self.topics.retain(&d, Some(*ut), ids, up, out, now);
                }
            }
        }
        self.check_started();
    }

    /// An error on the errors queue: it fails the relay, the topic's waiting chat
    /// sessions or the action it names (3.5); without a correlation header, every
    /// action sent.
    fn on_queued_error(&mut self, frame: &Frame, now: u64) {
        let failure = match body::<P>(frame) {
            Some(e) => Failure::Server(e),
            None => Failure::Unknown,
        };
        if let Some(sid) = frame.header(header::SUBSCRIPTION_ID) {
            if let Some(relay) = self.requests.take_relay(sid) {
                self.relay_refused(relay, failure, now);
            } else if let Some(dest) = self.topics.refused(sid) {
                self.chats.refused(&dest, &failure, &mut self.out);
            }
            return;
        }
        if let Some(rid) = frame.header(header::RECEIPT_ID) {
            if let Some(action) = self.requests.take_refused(rid, &mut self.out.timers) {
                self.out.complete(action.id, Err(failure));
            }
            return;
        }
        self.requests.fail_sent(failure, &mut self.out, now);
    }

    fn relay_refused(&mut self, relay: Relay, failure: Failure<P>, now: u64) {
        match relay.purpose {
            Purpose::Call(id, _) => self.out.complete(id, Err(failure)),
            Purpose::User | Purpose::WriteGrant | Purpose::ReadGrant => {
                if matches!(self.link.phase, Phase::Starting(_)) {
                    self.fail_start(failure);
                }
            }
            Purpose::Lookup { chat, seq } => {
                let (chats, mut cx) = self.parts(now);
                chats.looked_up(chat, seq, None, &mut cx);
            }
            // Recovery refused: stop holding live events back.
            Purpose::Recover { chat, .. } => {
                let (chats, mut cx) = self.parts(now);
                chats.recovered(chat, false, None, &mut cx);
            }
        }
    }

    fn on_receipt(&mut self, receipt: &str, now: u64) {
        if let Some(id) = self.link.disconnected(receipt) {
            self.out.close();
            return self.finish_end(id);
        }
        if self.topics.confirm(receipt) {
            let (chats, mut cx) = self.parts(now);
            return chats.advance(&mut cx);
        }
        let timers = &mut self.out.timers;
        if let Some(action) = self.requests.take_receipt_answer(receipt, timers) {
            if let Mode::Receipt(echo) = action.mode {
                self.out.complete(action.id, Ok(Done::Resource(echo)));
            }
        }
    }

    fn on_error_frame(&mut self, frame: &Frame, now: u64) {
        let error = body::<P>(frame);
        let access_denied = error
            .as_ref()
            .and_then(|e| e.get_str(&["error"]))
            .is_some_and(|e| e == names::ACCESS_DENIED);
        self.out.close();
        if let Phase::Starting(_) = self.link.phase {
            self.link.down(&mut self.out);
            self.fail_start(match error {
                Some(e) => Failure::Server(e),
                None => Failure::Unknown,
            });
        } else if access_denied {
            // Deactivate: no reconnect after an AccessDeniedError (2.6).
            self.link.down(&mut self.out);
            self.teardown(true);
        } else {
            // The server closes after ERROR (e.g. it is shutting down): reconnect as
            // after any loss, telling `onCurrentUserOffline` (the link is still up
            // here, so the link sees a connection that was up).
            self.lost(now);
        }
    }

    // ----- the session -----------------------------------------------------------

    fn fire(&mut self, timer: Timer, now: u64) {
        match timer {
            Timer::Reconnect => self.link.open(&self.config, &mut self.out, now),
            Timer::Connect | Timer::Idle => {
                self.out.close();
                self.lost(now);
            }
            Timer::Disconnect => {
                if let State::Closing(id) = self.link.state() {
                    self.out.close();
                    self.finish_end(id);
                }
            }
            Timer::KeepAlive => self.out.write(String::from("\n"), now),
            Timer::SendTimeout => self.requests.expire(now, &mut self.out),
            Timer::Keystrokes => {
                let up = self.link.is_up();
                self.keystrokes.flush(now, up, &mut self.ids, &mut self.out);
            }
        }
    }

    /// The connection is gone (already closed or `Io::Close` issued): every part
    /// waits for the next one, and the link reconnects (or the start fails).
    fn lost(&mut self, now: u64) {
        self.requests.lost(&mut self.out, now);
        self.topics.lost();
        self.chats.lost();
        if self
            .link
            .lost(&self.config, &mut self.ids, &mut self.out, now)
        {
            self.fail_start(Failure::Connection);
        }
    }

    fn fail_start(&mut self, failure: Failure<P>) {
        let Phase::Starting(id) = self.link.phase else {
            return;
        };
        if self.link.state() != State::Down {
            self.out.close();
            self.link.down(&mut self.out);
        }
        self.teardown(false);
        self.out.complete(id, Err(failure));
        self.out.event(Event::Offline);
    }

    fn check_started(&mut self) {
        if let Phase::Starting(id) = self.link.phase {
            let grants = (&self.uploads.write_grant, &self.uploads.read_grant);
            if let (Some(user), (Some(_), Some(_))) = (&self.user, grants) {
                let user = user.clone();
                self.link.phase = Phase::Active;
                self.out.event(Event::CurrentUser(Some(user.clone())));
                self.out.complete(id, Ok(Done::Session(user)));
            }
        }
    }

    fn finish_end(&mut self, id: Id) {
        self.link.down(&mut self.out);
        self.teardown(true);
        self.out.complete(id, Ok(Done::Closed));
    }

    /// Forgets the session. `ended` (endSession, access denied) also drops chat
    /// sessions and fails calls that were sent and will never be answered; a failed
    /// start keeps the calls and chat sessions still waiting for a connection.
    fn teardown(&mut self, ended: bool) {
        let was_active = self.link.phase == Phase::Active;
        self.link.forget();
        self.user = None;
        self.uploads.write_grant = None;
        self.uploads.read_grant = None;
        self.keystrokes.clear(&mut self.out.timers);
        self.requests.teardown(ended, &mut self.out);
        self.topics.teardown(ended);
        if ended {
            self.chats.end_all(&mut self.out);
        }
        if was_active {
            self.out.event(Event::CurrentUser(None));
            self.out.event(Event::Offline);
        }
    }

    // ----- helpers ---------------------------------------------------------------

    /// The chat sessions, and what they use of the other parts.
    fn parts(&mut self, now: u64) -> (&mut Chats<P>, Cx<'_, P>) {
        let cx = Cx {
            up: self.link.is_up(),
            topics: &mut self.topics,
            requests: &mut self.requests,
            ids: &mut self.ids,
            out: &mut self.out,
            files: &self.uploads,
            now,
        };
        (&mut self.chats, cx)
    }

    /// Sends everything that waited for a connection (when there is one).
    fn flush_unsent(&mut self, now: u64) {
        self.parts(now).1.flush();
    }

    fn session_user(&self) -> Result<P, Misuse> {
        self.current_user().cloned().ok_or(Misuse::NoActiveSession)
    }

    fn fail_now(&mut self, failure: Failure<P>) -> Id {
        let id = self.ids.call();
        self.out.complete(id, Err(failure));
        id
    }

    fn call_relay(
        &mut self,
        dest: String,
        params: Rc<[(String, String)]>,
        shape: Shape,
        now: u64,
    ) -> Id {
        let id = self.ids.call();
        let purpose = Purpose::Call(id, shape);
        self.requests
            .add_relay(&mut self.ids, dest, params, purpose);
        self.flush_unsent(now);
        id
    }

    /// Queues an action; `key` (message sends) is its `idempotency-key`.
    fn call_action(
        &mut self,
        dest: String,
        body: String,
        mode: Mode<P>,
        key: Option<String>,
        now: u64,
    ) -> Id {
        let id = self.ids.call();
        let t = self.config.send_timeout_ms;
        let deadline = (t > 0).then(|| now + t);
        let action = Action::new(id, &mut self.ids, dest, body, mode, key, deadline);
        self.requests.add_action(action, &mut self.out.timers);
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
        let id = self.ids.call();
        let upload = Upload {
            id,
            url: uploads::url(&self.config, stream),
            grant: String::new(),
            file,
            fields,
            listener: request.get("progressListener"),
        };
        self.uploads.start(upload, post);
        id
    }

    /// What a successful result goes through before it is delivered.
    fn post(&mut self, post: Post, mut resource: P) -> P {
        match post {
            Post::None => {}
            Post::MapFile => self.uploads.map_file(&mut resource),
            Post::SetUser => {
                if self.link.phase == Phase::Active {
                    self.user = Some(resource.clone());
                    self.out.event(Event::CurrentUser(Some(resource.clone())));
                }
            }
        }
        resource
    }
}

/// A frame's JSON body.
fn body<P: Payload>(frame: &Frame) -> Option<P> {
    P::parse(frame.body_str()?)
}
