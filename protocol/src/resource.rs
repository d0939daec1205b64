//! Wire resources (docs/protocol.md §12) with their hypermedia (docs/protocol.md §6), as the
//! server renders them. Enabled by the `resources` feature (it needs `serde_json` for
//! free-form `properties`); the SDK does not need it, because apps receive the
//! resources as the plain JSON objects the server sent.
//!
//! Fields the official client tests by presence (`file`, `body`, `user` on messages)
//! are `Option`s skipped when `None`, never `null` (docs/protocol.md §12, §16.18).

use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::destination::{
    Action, ChannelTopic, ChannelVerb, MessageVerb, Relay, ThreadTopic, ThreadVerb, Topic,
    UserTopic, CURRENT_USER_RELAY, READ_GRANT_RELAY, WRITE_GRANT_RELAY,
};

/// Free-form JSON (`properties`, custom event payloads), kept as raw text.
pub type Json = Box<RawValue>;

/// `{}` as a [`Json`].
pub fn empty_object() -> Json {
    RawValue::from_string("{}".to_owned()).unwrap_or_else(|_| unreachable!())
}

/// The relay answer envelope `{"resource": …}` (docs/protocol.md §3.1).
#[derive(Debug, Serialize)]
pub struct RelayEnvelope<'a, T: Serialize> {
    /// The resource.
    pub resource: &'a T,
}

/// The topic event envelope `{"type", "version", "resource"}` (docs/protocol.md §3.2).
#[derive(Debug, Serialize)]
pub struct EventEnvelope<'a, T: Serialize> {
    /// Event type (see [`crate::event::types`]).
    #[serde(rename = "type")]
    pub kind: &'a str,
    /// Always `v1`.
    pub version: &'a str,
    /// The resource.
    pub resource: &'a T,
}

/// `presence` of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// `AVAILABLE`, `AWAY`, `DO_NOT_DISTURB`, `INVISIBLE` or `OFFLINE`.
    pub status: String,
    /// Whether the user has a live session (as seen by the viewer).
    pub online: bool,
}

/// A user as seen by others (docs/protocol.md §12.1).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Id.
    pub id: u64,
    /// Unique username.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Avatar URL.
    pub display_picture_url: String,
    /// Created by a guest session.
    pub is_guest: bool,
    /// Presence.
    pub presence: Presence,
    /// Custom data.
    pub properties: Json,
    /// Relays.
    #[serde(rename = "_relays")]
    pub relays: UserRelays,
}

/// `User._relays`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRelays {
    /// `users/{id}.relay`.
    #[serde(rename = "self")]
    pub self_: String,
    /// `users/{id}/channel_member.relay`.
    pub channel_member: String,
}

impl UserRelays {
    /// The links of user `id`.
    pub fn of(id: u64) -> UserRelays {
        UserRelays {
            self_: Relay::User(id).to_destination(),
            channel_member: Relay::UserChannelMember(id).to_destination(),
        }
    }
}

/// The current user (docs/protocol.md §6.1, 12.6).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentUser {
    /// Id.
    pub id: u64,
    /// Unique username.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Avatar URL.
    pub display_picture_url: String,
    /// Created by a guest session.
    pub is_guest: bool,
    /// Presence.
    pub presence: Presence,
    /// Custom data.
    pub properties: Json,
    /// Relays.
    #[serde(rename = "_relays")]
    pub relays: CurrentUserRelays,
    /// The ten user topics.
    #[serde(rename = "_topics")]
    pub topics: CurrentUserTopics,
    /// Actions.
    #[serde(rename = "_actions")]
    pub actions: CurrentUserActions,
    /// Upload streams.
    #[serde(rename = "_streams")]
    pub streams: CurrentUserStreams,
}

/// `CurrentUser._relays`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct CurrentUserRelays {
    #[serde(rename = "self")]
    pub self_: String,
    pub read_file_access_grant: String,
    pub write_file_access_grant: String,
    pub channels_count: String,
    pub channels: String,
    pub joinable_channels: String,
    pub unread_channels_count: String,
    pub unread_channels: String,
    pub unread_messages_count: String,
    pub contacts_count: String,
    pub contacts: String,
    pub user_block_list_items: String,
    /// Not in docs/protocol.md §6.1 (a User link): lets apps pass the current user to
    /// `getUserIsChannelMember`, which reads `user._relays.channelMember`.
    pub channel_member: String,
}

/// `CurrentUser._topics`: all ten (docs/protocol.md §4.1: the client subscribes every one).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct CurrentUserTopics {
    #[serde(rename = "self")]
    pub self_: String,
    pub channels: String,
    pub messages: String,
    pub notifications: String,
    pub contacts: String,
    pub participants: String,
    pub users: String,
    pub reactions: String,
    pub threads: String,
    pub calls: String,
}

/// `CurrentUser._actions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct CurrentUserActions {
    pub update: String,
    pub create_channel: String,
    pub update_display_picture: String,
}

/// `CurrentUser._streams`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct CurrentUserStreams {
    pub display_picture: String,
}

/// Path of the display-picture upload stream.
pub const DISPLAY_PICTURE_STREAM: &str = "/files/v1/user/display_picture";

impl CurrentUser {
    /// Builds the current user's resource with every link of docs/protocol.md §6.1.
    pub fn from_user(user: User) -> CurrentUser {
        let id = user.id;
        let t = |t: UserTopic| Topic::User(id, t).to_destination();
        CurrentUser {
            id,
            name: user.name,
            display_name: user.display_name,
            display_picture_url: user.display_picture_url,
            is_guest: user.is_guest,
            presence: user.presence,
            properties: user.properties,
            relays: CurrentUserRelays {
                self_: CURRENT_USER_RELAY.to_owned(),
                read_file_access_grant: READ_GRANT_RELAY.to_owned(),
                write_file_access_grant: WRITE_GRANT_RELAY.to_owned(),
                channels_count: Relay::MyChannelsCount.to_destination(),
                channels: Relay::MyChannels.to_destination(),
                joinable_channels: Relay::MyJoinableChannels.to_destination(),
                unread_channels_count: Relay::MyUnreadChannelsCount.to_destination(),
                unread_channels: Relay::MyUnreadChannels.to_destination(),
                unread_messages_count: Relay::MyUnreadMessagesCount.to_destination(),
                contacts_count: Relay::MyContactsCount.to_destination(),
                contacts: Relay::MyContacts.to_destination(),
                user_block_list_items: Relay::MyBlockListItems.to_destination(),
                channel_member: Relay::UserChannelMember(id).to_destination(),
            },
            topics: CurrentUserTopics {
                self_: t(UserTopic::Self_),
                channels: t(UserTopic::Channels),
                messages: t(UserTopic::Messages),
                notifications: t(UserTopic::Notifications),
                contacts: t(UserTopic::Contacts),
                participants: t(UserTopic::Participants),
                users: t(UserTopic::Users),
                reactions: t(UserTopic::Reactions),
                threads: t(UserTopic::Threads),
                calls: t(UserTopic::Calls),
            },
            actions: CurrentUserActions {
                update: Action::UpdateCurrentUser.to_destination(),
                create_channel: Action::CreateChannel.to_destination(),
                update_display_picture: Action::UpdateDisplayPicture.to_destination(),
            },
            streams: CurrentUserStreams {
                display_picture: DISPLAY_PICTURE_STREAM.to_owned(),
            },
        }
    }
}

/// Channel types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChannelType {
    /// A conversation between a fixed set of up to ten users, no name needed.
    Direct,
    /// A named channel anyone can find and join.
    Public,
    /// A named channel joined by invitation.
    Private,
}

impl ChannelType {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChannelType::Direct => "DIRECT",
            ChannelType::Public => "PUBLIC",
            ChannelType::Private => "PRIVATE",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<ChannelType> {
        match s {
            "DIRECT" => Some(ChannelType::Direct),
            "PUBLIC" => Some(ChannelType::Public),
            "PRIVATE" => Some(ChannelType::Private),
            _ => None,
        }
    }
}

/// A channel as seen by one viewer (docs/protocol.md §12.2, 6.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    /// Id.
    pub id: u64,
    /// Type.
    #[serde(rename = "type")]
    pub kind: ChannelType,
    /// Unique name.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Creator, absent for channels made through the Platform API.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub creator: Option<User>,
    /// Most recent message.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_received_message: Option<Box<Message>>,
    /// Members (direct channels).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub members: Option<Vec<User>>,
    /// Custom data.
    pub properties: Json,
    /// Creation time.
    pub created_time: String,
    /// Relays.
    #[serde(rename = "_relays")]
    pub relays: ChannelRelays,
    /// Topics.
    #[serde(rename = "_topics")]
    pub topics: ChannelTopics,
    /// Actions (optional ones present only when the viewer may use them).
    #[serde(rename = "_actions")]
    pub actions: ChannelActions,
    /// Upload streams.
    #[serde(rename = "_streams")]
    pub streams: ChannelStreams,
}

/// `Channel._relays`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct ChannelRelays {
    #[serde(rename = "self")]
    pub self_: String,
    pub messages: String,
    pub messages_count: String,
    pub last_received_message: String,
    pub last_read_message: String,
    pub unread: String,
    pub members: String,
    pub threads: String,
    pub calls: String,
}

impl ChannelRelays {
    /// The relays of channel `id`.
    pub fn of(id: u64) -> ChannelRelays {
        ChannelRelays {
            self_: Relay::Channel(id).to_destination(),
            messages: Relay::ChannelMessages(id).to_destination(),
            messages_count: Relay::ChannelMessagesCount(id).to_destination(),
            last_received_message: Relay::ChannelLastReceivedMessage(id).to_destination(),
            last_read_message: Relay::ChannelLastReadMessage(id).to_destination(),
            unread: Relay::ChannelUnread(id).to_destination(),
            members: Relay::ChannelMembers(id).to_destination(),
            threads: Relay::ChannelThreads(id).to_destination(),
            calls: Relay::ChannelCalls(id).to_destination(),
        }
    }
}

/// `Channel._topics`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct ChannelTopics {
    #[serde(rename = "self")]
    pub self_: String,
    pub messages: String,
    pub keystrokes: String,
    pub typing: String,
    pub participants: String,
    pub read_receipts: String,
    pub reactions: String,
    pub events: String,
}

impl ChannelTopics {
    /// The topics of channel `id`.
    pub fn of(id: u64) -> ChannelTopics {
        let t = |t: ChannelTopic| Topic::Channel(id, t).to_destination();
        ChannelTopics {
            self_: t(ChannelTopic::Self_),
            messages: t(ChannelTopic::Messages),
            keystrokes: t(ChannelTopic::Keystrokes),
            typing: t(ChannelTopic::Typing),
            participants: t(ChannelTopic::Participants),
            read_receipts: t(ChannelTopic::ReadReceipts),
            reactions: t(ChannelTopic::Reactions),
            events: t(ChannelTopic::Events),
        }
    }
}

/// `Channel._actions`. `join`, `leave`, `addModerator` and `invite` are optional: the
/// official client throws without sending when they are absent (docs/protocol.md §6.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct ChannelActions {
    pub message: String,
    pub keystrokes: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub join: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub leave: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub add_moderator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub invite: Option<String>,
    pub read: String,
    pub mute: String,
    pub call: String,
    pub trigger_event: String,
    pub update: String,
    pub delete: String,
    pub clear_history: String,
    pub hide: String,
    pub create_thread: String,
}

/// Which optional channel actions a viewer gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OptionalChannelActions {
    /// The viewer may join (a public channel they are not in).
    pub join: bool,
    /// The viewer may leave (a group channel they are in).
    pub leave: bool,
    /// The viewer may add moderators.
    pub add_moderator: bool,
    /// The viewer may invite (a private channel they are in).
    pub invite: bool,
}

impl ChannelActions {
    /// The actions of channel `id` with the optional ones chosen by `opt`.
    pub fn of(id: u64, opt: OptionalChannelActions) -> ChannelActions {
        let a = |v: ChannelVerb| Action::Channel(id, v).to_destination();
        let o = |on: bool, v: ChannelVerb| on.then(|| a(v));
        ChannelActions {
            message: a(ChannelVerb::Message),
            keystrokes: a(ChannelVerb::Keystrokes),
            join: o(opt.join, ChannelVerb::Join),
            leave: o(opt.leave, ChannelVerb::Leave),
            add_moderator: o(opt.add_moderator, ChannelVerb::AddModerator),
            invite: o(opt.invite, ChannelVerb::Invite),
            read: a(ChannelVerb::Read),
            mute: a(ChannelVerb::Mute),
            call: a(ChannelVerb::Call),
            trigger_event: a(ChannelVerb::TriggerEvent),
            update: a(ChannelVerb::Update),
            delete: a(ChannelVerb::Delete),
            clear_history: a(ChannelVerb::ClearHistory),
            hide: a(ChannelVerb::Hide),
            create_thread: a(ChannelVerb::CreateThread),
        }
    }
}

/// `Channel._streams`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ChannelStreams {
    pub messages: String,
}

impl ChannelStreams {
    /// The streams of channel `id`.
    pub fn of(id: u64) -> ChannelStreams {
        ChannelStreams {
            messages: format!("/files/v1/channels/{id}/messages"),
        }
    }
}

/// Message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageType {
    /// A user's text message.
    Text,
    /// A user's file message.
    File,
    /// A text message sent through the Platform API.
    SystemText,
    /// A file message sent through the Platform API.
    SystemFile,
}

impl MessageType {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            MessageType::Text => "TEXT",
            MessageType::File => "FILE",
            MessageType::SystemText => "SYSTEM_TEXT",
            MessageType::SystemFile => "SYSTEM_FILE",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<MessageType> {
        match s {
            "TEXT" => Some(MessageType::Text),
            "FILE" => Some(MessageType::File),
            "SYSTEM_TEXT" => Some(MessageType::SystemText),
            "SYSTEM_FILE" => Some(MessageType::SystemFile),
            _ => None,
        }
    }
}

/// A message (docs/protocol.md §12.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Id.
    pub id: u64,
    /// Type.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// Channel.
    pub channel_id: u64,
    /// Creation time.
    pub created_time: String,
    /// App-defined grouping tag.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub group_tag: Option<String>,
    /// Text (text messages only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub body: Option<String>,
    /// Links found in the text (text messages only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub links: Option<Vec<MessageLink>>,
    /// Mentions found in the text.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mentions: Option<Vec<serde_json::Value>>,
    /// The file (file messages only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<File>,
    /// The sender (user messages only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user: Option<User>,
    /// Reactions.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reactions: Option<Vec<serde_json::Value>>,
    /// Number of replies.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub replies_count: Option<u64>,
    /// Last edit time.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_edited_time: Option<String>,
    /// Deletion time (deleted messages keep their id; their body is emptied).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub deleted_time: Option<String>,
    /// Custom data.
    pub properties: Json,
    /// Relays.
    #[serde(rename = "_relays")]
    pub relays: MessageRelays,
    /// Actions.
    #[serde(rename = "_actions")]
    pub actions: MessageActions,
    /// Upload streams.
    #[serde(rename = "_streams")]
    pub streams: MessageStreams,
}

/// A link found in a message (`MessageLink`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageLink {
    /// The URL text.
    pub source: String,
    /// UTF-16 offset of the first code unit.
    pub start_position: u32,
    /// UTF-16 offset after the last code unit.
    pub end_position: u32,
}

/// `ChatKittyFile`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct File {
    /// `HOSTED` or `EXTERNAL`.
    #[serde(rename = "type")]
    pub kind: String,
    /// URL (no query string for hosted files).
    pub url: String,
    /// File name.
    pub name: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
}

/// `Message._relays`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct MessageRelays {
    #[serde(rename = "self")]
    pub self_: String,
    pub channel: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub parent: Option<String>,
    pub read_receipts: String,
    pub replies_count: String,
    pub replies: String,
    pub reactions: String,
}

impl MessageRelays {
    /// The relays of message `id`, with `parent` the parent message's id for replies.
    pub fn of(id: u64, parent: Option<u64>) -> MessageRelays {
        MessageRelays {
            self_: Relay::Message(id).to_destination(),
            channel: Relay::MessageChannel(id).to_destination(),
            parent: parent.map(|p| Relay::Message(p).to_destination()),
            read_receipts: Relay::MessageReadReceipts(id).to_destination(),
            replies_count: Relay::MessageRepliesCount(id).to_destination(),
            replies: Relay::MessageReplies(id).to_destination(),
            reactions: Relay::MessageReactions(id).to_destination(),
        }
    }
}

/// `Message._actions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct MessageActions {
    pub read: String,
    pub reply: String,
    pub delete_for_me: String,
    pub delete: String,
    pub react: String,
    pub edit: String,
    pub remove_reaction: String,
}

impl MessageActions {
    /// The actions of message `id`.
    pub fn of(id: u64) -> MessageActions {
        let a = |v: MessageVerb| Action::Message(id, v).to_destination();
        MessageActions {
            read: a(MessageVerb::Read),
            reply: a(MessageVerb::Reply),
            delete_for_me: a(MessageVerb::DeleteForMe),
            delete: a(MessageVerb::Delete),
            react: a(MessageVerb::React),
            edit: a(MessageVerb::Edit),
            remove_reaction: a(MessageVerb::RemoveReaction),
        }
    }
}

/// `Message._streams`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct MessageStreams {
    pub replies: String,
}

impl MessageStreams {
    /// The streams of message `id`.
    pub fn of(id: u64) -> MessageStreams {
        MessageStreams {
            replies: format!("/files/v1/messages/{id}/replies"),
        }
    }
}

/// `Keystrokes` (docs/protocol.md §12.5).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Keystrokes {
    pub username: String,
    pub keys: String,
    #[serde(rename = "_relays")]
    pub relays: KeystrokesRelays,
}

/// `Keystrokes._relays`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct KeystrokesRelays {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub thread: Option<String>,
    pub user: String,
}

/// A thread (docs/protocol.md §12.4).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Thread {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    pub properties: Json,
    pub created_time: String,
    #[serde(rename = "_relays")]
    pub relays: ThreadRelays,
    #[serde(rename = "_topics")]
    pub topics: ThreadTopics,
    #[serde(rename = "_actions")]
    pub actions: ThreadActions,
    #[serde(rename = "_streams")]
    pub streams: ThreadStreams,
}

/// `Thread._relays`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ThreadRelays {
    pub channel: String,
    pub message: String,
}

/// `Thread._topics`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ThreadTopics {
    #[serde(rename = "self")]
    pub self_: String,
    pub messages: String,
    pub keystrokes: String,
    pub typing: String,
}

/// `Thread._actions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ThreadActions {
    pub message: String,
    pub keystrokes: String,
    pub read: String,
}

/// `Thread._streams`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ThreadStreams {
    pub messages: String,
}

impl Thread {
    /// Links of thread `id`.
    pub fn links(id: &str) -> (ThreadRelays, ThreadTopics, ThreadActions, ThreadStreams) {
        let t = |t: ThreadTopic| Topic::Thread(id.to_owned(), t).to_destination();
        let a = |v: ThreadVerb| Action::Thread(id.to_owned(), v).to_destination();
        (
            ThreadRelays {
                channel: Relay::ThreadChannel(id.to_owned()).to_destination(),
                message: Relay::ThreadMessage(id.to_owned()).to_destination(),
            },
            ThreadTopics {
                self_: t(ThreadTopic::Self_),
                messages: t(ThreadTopic::Messages),
                keystrokes: t(ThreadTopic::Keystrokes),
                typing: t(ThreadTopic::Typing),
            },
            ThreadActions {
                message: a(ThreadVerb::Message),
                keystrokes: a(ThreadVerb::Keystrokes),
                read: a(ThreadVerb::Read),
            },
            ThreadStreams {
                messages: format!("/files/v1/threads/{id}/messages"),
            },
        )
    }
}

/// `{"grant": …}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    /// The grant string (URL-safe).
    pub grant: String,
}

/// `{"count": n}`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Count {
    /// The count.
    pub count: u64,
}

/// `{"exists": bool}`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Exists {
    /// Whether it exists.
    pub exists: bool,
}

/// Page metadata (docs/protocol.md §9.1).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageMeta {
    /// Page size.
    pub size: u64,
    /// Total number of items.
    pub total_elements: u64,
    /// Total number of pages.
    pub total_pages: u64,
    /// Page number (0-based).
    pub number: u64,
}

/// `Page._relays`: `prev`/`next` encode the position (docs/protocol.md §9.2).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct PageRelays {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub prev: Option<String>,
    #[serde(rename = "self", skip_serializing_if = "Option::is_none", default)]
    pub self_: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last: Option<String>,
}

/// A page of items under `_embedded.<content_name>` (docs/protocol.md §9.1).
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// `channels`, `messages`, `users`, `threads`, `reactions`, `receipts` or `items`.
    pub content_name: &'static str,
    /// The items.
    pub items: Vec<T>,
    /// Metadata.
    pub page: PageMeta,
    /// Navigation.
    pub relays: PageRelays,
}

impl<T: Serialize> Serialize for Page<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Embedded<'a, T>(&'static str, &'a [T]);
        impl<T: Serialize> Serialize for Embedded<'_, T> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(self.0, self.1)?;
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("_embedded", &Embedded(self.content_name, &self.items))?;
        m.serialize_entry("page", &self.page)?;
        m.serialize_entry("_relays", &self.relays)?;
        m.end()
    }
}
