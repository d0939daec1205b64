//! The API calls of docs/api.md as data: one table row per call, read by one generic relay
//! path and one generic action path (docs/protocol.md §7). A row says where the destination
//! comes from, which parameter headers or body to send, what completes the call, what
//! a missing link throws, whether a session is required (NAS, docs/api.md §2.3), and which
//! field of the result object carries the payload (docs/api.md §11.3).
//!
//! The table is also the one source of the JavaScript surface: each row names its
//! [`Call`], its TypeScript signature, its 2.x aliases (docs/api.md §12.1), whether it is
//! an extension beyond 1.58.2, and its JSDoc ([`JS`]). A call's [`Op`] is its place in
//! the table. `pkg-template/surface.js`'s tables and the call block of
//! `pkg-template/index.d.ts` are written from it by the surface check
//! (`src/core/tests/surface.rs`: `UPDATE_SURFACE=1 cargo test -p chatkitty-wasm --lib
//! surface`), which fails when they, or the compatibility harness's list of the 1.58.2
//! surface, disagree with it. To add a call, add a row and run that command.

use chatkitty_protocol::destination::{self as dest, ChannelVerb, MessageVerb};

use super::requests::{Mode, Shape};
use super::text::{self, push_json_string};
use super::types::{Failure, Id, Misuse, PageKind, Post, Thrown};
use super::uploads::{file_kind, FileKind};
use super::{Client, Payload};

/// A call's number: its row in [`OPS`] and its place in surface.js's name table.
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
    /// Action `verb` of `request.channel` (docs/protocol.md §22: moderation), built from
    /// the channel's id, since its hypermedia does not carry the moderation actions.
    ChannelAction(&'static str),
    /// Action `verb` of `request.message`, built from its id.
    MessageAction(&'static str),
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

/// `request.channel`'s action `verb`, named as the protocol crate names it.
const fn on_channel(verb: ChannelVerb) -> Target {
    Target::ChannelAction(verb.as_str())
}

/// `request.message`'s action `verb`.
const fn on_message(verb: MessageVerb) -> Target {
    Target::MessageAction(verb.as_str())
}

/// A moderation action (docs/protocol.md §22): NAS, the request's `fields` as body,
/// completed by its RECEIPT with the request's `key` (the channel or message).
const fn moderation(target: Target, fields: &'static [&'static str], key: &'static str) -> Spec {
    let mut s = receipt(true, target, key);
    s.body = Body::Pick(fields);
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

/// How a call appears in JavaScript. Only the surface check reads it (the wasm build
/// links none of it).
#[derive(Debug, Clone, Copy)]
pub struct JsMethod {
    /// The TypeScript signature: the name, the parameters (`()`: the call takes no
    /// argument, its `Function.length` is 0) and the result.
    pub signature: &'static str,
    /// Its 2.x names (docs/api.md §12.1).
    pub aliases: &'static [&'static str],
    /// Whether it is ours, beyond the 1.58.2 surface (docs/api.md §16).
    pub extension: bool,
    /// Its JSDoc, a line per entry (the row's doc comment).
    pub doc: &'static [&'static str],
}

impl JsMethod {
    /// The method's name.
    pub fn name(&self) -> &'static str {
        self.signature.split('(').next().unwrap_or_default()
    }
}

macro_rules! extension {
    () => {
        false
    };
    (extension) => {
        true
    };
}

/// Defines [`Call`], [`OPS`] and [`JS`] from the rows of one table: `Name [aliases]
/// extension?: "signature" => spec,`, each with its JSDoc as doc comment.
macro_rules! calls {
    ($(
        $(#[doc = $doc:literal])*
        $call:ident $([$($alias:literal),+])? $($ext:ident)?: $sig:literal => $spec:expr,
    )*) => {
        /// Every API call, in [`Op`] order; each one's doc is its JSDoc.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        pub enum Call {
            $($(#[doc = $doc])* $call,)*
        }

        const COUNT: usize = [$(Call::$call),*].len();

        impl Call {
            /// Every call, in [`Op`] order.
            pub const ALL: [Call; COUNT] = [$(Call::$call),*];
        }

        /// Every call's row, in [`Op`] order.
        pub static OPS: [Spec; COUNT] = [$($spec),*];

        /// Every call's JavaScript, in [`Op`] order.
        pub const JS: [JsMethod; COUNT] = [$(JsMethod {
            signature: $sig,
            aliases: &[$($($alias),+)?],
            extension: extension!($($ext)?),
            doc: &[$($doc),*],
        }),*];
    };
}

impl Call {
    /// The call's number.
    pub const fn op(self) -> Op {
        self as Op
    }
}

calls! {
    /// Saves the user `update` returns from the live current user (the whole object is
    /// sent); `currentUser` and `onCurrentUserChanged` follow. Throws `NoActiveSessionError`.
    /// @example
    /// ```ts
    /// await kitty.updateCurrentUser((user) => { user.properties = { color: 'teal' }; return user; });
    /// ```
    UpdateCurrentUser: "updateCurrentUser(update: (user: CurrentUser) => CurrentUser): Promise<UpdateCurrentUserResult>"
        // surface.js passes `update(currentUser)` as the request.
        => Spec {
            via: Via::Event(Post::SetUser),
            ..action(true, on!("" => "update"), Body::Request, "user")
        },
    /// Sets the display picture: a File/Blob or `{uri: 'data:…'}` is uploaded, external
    /// file properties are saved by reference. Throws `NoActiveSessionError`.
    UpdateCurrentUserDisplayPicture: "updateCurrentUserDisplayPicture(request: UpdateCurrentUserDisplayPictureRequest): Promise<UpdateCurrentUserDisplayPictureResult>"
        => Spec {
            via: Via::DisplayPicture,
            ..action(true, on!("" => "updateDisplayPicture"), Body::Empty, "user")
        },
    /// Saves the channel as edited (name, displayName, properties).
    UpdateChannel: "updateChannel(request: UpdateChannelRequest): Promise<UpdateChannelResult>"
        // the whole channel is the body.
        => action(
            false,
            on!("channel" => "update"),
            Body::Field("channel"),
            "channel",
        ),
    /// Deletes a channel.
    DeleteChannel: "deleteChannel(request: DeleteChannelRequest): Promise<DeleteChannelResult>"
        => Spec {
            key: None,
            ..action(false, on!("channel" => "delete"), Body::Empty, "channel")
        },
    /// Creates a channel (or returns the existing direct channel). Throws
    /// `NoActiveSessionError`.
    CreateChannel: "createChannel(request: CreateChannelRequest): Promise<CreateChannelResult>"
        => Spec {
            via: Via::CreateChannel,
            ..action(true, on!("" => "createChannel"), Body::Request, "channel")
        },
    /// Channels: all visible, `joined: true` the user's, `joined: false` joinable,
    /// `unread: true` with unread messages. Throws `NoActiveSessionError`.
    GetChannels ["listChannels"]: "getChannels(request?: GetChannelsRequest): Promise<GetChannelsResult>"
        => page(true, Target::Channels, page_kind("channels", false)),
    /// A channel by id; waits for a connection.
    GetChannel ["retrieveChannel"]: "getChannel(id: number): Promise<GetChannelResult>"
        => relay(false, Target::ChannelById, Shape::Plain, "channel"),
    /// Joins a public channel. Throws `NoActiveSessionError`, and
    /// `ChannelNotPubliclyJoinableError` when the channel has no join action.
    JoinChannel: "joinChannel(request: JoinChannelRequest): Promise<JoinChannelResult>"
        => throws(
            action(true, on!("channel" => "join"), Body::Request, "channel"),
            Thrown::NotPubliclyJoinable,
        ),
    /// Leaves a channel. Throws `NoActiveSessionError`, and `NotAChannelMemberError`
    /// when the channel has no leave action.
    LeaveChannel: "leaveChannel(request: LeaveChannelRequest): Promise<LeaveChannelResult>"
        => throws(
            action(true, on!("channel" => "leave"), Body::Empty, "channel"),
            Thrown::NotAChannelMember,
        ),
    /// Makes a user a moderator. Throws `CannotAddModeratorToChannelError` when the
    /// channel has no add-moderator action.
    AddChannelModerator: "addChannelModerator(request: AddChannelModeratorRequest): Promise<AddChannelModeratorResult>"
        // the user reference is the body.
        => throws(
            action(
                false,
                on!("channel" => "addModerator"),
                Body::Field("user"),
                "channel",
            ),
            Thrown::CannotAddModerator,
        ),
    /// How many of the user's channels have unread messages. Throws `NoActiveSessionError`.
    GetUnreadChannelsCount ["countUnreadChannels"]: "getUnreadChannelsCount(request?: GetUnreadChannelsRequest): Promise<GetCountResult>"
        => count(
            true,
            on!("" => "channelsCount"),
            &[
                Param::Const("unread", "true"),
                Param::From("type", &["filter", "type"]),
            ],
        ),
    /// Whether the channel has unread messages. Throws `NoActiveSessionError`.
    GetChannelUnread ["checkChannelUnread"]: "getChannelUnread(request: GetChannelUnreadRequest): Promise<GetChannelUnreadResult>"
        => relay(
            true,
            on!("channel" => "unread"),
            Shape::Field("exists"),
            "unread",
        ),
    /// Marks the channel read; resolves with the channel passed in. Throws `NoActiveSessionError`.
    ReadChannel: "readChannel(request: ReadChannelRequest): Promise<ReadChannelResult>"
        => receipt(true, on!("channel" => "read"), "channel"),
    /// Mutes a channel's notifications. Throws `NoActiveSessionError`.
    MuteChannel: "muteChannel(request: MuteChannelRequest): Promise<MuteChannelResult>"
        => action(
            true,
            on!("channel" => "mute"),
            Body::Const("{\"state\":\"ON\"}"),
            "channel",
        ),
    /// Unmutes a channel. Throws `NoActiveSessionError`.
    UnmuteChannel: "unmuteChannel(request: UnmuteChannelRequest): Promise<UnmuteChannelResult>"
        => action(
            true,
            on!("channel" => "mute"),
            Body::Const("{\"state\":\"OFF\"}"),
            "channel",
        ),
    /// Clears the channel's history for the user. Throws `NoActiveSessionError`.
    ClearChannelHistory: "clearChannelHistory(request: ClearChannelHistoryRequest): Promise<ClearChannelHistoryResult>"
        => action(
            true,
            on!("channel" => "clearHistory"),
            Body::Empty,
            "channel",
        ),
    /// Hides a direct channel until a new message arrives.
    HideChannel: "hideChannel(request: HideChannelRequest): Promise<HideChannelResult>"
        => action(false, on!("channel" => "hide"), Body::Empty, "channel"),
    /// Sends a text message, an external file, or uploads a File/Blob/`{uri}` with
    /// real progress. Throws `NoActiveSessionError`. Offline, a text or external-file
    /// message waits for the connection (up to `sendTimeout`, then it fails with
    /// `ChatKittyTimeoutError`); it carries an `idempotency-key`, so one cut off by a
    /// drop is sent again and stored once.
    SendMessage: "sendMessage(request: SendMessageRequest): Promise<SendMessageResult>"
        => Spec {
            via: Via::SendMessage,
            ..action(
                true,
                on!("thread" => "message", "message" => "reply", "channel" => "message"),
                Body::Empty,
                "message",
            )
        },
    /// Messages (newest first) or replies. Throws `NoActiveSessionError`.
    GetMessages ["listMessages"]: "getMessages(request: GetMessagesRequest): Promise<GetMessagesResult>"
        => with_params(
            page(
                true,
                on!("channel" => "messages", "message" => "replies"),
                PageKind::MESSAGES,
            ),
            &[Param::Filter],
        ),
    /// Unread messages in all the user's channels, or in one. Throws `NoActiveSessionError`.
    GetUnreadMessagesCount ["countUnreadMessages"]: "getUnreadMessagesCount(request?: GetUnreadMessagesCountRequest): Promise<GetCountResult>"
        => count(
            true,
            on!("channel" => "messagesCount", "" => "unreadMessagesCount"),
            &[Param::Const("unread", "true")],
        ),
    /// Sends a custom event to the channel's participants; resolves with the channel
    /// passed in. Throws `NoActiveSessionError`.
    TriggerEvent: "triggerEvent(request: TriggerEventRequest): Promise<TriggerEventResult>"
        => Spec {
            body: Body::Pick(&["type", "properties"]),
            ..receipt(true, on!("channel" => "triggerEvent"), "channel")
        },
    /// Marks a message read; resolves with the message passed in.
    ReadMessage: "readMessage(request: ReadMessageRequest): Promise<ReadMessageResult>"
        => receipt(false, on!("message" => "read"), "message"),
    /// A user's last read message in a channel (`message` undefined when none).
    GetLastReadMessage ["retrieveLastReadMessage"]: "getLastReadMessage(request: GetLastReadMessageRequest): Promise<GetLastReadMessageResult>"
        => with_params(
            relay(
                false,
                on!("channel" => "lastReadMessage"),
                Shape::Plain,
                "message",
            ),
            &[Param::From("username", &["username"])],
        ),
    /// Edits a message's text.
    EditMessage: "editMessage(request: EditMessageRequest): Promise<EditMessageResult>"
        => action(
            false,
            on!("message" => "edit"),
            Body::Pick(&["body"]),
            "message",
        ),
    /// How many replies a message has.
    GetMessageRepliesCount ["countMessageReplies"]: "getMessageRepliesCount(request: GetMessageRepliesCountRequest): Promise<GetCountResult>"
        => count(false, on!("message" => "repliesCount"), &[]),
    /// The channel of a message.
    GetMessageChannel ["retrieveMessageChannel"]: "getMessageChannel(request: GetMessageChannelRequest): Promise<GetMessageChannelResult>"
        => relay(false, on!("message" => "channel"), Shape::Plain, "channel"),
    /// The message a reply answers; rejects with `MessageNotAReplyError` otherwise.
    GetMessageParent ["retrieveMessageParent"]: "getMessageParent(request: GetMessageParentRequest): Promise<GetMessageParentResult>"
        => Spec {
            missing: Missing::NotAReply,
            ..relay(false, on!("message" => "parent"), Shape::Plain, "message")
        },
    /// Creates a stand-alone thread in a channel.
    CreateThread: "createThread(request: CreateThreadRequest): Promise<CreateThreadResult>"
        => action(
            false,
            on!("channel" => "createThread"),
            Body::Pick(&["name", "properties"]),
            "thread",
        ),
    /// A channel's threads.
    GetThreads ["listThreads"]: "getThreads(request: GetThreadsRequest): Promise<GetThreadsResult>"
        => with_params(
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
    /// The channel of a thread.
    GetThreadChannel ["listThreadChannel"]: "getThreadChannel(request: GetThreadChannelRequest): Promise<GetThreadChannelResult>"
        => relay(false, on!("thread" => "channel"), Shape::Plain, "channel"),
    /// The message a thread hangs from.
    GetThreadMessage ["listThreadMessage"]: "getThreadMessage(request: GetThreadMessageRequest): Promise<GetThreadMessageResult>"
        => relay(false, on!("thread" => "message"), Shape::Plain, "message"),
    /// Marks a thread read; resolves with the thread passed in. Throws `NoActiveSessionError`.
    ReadThread: "readThread(request: ReadThreadRequest): Promise<ReadThreadResult>"
        => receipt(true, on!("thread" => "read"), "thread"),
    /// Reacts to a message with an emoji alias or character.
    ReactToMessage: "reactToMessage(request: ReactToMessageRequest): Promise<ReactToMessageResult>"
        => action(
            false,
            on!("message" => "react"),
            Body::Pick(&["emoji"]),
            "reaction",
        ),
    /// A message's reactions.
    GetReactions ["listReactions"]: "getReactions(request: GetReactionsRequest): Promise<GetReactionsResult>"
        => page(
            false,
            on!("message" => "reactions"),
            page_kind("reactions", false),
        ),
    /// Removes the user's reaction.
    RemoveReaction: "removeReaction(request: RemoveReactionRequest): Promise<RemoveReactionResult>"
        => action(
            false,
            on!("message" => "removeReaction"),
            Body::Pick(&["emoji"]),
            "reaction",
        ),
    /// Deletes a message for the user only.
    DeleteMessageForMe: "deleteMessageForMe(request: DeleteMessageForMeRequest): Promise<DeleteMessageForMeResult>"
        => action(
            false,
            on!("message" => "deleteForMe"),
            Body::Empty,
            "message",
        ),
    /// Deletes a message for everyone.
    DeleteMessage: "deleteMessage(request: DeleteMessageRequest): Promise<DeleteMessageResult>"
        => action(false, on!("message" => "delete"), Body::Empty, "message"),
    /// The channel's members. Throws `NoActiveSessionError`.
    GetChannelMembers ["listChannelMembers"]: "getChannelMembers(request: GetChannelMembersRequest): Promise<GetUsersResult>"
        => with_params(
            page(true, on!("channel" => "members"), page_kind("users", false)),
            &[Param::Filter],
        ),
    /// A message's read receipts. Throws `NoActiveSessionError`.
    GetReadReceipts ["listReadReceipts"]: "getReadReceipts(request: GetReadReceiptsRequest): Promise<GetReadReceiptsResult>"
        => page(
            true,
            on!("message" => "readReceipts"),
            page_kind("receipts", false),
        ),
    /// The user's contacts. Throws `NoActiveSessionError`.
    GetUsers ["listUsers"]: "getUsers(request?: GetUsersRequest): Promise<GetUsersResult>"
        => with_params(
            page(true, on!("" => "contacts"), page_kind("users", false)),
            &[Param::Filter],
        ),
    /// How many contacts match. Throws `NoActiveSessionError`.
    GetUsersCount ["listUsersCount"]: "getUsersCount(request?: GetUsersRequest): Promise<GetCountResult>"
        => count(true, on!("" => "contactsCount"), &[Param::Filter]),
    /// Invites a user. Throws `ChannelNotInvitableError` when the channel has no invite action.
    InviteUser: "inviteUser(request: InviteUserRequest): Promise<InviteUserResult>"
        => throws(
            action(
                false,
                on!("channel" => "invite"),
                Body::Pick(&["user"]),
                "user",
            ),
            Thrown::NotInvitable,
        ),
    /// A user by id (resolves failed on a server error).
    GetUser ["retrieveUser"]: "getUser(id: number): Promise<GetUserResult>"
        => relay(false, Target::UserById, Shape::Plain, "user"),
    /// Whether a user is a member of a channel. Throws `NoActiveSessionError`.
    GetUserIsChannelMember ["checkUserIsChannelMember"]: "getUserIsChannelMember(request: GetUserIsChannelMemberRequest): Promise<GetUserIsChannelMemberResult>"
        => with_params(
            relay(
                true,
                on!("user" => "channelMember"),
                Shape::Field("exists"),
                "isMember",
            ),
            &[Param::From("channelId", &["channel", "id"])],
        ),
    /// Blocks a user.
    BlockUser: "blockUser(request: BlockUserRequest): Promise<BlockUserResult>"
        => action(false, Target::UserBlock, Body::Empty, "user"),
    /// The users the current user blocked. Throws `NoActiveSessionError`.
    GetUserBlockList ["listUserBlockedRecords"]: "getUserBlockList(): Promise<GetUserBlockListResult>"
        => page(
            true,
            on!("" => "userBlockListItems"),
            page_kind("items", false),
        ),
    /// Unblocks; resolves with the unblocked user.
    DeleteUserBlockListItem ["deleteUserBlockedRecord"]: "deleteUserBlockListItem(request: DeleteUserBlockListItemRequest): Promise<DeleteUserBlockListItemResult>"
        => action(false, on!("item" => "delete"), Body::Empty, "user"),
    /// A fresh copy of the current user. Throws `NoActiveSessionError`.
    GetCurrentUser ["retrieveCurrentUser"]: "getCurrentUser(): Promise<GetCurrentUserResult>"
        => relay(true, on!("" => "self"), Shape::Plain, "user"),
    /// Full-text search over the messages the user may read, newest first (an extension
    /// beyond chatkitty 1.58.2: docs/api.md §8). A page may hold fewer results than its
    /// size when the server stopped early; `paginator.hasNextPage` says whether to go on.
    /// Throws `NoActiveSessionError`.
    SearchMessages extension: "searchMessages(request: SearchMessagesRequest): Promise<SearchMessagesResult>"
        => with_params(
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
    /// Reports a message to the application's moderators (an extension beyond
    /// chatkitty 1.58.2: docs/api.md §16.1); reporting it again changes nothing. Resolves
    /// with the message passed in. Throws `NoActiveSessionError`.
    FlagMessage extension: "flagMessage(request: FlagMessageRequest): Promise<FlagMessageResult>"
        => moderation(on_message(MessageVerb::Flag), &["reason"], "message"),
    /// Bans a member from a channel you moderate, for `durationSeconds` or until unbanned
    /// (an extension: docs/api.md §16.1): they leave it and can neither read, join nor be
    /// invited back. Resolves with the channel passed in. Throws `NoActiveSessionError`.
    BanChannelMember extension: "banChannelMember(request: BanChannelMemberRequest): Promise<BanChannelMemberResult>"
        => moderation(
            on_channel(ChannelVerb::Ban),
            &["user", "reason", "durationSeconds"],
            "channel",
        ),
    /// Lifts a member's ban from a channel you moderate (an extension: docs/api.md
    /// §16.1). Resolves with the channel passed in. Throws `NoActiveSessionError`.
    UnbanChannelMember extension: "unbanChannelMember(request: UnbanChannelMemberRequest): Promise<UnbanChannelMemberResult>"
        => moderation(on_channel(ChannelVerb::Unban), &["user"], "channel"),
    /// Mutes a member of a channel you moderate, for `durationSeconds` or until unmuted
    /// (an extension: docs/api.md §16.1): they still read, and their messages fail with
    /// `MutedError`. Resolves with the channel passed in. Throws `NoActiveSessionError`.
    MuteChannelMember extension: "muteChannelMember(request: MuteChannelMemberRequest): Promise<MuteChannelMemberResult>"
        => moderation(
            on_channel(ChannelVerb::MuteMember),
            &["user", "durationSeconds"],
            "channel",
        ),
    /// Lifts a member's mute in a channel you moderate (an extension: docs/api.md
    /// §16.1). Resolves with the channel passed in. Throws `NoActiveSessionError`.
    UnmuteChannelMember extension: "unmuteChannelMember(request: UnmuteChannelMemberRequest): Promise<UnmuteChannelMemberResult>"
        => moderation(on_channel(ChannelVerb::UnmuteMember), &["user"], "channel"),
    /// Sets the seconds a member of a channel you moderate must wait between messages (0:
    /// off; moderators are exempt; an extension: docs/api.md §16.1). Messages sent sooner
    /// fail with `SlowModeError`. Resolves with the channel passed in. Throws
    /// `NoActiveSessionError`.
    SetChannelSlowMode extension: "setChannelSlowMode(request: SetChannelSlowModeRequest): Promise<SetChannelSlowModeResult>"
        => moderation(on_channel(ChannelVerb::SlowMode), &["seconds"], "channel"),
}

impl Spec {
    /// Whether the call needs a session (NAS, docs/api.md §2.3).
    pub fn needs_session(&self) -> bool {
        self.nas
    }
}

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

/// `/application/v1/{kind}/{request[field].id}.{verb}`, which tests hold equal to the
/// protocol crate's `Action::to_destination` (built here without its `format!`, which
/// costs the package 0.9 KB gzip).
#[allow(clippy::type_complexity)]
fn verb_of<P: Payload>(
    request: &P,
    field: &'static str,
    kind: &'static str,
    verb: &str,
) -> Result<Result<String, Failure<P>>, Misuse> {
    let mut d = by_id(kind, id_in(request, field)?, ".");
    d.push_str(verb);
    Ok(Ok(d))
}

/// `request[field].id`.
fn id_in<P: Payload>(request: &P, field: &'static str) -> Result<u64, Misuse> {
    let id = request
        .get(field)
        .and_then(|r| r.get("id"))
        .ok_or(Misuse::InvalidArgument(field))?;
    id_of(&id)
}

fn at<P: Payload>(v: &P, path: &[&'static str]) -> Option<P> {
    let mut v = v.clone();
    for k in path {
        v = v.get(k)?;
    }
    Some(v)
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
                Ok(self.call_action(dest, body, mode, None, now))
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
                let id = id_in(request, "user")?;
                return Ok(Ok(by_id("users", id, ".block")));
            }
            Target::ChannelAction(verb) => return verb_of(request, "channel", "channels", verb),
            Target::MessageAction(verb) => return verb_of(request, "message", "messages", verb),
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
                return Ok(Ok(hyperlink(user, "_relays", name)?));
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
                    let stream = hyperlink(&target, "_streams", stream)?;
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
        // The key of a send the app keeps across pages (the offline outbox, docs/api.md
        // §17), else a new one.
        let key = request.get("idempotencyKey").and_then(|k| k.as_string());
        let key = key.unwrap_or_else(|| self.ids.uuid());
        Ok(self.call_action(dest, body, Mode::Event(Post::MapFile), Some(key), now))
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
                Ok(self.call_action(dest, body, Mode::Event(Post::SetUser), None, now))
            }
            FileKind::BadUri => {
                Ok(self.fail_now(Failure::Validation("A file's uri must be a data: URI.")))
            }
            FileKind::Upload => {
                let user = user.ok_or(Misuse::NoActiveSession)?;
                let stream = hyperlink(&user, "_streams", "displayPicture")?;
                Ok(self.upload(&stream, file, Vec::new(), request, Post::SetUser))
            }
        }
    }
}

/// The link `kind.name` of `resource` (`_actions.keystrokes`), or a `TypeError` naming
/// it (a resource without hypermedia was passed).
pub(crate) fn hyperlink<P: Payload>(
    resource: &P,
    kind: &'static str,
    name: &'static str,
) -> Result<String, Misuse> {
    resource
        .get_str(&[kind, name])
        .ok_or(Misuse::InvalidArgument(name))
}

/// `{"a": <json of request.a>, …}` for the present fields.
fn pick<P: Payload>(request: &P, fields: &[&'static str]) -> String {
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
