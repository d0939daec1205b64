//! The state every connection and HTTP handler shares, and event publishing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chatkitty_protocol::destination::{ChannelTopic, Topic, UserTopic};
use chatkitty_protocol::event::types;
use chatkitty_protocol::resource::EventEnvelope;
use serde::Serialize;
use tokio::sync::{watch, Notify};

use crate::auth::keys::Keys;
use crate::config::Config;
use crate::realtime::hub::{Exclude, Hub};
use crate::realtime::tracker::{Participants, Presence, Typing};
use crate::store::Store;

/// Where uploads are served from.
const HOSTED_PATH: &str = "/files/v1/hosted/";

/// Message searches running at once on one node (`crate::domain::search`): further
/// ones wait for a turn.
pub const MAX_CONCURRENT_SEARCHES: usize = 4;

/// Shared server state (cheap to clone: one `Arc`).
pub type AppState = Arc<Shared>;

/// See [`AppState`].
pub struct Shared {
    /// Configuration.
    pub config: Config,
    /// Database.
    pub store: Store,
    /// Local subscriptions.
    pub hub: Arc<Hub>,
    /// The other nodes, if any.
    pub bus: Arc<crate::realtime::bus::Cluster>,
    /// Online users.
    pub presence: Presence,
    /// Active chat sessions.
    pub participants: Participants,
    /// Presence changes not yet recorded for the next start (domain::presence).
    pub pending_records: crate::realtime::tracker::PendingRecords,
    /// Typing users.
    pub typing: Typing,
    /// Token signing.
    pub keys: Keys,
    /// How authenticated sessions are verified.
    pub verifier: crate::auth::verifier::Verifier,
    /// API key → application id.
    pub apps: HashMap<String, i64>,
    /// Flips to `true` when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// Bytes queued for every connection of this node (slow-consumer protection).
    pub total_queued: Arc<crate::realtime::hub::TotalQueued>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: crate::net::TrustedProxies,
    /// Failed logins per username and client address.
    pub logins: crate::auth::logins::LoginThrottle,
    /// Compiled blocklists by application (docs/protocol.md §22).
    pub blocklists: crate::blocklist::Cache,
    /// This node's sessions per user (for revocation).
    pub live: Arc<crate::realtime::live::LiveSessions>,
    /// Turns of message searches ([`MAX_CONCURRENT_SEARCHES`]).
    pub searches: tokio::sync::Semaphore,
    /// This node's webhook deliverer (and the before-send hook's metrics).
    pub webhooks: Arc<crate::realtime::webhooks::Webhooks>,
    conn_seq: AtomicU64,
    open_connections: AtomicUsize,
    connections_closed: Notify,
    base_url: String,
}

/// Serialises an event envelope `{"type","version":"v1","resource"}`.
pub fn event_json<T: Serialize>(kind: &str, resource: &T) -> String {
    serde_json::to_string(&EventEnvelope {
        kind,
        version: types::VERSION,
        resource,
    })
    .unwrap_or_else(|e| {
        tracing::error!(error = %e, kind, "event serialisation failed");
        String::from("{}")
    })
}

impl Shared {
    /// Builds the state. The public base URL comes from the configuration only
    /// (`--public-url`, else the address the server listens on), never from a request:
    /// see [`Shared::base_url`].
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Config,
        store: Store,
        keys: Keys,
        verifier: crate::auth::verifier::Verifier,
        apps: HashMap<String, i64>,
        shutdown: watch::Receiver<bool>,
        bus: crate::realtime::bus::Cluster,
        trusted_proxies: crate::net::TrustedProxies,
    ) -> Shared {
        let node = bus.node().to_owned();
        let total_queued = crate::realtime::hub::TotalQueued::new(config.outbound_total_bytes);
        let base_url = match &config.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!(
                "http://{}",
                std::net::SocketAddr::new(config.bind, config.port)
            ),
        };
        let webhooks = crate::realtime::webhooks::Webhooks::new(
            crate::realtime::webhooks::Settings::from_config(&config, &node),
            store.clone(),
            config.webhook_allow_private,
        );
        Shared {
            webhooks: Arc::new(webhooks),
            typing: Typing::new(Duration::from_millis(config.typing_timeout_ms)),
            logins: crate::auth::logins::LoginThrottle::new(&config),
            config,
            store,
            hub: Arc::new(Hub::new(node)),
            bus: Arc::new(bus),
            presence: Presence::default(),
            participants: Participants::default(),
            pending_records: Default::default(),
            keys,
            verifier,
            apps,
            shutdown,
            total_queued,
            trusted_proxies,
            live: Arc::default(),
            blocklists: Default::default(),
            searches: tokio::sync::Semaphore::new(MAX_CONCURRENT_SEARCHES),
            conn_seq: AtomicU64::new(1),
            open_connections: AtomicUsize::new(0),
            connections_closed: Notify::new(),
            base_url,
        }
    }

    /// The public base URL of links to files and avatars (no trailing slash). Stored
    /// rows hold paths; links are made from this when a resource is rendered, so no
    /// link depends on a request's `Host` or `X-Forwarded-Proto`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A link to one of this server's uploads: `stored` is its path (`/files/…`), or
    /// the full URL an earlier version stored (whatever scheme and host it names, only
    /// the upload's path is kept); `None` if it holds no upload path.
    pub fn link(&self, stored: &str) -> Option<String> {
        let path = if stored.starts_with('/') && !stored.starts_with("//") {
            stored
        } else {
            &stored[stored.find(HOSTED_PATH)?..]
        };
        Some(format!("{}{path}", self.base_url))
    }

    /// The link of a stored display picture: an upload's path, or an earlier version's
    /// URL whose path is an upload's, made from the base URL; a picture the user set by
    /// URL as they gave it; `None` for anything else.
    pub fn picture_link(&self, stored: &str) -> Option<String> {
        if stored.starts_with('/') && !stored.starts_with("//") {
            return Some(format!("{}{stored}", self.base_url));
        }
        let rest = stored
            .strip_prefix("https://")
            .or_else(|| stored.strip_prefix("http://"))?;
        match rest.find('/').map(|at| &rest[at..]) {
            Some(path) if path.starts_with(HOSTED_PATH) => Some(format!("{}{path}", self.base_url)),
            _ => Some(stored.to_owned()),
        }
    }

    /// A fresh connection id.
    pub fn next_conn_id(&self) -> u64 {
        self.conn_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Counts a connection in (for graceful shutdown and metrics).
    pub fn connection_opened(&self) {
        self.open_connections.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts a connection out.
    pub fn connection_closed(&self) {
        if self.open_connections.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.connections_closed.notify_waiters();
        }
    }

    /// Number of open WebSocket connections.
    pub fn open_connections(&self) -> usize {
        self.open_connections.load(Ordering::SeqCst)
    }

    /// Waits until every connection has closed, or `deadline` passes.
    pub async fn wait_connections_closed(&self, deadline: Duration) {
        let wait = async {
            while self.open_connections() > 0 {
                let notified = self.connections_closed.notified();
                if self.open_connections() == 0 {
                    break;
                }
                let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
            }
        };
        let _ = tokio::time::timeout(deadline, wait).await;
    }

    /// Publishes an event on a destination to every subscriber, on every node. (Every
    /// change is published once committed: the webhook worker is woken for the events
    /// it may have queued.)
    pub fn publish(&self, dest: &str, body: &str, exclude: Exclude<'_>) -> usize {
        self.webhooks.wake();
        self.bus.forward(dest, body, exclude);
        self.hub.deliver(dest, body, exclude)
    }

    /// Ends at once, on every node, the subscriptions `user` (everyone, for `None`)
    /// holds through membership of `channel` (authorization holds at delivery time:
    /// docs/protocol.md, "Authorization").
    pub fn end_grants(&self, user: Option<i64>, channel: i64) {
        self.bus.end_grants(user, channel);
        self.hub.revoke(user, channel);
    }

    /// Ends `user`'s live sessions on this node and the others (their session ids were
    /// revoked).
    pub fn revoke_sessions(&self, user: i64) {
        let here = self.live.end_user(user, crate::realtime::live::REVOKED);
        self.bus.revoke(user);
        tracing::info!(user, here, "sessions revoked");
    }

    /// Whether `user` is online on any node.
    pub fn user_online(&self, user: i64) -> bool {
        self.presence.is_online(user) || self.bus.online_elsewhere(user)
    }

    /// Whether `user` is shown online to others: online, or online when the server
    /// stopped and still within the window to come back in (docs/protocol.md §13.4,
    /// "Restarts"): their return is not announced, so a client that read them in the
    /// meantime must already see them online; if they do not return, their going
    /// offline is announced when the window ends. (Notifications go by
    /// [`Shared::user_online`]: whether they can be reached now.)
    pub fn user_shown_online(&self, user: i64) -> bool {
        self.user_online(user) || self.presence.awaited(user)
    }

    /// Every user [`Shared::user_shown_online`] holds online, of every application
    /// (as many as the cluster's connections, at most), sorted and without repeats.
    pub fn users_shown_online(&self) -> Vec<i64> {
        let mut ids = self.presence.online_or_awaited();
        ids.extend(self.bus.online_elsewhere_ids());
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Whether `user` has a chat session in `channel` on any node.
    pub fn participant_active(&self, channel: i64, user: i64) -> bool {
        self.participants.is_active(channel, user) || self.bus.active_elsewhere(channel, user)
    }

    /// Whether `user` follows `channel` in a chat session, as notifications see it
    /// (docs/protocol.md §13.6): one is open on some node, or — after a restart — one
    /// was open when the server stopped, is not back yet within the window to come back
    /// in (§13.4, "Restarts"), and the user is connected again: their chat comes back
    /// and recovers the message there, so a notification for it would be one for the
    /// chat they are looking at. A user not connected again is still notified (the
    /// `notification.offline` webhook, for push, is for them).
    pub fn follows_chat(&self, channel: i64, user: i64) -> bool {
        self.participant_active(channel, user)
            || (self.participants.awaited(channel, user) && self.user_online(user))
    }

    /// Publishes an event to one of a user's topics.
    pub fn publish_to_user<T: Serialize>(
        &self,
        user_id: i64,
        topic: UserTopic,
        kind: &str,
        resource: &T,
    ) {
        let dest = Topic::User(user_id as u64, topic).to_destination();
        self.publish(&dest, &event_json(kind, resource), Exclude::Nobody);
    }

    /// Publishes an event on a channel topic.
    pub fn publish_to_channel<T: Serialize>(
        &self,
        channel_id: i64,
        topic: ChannelTopic,
        kind: &str,
        resource: &T,
        exclude: Exclude<'_>,
    ) {
        let dest = Topic::Channel(channel_id as u64, topic).to_destination();
        self.publish(&dest, &event_json(kind, resource), exclude);
    }
}
