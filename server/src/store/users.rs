//! Users: profile updates, listing, blocking.

use super::{
    escape_like, ids_in_at, ids_json, now_ms, placeholders, safe, user_row, Store, StoreResult,
    USER_COLS, USER_COLUMNS,
};
use crate::store::UserRow;

/// A block-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRow {
    /// The blocked user.
    pub blocked: UserRow,
    /// When.
    pub created_ms: i64,
}

/// Which users a list keeps by how they are shown to others (`render_user`): online
/// when connected (the ids given: presence is in memory, not in the database) and not
/// [`INVISIBLE`]; offline otherwise.
#[derive(Debug, Clone, Copy)]
pub enum Shown<'a> {
    Any,
    /// Shown online: among these connected users, and not invisible.
    Online(&'a [i64]),
    /// Shown offline: not among these connected users, or invisible.
    Offline(&'a [i64]),
}

/// The presence status a user sets to be shown offline while connected.
pub const INVISIBLE: &str = "INVISIBLE";

/// Filters of user lists (docs/protocol.md §9.4).
#[derive(Debug, Clone, Default)]
pub struct UserFilter<'a> {
    /// Username contains (case-insensitive).
    pub name: Option<&'a str>,
    /// Display name contains (case-insensitive).
    pub display_name: Option<&'a str>,
}

impl Store {
    /// Updates a user's profile (each field when given).
    pub async fn update_user(
        &self,
        id: i64,
        display_name: Option<&str>,
        properties: Option<&str>,
        presence_status: Option<&str>,
        display_picture_url: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE users SET display_name = COALESCE($1, display_name), properties = COALESCE($2, properties), \
             presence_status = COALESCE($3, presence_status), display_picture_url = COALESCE($4, display_picture_url) \
             WHERE id = $5",
        )
        .bind(display_name)
        .bind(properties)
        .bind(presence_status)
        .bind(display_picture_url)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user's session generation: session ids issued in an earlier one no longer
    /// resume (see `Keys::issue_session`).
    pub async fn session_generation(&self, id: i64) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT session_generation FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .unwrap_or(0),
        )
    }

    /// Revokes every session id of a user: moves their session generation on.
    pub async fn revoke_sessions(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE users SET session_generation = session_generation + 1 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records who is online and who is in which chat, for the next start of the server
    /// (the presence module's restore, docs/protocol.md §13.4): one transaction of at
    /// most four statements per `RECORDS_PER_STATEMENT` (500) changes. A user or channel
    /// deleted meanwhile is left out.
    pub async fn record_presence(
        &self,
        online: &[(i64, bool)],
        chats: &[((i64, i64), bool)],
    ) -> StoreResult<()> {
        let ids = |on: bool| -> Vec<i64> {
            online
                .iter()
                .filter(|(_, o)| *o == on)
                .map(|(u, _)| *u)
                .collect()
        };
        let pairs = |on: bool| -> Vec<(i64, i64)> {
            chats
                .iter()
                .filter(|(_, a)| *a == on)
                .map(|(p, _)| *p)
                .collect()
        };
        let mut tx = self.pool.begin().await?;
        for (on, sql) in [
            (
                true,
                "INSERT INTO presence_online (user_id) SELECT id FROM users WHERE id IN ({}) \
                    ON CONFLICT (user_id) DO NOTHING",
            ),
            (false, "DELETE FROM presence_online WHERE user_id IN ({})"),
        ] {
            for chunk in ids(on).chunks(RECORDS_PER_STATEMENT) {
                let list = placeholders(chunk.len(), 1, 1);
                let sql = sql.replace("{}", &list);
                let mut q = sqlx::query(safe(&sql));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.execute(&mut *tx).await?;
            }
        }
        for (on, sql) in [
            (
                true,
                "INSERT INTO chat_participants (channel_id, user_id) \
                    SELECT v.column1, v.column2 FROM (VALUES {}) AS v \
                    WHERE EXISTS (SELECT 1 FROM channels WHERE id = v.column1) \
                    AND EXISTS (SELECT 1 FROM users WHERE id = v.column2) \
                    ON CONFLICT (channel_id, user_id) DO NOTHING",
            ),
            (
                false,
                "DELETE FROM chat_participants WHERE (channel_id, user_id) IN (VALUES {})",
            ),
        ] {
            for chunk in pairs(on).chunks(RECORDS_PER_STATEMENT) {
                let list = placeholders(chunk.len(), 2, 1);
                let sql = sql.replace("{}", &list);
                let mut q = sqlx::query(safe(&sql));
                for (c, u) in chunk {
                    q = q.bind(*c).bind(*u);
                }
                q.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The users recorded online when the server last stopped.
    pub async fn online_users(&self) -> StoreResult<Vec<i64>> {
        Ok(sqlx::query_scalar("SELECT user_id FROM presence_online")
            .fetch_all(&self.pool)
            .await?)
    }

    /// The (channel, user) chat sessions recorded open when the server last stopped.
    pub async fn participations(&self) -> StoreResult<Vec<(i64, i64)>> {
        Ok(
            sqlx::query_as("SELECT channel_id, user_id FROM chat_participants")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Marks a user as authenticated (no longer a guest).
    pub async fn mark_authenticated(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE users SET is_guest = 0 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A page of an application's users but `exclude`, in display-name order (ties by
    /// id), those `f` and `shown` keep, from the `start`-th, at most `size`; and how many
    /// they keep in all. Two statements, each walking the users in the order of the
    /// `users_by_display_name` index: a page reads its own rows (and those before it),
    /// never every user of the application into memory (README, "Limits").
    pub async fn users_page(
        &self,
        app_id: i64,
        exclude: Option<i64>,
        f: &UserFilter<'_>,
        shown: Shown<'_>,
        start: i64,
        size: i64,
    ) -> StoreResult<(Vec<UserRow>, i64)> {
        let (page, count, binds) = self.users_page_sql(f, shown, start, size);
        let bind_all = |sql: &str| {
            let mut q = sqlx::query(safe(sql))
                .bind(app_id)
                .bind(exclude.unwrap_or(0));
            for b in &binds {
                q = q.bind(b.clone());
            }
            q
        };
        let rows = if size > 0 {
            bind_all(&page).fetch_all(&self.pool).await?
        } else {
            Vec::new()
        };
        let total: i64 = sqlx::Row::try_get(&bind_all(&count).fetch_one(&self.pool).await?, 0)?;
        Ok((
            rows.iter().map(user_row).collect::<StoreResult<_>>()?,
            total,
        ))
    }

    /// The statements of [`Store::users_page`], its page and its count (`$1` the
    /// application, `$2` the user left out), and the text parameters after those two.
    pub(super) fn users_page_sql(
        &self,
        f: &UserFilter<'_>,
        shown: Shown<'_>,
        start: i64,
        size: i64,
    ) -> (String, String, Vec<String>) {
        // Deleted users (data rights) stay only as the authors of what was anonymised.
        let mut cond = "u.app_id = $1 AND u.id <> $2 AND u.deleted_ms IS NULL".to_owned();
        let mut binds = Vec::new();
        for (column, value) in [("u.name", f.name), ("u.display_name", f.display_name)] {
            if let Some(v) = value {
                binds.push(escape_like(&v.to_lowercase()));
                cond.push_str(&format!(
                    " AND LOWER({column}) LIKE {} ESCAPE '\\'",
                    super::contains_pattern(binds.len() + 2)
                ));
            }
        }
        let connected = |binds: &mut Vec<String>, ids: &[i64]| {
            binds.push(ids_json(ids));
            ids_in_at(self.backend, binds.len() + 2)
        };
        match shown {
            Shown::Any => {}
            Shown::Online(ids) => {
                let list = connected(&mut binds, ids);
                cond.push_str(&format!(
                    " AND u.id IN {list} AND u.presence_status <> '{INVISIBLE}'"
                ));
            }
            Shown::Offline(ids) => {
                let list = connected(&mut binds, ids);
                cond.push_str(&format!(
                    " AND (u.id NOT IN {list} OR u.presence_status = '{INVISIBLE}')"
                ));
            }
        }
        let page = format!(
            "SELECT {USER_COLS} FROM users u WHERE {cond} \
             ORDER BY LOWER(u.display_name), u.id LIMIT {} OFFSET {}",
            size.max(0),
            start.max(0)
        );
        let count = format!("SELECT COUNT(*) FROM users u WHERE {cond}");
        (page, count, binds)
    }

    /// `user_id` blocks `blocked_id`; `true` if it was not blocked yet.
    pub async fn block(&self, user_id: i64, blocked_id: i64) -> StoreResult<bool> {
        let r = sqlx::query(
            "INSERT INTO user_blocks (user_id, blocked_id, created_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(blocked_id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Removes a block; `true` if there was one.
    pub async fn unblock(&self, user_id: i64, blocked_id: i64) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM user_blocks WHERE user_id = $1 AND blocked_id = $2")
            .bind(user_id)
            .bind(blocked_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Who `user_id` blocked, newest first, paged.
    pub async fn block_list(
        &self,
        user_id: i64,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<BlockRow>, i64)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_blocks WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
        let sql = format!(
            "SELECT {USER_COLS}, b.created_ms FROM user_blocks b JOIN users u ON u.id = b.blocked_id \
             WHERE b.user_id = $1 ORDER BY b.created_ms DESC, u.id LIMIT {limit} OFFSET {offset}"
        );
        let rows = sqlx::query(safe(&sql))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            use sqlx::Row;
            out.push(BlockRow {
                blocked: user_row(r)?,
                created_ms: r.try_get(USER_COLUMNS)?,
            });
        }
        Ok((out, total))
    }

    /// Users who blocked `user_id` (their connections must not receive its messages).
    pub async fn blockers_of(&self, user_id: i64) -> StoreResult<Vec<i64>> {
        Ok(
            sqlx::query_scalar("SELECT user_id FROM user_blocks WHERE blocked_id = $1")
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Who blocked `user_id`, and whom `user_id` blocked, in one query.
    pub async fn blocks_of(&self, user_id: i64) -> StoreResult<(Vec<i64>, Vec<i64>)> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT user_id, blocked_id FROM user_blocks WHERE blocked_id = $1 OR user_id = $1",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        let blockers = rows
            .iter()
            .filter(|(_, b)| *b == user_id)
            .map(|(u, _)| *u)
            .collect();
        let blocked = rows
            .iter()
            .filter(|(u, _)| *u == user_id)
            .map(|(_, b)| *b)
            .collect();
        Ok((blockers, blocked))
    }
}

/// Rows of one statement of [`Store::record_presence`] (SQLite takes 32,766 parameters).
const RECORDS_PER_STATEMENT: usize = 500;
