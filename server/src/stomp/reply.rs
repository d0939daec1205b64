//! Frames the server answers with (docs/protocol.md §2.6, §3): ERROR, RECEIPT, errors on
//! the errors queue correlated with their request, and the [`Answer`] through which the
//! domain's result events reach the actor's connection.

use chatkitty_protocol::destination::{Topic, UserTopic, ERRORS_QUEUE};
use chatkitty_protocol::frame::encode_text;
use chatkitty_protocol::{header, Command};

use super::session::Session;
use crate::domain::Answer;
pub use crate::realtime::hub::error_frame;
use crate::realtime::hub::message_frame;

/// A RECEIPT frame.
pub fn receipt_frame(receipt: &str) -> String {
    encode_text(Command::Receipt, &[(header::RECEIPT_ID, receipt)], "")
}

/// Which request an error answers (docs/protocol.md §3.5).
#[derive(Debug, Clone, Copy, Default)]
pub struct Correlation<'a> {
    /// The failed relay's SUBSCRIBE id.
    pub subscription_id: Option<&'a str>,
    /// The failed SEND's receipt.
    pub receipt_id: Option<&'a str>,
}

/// An errors-queue MESSAGE carrying `body`, correlated with its request.
pub fn error_message(sub: &str, message_id: &str, body: &str, c: Correlation<'_>) -> String {
    let mut headers: Vec<(&str, &str)> = vec![
        (header::DESTINATION, ERRORS_QUEUE),
        (header::SUBSCRIPTION, sub),
        (header::MESSAGE_ID, message_id),
        (header::CONTENT_TYPE, header::JSON),
    ];
    if let Some(s) = c.subscription_id {
        headers.push((header::SUBSCRIPTION_ID, s));
    }
    if let Some(r) = c.receipt_id {
        headers.push((header::RECEIPT_ID, r));
    }
    encode_text(Command::Message, &headers, body)
}

/// The actor's result events, over their connection: on its subscription to the user
/// topic (or, failing that, to any of their user topics, then the errors queue), with
/// the request's `receipt-id` (docs/protocol.md §3.3).
pub struct StompAnswer<'a> {
    /// The connection's session.
    pub session: &'a Session,
    /// The request's receipt.
    pub receipt: Option<&'a str>,
}

impl Answer for StompAnswer<'_> {
    fn result(&self, topic: UserTopic, event: &str) {
        let s = self.session;
        let user = s.user.id as u64;
        let dest = Topic::User(user, topic).to_destination();
        let own = Topic::User(user, UserTopic::Self_).to_destination();
        let found = s
            .subscription_to(|d| d == dest)
            .or_else(|| s.subscription_to(|d| d.starts_with(&own)));
        let (sub_id, dest) = match found {
            Some((id, d)) => (id, d),
            None => match s.errors_subscription() {
                Some(id) => (id, ERRORS_QUEUE),
                None => {
                    tracing::warn!("result event with no subscription to carry it");
                    return;
                }
            },
        };
        let mid = s.state.hub.next_message_id();
        s.conn
            .send(message_frame(dest, sub_id, &mid, self.receipt, event));
    }
}
