//! Actions: SEND with a JSON body (docs/protocol.md §3.3, 13.3). Dispatch and the helpers
//! every handler shares. Each handler authorises, commits to the database, then
//! answers the originating connection with the result event (carrying `receipt-id`)
//! and fans events out to everyone else concerned; receipt-completed actions
//! (`read*`, `triggerEvent`) answer with the RECEIPT alone.
//!
//! Handlers live by subject: [`crate::domain::channels`], [`crate::domain::users`],
//! [`crate::domain::messages`], [`crate::domain::threads`].

use chatkitty_protocol::destination::{
    Action, ChannelTopic, ChannelVerb, MessageVerb, ThreadVerb, Topic, UserTopic,
};
use chatkitty_protocol::event::types;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::realtime::hub::Exclude;
use crate::state::{event_json, AppState};
use crate::stomp::session::Session;
use crate::store::{ChannelRow, UserRow};

/// Per-request details of an action.
#[derive(Debug, Clone, Copy)]
pub struct ActionCtx<'a> {
    /// The SEND's receipt (correlates the result event).
    pub receipt: Option<&'a str>,
    /// The SEND's idempotency key.
    pub idempotency_key: Option<&'a str>,
}

/// A string field, absent or null → `None`; another type is a validation error.
pub fn str_field<'a>(body: &'a Value, key: &str) -> ApiResult<Option<&'a str>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::validation(format!("`{key}` must be a string."))),
    }
}

impl Session {
    /// Handles an action.
    pub async fn action(
        &mut self,
        action: Action,
        body: Value,
        ctx: ActionCtx<'_>,
    ) -> ApiResult<()> {
        if !body.is_object() {
            return Err(ApiError::validation("The body must be a JSON object."));
        }
        let r = ctx.receipt;
        match action {
            Action::CreateChannel => self.create_channel(&body, r).await,
            Action::UpdateCurrentUser => self.update_current_user(&body, r).await,
            Action::UpdateDisplayPicture => self.update_display_picture(&body, r).await,
            Action::BlockUser(id) => self.block_user(id as i64, r).await,
            Action::DeleteBlockListItem(id) => self.unblock_user(id as i64, r).await,
            Action::Channel(cid, verb) => {
                let cid = cid as i64;
                match verb {
                    ChannelVerb::Message => self.send_to_channel(cid, &body, ctx).await,
                    ChannelVerb::Keystrokes => {
                        self.keystrokes_in(crate::domain::threads::ThreadKey::Main(cid), &body)
                            .await
                    }
                    ChannelVerb::Join => self.join_channel(cid, r).await,
                    ChannelVerb::Leave => self.leave_channel(cid, r).await,
                    ChannelVerb::AddModerator => self.add_moderator(cid, &body, r).await,
                    ChannelVerb::Invite => self.invite(cid, &body, r).await,
                    ChannelVerb::Read => self.read_messages(cid, None).await,
                    ChannelVerb::Mute => self.mute(cid, &body, r).await,
                    ChannelVerb::Call => Err(ApiError::unsupported("Calls")),
                    ChannelVerb::TriggerEvent => self.trigger_event(cid, &body).await,
                    ChannelVerb::Update => self.update_channel(cid, &body, r).await,
                    ChannelVerb::Delete => self.delete_channel(cid, r).await,
                    ChannelVerb::ClearHistory => self.clear_history(cid, r).await,
                    ChannelVerb::Hide => self.hide_channel(cid, r).await,
                    ChannelVerb::CreateThread => self.create_thread(cid, &body, r).await,
                }
            }
            Action::Message(mid, verb) => {
                let mid = mid as i64;
                match verb {
                    MessageVerb::Read => self.read_message(mid).await,
                    MessageVerb::Reply => self.reply(mid, &body, ctx).await,
                    MessageVerb::DeleteForMe => self.delete_for_me(mid, r).await,
                    MessageVerb::Delete => self.delete_message(mid, r).await,
                    MessageVerb::React => self.react(mid, &body, r).await,
                    MessageVerb::Edit => self.edit_message(mid, &body, r).await,
                    MessageVerb::RemoveReaction => self.remove_reaction(mid, &body, r).await,
                }
            }
            Action::Thread(tid, verb) => match verb {
                ThreadVerb::Message => self.send_to_thread(&tid, &body, ctx).await,
                ThreadVerb::Keystrokes => {
                    let (view, _) = self.readable_thread(&tid).await?;
                    self.keystrokes_in(view.key, &body).await
                }
                ThreadVerb::Read => self.read_thread(&tid).await,
            },
        }
    }

    /// A channel the user is a member of (else `NotAChannelMemberError`).
    pub async fn member_channel(&self, cid: i64) -> ApiResult<ChannelRow> {
        let (channel, member) = self.channel_and_membership(cid).await?;
        if !member {
            return Err(ApiError::not_a_member(&channel.name));
        }
        Ok(channel)
    }

    /// Resolves a user reference: `{id}`, `{username}` or a User object (docs/protocol.md
    /// 16.23: apps pass whatever object they have).
    pub async fn user_reference(&self, r: &Value) -> ApiResult<UserRow> {
        if let Some(id) = r.get("id").and_then(Value::as_i64) {
            return self.app_user(id).await;
        }
        let name = r
            .get("username")
            .or_else(|| r.get("name"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ApiError::validation("A user is given as {id: number} or {username: string}.")
            })?;
        self.state
            .store
            .user_by_name(self.app_id, name)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("User {name:?}")))
    }
}

/// Publishes typing started/stopped for `user` in a thread (docs/protocol.md §13.5): on the
/// thread's (for the main thread: the channel's) typing topic, and to the other
/// members' `participants` user topics.
pub async fn publish_typing_in(
    state: &AppState,
    key: crate::domain::threads::ThreadKey,
    cid: i64,
    user: &UserRow,
    started: bool,
) {
    let rendered = state.render_user(user);
    let (chan_type, user_type) = if started {
        (
            types::THREAD_TYPING_STARTED,
            types::PARTICIPANT_TYPING_STARTED,
        )
    } else {
        (
            types::THREAD_TYPING_STOPPED,
            types::PARTICIPANT_TYPING_STOPPED,
        )
    };
    let blockers = state.store.blockers_of(user.id).await.unwrap_or_default();
    let mut excluded = blockers.clone();
    excluded.push(user.id);
    let body = event_json(chan_type, &rendered);
    let dest = match key {
        crate::domain::threads::ThreadKey::Main(_) => {
            Topic::Channel(cid as u64, ChannelTopic::Typing).to_destination()
        }
        _ => key.topic(chatkitty_protocol::destination::ThreadTopic::Typing),
    };
    state.publish(&dest, &body, Exclude::Users(&excluded));
    let members = state.store.member_ids(cid).await.unwrap_or_default();
    let body = event_json(user_type, &rendered);
    for m in members.into_iter().filter(|m| !excluded.contains(m)) {
        let dest = Topic::User(m as u64, UserTopic::Participants).to_destination();
        state.publish(&dest, &body, Exclude::Nobody);
    }
}

/// [`publish_typing_in`] for a channel's main thread.
pub async fn publish_typing(state: &AppState, cid: i64, user: &UserRow, started: bool) {
    publish_typing_in(
        state,
        crate::domain::threads::ThreadKey::Main(cid),
        cid,
        user,
        started,
    )
    .await;
}
