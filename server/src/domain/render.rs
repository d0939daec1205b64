//! Rows → wire resources, per viewer (docs/protocol.md §6: hypermedia depends on who looks).

use chatkitty_protocol::resource::{
    self as res, ChannelActions, ChannelRelays, ChannelStreams, ChannelTopics, ChannelType,
    MessageActions, MessageRelays, MessageStreams, OptionalChannelActions, Presence, UserRelays,
};
use serde_json::value::RawValue;

use chatkitty_protocol::destination::Relay;

use crate::clock::time_iso;
use crate::domain::mentions::{StoredMention, Viewer};
use crate::error::ApiResult;
use crate::state::Shared;
use crate::store::{ChannelRow, MemberRow, MessageRow, ReactionRow, UserRow};

/// The Emoji object of a stored reaction character.
pub fn emoji_json(character: &str) -> serde_json::Value {
    match crate::domain::emoji::lookup(character) {
        Some(e) => serde_json::to_value(e).unwrap_or_default(),
        None => {
            serde_json::json!({ "character": character, "description": "", "aliases": [], "tags": [] })
        }
    }
}

/// Stored JSON text as raw JSON (it was validated before it was stored; a corrupt
/// value renders as `{}` rather than failing the whole response).
pub fn raw_json(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).unwrap_or_else(|_| res::empty_object())
}

/// A thread with what rendering needs.
#[derive(Debug, Clone)]
pub struct ThreadView {
    /// Which thread.
    pub key: chatkitty_protocol::thread::ThreadKey,
    /// Its channel.
    pub channel_id: i64,
    /// Name (standalone threads).
    pub name: Option<String>,
    /// JSON object text.
    pub properties: String,
    /// Creation time.
    pub created_ms: i64,
}

impl Shared {
    /// A user as seen by others.
    pub fn render_user(&self, u: &UserRow) -> res::User {
        let online = self.user_shown_online(u.id);
        let invisible = u.presence_status == crate::store::INVISIBLE;
        let status = if !online || invisible {
            "OFFLINE".to_owned()
        } else {
            u.presence_status.clone()
        };
        res::User {
            id: u.id as u64,
            name: u.name.clone(),
            display_name: u.display_name.clone(),
            display_picture_url: self.avatar_url(u),
            is_guest: u.is_guest,
            presence: Presence {
                status,
                online: online && !invisible,
            },
            properties: raw_json(&u.properties),
            relays: UserRelays::of(u.id as u64),
        }
    }

    /// A user as embedded in another resource (a mention): without their
    /// `properties`, which would otherwise multiply into every message naming them.
    pub fn render_user_summary(&self, u: &UserRow) -> res::User {
        let mut user = self.render_user(u);
        user.properties = res::empty_object();
        user
    }

    /// The current user, as they see themselves (their own status even if invisible).
    pub fn render_current_user(&self, u: &UserRow) -> res::CurrentUser {
        let mut user = self.render_user(u);
        user.presence = Presence {
            status: u.presence_status.clone(),
            online: self.user_online(u.id),
        };
        res::CurrentUser::from_user(user)
    }

    /// The avatar URL: the user's own picture, or a generated one served by this
    /// server at a URL only the user's resources reveal (see `Keys::avatar_tag`). Both
    /// are made from the configured base URL when rendered (see [`Shared::link`]).
    pub fn avatar_url(&self, u: &UserRow) -> String {
        u.display_picture_url
            .as_deref()
            .and_then(|s| self.picture_link(s))
            .unwrap_or_else(|| {
                format!(
                    "{}/avatars/{}/{}.svg",
                    self.base_url(),
                    self.keys.avatar_tag(u.app_id, u.id),
                    u.id
                )
            })
    }

    /// A stored file object: an upload's link made from the base URL, an external
    /// file's URL as the app gave it; `None` if the stored JSON is unreadable.
    fn file_json(&self, stored: &str) -> Option<res::File> {
        let mut file: res::File = serde_json::from_str(stored).ok()?;
        if file.kind != "EXTERNAL" {
            file.url = self.link(&file.url)?;
        }
        Some(file)
    }

    /// A message with its sender.
    pub fn render_message(&self, m: &MessageRow, sender: Option<&UserRow>) -> res::Message {
        let id = m.id as u64;
        let deleted = m.deleted_ms.is_some();
        let text_like = m.file.is_none();
        res::Message {
            id,
            kind: m.kind,
            channel_id: m.channel_id as u64,
            created_time: time_iso(m.created_ms),
            group_tag: m.group_tag.clone(),
            body: if text_like {
                Some(if deleted {
                    String::new()
                } else {
                    m.body.clone().unwrap_or_default()
                })
            } else {
                None
            },
            links: text_like.then(|| {
                m.links
                    .as_deref()
                    .and_then(|l| serde_json::from_str(l).ok())
                    .unwrap_or_default()
            }),
            // Rendered per viewer by the callers that have one (crate::domain::mentions); a
            // message nested in another resource carries none (one level deep).
            mentions: None,
            file: m.file.as_deref().and_then(|f| self.file_json(f)),
            user: sender.map(|u| self.render_user(u)),
            reactions: None,
            replies_count: None,
            last_edited_time: m.edited_ms.map(time_iso),
            deleted_time: m.deleted_ms.map(time_iso),
            properties: raw_json(&m.properties),
            relays: MessageRelays::of(id, m.parent_id.map(|p| p as u64)),
            actions: MessageActions::of(id),
            streams: MessageStreams::of(id),
        }
    }

    /// A message just inserted, with its sender: no reactions and no replies yet.
    pub fn render_new_message(&self, m: &MessageRow, sender: Option<&UserRow>) -> res::Message {
        let mut out = self.render_message(m, sender);
        out.replies_count = Some(0);
        out
    }

    /// Messages with their senders, reaction summaries, reply counts and mentions (as
    /// `viewer` may see them), loaded in a few queries for the whole list.
    pub async fn render_messages(
        &self,
        app_id: i64,
        rows: &[MessageRow],
        viewer: Viewer,
    ) -> ApiResult<Vec<res::Message>> {
        let mentions: Vec<Vec<StoredMention>> = rows
            .iter()
            .map(|m| crate::domain::mentions::parse(m.mentions.as_deref()))
            .collect();
        let targets = self
            .mention_targets(app_id, mentions.iter().map(Vec::as_slice), viewer)
            .await?;
        let mut rendered = Vec::with_capacity(rows.len());
        for list in &mentions {
            rendered.push(if list.is_empty() {
                None
            } else {
                self.render_mentions(list, &targets, viewer).await?
            });
        }
        let message_ids: Vec<i64> = rows.iter().map(|m| m.id).collect();
        let (reactions, replies) = self.store.reactions_and_replies(&message_ids).await?;
        let mut ids: Vec<i64> = rows
            .iter()
            .filter_map(|m| m.user_id)
            .chain(reactions.iter().map(|r| r.user_id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let users = self.store.users_by_ids(app_id, &ids).await?;
        let user = |id: i64| users.iter().find(|u| u.id == id);
        Ok(rows
            .iter()
            .zip(rendered)
            .map(|(m, mentions)| {
                let mut out = self.render_message(m, m.user_id.and_then(user));
                out.mentions = mentions.filter(|_| m.deleted_ms.is_none());
                let mine: Vec<&ReactionRow> =
                    reactions.iter().filter(|r| r.message_id == m.id).collect();
                if !mine.is_empty() {
                    out.reactions = Some(self.reaction_summary(&mine, &user));
                }
                out.replies_count = Some(
                    replies
                        .iter()
                        .find(|(p, _)| *p == m.id)
                        .map_or(0, |(_, n)| *n as u64),
                );
                out
            })
            .collect())
    }

    /// A message rendered on its own (sender, reactions, replies, mentions loaded).
    pub async fn render_one_message(
        &self,
        app_id: i64,
        m: &MessageRow,
        viewer: Viewer,
    ) -> ApiResult<res::Message> {
        let mut v = self
            .render_messages(app_id, std::slice::from_ref(m), viewer)
            .await?;
        v.pop().ok_or_else(crate::error::ApiError::internal)
    }

    /// `ReactionSummary[]`: per emoji, who reacted and how many, in first-use order.
    fn reaction_summary<'a>(
        &self,
        rows: &[&ReactionRow],
        user: &dyn Fn(i64) -> Option<&'a UserRow>,
    ) -> Vec<serde_json::Value> {
        let mut order: Vec<&str> = Vec::new();
        for r in rows {
            if !order.contains(&r.emoji.as_str()) {
                order.push(&r.emoji);
            }
        }
        order
            .into_iter()
            .map(|e| {
                let users: Vec<res::User> = rows
                    .iter()
                    .filter(|r| r.emoji == e)
                    .filter_map(|r| user(r.user_id))
                    .map(|u| self.render_user(u))
                    .collect();
                serde_json::json!({ "emoji": emoji_json(e), "users": users, "count": users.len() })
            })
            .collect()
    }

    /// A `Reaction` (docs/protocol.md §12.5).
    pub fn render_reaction(&self, r: &ReactionRow, user: &UserRow) -> serde_json::Value {
        serde_json::json!({
            "emoji": emoji_json(&r.emoji),
            "user": self.render_user(user),
            "createdTime": time_iso(r.created_ms),
            "_relays": { "message": Relay::Message(r.message_id as u64).to_destination() },
        })
    }

    /// A `ReadReceipt` (docs/protocol.md §12.5).
    pub fn render_receipt(
        &self,
        message_id: i64,
        user: &UserRow,
        read_ms: i64,
    ) -> serde_json::Value {
        serde_json::json!({
            "user": self.render_user(user),
            "createdTime": time_iso(read_ms),
            "_relays": { "message": Relay::Message(message_id as u64).to_destination() },
        })
    }

    /// A `Thread` (docs/protocol.md §12.4).
    pub fn render_thread(&self, t: &ThreadView) -> res::Thread {
        let id = t.key.to_id();
        let (relays, topics, actions, streams) = res::Thread::links(&id);
        res::Thread {
            id,
            kind: t.key.kind().to_owned(),
            name: t.name.clone(),
            properties: raw_json(&t.properties),
            created_time: time_iso(t.created_ms),
            relays,
            topics,
            actions,
            streams,
        }
    }

    /// A channel as `viewer` sees it: their actions, direct-channel title from the
    /// other members, the newest message they can see.
    pub async fn render_channel(&self, c: &ChannelRow, viewer: i64) -> ApiResult<res::Channel> {
        let membership = self.store.membership(c.id, viewer).await?;
        self.render_channel_with(c, viewer, membership.as_ref())
            .await
    }

    /// [`Shared::render_channel`] with the viewer's membership already loaded.
    pub async fn render_channel_with(
        &self,
        c: &ChannelRow,
        viewer: i64,
        membership: Option<&MemberRow>,
    ) -> ApiResult<res::Channel> {
        self.render_channel_at(c, viewer, membership, true).await
    }

    /// A channel as embedded in another resource (a mention): one level deep, without
    /// its last message.
    pub async fn render_channel_summary(
        &self,
        c: &ChannelRow,
        viewer: i64,
        membership: Option<&MemberRow>,
    ) -> ApiResult<res::Channel> {
        self.render_channel_at(c, viewer, membership, false).await
    }

    async fn render_channel_at(
        &self,
        c: &ChannelRow,
        viewer: i64,
        membership: Option<&MemberRow>,
        with_last: bool,
    ) -> ApiResult<res::Channel> {
        let id = c.id as u64;
        let members = if c.kind == ChannelType::Direct {
            Some(self.store.members(c.id).await?)
        } else {
            None
        };
        let creator = match (c.creator_id, &members) {
            (Some(cid), Some(ms)) => ms.iter().find(|u| u.id == cid).cloned(),
            (Some(cid), None) => self.store.user(c.app_id, cid).await?,
            (None, _) => None,
        };
        let cleared = membership.map_or(0, |m| m.cleared_before_id);
        let last = match c.last_message_id {
            Some(mid) if mid > cleared && with_last => match self.store.message(mid).await? {
                Some(m) => {
                    let sender = match m.user_id {
                        Some(uid) => self.store.user(c.app_id, uid).await?,
                        None => None,
                    };
                    Some(Box::new(self.render_message(&m, sender.as_ref())))
                }
                None => None,
            },
            _ => None,
        };
        let display_name = match &members {
            Some(ms) => {
                let others: Vec<&str> = ms
                    .iter()
                    .filter(|u| u.id != viewer)
                    .map(|u| u.display_name.as_str())
                    .collect();
                if others.is_empty() {
                    c.display_name.clone()
                } else {
                    others.join(", ")
                }
            }
            None => c.display_name.clone(),
        };
        let is_member = membership.is_some();
        let moderator = membership.is_some_and(|m| m.role == "MODERATOR");
        let opt = OptionalChannelActions {
            join: c.kind == ChannelType::Public && !is_member,
            leave: is_member && c.kind != ChannelType::Direct,
            add_moderator: moderator && c.kind != ChannelType::Direct,
            invite: is_member && c.kind == ChannelType::Private,
        };
        Ok(res::Channel {
            id,
            kind: c.kind,
            name: c.name.clone(),
            display_name,
            creator: creator.as_ref().map(|u| self.render_user(u)),
            last_received_message: last,
            members: members.map(|ms| ms.iter().map(|u| self.render_user(u)).collect()),
            properties: raw_json(&c.properties),
            created_time: time_iso(c.created_ms),
            relays: ChannelRelays::of(id),
            topics: ChannelTopics::of(id),
            actions: ChannelActions::of(id, opt),
            streams: ChannelStreams::of(id),
        })
    }
}
