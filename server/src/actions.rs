//! Actions: SEND with a JSON body (PROTOCOL.md 3.3, 13.3). Each handler authorises,
//! commits to the database, then answers the originating connection with the result
//! event (carrying `receipt-id`) and fans events out to everyone else concerned.

use chatkitty_protocol::destination::{Action, ChannelTopic, ChannelVerb, Topic, UserTopic};
use chatkitty_protocol::error::names;
use chatkitty_protocol::event::types;
use chatkitty_protocol::resource::{ChannelType, Keystrokes, KeystrokesRelays, MessageType};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::hub::Exclude;
use crate::session::{instant_now, Session};
use crate::state::{event_json, AppState};
use crate::store::{now_ms, NewMessage, StoreError, UserRow};
use crate::tracker::TypingChange;

/// Direct channels have at most this many members, creator included.
pub const MAX_DIRECT_MEMBERS: usize = 10;
/// Longest channel name.
pub const MAX_CHANNEL_NAME: usize = 100;

/// Per-request details of an action.
#[derive(Debug, Clone, Copy)]
pub struct ActionCtx<'a> {
    /// The SEND's receipt (correlates the result event).
    pub receipt: Option<&'a str>,
    /// The SEND's idempotency key.
    pub idempotency_key: Option<&'a str>,
}

fn str_field<'a>(body: &'a Value, key: &str) -> ApiResult<Option<&'a str>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::validation(format!("`{key}` must be a string."))),
    }
}

/// `properties`: an object (default `{}`), as JSON text.
fn properties(body: &Value) -> ApiResult<String> {
    match body.get("properties") {
        None | Some(Value::Null) => Ok("{}".to_owned()),
        Some(v @ Value::Object(_)) => Ok(v.to_string()),
        Some(_) => Err(ApiError::validation("`properties` must be an object.")),
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
        match action {
            Action::CreateChannel => self.create_channel(&body, ctx).await,
            Action::Channel(cid, ChannelVerb::Message) => {
                self.send_message(cid as i64, &body, ctx).await
            }
            Action::Channel(cid, ChannelVerb::Keystrokes) => {
                self.keystrokes(cid as i64, &body).await
            }
            other => Err(ApiError::unsupported(&format!(
                "The action {}",
                other.to_destination()
            ))),
        }
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
        let mut out: Vec<UserRow> = Vec::new();
        for m in list {
            let user = if let Some(id) = m.get("id").and_then(Value::as_i64) {
                self.state
                    .store
                    .user(self.app_id, id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("User {id}")))?
            } else if let Some(name) = m
                .get("username")
                .or_else(|| m.get("name"))
                .and_then(Value::as_str)
            {
                match self.state.store.user_by_name(self.app_id, name).await? {
                    Some(u) => u,
                    // With guest sessions on, a username that has not signed in yet is
                    // created, so a conversation can start before the other person joins.
                    None if self.state.config.guest_sessions && !name.trim().is_empty() => {
                        self.state
                            .store
                            .user_or_create(self.app_id, name, true)
                            .await?
                    }
                    None => return Err(ApiError::not_found(format!("User {name:?}"))),
                }
            } else {
                return Err(ApiError::validation(
                    "Each member must be {id: number} or {username: string}.",
                ));
            };
            if !out.iter().any(|u| u.id == user.id) {
                out.push(user);
            }
        }
        Ok(out)
    }

    async fn create_channel(&mut self, body: &Value, ctx: ActionCtx<'_>) -> ApiResult<()> {
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
        let props = properties(body)?;
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
                let name = str_field(body, "name")?.map(str::trim).unwrap_or("");
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
                    Err(StoreError::Conflict) => {
                        return Err(ApiError::new(
                            names::DUPLICATE_CHANNEL,
                            format!("A channel named {name:?} already exists."),
                        ))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let kind_name = if created {
            types::USER_CHANNEL_CREATED
        } else {
            types::USER_CHANNEL_UPSERTED
        };
        let mine = state.render_channel(&channel, self.user.id).await?;
        self.reply_event(
            UserTopic::Channels,
            &event_json(kind_name, &mine),
            ctx.receipt,
        );
        if created {
            for &m in &others {
                let theirs = state.render_channel(&channel, m).await?;
                state.publish_to_user(m, UserTopic::Channels, types::USER_CHANNEL_JOINED, &theirs);
            }
        }
        Ok(())
    }

    async fn send_message(&mut self, cid: i64, body: &Value, ctx: ActionCtx<'_>) -> ApiResult<()> {
        let state = self.state.clone();
        let channel = self.readable_channel(cid).await?;
        if state.store.membership(cid, self.user.id).await?.is_none() {
            return Err(ApiError::not_a_member(&channel.name));
        }
        let kind = str_field(body, "type")?.unwrap_or("TEXT");
        let group_tag = str_field(body, "groupTag")?;
        let props = properties(body)?;
        let (mtype, text, file) = match kind {
            "TEXT" => {
                let text = str_field(body, "body")?.unwrap_or("");
                if text.trim().is_empty() {
                    return Err(ApiError::validation(
                        "A text message needs a non-empty `body`.",
                    ));
                }
                let max = state.config.max_message_chars;
                if text.chars().count() > max {
                    return Err(ApiError::new(
                        names::PAYLOAD_TOO_LARGE,
                        format!("A message body is at most {max} characters."),
                    ));
                }
                (MessageType::Text, Some(text), None)
            }
            "FILE" => (MessageType::File, None, Some(external_file(body)?)),
            other => {
                return Err(ApiError::validation(format!(
                    "Unknown message type {other:?}: use TEXT or FILE."
                )))
            }
        };
        let links = text.map(crate::text::links_json);
        let (row, new) = state
            .store
            .insert_message(&NewMessage {
                channel_id: cid,
                user_id: Some(self.user.id),
                kind: mtype,
                body: text,
                file: file.as_deref(),
                properties: &props,
                group_tag,
                parent_id: None,
                mentions: None,
                links: links.as_deref(),
                created_ms: now_ms(),
                idempotency_key: ctx.idempotency_key,
            })
            .await?;
        let message = state.render_message(&row, Some(&self.user));
        self.reply_event(
            UserTopic::Messages,
            &event_json(types::USER_MESSAGE_CREATED, &message),
            ctx.receipt,
        );
        if !new {
            // A retried send: already stored and announced once.
            return Ok(());
        }
        if state.typing.stop(cid, self.user.id) {
            publish_typing(&state, cid, &self.user, false).await;
        }
        state.publish_to_channel(
            cid,
            ChannelTopic::Messages,
            types::CHANNEL_MESSAGE_CREATED,
            &message,
            Exclude::Nobody,
        );
        Ok(())
    }

    async fn keystrokes(&mut self, cid: i64, body: &Value) -> ApiResult<()> {
        let state = self.state.clone();
        let channel = self.readable_channel(cid).await?;
        if state.store.membership(cid, self.user.id).await?.is_none() {
            return Err(ApiError::not_a_member(&channel.name));
        }
        let keys = str_field(body, "keys")?.unwrap_or("");
        let ks = Keystrokes {
            username: self.user.name.clone(),
            keys: keys.to_owned(),
            relays: KeystrokesRelays {
                thread: None,
                user: chatkitty_protocol::destination::user_relay(self.user.id as u64),
            },
        };
        state.publish_to_channel(
            cid,
            ChannelTopic::Keystrokes,
            types::THREAD_KEYSTROKES_CREATED,
            &ks,
            Exclude::User(self.user.id),
        );
        match state
            .typing
            .keystrokes(cid, self.user.id, keys.is_empty(), instant_now())
        {
            TypingChange::Started => publish_typing(&state, cid, &self.user, true).await,
            TypingChange::Stopped => publish_typing(&state, cid, &self.user, false).await,
            TypingChange::None => {}
        }
        Ok(())
    }
}

/// `{type:"FILE", file:{url,name,contentType,size}}` → stored file JSON.
fn external_file(body: &Value) -> ApiResult<String> {
    let f = body
        .get("file")
        .ok_or_else(|| ApiError::validation("A FILE message needs `file`."))?;
    let url = f
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    let name = f.get("name").and_then(Value::as_str);
    let content_type = f
        .get("contentType")
        .and_then(Value::as_str)
        .unwrap_or("application/octet-stream");
    let size = f.get("size").and_then(Value::as_u64);
    match (url, name, size) {
        (Some(url), Some(name), Some(size)) => Ok(serde_json::json!({
            "type": "EXTERNAL", "url": url, "name": name, "contentType": content_type, "size": size
        })
        .to_string()),
        _ => Err(ApiError::validation(
            "An external file needs `url` (http or https), `name`, `contentType` and `size`.",
        )),
    }
}

/// Publishes typing started/stopped for `user` in `cid` (PROTOCOL.md 13.5): on the
/// channel's typing topic, and to the other members' `participants` user topics.
pub async fn publish_typing(state: &AppState, cid: i64, user: &UserRow, started: bool) {
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
    state.publish_to_channel(
        cid,
        ChannelTopic::Typing,
        chan_type,
        &rendered,
        Exclude::User(user.id),
    );
    let members = state.store.member_ids(cid).await.unwrap_or_default();
    let body = event_json(user_type, &rendered);
    for m in members.into_iter().filter(|&m| m != user.id) {
        let dest = Topic::User(m as u64, UserTopic::Participants).to_destination();
        state.publish(&dest, &body, Exclude::Nobody);
    }
}
