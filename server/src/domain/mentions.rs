//! Mentions in message text (`<@username>`, `<#channel>`; docs/protocol.md §12.3).
//!
//! A message stores what its mentions refer to — ids and positions — never a copy of
//! the user or channel: a copy of a channel carries its last message, whose mentions
//! carry theirs, and a few generations of `<#self>` grow without bound; a copy also
//! keeps text that was deleted since and shows a private channel to whoever reads the
//! mentioning message. Mentions are rendered when read, for the reader, one level deep:
//! the mentioned user without their `properties`, the mentioned channel without its
//! last message, and a channel only to a viewer who may read it.

use std::collections::HashMap;

use chatkitty_protocol::resource::ChannelType;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiResult;
use crate::state::Shared;
use crate::store::{ChannelRow, UserRow};

/// A mention as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMention {
    /// `USER` or `CHANNEL`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The literal tag.
    pub tag: String,
    /// UTF-16 offset of the tag.
    #[serde(rename = "startPosition")]
    pub start: u32,
    /// UTF-16 offset after the tag.
    #[serde(rename = "endPosition")]
    pub end: u32,
    /// The mentioned user.
    #[serde(rename = "userId", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    /// The mentioned channel.
    #[serde(rename = "channelId", default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<i64>,
    /// Rows stored before mentions were references embedded the whole user; only its
    /// id is read.
    #[serde(default, skip_serializing)]
    user: Option<Embedded>,
    /// Likewise for channels.
    #[serde(default, skip_serializing)]
    channel: Option<Embedded>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Embedded {
    id: i64,
}

impl StoredMention {
    /// A mention of a user.
    pub fn user(tag: &crate::domain::text::MentionTag, user_id: i64) -> StoredMention {
        StoredMention::of(tag, Some(user_id), None)
    }

    /// A mention of a channel.
    pub fn channel(tag: &crate::domain::text::MentionTag, channel_id: i64) -> StoredMention {
        StoredMention::of(tag, None, Some(channel_id))
    }

    fn of(
        tag: &crate::domain::text::MentionTag,
        user_id: Option<i64>,
        channel_id: Option<i64>,
    ) -> StoredMention {
        StoredMention {
            kind: tag.kind.to_owned(),
            tag: tag.tag.clone(),
            start: tag.start,
            end: tag.end,
            user_id,
            channel_id,
            user: None,
            channel: None,
        }
    }

    /// The mentioned user's id (either storage format).
    fn user_ref(&self) -> Option<i64> {
        self.user_id.or(self.user.as_ref().map(|u| u.id))
    }

    /// The mentioned channel's id (either storage format).
    fn channel_ref(&self) -> Option<i64> {
        self.channel_id.or(self.channel.as_ref().map(|c| c.id))
    }
}

/// A message's stored mentions (`[]` for none or a corrupt value).
pub fn parse(json: Option<&str>) -> Vec<StoredMention> {
    let mut list: Vec<StoredMention> = json
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    for m in &mut list {
        m.user_id = m.user_ref();
        m.channel_id = m.channel_ref();
        (m.user, m.channel) = (None, None);
    }
    list
}

/// Mentions as stored JSON.
pub fn to_json(mentions: &[StoredMention]) -> String {
    serde_json::to_string(mentions).unwrap_or_else(|_| "[]".to_owned())
}

/// Who reads a rendered message, and so which mentioned channels they may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// One user (a relay's answer, a result sent to the actor alone).
    User(i64),
    /// Every reader of the message's channel at once (a topic event): only PUBLIC
    /// channels are shown, as anyone may read those.
    Audience,
    /// The application's backend (Platform API): everything.
    Operator,
}

impl Viewer {
    fn user_id(self) -> i64 {
        match self {
            Viewer::User(u) => u,
            Viewer::Audience | Viewer::Operator => 0,
        }
    }

    fn may_see(self, channel: &ChannelRow, member: bool) -> bool {
        match self {
            Viewer::Operator => true,
            Viewer::Audience => channel.kind == ChannelType::Public,
            Viewer::User(_) => member || channel.kind == ChannelType::Public,
        }
    }
}

/// The users and channels a set of messages mentions, loaded once.
#[derive(Debug, Default)]
pub struct Targets {
    users: HashMap<i64, UserRow>,
    channels: HashMap<i64, (ChannelRow, bool)>,
}

impl Shared {
    /// Loads what `lists` of stored mentions refer to, as `viewer` may see it (two
    /// queries whatever the number of messages).
    pub async fn mention_targets<'a>(
        &self,
        app_id: i64,
        lists: impl IntoIterator<Item = &'a [StoredMention]>,
        viewer: Viewer,
    ) -> ApiResult<Targets> {
        let (mut users, mut channels) = (Vec::new(), Vec::new());
        for m in lists.into_iter().flatten() {
            users.extend(m.user_id);
            channels.extend(m.channel_id);
        }
        for ids in [&mut users, &mut channels] {
            ids.sort_unstable();
            ids.dedup();
        }
        let users = self.store.users_by_ids(app_id, &users).await?;
        let channels = self
            .store
            .channels_for(app_id, &channels, viewer.user_id())
            .await?;
        Ok(Targets {
            users: users.into_iter().map(|u| (u.id, u)).collect(),
            channels: channels
                .into_iter()
                .filter(|(c, member)| viewer.may_see(c, *member))
                .map(|(c, member)| (c.id, (c, member)))
                .collect(),
        })
    }

    /// `MessageMention[]` of stored mentions as `viewer` sees them: mentions of a
    /// deleted user or a channel the viewer may not read are left out. `None` when none
    /// remain.
    pub async fn render_mentions(
        &self,
        stored: &[StoredMention],
        targets: &Targets,
        viewer: Viewer,
    ) -> ApiResult<Option<Vec<Value>>> {
        let mut out = Vec::with_capacity(stored.len());
        for m in stored {
            let base = |key: &str, resource: Value| {
                serde_json::json!({
                    "type": m.kind, "tag": m.tag, "startPosition": m.start,
                    "endPosition": m.end, key: resource,
                })
            };
            if let Some(u) = m.user_id.and_then(|id| targets.users.get(&id)) {
                out.push(base("user", to_value(&self.render_user_summary(u))));
            } else if let Some((c, member)) = m.channel_id.and_then(|id| targets.channels.get(&id))
            {
                let membership = match (viewer, member) {
                    (Viewer::User(u), true) => self.store.membership(c.id, u).await?,
                    _ => None,
                };
                let rendered = self
                    .render_channel_summary(c, viewer.user_id(), membership.as_ref())
                    .await?;
                out.push(base("channel", to_value(&rendered)));
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_round_trip_and_legacy_snapshots_yield_their_ids() {
        let tag = crate::domain::text::mention_tags("<@jane> <#general>", 5);
        let stored = vec![
            StoredMention::user(&tag[0], 7),
            StoredMention::channel(&tag[1], 9),
        ];
        let json = to_json(&stored);
        assert!(!json.contains("\"user\""), "{json}");
        assert_eq!(parse(Some(&json)), stored);
        let legacy = r#"[{"type":"CHANNEL","tag":"<#g>","startPosition":0,"endPosition":4,
            "channel":{"id":3,"name":"g","lastReceivedMessage":{"mentions":[{"x":1}]}}}]"#;
        let old = parse(Some(legacy));
        assert_eq!((old[0].channel_id, old[0].user_id), (Some(3), None));
        // Stored again, only the reference is kept.
        assert_eq!(
            to_json(&old),
            r#"[{"type":"CHANNEL","tag":"<#g>","startPosition":0,"endPosition":4,"channelId":3}]"#
        );
        assert!(parse(Some("not json")).is_empty());
    }
}
