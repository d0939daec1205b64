//! Channel actions (docs/protocol.md §6.3, §13.3): creation, membership, moderation,
//! settings, reads, custom events. Each authorises first: a member for member-only
//! changes, a moderator for group-channel administration.

use chatkitty_protocol::destination::{ChannelTopic, UserTopic};
use chatkitty_protocol::error::names;
use chatkitty_protocol::event::types;
use chatkitty_protocol::request::{CreateChannel, Mute, TriggerEvent, UpdateChannel, UserRef};
use chatkitty_protocol::resource::ChannelType;

use super::{access, Call};
use crate::error::{ApiError, ApiResult};
use crate::limits::properties;
use crate::realtime::hub::Exclude;
use crate::store::{ChannelRow, NewGroupChannel, StoreError, UserRow};

/// Direct channels have at most this many members, creator included.
pub const MAX_DIRECT_MEMBERS: usize = 10;
/// Longest channel name.
pub const MAX_CHANNEL_NAME: usize = 100;
/// Longest custom event type, in bytes.
pub const MAX_EVENT_TYPE_BYTES: usize = 100;

/// Sends the channel, rendered for each member but `skip`, to their `channels` topic.
async fn tell_members(
    call: &Call<'_>,
    channel: &ChannelRow,
    kind: &str,
    skip: Option<i64>,
) -> ApiResult<()> {
    let state = call.state;
    for m in state.store.member_ids(channel.id).await? {
        if Some(m) == skip {
            continue;
        }
        let theirs = state.render_channel(channel, m).await?;
        state.publish_to_user(m, UserTopic::Channels, kind, &theirs);
    }
    Ok(())
}

/// The actor's result on their `channels` topic: the channel as they now see it.
async fn reply_channel(call: &Call<'_>, channel: &ChannelRow, kind: &str) -> ApiResult<()> {
    let mine = call.state.render_channel(channel, call.user.id).await?;
    call.reply(UserTopic::Channels, kind, &mine);
    Ok(())
}

/// The users a `createChannel` names. With guest sessions on, a username that has not
/// signed in yet is created, so a conversation can start before the other person
/// joins; at most `--max-members-per-request` of them (nothing is created over it).
async fn resolve_members(call: &Call<'_>, list: &[UserRef]) -> ApiResult<Vec<UserRow>> {
    let state = call.state;
    let max = state.config.max_members_per_request;
    if list.len() > max {
        return Err(crate::limits::too_large(format!(
            "`members` names at most {max} users per request ({} given); invite the others afterwards.",
            list.len()
        )));
    }
    let mut out: Vec<UserRow> = Vec::new();
    for r in list {
        let user = match access::user_reference(call, r).await {
            Ok(u) => u,
            Err(e) if e.name == names::NOT_FOUND && r.id.is_none() && state.config.guests_on() => {
                match r.username() {
                    Some(name) if !name.trim().is_empty() && name.chars().count() <= 256 => {
                        state.store.user_or_create(call.app_id, name, true).await?
                    }
                    _ => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        if !out.iter().any(|u| u.id == user.id) {
            out.push(user);
        }
    }
    Ok(out)
}

/// `createChannel` (docs/protocol.md §12.2): a direct channel is found or created
/// between the members; a group channel is created with a unique name.
pub async fn create(call: &Call<'_>, req: CreateChannel) -> ApiResult<ChannelRow> {
    let state = call.state;
    let kind = match req.kind.as_deref() {
        Some(t) => ChannelType::parse(t).ok_or_else(|| {
            ApiError::validation(format!(
                "Unknown channel type {t:?}: use DIRECT, PUBLIC or PRIVATE."
            ))
        })?,
        None => {
            return Err(ApiError::validation(
                "`type` is required: DIRECT, PUBLIC or PRIVATE.",
            ))
        }
    };
    let props = properties(req.properties.as_ref(), state.config.max_properties_bytes)?;
    let members = resolve_members(call, req.members.as_deref().unwrap_or_default()).await?;
    let others: Vec<i64> = members
        .iter()
        .map(|u| u.id)
        .filter(|&id| id != call.user.id)
        .collect();
    let (channel, created) = match kind {
        ChannelType::Direct => direct(call, &others).await?,
        ChannelType::Public | ChannelType::Private => {
            let name = valid_name(req.name.as_deref(), kind)?;
            let display = req
                .display_name
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .unwrap_or(name);
            let new = NewGroupChannel {
                app_id: call.app_id,
                kind,
                name,
                display_name: display,
                properties: &props,
            };
            let made = state
                .store
                .create_group_channel(&new, call.user.id, &others)
                .await;
            match made {
                Ok(c) => (c, true),
                Err(StoreError::Conflict) => return Err(duplicate(name)),
                Err(e) => return Err(e.into()),
            }
        }
    };
    let kind_name = if created {
        types::USER_CHANNEL_CREATED
    } else {
        types::USER_CHANNEL_UPSERTED
    };
    reply_channel(call, &channel, kind_name).await?;
    if created {
        for &m in &others {
            let theirs = state.render_channel(&channel, m).await?;
            state.publish_to_user(m, UserTopic::Channels, types::USER_CHANNEL_JOINED, &theirs);
        }
    }
    Ok(channel)
}

/// The direct channel between the actor and `others`, and whether it was just made.
/// Re-opening one shows it again to the actor if they had hidden it.
async fn direct(call: &Call<'_>, others: &[i64]) -> ApiResult<(ChannelRow, bool)> {
    let store = &call.state.store;
    if others.is_empty() {
        return Err(ApiError::validation(
            "A direct channel needs at least one other member.",
        ));
    }
    if others.len() + 1 > MAX_DIRECT_MEMBERS {
        return Err(ApiError::validation(format!(
            "A direct channel has at most {MAX_DIRECT_MEMBERS} members, including you."
        )));
    }
    let (channel, created) = store
        .direct_channel(call.app_id, call.user.id, others)
        .await?;
    if !created
        && store
            .membership(channel.id, call.user.id)
            .await?
            .is_some_and(|m| m.hidden)
    {
        store.set_hidden(channel.id, call.user.id, false).await?;
    }
    Ok((channel, created))
}

/// `updateChannel`: name, display name and properties of the whole channel object
/// sent (docs/protocol.md §16.23). Group channels: moderators; direct: members.
pub async fn update(call: &Call<'_>, cid: i64, req: UpdateChannel) -> ApiResult<()> {
    let state = call.state;
    let channel = access::readable_channel(call, cid).await?;
    access::moderator(call, &channel, "update it").await?;
    let name = match (channel.kind, req.name.as_deref()) {
        (ChannelType::Direct, _) | (_, None) => None,
        (kind, Some(n)) if n.trim() != channel.name => Some(valid_name(Some(n), kind)?),
        _ => None,
    };
    let display = match (channel.kind, req.display_name.as_deref().map(str::trim)) {
        (ChannelType::Direct, _) | (_, None) => None,
        (_, Some("")) => return Err(ApiError::validation("`displayName` cannot be empty.")),
        (_, Some(d)) => Some(d),
    };
    let props = match &req.properties {
        None => None,
        Some(p) => Some(properties(Some(p), state.config.max_properties_bytes)?),
    };
    match state
        .store
        .update_channel(cid, name, display, props.as_deref())
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Err(duplicate(name.unwrap_or_default())),
        Err(e) => return Err(e.into()),
    }
    let channel = access::readable_channel(call, cid).await?;
    reply_channel(call, &channel, types::USER_CHANNEL_UPDATED).await?;
    tell_members(
        call,
        &channel,
        types::USER_CHANNEL_UPDATED,
        Some(call.user.id),
    )
    .await?;
    // On the channel's own topic every reader gets one rendering: as a non-member sees
    // it, so no one's actions or direct-channel title reach the others.
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

/// `deleteChannel`: group channels by a moderator. Direct channels are not deleted
/// (that would erase the other members' history); they can be hidden.
pub async fn delete(call: &Call<'_>, cid: i64) -> ApiResult<()> {
    let state = call.state;
    let channel = access::readable_channel(call, cid).await?;
    if channel.kind == ChannelType::Direct {
        return Err(ApiError::unsupported(
            "Deleting a direct channel (hide it instead)",
        ));
    }
    access::moderator(call, &channel, "delete it").await?;
    let members = state.store.member_ids(cid).await?;
    let mut views = Vec::with_capacity(members.len());
    for &m in &members {
        views.push((m, state.render_channel(&channel, m).await?));
    }
    state.store.delete_channel(cid).await?;
    for (m, view) in &views {
        if *m == call.user.id {
            call.reply(UserTopic::Channels, types::USER_CHANNEL_DELETED, view);
        } else {
            state.publish_to_user(*m, UserTopic::Channels, types::USER_CHANNEL_LEFT, view);
            state.publish_to_user(*m, UserTopic::Channels, types::USER_CHANNEL_DELETED, view);
        }
    }
    let shared = state.render_channel(&channel, 0).await?;
    state.publish_to_channel(
        cid,
        ChannelTopic::Self_,
        types::CHANNEL_SELF_DELETED,
        &shared,
        Exclude::Nobody,
    );
    // After the deletion was announced on them, its members' subscriptions end.
    state.end_grants(None, cid);
    Ok(())
}

/// `joinChannel`: PUBLIC channels only.
pub async fn join(call: &Call<'_>, cid: i64) -> ApiResult<()> {
    let state = call.state;
    let channel = access::readable_channel(call, cid).await?;
    if channel.kind != ChannelType::Public {
        return Err(ApiError::new(
            names::CHANNEL_NOT_PUBLICLY_JOINABLE,
            format!(
                "The channel {} can't be joined without an invite.",
                channel.name
            ),
        ));
    }
    if !state.store.add_member(cid, call.user.id, "MEMBER").await? {
        return Err(ApiError::validation(format!(
            "You are already a member of channel {}.",
            channel.name
        )));
    }
    reply_channel(call, &channel, types::USER_CHANNEL_JOINED).await?;
    let me = state.render_user(call.user);
    state.publish_to_channel(
        cid,
        ChannelTopic::Self_,
        types::CHANNEL_MEMBER_JOINED,
        &me,
        Exclude::Nobody,
    );
    Ok(())
}

/// `leaveChannel`: group channels the actor is in. What they subscribed to as a member
/// ends at once, on every node (docs/protocol.md §18.3).
pub async fn leave(call: &Call<'_>, cid: i64) -> ApiResult<()> {
    let state = call.state;
    let channel = access::readable_channel(call, cid).await?;
    if channel.kind == ChannelType::Direct {
        return Err(ApiError::unsupported(
            "Leaving a direct channel (hide it instead)",
        ));
    }
    if !state.store.remove_member(cid, call.user.id).await? {
        return Err(ApiError::not_a_member(&channel.name));
    }
    // No longer a member of a non-public channel: what they subscribed to as one ends
    // now, published to the other nodes before the leave is acknowledged. (Anyone may
    // read a public channel.)
    if channel.kind != ChannelType::Public {
        state.end_grants(Some(call.user.id), cid);
        state.bus.flush().await;
    }
    reply_channel(call, &channel, types::USER_CHANNEL_LEFT).await?;
    let me = state.render_user(call.user);
    state.publish_to_channel(
        cid,
        ChannelTopic::Self_,
        types::CHANNEL_MEMBER_LEFT,
        &me,
        Exclude::Nobody,
    );
    Ok(())
}

/// `inviteUser`: PRIVATE channels, by a member. The invitee becomes a member.
pub async fn invite(call: &Call<'_>, cid: i64, invitee: UserRef) -> ApiResult<()> {
    let state = call.state;
    let channel = access::readable_channel(call, cid).await?;
    if channel.kind != ChannelType::Private {
        return Err(ApiError::new(
            names::CHANNEL_NOT_INVITABLE,
            format!("The channel {} does not accept invites.", channel.name),
        ));
    }
    access::membership(call, &channel).await?;
    let invitee = access::user_reference(call, &invitee).await?;
    if state.store.channel_ban(cid, invitee.id).await?.is_some() {
        return Err(ApiError::new(
            names::BANNED,
            format!("{} is banned from channel {}.", invitee.name, channel.name),
        ));
    }
    let added = state.store.add_member(cid, invitee.id, "MEMBER").await?;
    let rendered = state.render_user(&invitee);
    call.reply(UserTopic::Users, types::CHANNEL_MEMBER_INVITED, &rendered);
    if added {
        let theirs = state.render_channel(&channel, invitee.id).await?;
        state.publish_to_user(
            invitee.id,
            UserTopic::Channels,
            types::USER_CHANNEL_JOINED,
            &theirs,
        );
        state.publish_to_channel(
            cid,
            ChannelTopic::Self_,
            types::CHANNEL_MEMBER_JOINED,
            &rendered,
            Exclude::Nobody,
        );
    }
    Ok(())
}

/// `addChannelModerator`: a moderator promotes a member of a group channel.
pub async fn add_moderator(call: &Call<'_>, cid: i64, target: UserRef) -> ApiResult<()> {
    let state = call.state;
    let channel = access::readable_channel(call, cid).await?;
    if channel.kind == ChannelType::Direct {
        return Err(ApiError::new(
            names::UNSUPPORTED_OPERATION,
            format!(
                "The channel {} is not a group channel and cannot have moderators.",
                channel.name
            ),
        ));
    }
    access::moderator(call, &channel, "add moderators").await?;
    let target = access::user_reference(call, &target).await?;
    if state.store.membership(cid, target.id).await?.is_none() {
        return Err(ApiError::validation(format!(
            "{} is not a member of channel {}.",
            target.name, channel.name
        )));
    }
    state.store.set_role(cid, target.id, "MODERATOR").await?;
    reply_channel(call, &channel, types::USER_CHANNEL_UPDATED).await?;
    if target.id != call.user.id {
        let theirs = state.render_channel(&channel, target.id).await?;
        state.publish_to_user(
            target.id,
            UserTopic::Channels,
            types::USER_CHANNEL_UPDATED,
            &theirs,
        );
    }
    Ok(())
}

/// `muteChannel` / `unmuteChannel`: `{state: "ON"|"OFF"}`.
pub async fn mute(call: &Call<'_>, cid: i64, req: Mute) -> ApiResult<()> {
    let channel = access::member_channel(call, cid).await?;
    let muted = match req.state.as_deref() {
        Some("ON") => true,
        Some("OFF") => false,
        _ => return Err(ApiError::validation("`state` must be \"ON\" or \"OFF\".")),
    };
    call.state.store.set_muted(cid, call.user.id, muted).await?;
    reply_channel(call, &channel, types::USER_CHANNEL_UPDATED).await?;
    own_view_changed(call, &channel).await
}

/// `hideChannel`: direct channels; shown again when a message arrives.
pub async fn hide(call: &Call<'_>, cid: i64) -> ApiResult<()> {
    let channel = access::member_channel(call, cid).await?;
    if channel.kind != ChannelType::Direct {
        return Err(ApiError::unsupported(
            "Hiding a group channel (leave it instead)",
        ));
    }
    call.state.store.set_hidden(cid, call.user.id, true).await?;
    reply_channel(call, &channel, types::USER_CHANNEL_HIDDEN).await
}

/// `clearChannelHistory`: for the actor only.
pub async fn clear_history(call: &Call<'_>, cid: i64) -> ApiResult<()> {
    let channel = access::member_channel(call, cid).await?;
    call.state.store.clear_history(cid, call.user.id).await?;
    reply_channel(call, &channel, types::USER_CHANNEL_UPDATED).await?;
    own_view_changed(call, &channel).await
}

/// Per-user changes (mute, clear) reach the actor's own chat sessions only.
async fn own_view_changed(call: &Call<'_>, channel: &ChannelRow) -> ApiResult<()> {
    let mine = call.state.render_channel(channel, call.user.id).await?;
    call.state.publish_to_channel(
        channel.id,
        ChannelTopic::Self_,
        types::CHANNEL_SELF_UPDATED,
        &mine,
        Exclude::AllBut(call.user.id),
    );
    Ok(())
}

/// `readChannel` / `readMessage` / main-thread `readThread`: moves the read position
/// (never backwards) and announces the receipt of the newest message read.
pub async fn read_messages(call: &Call<'_>, cid: i64, up_to: Option<i64>) -> ApiResult<()> {
    let state = call.state;
    access::member_channel(call, cid).await?;
    if let Some(mid) = state.store.read_up_to(cid, call.user.id, up_to).await? {
        let receipt = state.render_receipt(mid, call.user, crate::clock::now_ms());
        state.publish_to_channel(
            cid,
            ChannelTopic::ReadReceipts,
            types::MESSAGE_READ_RECEIPT_CREATED,
            &receipt,
            Exclude::Nobody,
        );
    }
    Ok(())
}

/// `triggerEvent`: a custom event to the channel's other participants.
pub async fn trigger_event(call: &Call<'_>, cid: i64, req: TriggerEvent) -> ApiResult<()> {
    let state = call.state;
    let channel = access::member_channel(call, cid).await?;
    let kind = req
        .kind
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= MAX_EVENT_TYPE_BYTES);
    let Some(kind) = kind else {
        return Err(ApiError::validation(format!(
            "A custom event needs a `type` of 1 to {MAX_EVENT_TYPE_BYTES} bytes."
        )));
    };
    let props = properties(req.properties.as_ref(), state.config.max_properties_bytes)?;
    let event = serde_json::json!({
        "type": kind,
        "user": state.render_user(call.user),
        "properties": crate::domain::render::raw_json(&props),
        "_relays": { "channel": chatkitty_protocol::destination::channel_relay(channel.id as u64) },
    });
    state.publish_to_channel(
        cid,
        ChannelTopic::Events,
        types::CHANNEL_EVENT_TRIGGERED,
        &event,
        Exclude::User(call.user.id),
    );
    Ok(())
}

fn valid_name(name: Option<&str>, kind: ChannelType) -> ApiResult<&str> {
    let name = name.map(str::trim).unwrap_or("");
    if name.is_empty() {
        return Err(ApiError::validation(format!(
            "A {} channel needs a name.",
            kind.as_str()
        )));
    }
    if name.chars().count() > MAX_CHANNEL_NAME || name.starts_with("direct.") {
        return Err(ApiError::validation(format!(
            "Channel names are 1 to {MAX_CHANNEL_NAME} characters and cannot start with \"direct.\"."
        )));
    }
    Ok(name)
}

/// `DuplicateChannelError`.
pub fn duplicate(name: &str) -> ApiError {
    ApiError::new(
        names::DUPLICATE_CHANNEL,
        format!("A channel named {name:?} already exists."),
    )
}
