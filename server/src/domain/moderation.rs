//! Moderation (docs/protocol.md §22): what channel moderators do from a page (ban and
//! mute members, slow mode), what any member may do (flag a message for review), what
//! the app's backend does (ban from the whole application, the review queue, the
//! blocklist), and the checks every new message passes ([`may_post`]).
//!
//! Each refusal is an error in the protocol's shape: `BannedError`, `MutedError`,
//! `SlowModeError`, `MessageBlockedError`.

use std::sync::Arc;

use chatkitty_protocol::destination::{ChannelTopic, UserTopic};
use chatkitty_protocol::error::names;
use chatkitty_protocol::event::types;
use chatkitty_protocol::request::{Flag, MemberModeration, SlowMode};
use chatkitty_protocol::resource::ChannelType;

use super::{access, Call};
use crate::blocklist::{Compiled, Verdict};
use crate::error::{ApiError, ApiResult};
use crate::realtime::hub::Exclude;
use crate::state::AppState;
use crate::store::{ChannelRow, UserRow};

/// Longest slow mode, in seconds.
pub const MAX_SLOW_MODE_SECS: i64 = 6 * 3600;
/// Longest ban or mute given a duration, in seconds (longer: until lifted).
pub const MAX_DURATION_SECS: i64 = 366 * 24 * 3600;
/// Longest reason of a ban or flag, in characters.
pub const MAX_REASON_CHARS: usize = 500;

fn reason(r: Option<&str>) -> ApiResult<String> {
    let r = r.map(str::trim).unwrap_or("");
    crate::limits::bounded("reason", Some(r), MAX_REASON_CHARS)?;
    Ok(r.to_owned())
}

fn expiry(duration_seconds: Option<i64>) -> ApiResult<Option<i64>> {
    match duration_seconds {
        None => Ok(None),
        Some(s) if (1..=MAX_DURATION_SECS).contains(&s) => {
            Ok(Some(crate::clock::now_ms() + s * 1000))
        }
        Some(_) => Err(ApiError::validation(format!(
            "`durationSeconds` is 1 to {MAX_DURATION_SECS}."
        ))),
    }
}

/// A group channel the actor moderates.
async fn moderated(call: &Call<'_>, cid: i64, what: &str) -> ApiResult<ChannelRow> {
    let channel = access::readable_channel(call, cid).await?;
    if channel.kind == ChannelType::Direct {
        return Err(ApiError::unsupported("Moderating a direct channel"));
    }
    access::moderator(call, &channel, what).await?;
    Ok(channel)
}

/// The member a moderation request names (not the actor).
async fn target(call: &Call<'_>, req: &MemberModeration) -> ApiResult<UserRow> {
    let r = req
        .user
        .as_ref()
        .ok_or_else(|| ApiError::validation("`user` is required."))?;
    let user = access::user_reference(call, r).await?;
    if user.id == call.user.id {
        return Err(ApiError::validation("You cannot moderate yourself."));
    }
    Ok(user)
}

/// Bans a member from a channel a moderator moderates: they are removed from it, what
/// they subscribed to there ends at once on every node, and they can neither read,
/// join nor be invited back until the ban ends.
pub async fn ban(call: &Call<'_>, cid: i64, req: MemberModeration) -> ApiResult<()> {
    let state = call.state;
    let channel = moderated(call, cid, "ban members").await?;
    let user = target(call, &req).await?;
    let was_member = state.store.membership(cid, user.id).await?.is_some();
    state
        .store
        .ban_from_channel(
            cid,
            user.id,
            &reason(req.reason.as_deref())?,
            expiry(req.duration_seconds)?,
            call.user.id,
        )
        .await?;
    state.end_grants(Some(user.id), cid);
    state.bus.flush().await;
    if was_member {
        let theirs = state.render_channel(&channel, user.id).await?;
        state.publish_to_user(
            user.id,
            UserTopic::Channels,
            types::USER_CHANNEL_LEFT,
            &theirs,
        );
        let rendered = state.render_user(&user);
        state.publish_to_channel(
            cid,
            ChannelTopic::Self_,
            types::CHANNEL_MEMBER_LEFT,
            &rendered,
            Exclude::Nobody,
        );
    }
    Ok(())
}

/// Lifts a member's channel ban (they may then be invited or join again).
pub async fn unban(call: &Call<'_>, cid: i64, req: MemberModeration) -> ApiResult<()> {
    moderated(call, cid, "unban members").await?;
    let user = target(call, &req).await?;
    if !call.state.store.unban_from_channel(cid, user.id).await? {
        return Err(ApiError::not_found(format!("A ban of {}", user.name)));
    }
    Ok(())
}

/// Mutes a member of a channel: they may read, not post, until the mute ends.
pub async fn mute(call: &Call<'_>, cid: i64, req: MemberModeration) -> ApiResult<()> {
    moderated(call, cid, "mute members").await?;
    let user = target(call, &req).await?;
    if call.state.store.membership(cid, user.id).await?.is_none() {
        return Err(ApiError::not_a_member(&user.name));
    }
    call.state
        .store
        .mute_in_channel(cid, user.id, expiry(req.duration_seconds)?, call.user.id)
        .await?;
    Ok(())
}

/// Lifts a member's mute.
pub async fn unmute(call: &Call<'_>, cid: i64, req: MemberModeration) -> ApiResult<()> {
    moderated(call, cid, "unmute members").await?;
    let user = target(call, &req).await?;
    if !call.state.store.unmute_in_channel(cid, user.id).await? {
        return Err(ApiError::not_found(format!("A mute of {}", user.name)));
    }
    Ok(())
}

/// Sets a channel's slow mode: the seconds a member waits between messages (0: off;
/// moderators are exempt). The channel's readers get it as `channel.self.updated`.
pub async fn slow_mode(call: &Call<'_>, cid: i64, req: SlowMode) -> ApiResult<()> {
    let state = call.state;
    moderated(call, cid, "set slow mode").await?;
    let secs = req.seconds.unwrap_or(0);
    if !(0..=MAX_SLOW_MODE_SECS).contains(&secs) {
        return Err(ApiError::validation(format!(
            "`seconds` is 0 to {MAX_SLOW_MODE_SECS}."
        )));
    }
    state.store.set_slow_mode(cid, secs).await?;
    let channel = access::readable_channel(call, cid).await?;
    let shared = state.render_channel(&channel, 0).await?;
    state.publish_to_channel(
        cid,
        ChannelTopic::Self_,
        types::CHANNEL_SELF_UPDATED,
        &shared,
        Exclude::Nobody,
    );
    Ok(())
}

/// Reports a message the actor may read, for the app's review queue (one report per
/// message and reporter; reporting again changes nothing). Returns the flag's id and
/// whether it is new.
pub async fn flag(call: &Call<'_>, mid: i64, req: Flag) -> ApiResult<(i64, bool)> {
    let (m, _) = access::readable_message(call, mid).await?;
    if m.deleted_ms.is_some() {
        return Err(ApiError::validation(format!("Message {mid} was deleted.")));
    }
    Ok(call
        .state
        .store
        .flag_message(
            call.app_id,
            mid,
            call.user.id,
            &reason(req.reason.as_deref())?,
        )
        .await?)
}

/// What a new message's sender must pass in its channel (docs/protocol.md §22): not
/// muted there, and in slow mode (unless they moderate it) not too soon after their
/// last message. Takes their turn in slow mode.
pub async fn may_post(
    state: &AppState,
    channel: &ChannelRow,
    sender: i64,
    muted: bool,
    moderator: bool,
) -> ApiResult<()> {
    if muted {
        return Err(ApiError::new(
            names::MUTED,
            format!("A moderator muted you in channel {}.", channel.name),
        ));
    }
    if channel.slow_mode_secs > 0 && !moderator {
        if let Some(wait_ms) = state
            .store
            .take_post_slot(channel.id, sender, channel.slow_mode_secs)
            .await?
        {
            return Err(ApiError::new(
                names::SLOW_MODE,
                format!(
                    "Slow mode: you may post in channel {} again in {} s.",
                    channel.name,
                    (wait_ms + 999) / 1000
                ),
            ));
        }
    }
    Ok(())
}

/// The application's compiled blocklist (cached a few seconds).
pub async fn blocklist(state: &AppState, app: i64) -> ApiResult<Arc<Compiled>> {
    if let Some(c) = state.blocklists.get(app) {
        return Ok(c);
    }
    let entries: Vec<_> = state
        .store
        .blocklist(app)
        .await?
        .into_iter()
        .map(|r| r.entry)
        .collect();
    let compiled = Arc::new(Compiled::new(&entries));
    state.blocklists.put(app, compiled.clone());
    Ok(compiled)
}

/// A message's text through the application's blocklist: refused
/// (`MessageBlockedError`), masked, or as it was.
pub async fn screen_text(state: &AppState, app: i64, text: String) -> ApiResult<String> {
    match blocklist(state, app).await?.check(&text) {
        Verdict::Pass => Ok(text),
        Verdict::Masked(masked) => Ok(masked),
        Verdict::Blocked(_) => Err(ApiError::new(
            names::MESSAGE_BLOCKED,
            "The message contains words this application does not allow.",
        )),
    }
}

/// Bans a user from the whole application (the app's backend): they cannot start a
/// session until the ban ends, and their live sessions end now, on every node.
pub async fn ban_from_app(
    state: &AppState,
    app: i64,
    user: &UserRow,
    why: Option<&str>,
    duration_seconds: Option<i64>,
) -> ApiResult<()> {
    let why = reason(why)?;
    state
        .store
        .ban_from_app(app, user.id, &why, expiry(duration_seconds)?)
        .await?;
    state.store.revoke_sessions(user.id).await?;
    state.revoke_sessions(user.id);
    Ok(())
}
