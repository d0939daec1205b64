//! The link: the one STOMP session of a client over one socket at a time. It opens the
//! socket and sends CONNECT with the user's credentials (docs/protocol.md §2.4),
//! negotiates heart-beats and holds the server to them (2.7), reconnects after a loss
//! with exponential backoff and jitter (4.2), and says goodbye for `endSession` (2.8,
//! 4.3). Its deadlines are the link timers of the [`TimerTable`]. What a loss or an
//! end means for calls and chat sessions is the client's to decide.

use chatkitty_protocol::{header, Command, DecodeError, Decoder, Frame, Item};

use super::out::Out;
use super::text;
use super::timer::Timer;
use super::types::{Config, Event, Id, Ids, USER_AGENT};

/// What we offer in CONNECT: send every 60 s, want to hear every 10 s (docs/protocol.md §2.4).
const HEART_BEAT: &str = "60000,10000";
const OFFER_OUT_MS: u64 = 60_000;
const OFFER_IN_MS: u64 = 10_000;
/// CONNECTED must arrive this long after the attempt started (docs/protocol.md §2.7).
const CONNECT_TIMEOUT_MS: u64 = 60_000;
/// How long `endSession` waits for the DISCONNECT receipt before closing anyway.
const DISCONNECT_TIMEOUT_MS: u64 = 5_000;
/// Prefix of the DISCONNECT receipt (docs/protocol.md §2.8).
const CLOSE_RECEIPT_PREFIX: &str = "close-";

/// Whether a session is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No session wanted.
    Idle,
    /// `startSession` (this call) in progress.
    Starting(Id),
    /// Session started: reconnect on loss.
    Active,
}

/// Where the socket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// No socket.
    Down,
    /// No socket; open one when [`Timer::Reconnect`] fires.
    Retry,
    /// `Io::Open` issued; waiting for the socket to open.
    Opening,
    /// CONNECT sent; waiting for CONNECTED.
    Connecting,
    /// STOMP session open.
    Up,
    /// DISCONNECT sent for `endSession` (this call); close at [`Timer::Disconnect`].
    Closing(Id),
}

/// The session's connection.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) phase: Phase,
    state: State,
    decoder: Decoder,
    username: String,
    /// `StompX-Auth-Params`, Base64 (docs/protocol.md §2.4).
    auth_params: Option<String>,
    /// The server's session id, resumed on reconnect (`StompX-Auth-Session-ID`).
    session: Option<String>,
    /// Failed attempts since the last connection (the backoff's exponent).
    attempts: u32,
    /// The server's heart-beat interval we hold it to (0: none).
    idle: u64,
    disconnect_receipt: String,
}

impl Link {
    pub(crate) fn new() -> Link {
        Link {
            phase: Phase::Idle,
            state: State::Down,
            decoder: Decoder::default(),
            username: String::new(),
            auth_params: None,
            session: None,
            attempts: 0,
            idle: 0,
            disconnect_receipt: String::new(),
        }
    }

    pub(crate) fn state(&self) -> State {
        self.state
    }

    /// Whether the STOMP session is open.
    pub(crate) fn is_up(&self) -> bool {
        self.state == State::Up
    }

    /// Whether there is no socket (none, or waiting to reconnect).
    pub(crate) fn is_down(&self) -> bool {
        matches!(self.state, State::Down | State::Retry)
    }

    /// `startSession` call `id` for `username`: the next CONNECT signs them in, as a new
    /// session; the socket opens now unless one is open or opening.
    pub(crate) fn sign_in<P>(
        &mut self,
        id: Id,
        username: String,
        auth_params: Option<String>,
        config: &Config,
        out: &mut Out<P>,
        now: u64,
    ) {
        self.username = username;
        self.auth_params = auth_params;
        self.session = None;
        self.phase = Phase::Starting(id);
        if self.is_down() {
            self.attempts = 0;
            self.open(config, out, now);
        }
    }

    /// Opens a socket; it must be connected within the connection timeout.
    pub(crate) fn open<P>(&mut self, config: &Config, out: &mut Out<P>, now: u64) {
        out.open(config.url());
        self.enter(State::Opening, out);
        out.timers.set(Timer::Connect, now + CONNECT_TIMEOUT_MS);
    }

    /// The socket opened: sends CONNECT (docs/protocol.md §2.4). Returns false when no
    /// socket was opening.
    pub(crate) fn connect<P>(&mut self, out: &mut Out<P>, now: u64) -> bool {
        if self.state != State::Opening {
            return false;
        }
        // The connection timeout runs on from the opening.
        self.state = State::Connecting;
        self.decoder = Decoder::default();
        let mut f = Frame::new(Command::Connect)
            .with_header(header::STOMPX_USER, self.username.as_str())
            .with_header(header::STOMPX_USER_AGENT, USER_AGENT);
        if let Some(auth) = &self.auth_params {
            f.push_header(header::STOMPX_AUTH_PARAMS, auth.as_str());
        }
        if let Some(session) = &self.session {
            f.push_header(header::STOMPX_AUTH_SESSION_ID, session.as_str());
        }
        f.push_header(header::ACCEPT_VERSION, header::STOMP_VERSION);
        f.push_header(header::HEART_BEAT, HEART_BEAT);
        out.send(&f, now);
        true
    }

    /// CONNECTED: the link is up; heart-beats as negotiated (STOMP 1.2
    /// "Heart-beating"; docs/protocol.md §2.7). Returns false when none was expected.
    pub(crate) fn connected<P>(&mut self, frame: &Frame, out: &mut Out<P>, now: u64) -> bool {
        if self.state != State::Connecting {
            return false;
        }
        self.enter(State::Up, out);
        self.attempts = 0;
        self.session = frame.header(header::SESSION).map(str::to_owned);
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
        out.keep_alive(if sy == 0 { 0 } else { OFFER_OUT_MS.max(sy) });
        self.idle = if sx == 0 { 0 } else { OFFER_IN_MS.max(sx) };
        self.heard(out, now);
        out.event(Event::Online);
        true
    }

    /// Bytes arrived; false when there is no connection to take them.
    pub(crate) fn receive<P>(&mut self, data: &[u8], out: &mut Out<P>, now: u64) -> bool {
        if matches!(self.state, State::Down | State::Retry | State::Opening) {
            return false;
        }
        if self.is_up() {
            self.heard(out, now);
        }
        self.decoder.push(data);
        true
    }

    /// The next frame or heart-beat of what arrived.
    pub(crate) fn decode(&mut self) -> Result<Option<Item>, DecodeError> {
        self.decoder.decode()
    }

    /// The connection is gone (already closed, or `Io::Close` issued). Reconnects an
    /// active session after the backoff, telling `onCurrentUserOffline` if it was up.
    /// Returns true when a starting session must fail instead.
    pub(crate) fn lost<P>(
        &mut self,
        config: &Config,
        ids: &mut Ids,
        out: &mut Out<P>,
        now: u64,
    ) -> bool {
        let was_up = self.is_up();
        self.decoder = Decoder::default();
        match self.phase {
            Phase::Starting(_) => {
                self.enter(State::Down, out);
                return true;
            }
            Phase::Active => {
                let delay = self.backoff(config, ids);
                self.enter(State::Retry, out);
                out.timers.set(Timer::Reconnect, now + delay);
                if was_up {
                    out.event(Event::Offline);
                }
            }
            Phase::Idle => self.enter(State::Down, out),
        }
        false
    }

    /// `endSession` call `id` on an open link: DISCONNECT with a receipt; the socket
    /// closes when it comes, or at the disconnect timeout.
    pub(crate) fn disconnect<P>(&mut self, id: Id, out: &mut Out<P>, now: u64) {
        self.disconnect_receipt = String::from(CLOSE_RECEIPT_PREFIX);
        text::push_u64(&mut self.disconnect_receipt, id as u64);
        let f = Frame::new(Command::Disconnect)
            .with_header(header::RECEIPT, self.disconnect_receipt.as_str());
        out.send(&f, now);
        self.enter(State::Closing(id), out);
        out.timers
            .set(Timer::Disconnect, now + DISCONNECT_TIMEOUT_MS);
    }

    /// `endSession` call `id` while closing already: it takes the place of the previous
    /// call, which is returned; the deadline stays.
    pub(crate) fn disconnect_again(&mut self, id: Id) -> Option<Id> {
        match self.state {
            State::Closing(previous) => {
                self.state = State::Closing(id);
                Some(previous)
            }
            _ => None,
        }
    }

    /// The `endSession` call whose DISCONNECT `receipt` answers.
    pub(crate) fn disconnected(&self, receipt: &str) -> Option<Id> {
        match self.state {
            State::Closing(id) if receipt == self.disconnect_receipt => Some(id),
            _ => None,
        }
    }

    /// No socket any more, and none wanted.
    pub(crate) fn down<P>(&mut self, out: &mut Out<P>) {
        self.enter(State::Down, out);
    }

    /// The session is over: the next one signs in anew.
    pub(crate) fn forget(&mut self) {
        self.phase = Phase::Idle;
        self.decoder = Decoder::default();
        self.session = None;
    }

    /// Something arrived on the open link: the server is alive for two more of its
    /// intervals.
    fn heard<P>(&self, out: &mut Out<P>, now: u64) {
        let at = (self.idle > 0).then(|| now + 2 * self.idle + 1);
        out.timers.set_or_stop(Timer::Idle, at);
    }

    /// Moves to `state`, stopping the timers of the previous one.
    fn enter<P>(&mut self, state: State, out: &mut Out<P>) {
        self.state = state;
        for t in [
            Timer::Reconnect,
            Timer::Connect,
            Timer::Disconnect,
            Timer::Idle,
        ] {
            out.timers.stop(t);
        }
        out.keep_alive(0);
    }

    /// The next reconnect delay: `min × 2^attempts` capped at `max`, drawn in
    /// `[d/2, d]` so clients dropped together do not come back in lockstep.
    fn backoff(&mut self, c: &Config, ids: &mut Ids) -> u64 {
        let d = c
            .reconnect_min_ms
            .saturating_mul(1 << self.attempts.min(20))
            .min(c.reconnect_max_ms);
        self.attempts += 1;
        d - ids.random() % (d / 2 + 1)
    }
}
