//! The Platform API's moderation endpoints (docs/protocol.md §22): bans from the whole
//! application, the review queue of flagged messages, and the blocklist. Bearer-token
//! authorised like the rest of the Platform API ([`super::platform`]).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chatkitty_protocol::destination::ChannelTopic;
use chatkitty_protocol::event::types;
use serde::Deserialize;
use serde_json::{json, Value};

use super::platform::{authorize, base, hal_json, hal_page, message_hal, user_hal, PageQuery};
use crate::blocklist::{self, Action, Entry};
use crate::domain::mentions::Viewer;
use crate::domain::moderation;
use crate::error::{ApiError, HttpResult};
use crate::realtime::hub::Exclude;
use crate::state::AppState;
use crate::store::{FlagRow, UserRow};

/// The moderation routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/applications/{app}/users/{id}/ban",
            post(ban_user).delete(unban_user),
        )
        .route("/v1/applications/{app}/flags", get(list_flags))
        .route(
            "/v1/applications/{app}/flags/{id}/resolve",
            post(resolve_flag),
        )
        .route(
            "/v1/applications/{app}/blocklist",
            get(list_blocklist).post(add_to_blocklist),
        )
        .route(
            "/v1/applications/{app}/blocklist/{id}",
            delete(remove_from_blocklist),
        )
}

async fn app_user(state: &AppState, app: i64, id: i64) -> HttpResult<UserRow> {
    Ok(state
        .store
        .user(app, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("User {id}")))?)
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct BanBody {
    reason: Option<String>,
    duration_seconds: Option<i64>,
}

/// `POST …/users/{id}/ban {reason?, durationSeconds?}`: no session starts for them
/// until the ban ends; their live sessions end now, on every node.
async fn ban_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
    body: Option<Json<BanBody>>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let user = app_user(&state, app, id).await?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    moderation::ban_from_app(
        &state,
        app,
        &user,
        body.reason.as_deref(),
        body.duration_seconds,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE …/users/{id}/ban`.
async fn unban_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    app_user(&state, app, id).await?;
    if !state.store.unban_from_app(app, id).await? {
        return Err(ApiError::not_found(format!("A ban of user {id}")).into());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct FlagQuery {
    status: Option<String>,
    page: Option<i64>,
    size: Option<i64>,
}

/// A flag with its message and reporter, as the review queue shows it.
async fn flag_json(state: &AppState, app: i64, f: &FlagRow) -> HttpResult<Value> {
    let message = match state.store.message(f.message_id).await? {
        Some(m) => Some(message_hal(
            state,
            app,
            state.render_one_message(app, &m, Viewer::Operator).await?,
        )),
        None => None,
    };
    let reporter = state.store.user(app, f.reporter_id).await?;
    Ok(json!({
        "id": f.id,
        "status": f.status,
        "reason": f.reason,
        "createdTime": crate::clock::time_iso(f.created_ms),
        "message": message,
        "reporter": reporter.map(|u| user_hal(state, app, &u)),
        "_links": { "resolve": { "href": format!("{}/flags/{}/resolve", base(state, app), f.id) } },
    }))
}

/// `GET …/flags?status=OPEN|DISMISSED|REMOVED`: the review queue, oldest first.
async fn list_flags(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(app): Path<i64>,
    Query(q): Query<FlagQuery>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let status = q.status.as_deref().unwrap_or("OPEN");
    if !matches!(status, "OPEN" | "DISMISSED" | "REMOVED") {
        return Err(ApiError::validation("`status` is OPEN, DISMISSED or REMOVED.").into());
    }
    let (page, size) = PageQuery {
        page: q.page,
        size: q.size,
    }
    .get();
    let (flags, total) = state.store.flags(app, status, page * size, size).await?;
    let mut items = Vec::with_capacity(flags.len());
    for f in &flags {
        items.push(flag_json(&state, app, f).await?);
    }
    let url = format!("{}/flags", base(&state, app));
    Ok(hal_json(
        StatusCode::OK,
        hal_page("flags", items, &url, page, size, total),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Resolution {
    /// `DISMISS` (the message stays) or `REMOVE_MESSAGE` (deleted for everyone).
    action: Option<String>,
    /// Also ban the message's sender from the application.
    ban_user: Option<bool>,
    reason: Option<String>,
}

/// `POST …/flags/{id}/resolve {action: DISMISS|REMOVE_MESSAGE, banUser?, reason?}`:
/// closes every open flag of the message.
async fn resolve_flag(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
    Json(r): Json<Resolution>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let flag = state
        .store
        .flag(app, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Flag {id}")))?;
    let status = match r.action.as_deref() {
        Some("DISMISS") => "DISMISSED",
        Some("REMOVE_MESSAGE") => "REMOVED",
        _ => return Err(ApiError::validation("`action` is DISMISS or REMOVE_MESSAGE.").into()),
    };
    let message = state.store.message(flag.message_id).await?;
    if status == "REMOVED" {
        if let Some(m) = message.as_ref().filter(|m| m.deleted_ms.is_none()) {
            state.store.delete_message(m.id).await?;
            let deleted = state
                .store
                .message(m.id)
                .await?
                .ok_or_else(ApiError::internal)?;
            let rendered = state
                .render_one_message(app, &deleted, Viewer::Audience)
                .await?;
            state.publish_to_channel(
                m.channel_id,
                ChannelTopic::Messages,
                types::CHANNEL_MESSAGE_DELETED,
                &rendered,
                Exclude::Nobody,
            );
        }
    }
    if r.ban_user == Some(true) {
        let sender = message.and_then(|m| m.user_id);
        if let Some(sender) = sender {
            let user = app_user(&state, app, sender).await?;
            moderation::ban_from_app(&state, app, &user, r.reason.as_deref(), None).await?;
        }
    }
    state.store.resolve_flags(flag.message_id, status).await?;
    let flag = state
        .store
        .flag(app, id)
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok(hal_json(
        StatusCode::OK,
        flag_json(&state, app, &flag).await?,
    ))
}

/// `GET …/blocklist`.
async fn list_blocklist(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(app): Path<i64>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let items: Vec<Value> = state
        .store
        .blocklist(app)
        .await?
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "pattern": r.entry.pattern,
                "regex": r.entry.is_regex,
                "action": r.entry.action.as_str(),
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })).into_response())
}

#[derive(Deserialize)]
struct NewEntry {
    pattern: String,
    #[serde(default)]
    regex: bool,
    action: Option<String>,
}

/// `POST …/blocklist {pattern, regex?, action: BLOCK|MASK}` (at most
/// [`blocklist::MAX_ENTRIES`] per application).
async fn add_to_blocklist(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(app): Path<i64>,
    Json(e): Json<NewEntry>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let action = Action::parse(e.action.as_deref().unwrap_or("BLOCK"))
        .ok_or_else(|| ApiError::validation("`action` is BLOCK or MASK."))?;
    let entry = Entry {
        pattern: e.pattern,
        is_regex: e.regex,
        action,
    };
    blocklist::check_entry(&entry).map_err(ApiError::validation)?;
    if state.store.blocklist(app).await?.len() >= blocklist::MAX_ENTRIES {
        return Err(crate::limits::too_large(format!(
            "A blocklist holds at most {} entries.",
            blocklist::MAX_ENTRIES
        ))
        .into());
    }
    let id = state.store.add_blocklist_entry(app, &entry).await?;
    state.blocklists.forget(app);
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

/// `DELETE …/blocklist/{id}`.
async fn remove_from_blocklist(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    if !state.store.remove_blocklist_entry(app, id).await? {
        return Err(ApiError::not_found(format!("Blocklist entry {id}")).into());
    }
    state.blocklists.forget(app);
    Ok(StatusCode::NO_CONTENT.into_response())
}
