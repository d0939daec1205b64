//! The current user's own actions (docs/protocol.md §6.1, §13.3): profile, presence
//! status, display picture, blocking.

use chatkitty_protocol::destination::UserTopic;
use chatkitty_protocol::event::types;
use chatkitty_protocol::request::{DisplayPicture, UpdateCurrentUser};

use super::{access, presence, Call};
use crate::error::{ApiError, ApiResult};
use crate::limits::{self, MAX_URL_CHARS};
use crate::store::UserRow;

/// Presence statuses a user may set.
pub const STATUSES: [&str; 5] = [
    "AVAILABLE",
    "AWAY",
    "DO_NOT_DISTURB",
    "INVISIBLE",
    "OFFLINE",
];
/// Longest display name.
pub const MAX_DISPLAY_NAME: usize = 100;

/// `updateCurrentUser`: the body is the whole CurrentUser the update function returned
/// (docs/protocol.md §16.23); `displayName`, `properties`, `presence.status` and
/// `displayPictureUrl` are applied, everything else ignored. Returns the user as
/// stored now.
pub async fn update_current_user(call: &Call<'_>, req: UpdateCurrentUser) -> ApiResult<UserRow> {
    let state = call.state;
    let display = match req.display_name.as_deref().map(str::trim) {
        Some("") => return Err(ApiError::validation("`displayName` cannot be empty.")),
        Some(d) if d.chars().count() > MAX_DISPLAY_NAME => {
            return Err(ApiError::validation(format!(
                "`displayName` is at most {MAX_DISPLAY_NAME} characters."
            )))
        }
        other => other,
    };
    let props = match &req.properties {
        None => None,
        Some(p) => Some(limits::properties(
            Some(p),
            state.config.max_properties_bytes,
        )?),
    };
    let status = match req.presence.as_ref().and_then(|p| p.status.as_deref()) {
        None => None,
        Some(s) if STATUSES.contains(&s) => Some(s),
        Some(other) => {
            return Err(ApiError::validation(format!(
                "Unknown presence status {other:?}: use one of {}.",
                STATUSES.join(", ")
            )))
        }
    };
    let picture = limits::bounded(
        "displayPictureUrl",
        req.display_picture_url.as_deref(),
        MAX_URL_CHARS,
    )?;
    let picture = match picture {
        // The client sends back the link the server rendered: nothing changed.
        Some(url) if url == state.avatar_url(call.user) => None,
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => Some(url),
        Some(_) => {
            return Err(ApiError::validation(
                "`displayPictureUrl` must be an http(s) URL.",
            ))
        }
        None => None,
    };
    let status_changed = status.is_some_and(|s| s != call.user.presence_status);
    state
        .store
        .update_user(call.user.id, display, props.as_deref(), status, picture)
        .await?;
    changed(call, status_changed).await
}

/// `updateCurrentUserDisplayPicture` with an external file's `url`.
pub async fn update_display_picture(call: &Call<'_>, req: DisplayPicture) -> ApiResult<UserRow> {
    let url = req
        .url
        .as_deref()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .ok_or_else(|| ApiError::validation("A display picture needs the `url` (http or https) of an image; upload files to the displayPicture stream."))?;
    limits::bounded("url", Some(url), MAX_URL_CHARS)?;
    call.state
        .store
        .update_user(call.user.id, None, None, None, Some(url))
        .await?;
    changed(call, false).await
}

/// After a profile change: the result to the actor, the new profile to contacts,
/// presence events if the status changed. Returns the user as stored now.
pub async fn changed(call: &Call<'_>, status_changed: bool) -> ApiResult<UserRow> {
    let state = call.state;
    let user = state
        .store
        .user(call.app_id, call.user.id)
        .await?
        .unwrap_or_else(|| call.user.clone());
    let me = state.render_current_user(&user);
    call.reply(UserTopic::Self_, types::USER_SELF_UPDATED, &me);
    let public = state.render_user(&user);
    for c in state.store.contact_ids(user.id).await? {
        state.publish_to_user(c, UserTopic::Contacts, types::CONTACT_USER_UPDATED, &public);
    }
    if status_changed {
        presence::announce(state, &user).await?;
    }
    Ok(user)
}

/// `blockUser`.
pub async fn block(call: &Call<'_>, id: i64) -> ApiResult<()> {
    let target = access::app_user(call, id).await?;
    if target.id == call.user.id {
        return Err(ApiError::validation("You cannot block yourself."));
    }
    call.state.store.block(call.user.id, target.id).await?;
    let rendered = call.state.render_user(&target);
    call.reply(UserTopic::Users, types::USER_USER_BLOCKED, &rendered);
    Ok(())
}

/// `deleteUserBlockListItem`.
pub async fn unblock(call: &Call<'_>, id: i64) -> ApiResult<()> {
    let target = access::app_user(call, id).await?;
    if !call.state.store.unblock(call.user.id, target.id).await? {
        return Err(ApiError::not_found(format!("A block of {}", target.name)));
    }
    let rendered = call.state.render_user(&target);
    call.reply(UserTopic::Users, types::USER_USER_UNBLOCKED, &rendered);
    Ok(())
}
