//! What happens to messages after they are sent (docs/protocol.md §6.4, §13.3): edits,
//! deletes, reactions, reads, and the keystrokes of a message being written. Sending
//! is [`super::post`].

use chatkitty_protocol::destination::{ChannelTopic, Relay, ThreadTopic, Topic, UserTopic};
use chatkitty_protocol::event::types;
use chatkitty_protocol::request::{EditMessage, Keystrokes, Reaction};
use chatkitty_protocol::resource::{self as res, KeystrokesRelays};
use chatkitty_protocol::thread::ThreadKey;

use super::mentions::Viewer;
use super::{access, channels, delivery, post, threads, Call};
use crate::error::{ApiError, ApiResult};
use crate::realtime::hub::Exclude;
use crate::realtime::tracker::TypingChange;
use crate::store::ChannelRow;

/// `editMessage`: the sender changes a text message's body.
pub async fn edit(call: &Call<'_>, mid: i64, req: EditMessage) -> ApiResult<()> {
    let state = call.state;
    let (m, channel) = access::own_message(call, mid, "edit").await?;
    if m.file.is_some() {
        return Err(ApiError::validation("Only text messages can be edited."));
    }
    let text = post::valid_text(state, req.body.as_deref())?;
    let text = super::moderation::screen_text(state, call.app_id, text.to_owned()).await?;
    let mentions = post::mentions(call, &text).await?;
    let links = super::text::links_json(&text);
    state
        .store
        .edit_message(
            mid,
            &text,
            mentions.as_ref().map(|m| m.stored.as_str()),
            Some(&links),
        )
        .await?;
    changed(call, mid, &channel, types::USER_MESSAGE_UPDATED).await?;
    Ok(())
}

/// `deleteMessage`: for everyone, by its sender or a moderator of a group channel.
pub async fn delete(call: &Call<'_>, mid: i64) -> ApiResult<()> {
    let (_, channel) = access::own_message(call, mid, "delete").await?;
    let state = call.state;
    state.store.delete_message(mid).await?;
    // An uploaded file goes with its message (its link answers 410 from now on).
    for token in state.store.file_tokens_of_message(mid).await? {
        if let Err(e) = tokio::fs::remove_file(state.config.files_dir.join(&token)).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(error = %e, "removing a deleted message's file");
            }
        }
    }
    let rendered = changed(call, mid, &channel, types::USER_MESSAGE_DELETED).await?;
    call.state.publish_to_channel(
        channel.id,
        ChannelTopic::Messages,
        types::CHANNEL_MESSAGE_DELETED,
        &rendered,
        Exclude::Nobody,
    );
    Ok(())
}

/// The actor's result and `channel.message.updated` to the channel (not to users who
/// blocked the sender). Returns the message as rendered.
async fn changed(
    call: &Call<'_>,
    mid: i64,
    channel: &ChannelRow,
    kind: &str,
) -> ApiResult<res::Message> {
    let state = call.state;
    let m = state
        .store
        .message(mid)
        .await?
        .ok_or_else(ApiError::internal)?;
    let rendered = state
        .render_one_message(call.app_id, &m, Viewer::Audience)
        .await?;
    call.reply(UserTopic::Messages, kind, &rendered);
    let blockers = match m.user_id {
        Some(u) => state.store.blockers_of(u).await?,
        None => Vec::new(),
    };
    state.publish_to_channel(
        channel.id,
        ChannelTopic::Messages,
        types::CHANNEL_MESSAGE_UPDATED,
        &rendered,
        Exclude::Users(&blockers),
    );
    Ok(rendered)
}

/// `deleteMessageForMe`: hidden for the actor only.
pub async fn delete_for_me(call: &Call<'_>, mid: i64) -> ApiResult<()> {
    let state = call.state;
    let (m, channel) = access::readable_message(call, mid).await?;
    access::member_channel(call, channel.id).await?;
    state.store.hide_message(call.user.id, mid).await?;
    let rendered = state
        .render_one_message(call.app_id, &m, Viewer::User(call.user.id))
        .await?;
    call.reply(UserTopic::Messages, types::USER_MESSAGE_DELETED, &rendered);
    Ok(())
}

/// `readMessage`: moves the read position up to the message (never backwards) and
/// always announces the receipt of that message — an explicit read is news even when
/// a later message of one's own had already moved the position past it.
pub async fn read(call: &Call<'_>, mid: i64) -> ApiResult<()> {
    let state = call.state;
    let (m, channel) = access::readable_message(call, mid).await?;
    access::member_channel(call, channel.id).await?;
    state
        .store
        .read_up_to(channel.id, call.user.id, Some(mid))
        .await?;
    if m.user_id != Some(call.user.id) {
        let receipt = state.render_receipt(mid, call.user, crate::clock::now_ms());
        state.publish_to_channel(
            channel.id,
            ChannelTopic::ReadReceipts,
            types::MESSAGE_READ_RECEIPT_CREATED,
            &receipt,
            Exclude::Nobody,
        );
    }
    Ok(())
}

/// `reactToMessage`.
pub async fn react(call: &Call<'_>, mid: i64, req: Reaction) -> ApiResult<()> {
    let state = call.state;
    let (m, channel) = access::readable_message(call, mid).await?;
    access::member_channel(call, channel.id).await?;
    if m.deleted_ms.is_some() {
        return Err(ApiError::validation(format!("Message {mid} was deleted.")));
    }
    let emoji = emoji_of(&req)?;
    let (added, row) = state
        .store
        .add_reaction(mid, call.user.id, emoji.character)
        .await?;
    if !added {
        return Err(ApiError::validation(format!(
            "You already reacted with {} to this message.",
            emoji.character
        )));
    }
    let reaction = state.render_reaction(&row, call.user);
    call.reply(
        UserTopic::Reactions,
        types::USER_REACTION_CREATED,
        &reaction,
    );
    state.publish_to_channel(
        channel.id,
        ChannelTopic::Reactions,
        types::MESSAGE_REACTION_CREATED,
        &reaction,
        Exclude::Nobody,
    );
    Ok(())
}

/// `removeReaction`.
pub async fn remove_reaction(call: &Call<'_>, mid: i64, req: Reaction) -> ApiResult<()> {
    let state = call.state;
    let (_, channel) = access::readable_message(call, mid).await?;
    let emoji = emoji_of(&req)?;
    let row = state
        .store
        .remove_reaction(mid, call.user.id, emoji.character)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Your {} reaction", emoji.character)))?;
    let reaction = state.render_reaction(&row, call.user);
    call.reply(
        UserTopic::Reactions,
        types::USER_REACTION_REMOVED,
        &reaction,
    );
    state.publish_to_channel(
        channel.id,
        ChannelTopic::Reactions,
        types::MESSAGE_REACTION_REMOVED,
        &reaction,
        Exclude::Nobody,
    );
    Ok(())
}

fn emoji_of(req: &Reaction) -> ApiResult<&'static super::emoji::Emoji> {
    let name = req
        .emoji
        .as_deref()
        .ok_or_else(|| ApiError::validation("`emoji` is required."))?;
    super::emoji::lookup(name).ok_or_else(|| {
        ApiError::validation(format!(
            "Unknown emoji {name:?}: use an alias such as +1, heart or smiley, or the emoji itself."
        ))
    })
}

/// `sendKeystrokes` in a thread (the main thread: the channel): the draft to the other
/// participants, and typing started/stopped (docs/protocol.md §13.5).
pub async fn keystrokes(call: &Call<'_>, key: ThreadKey, req: Keystrokes) -> ApiResult<()> {
    let state = call.state;
    let cid = match key {
        ThreadKey::Main(c) => c,
        other => threads::readable(call, &other.to_id()).await?.1.id,
    };
    access::member_channel(call, cid).await?;
    let keys = req.keys.unwrap_or_default();
    let ks = res::Keystrokes {
        username: call.user.name.clone(),
        keys: keys.clone(),
        relays: KeystrokesRelays {
            thread: (!matches!(key, ThreadKey::Main(_)))
                .then(|| Relay::Thread(key.to_id()).to_destination()),
            user: chatkitty_protocol::destination::user_relay(call.user.id as u64),
        },
    };
    let mut excluded = state.store.blockers_of(call.user.id).await?;
    excluded.push(call.user.id);
    let dest = match key {
        ThreadKey::Main(_) => Topic::Channel(cid as u64, ChannelTopic::Keystrokes).to_destination(),
        other => other.topic(ThreadTopic::Keystrokes),
    };
    state.publish(
        &dest,
        &crate::state::event_json(types::THREAD_KEYSTROKES_CREATED, &ks),
        Exclude::Users(&excluded),
    );
    let change = state.typing.keystrokes(
        &key.to_id(),
        cid,
        call.user.id,
        keys.is_empty(),
        std::time::Instant::now(),
    );
    match change {
        TypingChange::Started => delivery::typing(state, key, cid, call.user, true).await?,
        TypingChange::Stopped => delivery::typing(state, key, cid, call.user, false).await?,
        TypingChange::None => {}
    }
    Ok(())
}

/// `readThread`: remembers the newest message of the thread as read (the main thread:
/// the channel's read position moves too).
pub async fn read_thread(call: &Call<'_>, id: &str) -> ApiResult<()> {
    let state = call.state;
    let (view, channel) = threads::readable(call, id).await?;
    let q = crate::store::MessageQuery {
        channel_id: channel.id,
        viewer: call.user.id,
        cleared_before_id: 0,
        scope: threads::scope(view.key),
    };
    if let Some(newest) = state.store.newest_in(&q).await? {
        state
            .store
            .read_thread(&view.key.to_id(), call.user.id, newest)
            .await?;
        if let ThreadKey::Main(c) = view.key {
            channels::read_messages(call, c, Some(newest)).await?;
        }
    }
    Ok(())
}
