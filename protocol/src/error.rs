//! Error names and the error body `{error, message, timestamp}` (docs/protocol.md §3.5, 2.6).

/// Error names. Free-form strings on the wire; these are the ones we use.
pub mod names {
    /// Authentication failed, bad API key, guest sessions disabled (ERROR frames only).
    pub const ACCESS_DENIED: &str = "AccessDeniedError";
    /// The resource does not exist (or is not visible to the user).
    pub const NOT_FOUND: &str = "NotFoundError";
    /// The request is malformed or breaks a rule.
    pub const VALIDATION: &str = "ValidationError";
    /// The user is not a member of the channel.
    pub const NOT_A_CHANNEL_MEMBER: &str = "NotAChannelMemberError";
    /// The channel cannot be joined without an invite.
    pub const CHANNEL_NOT_PUBLICLY_JOINABLE: &str = "ChannelNotPubliclyJoinableError";
    /// The channel does not accept invites.
    pub const CHANNEL_NOT_INVITABLE: &str = "ChannelNotInvitableError";
    /// A group channel with this name exists.
    pub const DUPLICATE_CHANNEL: &str = "DuplicateChannelError";
    /// An upload failed.
    pub const FILE_UPLOAD: &str = "FileUploadError";
    /// The operation is not supported (by this server or for this resource).
    pub const UNSUPPORTED_OPERATION: &str = "UnsupportedOperationError";
    /// The user may not do this (not a moderator, not the author, blocked…).
    pub const FORBIDDEN: &str = "ForbiddenError";
    /// The user is blocked in this channel (or by the other member of a direct channel).
    pub const USER_BLOCKED: &str = "UserBlockedError";
    /// Too many requests or subscriptions.
    pub const RATE_LIMITED: &str = "RateLimitExceededError";
    /// A frame or body exceeds a size limit.
    pub const PAYLOAD_TOO_LARGE: &str = "PayloadTooLargeError";
    /// A STOMP frame could not be decoded.
    pub const MALFORMED_FRAME: &str = "MalformedFrameError";
    /// The app's before-send hook refused the message (its reason is the message), or
    /// could not be asked and the server fails closed (docs/protocol.md §3.6).
    pub const MESSAGE_REJECTED: &str = "MessageRejectedError";
    /// Something failed on the server.
    pub const INTERNAL: &str = "InternalError";
    /// Moderation: the user is banned from the channel (docs/protocol.md §22).
    pub const BANNED: &str = "BannedError";
    /// Moderation: a moderator muted the user in the channel.
    pub const MUTED: &str = "MutedError";
    /// Moderation: slow mode; the message says when the user may post again.
    pub const SLOW_MODE: &str = "SlowModeError";
    /// Moderation: the application's blocklist refused the message.
    pub const MESSAGE_BLOCKED: &str = "MessageBlockedError";
    /// Client-made: the connection could not be established (docs/protocol.md §2.6).
    pub const CONNECTION: &str = "ChatKittyConnectionError";
    /// Client-made: an ERROR frame with a non-JSON body.
    pub const UNKNOWN: &str = "UnknownChatKittyError";
}

/// The body of an errors-queue message or ERROR frame.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorBody {
    /// Machine-readable name, e.g. `NotAChannelMemberError`.
    pub error: String,
    /// Human-readable text.
    pub message: String,
    /// ISO-8601 time.
    pub timestamp: String,
}

impl ErrorBody {
    /// An error body stamped with `timestamp`.
    pub fn new(error: &str, message: impl Into<String>, timestamp: String) -> ErrorBody {
        ErrorBody {
            error: error.to_owned(),
            message: message.into(),
            timestamp,
        }
    }
}
