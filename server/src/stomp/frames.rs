//! Frames the server answers with (docs/protocol.md §2.6, §3): ERROR, RECEIPT, and
//! errors on the errors queue correlated with their request.

use chatkitty_protocol::destination::ERRORS_QUEUE;
use chatkitty_protocol::frame::encode_text;
use chatkitty_protocol::{header, Command};

pub use crate::realtime::hub::error_frame;

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
