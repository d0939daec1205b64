//! Actions over STOMP (docs/protocol.md §3.3, §13.3): a SEND to an action destination
//! with a JSON body. The body is parsed into its typed request
//! (`chatkitty_protocol::request`), the domain handles it, and its result event goes
//! back to this connection with the SEND's `receipt-id` ([`StompAnswer`]); an error goes
//! to the errors queue; the RECEIPT follows either.
//!
//! SENDs to one channel's `message` action that arrive together are handled together
//! ([`send_batch`]): one query for the channel, its members and blocks; one
//! insert; each then answered in order, as if one after the other.

use chatkitty_protocol::destination::{Action, ChannelVerb, Destination, MessageVerb, ThreadVerb};
use chatkitty_protocol::request::UserAction;
use chatkitty_protocol::thread::ThreadKey;
use chatkitty_protocol::{header, Command, Frame};
use serde_json::Value;

use super::frames::{receipt_frame, Correlation};
use super::session::{QueuedSend, Session, StompAnswer};
use crate::domain::post::{self, Announcement, Where};
use crate::domain::{channels, messages, moderation, parse, threads, users, Call};
use crate::error::{ApiError, ApiResult};

/// At most this many SENDs are handled together.
pub const MAX_QUEUED_SENDS: usize = 64;

/// The channel of a SEND to a channel's `message` action.
pub fn channel_message_send(frame: &Frame) -> Option<i64> {
    if frame.command != Command::Send {
        return None;
    }
    match Destination::parse(frame.header(header::DESTINATION)?)? {
        Destination::Action(Action::Channel(cid, ChannelVerb::Message)) => Some(cid as i64),
        _ => None,
    }
}

/// A SEND's JSON body; blank is `{}`.
fn json_body(frame: &Frame) -> ApiResult<Value> {
    if frame.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(&frame.body)
        .map_err(|e| ApiError::validation(format!("The body is not valid JSON: {e}.")))
}

/// Handles a SEND; `true` when it was queued to be handled with the next ones (its
/// RECEIPT then follows its answer), `false` when it was handled (the caller sends
/// the RECEIPT).
pub async fn on_send(s: &mut Session, frame: &Frame, to_channel: Option<i64>) -> bool {
    if let Some(cid) = to_channel {
        s.queued.push(QueuedSend {
            receipt: frame.header(header::RECEIPT).map(str::to_owned),
            idempotency_key: frame.header(header::IDEMPOTENCY_KEY).map(str::to_owned),
            body: json_body(frame),
        });
        s.queued_for = cid;
        if s.queued.len() >= MAX_QUEUED_SENDS {
            flush_sends(s).await;
        }
        return true;
    }
    let receipt = frame.header(header::RECEIPT);
    let dest = frame.header(header::DESTINATION).unwrap_or("");
    let result = match (Destination::parse(dest), json_body(frame)) {
        (Some(Destination::Action(action)), Ok(body)) => {
            let answer = StompAnswer {
                session: s,
                receipt,
            };
            let key = frame.header(header::IDEMPOTENCY_KEY);
            let outcome = action_of(&s.call(&answer), action, &body, key).await;
            match outcome {
                Ok(Some(user)) => {
                    s.user = user;
                    Ok(())
                }
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            }
        }
        (Some(Destination::Action(_)), Err(e)) => Err(e),
        _ => Err(ApiError::not_found(format!("The action {dest}"))),
    };
    if let Err(e) = result {
        let c = Correlation {
            receipt_id: receipt,
            ..Default::default()
        };
        s.send_error(&e, c);
    }
    false
}

/// Handles the queued SENDs to a channel, if any.
pub async fn flush_sends(s: &mut Session) {
    if s.queued.is_empty() {
        return;
    }
    let sends = std::mem::take(&mut s.queued);
    let cid = s.queued_for;
    // Boxed: flushing is awaited where a connection waits for its next message, and
    // inline its (large) future would be part of every idle connection's task.
    Box::pin(send_batch(s, cid, sends)).await;
}

/// Whether SENDs are queued, fewer than a batch holds.
pub fn wants_more_sends(s: &Session) -> bool {
    !s.queued.is_empty() && s.queued.len() < MAX_QUEUED_SENDS
}

/// Consecutive SENDs of this connection to one channel's `message` action, that
/// arrived together: handled as if one after the other (each answered in order,
/// with its result event or its error, then its RECEIPT), but with one context
/// query and one insert for all of them. Under load a connection's sends queue up
/// while the previous ones are stored; taking them together keeps the database's
/// per-statement cost from setting its pace.
pub async fn send_batch(s: &mut Session, cid: i64, sends: Vec<QueuedSend>) {
    let answer = crate::domain::NoAnswer;
    let dest = post::channel_destination(&s.call(&answer), cid).await;
    let dest = match dest {
        Ok(d) => d,
        Err(e) => {
            for q in &sends {
                if !s.room_for_answers(2).await {
                    return;
                }
                settle(s, Err(e.clone()), q);
            }
            return;
        }
    };
    let mut contents = Vec::with_capacity(sends.len());
    for q in &sends {
        contents.push(match &q.body {
            Ok(body) => match parse(body) {
                Ok(req) => match post::user_content(&s.call(&answer), req).await {
                    Ok(content) => post::admit(&s.state, &dest, s.user.id)
                        .await
                        .map(|_| content),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            },
            Err(e) => Err(e.clone()),
        });
    }
    let contents = post::screen_all(&s.call(&answer), &dest, contents).await;
    let news: Vec<_> = contents
        .iter()
        .zip(&sends)
        .filter_map(|(c, q)| {
            let c = c.as_ref().ok()?;
            Some(c.new_message(Some(s.user.id), &dest, q.idempotency_key.as_deref()))
        })
        .collect();
    let stored = post::store_many(&s.state, &news).await;
    drop(news);
    let mut stored = stored.map(Vec::into_iter);
    for (content, q) in contents.into_iter().zip(&sends) {
        // Its result event or error, its RECEIPT and its copy on a channel topic. A
        // connection cut off meanwhile gets no answers; the stored messages are still
        // announced to everyone else.
        s.room_for_answers(3).await;
        let result = match (content, &mut stored) {
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(e.clone()),
            (Ok(content), Ok(rows)) => match rows.next() {
                Some((row, new)) => {
                    let a = Announcement {
                        app_id: s.app_id,
                        sender: Some(&s.user),
                        dest: &dest,
                        content,
                        row,
                        new,
                        idempotency_key: q.idempotency_key.as_deref(),
                    };
                    let answer = StompAnswer {
                        session: s,
                        receipt: q.receipt.as_deref(),
                    };
                    let ack = |created: &str| {
                        crate::domain::Answer::result(
                            &answer,
                            chatkitty_protocol::destination::UserTopic::Messages,
                            created,
                        )
                    };
                    post::announce(&s.state, a, ack).await.map(|_| ())
                }
                None => Err(ApiError::internal()),
            },
        };
        settle(s, result, q);
    }
}

/// A queued send's error, if it failed, then its RECEIPT.
fn settle(s: &mut Session, result: ApiResult<()>, q: &QueuedSend) {
    if let Err(e) = result {
        let c = Correlation {
            receipt_id: q.receipt.as_deref(),
            ..Default::default()
        };
        s.send_error(&e, c);
    }
    if let Some(r) = &q.receipt {
        s.conn.send(receipt_frame(r));
    }
}

/// Handles an action: its typed request to the domain. Returns the actor's user as
/// stored now when the action changed it.
async fn action_of(
    call: &Call<'_>,
    action: Action,
    body: &Value,
    idempotency_key: Option<&str>,
) -> ApiResult<Option<crate::store::UserRow>> {
    match action {
        Action::CreateChannel => channels::create(call, parse(body)?).await.map(|_| None),
        Action::UpdateCurrentUser => users::update_current_user(call, parse(body)?)
            .await
            .map(Some),
        Action::UpdateDisplayPicture => users::update_display_picture(call, parse(body)?)
            .await
            .map(Some),
        Action::BlockUser(id) => users::block(call, id as i64).await.map(|_| None),
        Action::DeleteBlockListItem(id) => users::unblock(call, id as i64).await.map(|_| None),
        Action::Channel(cid, verb) => channel_action(call, cid as i64, verb, body, idempotency_key)
            .await
            .map(|_| None),
        Action::Message(mid, verb) => message_action(call, mid as i64, verb, body, idempotency_key)
            .await
            .map(|_| None),
        Action::Thread(tid, verb) => thread_action(call, &tid, verb, body, idempotency_key)
            .await
            .map(|_| None),
    }
}

async fn channel_action(
    call: &Call<'_>,
    cid: i64,
    verb: ChannelVerb,
    body: &Value,
    idempotency_key: Option<&str>,
) -> ApiResult<()> {
    match verb {
        ChannelVerb::Message => send(call, Where::Channel(cid), body, idempotency_key).await,
        ChannelVerb::Keystrokes => {
            messages::keystrokes(call, ThreadKey::Main(cid), parse(body)?).await
        }
        ChannelVerb::Join => channels::join(call, cid).await,
        ChannelVerb::Leave => channels::leave(call, cid).await,
        ChannelVerb::AddModerator => {
            let target: UserAction = parse(body)?;
            channels::add_moderator(call, cid, target.user()).await
        }
        ChannelVerb::Invite => {
            let invitee: UserAction = parse(body)?;
            channels::invite(call, cid, invitee.user()).await
        }
        ChannelVerb::Read => channels::read_messages(call, cid, None).await,
        ChannelVerb::Mute => channels::mute(call, cid, parse(body)?).await,
        ChannelVerb::Call => Err(ApiError::unsupported("Calls")),
        ChannelVerb::TriggerEvent => channels::trigger_event(call, cid, parse(body)?).await,
        ChannelVerb::Update => channels::update(call, cid, parse(body)?).await,
        ChannelVerb::Delete => channels::delete(call, cid).await,
        ChannelVerb::ClearHistory => channels::clear_history(call, cid).await,
        ChannelVerb::Hide => channels::hide(call, cid).await,
        ChannelVerb::CreateThread => threads::create(call, cid, parse(body)?).await,
        ChannelVerb::Ban => moderation::ban(call, cid, parse(body)?).await,
        ChannelVerb::Unban => moderation::unban(call, cid, parse(body)?).await,
        ChannelVerb::MuteMember => moderation::mute(call, cid, parse(body)?).await,
        ChannelVerb::UnmuteMember => moderation::unmute(call, cid, parse(body)?).await,
        ChannelVerb::SlowMode => moderation::slow_mode(call, cid, parse(body)?).await,
    }
}

async fn message_action(
    call: &Call<'_>,
    mid: i64,
    verb: MessageVerb,
    body: &Value,
    idempotency_key: Option<&str>,
) -> ApiResult<()> {
    match verb {
        MessageVerb::Read => messages::read(call, mid).await,
        MessageVerb::Reply => send(call, Where::Reply(mid), body, idempotency_key).await,
        MessageVerb::DeleteForMe => messages::delete_for_me(call, mid).await,
        MessageVerb::Delete => messages::delete(call, mid).await,
        MessageVerb::React => messages::react(call, mid, parse(body)?).await,
        MessageVerb::Edit => messages::edit(call, mid, parse(body)?).await,
        MessageVerb::RemoveReaction => messages::remove_reaction(call, mid, parse(body)?).await,
        MessageVerb::Flag => moderation::flag(call, mid, parse(body)?).await.map(|_| ()),
    }
}

async fn thread_action(
    call: &Call<'_>,
    tid: &str,
    verb: ThreadVerb,
    body: &Value,
    idempotency_key: Option<&str>,
) -> ApiResult<()> {
    match verb {
        ThreadVerb::Message => send(call, Where::Thread(tid), body, idempotency_key).await,
        ThreadVerb::Keystrokes => {
            let (view, _) = threads::readable(call, tid).await?;
            messages::keystrokes(call, view.key, parse(body)?).await
        }
        ThreadVerb::Read => messages::read_thread(call, tid).await,
    }
}

/// One message through the pipeline ([`post`]): a reply, a message to a thread (a
/// channel's main-thread sends are batched, above).
async fn send(
    call: &Call<'_>,
    to: Where<'_>,
    body: &Value,
    idempotency_key: Option<&str>,
) -> ApiResult<()> {
    let dest = post::destination(call, to).await?;
    let content = post::user_content(call, parse(body)?).await?;
    let ack = |created: &str| {
        call.answer.result(
            chatkitty_protocol::destination::UserTopic::Messages,
            created,
        )
    };
    post::post(
        call.state,
        call.app_id,
        Some(call.user),
        &dest,
        content,
        idempotency_key,
        Some(call),
        ack,
    )
    .await?;
    Ok(())
}
