//! Presence and chat participation (docs/protocol.md §13.4): who is online, who has a
//! chat session open in a channel. The bookkeeping (counts per node and across nodes)
//! is the realtime layer's; this module announces the transitions it reports.

use chatkitty_protocol::destination::{ChannelTopic, Topic, UserTopic};
use chatkitty_protocol::event::types;
use chatkitty_protocol::thread::ThreadKey;

use crate::error::ApiResult;
use crate::realtime::hub::Exclude;
use crate::state::{event_json, AppState};
use crate::store::UserRow;

/// Tells `user`'s contacts and the participants of their channels (and the app's
/// webhooks: `user.presence.changed`) about their presence, rendered as it is now.
pub async fn announce(state: &AppState, user: &UserRow) -> ApiResult<()> {
    announce_to(state, user, true).await
}

/// [`announce`]; `with_audience: false` for a user known to have no channels yet (so
/// no contacts either): nobody to look up.
async fn announce_to(state: &AppState, user: &UserRow, with_audience: bool) -> ApiResult<()> {
    super::webhooks::presence_changed(state, user).await;
    if !with_audience {
        return Ok(());
    }
    let rendered = state.render_user(user);
    let (channels, contacts) = state.store.presence_audience(user.id).await?;
    let body = event_json(types::CONTACT_PRESENCE_CHANGED, &rendered);
    for c in contacts {
        let dest = Topic::User(c as u64, UserTopic::Contacts).to_destination();
        state.publish(&dest, &body, Exclude::Nobody);
    }
    let body = event_json(types::PARTICIPANT_PRESENCE_CHANGED, &rendered);
    for cid in channels {
        let dest = Topic::Channel(cid as u64, ChannelTopic::Participants).to_destination();
        state.publish(&dest, &body, Exclude::User(user.id));
    }
    Ok(())
}

/// [`announce`], where nobody waits for the outcome: a failure is logged.
pub async fn announce_or_log(state: &AppState, user: &UserRow) {
    log_failure(user, announce(state, user).await);
}

fn log_failure(user: &UserRow, r: ApiResult<()>) {
    if let Err(e) = r {
        tracing::error!(user = user.id, error = ?e, "announcing presence");
    }
}

/// A connection of `user` opened; announced when the user came online cluster-wide.
/// `created`: the sign-in of this connection created the user, who is in no channel
/// yet and has no one to be announced to (the webhook still hears of it).
pub async fn connected(state: &AppState, user: &UserRow, created: bool) {
    if state.presence.connect(user.id) && state.bus.user_online(user.id).await {
        // Online when the server stopped: for their contacts nothing changed.
        if state.presence.returned(user.id) {
            return;
        }
        log_failure(user, announce_to(state, user, !created).await);
        remember(state, user.id, true);
    }
}

/// Whether presence is kept across restarts: one node, and a window to come back in.
fn restoring(state: &AppState) -> bool {
    state.config.presence_restore_ms > 0 && state.config.redis_url.is_none()
}

/// How long a change of presence or chat participation waits to be recorded with the
/// ones after it: one write for all that came meanwhile, instead of one per user
/// coming online (a fifth of a session start's server time).
const RECORD_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// Records `user`'s presence for the next start (in the background: nobody waits).
fn remember(state: &AppState, user: i64, online: bool) {
    if restoring(state) && state.pending_records.online(user, online) {
        schedule_records(state);
    }
}

/// Records whether `user` is in the chat of `channel` for the next start ([`remember`]).
fn remember_chat(state: &AppState, channel: i64, user: i64, active: bool) {
    if restoring(state) && state.pending_records.chat(channel, user, active) {
        schedule_records(state);
    }
}

/// Writes the changes recorded [`RECORD_DELAY`] from now, together. The records lag
/// the truth by that much: a crash within it announces again whom it left out, as
/// without records.
fn schedule_records(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        tokio::time::sleep(RECORD_DELAY).await;
        write_records(&state).await;
    });
}

/// Writes the presence changes not recorded yet (also when the server stops).
pub async fn write_records(state: &AppState) {
    // Held until written: the writes go one after the other, in the order of the changes.
    let (r, _turn) = state.pending_records.take().await;
    if r.online.is_empty() && r.chats.is_empty() {
        return;
    }
    let online: Vec<_> = r.online.into_iter().collect();
    let chats: Vec<_> = r.chats.into_iter().collect();
    if let Err(e) = state.store.record_presence(&online, &chats).await {
        tracing::warn!(error = ?e, users = online.len(), chats = chats.len(), "recording presence");
    }
}

/// At start-up (docs/protocol.md §13.4, "Restarts"): the users who were online when the
/// server stopped come back without being announced, within `--presence-restore-ms`;
/// those who have not by then are announced offline. Without it a restart announces
/// every returning user to each contact and channel (a million events for 10,000 users
/// in channels of 100), which holds the server for seconds. Chat sessions the same way:
/// one open when the server stopped and opened again within the window is not
/// announced to the channel's other participants; one that is not is announced ended.
pub async fn restore(state: &AppState) {
    if !restoring(state) {
        return;
    }
    match state.store.online_users().await {
        Ok(users) => state.presence.restore(users),
        Err(e) => {
            tracing::error!(error = ?e, "reading who was online");
            return;
        }
    }
    match state.store.participations().await {
        Ok(pairs) => state.participants.restore(pairs),
        Err(e) => tracing::error!(error = ?e, "reading who was in which chat"),
    }
    let state = state.clone();
    tokio::spawn(async move {
        let window = std::time::Duration::from_millis(state.config.presence_restore_ms);
        let mut shutdown = state.shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(window) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        for id in state.presence.not_returned() {
            match state.store.user_by_id(id).await {
                Ok(Some(user)) => {
                    announce_or_log(&state, &user).await;
                    remember(&state, id, false);
                }
                Ok(None) => {}
                Err(e) => tracing::error!(user = id, error = ?e, "restoring presence"),
            }
        }
        for (cid, id) in state.participants.not_returned() {
            match state.store.user_by_id(id).await {
                Ok(Some(user)) => {
                    announce_left_chat(&state, cid, &user);
                    remember_chat(&state, cid, id, false);
                }
                Ok(None) => {}
                Err(e) => tracing::error!(user = id, error = ?e, "restoring chat participation"),
            }
        }
    });
}

/// A connection of `user` closed; when it was their last, they go offline after the
/// presence grace period unless a connection comes back meanwhile.
pub fn disconnected(state: &AppState, user: &UserRow) {
    let Some(generation) = state.presence.disconnect(user.id) else {
        return;
    };
    let state = state.clone();
    let user = user.clone();
    let grace = std::time::Duration::from_millis(state.config.presence_grace_ms);
    tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        // A server stopping keeps its users recorded online (they come back to the next).
        if *state.shutdown.borrow() {
            return;
        }
        if state.presence.expire(user.id, generation) && state.bus.user_offline(user.id).await {
            announce_or_log(&state, &user).await;
            remember(&state, user.id, false);
        }
    });
}

/// A connection of `user` started its first chat session in channel `cid`: the other
/// participants hear it when the user became active cluster-wide.
pub async fn entered_chat(state: &AppState, cid: i64, user: &UserRow) {
    if state.participants.enter(cid, user.id) && state.bus.entered(cid, user.id).await {
        // In this chat when the server stopped: for the others nothing changed.
        if state.participants.returned(cid, user.id) {
            return;
        }
        let me = state.render_user(user);
        state.publish_to_channel(
            cid,
            ChannelTopic::Participants,
            types::CHANNEL_PARTICIPANT_ACTIVE,
            &me,
            Exclude::User(user.id),
        );
        remember_chat(state, cid, user.id, true);
    }
}

/// A connection of `user` ended its last chat session in channel `cid`: their typing
/// there stops, and the other participants hear it when they left cluster-wide.
pub async fn left_chat(state: &AppState, cid: i64, user: &UserRow) {
    for thread in state.typing.stop_channel(cid, user.id) {
        if let Some(key) = ThreadKey::parse(&thread) {
            crate::domain::delivery::typing_or_log(state, key, cid, user, false).await;
        }
    }
    if state.participants.leave(cid, user.id) && state.bus.left(cid, user.id).await {
        // A server stopping keeps its chat sessions recorded (they come back to the
        // next, where nobody hears them enter again): nobody hears them leave either.
        if restoring(state) && *state.shutdown.borrow() {
            return;
        }
        announce_left_chat(state, cid, user);
        remember_chat(state, cid, user.id, false);
    }
}

fn announce_left_chat(state: &AppState, cid: i64, user: &UserRow) {
    let me = state.render_user(user);
    state.publish_to_channel(
        cid,
        ChannelTopic::Participants,
        types::CHANNEL_PARTICIPANT_INACTIVE,
        &me,
        Exclude::User(user.id),
    );
}
