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
        log_failure(user, announce_to(state, user, !created).await);
    }
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
        if state.presence.expire(user.id, generation) && state.bus.user_offline(user.id).await {
            announce_or_log(&state, &user).await;
        }
    });
}

/// A connection of `user` started its first chat session in channel `cid`: the other
/// participants hear it when the user became active cluster-wide.
pub async fn entered_chat(state: &AppState, cid: i64, user: &UserRow) {
    if state.participants.enter(cid, user.id) && state.bus.entered(cid, user.id).await {
        let me = state.render_user(user);
        state.publish_to_channel(
            cid,
            ChannelTopic::Participants,
            types::CHANNEL_PARTICIPANT_ACTIVE,
            &me,
            Exclude::User(user.id),
        );
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
        let me = state.render_user(user);
        state.publish_to_channel(
            cid,
            ChannelTopic::Participants,
            types::CHANNEL_PARTICIPANT_INACTIVE,
            &me,
            Exclude::User(user.id),
        );
    }
}
