//! Data rights (Platform API): what is stored about one user, read in keyset batches
//! for an export; deleting a user; the retention period of an application and the
//! purge of messages past it.

use sqlx::Row;

use super::pool::Tx;

use super::{
    member_row, message_row, now_ms, safe, Backend, MemberRow, MessageRow, ReactionRow, Store,
    StoreResult, MESSAGE_COLS,
};

/// A section of what is stored about a user, read in batches (each row with the key
/// the next batch starts after).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserData {
    /// A membership, with its channel's type, name, display name and join time.
    Membership(MemberRow, String, String, String, i64),
    /// A message the user sent.
    Message(MessageRow),
    /// A reaction the user added.
    Reaction(ReactionRow),
    /// Where the user has read a thread to: thread key, message id.
    ThreadRead(String, i64),
    /// A message the user deleted for themselves.
    Hidden(i64),
    /// A user they blocked: id, username, when.
    Block(i64, String, i64),
    /// A file they uploaded: id, name, content type, size, channel, message, public,
    /// created.
    File(
        i64,
        String,
        String,
        i64,
        Option<i64>,
        Option<i64>,
        bool,
        i64,
    ),
    /// A channel they created: id, name.
    ChannelCreated(i64, String),
}

impl UserData {
    /// The key that resumes its section after it.
    fn key(&self) -> String {
        match self {
            UserData::Membership(m, ..) => m.channel_id.to_string(),
            UserData::Message(m) => m.id.to_string(),
            UserData::Reaction(r) => r.message_id.to_string(),
            UserData::ThreadRead(k, _) => k.clone(),
            UserData::Hidden(id)
            | UserData::Block(id, ..)
            | UserData::File(id, ..)
            | UserData::ChannelCreated(id, _) => id.to_string(),
        }
    }
}

/// The query of section `section` (`$1` the user, `$2` the key to resume after) with
/// at most `n` rows (for reactions: the reactions of at most `n` messages), and
/// whether its key is text (else a number).
fn section_query(section: usize, n: i64) -> (String, bool) {
    let sql = match section {
        0 => format!(
            "SELECT m.channel_id, m.user_id, m.role, m.last_read_message_id, m.cleared_before_id, \
             m.hidden, m.muted, m.last_read_ms, c.kind, c.name, c.display_name, m.joined_ms \
             FROM channel_members m JOIN channels c ON c.id = m.channel_id \
             WHERE m.user_id = $1 AND m.channel_id > $2 ORDER BY m.channel_id LIMIT {n}"
        ),
        1 => format!(
            "SELECT {MESSAGE_COLS} FROM messages g WHERE g.user_id = $1 AND g.id > $2 \
             ORDER BY g.id LIMIT {n}"
        ),
        // Whole messages per batch, so that a batch never splits one message's
        // reactions (a user's reactions to one message are a few emoji).
        2 => format!(
            "SELECT message_id, user_id, emoji, created_ms FROM reactions WHERE user_id = $1 \
             AND message_id IN (SELECT DISTINCT message_id FROM reactions WHERE user_id = $1 \
             AND message_id > $2 ORDER BY message_id LIMIT {n}) ORDER BY message_id, emoji"
        ),
        3 => format!(
            "SELECT thread_key, last_read_message_id FROM thread_reads WHERE user_id = $1 \
             AND thread_key > $2 ORDER BY thread_key LIMIT {n}"
        ),
        4 => format!(
            "SELECT message_id FROM hidden_messages WHERE user_id = $1 AND message_id > $2 \
             ORDER BY message_id LIMIT {n}"
        ),
        5 => format!(
            "SELECT b.blocked_id, u.name, b.created_ms FROM user_blocks b JOIN users u ON u.id = b.blocked_id \
             WHERE b.user_id = $1 AND b.blocked_id > $2 ORDER BY b.blocked_id LIMIT {n}"
        ),
        6 => format!(
            "SELECT id, name, content_type, size, channel_id, message_id, public, created_ms \
             FROM files WHERE owner_id = $1 AND id > $2 ORDER BY id LIMIT {n}"
        ),
        _ => format!(
            "SELECT id, name FROM channels WHERE creator_id = $1 AND id > $2 ORDER BY id LIMIT {n}"
        ),
    };
    (sql, section == 3)
}

/// One row of [`section_query`]'s answer.
fn section_row(section: usize, r: &sqlx::any::AnyRow) -> StoreResult<UserData> {
    Ok(match section {
        0 => UserData::Membership(
            member_row(r)?,
            r.try_get(8)?,
            r.try_get(9)?,
            r.try_get(10)?,
            r.try_get(11)?,
        ),
        1 => UserData::Message(message_row(r)?),
        2 => UserData::Reaction(ReactionRow {
            message_id: r.try_get(0)?,
            user_id: r.try_get(1)?,
            emoji: r.try_get(2)?,
            created_ms: r.try_get(3)?,
        }),
        3 => UserData::ThreadRead(r.try_get(0)?, r.try_get(1)?),
        4 => UserData::Hidden(r.try_get(0)?),
        5 => UserData::Block(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?),
        6 => UserData::File(
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
            r.try_get(3)?,
            r.try_get(4)?,
            r.try_get(5)?,
            r.try_get::<i64, _>(6)? != 0,
            r.try_get(7)?,
        ),
        _ => UserData::ChannelCreated(r.try_get(0)?, r.try_get(1)?),
    })
}

/// What happens to a deleted user's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessagesOfDeletedUser {
    /// Deleted for everyone, as `deleteMessage` does (content erased, reactions
    /// removed; the message's place in the history stays).
    Delete,
    /// Kept, attributed to the emptied user row ("Deleted user").
    Anonymize,
}

/// The sections of [`UserData`], in export order.
pub const USER_DATA_SECTIONS: [&str; 8] = [
    "memberships",
    "messages",
    "reactions",
    "threadReads",
    "hiddenMessages",
    "blocks",
    "files",
    "channelsCreated",
];

impl Store {
    /// A transaction that writes after it reads: on SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`), so two of them wait for each other instead of one
    /// failing when it finds its snapshot stale.
    async fn write_transaction(&self) -> StoreResult<Tx> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Up to `limit` rows of section `section` (an index into
    /// [`USER_DATA_SECTIONS`]) of user `user_id`'s data, after key `after` (`""` for
    /// the first batch), and the key of the last row.
    pub async fn user_data(
        &self,
        section: usize,
        user_id: i64,
        after: &str,
        limit: i64,
    ) -> StoreResult<(Vec<UserData>, Option<String>)> {
        let (sql, text_key) = section_query(section, limit.max(1));
        let query = sqlx::query(safe(&sql)).bind(user_id);
        let query = if text_key {
            query.bind(after.to_owned())
        } else {
            query.bind(after.parse::<i64>().unwrap_or(i64::MIN))
        };
        let rows = query.fetch_all(&self.pool).await?;
        let out = rows
            .iter()
            .map(|r| section_row(section, r))
            .collect::<StoreResult<Vec<_>>>()?;
        let key = out.last().map(UserData::key);
        Ok((out, key))
    }

    /// Empties a user's row (a random username, "Deleted user", no picture or
    /// properties; its sessions revoked) and removes everything else stored about them
    /// but their messages: memberships and read positions, reactions, thread reads,
    /// hidden messages, blocks either way, uploaded files' rows (the tokens returned,
    /// for the bytes on disk), and their name as creator of channels and threads. One
    /// transaction. `false` if there is no such user (or it was deleted already).
    pub async fn delete_user_data(
        &self,
        app_id: i64,
        user_id: i64,
        tombstone_name: &str,
    ) -> StoreResult<Option<Vec<String>>> {
        let mut tx = self.write_transaction().await?;
        let changed = sqlx::query(
            "UPDATE users SET name = $1, display_name = 'Deleted user', display_picture_url = NULL, \
             properties = '{}', presence_status = 'AVAILABLE', is_guest = 0, deleted_ms = $2, \
             session_generation = session_generation + 1 \
             WHERE id = $3 AND app_id = $4 AND deleted_ms IS NULL",
        )
        .bind(tombstone_name)
        .bind(now_ms())
        .bind(user_id)
        .bind(app_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        let tokens: Vec<String> = sqlx::query_scalar("SELECT token FROM files WHERE owner_id = $1")
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?;
        for sql in [
            "DELETE FROM channel_members WHERE user_id = $1",
            "DELETE FROM reactions WHERE user_id = $1",
            "DELETE FROM thread_reads WHERE user_id = $1",
            "DELETE FROM hidden_messages WHERE user_id = $1",
            "DELETE FROM user_blocks WHERE user_id = $1 OR blocked_id = $1",
            "DELETE FROM files WHERE owner_id = $1",
            "UPDATE channels SET creator_id = NULL WHERE creator_id = $1",
            "UPDATE threads SET creator_id = NULL WHERE creator_id = $1",
        ] {
            sqlx::query(sql).bind(user_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(Some(tokens))
    }

    /// Deletes for everyone up to `limit` of a user's messages not deleted yet (as
    /// `deleteMessage` does: content erased, reactions removed); how many.
    pub async fn delete_messages_of(&self, user_id: i64, limit: i64) -> StoreResult<u64> {
        let mut tx = self.write_transaction().await?;
        let ids: Vec<i64> = sqlx::query_scalar(safe(&format!(
            "SELECT id FROM messages WHERE user_id = $1 AND deleted_ms IS NULL ORDER BY id LIMIT {}",
            limit.max(1)
        )))
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let list = super::id_list(&ids);
        sqlx::query(safe(&format!(
            "UPDATE messages SET body = CASE WHEN body IS NULL THEN NULL ELSE '' END, mentions = NULL, \
             links = NULL, properties = '{{}}', group_tag = NULL, deleted_ms = $1 WHERE id IN ({list})"
        )))
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        sqlx::query(safe(&format!(
            "DELETE FROM reactions WHERE message_id IN ({list})"
        )))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// An application's own retention period in days (`None`: the server's default).
    pub async fn retention_days(&self, app_id: i64) -> StoreResult<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT retention_days FROM applications WHERE id = $1")
                .bind(app_id)
                .fetch_optional(&self.pool)
                .await?
                .flatten(),
        )
    }

    /// Sets (or, with `None`, clears) an application's retention period.
    pub async fn set_retention_days(&self, app_id: i64, days: Option<i64>) -> StoreResult<()> {
        sqlx::query("UPDATE applications SET retention_days = $1 WHERE id = $2")
            .bind(days)
            .bind(app_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every application's id and own retention period.
    pub async fn retention_of_apps(&self) -> StoreResult<Vec<(i64, Option<i64>)>> {
        Ok(
            sqlx::query_as("SELECT id, retention_days FROM applications ORDER BY id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Deletes up to `limit` of the oldest messages of application `app_id` created
    /// before `cutoff_ms`, with what hangs on them (reactions, hidden marks, the search
    /// index, by cascade and trigger), and their uploads' rows. Returns how many
    /// messages, and the tokens of the files whose bytes are to be removed. `None`
    /// when another node holds the purge lock (PostgreSQL): that node is purging.
    /// Idempotent: a batch deletes what is still there.
    pub async fn purge_messages(
        &self,
        app_id: i64,
        cutoff_ms: i64,
        limit: i64,
    ) -> StoreResult<Option<(u64, Vec<String>)>> {
        /// Advisory lock key of the purge ("ckpurge").
        const PURGE_LOCK: i64 = 0x63_6b_70_75_72_67_65;
        let mut tx = self.write_transaction().await?;
        if self.backend == Backend::Postgres {
            let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
                .bind(PURGE_LOCK)
                .fetch_one(&mut *tx)
                .await?;
            if !got {
                return Ok(None);
            }
        }
        let ids: Vec<i64> = sqlx::query_scalar(safe(&format!(
            "SELECT g.id FROM messages g JOIN channels c ON c.id = g.channel_id \
             WHERE g.created_ms < $1 AND c.app_id = $2 ORDER BY g.created_ms LIMIT {}",
            limit.max(1)
        )))
        .bind(cutoff_ms)
        .bind(app_id)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(Some((0, Vec::new())));
        }
        let list = super::id_list(&ids);
        let tokens: Vec<String> = sqlx::query_scalar(safe(&format!(
            "SELECT token FROM files WHERE message_id IN ({list})"
        )))
        .fetch_all(&mut *tx)
        .await?;
        for sql in [
            format!("DELETE FROM files WHERE message_id IN ({list})"),
            format!("DELETE FROM messages WHERE id IN ({list})"),
        ] {
            sqlx::query(safe(&sql)).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(Some((ids.len() as u64, tokens)))
    }
}
