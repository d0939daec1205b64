//! Webhooks: the operator's endpoints, the outbox the delivery worker sends from, and
//! the recent attempts (migration 6).
//!
//! How an event is written in the same transaction as its change: the triggers of
//! migration 6 insert the outbox rows inside the very statement that inserts, updates
//! or deletes the message, reaction, channel, membership or user. Nothing in the code
//! paths that make those changes has to remember it (a new path — moderation, data
//! rights — is covered by the same triggers), a rollback takes the event with it, and
//! the send path stays one statement. Events that are no row change (presence, a
//! notification to an offline user, a flag) are written by [`Store::enqueue_webhook`]
//! when the server decides them.
//!
//! Claiming across nodes: a node takes due rows of one endpoint by setting
//! `claimed_by`/`claimed_until` in one `UPDATE … RETURNING`; on PostgreSQL the
//! endpoint's row is locked (`FOR UPDATE`) meanwhile, which serialises the claims of one
//! endpoint across nodes (so the in-flight count its concurrency limit is checked
//! against is exact) and the rows are picked `FOR UPDATE SKIP LOCKED`. A claim lapses at
//! `claimed_until`: the rows of a node that died mid-delivery are taken over then
//! (delivery is at least once). SQLite serves one node, whose one worker claims.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{now_ms, safe, Backend, Store, StoreResult};

/// Outbox row states.
pub mod outbox_state {
    /// Waiting for (another) attempt.
    pub const PENDING: i64 = 0;
    /// Delivered (a 2xx answer).
    pub const DELIVERED: i64 = 1;
    /// Every attempt of the retry schedule failed.
    pub const FAILED: i64 = 2;
}

/// An endpoint row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRow {
    /// Id.
    pub id: i64,
    /// Application.
    pub app_id: i64,
    /// Where events are POSTed.
    pub url: String,
    /// The operator's note.
    pub description: String,
    /// `,type,type,` or `*`.
    pub event_types: String,
    /// Whether events are queued and sent.
    pub enabled: bool,
    /// Why the server disabled it.
    pub disabled_reason: Option<String>,
    /// The signing secret (`whsec_…`).
    pub secret: String,
    /// The secret before the last rotation, still signing until `previous_until_ms`.
    pub previous_secret: Option<String>,
    /// See `previous_secret`.
    pub previous_until_ms: Option<i64>,
    /// The endpoint of `--webhook-url`.
    pub is_default: bool,
    /// Since when every attempt failed.
    pub failing_since_ms: Option<i64>,
    /// Last successful delivery.
    pub last_success_ms: Option<i64>,
    /// Creation time.
    pub created_ms: i64,
}

const ENDPOINT_COLS: &str = "id, app_id, url, description, event_types, enabled, disabled_reason, \
     secret, previous_secret, previous_until_ms, is_default, failing_since_ms, last_success_ms, created_ms";

fn endpoint_row(r: &AnyRow) -> StoreResult<EndpointRow> {
    Ok(EndpointRow {
        id: r.try_get(0)?,
        app_id: r.try_get(1)?,
        url: r.try_get(2)?,
        description: r.try_get(3)?,
        event_types: r.try_get(4)?,
        enabled: r.try_get::<i64, _>(5)? != 0,
        disabled_reason: r.try_get(6)?,
        secret: r.try_get(7)?,
        previous_secret: r.try_get(8)?,
        previous_until_ms: r.try_get(9)?,
        is_default: r.try_get::<i64, _>(10)? != 0,
        failing_since_ms: r.try_get(11)?,
        last_success_ms: r.try_get(12)?,
        created_ms: r.try_get(13)?,
    })
}

/// A new endpoint.
#[derive(Debug, Clone, Copy)]
pub struct NewEndpoint<'a> {
    /// Application.
    pub app_id: i64,
    /// URL.
    pub url: &'a str,
    /// Note.
    pub description: &'a str,
    /// `,type,…,` or `*`.
    pub event_types: &'a str,
    /// Secret.
    pub secret: &'a str,
}

/// Changes to an endpoint (each when given).
#[derive(Debug, Clone, Copy, Default)]
pub struct EndpointChange<'a> {
    /// URL.
    pub url: Option<&'a str>,
    /// Note.
    pub description: Option<&'a str>,
    /// Event types.
    pub event_types: Option<&'a str>,
    /// Enabled (enabling clears the reason it was disabled and its failure streak).
    pub enabled: Option<bool>,
}

/// An event to deliver to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// Id (the `webhook-id` is made from it).
    pub id: i64,
    /// Endpoint.
    pub endpoint_id: i64,
    /// Application.
    pub app_id: i64,
    /// `message.created`, …
    pub event_type: String,
    /// What it is about (a message, channel or user id).
    pub subject_id: Option<i64>,
    /// More about it: ids, a snapshot of what a delete removed, or (events that are no
    /// row change) the data itself. JSON text.
    pub data: Option<String>,
    /// When it happened.
    pub created_ms: i64,
    /// Attempts made so far.
    pub attempts: i64,
    /// The payload, once rendered (retries send the same bytes).
    pub payload: Option<String>,
    /// Pending, delivered or failed ([`outbox_state`]).
    pub state: i64,
}

const OUTBOX_COLS: &str =
    "id, endpoint_id, app_id, event_type, subject_id, data, created_ms, attempts, payload, state";

fn outbox_row(r: &AnyRow) -> StoreResult<OutboxRow> {
    Ok(OutboxRow {
        id: r.try_get(0)?,
        endpoint_id: r.try_get(1)?,
        app_id: r.try_get(2)?,
        event_type: r.try_get(3)?,
        subject_id: r.try_get(4)?,
        data: r.try_get(5)?,
        created_ms: r.try_get(6)?,
        attempts: r.try_get(7)?,
        payload: r.try_get(8)?,
        state: r.try_get(9)?,
    })
}

/// One delivery attempt, as kept for the Platform API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    /// The outbox row (event) it was for.
    pub outbox_id: i64,
    /// Its event type.
    pub event_type: String,
    /// 1 for the first attempt.
    pub attempt: i64,
    /// When it started.
    pub at_ms: i64,
    /// HTTP status answered (`None`: no answer).
    pub status: Option<i64>,
    /// What went wrong.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

/// An attempt to record.
#[derive(Debug, Clone, Copy)]
pub struct NewAttempt<'a> {
    /// Endpoint.
    pub endpoint_id: i64,
    /// Outbox row.
    pub outbox_id: i64,
    /// Event type.
    pub event_type: &'a str,
    /// Its number.
    pub attempt: i64,
    /// Start.
    pub at_ms: i64,
    /// Status.
    pub status: Option<i64>,
    /// Error.
    pub error: Option<&'a str>,
    /// Duration.
    pub duration_ms: i64,
}

/// An endpoint's outbox by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Waiting.
    pub pending: i64,
    /// Delivered (kept for replay).
    pub delivered: i64,
    /// Failed every attempt.
    pub failed: i64,
}

/// What follows an attempt ([`Store::finish_webhook`]).
#[derive(Debug, Clone, Copy)]
pub enum Finish<'a> {
    /// A 2xx answer.
    Delivered,
    /// Failed; the next attempt at this time.
    Retry {
        /// Ms since the epoch.
        next_ms: i64,
    },
    /// Failed, and it was the last attempt.
    Failed {
        /// Why the endpoint is disabled, if it is.
        reason: &'a str,
    },
}

/// What to keep of finished deliveries ([`Store::prune_webhooks`]).
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Attempts kept per endpoint (the newest).
    pub attempts: i64,
    /// Finished (delivered or failed) outbox rows kept per endpoint, for replay.
    pub finished: i64,
}

impl Store {
    /// Registers an endpoint.
    pub async fn create_endpoint(&self, e: &NewEndpoint<'_>) -> StoreResult<EndpointRow> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO webhook_endpoints (app_id, url, description, event_types, secret, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(e.app_id)
        .bind(e.url)
        .bind(e.description)
        .bind(e.event_types)
        .bind(e.secret)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        self.endpoint(e.app_id, id)
            .await?
            .ok_or(super::StoreError::Db(sqlx::Error::RowNotFound))
    }

    /// An application's endpoints, oldest first.
    pub async fn endpoints(&self, app_id: i64) -> StoreResult<Vec<EndpointRow>> {
        let sql =
            format!("SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE app_id = $1 ORDER BY id");
        let rows = sqlx::query(safe(&sql))
            .bind(app_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(endpoint_row).collect()
    }

    /// An endpoint of an application.
    pub async fn endpoint(&self, app_id: i64, id: i64) -> StoreResult<Option<EndpointRow>> {
        let sql =
            format!("SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE app_id = $1 AND id = $2");
        let row = sqlx::query(safe(&sql))
            .bind(app_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| endpoint_row(&r)).transpose()
    }

    /// An endpoint by id, whatever its application (the delivery worker).
    pub async fn endpoint_by_id(&self, id: i64) -> StoreResult<Option<EndpointRow>> {
        let sql = format!("SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE id = $1");
        let row = sqlx::query(safe(&sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| endpoint_row(&r)).transpose()
    }

    /// Changes an endpoint; `false` if there is none.
    pub async fn update_endpoint(
        &self,
        app_id: i64,
        id: i64,
        c: &EndpointChange<'_>,
    ) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE webhook_endpoints SET url = COALESCE($1, url), description = COALESCE($2, description), \
             event_types = COALESCE($3, event_types), enabled = COALESCE($4, enabled), \
             disabled_reason = CASE WHEN $4 = 1 THEN NULL ELSE disabled_reason END, \
             failing_since_ms = CASE WHEN $4 = 1 THEN NULL ELSE failing_since_ms END \
             WHERE app_id = $5 AND id = $6",
        )
        .bind(c.url)
        .bind(c.description)
        .bind(c.event_types)
        .bind(c.enabled.map(i64::from))
        .bind(app_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Deletes an endpoint with its outbox and attempts; `false` if there is none.
    pub async fn delete_endpoint(&self, app_id: i64, id: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        for sql in [
            "DELETE FROM webhook_outbox WHERE endpoint_id = $1",
            "DELETE FROM webhook_attempts WHERE endpoint_id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        let r = sqlx::query("DELETE FROM webhook_endpoints WHERE app_id = $1 AND id = $2")
            .bind(app_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() > 0)
    }

    /// Replaces an endpoint's secret; the current one keeps signing until
    /// `previous_until_ms`.
    pub async fn rotate_endpoint_secret(
        &self,
        app_id: i64,
        id: i64,
        secret: &str,
        previous_until_ms: i64,
    ) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE webhook_endpoints SET previous_secret = secret, previous_until_ms = $1, secret = $2 \
             WHERE app_id = $3 AND id = $4",
        )
        .bind(previous_until_ms)
        .bind(secret)
        .bind(app_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Keeps an application's default endpoint (`--webhook-url`) in step with the flags:
    /// created or updated to `(url, secret, event_types)`, or deleted when `None`.
    pub async fn set_default_endpoint(
        &self,
        app_id: i64,
        default: Option<(&str, &str, &str)>,
    ) -> StoreResult<()> {
        let existing: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM webhook_endpoints WHERE app_id = $1 AND is_default = 1",
        )
        .bind(app_id)
        .fetch_optional(&self.pool)
        .await?;
        match (existing, default) {
            (Some(id), None) => {
                self.delete_endpoint(app_id, id).await?;
            }
            (Some(id), Some((url, secret, types))) => {
                sqlx::query(
                    "UPDATE webhook_endpoints SET url = $1, secret = $2, event_types = $3 WHERE id = $4",
                )
                .bind(url)
                .bind(secret)
                .bind(types)
                .bind(id)
                .execute(&self.pool)
                .await?;
            }
            (None, Some((url, secret, types))) => {
                // Another node starting at the same time may insert it first: then
                // theirs is kept (same flags).
                sqlx::query(
                    "INSERT INTO webhook_endpoints (app_id, url, description, event_types, secret, is_default, created_ms) \
                     VALUES ($1, $2, 'default (--webhook-url)', $3, $4, 1, $5) ON CONFLICT DO NOTHING",
                )
                .bind(app_id)
                .bind(url)
                .bind(types)
                .bind(secret)
                .bind(now_ms())
                .execute(&self.pool)
                .await?;
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// Queues an event that is no row change (presence, a notification to an offline
    /// user, a flag) for every enabled endpoint of the application that wants it, in
    /// one statement.
    ///
    /// The pattern is built in SQL, not bound whole: SQLite marks a statement whose
    /// `LIKE` pattern is a bound parameter to be compiled again at every new binding
    /// (for its prefix optimization), so `LIKE $n` cost a parse and a compile per event.
    pub async fn enqueue_webhook(
        &self,
        app_id: i64,
        event_type: &str,
        subject_id: Option<i64>,
        data: Option<&str>,
    ) -> StoreResult<u64> {
        let now = now_ms();
        let r = sqlx::query(
            "INSERT INTO webhook_outbox (endpoint_id, app_id, event_type, subject_id, data, created_ms, next_attempt_ms) \
             SELECT e.id, e.app_id, $1, $2, $3, $4, $4 FROM webhook_endpoints e \
             WHERE e.app_id = $5 AND e.enabled = 1 AND (e.event_types = '*' OR e.event_types LIKE ('%,' || $1 || ',%'))",
        )
        .bind(event_type)
        .bind(subject_id)
        .bind(data)
        .bind(now)
        .bind(app_id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// Whether any enabled endpoint of `app_id` wants `event_type` (to skip rendering
    /// an event nobody will receive).
    pub async fn webhook_wanted(&self, app_id: i64, event_type: &str) -> StoreResult<bool> {
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM webhook_endpoints e WHERE e.app_id = $1 AND e.enabled = 1 \
             AND (e.event_types = '*' OR e.event_types LIKE ('%,' || $2 || ',%')) LIMIT 1",
        )
        .bind(app_id)
        .bind(event_type)
        .fetch_optional(&self.pool)
        .await?;
        Ok(n.is_some())
    }

    /// Enabled endpoints with rows due at `now` and not claimed (at most `limit`).
    pub async fn due_endpoints(&self, now: i64, limit: i64) -> StoreResult<Vec<i64>> {
        let sql = format!(
            "SELECT DISTINCT o.endpoint_id FROM webhook_outbox o \
             JOIN webhook_endpoints e ON e.id = o.endpoint_id \
             WHERE o.state = 0 AND o.next_attempt_ms <= $1 \
             AND (o.claimed_until IS NULL OR o.claimed_until <= $1) AND e.enabled = 1 LIMIT {limit}"
        );
        Ok(sqlx::query_scalar(safe(&sql))
            .bind(now)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Claims for `node`, until `until`, up to `batch` due rows of an enabled endpoint,
    /// so that no more than `max_in_flight` of its rows are claimed at once across every
    /// node (see the module's comment). Oldest first.
    pub async fn claim_webhooks(
        &self,
        endpoint_id: i64,
        node: &str,
        now: i64,
        until: i64,
        max_in_flight: i64,
        batch: i64,
    ) -> StoreResult<Vec<OutboxRow>> {
        if self.backend == Backend::Postgres {
            let mut tx = self.pool.begin().await?;
            let rows = claim(
                &mut tx,
                endpoint_id,
                node,
                now,
                until,
                max_in_flight,
                batch,
                true,
            )
            .await?;
            tx.commit().await?;
            return Ok(rows);
        }
        // SQLite: one node, whose one worker claims, so no transaction is needed (and a
        // read transaction upgraded to a write would fail whenever a message was
        // inserted since it began).
        let mut conn = self.pool.acquire().await?;
        claim(
            &mut conn,
            endpoint_id,
            node,
            now,
            until,
            max_in_flight,
            batch,
            false,
        )
        .await
    }

    /// Records an attempt at a claimed row and what follows from it, in one
    /// transaction: the attempt kept; the row delivered, due again at `next_ms`, or
    /// failed; the payload kept when it was rendered for this attempt; the claim given
    /// up. A delivery ends the endpoint's failure streak (its last success is written
    /// at most once a second). A failure of the last attempt disables the endpoint with
    /// `reason` when nothing was delivered to it since the event was queued (a whole
    /// retry schedule of failures). Returns whether it was disabled. (Long because its
    /// statements share one transaction and are read best together.)
    pub async fn finish_webhook(
        &self,
        row: &OutboxRow,
        payload: Option<&str>,
        attempt: &NewAttempt<'_>,
        outcome: Finish<'_>,
    ) -> StoreResult<bool> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO webhook_attempts (endpoint_id, outbox_id, event_type, attempt, at_ms, status, error, duration_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(attempt.endpoint_id)
        .bind(attempt.outbox_id)
        .bind(attempt.event_type)
        .bind(attempt.attempt)
        .bind(attempt.at_ms)
        .bind(attempt.status)
        .bind(attempt.error)
        .bind(attempt.duration_ms)
        .execute(&mut *tx)
        .await?;
        let (state, next) = match outcome {
            Finish::Delivered => (outbox_state::DELIVERED, None),
            Finish::Retry { next_ms } => (outbox_state::PENDING, Some(next_ms)),
            Finish::Failed { .. } => (outbox_state::FAILED, None),
        };
        sqlx::query(
            "UPDATE webhook_outbox SET state = $1, attempts = attempts + 1, \
             next_attempt_ms = COALESCE($2, next_attempt_ms), \
             finished_ms = CASE WHEN $1 = 0 THEN NULL ELSE $3 END, \
             payload = COALESCE($4, payload), claimed_by = NULL, claimed_until = NULL WHERE id = $5",
        )
        .bind(state)
        .bind(next)
        .bind(now)
        .bind(payload)
        .bind(row.id)
        .execute(&mut *tx)
        .await?;
        let disabled = match outcome {
            Finish::Delivered => {
                sqlx::query(
                    "UPDATE webhook_endpoints SET failing_since_ms = NULL, last_success_ms = $1 \
                     WHERE id = $2 AND (failing_since_ms IS NOT NULL OR last_success_ms IS NULL \
                     OR last_success_ms < $1 - 1000)",
                )
                .bind(now)
                .bind(row.endpoint_id)
                .execute(&mut *tx)
                .await?;
                false
            }
            Finish::Retry { .. } => {
                sqlx::query(
                    "UPDATE webhook_endpoints SET failing_since_ms = $1 WHERE id = $2 AND failing_since_ms IS NULL",
                )
                .bind(now)
                .bind(row.endpoint_id)
                .execute(&mut *tx)
                .await?;
                false
            }
            Finish::Failed { reason } => {
                let r = sqlx::query(
                    "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1, \
                     failing_since_ms = COALESCE(failing_since_ms, $2) \
                     WHERE id = $3 AND enabled = 1 AND (last_success_ms IS NULL OR last_success_ms < $4)",
                )
                .bind(reason)
                .bind(now)
                .bind(row.endpoint_id)
                .bind(row.created_ms)
                .execute(&mut *tx)
                .await?;
                r.rows_affected() > 0
            }
        };
        tx.commit().await?;
        Ok(disabled)
    }

    /// Gives up every claim (SQLite at start-up: one node, so a claim left in the
    /// database is from a process that no longer runs).
    pub async fn release_all_webhook_claims(&self) -> StoreResult<()> {
        sqlx::query(
            "UPDATE webhook_outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by IS NOT NULL",
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An endpoint's outbox rows by state.
    pub async fn outbox_counts(&self, endpoint_id: i64) -> StoreResult<OutboxCounts> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT state, COUNT(*) FROM webhook_outbox WHERE endpoint_id = $1 GROUP BY state",
        )
        .bind(endpoint_id)
        .fetch_all(&self.pool)
        .await?;
        let mut c = OutboxCounts::default();
        for (state, n) in rows {
            match state {
                outbox_state::PENDING => c.pending = n,
                outbox_state::DELIVERED => c.delivered = n,
                _ => c.failed += n,
            }
        }
        Ok(c)
    }

    /// An endpoint's newest attempts, newest first, and how many are kept.
    pub async fn webhook_attempts(
        &self,
        endpoint_id: i64,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<AttemptRow>, i64)> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_attempts WHERE endpoint_id = $1")
                .bind(endpoint_id)
                .fetch_one(&self.pool)
                .await?;
        let sql = format!(
            "SELECT outbox_id, event_type, attempt, at_ms, status, error, duration_ms FROM webhook_attempts \
             WHERE endpoint_id = $1 ORDER BY id DESC LIMIT {limit} OFFSET {offset}"
        );
        let rows = sqlx::query(safe(&sql))
            .bind(endpoint_id)
            .fetch_all(&self.pool)
            .await?;
        let attempts = rows
            .iter()
            .map(|r| {
                Ok(AttemptRow {
                    outbox_id: r.try_get(0)?,
                    event_type: r.try_get(1)?,
                    attempt: r.try_get(2)?,
                    at_ms: r.try_get(3)?,
                    status: r.try_get(4)?,
                    error: r.try_get(5)?,
                    duration_ms: r.try_get(6)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((attempts, total))
    }

    /// An endpoint's outbox rows (newest first) in `state` (any when `None`).
    pub async fn outbox_rows(
        &self,
        endpoint_id: i64,
        state: Option<i64>,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<OutboxRow>, i64)> {
        let filter = match state {
            Some(s) => format!(" AND state = {s}"),
            None => String::new(),
        };
        let total: i64 = sqlx::query_scalar(safe(&format!(
            "SELECT COUNT(*) FROM webhook_outbox WHERE endpoint_id = $1{filter}"
        )))
        .bind(endpoint_id)
        .fetch_one(&self.pool)
        .await?;
        let sql = format!(
            "SELECT {OUTBOX_COLS} FROM webhook_outbox WHERE endpoint_id = $1{filter} \
             ORDER BY id DESC LIMIT {limit} OFFSET {offset}"
        );
        let rows = sqlx::query(safe(&sql))
            .bind(endpoint_id)
            .fetch_all(&self.pool)
            .await?;
        Ok((
            rows.iter().map(outbox_row).collect::<StoreResult<_>>()?,
            total,
        ))
    }

    /// Queues finished rows of an endpoint again, from the first attempt: one event
    /// (`event`), or those finished as failed (every finished one with `all`) that
    /// were queued at or after `since_ms`. Returns how many.
    pub async fn replay_webhooks(
        &self,
        endpoint_id: i64,
        event: Option<i64>,
        since_ms: i64,
        all: bool,
    ) -> StoreResult<u64> {
        let now = now_ms();
        let r = match event {
            Some(id) => {
                sqlx::query(
                    "UPDATE webhook_outbox SET state = 0, attempts = 0, next_attempt_ms = $1, finished_ms = NULL, \
                     claimed_by = NULL, claimed_until = NULL WHERE endpoint_id = $2 AND id = $3 AND state <> 0",
                )
                .bind(now)
                .bind(endpoint_id)
                .bind(id)
                .execute(&self.pool)
                .await?
            }
            None => {
                let states = if all { "1, 2" } else { "2" };
                let sql = format!(
                    "UPDATE webhook_outbox SET state = 0, attempts = 0, next_attempt_ms = $1, finished_ms = NULL, \
                     claimed_by = NULL, claimed_until = NULL \
                     WHERE endpoint_id = $2 AND state IN ({states}) AND created_ms >= $3"
                );
                sqlx::query(safe(&sql))
                    .bind(now)
                    .bind(endpoint_id)
                    .bind(since_ms)
                    .execute(&self.pool)
                    .await?
            }
        };
        Ok(r.rows_affected())
    }

    /// Housekeeping: drops attempts and finished rows beyond `keep` per endpoint, and
    /// disables endpoints with more than `max_pending` rows waiting (queued events stay
    /// for when the endpoint is enabled again; no more are queued meanwhile). Returns
    /// the endpoints disabled.
    pub async fn prune_webhooks(&self, keep: Retention, max_pending: i64) -> StoreResult<Vec<i64>> {
        let endpoints: Vec<i64> = sqlx::query_scalar("SELECT id FROM webhook_endpoints")
            .fetch_all(&self.pool)
            .await?;
        let mut disabled = Vec::new();
        for id in endpoints {
            let cut: Option<i64> = sqlx::query_scalar(safe(&format!(
                "SELECT id FROM webhook_attempts WHERE endpoint_id = $1 ORDER BY id DESC LIMIT 1 OFFSET {}",
                keep.attempts
            )))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(cut) = cut {
                sqlx::query("DELETE FROM webhook_attempts WHERE endpoint_id = $1 AND id <= $2")
                    .bind(id)
                    .bind(cut)
                    .execute(&self.pool)
                    .await?;
            }
            let cut: Option<i64> = sqlx::query_scalar(safe(&format!(
                "SELECT id FROM webhook_outbox WHERE endpoint_id = $1 AND state <> 0 ORDER BY id DESC LIMIT 1 OFFSET {}",
                keep.finished
            )))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(cut) = cut {
                sqlx::query(
                    "DELETE FROM webhook_outbox WHERE endpoint_id = $1 AND state <> 0 AND id <= $2",
                )
                .bind(id)
                .bind(cut)
                .execute(&self.pool)
                .await?;
            }
            let over = sqlx::query(
                "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1 WHERE id = $2 AND enabled = 1 \
                 AND (SELECT COUNT(*) FROM webhook_outbox WHERE endpoint_id = $2 AND state = 0) > $3",
            )
            .bind(format!(
                "More than {max_pending} events were waiting (--webhook-max-pending)."
            ))
            .bind(id)
            .bind(max_pending)
            .execute(&self.pool)
            .await?;
            if over.rows_affected() > 0 {
                disabled.push(id);
            }
        }
        Ok(disabled)
    }
}

/// [`Store::claim_webhooks`] on one connection (in a transaction on PostgreSQL, `pg`).
#[allow(clippy::too_many_arguments)]
async fn claim(
    conn: &mut sqlx::AnyConnection,
    endpoint_id: i64,
    node: &str,
    now: i64,
    until: i64,
    max_in_flight: i64,
    batch: i64,
    pg: bool,
) -> StoreResult<Vec<OutboxRow>> {
    let lock = if pg { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT id FROM webhook_endpoints WHERE id = $1 AND enabled = 1{lock}");
    let found: Option<i64> = sqlx::query_scalar(safe(&sql))
        .bind(endpoint_id)
        .fetch_optional(&mut *conn)
        .await?;
    if found.is_none() {
        return Ok(Vec::new());
    }
    let in_flight: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_outbox WHERE endpoint_id = $1 AND state = 0 AND claimed_until > $2",
    )
    .bind(endpoint_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let take = (max_in_flight - in_flight).min(batch);
    if take <= 0 {
        return Ok(Vec::new());
    }
    let skip = if pg { " FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE webhook_outbox SET claimed_by = $1, claimed_until = $2 WHERE id IN (\
         SELECT id FROM webhook_outbox WHERE endpoint_id = $3 AND state = 0 AND next_attempt_ms <= $4 \
         AND (claimed_until IS NULL OR claimed_until <= $4) ORDER BY id LIMIT {take}{skip}) \
         RETURNING {OUTBOX_COLS}"
    );
    let rows = sqlx::query(safe(&sql))
        .bind(node)
        .bind(until)
        .bind(endpoint_id)
        .bind(now)
        .fetch_all(&mut *conn)
        .await?;
    let mut out = rows
        .iter()
        .map(outbox_row)
        .collect::<StoreResult<Vec<_>>>()?;
    out.sort_by_key(|r| r.id);
    Ok(out)
}
