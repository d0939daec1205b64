//! Threads (docs/protocol.md §6.5, §12.4): a channel's main thread, a message's reply
//! thread and standalone threads made with `createThread` (ids: [`ThreadKey`]).

use chatkitty_protocol::destination::UserTopic;
use chatkitty_protocol::event::types;
use chatkitty_protocol::request::CreateThread;
use chatkitty_protocol::thread::ThreadKey;

use super::{access, Call};
use crate::error::{ApiError, ApiResult};
use crate::store::{ChannelRow, MessageScope};

/// Longest thread name.
pub const MAX_THREAD_NAME: usize = crate::limits::MAX_THREAD_NAME_CHARS;

pub use super::render::ThreadView;

/// The messages a thread holds.
pub fn scope(key: ThreadKey) -> MessageScope {
    match key {
        ThreadKey::Main(_) => MessageScope::Channel { main_only: true },
        ThreadKey::Standalone(t) => MessageScope::Thread(t),
        ThreadKey::Message(m) => MessageScope::Replies(m),
    }
}

/// A thread the actor may read (its channel is readable), with its channel.
pub async fn readable(call: &Call<'_>, id: &str) -> ApiResult<(ThreadView, ChannelRow)> {
    let key = ThreadKey::parse(id).ok_or_else(|| ApiError::not_found(format!("Thread {id}")))?;
    let store = &call.state.store;
    let (channel_id, name, properties, created_ms) = match key {
        ThreadKey::Main(c) => {
            let ch = access::readable_channel(call, c).await?;
            let view = ThreadView {
                key,
                channel_id: c,
                name: None,
                properties: "{}".into(),
                created_ms: ch.created_ms,
            };
            return Ok((view, ch));
        }
        ThreadKey::Standalone(t) => {
            let t = store
                .thread(t)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("Thread {id}")))?;
            (t.channel_id, Some(t.name), t.properties, t.created_ms)
        }
        ThreadKey::Message(m) => {
            let m = store
                .message(m)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("Thread {id}")))?;
            (m.channel_id, None, "{}".to_owned(), m.created_ms)
        }
    };
    let ch = access::readable_channel(call, channel_id).await?;
    let view = ThreadView {
        key,
        channel_id,
        name,
        properties,
        created_ms,
    };
    Ok((view, ch))
}

/// `createThread`: a standalone thread in a channel the actor belongs to.
pub async fn create(call: &Call<'_>, cid: i64, req: CreateThread) -> ApiResult<()> {
    let state = call.state;
    let channel = access::member_channel(call, cid).await?;
    let name = req.name.as_deref().map(str::trim).unwrap_or("");
    if name.is_empty() || name.chars().count() > MAX_THREAD_NAME {
        return Err(ApiError::validation(format!(
            "A thread needs a `name` of 1 to {MAX_THREAD_NAME} characters."
        )));
    }
    let props =
        crate::limits::properties(req.properties.as_ref(), state.config.max_properties_bytes)?;
    let t = state
        .store
        .create_thread(channel.id, name, &props, call.user.id)
        .await?;
    let view = ThreadView {
        key: ThreadKey::Standalone(t.id),
        channel_id: channel.id,
        name: Some(t.name),
        properties: t.properties,
        created_ms: t.created_ms,
    };
    call.reply(
        UserTopic::Threads,
        types::USER_THREAD_CREATED,
        &state.render_thread(&view),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_ids_are_valid_destination_segments() {
        for k in [
            ThreadKey::Main(7),
            ThreadKey::Standalone(3),
            ThreadKey::Message(99),
        ] {
            assert!(chatkitty_protocol::destination::is_valid_thread_id(
                &k.to_id()
            ));
        }
    }
}
