//! Notifications (docs/protocol.md §13.6): `user.notification.created` on a member's
//! `notifications` topic when a message concerns them: they are mentioned, someone
//! replied to them, a channel of theirs is mentioned, or a message arrived in a channel
//! where they have no active chat session. One notification per member and message,
//! the most specific kind winning; muted channels still notify, flagged `muted`.

use std::sync::atomic::{AtomicU64, Ordering};

use chatkitty_protocol::destination::UserTopic;
use chatkitty_protocol::event::types;
use chatkitty_protocol::resource::{ChannelType, Message};
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::{now_ms, ChannelRow, MemberRow, MessageRow, UserRow};

/// Who a message mentions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mentioned {
    /// A user, by id.
    User(i64),
    /// A channel, by id.
    Channel(i64),
}

static SEQ: AtomicU64 = AtomicU64::new(0);

fn next_id() -> u64 {
    // Unique per node and restart: time in ms, then a counter.
    (now_ms() as u64) * 1000 + SEQ.fetch_add(1, Ordering::Relaxed) % 1000
}

/// Notifies the members concerned by a new message.
#[allow(clippy::too_many_arguments)]
pub async fn message_created(
    state: &AppState,
    app_id: i64,
    channel: &ChannelRow,
    row: &MessageRow,
    message: &Message,
    sender: Option<&UserRow>,
    parent: Option<&MessageRow>,
    mentioned: &[Mentioned],
    audience: &crate::domain::messages::Audience,
) -> ApiResult<()> {
    let blockers = &audience.blockers;
    let sender_id = sender.map(|u| u.id);
    let sender_name = sender.map_or("Someone".to_owned(), |u| u.display_name.clone());
    let place = match channel.kind {
        ChannelType::Direct => String::new(),
        _ => format!(" in #{}", channel.display_name),
    };
    let text = message
        .body
        .clone()
        .or_else(|| message.file.as_ref().map(|f| f.name.clone()))
        .unwrap_or_default();
    // Group channels render the same for every member: rendered once, when first needed
    // (often never: members in a chat session get no notification).
    let mut group_view: Option<Value> = None;
    // Members who certainly get nothing (the sender, those who blocked them, those
    // following the channel in a chat session and not singled out) are not loaded.
    let channel_mention = mentioned.iter().any(|m| matches!(m, Mentioned::Channel(_)));
    let candidates: Vec<i64> = audience
        .members
        .iter()
        .map(|m| m.id)
        .filter(|&id| {
            Some(id) != sender_id
                && !blockers.contains(&id)
                && (channel_mention
                    || mentioned.contains(&Mentioned::User(id))
                    || parent.is_some_and(|p| p.user_id == Some(id))
                    || !state.participant_active(channel.id, id))
        })
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }
    let users = state.store.users_by_ids(app_id, &candidates).await?;
    let muted_ids: std::collections::HashSet<i64> = audience
        .members
        .iter()
        .filter(|m| m.muted)
        .map(|m| m.id)
        .collect();
    let parent_json = match parent {
        Some(p) => Some(
            serde_json::to_value(
                state
                    .render_one_message(app_id, p, crate::domain::mentions::Viewer::Audience)
                    .await?,
            )
            .unwrap_or_default(),
        ),
        None => None,
    };
    // The members of each mentioned channel, loaded once (not once per member).
    let mut mentioned_channels = Vec::new();
    for m in mentioned {
        if let Mentioned::Channel(c) = *m {
            if !mentioned_channels.iter().any(|(id, _)| *id == c) {
                let members: std::collections::HashSet<i64> = if c == channel.id {
                    Default::default()
                } else {
                    state.store.member_ids(c).await?.into_iter().collect()
                };
                mentioned_channels.push((c, members));
            }
        }
    }
    for member in &users {
        let muted = muted_ids.contains(&member.id);
        if Some(member.id) == sender_id || blockers.contains(&member.id) {
            continue;
        }
        let mut kind = None;
        let mut extra = serde_json::Map::new();
        if mentioned.contains(&Mentioned::User(member.id)) {
            kind = Some((
                "USER:MENTIONED:USER",
                format!("{sender_name} mentioned you{place}"),
            ));
            extra.insert(
                "mentionedUser".into(),
                serde_json::to_value(state.render_user(member)).unwrap_or_default(),
            );
        } else if parent.is_some_and(|p| p.user_id == Some(member.id)) {
            kind = Some((
                "USER:REPLIED_TO:MESSAGE",
                format!("{sender_name} replied to your message{place}"),
            ));
        } else {
            for (c, members) in &mentioned_channels {
                if *c != channel.id && !members.contains(&member.id) {
                    continue;
                }
                if let Some(ch) = state.store.channel(app_id, *c).await? {
                    kind = Some((
                        "USER:MENTIONED:CHANNEL",
                        format!("{sender_name} mentioned #{}", ch.display_name),
                    ));
                    extra.insert(
                        "mentionedChannel".into(),
                        serde_json::to_value(state.render_channel(&ch, member.id).await?)
                            .unwrap_or_default(),
                    );
                    break;
                }
            }
        }
        if kind.is_none() && !state.participant_active(channel.id, member.id) {
            kind = Some(match sender {
                Some(_) => (
                    "USER:SENT:MESSAGE",
                    format!("{sender_name} sent a message{place}"),
                ),
                None => ("SYSTEM:SENT:MESSAGE", format!("New message{place}")),
            });
        }
        let Some((data_type, title)) = kind else {
            continue;
        };
        let channel_json = if channel.kind == ChannelType::Direct {
            channel_view(state, channel, member.id, None, row, message).await?
        } else {
            if group_view.is_none() {
                let generic = MemberRow::generic(channel.id);
                group_view =
                    Some(channel_view(state, channel, 0, Some(&generic), row, message).await?);
            }
            group_view.clone().unwrap_or_default()
        };
        let mut data = json!({
            "type": data_type,
            "recipient": state.render_user(member),
            "message": message,
            "channelId": channel.id,
        });
        if let Some(p) = &parent_json {
            data["parent"] = p.clone();
        }
        if let Value::Object(d) = &mut data {
            d.extend(extra);
        }
        let notification = json!({
            "id": next_id(),
            "title": title,
            "body": text,
            "channel": channel_json,
            "data": data,
            "muted": muted,
            "createdTime": crate::clock::time_iso(row.created_ms),
            "readTime": null,
        });
        state.publish_to_user(
            member.id,
            UserTopic::Notifications,
            types::USER_NOTIFICATION_CREATED,
            &notification,
        );
    }
    Ok(())
}

/// The channel of a notification as `viewer` sees it, the new message (when on the
/// main thread) as its last received message without loading it back.
async fn channel_view(
    state: &AppState,
    channel: &ChannelRow,
    viewer: i64,
    generic: Option<&MemberRow>,
    row: &MessageRow,
    message: &Message,
) -> ApiResult<Value> {
    let main_thread = row.parent_id.is_none() && row.thread_id.is_none();
    let mut c = channel.clone();
    if main_thread {
        c.last_message_id = None;
    }
    let mut view = match generic {
        Some(m) => state.render_channel_with(&c, viewer, Some(m)).await?,
        None => state.render_channel(&c, viewer).await?,
    };
    if main_thread {
        view.last_received_message = Some(Box::new(message.clone()));
    }
    Ok(serde_json::to_value(view).unwrap_or_default())
}
