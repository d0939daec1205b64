//! Webhook delivery (docs/protocol.md §15.1): sends the outbox's events to the
//! operator's endpoints, signed the Standard Webhooks way ([`sign`]), over [`client`].
//!
//! - **At least once.** A row leaves the outbox's pending state only once its endpoint
//!   answered 2xx, or once every attempt of the retry schedule failed. A node that dies
//!   mid-delivery leaves its claim to lapse (`claimed_until`), and the row is sent again.
//! - **One node per event.** Rows are claimed in the database (`Store::claim_webhooks`),
//!   so with several nodes each attempt is made by one of them.
//! - **Retries** with exponential backoff: attempt `n + 1` comes `base · 3^(n-1)` after
//!   attempt `n` (capped at [`MAX_RETRY_DELAY_MS`], plus up to a fifth of jitter), for
//!   `--webhook-max-attempts` attempts: with the defaults (10 s, 11 attempts) the last
//!   comes about 21 hours after the first.
//! - **Disabling.** When an event's last attempt fails and no delivery to its endpoint
//!   succeeded since the event was queued, the endpoint is disabled with the reason; its
//!   events wait until the operator enables it again (and may replay the failed ones).
//!   An endpoint with more than `--webhook-max-pending` events waiting is disabled too.
//! - **Bounds.** Per endpoint at most `--webhook-concurrency` requests in flight across
//!   every node, per node at most [`MAX_IN_FLIGHT`]; each request within
//!   `--webhook-timeout-ms`, its answer read up to [`MAX_ANSWER_BYTES`]; payloads over
//!   `--webhook-max-payload-bytes` are sent without their data (`"truncated": true`);
//!   [`ATTEMPTS_KEPT`] attempts and [`FINISHED_KEPT`] finished events kept per endpoint.
//!
//! What an event says is rendered by the domain ([`Render`]) when it is first sent, and
//! kept: every retry and replay sends the same payload under the same `webhook-id`.

pub mod client;
pub mod sign;
mod wanted;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use hyper::body::Bytes;
use prometheus::{Histogram, HistogramOpts, IntCounterVec, Opts, Registry};
use serde_json::{json, Value};
use tokio::sync::{watch, Notify, Semaphore};

use crate::config::Config;
use crate::store::{EndpointRow, Finish, NewAttempt, OutboxRow, Retention, Store};

/// Requests in flight from one node, all endpoints together.
pub const MAX_IN_FLIGHT: usize = 256;
/// Bytes of an endpoint's answer read (and an excerpt kept with the attempt).
pub const MAX_ANSWER_BYTES: usize = 4096;
/// Characters of an error kept with an attempt.
pub const MAX_ERROR_CHARS: usize = 300;
/// Attempts kept per endpoint (the newest), readable from the Platform API.
pub const ATTEMPTS_KEPT: i64 = 100;
/// Finished (delivered or failed) events kept per endpoint (the newest), for replay.
pub const FINISHED_KEPT: i64 = 1000;
/// The longest wait between two attempts.
pub const MAX_RETRY_DELAY_MS: u64 = 6 * 3600 * 1000;
/// Beyond a request's timeout, how long a claim lasts (then another node may retry).
const CLAIM_MARGIN_MS: i64 = 5000;
/// Endpoints looked at per round.
const ENDPOINTS_PER_ROUND: i64 = 100;
/// The least time between two rounds that found nothing to send, however often the
/// worker is woken.
const MIN_ROUND_GAP: Duration = Duration::from_millis(25);
/// How often finished rows and attempts are pruned and backlogs checked.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// How long [`Webhooks::wants`] remembers whether an application wants an event type.
pub const WANTED_TTL: Duration = Duration::from_secs(1);

/// Renders an event's `data` (the domain implements it, as it renders resources).
pub trait Render: Send + Sync + 'static {
    /// The `data` of `row`'s payload.
    fn render(&self, row: OutboxRow) -> BoxFuture<'static, Result<Value, String>>;
}

/// The delivery settings (from the flags).
#[derive(Debug, Clone)]
pub struct Settings {
    /// This node's id (claims are made in its name).
    pub node: String,
    /// How often the outbox is looked at when nothing woke the worker.
    pub poll: Duration,
    /// One request's time limit.
    pub timeout: Duration,
    /// Requests in flight per endpoint, across every node.
    pub concurrency: i64,
    /// Largest payload sent whole.
    pub max_payload_bytes: usize,
    /// Attempts per event.
    pub max_attempts: i64,
    /// Wait before the second attempt; each next one waits three times longer.
    pub retry_base_ms: u64,
    /// Events waiting per endpoint before it is disabled.
    pub max_pending: i64,
}

impl Settings {
    /// From the configuration.
    pub fn from_config(c: &Config, node: &str) -> Settings {
        Settings {
            node: node.to_owned(),
            poll: Duration::from_millis(c.webhook_poll_ms.max(10)),
            timeout: Duration::from_millis(c.webhook_timeout_ms.max(1)),
            concurrency: c.webhook_concurrency.max(1) as i64,
            max_payload_bytes: c.webhook_max_payload_bytes,
            max_attempts: c.webhook_max_attempts.max(1) as i64,
            retry_base_ms: c.webhook_retry_base_ms.max(1),
            max_pending: c.webhook_max_pending as i64,
        }
    }

    /// The wait after failed attempt `n` (1 for the first) of the outbox row `id`.
    pub fn retry_delay_ms(&self, n: i64, id: i64) -> u64 {
        let exp = u32::try_from(n.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let delay = self
            .retry_base_ms
            .saturating_mul(3u64.saturating_pow(exp))
            .min(MAX_RETRY_DELAY_MS);
        // Up to a fifth more, spread by row and attempt so that retries of a burst of
        // events do not all come back at once.
        let spread = (id as u64)
            .wrapping_mul(2_654_435_761)
            .wrapping_add(n as u64 * 40_503)
            % 1000;
        delay.saturating_add(delay / 5 * spread / 1000)
    }
}

/// Webhook and before-send metrics (`/metrics`).
pub struct Metrics {
    registry: Registry,
    /// Attempts by result: `delivered`, `failed` (retried), `gave_up`.
    pub attempts: IntCounterVec,
    /// From an event's change to its delivery (first success), seconds.
    pub delay: Histogram,
    /// One attempt's request, seconds.
    pub request: Histogram,
    /// The before-send hook's answer time, seconds.
    pub before_send: Histogram,
    /// Before-send outcomes: `allowed`, `rejected`, `replaced`, `failed_open`,
    /// `failed_closed`.
    pub before_send_outcomes: IntCounterVec,
}

impl Metrics {
    fn new() -> Metrics {
        let registry = Registry::new();
        let buckets = vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            60.0, 300.0, 3600.0,
        ];
        let hist = |name: &str, help: &str| {
            Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.clone()))
                .expect("valid histogram")
        };
        let m = Metrics {
            attempts: IntCounterVec::new(
                Opts::new(
                    "chatkitty_webhook_attempts_total",
                    "Webhook delivery attempts by result.",
                ),
                &["result"],
            )
            .expect("valid counter"),
            delay: hist(
                "chatkitty_webhook_delay_seconds",
                "From a change to its webhook's delivery.",
            ),
            request: hist(
                "chatkitty_webhook_request_seconds",
                "One webhook request, to its answer.",
            ),
            before_send: hist(
                "chatkitty_before_send_seconds",
                "The before-send hook's answer time.",
            ),
            before_send_outcomes: IntCounterVec::new(
                Opts::new(
                    "chatkitty_before_send_total",
                    "Messages checked by the before-send hook, by outcome.",
                ),
                &["outcome"],
            )
            .expect("valid counter"),
            registry,
        };
        for c in [
            Box::new(m.attempts.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(m.delay.clone()),
            Box::new(m.request.clone()),
            Box::new(m.before_send.clone()),
            Box::new(m.before_send_outcomes.clone()),
        ] {
            m.registry.register(c).expect("metrics registered once");
        }
        m
    }

    /// The metrics in Prometheus's text format.
    pub fn encode(&self) -> String {
        prometheus::TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

/// The webhook deliverer of this node.
pub struct Webhooks {
    /// Its settings.
    pub settings: Settings,
    store: Store,
    client: client::Client,
    operator_client: client::Client,
    wake: Notify,
    /// Whether an application's endpoints want an event type (at most one entry per
    /// application and event type), loaded once per [`WANTED_TTL`].
    wanted: wanted::Wanted<(i64, &'static str)>,
    /// Its metrics (and the before-send hook's).
    pub metrics: Metrics,
}

impl Webhooks {
    /// A deliverer; `allow_private` is `--webhook-allow-private`.
    pub fn new(settings: Settings, store: Store, allow_private: bool) -> Webhooks {
        Webhooks {
            settings,
            store,
            client: client::Client::new(allow_private),
            operator_client: client::Client::new(true),
            wake: Notify::new(),
            wanted: wanted::Wanted::new(WANTED_TTL),
            metrics: Metrics::new(),
        }
    }

    /// Whether an enabled endpoint of `app` wants `event_type`, as known within
    /// [`WANTED_TTL`]: the events that are no row change are only rendered and queued
    /// when one does (so an endpoint starts getting them within that time of its
    /// creation). A database error answers `true`. However many callers ask at once,
    /// the store is asked at most once per application and event type at a time
    /// (`webhooks/wanted.rs`).
    pub async fn wants(&self, app: i64, event_type: &'static str) -> bool {
        self.wanted
            .get((app, event_type), || async {
                self.store
                    .webhook_wanted(app, event_type)
                    .await
                    .unwrap_or(true)
            })
            .await
    }

    /// A client for the URLs the operator set in flags (the before-send hook): any
    /// address, as the operator chose it.
    pub fn operator_client(&self) -> &client::Client {
        &self.operator_client
    }

    /// Tells the worker there may be new events (a change was just committed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Sends events until `shutdown` flips.
    pub async fn run(
        self: Arc<Self>,
        render: Arc<dyn Render>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        if self.store.backend() == crate::store::Backend::Sqlite {
            if let Err(e) = self.store.release_all_webhook_claims().await {
                tracing::warn!(error = %e, "releasing webhook claims");
            }
        }
        let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        let mut pruned: Option<Instant> = None;
        loop {
            if *shutdown.borrow() {
                return;
            }
            if pruned.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                pruned = Some(Instant::now());
                self.prune().await;
            }
            let started = self.round(&render, &slots).await;
            if started == 0 {
                tokio::time::sleep(MIN_ROUND_GAP).await;
            }
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.settings.poll) => {}
            }
        }
    }

    /// Claims what is due and starts sending it; returns how many were started.
    async fn round(self: &Arc<Self>, render: &Arc<dyn Render>, slots: &Arc<Semaphore>) -> usize {
        let now = crate::clock::now_ms();
        let endpoints = match self.store.due_endpoints(now, ENDPOINTS_PER_ROUND).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "webhook outbox");
                return 0;
            }
        };
        let mut started = 0;
        let until = now + self.settings.timeout.as_millis() as i64 + CLAIM_MARGIN_MS;
        for endpoint in endpoints {
            let free = slots.available_permits() as i64;
            if free == 0 {
                break;
            }
            let claimed = self
                .store
                .claim_webhooks(
                    endpoint,
                    &self.settings.node,
                    now,
                    until,
                    self.settings.concurrency,
                    free.min(self.settings.concurrency),
                )
                .await;
            let rows = match claimed {
                Ok(r) if r.is_empty() => continue,
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, endpoint, "claiming webhook events");
                    continue;
                }
            };
            // Loaded once for the rows claimed together (their claim lapses if this
            // fails).
            let endpoint = match self.store.endpoint_by_id(endpoint).await {
                Ok(Some(e)) => Arc::new(e),
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, endpoint, "loading a webhook endpoint");
                    continue;
                }
            };
            for row in rows {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return started;
                };
                started += 1;
                let (me, render, endpoint) = (self.clone(), render.clone(), endpoint.clone());
                tokio::spawn(async move {
                    me.deliver(render.as_ref(), &endpoint, row).await;
                    drop(permit);
                    me.wake();
                });
            }
        }
        started
    }

    /// Prunes attempts and finished rows, and disables endpoints over their backlog.
    async fn prune(&self) {
        let keep = Retention {
            attempts: ATTEMPTS_KEPT,
            finished: FINISHED_KEPT,
        };
        match self
            .store
            .prune_webhooks(keep, self.settings.max_pending)
            .await
        {
            Ok(disabled) => {
                for id in disabled {
                    tracing::warn!(
                        endpoint = id,
                        "webhook endpoint disabled: backlog over --webhook-max-pending"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "pruning webhooks"),
        }
    }

    /// The payload of a row: kept from an earlier attempt, or rendered now (`true`:
    /// to be kept with this attempt's outcome).
    async fn payload(
        &self,
        render: &dyn Render,
        row: &OutboxRow,
    ) -> Result<(String, bool), String> {
        if let Some(p) = &row.payload {
            return Ok((p.clone(), false));
        }
        let data = render.render(row.clone()).await?;
        let timestamp = crate::clock::time_iso(row.created_ms);
        let mut payload =
            json!({ "type": row.event_type, "timestamp": timestamp, "data": data }).to_string();
        if payload.len() > self.settings.max_payload_bytes {
            payload = json!({
                "type": row.event_type,
                "timestamp": timestamp,
                "data": { "id": row.subject_id },
                "truncated": true,
            })
            .to_string();
        }
        Ok((payload, true))
    }

    /// One attempt at a claimed row of `endpoint`, and what follows from it.
    async fn deliver(&self, render: &dyn Render, endpoint: &EndpointRow, row: OutboxRow) {
        let at_ms = crate::clock::now_ms();
        let started = Instant::now();
        let (outcome, rendered) = match self.payload(render, &row).await {
            Ok((payload, new)) => {
                let sent = self.send(endpoint, &row, payload.clone()).await;
                (sent, new.then_some(payload))
            }
            Err(e) => (Err((None, format!("rendering the event: {e}"))), None),
        };
        let took = started.elapsed();
        self.metrics.request.observe(took.as_secs_f64());
        let attempt = row.attempts + 1;
        let (status, error) = match &outcome {
            Ok(status) => (Some(i64::from(*status)), None),
            Err((status, e)) => (status.map(i64::from), Some(truncate(e, MAX_ERROR_CHARS))),
        };
        let record = NewAttempt {
            endpoint_id: endpoint.id,
            outbox_id: row.id,
            event_type: &row.event_type,
            attempt,
            at_ms,
            status,
            error: error.as_deref(),
            duration_ms: took.as_millis() as i64,
        };
        let now = crate::clock::now_ms();
        let reason;
        let finish = match (&outcome, attempt >= self.settings.max_attempts) {
            (Ok(_), _) => {
                self.metrics
                    .attempts
                    .with_label_values(&["delivered"])
                    .inc();
                self.metrics
                    .delay
                    .observe((now - row.created_ms).max(0) as f64 / 1000.0);
                Finish::Delivered
            }
            (Err(_), false) => {
                self.metrics.attempts.with_label_values(&["failed"]).inc();
                Finish::Retry {
                    next_ms: now + self.settings.retry_delay_ms(attempt, row.id) as i64,
                }
            }
            (Err((_, e)), true) => {
                self.metrics.attempts.with_label_values(&["gave_up"]).inc();
                reason = format!(
                    "Every one of the {attempt} attempts to deliver msg_{} failed, and nothing was \
                     delivered to this endpoint since it was queued; the last: {}",
                    row.id,
                    truncate(e, MAX_ERROR_CHARS)
                );
                Finish::Failed { reason: &reason }
            }
        };
        match self
            .store
            .finish_webhook(&row, rendered.as_deref(), &record, finish)
            .await
        {
            Ok(true) => {
                tracing::warn!(endpoint = endpoint.id, url = %endpoint.url, "webhook endpoint disabled after persistent failure")
            }
            Ok(false) => {}
            // The claim lapses and the row is tried again.
            Err(e) => tracing::warn!(error = %e, row = row.id, "recording a webhook outcome"),
        }
    }

    /// Signs and POSTs a payload; the status of a 2xx answer, or the status (if any)
    /// and what went wrong.
    async fn send(
        &self,
        endpoint: &EndpointRow,
        row: &OutboxRow,
        payload: String,
    ) -> Result<u16, (Option<u16>, String)> {
        let target = client::Target::parse(&endpoint.url).map_err(|e| (None, e))?;
        let id = format!("msg_{}", row.id);
        let timestamp = crate::clock::now_ms() / 1000;
        let mut secrets = vec![endpoint.secret.as_str()];
        if let (Some(previous), Some(until)) =
            (&endpoint.previous_secret, endpoint.previous_until_ms)
        {
            if until > crate::clock::now_ms() {
                secrets.push(previous);
            }
        }
        let body = Bytes::from(payload);
        let headers = [
            ("webhook-id", id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            (
                "webhook-signature",
                sign::signature_header(&secrets, &id, timestamp, &body),
            ),
        ];
        // The default endpoint's URL is the operator's own flag: any address, as for
        // the before-send hook; the others' only public ones unless allowed.
        let client = if endpoint.is_default {
            &self.operator_client
        } else {
            &self.client
        };
        let request = client.post(&target, &headers, body, MAX_ANSWER_BYTES);
        match tokio::time::timeout(self.settings.timeout, request).await {
            Err(_) => Err((
                None,
                format!("no answer within {} ms", self.settings.timeout.as_millis()),
            )),
            Ok(Err(e)) => Err((None, e)),
            Ok(Ok(a)) if (200..300).contains(&a.status) => Ok(a.status),
            Ok(Ok(a)) => Err((
                Some(a.status),
                format!(
                    "answered {}: {}",
                    a.status,
                    truncate(&String::from_utf8_lossy(&a.body), 200)
                ),
            )),
        }
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(base: u64) -> Settings {
        Settings {
            node: "n".into(),
            poll: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            concurrency: 4,
            max_payload_bytes: 1000,
            max_attempts: 11,
            retry_base_ms: base,
            max_pending: 10,
        }
    }

    #[test]
    fn retries_back_off_three_fold_up_to_six_hours_over_about_a_day() {
        let s = settings(10_000);
        let mut total = 0u64;
        let mut last = 0u64;
        for n in 1..s.max_attempts {
            let d = s.retry_delay_ms(n, 7);
            let plain = (10_000u64 * 3u64.pow(n as u32 - 1)).min(MAX_RETRY_DELAY_MS);
            assert!(d >= plain && d <= plain + plain / 5, "attempt {n}: {d}");
            assert!(d >= last || plain == MAX_RETRY_DELAY_MS);
            last = d;
            total += d;
        }
        // From the first attempt to the last: between 20 and 26 hours.
        assert!((20 * 3_600_000..26 * 3_600_000).contains(&total), "{total}");
    }
}
