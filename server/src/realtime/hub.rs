//! Local delivery: which connection of this node holds which topic subscription, and
//! the fan-out of an event to them.
//!
//! Each event reaches a connection at most once per destination (docs/protocol.md §3.2: the
//! client dispatches by destination, so a second subscription to the same topic on one
//! connection would run every handler twice). A connection's outbound queue is bounded;
//! a connection that falls behind is disconnected rather than allowed to grow memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use chatkitty_protocol::error::ErrorBody;
use chatkitty_protocol::frame::{encode_text, SharedMessage};
use chatkitty_protocol::header;
use chatkitty_protocol::Command;
use tokio::sync::Notify;

use super::queue::{self, TrySendError};
use tokio_util::sync::CancellationToken;

/// How long a connection's own control frames wait for a slot in its queue.
pub const CONTROL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Identifies a connection on this node.
pub type ConnId = u64;

/// What a connection's writer is asked to do.
#[derive(Debug)]
pub enum Outbound {
    /// Send this STOMP frame (text).
    Frame(String),
    /// Answer a WebSocket ping carrying these bytes.
    Pong(Vec<u8>),
    /// Start sending heart-beats every this many milliseconds.
    Heartbeat(u64),
    /// Send this final frame (if any) and close the socket.
    Close(Option<String>),
}

/// Bytes queued for connections, all together: past its limit
/// the connections that are behind are dropped first (README, "Limits":
/// `--outbound-total-bytes`).
#[derive(Debug, Default)]
pub struct TotalQueued {
    bytes: AtomicUsize,
    limit: usize,
}

impl TotalQueued {
    /// A server-wide byte budget of `limit`.
    pub fn new(limit: usize) -> Arc<TotalQueued> {
        Arc::new(TotalQueued {
            bytes: AtomicUsize::new(0),
            limit,
        })
    }

    /// Bytes queued for every connection of this node.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// One connection's outbound byte budget (README, "Limits": `--outbound-queue-bytes`):
/// what slow-consumer protection counts, since frames range from a few bytes to a
/// megabyte. The first frame of an empty queue is always admitted, so any frame the
/// server may send fits; past the budget the connection is dropped.
#[derive(Debug)]
pub struct QueueBudget {
    queued: AtomicUsize,
    limit: usize,
    total: Arc<TotalQueued>,
    /// Set by a task waiting for room; the writer then wakes it.
    waiting: std::sync::atomic::AtomicBool,
    drained: Notify,
}

impl QueueBudget {
    /// A budget of `limit` bytes for one connection, counted into `total` too.
    pub fn new(limit: usize, total: Arc<TotalQueued>) -> Arc<QueueBudget> {
        Arc::new(QueueBudget {
            queued: AtomicUsize::new(0),
            limit: limit.max(1),
            total,
            waiting: Default::default(),
            drained: Notify::new(),
        })
    }

    /// An unlimited budget (tests, fuzzing).
    pub fn unlimited() -> Arc<QueueBudget> {
        QueueBudget::new(usize::MAX / 4, TotalQueued::new(usize::MAX / 4))
    }

    /// Bytes queued and not yet written.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Counts `len` more bytes in if they fit: the queue was empty, or it stays within
    /// the connection's budget and, when the server-wide budget is spent, the
    /// connection is not behind (less than an eighth of its budget queued).
    fn admit(&self, len: usize) -> bool {
        let before = self.queued.fetch_add(len, Ordering::Relaxed);
        let total_before = self.total.bytes.fetch_add(len, Ordering::Relaxed);
        let over_own = before > 0 && before.saturating_add(len) > self.limit;
        let over_total =
            total_before.saturating_add(len) > self.total.limit && before > self.limit / 8;
        if over_own || over_total {
            self.release(len);
            return false;
        }
        true
    }

    /// Counts `len` bytes in whatever the budget says (the connection's own control
    /// frames, which wait for a queue slot instead).
    fn force(&self, len: usize) {
        self.queued.fetch_add(len, Ordering::Relaxed);
        self.total.bytes.fetch_add(len, Ordering::Relaxed);
    }

    /// `len` bytes left the queue (written, or dropped with the connection).
    pub fn release(&self, len: usize) {
        self.queued.fetch_sub(len, Ordering::Relaxed);
        self.total.bytes.fetch_sub(len, Ordering::Relaxed);
        if self.waiting.load(Ordering::Relaxed) && self.waiting.swap(false, Ordering::AcqRel) {
            self.drained.notify_waiters();
        }
    }

    /// Waits until at most half the budget is queued.
    async fn half_empty(&self) {
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            self.waiting.store(true, Ordering::Release);
            if self.queued() <= self.limit / 2 {
                return;
            }
            drained.await;
        }
    }
}

/// What waiting for room in a connection's queue ([`ConnHandle::room`]) came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// The room is there.
    Came,
    /// The connection is ending (its kill switch was pulled).
    Gone,
    /// It did not come in time: the peer is not reading, and it is cut off.
    NotReading,
}

/// The sending side of a connection, shared with the hub.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    /// Connection id.
    pub id: ConnId,
    /// The connection's user.
    pub user_id: i64,
    tx: queue::Sender<Outbound>,
    kill: CancellationToken,
    budget: Arc<QueueBudget>,
    revoked: Arc<Revoked>,
}

/// A connection known without keeping it alive (its writer ends once every strong
/// sender is gone): for ending it from elsewhere ([`crate::realtime::live`]).
#[derive(Debug, Clone)]
pub struct WeakConn {
    /// The connection's queue.
    pub tx: queue::WeakSender<Outbound>,
    /// Its kill switch.
    pub kill: CancellationToken,
}

impl WeakConn {
    /// Whether the connection is still open.
    pub fn alive(&self) -> bool {
        self.tx.strong_count() > 0
    }
}

/// Destinations whose subscriptions the hub ended, for the connection's session to
/// forget.
#[derive(Debug, Default)]
struct Revoked {
    dests: std::sync::Mutex<Vec<Arc<str>>>,
    notify: Notify,
}

impl ConnHandle {
    /// A handle over a connection's outbound queue, its byte budget and kill switch.
    pub fn new(
        id: ConnId,
        user_id: i64,
        tx: queue::Sender<Outbound>,
        kill: CancellationToken,
        budget: Arc<QueueBudget>,
    ) -> ConnHandle {
        ConnHandle {
            id,
            user_id,
            tx,
            kill,
            budget,
            revoked: Arc::default(),
        }
    }

    /// Queues a frame for this connection. A full queue (frames or bytes) disconnects
    /// it (slow consumer); returns whether the frame was queued.
    pub fn send(&self, frame: String) -> bool {
        let len = frame.len();
        if !self.budget.admit(len) {
            tracing::warn!(
                conn = self.id,
                queued = self.budget.queued(),
                "outbound byte budget spent: disconnecting slow consumer"
            );
            self.kill.cancel();
            return false;
        }
        match self.tx.try_send(Outbound::Frame(frame)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.budget.release(len);
                tracing::warn!(
                    conn = self.id,
                    "outbound queue full: disconnecting slow consumer"
                );
                self.kill.cancel();
                false
            }
            Err(TrySendError::Closed(_)) => {
                self.budget.release(len);
                false
            }
        }
    }

    /// Waits, at most `wait`, until `n` more frames fit in the queue and at most half
    /// its byte budget is used. A connection's answers to a batch of its own requests
    /// are queued at once; waiting here paces them by its writer (and, through the
    /// reader, the client) instead of overflowing the queue, which is for events from
    /// others. When the room does not come in time the peer is not reading (its writer
    /// could not free half the budget in `wait`) and the connection is cut off as a
    /// slow consumer: otherwise a client that writes and never reads would hold its
    /// connection for `wait` per frame, its budget never quite full.
    pub async fn room(&self, n: usize, wait: std::time::Duration) -> Room {
        let wait = tokio::time::timeout(wait, async {
            self.budget.half_empty().await;
            self.tx.room_for(n).await;
        });
        tokio::select! {
            biased;
            _ = self.kill.cancelled() => Room::Gone,
            came = wait => match came {
                Ok(()) => Room::Came,
                Err(_) => {
                    tracing::warn!(
                        conn = self.id,
                        queued = self.budget.queued(),
                        "no room for the answers in time: disconnecting slow consumer"
                    );
                    self.kill.cancel();
                    Room::NotReading
                }
            },
        }
    }

    /// Queues a control message or a frame of the connection's own, waiting for a
    /// slot; a peer that leaves no room for [`CONTROL_WAIT`] (it stopped reading) is
    /// cut off.
    pub async fn control(&self, out: Outbound) {
        let len = match &out {
            Outbound::Frame(f) => f.len(),
            _ => 0,
        };
        self.budget.force(len);
        match tokio::time::timeout(CONTROL_WAIT, self.tx.send(out)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => self.budget.release(len),
            Err(_) => {
                self.budget.release(len);
                self.kill.cancel();
            }
        }
    }

    /// The connection, weakly.
    pub fn downgrade(&self) -> WeakConn {
        WeakConn {
            tx: self.tx.downgrade(),
            kill: self.kill.clone(),
        }
    }

    /// The same connection, now serving `user_id` (once its session has started).
    pub fn for_user(&self, user_id: i64) -> ConnHandle {
        ConnHandle {
            user_id,
            ..self.clone()
        }
    }

    /// The hub ended this connection's subscription to `dest`.
    fn revoked(&self, dest: Arc<str>) {
        self.revoked
            .dests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(dest);
        self.revoked.notify.notify_one();
    }

    /// Resolves once the hub has ended subscriptions of this connection.
    pub async fn revocations(&self) {
        self.revoked.notify.notified().await
    }

    /// The destinations whose subscriptions the hub ended since the last call.
    pub fn take_revoked(&self) -> Vec<Arc<str>> {
        std::mem::take(&mut *self.revoked.dests.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Ends the connection: its writer stops, its reader returns.
    pub fn kill(&self) {
        self.kill.cancel();
    }

    /// Resolves once the connection is being ended.
    pub async fn killed(&self) {
        self.kill.cancelled().await
    }
}

struct TopicSub {
    /// Shared with the connection's session: one pointer here, not a copy of the
    /// handle's six fields in each of its subscriptions.
    conn: Arc<ConnHandle>,
    /// The non-public channel whose membership let the connection subscribe: leaving
    /// it (or its deletion) ends the subscription ([`Hub::revoke`]).
    grant: Option<i64>,
    /// The subscription id the client gave first; events go out on it.
    sub_id: Arc<str>,
    /// How many subscriptions this connection holds on the destination.
    refs: u32,
}

/// Who, among a destination's subscribers, should not receive an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Exclude<'a> {
    /// Everyone subscribed receives it.
    #[default]
    Nobody,
    /// Every connection of this user is skipped (e.g. the typist).
    User(i64),
    /// This connection is skipped (it got the event directly, with a `receipt-id`).
    Conn(ConnId),
    /// Every connection of these users is skipped (e.g. users who blocked the sender).
    Users(&'a [i64]),
    /// Only this user's connections receive it (per-user state on a shared topic).
    AllBut(i64),
}

impl Exclude<'_> {
    fn skips(&self, conn: &ConnHandle) -> bool {
        match *self {
            Exclude::Nobody => false,
            Exclude::User(u) => conn.user_id == u,
            Exclude::Conn(c) => conn.id == c,
            Exclude::Users(us) => us.contains(&conn.user_id),
            Exclude::AllBut(u) => conn.user_id != u,
        }
    }
}

/// Counters exposed at `/metrics`.
#[derive(Debug, Default)]
pub struct HubStats {
    /// Events published.
    pub events: AtomicU64,
    /// MESSAGE frames queued to connections.
    pub deliveries: AtomicU64,
    /// Connections dropped for falling behind.
    pub slow_consumers: AtomicU64,
}

/// How many revocation counters channels share ([`Hub::revocations`]).
const REVOCATION_STRIPES: usize = 32;

/// The hub's revocation counters at one moment ([`Hub::revocations`]).
#[derive(Debug, Clone, Copy)]
pub struct Revocations([u64; REVOCATION_STRIPES]);

impl Revocations {
    /// What a check of `channel`'s membership made at this moment vouches for: the
    /// count of its counter, to pass to [`Hub::subscribe_checked`].
    pub fn of(&self, channel: i64) -> CheckedAt {
        CheckedAt {
            channel,
            count: self.0[stripe(channel)],
        }
    }
}

/// A membership of `channel` checked when its revocation counter stood at `count`
/// ([`Revocations::of`]): small enough for a session to keep, so that the other
/// topics of a channel it subscribes to next reuse the check while nothing of that
/// channel was revoked since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedAt {
    /// The channel whose membership was checked.
    pub channel: i64,
    count: u64,
}

/// Past this many subscribers, a destination also indexes them by connection
/// ([`Subscribers`]).
const INDEX_FROM: usize = 16;

/// A destination's subscribers: the list the fan-out walks, and, once it holds more than
/// [`INDEX_FROM`], where each connection sits in it, so that a connection's subscription
/// is found, added or removed without scanning the others (a chat session entering or
/// leaving a channel that thousands follow takes the hub's write lock eight times).
/// Most destinations (a user's own topics) have one subscriber and no index.
struct Subscribers {
    list: Vec<TopicSub>,
    /// Boxed: a pointer in each of the many destinations without one, not an empty
    /// map's 48 bytes.
    #[allow(clippy::box_collection)]
    at: Option<Box<HashMap<ConnId, usize>>>,
}

impl Subscribers {
    fn new() -> Subscribers {
        // Room for one, not the four a first push makes room for (ten user topics per
        // session, one subscriber each).
        Subscribers {
            list: Vec::with_capacity(1),
            at: None,
        }
    }

    fn position(&self, conn: ConnId) -> Option<usize> {
        match &self.at {
            Some(at) => at.get(&conn).copied(),
            None => self.list.iter().position(|s| s.conn.id == conn),
        }
    }

    fn push(&mut self, sub: TopicSub) {
        let (id, i) = (sub.conn.id, self.list.len());
        self.list.push(sub);
        match &mut self.at {
            Some(at) => {
                at.insert(id, i);
            }
            None if self.list.len() > INDEX_FROM => {
                let at = self.list.iter().enumerate().map(|(i, s)| (s.conn.id, i));
                self.at = Some(Box::new(at.collect()));
            }
            None => {}
        }
    }

    /// Removes the subscription at `i`; the last one takes its place.
    fn swap_remove(&mut self, i: usize) -> TopicSub {
        let gone = self.list.swap_remove(i);
        if let Some(at) = &mut self.at {
            at.remove(&gone.conn.id);
            if let Some(moved) = self.list.get(i) {
                at.insert(moved.conn.id, i);
            }
            // Dropped well below the threshold, so that a list hovering around it
            // does not build the index again and again.
            if self.list.len() <= INDEX_FROM / 2 {
                self.at = None;
            }
        }
        gone
    }

    fn remove(&mut self, conn: ConnId) -> Option<TopicSub> {
        self.position(conn).map(|i| self.swap_remove(i))
    }
}

/// A channel's granted subscriptions: user → (destination, connection) of each.
type ChannelGrants = HashMap<i64, Vec<(Arc<str>, ConnId)>>;

/// Subscriptions by destination, and those granted by channel membership by channel.
#[derive(Default)]
struct Table {
    topics: HashMap<Arc<str>, Subscribers>,
    /// Channel → user → (destination, connection) of each granted subscription: a
    /// member's removal, and a subscription's end, touch that member's entries only.
    grants: HashMap<i64, ChannelGrants>,
    /// Revocations so far, by channel modulo [`REVOCATION_STRIPES`].
    revocations: [u64; REVOCATION_STRIPES],
}

fn stripe(channel: i64) -> usize {
    channel.rem_euclid(REVOCATION_STRIPES as i64) as usize
}

impl Table {
    /// Forgets the grant of a subscription that ended: `sub` held `dest`.
    fn forget_grant(&mut self, sub: &TopicSub, dest: &str) {
        let Some(channel) = sub.grant else { return };
        let Some(users) = self.grants.get_mut(&channel) else {
            return;
        };
        let user = sub.conn.user_id;
        if let Some(list) = users.get_mut(&user) {
            list.retain(|(d, c)| !(*c == sub.conn.id && d.as_ref() == dest));
            if list.is_empty() {
                users.remove(&user);
            }
        }
        if users.is_empty() {
            self.grants.remove(&channel);
        }
    }
}

/// The local subscription table.
pub struct Hub {
    table: RwLock<Table>,
    node: String,
    seq: AtomicU64,
    /// Counters.
    pub stats: HubStats,
}

impl Hub {
    /// An empty hub; `node` prefixes message ids so they stay unique across nodes.
    pub fn new(node: impl Into<String>) -> Hub {
        Hub {
            table: RwLock::new(Table::default()),
            node: node.into(),
            seq: AtomicU64::new(0),
            stats: HubStats::default(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A unique message id.
    pub fn next_message_id(&self) -> String {
        let mut s = String::with_capacity(self.node.len() + 12);
        self.push_message_id(&mut s);
        s
    }

    /// Appends a unique message id to `out`.
    fn push_message_id(&self, out: &mut String) {
        use std::fmt::Write;
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let _ = write!(out, "{}-{n}", self.node);
    }

    /// Adds a subscription; returns `true` when it is the connection's first on `dest`.
    /// `grant` is the non-public channel whose membership allowed it, if any.
    pub fn subscribe(
        &self,
        dest: &Arc<str>,
        conn: &Arc<ConnHandle>,
        sub_id: &Arc<str>,
        grant: Option<i64>,
    ) -> bool {
        Self::add(&mut self.write(), dest, conn, sub_id, grant)
    }

    /// Counters that move whenever subscriptions granted by a channel are revoked (one
    /// counter per group of channels): read them before checking that a user may read
    /// a channel, and pass them to [`Hub::subscribe_checked`].
    pub fn revocations(&self) -> Revocations {
        Revocations(self.read().revocations)
    }

    /// [`Hub::subscribe`] for a subscription granted by a membership checked at
    /// `checked` ([`Revocations::of`]): `None` (nothing added) when a revocation of
    /// the channel (or one sharing its counter) came since. Without it, a removal from
    /// the channel between the check and the subscription would find nothing to end,
    /// and the subscription added after it would go on delivering the channel's events.
    pub fn subscribe_checked(
        &self,
        dest: &Arc<str>,
        conn: &Arc<ConnHandle>,
        sub_id: &Arc<str>,
        checked: CheckedAt,
    ) -> Option<bool> {
        let mut table = self.write();
        if table.revocations[stripe(checked.channel)] != checked.count {
            return None;
        }
        Some(Self::add(
            &mut table,
            dest,
            conn,
            sub_id,
            Some(checked.channel),
        ))
    }

    fn add(
        table: &mut Table,
        dest: &Arc<str>,
        conn: &Arc<ConnHandle>,
        sub_id: &Arc<str>,
        grant: Option<i64>,
    ) -> bool {
        let dest: Arc<str> = match table.topics.get_key_value(dest.as_ref()) {
            Some((k, _)) => k.clone(),
            None => dest.clone(),
        };
        let subs = table
            .topics
            .entry(dest.clone())
            .or_insert_with(Subscribers::new);
        if let Some(i) = subs.position(conn.id) {
            subs.list[i].refs += 1;
            return false;
        }
        subs.push(TopicSub {
            conn: conn.clone(),
            grant,
            sub_id: sub_id.clone(),
            refs: 1,
        });
        if let Some(channel) = grant {
            table
                .grants
                .entry(channel)
                .or_default()
                .entry(conn.user_id)
                .or_default()
                .push((dest, conn.id));
        }
        true
    }

    /// Removes one subscription of `conn` on `dest`; returns `true` when it was the
    /// connection's last one there.
    pub fn unsubscribe(&self, dest: &str, conn: ConnId) -> bool {
        let mut table = self.write();
        let Some(subs) = table.topics.get_mut(dest) else {
            return false;
        };
        let Some(i) = subs.position(conn) else {
            return false;
        };
        subs.list[i].refs -= 1;
        if subs.list[i].refs > 0 {
            return false;
        }
        let gone = subs.swap_remove(i);
        if subs.list.is_empty() {
            table.topics.remove(dest);
        }
        table.forget_grant(&gone, dest);
        true
    }

    /// Removes every subscription of `conn` on the given destinations.
    pub fn remove_all<'a>(&self, conn: ConnId, dests: impl IntoIterator<Item = &'a str>) {
        let mut table = self.write();
        for dest in dests {
            let Some(subs) = table.topics.get_mut(dest) else {
                continue;
            };
            // One entry per connection and destination (`refs` counts the rest).
            let gone = subs.remove(conn);
            if subs.list.is_empty() {
                table.topics.remove(dest);
            }
            if let Some(gone) = gone {
                table.forget_grant(&gone, dest);
            }
        }
    }

    /// Ends, at once, every subscription that `user` (all users, for `None`) holds on
    /// this node through membership of `channel`: they left it, were removed, or it was
    /// deleted. Each connection concerned is told ([`ConnHandle::take_revoked`]) so that its
    /// session forgets the subscriptions too. Returns how many ended.
    pub fn revoke(&self, user: Option<i64>, channel: i64) -> usize {
        let mut table = self.write();
        // Counted even when nothing is held yet: a subscription checked before this
        // revocation and not yet added must not be added (`subscribe_checked`).
        table.revocations[stripe(channel)] += 1;
        let ended: Vec<(Arc<str>, ConnId)> = match user {
            None => table
                .grants
                .remove(&channel)
                .into_iter()
                .flat_map(HashMap::into_values)
                .flatten()
                .collect(),
            Some(u) => {
                let Some(users) = table.grants.get_mut(&channel) else {
                    return 0;
                };
                let list = users.remove(&u).unwrap_or_default();
                if users.is_empty() {
                    table.grants.remove(&channel);
                }
                list
            }
        };
        for (dest, conn) in &ended {
            if let Some(subs) = table.topics.get_mut(dest) {
                if let Some(gone) = subs.remove(*conn) {
                    gone.conn.revoked(dest.clone());
                }
                if subs.list.is_empty() {
                    table.topics.remove(dest);
                }
            }
        }
        ended.len()
    }

    /// Number of (destination, connection) subscriptions held (for tests and metrics).
    pub fn subscription_count(&self) -> usize {
        self.read().topics.values().map(|s| s.list.len()).sum()
    }

    /// Number of destinations with at least one subscriber.
    pub fn topic_count(&self) -> usize {
        self.read().topics.len()
    }

    /// Delivers an event body (`{"type","version","resource"}` JSON) to every local
    /// subscriber of `dest`, once per connection. Returns the number of deliveries.
    pub fn deliver(&self, dest: &str, body: &str, exclude: Exclude<'_>) -> usize {
        self.stats.events.fetch_add(1, Ordering::Relaxed);
        let table = self.read();
        let Some(subs) = table.topics.get(dest) else {
            return 0;
        };
        let mut n = 0;
        // Encoded once; each subscriber's frame adds its subscription and message id.
        let shared = SharedMessage::new(dest, header::JSON, body);
        let mut id = String::with_capacity(self.node.len() + 12);
        for s in &subs.list {
            if exclude.skips(&s.conn) {
                continue;
            }
            id.clear();
            self.push_message_id(&mut id);
            if s.conn.send(shared.to(&s.sub_id, &id)) {
                n += 1;
            } else {
                self.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.stats.deliveries.fetch_add(n as u64, Ordering::Relaxed);
        n
    }
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

/// A topic or relay MESSAGE frame (docs/protocol.md §3.1, 3.2). The `ack` header equals the
/// message id (ACKs are accepted as no-ops).
pub fn message_frame(
    dest: &str,
    sub_id: &str,
    message_id: &str,
    receipt_id: Option<&str>,
    body: &str,
) -> String {
    let mut headers: [(&str, &str); 6] = [
        (header::DESTINATION, dest),
        (header::SUBSCRIPTION, sub_id),
        (header::MESSAGE_ID, message_id),
        (header::ACK, message_id),
        (header::CONTENT_TYPE, header::JSON),
        ("", ""),
    ];
    let n = match receipt_id {
        Some(r) => {
            headers[5] = (header::RECEIPT_ID, r);
            6
        }
        None => 5,
    };
    encode_text(Command::Message, &headers[..n], body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(
        id: ConnId,
        user: i64,
        cap: usize,
    ) -> (
        Arc<ConnHandle>,
        queue::Receiver<Outbound>,
        CancellationToken,
    ) {
        let (tx, rx) = queue::channel(cap);
        let kill = CancellationToken::new();
        (
            Arc::new(ConnHandle::new(
                id,
                user,
                tx,
                kill.clone(),
                QueueBudget::unlimited(),
            )),
            rx,
            kill,
        )
    }

    fn frames(rx: &mut queue::Receiver<Outbound>) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(Outbound::Frame(f)) = rx.try_recv() {
            out.push(f);
        }
        out
    }

    #[test]
    fn a_subscription_checked_before_a_revocation_of_its_channel_is_not_added() {
        let hub = Hub::new("n");
        let (a, _rx, _) = conn(1, 10, 8);
        let dest: Arc<str> = "/topic/v1/channels/5/messages".into();
        let checked = hub.revocations();
        // The user leaves channel 5 while its membership check is in flight: nothing
        // is held yet for the revocation to end.
        assert_eq!(hub.revoke(Some(10), 5), 0);
        assert_eq!(
            hub.subscribe_checked(&dest, &a, &"s".into(), checked.of(5)),
            None
        );
        assert_eq!(hub.subscription_count(), 0);
        // Checked again after the revocation: added, and a later one ends it.
        let again = hub.revocations();
        assert_eq!(
            hub.subscribe_checked(&dest, &a, &"s".into(), again.of(5)),
            Some(true)
        );
        // Another channel's revocation (its own counter) sends nobody round again.
        let now = hub.revocations();
        hub.revoke(None, 6);
        assert_eq!(
            hub.subscribe_checked(
                &"/topic/v1/channels/5/typing".into(),
                &a,
                &"t".into(),
                now.of(5)
            ),
            Some(true)
        );
        assert_eq!(hub.revoke(Some(10), 5), 2);
        assert_eq!(hub.subscription_count(), 0);
    }

    #[test]
    fn an_event_reaches_a_connection_once_even_with_two_subscriptions() {
        let hub = Hub::new("n");
        let (a, mut rx, _) = conn(1, 10, 8);
        assert!(hub.subscribe(&"/topic/v1/channels/1".into(), &a, &"s-1".into(), None));
        assert!(!hub.subscribe(&"/topic/v1/channels/1".into(), &a, &"s-2".into(), None));
        assert_eq!(
            hub.deliver("/topic/v1/channels/1", "{}", Exclude::Nobody),
            1
        );
        let got = frames(&mut rx);
        assert_eq!(got.len(), 1);
        assert!(got[0].contains("subscription:s-1\n"), "{}", got[0]);
        // Dropping one of the two keeps delivery on; dropping both stops it.
        assert!(!hub.unsubscribe("/topic/v1/channels/1", 1));
        assert_eq!(
            hub.deliver("/topic/v1/channels/1", "{}", Exclude::Nobody),
            1
        );
        assert!(hub.unsubscribe("/topic/v1/channels/1", 1));
        assert_eq!(
            hub.deliver("/topic/v1/channels/1", "{}", Exclude::Nobody),
            0
        );
        assert_eq!(hub.topic_count(), 0);
    }

    #[test]
    fn excluded_users_and_connections_are_skipped() {
        let hub = Hub::new("n");
        let (a, mut ra, _) = conn(1, 10, 8);
        let (b, mut rb, _) = conn(2, 20, 8);
        let (c, mut rc, _) = conn(3, 20, 8);
        for h in [&a, &b, &c] {
            hub.subscribe(&"/t".into(), h, &"s".into(), None);
        }
        assert_eq!(hub.deliver("/t", "{}", Exclude::User(20)), 1);
        assert_eq!(hub.deliver("/t", "{}", Exclude::Conn(2)), 2);
        assert_eq!(hub.deliver("/t", "{}", Exclude::Users(&[10, 20])), 0);
        assert_eq!(hub.deliver("/t", "{}", Exclude::AllBut(20)), 2);
        assert_eq!(frames(&mut ra).len(), 2);
        assert_eq!(frames(&mut rb).len(), 1);
        assert_eq!(frames(&mut rc).len(), 2);
    }

    #[tokio::test]
    async fn a_full_queue_disconnects_the_slow_consumer() {
        let hub = Hub::new("n");
        let (a, _rx, kill) = conn(1, 10, 2);
        hub.subscribe(&"/t".into(), &a, &"s".into(), None);
        assert_eq!(hub.deliver("/t", "{}", Exclude::Nobody), 1);
        assert_eq!(hub.deliver("/t", "{}", Exclude::Nobody), 1);
        assert_eq!(hub.deliver("/t", "{}", Exclude::Nobody), 0);
        assert_eq!(hub.stats.slow_consumers.load(Ordering::Relaxed), 1);
        // The kill switch was pulled.
        assert!(kill.is_cancelled());
    }

    #[test]
    fn the_byte_budget_drops_a_consumer_behind_on_large_frames_before_the_frame_count() {
        let hub = Hub::new("n");
        let (tx, mut rx) = queue::channel(1024);
        let kill = CancellationToken::new();
        let total = TotalQueued::new(1 << 30);
        let budget = QueueBudget::new(100_000, total.clone());
        let a = Arc::new(ConnHandle::new(1, 10, tx, kill.clone(), budget.clone()));
        hub.subscribe(&"/t".into(), &a, &"s".into(), None);
        let big = "x".repeat(40_000);
        // Two 40 KB events fit in 100 KB; the third does not, with room for 1,021
        // more frames: it is bytes that count.
        assert_eq!(hub.deliver("/t", &big, Exclude::Nobody), 1);
        assert_eq!(hub.deliver("/t", &big, Exclude::Nobody), 1);
        assert!(!kill.is_cancelled());
        assert_eq!(hub.deliver("/t", &big, Exclude::Nobody), 0);
        assert!(kill.is_cancelled());
        assert_eq!(total.bytes(), budget.queued());
        // What the writer takes out is released, server-wide too.
        while let Some(Outbound::Frame(f)) = rx.try_recv() {
            budget.release(f.len());
        }
        assert_eq!((budget.queued(), total.bytes()), (0, 0));
    }

    #[test]
    fn a_frame_larger_than_the_budget_still_reaches_an_idle_connection() {
        let (tx, _rx) = queue::channel(8);
        let budget = QueueBudget::new(1_000, TotalQueued::new(1 << 30));
        let a = ConnHandle::new(1, 10, tx, CancellationToken::new(), budget.clone());
        assert!(a.send("y".repeat(5_000)));
        assert!(!a.send("z".to_owned()));
    }

    #[test]
    fn past_the_server_wide_budget_only_connections_that_are_behind_are_dropped() {
        let total = TotalQueued::new(10_000);
        let conn = |id| {
            let (tx, rx) = queue::channel(64);
            let budget = QueueBudget::new(20_000, total.clone());
            (
                ConnHandle::new(id, id as i64, tx, CancellationToken::new(), budget),
                rx,
            )
        };
        let ((slow, _r1), (keeping_up, _r2)) = (conn(1), conn(2));
        for _ in 0..9 {
            assert!(slow.send("s".repeat(1_000)));
        }
        assert!(keeping_up.send("k".repeat(900)));
        // 9,900 bytes queued on the node: the next frames overflow its budget. The
        // connection 9,000 behind is refused though its own budget has room; the one
        // with less than an eighth of its budget queued is still served.
        assert!(!slow.send("s".repeat(1_000)));
        assert!(keeping_up.send("k".repeat(500)));
        assert_eq!(total.bytes(), 9_000 + 900 + 500);
    }

    #[test]
    fn revoking_a_channel_grant_ends_that_users_subscriptions_and_tells_the_connection() {
        let hub = Hub::new("n");
        let (a, mut ra, _) = conn(1, 10, 8);
        let (b, mut rb, _) = conn(2, 20, 8);
        hub.subscribe(
            &"/topic/v1/channels/5/messages".into(),
            &a,
            &"s1".into(),
            Some(5),
        );
        hub.subscribe(
            &"/topic/v1/channels/5/messages".into(),
            &b,
            &"s2".into(),
            Some(5),
        );
        hub.subscribe(
            &"/topic/v1/threads/t-9/messages".into(),
            &a,
            &"s3".into(),
            Some(5),
        );
        hub.subscribe(
            &"/topic/v1/users/10/channels".into(),
            &a,
            &"s4".into(),
            None,
        );
        assert_eq!(hub.revoke(Some(10), 5), 2);
        assert_eq!(
            hub.deliver("/topic/v1/channels/5/messages", "{}", Exclude::Nobody),
            1
        );
        assert_eq!(
            hub.deliver("/topic/v1/threads/t-9/messages", "{}", Exclude::Nobody),
            0
        );
        assert_eq!(
            hub.deliver("/topic/v1/users/10/channels", "{}", Exclude::Nobody),
            1
        );
        assert_eq!(frames(&mut ra).len(), 1);
        assert_eq!(frames(&mut rb).len(), 1);
        let mut told: Vec<String> = a.take_revoked().iter().map(|d| d.to_string()).collect();
        told.sort();
        assert_eq!(
            told,
            [
                "/topic/v1/channels/5/messages",
                "/topic/v1/threads/t-9/messages"
            ]
        );
        assert!(b.take_revoked().is_empty());
        // A deletion ends everyone's; nothing is left behind in the index.
        assert_eq!(hub.revoke(None, 5), 1);
        assert_eq!(hub.revoke(None, 5), 0);
        assert_eq!(hub.subscription_count(), 1);
    }

    #[test]
    fn subscribers_past_the_index_threshold_are_found_added_and_removed_as_below_it() {
        let hub = Hub::new("n");
        let dest: Arc<str> = "/topic/v1/channels/5/messages".into();
        let typing: Arc<str> = "/topic/v1/channels/5/typing".into();
        let n = INDEX_FROM as u64 * 3;
        let conns: Vec<_> = (0..n).map(|i| conn(i, i as i64 % 10, 8)).collect();
        for (c, _, _) in &conns {
            assert!(hub.subscribe(&dest, c, &"s".into(), Some(5)));
            assert!(hub.subscribe(&typing, c, &"t".into(), Some(5)));
        }
        // A second subscription of an indexed connection counts, not adds.
        assert!(!hub.subscribe(&dest, &conns[40].0, &"s2".into(), Some(5)));
        assert!(!hub.unsubscribe(&dest, 40));
        // Removed from the middle, the front and the end: the list is reordered under
        // the index.
        assert!(hub.unsubscribe(&dest, 20));
        assert!(hub.unsubscribe(&dest, 0));
        hub.remove_all(n - 1, [dest.as_ref(), typing.as_ref()]);
        assert!(!hub.unsubscribe(&dest, 20), "already gone");
        let mut left: Vec<u64> = (0..n).filter(|i| ![0, 20, n - 1].contains(i)).collect();
        assert_eq!(hub.deliver(&dest, "{}", Exclude::Nobody), left.len());
        // User 3's member removal ends theirs (connections 3, 13, 23, 33 and 43) on both
        // topics, and nobody else's.
        assert_eq!(hub.revoke(Some(3), 5), 2 * 5);
        left.retain(|i| i % 10 != 3);
        assert_eq!(hub.deliver(&dest, "{}", Exclude::Nobody), left.len());
        // Down below the threshold (the index is dropped) and up again.
        for &i in &left[..left.len() - 4] {
            assert!(hub.unsubscribe(&dest, i));
        }
        assert_eq!(hub.deliver(&dest, "{}", Exclude::Nobody), 4);
        for &i in &left[..left.len() - 4] {
            assert!(hub.subscribe(&dest, &conns[i as usize].0, &"s".into(), Some(5)));
        }
        assert_eq!(hub.deliver(&dest, "{}", Exclude::Nobody), left.len());
        for &i in &left {
            assert!(hub.unsubscribe(&dest, i), "{i} found");
        }
        assert_eq!(hub.deliver(&dest, "{}", Exclude::Nobody), 0);
        // The channel's deletion ends what is left: typing, which 0 and 20 kept too.
        assert_eq!(hub.revoke(None, 5), left.len() + 2);
        assert_eq!(hub.subscription_count(), 0);
        assert_eq!(hub.revoke(None, 5), 0);
    }

    #[test]
    fn message_frames_carry_the_headers_the_client_needs() {
        let f = message_frame(
            "/topic/v1/users/1/channels",
            "sub-1",
            "n-1",
            Some("r-1"),
            "{\"a\":1}",
        );
        assert!(f.starts_with("MESSAGE\n"));
        for h in [
            "destination:/topic/v1/users/1/channels\n",
            "subscription:sub-1\n",
            "message-id:n-1\n",
            "ack:n-1\n",
            "receipt-id:r-1\n",
            "content-type:application/json\n",
            "content-length:7\n",
        ] {
            assert!(f.contains(h), "{h} missing in {f}");
        }
        assert!(f.ends_with("\n\n{\"a\":1}\0"));
    }

    /// Figures, not a test (`#[ignore]`d; bench/README.md "Subscription changes in a
    /// large channel"): the hub's time for one more chat session (eight granted
    /// subscriptions) to enter and leave a channel that `n` chat sessions follow, and
    /// for one member's removal to end theirs. Run with
    /// `cargo test --release -p chatkitty-server --lib hub_figures -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn hub_figures() {
        const TOPICS: [&str; 8] = [
            "messages",
            "typing",
            "keystrokes",
            "participants",
            "events",
            "reactions",
            "read-receipts",
            "threads",
        ];
        let dests: Vec<Arc<str>> = TOPICS
            .iter()
            .map(|t| Arc::from(format!("/topic/v1/channels/5/{t}")))
            .collect();
        let sub: Arc<str> = "s".into();
        for n in [100u64, 1_000, 10_000, 50_000] {
            let hub = Hub::new("n");
            let mut keep = Vec::new();
            for i in 0..n {
                let (c, rx, _) = conn(i, i as i64, 1);
                for d in &dests {
                    hub.subscribe(d, &c, &sub, Some(5));
                }
                keep.push((c, rx));
            }
            let rounds = 2_000;
            // One more chat session, connection and user `id`, enters the channel.
            let enter = |id: u64| {
                let (c, rx, _) = conn(id, id as i64, 1);
                for d in &dests {
                    hub.subscribe(d, &c, &sub, Some(5));
                }
                (c, rx)
            };
            let started = std::time::Instant::now();
            for r in 0..rounds {
                let _entered = enter(n + r);
                hub.remove_all(n + r, dests.iter().map(|d| d.as_ref()));
            }
            let enter_leave = started.elapsed() / rounds as u32;
            let started = std::time::Instant::now();
            for r in 0..rounds {
                let _entered = enter(n + r);
                assert_eq!(hub.revoke(Some((n + r) as i64), 5), 8);
            }
            let enter_removed = started.elapsed() / rounds as u32;
            assert_eq!(hub.subscription_count(), 8 * n as usize);
            println!(
                "{n:>6} chat sessions: enter + leave {enter_leave:?}, enter + removed {enter_removed:?}"
            );
        }
    }
}
