//! An established STOMP session (docs/protocol.md §3, §4): its subscriptions, its rate
//! limits, the errors queue, and the dispatch of each frame to relays
//! ([`super::relays`]), topics (here) and actions ([`super::actions`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatkitty_protocol::destination::{ChannelTopic, Destination, Topic};
use chatkitty_protocol::error::names;
use chatkitty_protocol::resource::ChannelType;
use chatkitty_protocol::{header, Command, Frame};

use super::actions::QueuedSend;
use super::reply::{error_frame, error_message, receipt_frame, Correlation};
use crate::domain::{access, presence, threads, Call};
use crate::error::{ApiError, ApiResult};
use crate::realtime::hub::{ConnHandle, Outbound};
use crate::realtime::tracker::RateLimit;
use crate::state::AppState;
use crate::store::{ChannelRow, UserRow};

/// What the reader does after a frame.
pub enum Flow {
    /// Go on reading.
    Continue,
    /// Close the connection.
    Close,
}

/// How long the answers to a connection's own requests wait for room in its queue
/// before they are queued anyway (a full queue then closes the connection as a slow
/// consumer).
pub const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// Errors raised before the errors queue is subscribed are kept, up to this many.
const MAX_PENDING_ERRORS: usize = 16;

/// See the module docs.
pub struct Session {
    /// Shared state.
    pub state: AppState,
    /// This connection's sending side.
    pub conn: ConnHandle,
    /// Application.
    pub app_id: i64,
    /// The user (as of their last change through this session).
    pub user: UserRow,
    /// How often the client sends heart-beats, if it does.
    client_heartbeat_ms: Option<u64>,
    errors_sub: Option<String>,
    /// Errors raised before the errors queue was subscribed (bounded).
    pending_errors: Vec<(ApiError, Option<String>, Option<String>)>,
    /// Topic subscriptions: id → destination.
    subs: HashMap<String, Arc<str>>,
    pub(super) send_limit: RateLimit,
    pub(super) relay_limit: RateLimit,
    /// Paces topic SUBSCRIBE/UNSUBSCRIBE: each can announce a participant to a whole
    /// channel, so toggling them is amplification (README, "Limits").
    subscribe_pace: RateLimit,
    /// When requests were refused for rate, within the last minute.
    violations: Vec<Instant>,
    /// SENDs to one channel's `message` action not handled yet (see
    /// [`super::actions`]).
    pub(super) queued: Vec<QueuedSend>,
    pub(super) queued_for: i64,
}

impl Session {
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
            conn,
            app_id,
            user,
            client_heartbeat_ms,
            errors_sub: None,
            pending_errors: Vec::new(),
            subs: HashMap::new(),
            queued: Vec::new(),
            queued_for: 0,
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

    async fn close_for_abuse(&self) -> Flow {
        tracing::warn!(
            user = self.user.id,
            "closing a connection over its rate limits"
        );
        let frame = error_frame(
            names::RATE_LIMITED,
            "Too many requests: the connection is closed. Slow down and reconnect.",
        );
        self.conn.control(Outbound::Close(Some(frame))).await;
        Flow::Close
    }

    /// Handles one frame.
    pub async fn on_frame(&mut self, frame: Frame) -> Flow {
        let to_channel = super::actions::channel_message_send(&frame);
        if !self.queued.is_empty() && to_channel != Some(self.queued_for) {
            self.flush_sends().await;
        }
        // Room for this frame's answers (a result, events on the user's own topics, a
        // RECEIPT): a client that sends faster than it reads is paced, not dropped.
        self.conn.room(4, ANSWER_WAIT).await;
        self.pace_topic_changes(&frame).await;
        if let Some(flow) = self.refuse_over_rate(&frame).await {
            return flow;
        }
        let receipt = frame.header(header::RECEIPT).map(str::to_owned);
        match frame.command {
            Command::Subscribe => {
                if !self.on_subscribe(&frame).await {
                    // A refused subscription gets its error and no RECEIPT, so a chat
                    // session waiting on it is never confirmed.
                    return Flow::Continue;
                }
            }
            Command::Unsubscribe => {
                if let Some(id) = frame.header(header::ID) {
                    self.unsubscribe(id).await;
                }
            }
            Command::Send => {
                if self.on_send(&frame, to_channel).await {
                    // Queued: its RECEIPT follows its answer.
                    return Flow::Continue;
                }
            }
            Command::Ack | Command::Nack => {}
            Command::Disconnect => {
                if let Some(r) = &receipt {
                    self.conn.control(Outbound::Frame(receipt_frame(r))).await;
                }
                self.conn.control(Outbound::Close(None)).await;
                return Flow::Close;
            }
            Command::Begin | Command::Commit | Command::Abort => {
                let c = Correlation {
                    receipt_id: receipt.as_deref(),
                    ..Default::default()
                };
                self.send_error(&ApiError::unsupported("STOMP transactions"), c);
            }
            Command::Connect | Command::Stomp => {
                let c = Correlation {
                    receipt_id: receipt.as_deref(),
                    ..Default::default()
                };
                self.send_error(
                    &ApiError::validation("The session is already connected."),
                    c,
                );
            }
            Command::Connected | Command::Message | Command::Receipt | Command::Error => {
                let msg = format!("{} is a server command.", frame.command);
                let frame = error_frame(names::MALFORMED_FRAME, &msg);
                self.conn.control(Outbound::Close(Some(frame))).await;
                return Flow::Close;
            }
        }
        if let Some(r) = receipt {
            self.conn.send(receipt_frame(&r));
        }
        Flow::Continue
    }

    /// Waits for a topic SUBSCRIBE/UNSUBSCRIBE's turn (`--subscribe-rate`).
    async fn pace_topic_changes(&mut self, frame: &Frame) {
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
    }

    /// A SEND or relay over its connection's rate is refused (`RateLimitExceededError`);
    /// a connection refused too often is closed. `None` when within the rate.
    async fn refuse_over_rate(&mut self, frame: &Frame) -> Option<Flow> {
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
        if !limited {
            return None;
        }
        // Answered after the sends queued before it.
        self.flush_sends().await;
        if self.violation() {
            return Some(self.close_for_abuse().await);
        }
        let e = ApiError::new(names::RATE_LIMITED, "Too many requests: slow down.");
        let receipt = frame.header(header::RECEIPT);
        let c = match frame.command {
            Command::Send => Correlation {
                receipt_id: receipt,
                ..Default::default()
            },
            _ => Correlation {
                subscription_id: frame.header(header::ID),
                ..Default::default()
            },
        };
        self.send_error(&e, c);
        if let (Command::Send, Some(r)) = (frame.command, receipt) {
            self.conn.send(receipt_frame(r));
        }
        Some(Flow::Continue)
    }

    /// Handles a SUBSCRIBE; `false` if it was refused.
    async fn on_subscribe(&mut self, frame: &Frame) -> bool {
        let Some(id) = frame.header(header::ID).map(str::to_owned) else {
            let c = Correlation {
                receipt_id: frame.header(header::RECEIPT),
                ..Default::default()
            };
            self.send_error(&ApiError::validation("SUBSCRIBE needs an id header."), c);
            return false;
        };
        let dest = frame.header(header::DESTINATION).unwrap_or("");
        let fail = Correlation {
            subscription_id: Some(&id),
            receipt_id: frame.header(header::RECEIPT),
        };
        let refused = match Destination::parse(dest) {
            Some(Destination::Relay(relay, query)) => {
                self.relay(&id, dest, relay, query, frame).await.err()
            }
            Some(Destination::Topic(topic)) => self.subscribe_topic(&id, dest, &topic).await.err(),
            Some(Destination::ErrorsQueue) => {
                self.errors_subscribed(id.clone());
                None
            }
            Some(Destination::Action(_)) => Some(ApiError::validation(format!(
                "{dest} is an action: SEND to it."
            ))),
            None if dest.contains(".relay") => {
                Some(ApiError::not_found(format!("The relay {dest}")))
            }
            // Unknown topics (including "undefined", docs/protocol.md §16.9) are accepted
            // as no-ops: the RECEIPT is sent by the caller.
            None => None,
        };
        match refused {
            Some(e) => {
                self.send_error(&e, fail);
                false
            }
            None => true,
        }
    }

    /// The errors queue is subscribed: the errors kept until now are sent.
    fn errors_subscribed(&mut self, id: String) {
        self.errors_sub = Some(id);
        for (e, sid, rid) in std::mem::take(&mut self.pending_errors) {
            let c = Correlation {
                subscription_id: sid.as_deref(),
                receipt_id: rid.as_deref(),
            };
            self.send_error(&e, c);
        }
    }

    /// Subscribes a topic the user may read (docs/protocol.md §18.2). What gives the
    /// right to a non-public channel's topics is membership: that grant is recorded
    /// with the subscription, and losing it ends the subscription (§18.3).
    async fn subscribe_topic(&mut self, id: &str, dest: &str, topic: &Topic) -> ApiResult<()> {
        let answer = crate::domain::NoAnswer;
        let call = self.call(&answer);
        let granted_by = |c: &ChannelRow| (c.kind != ChannelType::Public).then_some(c.id);
        let grant = match topic {
            Topic::User(uid, _) => {
                if *uid as i64 != self.user.id {
                    return Err(ApiError::forbidden(
                        "You can only subscribe to your own user topics.",
                    ));
                }
                None
            }
            Topic::Channel(cid, _) => {
                granted_by(&access::readable_channel(&call, *cid as i64).await?)
            }
            Topic::Thread(tid, _) => granted_by(&threads::readable(&call, tid).await?.1),
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
        self.subs.insert(id.to_owned(), dest.clone());
        let first = self.state.hub.subscribe(&dest, &self.conn, id, grant);
        if let (true, Topic::Channel(cid, ChannelTopic::Self_)) = (first, topic) {
            presence::entered_chat(&self.state, *cid as i64, &self.user).await;
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
            .map(|(id, d)| (id.as_str(), d.as_ref()))
    }

    /// The errors queue's subscription id.
    pub fn errors_subscription(&self) -> Option<&str> {
        self.errors_sub.as_deref()
    }

    /// The connection ends: its subscriptions go, its chat sessions end, and the user
    /// goes offline when it was their last connection.
    pub async fn close(mut self) {
        let dests: Vec<(String, Arc<str>)> = self.subs.drain().collect();
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

#[cfg(feature = "fuzzing")]
impl Session {
    /// A session of `user` over a connection whose frames go to `tx` (fuzzing only).
    pub fn for_fuzzing(
        state: AppState,
        app_id: i64,
        user: UserRow,
        tx: tokio::sync::mpsc::Sender<Outbound>,
    ) -> Session {
        let conn = ConnHandle::new(
            state.next_conn_id(),
            user.id,
            tx,
            tokio_util::sync::CancellationToken::new(),
            crate::realtime::hub::QueueBudget::unlimited(),
        );
        let mut s = Session::new(state, conn, app_id, user, None);
        let now = Instant::now();
        s.send_limit = RateLimit::new(u32::MAX, u32::MAX, now);
        s.relay_limit = RateLimit::new(u32::MAX, u32::MAX, now);
        s.subscribe_pace = RateLimit::new(u32::MAX, u32::MAX, now);
        s
    }

    /// Handles one frame; `true` if the session would close the connection.
    pub async fn handle_for_fuzzing(&mut self, frame: Frame) -> bool {
        let close = matches!(self.on_frame(frame).await, Flow::Close);
        self.flush_sends().await;
        close
    }
}
