//! Several nodes behind one database: how an event published on one node reaches
//! subscribers on every node, and how presence and chat participation stay right
//! across nodes — including when a node dies.
//!
//! Without Redis (the default) this is a no-op: one node, local state only.
//!
//! With Redis:
//! - **Events**: every event is delivered locally and PUBLISHed on one Redis channel;
//!   each other node delivers it to its own subscribers (in publish order per node).
//! - **Presence / participants**: each node counts its own connections per user (and
//!   chat sessions per channel and user). A node's 0→1 and 1→0 transitions update
//!   per-node counts in Redis with a Lua script that atomically reports whether the
//!   user came online / went offline *cluster-wide*; only then are events announced.
//!   Nodes keep a cached copy of who is online / active elsewhere, updated by control
//!   messages on the same channel, for rendering (`presence.online`) and for
//!   notifications (no notification to someone chatting on another node).
//! - **Node death**: every node refreshes `<prefix>:node:<id>:alive` (a TTL key). Every node
//!   runs a reaper: a node whose key expired has its counts removed by one atomic
//!   script, which returns the users who thereby went offline or left a chat; the
//!   reaping node announces them.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio::sync::watch;

use crate::realtime::hub::{Exclude, Hub};
use crate::realtime::live::LiveSessions;

// Redis names, each under the cluster's prefix (`--redis-prefix`, default `ck`), so
// that several deployments can share one Redis without hearing each other.
const EVENTS: &str = "events";
const NODES: &str = "nodes";
const ONLINE: &str = "online";
const ACTIVE: &str = "active";

/// A message on the cluster channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "k")]
pub enum BusMsg {
    /// An event for a destination.
    #[serde(rename = "e")]
    Event {
        /// Origin node.
        n: String,
        /// Destination.
        d: String,
        /// Event JSON.
        b: String,
        /// Who not to deliver it to.
        x: WireExclude,
    },
    /// A user came online / went offline cluster-wide.
    #[serde(rename = "p")]
    Presence {
        /// Origin node.
        n: String,
        /// User.
        u: i64,
        /// Online now.
        on: bool,
    },
    /// A user entered / left a channel's chat cluster-wide.
    #[serde(rename = "a")]
    Participant {
        /// Origin node.
        n: String,
        /// Channel.
        c: i64,
        /// User.
        u: i64,
        /// Active now.
        on: bool,
    },
    /// A user's sessions were revoked: end their connections (see `live`).
    #[serde(rename = "r")]
    Revoke {
        /// Origin node.
        n: String,
        /// User.
        u: i64,
    },
    /// Subscriptions granted by membership of a channel end: a user (or, for a deleted
    /// channel, everyone) lost it.
    #[serde(rename = "g")]
    EndGrants {
        /// Origin node.
        n: String,
        /// User, or everyone.
        u: Option<i64>,
        /// Channel.
        c: i64,
    },
    /// A user's typing in a thread ended (they sent a message via another node).
    #[serde(rename = "t")]
    StopTyping {
        /// Origin node.
        n: String,
        /// Thread id.
        th: String,
        /// User.
        u: i64,
    },
}

/// [`Exclude`] across nodes (connection ids are node-local, so they are dropped).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WireExclude {
    /// Nobody.
    N,
    /// One user.
    U(i64),
    /// Several users.
    Us(Vec<i64>),
    /// Everyone but this user.
    A(i64),
}

impl WireExclude {
    fn of(e: Exclude<'_>) -> WireExclude {
        match e {
            Exclude::Nobody | Exclude::Conn(_) => WireExclude::N,
            Exclude::User(u) => WireExclude::U(u),
            Exclude::Users(us) => WireExclude::Us(us.to_vec()),
            Exclude::AllBut(u) => WireExclude::A(u),
        }
    }

    fn as_exclude(&self) -> Exclude<'_> {
        match self {
            WireExclude::N => Exclude::Nobody,
            WireExclude::U(u) => Exclude::User(*u),
            WireExclude::Us(us) => Exclude::Users(us),
            WireExclude::A(u) => Exclude::AllBut(*u),
        }
    }
}

/// The cluster link (none for a single node).
pub struct Cluster {
    node: String,
    /// Namespace of every Redis key and channel of this cluster.
    prefix: String,
    redis: Option<Redis>,
    /// Users online on some other node.
    remote_online: Mutex<HashSet<i64>>,
    /// (channel, user) pairs active on some node (cluster view).
    remote_active: Mutex<HashSet<(i64, i64)>>,
    ttl: Duration,
}

struct Redis {
    client: redis::Client,
    conn: redis::aio::ConnectionManager,
    outbox: mpsc::Sender<Out>,
    outbox_rx: Mutex<Option<mpsc::Receiver<Out>>>,
}

/// What the publisher task takes from the outbox, in order.
enum Out {
    /// A bus message to PUBLISH.
    Publish(String),
    /// Answered once everything queued before it has been published (or given up on).
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// How many times a PUBLISH is tried before the event is given up on (logged).
const PUBLISH_ATTEMPTS: u32 = 5;
/// How long [`Cluster::flush`] waits for the publisher before going on (logged).
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Per-node count change reporting the cluster-wide total:
/// KEYS = [totals hash, node's own hash, cluster set]; ARGV = [node, member, delta].
/// Returns 1 if the member came in (total 0→1), -1 if it went (1→0), else 0.
const COUNT_SCRIPT: &str = r#"
local c = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[3])
if c <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
local nc = redis.call('HINCRBY', KEYS[2], ARGV[2], ARGV[3])
if nc <= 0 then redis.call('HDEL', KEYS[2], ARGV[2]) end
local total = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(v) end
if tonumber(ARGV[3]) > 0 and total == tonumber(ARGV[3]) then
  redis.call('SADD', KEYS[3], ARGV[2]); return 1
end
if tonumber(ARGV[3]) < 0 and total <= 0 then
  redis.call('SREM', KEYS[3], ARGV[2]); return -1
end
return 0
"#;

/// Removes a dead node's counts: ARGV = [node, key prefix with its trailing ':']. Returns {offline users, left pairs}
/// ("channel:user"), or two empty lists if the node is alive or already reaped.
const REAP_SCRIPT: &str = r#"
local node, ck = ARGV[1], ARGV[2]
if redis.call('EXISTS', ck .. 'node:' .. node .. ':alive') == 1 then return {{}, {}} end
if redis.call('SISMEMBER', ck .. 'nodes', node) == 0 then return {{}, {}} end
local gone, left = {}, {}
local p = redis.call('HGETALL', ck .. 'node:' .. node .. ':presence')
for i = 1, #p, 2 do
  local user = p[i]
  redis.call('HDEL', ck .. 'presence:' .. user, node)
  if redis.call('HLEN', ck .. 'presence:' .. user) == 0 then
    redis.call('SREM', ck .. 'online', user); table.insert(gone, user)
  end
end
local a = redis.call('HGETALL', ck .. 'node:' .. node .. ':participants')
for i = 1, #a, 2 do
  local pair = a[i]
  redis.call('HDEL', ck .. 'participants:' .. pair, node)
  if redis.call('HLEN', ck .. 'participants:' .. pair) == 0 then
    redis.call('SREM', ck .. 'active', pair); table.insert(left, pair)
  end
end
redis.call('DEL', ck .. 'node:' .. node .. ':presence', ck .. 'node:' .. node .. ':participants')
redis.call('SREM', ck .. 'nodes', node)
return {gone, left}
"#;

impl Cluster {
    /// A single node.
    pub fn local(node: &str) -> Cluster {
        Cluster {
            node: node.to_owned(),
            prefix: String::new(),
            redis: None,
            remote_online: Mutex::new(HashSet::new()),
            remote_active: Mutex::new(HashSet::new()),
            ttl: Duration::from_secs(15),
        }
    }

    /// A node of a Redis-linked cluster.
    pub async fn redis(
        node: &str,
        url: &str,
        prefix: &str,
        ttl: Duration,
    ) -> Result<Cluster, String> {
        let key = |rest: &str| format!("{prefix}:{rest}");
        let client = redis::Client::open(url).map_err(|e| format!("redis: {e}"))?;
        let mut conn = client
            .get_connection_manager()
            .await
            .map_err(|e| format!("redis: {e}"))?;
        let online: Vec<i64> = redis::cmd("SMEMBERS")
            .arg(key(ONLINE))
            .query_async(&mut conn)
            .await
            .map_err(|e| format!("redis: {e}"))?;
        let active: Vec<String> = redis::cmd("SMEMBERS")
            .arg(key(ACTIVE))
            .query_async(&mut conn)
            .await
            .map_err(|e| format!("redis: {e}"))?;
        let (tx, rx) = mpsc::channel(1 << 16);
        let cluster = Cluster {
            node: node.to_owned(),
            prefix: prefix.to_owned(),
            redis: Some(Redis {
                client,
                conn,
                outbox: tx,
                outbox_rx: Mutex::new(Some(rx)),
            }),
            remote_online: Mutex::new(online.into_iter().collect()),
            remote_active: Mutex::new(active.iter().filter_map(|p| parse_pair(p)).collect()),
            ttl,
        };
        cluster.heartbeat().await?;
        Ok(cluster)
    }

    /// Whether several nodes share the work.
    pub fn is_clustered(&self) -> bool {
        self.redis.is_some()
    }

    /// A Redis key or channel name of this cluster.
    fn key(&self, rest: &str) -> String {
        format!("{}:{rest}", self.prefix)
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    async fn heartbeat(&self) -> Result<(), String> {
        let Some(r) = &self.redis else { return Ok(()) };
        let mut conn = r.conn.clone();
        let alive = self.key(&format!("node:{}:alive", self.node));
        redis::pipe()
            .cmd("SADD")
            .arg(self.key(NODES))
            .arg(&self.node)
            .ignore()
            .cmd("SET")
            .arg(&alive)
            .arg(1)
            .arg("PX")
            .arg(self.ttl.as_millis() as u64)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| format!("redis: {e}"))
    }

    /// Sends an event to the other nodes (local delivery is the caller's).
    pub fn forward(&self, dest: &str, body: &str, exclude: Exclude<'_>) {
        self.send(&BusMsg::Event {
            n: self.node.clone(),
            d: dest.to_owned(),
            b: body.to_owned(),
            x: WireExclude::of(exclude),
        });
    }

    fn send(&self, msg: &BusMsg) {
        let Some(r) = &self.redis else { return };
        let Ok(text) = serde_json::to_string(msg) else {
            return;
        };
        if r.outbox.try_send(Out::Publish(text)).is_err() {
            tracing::error!("cluster outbox full: an event was not forwarded to other nodes");
        }
    }

    /// Waits until every event forwarded so far has been published to the other nodes
    /// (at once for a single node). A message is acknowledged only after this: a node
    /// killed between its commit and its PUBLISH would otherwise have acknowledged a
    /// message that subscribers on other nodes, whose connections never dropped and so
    /// never recover gaps, will not get.
    pub async fn flush(&self) {
        let Some(r) = &self.redis else { return };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let queued = tokio::time::timeout(FLUSH_TIMEOUT, r.outbox.send(Out::Flush(tx))).await;
        let done = match queued {
            Ok(Ok(())) => tokio::time::timeout(FLUSH_TIMEOUT, rx).await.is_ok(),
            _ => false,
        };
        if !done {
            tracing::warn!("the cluster publisher did not catch up in time; going on");
        }
    }

    async fn count(
        &self,
        totals: String,
        node_hash: String,
        set: &str,
        member: &str,
        delta: i64,
    ) -> i64 {
        let Some(r) = &self.redis else {
            return delta.signum();
        };
        let mut conn = r.conn.clone();
        let script = redis::Script::new(COUNT_SCRIPT);
        match script
            .key(totals)
            .key(node_hash)
            .key(set)
            .arg(&self.node)
            .arg(member)
            .arg(delta)
            .invoke_async::<i64>(&mut conn)
            .await
        {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "cluster count update failed; treating the change as cluster-wide");
                delta.signum()
            }
        }
    }

    /// This node's first connection of `user` opened: `true` if the user came
    /// online cluster-wide (announce it).
    pub async fn user_online(&self, user: i64) -> bool {
        self.presence(user, true).await
    }

    /// This node's last connection of `user` closed (after the grace period): `true`
    /// if the user went offline cluster-wide (announce it).
    pub async fn user_offline(&self, user: i64) -> bool {
        self.presence(user, false).await
    }

    /// This node's first chat session of `user` in `channel` began: `true` if the user
    /// entered the chat cluster-wide.
    pub async fn entered(&self, channel: i64, user: i64) -> bool {
        self.participant(channel, user, true).await
    }

    /// This node's last chat session of `user` in `channel` ended: `true` if the user
    /// left the chat cluster-wide.
    pub async fn left(&self, channel: i64, user: i64) -> bool {
        self.participant(channel, user, false).await
    }

    /// Counts one of this node's connections of `user` in (`on`) or out; `true` when
    /// that changed the user's presence cluster-wide, which the other nodes are told.
    async fn presence(&self, user: i64, on: bool) -> bool {
        let delta = if on { 1 } else { -1 };
        let changed = self
            .count(
                self.key(&format!("presence:{user}")),
                self.key(&format!("node:{}:presence", self.node)),
                &self.key(ONLINE),
                &user.to_string(),
                delta,
            )
            .await
            == delta;
        if changed && self.is_clustered() {
            if !on {
                lock(&self.remote_online).remove(&user);
            }
            self.send(&BusMsg::Presence {
                n: self.node.clone(),
                u: user,
                on,
            });
        }
        changed
    }

    /// [`Cluster::presence`] for one user's chat sessions in one channel.
    async fn participant(&self, channel: i64, user: i64, on: bool) -> bool {
        let delta = if on { 1 } else { -1 };
        let pair = format!("{channel}:{user}");
        let changed = self
            .count(
                self.key(&format!("participants:{pair}")),
                self.key(&format!("node:{}:participants", self.node)),
                &self.key(ACTIVE),
                &pair,
                delta,
            )
            .await
            == delta;
        if changed && self.is_clustered() {
            if !on {
                lock(&self.remote_active).remove(&(channel, user));
            }
            self.send(&BusMsg::Participant {
                n: self.node.clone(),
                c: channel,
                u: user,
                on,
            });
        }
        changed
    }

    /// Typing of `user` in `thread` ends everywhere.
    pub fn stop_typing(&self, thread: &str, user: i64) {
        if self.is_clustered() {
            self.send(&BusMsg::StopTyping {
                n: self.node.clone(),
                th: thread.to_owned(),
                u: user,
            });
        }
    }

    /// `user`'s sessions end on the other nodes too.
    pub fn revoke(&self, user: i64) {
        if self.is_clustered() {
            self.send(&BusMsg::Revoke {
                n: self.node.clone(),
                u: user,
            });
        }
    }

    /// Ends on the other nodes the subscriptions `user` (everyone, for `None`) holds
    /// through membership of `channel`.
    pub fn end_grants(&self, user: Option<i64>, channel: i64) {
        if self.is_clustered() {
            self.send(&BusMsg::EndGrants {
                n: self.node.clone(),
                u: user,
                c: channel,
            });
        }
    }

    /// Whether `user` is online on another node.
    pub fn online_elsewhere(&self, user: i64) -> bool {
        self.is_clustered() && lock(&self.remote_online).contains(&user)
    }

    /// Users online on other nodes (none unless clustered).
    pub fn online_elsewhere_ids(&self) -> Vec<i64> {
        if !self.is_clustered() {
            return Vec::new();
        }
        lock(&self.remote_online).iter().copied().collect()
    }

    /// Whether `user` has a chat session in `channel` on another node.
    pub fn active_elsewhere(&self, channel: i64, user: i64) -> bool {
        self.is_clustered() && lock(&self.remote_active).contains(&(channel, user))
    }
}

fn parse_pair(p: &str) -> Option<(i64, i64)> {
    let (c, u) = p.split_once(':')?;
    Some((c.parse().ok()?, u.parse().ok()?))
}

/// What the domain does when the bus reports something that needs more than local
/// delivery (the bus never calls the domain directly; the server wires an
/// implementation in at start-up, as Centrifuge's broker event handler).
pub trait BusEvents: Send + Sync + 'static {
    /// `user` stopped typing in `thread` because they sent a message through another
    /// node; `true` when this node had them typing (the typing-stopped events are then
    /// this node's to publish).
    fn typing_stopped(&self, thread: String, user: i64) -> BoxFuture<'static, ()>;
    /// A node died: the `(channel, user)` chat sessions it held ended and `offline`
    /// users went offline cluster-wide; their channels and contacts must hear it.
    fn node_died(&self, left: Vec<(i64, i64)>, offline: Vec<i64>) -> BoxFuture<'static, ()>;
}

/// What the bus delivers into on this node.
#[derive(Clone)]
pub struct Wiring {
    /// Local subscriptions.
    pub hub: Arc<Hub>,
    /// Local sessions by user.
    pub live: Arc<LiveSessions>,
    /// The domain's side.
    pub events: Arc<dyn BusEvents>,
    /// Flips to `true` when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
}

impl Cluster {
    /// Starts the cluster tasks (no-op for a single node): the publisher draining the
    /// outbox in order, the subscriber delivering other nodes' events, the heartbeat
    /// and the reaper. Returns once this node hears the cluster channel (or after a few
    /// seconds of trying, logged), so no event published after start-up is missed.
    pub async fn start(self: &Arc<Self>, wiring: Wiring) {
        let Some(r) = &self.redis else {
            return;
        };
        let Some(rx) = lock(&r.outbox_rx).take() else {
            return;
        };
        tokio::spawn(publish_loop(r.conn.clone(), self.key(EVENTS), rx));
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(subscribe_loop(
            self.clone(),
            r.client.clone(),
            wiring.clone(),
            ready_tx,
        ));
        if tokio::time::timeout(Duration::from_secs(5), ready_rx)
            .await
            .is_err()
        {
            tracing::warn!("not yet subscribed to the cluster channel; still trying");
        }
        let me = self.clone();
        tokio::spawn(async move {
            let mut shutdown = wiring.shutdown.clone();
            let mut tick = tokio::time::interval(me.ttl / 3);
            loop {
                tokio::select! {
                    _ = shutdown.wait_for(|v| *v) => return,
                    _ = tick.tick() => {}
                }
                if let Err(e) = me.heartbeat().await {
                    tracing::warn!(error = %e, "cluster heartbeat failed");
                }
                me.reap(&wiring).await;
            }
        });
    }

    async fn receive(&self, w: &Wiring, m: BusMsg) {
        let me = self.node.as_str();
        match m {
            BusMsg::Event { n, d, b, x } if n != me => {
                w.hub.deliver(&d, &b, x.as_exclude());
            }
            BusMsg::Presence { n, u, on } if n != me => {
                let mut set = lock(&self.remote_online);
                if on {
                    set.insert(u);
                } else {
                    set.remove(&u);
                }
            }
            BusMsg::Participant { n, c, u, on } if n != me => {
                let mut set = lock(&self.remote_active);
                if on {
                    set.insert((c, u));
                } else {
                    set.remove(&(c, u));
                }
            }
            BusMsg::Revoke { n, u } if n != me => {
                w.live.end_user(u, crate::realtime::live::REVOKED);
            }
            BusMsg::EndGrants { n, u, c } if n != me => {
                w.hub.revoke(u, c);
            }
            BusMsg::StopTyping { n, th, u } if n != me => {
                w.events.typing_stopped(th, u).await;
            }
            _ => {}
        }
    }

    /// Removes dead nodes' counts and has the domain announce who went offline or left
    /// a chat.
    async fn reap(&self, w: &Wiring) {
        let Some(r) = &self.redis else {
            return;
        };
        let mut conn = r.conn.clone();
        let nodes: Vec<String> = match redis::cmd("SMEMBERS")
            .arg(self.key(NODES))
            .query_async(&mut conn)
            .await
        {
            Ok(n) => n,
            Err(_) => return,
        };
        for node in nodes.into_iter().filter(|n| *n != self.node) {
            let script = redis::Script::new(REAP_SCRIPT);
            let (gone, left): (Vec<String>, Vec<String>) = match script
                .arg(&node)
                .arg(self.key(""))
                .invoke_async(&mut conn)
                .await
            {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "reaping a node failed");
                    continue;
                }
            };
            if !gone.is_empty() || !left.is_empty() {
                tracing::warn!(node = %node, users = gone.len(), chats = left.len(), "a node died: announcing its users");
            }
            let left: Vec<(i64, i64)> = left.iter().filter_map(|p| parse_pair(p)).collect();
            let gone: Vec<i64> = gone.iter().filter_map(|u| u.parse().ok()).collect();
            for &(c, u) in &left {
                lock(&self.remote_active).remove(&(c, u));
                self.send(&BusMsg::Participant {
                    n: self.node.clone(),
                    c,
                    u,
                    on: false,
                });
            }
            for &u in &gone {
                lock(&self.remote_online).remove(&u);
                self.send(&BusMsg::Presence {
                    n: self.node.clone(),
                    u,
                    on: false,
                });
            }
            if !left.is_empty() || !gone.is_empty() {
                w.events.node_died(left, gone).await;
            }
        }
    }
}

/// Publishes the outbox in order, retrying a failed PUBLISH a few times.
async fn publish_loop(
    mut conn: redis::aio::ConnectionManager,
    events: String,
    mut rx: mpsc::Receiver<Out>,
) {
    while let Some(out) = rx.recv().await {
        let text = match out {
            Out::Publish(text) => text,
            Out::Flush(done) => {
                let _ = done.send(());
                continue;
            }
        };
        for attempt in 1..=PUBLISH_ATTEMPTS {
            match redis::cmd("PUBLISH")
                .arg(&events)
                .arg(&text)
                .query_async::<i64>(&mut conn)
                .await
            {
                Ok(_) => break,
                Err(e) if attempt == PUBLISH_ATTEMPTS => {
                    tracing::error!(error = %e, "publishing to the cluster failed; event dropped")
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "publishing to the cluster failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
            }
        }
    }
}

async fn subscribe_loop(
    cluster: Arc<Cluster>,
    client: redis::Client,
    wiring: Wiring,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut shutdown = wiring.shutdown.clone();
    let events = cluster.key(EVENTS);
    let mut ready = Some(ready);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut ps) => {
                if ps.subscribe(&events).await.is_ok() {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                    let mut stream = ps.on_message();
                    loop {
                        let msg = tokio::select! {
                            _ = shutdown.wait_for(|v| *v) => return,
                            m = stream.next() => m,
                        };
                        let Some(msg) = msg else { break };
                        let Ok(text) = msg.get_payload::<String>() else {
                            continue;
                        };
                        if let Ok(m) = serde_json::from_str::<BusMsg>(&text) {
                            cluster.receive(&wiring, m).await;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cluster subscription failed; retrying"),
        }
        tokio::select! {
            _ = shutdown.wait_for(|v| *v) => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bus_messages_round_trip_and_drop_connection_exclusions() {
        let m = BusMsg::Event {
            n: "a".into(),
            d: "/t".into(),
            b: "{}".into(),
            x: WireExclude::of(Exclude::Users(&[1, 2])),
        };
        let text = serde_json::to_string(&m).unwrap();
        let back: BusMsg = serde_json::from_str(&text).unwrap();
        assert!(matches!(back, BusMsg::Event { x: WireExclude::Us(ref v), .. } if v == &[1, 2]));
        assert!(matches!(WireExclude::of(Exclude::Conn(7)), WireExclude::N));
        assert_eq!(parse_pair("12:34"), Some((12, 34)));
        assert_eq!(parse_pair("x"), None);
    }
}
