//! Relays over STOMP (docs/protocol.md §3.1): a SUBSCRIBE to a `.relay` destination is
//! answered with one MESSAGE on that subscription carrying `{"resource": …}`, or an
//! error on the errors queue. What the answer holds is [`crate::domain::reads`].

use chatkitty_protocol::destination::Relay;
use chatkitty_protocol::{header, Frame};

use super::session::Session;
use crate::domain::pages::Params;
use crate::domain::{reads, NoAnswer};
use crate::error::ApiResult;
use crate::realtime::hub::message_frame;

/// Headers that are STOMP's own, not relay parameters.
const RESERVED: [&str; 5] = [
    header::ID,
    header::DESTINATION,
    header::RECEIPT,
    header::ACK,
    header::CONTENT_LENGTH,
];

/// Answers the relay SUBSCRIBE `id` to `dest`.
pub async fn relay(
    s: &Session,
    id: &str,
    dest: &str,
    relay: Relay,
    query: Vec<(String, String)>,
    frame: &Frame,
) -> ApiResult<()> {
    let resource = if relay == Relay::CurrentUser && s.user_just_read {
        // The CONNECT this relay is pipelined behind read the user a moment ago.
        crate::domain::pages::json(&s.state.render_current_user(&s.user))?
    } else {
        let params = params(frame, query);
        reads::answer(&s.call(&NoAnswer), relay, &params).await?
    };
    let body = format!("{{\"resource\":{resource}}}");
    let mid = s.state.hub.next_message_id();
    s.conn.send(message_frame(dest, id, &mid, None, &body));
    Ok(())
}

/// Relay parameters: the destination's `?query`, then the SUBSCRIBE's other headers
/// (docs/protocol.md §9.2, §16.14: clients send parameters either way).
fn params(frame: &Frame, query: Vec<(String, String)>) -> Params {
    let mut pairs = query;
    for (k, v) in &frame.headers {
        if !RESERVED.contains(&k.as_str()) {
            pairs.push((k.clone(), v.clone()));
        }
    }
    Params::new(pairs)
}
