//! Persistence: SQLite (embedded, a file, WAL) or PostgreSQL, chosen by the database
//! URL. One SQL text serves both backends (sqlx binds `$N` placeholders by number on
//! SQLite too); only the DDL differs, in `migrations/{sqlite,postgres}`, which define
//! the same tables. Booleans are stored as integers 0/1 on both so rows decode alike.
//!
//! The store knows nothing of STOMP or JSON rendering: domain rows in, domain rows out,
//! and one error type that separates "not found" and "conflict" from "failed".

mod channels;
mod files;
mod messages;
mod moderation;
mod pool;
mod rights;
mod search;
mod sign_ups;
mod users;
mod webhooks;

pub use files::FileRow;
pub use messages::{MessageQuery, MessageScope, ReactionRow, ThreadRow, MAX_PAGE_TOTAL};
pub use moderation::{BlocklistRow, FlagRow, Restriction};
pub use rights::{MessagesOfDeletedUser, UserData, USER_DATA_SECTIONS};
pub use search::{SearchQuery, SearchResult};
pub use users::{BlockRow, Shown, UserFilter, INVISIBLE};
pub use webhooks::{
    outbox_state, AttemptRow, EndpointChange, EndpointRow, Finish, NewAttempt, NewEndpoint,
    OutboxCounts, OutboxRow, Retention,
};

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chatkitty_protocol::resource::{ChannelType, MessageType};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, Row};

use pool::Pool;
use tokio::sync::Mutex;

/// Which database engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file (the default).
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// Store errors: "not found" is an `Option`, not an error; these are the rest.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (e.g. a channel name is taken).
    #[error("uniqueness conflict")]
    Conflict,
    /// The database failed.
    #[error("database error: {0}")]
    Db(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StoreError::Conflict;
            }
        }
        StoreError::Db(e)
    }
}

/// Store result.
pub type StoreResult<T> = Result<T, StoreError>;

/// A user row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Id.
    pub id: i64,
    /// Application.
    pub app_id: i64,
    /// Unique username.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Avatar URL set by the user (a generated one is used when absent).
    pub display_picture_url: Option<String>,
    /// Created by a guest session.
    pub is_guest: bool,
    /// JSON object text.
    pub properties: String,
    /// Chosen presence status (`AVAILABLE`, `AWAY`, …).
    pub presence_status: String,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// Moved on when the user's sessions are revoked: session ids and file grants of
    /// an earlier generation no longer work.
    pub session_generation: i64,
}

/// A channel row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRow {
    /// Id.
    pub id: i64,
    /// Application.
    pub app_id: i64,
    /// Type.
    pub kind: ChannelType,
    /// Unique name.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// JSON object text.
    pub properties: String,
    /// Creator.
    pub creator_id: Option<i64>,
    /// Creation time.
    pub created_ms: i64,
    /// Newest message.
    pub last_message_id: Option<i64>,
    /// Last activity (creation or newest message), for ordering.
    pub last_activity_ms: i64,
    /// Slow mode: seconds between a member's messages (0: off).
    pub slow_mode_secs: i64,
}

/// A membership row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    /// Channel.
    pub channel_id: i64,
    /// User.
    pub user_id: i64,
    /// `MEMBER` or `MODERATOR`.
    pub role: String,
    /// Newest message read.
    pub last_read_message_id: i64,
    /// Messages up to this id are cleared for this member.
    pub cleared_before_id: i64,
    /// Direct channel hidden by this member.
    pub hidden: bool,
    /// Notifications muted.
    pub muted: bool,
    /// When the member last read the channel.
    pub last_read_ms: i64,
}

/// A message row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    /// Id.
    pub id: i64,
    /// Channel.
    pub channel_id: i64,
    /// Sender (absent for system messages).
    pub user_id: Option<i64>,
    /// Type.
    pub kind: MessageType,
    /// Text.
    pub body: Option<String>,
    /// File JSON text.
    pub file: Option<String>,
    /// JSON object text.
    pub properties: String,
    /// Group tag.
    pub group_tag: Option<String>,
    /// Parent message of a reply.
    pub parent_id: Option<i64>,
    /// Mentions JSON array text.
    pub mentions: Option<String>,
    /// Links JSON array text.
    pub links: Option<String>,
    /// Creation time.
    pub created_ms: i64,
    /// Last edit time.
    pub edited_ms: Option<i64>,
    /// Deletion time.
    pub deleted_ms: Option<i64>,
    /// Standalone thread the message was sent in.
    pub thread_id: Option<i64>,
}

impl MemberRow {
    /// A plain member of `channel_id` with nothing read, hidden or muted: how a
    /// channel looks to members in general (a group channel's notification, the
    /// platform API).
    pub fn generic(channel_id: i64) -> MemberRow {
        MemberRow {
            channel_id,
            user_id: 0,
            role: "MEMBER".into(),
            last_read_message_id: 0,
            cleared_before_id: 0,
            hidden: false,
            muted: false,
            last_read_ms: 0,
        }
    }
}

/// A channel member with the flags a new message needs.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    /// The user's id.
    pub id: i64,
    /// Whether they muted the channel.
    pub muted: bool,
    /// Whether they hid the channel (a new message unhides it).
    pub hidden: bool,
}

/// What [`Store::send_context`] loads.
#[derive(Debug, Clone)]
pub struct SendContext {
    /// The channel.
    pub channel: ChannelRow,
    /// Its members.
    pub members: Vec<Member>,
    /// The sender's row (`None` if they no longer exist).
    pub sender: Option<UserRow>,
    /// Users who blocked the sender.
    pub blockers: Vec<i64>,
    /// Users the sender blocked.
    pub blocked: Vec<i64>,
    /// A moderator muted the sender in the channel.
    pub muted: bool,
    /// The sender moderates the channel.
    pub moderator: bool,
}

/// A new PUBLIC or PRIVATE channel.
#[derive(Debug, Clone, Copy)]
pub struct NewGroupChannel<'a> {
    /// Application.
    pub app_id: i64,
    /// `Public` or `Private`.
    pub kind: ChannelType,
    /// Unique name.
    pub name: &'a str,
    /// Name shown.
    pub display_name: &'a str,
    /// Properties JSON.
    pub properties: &'a str,
}

/// A new message to insert.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    /// Channel.
    pub channel_id: i64,
    /// Sender.
    pub user_id: Option<i64>,
    /// Type.
    pub kind: MessageType,
    /// Text.
    pub body: Option<&'a str>,
    /// File JSON.
    pub file: Option<&'a str>,
    /// Properties JSON.
    pub properties: &'a str,
    /// Group tag.
    pub group_tag: Option<&'a str>,
    /// Parent of a reply.
    pub parent_id: Option<i64>,
    /// Standalone thread.
    pub thread_id: Option<i64>,
    /// Mentions JSON.
    pub mentions: Option<&'a str>,
    /// Links JSON.
    pub links: Option<&'a str>,
    /// Time.
    pub created_ms: i64,
    /// Idempotency key: a second insert with the same key returns the first message.
    pub idempotency_key: Option<&'a str>,
}

impl<'a> NewMessage<'a> {
    /// A plain TEXT message in a channel's main thread, sent now.
    pub fn text(channel_id: i64, user_id: Option<i64>, body: &'a str) -> NewMessage<'a> {
        NewMessage {
            channel_id,
            user_id,
            kind: MessageType::Text,
            body: Some(body),
            file: None,
            properties: "{}",
            group_tag: None,
            parent_id: None,
            thread_id: None,
            mentions: None,
            links: None,
            created_ms: now_ms(),
            idempotency_key: None,
        }
    }

    /// The row this message is once stored with `id`.
    fn stored_as(&self, id: i64) -> MessageRow {
        MessageRow {
            id,
            channel_id: self.channel_id,
            user_id: self.user_id,
            kind: self.kind,
            body: self.body.map(str::to_owned),
            file: self.file.map(str::to_owned),
            properties: self.properties.to_owned(),
            group_tag: self.group_tag.map(str::to_owned),
            parent_id: self.parent_id,
            mentions: self.mentions.map(str::to_owned),
            links: self.links.map(str::to_owned),
            created_ms: self.created_ms,
            edited_ms: None,
            deleted_ms: None,
            thread_id: self.thread_id,
        }
    }
}

/// Which end of the history a message page starts from (docs/protocol.md §9.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageCursor {
    /// The newest messages.
    Newest,
    /// Messages older than this id.
    Before(i64),
    /// Messages newer than this id.
    After(i64),
}

/// Filters of channel lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelScope {
    /// Channels the user is a member of (not hidden).
    Joined,
    /// Public channels the user is not a member of.
    Joinable,
    /// Member channels plus public channels.
    Visible,
    /// Member channels with unread messages.
    Unread,
}

/// The database.
#[derive(Clone)]
pub struct Store {
    /// SQLite: connections of our own; PostgreSQL: sqlx's pool (`pool.rs`).
    pool: Pool,
    /// SQLite: a connection of its own for the hot path, a send to a channel (its
    /// context query and its insert), so that sends never wait behind the pool's reads
    /// (`None` on PostgreSQL, whose pool serves sends concurrently).
    sends: Option<Arc<Mutex<AnyConnection>>>,
    backend: Backend,
    /// New users of sign-ins at the same moment, created together (`sign_ups.rs`).
    sign_ups: Arc<sign_ups::SignUps>,
}

/// Runs `$query.$fetch(…)` on the send path's own connection (locked as `$conn`, an
/// `Option<MutexGuard<AnyConnection>>`) when there is one, else on the pool.
macro_rules! on_send_path {
    ($conn:ident, $pool:expr, $query:expr, $fetch:ident) => {
        match $conn.as_deref_mut() {
            Some(c) => $query.$fetch(c).await,
            None => $query.$fetch($pool).await,
        }
    };
}

/// SQLite connections the store reads and writes through, besides the send path's own
/// (`pool.rs`). Readers never wait for each other or for the writer (WAL); writers take
/// turns on SQLite's one write lock.
const SQLITE_READ_CONNECTIONS: usize = 4;

/// Set on every SQLite connection.
const SQLITE_PRAGMAS: [&str; 6] = [
    // WAL: readers never block the writer; NORMAL sync is durable across process
    // crashes in WAL mode; wait instead of failing when another connection holds the
    // write lock.
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 5000",
    // After a checkpoint restarts the WAL, cut its file back to this size (bytes).
    "PRAGMA journal_size_limit = 67108864",
    // SQLite's own checkpoint after a commit, only past this many WAL pages (its
    // default is 1,000): under concurrent writes the log seldom restarts, so past
    // 1,000 pages nearly every commit ran a checkpoint with two fsyncs (115 fsyncs for
    // 2,000 sign-ins of new users, 2 with this; bench/README.md "Checkpoints").
    // `keep_wal_small` checkpoints once a second instead; this stays as a backstop.
    "PRAGMA wal_autocheckpoint = 16384",
    "PRAGMA foreign_keys = ON",
];

pub(crate) const USER_COLS: &str =
    "u.id, u.app_id, u.name, u.display_name, u.display_picture_url, \
     u.is_guest, u.properties, u.presence_status, u.created_ms, u.session_generation";
/// How many columns [`USER_COLS`] selects (a query's columns after them start here).
pub(crate) const USER_COLUMNS: usize = 10;
pub(crate) const CHANNEL_COLS: &str =
    "c.id, c.app_id, c.kind, c.name, c.display_name, c.properties, \
     c.creator_id, c.created_ms, c.last_message_id, c.last_activity_ms, c.slow_mode_secs";
/// How many columns [`CHANNEL_COLS`] selects (a query's columns after them start here).
pub(crate) const CHANNEL_COLUMNS: usize = 11;
pub(crate) const MEMBER_COLS: &str = "m.channel_id, m.user_id, m.role, m.last_read_message_id, \
     m.cleared_before_id, m.hidden, m.muted, m.last_read_ms";
pub(crate) const MESSAGE_COLS: &str = "g.id, g.channel_id, g.user_id, g.kind, g.body, g.file, g.properties, \
     g.group_tag, g.parent_id, g.mentions, g.links, g.created_ms, g.edited_ms, g.deleted_ms, g.thread_id";
/// How many columns `MESSAGE_COLS` names.
pub(crate) const MESSAGE_COL_COUNT: usize = 15;

/// The columns a new message sets, in the order [`Store::insert_message`] binds them.
const INSERT_COLUMNS: &str = "channel_id, user_id, kind, body, file, properties, group_tag, \
     parent_id, mentions, links, created_ms, idempotency_key, thread_id, announced";
/// How many columns `INSERT_COLUMNS` names.
const INSERT_COLS: usize = 14;

struct Migration {
    version: i64,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sqlite: include_str!("../../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        sqlite: include_str!("../../migrations/sqlite/0002_parity.sql"),
        postgres: include_str!("../../migrations/postgres/0002_parity.sql"),
    },
    Migration {
        version: 3,
        sqlite: include_str!("../../migrations/sqlite/0003_announced.sql"),
        postgres: include_str!("../../migrations/postgres/0003_announced.sql"),
    },
    Migration {
        version: 4,
        sqlite: include_str!("../../migrations/sqlite/0004_message_trigger.sql"),
        postgres: include_str!("../../migrations/postgres/0004_message_trigger.sql"),
    },
    Migration {
        version: 5,
        sqlite: include_str!("../../migrations/sqlite/0005_sessions_files.sql"),
        postgres: include_str!("../../migrations/postgres/0005_sessions_files.sql"),
    },
    // Webhooks: endpoints, the outbox written by triggers, attempts (store/webhooks.rs).
    Migration {
        version: 6,
        sqlite: include_str!("../../migrations/sqlite/0006_webhooks.sql"),
        postgres: include_str!("../../migrations/postgres/0006_webhooks.sql"),
    },
    // Message search; data rights (export, deletion, retention).
    Migration {
        version: 7,
        sqlite: include_str!("../../migrations/sqlite/0007_search.sql"),
        postgres: include_str!("../../migrations/postgres/0007_search.sql"),
    },
    Migration {
        version: 8,
        sqlite: include_str!("../../migrations/sqlite/0008_data_rights.sql"),
        postgres: include_str!("../../migrations/postgres/0008_data_rights.sql"),
    },
    Migration {
        version: 10,
        sqlite: include_str!("../../migrations/sqlite/0010_moderation.sql"),
        postgres: include_str!("../../migrations/postgres/0010_moderation.sql"),
    },
    // Flags go with their messages; `message.flagged` queued by a trigger.
    Migration {
        version: 11,
        sqlite: include_str!("../../migrations/sqlite/0011_flag_webhook.sql"),
        postgres: include_str!("../../migrations/postgres/0011_flag_webhook.sql"),
    },
    // Who is online, across restarts.
    Migration {
        version: 12,
        sqlite: include_str!("../../migrations/sqlite/0012_presence_online.sql"),
        postgres: include_str!("../../migrations/postgres/0012_presence_online.sql"),
    },
    // Who is in which chat, across restarts.
    Migration {
        version: 13,
        sqlite: include_str!("../../migrations/sqlite/0013_chat_participants.sql"),
        postgres: include_str!("../../migrations/postgres/0013_chat_participants.sql"),
    },
    // User lists paged in display-name order (store/users.rs, `users_page`).
    Migration {
        version: 14,
        sqlite: include_str!("../../migrations/sqlite/0014_users_by_display_name.sql"),
        postgres: include_str!("../../migrations/postgres/0014_users_by_display_name.sql"),
    },
    // Reactions of the same millisecond in the order they were made (`reaction_order`).
    Migration {
        version: 15,
        sqlite: include_str!("../../migrations/sqlite/0015_reaction_order.sql"),
        postgres: include_str!("../../migrations/postgres/0015_reaction_order.sql"),
    },
];

impl Store {
    /// Opens (creating if needed) the database and runs pending migrations.
    ///
    /// `database` is a file path, a `sqlite://` URL or a `postgres://` URL.
    pub async fn open(database: &str) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        let (url, backend) =
            if database.starts_with("postgres://") || database.starts_with("postgresql://") {
                (database.to_owned(), Backend::Postgres)
            } else if database.starts_with("sqlite:") {
                (database.to_owned(), Backend::Sqlite)
            } else {
                (format!("sqlite://{database}?mode=rwc"), Backend::Sqlite)
            };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = match backend {
            Backend::Sqlite => Pool::Sqlite(Arc::new(
                pool::Connections::open(&options, SQLITE_READ_CONNECTIONS).await?,
            )),
            // No ping before handing out a pooled connection: each would be one more
            // round trip on every query, and a broken connection already fails its query.
            Backend::Postgres => Pool::Postgres(
                AnyPoolOptions::new()
                    .acquire_timeout(pool::ACQUIRE_TIMEOUT)
                    .test_before_acquire(false)
                    .max_connections(16)
                    .connect_with(options.clone())
                    .await?,
            ),
        };
        let mut store = Store {
            sign_ups: sign_ups::SignUps::new(pool.clone(), backend),
            pool,
            sends: None,
            backend,
        };
        store.migrate().await?;
        if let Pool::Sqlite(connections) = &store.pool {
            store.sends = Some(Arc::new(Mutex::new(pool::open(&options).await?)));
            tokio::spawn(keep_wal_small(Arc::downgrade(connections)));
        }
        Ok(store)
    }

    /// The send path's own connection, locked (SQLite), or `None` (use the pool).
    async fn send_path(&self) -> Option<tokio::sync::MutexGuard<'_, AnyConnection>> {
        match &self.sends {
            Some(c) => Some(c.lock().await),
            None => None,
        }
    }

    /// The engine in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations while holding a lock, so nodes starting together on
    /// one database apply each migration once: a PostgreSQL advisory lock, or SQLite's
    /// write lock (`BEGIN IMMEDIATE`).
    async fn migrate(&self) -> StoreResult<()> {
        const LOCK_KEY: i64 = 0x63_6b_6d_69_67; // "ckmig"
        let mut conn = self.pool.acquire().await?;
        match self.backend {
            Backend::Postgres => {
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(LOCK_KEY)
                    .execute(&mut *conn)
                    .await?;
            }
            Backend::Sqlite => {
                sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
            }
        }
        let result = self.migrate_locked(&mut conn).await;
        let release = match self.backend {
            Backend::Postgres => {
                sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(LOCK_KEY)
                    .execute(&mut *conn)
                    .await
            }
            Backend::Sqlite if result.is_ok() => sqlx::query("COMMIT").execute(&mut *conn).await,
            Backend::Sqlite => sqlx::query("ROLLBACK").execute(&mut *conn).await,
        };
        result?;
        release?;
        Ok(())
    }

    async fn migrate_locked(&self, conn: &mut AnyConnection) -> StoreResult<()> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)",
        )
        .execute(&mut *conn)
        .await?;
        for m in MIGRATIONS {
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(m.version)
                    .fetch_optional(&mut *conn)
                    .await?;
            if done.is_some() {
                continue;
            }
            let sql = match self.backend {
                Backend::Sqlite => m.sqlite,
                Backend::Postgres => m.postgres,
            };
            // PostgreSQL: one transaction per migration. SQLite: already inside the
            // IMMEDIATE transaction holding the lock.
            if self.backend == Backend::Postgres {
                sqlx::query("BEGIN").execute(&mut *conn).await?;
            }
            for stmt in split_sql(sql) {
                sqlx::query(safe(&stmt)).execute(&mut *conn).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, $2)")
                .bind(m.version)
                .bind(now_ms())
                .execute(&mut *conn)
                .await?;
            if self.backend == Backend::Postgres {
                sqlx::query("COMMIT").execute(&mut *conn).await?;
            }
            tracing::info!(version = m.version, "applied database migration");
        }
        Ok(())
    }

    /// A server-wide setting.
    pub async fn setting(&self, name: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM server_settings WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Sets a server-wide setting if it is not set yet; returns the value in force.
    pub async fn setting_or_insert(&self, name: &str, value: &str) -> StoreResult<String> {
        sqlx::query("INSERT INTO server_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(self
            .setting(name)
            .await?
            .unwrap_or_else(|| value.to_owned()))
    }

    /// The application id of an API key, registering the key if new.
    pub async fn ensure_application(&self, api_key: &str) -> StoreResult<i64> {
        sqlx::query("INSERT INTO applications (api_key, created_ms) VALUES ($1, $2) ON CONFLICT (api_key) DO NOTHING")
            .bind(api_key)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(
            sqlx::query_scalar("SELECT id FROM applications WHERE api_key = $1")
                .bind(api_key)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    // ----- users -----

    /// A user by name.
    pub async fn user_by_name(&self, app_id: i64, name: &str) -> StoreResult<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.app_id = $1 AND u.name = $2");
        let row = sqlx::query(safe(&sql))
            .bind(app_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| user_row(&r)).transpose()
    }

    /// A user by id, within an application.
    pub async fn user(&self, app_id: i64, id: i64) -> StoreResult<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.app_id = $1 AND u.id = $2");
        let row = sqlx::query(safe(&sql))
            .bind(app_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| user_row(&r)).transpose()
    }

    /// A user by id, whatever the application (internal use: ids are global).
    pub async fn user_by_id(&self, id: i64) -> StoreResult<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.id = $1");
        let row = sqlx::query(safe(&sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| user_row(&r)).transpose()
    }

    /// Users by id (any order).
    pub async fn users_by_ids(&self, app_id: i64, ids: &[i64]) -> StoreResult<Vec<UserRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = users_by_ids_sql(self.backend);
        let rows = sqlx::query(safe(&sql))
            .bind(ids_json(ids))
            .bind(app_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_row).collect()
    }

    /// The user named `name`, created (as a guest when `guest`) if it does not exist.
    pub async fn user_or_create(
        &self,
        app_id: i64,
        name: &str,
        guest: bool,
    ) -> StoreResult<UserRow> {
        Ok(self.user_or_create_new(app_id, name, guest).await?.0)
    }

    /// [`Store::user_or_create`], and whether this call created the user.
    pub async fn user_or_create_new(
        &self,
        app_id: i64,
        name: &str,
        guest: bool,
    ) -> StoreResult<(UserRow, bool)> {
        // A new user comes back from the INSERT itself, made together with those of
        // the sign-ins at the same moment (`sign_ups.rs`); only an existing one is
        // read after.
        if let Some(created) = self.sign_ups.create(app_id, name, guest).await? {
            return Ok((created, true));
        }
        match self.user_by_name(app_id, name).await? {
            Some(u) => Ok((u, false)),
            None => Err(StoreError::Db(sqlx::Error::RowNotFound)),
        }
    }

    /// Ids of the users sharing at least one channel with `user_id` (their "contacts").
    pub async fn contact_ids(&self, user_id: i64) -> StoreResult<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT o.user_id FROM channel_members m \
             JOIN channel_members o ON o.channel_id = m.channel_id \
             WHERE m.user_id = $1 AND o.user_id <> $1",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    // ----- channels -----

    /// A channel by id, within an application.
    pub async fn channel(&self, app_id: i64, id: i64) -> StoreResult<Option<ChannelRow>> {
        let sql =
            format!("SELECT {CHANNEL_COLS} FROM channels c WHERE c.app_id = $1 AND c.id = $2");
        let row = sqlx::query(safe(&sql))
            .bind(app_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| channel_row(&r)).transpose()
    }

    /// A channel of the application, where `user_id`'s view of its history starts if
    /// they are one of its members (their `cleared_before_id`; `None`: not a member)
    /// and whether they are banned from it (docs/protocol.md §22), in one query.
    pub async fn channel_for(
        &self,
        app_id: i64,
        id: i64,
        user_id: i64,
    ) -> StoreResult<Option<(ChannelRow, Option<i64>, bool)>> {
        let sql = format!(
            "SELECT {CHANNEL_COLS}, (SELECT m.cleared_before_id FROM channel_members m \
             WHERE m.channel_id = c.id AND m.user_id = $3), \
             (SELECT COUNT(*) FROM channel_bans b WHERE b.channel_id = c.id AND b.user_id = $3 \
              AND (b.expires_ms IS NULL OR b.expires_ms > $4)) \
             FROM channels c WHERE c.app_id = $1 AND c.id = $2"
        );
        let row = sqlx::query(safe(&sql))
            .bind(app_id)
            .bind(id)
            .bind(user_id)
            .bind(now_ms())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let cleared = r.try_get::<Option<i64>, _>(CHANNEL_COLUMNS)?;
            let banned = r.try_get::<i64, _>(CHANNEL_COLUMNS + 1)? != 0;
            Ok((channel_row(&r)?, cleared, banned))
        })
        .transpose()
    }

    /// Everything a new message in a channel needs before it is stored, in one query:
    /// the channel, its members with their flags, the sender's row and the blocks
    /// between the sender and anyone. `None` for an unknown channel.
    pub async fn send_context(
        &self,
        app_id: i64,
        channel_id: i64,
        user_id: i64,
    ) -> StoreResult<Option<SendContext>> {
        // Members and blocks travel as JSON arrays of numbers: one row, one round trip.
        let (members, blocks) = match self.backend {
            Backend::Sqlite => (
                "(SELECT json_group_array(json_array(m.user_id, m.muted, m.hidden)) \
                 FROM channel_members m WHERE m.channel_id = c.id)",
                "(SELECT json_group_array(json_array(b.user_id, b.blocked_id)) \
                 FROM user_blocks b WHERE b.blocked_id = $3 OR b.user_id = $3)",
            ),
            Backend::Postgres => (
                "(SELECT COALESCE(json_agg(json_build_array(m.user_id, m.muted, m.hidden)), '[]')::text \
                 FROM channel_members m WHERE m.channel_id = c.id)",
                "(SELECT COALESCE(json_agg(json_build_array(b.user_id, b.blocked_id)), '[]')::text \
                 FROM user_blocks b WHERE b.blocked_id = $3 OR b.user_id = $3)",
            ),
        };
        // Moderation (a mute of the sender, their role for slow mode) rides along.
        let sql = format!(
            "SELECT {CHANNEL_COLS}, {members}, {blocks}, \
             (SELECT COUNT(*) FROM channel_mutes x WHERE x.channel_id = c.id AND x.user_id = $3 \
              AND (x.expires_ms IS NULL OR x.expires_ms > $4)), \
             (SELECT m.role FROM channel_members m WHERE m.channel_id = c.id AND m.user_id = $3), \
             {USER_COLS} FROM channels c \
             LEFT JOIN users u ON u.id = $3 WHERE c.app_id = $1 AND c.id = $2"
        );
        let mut conn = self.send_path().await;
        let query = sqlx::query(safe(&sql))
            .bind(app_id)
            .bind(channel_id)
            .bind(user_id)
            .bind(now_ms());
        let row = on_send_path!(conn, &self.pool, query, fetch_optional)?;
        drop(conn);
        let Some(r) = row else {
            return Ok(None);
        };
        let at = CHANNEL_COLUMNS;
        let members: Vec<(i64, i64, i64)> = json_column(&r, at)?;
        let blocks: Vec<(i64, i64)> = json_column(&r, at + 1)?;
        let muted = r.try_get::<i64, _>(at + 2)? != 0;
        let role: Option<String> = r.try_get(at + 3)?;
        let sender = match r.try_get::<Option<i64>, _>(at + 4)? {
            Some(_) => Some(user_row_at(&r, at + 4)?),
            None => None,
        };
        Ok(Some(SendContext {
            muted,
            moderator: role.as_deref() == Some("MODERATOR"),
            channel: channel_row(&r)?,
            members: members
                .into_iter()
                .map(|(id, muted, hidden)| Member {
                    id,
                    muted: muted != 0,
                    hidden: hidden != 0,
                })
                .collect(),
            sender,
            blockers: blocks
                .iter()
                .filter(|(_, b)| *b == user_id)
                .map(|(u, _)| *u)
                .collect(),
            blocked: blocks
                .iter()
                .filter(|(u, _)| *u == user_id)
                .map(|(_, b)| *b)
                .collect(),
        }))
    }

    /// Creates a PUBLIC or PRIVATE channel with its creator as moderator and the other
    /// members. [`StoreError::Conflict`] if the name is taken.
    pub async fn create_group_channel(
        &self,
        c: &NewGroupChannel<'_>,
        creator_id: i64,
        member_ids: &[i64],
    ) -> StoreResult<ChannelRow> {
        let NewGroupChannel {
            app_id,
            kind,
            name,
            display_name,
            properties,
        } = *c;
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO channels (app_id, kind, name, display_name, properties, creator_id, created_ms, last_activity_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(app_id)
        .bind(kind.as_str())
        .bind(name)
        .bind(display_name)
        .bind(properties)
        .bind(creator_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        insert_member(&mut tx, id, creator_id, "MODERATOR", now).await?;
        for &m in member_ids.iter().filter(|&&m| m != creator_id) {
            insert_member(&mut tx, id, m, "MEMBER", now).await?;
        }
        tx.commit().await?;
        self.channel(app_id, id)
            .await?
            .ok_or(StoreError::Db(sqlx::Error::RowNotFound))
    }

    /// The DIRECT channel of exactly `member_ids` (creator included), created if it
    /// does not exist. Returns the channel and whether it was created.
    pub async fn direct_channel(
        &self,
        app_id: i64,
        creator_id: i64,
        member_ids: &[i64],
    ) -> StoreResult<(ChannelRow, bool)> {
        let mut ids = member_ids.to_vec();
        ids.push(creator_id);
        ids.sort_unstable();
        ids.dedup();
        let key = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(".");
        let find = format!(
            "SELECT {CHANNEL_COLS} FROM channels c WHERE c.app_id = $1 AND c.direct_key = $2"
        );
        if let Some(r) = sqlx::query(safe(&find))
            .bind(app_id)
            .bind(&key)
            .fetch_optional(&self.pool)
            .await?
        {
            return Ok((channel_row(&r)?, false));
        }
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let name = format!("direct.{key}");
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO channels (app_id, kind, name, display_name, properties, creator_id, direct_key, created_ms, last_activity_ms) \
             VALUES ($1, 'DIRECT', $2, $2, '{}', $3, $4, $5, $5) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(app_id)
        .bind(&name)
        .bind(creator_id)
        .bind(&key)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = inserted else {
            // Created concurrently by another request: return that one.
            tx.rollback().await?;
            let r = sqlx::query(safe(&find))
                .bind(app_id)
                .bind(&key)
                .fetch_one(&self.pool)
                .await?;
            return Ok((channel_row(&r)?, false));
        };
        for &m in &ids {
            insert_member(&mut tx, id, m, "MEMBER", now).await?;
        }
        tx.commit().await?;
        let c = self
            .channel(app_id, id)
            .await?
            .ok_or(StoreError::Db(sqlx::Error::RowNotFound))?;
        Ok((c, true))
    }

    /// `user_id`'s membership of `channel_id`.
    pub async fn membership(
        &self,
        channel_id: i64,
        user_id: i64,
    ) -> StoreResult<Option<MemberRow>> {
        let sql = format!("SELECT {MEMBER_COLS} FROM channel_members m WHERE m.channel_id = $1 AND m.user_id = $2");
        let row = sqlx::query(safe(&sql))
            .bind(channel_id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| member_row(&r)).transpose()
    }

    /// Ids of a channel's members.
    pub async fn member_ids(&self, channel_id: i64) -> StoreResult<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT user_id FROM channel_members WHERE channel_id = $1 ORDER BY user_id",
        )
        .bind(channel_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A channel's members, by display name.
    pub async fn members(&self, channel_id: i64) -> StoreResult<Vec<UserRow>> {
        let sql = format!(
            "SELECT {USER_COLS} FROM users u JOIN channel_members m ON m.user_id = u.id \
             WHERE m.channel_id = $1 ORDER BY u.display_name, u.id"
        );
        let rows = sqlx::query(safe(&sql))
            .bind(channel_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_row).collect()
    }

    /// The members of a channel with their mute and hide flags, and the user row of one
    /// of them (`with_user`, a new message's sender), in one query.
    pub async fn channel_members(
        &self,
        channel_id: i64,
        with_user: Option<i64>,
    ) -> StoreResult<(Vec<Member>, Option<UserRow>)> {
        let sql = format!(
            "SELECT m.user_id, m.muted, m.hidden, {USER_COLS} FROM channel_members m \
             LEFT JOIN users u ON u.id = m.user_id AND m.user_id = $2 WHERE m.channel_id = $1"
        );
        let rows = sqlx::query(safe(&sql))
            .bind(channel_id)
            .bind(with_user.unwrap_or(-1))
            .fetch_all(&self.pool)
            .await?;
        let mut user = None;
        let mut members = Vec::with_capacity(rows.len());
        for r in &rows {
            members.push(Member {
                id: r.try_get(0)?,
                muted: r.try_get::<i64, _>(1)? != 0,
                hidden: r.try_get::<i64, _>(2)? != 0,
            });
            if r.try_get::<Option<i64>, _>(3)?.is_some() {
                user = Some(user_row_at(r, 3)?);
            }
        }
        Ok((members, user))
    }

    /// What a presence change of `user_id` is announced to, in one statement: the ids
    /// of their channels and of their contacts ([`Store::contact_ids`]).
    pub async fn presence_audience(&self, user_id: i64) -> StoreResult<(Vec<i64>, Vec<i64>)> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT 0, channel_id FROM channel_members WHERE user_id = $1 \
             UNION ALL \
             SELECT DISTINCT 1, o.user_id FROM channel_members m \
             JOIN channel_members o ON o.channel_id = m.channel_id \
             WHERE m.user_id = $1 AND o.user_id <> $1",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        let (mut channels, mut contacts) = (Vec::new(), Vec::new());
        for (kind, id) in rows {
            if kind == 0 {
                channels.push(id);
            } else {
                contacts.push(id);
            }
        }
        Ok((channels, contacts))
    }

    /// A page of channels for `user_id`, most recent activity first, and the total.
    pub async fn channels_page(
        &self,
        app_id: i64,
        user_id: i64,
        scope: ChannelScope,
        name: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<ChannelRow>, i64)> {
        let member = "EXISTS (SELECT 1 FROM channel_members m WHERE m.channel_id = c.id AND m.user_id = $2 AND m.hidden = 0)";
        let any_member =
            "EXISTS (SELECT 1 FROM channel_members m WHERE m.channel_id = c.id AND m.user_id = $2)";
        let unread = "EXISTS (SELECT 1 FROM channel_members m WHERE m.channel_id = c.id AND m.user_id = $2 \
             AND EXISTS (SELECT 1 FROM messages g WHERE g.channel_id = c.id AND g.id > m.last_read_message_id \
             AND g.id > m.cleared_before_id AND g.deleted_ms IS NULL AND (g.user_id IS NULL OR g.user_id <> $2)))";
        let scope_sql = match scope {
            ChannelScope::Joined => member.to_owned(),
            ChannelScope::Joinable => format!("c.kind = 'PUBLIC' AND NOT {any_member}"),
            ChannelScope::Visible => {
                format!("({member} OR (c.kind = 'PUBLIC' AND NOT {any_member}))")
            }
            ChannelScope::Unread => unread.to_owned(),
        };
        let name_sql = if name.is_some() {
            " AND (LOWER(c.name) LIKE ('%' || $3 || '%') ESCAPE '\\' \
             OR LOWER(c.display_name) LIKE ('%' || $3 || '%') ESCAPE '\\')"
        } else {
            ""
        };
        // The pattern is built in SQL ([`contains_pattern`]).
        let pattern = name.map(|n| escape_like(&n.to_lowercase()));
        let count_sql = format!(
            "SELECT COUNT(*) FROM channels c WHERE c.app_id = $1 AND {scope_sql}{name_sql}"
        );
        let page_sql = format!(
            "SELECT {CHANNEL_COLS} FROM channels c WHERE c.app_id = $1 AND {scope_sql}{name_sql} \
             ORDER BY c.last_activity_ms DESC, c.id DESC LIMIT {limit} OFFSET {offset}"
        );
        let mut count = sqlx::query_scalar::<_, i64>(safe(&count_sql))
            .bind(app_id)
            .bind(user_id);
        let mut page = sqlx::query(safe(&page_sql)).bind(app_id).bind(user_id);
        if let Some(p) = &pattern {
            count = count.bind(p.clone());
            page = page.bind(p.clone());
        }
        let total = count.fetch_one(&self.pool).await?;
        let rows = page.fetch_all(&self.pool).await?;
        Ok((
            rows.iter().map(channel_row).collect::<StoreResult<_>>()?,
            total,
        ))
    }

    // ----- messages -----

    /// Inserts a message, moves the channel's activity, marks it read for its sender
    /// and unhides the channel for everyone, in one statement (the message is
    /// committed before anyone is told about it). With an idempotency key already
    /// used by this sender in this channel, returns the stored message and `false`.
    pub async fn insert_message(&self, m: &NewMessage<'_>) -> StoreResult<(MessageRow, bool)> {
        let mut conn = self.send_path().await;
        if let (Some(key), Some(user)) = (m.idempotency_key, m.user_id) {
            let sql = format!(
                "SELECT {MESSAGE_COLS} FROM messages g WHERE g.channel_id = $1 AND g.user_id = $2 AND g.idempotency_key = $3"
            );
            let query = sqlx::query(safe(&sql))
                .bind(m.channel_id)
                .bind(user)
                .bind(key);
            if let Some(r) = on_send_path!(conn, &self.pool, query, fetch_optional)? {
                return Ok((message_row(&r)?, false));
            }
        }
        // One statement: the trigger of migration 4 moves the channel's activity, the
        // sender's read position and unhides the channel, atomically with the insert.
        let sql = insert_sql(1);
        let insert = bind_new(sqlx::query_scalar(safe(&sql)), m);
        let id: i64 = on_send_path!(conn, &self.pool, insert, fetch_one)?;
        drop(conn);
        // The row is what was inserted: no need to read it back.
        Ok((m.stored_as(id), true))
    }

    /// [`Store::insert_message`] for several messages of one sender in one channel, in
    /// two statements whatever their number: one looks up the idempotency keys already
    /// used, one inserts the rest (a key repeated within `ms` is inserted once). The
    /// results are in the order of `ms`. (Long because the two statements, their
    /// bindings and the mapping of rows back to `ms` only make sense read together.)
    pub async fn insert_messages(
        &self,
        ms: &[NewMessage<'_>],
    ) -> StoreResult<Vec<(MessageRow, bool)>> {
        let Some(first) = ms.first() else {
            return Ok(Vec::new());
        };
        let (channel_id, user_id) = (first.channel_id, first.user_id);
        if ms.len() == 1
            || user_id.is_none()
            || ms
                .iter()
                .any(|m| m.channel_id != channel_id || m.user_id != user_id)
        {
            let mut out = Vec::with_capacity(ms.len());
            for m in ms {
                out.push(self.insert_message(m).await?);
            }
            return Ok(out);
        }
        let mut conn = self.send_path().await;
        let keys: Vec<&str> = ms.iter().filter_map(|m| m.idempotency_key).collect();
        let mut used: HashMap<String, MessageRow> = HashMap::new();
        if !keys.is_empty() {
            let list = placeholders(keys.len(), 1, 3);
            let sql = format!(
                "SELECT {MESSAGE_COLS}, g.idempotency_key FROM messages g \
                 WHERE g.channel_id = $1 AND g.user_id = $2 AND g.idempotency_key IN ({list})"
            );
            let mut query = sqlx::query(safe(&sql)).bind(channel_id).bind(user_id);
            for k in &keys {
                query = query.bind(*k);
            }
            for r in on_send_path!(conn, &self.pool, query, fetch_all)? {
                let key: String = r.try_get(MESSAGE_COL_COUNT)?;
                used.insert(key, message_row(&r)?);
            }
        }
        // Which messages to insert: not stored before, and each key once.
        let mut fresh: Vec<&NewMessage<'_>> = Vec::new();
        let mut fresh_keys: HashSet<&str> = HashSet::new();
        for m in ms {
            match m.idempotency_key {
                Some(k) if used.contains_key(k) || !fresh_keys.insert(k) => {}
                _ => fresh.push(m),
            }
        }
        let mut ids: Vec<i64> = Vec::new();
        if !fresh.is_empty() {
            let sql = insert_sql(fresh.len());
            let mut insert = sqlx::query_scalar(safe(&sql));
            for m in &fresh {
                insert = bind_new(insert, m);
            }
            ids = on_send_path!(conn, &self.pool, insert, fetch_all)?;
            // The rows were given ascending ids in the order of VALUES; RETURNING's
            // own order is not promised.
            ids.sort_unstable();
        }
        drop(conn);
        let mut next = ids.into_iter();
        let mut inserted: HashMap<&str, MessageRow> = HashMap::new();
        let mut out = Vec::with_capacity(ms.len());
        for m in ms {
            let stored = match m.idempotency_key {
                Some(k) => used.get(k).or_else(|| inserted.get(k)).cloned(),
                None => None,
            };
            if let Some(row) = stored {
                out.push((row, false));
                continue;
            }
            let id = next.next().ok_or_else(|| {
                StoreError::Db(sqlx::Error::Protocol("fewer ids than inserted rows".into()))
            })?;
            let row = m.stored_as(id);
            if let Some(k) = m.idempotency_key {
                inserted.insert(k, row.clone());
            }
            out.push((row, true));
        }
        Ok(out)
    }

    /// A message by id.
    pub async fn message(&self, id: i64) -> StoreResult<Option<MessageRow>> {
        let sql = format!("SELECT {MESSAGE_COLS} FROM messages g WHERE g.id = $1");
        let row = sqlx::query(safe(&sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| message_row(&r)).transpose()
    }

    /// Whether a message has been announced to every node (see `mark_announced`).
    pub async fn message_announced(&self, id: i64) -> StoreResult<bool> {
        let a: Option<i64> = sqlx::query_scalar("SELECT announced FROM messages WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(a != Some(0))
    }

    /// Records that a message sent with an idempotency key reached every node, so a
    /// retry of it only gets its result.
    pub async fn mark_announced(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE messages SET announced = 1 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

pub(crate) async fn insert_member(
    tx: &mut AnyConnection,
    channel_id: i64,
    user_id: i64,
    role: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO channel_members (channel_id, user_id, role, joined_ms) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (channel_id, user_id) DO NOTHING",
    )
    .bind(channel_id)
    .bind(user_id)
    .bind(role)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(crate) fn user_row(r: &AnyRow) -> StoreResult<UserRow> {
    user_row_at(r, 0)
}

/// WAL frames above which a checkpoint waits for readers so that the WAL can restart.
const WAL_RESTART_FRAMES: i64 = 4096;

/// Keeps SQLite's write-ahead log from growing without bound. SQLite's automatic
/// checkpoints are PASSIVE: they copy pages back but never restart the log while a
/// reader is in it, and with sends reading on one pooled connection while others
/// write there nearly always is one, so under steady load the log grew by 4–9 pages per
/// message (a 900 MB WAL after a few minutes of the fan-out benchmark) and every
/// write paid for the growth. Once a second: a passive checkpoint; when the log is
/// still long, a RESTART one, which waits briefly for readers to leave the log so the
/// next writer starts it from the beginning (its file then cut by
/// `journal_size_limit`).
async fn keep_wal_small(connections: std::sync::Weak<pool::Connections>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        // Ends with the store: nothing else holds its connections.
        let Some(connections) = connections.upgrade() else {
            return;
        };
        let pool = Pool::Sqlite(connections);
        let passive: Result<(i64, i64, i64), _> = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await;
        match passive {
            Ok((_, log, _)) if log > WAL_RESTART_FRAMES => {
                let restart: Result<(i64, i64, i64), _> =
                    sqlx::query_as("PRAGMA wal_checkpoint(RESTART)")
                        .fetch_one(&pool)
                        .await;
                match restart {
                    Ok((busy, _, _)) => {
                        tracing::debug!(frames = log, busy, "WAL checkpoint (restart)")
                    }
                    Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }
}

/// `INSERT INTO messages … RETURNING id` of `rows` new messages, each bound by
/// [`bind_new`] in turn.
fn insert_sql(rows: usize) -> String {
    let values = placeholders(rows, INSERT_COLS, 1);
    format!("INSERT INTO messages ({INSERT_COLUMNS}) VALUES {values} RETURNING id")
}

/// `n` groups of `width` numbered placeholders, the first `$first`: `($1, $2), ($3, $4)`
/// for two groups of 2 from 1, `$3, $4` for two of 1 from 3.
fn placeholders(n: usize, width: usize, first: usize) -> String {
    (0..n)
        .map(|i| {
            let one = (0..width)
                .map(|k| format!("${}", first + i * width + k))
                .collect::<Vec<_>>()
                .join(", ");
            if width == 1 {
                one
            } else {
                format!("({one})")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Binds a new message's `INSERT_COLUMNS`.
fn bind_new<'q>(
    query: sqlx::query::QueryScalar<'q, sqlx::Any, i64, sqlx::any::AnyArguments>,
    m: &NewMessage<'q>,
) -> sqlx::query::QueryScalar<'q, sqlx::Any, i64, sqlx::any::AnyArguments> {
    query
        .bind(m.channel_id)
        .bind(m.user_id)
        .bind(m.kind.as_str())
        .bind(m.body)
        .bind(m.file)
        .bind(m.properties)
        .bind(m.group_tag)
        .bind(m.parent_id)
        .bind(m.mentions)
        .bind(m.links)
        .bind(m.created_ms)
        .bind(m.idempotency_key)
        .bind(m.thread_id)
        .bind(i64::from(m.idempotency_key.is_none()))
}

async fn sqlite_pragmas(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    for pragma in SQLITE_PRAGMAS {
        sqlx::query(pragma).execute(&mut *conn).await?;
    }
    Ok(())
}

fn json_column<T: serde::de::DeserializeOwned>(r: &AnyRow, at: usize) -> StoreResult<T> {
    let text: String = r.try_get(at)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Db(sqlx::Error::Decode(Box::new(e))))
}

/// [`user_row`] with `USER_COLS` starting at column `at`.
fn user_row_at(r: &AnyRow, at: usize) -> StoreResult<UserRow> {
    Ok(UserRow {
        id: r.try_get(at)?,
        app_id: r.try_get(at + 1)?,
        name: r.try_get(at + 2)?,
        display_name: r.try_get(at + 3)?,
        display_picture_url: r.try_get(at + 4)?,
        is_guest: r.try_get::<i64, _>(at + 5)? != 0,
        properties: r.try_get(at + 6)?,
        presence_status: r.try_get(at + 7)?,
        created_ms: r.try_get(at + 8)?,
        session_generation: r.try_get(at + 9)?,
    })
}

pub(crate) fn channel_row(r: &AnyRow) -> StoreResult<ChannelRow> {
    let kind: String = r.try_get(2)?;
    Ok(ChannelRow {
        id: r.try_get(0)?,
        app_id: r.try_get(1)?,
        kind: ChannelType::parse(&kind).ok_or_else(|| decode_error("channel kind", &kind))?,
        name: r.try_get(3)?,
        display_name: r.try_get(4)?,
        properties: r.try_get(5)?,
        creator_id: r.try_get(6)?,
        created_ms: r.try_get(7)?,
        last_message_id: r.try_get(8)?,
        last_activity_ms: r.try_get(9)?,
        slow_mode_secs: r.try_get(10)?,
    })
}

pub(crate) fn member_row(r: &AnyRow) -> StoreResult<MemberRow> {
    Ok(MemberRow {
        channel_id: r.try_get(0)?,
        user_id: r.try_get(1)?,
        role: r.try_get(2)?,
        last_read_message_id: r.try_get(3)?,
        cleared_before_id: r.try_get(4)?,
        hidden: r.try_get::<i64, _>(5)? != 0,
        muted: r.try_get::<i64, _>(6)? != 0,
        last_read_ms: r.try_get(7)?,
    })
}

pub(crate) fn message_row(r: &AnyRow) -> StoreResult<MessageRow> {
    let kind: String = r.try_get(3)?;
    Ok(MessageRow {
        id: r.try_get(0)?,
        channel_id: r.try_get(1)?,
        user_id: r.try_get(2)?,
        kind: MessageType::parse(&kind).ok_or_else(|| decode_error("message kind", &kind))?,
        body: r.try_get(4)?,
        file: r.try_get(5)?,
        properties: r.try_get(6)?,
        group_tag: r.try_get(7)?,
        parent_id: r.try_get(8)?,
        mentions: r.try_get(9)?,
        links: r.try_get(10)?,
        created_ms: r.try_get(11)?,
        edited_ms: r.try_get(12)?,
        deleted_ms: r.try_get(13)?,
        thread_id: r.try_get(14)?,
    })
}

fn decode_error(what: &str, value: &str) -> StoreError {
    StoreError::Db(sqlx::Error::Decode(
        format!("unknown {what} {value:?}").into(),
    ))
}

/// `AND` the message `g` is not hidden for the viewer `$3` nor sent by a user they
/// block. Each check first asks whether the viewer has hidden or blocked anything at
/// all — one look-up per statement, not per message — so for the many viewers who have
/// not, a count of a page's total reads the channel's `(channel_id, id)` index alone,
/// without a look-up per message into two tables and the message's row (bench/README.md,
/// "A viewer who hides and blocks nothing").
pub(crate) const VIEWER_SEES: &str = " \
     AND (NOT EXISTS (SELECT 1 FROM hidden_messages h0 WHERE h0.user_id = $3) \
          OR NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.message_id = g.id AND h.user_id = $3)) \
     AND (NOT EXISTS (SELECT 1 FROM user_blocks b0 WHERE b0.user_id = $3) \
          OR g.user_id IS NULL \
          OR NOT EXISTS (SELECT 1 FROM user_blocks b WHERE b.user_id = $3 AND b.blocked_id = g.user_id))";

/// Marks SQL text built at run time as safe: every dynamic part of our SQL is a
/// constant fragment or an integer we formatted; user input is always bound.
pub(crate) fn safe(sql: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql.to_owned())
}

/// A comma-separated list of integer ids for an `IN (…)` clause (integers only, so
/// nothing user-controlled reaches the SQL text). For batch maintenance; reads that
/// serve requests bind their ids instead ([`ids_in`]).
pub(crate) fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// `(…)` for `x IN (…)`: the ids bound at parameter `$1` as one JSON array
/// ([`ids_json`]). The statement's text is then the same whatever the ids, so each
/// connection parses and plans it once and keeps it in its statement cache; with
/// the ids written into the text, every page of messages was two new statements to
/// parse and plan (bench/README.md, "Reconnect storm: where a returning client's CPU
/// goes").
pub(crate) fn ids_in(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "(SELECT value FROM json_each($1))",
        Backend::Postgres => "(SELECT jsonb_array_elements_text($1::jsonb)::bigint)",
    }
}

/// What orders the `reactions` table's rows as they were made after their
/// `created_ms`: two reactions of the same millisecond were listed by user id before
/// (migration 0015).
pub(crate) fn reaction_order(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "rowid",
        Backend::Postgres => "seq",
    }
}

/// [`ids_in`] reading the ids from parameter `$n`.
pub(crate) fn ids_in_at(backend: Backend, n: usize) -> String {
    ids_in(backend).replace("$1", &format!("${n}"))
}

/// The statement of [`Store::users_by_ids`]. The app's condition is written `+u.app_id`
/// so that SQLite cannot look it up in the `(app_id, name)` index: given that index,
/// its planner read every user of the app and tested each against the list (1.7 ms a
/// statement at 10,000 users, for each page of messages' authors) instead of looking
/// the few listed ids up by primary key (17 µs). A unary `+` keeps a term out of index
/// lookups (sqlite.org/optoverview.html, "Disqualifying WHERE Clause Terms Using Unary-'+'");
/// PostgreSQL reads `+x` as `x` too (and looks the ids up by primary key either way).
fn users_by_ids_sql(backend: Backend) -> String {
    format!(
        "SELECT {USER_COLS} FROM users u WHERE u.id IN {} AND +u.app_id = $2",
        ids_in(backend)
    )
}

/// The ids as the JSON array [`ids_in`] reads.
pub(crate) fn ids_json(ids: &[i64]) -> String {
    format!("[{}]", id_list(ids))
}

/// A `LIKE` pattern for "contains the text bound at `$n`" (escaped with
/// [`escape_like`]), built in SQL: SQLite marks a statement whose `LIKE` pattern is a
/// bound parameter to be compiled again at every new binding (for its prefix
/// optimization, of no use to a pattern that starts with `%`), so `LIKE $n` cost a
/// parse and a compile per search.
pub(crate) fn contains_pattern(n: usize) -> String {
    format!("('%' || ${n} || '%')")
}

/// `s` with `LIKE`'s wildcards and escape character escaped by `\`.
pub(crate) fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Splits a migration file into statements (no semicolons inside our DDL strings).
fn split_sql(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    // A `;` ends a statement except inside a `$$ … $$` body (PostgreSQL functions) or
    // a trigger's `BEGIN … END` (SQLite).
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_dollar = false;
    let mut rest = without_comments.as_str();
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("$$") {
            in_dollar = !in_dollar;
            current.push_str("$$");
            rest = &rest[2..];
            continue;
        }
        rest = &rest[c.len_utf8()..];
        if c != ';' || in_dollar {
            current.push(c);
            continue;
        }
        let upper = current.trim().to_ascii_uppercase();
        if upper.starts_with("CREATE TRIGGER") && upper.contains("BEGIN") && !upper.ends_with("END")
        {
            current.push(c);
            continue;
        }
        let stmt = current.trim();
        if !stmt.is_empty() {
            out.push(stmt.to_owned());
        }
        current.clear();
    }
    let stmt = current.trim();
    if !stmt.is_empty() {
        out.push(stmt.to_owned());
    }
    out
}

pub use crate::clock::now_ms;

#[cfg(test)]
mod tests {
    use super::{placeholders, split_sql, Store};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[test]
    fn placeholders_are_numbered_in_groups_from_the_first() {
        assert_eq!(placeholders(3, 1, 1), "$1, $2, $3");
        assert_eq!(placeholders(2, 1, 3), "$3, $4");
        assert_eq!(placeholders(2, 2, 1), "($1, $2), ($3, $4)");
    }

    /// How SQLite plans `sql` bound to `text` (when given) and then `ints`: the detail
    /// of each step.
    async fn sqlite_plan(
        store: &Store,
        sql: &str,
        text: Option<&str>,
        ints: &[i64],
    ) -> Vec<String> {
        use sqlx::Row;
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut q = sqlx::query(super::safe(&explain));
        if let Some(t) = text {
            q = q.bind(t.to_owned());
        }
        for i in ints {
            q = q.bind(*i);
        }
        let rows = q.fetch_all(&store.pool).await.unwrap();
        rows.iter().map(|r| r.get::<String, _>(3)).collect()
    }

    /// A store on SQLite in a temporary directory, or, when `CHATKITTY_TEST_POSTGRES`
    /// names a PostgreSQL server (scripts/with-postgres.sh), on a fresh database there;
    /// with an application.
    pub(super) async fn store_on_either() -> (tempfile::TempDir, Store, i64) {
        use sqlx::Connection;
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = tempfile::tempdir().unwrap();
        let url = match std::env::var("CHATKITTY_TEST_POSTGRES") {
            Ok(admin) if !admin.is_empty() => {
                let name = format!(
                    "chatkitty_unit_{}_{}",
                    std::process::id(),
                    SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                );
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                format!("{base}/{name}")
            }
            _ => dir.path().join("chat.db").to_str().unwrap().to_owned(),
        };
        let store = Store::open(&url).await.unwrap();
        let app = store.ensure_application("test").await.unwrap();
        (dir, store, app)
    }

    /// A store in a temporary directory with an application and `users` users
    /// (`user0`, `user1`, …).
    async fn store_with_users(users: usize) -> (tempfile::TempDir, Store, i64) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.db");
        let store = Store::open(path.to_str().unwrap()).await.unwrap();
        let app = store.ensure_application("test").await.unwrap();
        for i in 0..users {
            store
                .user_or_create(app, &format!("user{i}"), false)
                .await
                .unwrap();
        }
        (dir, store, app)
    }

    /// Statements given a list of ids look each up by primary key. With the app's
    /// condition open to the `(app_id, …)` indexes, SQLite read every user (channel) of
    /// the app and tested each against the list: 1.7 ms for a page's authors at 10,000
    /// users instead of 17 µs, which held the reconnect storm's gap pages for seconds.
    #[tokio::test]
    async fn id_lists_are_looked_up_by_primary_key_not_by_scanning_the_app() {
        use super::Backend;
        let (_dir, store, app) = store_with_users(50).await;
        for (table, sql) in [
            ("users", super::users_by_ids_sql(Backend::Sqlite)),
            (
                "channels",
                super::channels::channels_for_sql(Backend::Sqlite),
            ),
        ] {
            let plan = sqlite_plan(&store, &sql, Some("[1,2,3]"), &[app, 1]).await;
            let alias = &table[..1];
            let step = plan
                .iter()
                .find(|d| {
                    d.starts_with(&format!("SEARCH {alias} "))
                        || d.starts_with(&format!("SCAN {alias}"))
                })
                .unwrap_or_else(|| panic!("{table}: no step reads it in {plan:?}"));
            assert!(
                step.contains("INTEGER PRIMARY KEY"),
                "{table}: the listed ids are not looked up by primary key: {plan:?}"
            );
        }
    }

    /// Reactions made in the same millisecond are listed in the order they were made,
    /// in a page's reactions and in a message's reactions relay: they were listed by
    /// user id (the test suite saw it on a fast machine, a reaction by user 2 and then
    /// one by user 1 a few hundred microseconds later).
    #[tokio::test]
    async fn reactions_of_one_millisecond_are_listed_in_the_order_made() {
        use super::{NewGroupChannel, NewMessage};
        let (_dir, store, app) = store_with_users(2).await;
        let (first, second) = (1, 2);
        let channel = NewGroupChannel {
            app_id: app,
            kind: chatkitty_protocol::resource::ChannelType::Public,
            name: "room",
            display_name: "room",
            properties: "{}",
        };
        let ch = store
            .create_group_channel(&channel, first, &[second])
            .await
            .unwrap();
        let (m, _) = store
            .insert_messages(&[NewMessage::text(ch.id, Some(first), "hello")])
            .await
            .unwrap()
            .remove(0);
        // The second user reacts, then the first, in the same millisecond.
        for (user, emoji) in [(second, "❤️"), (first, "👍")] {
            sqlx::query(
                "INSERT INTO reactions (message_id, user_id, emoji, created_ms) VALUES ($1, $2, $3, 1000)",
            )
            .bind(m.id)
            .bind(user)
            .bind(emoji)
            .execute(&store.pool)
            .await
            .unwrap();
        }
        let made = |rows: Vec<super::ReactionRow>| -> Vec<(i64, String)> {
            rows.into_iter().map(|r| (r.user_id, r.emoji)).collect()
        };
        let want = vec![(second, "❤️".to_owned()), (first, "👍".to_owned())];
        assert_eq!(made(store.reactions_of(&[m.id]).await.unwrap()), want);
        let (page, _) = store.reactions_and_replies(&[m.id]).await.unwrap();
        assert_eq!(made(page), want);
    }

    /// A page of an application's users: in display-name order, ties by id, the user
    /// asking left out, filtered by name and by how they are shown (online: connected
    /// and not invisible), and the total the filters keep.
    #[tokio::test]
    async fn users_are_paged_in_display_name_order_with_their_total() {
        use super::{Shown, UserFilter};
        let (_dir, store, app) = store_with_users(0).await;
        let other = store.ensure_application("other").await.unwrap();
        store
            .user_or_create(other, "stranger", false)
            .await
            .unwrap();
        let mut ids = Vec::new();
        // Display names equal the names; "B" and "b" sort together, by id.
        for name in ["carol", "B", "alice", "b", "dave", "erin"] {
            ids.push(store.user_or_create(app, name, false).await.unwrap().id);
        }
        let me = ids[4]; // dave
        let all = UserFilter::default();
        let names = |rows: &[super::UserRow]| -> Vec<String> {
            rows.iter().map(|u| u.name.clone()).collect()
        };
        let (rows, total) = store
            .users_page(app, Some(me), &all, Shown::Any, 0, 3)
            .await
            .unwrap();
        assert_eq!(
            (names(&rows), total),
            (vec!["alice".into(), "B".into(), "b".into()], 5)
        );
        let (rows, _) = store
            .users_page(app, Some(me), &all, Shown::Any, 3, 3)
            .await
            .unwrap();
        assert_eq!(names(&rows), vec!["carol".to_owned(), "erin".into()]);
        let (rows, total) = store
            .users_page(app, Some(me), &all, Shown::Any, 9, 3)
            .await
            .unwrap();
        assert_eq!((rows.len(), total), (0, 5));
        let (rows, total) = store
            .users_page(app, Some(me), &all, Shown::Any, 0, 0)
            .await
            .unwrap();
        assert_eq!((rows.len(), total), (0, 5));
        let f = UserFilter {
            name: Some("B"),
            display_name: None,
        };
        let (rows, total) = store
            .users_page(app, None, &f, Shown::Any, 0, 10)
            .await
            .unwrap();
        assert_eq!((names(&rows), total), (vec!["B".into(), "b".into()], 2));
        // carol, erin and alice connected; alice invisible, so shown offline.
        let connected = [ids[0], ids[5], ids[2], 999_999];
        store
            .update_user(ids[2], None, None, Some(super::INVISIBLE), None)
            .await
            .unwrap();
        let (rows, total) = store
            .users_page(app, Some(me), &all, Shown::Online(&connected), 0, 10)
            .await
            .unwrap();
        assert_eq!(
            (names(&rows), total),
            (vec!["carol".into(), "erin".into()], 2)
        );
        let (rows, total) = store
            .users_page(app, Some(me), &all, Shown::Offline(&connected), 0, 10)
            .await
            .unwrap();
        assert_eq!(
            (names(&rows), total),
            (vec!["alice".into(), "B".into(), "b".into()], 3)
        );
    }

    /// A page of users walks the `users_by_display_name` index in order: it reads its
    /// own rows (and those before it), not every user of the application sorted. Before
    /// it, a user's contacts read every user of the application into memory for each
    /// page and each count.
    #[tokio::test]
    async fn a_page_of_users_walks_the_display_name_index_without_sorting() {
        use super::{Shown, UserFilter};
        let (_dir, store, app) = store_with_users(50).await;
        let (page, _, _) = store.users_page_sql(&UserFilter::default(), Shown::Any, 25, 25);
        let plan = sqlite_plan(&store, &page, None, &[app, 1]).await;
        assert!(
            plan.iter().any(|d| d.contains("users_by_display_name")),
            "not read through the display-name index: {plan:?}"
        );
        assert!(
            !plan.iter().any(|d| d.contains("TEMP B-TREE")),
            "sorted rather than read in order: {plan:?}"
        );
    }

    /// Creating a channel commits, then reads the channel back through the pool. When a
    /// transaction's connection was kept until the end of the function, channels created
    /// four at a time each held one of the four connections while waiting for another,
    /// and all of them failed after the pool's timeout (the storm benchmark's set-up).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn channels_created_many_at_a_time_all_succeed() {
        use chatkitty_protocol::resource::ChannelType;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.db");
        let store = Arc::new(Store::open(path.to_str().unwrap()).await.unwrap());
        let app = store.ensure_application("test").await.unwrap();
        let mut users = Vec::new();
        for i in 0..17 {
            let name = format!("user{i}");
            users.push(store.user_or_create(app, &name, false).await.unwrap().id);
        }
        let users = Arc::new(users);
        let mut created = Vec::new();
        for k in 1..17 {
            let (store, users) = (store.clone(), users.clone());
            created.push(tokio::spawn(async move {
                if k % 2 == 0 {
                    store
                        .direct_channel(app, users[0], &[users[k]])
                        .await
                        .map(|_| ())
                } else {
                    let name = format!("group{k}");
                    let channel = super::NewGroupChannel {
                        app_id: app,
                        kind: ChannelType::Public,
                        name: &name,
                        display_name: &name,
                        properties: "{}",
                    };
                    store
                        .create_group_channel(&channel, users[k], &users[..1])
                        .await
                        .map(|_| ())
                }
            }));
        }
        for c in created {
            c.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn name_filters_take_like_wildcards_literally() {
        use super::{ChannelScope, Shown, UserFilter};
        use chatkitty_protocol::resource::ChannelType;
        let (_dir, store, app) = store_on_either().await;
        let me = store.user_or_create(app, "me", false).await.unwrap().id;
        for name in ["a_b", "axb", "50%", "500", "back\\slash", "backXslash"] {
            store.user_or_create(app, name, false).await.unwrap();
            let channel = super::NewGroupChannel {
                app_id: app,
                kind: ChannelType::Public,
                name,
                display_name: name,
                properties: "{}",
            };
            store.create_group_channel(&channel, me, &[]).await.unwrap();
        }
        for (filter, want) in [("A_B", "a_b"), ("0%", "50%"), ("k\\s", "back\\slash")] {
            let f = UserFilter {
                name: Some(filter),
                display_name: None,
            };
            let (rows, total) = store
                .users_page(app, Some(me), &f, Shown::Any, 0, 10)
                .await
                .unwrap();
            let names: Vec<&str> = rows.iter().map(|u| u.name.as_str()).collect();
            assert_eq!(
                (names, total),
                (vec![want], 1),
                "users named like {filter:?}"
            );
            let f = UserFilter {
                name: None,
                display_name: Some(filter),
            };
            let (rows, _) = store
                .users_page(app, Some(me), &f, Shown::Any, 0, 10)
                .await
                .unwrap();
            assert_eq!(rows.len(), 1, "display names like {filter:?}");
            let (rows, total) = store
                .channels_page(app, me, ChannelScope::Joined, Some(filter), 0, 10)
                .await
                .unwrap();
            let names: Vec<&str> = rows.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(
                (names, total),
                (vec![want], 1),
                "channels named like {filter:?}"
            );
        }
    }

    /// Frames in the SQLite write-ahead log (a passive checkpoint reports them).
    async fn wal_frames(store: &Store) -> i64 {
        let (_, log, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        log
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_write_ahead_log_restarts_while_reads_and_writes_never_pause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.db");
        let store = Arc::new(Store::open(path.to_str().unwrap()).await.unwrap());
        sqlx::query("CREATE TABLE scratch (x BLOB)")
            .execute(&store.pool)
            .await
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let mut load = Vec::new();
        // Two readers whose transactions overlap: at every instant one of them is
        // reading, as on a busy server.
        for k in 0..2u64 {
            let (store, stop) = (store.clone(), stop.clone());
            load.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100 * k)).await;
                while !stop.load(Ordering::Relaxed) {
                    let mut tx = store.pool.begin().await.unwrap();
                    let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM scratch")
                        .fetch_one(&mut *tx)
                        .await
                        .unwrap();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    tx.commit().await.unwrap();
                }
            }));
        }
        {
            let (store, stop) = (store.clone(), stop.clone());
            load.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    sqlx::query("INSERT INTO scratch (x) VALUES (zeroblob(3000))")
                        .execute(&store.pool)
                        .await
                        .unwrap();
                }
            }));
        }
        // Under steady load SQLite's own (passive) checkpoints never restart the log;
        // the store's maintenance must, so the frame count falls at some point (a
        // minute's bound only for a machine so loaded that a second's maintenance
        // tick comes late; the test ends as soon as the log restarts).
        let until = Instant::now() + Duration::from_secs(60);
        let (mut last, mut most, mut restarted) = (0, 0, false);
        while Instant::now() < until && !restarted {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = wal_frames(&store).await;
            if now < 0 {
                continue; // another checkpoint was running
            }
            restarted = now < last;
            (last, most) = (now, most.max(now));
        }
        stop.store(true, Ordering::Relaxed);
        for t in load {
            t.await.unwrap();
        }
        assert!(
            restarted,
            "the WAL grew to {most} frames and never restarted"
        );
    }

    #[test]
    fn migrations_split_on_semicolons_but_not_inside_trigger_or_function_bodies() {
        let sql = "-- a comment; not a statement\n\
                   CREATE TABLE a (x INTEGER);\n\
                   CREATE TRIGGER t AFTER INSERT ON a\nBEGIN\n  UPDATE a SET x = 1;\n  UPDATE a SET x = 2;\nEND;\n\
                   CREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n  RETURN NULL;\nEND\n$$ LANGUAGE plpgsql;\n\
                   DROP TABLE a";
        let got = split_sql(sql);
        assert_eq!(got.len(), 4, "{got:#?}");
        assert_eq!(got[0], "CREATE TABLE a (x INTEGER)");
        assert!(got[1].starts_with("CREATE TRIGGER") && got[1].ends_with("END"));
        assert!(got[1].contains("x = 1;") && got[1].contains("x = 2;"));
        assert!(got[2].starts_with("CREATE FUNCTION") && got[2].ends_with("LANGUAGE plpgsql"));
        assert_eq!(got[3], "DROP TABLE a");
    }
}
