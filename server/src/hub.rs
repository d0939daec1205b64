//! Local delivery: which connection of this node holds which topic subscription, and
//! the fan-out of an event to them.
//!
//! Each event reaches a connection at most once per destination (PROTOCOL.md 3.2: the
//! client dispatches by destination, so a second subscription to the same topic on one
//! connection would run every handler twice). A connection's outbound queue is bounded;
//! a connection that falls behind is disconnected rather than allowed to grow memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use chatkitty_protocol::frame::{encode_text, SharedMessage};
use chatkitty_protocol::header;
use chatkitty_protocol::Command;
use tokio::sync::{mpsc, Notify};

/// Identifies a connection on this node.
pub type ConnId = u64;

/// What a connection's writer is asked to do.
#[derive(Debug)]
pub enum Outbound {
    /// Send this STOMP frame (text).
    Frame(String),
    /// Start sending heart-beats every this many milliseconds.
    Heartbeat(u64),
    /// Send this final frame (if any) and close the socket.
    Close(Option<String>),
}

/// The sending side of a connection, shared with the hub.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    /// Connection id.
    pub id: ConnId,
    /// The connection's user.
    pub user_id: i64,
    tx: mpsc::Sender<Outbound>,
    kill: Arc<Notify>,
}

impl ConnHandle {
    /// A handle over a connection's outbound queue and kill switch.
    pub fn new(
        id: ConnId,
        user_id: i64,
        tx: mpsc::Sender<Outbound>,
        kill: Arc<Notify>,
    ) -> ConnHandle {
        ConnHandle {
            id,
            user_id,
            tx,
            kill,
        }
    }

    /// Queues a frame for this connection. A full queue disconnects it (slow
    /// consumer); returns whether the frame was queued.
    pub fn send(&self, frame: String) -> bool {
        match self.tx.try_send(Outbound::Frame(frame)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(
                    conn = self.id,
                    "outbound queue full: disconnecting slow consumer"
                );
                self.kill.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Waits, at most `wait`, until `n` more frames fit in the queue. A connection's
    /// answers to a batch of its own requests are queued at once; waiting here paces
    /// them by its writer (and, through the reader, the client) instead of overflowing
    /// the queue, which is for events from others.
    pub async fn room(&self, n: usize, wait: std::time::Duration) {
        let _ = tokio::time::timeout(wait, self.tx.reserve_many(n)).await;
    }

    /// Queues a control message (waits for room: used only by the connection itself).
    pub async fn control(&self, out: Outbound) {
        let _ = self.tx.send(out).await;
    }
}

struct TopicSub {
    conn: ConnHandle,
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

/// The local subscription table.
pub struct Hub {
    topics: RwLock<HashMap<Arc<str>, Vec<TopicSub>>>,
    node: String,
    seq: AtomicU64,
    /// Counters.
    pub stats: HubStats,
}

impl Hub {
    /// An empty hub; `node` prefixes message ids so they stay unique across nodes.
    pub fn new(node: impl Into<String>) -> Hub {
        Hub {
            topics: RwLock::new(HashMap::new()),
            node: node.into(),
            seq: AtomicU64::new(0),
            stats: HubStats::default(),
        }
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
    pub fn subscribe(&self, dest: &str, conn: &ConnHandle, sub_id: &str) -> bool {
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        let subs = topics.entry(Arc::from(dest)).or_default();
        if let Some(s) = subs.iter_mut().find(|s| s.conn.id == conn.id) {
            s.refs += 1;
            return false;
        }
        subs.push(TopicSub {
            conn: conn.clone(),
            sub_id: Arc::from(sub_id),
            refs: 1,
        });
        true
    }

    /// Removes one subscription of `conn` on `dest`; returns `true` when it was the
    /// connection's last one there.
    pub fn unsubscribe(&self, dest: &str, conn: ConnId) -> bool {
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        let Some(subs) = topics.get_mut(dest) else {
            return false;
        };
        let Some(i) = subs.iter().position(|s| s.conn.id == conn) else {
            return false;
        };
        subs[i].refs -= 1;
        if subs[i].refs > 0 {
            return false;
        }
        subs.swap_remove(i);
        if subs.is_empty() {
            topics.remove(dest);
        }
        true
    }

    /// Removes every subscription of `conn` on the given destinations.
    pub fn remove_all<'a>(&self, conn: ConnId, dests: impl IntoIterator<Item = &'a str>) {
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        for dest in dests {
            if let Some(subs) = topics.get_mut(dest) {
                subs.retain(|s| s.conn.id != conn);
                if subs.is_empty() {
                    topics.remove(dest);
                }
            }
        }
    }

    /// Number of (destination, connection) subscriptions held (for tests and metrics).
    pub fn subscription_count(&self) -> usize {
        let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
        topics.values().map(Vec::len).sum()
    }

    /// Number of destinations with at least one subscriber.
    pub fn topic_count(&self) -> usize {
        self.topics.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether any connection of `user_id` on this node is subscribed to `dest`.
    pub fn user_subscribed(&self, dest: &str, user_id: i64) -> bool {
        let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
        topics
            .get(dest)
            .is_some_and(|subs| subs.iter().any(|s| s.conn.user_id == user_id))
    }

    /// Delivers an event body (`{"type","version","resource"}` JSON) to every local
    /// subscriber of `dest`, once per connection. Returns the number of deliveries.
    pub fn deliver(&self, dest: &str, body: &str, exclude: Exclude<'_>) -> usize {
        self.stats.events.fetch_add(1, Ordering::Relaxed);
        let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
        let Some(subs) = topics.get(dest) else {
            return 0;
        };
        let mut n = 0;
        // Encoded once; each subscriber's frame adds its subscription and message id.
        let shared = SharedMessage::new(dest, header::JSON, body);
        let mut id = String::with_capacity(self.node.len() + 12);
        for s in subs {
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

/// A topic or relay MESSAGE frame (PROTOCOL.md 3.1, 3.2). The `ack` header equals the
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
    ) -> (ConnHandle, mpsc::Receiver<Outbound>, Arc<Notify>) {
        let (tx, rx) = mpsc::channel(cap);
        let kill = Arc::new(Notify::new());
        (ConnHandle::new(id, user, tx, kill.clone()), rx, kill)
    }

    fn frames(rx: &mut mpsc::Receiver<Outbound>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(Outbound::Frame(f)) = rx.try_recv() {
            out.push(f);
        }
        out
    }

    #[test]
    fn an_event_reaches_a_connection_once_even_with_two_subscriptions() {
        let hub = Hub::new("n");
        let (a, mut rx, _) = conn(1, 10, 8);
        assert!(hub.subscribe("/topic/v1/channels/1", &a, "s-1"));
        assert!(!hub.subscribe("/topic/v1/channels/1", &a, "s-2"));
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
            hub.subscribe("/t", h, "s");
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
        hub.subscribe("/t", &a, "s");
        assert_eq!(hub.deliver("/t", "{}", Exclude::Nobody), 1);
        assert_eq!(hub.deliver("/t", "{}", Exclude::Nobody), 1);
        assert_eq!(hub.deliver("/t", "{}", Exclude::Nobody), 0);
        assert_eq!(hub.stats.slow_consumers.load(Ordering::Relaxed), 1);
        // The kill switch was pulled.
        tokio::time::timeout(std::time::Duration::from_millis(100), kill.notified())
            .await
            .expect("slow consumer notified");
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
}
