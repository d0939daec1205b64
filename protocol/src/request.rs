//! The JSON bodies clients SEND to actions (docs/protocol.md §7, §12; docs/api.md), typed.
//!
//! Clients often send a whole resource where the API names one field (an updated
//! CurrentUser, a User as an invitee: docs/protocol.md §16.23), so unknown fields are
//! ignored; a field that is present with the wrong type is an error, and `null` counts
//! as absent. The checks a field's *value* needs (lengths, allowed words, sizes) are
//! the server's; these types state the shape.

use serde::Deserialize;
use serde_json::{Map, Value};

/// A JSON object of free-form `properties`.
pub type Properties = Map<String, Value>;

/// A user named in a request: `{id}`, `{username}`, or a whole User (`id` is used
/// first, then `username`, then `name`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct UserRef {
    /// Id.
    pub id: Option<i64>,
    /// Username.
    pub username: Option<String>,
    /// Username, as a User resource names it.
    pub name: Option<String>,
}

impl UserRef {
    /// The username given, if any.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref().or(self.name.as_deref())
    }
}

/// `createChannel`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CreateChannel {
    /// `DIRECT`, `PUBLIC` or `PRIVATE`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Group channels: the unique name.
    pub name: Option<String>,
    /// Group channels: the name shown.
    pub display_name: Option<String>,
    /// Members besides the creator.
    pub members: Option<Vec<UserRef>>,
    /// Free-form properties.
    pub properties: Option<Properties>,
}

/// `updateChannel` (the whole channel object is usually sent).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UpdateChannel {
    /// New unique name.
    pub name: Option<String>,
    /// New name shown.
    pub display_name: Option<String>,
    /// New properties (replacing the old ones).
    pub properties: Option<Properties>,
}

/// `sendMessage`, a reply, a message to a thread: text `{type:"TEXT", body}` or an
/// external file `{type:"FILE", file}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SendMessage {
    /// `TEXT` or `FILE` (absent: `FILE` when a `file` is given, else `TEXT`).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The text.
    pub body: Option<String>,
    /// An external file.
    pub file: Option<ExternalFile>,
    /// The app's tag for grouping.
    pub group_tag: Option<String>,
    /// Free-form properties.
    pub properties: Option<Properties>,
}

/// A file the app hosts elsewhere.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExternalFile {
    /// `http(s)` URL.
    pub url: Option<String>,
    /// File name.
    pub name: Option<String>,
    /// MIME type.
    pub content_type: Option<String>,
    /// Size in bytes.
    pub size: Option<u64>,
}

/// `editMessage`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EditMessage {
    /// The new text.
    pub body: Option<String>,
}

/// `sendKeystrokes`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Keystrokes {
    /// The draft so far (empty: the draft was cleared).
    pub keys: Option<String>,
}

/// `reactToMessage`, `removeReaction`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Reaction {
    /// An alias (`+1`, `heart`) or the emoji itself.
    pub emoji: Option<String>,
}

/// `triggerChannelEvent`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TriggerEvent {
    /// The app's event type.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Free-form properties.
    pub properties: Option<Properties>,
}

/// `createThread`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CreateThread {
    /// The thread's name.
    pub name: Option<String>,
    /// Free-form properties.
    pub properties: Option<Properties>,
}

/// `updateCurrentUser` (the whole CurrentUser the update function returned).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UpdateCurrentUser {
    /// New display name.
    pub display_name: Option<String>,
    /// New properties (replacing the old ones).
    pub properties: Option<Properties>,
    /// New presence (its `status`).
    pub presence: Option<PresenceUpdate>,
    /// New display picture URL.
    pub display_picture_url: Option<String>,
}

/// A presence as sent in an updated CurrentUser.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PresenceUpdate {
    /// `AVAILABLE`, `DO_NOT_DISTURB`, `INVISIBLE`, …
    pub status: Option<String>,
}

/// `updateCurrentUserDisplayPicture` with an external file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DisplayPicture {
    /// `http(s)` URL of the image.
    pub url: Option<String>,
}

/// `inviteUser`, `addChannelModerator`: `{user}` or the user itself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct UserAction {
    /// The user, when wrapped.
    pub user: Option<UserRef>,
    /// The user's id, when sent bare.
    pub id: Option<i64>,
    /// The username, when sent bare.
    pub username: Option<String>,
    /// The username as a User resource names it, when sent bare.
    pub name: Option<String>,
}

impl UserAction {
    /// The user named.
    pub fn user(self) -> UserRef {
        self.user.unwrap_or(UserRef {
            id: self.id,
            username: self.username,
            name: self.name,
        })
    }
}

/// `muteChannel` / `unmuteChannel`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Mute {
    /// `ON` or `OFF`.
    pub state: Option<String>,
}

/// Moderation: ban or mute a member of a channel (docs/protocol.md §22).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MemberModeration {
    /// The member.
    pub user: Option<UserRef>,
    /// Why (shown to them, for bans).
    pub reason: Option<String>,
    /// For how long, in seconds (absent: until lifted).
    pub duration_seconds: Option<i64>,
}

/// Moderation: a channel's slow mode.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SlowMode {
    /// Seconds between a member's messages (0: off).
    pub seconds: Option<i64>,
}

/// Moderation: a report of a message.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Flag {
    /// Why it is reported.
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_resources_are_accepted_and_nulls_are_absent() {
        let u: UpdateCurrentUser = serde_json::from_str(
            r#"{"id":1,"name":"jane","displayName":"Jane","properties":null,
                "presence":{"status":"AVAILABLE","online":true},"_relays":{}}"#,
        )
        .unwrap();
        assert_eq!(u.display_name.as_deref(), Some("Jane"));
        assert!(u.properties.is_none());
        assert_eq!(u.presence.unwrap().status.as_deref(), Some("AVAILABLE"));
        let invite: UserAction = serde_json::from_str(r#"{"id":7,"name":"john"}"#).unwrap();
        assert_eq!(invite.user().id, Some(7));
        let invite: UserAction = serde_json::from_str(r#"{"user":{"username":"john"}}"#).unwrap();
        assert_eq!(invite.user().username(), Some("john"));
    }

    #[test]
    fn a_field_of_the_wrong_type_is_an_error() {
        assert!(serde_json::from_str::<CreateChannel>(r#"{"members":{"id":1}}"#).is_err());
        assert!(serde_json::from_str::<SendMessage>(r#"{"body":5}"#).is_err());
        assert!(serde_json::from_str::<TriggerEvent>(r#"{"properties":[1]}"#).is_err());
    }
}
