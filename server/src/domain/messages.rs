//! Message actions (docs/protocol.md §6.4, 13.3): sending (channel, reply, thread), edits,
//! deletes, reactions, reads, keystrokes.

use chatkitty_protocol::destination::{ChannelTopic, ThreadTopic, UserTopic};
use chatkitty_protocol::error::names;
use chatkitty_protocol::event::types;
use chatkitty_protocol::resource::{ChannelType, Keystrokes, KeystrokesRelays, MessageType};
use serde_json::Value;

use crate::domain::mentions::{StoredMention, Viewer};
use crate::domain::threads::ThreadKey;
use crate::error::{ApiError, ApiResult};
use crate::limits::{self, properties};
use crate::realtime::hub::Exclude;
use crate::realtime::tracker::TypingChange;
use crate::state::event_json;
use crate::stomp::actions::{publish_typing_in, str_field, ActionCtx};
use crate::stomp::session::{instant_now, Session, ANSWER_WAIT};
use crate::store::{now_ms, ChannelRow, MessageRow, NewMessage};

/// Where a message goes.
#[derive(Debug, Clone, Copy)]
enum Target<'a> {
    /// The channel's main thread.
    Channel,
    /// A reply to this message.
    Reply(&'a MessageRow),
    /// A standalone thread.
    Thread(i64),
}

/// A SEND to a channel's `message` action waiting to be handled with the ones after
/// it (see [`Session::send_batch`]).
pub struct QueuedSend {
    /// Its receipt.
    pub receipt: Option<String>,
    /// Its idempotency key.
    pub idempotency_key: Option<String>,
    /// Its body, parsed.
    pub body: ApiResult<Value>,
}

impl QueuedSend {
    fn ctx(&self) -> ActionCtx<'_> {
        ActionCtx {
            receipt: self.receipt.as_deref(),
            idempotency_key: self.idempotency_key.as_deref(),
        }
    }
}

/// A new message's mentions.
struct Mentions {
    /// As stored: references.
    stored: String,
    /// Who is mentioned.
    who: Vec<crate::domain::notify::Mentioned>,
    /// As the channel's readers see them.
    rendered: Option<Vec<Value>>,
}

/// A new message's checked fields, borrowing from its request body.
struct Prepared<'b> {
    kind: MessageType,
    text: Option<&'b str>,
    file: Option<String>,
    props: String,
    group_tag: Option<&'b str>,
    mentions: Option<Mentions>,
    links: Option<String>,
    created_ms: i64,
}

impl Prepared<'_> {
    fn new_message<'n>(
        &'n self,
        user_id: i64,
        channel: &ChannelRow,
        target: Target<'_>,
        ctx: ActionCtx<'n>,
    ) -> NewMessage<'n> {
        let (parent_id, thread_id) = match target {
            Target::Channel => (None, None),
            Target::Reply(p) => (Some(p.id), None),
            Target::Thread(t) => (None, Some(t)),
        };
        NewMessage {
            channel_id: channel.id,
            user_id: Some(user_id),
            kind: self.kind,
            body: self.text,
            file: self.file.as_deref(),
            properties: &self.props,
            group_tag: self.group_tag,
            parent_id,
            thread_id,
            mentions: self.mentions.as_ref().map(|m| m.stored.as_str()),
            links: self.links.as_deref(),
            created_ms: self.created_ms,
            idempotency_key: ctx.idempotency_key,
        }
    }
}

impl Session {
    /// A message the user may read, with its channel.
    pub async fn readable_message(&self, id: i64) -> ApiResult<(MessageRow, ChannelRow)> {
        let m = self
            .state
            .store
            .message(id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("Message {id}")))?;
        let channel = self.readable_channel(m.channel_id).await.map_err(|e| {
            if e.name == names::NOT_FOUND {
                ApiError::not_found(format!("Message {id}"))
            } else {
                e
            }
        })?;
        Ok((m, channel))
    }

    /// `sendMessage({channel, …})`.
    pub async fn send_to_channel(
        &mut self,
        cid: i64,
        body: &Value,
        ctx: ActionCtx<'_>,
    ) -> ApiResult<()> {
        let (channel, audience) = self.channel_send_context(cid).await?;
        self.send(channel, audience, Target::Channel, body, ctx)
            .await
    }

    /// The channel a message is sent to and its audience, in one query (a send to a
    /// channel is the hot path): refused for an unknown channel, a channel the user is
    /// not a member of and a blocked direct channel.
    async fn channel_send_context(&self, cid: i64) -> ApiResult<(ChannelRow, Audience)> {
        let sc = self
            .state
            .store
            .send_context(self.app_id, cid, self.user.id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("Channel {cid}")))?;
        if !sc.members.iter().any(|m| m.id == self.user.id) {
            return Err(ApiError::not_a_member(&sc.channel.name));
        }
        let audience = Audience::new(
            &sc.channel,
            self.user.id,
            sc.members,
            sc.sender,
            sc.blockers,
            &sc.blocked,
        )?;
        Ok((sc.channel, audience))
    }

    /// Consecutive SENDs of this connection to one channel's `message` action, that
    /// arrived together (docs/protocol.md §13.3): handled as if one after the other (each
    /// answered in order, with its result event or its error, then its RECEIPT), but
    /// with one context query and one insert for all of them. Under load a
    /// connection's sends queue up while the previous ones are stored; taking them
    /// together keeps the database's per-statement cost from setting its pace.
    pub async fn send_batch(&mut self, cid: i64, sends: Vec<QueuedSend>) {
        let context = self.channel_send_context(cid).await;
        let (channel, audience) = match context {
            Ok(c) => c,
            Err(e) => {
                for s in &sends {
                    self.conn.room(2, ANSWER_WAIT).await;
                    self.answer(Err(e.clone()), s);
                }
                return;
            }
        };
        let mut prepared: Vec<ApiResult<Prepared<'_>>> = Vec::with_capacity(sends.len());
        for s in &sends {
            prepared.push(match &s.body {
                Ok(body) if body.is_object() => self.prepare(body).await,
                Ok(_) => Err(ApiError::validation("The body must be a JSON object.")),
                Err(e) => Err(e.clone()),
            });
        }
        let news: Vec<NewMessage<'_>> = prepared
            .iter()
            .zip(&sends)
            .filter_map(|(p, s)| {
                let ctx = s.ctx();
                p.as_ref()
                    .ok()
                    .map(|p| p.new_message(self.user.id, &channel, Target::Channel, ctx))
            })
            .collect();
        let stored = self.state.store.insert_messages(&news).await;
        drop(news);
        let mut stored = match stored {
            Ok(rows) => Ok(rows.into_iter()),
            Err(e) => Err(ApiError::from(e)),
        };
        for (p, s) in prepared.into_iter().zip(&sends) {
            // Its result event or error, its RECEIPT and its copy on a channel topic.
            self.conn.room(3, ANSWER_WAIT).await;
            let result = match (p, &mut stored) {
                (Err(e), _) => Err(e),
                (Ok(_), Err(e)) => Err(e.clone()),
                (Ok(p), Ok(rows)) => match rows.next() {
                    Some((row, new)) => {
                        self.announce(&channel, &audience, Target::Channel, p, row, new, s.ctx())
                            .await
                    }
                    None => Err(ApiError::internal()),
                },
            };
            self.answer(result, s);
        }
    }

    /// A queued send's error, if it failed, then its RECEIPT.
    fn answer(&mut self, result: ApiResult<()>, s: &QueuedSend) {
        if let Err(e) = result {
            self.send_error(
                &e,
                crate::stomp::session::Correlation {
                    receipt_id: s.receipt.as_deref(),
                    ..Default::default()
                },
            );
        }
        if let Some(r) = &s.receipt {
            self.conn.send(crate::stomp::session::receipt_frame(r));
        }
    }

    /// `sendMessage({message, …})`: a reply.
    pub async fn reply(&mut self, mid: i64, body: &Value, ctx: ActionCtx<'_>) -> ApiResult<()> {
        let (parent, channel) = self.readable_message(mid).await?;
        self.member_channel(channel.id).await?;
        let audience = audience(&self.state, &channel, Some(self.user.id)).await?;
        self.send(channel, audience, Target::Reply(&parent), body, ctx)
            .await
    }

    /// `sendMessage({thread, …})`.
    pub async fn send_to_thread(
        &mut self,
        tid: &str,
        body: &Value,
        ctx: ActionCtx<'_>,
    ) -> ApiResult<()> {
        let (view, channel) = self.readable_thread(tid).await?;
        self.member_channel(channel.id).await?;
        let audience = audience(&self.state, &channel, Some(self.user.id)).await?;
        match view.key {
            ThreadKey::Main(_) => {
                self.send(channel, audience, Target::Channel, body, ctx)
                    .await
            }
            ThreadKey::Standalone(t) => {
                self.send(channel, audience, Target::Thread(t), body, ctx)
                    .await
            }
            ThreadKey::Message(m) => {
                let (parent, _) = self.readable_message(m).await?;
                self.send(channel, audience, Target::Reply(&parent), body, ctx)
                    .await
            }
        }
    }

    async fn send(
        &mut self,
        channel: ChannelRow,
        audience: Audience,
        target: Target<'_>,
        body: &Value,
        ctx: ActionCtx<'_>,
    ) -> ApiResult<()> {
        let p = self.prepare(body).await?;
        let (row, new) = self
            .state
            .store
            .insert_message(&p.new_message(self.user.id, &channel, target, ctx))
            .await?;
        self.announce(&channel, &audience, target, p, row, new, ctx)
            .await
    }

    /// Checks a new message's body and resolves its mentions and links.
    async fn prepare<'b>(&self, body: &'b Value) -> ApiResult<Prepared<'b>> {
        let kind = str_field(body, "type")?.unwrap_or(if body.get("file").is_some() {
            "FILE"
        } else {
            "TEXT"
        });
        let group_tag = limits::bounded(
            "groupTag",
            str_field(body, "groupTag")?,
            limits::MAX_GROUP_TAG_CHARS,
        )?;
        let props = properties(body, self.state.config.max_properties_bytes)?;
        let (mtype, text, file) = match kind {
            "TEXT" => {
                if body.get("file").is_some_and(|f| !f.is_null()) {
                    return Err(ApiError::validation(
                        "A message has a `body` or a `file`, not both.",
                    ));
                }
                (MessageType::Text, Some(self.valid_text(body)?), None)
            }
            "FILE" => (MessageType::File, None, Some(external_file(body)?)),
            other => {
                return Err(ApiError::validation(format!(
                    "Unknown message type {other:?}: use TEXT or FILE."
                )))
            }
        };
        let mentions = match text {
            Some(t) => self.mentions(t).await?,
            None => None,
        };
        let links = text.map(crate::domain::text::links_json);
        Ok(Prepared {
            kind: mtype,
            text,
            file,
            props,
            group_tag,
            mentions,
            links,
            created_ms: now_ms(),
        })
    }

    /// Answers the sender of a stored message and tells everyone else.
    #[allow(clippy::too_many_arguments)]
    async fn announce(
        &self,
        channel: &ChannelRow,
        audience: &Audience,
        target: Target<'_>,
        p: Prepared<'_>,
        row: MessageRow,
        new: bool,
        ctx: ActionCtx<'_>,
    ) -> ApiResult<()> {
        let state = &self.state;
        // The sender as just loaded with the members (fresh, should another session
        // have renamed them).
        let sender = audience.sender.as_ref().unwrap_or(&self.user);
        let mentions = p.mentions;
        let message = if new {
            let mut m = state.render_new_message(&row, Some(sender));
            m.mentions = mentions.as_ref().and_then(|m| m.rendered.clone());
            m
        } else {
            state
                .render_one_message(self.app_id, &row, Viewer::Audience)
                .await?
        };
        let created = event_json(types::USER_MESSAGE_CREATED, &message);
        let ack = || self.reply_event(UserTopic::Messages, &created, ctx.receipt);
        let keyed = ctx.idempotency_key.is_some() && state.cluster.is_clustered();
        if !new && (!keyed || state.store.message_announced(row.id).await?) {
            // A retried send: already stored and announced once.
            ack();
            return Ok(());
        }
        // A new message, or a retry of one whose node may have died before telling
        // the other nodes: (again) announced, the retry's duplicates being dropped by
        // message id on the clients.
        let (key, parent) = match target {
            Target::Channel => (ThreadKey::Main(channel.id), None),
            Target::Reply(p) => (ThreadKey::Message(p.id), Some(p)),
            Target::Thread(t) => (ThreadKey::Standalone(t), None),
        };
        let mentioned = mentions.map(|m| m.who).unwrap_or_default();
        deliver_new_message(
            state,
            self.app_id,
            Some(&self.user),
            channel,
            &row,
            &message,
            key,
            parent,
            &mentioned,
            audience,
            ack,
        )
        .await?;
        if keyed {
            state.store.mark_announced(row.id).await?;
        }
        Ok(())
    }

    fn valid_text<'a>(&self, body: &'a Value) -> ApiResult<&'a str> {
        let text = str_field(body, "body")?.unwrap_or("");
        if text.trim().is_empty() {
            return Err(ApiError::validation(
                "A text message needs a non-empty `body`.",
            ));
        }
        let max = self.state.config.max_message_chars;
        if text.chars().count() > max {
            return Err(ApiError::new(
                names::PAYLOAD_TOO_LARGE,
                format!("A message body is at most {max} characters."),
            ));
        }
        Ok(text)
    }

    /// Resolves the first `--max-mentions` `<@username>` and `<#channel>` tags
    /// (docs/protocol.md §12.3) into references to store (see [`crate::domain::mentions`]), who was
    /// mentioned (for notifications) and the mentions as the channel's readers see them.
    /// A channel the sender may not read is not mentioned.
    async fn mentions(&self, text: &str) -> ApiResult<Option<Mentions>> {
        let tags = crate::domain::text::mention_tags(text, self.state.config.max_mentions);
        if tags.is_empty() {
            return Ok(None);
        }
        let mut stored = Vec::new();
        let mut who = Vec::new();
        for t in &tags {
            if t.kind == "USER" {
                let Some(u) = self.state.store.user_by_name(self.app_id, &t.name).await? else {
                    continue;
                };
                stored.push(StoredMention::user(t, u.id));
                who.push(crate::domain::notify::Mentioned::User(u.id));
            } else {
                let Some(c) = self
                    .state
                    .store
                    .channel_by_name(self.app_id, &t.name)
                    .await?
                else {
                    continue;
                };
                if self.readable_channel(c.id).await.is_err() {
                    continue;
                }
                stored.push(StoredMention::channel(t, c.id));
                who.push(crate::domain::notify::Mentioned::Channel(c.id));
            }
        }
        if stored.is_empty() {
            return Ok(None);
        }
        let state = &self.state;
        let targets = state
            .mention_targets(self.app_id, [stored.as_slice()], Viewer::Audience)
            .await?;
        let rendered = state
            .render_mentions(&stored, &targets, Viewer::Audience)
            .await?;
        Ok(Some(Mentions {
            stored: crate::domain::mentions::to_json(&stored),
            who,
            rendered,
        }))
    }

    /// The user's own, not deleted, message.
    async fn own_message(&self, mid: i64, what: &str) -> ApiResult<(MessageRow, ChannelRow)> {
        let (m, channel) = self.readable_message(mid).await?;
        if m.deleted_ms.is_some() {
            return Err(ApiError::validation(format!("Message {mid} was deleted.")));
        }
        if m.user_id != Some(self.user.id) {
            let moderator = what == "delete"
                && self
                    .state
                    .store
                    .membership(channel.id, self.user.id)
                    .await?
                    .is_some_and(|mm| mm.role == "MODERATOR")
                && channel.kind != ChannelType::Direct;
            if !moderator {
                return Err(ApiError::forbidden(format!(
                    "You can only {what} your own messages."
                )));
            }
        }
        Ok((m, channel))
    }

    /// `editMessage`: the sender changes a text message's body.
    pub async fn edit_message(
        &mut self,
        mid: i64,
        body: &Value,
        receipt: Option<&str>,
    ) -> ApiResult<()> {
        let (m, channel) = self.own_message(mid, "edit").await?;
        if m.file.is_some() {
            return Err(ApiError::validation("Only text messages can be edited."));
        }
        let text = self.valid_text(body)?;
        let mentions = self.mentions(text).await?;
        let links = crate::domain::text::links_json(text);
        self.state
            .store
            .edit_message(
                mid,
                text,
                mentions.as_ref().map(|m| m.stored.as_str()),
                Some(&links),
            )
            .await?;
        self.message_changed(mid, &channel, types::USER_MESSAGE_UPDATED, receipt)
            .await
    }

    /// `deleteMessage`: for everyone, by its sender or a moderator of a group channel.
    pub async fn delete_message(&mut self, mid: i64, receipt: Option<&str>) -> ApiResult<()> {
        let (_, channel) = self.own_message(mid, "delete").await?;
        self.state.store.delete_message(mid).await?;
        self.message_changed(mid, &channel, types::USER_MESSAGE_DELETED, receipt)
            .await?;
        let m = self
            .state
            .store
            .message(mid)
            .await?
            .ok_or_else(ApiError::internal)?;
        let rendered = self
            .state
            .render_one_message(self.app_id, &m, Viewer::Audience)
            .await?;
        self.state.publish_to_channel(
            channel.id,
            ChannelTopic::Messages,
            types::CHANNEL_MESSAGE_DELETED,
            &rendered,
            Exclude::Nobody,
        );
        Ok(())
    }

    /// Result to the actor and `channel.message.updated` to the channel.
    async fn message_changed(
        &self,
        mid: i64,
        channel: &ChannelRow,
        kind: &str,
        receipt: Option<&str>,
    ) -> ApiResult<()> {
        let m = self
            .state
            .store
            .message(mid)
            .await?
            .ok_or_else(ApiError::internal)?;
        let rendered = self
            .state
            .render_one_message(self.app_id, &m, Viewer::Audience)
            .await?;
        self.reply_event(UserTopic::Messages, &event_json(kind, &rendered), receipt);
        let blockers = match m.user_id {
            Some(u) => self.state.store.blockers_of(u).await?,
            None => Vec::new(),
        };
        self.state.publish_to_channel(
            channel.id,
            ChannelTopic::Messages,
            types::CHANNEL_MESSAGE_UPDATED,
            &rendered,
            Exclude::Users(&blockers),
        );
        Ok(())
    }

    /// `deleteMessageForMe`: hidden for the current user only.
    pub async fn delete_for_me(&mut self, mid: i64, receipt: Option<&str>) -> ApiResult<()> {
        let (m, channel) = self.readable_message(mid).await?;
        self.member_channel(channel.id).await?;
        self.state.store.hide_message(self.user.id, mid).await?;
        let rendered = self
            .state
            .render_one_message(self.app_id, &m, Viewer::User(self.user.id))
            .await?;
        self.reply_event(
            UserTopic::Messages,
            &event_json(types::USER_MESSAGE_DELETED, &rendered),
            receipt,
        );
        Ok(())
    }

    /// `readMessage`: moves the read position up to the message (never backwards)
    /// and always announces the receipt of that message — an explicit read is news even
    /// when a later message of one's own had already moved the position past it.
    pub async fn read_message(&mut self, mid: i64) -> ApiResult<()> {
        let (m, channel) = self.readable_message(mid).await?;
        self.member_channel(channel.id).await?;
        self.state
            .store
            .read_up_to(channel.id, self.user.id, Some(mid))
            .await?;
        if m.user_id != Some(self.user.id) {
            let receipt = self.state.render_receipt(mid, &self.user, now_ms());
            self.state.publish_to_channel(
                channel.id,
                ChannelTopic::ReadReceipts,
                types::MESSAGE_READ_RECEIPT_CREATED,
                &receipt,
                Exclude::Nobody,
            );
        }
        Ok(())
    }

    /// `reactToMessage`.
    pub async fn react(&mut self, mid: i64, body: &Value, receipt: Option<&str>) -> ApiResult<()> {
        let (m, channel) = self.readable_message(mid).await?;
        self.member_channel(channel.id).await?;
        if m.deleted_ms.is_some() {
            return Err(ApiError::validation(format!("Message {mid} was deleted.")));
        }
        let emoji = emoji_of(body)?;
        let (added, row) = self
            .state
            .store
            .add_reaction(mid, self.user.id, emoji.character)
            .await?;
        if !added {
            return Err(ApiError::validation(format!(
                "You already reacted with {} to this message.",
                emoji.character
            )));
        }
        let reaction = self.state.render_reaction(&row, &self.user);
        self.reply_event(
            UserTopic::Reactions,
            &event_json(types::USER_REACTION_CREATED, &reaction),
            receipt,
        );
        self.state.publish_to_channel(
            channel.id,
            ChannelTopic::Reactions,
            types::MESSAGE_REACTION_CREATED,
            &reaction,
            Exclude::Nobody,
        );
        Ok(())
    }

    /// `removeReaction`.
    pub async fn remove_reaction(
        &mut self,
        mid: i64,
        body: &Value,
        receipt: Option<&str>,
    ) -> ApiResult<()> {
        let (_, channel) = self.readable_message(mid).await?;
        let emoji = emoji_of(body)?;
        let row = self
            .state
            .store
            .remove_reaction(mid, self.user.id, emoji.character)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("Your {} reaction", emoji.character)))?;
        let reaction = self.state.render_reaction(&row, &self.user);
        self.reply_event(
            UserTopic::Reactions,
            &event_json(types::USER_REACTION_REMOVED, &reaction),
            receipt,
        );
        self.state.publish_to_channel(
            channel.id,
            ChannelTopic::Reactions,
            types::MESSAGE_REACTION_REMOVED,
            &reaction,
            Exclude::Nobody,
        );
        Ok(())
    }

    /// `sendKeystrokes` in a thread (the main thread: the channel): the draft to the
    /// other participants, and typing started/stopped (docs/protocol.md §13.5).
    pub async fn keystrokes_in(&mut self, key: ThreadKey, body: &Value) -> ApiResult<()> {
        let state = self.state.clone();
        let cid = match key {
            ThreadKey::Main(c) => c,
            other => self.readable_thread(&other.to_id()).await?.1.id,
        };
        self.member_channel(cid).await?;
        let keys = str_field(body, "keys")?.unwrap_or("");
        let ks = Keystrokes {
            username: self.user.name.clone(),
            keys: keys.to_owned(),
            relays: KeystrokesRelays {
                thread: (!matches!(key, ThreadKey::Main(_))).then(|| {
                    chatkitty_protocol::destination::Relay::Thread(key.to_id()).to_destination()
                }),
                user: chatkitty_protocol::destination::user_relay(self.user.id as u64),
            },
        };
        let mut excluded = state.store.blockers_of(self.user.id).await?;
        excluded.push(self.user.id);
        let dest = match key {
            ThreadKey::Main(_) => chatkitty_protocol::destination::Topic::Channel(
                cid as u64,
                ChannelTopic::Keystrokes,
            )
            .to_destination(),
            other => other.topic(ThreadTopic::Keystrokes),
        };
        state.publish(
            &dest,
            &event_json(types::THREAD_KEYSTROKES_CREATED, &ks),
            Exclude::Users(&excluded),
        );
        match state.typing.keystrokes(
            &key.to_id(),
            cid,
            self.user.id,
            keys.is_empty(),
            instant_now(),
        ) {
            TypingChange::Started => publish_typing_in(&state, key, cid, &self.user, true).await,
            TypingChange::Stopped => publish_typing_in(&state, key, cid, &self.user, false).await,
            TypingChange::None => {}
        }
        Ok(())
    }
}

/// Fan-out of a new message (docs/protocol.md §13.3), whichever way it was sent (action or
/// upload): typing stops, the channel's chat sessions (including the sender's) and the
/// thread's topic get it, hidden direct channels reappear, members are notified.
///
/// `ack` (the sender's result event) runs once the other nodes have the message and
/// before this node's subscribers get it: the sender's connection sees its result
/// first, and an acknowledged message cannot be lost with a node that dies right after.
#[allow(clippy::too_many_arguments)]
pub async fn deliver_new_message(
    state: &crate::state::AppState,
    app_id: i64,
    sender: Option<&crate::store::UserRow>,
    channel: &ChannelRow,
    row: &MessageRow,
    message: &chatkitty_protocol::resource::Message,
    key: ThreadKey,
    parent: Option<&MessageRow>,
    mentioned: &[crate::domain::notify::Mentioned],
    audience: &Audience,
    ack: impl FnOnce(),
) -> ApiResult<()> {
    let blockers = &audience.blockers;
    if let Some(sender) = sender {
        state.cluster.stop_typing(&key.to_id(), sender.id);
        if state.typing.stop(&key.to_id(), sender.id) {
            publish_typing_in(state, key, channel.id, sender, false).await;
        }
    }
    let events = [
        (
            chatkitty_protocol::destination::Topic::Channel(
                channel.id as u64,
                ChannelTopic::Messages,
            )
            .to_destination(),
            event_json(types::CHANNEL_MESSAGE_CREATED, message),
        ),
        (
            key.topic(ThreadTopic::Messages),
            event_json(types::THREAD_MESSAGE_CREATED, message),
        ),
    ];
    for (dest, body) in &events {
        state.cluster.forward(dest, body, Exclude::Users(blockers));
    }
    state.cluster.flush().await;
    ack();
    for (dest, body) in &events {
        state.hub.deliver(dest, body, Exclude::Users(blockers));
    }
    // The insert unhid the channel for these (migration 4).
    for uid in audience.members.iter().filter(|m| m.hidden).map(|m| m.id) {
        let theirs = state.render_channel(channel, uid).await?;
        state.publish_to_user(
            uid,
            UserTopic::Channels,
            types::USER_CHANNEL_UNHIDDEN,
            &theirs,
        );
    }
    crate::domain::notify::message_created(
        state, app_id, channel, row, message, sender, parent, mentioned, audience,
    )
    .await
}

/// Who a new message goes to, loaded before it is stored: the channel's members (with
/// their mute and hide flags), the sender as stored now and the users who blocked them.
pub struct Audience {
    /// The channel's members.
    pub members: Vec<crate::store::Member>,
    /// The sender, freshly loaded (another session may have renamed them).
    pub sender: Option<crate::store::UserRow>,
    /// Users who blocked the sender: they do not get the message.
    pub blockers: Vec<i64>,
}

/// Loads a new message's [`Audience`], refusing it in a direct channel where one
/// member blocked the other.
pub async fn audience(
    state: &crate::state::AppState,
    channel: &ChannelRow,
    sender: Option<i64>,
) -> ApiResult<Audience> {
    let (members, sender_row) = state.store.channel_members(channel.id, sender).await?;
    let Some(sender) = sender else {
        return Ok(Audience {
            members,
            sender: None,
            blockers: Vec::new(),
        });
    };
    let (blockers, blocked) = state.store.blocks_of(sender).await?;
    Audience::new(channel, sender, members, sender_row, blockers, &blocked)
}

impl Audience {
    /// The audience of a message `sender` sends, refused in a direct channel where
    /// one member blocked the other.
    pub fn new(
        channel: &ChannelRow,
        sender: i64,
        members: Vec<crate::store::Member>,
        sender_row: Option<crate::store::UserRow>,
        blockers: Vec<i64>,
        blocked: &[i64],
    ) -> ApiResult<Audience> {
        if channel.kind == ChannelType::Direct
            && members
                .iter()
                .any(|m| m.id != sender && (blockers.contains(&m.id) || blocked.contains(&m.id)))
        {
            return Err(ApiError::new(
                names::USER_BLOCKED,
                "This conversation is blocked: one of its members has blocked the other.",
            ));
        }
        Ok(Audience {
            members,
            sender: sender_row,
            blockers,
        })
    }
}

fn emoji_of(body: &Value) -> ApiResult<&'static crate::domain::emoji::Emoji> {
    let name =
        str_field(body, "emoji")?.ok_or_else(|| ApiError::validation("`emoji` is required."))?;
    crate::domain::emoji::lookup(name)
        .ok_or_else(|| ApiError::validation(format!("Unknown emoji {name:?}: use an alias such as +1, heart or smiley, or the emoji itself.")))
}

/// `{type:"FILE", file:{url,name,contentType,size}}` → stored file JSON.
fn external_file(body: &Value) -> ApiResult<String> {
    if body.get("body").is_some_and(|b| !b.is_null()) {
        return Err(ApiError::validation(
            "A message has a `body` or a `file`, not both.",
        ));
    }
    let f = body
        .get("file")
        .ok_or_else(|| ApiError::validation("A FILE message needs `file`."))?;
    let url = f
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    let url = limits::bounded("file.url", url, limits::MAX_URL_CHARS)?;
    let name = limits::bounded(
        "file.name",
        f.get("name").and_then(Value::as_str),
        limits::MAX_FILE_NAME_CHARS,
    )?;
    let content_type = limits::bounded(
        "file.contentType",
        f.get("contentType").and_then(Value::as_str),
        limits::MAX_CONTENT_TYPE_CHARS,
    )?
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
