//! The Platform API's webhook endpoints (docs/protocol.md §15.1), with the same bearer
//! tokens as the rest of it (`super::platform`):
//!
//! - `GET|POST …/webhooks`: list, register `{url, eventTypes?, description?, secret?}`
//!   (`201`, the answer carries the `whsec_…` secret, generated unless given);
//! - `GET|PATCH|DELETE …/webhooks/{id}`: the endpoint with its delivery status; change
//!   `url`, `eventTypes`, `description`, `enabled` (enabling a disabled endpoint
//!   resumes its waiting events); remove it with its events;
//! - `GET …/webhooks/{id}/secret`; `POST …/webhooks/{id}/rotate-secret`
//!   `{secret?, previousExpiresInSecs?}`: a new secret, the old one still signing (a
//!   second signature) for a day, or as long as asked (at most a week);
//! - `GET …/webhooks/{id}/attempts`: the newest attempts (status, error, duration);
//! - `GET …/webhooks/{id}/events?state=pending|delivered|failed`: the events kept;
//! - `POST …/webhooks/{id}/replay` `{eventId}` or `{since, all?}`: events sent again
//!   from their first attempt (the failed ones since `since`, ms since the epoch; with
//!   `all`, the delivered ones too).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::platform::{authorize, base, hal_json, hal_page, PageQuery};
use crate::domain::webhooks as hooks;
use crate::error::{ApiError, HttpError, HttpResult};
use crate::realtime::webhooks::sign;
use crate::state::AppState;
use crate::store::{outbox_state, EndpointChange, EndpointRow, NewEndpoint};

/// The webhook routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/applications/{app}/webhooks", get(list).post(create))
        .route(
            "/v1/applications/{app}/webhooks/{id}",
            get(get_one).patch(update).delete(delete),
        )
        .route("/v1/applications/{app}/webhooks/{id}/secret", get(secret))
        .route(
            "/v1/applications/{app}/webhooks/{id}/rotate-secret",
            post(rotate),
        )
        .route(
            "/v1/applications/{app}/webhooks/{id}/attempts",
            get(attempts),
        )
        .route("/v1/applications/{app}/webhooks/{id}/events", get(events))
        .route("/v1/applications/{app}/webhooks/{id}/replay", post(replay))
}

async fn endpoint_of(state: &AppState, app: i64, id: i64) -> HttpResult<EndpointRow> {
    Ok(state
        .store
        .endpoint(app, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Webhook endpoint {id}")))?)
}

/// An endpoint with its delivery status and links.
async fn endpoint_hal(state: &AppState, app: i64, e: &EndpointRow) -> HttpResult<Value> {
    let counts = state.store.outbox_counts(e.id).await?;
    let mut v = hooks::endpoint_json(e);
    let b = format!("{}/webhooks/{}", base(state, app), e.id);
    v["status"] = json!({
        "pending": counts.pending,
        "delivered": counts.delivered,
        "failed": counts.failed,
    });
    v["_links"] = json!({
        "self": { "href": b },
        "attempts": { "href": format!("{b}/attempts") },
        "events": { "href": format!("{b}/events") },
        "replay": { "href": format!("{b}/replay") },
        "rotateSecret": { "href": format!("{b}/rotate-secret") },
    });
    Ok(v)
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(app): Path<i64>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let mut items = Vec::new();
    for e in state.store.endpoints(app).await? {
        items.push(endpoint_hal(&state, app, &e).await?);
    }
    let total = items.len() as i64;
    let url = format!("{}/webhooks", base(&state, app));
    Ok(hal_json(
        StatusCode::OK,
        hal_page("webhooks", items, &url, 0, total.max(1), total),
    ))
}

fn description(body: &Value) -> HttpResult<Option<&str>> {
    Ok(crate::limits::bounded(
        "description",
        body.get("description").and_then(Value::as_str),
        hooks::MAX_DESCRIPTION_CHARS,
    )?)
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(app): Path<i64>,
    Json(body): Json<Value>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let url = body
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::validation("`url` is required."))?;
    hooks::check_url(&state, url)?;
    let types = hooks::event_types(body.get("eventTypes"))?;
    let secret = match body.get("secret").and_then(Value::as_str) {
        Some(s) => {
            hooks::check_secret(s)?;
            s.to_owned()
        }
        None => sign::generate_secret(),
    };
    let max = state.config.webhook_max_endpoints;
    if state.store.endpoints(app).await?.len() >= max {
        return Err(crate::limits::too_large(format!(
            "An application has at most {max} webhook endpoints (--webhook-max-endpoints)."
        ))
        .into());
    }
    let e = state
        .store
        .create_endpoint(&NewEndpoint {
            app_id: app,
            url,
            description: description(&body)?.unwrap_or(""),
            event_types: &types,
            secret: &secret,
        })
        .await?;
    let mut v = endpoint_hal(&state, app, &e).await?;
    v["secret"] = json!(secret);
    Ok(hal_json(StatusCode::CREATED, v))
}

async fn get_one(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let e = endpoint_of(&state, app, id).await?;
    Ok(hal_json(
        StatusCode::OK,
        endpoint_hal(&state, app, &e).await?,
    ))
}

async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
    Json(body): Json<Value>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    endpoint_of(&state, app, id).await?;
    let url = body.get("url").and_then(Value::as_str);
    if let Some(u) = url {
        hooks::check_url(&state, u)?;
    }
    let types = match body.get("eventTypes") {
        None => None,
        some => Some(hooks::event_types(some)?),
    };
    let enabled = match body.get("enabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(ApiError::validation("`enabled` is true or false.").into()),
    };
    let change = EndpointChange {
        url,
        description: description(&body)?,
        event_types: types.as_deref(),
        enabled,
    };
    state.store.update_endpoint(app, id, &change).await?;
    if enabled == Some(true) {
        state.webhooks.wake();
    }
    let e = endpoint_of(&state, app, id).await?;
    Ok(hal_json(
        StatusCode::OK,
        endpoint_hal(&state, app, &e).await?,
    ))
}

async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    if !state.store.delete_endpoint(app, id).await? {
        return Err(ApiError::not_found(format!("Webhook endpoint {id}")).into());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn secret(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let e = endpoint_of(&state, app, id).await?;
    Ok(Json(json!({ "secret": e.secret })).into_response())
}

async fn rotate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
    body: Option<Json<Value>>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    endpoint_of(&state, app, id).await?;
    let body = body.map(|Json(b)| b).unwrap_or_else(|| json!({}));
    let secret = match body.get("secret").and_then(Value::as_str) {
        Some(s) => {
            hooks::check_secret(s)?;
            s.to_owned()
        }
        None => sign::generate_secret(),
    };
    let overlap = match body.get("previousExpiresInSecs") {
        None | Some(Value::Null) => hooks::ROTATION_OVERLAP_SECS,
        Some(v) => v
            .as_i64()
            .filter(|s| (0..=hooks::MAX_ROTATION_OVERLAP_SECS).contains(s))
            .ok_or_else(|| {
                ApiError::validation(format!(
                    "`previousExpiresInSecs` is 0 to {}.",
                    hooks::MAX_ROTATION_OVERLAP_SECS
                ))
            })?,
    };
    let until = crate::clock::now_ms() + overlap * 1000;
    state
        .store
        .rotate_endpoint_secret(app, id, &secret, until)
        .await?;
    let e = endpoint_of(&state, app, id).await?;
    let mut v = endpoint_hal(&state, app, &e).await?;
    v["secret"] = json!(secret);
    Ok(hal_json(StatusCode::OK, v))
}

async fn attempts(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
    Query(q): Query<PageQuery>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    endpoint_of(&state, app, id).await?;
    let (page, size) = q.get();
    let (rows, total) = state.store.webhook_attempts(id, page * size, size).await?;
    let items = rows
        .iter()
        .map(|a| {
            json!({
                "eventId": format!("msg_{}", a.outbox_id),
                "eventType": a.event_type,
                "attempt": a.attempt,
                "time": crate::clock::time_iso(a.at_ms),
                "timestampMs": a.at_ms,
                "status": a.status,
                "error": a.error,
                "durationMs": a.duration_ms,
            })
        })
        .collect();
    let url = format!("{}/webhooks/{id}/attempts", base(&state, app));
    Ok(hal_json(
        StatusCode::OK,
        hal_page("attempts", items, &url, page, size, total),
    ))
}

#[derive(Deserialize)]
struct EventsQuery {
    state: Option<String>,
    page: Option<i64>,
    size: Option<i64>,
}

async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
    Query(q): Query<EventsQuery>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    endpoint_of(&state, app, id).await?;
    let filter = match q.state.as_deref() {
        None => None,
        Some("pending") => Some(outbox_state::PENDING),
        Some("delivered") => Some(outbox_state::DELIVERED),
        Some("failed") => Some(outbox_state::FAILED),
        Some(_) => {
            return Err(ApiError::validation("`state` is pending, delivered or failed.").into())
        }
    };
    let (page, size) = PageQuery {
        page: q.page,
        size: q.size,
    }
    .get();
    let (rows, total) = state
        .store
        .outbox_rows(id, filter, page * size, size)
        .await?;
    let items = rows
        .iter()
        .map(|r| {
            json!({
                "id": format!("msg_{}", r.id),
                "eventType": r.event_type,
                "state": match r.state {
                    outbox_state::PENDING => "pending",
                    outbox_state::DELIVERED => "delivered",
                    _ => "failed",
                },
                "attempts": r.attempts,
                "createdTime": crate::clock::time_iso(r.created_ms),
                "payload": r.payload.as_deref().and_then(|p| serde_json::from_str::<Value>(p).ok()),
            })
        })
        .collect();
    let url = format!("{}/webhooks/{id}/events", base(&state, app));
    Ok(hal_json(
        StatusCode::OK,
        hal_page("events", items, &url, page, size, total),
    ))
}

async fn replay(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
    Json(body): Json<Value>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    endpoint_of(&state, app, id).await?;
    let event = match body.get("eventId").and_then(Value::as_str) {
        Some(e) => Some(
            e.strip_prefix("msg_")
                .and_then(|n| n.parse::<i64>().ok())
                .ok_or_else(|| {
                    HttpError(
                        StatusCode::BAD_REQUEST,
                        ApiError::validation("`eventId` is an event's id (msg_…)."),
                    )
                })?,
        ),
        None => None,
    };
    let since = body.get("since").and_then(Value::as_i64);
    if event.is_none() && since.is_none() {
        return Err(
            ApiError::validation("Give `eventId`, or `since` (ms since the epoch).").into(),
        );
    }
    let all = body.get("all").and_then(Value::as_bool).unwrap_or(false);
    let n = state
        .store
        .replay_webhooks(id, event, since.unwrap_or(0), all)
        .await?;
    state.webhooks.wake();
    Ok(Json(json!({ "replayed": n })).into_response())
}
