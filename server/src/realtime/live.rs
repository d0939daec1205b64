//! This node's live sessions by user, so that revoking a user's sessions (Platform
//! API `POST /v1/applications/{app}/users/{id}/revoke-sessions`) also ends the
//! connections they have open, here and (through the cluster) on every other node.
//!
//! Entries hold weak references only: a connection that has ended is not kept alive
//! by being listed, and its entry is swept out later.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chatkitty_protocol::error::names;

use crate::realtime::hub::{ConnHandle, Outbound, WeakConn};

type Live = WeakConn;

/// See the module docs.
#[derive(Default)]
pub struct LiveSessions {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_user: HashMap<i64, Vec<Live>>,
    registered: usize,
}

impl std::fmt::Debug for LiveSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveSessions")
    }
}

/// What a connection whose sessions were revoked is told.
pub const REVOKED: &str = "Your sessions were revoked; sign in again.";

/// How long an ended connection's writer gets to send its ERROR frame before the
/// connection is cut.
const FAREWELL: Duration = Duration::from_secs(1);

impl LiveSessions {
    /// Lists a session that just started (weakly: its connection is not kept alive).
    pub fn register(&self, user: i64, conn: &ConnHandle) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Every so many registrations, ended sessions of other users are swept out.
        inner.registered += 1;
        if inner.registered >= 1024 {
            inner.registered = 0;
            inner.by_user.retain(|_, list| {
                list.retain(Live::alive);
                !list.is_empty()
            });
        }
        let list = inner.by_user.entry(user).or_default();
        list.retain(Live::alive);
        list.push(conn.downgrade());
    }

    /// Ends every session of `user` on this node: each is sent an `AccessDeniedError`
    /// ERROR frame with `message`, then closed (the reader too, so nothing it sends
    /// afterwards is handled). Returns how many there were.
    pub fn end_user(&self, user: i64, message: &str) -> usize {
        let list = {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.by_user.remove(&user).unwrap_or_default()
        };
        let mut ended = 0;
        for live in list {
            let Some(tx) = live.tx.upgrade() else {
                continue;
            };
            ended += 1;
            let frame = crate::realtime::hub::error_frame(names::ACCESS_DENIED, message);
            let told = tx.try_send(Outbound::Close(Some(frame))).is_ok();
            let kill = live.kill;
            tokio::spawn(async move {
                if told {
                    // The writer stops once it has sent the ERROR and closed.
                    let _ = tokio::time::timeout(FAREWELL, tx.closed()).await;
                }
                drop(tx);
                // The writer and the reader both stop (the token stays cancelled for
                // whichever is not waiting on it right now).
                kill.cancel();
            });
        }
        ended
    }
}
