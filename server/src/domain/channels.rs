//! Channel actions (docs/protocol.md §6.3, 13.3): membership, moderation, settings, reads,
//! custom events. Each authorises first: a member for member-only changes, a moderator
//! for group-channel administration.

use chatkitty_protocol::destination::{ChannelTopic, UserTopic};
use chatkitty_protocol::error::names;
use chatkitty_protocol::event::types;
use chatkitty_protocol::resource::ChannelType;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::limits::properties;
use crate::realtime::hub::Exclude;
use crate::state::event_json;
use crate::stomp::actions::str_field;
use crate::stomp::session::Session;
use crate::store::{ChannelRow, MemberRow, StoreError, UserRow};

/// Direct channels have at most this many members, creator included.
pub const MAX_DIRECT_MEMBERS: usize = 10;
/// Longest channel name.
pub const MAX_CHANNEL_NAME: usize = 100;

impl Session {
    /// The membership of the current user, or `NotAChannelMemberError`.
    async fn my_membership(&self, channel: &ChannelRow) -> ApiResult<MemberRow> {
        self.state
            .store
            .membership(channel.id, self.user.id)
            .await?
            .ok_or_else(|| ApiError::not_a_member(&channel.name))
    }

    /// Group-channel administration needs a moderator.
    async fn require_moderator(&self, channel: &ChannelRow, what: &str) -> ApiResult<MemberRow> {
        let m = self.my_membership(channel).await?;
        if channel.kind != ChannelType::Direct && m.role != "MODERATOR" {
            return Err(ApiError::forbidden(format!(
                "Only moderators of {} can {what}.",
                channel.name
            )));
        }
        Ok(m)
    }

    /// Sends the channel, rendered for each member, to their `channels` topic.
    async fn tell_members(
        &self,
        channel: &ChannelRow,
        kind: &str,
        skip: Option<i64>,
    ) -> ApiResult<()> {
        for m in self.state.store.member_ids(channel.id).await? {
            if Some(m) == skip {
                continue;
            }
            let theirs = self.state.render_channel(channel, m).await?;
            self.state
                .publish_to_user(m, UserTopic::Channels, kind, &theirs);
        }
        Ok(())
    }

    /// Result event on the actor's `channels` topic: the channel as they now see it.
    async fn reply_channel(
        &self,
        channel: &ChannelRow,
        kind: &str,
        receipt: Option<&str>,
    ) -> ApiResult<()> {
        let mine = self.state.render_channel(channel, self.user.id).await?;
        self.reply_event(UserTopic::Channels, &event_json(kind, &mine), receipt);
        Ok(())
    }

    async fn resolve_members(&self, body: &Value) -> ApiResult<Vec<UserRow>> {
        let list = match body.get("members") {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(a)) => a,
            Some(_) => {
                return Err(ApiError::validation(
                    "`members` must be an array of {id} or {username}.",
                ))
            }
        };
        let max = self.state.config.max_members_per_request;
        if list.len() > max {
            return Err(crate::limits::too_large(format!(
                "`members` names at most {max} users per request ({} given); invite the others afterwards.",
                list.len()
            )));
        }
        let mut out: Vec<UserRow> = Vec::new();
        for m in list {
            let user = match self.user_reference(m).await {
                Ok(u) => u,
                // With guest sessions on, a username that has not signed in yet is created,
                // so a conversation can start before the other person joins.
                Err(e) if e.name == names::NOT_FOUND && self.state.config.guests_on() => match m
                    .get("username")
                    .or_else(|| m.get("name"))
                    .and_then(Value::as_str)
                {
                    Some(name) if !name.trim().is_empty() && name.chars().count() <= 256 => {
                        self.state
                            .store
                            .user_or_create(self.app_id, name, true)
                            .await?
                    }
                    _ => return Err(e),
                },
                Err(e) => return Err(e),
            };
            if !out.iter().any(|u| u.id == user.id) {
                out.push(user);
            }
        }
        Ok(out)
    }

    /// `createChannel` (docs/protocol.md §12.2).
    pub async fn create_channel(&mut self, body: &Value, receipt: Option<&str>) -> ApiResult<()> {
        let state = self.state.clone();
        let kind = match str_field(body, "type")? {
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
        let props = properties(body, self.state.config.max_properties_bytes)?;
        let members = self.resolve_members(body).await?;
        let others: Vec<i64> = members
            .iter()
            .map(|u| u.id)
            .filter(|&id| id != self.user.id)
            .collect();
        let (channel, created) = match kind {
            ChannelType::Direct => {
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
                state
                    .store
                    .direct_channel(self.app_id, self.user.id, &others)
                    .await?
            }
            ChannelType::Public | ChannelType::Private => {
                let name = valid_name(str_field(body, "name")?, kind)?;
                let display = str_field(body, "displayName")?
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .unwrap_or(name);
                match state
                    .store
                    .create_group_channel(
                        self.app_id,
                        kind,
                        name,
                        display,
                        &props,
                        self.user.id,
                        &others,
                    )
                    .await
                {
                    Ok(c) => (c, true),
                    Err(StoreError::Conflict) => return Err(duplicate(name)),
                    Err(e) => return Err(e.into()),
                }
            }
        };
        if !created && kind == ChannelType::Direct {
            // Re-opening a direct channel shows it again to the one who hid it.
            if state
                .store
                .membership(channel.id, self.user.id)
                .await?
                .is_some_and(|m| m.hidden)
            {
                state
                    .store
                    .set_hidden(channel.id, self.user.id, false)
                    .await?;
            }
        }
        let kind_name = if created {
            types::USER_CHANNEL_CREATED
        } else {
            types::USER_CHANNEL_UPSERTED
        };
        self.reply_channel(&channel, kind_name, receipt).await?;
        if created {
            for &m in &others {
                let theirs = state.render_channel(&channel, m).await?;
                state.publish_to_user(m, UserTopic::Channels, types::USER_CHANNEL_JOINED, &theirs);
            }
        }
        Ok(())
    }

    /// `updateChannel`: name, displayName and properties of the whole channel object
    /// sent (docs/protocol.md §16.23). Group channels: moderators; direct: members.
    pub async fn update_channel(
        &mut self,
        cid: i64,
        body: &Value,
        receipt: Option<&str>,
    ) -> ApiResult<()> {
        let channel = self.readable_channel(cid).await?;
        self.require_moderator(&channel, "update it").await?;
        let name = match (channel.kind, str_field(body, "name")?) {
            (ChannelType::Direct, _) | (_, None) => None,
            (kind, Some(n)) if n.trim() != channel.name => Some(valid_name(Some(n), kind)?),
            _ => None,
        };
        let display = match (channel.kind, str_field(body, "displayName")?.map(str::trim)) {
            (ChannelType::Direct, _) | (_, None) => None,
            (_, Some("")) => return Err(ApiError::validation("`displayName` cannot be empty.")),
            (_, Some(d)) => Some(d),
        };
        let props = match body.get("properties") {
            None | Some(Value::Null) => None,
            Some(_) => Some(properties(body, self.state.config.max_properties_bytes)?),
        };
        match self
            .state
            .store
            .update_channel(cid, name, display, props.as_deref())
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(duplicate(name.unwrap_or_default())),
            Err(e) => return Err(e.into()),
        }
        let channel = self.readable_channel(cid).await?;
        self.reply_channel(&channel, types::USER_CHANNEL_UPDATED, receipt)
            .await?;
        self.tell_members(&channel, types::USER_CHANNEL_UPDATED, Some(self.user.id))
            .await?;
        let shared = self.state.render_channel(&channel, self.user.id).await?;
        self.state.publish_to_channel(
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
    pub async fn delete_channel(&mut self, cid: i64, receipt: Option<&str>) -> ApiResult<()> {
        let channel = self.readable_channel(cid).await?;
        if channel.kind == ChannelType::Direct {
            return Err(ApiError::unsupported(
                "Deleting a direct channel (hide it instead)",
            ));
        }
        self.require_moderator(&channel, "delete it").await?;
        let members = self.state.store.member_ids(cid).await?;
        let mut views = Vec::with_capacity(members.len());
        for &m in &members {
            views.push((m, self.state.render_channel(&channel, m).await?));
        }
        self.state.store.delete_channel(cid).await?;
        for (m, view) in &views {
            if *m == self.user.id {
                self.reply_event(
                    UserTopic::Channels,
                    &event_json(types::USER_CHANNEL_DELETED, view),
                    receipt,
                );
            } else {
                self.state
                    .publish_to_user(*m, UserTopic::Channels, types::USER_CHANNEL_LEFT, view);
                self.state.publish_to_user(
                    *m,
                    UserTopic::Channels,
                    types::USER_CHANNEL_DELETED,
                    view,
                );
            }
        }
        if let Some((_, view)) = views.first() {
            self.state.publish_to_channel(
                cid,
                ChannelTopic::Self_,
                types::CHANNEL_SELF_DELETED,
                view,
                Exclude::Nobody,
            );
        }
        // After the deletion was announced on them, its members' subscriptions end.
        self.state.end_grants(None, cid);
        Ok(())
    }

    /// `joinChannel`: PUBLIC channels only.
    pub async fn join_channel(&mut self, cid: i64, receipt: Option<&str>) -> ApiResult<()> {
        let channel = self.readable_channel(cid).await?;
        if channel.kind != ChannelType::Public {
            return Err(ApiError::new(
                names::CHANNEL_NOT_PUBLICLY_JOINABLE,
                format!(
                    "The channel {} can't be joined without an invite.",
                    channel.name
                ),
            ));
        }
        if !self
            .state
            .store
            .add_member(cid, self.user.id, "MEMBER")
            .await?
        {
            return Err(ApiError::validation(format!(
                "You are already a member of channel {}.",
                channel.name
            )));
        }
        self.reply_channel(&channel, types::USER_CHANNEL_JOINED, receipt)
            .await?;
        let me = self.state.render_user(&self.user);
        self.state.publish_to_channel(
            cid,
            ChannelTopic::Self_,
            types::CHANNEL_MEMBER_JOINED,
            &me,
            Exclude::Nobody,
        );
        Ok(())
    }

    /// `leaveChannel`: group channels the user is in.
    pub async fn leave_channel(&mut self, cid: i64, receipt: Option<&str>) -> ApiResult<()> {
        let channel = self.readable_channel(cid).await?;
        if channel.kind == ChannelType::Direct {
            return Err(ApiError::unsupported(
                "Leaving a direct channel (hide it instead)",
            ));
        }
        if !self.state.store.remove_member(cid, self.user.id).await? {
            return Err(ApiError::not_a_member(&channel.name));
        }
        // No longer a member: what they subscribed to as one ends now, on every node
        // (published before the leave is acknowledged).
        self.state.end_grants(Some(self.user.id), cid);
        self.state.cluster.flush().await;
        self.reply_channel(&channel, types::USER_CHANNEL_LEFT, receipt)
            .await?;
        let me = self.state.render_user(&self.user);
        self.state.publish_to_channel(
            cid,
            ChannelTopic::Self_,
            types::CHANNEL_MEMBER_LEFT,
            &me,
            Exclude::Nobody,
        );
        Ok(())
    }

    /// `inviteUser`: PRIVATE channels, by a member. The invitee becomes a member.
    pub async fn invite(&mut self, cid: i64, body: &Value, receipt: Option<&str>) -> ApiResult<()> {
        let channel = self.readable_channel(cid).await?;
        if channel.kind != ChannelType::Private {
            return Err(ApiError::new(
                names::CHANNEL_NOT_INVITABLE,
                format!("The channel {} does not accept invites.", channel.name),
            ));
        }
        self.my_membership(&channel).await?;
        let invitee = self
            .user_reference(body.get("user").unwrap_or(body))
            .await?;
        let added = self
            .state
            .store
            .add_member(cid, invitee.id, "MEMBER")
            .await?;
        let rendered = self.state.render_user(&invitee);
        self.reply_event(
            UserTopic::Users,
            &event_json(types::CHANNEL_MEMBER_INVITED, &rendered),
            receipt,
        );
        if added {
            let theirs = self.state.render_channel(&channel, invitee.id).await?;
            self.state.publish_to_user(
                invitee.id,
                UserTopic::Channels,
                types::USER_CHANNEL_JOINED,
                &theirs,
            );
            self.state.publish_to_channel(
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
    pub async fn add_moderator(
        &mut self,
        cid: i64,
        body: &Value,
        receipt: Option<&str>,
    ) -> ApiResult<()> {
        let channel = self.readable_channel(cid).await?;
        if channel.kind == ChannelType::Direct {
            return Err(ApiError::new(
                names::UNSUPPORTED_OPERATION,
                format!(
                    "The channel {} is not a group channel and cannot have moderators.",
                    channel.name
                ),
            ));
        }
        self.require_moderator(&channel, "add moderators").await?;
        let target = self
            .user_reference(body.get("user").unwrap_or(body))
            .await?;
        if self.state.store.membership(cid, target.id).await?.is_none() {
            return Err(ApiError::validation(format!(
                "{} is not a member of channel {}.",
                target.name, channel.name
            )));
        }
        self.state
            .store
            .set_role(cid, target.id, "MODERATOR")
            .await?;
        self.reply_channel(&channel, types::USER_CHANNEL_UPDATED, receipt)
            .await?;
        if target.id != self.user.id {
            let theirs = self.state.render_channel(&channel, target.id).await?;
            self.state.publish_to_user(
                target.id,
                UserTopic::Channels,
                types::USER_CHANNEL_UPDATED,
                &theirs,
            );
        }
        Ok(())
    }

    /// `muteChannel` / `unmuteChannel`: body `{state: "ON"|"OFF"}`.
    pub async fn mute(&mut self, cid: i64, body: &Value, receipt: Option<&str>) -> ApiResult<()> {
        let channel = self.member_channel(cid).await?;
        let muted = match str_field(body, "state")? {
            Some("ON") => true,
            Some("OFF") => false,
            _ => return Err(ApiError::validation("`state` must be \"ON\" or \"OFF\".")),
        };
        self.state.store.set_muted(cid, self.user.id, muted).await?;
        self.reply_channel(&channel, types::USER_CHANNEL_UPDATED, receipt)
            .await?;
        self.own_channel_view_changed(&channel).await
    }

    /// `hideChannel`: direct channels; shown again when a message arrives.
    pub async fn hide_channel(&mut self, cid: i64, receipt: Option<&str>) -> ApiResult<()> {
        let channel = self.member_channel(cid).await?;
        if channel.kind != ChannelType::Direct {
            return Err(ApiError::unsupported(
                "Hiding a group channel (leave it instead)",
            ));
        }
        self.state.store.set_hidden(cid, self.user.id, true).await?;
        self.reply_channel(&channel, types::USER_CHANNEL_HIDDEN, receipt)
            .await
    }

    /// `clearChannelHistory`: for the current user only.
    pub async fn clear_history(&mut self, cid: i64, receipt: Option<&str>) -> ApiResult<()> {
        let channel = self.member_channel(cid).await?;
        self.state.store.clear_history(cid, self.user.id).await?;
        self.reply_channel(&channel, types::USER_CHANNEL_UPDATED, receipt)
            .await?;
        self.own_channel_view_changed(&channel).await
    }

    /// Per-user changes (mute, clear) reach the user's own chat sessions only.
    async fn own_channel_view_changed(&self, channel: &ChannelRow) -> ApiResult<()> {
        let mine = self.state.render_channel(channel, self.user.id).await?;
        self.state.publish_to_channel(
            channel.id,
            ChannelTopic::Self_,
            types::CHANNEL_SELF_UPDATED,
            &mine,
            Exclude::AllBut(self.user.id),
        );
        Ok(())
    }

    /// `readChannel` / `readMessage` / main-thread `readThread`: moves the read
    /// position (never backwards) and announces the receipt of the newest message read.
    pub async fn read_messages(&mut self, cid: i64, up_to: Option<i64>) -> ApiResult<()> {
        self.member_channel(cid).await?;
        if let Some(mid) = self
            .state
            .store
            .read_up_to(cid, self.user.id, up_to)
            .await?
        {
            let receipt = self
                .state
                .render_receipt(mid, &self.user, crate::clock::now_ms());
            self.state.publish_to_channel(
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
    pub async fn trigger_event(&mut self, cid: i64, body: &Value) -> ApiResult<()> {
        let channel = self.member_channel(cid).await?;
        let kind = str_field(body, "type")?
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 100);
        let Some(kind) = kind else {
            return Err(ApiError::validation(
                "A custom event needs a `type` of 1 to 100 characters.",
            ));
        };
        let props = properties(body, self.state.config.max_properties_bytes)?;
        let event = serde_json::json!({
            "type": kind,
            "user": self.state.render_user(&self.user),
            "properties": crate::domain::render::raw_json(&props),
            "_relays": { "channel": chatkitty_protocol::destination::channel_relay(channel.id as u64) },
        });
        self.state.publish_to_channel(
            cid,
            ChannelTopic::Events,
            types::CHANNEL_EVENT_TRIGGERED,
            &event,
            Exclude::User(self.user.id),
        );
        Ok(())
    }
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

fn duplicate(name: &str) -> ApiError {
    ApiError::new(
        names::DUPLICATE_CHANNEL,
        format!("A channel named {name:?} already exists."),
    )
}
