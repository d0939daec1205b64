//! Channel management and unread state.

use super::{
    channel_row, ids_in, ids_json, insert_member, now_ms, safe, Backend, Store, StoreError,
    StoreResult, CHANNEL_COLS, CHANNEL_COLUMNS,
};
use crate::store::ChannelRow;
use sqlx::Row;

/// The unread filter shared by the unread queries: messages newer than what the member
/// read or cleared, not their own, not deleted, not hidden for them, not from users
/// they block. `$U` is the member's user id; `m` the membership row; `g` the message.
const UNREAD_MESSAGE: &str = "g.id > m.last_read_message_id AND g.id > m.cleared_before_id \
     AND g.deleted_ms IS NULL AND (g.user_id IS NULL OR g.user_id <> m.user_id) \
     AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.message_id = g.id AND h.user_id = m.user_id) \
     AND (g.user_id IS NULL OR NOT EXISTS (SELECT 1 FROM user_blocks b WHERE b.user_id = m.user_id AND b.blocked_id = g.user_id))";

/// The statement of [`Store::channels_for`]: the app's condition as `+c.app_id` keeps
/// SQLite looking the listed ids up by primary key instead of reading every channel of
/// the app through its `(app_id, …)` index (see `users_by_ids_sql` in store/mod.rs).
pub(super) fn channels_for_sql(backend: Backend) -> String {
    format!(
        "SELECT {CHANNEL_COLS}, (SELECT COUNT(*) FROM channel_members m \
         WHERE m.channel_id = c.id AND m.user_id = $3) FROM channels c \
         WHERE c.id IN {} AND +c.app_id = $2",
        ids_in(backend)
    )
}

impl Store {
    /// Channels of the application by id (any order), each with whether `viewer` is
    /// one of its members, in one query.
    pub async fn channels_for(
        &self,
        app_id: i64,
        ids: &[i64],
        viewer: i64,
    ) -> StoreResult<Vec<(ChannelRow, bool)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = channels_for_sql(self.backend);
        let rows = sqlx::query(safe(&sql))
            .bind(ids_json(ids))
            .bind(app_id)
            .bind(viewer)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((channel_row(r)?, r.try_get::<i64, _>(CHANNEL_COLUMNS)? != 0)))
            .collect()
    }

    /// Updates a channel's name, display name and properties (each when given).
    /// [`StoreError::Conflict`] if the new name is taken.
    pub async fn update_channel(
        &self,
        id: i64,
        name: Option<&str>,
        display_name: Option<&str>,
        properties: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE channels SET name = COALESCE($1, name), display_name = COALESCE($2, display_name), \
             properties = COALESCE($3, properties) WHERE id = $4",
        )
        .bind(name)
        .bind(display_name)
        .bind(properties)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes a channel with its memberships and messages. The channel row goes
    /// first (its memberships, messages and their reactions follow it by cascade), so
    /// the webhook triggers of migration 6 see one `channel.deleted`, not a removal of
    /// every member and reaction.
    pub async fn delete_channel(&self, id: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for sql in [
            "DELETE FROM channels WHERE id = $1",
            "DELETE FROM reactions WHERE message_id IN (SELECT id FROM messages WHERE channel_id = $1)",
            "DELETE FROM hidden_messages WHERE message_id IN (SELECT id FROM messages WHERE channel_id = $1)",
            "DELETE FROM messages WHERE channel_id = $1",
            "DELETE FROM threads WHERE channel_id = $1",
            "DELETE FROM channel_members WHERE channel_id = $1",
            "UPDATE files SET channel_id = NULL WHERE channel_id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds a member; `true` if they were not one already.
    pub async fn add_member(&self, channel_id: i64, user_id: i64, role: &str) -> StoreResult<bool> {
        if self.membership(channel_id, user_id).await?.is_some() {
            return Ok(false);
        }
        let mut tx = self.pool.begin().await?;
        insert_member(&mut tx, channel_id, user_id, role, now_ms()).await?;
        // A new member has nothing unread from before they joined.
        sqlx::query(
            "UPDATE channel_members SET last_read_message_id = COALESCE((SELECT MAX(id) FROM messages WHERE channel_id = $1), 0) \
             WHERE channel_id = $1 AND user_id = $2",
        )
        .bind(channel_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes a member; `true` if they were one.
    pub async fn remove_member(&self, channel_id: i64, user_id: i64) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM channel_members WHERE channel_id = $1 AND user_id = $2")
            .bind(channel_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Sets a member's role (`MEMBER` or `MODERATOR`).
    pub async fn set_role(&self, channel_id: i64, user_id: i64, role: &str) -> StoreResult<()> {
        sqlx::query("UPDATE channel_members SET role = $1 WHERE channel_id = $2 AND user_id = $3")
            .bind(role)
            .bind(channel_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Mutes or unmutes a channel for a member.
    pub async fn set_muted(&self, channel_id: i64, user_id: i64, muted: bool) -> StoreResult<()> {
        sqlx::query("UPDATE channel_members SET muted = $1 WHERE channel_id = $2 AND user_id = $3")
            .bind(i64::from(muted))
            .bind(channel_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Hides or shows a channel for a member.
    pub async fn set_hidden(&self, channel_id: i64, user_id: i64, hidden: bool) -> StoreResult<()> {
        sqlx::query(
            "UPDATE channel_members SET hidden = $1 WHERE channel_id = $2 AND user_id = $3",
        )
        .bind(i64::from(hidden))
        .bind(channel_id)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Clears the channel's history for one member (everything up to now).
    pub async fn clear_history(&self, channel_id: i64, user_id: i64) -> StoreResult<()> {
        let newest: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM messages WHERE channel_id = $1")
                .bind(channel_id)
                .fetch_one(&self.pool)
                .await?;
        sqlx::query(
            "UPDATE channel_members SET cleared_before_id = $1, \
             last_read_message_id = CASE WHEN last_read_message_id < $1 THEN $1 ELSE last_read_message_id END \
             WHERE channel_id = $2 AND user_id = $3",
        )
        .bind(newest)
        .bind(channel_id)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks messages read up to `message_id` (or the newest) for a member. Returns the
    /// new read position if it moved forward.
    pub async fn read_up_to(
        &self,
        channel_id: i64,
        user_id: i64,
        message_id: Option<i64>,
    ) -> StoreResult<Option<i64>> {
        let newest: Option<i64> =
            sqlx::query_scalar("SELECT MAX(id) FROM messages WHERE channel_id = $1")
                .bind(channel_id)
                .fetch_one(&self.pool)
                .await?;
        let target = match (message_id, newest) {
            (Some(m), Some(n)) => m.min(n),
            (None, Some(n)) => n,
            (_, None) => return Ok(None),
        };
        let r = sqlx::query(
            "UPDATE channel_members SET last_read_message_id = $1, last_read_ms = $2 \
             WHERE channel_id = $3 AND user_id = $4 AND last_read_message_id < $1",
        )
        .bind(target)
        .bind(now_ms())
        .bind(channel_id)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok((r.rows_affected() > 0).then_some(target))
    }

    /// Unread messages of one member in one channel.
    pub async fn unread_count(&self, channel_id: i64, user_id: i64) -> StoreResult<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM channel_members m JOIN messages g ON g.channel_id = m.channel_id \
             WHERE m.channel_id = $1 AND m.user_id = $2 AND {UNREAD_MESSAGE}"
        );
        Ok(sqlx::query_scalar(safe(&sql))
            .bind(channel_id)
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Unread messages of a user across their channels.
    pub async fn unread_total(&self, user_id: i64) -> StoreResult<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM channel_members m JOIN messages g ON g.channel_id = m.channel_id \
             WHERE m.user_id = $1 AND {UNREAD_MESSAGE}"
        );
        Ok(sqlx::query_scalar(safe(&sql))
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?)
    }

    /// The user's channels (optionally of one type) with at least one unread message.
    pub async fn unread_channels_count(
        &self,
        user_id: i64,
        kind: Option<&str>,
    ) -> StoreResult<i64> {
        let kind_sql = if kind.is_some() {
            " AND c.kind = $2"
        } else {
            ""
        };
        let sql = format!(
            "SELECT COUNT(*) FROM channel_members m JOIN channels c ON c.id = m.channel_id \
             WHERE m.user_id = $1{kind_sql} AND EXISTS (SELECT 1 FROM messages g WHERE g.channel_id = m.channel_id AND {UNREAD_MESSAGE})"
        );
        let mut q = sqlx::query_scalar(safe(&sql)).bind(user_id);
        if let Some(k) = kind {
            q = q.bind(k.to_owned());
        }
        Ok(q.fetch_one(&self.pool).await?)
    }

    /// Number of channels a user is a member of (optionally of one type).
    pub async fn member_channels_count(
        &self,
        user_id: i64,
        kind: Option<&str>,
    ) -> StoreResult<i64> {
        let kind_sql = if kind.is_some() {
            " AND c.kind = $2"
        } else {
            ""
        };
        let sql = format!(
            "SELECT COUNT(*) FROM channel_members m JOIN channels c ON c.id = m.channel_id WHERE m.user_id = $1{kind_sql}"
        );
        let mut q = sqlx::query_scalar(safe(&sql)).bind(user_id);
        if let Some(k) = kind {
            q = q.bind(k.to_owned());
        }
        Ok(q.fetch_one(&self.pool).await?)
    }

    /// A channel of the application by its unique name.
    pub async fn channel_by_name(
        &self,
        app_id: i64,
        name: &str,
    ) -> StoreResult<Option<ChannelRow>> {
        let sql =
            format!("SELECT {CHANNEL_COLS} FROM channels c WHERE c.app_id = $1 AND c.name = $2");
        let row = sqlx::query(safe(&sql))
            .bind(app_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| channel_row(&r)).transpose()
    }

    /// Every channel of an application (Platform API listing), newest first.
    pub async fn app_channels_page(
        &self,
        app_id: i64,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<ChannelRow>, i64)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM channels WHERE app_id = $1")
            .bind(app_id)
            .fetch_one(&self.pool)
            .await?;
        let sql = format!(
            "SELECT {CHANNEL_COLS} FROM channels c WHERE c.app_id = $1 ORDER BY c.id DESC LIMIT {limit} OFFSET {offset}"
        );
        let rows = sqlx::query(safe(&sql))
            .bind(app_id)
            .fetch_all(&self.pool)
            .await?;
        Ok((
            rows.iter().map(channel_row).collect::<StoreResult<_>>()?,
            total,
        ))
    }

    /// Creates a group channel without a creator (Platform API).
    pub async fn create_group_channel_as_app(
        &self,
        app_id: i64,
        kind: chatkitty_protocol::resource::ChannelType,
        name: &str,
        display_name: &str,
        properties: &str,
    ) -> StoreResult<ChannelRow> {
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO channels (app_id, kind, name, display_name, properties, created_ms, last_activity_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(app_id)
        .bind(kind.as_str())
        .bind(name)
        .bind(display_name)
        .bind(properties)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        self.channel(app_id, id)
            .await?
            .ok_or(StoreError::Db(sqlx::Error::RowNotFound))
    }
}
