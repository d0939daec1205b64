//! Message history, edits, reactions, read positions and threads.

use sqlx::Row;

use super::{
    message_row, now_ms, safe, Store, StoreError, StoreResult, MESSAGE_COLS, MESSAGE_COL_COUNT,
    VIEWER_SEES,
};
use crate::store::{MessageCursor, MessageRow};

/// The most messages `page.totalElements` counts on a page of messages
/// ([`Store::messages_page_counted`]; README, "Limits").
pub const MAX_PAGE_TOTAL: i64 = 1_000;

/// A page of messages read with its total ([`Store::messages_page_counted`]).
#[derive(Debug)]
pub struct CountedPage {
    /// Newest first, at most the limit.
    pub rows: Vec<MessageRow>,
    /// Whether more exist beyond the page in the direction of travel.
    pub more: bool,
    /// `page.totalElements`, counted up to [`MAX_PAGE_TOTAL`].
    pub total: i64,
    /// Whether the query lists any message behind the cursor.
    pub behind_cursor: bool,
}

/// Which messages a page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageScope {
    /// A channel's messages; `main_only` excludes replies and thread messages.
    Channel {
        /// Only the main thread.
        main_only: bool,
    },
    /// Replies to a message.
    Replies(i64),
    /// Messages of a standalone thread.
    Thread(i64),
}

/// A message listing for one viewer.
#[derive(Debug, Clone, Copy)]
pub struct MessageQuery {
    /// Channel.
    pub channel_id: i64,
    /// Who is looking (their hidden messages and blocked senders are left out).
    pub viewer: i64,
    /// The viewer's cleared history.
    pub cleared_before_id: i64,
    /// Which messages.
    pub scope: MessageScope,
}

/// A reaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionRow {
    /// Message.
    pub message_id: i64,
    /// Who reacted.
    pub user_id: i64,
    /// The emoji character.
    pub emoji: String,
    /// When.
    pub created_ms: i64,
}

/// A standalone thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadRow {
    /// Id.
    pub id: i64,
    /// Channel.
    pub channel_id: i64,
    /// Name.
    pub name: String,
    /// JSON object text.
    pub properties: String,
    /// Creator.
    pub creator_id: Option<i64>,
    /// When.
    pub created_ms: i64,
}

impl MessageQuery {
    /// `sql`, whose `WHERE` has this query's [`MessageQuery::filter`], with the filter's
    /// three parameters bound, then `$4` when given.
    fn bind<'q>(
        &self,
        sql: &'q str,
        fourth: Option<i64>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        let query = sqlx::query(safe(sql))
            .bind(self.channel_id)
            .bind(self.cleared_before_id)
            .bind(self.viewer);
        match fourth {
            Some(b) => query.bind(b),
            None => query,
        }
    }

    /// The WHERE clause (after `g.channel_id = $1 AND g.id > $2`), with `$3` = viewer.
    fn filter(&self) -> String {
        self.filter_after("$2")
    }

    /// [`MessageQuery::filter`] with `lower` in place of `$2`, the id the messages are
    /// after. A page after a cursor gives the greater of the cursor and the cleared
    /// history as its only lower bound: given both (`g.id > $2 AND g.id > $4`), SQLite
    /// reads the channel's index from the first, the cleared history — from the
    /// channel's first message when nothing was cleared — and checks every message up
    /// to the cursor against the viewer's hidden messages and blocks (bench/README.md,
    /// "A page after a cursor read the channel from its start").
    fn filter_after(&self, lower: &str) -> String {
        let scope = match self.scope {
            MessageScope::Channel { main_only: true } => {
                " AND g.parent_id IS NULL AND g.thread_id IS NULL".to_owned()
            }
            MessageScope::Channel { main_only: false } => String::new(),
            MessageScope::Replies(p) => format!(" AND g.parent_id = {p}"),
            MessageScope::Thread(t) => format!(" AND g.thread_id = {t}"),
        };
        format!("g.channel_id = $1 AND g.id > {lower}{scope}{VIEWER_SEES}")
    }
}

impl Store {
    /// A page of messages, newest first, at most `limit`; the bool says whether more
    /// exist beyond the page in the direction of travel.
    pub async fn messages_page(
        &self,
        q: &MessageQuery,
        cursor: MessageCursor,
        limit: i64,
    ) -> StoreResult<(Vec<MessageRow>, bool)> {
        // After a cursor: one lower bound, the greater (see `filter_after`).
        let after;
        let (q, cond, order, bound) = match cursor {
            MessageCursor::Newest => (q, "", "DESC", None),
            MessageCursor::Before(id) => (q, " AND g.id < $4", "DESC", Some(id)),
            MessageCursor::After(id) => {
                after = MessageQuery {
                    cleared_before_id: q.cleared_before_id.max(id),
                    ..*q
                };
                (&after, "", "ASC", None)
            }
        };
        let sql = format!(
            "SELECT {MESSAGE_COLS} FROM messages g WHERE {}{cond} ORDER BY g.id {order} LIMIT {}",
            q.filter(),
            limit + 1
        );
        let rows = q.bind(&sql, bound).fetch_all(&self.pool).await?;
        let out: Vec<MessageRow> = rows.iter().map(message_row).collect::<StoreResult<_>>()?;
        Ok(newest_first(out, cursor, limit))
    }

    /// A page of messages as [`Store::messages_page`] reads it, with its
    /// `page.totalElements` and whether the query lists any message behind the cursor
    /// (at or before `After(id)`'s id, at or after `Before(id)`'s; `false` for
    /// `Newest`), in one statement.
    ///
    /// The total is counted up to [`MAX_PAGE_TOTAL`] (README, "Limits"): a page reads
    /// at most a page's worth of rows from the channel's index, where the whole count
    /// would read every message of the channel on every page (0.4–0.5 s of SQLite's
    /// time per page of a channel of 900,000 messages), and neither client reads it
    /// (docs/protocol.md §9.1). Behind the cursor is whether a page links back towards
    /// it: messages older than an `after` page's oldest are those at or before its
    /// cursor (none of the query's lie between them). One statement instead of two is
    /// one hand-off to the database fewer per page, the one a client catching up after
    /// a reconnect makes (bench/README.md, "One statement per page of messages").
    pub async fn messages_page_counted(
        &self,
        q: &MessageQuery,
        cursor: MessageCursor,
        limit: i64,
    ) -> StoreResult<CountedPage> {
        // The page after a cursor has one lower bound, `$4` = the greater of the cursor
        // and the cleared history (see `filter_after`); messages at or before it are
        // behind the cursor (none lie between the two when the history was cleared
        // past the cursor).
        let (page_filter, cond, behind, order, bound) = match cursor {
            MessageCursor::Newest => (q.filter(), "", "", "DESC", None),
            MessageCursor::Before(id) => {
                (q.filter(), " AND g.id < $4", "g.id >= $4", "DESC", Some(id))
            }
            MessageCursor::After(id) => (
                q.filter_after("$4"),
                "",
                "g.id <= $4",
                "ASC",
                Some(id.max(q.cleared_before_id)),
            ),
        };
        let filter = q.filter();
        // A count of at most one row, and a BIGINT 0 without it: the same integer type
        // as COUNT's on SQLite and PostgreSQL.
        let behind_sql = if bound.is_some() {
            format!(
                "(SELECT COUNT(*) FROM (SELECT 1 FROM messages g WHERE {filter} AND {behind} LIMIT 1) x)"
            )
        } else {
            "CAST(0 AS BIGINT)".to_owned()
        };
        // The counts are one row; the page joins it (none: one row of NULLs with them).
        let sql = format!(
            "SELECT p.*, t.total, t.behind FROM \
             (SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM messages g WHERE {filter} LIMIT {MAX_PAGE_TOTAL}) n) AS total, \
             {behind_sql} AS behind) t \
             LEFT JOIN (SELECT {MESSAGE_COLS} FROM messages g WHERE {page_filter}{cond} ORDER BY g.id {order} LIMIT {}) p \
             ON 1 = 1 ORDER BY p.id {order}",
            limit + 1
        );
        let rows = q.bind(&sql, bound).fetch_all(&self.pool).await?;
        let (mut total, mut behind_cursor) = (0, false);
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            total = r.try_get(MESSAGE_COL_COUNT)?;
            behind_cursor = r.try_get::<i64, _>(MESSAGE_COL_COUNT + 1)? > 0;
            if r.try_get::<Option<i64>, _>(0)?.is_some() {
                out.push(message_row(r)?);
            }
        }
        let (rows, more) = newest_first(out, cursor, limit);
        Ok(CountedPage {
            rows,
            more,
            total,
            behind_cursor,
        })
    }

    /// Number of messages a query lists (the count a client asks for, and the Platform
    /// API's numbered pages): every one is counted.
    pub async fn count_messages(&self, q: &MessageQuery) -> StoreResult<i64> {
        let sql = format!("SELECT COUNT(*) FROM messages g WHERE {}", q.filter());
        self.count_of(&sql, q).await
    }

    /// Runs a count whose `WHERE` is `q`'s filter (its three parameters bound).
    async fn count_of(&self, sql: &str, q: &MessageQuery) -> StoreResult<i64> {
        Ok(q.bind(sql, None).fetch_one(&self.pool).await?.try_get(0)?)
    }

    /// Replaces a message's text (an edit).
    pub async fn edit_message(
        &self,
        id: i64,
        body: &str,
        mentions: Option<&str>,
        links: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE messages SET body = $1, mentions = $2, links = $3, edited_ms = $4 WHERE id = $5")
            .bind(body)
            .bind(mentions)
            .bind(links)
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes a message for everyone: its content is erased, its id and place stay.
    pub async fn delete_message(&self, id: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE messages SET body = CASE WHEN body IS NULL THEN NULL ELSE '' END, mentions = NULL, links = NULL, properties = '{}', deleted_ms = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM reactions WHERE message_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Hides a message for one user.
    pub async fn hide_message(&self, user_id: i64, message_id: i64) -> StoreResult<()> {
        sqlx::query("INSERT INTO hidden_messages (user_id, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(user_id)
            .bind(message_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Number of replies to a message.
    pub async fn replies_count(&self, parent_id: i64) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE parent_id = $1 AND deleted_ms IS NULL",
        )
        .bind(parent_id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The reactions to several messages (oldest first) and their reply counts (those
    /// with replies), in one statement: a page of messages reads both (one statement
    /// fewer per page; bench/README.md, "Reconnect storm").
    pub async fn reactions_and_replies(
        &self,
        ids: &[i64],
    ) -> StoreResult<(Vec<ReactionRow>, Vec<(i64, i64)>)> {
        if ids.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let list = super::ids_in(self.backend);
        let made = super::reaction_order(self.backend);
        // Rows of kind 0 are reactions, oldest first, of kind 1 reply counts (in the user
        // id's column); the same column types on SQLite and PostgreSQL.
        let sql = format!(
            "SELECT CAST(0 AS BIGINT), message_id, user_id, emoji, created_ms, CAST({made} AS BIGINT) \
             FROM reactions WHERE message_id IN {list} \
             UNION ALL \
             SELECT CAST(1 AS BIGINT), parent_id, COUNT(*), CAST('' AS TEXT), CAST(0 AS BIGINT), CAST(0 AS BIGINT) \
             FROM messages WHERE parent_id IN {list} AND deleted_ms IS NULL GROUP BY parent_id \
             ORDER BY 1, 5, 6"
        );
        let rows = sqlx::query(safe(&sql))
            .bind(super::ids_json(ids))
            .fetch_all(&self.pool)
            .await?;
        let (mut reactions, mut replies) = (Vec::new(), Vec::new());
        for r in &rows {
            let kind: i64 = r.try_get(0)?;
            if kind == 0 {
                reactions.push(reaction_at(r, 1)?);
            } else {
                replies.push((r.try_get(1)?, r.try_get(2)?));
            }
        }
        Ok((reactions, replies))
    }

    /// Adds a reaction; `false` if it was already there.
    pub async fn add_reaction(
        &self,
        message_id: i64,
        user_id: i64,
        emoji: &str,
    ) -> StoreResult<(bool, ReactionRow)> {
        let now = now_ms();
        let r = sqlx::query(
            "INSERT INTO reactions (message_id, user_id, emoji, created_ms) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(message_id)
        .bind(user_id)
        .bind(emoji)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok((
            r.rows_affected() > 0,
            ReactionRow {
                message_id,
                user_id,
                emoji: emoji.to_owned(),
                created_ms: now,
            },
        ))
    }

    /// Removes a reaction; the removed row, if there was one.
    pub async fn remove_reaction(
        &self,
        message_id: i64,
        user_id: i64,
        emoji: &str,
    ) -> StoreResult<Option<ReactionRow>> {
        let created: Option<i64> = sqlx::query_scalar(
            "SELECT created_ms FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3",
        )
        .bind(message_id)
        .bind(user_id)
        .bind(emoji)
        .fetch_optional(&self.pool)
        .await?;
        let Some(created_ms) = created else {
            return Ok(None);
        };
        sqlx::query("DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3")
            .bind(message_id)
            .bind(user_id)
            .bind(emoji)
            .execute(&self.pool)
            .await?;
        Ok(Some(ReactionRow {
            message_id,
            user_id,
            emoji: emoji.to_owned(),
            created_ms,
        }))
    }

    /// Reactions of several messages, oldest first.
    pub async fn reactions_of(&self, message_ids: &[i64]) -> StoreResult<Vec<ReactionRow>> {
        if message_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT message_id, user_id, emoji, created_ms FROM reactions WHERE message_id IN {} ORDER BY created_ms, {}",
            super::ids_in(self.backend),
            super::reaction_order(self.backend)
        );
        let rows = sqlx::query(safe(&sql))
            .bind(super::ids_json(message_ids))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| reaction_at(r, 0)).collect()
    }

    /// Members who have read message `message_id` (read position at or past it), other
    /// than its sender, with the time of their latest read.
    pub async fn readers(
        &self,
        channel_id: i64,
        message_id: i64,
        sender: Option<i64>,
    ) -> StoreResult<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT user_id, last_read_ms FROM channel_members WHERE channel_id = $1 AND last_read_message_id >= $2 \
             AND user_id <> $3 ORDER BY last_read_ms, user_id",
        )
        .bind(channel_id)
        .bind(message_id)
        .bind(sender.unwrap_or(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// The newest message a member has read, if any.
    pub async fn last_read_message(
        &self,
        channel_id: i64,
        user_id: i64,
    ) -> StoreResult<Option<MessageRow>> {
        let sql = format!(
            "SELECT {MESSAGE_COLS} FROM messages g JOIN channel_members m ON m.channel_id = g.channel_id \
             WHERE m.channel_id = $1 AND m.user_id = $2 AND g.id <= m.last_read_message_id AND g.id > m.cleared_before_id \
             ORDER BY g.id DESC LIMIT 1"
        );
        let row = sqlx::query(safe(&sql))
            .bind(channel_id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| message_row(&r)).transpose()
    }

    /// Creates a standalone thread.
    pub async fn create_thread(
        &self,
        channel_id: i64,
        name: &str,
        properties: &str,
        creator: i64,
    ) -> StoreResult<ThreadRow> {
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO threads (channel_id, name, properties, creator_id, created_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(channel_id)
        .bind(name)
        .bind(properties)
        .bind(creator)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        self.thread(id)
            .await?
            .ok_or(StoreError::Db(sqlx::Error::RowNotFound))
    }

    /// A standalone thread by id.
    pub async fn thread(&self, id: i64) -> StoreResult<Option<ThreadRow>> {
        let row = sqlx::query("SELECT id, channel_id, name, properties, creator_id, created_ms FROM threads WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| thread_row(&r)).transpose()
    }

    /// A channel's standalone threads, newest first.
    pub async fn threads_of(&self, channel_id: i64) -> StoreResult<Vec<ThreadRow>> {
        let rows = sqlx::query(
            "SELECT id, channel_id, name, properties, creator_id, created_ms FROM threads WHERE channel_id = $1 ORDER BY id DESC",
        )
        .bind(channel_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(thread_row).collect()
    }

    /// Messages with replies in a channel (their reply threads), newest first.
    pub async fn replied_messages(&self, channel_id: i64) -> StoreResult<Vec<MessageRow>> {
        let sql = format!(
            "SELECT {MESSAGE_COLS} FROM messages g WHERE g.channel_id = $1 AND EXISTS \
             (SELECT 1 FROM messages r WHERE r.parent_id = g.id) ORDER BY g.id DESC"
        );
        let rows = sqlx::query(safe(&sql))
            .bind(channel_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(message_row).collect()
    }

    /// Records that a user read a thread up to its newest message.
    pub async fn read_thread(&self, key: &str, user_id: i64, newest: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO thread_reads (thread_key, user_id, last_read_message_id) VALUES ($1, $2, $3) \
             ON CONFLICT (thread_key, user_id) DO UPDATE SET last_read_message_id = $3",
        )
        .bind(key)
        .bind(user_id)
        .bind(newest)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest message of a thread scope.
    pub async fn newest_in(&self, q: &MessageQuery) -> StoreResult<Option<i64>> {
        let (rows, _) = self.messages_page(q, MessageCursor::Newest, 1).await?;
        Ok(rows.first().map(|m| m.id))
    }
}

fn thread_row(r: &sqlx::any::AnyRow) -> StoreResult<ThreadRow> {
    Ok(ThreadRow {
        id: r.try_get(0)?,
        channel_id: r.try_get(1)?,
        name: r.try_get(2)?,
        properties: r.try_get(3)?,
        creator_id: r.try_get(4)?,
        created_ms: r.try_get(5)?,
    })
}

/// A reaction whose four columns start at column `at` of `r`.
/// A page's rows as read (one more than `limit`, in the cursor's direction of travel)
/// as a page: at most `limit`, newest first, and whether more lie beyond.
fn newest_first(
    mut rows: Vec<MessageRow>,
    cursor: MessageCursor,
    limit: i64,
) -> (Vec<MessageRow>, bool) {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    if matches!(cursor, MessageCursor::After(_)) {
        rows.reverse();
    }
    (rows, more)
}

fn reaction_at(r: &sqlx::any::AnyRow, at: usize) -> StoreResult<ReactionRow> {
    Ok(ReactionRow {
        message_id: r.try_get(at)?,
        user_id: r.try_get(at + 1)?,
        emoji: r.try_get(at + 2)?,
        created_ms: r.try_get(at + 3)?,
    })
}
