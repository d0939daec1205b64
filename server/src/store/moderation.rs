//! Moderation rows (docs/protocol.md §22): bans, mutes, flags, slow mode, blocklists.
//! A ban or mute with an expiry in the past is no longer in force (and is replaced by
//! the next one).

use sqlx::Row;

use super::{now_ms, safe, user_row, Store, StoreResult, UserRow, USER_COLS, USER_COLUMNS};

/// A ban or mute in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restriction {
    /// Why (bans).
    pub reason: String,
    /// Until when (ms since the epoch); `None`: until lifted.
    pub expires_ms: Option<i64>,
}

/// A flagged message awaiting (or past) review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagRow {
    /// Id.
    pub id: i64,
    /// The message.
    pub message_id: i64,
    /// Who reported it.
    pub reporter_id: i64,
    /// Why.
    pub reason: String,
    /// `OPEN`, `DISMISSED` or `REMOVED`.
    pub status: String,
    /// When.
    pub created_ms: i64,
}

/// A blocklist entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlocklistRow {
    /// Id.
    pub id: i64,
    /// The word or pattern.
    pub entry: crate::blocklist::Entry,
}

const IN_FORCE: &str = "(expires_ms IS NULL OR expires_ms > $3)";

impl Store {
    /// Bans `user` from `app` (replacing an earlier ban).
    pub async fn ban_from_app(
        &self,
        app: i64,
        user: i64,
        reason: &str,
        expires_ms: Option<i64>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO app_bans (app_id, user_id, reason, expires_ms, created_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (app_id, user_id) DO UPDATE SET reason = $3, expires_ms = $4, created_ms = $5",
        )
        .bind(app)
        .bind(user)
        .bind(reason)
        .bind(expires_ms)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Lifts `user`'s ban from `app`; `false` if there was none.
    pub async fn unban_from_app(&self, app: i64, user: i64) -> StoreResult<bool> {
        self.lift(&APP_BANS, app, user).await
    }

    /// `user`'s ban from `app`, if in force.
    pub async fn app_ban(&self, app: i64, user: i64) -> StoreResult<Option<Restriction>> {
        self.in_force(&APP_BANS, app, user).await
    }

    /// A user of `app` by id and their ban from `app` if one is in force, in one query:
    /// a returning session's sign-in reads both (docs/protocol.md §2.5, §22), and a
    /// reconnect storm makes every statement count (bench/README.md).
    pub async fn user_and_app_ban(
        &self,
        app: i64,
        id: i64,
    ) -> StoreResult<Option<(UserRow, Option<Restriction>)>> {
        let sql = format!(
            "SELECT {USER_COLS}, b.user_id, b.reason, b.expires_ms FROM users u \
             LEFT JOIN app_bans b ON b.app_id = u.app_id AND b.user_id = u.id \
             AND {IN_FORCE} \
             WHERE u.app_id = $1 AND u.id = $2"
        );
        let row = sqlx::query(safe(&sql))
            .bind(app)
            .bind(id)
            .bind(now_ms())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let banned = r.try_get::<Option<i64>, _>(USER_COLUMNS)?.is_some();
            let ban = if banned {
                Some(Restriction {
                    reason: r.try_get(USER_COLUMNS + 1)?,
                    expires_ms: r.try_get(USER_COLUMNS + 2)?,
                })
            } else {
                None
            };
            Ok((user_row(&r)?, ban))
        })
        .transpose()
    }

    /// Bans `user` from `channel` and removes them from its members, in one transaction.
    pub async fn ban_from_channel(
        &self,
        channel: i64,
        user: i64,
        reason: &str,
        expires_ms: Option<i64>,
        by: i64,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO channel_bans (channel_id, user_id, reason, expires_ms, by_user_id, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (channel_id, user_id) \
             DO UPDATE SET reason = $3, expires_ms = $4, by_user_id = $5, created_ms = $6",
        )
        .bind(channel)
        .bind(user)
        .bind(reason)
        .bind(expires_ms)
        .bind(by)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM channel_members WHERE channel_id = $1 AND user_id = $2")
            .bind(channel)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Lifts `user`'s ban from `channel`; `false` if there was none.
    pub async fn unban_from_channel(&self, channel: i64, user: i64) -> StoreResult<bool> {
        self.lift(&CHANNEL_BANS, channel, user).await
    }

    /// `user`'s ban from `channel`, if in force.
    pub async fn channel_ban(&self, channel: i64, user: i64) -> StoreResult<Option<Restriction>> {
        self.in_force(&CHANNEL_BANS, channel, user).await
    }

    /// Mutes `user` in `channel` (replacing an earlier mute).
    pub async fn mute_in_channel(
        &self,
        channel: i64,
        user: i64,
        expires_ms: Option<i64>,
        by: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO channel_mutes (channel_id, user_id, expires_ms, by_user_id, created_ms) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (channel_id, user_id) \
             DO UPDATE SET expires_ms = $3, by_user_id = $4, created_ms = $5",
        )
        .bind(channel)
        .bind(user)
        .bind(expires_ms)
        .bind(by)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Lifts `user`'s mute in `channel`; `false` if there was none.
    pub async fn unmute_in_channel(&self, channel: i64, user: i64) -> StoreResult<bool> {
        self.lift(&CHANNEL_MUTES, channel, user).await
    }

    /// `user`'s mute in `channel`, if in force.
    pub async fn channel_mute(&self, channel: i64, user: i64) -> StoreResult<Option<Restriction>> {
        self.in_force(&CHANNEL_MUTES, channel, user).await
    }

    /// Deletes `user`'s restriction of `kind` within `scope`; `false` if there was none.
    async fn lift(&self, kind: &Kind, scope: i64, user: i64) -> StoreResult<bool> {
        let sql = format!(
            "DELETE FROM {} WHERE {} = $1 AND user_id = $2",
            kind.table, kind.scope
        );
        let r = sqlx::query(safe(&sql))
            .bind(scope)
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// `user`'s restriction of `kind` within `scope`, if in force.
    async fn in_force(
        &self,
        kind: &Kind,
        scope: i64,
        user: i64,
    ) -> StoreResult<Option<Restriction>> {
        let sql = format!(
            "SELECT {}, expires_ms FROM {} WHERE {} = $1 AND user_id = $2 AND {IN_FORCE}",
            kind.reason, kind.table, kind.scope
        );
        let row = sqlx::query(safe(&sql))
            .bind(scope)
            .bind(user)
            .bind(now_ms())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| restriction(&r)).transpose()
    }

    /// Sets a channel's slow mode (0: off).
    pub async fn set_slow_mode(&self, channel: i64, secs: i64) -> StoreResult<()> {
        sqlx::query("UPDATE channels SET slow_mode_secs = $1 WHERE id = $2")
            .bind(secs)
            .bind(channel)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// In a slow-mode channel: takes `user`'s turn to post now if their last post is at
    /// least `secs` old. `None` when taken, else how many ms they must wait.
    pub async fn take_post_slot(
        &self,
        channel: i64,
        user: i64,
        secs: i64,
    ) -> StoreResult<Option<i64>> {
        let now = now_ms();
        let gap = secs.saturating_mul(1000);
        let r = sqlx::query(
            "UPDATE channel_members SET last_post_ms = $1 \
             WHERE channel_id = $2 AND user_id = $3 AND last_post_ms <= $4",
        )
        .bind(now)
        .bind(channel)
        .bind(user)
        .bind(now.saturating_sub(gap))
        .execute(&self.pool)
        .await?;
        if r.rows_affected() > 0 {
            return Ok(None);
        }
        let last: Option<i64> = sqlx::query_scalar(
            "SELECT last_post_ms FROM channel_members WHERE channel_id = $1 AND user_id = $2",
        )
        .bind(channel)
        .bind(user)
        .fetch_optional(&self.pool)
        .await?;
        Ok(Some(last.map_or(gap, |l| (l + gap - now).max(1))))
    }

    /// Records `reporter`'s flag of a message; the flag's id and whether it is new (one
    /// flag per message and reporter).
    pub async fn flag_message(
        &self,
        app: i64,
        message: i64,
        reporter: i64,
        reason: &str,
    ) -> StoreResult<(i64, bool)> {
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO message_flags (app_id, message_id, reporter_id, reason, status, created_ms) \
             VALUES ($1, $2, $3, $4, 'OPEN', $5) ON CONFLICT (message_id, reporter_id) DO NOTHING RETURNING id",
        )
        .bind(app)
        .bind(message)
        .bind(reporter)
        .bind(reason)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        if let Some(id) = inserted {
            return Ok((id, true));
        }
        let id: i64 = sqlx::query_scalar(
            "SELECT id FROM message_flags WHERE message_id = $1 AND reporter_id = $2",
        )
        .bind(message)
        .bind(reporter)
        .fetch_one(&self.pool)
        .await?;
        Ok((id, false))
    }

    /// A page of an application's flags with `status`, oldest first, and how many.
    pub async fn flags(
        &self,
        app: i64,
        status: &str,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<FlagRow>, i64)> {
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM message_flags WHERE app_id = $1 AND status = $2",
        )
        .bind(app)
        .bind(status)
        .fetch_one(&self.pool)
        .await?;
        let sql = format!(
            "SELECT id, message_id, reporter_id, reason, status, created_ms FROM message_flags \
             WHERE app_id = $1 AND status = $2 ORDER BY id LIMIT {limit} OFFSET {offset}"
        );
        let rows = sqlx::query(safe(&sql))
            .bind(app)
            .bind(status)
            .fetch_all(&self.pool)
            .await?;
        let flags = rows.iter().map(flag_row).collect::<StoreResult<Vec<_>>>()?;
        Ok((flags, total))
    }

    /// A flag of the application.
    pub async fn flag(&self, app: i64, id: i64) -> StoreResult<Option<FlagRow>> {
        let row = sqlx::query(
            "SELECT id, message_id, reporter_id, reason, status, created_ms FROM message_flags \
             WHERE app_id = $1 AND id = $2",
        )
        .bind(app)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(flag_row).transpose()
    }

    /// Closes every open flag of a message with `status`.
    pub async fn resolve_flags(&self, message: i64, status: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE message_flags SET status = $1, resolved_ms = $2 WHERE message_id = $3 AND status = 'OPEN'",
        )
        .bind(status)
        .bind(now_ms())
        .bind(message)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An application's blocklist.
    pub async fn blocklist(&self, app: i64) -> StoreResult<Vec<BlocklistRow>> {
        let rows = sqlx::query(
            "SELECT id, pattern, is_regex, action FROM blocklist WHERE app_id = $1 ORDER BY id",
        )
        .bind(app)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let action: String = r.try_get(3)?;
                Ok(BlocklistRow {
                    id: r.try_get(0)?,
                    entry: crate::blocklist::Entry {
                        pattern: r.try_get(1)?,
                        is_regex: r.try_get::<i64, _>(2)? != 0,
                        action: crate::blocklist::Action::parse(&action)
                            .unwrap_or(crate::blocklist::Action::Block),
                    },
                })
            })
            .collect()
    }

    /// Adds a blocklist entry (replacing one with the same pattern); its id.
    pub async fn add_blocklist_entry(
        &self,
        app: i64,
        e: &crate::blocklist::Entry,
    ) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO blocklist (app_id, pattern, is_regex, action, created_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (app_id, pattern) DO UPDATE SET is_regex = $3, action = $4 RETURNING id",
        )
        .bind(app)
        .bind(&e.pattern)
        .bind(i64::from(e.is_regex))
        .bind(e.action.as_str())
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?)
    }

    /// Removes a blocklist entry; `false` if there was none.
    pub async fn remove_blocklist_entry(&self, app: i64, id: i64) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM blocklist WHERE app_id = $1 AND id = $2")
            .bind(app)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }
}

/// A kind of restriction: its table, the column of its scope (application or channel)
/// and what it reads as its reason (mutes have none). Fixed names, never input.
struct Kind {
    table: &'static str,
    scope: &'static str,
    reason: &'static str,
}

const APP_BANS: Kind = Kind {
    table: "app_bans",
    scope: "app_id",
    reason: "reason",
};
const CHANNEL_BANS: Kind = Kind {
    table: "channel_bans",
    scope: "channel_id",
    reason: "reason",
};
const CHANNEL_MUTES: Kind = Kind {
    table: "channel_mutes",
    scope: "channel_id",
    reason: "CAST('' AS TEXT)",
};

fn restriction(r: &sqlx::any::AnyRow) -> StoreResult<Restriction> {
    Ok(Restriction {
        reason: r.try_get(0)?,
        expires_ms: r.try_get(1)?,
    })
}

fn flag_row(r: &sqlx::any::AnyRow) -> StoreResult<FlagRow> {
    Ok(FlagRow {
        id: r.try_get(0)?,
        message_id: r.try_get(1)?,
        reporter_id: r.try_get(2)?,
        reason: r.try_get(3)?,
        status: r.try_get(4)?,
        created_ms: r.try_get(5)?,
    })
}
