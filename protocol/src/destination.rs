//! Destinations: the naming scheme of docs/protocol.md §13.1, built and parsed in one place.
//!
//! Clients treat destinations as opaque strings taken from hypermedia, except the
//! handful of fixed ones in docs/protocol.md section 5 (constants below). The server renders
//! every link with the builders here and classifies every SUBSCRIBE/SEND with
//! [`Destination::parse`], so the two directions cannot drift; a round-trip test covers
//! every variant.
//!
//! Shapes: relays `/application/v1/<path>.relay[?query]`, actions
//! `/application/v1/<path>.<verb>`, topics `/topic/v1/<path>`, the errors queue
//! `/user/queue/v1/errors`. The newer clients' prefixes without `v1` (docs/protocol.md §14)
//! parse to the same values.

/// Prefix of relays and actions.
pub const APPLICATION_PREFIX: &str = "/application/v1/";
/// Prefix of topics.
pub const TOPIC_PREFIX: &str = "/topic/v1/";
/// The per-connection errors queue (docs/protocol.md §3.5).
pub const ERRORS_QUEUE: &str = "/user/queue/v1/errors";
/// The current user relay, requested after every CONNECTED.
pub const CURRENT_USER_RELAY: &str = "/application/v1/user.relay";
/// The write file access grant relay.
pub const WRITE_GRANT_RELAY: &str = "/application/v1/user.write_file_access_grant.relay";
/// The read file access grant relay.
pub const READ_GRANT_RELAY: &str = "/application/v1/user.read_file_access_grant.relay";
/// Message search (our extension, docs/protocol.md §9.6): parameters `query`,
/// `channelId`, `before`, `size`.
pub const SEARCH_MESSAGES_RELAY: &str = "/application/v1/user/messages.search.relay";

/// `/application/v1/channels/{id}.relay` (`getChannel`).
pub fn channel_relay(id: u64) -> String {
    Relay::Channel(id).to_destination()
}

/// `/application/v1/users/{id}.relay` (`getUser`).
pub fn user_relay(id: u64) -> String {
    Relay::User(id).to_destination()
}

/// `/application/v1/users/{id}.block` (`blockUser`).
pub fn user_block_action(id: u64) -> String {
    Action::BlockUser(id).to_destination()
}

/// Thread ids are strings (docs/protocol.md §12.4); in a destination they must be one path
/// segment without `.` or `?`.
pub fn is_valid_thread_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
/// A relay: one SUBSCRIBE, one answer (docs/protocol.md §3.1).
pub enum Relay {
    /// `user.relay`: the CurrentUser.
    CurrentUser,
    /// `user.read_file_access_grant.relay`.
    ReadGrant,
    /// `user.write_file_access_grant.relay`.
    WriteGrant,
    /// `user/channels.relay`: the user's channels (page).
    MyChannels,
    /// `user/channels.count.relay`.
    MyChannelsCount,
    /// `user/joinable_channels.relay`.
    MyJoinableChannels,
    /// `user/unread_channels.relay`.
    MyUnreadChannels,
    /// `user/unread_channels.count.relay`.
    MyUnreadChannelsCount,
    /// `user/unread_messages.count.relay`.
    MyUnreadMessagesCount,
    /// `user/contacts.relay`.
    MyContacts,
    /// `user/contacts.count.relay`.
    MyContactsCount,
    /// `user/block_list_items.relay`.
    MyBlockListItems,
    /// `user/messages.search.relay` (an extension: docs/protocol.md §9.6).
    MySearchMessages,
    /// `users/{id}.relay`.
    User(u64),
    /// `users/{id}/channel_member.relay`.
    UserChannelMember(u64),
    /// `channels/{id}.relay`.
    Channel(u64),
    /// `channels/{id}/messages.relay`.
    ChannelMessages(u64),
    /// `channels/{id}/messages.count.relay`.
    ChannelMessagesCount(u64),
    /// `channels/{id}/last_received_message.relay`.
    ChannelLastReceivedMessage(u64),
    /// `channels/{id}/last_read_message.relay`.
    ChannelLastReadMessage(u64),
    /// `channels/{id}/unread.relay`.
    ChannelUnread(u64),
    /// `channels/{id}/members.relay`.
    ChannelMembers(u64),
    /// `channels/{id}/threads.relay`.
    ChannelThreads(u64),
    /// `channels/{id}/calls.relay`.
    ChannelCalls(u64),
    /// `messages/{id}.relay`.
    Message(u64),
    /// `messages/{id}/channel.relay`.
    MessageChannel(u64),
    /// `messages/{id}/read_receipts.relay`.
    MessageReadReceipts(u64),
    /// `messages/{id}/replies.count.relay`.
    MessageRepliesCount(u64),
    /// `messages/{id}/replies.relay`.
    MessageReplies(u64),
    /// `messages/{id}/reactions.relay`.
    MessageReactions(u64),
    /// `threads/{id}.relay`.
    Thread(String),
    /// `threads/{id}/channel.relay`.
    ThreadChannel(String),
    /// `threads/{id}/message.relay`.
    ThreadMessage(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
/// An action: a SEND with a JSON body (docs/protocol.md §3.3).
pub enum Action {
    /// `user.update`.
    UpdateCurrentUser,
    /// `user.create_channel`.
    CreateChannel,
    /// `user.update_display_picture`.
    UpdateDisplayPicture,
    /// `users/{id}.block`.
    BlockUser(u64),
    /// `user/block_list_items/{blocked user id}.delete`.
    DeleteBlockListItem(u64),
    /// `channels/{id}.<verb>`.
    Channel(u64, ChannelVerb),
    /// `messages/{id}.<verb>`.
    Message(u64, MessageVerb),
    /// `threads/{id}.<verb>`.
    Thread(String, ThreadVerb),
}

/// Verbs of channel actions (docs/protocol.md §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelVerb {
    /// `sendMessage`.
    Message,
    /// `sendKeystrokes`.
    Keystrokes,
    /// `joinChannel`.
    Join,
    /// `leaveChannel`.
    Leave,
    /// `addChannelModerator`.
    AddModerator,
    /// `inviteUser`.
    Invite,
    /// `readChannel`.
    Read,
    /// `muteChannel` / `unmuteChannel`.
    Mute,
    /// Calls (declared only).
    Call,
    /// `triggerEvent`.
    TriggerEvent,
    /// `updateChannel`.
    Update,
    /// `deleteChannel`.
    Delete,
    /// `clearChannelHistory`.
    ClearHistory,
    /// `hideChannel`.
    Hide,
    /// `createThread`.
    CreateThread,
    /// Moderation (docs/protocol.md §22): ban a member from the channel.
    Ban,
    /// Moderation: lift a channel ban.
    Unban,
    /// Moderation: mute a member (they may read, not post).
    MuteMember,
    /// Moderation: lift a member's mute.
    UnmuteMember,
    /// Moderation: set the channel's slow mode.
    SlowMode,
}

/// Verbs of message actions (docs/protocol.md §6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageVerb {
    /// `readMessage`.
    Read,
    /// `sendMessage({message})`.
    Reply,
    /// `deleteMessageForMe`.
    DeleteForMe,
    /// `deleteMessage`.
    Delete,
    /// `reactToMessage`.
    React,
    /// `editMessage`.
    Edit,
    /// `removeReaction`.
    RemoveReaction,
    /// Moderation (docs/protocol.md §22): report the message for review.
    Flag,
}

/// Verbs of thread actions (docs/protocol.md §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThreadVerb {
    /// `sendMessage({thread})`.
    Message,
    /// `sendKeystrokes({thread})`.
    Keystrokes,
    /// `readThread`.
    Read,
}

macro_rules! verbs {
    ($ty:ident { $($v:ident => $s:literal),* $(,)? }) => {
        impl $ty {
            /// Every verb.
            pub const ALL: &'static [$ty] = &[$($ty::$v),*];
            /// The verb as written after the `.` of the destination.
            pub const fn as_str(self) -> &'static str {
                match self { $($ty::$v => $s),* }
            }
            /// Parses a verb.
            pub fn parse(s: &str) -> Option<$ty> {
                match s { $($s => Some($ty::$v),)* _ => None }
            }
        }
    };
}

verbs!(ChannelVerb {
    Message => "message", Keystrokes => "keystrokes", Join => "join", Leave => "leave",
    AddModerator => "add_moderator", Invite => "invite", Read => "read", Mute => "mute",
    Call => "call", TriggerEvent => "trigger_event", Update => "update", Delete => "delete",
    ClearHistory => "clear_history", Hide => "hide", CreateThread => "create_thread",
    Ban => "ban", Unban => "unban", MuteMember => "mute_member",
    UnmuteMember => "unmute_member", SlowMode => "slow_mode",
});
verbs!(MessageVerb {
    Read => "read", Reply => "reply", DeleteForMe => "delete_for_me", Delete => "delete",
    React => "react", Edit => "edit", RemoveReaction => "remove_reaction", Flag => "flag",
});
verbs!(ThreadVerb { Message => "message", Keystrokes => "keystrokes", Read => "read" });

/// A topic: a long-lived SUBSCRIBE carrying events (docs/protocol.md §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// `/topic/v1/users/{id}[/<name>]`: one of the current user's ten topics.
    User(u64, UserTopic),
    /// `/topic/v1/channels/{id}[/<name>]`.
    Channel(u64, ChannelTopic),
    /// `/topic/v1/threads/{id}[/<name>]`.
    Thread(String, ThreadTopic),
}

/// The ten user topics, in the order the client subscribes them (docs/protocol.md §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UserTopic {
    /// `_topics.self`
    Self_,
    /// `_topics.channels`
    Channels,
    /// `_topics.messages`
    Messages,
    /// `_topics.notifications`
    Notifications,
    /// `_topics.contacts`
    Contacts,
    /// `_topics.participants`
    Participants,
    /// `_topics.users`
    Users,
    /// `_topics.reactions`
    Reactions,
    /// `_topics.threads`
    Threads,
    /// `_topics.calls`
    Calls,
}

/// Channel topics (docs/protocol.md §6.3), in chat-session subscription order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChannelTopic {
    /// `_topics.self`
    Self_,
    /// `_topics.messages`
    Messages,
    /// `_topics.keystrokes`
    Keystrokes,
    /// `_topics.typing`
    Typing,
    /// `_topics.participants`
    Participants,
    /// `_topics.readReceipts`
    ReadReceipts,
    /// `_topics.reactions`
    Reactions,
    /// `_topics.events`
    Events,
}

/// Thread topics (docs/protocol.md §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ThreadTopic {
    /// `_topics.self`
    Self_,
    /// `_topics.messages`
    Messages,
    /// `_topics.keystrokes`
    Keystrokes,
    /// `_topics.typing`
    Typing,
}

macro_rules! topic_names {
    ($ty:ident { $($v:ident => ($seg:literal, $key:literal)),* $(,)? }) => {
        impl $ty {
            /// Every topic of this kind, in subscription order.
            pub const ALL: &'static [$ty] = &[$($ty::$v),*];
            /// Path segment after the resource id (`""` for `self`).
            pub const fn segment(self) -> &'static str {
                match self { $($ty::$v => $seg),* }
            }
            /// Key in the resource's `_topics` object.
            pub const fn link_name(self) -> &'static str {
                match self { $($ty::$v => $key),* }
            }
            fn from_segment(s: &str) -> Option<$ty> {
                match s { $($seg => Some($ty::$v),)* _ => None }
            }
        }
    };
}

topic_names!(UserTopic {
    Self_ => ("", "self"), Channels => ("channels", "channels"),
    Messages => ("messages", "messages"), Notifications => ("notifications", "notifications"),
    Contacts => ("contacts", "contacts"), Participants => ("participants", "participants"),
    Users => ("users", "users"), Reactions => ("reactions", "reactions"),
    Threads => ("threads", "threads"), Calls => ("calls", "calls"),
});
topic_names!(ChannelTopic {
    Self_ => ("", "self"), Messages => ("messages", "messages"),
    Keystrokes => ("keystrokes", "keystrokes"), Typing => ("typing", "typing"),
    Participants => ("participants", "participants"),
    ReadReceipts => ("read_receipts", "readReceipts"), Reactions => ("reactions", "reactions"),
    Events => ("events", "events"),
});
topic_names!(ThreadTopic {
    Self_ => ("", "self"), Messages => ("messages", "messages"),
    Keystrokes => ("keystrokes", "keystrokes"), Typing => ("typing", "typing"),
});

/// Any destination a client may SUBSCRIBE or SEND to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A relay, with the `?query` parameters of its destination (paging position).
    Relay(Relay, Vec<(String, String)>),
    /// An action.
    Action(Action),
    /// A topic.
    Topic(Topic),
    /// The errors queue.
    ErrorsQueue,
}

impl Destination {
    /// Classifies a destination string; `None` if it is not one of ours.
    pub fn parse(s: &str) -> Option<Destination> {
        if s == ERRORS_QUEUE || s == "/user/queue/errors" {
            return Some(Destination::ErrorsQueue);
        }
        if let Some(rest) = strip_either(s, TOPIC_PREFIX, "/topic/") {
            return parse_topic(rest).map(Destination::Topic);
        }
        let rest = strip_either(s, APPLICATION_PREFIX, "/application/")?;
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, parse_query(q)),
            None => (rest, Vec::new()),
        };
        if let Some(path) = path.strip_suffix(".relay") {
            return parse_relay(path).map(|r| Destination::Relay(r, query));
        }
        if !query.is_empty() {
            return None;
        }
        parse_action(path).map(Destination::Action)
    }
}

fn strip_either<'a>(s: &'a str, v1: &str, bare: &str) -> Option<&'a str> {
    s.strip_prefix(v1).or_else(|| s.strip_prefix(bare))
}

fn id(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn thread_id(s: &str) -> Option<String> {
    is_valid_thread_id(s).then(|| s.to_owned())
}

fn parse_relay(path: &str) -> Option<Relay> {
    let segs: Vec<&str> = path.split('/').collect();
    Some(match segs.as_slice() {
        ["user"] => Relay::CurrentUser,
        ["user.read_file_access_grant"] => Relay::ReadGrant,
        ["user.write_file_access_grant"] => Relay::WriteGrant,
        ["user", "channels"] => Relay::MyChannels,
        ["user", "channels.count"] => Relay::MyChannelsCount,
        ["user", "joinable_channels"] => Relay::MyJoinableChannels,
        ["user", "unread_channels"] => Relay::MyUnreadChannels,
        ["user", "unread_channels.count"] => Relay::MyUnreadChannelsCount,
        ["user", "unread_messages.count"] => Relay::MyUnreadMessagesCount,
        ["user", "contacts"] => Relay::MyContacts,
        ["user", "contacts.count"] => Relay::MyContactsCount,
        ["user", "block_list_items"] => Relay::MyBlockListItems,
        ["user", "messages.search"] => Relay::MySearchMessages,
        ["users", u] => Relay::User(id(u)?),
        ["users", u, "channel_member"] => Relay::UserChannelMember(id(u)?),
        ["channels", c] => Relay::Channel(id(c)?),
        ["channels", c, sub] => {
            let c = id(c)?;
            match *sub {
                "messages" => Relay::ChannelMessages(c),
                "messages.count" => Relay::ChannelMessagesCount(c),
                "last_received_message" => Relay::ChannelLastReceivedMessage(c),
                "last_read_message" => Relay::ChannelLastReadMessage(c),
                "unread" => Relay::ChannelUnread(c),
                "members" => Relay::ChannelMembers(c),
                "threads" => Relay::ChannelThreads(c),
                "calls" => Relay::ChannelCalls(c),
                _ => return None,
            }
        }
        ["messages", m] => Relay::Message(id(m)?),
        ["messages", m, sub] => {
            let m = id(m)?;
            match *sub {
                "channel" => Relay::MessageChannel(m),
                "read_receipts" => Relay::MessageReadReceipts(m),
                "replies.count" => Relay::MessageRepliesCount(m),
                "replies" => Relay::MessageReplies(m),
                "reactions" => Relay::MessageReactions(m),
                _ => return None,
            }
        }
        ["threads", t] => Relay::Thread(thread_id(t)?),
        ["threads", t, "channel"] => Relay::ThreadChannel(thread_id(t)?),
        ["threads", t, "message"] => Relay::ThreadMessage(thread_id(t)?),
        _ => return None,
    })
}

fn parse_action(path: &str) -> Option<Action> {
    let (path, verb) = path.rsplit_once('.')?;
    let segs: Vec<&str> = path.split('/').collect();
    Some(match (segs.as_slice(), verb) {
        (["user"], "update") => Action::UpdateCurrentUser,
        (["user"], "create_channel") => Action::CreateChannel,
        (["user"], "update_display_picture") => Action::UpdateDisplayPicture,
        (["users", u], "block") => Action::BlockUser(id(u)?),
        (["user", "block_list_items", u], "delete") => Action::DeleteBlockListItem(id(u)?),
        (["channels", c], v) => Action::Channel(id(c)?, ChannelVerb::parse(v)?),
        (["messages", m], v) => Action::Message(id(m)?, MessageVerb::parse(v)?),
        (["threads", t], v) => Action::Thread(thread_id(t)?, ThreadVerb::parse(v)?),
        _ => return None,
    })
}

fn parse_topic(path: &str) -> Option<Topic> {
    let segs: Vec<&str> = path.split('/').collect();
    let (kind, rid, sub) = match segs.as_slice() {
        [kind, rid] => (*kind, *rid, ""),
        [kind, rid, sub] if !sub.is_empty() => (*kind, *rid, *sub),
        _ => return None,
    };
    Some(match kind {
        "users" => Topic::User(id(rid)?, UserTopic::from_segment(sub)?),
        "channels" => Topic::Channel(id(rid)?, ChannelTopic::from_segment(sub)?),
        "threads" => Topic::Thread(thread_id(rid)?, ThreadTopic::from_segment(sub)?),
        _ => return None,
    })
}

/// Parses `a=1&b=two` (values percent-decoded; malformed escapes kept verbatim).
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(kv), String::new()),
        })
        .collect()
}

/// Writes `pairs` as a query string, percent-encoding what is not URL-safe.
pub fn format_query(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode_into(k, &mut out);
        out.push('=');
        percent_encode_into(v, &mut out);
    }
    out
}

/// Percent-encodes everything but unreserved URL characters (RFC 3986).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    percent_encode_into(s, &mut out);
    out
}

fn percent_encode_into(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' && i + 2 < bytes.len() {
            let hi = (bytes[i + 1] as char).to_digit(16);
            let lo = (bytes[i + 2] as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(if b == b'+' { b' ' } else { b });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Relay {
    /// The destination string of this relay (no query).
    pub fn to_destination(&self) -> String {
        let p = APPLICATION_PREFIX;
        match self {
            Relay::CurrentUser => CURRENT_USER_RELAY.to_owned(),
            Relay::ReadGrant => READ_GRANT_RELAY.to_owned(),
            Relay::WriteGrant => WRITE_GRANT_RELAY.to_owned(),
            Relay::MyChannels => format!("{p}user/channels.relay"),
            Relay::MyChannelsCount => format!("{p}user/channels.count.relay"),
            Relay::MyJoinableChannels => format!("{p}user/joinable_channels.relay"),
            Relay::MyUnreadChannels => format!("{p}user/unread_channels.relay"),
            Relay::MyUnreadChannelsCount => format!("{p}user/unread_channels.count.relay"),
            Relay::MyUnreadMessagesCount => format!("{p}user/unread_messages.count.relay"),
            Relay::MyContacts => format!("{p}user/contacts.relay"),
            Relay::MyContactsCount => format!("{p}user/contacts.count.relay"),
            Relay::MyBlockListItems => format!("{p}user/block_list_items.relay"),
            Relay::MySearchMessages => SEARCH_MESSAGES_RELAY.to_owned(),
            Relay::User(u) => format!("{p}users/{u}.relay"),
            Relay::UserChannelMember(u) => format!("{p}users/{u}/channel_member.relay"),
            Relay::Channel(c) => format!("{p}channels/{c}.relay"),
            Relay::ChannelMessages(c) => format!("{p}channels/{c}/messages.relay"),
            Relay::ChannelMessagesCount(c) => format!("{p}channels/{c}/messages.count.relay"),
            Relay::ChannelLastReceivedMessage(c) => {
                format!("{p}channels/{c}/last_received_message.relay")
            }
            Relay::ChannelLastReadMessage(c) => format!("{p}channels/{c}/last_read_message.relay"),
            Relay::ChannelUnread(c) => format!("{p}channels/{c}/unread.relay"),
            Relay::ChannelMembers(c) => format!("{p}channels/{c}/members.relay"),
            Relay::ChannelThreads(c) => format!("{p}channels/{c}/threads.relay"),
            Relay::ChannelCalls(c) => format!("{p}channels/{c}/calls.relay"),
            Relay::Message(m) => format!("{p}messages/{m}.relay"),
            Relay::MessageChannel(m) => format!("{p}messages/{m}/channel.relay"),
            Relay::MessageReadReceipts(m) => format!("{p}messages/{m}/read_receipts.relay"),
            Relay::MessageRepliesCount(m) => format!("{p}messages/{m}/replies.count.relay"),
            Relay::MessageReplies(m) => format!("{p}messages/{m}/replies.relay"),
            Relay::MessageReactions(m) => format!("{p}messages/{m}/reactions.relay"),
            Relay::Thread(t) => format!("{p}threads/{t}.relay"),
            Relay::ThreadChannel(t) => format!("{p}threads/{t}/channel.relay"),
            Relay::ThreadMessage(t) => format!("{p}threads/{t}/message.relay"),
        }
    }

    /// The destination with a `?query` encoding a paging position (docs/protocol.md §9.2).
    pub fn with_query(&self, pairs: &[(&str, &str)]) -> String {
        let mut d = self.to_destination();
        if !pairs.is_empty() {
            d.push('?');
            d.push_str(&format_query(pairs));
        }
        d
    }
}

impl Action {
    /// The destination string of this action.
    pub fn to_destination(&self) -> String {
        let p = APPLICATION_PREFIX;
        match self {
            Action::UpdateCurrentUser => format!("{p}user.update"),
            Action::CreateChannel => format!("{p}user.create_channel"),
            Action::UpdateDisplayPicture => format!("{p}user.update_display_picture"),
            Action::BlockUser(u) => format!("{p}users/{u}.block"),
            Action::DeleteBlockListItem(u) => format!("{p}user/block_list_items/{u}.delete"),
            Action::Channel(c, v) => format!("{p}channels/{c}.{}", v.as_str()),
            Action::Message(m, v) => format!("{p}messages/{m}.{}", v.as_str()),
            Action::Thread(t, v) => format!("{p}threads/{t}.{}", v.as_str()),
        }
    }
}

impl Topic {
    /// The destination string of this topic.
    pub fn to_destination(&self) -> String {
        let (kind, rid, seg) = match self {
            Topic::User(u, t) => ("users", u.to_string(), t.segment()),
            Topic::Channel(c, t) => ("channels", c.to_string(), t.segment()),
            Topic::Thread(t, tt) => ("threads", t.clone(), tt.segment()),
        };
        if seg.is_empty() {
            format!("{TOPIC_PREFIX}{kind}/{rid}")
        } else {
            format!("{TOPIC_PREFIX}{kind}/{rid}/{seg}")
        }
    }
}
