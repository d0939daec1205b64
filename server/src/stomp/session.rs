//! An established STOMP session (docs/protocol.md §3, §4): its user, subscriptions,
//! rate limits, the errors queue and the sends waiting to be handled together; and
//! [`StompAnswer`], how the domain's result events reach the actor's connection.
//! Frames are dispatched to it by [`super::dispatch`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatkitty_protocol::destination::{ChannelTopic, Destination, Topic, UserTopic, ERRORS_QUEUE};
use chatkitty_protocol::error::names;

use super::frames::{error_message, Correlation};
use crate::domain::{access, presence, threads, Answer, Call};
use crate::error::{ApiError, ApiResult};
use crate::realtime::hub::{message_frame, CheckedAt, ConnHandle, Room};
use crate::realtime::tracker::RateLimit;
use crate::state::AppState;
use crate::store::UserRow;

/// What the reader does after a frame.
pub enum Flow {
    /// Go on reading.
    Continue,
    /// Close the connection.
    Close,
}

/// How long the answers to a connection's own requests wait for room in its queue
/// (at most half its budget used) before the connection is cut off as a slow consumer
/// that stopped reading (README, "Limits").
pub const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// A SEND to a channel's `message` action waiting to be handled with the ones after
/// it (see `super::actions`).
pub struct QueuedSend {
    /// Its receipt.
    pub receipt: Option<String>,
    /// Its idempotency key.
    pub idempotency_key: Option<String>,
    /// Its body, parsed.
    pub body: ApiResult<serde_json::Value>,
}

/// Errors raised before the errors queue is subscribed are kept, up to this many.
const MAX_PENDING_ERRORS: usize = 16;

/// How many times a SUBSCRIBE checks membership again when a revocation of the channel
/// came between its check and its subscription.
const SUBSCRIBE_TRIES: usize = 3;

/// How long one membership check serves further SUBSCRIBEs to the same channel's
/// topics ([`Session::recent_check`]).
const CHECK_REUSE: Duration = Duration::from_secs(2);

/// See the module docs.
pub struct Session {
    /// Shared state.
    pub state: AppState,
    /// This connection's sending side (shared with the hub's subscriber lists).
    pub conn: Arc<ConnHandle>,
    /// Application.
    pub app_id: i64,
    /// The user (as of their last change through this session).
    pub user: UserRow,
    /// How often the client sends heart-beats, if it does.
    client_heartbeat_ms: Option<u64>,
    /// When the credential the session signed in with expires (authenticated
    /// sessions): the connection ends then (docs/protocol.md §2.5).
    pub credential_expires_ms: Option<i64>,
    errors_sub: Option<String>,
    /// Errors raised before the errors queue was subscribed (bounded).
    pending_errors: Vec<(ApiError, Option<String>, Option<String>)>,
    /// Topic subscriptions: id → destination (both shared with the hub).
    subs: HashMap<Arc<str>, Arc<str>>,
    pub(super) send_limit: RateLimit,
    pub(super) relay_limit: RateLimit,
    /// Paces topic SUBSCRIBE/UNSUBSCRIBE: each can announce a participant to a whole
    /// channel, so toggling them is amplification (README, "Limits").
    pub(super) subscribe_pace: RateLimit,
    /// When requests were refused for rate, within the last minute.
    violations: Vec<Instant>,
    /// SENDs to one channel's `message` action not handled yet (see
    /// [`super::actions`]).
    pub(super) queued: Vec<QueuedSend>,
    pub(super) queued_for: i64,
    /// No frame has been handled since CONNECT read the user, but for the errors
    /// queue's SUBSCRIBE: the current-user relay the client pipelines behind CONNECT
    /// answers from that read (one statement less per session start and reconnect)
    /// instead of reading the user again.
    pub(super) user_just_read: bool,
    /// The last membership check a channel subscription was granted by, and when.
    recent_check: Option<(CheckedAt, Instant)>,
}

impl Session {
    /// Waits for room for `n` answers in the connection's queue
    /// ([`ConnHandle::room`]); `false` when the connection is ending, cut off (and
    /// counted as a slow consumer) if it stopped reading.
    pub async fn room_for_answers(&self, n: usize) -> bool {
        match self.conn.room(n, ANSWER_WAIT).await {
            Room::Came => true,
            Room::Gone => false,
            Room::NotReading => {
                let stats = &self.state.hub.stats;
                stats
                    .slow_consumers
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                false
            }
        }
    }

    /// A session of `user` on `conn`.
    pub fn new(
        state: AppState,
        conn: ConnHandle,
        app_id: i64,
        user: UserRow,
        client_heartbeat_ms: Option<u64>,
    ) -> Session {
        let now = Instant::now();
        let c = &state.config;
        Session {
            send_limit: RateLimit::new(c.send_rate, c.send_burst, now),
            relay_limit: RateLimit::new(c.relay_rate, c.relay_burst, now),
            subscribe_pace: RateLimit::new(c.subscribe_rate.max(1), c.subscribe_burst, now),
            violations: Vec::new(),
            state,
            conn: Arc::new(conn),
            app_id,
            user,
            client_heartbeat_ms,
            credential_expires_ms: None,
            errors_sub: None,
            pending_errors: Vec::new(),
            subs: HashMap::new(),
            queued: Vec::new(),
            queued_for: 0,
            user_just_read: true,
            recent_check: None,
        }
    }

    /// A request of this session's user, answered on this connection.
    pub fn call<'a>(&'a self, answer: &'a dyn crate::domain::Answer) -> Call<'a> {
        Call::new(&self.state, self.app_id, &self.user, answer)
    }

    /// How long the client may stay silent: three of its heart-beat periods.
    pub fn idle_timeout(&self) -> Duration {
        match self.client_heartbeat_ms {
            Some(ms) => Duration::from_millis(ms.saturating_mul(3).max(1000)),
            None => Duration::from_secs(24 * 3600),
        }
    }

    /// Records a request refused for rate; `true` when the connection has abused the
    /// limit long enough to be closed.
    pub(super) fn violation(&mut self) -> bool {
        let now = Instant::now();
        self.violations
            .retain(|t| now.duration_since(*t) < Duration::from_secs(60));
        self.violations.push(now);
        self.violations.len() as u32 > self.state.config.abuse_limit
    }

    /// The errors queue is subscribed: the errors kept until now are sent.
    pub(super) fn errors_subscribed(&mut self, id: String) {
        self.errors_sub = Some(id);
        for (e, sid, rid) in std::mem::take(&mut self.pending_errors) {
            let c = Correlation {
                subscription_id: sid.as_deref(),
                receipt_id: rid.as_deref(),
            };
            self.send_error(&e, c);
        }
    }

    /// Subscribes a topic the user may read (docs/protocol.md §18.2). A channel's or
    /// thread's topics are recorded with their channel: leaving a non-public channel,
    /// its deletion or a ban from it ends the subscription at once (§18.3, §22).
    pub(super) async fn subscribe_topic(
        &mut self,
        id: &str,
        dest: &str,
        topic: &Topic,
    ) -> ApiResult<()> {
        // A revocation of the channel between the membership check and the hub's
        // subscription sends the check round again (realtime::hub::Hub::subscribe_checked).
        for _ in 0..SUBSCRIBE_TRIES {
            let checked = match topic {
                Topic::User(uid, _) => {
                    if *uid as i64 != self.user.id {
                        return Err(ApiError::forbidden(
                            "You can only subscribe to your own user topics.",
                        ));
                    }
                    None
                }
                Topic::Channel(cid, _) => match self.recent_check(*cid as i64) {
                    Some(checked) => Some(checked),
                    None => {
                        let at = self.state.hub.revocations();
                        let answer = crate::domain::NoAnswer;
                        let call = self.call(&answer);
                        Some(at.of(access::readable_channel(&call, *cid as i64).await?.id))
                    }
                },
                Topic::Thread(tid, _) => {
                    let at = self.state.hub.revocations();
                    let answer = crate::domain::NoAnswer;
                    let call = self.call(&answer);
                    Some(at.of(threads::readable(&call, tid).await?.1.id))
                }
            };
            if let Some(old) = self.subs.get(id).cloned() {
                // Same id reused: replace the old subscription.
                self.unsubscribe_dest(id, &old).await;
            }
            let max = self.state.config.max_subscriptions;
            if self.subs.len() >= max {
                return Err(ApiError::new(
                    names::RATE_LIMITED,
                    format!("A connection holds at most {max} subscriptions."),
                ));
            }
            let dest: Arc<str> = Arc::from(dest);
            let id: Arc<str> = Arc::from(id);
            let hub = &self.state.hub;
            let first = match checked {
                Some(c) => match hub.subscribe_checked(&dest, &self.conn, &id, c) {
                    Some(first) => {
                        self.recent_check = Some((c, Instant::now()));
                        first
                    }
                    None => {
                        self.recent_check = None;
                        continue;
                    }
                },
                None => hub.subscribe(&dest, &self.conn, &id, None),
            };
            self.subs.insert(id, dest);
            if let (true, Topic::Channel(cid, ChannelTopic::Self_)) = (first, topic) {
                presence::entered_chat(&self.state, *cid as i64, &self.user).await;
            }
            return Ok(());
        }
        Err(ApiError::new(
            names::RATE_LIMITED,
            "Memberships of this channel kept changing while subscribing; subscribe again.",
        ))
    }

    /// The membership check of `channel` a subscription made within
    /// [`CHECK_REUSE`], if any: a chat session subscribes to eight topics of its
    /// channel at once, and one membership read serves them all. It stands only while
    /// no revocation of the channel came since (the hub compares its counter when the
    /// subscription is added, and a mismatch sends the check round again).
    fn recent_check(&self, channel: i64) -> Option<CheckedAt> {
        let (c, at) = self.recent_check?;
        (c.channel == channel && at.elapsed() < CHECK_REUSE).then_some(c)
    }

    pub(super) async fn unsubscribe(&mut self, id: &str) {
        if let Some(dest) = self.subs.get(id).cloned() {
            self.unsubscribe_dest(id, &dest).await;
        }
    }

    async fn unsubscribe_dest(&mut self, id: &str, dest: &Arc<str>) {
        self.subs.remove(id);
        if self.state.hub.unsubscribe(dest, self.conn.id) {
            if let Some(cid) = chat_channel(dest) {
                presence::left_chat(&self.state, cid, &self.user).await;
            }
        }
    }

    /// Forgets the subscriptions the hub ended ([`crate::realtime::hub::Hub::revoke`]):
    /// the user lost the membership that granted them. A chat session there ends as
    /// if unsubscribed.
    pub async fn apply_revocations(&mut self) {
        for dest in self.conn.take_revoked() {
            let before = self.subs.len();
            self.subs.retain(|_, d| *d != dest);
            if self.subs.len() == before {
                continue;
            }
            if let Some(cid) = chat_channel(&dest) {
                presence::left_chat(&self.state, cid, &self.user).await;
            }
        }
    }

    /// Sends an error on the errors queue, correlated to its request
    /// (docs/protocol.md §3.5); kept until the queue is subscribed.
    pub fn send_error(&mut self, e: &ApiError, c: Correlation<'_>) {
        let Some(sub) = self.errors_sub.clone() else {
            if self.pending_errors.len() < MAX_PENDING_ERRORS {
                let (sid, rid) = (
                    c.subscription_id.map(Into::into),
                    c.receipt_id.map(Into::into),
                );
                self.pending_errors.push((e.clone(), sid, rid));
            }
            return;
        };
        let body = serde_json::to_string(&e.body()).unwrap_or_default();
        let mid = self.state.hub.next_message_id();
        self.conn.send(error_message(&sub, &mid, &body, c));
    }

    /// The first subscription whose destination matches.
    pub fn subscription_to(&self, pred: impl Fn(&str) -> bool) -> Option<(&str, &str)> {
        self.subs
            .iter()
            .find(|(_, d)| pred(d))
            .map(|(id, d)| (id.as_ref(), d.as_ref()))
    }

    /// The errors queue's subscription id.
    pub fn errors_subscription(&self) -> Option<&str> {
        self.errors_sub.as_deref()
    }

    /// The connection ends: its subscriptions go, its chat sessions end, and the user
    /// goes offline when it was their last connection.
    pub async fn close(mut self) {
        let dests: Vec<(Arc<str>, Arc<str>)> = self.subs.drain().collect();
        let mut seen = std::collections::HashSet::new();
        for (_, dest) in &dests {
            if !seen.insert(dest.clone()) {
                continue;
            }
            self.state.hub.remove_all(self.conn.id, [dest.as_ref()]);
            if let Some(cid) = chat_channel(dest) {
                presence::left_chat(&self.state, cid, &self.user).await;
            }
        }
        presence::disconnected(&self.state, &self.user);
        tracing::info!("session ended");
    }
}

/// The channel whose chat session a destination is (its `self` topic).
fn chat_channel(dest: &str) -> Option<i64> {
    match Destination::parse(dest) {
        Some(Destination::Topic(Topic::Channel(cid, ChannelTopic::Self_))) => Some(cid as i64),
        _ => None,
    }
}

/// The actor's result events, over their connection: on its subscription to the user
/// topic (or, failing that, to any of their user topics, then the errors queue), with
/// the request's `receipt-id` (docs/protocol.md §3.3).
pub struct StompAnswer<'a> {
    /// The connection's session.
    pub session: &'a Session,
    /// The request's receipt.
    pub receipt: Option<&'a str>,
}

impl Answer for StompAnswer<'_> {
    fn result(&self, topic: UserTopic, event: &str) {
        let s = self.session;
        let user = s.user.id as u64;
        let dest = Topic::User(user, topic).to_destination();
        let own = Topic::User(user, UserTopic::Self_).to_destination();
        let found = s
            .subscription_to(|d| d == dest)
            .or_else(|| s.subscription_to(|d| d.starts_with(&own)));
        let (sub_id, dest) = match found {
            Some((id, d)) => (id, d),
            None => match s.errors_subscription() {
                Some(id) => (id, ERRORS_QUEUE),
                None => {
                    tracing::warn!("result event with no subscription to carry it");
                    return;
                }
            },
        };
        let mid = s.state.hub.next_message_id();
        s.conn
            .send(message_frame(dest, sub_id, &mid, self.receipt, event));
    }
}
