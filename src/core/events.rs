//! Which handler an incoming topic event runs: the routing tables of docs/protocol.md §8.1
//! (chat-session handlers on channel topics) and 8.3 (instance observers on the current
//! user's topics), keyed by topic and event `type`.

use chatkitty_protocol::destination::{ChannelTopic, ThreadTopic, UserTopic};
use chatkitty_protocol::event::types as t;

/// A chat-session handler (docs/api.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatEvent {
    /// `onReceivedMessage(message, parent?)`.
    ReceivedMessage,
    /// `onReceivedKeystrokes(keystrokes)`.
    ReceivedKeystrokes,
    /// `onTypingStarted(user)`.
    TypingStarted,
    /// `onTypingStopped(user)`.
    TypingStopped,
    /// `onParticipantEnteredChat(user)`.
    ParticipantEnteredChat,
    /// `onParticipantLeftChat(user)`.
    ParticipantLeftChat,
    /// `onParticipantPresenceChanged(user)`.
    ParticipantPresenceChanged,
    /// `onEventTriggered(event)`.
    EventTriggered,
    /// `onMessageUpdated(message)`.
    MessageUpdated,
    /// `onChannelUpdated(channel)`.
    ChannelUpdated,
    /// `onMessageRead(message, receipt)`.
    MessageRead,
    /// `onMessageReactionAdded(message, reaction)`.
    MessageReactionAdded,
    /// `onMessageReactionRemoved(message, reaction)`.
    MessageReactionRemoved,
    /// `onThreadReceivedMessage(thread, message)`.
    ThreadReceivedMessage,
    /// `onThreadReceivedKeystrokes(thread, keystrokes)`.
    ThreadReceivedKeystrokes,
    /// `onThreadTypingStarted(thread, user)`.
    ThreadTypingStarted,
    /// `onThreadTypingStopped(thread, user)`.
    ThreadTypingStopped,
}

/// What must be fetched before a chat event can be delivered (docs/protocol.md §11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Nothing.
    None,
    /// `resource._relays.parent` when present: the replied-to message, passed second.
    Parent,
    /// `resource._relays.message`: the message, passed first (the resource second).
    Message,
}

impl ChatEvent {
    /// Every chat event.
    pub const ALL: [ChatEvent; 17] = [
        ChatEvent::ReceivedMessage,
        ChatEvent::ReceivedKeystrokes,
        ChatEvent::TypingStarted,
        ChatEvent::TypingStopped,
        ChatEvent::ParticipantEnteredChat,
        ChatEvent::ParticipantLeftChat,
        ChatEvent::ParticipantPresenceChanged,
        ChatEvent::EventTriggered,
        ChatEvent::MessageUpdated,
        ChatEvent::ChannelUpdated,
        ChatEvent::MessageRead,
        ChatEvent::MessageReactionAdded,
        ChatEvent::MessageReactionRemoved,
        ChatEvent::ThreadReceivedMessage,
        ChatEvent::ThreadReceivedKeystrokes,
        ChatEvent::ThreadTypingStarted,
        ChatEvent::ThreadTypingStopped,
    ];

    /// The 1.58.2 handler name in `StartChatSessionRequest`.
    pub const fn handler(self) -> &'static str {
        match self {
            ChatEvent::ReceivedMessage => "onReceivedMessage",
            ChatEvent::ReceivedKeystrokes => "onReceivedKeystrokes",
            ChatEvent::TypingStarted => "onTypingStarted",
            ChatEvent::TypingStopped => "onTypingStopped",
            ChatEvent::ParticipantEnteredChat => "onParticipantEnteredChat",
            ChatEvent::ParticipantLeftChat => "onParticipantLeftChat",
            ChatEvent::ParticipantPresenceChanged => "onParticipantPresenceChanged",
            ChatEvent::EventTriggered => "onEventTriggered",
            ChatEvent::MessageUpdated => "onMessageUpdated",
            ChatEvent::ChannelUpdated => "onChannelUpdated",
            ChatEvent::MessageRead => "onMessageRead",
            ChatEvent::MessageReactionAdded => "onMessageReactionAdded",
            ChatEvent::MessageReactionRemoved => "onMessageReactionRemoved",
            ChatEvent::ThreadReceivedMessage => "onThreadReceivedMessage",
            ChatEvent::ThreadReceivedKeystrokes => "onThreadReceivedKeystrokes",
            ChatEvent::ThreadTypingStarted => "onThreadTypingStarted",
            ChatEvent::ThreadTypingStopped => "onThreadTypingStopped",
        }
    }

    /// The 2.x spelling, accepted when the 1.58.2 one is absent (docs/api.md §12.2).
    pub const fn alias(self) -> Option<&'static str> {
        match self {
            ChatEvent::ReceivedMessage => Some("onMessageReceived"),
            ChatEvent::ReceivedKeystrokes => Some("onKeystrokesReceived"),
            ChatEvent::ThreadReceivedMessage => Some("onThreadMessageReceived"),
            ChatEvent::ThreadReceivedKeystrokes => Some("onThreadKeystrokesReceived"),
            _ => None,
        }
    }

    pub(crate) const fn bit(self) -> u32 {
        1 << self as u32
    }

    pub(crate) const fn lookup(self) -> Lookup {
        match self {
            ChatEvent::ReceivedMessage => Lookup::Parent,
            ChatEvent::MessageRead
            | ChatEvent::MessageReactionAdded
            | ChatEvent::MessageReactionRemoved => Lookup::Message,
            _ => Lookup::None,
        }
    }

    /// The handler an event of type `ty` on channel topic `topic` runs.
    pub(crate) fn route(topic: ChannelTopic, ty: &str) -> Option<ChatEvent> {
        use ChannelTopic as C;
        Some(match (topic, ty) {
            (C::Messages, t::CHANNEL_MESSAGE_CREATED) => ChatEvent::ReceivedMessage,
            (C::Messages, t::CHANNEL_MESSAGE_UPDATED) => ChatEvent::MessageUpdated,
            (C::Keystrokes, t::THREAD_KEYSTROKES_CREATED) => ChatEvent::ReceivedKeystrokes,
            (C::Typing, t::THREAD_TYPING_STARTED) => ChatEvent::TypingStarted,
            (C::Typing, t::THREAD_TYPING_STOPPED) => ChatEvent::TypingStopped,
            (C::Participants, t::CHANNEL_PARTICIPANT_ACTIVE) => ChatEvent::ParticipantEnteredChat,
            (C::Participants, t::CHANNEL_PARTICIPANT_INACTIVE) => ChatEvent::ParticipantLeftChat,
            (C::Participants, t::PARTICIPANT_PRESENCE_CHANGED) => {
                ChatEvent::ParticipantPresenceChanged
            }
            (C::Events, t::CHANNEL_EVENT_TRIGGERED) => ChatEvent::EventTriggered,
            (C::Self_, t::CHANNEL_SELF_UPDATED) => ChatEvent::ChannelUpdated,
            (C::ReadReceipts, t::MESSAGE_READ_RECEIPT_CREATED) => ChatEvent::MessageRead,
            (C::Reactions, t::MESSAGE_REACTION_CREATED) => ChatEvent::MessageReactionAdded,
            (C::Reactions, t::MESSAGE_REACTION_REMOVED) => ChatEvent::MessageReactionRemoved,
            _ => return None,
        })
    }
}

impl ChatEvent {
    /// The thread handler an event of type `ty` on thread topic `topic` runs
    /// (docs/protocol.md §8.2).
    pub(crate) fn route_thread(topic: ThreadTopic, ty: &str) -> Option<ChatEvent> {
        use ThreadTopic as T;
        Some(match (topic, ty) {
            (T::Messages, t::THREAD_MESSAGE_CREATED) => ChatEvent::ThreadReceivedMessage,
            (T::Keystrokes, t::THREAD_KEYSTROKES_CREATED) => ChatEvent::ThreadReceivedKeystrokes,
            (T::Typing, t::THREAD_TYPING_STARTED) => ChatEvent::ThreadTypingStarted,
            (T::Typing, t::THREAD_TYPING_STOPPED) => ChatEvent::ThreadTypingStopped,
            _ => return None,
        })
    }
}

/// The thread topics `setThread` subscribes, in order (docs/protocol.md §6.5).
pub(crate) const THREAD_TOPICS: [ThreadTopic; 3] = [
    ThreadTopic::Messages,
    ThreadTopic::Keystrokes,
    ThreadTopic::Typing,
];

/// An instance-level observer fed by the current user's topics (docs/protocol.md §8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[repr(u8)]
pub enum UserEvent {
    /// `onNotificationReceived`.
    NotificationReceived,
    /// `onChannelJoined`.
    ChannelJoined,
    /// `onChannelLeft`.
    ChannelLeft,
    /// `onChannelUpdated`.
    ChannelUpdated,
    /// `onChannelHidden`.
    ChannelHidden,
    /// `onChannelUnhidden`.
    ChannelUnhidden,
    /// `onUserPresenceChanged`.
    UserPresenceChanged,
    /// `onParticipantStartedTyping`.
    ParticipantStartedTyping,
    /// `onParticipantStoppedTyping`.
    ParticipantStoppedTyping,
}

impl UserEvent {
    /// Every observer, in the order of their numbers (`kind as u8`).
    pub const ALL: [UserEvent; 9] = [
        UserEvent::NotificationReceived,
        UserEvent::ChannelJoined,
        UserEvent::ChannelLeft,
        UserEvent::ChannelUpdated,
        UserEvent::ChannelHidden,
        UserEvent::ChannelUnhidden,
        UserEvent::UserPresenceChanged,
        UserEvent::ParticipantStartedTyping,
        UserEvent::ParticipantStoppedTyping,
    ];

    /// The observer an event of type `ty` on user topic `topic` feeds.
    pub(crate) fn route(topic: UserTopic, ty: &str) -> Option<UserEvent> {
        use UserTopic as U;
        Some(match (topic, ty) {
            (U::Notifications, t::USER_NOTIFICATION_CREATED) => UserEvent::NotificationReceived,
            (U::Channels, t::USER_CHANNEL_JOINED) => UserEvent::ChannelJoined,
            (U::Channels, t::USER_CHANNEL_LEFT) => UserEvent::ChannelLeft,
            (U::Channels, t::USER_CHANNEL_UPDATED) => UserEvent::ChannelUpdated,
            (U::Channels, t::USER_CHANNEL_HIDDEN) => UserEvent::ChannelHidden,
            (U::Channels, t::USER_CHANNEL_UNHIDDEN) => UserEvent::ChannelUnhidden,
            (U::Contacts, t::CONTACT_PRESENCE_CHANGED) => UserEvent::UserPresenceChanged,
            (U::Participants, t::PARTICIPANT_TYPING_STARTED) => UserEvent::ParticipantStartedTyping,
            (U::Participants, t::PARTICIPANT_TYPING_STOPPED) => UserEvent::ParticipantStoppedTyping,
            _ => return None,
        })
    }
}
