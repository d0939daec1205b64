//! The Platform API (docs/protocol.md §15): REST for an app's backend — users, channels,
//! members, system messages — with HAL resources and pages.
//!
//! Authentication is OAuth 2.0 client credentials: `POST /oauth/token` with HTTP Basic
//! `API_KEY:SECRET` (the secret configured with `--platform-secret API_KEY=SECRET`) and
//! `grant_type=client_credentials` answers a bearer token valid for an hour. Every
//! other route needs `Authorization: Bearer <token>` for the application in its path.
//! Wrong secrets count as failed logins of the client address (`logins`): over the
//! limit, `429` with a `RateLimitExceededError` body. They are not counted per client
//! id, so that guessing from elsewhere cannot lock the app's backend out.
//!
//! `POST …/users/{id}/revoke-sessions` revokes every session id of a user and ends
//! their open connections on every node (`204`).
//!
//! Search and data rights: `GET …/messages/search` (full text, as the operator or as
//! one user sees it), `GET …/users/{id}/export` (everything stored about a user, one
//! JSON document, streamed), `DELETE …/users/{id}?messages=delete|anonymize`, and
//! `GET`/`PUT …/retention` (the application's retention period).
//!
//! Webhook endpoints (`…/webhooks`) are in `http::webhooks`, with these helpers.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use chatkitty_protocol::destination::UserTopic;
use chatkitty_protocol::error::names;
use chatkitty_protocol::event::types;
use chatkitty_protocol::resource::ChannelType;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::auth::keys::{Claims, Scope};
use crate::domain::post;
use crate::error::{ApiError, HttpError, HttpResult};
use crate::http::listen::ClientAddr;
use crate::state::AppState;
use crate::store::{
    now_ms, ChannelRow, MessageCursor, MessageQuery, MessageScope, Shown, StoreError, UserFilter,
};

/// Bearer tokens last an hour.
pub const TOKEN_LIFETIME_MS: i64 = 3600 * 1000;

/// The Platform API routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/oauth/token", post(token))
        .route(
            "/v1/applications/{app}/users",
            get(list_users).post(create_user),
        )
        .route(
            "/v1/applications/{app}/users/{id}",
            get(get_user).delete(delete_user),
        )
        .route(
            "/v1/applications/{app}/users/{id}/revoke-sessions",
            post(revoke_sessions),
        )
        .route(
            "/v1/applications/{app}/users/{id}/channels",
            get(user_channels),
        )
        .route(
            "/v1/applications/{app}/channels",
            get(list_channels).post(create_channel),
        )
        .route("/v1/applications/{app}/channels/{id}", get(get_channel))
        .route(
            "/v1/applications/{app}/channels/{id}/members",
            get(list_members).post(add_member),
        )
        .route(
            "/v1/applications/{app}/channels/{id}/messages",
            get(list_messages).post(send_message),
        )
        .route("/v1/applications/{app}/messages/{id}", get(get_message))
        // Search and data rights.
        .route(
            "/v1/applications/{app}/messages/search",
            get(search_messages),
        )
        .route("/v1/applications/{app}/users/{id}/export", get(export_user))
        .route(
            "/v1/applications/{app}/retention",
            get(get_retention).put(put_retention),
        )
}

fn unauthorized(message: &str) -> HttpError {
    HttpError(
        StatusCode::UNAUTHORIZED,
        ApiError::new(names::ACCESS_DENIED, message),
    )
}

fn secret_of<'a>(state: &'a AppState, api_key: &str) -> Option<&'a str> {
    state.config.platform_secrets.iter().find_map(|s| {
        s.split_once('=')
            .filter(|(k, _)| *k == api_key)
            .map(|(_, v)| v)
    })
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// `POST /oauth/token` (client credentials).
async fn token(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> HttpResult<Response> {
    let attempt = crate::auth::logins::Attempt {
        user: None,
        address: client,
    };
    if let Err(wait) = state.logins.check(attempt, std::time::Instant::now()) {
        let secs = wait.as_secs().max(1);
        let mut r = HttpError(
            StatusCode::TOO_MANY_REQUESTS,
            ApiError::new(
                names::RATE_LIMITED,
                format!("Too many failed token requests; try again in {secs} s."),
            ),
        )
        .into_response();
        r.headers_mut().insert(header::RETRY_AFTER, secs.into());
        return Ok(r);
    }
    if form.grant_type.as_deref() != Some("client_credentials") {
        return Err(HttpError(
            StatusCode::BAD_REQUEST,
            ApiError::validation("grant_type must be client_credentials."),
        ));
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    let (id, secret) = match (&basic, &form.client_id, &form.client_secret) {
        (Some(b), _, _) => b
            .split_once(':')
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .unwrap_or_default(),
        (None, Some(i), Some(s)) => (i.clone(), s.clone()),
        _ => {
            return Err(unauthorized(
                "Client credentials are required (HTTP Basic).",
            ))
        }
    };
    let app_id = state.apps.get(&id).copied();
    let ok = match (app_id, secret_of(&state, &id)) {
        (Some(_), Some(expected)) => constant_time_eq(expected.as_bytes(), secret.as_bytes()),
        _ => false,
    };
    let Some(app_id) = app_id.filter(|_| ok) else {
        state.logins.failed(attempt, std::time::Instant::now());
        return Err(unauthorized("Unknown client or wrong secret."));
    };
    let token = state.keys.issue_for(
        Scope::Platform,
        Claims { app_id, user_id: 0 },
        now_ms(),
        TOKEN_LIFETIME_MS,
    );
    Ok(Json(json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": TOKEN_LIFETIME_MS / 1000,
        "scope": "read write",
        "application_id": app_id,
    }))
    .into_response())
}

/// Equality of secrets in time independent of where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the bearer token against the application of the path.
pub(super) fn authorize(state: &AppState, headers: &HeaderMap, app: i64) -> HttpResult<()> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("A bearer token is required (POST /oauth/token)."))?;
    let claims = state
        .keys
        .verify(Scope::Platform, token.trim(), now_ms())
        .ok_or_else(|| unauthorized("Invalid or expired token."))?;
    if claims.app_id != app {
        return Err(HttpError(
            StatusCode::FORBIDDEN,
            ApiError::forbidden("The token is for another application."),
        ));
    }
    Ok(())
}

pub(super) fn base(state: &AppState, app: i64) -> String {
    format!("{}/v1/applications/{app}", state.base_url())
}

fn link(href: String) -> Value {
    json!({ "href": href })
}

/// A wire resource as HAL: hypermedia replaced by `_links`.
fn hal(mut v: Value, links: Vec<(&str, String)>) -> Value {
    if let Value::Object(m) = &mut v {
        for k in ["_relays", "_topics", "_actions", "_streams"] {
            m.remove(k);
        }
        let mut l = Map::new();
        for (name, href) in links {
            l.insert(name.to_owned(), link(href));
        }
        m.insert("_links".into(), Value::Object(l));
    }
    v
}

pub(super) fn hal_json(status: StatusCode, v: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/hal+json")],
        Json(v),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
pub(super) struct PageQuery {
    pub(super) page: Option<i64>,
    pub(super) size: Option<i64>,
}

impl PageQuery {
    pub(super) fn get(&self) -> (i64, i64) {
        (
            // Past the last page is empty anyway; bounded so page arithmetic cannot
            // overflow.
            self.page
                .unwrap_or(0)
                .clamp(0, crate::domain::pages::MAX_PAGE_NUMBER),
            self.size.unwrap_or(25).clamp(1, 100),
        )
    }
}

/// A HAL page (docs/protocol.md §15): `_embedded.<name>`, `_links` first/prev/self/next/last,
/// `page` metadata.
pub(super) fn hal_page(
    name: &str,
    items: Vec<Value>,
    url: &str,
    page: i64,
    size: i64,
    total: i64,
) -> Value {
    let pages = if total == 0 {
        0
    } else {
        (total + size - 1) / size
    };
    let at = |n: i64| link(format!("{url}?page={n}&size={size}"));
    let mut links = Map::new();
    links.insert("first".into(), at(0));
    if page > 0 {
        links.insert("prev".into(), at(page - 1));
    }
    links.insert("self".into(), at(page));
    if page + 1 < pages {
        links.insert("next".into(), at(page + 1));
    }
    links.insert("last".into(), at(pages.max(1) - 1));
    json!({
        "_embedded": { name: items },
        "_links": links,
        "page": { "size": size, "totalElements": total, "totalPages": pages, "number": page },
    })
}

pub(super) fn user_hal(state: &AppState, app: i64, u: &crate::store::UserRow) -> Value {
    let b = base(state, app);
    hal(
        serde_json::to_value(state.render_user(u)).unwrap_or_default(),
        vec![
            ("self", format!("{b}/users/{}", u.id)),
            ("channels", format!("{b}/users/{}/channels", u.id)),
            ("application", b.clone()),
        ],
    )
}

async fn channel_hal(state: &AppState, app: i64, c: &ChannelRow) -> HttpResult<Value> {
    let b = base(state, app);
    let generic = crate::store::MemberRow::generic(c.id);
    let rendered = state.render_channel_with(c, 0, Some(&generic)).await?;
    Ok(hal(
        serde_json::to_value(rendered).unwrap_or_default(),
        vec![
            ("self", format!("{b}/channels/{}", c.id)),
            ("members", format!("{b}/channels/{}/members", c.id)),
            ("messages", format!("{b}/channels/{}/messages", c.id)),
            ("application", b.clone()),
        ],
    ))
}

pub(super) fn message_hal(
    state: &AppState,
    app: i64,
    m: chatkitty_protocol::resource::Message,
) -> Value {
    let b = base(state, app);
    let (id, cid) = (m.id, m.channel_id);
    hal(
        serde_json::to_value(m).unwrap_or_default(),
        vec![
            ("self", format!("{b}/messages/{id}")),
            ("channel", format!("{b}/channels/{cid}")),
            ("application", b.clone()),
        ],
    )
}

async fn list_users(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(app): Path<i64>,
    Query(q): Query<PageQuery>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let (page, size) = q.get();
    let (users, total) = state
        .store
        .users_page(
            app,
            None,
            &UserFilter::default(),
            Shown::Any,
            page * size,
            size,
        )
        .await?;
    let items = users.iter().map(|u| user_hal(&state, app, u)).collect();
    Ok(hal_json(
        StatusCode::OK,
        hal_page(
            "users",
            items,
            &format!("{}/users", base(&state, app)),
            page,
            size,
            total,
        ),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewUser {
    name: String,
    display_name: Option<String>,
    is_guest: Option<bool>,
    properties: Option<Value>,
}

async fn create_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(app): Path<i64>,
    Json(body): Json<NewUser>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 256 {
        return Err(ApiError::validation("`name` is 1 to 256 characters.").into());
    }
    if state.store.user_by_name(app, name).await?.is_some() {
        return Err(HttpError(
            StatusCode::CONFLICT,
            ApiError::validation(format!("A user named {name:?} exists.")),
        ));
    }
    let user = state
        .store
        .user_or_create(app, name, body.is_guest.unwrap_or(false))
        .await?;
    let props = match body.properties {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.to_string()),
        Some(_) => return Err(ApiError::validation("`properties` must be an object.").into()),
    };
    let display = body
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    state
        .store
        .update_user(user.id, display, props.as_deref(), None, None)
        .await?;
    let user = state
        .store
        .user(app, user.id)
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok(hal_json(StatusCode::CREATED, user_hal(&state, app, &user)))
}

async fn get_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let user = state
        .store
        .user(app, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("User {id}")))?;
    Ok(hal_json(StatusCode::OK, user_hal(&state, app, &user)))
}

/// `POST …/users/{id}/revoke-sessions`: every session id the user holds stops
/// resuming, and their open connections (on every node) get an `AccessDeniedError` and
/// are closed. They can sign in again with valid credentials (or as a guest, where
/// guests may).
async fn revoke_sessions(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    state
        .store
        .user(app, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("User {id}")))?;
    state.store.revoke_sessions(id).await?;
    state.revoke_sessions(id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn user_channels(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
    Query(q): Query<PageQuery>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    state
        .store
        .user(app, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("User {id}")))?;
    let (page, size) = q.get();
    let (rows, total) = state
        .store
        .channels_page(
            app,
            id,
            crate::store::ChannelScope::Joined,
            None,
            page * size,
            size,
        )
        .await?;
    let mut items = Vec::new();
    for c in &rows {
        items.push(channel_hal(&state, app, c).await?);
    }
    Ok(hal_json(
        StatusCode::OK,
        hal_page(
            "channels",
            items,
            &format!("{}/users/{id}/channels", base(&state, app)),
            page,
            size,
            total,
        ),
    ))
}

async fn list_channels(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(app): Path<i64>,
    Query(q): Query<PageQuery>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let (page, size) = q.get();
    let (rows, total) = state
        .store
        .app_channels_page(app, page * size, size)
        .await?;
    let mut items = Vec::new();
    for c in &rows {
        items.push(channel_hal(&state, app, c).await?);
    }
    Ok(hal_json(
        StatusCode::OK,
        hal_page(
            "channels",
            items,
            &format!("{}/channels", base(&state, app)),
            page,
            size,
            total,
        ),
    ))
}

async fn resolve_user(state: &AppState, app: i64, r: &Value) -> HttpResult<crate::store::UserRow> {
    if let Some(id) = r.get("id").and_then(Value::as_i64) {
        return Ok(state
            .store
            .user(app, id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("User {id}")))?);
    }
    let name = r
        .get("username")
        .or_else(|| r.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::validation("A member is {id} or {username}."))?;
    Ok(state
        .store
        .user_by_name(app, name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("User {name:?}")))?)
}

async fn create_channel(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(app): Path<i64>,
    Json(body): Json<Value>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let kind = body
        .get("type")
        .and_then(Value::as_str)
        .and_then(ChannelType::parse);
    let kind = match kind {
        Some(k @ (ChannelType::Public | ChannelType::Private)) => k,
        Some(ChannelType::Direct) => {
            return Err(
                ApiError::unsupported("Creating direct channels through the Platform API").into(),
            )
        }
        None => return Err(ApiError::validation("`type` is PUBLIC or PRIVATE.").into()),
    };
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    if name.is_empty() || name.chars().count() > 100 || name.starts_with("direct.") {
        return Err(ApiError::validation(
            "`name` is 1 to 100 characters and cannot start with \"direct.\".",
        )
        .into());
    }
    let display = body
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or(name);
    let props = crate::limits::properties_in(&body, state.config.max_properties_bytes)?;
    // Every member is resolved before anything is stored.
    let mut users = Vec::new();
    if let Some(Value::Array(members)) = body.get("members") {
        let max = state.config.max_members_per_request;
        if members.len() > max {
            return Err(crate::limits::too_large(format!(
                "`members` names at most {max} users per request ({} given).",
                members.len()
            ))
            .into());
        }
        for m in members {
            users.push(resolve_user(&state, app, m).await?);
        }
    }
    let channel = match state
        .store
        .create_group_channel_as_app(app, kind, name, display, &props)
        .await
    {
        Ok(c) => c,
        Err(StoreError::Conflict) => {
            return Err(ApiError::new(
                names::DUPLICATE_CHANNEL,
                format!("A channel named {name:?} already exists."),
            )
            .into())
        }
        Err(e) => return Err(e.into()),
    };
    for user in users {
        add_and_tell(&state, &channel, user.id).await?;
    }
    Ok(hal_json(
        StatusCode::CREATED,
        channel_hal(&state, app, &channel).await?,
    ))
}

async fn add_and_tell(state: &AppState, channel: &ChannelRow, user_id: i64) -> HttpResult<()> {
    if state
        .store
        .add_member(channel.id, user_id, "MEMBER")
        .await?
    {
        let theirs = state.render_channel(channel, user_id).await?;
        state.publish_to_user(
            user_id,
            UserTopic::Channels,
            types::USER_CHANNEL_JOINED,
            &theirs,
        );
    }
    Ok(())
}

async fn app_channel(state: &AppState, app: i64, id: i64) -> HttpResult<ChannelRow> {
    Ok(state
        .store
        .channel(app, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Channel {id}")))?)
}

async fn get_channel(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let c = app_channel(&state, app, id).await?;
    Ok(hal_json(
        StatusCode::OK,
        channel_hal(&state, app, &c).await?,
    ))
}

async fn list_members(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
    Query(q): Query<PageQuery>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let c = app_channel(&state, app, id).await?;
    let members = state.store.members(c.id).await?;
    let (page, size) = q.get();
    let total = members.len() as i64;
    let items = members
        .iter()
        .skip((page * size) as usize)
        .take(size as usize)
        .map(|u| user_hal(&state, app, u))
        .collect();
    Ok(hal_json(
        StatusCode::OK,
        hal_page(
            "users",
            items,
            &format!("{}/channels/{id}/members", base(&state, app)),
            page,
            size,
            total,
        ),
    ))
}

async fn add_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
    Json(body): Json<Value>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let c = app_channel(&state, app, id).await?;
    if c.kind == ChannelType::Direct {
        return Err(ApiError::unsupported("Adding members to a direct channel").into());
    }
    let user = resolve_user(&state, app, &body).await?;
    add_and_tell(&state, &c, user.id).await?;
    Ok(hal_json(
        StatusCode::OK,
        channel_hal(&state, app, &c).await?,
    ))
}

async fn list_messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
    Query(q): Query<PageQuery>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let c = app_channel(&state, app, id).await?;
    let query = MessageQuery {
        channel_id: c.id,
        viewer: 0,
        cleared_before_id: 0,
        scope: MessageScope::Channel { main_only: false },
    };
    let (page, size) = q.get();
    let total = state.store.count_messages(&query).await?;
    // Newest first; numbered pages walk back through the history.
    let mut cursor = MessageCursor::Newest;
    let mut rows = Vec::new();
    let past_the_end = page.saturating_mul(size) >= total;
    for _ in 0..=(if past_the_end { -1 } else { page }) {
        let (r, _) = state.store.messages_page(&query, cursor, size).await?;
        cursor = match r.last() {
            Some(m) => MessageCursor::Before(m.id),
            None => break,
        };
        rows = r;
    }
    let items = state
        .render_messages(app, &rows, crate::domain::mentions::Viewer::Operator)
        .await?
        .into_iter()
        .map(|m| message_hal(&state, app, m))
        .collect();
    Ok(hal_json(
        StatusCode::OK,
        hal_page(
            "messages",
            items,
            &format!("{}/channels/{id}/messages", base(&state, app)),
            page,
            size,
            total,
        ),
    ))
}

/// `POST …/channels/{id}/messages` `{type:"TEXT", body, properties}`: a system message
/// (type `SYSTEM_TEXT`) through the one message pipeline (`crate::domain::post`),
/// delivered like any other and notifying members as `SYSTEM:SENT:MESSAGE`.
async fn send_message(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
    Json(body): Json<Value>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let c = app_channel(&state, app, id).await?;
    let content = post::system_text(&state, &body)?;
    let audience = crate::domain::delivery::audience(&state, &c, None).await?;
    let dest = post::Destination::system(c, audience);
    let (_, message) = post::post(&state, app, None, &dest, content, None, None, |_| {}).await?;
    Ok(hal_json(
        StatusCode::CREATED,
        message_hal(&state, app, message),
    ))
}

async fn get_message(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let m = state
        .store
        .message(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Message {id}")))?;
    app_channel(&state, app, m.channel_id).await.map_err(|_| {
        HttpError(
            StatusCode::NOT_FOUND,
            ApiError::not_found(format!("Message {id}")),
        )
    })?;
    let rendered = state
        .render_one_message(app, &m, crate::domain::mentions::Viewer::Operator)
        .await?;
    Ok(hal_json(StatusCode::OK, message_hal(&state, app, rendered)))
}

// ----- search and data rights -----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchParams {
    query: Option<String>,
    channel_id: Option<i64>,
    user_id: Option<i64>,
    before: Option<i64>,
    size: Option<i64>,
}

/// `GET …/messages/search?query=…[&channelId=…][&userId=…][&before=…][&size=…]`:
/// a page of `messages` matching every word, newest first, as the operator sees them
/// (every channel of the application), or with `userId` as that user would (their
/// channels, cleared history, hidden messages and blocks). `next` goes on.
async fn search_messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(app): Path<i64>,
    Query(q): Query<SearchParams>,
) -> HttpResult<Response> {
    use crate::domain::search;
    authorize(&state, &headers, app)?;
    let query = q
        .query
        .as_deref()
        .ok_or_else(|| ApiError::validation("The query parameter is required."))?;
    search_scope(&state, app, &q).await?;
    let size = q
        .size
        .unwrap_or(crate::domain::pages::DEFAULT_PAGE_SIZE)
        .clamp(1, search::MAX_SEARCH_PAGE_SIZE);
    let req = search::Request {
        query,
        channel: q.channel_id,
        before: q.before,
        size,
    };
    let (items, next) = search::operator_page(&state, app, q.user_id, &req).await?;
    let items: Vec<Value> = items
        .into_iter()
        .map(|m| {
            let (id, cid) = (m["id"].clone(), m["channelId"].clone());
            let b = base(&state, app);
            hal(
                m,
                vec![
                    ("self", format!("{b}/messages/{id}")),
                    ("channel", format!("{b}/channels/{cid}")),
                    ("application", b.clone()),
                ],
            )
        })
        .collect();
    let url = |before| search_url(&state, app, &q, query, size, before);
    let mut links = Map::new();
    links.insert("first".into(), link(url(None)));
    links.insert("self".into(), link(url(q.before)));
    if let Some(b) = next {
        links.insert("next".into(), link(url(Some(b))));
    }
    let count = items.len();
    Ok(hal_json(
        StatusCode::OK,
        json!({
            "_embedded": { "messages": items },
            "_links": links,
            "page": { "size": count, "totalElements": count, "totalPages": 1, "number": 0 },
        }),
    ))
}

/// Checks a search's scope: the user it searches as exists in the application, and
/// the channel exists there and (searching as a user) is theirs or public.
async fn search_scope(state: &AppState, app: i64, q: &SearchParams) -> HttpResult<()> {
    if let Some(uid) = q.user_id {
        state
            .store
            .user(app, uid)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("User {uid}")))?;
    }
    if let Some(cid) = q.channel_id {
        let c = app_channel(state, app, cid).await?;
        if let Some(uid) = q.user_id {
            let member = state.store.membership(c.id, uid).await?.is_some();
            if !member && c.kind != ChannelType::Public {
                return Err(ApiError::not_a_member(&c.name).into());
            }
        }
    }
    Ok(())
}

/// The URL of a search's page below `before` (the first page for `None`).
fn search_url(
    state: &AppState,
    app: i64,
    q: &SearchParams,
    query: &str,
    size: i64,
    before: Option<i64>,
) -> String {
    let mut pairs = vec![("query".to_owned(), query.to_owned())];
    if let Some(c) = q.channel_id {
        pairs.push(("channelId".into(), c.to_string()));
    }
    if let Some(u) = q.user_id {
        pairs.push(("userId".into(), u.to_string()));
    }
    if let Some(b) = before {
        pairs.push(("before".into(), b.to_string()));
    }
    pairs.push(("size".into(), size.to_string()));
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    format!(
        "{}/messages/search?{}",
        base(state, app),
        chatkitty_protocol::destination::format_query(&pairs)
    )
}

/// `GET …/users/{id}/export`: everything stored about the user, one JSON document
/// (`crate::domain::rights`), streamed as it is read.
async fn export_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let chunks = crate::domain::rights::export(state.clone(), app, id).await?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"user-{id}.json\""),
            ),
        ],
        axum::body::Body::from_stream(chunks),
    )
        .into_response())
}

#[derive(Deserialize)]
struct DeleteParams {
    messages: Option<String>,
}

/// `DELETE …/users/{id}[?messages=delete|anonymize]` (default `delete`): the user is
/// deleted (`crate::domain::rights`); answers what was removed.
async fn delete_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((app, id)): Path<(i64, i64)>,
    Query(q): Query<DeleteParams>,
) -> HttpResult<Response> {
    use crate::store::MessagesOfDeletedUser as Mode;
    authorize(&state, &headers, app)?;
    let mode = match q.messages.as_deref() {
        None | Some("delete") => Mode::Delete,
        Some("anonymize" | "anonymise") => Mode::Anonymize,
        Some(other) => {
            return Err(ApiError::validation(format!(
                "messages is delete or anonymize, got {other:?}."
            ))
            .into())
        }
    };
    let done = crate::domain::rights::delete_user(&state, app, id, mode).await?;
    Ok(Json(json!({
        "id": id,
        "messages": if mode == Mode::Delete { "deleted" } else { "anonymized" },
        "messagesDeleted": done.messages_deleted,
        "filesRemoved": done.files_removed,
    }))
    .into_response())
}

async fn retention_json(state: &AppState, app: i64) -> HttpResult<Value> {
    let own = state.store.retention_days(app).await?;
    Ok(json!({
        "days": own,
        "serverDays": state.config.retention_days,
        "effectiveDays": crate::domain::retention::effective_days(own, state.config.retention_days),
    }))
}

/// `GET …/retention`: the application's own retention period in days (`null`: the
/// server's `--retention-days`), the server's, and the one in force (`null`: forever).
async fn get_retention(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(app): Path<i64>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    Ok(Json(retention_json(&state, app).await?).into_response())
}

/// Longest retention period an application may set, in days (a hundred years).
pub const MAX_RETENTION_DAYS: i64 = 36_500;

/// `PUT …/retention` `{"days": N | null}`: the application's own period (`0`: keep
/// forever; `null`: the server's).
async fn put_retention(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(app): Path<i64>,
    Json(body): Json<Value>,
) -> HttpResult<Response> {
    authorize(&state, &headers, app)?;
    let days = match body.get("days") {
        Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(d) if (0..=MAX_RETENTION_DAYS).contains(&d) => Some(d),
            _ => {
                return Err(ApiError::validation(format!(
                    "`days` is null or a whole number from 0 to {MAX_RETENTION_DAYS}."
                ))
                .into())
            }
        },
        None => return Err(ApiError::validation("The body is {\"days\": N | null}.").into()),
    };
    state.store.set_retention_days(app, days).await?;
    Ok(Json(retention_json(&state, app).await?).into_response())
}
