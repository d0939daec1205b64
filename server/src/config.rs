//! Configuration from flags and environment variables.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{ArgAction, Parser};

/// Server configuration. Every flag also reads an environment variable, and the
/// defaults run the demo: SQLite file in the working directory, API key `demo`,
/// guest sessions on.
#[derive(Clone, Parser)]
#[command(
    name = "chatkitty-server",
    version,
    about = "Self-hostable ChatKitty-compatible chat server"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "CHATKITTY_BIND", default_value = "127.0.0.1")]
    pub bind: IpAddr,

    /// Port to listen on (0 picks a free port; the chosen one is printed).
    #[arg(long, env = "CHATKITTY_PORT", default_value_t = 8080)]
    pub port: u16,

    /// Database: a SQLite file path, a `sqlite://` URL or a `postgres://` URL.
    #[arg(long, env = "CHATKITTY_DATABASE", default_value = "chatkitty.db")]
    pub database: String,

    /// API keys of the applications this server hosts (repeat the flag or separate
    /// with commas). Each key is one application with its own users and channels.
    #[arg(
        long = "api-key",
        env = "CHATKITTY_API_KEYS",
        value_delimiter = ',',
        default_value = "demo"
    )]
    pub api_keys: Vec<String>,

    /// Platform API credentials, `API_KEY=SECRET` (repeat, or comma-separate): the
    /// app's backend gets a bearer token with HTTP Basic `API_KEY:SECRET` at
    /// `POST /oauth/token`. Without one, an application's Platform API is closed.
    #[arg(
        long = "platform-secret",
        env = "CHATKITTY_PLATFORM_SECRETS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub platform_secrets: Vec<String>,

    /// Let anyone start a session with just a username (created on first use). Default:
    /// on, unless a verifier (`--jwt-*`, `--auth-callback-url`) is configured; see
    /// [`Config::guests_on`].
    #[arg(long, env = "CHATKITTY_GUEST_SESSIONS", action = ArgAction::Set)]
    pub guest_sessions: Option<bool>,

    /// Verify authenticated sessions with HS256 JWTs signed with this secret.
    #[arg(long, env = "CHATKITTY_JWT_HS256_SECRET", hide_env_values = true)]
    pub jwt_hs256_secret: Option<String>,

    /// Verify authenticated sessions with RS256 JWTs: the signer's public key (PEM,
    /// SubjectPublicKeyInfo).
    #[arg(long, env = "CHATKITTY_JWT_RS256_PUBLIC_KEY")]
    pub jwt_rs256_public_key: Option<PathBuf>,

    /// Required `aud` claim of session JWTs.
    #[arg(long, env = "CHATKITTY_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Required `iss` claim of session JWTs.
    #[arg(long, env = "CHATKITTY_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    // Identity providers' keys (README "Authenticated sessions", docs/protocol.md §2.4).
    /// Verify authenticated sessions with JWTs signed by the keys published at this
    /// JWKS URL (http:// or https://; e.g. an identity provider's
    /// `/.well-known/jwks.json`): RS256/384/512, PS256/384/512, ES256/384 and EdDSA,
    /// the key chosen by the token's `kid`.
    #[arg(long, env = "CHATKITTY_JWT_JWKS_URL")]
    pub jwt_jwks_url: Option<String>,

    /// The JWKS is fetched again this often (seconds), so removed keys stop verifying.
    #[arg(long, env = "CHATKITTY_JWT_JWKS_REFRESH_SECS", default_value_t = 3600)]
    pub jwt_jwks_refresh_secs: u64,

    /// A token signed by a key not in the JWKS (a rotation) fetches it again, at most
    /// once per this many seconds.
    #[arg(
        long,
        env = "CHATKITTY_JWT_JWKS_MIN_REFRESH_SECS",
        default_value_t = 30
    )]
    pub jwt_jwks_min_refresh_secs: u64,

    /// Certificate authorities (PEM) trusted for an https:// JWKS URL instead of the
    /// built-in Mozilla roots (a provider behind a private CA).
    #[arg(long, env = "CHATKITTY_JWT_JWKS_CA_FILE")]
    pub jwt_jwks_ca_file: Option<PathBuf>,

    /// The JWT claim that must equal the username the client connects as (e.g. `sub`,
    /// `email`, `preferred_username`). Default: `username`, else `sub`.
    #[arg(long, env = "CHATKITTY_JWT_USERNAME_CLAIM")]
    pub jwt_username_claim: Option<String>,

    /// Verify authenticated sessions by POSTing them to this http:// URL of the app's
    /// backend (instead of JWTs).
    #[arg(long, env = "CHATKITTY_AUTH_CALLBACK_URL")]
    pub auth_callback_url: Option<String>,

    /// How long to wait for the auth callback before refusing the session.
    #[arg(
        long,
        env = "CHATKITTY_AUTH_CALLBACK_TIMEOUT_MS",
        default_value_t = 3000
    )]
    pub auth_callback_timeout_ms: u64,

    /// Serve this folder at `/` (the demo app).
    #[arg(long, env = "CHATKITTY_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,

    /// The `Content-Security-Policy` of the pages `--static-dir` serves, replacing the
    /// default (docs/protocol.md §2.1): an app that loads scripts, fonts or APIs from
    /// elsewhere, or nodes with public URLs of their own, states its own policy here;
    /// `off` sends none.
    #[arg(long, env = "CHATKITTY_PAGE_CSP")]
    pub page_csp: Option<String>,

    /// Public base URL used in links to files and avatars (e.g. `https://chat.example.com`).
    /// Defaults to `http://<bind>:<port>`; never taken from a request.
    #[arg(long, env = "CHATKITTY_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Secret signing file grants and session ids. Generated and kept in the database
    /// when not given, so grants survive restarts.
    #[arg(long, env = "CHATKITTY_SECRET", hide_env_values = true)]
    pub secret: Option<String>,

    /// How long a user stays online after their last connection closes, so a quick
    /// reconnect does not flap their presence.
    #[arg(long, env = "CHATKITTY_PRESENCE_GRACE_MS", default_value_t = 3000)]
    pub presence_grace_ms: u64,

    /// After a restart, how long the users who were online when the server stopped have
    /// to come back without their contacts hearing they went offline and online again
    /// (and those who were in a chat, to open it again without its participants hearing
    /// it); those who do not are announced offline (gone from the chat) then. 0:
    /// everyone is announced as they come back. Single node only (docs/protocol.md §13.4).
    #[arg(long, env = "CHATKITTY_PRESENCE_RESTORE_MS", default_value_t = 30000)]
    pub presence_restore_ms: u64,

    /// Typing stops after this long without keystrokes.
    #[arg(long, env = "CHATKITTY_TYPING_TIMEOUT_MS", default_value_t = 5000)]
    pub typing_timeout_ms: u64,

    /// Server heart-beat interval offered in CONNECTED (0 disables).
    #[arg(long, env = "CHATKITTY_HEARTBEAT_MS", default_value_t = 10_000)]
    pub heartbeat_ms: u64,

    /// Client heart-beat interval asked for in CONNECTED; a client silent for three
    /// times this long is disconnected (0 disables).
    #[arg(long, env = "CHATKITTY_CLIENT_HEARTBEAT_MS", default_value_t = 60_000)]
    pub client_heartbeat_ms: u64,

    /// Largest STOMP frame accepted, in bytes.
    #[arg(long, env = "CHATKITTY_MAX_FRAME_BYTES", default_value_t = 1 << 20)]
    pub max_frame_bytes: usize,

    /// Largest text message body, in characters.
    #[arg(long, env = "CHATKITTY_MAX_MESSAGE_CHARS", default_value_t = 10_000)]
    pub max_message_chars: usize,

    /// Largest `properties` object of a user, channel, message, thread or custom event,
    /// in bytes of JSON.
    #[arg(long, env = "CHATKITTY_MAX_PROPERTIES_BYTES", default_value_t = 16 * 1024)]
    pub max_properties_bytes: usize,

    /// Users one request may name (`createChannel`'s members, an invitation list).
    #[arg(long, env = "CHATKITTY_MAX_MEMBERS_PER_REQUEST", default_value_t = 100)]
    pub max_members_per_request: usize,

    /// `<@user>` and `<#channel>` mentions resolved in one message (further tags stay
    /// plain text).
    #[arg(long, env = "CHATKITTY_MAX_MENTIONS", default_value_t = 20)]
    pub max_mentions: usize,

    /// Largest answer to one read (a page of messages, channels, users…), in bytes:
    /// a page that would be larger holds fewer items, and its `next` link continues
    /// where it stopped.
    #[arg(long, env = "CHATKITTY_MAX_PAGE_BYTES", default_value_t = 512 * 1024)]
    pub max_page_bytes: usize,

    /// Frames queued for one connection before it is dropped as a slow consumer.
    #[arg(long, env = "CHATKITTY_OUTBOUND_QUEUE", default_value_t = 1024)]
    pub outbound_queue: usize,

    /// STOMP frames packed into one outgoing WebSocket message when several are queued
    /// for a connection together (at most 16 KiB of them; `1`: one frame per message,
    /// for clients that read only the first frame of a message). docs/protocol.md §2.2.
    #[arg(long, env = "CHATKITTY_MAX_FRAMES_PER_MESSAGE", default_value_t = 64)]
    pub max_frames_per_message: usize,

    /// Bytes queued for one connection before it is dropped as a slow consumer (the
    /// first frame of an empty queue always passes, whatever its size).
    #[arg(long, env = "CHATKITTY_OUTBOUND_QUEUE_BYTES", default_value_t = 1 << 20)]
    pub outbound_queue_bytes: usize,

    /// Bytes queued for all connections together: past it, connections with more than
    /// an eighth of their own budget queued are dropped as slow consumers.
    #[arg(long, env = "CHATKITTY_OUTBOUND_TOTAL_BYTES", default_value_t = 256 << 20)]
    pub outbound_total_bytes: usize,

    /// A new connection must complete CONNECT within this long of opening.
    #[arg(long, env = "CHATKITTY_CONNECT_TIMEOUT_MS", default_value_t = 10_000)]
    pub connect_timeout_ms: u64,

    /// Topic subscriptions one connection may hold.
    #[arg(long, env = "CHATKITTY_MAX_SUBSCRIPTIONS", default_value_t = 1000)]
    pub max_subscriptions: usize,

    /// Sustained SEND (action) rate per connection, per second; bursts up to
    /// `send_burst`. Over it: `RateLimitExceededError`; far over it: disconnected.
    #[arg(long, env = "CHATKITTY_SEND_RATE", default_value_t = 20)]
    pub send_rate: u32,

    /// SEND burst per connection.
    #[arg(long, env = "CHATKITTY_SEND_BURST", default_value_t = 100)]
    pub send_burst: u32,

    /// Sustained relay (SUBSCRIBE read) rate per connection, per second.
    #[arg(long, env = "CHATKITTY_RELAY_RATE", default_value_t = 200)]
    pub relay_rate: u32,

    /// Relay burst per connection.
    #[arg(long, env = "CHATKITTY_RELAY_BURST", default_value_t = 1000)]
    pub relay_burst: u32,

    /// Sustained topic SUBSCRIBE/UNSUBSCRIBE rate per connection, per second, bursts
    /// up to `subscribe_burst`. Over it the connection is paced: its next frames wait.
    #[arg(long, env = "CHATKITTY_SUBSCRIBE_RATE", default_value_t = 100)]
    pub subscribe_rate: u32,

    /// Topic SUBSCRIBE/UNSUBSCRIBE burst per connection.
    #[arg(long, env = "CHATKITTY_SUBSCRIBE_BURST", default_value_t = 400)]
    pub subscribe_burst: u32,

    /// Requests refused for rate within a minute before the connection is closed.
    #[arg(long, env = "CHATKITTY_ABUSE_LIMIT", default_value_t = 50)]
    pub abuse_limit: u32,

    /// Open connections one user may have (tabs, devices).
    #[arg(long, env = "CHATKITTY_MAX_CONNECTIONS_PER_USER", default_value_t = 20)]
    pub max_connections_per_user: u32,

    // Connections, logins and what is exposed (README "Limits" and "Security").
    /// A request's headers must arrive within this long, and a kept-alive HTTP
    /// connection waits at most this long for its next request; then it is closed.
    #[arg(
        long,
        env = "CHATKITTY_HTTP_HEADER_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub http_header_timeout_ms: u64,

    /// Connections (HTTP and WebSocket) one client address may hold open at once
    /// (IPv6: one /64); 0 for no limit. Over it a new connection is answered 503 with
    /// a `RateLimitExceededError` body and closed. Trusted proxies are not counted.
    #[arg(
        long,
        env = "CHATKITTY_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 256
    )]
    pub max_connections_per_address: u32,

    /// Reverse proxies (IP addresses or CIDR blocks, comma-separated) whose
    /// `X-Forwarded-For` names the client address. Without them no header is believed:
    /// the client address is the socket's peer.
    #[arg(long, env = "CHATKITTY_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,

    /// Failed logins (authParams refused, Platform API secrets) for one username or
    /// client id within the window; further attempts are refused with
    /// `RateLimitExceededError` without being checked.
    #[arg(long, env = "CHATKITTY_LOGIN_FAILURES_PER_USER", default_value_t = 10)]
    pub login_failures_per_user: u32,

    /// Failed logins from one client address within the window.
    #[arg(
        long,
        env = "CHATKITTY_LOGIN_FAILURES_PER_ADDRESS",
        default_value_t = 50
    )]
    pub login_failures_per_address: u32,

    /// The window failed logins are counted over, in seconds.
    #[arg(
        long,
        env = "CHATKITTY_LOGIN_FAILURE_WINDOW_SECS",
        default_value_t = 300
    )]
    pub login_failure_window_secs: u64,

    /// Longest an authenticated session id stays valid, in seconds. A JWT's `exp`, or
    /// the auth callback's `expiresIn`, ends it sooner.
    #[arg(
        long,
        env = "CHATKITTY_AUTH_SESSION_MAX_SECS",
        default_value_t = 86_400
    )]
    pub auth_session_max_secs: u64,

    /// Largest auth callback answer read, in bytes (larger: the session is refused).
    #[arg(long, env = "CHATKITTY_AUTH_CALLBACK_MAX_BYTES", default_value_t = 64 * 1024)]
    pub auth_callback_max_bytes: usize,

    /// `/metrics` requires `Authorization: Bearer <this token>`. Without it (and without
    /// `--metrics-bind`) only loopback clients may read `/metrics`.
    #[arg(long, env = "CHATKITTY_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Serve `/metrics` on this address (`host:port`) only, not on the main one.
    #[arg(long, env = "CHATKITTY_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// Origins (e.g. `https://chat.example.com`, comma-separated) allowed to open
    /// WebSockets and make CORS requests; empty allows every origin.
    #[arg(long, env = "CHATKITTY_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Redis URL linking several nodes that share one (PostgreSQL) database: events,
    /// presence and chat participation then span every node.
    #[arg(long, env = "CHATKITTY_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key and channel the cluster uses, so that several
    /// deployments (or test runs) can share one Redis without hearing each other.
    #[arg(long, env = "CHATKITTY_REDIS_PREFIX", default_value = "ck")]
    pub redis_prefix: String,

    /// A node that stops refreshing its liveness key for this long is considered dead
    /// and its users are announced offline by the others.
    #[arg(long, env = "CHATKITTY_NODE_TTL_MS", default_value_t = 15_000)]
    pub node_ttl_ms: u64,

    /// Where uploaded files are stored.
    #[arg(long, env = "CHATKITTY_FILES_DIR", default_value = "chatkitty-files")]
    pub files_dir: PathBuf,

    /// Largest file upload, in bytes (larger ones are refused with 413).
    #[arg(long, env = "CHATKITTY_MAX_UPLOAD_BYTES", default_value_t = 25 * 1024 * 1024)]
    pub max_upload_bytes: u64,

    // Data rights (README "Data rights", docs/protocol.md §15).
    /// Messages older than this many days are purged by a background task (0: kept
    /// forever). An application's own period (Platform API `…/retention`) wins.
    #[arg(long, env = "CHATKITTY_RETENTION_DAYS", default_value_t = 0)]
    pub retention_days: u32,

    /// How often the retention purge runs, in seconds.
    #[arg(
        long,
        env = "CHATKITTY_RETENTION_INTERVAL_SECS",
        default_value_t = 3600
    )]
    pub retention_interval_secs: u64,

    /// Seconds to wait for connections to close at shutdown.
    #[arg(long, env = "CHATKITTY_SHUTDOWN_GRACE_SECS", default_value_t = 5)]
    pub shutdown_grace_secs: u64,
    // Webhooks and the before-send hook (README "Webhooks", docs/protocol.md §15.1, §17).
    /// A webhook endpoint every application has (besides those registered through the
    /// Platform API): an http:// or https:// URL, at any address (it is the
    /// operator's). Needs `--webhook-secret`.
    #[arg(long, env = "CHATKITTY_WEBHOOK_URL", requires = "webhook_secret")]
    pub webhook_url: Option<String>,
    /// The `whsec_…` secret the default endpoint's events are signed with.
    #[arg(long, env = "CHATKITTY_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Event types sent to the default endpoint (comma-separated; default: all).
    #[arg(long, env = "CHATKITTY_WEBHOOK_EVENTS", value_delimiter = ',')]
    pub webhook_events: Vec<String>,
    /// Let webhook endpoints registered through the Platform API resolve to loopback,
    /// private or link-local addresses (refused by default: SECURITY.md).
    #[arg(long, env = "CHATKITTY_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,
    /// One webhook request's time limit (no answer by then: the attempt failed).
    #[arg(long, env = "CHATKITTY_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    pub webhook_timeout_ms: u64,
    /// Webhook requests in flight per endpoint, across every node.
    #[arg(long, env = "CHATKITTY_WEBHOOK_CONCURRENCY", default_value_t = 8)]
    pub webhook_concurrency: u32,
    /// Attempts to deliver one event before it is given up.
    #[arg(long, env = "CHATKITTY_WEBHOOK_MAX_ATTEMPTS", default_value_t = 11)]
    pub webhook_max_attempts: u32,
    /// The wait before an event's second attempt; each next one waits three times
    /// longer (at most six hours).
    #[arg(
        long,
        env = "CHATKITTY_WEBHOOK_RETRY_BASE_MS",
        default_value_t = 10_000
    )]
    pub webhook_retry_base_ms: u64,
    /// Largest webhook payload sent whole, in bytes (larger: sent without its data,
    /// marked `"truncated": true`).
    #[arg(long, env = "CHATKITTY_WEBHOOK_MAX_PAYLOAD_BYTES", default_value_t = 256 * 1024)]
    pub webhook_max_payload_bytes: usize,
    /// Webhook endpoints per application.
    #[arg(long, env = "CHATKITTY_WEBHOOK_MAX_ENDPOINTS", default_value_t = 10)]
    pub webhook_max_endpoints: usize,
    /// Events waiting for one endpoint before it is disabled (and no more are queued
    /// for it until it is enabled again).
    #[arg(long, env = "CHATKITTY_WEBHOOK_MAX_PENDING", default_value_t = 100_000)]
    pub webhook_max_pending: u64,
    /// How often a node looks for webhook events when none of its own woke it.
    #[arg(long, env = "CHATKITTY_WEBHOOK_POLL_MS", default_value_t = 1000)]
    pub webhook_poll_ms: u64,
    /// Ask this URL of the app's backend about every message before it is stored:
    /// `POST {message, sender, channel}`; the answer allows, rejects or replaces it.
    #[arg(long, env = "CHATKITTY_BEFORE_SEND_URL")]
    pub before_send_url: Option<String>,
    /// A `whsec_…` secret to sign before-send requests with (Standard Webhooks headers).
    #[arg(long, env = "CHATKITTY_BEFORE_SEND_SECRET", hide_env_values = true)]
    pub before_send_secret: Option<String>,
    /// How long to wait for the before-send hook.
    #[arg(long, env = "CHATKITTY_BEFORE_SEND_TIMEOUT_MS", default_value_t = 2000)]
    pub before_send_timeout_ms: u64,
    /// When the before-send hook fails (no answer in time, an error, an answer that is
    /// not one of the three), store the message anyway. Default: refuse it.
    #[arg(long, env = "CHATKITTY_BEFORE_SEND_FAIL_OPEN")]
    pub before_send_fail_open: bool,
    /// Largest before-send answer read, in bytes (larger: the hook failed).
    #[arg(long, env = "CHATKITTY_BEFORE_SEND_MAX_BYTES", default_value_t = 64 * 1024)]
    pub before_send_max_bytes: usize,
}

/// Every setting, secrets redacted (one line per setting, hence its length).
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("port", &self.port)
            .field("database", &redact_url(&self.database))
            .field("api_keys", &self.api_keys.len())
            .field("guest_sessions", &self.guest_sessions)
            .field("static_dir", &self.static_dir)
            .field("page_csp", &self.page_csp)
            .field("public_url", &self.public_url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field(
                "jwt_hs256_secret",
                &self.jwt_hs256_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("jwt_rs256_public_key", &self.jwt_rs256_public_key)
            .field("jwt_audience", &self.jwt_audience)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_jwks_url", &self.jwt_jwks_url)
            .field("jwt_jwks_refresh_secs", &self.jwt_jwks_refresh_secs)
            .field("jwt_jwks_min_refresh_secs", &self.jwt_jwks_min_refresh_secs)
            .field("jwt_jwks_ca_file", &self.jwt_jwks_ca_file)
            .field("jwt_username_claim", &self.jwt_username_claim)
            .field("auth_callback_url", &self.auth_callback_url)
            .field("platform_secrets", &self.platform_secrets.len())
            .field("presence_grace_ms", &self.presence_grace_ms)
            .field("presence_restore_ms", &self.presence_restore_ms)
            .field("typing_timeout_ms", &self.typing_timeout_ms)
            .field("heartbeat_ms", &self.heartbeat_ms)
            .field("client_heartbeat_ms", &self.client_heartbeat_ms)
            .field("max_frame_bytes", &self.max_frame_bytes)
            .field("max_message_chars", &self.max_message_chars)
            .field("max_properties_bytes", &self.max_properties_bytes)
            .field("max_members_per_request", &self.max_members_per_request)
            .field("max_mentions", &self.max_mentions)
            .field("max_page_bytes", &self.max_page_bytes)
            .field("outbound_queue", &self.outbound_queue)
            .field("outbound_queue_bytes", &self.outbound_queue_bytes)
            .field("max_frames_per_message", &self.max_frames_per_message)
            .field("outbound_total_bytes", &self.outbound_total_bytes)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("max_subscriptions", &self.max_subscriptions)
            .field("send_rate", &self.send_rate)
            .field("send_burst", &self.send_burst)
            .field("relay_rate", &self.relay_rate)
            .field("relay_burst", &self.relay_burst)
            .field("subscribe_rate", &self.subscribe_rate)
            .field("subscribe_burst", &self.subscribe_burst)
            .field("abuse_limit", &self.abuse_limit)
            .field("max_connections_per_user", &self.max_connections_per_user)
            .field("http_header_timeout_ms", &self.http_header_timeout_ms)
            .field(
                "max_connections_per_address",
                &self.max_connections_per_address,
            )
            .field("trusted_proxies", &self.trusted_proxies)
            .field("login_failures_per_user", &self.login_failures_per_user)
            .field(
                "login_failures_per_address",
                &self.login_failures_per_address,
            )
            .field("login_failure_window_secs", &self.login_failure_window_secs)
            .field("auth_session_max_secs", &self.auth_session_max_secs)
            .field("auth_callback_max_bytes", &self.auth_callback_max_bytes)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<redacted>"),
            )
            .field("metrics_bind", &self.metrics_bind)
            .field("allowed_origins", &self.allowed_origins)
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis_prefix", &self.redis_prefix)
            .field("node_ttl_ms", &self.node_ttl_ms)
            .field("files_dir", &self.files_dir)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("retention_days", &self.retention_days)
            .field("retention_interval_secs", &self.retention_interval_secs)
            .field("webhook_url", &self.webhook_url)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("before_send_url", &self.before_send_url)
            .field(
                "before_send_secret",
                &self.before_send_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// Hides a password in a database URL.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:<redacted>{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Config {
    /// Whether a verifier of authenticated sessions is configured.
    pub fn verifier_configured(&self) -> bool {
        self.jwt_hs256_secret.is_some()
            || self.jwt_rs256_public_key.is_some()
            || self.jwt_jwks_url.is_some()
            || self.auth_callback_url.is_some()
    }

    /// Whether guest sessions are on: as `--guest-sessions` says, or by default on
    /// unless a verifier is configured (a server that verifies users must not also let
    /// anyone in by username).
    pub fn guests_on(&self) -> bool {
        self.guest_sessions
            .unwrap_or_else(|| !self.verifier_configured())
    }

    /// A configuration for tests: port 0, the given database, one API key, no grace
    /// periods.
    pub fn for_tests(database: impl Into<String>, api_key: &str) -> Config {
        let mut c = Config::parse_from(["chatkitty-server"]);
        c.port = 0;
        c.database = database.into();
        // Beside a SQLite file; for a database URL, a fresh temporary folder.
        c.files_dir = if c.database.contains("://") {
            std::env::temp_dir().join(format!("chatkitty-files-{}", std::process::id()))
        } else {
            std::path::Path::new(&c.database).with_file_name("files")
        };
        c.api_keys = vec![api_key.to_owned()];
        c.presence_grace_ms = 0;
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_redacted_in_debug_output() {
        let mut c = Config::for_tests("postgres://u:hunter2@db/chat", "k");
        c.secret = Some("s3cret".into());
        let text = format!("{c:?}");
        assert!(
            !text.contains("hunter2") && !text.contains("s3cret"),
            "{text}"
        );
        assert!(text.contains("postgres://u:<redacted>@db/chat"));
    }
}
