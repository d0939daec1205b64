//! The one pipeline every new message goes through, whoever sends it: a user over STOMP
//! (`sendMessage`, replies, threads), an upload over HTTP, or the app's backend through
//! the Platform API (docs/protocol.md §13.3).
//!
//! 1. [`destination`]: where it goes, authorised, with its [`Audience`] loaded before
//!    anything is stored (a direct channel with a block refuses here).
//! 2. [`Content`]: what it is, checked ([`user_content`], [`hosted_file`],
//!    [`system_text`]): text within `--max-message-chars`, mentions resolved and
//!    bounded, links found, properties within their limit.
//! 3. Admitted by moderation ([`admit`]: not muted, not too soon in slow mode; a
//!    user's message only), then screened by the app's before-send hook, if any
//!    ([`screen`], [`screen_all`] for a batch: `super::before_send`): allowed, rejected
//!    with `MessageRejectedError`, or replaced. Every path calls both between 2 and 4.
//! 4. Stored ([`store_one`], or [`store_many`] for a batch), idempotently by key.
//! 5. [`announce`]: the sender's result once the other nodes have the message, then
//!    the channel's and thread's topics, hidden direct channels shown again, members
//!    notified.
//!
//! [`post`] runs 3 to 5 for one message.

use chatkitty_protocol::destination::{ChannelTopic, ThreadTopic, Topic, UserTopic};
use chatkitty_protocol::error::names;
use chatkitty_protocol::event::types;
use chatkitty_protocol::request::{ExternalFile, SendMessage};
use chatkitty_protocol::resource::{Message, MessageType};
use chatkitty_protocol::thread::ThreadKey;
use serde_json::{json, Value};

use super::before_send::Decision;
use super::delivery::{self, Audience};
use super::mentions::{StoredMention, Viewer};
use super::notify::Mentioned;
use super::{access, moderation, threads, Call};
use crate::error::{ApiError, ApiResult};
use crate::limits;
use crate::realtime::hub::Exclude;
use crate::state::{event_json, AppState};
use crate::store::{ChannelRow, MessageRow, NewMessage, UserRow};

/// Where in its channel a message goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// The channel's main thread.
    Channel,
    /// A reply to this message.
    Reply(Box<MessageRow>),
    /// A standalone thread.
    Thread(i64),
}

impl Target {
    /// The thread the message joins.
    pub fn thread(&self, channel: &ChannelRow) -> ThreadKey {
        match self {
            Target::Channel => ThreadKey::Main(channel.id),
            Target::Reply(p) => ThreadKey::Message(p.id),
            Target::Thread(t) => ThreadKey::Standalone(*t),
        }
    }
}

/// Where a request says a message goes.
#[derive(Debug, Clone, Copy)]
pub enum Where<'a> {
    /// A channel's main thread.
    Channel(i64),
    /// The replies to a message.
    Reply(i64),
    /// A thread, by id.
    Thread(&'a str),
}

/// A message's destination, authorised: its channel, audience and place, and what
/// moderation says of the sender there.
pub struct Destination {
    /// The channel.
    pub channel: ChannelRow,
    /// Who gets it.
    pub audience: Audience,
    /// Where in the channel.
    pub target: Target,
    /// A moderator muted the sender in the channel.
    pub muted: bool,
    /// The sender moderates the channel (exempt from slow mode).
    pub moderator: bool,
}

impl Destination {
    /// A destination of the app's backend (Platform API): no sender to moderate.
    pub fn system(channel: ChannelRow, audience: Audience) -> Destination {
        Destination {
            channel,
            audience,
            target: Target::Channel,
            muted: false,
            moderator: true,
        }
    }
}

/// Resolves and authorises where the actor sends a message: they must be a member of
/// the channel (a direct channel with a block between its members refuses).
pub async fn destination(call: &Call<'_>, to: Where<'_>) -> ApiResult<Destination> {
    let state = call.state;
    let (channel, target) = match to {
        Where::Channel(cid) => return channel_destination(call, cid).await,
        Where::Reply(mid) => {
            let (parent, channel) = access::readable_message(call, mid).await?;
            (channel, Target::Reply(Box::new(parent)))
        }
        Where::Thread(tid) => {
            let (view, channel) = threads::readable(call, tid).await?;
            let target = match view.key {
                ThreadKey::Main(_) => Target::Channel,
                ThreadKey::Standalone(t) => Target::Thread(t),
                ThreadKey::Message(m) => {
                    Target::Reply(Box::new(access::readable_message(call, m).await?.0))
                }
            };
            (channel, target)
        }
    };
    let membership =
        access::membership(call, &access::member_channel(call, channel.id).await?).await?;
    let muted = state
        .store
        .channel_mute(channel.id, call.user.id)
        .await?
        .is_some();
    let audience = delivery::audience(state, &channel, Some(call.user.id)).await?;
    Ok(Destination {
        channel,
        audience,
        target,
        muted,
        moderator: membership.role == "MODERATOR",
    })
}

/// [`destination`] for a channel's main thread, in one query (a send to a channel is
/// the hot path).
pub async fn channel_destination(call: &Call<'_>, cid: i64) -> ApiResult<Destination> {
    let sc = call
        .state
        .store
        .send_context(call.app_id, cid, call.user.id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Channel {cid}")))?;
    if !sc.members.iter().any(|m| m.id == call.user.id) {
        // Not a member: a ban from the channel says so (`BannedError`, docs/protocol.md
        // §22.1), looked up here, off the path of members' sends.
        access::member_channel(call, cid).await?;
        return Err(ApiError::not_a_member(&sc.channel.name));
    }
    let audience = Audience::new(
        &sc.channel,
        call.user.id,
        sc.members,
        sc.sender,
        sc.blockers,
        &sc.blocked,
    )?;
    Ok(Destination {
        channel: sc.channel,
        audience,
        target: Target::Channel,
        muted: sc.muted,
        moderator: sc.moderator,
    })
}

/// A new message's mentions.
pub struct Mentions {
    /// As stored: references.
    pub stored: String,
    /// Who is mentioned.
    pub who: Vec<Mentioned>,
    /// As the channel's readers see them.
    pub rendered: Option<Vec<Value>>,
}

/// A new message's checked content.
pub struct Content {
    /// Its type.
    pub kind: MessageType,
    /// Text messages: the text.
    pub text: Option<String>,
    /// File messages: the file JSON.
    pub file: Option<String>,
    /// Properties JSON.
    pub props: String,
    /// The app's tag.
    pub group_tag: Option<String>,
    /// Text messages: mentions.
    pub mentions: Option<Mentions>,
    /// Text messages: links JSON.
    pub links: Option<String>,
    /// When it was sent.
    pub created_ms: i64,
}

impl Content {
    /// The row to insert.
    pub fn new_message<'n>(
        &'n self,
        sender: Option<i64>,
        d: &Destination,
        idempotency_key: Option<&'n str>,
    ) -> NewMessage<'n> {
        let (parent_id, thread_id) = match &d.target {
            Target::Channel => (None, None),
            Target::Reply(p) => (Some(p.id), None),
            Target::Thread(t) => (None, Some(*t)),
        };
        NewMessage {
            channel_id: d.channel.id,
            user_id: sender,
            kind: self.kind,
            body: self.text.as_deref(),
            file: self.file.as_deref(),
            properties: &self.props,
            group_tag: self.group_tag.as_deref(),
            parent_id,
            thread_id,
            mentions: self.mentions.as_ref().map(|m| m.stored.as_str()),
            links: self.links.as_deref(),
            created_ms: self.created_ms,
            idempotency_key,
        }
    }
}

/// A user's message (`{type:"TEXT", body}` or an external `{type:"FILE", file}`).
pub async fn user_content(call: &Call<'_>, req: SendMessage) -> ApiResult<Content> {
    let config = &call.state.config;
    let kind = req
        .kind
        .as_deref()
        .unwrap_or(if req.file.is_some() { "FILE" } else { "TEXT" });
    let group_tag = limits::bounded(
        "groupTag",
        req.group_tag.as_deref(),
        limits::MAX_GROUP_TAG_CHARS,
    )?;
    let props = limits::properties(req.properties.as_ref(), config.max_properties_bytes)?;
    let mut content = Content {
        kind: MessageType::Text,
        text: None,
        file: None,
        props,
        group_tag: group_tag.map(str::to_owned),
        mentions: None,
        links: None,
        created_ms: crate::clock::now_ms(),
    };
    match kind {
        "TEXT" => {
            if req.file.is_some() {
                return Err(ApiError::validation(
                    "A message has a `body` or a `file`, not both.",
                ));
            }
            let text = valid_text(call.state, req.body.as_deref())?;
            let text = moderation::screen_text(call.state, call.app_id, text.to_owned()).await?;
            content.mentions = mentions(call, &text).await?;
            content.links = Some(super::text::links_json(&text));
            content.text = Some(text);
        }
        "FILE" => {
            if req.body.is_some() {
                return Err(ApiError::validation(
                    "A message has a `body` or a `file`, not both.",
                ));
            }
            content.kind = MessageType::File;
            content.file = Some(external_file(req.file)?);
        }
        other => {
            return Err(ApiError::validation(format!(
                "Unknown message type {other:?}: use TEXT or FILE."
            )))
        }
    }
    Ok(content)
}

/// A file uploaded to this server: `file` is its stored JSON.
pub fn hosted_file(file: String, props: String, group_tag: Option<String>) -> Content {
    Content {
        kind: MessageType::File,
        text: None,
        file: Some(file),
        props,
        group_tag,
        mentions: None,
        links: None,
        created_ms: crate::clock::now_ms(),
    }
}

/// A system message of the app's backend (Platform API).
pub fn system_text(state: &AppState, body: &Value) -> ApiResult<Content> {
    if body.get("type").and_then(Value::as_str).unwrap_or("TEXT") != "TEXT" {
        return Err(ApiError::validation("System messages are of type TEXT."));
    }
    let text = body.get("body").and_then(Value::as_str).unwrap_or("");
    if text.trim().is_empty() || text.chars().count() > state.config.max_message_chars {
        return Err(ApiError::validation(format!(
            "`body` is 1 to {} characters.",
            state.config.max_message_chars
        )));
    }
    let group_tag = limits::bounded(
        "groupTag",
        body.get("groupTag").and_then(Value::as_str),
        limits::MAX_GROUP_TAG_CHARS,
    )?;
    Ok(Content {
        kind: MessageType::SystemText,
        text: Some(text.to_owned()),
        file: None,
        props: limits::properties_in(body, state.config.max_properties_bytes)?,
        group_tag: group_tag.map(str::to_owned),
        mentions: None,
        links: Some(super::text::links_json(text)),
        created_ms: crate::clock::now_ms(),
    })
}

/// A text message's body: not blank, at most `--max-message-chars` characters.
pub fn valid_text<'a>(state: &AppState, text: Option<&'a str>) -> ApiResult<&'a str> {
    let text = text.unwrap_or("");
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
    Ok(text)
}

/// Resolves the first `--max-mentions` `<@username>` and `<#channel>` tags
/// (docs/protocol.md §19) into references to store, who was mentioned (for
/// notifications) and the mentions as the channel's readers see them. A channel the
/// sender may not read is not mentioned.
pub async fn mentions(call: &Call<'_>, text: &str) -> ApiResult<Option<Mentions>> {
    let state = call.state;
    let tags = super::text::mention_tags(text, state.config.max_mentions);
    if tags.is_empty() {
        return Ok(None);
    }
    let mut stored = Vec::new();
    let mut who = Vec::new();
    for t in &tags {
        if t.kind == "USER" {
            let Some(u) = state.store.user_by_name(call.app_id, &t.name).await? else {
                continue;
            };
            stored.push(StoredMention::user(t, u.id));
            who.push(Mentioned::User(u.id));
        } else {
            let Some(c) = state.store.channel_by_name(call.app_id, &t.name).await? else {
                continue;
            };
            if access::readable_channel(call, c.id).await.is_err() {
                continue;
            }
            stored.push(StoredMention::channel(t, c.id));
            who.push(Mentioned::Channel(c.id));
        }
    }
    if stored.is_empty() {
        return Ok(None);
    }
    let targets = state
        .mention_targets(call.app_id, [stored.as_slice()], Viewer::Audience)
        .await?;
    let rendered = state
        .render_mentions(&stored, &targets, Viewer::Audience)
        .await?;
    Ok(Some(Mentions {
        stored: super::mentions::to_json(&stored),
        who,
        rendered,
    }))
}

/// `{url, name, contentType, size}` of an external file → its stored JSON.
fn external_file(file: Option<ExternalFile>) -> ApiResult<String> {
    let f = file.ok_or_else(|| ApiError::validation("A FILE message needs `file`."))?;
    let url = f
        .url
        .as_deref()
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    let url = limits::bounded("file.url", url, limits::MAX_URL_CHARS)?;
    let name = limits::bounded("file.name", f.name.as_deref(), limits::MAX_FILE_NAME_CHARS)?;
    let content_type = limits::bounded(
        "file.contentType",
        f.content_type.as_deref(),
        limits::MAX_CONTENT_TYPE_CHARS,
    )?
    .unwrap_or("application/octet-stream");
    match (url, name, f.size) {
        (Some(url), Some(name), Some(size)) => Ok(serde_json::json!({
            "type": "EXTERNAL", "url": url, "name": name, "contentType": content_type, "size": size
        })
        .to_string()),
        _ => Err(ApiError::validation(
            "An external file needs `url` (http or https), `name`, `contentType` and `size`.",
        )),
    }
}

/// Whether the sender may post there now (docs/protocol.md §22): not muted, and not
/// too soon in slow mode (this takes their turn). Every user's message passes here
/// before it is stored.
pub async fn admit(state: &AppState, dest: &Destination, sender: i64) -> ApiResult<()> {
    moderation::may_post(state, &dest.channel, sender, dest.muted, dest.moderator).await
}

/// Step 3 for one message: [`super::before_send::ask`]. `call` is the sender's
/// request (`None`: the app's backend).
pub async fn screen(
    state: &AppState,
    app_id: i64,
    sender: Option<&UserRow>,
    dest: &Destination,
    content: Content,
    call: Option<&Call<'_>>,
) -> ApiResult<Content> {
    if state.config.before_send_url.is_none() {
        return Ok(content);
    }
    let request = hook_request(app_id, sender, dest, &content);
    match super::before_send::ask(state, request).await? {
        Decision::Keep => Ok(content),
        Decision::Replace { body, properties } => {
            replaced(state, content, body, properties, call).await
        }
    }
}

/// The before-send hook's request: `{applicationId, message, sender, channel}`,
/// bounded as it is made of bounded parts (a message within its limits; a sender and
/// a channel with their properties, not their members).
fn hook_request(app_id: i64, sender: Option<&UserRow>, dest: &Destination, c: &Content) -> Value {
    let (parent_id, thread_id) = match &dest.target {
        Target::Channel => (None, None),
        Target::Reply(p) => (Some(p.id), None),
        Target::Thread(t) => (None, Some(*t)),
    };
    let object = |text: &str| serde_json::from_str::<Value>(text).unwrap_or_else(|_| json!({}));
    let ch = &dest.channel;
    json!({
        "applicationId": app_id,
        "message": {
            "type": c.kind.as_str(),
            "body": c.text,
            "file": c.file.as_deref().map(object),
            "properties": object(&c.props),
            "groupTag": c.group_tag,
            "parentId": parent_id,
            "threadId": thread_id,
        },
        "sender": sender.map(|u| json!({
            "id": u.id,
            "name": u.name,
            "displayName": u.display_name,
            "isGuest": u.is_guest,
            "properties": object(&u.properties),
        })),
        "channel": {
            "id": ch.id,
            "type": ch.kind.as_str(),
            "name": ch.name,
            "displayName": ch.display_name,
            "properties": object(&ch.properties),
        },
        "timestamp": crate::clock::time_iso(c.created_ms),
    })
}

/// `content` with the hook's replacement, checked like a message sent so (mentions
/// and links found again in a new body; a user's mentions resolved as theirs).
async fn replaced(
    state: &AppState,
    mut content: Content,
    body: Option<String>,
    properties: Option<serde_json::Map<String, Value>>,
    call: Option<&Call<'_>>,
) -> ApiResult<Content> {
    use super::before_send::invalid_replacement;
    if let Some(body) = body {
        if !matches!(content.kind, MessageType::Text | MessageType::SystemText) {
            return Err(invalid_replacement(ApiError::validation(
                "a file message has no body.",
            )));
        }
        let text = valid_text(state, Some(&body)).map_err(invalid_replacement)?;
        content.links = Some(super::text::links_json(text));
        content.mentions = match call {
            Some(call) if content.kind == MessageType::Text => mentions(call, text).await?,
            _ => None,
        };
        content.text = Some(text.to_owned());
    }
    if let Some(p) = properties {
        content.props = limits::properties(Some(&p), state.config.max_properties_bytes)
            .map_err(invalid_replacement)?;
    }
    Ok(content)
}

/// Step 3 for a batch of one sender's messages to one destination, asked together
/// (at most a batch, `stomp::actions::MAX_QUEUED_SENDS`, at once); a content that
/// already failed stays failed.
pub async fn screen_all(
    call: &Call<'_>,
    dest: &Destination,
    contents: Vec<ApiResult<Content>>,
) -> Vec<ApiResult<Content>> {
    if call.state.config.before_send_url.is_none() {
        return contents;
    }
    let asks = contents.into_iter().map(|c| async move {
        screen(
            call.state,
            call.app_id,
            Some(call.user),
            dest,
            c?,
            Some(call),
        )
        .await
    });
    futures_util::future::join_all(asks).await
}

/// Stores one message; `true` when it is new (a retried send with a known
/// idempotency key returns the first one).
pub async fn store_one(state: &AppState, m: &NewMessage<'_>) -> ApiResult<(MessageRow, bool)> {
    Ok(state.store.insert_message(m).await?)
}

/// Stores several messages of one sender in one statement, in order.
pub async fn store_many(
    state: &AppState,
    news: &[NewMessage<'_>],
) -> ApiResult<Vec<(MessageRow, bool)>> {
    Ok(state.store.insert_messages(news).await?)
}

/// A stored message as its sender and the channel's readers see it, and what to tell.
pub struct Announcement<'a> {
    /// Application.
    pub app_id: i64,
    /// The sender (`None`: a system message).
    pub sender: Option<&'a UserRow>,
    /// Where it went.
    pub dest: &'a Destination,
    /// What it was.
    pub content: Content,
    /// The stored row, and whether it is new.
    pub row: MessageRow,
    /// Whether the insert made it (not a retry).
    pub new: bool,
    /// The send's idempotency key.
    pub idempotency_key: Option<&'a str>,
}

/// Tells everyone about a stored message: the sender's result (`ack`, with the
/// `user.message.created` event) once the other nodes have it, then everyone else.
/// A retried send already announced is only acknowledged again. Returns the message
/// as rendered.
pub async fn announce(
    state: &AppState,
    a: Announcement<'_>,
    ack: impl FnOnce(&str),
) -> ApiResult<Message> {
    let Announcement {
        app_id,
        sender,
        dest,
        content,
        row,
        new,
        idempotency_key,
    } = a;
    // The sender as loaded with the members (fresh, should another session have
    // renamed them).
    let shown = dest.audience.sender.as_ref().or(sender);
    let mentions = content.mentions;
    let message = if new {
        let mut m = state.render_new_message(&row, shown);
        m.mentions = mentions.as_ref().and_then(|m| m.rendered.clone());
        m
    } else {
        state
            .render_one_message(app_id, &row, Viewer::Audience)
            .await?
    };
    let created = event_json(types::USER_MESSAGE_CREATED, &message);
    let keyed = idempotency_key.is_some() && state.bus.is_clustered();
    if !new && (!keyed || state.store.message_announced(row.id).await?) {
        // A retried send: already stored and announced once.
        ack(&created);
        return Ok(message);
    }
    // A new message, or a retry of one whose node may have died before telling the
    // other nodes: (again) announced, the retry's duplicates being dropped by message
    // id on the clients.
    let mentioned = mentions.map(|m| m.who).unwrap_or_default();
    let fanout = Fanout {
        app_id,
        sender,
        dest,
        row: &row,
        message: &message,
        mentioned: &mentioned,
    };
    deliver(state, fanout, || ack(&created)).await?;
    if keyed {
        state.store.mark_announced(row.id).await?;
    }
    Ok(message)
}

/// What the fan-out of a stored message needs.
struct Fanout<'a> {
    app_id: i64,
    sender: Option<&'a UserRow>,
    dest: &'a Destination,
    row: &'a MessageRow,
    message: &'a Message,
    mentioned: &'a [Mentioned],
}

/// Fan-out of a new message: typing stops, the channel's chat sessions (the sender's
/// included) and the thread's topic get it, hidden direct channels reappear, members
/// are notified. `ack` runs once the other nodes have the message and before this
/// node's subscribers get it: the sender's connection sees its result first, and an
/// acknowledged message cannot be lost with a node that dies right after.
async fn deliver(state: &AppState, f: Fanout<'_>, ack: impl FnOnce()) -> ApiResult<()> {
    let (channel, audience) = (&f.dest.channel, &f.dest.audience);
    let key = f.dest.target.thread(channel);
    let blockers = &audience.blockers;
    if let Some(sender) = f.sender {
        state.bus.stop_typing(&key.to_id(), sender.id);
        if state.typing.stop(&key.to_id(), sender.id) {
            delivery::typing_or_log(state, key, channel.id, sender, false).await;
        }
    }
    let events = [
        (
            Topic::Channel(channel.id as u64, ChannelTopic::Messages).to_destination(),
            event_json(types::CHANNEL_MESSAGE_CREATED, f.message),
        ),
        (
            key.topic(ThreadTopic::Messages),
            event_json(types::THREAD_MESSAGE_CREATED, f.message),
        ),
    ];
    for (dest, body) in &events {
        state.bus.forward(dest, body, Exclude::Users(blockers));
    }
    state.bus.flush().await;
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
    let parent = match &f.dest.target {
        Target::Reply(p) => Some(p.as_ref()),
        _ => None,
    };
    let n = super::notify::NewMessage {
        app_id: f.app_id,
        channel,
        row: f.row,
        message: f.message,
        sender: f.sender,
        parent,
        mentioned: f.mentioned,
        audience,
    };
    super::notify::message_created(state, n).await
}

/// Screens, stores and announces one message (steps 3 to 5). `call` is the sender's
/// request (`None`: the app's backend).
#[allow(clippy::too_many_arguments)]
pub async fn post(
    state: &AppState,
    app_id: i64,
    sender: Option<&UserRow>,
    dest: &Destination,
    content: Content,
    idempotency_key: Option<&str>,
    call: Option<&Call<'_>>,
    ack: impl FnOnce(&str),
) -> ApiResult<(MessageRow, Message)> {
    if let Some(sender) = sender {
        admit(state, dest, sender.id).await?;
    }
    let content = screen(state, app_id, sender, dest, content, call).await?;
    let (row, new) = store_one(
        state,
        &content.new_message(sender.map(|u| u.id), dest, idempotency_key),
    )
    .await?;
    let announcement = Announcement {
        app_id,
        sender,
        dest,
        content,
        row: row.clone(),
        new,
        idempotency_key,
    };
    let message = announce(state, announcement, ack).await?;
    Ok((row, message))
}
