//! Webhooks (docs/protocol.md §15.1): which events there are, what each one's payload
//! says (rendered for the delivery worker, [`DomainRender`]), the events that are no row
//! change (queued here when the server decides them), and the rules of the endpoints
//! an app's backend registers through the Platform API.
//!
//! Row changes — messages, reactions, channels, members, users, and flags (migration
//! 11) — are queued by database triggers, in the statement that makes the change.
//! Presence changes and notifications to offline members are not row changes: they are
//! queued by [`presence_changed`] and [`notified_offline`] when the server decides them
//! (a crash between that decision and the queueing loses them, as it loses the live
//! event itself).

use std::sync::Weak;

use futures_util::future::BoxFuture;
use serde_json::{json, Value};

use super::mentions::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::realtime::webhooks::{client::Target, sign, Render};
use crate::state::{AppState, Shared};
use crate::store::{EndpointRow, MemberRow, OutboxRow, UserRow};

/// Every event type an endpoint may ask for.
pub const EVENT_TYPES: &[&str] = &[
    MESSAGE_CREATED,
    "message.updated",
    "message.deleted",
    "reaction.added",
    "reaction.removed",
    "channel.created",
    "channel.updated",
    "channel.deleted",
    "member.added",
    "member.removed",
    "user.created",
    "user.updated",
    PRESENCE_CHANGED,
    NOTIFICATION_OFFLINE,
    MESSAGE_FLAGGED,
];

/// A message was stored.
pub const MESSAGE_CREATED: &str = "message.created";
/// A user came online or went offline (cluster-wide), or chose another status.
pub const PRESENCE_CHANGED: &str = "user.presence.changed";
/// A member who is not online received a notification (for push or email).
pub const NOTIFICATION_OFFLINE: &str = "notification.offline";
/// A message was flagged for review.
pub const MESSAGE_FLAGGED: &str = "message.flagged";

/// Longest endpoint description.
pub const MAX_DESCRIPTION_CHARS: usize = 256;
/// How long the secret before a rotation keeps signing, by default (the Standard
/// Webhooks convention: a day), and at most.
pub const ROTATION_OVERLAP_SECS: i64 = 86_400;
/// See [`ROTATION_OVERLAP_SECS`].
pub const MAX_ROTATION_OVERLAP_SECS: i64 = 7 * 86_400;

/// The domain's [`Render`], wired into the webhook worker at start-up. It holds the
/// state weakly: the state owns the worker.
pub struct DomainRender(pub Weak<Shared>);

impl Render for DomainRender {
    fn render(&self, row: OutboxRow) -> BoxFuture<'static, Result<Value, String>> {
        let state = self.0.clone();
        Box::pin(async move {
            let state = state.upgrade().ok_or("the server is stopping")?;
            render(&state, &row)
                .await
                .map_err(|e| format!("{}: {}", e.name, e.message))
        })
    }
}

/// A resource as JSON without the hypermedia meant for the STOMP client (as the
/// Platform API's HAL resources drop it).
fn plain<T: serde::Serialize>(resource: &T) -> Value {
    let mut v = serde_json::to_value(resource).unwrap_or_default();
    strip(&mut v);
    v
}

fn strip(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for k in ["_relays", "_topics", "_actions", "_streams"] {
                m.remove(k);
            }
            m.values_mut().for_each(strip);
        }
        Value::Array(a) => a.iter_mut().for_each(strip),
        _ => {}
    }
}

/// The `data` of an event's payload: the resources it is about as they are when it
/// is first sent (a deleted channel as it was), or, for the events queued by this
/// module, what was queued.
async fn render(state: &AppState, row: &OutboxRow) -> ApiResult<Value> {
    let data: Value = row
        .data
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or(Value::Null);
    let app = row.app_id;
    let id = row.subject_id.unwrap_or(0);
    let field = |k: &str| data.get(k).and_then(Value::as_i64).unwrap_or(0);
    Ok(match row.event_type.as_str() {
        "message.created" | "message.updated" | "message.deleted" => {
            match state.store.message(id).await? {
                Some(m) => {
                    json!({ "message": plain(&state.render_one_message(app, &m, Viewer::Operator).await?) })
                }
                None => json!({ "message": { "id": id }, "gone": true }),
            }
        }
        "reaction.added" | "reaction.removed" => json!({
            "messageId": id,
            "emoji": data.get("emoji"),
            "user": user_json(state, app, field("userId")).await?,
        }),
        "channel.created" | "channel.updated" => match state.store.channel(app, id).await? {
            Some(c) => {
                let generic = MemberRow::generic(c.id);
                json!({ "channel": plain(&state.render_channel_with(&c, 0, Some(&generic)).await?) })
            }
            None => json!({ "channel": { "id": id }, "gone": true }),
        },
        "member.added" | "member.removed" => json!({
            "channelId": id,
            "role": data.get("role"),
            "user": user_json(state, app, field("userId")).await?,
        }),
        "user.created" | "user.updated" => json!({ "user": user_json(state, app, id).await? }),
        "message.flagged" => {
            let message = match state.store.message(id).await? {
                Some(m) => plain(&state.render_one_message(app, &m, Viewer::Operator).await?),
                None => json!({ "id": id, "gone": true }),
            };
            json!({
                "message": message,
                "flagId": data.get("flagId"),
                "flaggedBy": user_json(state, app, field("userId")).await?,
                "reason": data.get("reason"),
            })
        }
        // channel.deleted: the trigger's snapshot; the rest: what was queued.
        "channel.deleted" => json!({ "channel": data }),
        _ => data,
    })
}

async fn user_json(state: &AppState, app: i64, id: i64) -> ApiResult<Value> {
    Ok(match state.store.user(app, id).await? {
        Some(u) => plain(&state.render_user(&u)),
        None => json!({ "id": id }),
    })
}

/// Queues an event that is no row change, if an endpoint of the app wants it; a
/// failure is logged (the event is lost, not the request).
async fn enqueue(state: &AppState, app: i64, kind: &str, subject: Option<i64>, data: &Value) {
    let queued = state
        .store
        .enqueue_webhook(app, kind, subject, Some(&data.to_string()))
        .await;
    match queued {
        Ok(0) => {}
        Ok(_) => state.webhooks.wake(),
        Err(e) => tracing::error!(error = %e, kind, "queueing a webhook event"),
    }
}

/// `user.presence.changed`: the user as they are now seen.
pub async fn presence_changed(state: &AppState, user: &UserRow) {
    if state.webhooks.wants(user.app_id, PRESENCE_CHANGED).await {
        let data = json!({ "user": plain(&state.render_user(user)) });
        enqueue(state, user.app_id, PRESENCE_CHANGED, Some(user.id), &data).await;
    }
}

/// Whether `notification.offline` events are wanted by an endpoint of the app (asked
/// once per message, not once per member).
pub async fn offline_wanted(state: &AppState, app: i64) -> bool {
    state.webhooks.wants(app, NOTIFICATION_OFFLINE).await
}

/// `notification.offline`: `recipient`, not online, received `notification` (what an
/// app needs to send a push or an email).
pub async fn notified_offline(state: &AppState, recipient: &UserRow, notification: &Value) {
    let data = json!({ "user": plain(&state.render_user(recipient)), "notification": plain(notification) });
    enqueue(
        state,
        recipient.app_id,
        NOTIFICATION_OFFLINE,
        Some(recipient.id),
        &data,
    )
    .await;
}

// ----- endpoints: the rules of the Platform API's requests -----

/// `eventTypes` of a request: known types, stored as `,a,b,` (`*`: all, also when
/// absent or `["*"]`).
pub fn event_types(v: Option<&Value>) -> ApiResult<String> {
    let list = match v {
        None | Some(Value::Null) => return Ok("*".into()),
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(ApiError::validation(
                "`eventTypes` is an array of event types.",
            ))
        }
    };
    let mut out = Vec::new();
    for t in list {
        match t.as_str() {
            Some("*") => return Ok("*".into()),
            Some(t) if EVENT_TYPES.contains(&t) => {
                if !out.contains(&t) {
                    out.push(t);
                }
            }
            _ => {
                return Err(ApiError::validation(format!(
                    "Unknown event type {t}; known: {}.",
                    EVENT_TYPES.join(", ")
                )))
            }
        }
    }
    if out.is_empty() {
        return Err(ApiError::validation(
            "`eventTypes` names at least one event type.",
        ));
    }
    Ok(format!(",{},", out.join(",")))
}

/// Event types as stored → as listed in resources.
pub fn event_types_list(stored: &str) -> Vec<String> {
    if stored == "*" {
        return vec!["*".into()];
    }
    stored
        .split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An endpoint URL: http(s), at most `MAX_URL_CHARS`, and, unless
/// `--webhook-allow-private`, not naming a loopback or private address (names are
/// checked again when resolved, at each delivery).
pub fn check_url(state: &AppState, url: &str) -> ApiResult<()> {
    crate::limits::bounded("url", Some(url), crate::limits::MAX_URL_CHARS)?;
    let target = Target::parse(url).map_err(ApiError::validation)?;
    if !state.config.webhook_allow_private && target.names_private_host() {
        return Err(ApiError::validation(format!(
            "{url:?} points at a loopback or private address, which this server does not send to \
             (--webhook-allow-private)."
        )));
    }
    Ok(())
}

/// A `whsec_…` secret given in a request (or the default endpoint's flag).
pub fn check_secret(secret: &str) -> ApiResult<()> {
    if sign::secret_key(secret).is_none() {
        return Err(ApiError::validation(
            "A secret is `whsec_` followed by 24 to 64 bytes in base64.",
        ));
    }
    Ok(())
}

/// Keeps each application's default endpoint (`--webhook-url`) in step with the flags.
pub async fn sync_default_endpoints(state: &AppState) -> Result<(), String> {
    let c = &state.config;
    let default = match (&c.webhook_url, &c.webhook_secret) {
        (Some(url), Some(secret)) => {
            Target::parse(url).map_err(|e| format!("--webhook-url: {e}"))?;
            check_secret(secret).map_err(|e| format!("--webhook-secret: {}", e.message))?;
            let events: Vec<Value> = c.webhook_events.iter().map(|e| json!(e)).collect();
            let types = if events.is_empty() {
                "*".to_owned()
            } else {
                event_types(Some(&Value::Array(events)))
                    .map_err(|e| format!("--webhook-events: {}", e.message))?
            };
            Some((url.as_str(), secret.as_str(), types))
        }
        _ => None,
    };
    for &app in state.apps.values() {
        state
            .store
            .set_default_endpoint(app, default.as_ref().map(|(u, s, t)| (*u, *s, t.as_str())))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// An endpoint as the Platform API shows it (without its secret).
pub fn endpoint_json(e: &EndpointRow) -> Value {
    json!({
        "id": e.id,
        "url": e.url,
        "description": e.description,
        "eventTypes": event_types_list(&e.event_types),
        "enabled": e.enabled,
        "disabledReason": e.disabled_reason,
        "default": e.is_default,
        "createdTime": crate::clock::time_iso(e.created_ms),
        "failingSince": e.failing_since_ms.map(crate::clock::time_iso),
        "lastSuccessTime": e.last_success_ms.map(crate::clock::time_iso),
        "previousSecretExpiresTime": e.previous_until_ms
            .filter(|&t| t > crate::clock::now_ms())
            .map(crate::clock::time_iso),
    })
}
