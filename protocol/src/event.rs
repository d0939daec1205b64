//! Event type names (docs/protocol.md §8 and 13.3). The `type` field of every topic event.

/// Every event of docs/protocol.md as a constant, and the envelope version.
pub mod types {
    // Chat-session events on channel topics (docs/protocol.md §8.1).
    /// A message was created in the channel.
    pub const CHANNEL_MESSAGE_CREATED: &str = "channel.message.created";
    /// A message was edited (or deleted) in the channel.
    pub const CHANNEL_MESSAGE_UPDATED: &str = "channel.message.updated";
    /// A message was deleted (newer clients).
    pub const CHANNEL_MESSAGE_DELETED: &str = "channel.message.deleted";
    /// Another participant's draft changed.
    pub const THREAD_KEYSTROKES_CREATED: &str = "thread.keystrokes.created";
    /// A participant started typing.
    pub const THREAD_TYPING_STARTED: &str = "thread.typing.started";
    /// A participant stopped typing.
    pub const THREAD_TYPING_STOPPED: &str = "thread.typing.stopped";
    /// A message was created in a thread.
    pub const THREAD_MESSAGE_CREATED: &str = "thread.message.created";
    /// A user's first chat session on the channel started.
    pub const CHANNEL_PARTICIPANT_ACTIVE: &str = "channel.participant.active";
    /// A user's last chat session on the channel ended.
    pub const CHANNEL_PARTICIPANT_INACTIVE: &str = "channel.participant.inactive";
    /// A member's presence changed.
    pub const PARTICIPANT_PRESENCE_CHANGED: &str = "participant.presence.changed";
    /// A custom event was triggered.
    pub const CHANNEL_EVENT_TRIGGERED: &str = "channel.event.triggered";
    /// The channel changed.
    pub const CHANNEL_SELF_UPDATED: &str = "channel.self.updated";
    /// The channel was deleted (newer clients).
    pub const CHANNEL_SELF_DELETED: &str = "channel.self.deleted";
    /// A read receipt was created.
    pub const MESSAGE_READ_RECEIPT_CREATED: &str = "message.read_receipt.created";
    /// A reaction was added.
    pub const MESSAGE_REACTION_CREATED: &str = "message.reaction.created";
    /// A reaction was removed.
    pub const MESSAGE_REACTION_REMOVED: &str = "message.reaction.removed";

    // Instance-level events on the current user's topics (docs/protocol.md §8.3).
    /// A notification for the user.
    pub const USER_NOTIFICATION_CREATED: &str = "user.notification.created";
    /// The user joined or was added to a channel.
    pub const USER_CHANNEL_JOINED: &str = "user.channel.joined";
    /// The user left or was removed from a channel.
    pub const USER_CHANNEL_LEFT: &str = "user.channel.left";
    /// A channel of the user changed.
    pub const USER_CHANNEL_UPDATED: &str = "user.channel.updated";
    /// The user hid a direct channel.
    pub const USER_CHANNEL_HIDDEN: &str = "user.channel.hidden";
    /// A hidden direct channel became visible.
    pub const USER_CHANNEL_UNHIDDEN: &str = "user.channel.unhidden";
    /// A channel the user belonged to was deleted.
    pub const USER_CHANNEL_DELETED: &str = "user.channel.deleted";
    /// A contact's presence changed.
    pub const CONTACT_PRESENCE_CHANGED: &str = "contact.presence.changed";
    /// A contact's profile changed (newer clients).
    pub const CONTACT_USER_UPDATED: &str = "contact.user.updated";
    /// A member of one of the user's channels started typing.
    pub const PARTICIPANT_TYPING_STARTED: &str = "participant.typing.started";
    /// A member of one of the user's channels stopped typing.
    pub const PARTICIPANT_TYPING_STOPPED: &str = "participant.typing.stopped";

    // Action results (docs/protocol.md §8.4, 13.3).
    /// `createChannel` made a new channel.
    pub const USER_CHANNEL_CREATED: &str = "user.channel.created";
    /// `createChannel` returned an existing channel.
    pub const USER_CHANNEL_UPSERTED: &str = "user.channel.upserted";
    /// `createChannel` variant accepted by the client.
    pub const MEMBER_CHANNEL_UPSERTED: &str = "member.channel.upserted";
    /// The current user was updated.
    pub const USER_SELF_UPDATED: &str = "user.self.updated";
    /// The user's message was created.
    pub const USER_MESSAGE_CREATED: &str = "user.message.created";
    /// The user's message was edited.
    pub const USER_MESSAGE_UPDATED: &str = "user.message.updated";
    /// The user's message was deleted (for everyone or for them).
    pub const USER_MESSAGE_DELETED: &str = "user.message.deleted";
    /// The user reacted.
    pub const USER_REACTION_CREATED: &str = "user.reaction.created";
    /// The user removed a reaction.
    pub const USER_REACTION_REMOVED: &str = "user.reaction.removed";
    /// The user created a thread.
    pub const USER_THREAD_CREATED: &str = "user.thread.created";
    /// The user blocked someone.
    pub const USER_USER_BLOCKED: &str = "user.user.blocked";
    /// The user unblocked someone.
    pub const USER_USER_UNBLOCKED: &str = "user.user.unblocked";
    /// The user invited someone to a channel.
    pub const CHANNEL_MEMBER_INVITED: &str = "channel.member.invited";
    /// A member joined (newer clients, channel topic).
    pub const CHANNEL_MEMBER_JOINED: &str = "channel.member.joined";
    /// A member left (newer clients, channel topic).
    pub const CHANNEL_MEMBER_LEFT: &str = "channel.member.left";

    /// The envelope `version` field.
    pub const VERSION: &str = "v1";
}

/// Whether an event type completes `createChannel` (the only type-filtered action,
/// docs/protocol.md §3.3).
pub fn completes_create_channel(event_type: &str) -> bool {
    matches!(
        event_type,
        types::USER_CHANNEL_CREATED | types::USER_CHANNEL_UPSERTED | types::MEMBER_CHANNEL_UPSERTED
    )
}
