//! Who may read or change what (docs/protocol.md §18.2): the checks every handler makes
//! before it touches data, whichever transport asked. Each returns the resource it
//! checked, so handlers use what was authorised rather than loading it again.

use chatkitty_protocol::error::names;
use chatkitty_protocol::request::UserRef;
use chatkitty_protocol::resource::ChannelType;

use super::Call;
use crate::error::{ApiError, ApiResult};
use crate::store::{ChannelRow, MemberRow, MessageRow, UserRow};

/// A channel the actor may read, and whether they are one of its members: a member
/// of any channel, or anyone for a PUBLIC one, unless banned from it
/// (docs/protocol.md §22). Another application's channel is not found.
pub async fn channel_and_membership(call: &Call<'_>, cid: i64) -> ApiResult<(ChannelRow, bool)> {
    let (channel, cleared) = channel_access(call, cid).await?;
    Ok((channel, cleared.is_some()))
}

/// A channel the actor may read ([`channel_and_membership`]) and the first message
/// id of its history they see: past what they cleared (docs/protocol.md §9.3), 0
/// for a reader who is not a member. One query for both.
pub async fn readable_history(call: &Call<'_>, cid: i64) -> ApiResult<(ChannelRow, i64)> {
    let (channel, cleared) = channel_access(call, cid).await?;
    Ok((channel, cleared.unwrap_or(0)))
}

/// The channel and, for a member, their `cleared_before_id`.
async fn channel_access(call: &Call<'_>, cid: i64) -> ApiResult<(ChannelRow, Option<i64>)> {
    let (channel, cleared, banned) = call
        .state
        .store
        .channel_for(call.app_id, cid, call.user.id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Channel {cid}")))?;
    if banned {
        return Err(banned_from(&channel));
    }
    if channel.kind != ChannelType::Public && cleared.is_none() {
        return Err(ApiError::not_a_member(&channel.name));
    }
    Ok((channel, cleared))
}

/// `BannedError` for `channel`.
pub fn banned_from(channel: &ChannelRow) -> ApiError {
    ApiError::new(
        names::BANNED,
        format!("You are banned from channel {}.", channel.name),
    )
}

/// A channel the actor may read.
pub async fn readable_channel(call: &Call<'_>, cid: i64) -> ApiResult<ChannelRow> {
    Ok(channel_and_membership(call, cid).await?.0)
}

/// A channel the actor is a member of (else `NotAChannelMemberError`).
pub async fn member_channel(call: &Call<'_>, cid: i64) -> ApiResult<ChannelRow> {
    let (channel, member) = channel_and_membership(call, cid).await?;
    if !member {
        return Err(ApiError::not_a_member(&channel.name));
    }
    Ok(channel)
}

/// The actor's membership of `channel` (else `NotAChannelMemberError`).
pub async fn membership(call: &Call<'_>, channel: &ChannelRow) -> ApiResult<MemberRow> {
    call.state
        .store
        .membership(channel.id, call.user.id)
        .await?
        .ok_or_else(|| ApiError::not_a_member(&channel.name))
}

/// Administration of a group channel needs a moderator (a direct channel, a member).
pub async fn moderator(call: &Call<'_>, channel: &ChannelRow, what: &str) -> ApiResult<MemberRow> {
    let m = membership(call, channel).await?;
    if channel.kind != ChannelType::Direct && m.role != "MODERATOR" {
        return Err(ApiError::forbidden(format!(
            "Only moderators of {} can {what}.",
            channel.name
        )));
    }
    Ok(m)
}

/// A message the actor may read, with its channel (a message of a channel they may
/// not read is "not found", so ids cannot be probed).
pub async fn readable_message(call: &Call<'_>, id: i64) -> ApiResult<(MessageRow, ChannelRow)> {
    let m = call
        .state
        .store
        .message(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Message {id}")))?;
    let channel = readable_channel(call, m.channel_id).await.map_err(|e| {
        if e.name == names::NOT_FOUND {
            ApiError::not_found(format!("Message {id}"))
        } else {
            e
        }
    })?;
    Ok((m, channel))
}

/// The actor's own message, not deleted — or, to delete, any message of a group
/// channel they moderate.
pub async fn own_message(
    call: &Call<'_>,
    mid: i64,
    what: &str,
) -> ApiResult<(MessageRow, ChannelRow)> {
    let (m, channel) = readable_message(call, mid).await?;
    if m.deleted_ms.is_some() {
        return Err(ApiError::validation(format!("Message {mid} was deleted.")));
    }
    if m.user_id != Some(call.user.id) {
        let moderator = what == "delete"
            && channel.kind != ChannelType::Direct
            && call
                .state
                .store
                .membership(channel.id, call.user.id)
                .await?
                .is_some_and(|mm| mm.role == "MODERATOR");
        if !moderator {
            return Err(ApiError::forbidden(format!(
                "You can only {what} your own messages."
            )));
        }
    }
    Ok((m, channel))
}

/// A user of the actor's application.
pub async fn app_user(call: &Call<'_>, id: i64) -> ApiResult<UserRow> {
    call.state
        .store
        .user(call.app_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("User {id}")))
}

/// The user a request names (docs/protocol.md §16.23: apps pass whatever object they
/// have): by id, else by username.
pub async fn user_reference(call: &Call<'_>, r: &UserRef) -> ApiResult<UserRow> {
    if let Some(id) = r.id {
        return app_user(call, id).await;
    }
    let name = r.username().ok_or_else(|| {
        ApiError::validation("A user is given as {id: number} or {username: string}.")
    })?;
    call.state
        .store
        .user_by_name(call.app_id, name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("User {name:?}")))
}
