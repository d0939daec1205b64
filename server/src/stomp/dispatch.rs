//! Each frame of an established session to its handler (docs/protocol.md §3): topic
//! SUBSCRIBE/UNSUBSCRIBE (paced), relays ([`super::relays`]), actions
//! ([`super::actions`]), the errors queue, DISCONNECT; rate limits before any of them.

use std::time::Instant;

use chatkitty_protocol::destination::Destination;
use chatkitty_protocol::error::names;
use chatkitty_protocol::{header, Command, Frame};

use super::frames::{error_frame, receipt_frame, Correlation};
use super::session::{Flow, Session};
use super::{actions, relays};
use crate::error::ApiError;
use crate::realtime::hub::Outbound;

/// Handles one frame.
pub async fn on_frame(s: &mut Session, frame: Frame) -> Flow {
    // The errors queue's SUBSCRIBE reads and changes nothing: the user CONNECT read is
    // still just read for the current-user relay our SDK pipelines behind it
    // (docs/protocol.md §4.1, §4.2).
    let keeps_user = frame.command == Command::Subscribe
        && matches!(
            frame
                .header(header::DESTINATION)
                .and_then(Destination::parse),
            Some(Destination::ErrorsQueue)
        );
    let flow = handle(s, frame).await;
    s.user_just_read &= keeps_user;
    flow
}

async fn handle(s: &mut Session, frame: Frame) -> Flow {
    let to_channel = actions::channel_message_send(&frame);
    if !s.queued.is_empty() && to_channel != Some(s.queued_for) {
        actions::flush_sends(s).await;
    }
    // Room for this frame's answers (a result, events on the user's own topics, a
    // RECEIPT): a client that sends faster than it reads is paced, not dropped; one
    // that stopped reading is cut off.
    if !s.room_for_answers(4).await {
        return Flow::Close;
    }
    pace_topic_changes(s, &frame).await;
    if let Some(flow) = refuse_over_rate(s, &frame).await {
        return flow;
    }
    let receipt = frame.header(header::RECEIPT).map(str::to_owned);
    match frame.command {
        Command::Subscribe => {
            if !on_subscribe(s, &frame).await {
                // A refused subscription gets its error and no RECEIPT, so a chat
                // session waiting on it is never confirmed.
                return Flow::Continue;
            }
        }
        Command::Unsubscribe => {
            if let Some(id) = frame.header(header::ID) {
                s.unsubscribe(id).await;
            }
        }
        Command::Send => {
            if actions::on_send(s, &frame, to_channel).await {
                // Queued: its RECEIPT follows its answer.
                return Flow::Continue;
            }
        }
        Command::Ack | Command::Nack => {}
        Command::Disconnect => {
            if let Some(r) = &receipt {
                s.conn.control(Outbound::Frame(receipt_frame(r))).await;
            }
            s.conn.control(Outbound::Close(None)).await;
            return Flow::Close;
        }
        Command::Begin | Command::Commit | Command::Abort => {
            let c = Correlation {
                receipt_id: receipt.as_deref(),
                ..Default::default()
            };
            s.send_error(&ApiError::unsupported("STOMP transactions"), c);
        }
        Command::Connect | Command::Stomp => {
            let c = Correlation {
                receipt_id: receipt.as_deref(),
                ..Default::default()
            };
            s.send_error(
                &ApiError::validation("The session is already connected."),
                c,
            );
        }
        Command::Connected | Command::Message | Command::Receipt | Command::Error => {
            let msg = format!("{} is a server command.", frame.command);
            let frame = error_frame(names::MALFORMED_FRAME, &msg);
            s.conn.control(Outbound::Close(Some(frame))).await;
            return Flow::Close;
        }
    }
    if let Some(r) = receipt {
        s.conn.send(receipt_frame(&r));
    }
    Flow::Continue
}

/// Waits for a topic SUBSCRIBE/UNSUBSCRIBE's turn (`--subscribe-rate`).
async fn pace_topic_changes(s: &mut Session, frame: &Frame) {
    let topic_change = match frame.command {
        Command::Unsubscribe => true,
        Command::Subscribe => frame
            .header(header::DESTINATION)
            .is_some_and(|d| !d.contains(".relay")),
        _ => false,
    };
    if topic_change {
        let wait = s.subscribe_pace.pace(Instant::now());
        if !wait.is_zero() {
            actions::flush_sends(s).await;
            tokio::time::sleep(wait).await;
        }
    }
}

/// A SEND or relay over its connection's rate is refused (`RateLimitExceededError`);
/// a connection refused too often is closed. `None` when within the rate.
async fn refuse_over_rate(s: &mut Session, frame: &Frame) -> Option<Flow> {
    let limited = match frame.command {
        Command::Send => !s.send_limit.take(Instant::now()),
        Command::Subscribe
            if frame
                .header(header::DESTINATION)
                .is_some_and(|d| d.contains(".relay")) =>
        {
            !s.relay_limit.take(Instant::now())
        }
        _ => false,
    };
    if !limited {
        return None;
    }
    // Answered after the sends queued before it.
    actions::flush_sends(s).await;
    if s.violation() {
        return Some(close_for_abuse(s).await);
    }
    let e = ApiError::new(names::RATE_LIMITED, "Too many requests: slow down.");
    let receipt = frame.header(header::RECEIPT);
    let c = match frame.command {
        Command::Send => Correlation {
            receipt_id: receipt,
            ..Default::default()
        },
        _ => Correlation {
            subscription_id: frame.header(header::ID),
            ..Default::default()
        },
    };
    s.send_error(&e, c);
    if let (Command::Send, Some(r)) = (frame.command, receipt) {
        s.conn.send(receipt_frame(r));
    }
    Some(Flow::Continue)
}

/// Handles a SUBSCRIBE; `false` if it was refused.
async fn on_subscribe(s: &mut Session, frame: &Frame) -> bool {
    let Some(id) = frame.header(header::ID).map(str::to_owned) else {
        let c = Correlation {
            receipt_id: frame.header(header::RECEIPT),
            ..Default::default()
        };
        s.send_error(&ApiError::validation("SUBSCRIBE needs an id header."), c);
        return false;
    };
    let dest = frame.header(header::DESTINATION).unwrap_or("");
    let fail = Correlation {
        subscription_id: Some(&id),
        receipt_id: frame.header(header::RECEIPT),
    };
    let refused = match Destination::parse(dest) {
        Some(Destination::Relay(relay, query)) => {
            relays::relay(s, &id, dest, relay, query, frame).await.err()
        }
        Some(Destination::Topic(topic)) => s.subscribe_topic(&id, dest, &topic).await.err(),
        Some(Destination::ErrorsQueue) => {
            s.errors_subscribed(id.clone());
            None
        }
        Some(Destination::Action(_)) => Some(ApiError::validation(format!(
            "{dest} is an action: SEND to it."
        ))),
        None if dest.contains(".relay") => Some(ApiError::not_found(format!("The relay {dest}"))),
        // Unknown topics (including "undefined", docs/protocol.md §16.9) are accepted
        // as no-ops: the RECEIPT is sent by the caller.
        None => None,
    };
    match refused {
        Some(e) => {
            s.send_error(&e, fail);
            false
        }
        None => true,
    }
}

async fn close_for_abuse(s: &Session) -> Flow {
    tracing::warn!(
        user = s.user.id,
        "closing a connection over its rate limits"
    );
    let frame = error_frame(
        names::RATE_LIMITED,
        "Too many requests: the connection is closed. Slow down and reconnect.",
    );
    s.conn.control(Outbound::Close(Some(frame))).await;
    Flow::Close
}

#[cfg(feature = "fuzzing")]
mod fuzzing {
    use super::*;
    use crate::realtime::hub::ConnHandle;
    use crate::realtime::tracker::RateLimit;
    use crate::state::AppState;
    use crate::store::UserRow;

    impl Session {
        /// A session of `user` over a connection whose frames go to `tx` (fuzzing only).
        pub fn for_fuzzing(
            state: AppState,
            app_id: i64,
            user: UserRow,
            tx: crate::realtime::queue::Sender<Outbound>,
        ) -> Session {
            let conn = ConnHandle::new(
                state.next_conn_id(),
                user.id,
                tx,
                tokio_util::sync::CancellationToken::new(),
                crate::realtime::hub::QueueBudget::unlimited(),
            );
            let mut s = Session::new(state, conn, app_id, user, None);
            let now = Instant::now();
            s.send_limit = RateLimit::new(u32::MAX, u32::MAX, now);
            s.relay_limit = RateLimit::new(u32::MAX, u32::MAX, now);
            s.subscribe_pace = RateLimit::new(u32::MAX, u32::MAX, now);
            s
        }

        /// Handles one frame; `true` if the session would close the connection.
        pub async fn handle_for_fuzzing(&mut self, frame: Frame) -> bool {
            let close = matches!(on_frame(self, frame).await, Flow::Close);
            actions::flush_sends(self).await;
            close
        }
    }
}
