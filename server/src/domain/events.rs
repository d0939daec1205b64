//! What the domain does when the bus reports something from another node
//! ([`crate::realtime::bus::BusEvents`]): typing that stopped there, and the users and
//! chat sessions of a node that died.

use std::sync::Weak;

use chatkitty_protocol::destination::ChannelTopic;
use chatkitty_protocol::event::types;
use chatkitty_protocol::thread::ThreadKey;
use futures_util::future::BoxFuture;

use super::{delivery, presence};
use crate::realtime::bus::BusEvents;
use crate::realtime::hub::Exclude;
use crate::state::Shared;

/// The domain's [`BusEvents`], wired into the bus at start-up. It holds the state
/// weakly: the state owns the bus.
pub struct DomainEvents(pub Weak<Shared>);

impl BusEvents for DomainEvents {
    fn typing_stopped(&self, thread: String, user: i64) -> BoxFuture<'static, ()> {
        let state = self.0.clone();
        Box::pin(async move {
            let Some(state) = state.upgrade() else { return };
            if !state.typing.stop(&thread, user) {
                return;
            }
            let Some(key) = ThreadKey::parse(&thread) else {
                return;
            };
            let found = async {
                let user = state.store.user_by_id(user).await?;
                let cid = delivery::thread_channel(&state, key).await?;
                Ok::<_, crate::error::ApiError>(user.zip(cid))
            };
            match found.await {
                Ok(Some((user, cid))) => {
                    delivery::typing_or_log(&state, key, cid, &user, false).await
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = ?e, "typing stopped on another node"),
            }
        })
    }

    fn node_died(&self, left: Vec<(i64, i64)>, offline: Vec<i64>) -> BoxFuture<'static, ()> {
        let state = self.0.clone();
        Box::pin(async move {
            let Some(state) = state.upgrade() else { return };
            for (cid, uid) in left {
                match state.store.user_by_id(uid).await {
                    Ok(Some(user)) => {
                        let rendered = state.render_user(&user);
                        state.publish_to_channel(
                            cid,
                            ChannelTopic::Participants,
                            types::CHANNEL_PARTICIPANT_INACTIVE,
                            &rendered,
                            Exclude::User(user.id),
                        );
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "loading a dead node's participant"),
                }
            }
            for uid in offline {
                match state.store.user_by_id(uid).await {
                    Ok(Some(user)) => presence::announce_or_log(&state, &user).await,
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "loading a dead node's user"),
                }
            }
        })
    }
}
