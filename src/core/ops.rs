//! The API calls of docs/api.md as data: one table row per call, read by one generic relay
//! path and one generic action path (docs/protocol.md §7). A row says where the destination
//! comes from, which parameter headers or body to send, what completes the call, what
//! a missing link throws, whether a session is required (NAS, docs/api.md §2.3), and which
//! field of the result object carries the payload (docs/api.md §11.3).
//!
//! The JavaScript class gets one method per row (and per 2.x alias) from a table of
//! names in `pkg-template/index.js` whose order is the [`Op`] numbering; a native test
//! holds the two lists equal.

use chatkitty_protocol::destination as dest;
use chatkitty_protocol::error::names;

use super::text::{self, push_json_string};
use super::{link, Client, Failure, Id, Misuse, Mode, PageKind, Payload, Shape};

/// Op numbers the bindings and tests name.
pub mod id {
    use super::Op;
    /// `updateCurrentUser`.
    pub const UPDATE_CURRENT_USER: Op = 0;
    /// `createChannel`.
    pub const CREATE_CHANNEL: Op = 4;
    /// `getChannels`.
    pub const GET_CHANNELS: Op = 5;
    /// `getChannel`.
    pub const GET_CHANNEL: Op = 6;
    /// `sendMessage`.
    pub const SEND_MESSAGE: Op = 17;
    /// `getMessages`.
    pub const GET_MESSAGES: Op = 18;
    /// `getCurrentUser`.
    pub const GET_CURRENT_USER: Op = 47;
}

/// A call's number: its row in [`OPS`] and its place in index.js's name table.
pub type Op = u8;

/// Where a call's destination comes from.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// The first of these `(request field, link name)` pairs whose field is present;
    /// the field `""` is the current user.
    Link(&'static [(&'static str, &'static str)]),
    /// `getChannels`: `channels`, `joinableChannels` or `unreadChannels` (6.1).
    Channels,
    /// `getChannel(id)`: `/application/v1/channels/{id}.relay` (5).
    ChannelById,
    /// `getUser(id)`: `/application/v1/users/{id}.relay` (5).
    UserById,
    /// `blockUser({user})`: `/application/v1/users/{user.id}.block` (5).
    UserBlock,
    /// A fixed destination (our extensions, e.g. `searchMessages`).
    Fixed(&'static str),
}

/// One parameter header of a relay (docs/protocol.md §9.4).
#[derive(Debug, Clone, Copy)]
enum Param {
    /// Every entry of `request.filter`, stringified.
    Filter,
    /// A constant header.
    Const(&'static str, &'static str),
    /// The value at a path of the request, stringified, when present.
    From(&'static str, &'static [&'static str]),
    /// `header:<value>` only when the boolean at the path equals `value`.
    IfBool(&'static str, &'static [&'static str], bool),
}

/// The JSON body of an action.
#[derive(Debug, Clone, Copy)]
enum Body {
    /// `{}`.
    Empty,
    /// The request as given.
    Request,
    /// One field of the request (the whole channel, the user reference).
    Field(&'static str),
    /// An object of these request fields (absent ones omitted).
    Pick(&'static [&'static str]),
    /// A constant.
    Const(&'static str),
}

/// How a call is carried out.
#[derive(Debug, Clone, Copy)]
enum Via {
    /// A relay; the answer's resource, one of its fields, or a page.
    Relay(Shape),
    /// An action completed by its correlated event (3.3), then `Post`.
    Event(Post),
    /// `createChannel`: only the channel-creation event types complete it.
    CreateChannel,
    /// An action completed by its RECEIPT; the result is this request field.
    Receipt(&'static str),
    /// `sendMessage` (text, external file or upload).
    SendMessage,
    /// `updateCurrentUserDisplayPicture` (upload or external file).
    DisplayPicture,
}

/// What a call throws (or rejects with) when its link is absent (docs/api.md §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thrown {
    /// `ChannelNotPubliclyJoinableError` (joinChannel).
    NotPubliclyJoinable,
    /// `NotAChannelMemberError` (leaveChannel).
    NotAChannelMember,
    /// `CannotAddModeratorToChannel` (addChannelModerator).
    CannotAddModerator,
    /// `ChannelNotInvitableError` (inviteUser).
    NotInvitable,
}

impl Thrown {
    /// The `error` name, the text around the channel's name in `message`.
    pub const fn text(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Thrown::NotPubliclyJoinable => (
                names::CHANNEL_NOT_PUBLICLY_JOINABLE,
                "The channel ",
                " can't be joined without an invite.",
            ),
            Thrown::NotAChannelMember => (
                names::NOT_A_CHANNEL_MEMBER,
                "You are not a member of channel ",
                ".",
            ),
            Thrown::CannotAddModerator => (
                "CannotAddModeratorToChannel",
                "The channel ",
                " is not a group channel and cannot have moderators.",
            ),
            Thrown::NotInvitable => (
                names::CHANNEL_NOT_INVITABLE,
                "The channel ",
                " does not accept invites.",
            ),
        }
    }
}

/// What a missing link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    /// A `TypeError` naming the link (a resource without hypermedia was passed).
    Invalid,
    /// Throws this error with the request's `channel`.
    Throw(Thrown),
    /// The Promise rejects with `MessageNotAReplyError` (getMessageParent).
    NotAReply,
}

/// What is done with a successful result besides resolving the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Post {
    /// Nothing.
    None,
    /// Messages: the read grant goes into `file.url` (docs/protocol.md §10.3).
    MapFile,
    /// The CurrentUser: `currentUser` is replaced and observers hear (docs/api.md §13).
    SetUser,
}

/// One API call.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    nas: bool,
    via: Via,
    target: Target,
    /// `_relays` or `_actions`.
    links: &'static str,
    missing: Missing,
    params: &'static [Param],
    body: Body,
    /// The result object's payload field (docs/api.md §11.3); `None` for no payload.
    pub key: Option<&'static str>,
}

const fn relay(nas: bool, target: Target, shape: Shape, key: &'static str) -> Spec {
    Spec {
        nas,
        via: Via::Relay(shape),
        target,
        links: "_relays",
        missing: Missing::Invalid,
        params: &[],
        body: Body::Empty,
        key: Some(key),
    }
}

const fn action(nas: bool, target: Target, body: Body, key: &'static str) -> Spec {
    Spec {
        nas,
        via: Via::Event(Post::None),
        target,
        links: "_actions",
        missing: Missing::Invalid,
        params: &[],
        body,
        key: Some(key),
    }
}

const fn receipt(nas: bool, target: Target, field: &'static str) -> Spec {
    let mut s = action(nas, target, Body::Empty, field);
    s.via = Via::Receipt(field);
    s
}

const fn page(nas: bool, target: Target, kind: PageKind) -> Spec {
    relay(nas, target, Shape::Page(kind), "paginator")
}

const fn count(nas: bool, target: Target, params: &'static [Param]) -> Spec {
    let mut s = relay(nas, target, Shape::Field("count"), "count");
    s.params = params;
    s
}

const fn with_params(mut s: Spec, params: &'static [Param]) -> Spec {
    s.params = params;
    s
}

const fn throws(mut s: Spec, t: Thrown) -> Spec {
    s.missing = Missing::Throw(t);
    s
}

macro_rules! on {
    ($($field:literal => $link:literal),+) => {
        Target::Link(&[$(($field, $link)),+])
    };
}

const fn page_kind(content: &'static str, files: bool) -> PageKind {
    PageKind { content, files }
}

/// Every call of the table, in [`Op`] order (= the names in index.js).
pub static OPS: [Spec; 49] = [
    // 0 updateCurrentUser(update): index.js passes update(currentUser) as the request.
    Spec {
        via: Via::Event(Post::SetUser),
        ..action(true, on!("" => "update"), Body::Request, "user")
    },
    // 1 updateCurrentUserDisplayPicture({file, progressListener?})
    Spec {
        via: Via::DisplayPicture,
        ..action(true, on!("" => "updateDisplayPicture"), Body::Empty, "user")
    },
    // 2 updateChannel({channel}): the whole channel is the body.
    action(
        false,
        on!("channel" => "update"),
        Body::Field("channel"),
        "channel",
    ),
    // 3 deleteChannel({channel})
    Spec {
        key: None,
        ..action(false, on!("channel" => "delete"), Body::Empty, "channel")
    },
    // 4 createChannel(request)
    Spec {
        via: Via::CreateChannel,
        ..action(true, on!("" => "createChannel"), Body::Request, "channel")
    },
    // 5 getChannels(request?)
    page(true, Target::Channels, page_kind("channels", false)),
    // 6 getChannel(id)
    relay(false, Target::ChannelById, Shape::Plain, "channel"),
    // 7 joinChannel({channel})
    throws(
        action(true, on!("channel" => "join"), Body::Request, "channel"),
        Thrown::NotPubliclyJoinable,
    ),
    // 8 leaveChannel({channel})
    throws(
        action(true, on!("channel" => "leave"), Body::Empty, "channel"),
        Thrown::NotAChannelMember,
    ),
    // 9 addChannelModerator({channel, user}): the user reference is the body.
    throws(
        action(
            false,
            on!("channel" => "addModerator"),
            Body::Field("user"),
            "channel",
        ),
        Thrown::CannotAddModerator,
    ),
    // 10 getUnreadChannelsCount(request?)
    count(
        true,
        on!("" => "channelsCount"),
        &[
            Param::Const("unread", "true"),
            Param::From("type", &["filter", "type"]),
        ],
    ),
    // 11 getChannelUnread({channel})
    relay(
        true,
        on!("channel" => "unread"),
        Shape::Field("exists"),
        "unread",
    ),
    // 12 readChannel({channel})
    receipt(true, on!("channel" => "read"), "channel"),
    // 13 muteChannel({channel})
    action(
        true,
        on!("channel" => "mute"),
        Body::Const("{\"state\":\"ON\"}"),
        "channel",
    ),
    // 14 unmuteChannel({channel})
    action(
        true,
        on!("channel" => "mute"),
        Body::Const("{\"state\":\"OFF\"}"),
        "channel",
    ),
    // 15 clearChannelHistory({channel})
    action(
        true,
        on!("channel" => "clearHistory"),
        Body::Empty,
        "channel",
    ),
    // 16 hideChannel({channel})
    action(false, on!("channel" => "hide"), Body::Empty, "channel"),
    // 17 sendMessage(request)
    Spec {
        via: Via::SendMessage,
        ..action(
            true,
            on!("thread" => "message", "message" => "reply", "channel" => "message"),
            Body::Empty,
            "message",
        )
    },
    // 18 getMessages({channel, filter?} | {message})
    with_params(
        page(
            true,
            on!("channel" => "messages", "message" => "replies"),
            PageKind::MESSAGES,
        ),
        &[Param::Filter],
    ),
    // 19 getUnreadMessagesCount(request?)
    count(
        true,
        on!("channel" => "messagesCount", "" => "unreadMessagesCount"),
        &[Param::Const("unread", "true")],
    ),
    // 20 triggerEvent({channel, type, properties})
    Spec {
        body: Body::Pick(&["type", "properties"]),
        ..receipt(true, on!("channel" => "triggerEvent"), "channel")
    },
    // 21 readMessage({message})
    receipt(false, on!("message" => "read"), "message"),
    // 22 getLastReadMessage({channel, username})
    with_params(
        relay(
            false,
            on!("channel" => "lastReadMessage"),
            Shape::Plain,
            "message",
        ),
        &[Param::From("username", &["username"])],
    ),
    // 23 editMessage({message, body})
    action(
        false,
        on!("message" => "edit"),
        Body::Pick(&["body"]),
        "message",
    ),
    // 24 getMessageRepliesCount({message})
    count(false, on!("message" => "repliesCount"), &[]),
    // 25 getMessageChannel({message})
    relay(false, on!("message" => "channel"), Shape::Plain, "channel"),
    // 26 getMessageParent({message})
    Spec {
        missing: Missing::NotAReply,
        ..relay(false, on!("message" => "parent"), Shape::Plain, "message")
    },
    // 27 createThread({channel, name, properties?})
    action(
        false,
        on!("channel" => "createThread"),
        Body::Pick(&["name", "properties"]),
        "thread",
    ),
    // 28 getThreads({channel, filter?})
    with_params(
        page(
            false,
            on!("channel" => "threads"),
            page_kind("threads", false),
        ),
        &[
            Param::IfBool("includeMainThread", &["filter", "includeMainThread"], false),
            Param::IfBool("standalone", &["filter", "standalone"], true),
        ],
    ),
    // 29 getThreadChannel({thread})
    relay(false, on!("thread" => "channel"), Shape::Plain, "channel"),
    // 30 getThreadMessage({thread})
    relay(false, on!("thread" => "message"), Shape::Plain, "message"),
    // 31 readThread({thread})
    receipt(true, on!("thread" => "read"), "thread"),
    // 32 reactToMessage({message, emoji})
    action(
        false,
        on!("message" => "react"),
        Body::Pick(&["emoji"]),
        "reaction",
    ),
    // 33 getReactions({message})
    page(
        false,
        on!("message" => "reactions"),
        page_kind("reactions", false),
    ),
    // 34 removeReaction({message, emoji})
    action(
        false,
        on!("message" => "removeReaction"),
        Body::Pick(&["emoji"]),
        "reaction",
    ),
    // 35 deleteMessageForMe({message})
    action(
        false,
        on!("message" => "deleteForMe"),
        Body::Empty,
        "message",
    ),
    // 36 deleteMessage({message})
    action(false, on!("message" => "delete"), Body::Empty, "message"),
    // 37 getChannelMembers({channel, filter?})
    with_params(
        page(true, on!("channel" => "members"), page_kind("users", false)),
        &[Param::Filter],
    ),
    // 38 getReadReceipts({message})
    page(
        true,
        on!("message" => "readReceipts"),
        page_kind("receipts", false),
    ),
    // 39 getUsers(request?)
    with_params(
        page(true, on!("" => "contacts"), page_kind("users", false)),
        &[Param::Filter],
    ),
    // 40 getUsersCount(request?)
    count(true, on!("" => "contactsCount"), &[Param::Filter]),
    // 41 inviteUser({channel, user})
    throws(
        action(
            false,
            on!("channel" => "invite"),
            Body::Pick(&["user"]),
            "user",
        ),
        Thrown::NotInvitable,
    ),
    // 42 getUser(id)
    relay(false, Target::UserById, Shape::Plain, "user"),
    // 43 getUserIsChannelMember({user, channel})
    with_params(
        relay(
            true,
            on!("user" => "channelMember"),
            Shape::Field("exists"),
            "isMember",
        ),
        &[Param::From("channelId", &["channel", "id"])],
    ),
    // 44 blockUser({user})
    action(false, Target::UserBlock, Body::Empty, "user"),
    // 45 getUserBlockList()
    page(
        true,
        on!("" => "userBlockListItems"),
        page_kind("items", false),
    ),
    // 46 deleteUserBlockListItem({item})
    action(false, on!("item" => "delete"), Body::Empty, "user"),
    // 47 getCurrentUser()
    relay(true, on!("" => "self"), Shape::Plain, "user"),
    // 48 searchMessages({query, channel?}): an extension beyond 1.58.2 (docs/api.md §8).
    with_params(
        page(
            true,
            Target::Fixed(dest::SEARCH_MESSAGES_RELAY),
            PageKind::MESSAGES,
        ),
        &[
            Param::From("query", &["query"]),
            Param::From("channelId", &["channel", "id"]),
        ],
    ),
];

/// The row of `op`, if it exists.
pub fn spec(op: Op) -> Option<&'static Spec> {
    OPS.get(op as usize)
}

/// `/application/v1/{kind}/{id}{suffix}`, built without `format!` (which would link
/// `core::fmt` into the wasm build); tests hold it equal to the protocol crate's.
pub(crate) fn by_id(kind: &str, id: u64, suffix: &str) -> String {
    let mut d = String::from(dest::APPLICATION_PREFIX);
    d.push_str(kind);
    d.push('/');
    text::push_u64(&mut d, id);
    d.push_str(suffix);
    d
}

fn id_of<P: Payload>(v: &P) -> Result<u64, Misuse> {
    v.as_number()
        .filter(|n| *n >= 0.0 && n.fract() == 0.0)
        .map(|n| n as u64)
        .ok_or(Misuse::InvalidArgument("id"))
}

fn at<P: Payload>(v: &P, path: &[&str]) -> Option<P> {
    let mut v = v.clone();
    for k in path {
        v = v.get(k)?;
    }
    Some(v)
}

/// How `sendMessage` / `updateCurrentUserDisplayPicture` treat their `file`
/// (docs/api.md §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// `{url, name, size, …}`: sent by reference in an action.
    External,
    /// A DOM `File`/`Blob`, or a `{uri: 'data:…', name}` object: uploaded.
    Upload,
    /// A `{uri}` that is not a `data:` URI.
    BadUri,
}

pub(crate) fn file_kind<P: Payload>(file: &P) -> FileKind {
    if file.get("url").is_some() && file.get("name").is_some() && file.get("size").is_some() {
        FileKind::External
    } else if let Some(uri) = file.get("uri") {
        match uri.as_string() {
            Some(u) if u.starts_with("data:") => FileKind::Upload,
            _ => FileKind::BadUri,
        }
    } else {
        FileKind::Upload
    }
}

impl<P: Payload> Client<P> {
    /// Runs the API call `op` (a row of [`OPS`]) with `request` (for `getChannel` and
    /// `getUser` the id). Returns the call's id; its [`super::Completion`] carries the
    /// resource (or page) the result object's [`Spec::key`] holds.
    ///
    /// # Errors
    /// What the call throws synchronously (docs/api.md §2.2): [`Misuse::NoActiveSession`]
    /// for NAS calls, [`Misuse::Thrown`] for a channel without the needed action,
    /// [`Misuse::InvalidArgument`] for a missing resource or link.
    pub fn call(&mut self, op: Op, request: &P, now: u64) -> Result<Id, Misuse> {
        let spec = spec(op).ok_or(Misuse::InvalidArgument("op"))?;
        let user = self.current_user().cloned();
        if spec.nas && user.is_none() {
            return Err(Misuse::NoActiveSession);
        }
        let dest = match self.destination(spec, request, user.as_ref())? {
            Ok(d) => d,
            Err(failure) => return Ok(self.fail_now(failure)),
        };
        match spec.via {
            Via::Relay(shape) => {
                let params = self.params(spec, request);
                Ok(self.call_relay(dest, params.into(), shape, now))
            }
            Via::SendMessage => self.send_message_to(dest, request, now),
            Via::DisplayPicture => self.display_picture(dest, request, user, now),
            via => {
                let body = match spec.body {
                    Body::Empty => String::from("{}"),
                    Body::Request => request
                        .to_json()
                        .ok_or(Misuse::InvalidArgument("request"))?,
                    Body::Field(f) => request
                        .get(f)
                        .and_then(|v| v.to_json())
                        .ok_or(Misuse::InvalidArgument(f))?,
                    Body::Pick(fields) => pick(request, fields),
                    Body::Const(c) => String::from(c),
                };
                let mode = match via {
                    Via::Receipt(field) => Mode::Receipt(request.get(field)),
                    Via::CreateChannel => Mode::CreateChannel,
                    Via::Event(post) => Mode::Event(post),
                    _ => Mode::Event(Post::None),
                };
                Ok(self.call_action(dest, body, mode, false, now))
            }
        }
    }

    /// The destination of a call, or the failure it completes with at once.
    #[allow(clippy::type_complexity)]
    fn destination(
        &self,
        spec: &Spec,
        request: &P,
        user: Option<&P>,
    ) -> Result<Result<String, Failure<P>>, Misuse> {
        let found = match spec.target {
            Target::ChannelById => return Ok(Ok(by_id("channels", id_of(request)?, ".relay"))),
            Target::UserById => return Ok(Ok(by_id("users", id_of(request)?, ".relay"))),
            Target::Fixed(d) => return Ok(Ok(String::from(d))),
            Target::UserBlock => {
                let u = request.get("user").ok_or(Misuse::InvalidArgument("user"))?;
                let id = u.get("id").ok_or(Misuse::InvalidArgument("user"))?;
                return Ok(Ok(by_id("users", id_of(&id)?, ".block")));
            }
            Target::Channels => {
                let user = user.ok_or(Misuse::NoActiveSession)?;
                let filter = request.get("filter");
                let joined = filter.as_ref().and_then(|f| f.get("joined"));
                let unread = filter.as_ref().and_then(|f| f.get("unread"));
                let name = if unread.is_some_and(|u| u.truthy()) {
                    "unreadChannels"
                } else if joined.and_then(|j| j.to_json()).as_deref() == Some("false") {
                    "joinableChannels"
                } else {
                    "channels"
                };
                return Ok(Ok(link(user, "_relays", name)?));
            }
            Target::Link(alts) => alts.iter().find_map(|&(field, name)| {
                if field.is_empty() {
                    user.cloned().map(|u| (u, name))
                } else {
                    request.get(field).map(|r| (r, name))
                }
            }),
        };
        let (resource, name) = match found {
            Some(f) => f,
            None => {
                let field = match spec.target {
                    Target::Link(alts) => alts.last().map_or("request", |a| a.0),
                    _ => "request",
                };
                return Err(if field.is_empty() {
                    Misuse::NoActiveSession
                } else {
                    Misuse::InvalidArgument(field)
                });
            }
        };
        match resource.get_str(&[spec.links, name]) {
            Some(d) => Ok(Ok(d)),
            None => match spec.missing {
                Missing::Invalid => Err(Misuse::InvalidArgument(name)),
                Missing::Throw(t) => Err(Misuse::Thrown(t)),
                Missing::NotAReply => Ok(Err(Failure::NotAReply(resource))),
            },
        }
    }

    fn params(&self, spec: &Spec, request: &P) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for p in spec.params {
            match *p {
                Param::Filter => {
                    if let Some(f) = request.get("filter") {
                        out.extend(f.param_headers());
                    }
                }
                Param::Const(k, v) => out.push((k.into(), v.into())),
                Param::From(k, path) => {
                    if let Some(s) = at(request, path).as_ref().and_then(stringify) {
                        out.push((k.into(), s));
                    }
                }
                Param::IfBool(k, path, want) => {
                    let want = if want { "true" } else { "false" };
                    if at(request, path).and_then(|v| v.to_json()).as_deref() == Some(want) {
                        out.push((k.into(), want.into()));
                    }
                }
            }
        }
        // getChannels: the joined and name filters (docs/protocol.md §6.1, 9.4).
        if let Target::Channels = spec.target {
            if let Some(f) = request.get("filter") {
                if f.get("joined").and_then(|j| j.to_json()).as_deref() == Some("true") {
                    out.push(("subscribable".into(), "true".into()));
                }
                if let Some(n) = f
                    .get("name")
                    .filter(|n| n.truthy())
                    .and_then(|n| n.as_string())
                {
                    out.push(("name".into(), n));
                }
            }
        }
        out
    }

    /// `sendMessage` once its destination is known: a text or external-file action,
    /// or an upload to the target's stream (docs/protocol.md §7, 10.2).
    fn send_message_to(&mut self, dest: String, request: &P, now: u64) -> Result<Id, Misuse> {
        let text = request.get("body").and_then(|b| b.as_string());
        let file = request.get("file");
        let mut body = String::from("{\"type\":");
        match (text, file) {
            (Some(text), None) => {
                push_json_string(&mut body, "TEXT");
                body.push_str(",\"body\":");
                push_json_string(&mut body, &text);
            }
            (None, Some(file)) => match file_kind(&file) {
                FileKind::External => {
                    push_json_string(&mut body, "FILE");
                    body.push_str(",\"file\":");
                    body.push_str(&file.to_json().ok_or(Misuse::InvalidArgument("file"))?);
                }
                FileKind::BadUri => {
                    return Ok(
                        self.fail_now(Failure::Validation("A file's uri must be a data: URI."))
                    )
                }
                FileKind::Upload => {
                    let (target, stream) = if let Some(t) = request.get("thread") {
                        (t, "messages")
                    } else if let Some(m) = request.get("message") {
                        (m, "replies")
                    } else {
                        (
                            request
                                .get("channel")
                                .ok_or(Misuse::InvalidArgument("channel"))?,
                            "messages",
                        )
                    };
                    let stream = link(&target, "_streams", stream)?;
                    let mut fields = Vec::new();
                    for key in ["groupTag", "properties"] {
                        if let Some(v) = request.get(key).filter(Payload::truthy) {
                            if let Some(json) = v.to_json() {
                                fields.push((key, json));
                            }
                        }
                    }
                    return Ok(self.upload(&stream, file, fields, request, Post::MapFile));
                }
            },
            (Some(_), Some(_)) => {
                return Ok(self.fail_now(Failure::Validation(
                    "A message has either a body or a file, not both.",
                )))
            }
            (None, None) => {
                return Ok(self.fail_now(Failure::Validation("A message needs a body or a file.")))
            }
        }
        for key in ["groupTag", "properties"] {
            if let Some(v) = request.get(key).and_then(|v| v.to_json()) {
                body.push_str(",\"");
                body.push_str(key);
                body.push_str("\":");
                body.push_str(&v);
            }
        }
        body.push('}');
        Ok(self.call_action(dest, body, Mode::Event(Post::MapFile), true, now))
    }

    /// `updateCurrentUserDisplayPicture({file})`: external files through the
    /// `updateDisplayPicture` action, a File (or `{uri}`) uploaded to
    /// `_streams.displayPicture` (docs/api.md §13: the official client would send `{}`).
    fn display_picture(
        &mut self,
        dest: String,
        request: &P,
        user: Option<P>,
        now: u64,
    ) -> Result<Id, Misuse> {
        let file = request.get("file").ok_or(Misuse::InvalidArgument("file"))?;
        match file_kind(&file) {
            FileKind::External => {
                let body = file.to_json().ok_or(Misuse::InvalidArgument("file"))?;
                Ok(self.call_action(dest, body, Mode::Event(Post::SetUser), false, now))
            }
            FileKind::BadUri => {
                Ok(self.fail_now(Failure::Validation("A file's uri must be a data: URI.")))
            }
            FileKind::Upload => {
                let user = user.ok_or(Misuse::NoActiveSession)?;
                let stream = link(&user, "_streams", "displayPicture")?;
                Ok(self.upload(&stream, file, Vec::new(), request, Post::SetUser))
            }
        }
    }
}

/// `{"a": <json of request.a>, …}` for the present fields.
fn pick<P: Payload>(request: &P, fields: &[&str]) -> String {
    let mut out = String::from("{");
    for f in fields {
        if let Some(json) = request.get(f).and_then(|v| v.to_json()) {
            if out.len() > 1 {
                out.push(',');
            }
            push_json_string(&mut out, f);
            out.push(':');
            out.push_str(&json);
        }
    }
    out.push('}');
    out
}

/// A value as a parameter header: JavaScript's `String(v)` (docs/protocol.md §3.1).
fn stringify<P: Payload>(v: &P) -> Option<String> {
    if let Some(s) = v.as_string() {
        return Some(s);
    }
    v.to_json().map(|j| {
        if j.starts_with('{') {
            String::from("[object Object]")
        } else {
            j
        }
    })
}
