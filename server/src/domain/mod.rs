//! What the server does, whichever transport asked (ARCHITECTURE.md, "Server layers").
//!
//! Every request handler here is a function of a [`Call`] — the shared state, the
//! actor (application and user) and where the actor's result goes — and a typed
//! request, returning `Result<outcome, ApiError>`. Handlers authorise first
//! ([`access`]), then change the store, then tell everyone concerned through the
//! realtime layer. They never see a frame or an HTTP response: the transports
//! (`stomp`, `http`) parse requests into these calls and turn outcomes into frames or
//! responses.
//!
//! - [`access`]: who may read or change what.
//! - [`post`]: the one pipeline every new message goes through (STOMP, uploads,
//!   Platform API): check, store, deliver, notify.
//! - [`delivery`]: a new message's audience, typing events.
//! - [`presence`]: presence and chat participation announcements.
//! - [`channels`], [`users`], [`threads`], [`messages`]: the other actions;
//!   [`moderation`]: bans, mutes, slow mode, flags, the blocklist.
//! - [`reads`] and [`pages`]: what relays answer, in byte-bounded pages.
//! - [`search`]: message search; [`rights`] and [`retention`]: a user's data
//!   exported or deleted, messages purged after an application's retention period.
//! - [`sign_in`]: who a connecting client is.
//! - [`notify`], [`render`], [`mentions`], [`text`], [`emoji`]: notifications,
//!   resources per viewer, message text.
//! - [`events`]: what the domain does when the bus reports something from another node.
//! - [`webhooks`]: event payloads, the events that are no row change, endpoint rules;
//!   [`before_send`]: the app's hook asked before a message is stored.

pub mod access;
pub mod before_send;
pub mod channels;
pub mod delivery;
pub mod emoji;
pub mod events;
pub mod mentions;
pub mod messages;
pub mod moderation;
pub mod notify;
pub mod pages;
pub mod post;
pub mod presence;
pub mod reads;
pub mod render;
pub mod retention;
pub mod rights;
pub mod search;
pub mod sign_in;
pub mod text;
pub mod threads;
pub mod users;
pub mod webhooks;

use chatkitty_protocol::destination::UserTopic;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::UserRow;

/// Where a request's result event goes (docs/protocol.md §3.3): over STOMP, to the
/// actor's connection on its subscription to `topic`, correlated with the request;
/// over HTTP, nowhere (the response is built from the returned outcome).
pub trait Answer: Sync {
    /// Sends the result event (`{"type","version","resource"}` JSON).
    fn result(&self, topic: UserTopic, event: &str);
}

/// An [`Answer`] that goes nowhere.
pub struct NoAnswer;

impl Answer for NoAnswer {
    fn result(&self, _: UserTopic, _: &str) {}
}

/// One request: who asks, and where their result goes.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    /// Shared state.
    pub state: &'a AppState,
    /// The actor's application.
    pub app_id: i64,
    /// The actor.
    pub user: &'a UserRow,
    /// Where the actor's result goes.
    pub answer: &'a dyn Answer,
}

impl<'a> Call<'a> {
    /// A request of `user` in application `app_id`.
    pub fn new(
        state: &'a AppState,
        app_id: i64,
        user: &'a UserRow,
        answer: &'a dyn Answer,
    ) -> Self {
        Call {
            state,
            app_id,
            user,
            answer,
        }
    }

    /// Sends the actor their result event.
    pub fn reply<T: serde::Serialize>(&self, topic: UserTopic, kind: &str, resource: &T) {
        self.answer
            .result(topic, &crate::state::event_json(kind, resource));
    }
}

/// A request body as `T` (chatkitty_protocol::request): a field of the wrong type is a
/// `ValidationError` naming the field and what was expected.
pub fn parse<T: DeserializeOwned>(body: &Value) -> ApiResult<T> {
    if !body.is_object() {
        return Err(ApiError::validation("The body must be a JSON object."));
    }
    serde_path_to_error::deserialize(body).map_err(|e| {
        let inner = e.inner().to_string();
        let inner = inner.split(" at line ").next().unwrap_or(&inner);
        ApiError::validation(format!("`{}`: {inner}.", e.path()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatkitty_protocol::request::{CreateChannel, UpdateCurrentUser};
    use serde_json::json;

    #[test]
    fn a_wrong_field_type_names_the_field_and_the_expected_type() {
        let e = parse::<CreateChannel>(&json!({"members": [{"id": 1}, {"id": "x"}]})).unwrap_err();
        assert_eq!(e.name, chatkitty_protocol::error::names::VALIDATION);
        assert_eq!(
            e.message,
            "`members[1].id`: invalid type: string \"x\", expected i64."
        );
        let e = parse::<UpdateCurrentUser>(&json!({"presence": {"status": 3}})).unwrap_err();
        assert!(
            e.message
                .starts_with("`presence.status`: invalid type: integer `3`"),
            "{}",
            e.message
        );
        assert!(parse::<CreateChannel>(&json!([1])).is_err());
    }
}
