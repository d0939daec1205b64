//! Notifications (docs/protocol.md §13.6): `user.notification.created` on a member's
//! `notifications` topic when a message concerns them: they are mentioned, someone
//! replied to them, a channel of theirs is mentioned, or a message arrived in a channel
//! where they have no active chat session. One notification per member and message,
//! the most specific kind winning; muted channels still notify, flagged `muted`. A
//! member who is not online also gets a `notification.offline` webhook (for push or
//! email), when an endpoint of the app wants it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use chatkitty_protocol::destination::UserTopic;
use chatkitty_protocol::event::types;
use chatkitty_protocol::resource::{ChannelType, Message, User};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::delivery::Audience;
use super::mentions::Viewer;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::{ChannelRow, MemberRow, MessageRow, UserRow};

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
    (crate::clock::now_ms() as u64) * 1000 + SEQ.fetch_add(1, Ordering::Relaxed) % 1000
}

/// A message just stored, as notifications need it.
pub struct NewMessage<'a> {
    /// Application.
    pub app_id: i64,
    /// Its channel.
    pub channel: &'a ChannelRow,
    /// Its row.
    pub row: &'a MessageRow,
    /// As rendered for the channel's readers.
    pub message: &'a Message,
    /// Its sender (`None`: a system message).
    pub sender: Option<&'a UserRow>,
    /// The message it replies to.
    pub parent: Option<&'a MessageRow>,
    /// Who it mentions.
    pub mentioned: &'a [Mentioned],
    /// The channel's members and the sender's blockers.
    pub audience: &'a Audience,
}

/// What one member is notified of: the notification's `data.type`, its title, and
/// the extra `data` fields.
struct Kind {
    data_type: &'static str,
    title: String,
    extra: Map<String, Value>,
}

/// Notifies the members concerned by a new message.
pub async fn message_created(state: &AppState, n: NewMessage<'_>) -> ApiResult<()> {
    let users = candidates(state, &n).await?;
    if users.is_empty() {
        return Ok(());
    }
    // What every member's notification shares, serialized once: the message, the
    // message it replies to, the channel of a group channel, the text and the time.
    let shared = Shared {
        message: to_raw(n.message),
        parent: match n.parent {
            Some(p) => Some(to_raw(
                &state
                    .render_one_message(n.app_id, p, Viewer::Audience)
                    .await?,
            )),
            None => None,
        },
        body: n
            .message
            .body
            .clone()
            .or_else(|| n.message.file.as_ref().map(|f| f.name.clone()))
            .unwrap_or_default(),
        created_time: crate::clock::time_iso(n.row.created_ms),
    };
    let mentioned_channels = mentioned_channel_members(state, &n).await?;
    // Group channels render the same for every member: rendered once, when first needed
    // (often never: members in a chat session get no notification).
    let mut group_view: Option<Box<RawValue>> = None;
    let offline_hooks = super::webhooks::offline_wanted(state, n.app_id).await;
    for member in &users {
        let Some(kind) = kind_for(state, &n, member, &mentioned_channels).await? else {
            continue;
        };
        let direct_view;
        let channel: &RawValue = if n.channel.kind == ChannelType::Direct {
            direct_view = channel_view(state, &n, member.id, None).await?;
            &direct_view
        } else {
            match &mut group_view {
                Some(view) => view,
                None => {
                    let generic = MemberRow::generic(n.channel.id);
                    group_view.insert(channel_view(state, &n, 0, Some(&generic)).await?)
                }
            }
        };
        let notification = notification(state, &n, &shared, member, kind, channel);
        if offline_hooks && !state.user_online(member.id) {
            super::webhooks::notified_offline(state, member, &to_value(&notification)).await;
        }
        state.publish_to_user(
            member.id,
            UserTopic::Notifications,
            types::USER_NOTIFICATION_CREATED,
            &notification,
        );
    }
    Ok(())
}

/// The members who may get a notification, loaded: not the sender, not those who
/// blocked them, and — unless singled out by a mention or a reply — not those
/// following the channel in a chat session ([`crate::state::Shared::follows_chat`]).
async fn candidates(state: &AppState, n: &NewMessage<'_>) -> ApiResult<Vec<UserRow>> {
    let sender_id = n.sender.map(|u| u.id);
    let channel_mention = n
        .mentioned
        .iter()
        .any(|m| matches!(m, Mentioned::Channel(_)));
    let ids: Vec<i64> = n
        .audience
        .members
        .iter()
        .map(|m| m.id)
        .filter(|&id| {
            Some(id) != sender_id
                && !n.audience.blockers.contains(&id)
                && (channel_mention
                    || n.mentioned.contains(&Mentioned::User(id))
                    || n.parent.is_some_and(|p| p.user_id == Some(id))
                    || !state.follows_chat(n.channel.id, id))
        })
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    n.audience.users_to_notify(state, n.app_id, &ids).await
}

/// The members of each mentioned channel, loaded once (not once per member).
async fn mentioned_channel_members(
    state: &AppState,
    n: &NewMessage<'_>,
) -> ApiResult<Vec<(i64, HashSet<i64>)>> {
    let mut out: Vec<(i64, HashSet<i64>)> = Vec::new();
    for m in n.mentioned {
        let Mentioned::Channel(c) = *m else { continue };
        if out.iter().any(|(id, _)| *id == c) {
            continue;
        }
        let members = if c == n.channel.id {
            HashSet::new()
        } else {
            state.store.member_ids(c).await?.into_iter().collect()
        };
        out.push((c, members));
    }
    Ok(out)
}

/// What `member` is notified of, the most specific kind winning; `None` for nothing.
async fn kind_for(
    state: &AppState,
    n: &NewMessage<'_>,
    member: &UserRow,
    mentioned_channels: &[(i64, HashSet<i64>)],
) -> ApiResult<Option<Kind>> {
    let sender_name = n
        .sender
        .map_or("Someone".to_owned(), |u| u.display_name.clone());
    let place = match n.channel.kind {
        ChannelType::Direct => String::new(),
        _ => format!(" in #{}", n.channel.display_name),
    };
    let mut extra = Map::new();
    if n.mentioned.contains(&Mentioned::User(member.id)) {
        extra.insert("mentionedUser".into(), to_value(&state.render_user(member)));
        return Ok(Some(Kind {
            data_type: "USER:MENTIONED:USER",
            title: format!("{sender_name} mentioned you{place}"),
            extra,
        }));
    }
    if n.parent.is_some_and(|p| p.user_id == Some(member.id)) {
        return Ok(Some(Kind {
            data_type: "USER:REPLIED_TO:MESSAGE",
            title: format!("{sender_name} replied to your message{place}"),
            extra,
        }));
    }
    for (c, members) in mentioned_channels {
        if *c != n.channel.id && !members.contains(&member.id) {
            continue;
        }
        if let Some(ch) = state.store.channel(n.app_id, *c).await? {
            let theirs = state.render_channel(&ch, member.id).await?;
            extra.insert("mentionedChannel".into(), to_value(&theirs));
            return Ok(Some(Kind {
                data_type: "USER:MENTIONED:CHANNEL",
                title: format!("{sender_name} mentioned #{}", ch.display_name),
                extra,
            }));
        }
    }
    if state.follows_chat(n.channel.id, member.id) {
        return Ok(None);
    }
    Ok(Some(match n.sender {
        Some(_) => Kind {
            data_type: "USER:SENT:MESSAGE",
            title: format!("{sender_name} sent a message{place}"),
            extra,
        },
        None => Kind {
            data_type: "SYSTEM:SENT:MESSAGE",
            title: format!("New message{place}"),
            extra,
        },
    }))
}

/// The parts of a message's notifications that are the same for every member.
struct Shared {
    message: Box<RawValue>,
    parent: Option<Box<RawValue>>,
    body: String,
    created_time: String,
}

/// The `Notification` resource (docs/protocol.md §12.5).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Notification<'a> {
    id: u64,
    title: String,
    body: &'a str,
    channel: &'a RawValue,
    data: NotificationData<'a>,
    muted: bool,
    created_time: &'a str,
    /// Always `null`: a notification is new.
    read_time: Option<&'a str>,
}

/// A notification's `data`: its kind, recipient, message and what the kind adds.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NotificationData<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    recipient: User,
    message: &'a RawValue,
    channel_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<&'a RawValue>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

fn notification<'a>(
    state: &AppState,
    n: &NewMessage<'_>,
    shared: &'a Shared,
    member: &UserRow,
    kind: Kind,
    channel: &'a RawValue,
) -> Notification<'a> {
    let muted = n
        .audience
        .members
        .iter()
        .any(|m| m.id == member.id && m.muted);
    Notification {
        id: next_id(),
        title: kind.title,
        body: &shared.body,
        channel,
        data: NotificationData {
            kind: kind.data_type,
            recipient: state.render_user(member),
            message: &shared.message,
            channel_id: n.channel.id,
            parent: shared.parent.as_deref(),
            extra: kind.extra,
        },
        muted,
        created_time: &shared.created_time,
        read_time: None,
    }
}

/// The channel of a notification as `viewer` sees it, the new message (when on the
/// main thread) as its last received message without loading it back.
async fn channel_view(
    state: &AppState,
    n: &NewMessage<'_>,
    viewer: i64,
    generic: Option<&MemberRow>,
) -> ApiResult<Box<RawValue>> {
    let main_thread = n.row.parent_id.is_none() && n.row.thread_id.is_none();
    let mut c = n.channel.clone();
    if main_thread {
        c.last_message_id = None;
    }
    let mut view = match generic {
        Some(m) => match n.audience.group_view(main_thread) {
            Some(view) => view,
            None => {
                let view = state.render_channel_with(&c, viewer, Some(m)).await?;
                n.audience.keep_group_view(main_thread, &view);
                view
            }
        },
        None => state.render_channel(&c, viewer).await?,
    };
    if main_thread {
        view.last_received_message = Some(Box::new(n.message.clone()));
    }
    Ok(to_raw(&view))
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

fn to_raw<T: Serialize>(v: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(v).unwrap_or_else(|e| {
        tracing::error!(error = %e, "notification part serialisation failed");
        serde_json::value::to_raw_value(&Value::Null).expect("null serializes")
    })
}
