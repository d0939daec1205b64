//! Full-text search over message bodies: SQLite's FTS5 index `messages_fts`,
//! PostgreSQL's `messages.search` tsvector with GIN (migration 0007). Words are runs of
//! letters and digits on both, all of them must match, newest message first.
//!
//! Each query examines at most `candidates` index entries, newest first, before the
//! reader's filters (membership, cleared history, hidden messages, blocked senders)
//! are applied, so what one page costs does not grow with the app's history. A page
//! that ran out of candidates says where to resume. On PostgreSQL the query also has a
//! statement timeout.
//!
//! The candidates are narrowed in the index itself to the channels searched: the one
//! channel asked for, or the viewer's channels when they are at most
//! [`MAX_CHANNELS_IN_INDEX_QUERY`] (on SQLite, an OR of their channel tokens; on
//! PostgreSQL, an `IN` list the planner may use the channel index for), so that in a
//! large application a user's search does not spend its candidates on other people's
//! channels.

/// Most channels a search names in its index query; a viewer in more channels is
/// filtered after the candidates are drawn.
pub const MAX_CHANNELS_IN_INDEX_QUERY: usize = 64;

use sqlx::Row;

use super::{message_row, safe, Backend, MessageRow, Store, StoreResult, MESSAGE_COLS};

/// One search.
#[derive(Debug, Clone, Copy)]
pub struct SearchQuery<'a> {
    /// The application.
    pub app_id: i64,
    /// Who searches (their channels, cleared history, hidden messages and blocks);
    /// `None`: the operator, who sees every message of the application.
    pub viewer: Option<i64>,
    /// Words that must all occur (letters and digits only).
    pub terms: &'a [String],
    /// Within this channel only (the caller checked the viewer may read it); `None`:
    /// the viewer's channels (the operator: every channel).
    pub channel: Option<i64>,
    /// Messages older than this id only.
    pub before: Option<i64>,
    /// Results wanted.
    pub limit: i64,
    /// Index entries examined at most.
    pub candidates: i64,
    /// PostgreSQL statement timeout, in milliseconds.
    pub timeout_ms: u64,
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchResult {
    /// Matches, newest first (at most `limit`), and where to go on (the next page holds
    /// messages older than this id), if anything may be left.
    Found {
        /// The messages.
        rows: Vec<MessageRow>,
        /// The `before` of the next page.
        resume: Option<i64>,
    },
    /// PostgreSQL stopped the query at its timeout.
    TooSlow,
}

impl Store {
    /// Runs a search (see the module's documentation).
    pub async fn search_messages(&self, q: &SearchQuery<'_>) -> StoreResult<SearchResult> {
        if q.terms.is_empty() || q.limit <= 0 {
            return Ok(SearchResult::Found {
                rows: Vec::new(),
                resume: None,
            });
        }
        let before = q.before.unwrap_or(i64::MAX);
        let Some(channels) = self.searched_channels(q).await? else {
            return Ok(SearchResult::Found {
                rows: Vec::new(),
                resume: None,
            });
        };
        let channels = if channels.len() > MAX_CHANNELS_IN_INDEX_QUERY {
            &[][..]
        } else {
            &channels[..]
        };
        let (candidates_sql, text) = self.candidates(q, channels);
        let sql = visible_sql(q, &candidates_sql);
        let boundary = format!(
            "SELECT COUNT(*), MIN(f.id) FROM ({}) f",
            self.candidates(q, channels).0
        );
        let third = q.viewer.unwrap_or(q.app_id);
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query(safe(&format!(
                "SET LOCAL statement_timeout = {}",
                q.timeout_ms.max(1)
            )))
            .execute(&mut *tx)
            .await?;
        }
        let mut query = sqlx::query(safe(&sql)).bind(&text).bind(before).bind(third);
        if let Some(c) = q.channel {
            query = query.bind(c);
        }
        let rows = match query.fetch_all(&mut *tx).await {
            Ok(rows) => rows,
            Err(e) if timed_out(&e) => return Ok(SearchResult::TooSlow),
            Err(e) => return Err(e.into()),
        };
        let mut out: Vec<MessageRow> = rows.iter().map(message_row).collect::<StoreResult<_>>()?;
        let resume = if out.len() as i64 > q.limit {
            out.truncate(q.limit as usize);
            out.last().map(|m| m.id)
        } else {
            // Fewer than asked: either everything was found, or the candidates ran
            // out first and the next page goes on below the last one examined.
            let bq = sqlx::query(safe(&boundary)).bind(&text).bind(before);
            let row = match bq.fetch_one(&mut *tx).await {
                Ok(r) => r,
                Err(e) if timed_out(&e) => return Ok(SearchResult::TooSlow),
                Err(e) => return Err(e.into()),
            };
            let (examined, lowest): (i64, Option<i64>) = (row.try_get(0)?, row.try_get(1)?);
            lowest.filter(|_| examined >= q.candidates)
        };
        tx.commit().await?;
        Ok(SearchResult::Found { rows: out, resume })
    }

    /// The channels a search draws its candidates from: one channel when asked, the
    /// viewer's channels (at most [`MAX_CHANNELS_IN_INDEX_QUERY`] + 1 of them), or
    /// every channel (empty) for the operator; `None` when the viewer has none.
    async fn searched_channels(&self, q: &SearchQuery<'_>) -> StoreResult<Option<Vec<i64>>> {
        Ok(match (q.viewer, q.channel) {
            (Some(viewer), None) => {
                let mine: Vec<i64> = sqlx::query_scalar(safe(&format!(
                    "SELECT channel_id FROM channel_members WHERE user_id = $1 ORDER BY channel_id LIMIT {}",
                    MAX_CHANNELS_IN_INDEX_QUERY + 1
                )))
                .bind(viewer)
                .fetch_all(&self.pool)
                .await?;
                Some(mine).filter(|m| !m.is_empty())
            }
            (_, Some(c)) => Some(vec![c]),
            (None, None) => Some(Vec::new()),
        })
    }

    /// The query of the newest `candidates` index entries below `$2` matching `$1`, in
    /// `channels` when not empty, and the text bound as `$1`.
    fn candidates(&self, q: &SearchQuery<'_>, channels: &[i64]) -> (String, String) {
        let n = q.candidates.max(1);
        match self.backend {
            Backend::Sqlite => {
                // Each word quoted (a phrase of one token: no FTS5 operator can be
                // smuggled in), all required, in the body column; the channels as
                // their tokens in the channel column.
                let mut text: Vec<String> = q
                    .terms
                    .iter()
                    .map(|t| format!("body : \"{}\"", t.replace('"', "\"\"")))
                    .collect();
                if !channels.is_empty() {
                    let any: Vec<String> = channels
                        .iter()
                        .map(|c| format!("channel : \"c{c}\""))
                        .collect();
                    text.push(format!("({})", any.join(" OR ")));
                }
                (
                    format!(
                        "SELECT rowid AS id FROM messages_fts WHERE messages_fts MATCH $1 \
                         AND rowid < $2 ORDER BY rowid DESC LIMIT {n}"
                    ),
                    text.join(" AND "),
                )
            }
            Backend::Postgres => {
                let channel = if channels.is_empty() {
                    String::new()
                } else {
                    format!(" AND channel_id IN ({})", super::id_list(channels))
                };
                (
                    format!(
                        "SELECT id FROM messages WHERE search @@ plainto_tsquery('simple'::regconfig, $1) \
                         AND id < $2{channel} ORDER BY id DESC LIMIT {n}"
                    ),
                    q.terms.join(" "),
                )
            }
        }
    }
}

/// Whether PostgreSQL cancelled the statement at its timeout (`query_canceled`).
fn timed_out(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("57014"))
}

/// The messages among the candidates (`candidates_sql`) that the search's viewer may
/// see, newest first, one more than a page: not deleted, after their cleared history,
/// not hidden by them, not from users they blocked; in the asked channel. Binds `$3`
/// (the viewer, or the application for the operator) and `$4` (the channel).
fn visible_sql(q: &SearchQuery<'_>, candidates_sql: &str) -> String {
    let (join, cleared) = match (q.viewer, q.channel) {
        (Some(_), None) => (
            "JOIN channel_members m ON m.channel_id = g.channel_id AND m.user_id = $3",
            "m.cleared_before_id",
        ),
        (Some(_), Some(_)) => (
            "LEFT JOIN channel_members m ON m.channel_id = g.channel_id AND m.user_id = $3",
            "COALESCE(m.cleared_before_id, 0)",
        ),
        (None, _) => (
            "JOIN channels c ON c.id = g.channel_id AND c.app_id = $3",
            "0",
        ),
    };
    let viewer_filters = if q.viewer.is_some() {
        super::VIEWER_SEES
    } else {
        ""
    };
    let channel_filter = if q.channel.is_some() {
        " AND g.channel_id = $4"
    } else {
        ""
    };
    format!(
        "SELECT {MESSAGE_COLS} FROM ({candidates_sql}) f JOIN messages g ON g.id = f.id {join} \
         WHERE g.deleted_ms IS NULL AND g.id > {cleared}{channel_filter}{viewer_filters} \
         ORDER BY g.id DESC LIMIT {}",
        q.limit + 1
    )
}
