//! Threads (docs/protocol.md §6.5, 12.4): a channel's main thread (`main-<channel>`), a
//! message's reply thread (`message-<message>`), and standalone threads made with
//! `createThread` (`standalone-<id>`). Thread ids are strings on the wire.

use chatkitty_protocol::destination::{ThreadTopic, Topic};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::stomp::session::{Params, Session};
use crate::store::{ChannelRow, MessageScope};

/// Which thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadKey {
    /// A channel's main thread.
    Main(i64),
    /// A standalone thread.
    Standalone(i64),
    /// The replies to a message.
    Message(i64),
}

impl ThreadKey {
    /// The wire id.
    pub fn to_id(self) -> String {
        match self {
            ThreadKey::Main(c) => format!("main-{c}"),
            ThreadKey::Standalone(t) => format!("standalone-{t}"),
            ThreadKey::Message(m) => format!("message-{m}"),
        }
    }

    /// Parses a wire id.
    pub fn parse(id: &str) -> Option<ThreadKey> {
        let (kind, n) = id.split_once('-')?;
        let n: i64 = n.parse().ok()?;
        match kind {
            "main" => Some(ThreadKey::Main(n)),
            "standalone" => Some(ThreadKey::Standalone(n)),
            "message" => Some(ThreadKey::Message(n)),
            _ => None,
        }
    }

    /// The `type` field.
    pub fn kind(self) -> &'static str {
        match self {
            ThreadKey::Main(_) => "MAIN",
            ThreadKey::Standalone(_) => "STANDALONE",
            ThreadKey::Message(_) => "MESSAGE",
        }
    }

    /// The messages a thread holds.
    pub fn scope(self) -> MessageScope {
        match self {
            ThreadKey::Main(_) => MessageScope::Channel { main_only: true },
            ThreadKey::Standalone(t) => MessageScope::Thread(t),
            ThreadKey::Message(m) => MessageScope::Replies(m),
        }
    }

    /// One of the thread's topics.
    pub fn topic(self, t: ThreadTopic) -> String {
        Topic::Thread(self.to_id(), t).to_destination()
    }
}

/// A thread with what rendering needs.
#[derive(Debug, Clone)]
pub struct ThreadView {
    /// Which thread.
    pub key: ThreadKey,
    /// Its channel.
    pub channel_id: i64,
    /// Name (standalone threads).
    pub name: Option<String>,
    /// JSON object text.
    pub properties: String,
    /// Creation time.
    pub created_ms: i64,
}

impl Session {
    /// Resolves a thread id the user may read, with its channel.
    pub async fn readable_thread(&self, id: &str) -> ApiResult<(ThreadView, ChannelRow)> {
        let key =
            ThreadKey::parse(id).ok_or_else(|| ApiError::not_found(format!("Thread {id}")))?;
        let store = &self.state.store;
        let (channel_id, name, properties, created_ms) = match key {
            ThreadKey::Main(c) => {
                let ch = self.readable_channel(c).await?;
                return Ok((
                    ThreadView {
                        key,
                        channel_id: c,
                        name: None,
                        properties: "{}".into(),
                        created_ms: ch.created_ms,
                    },
                    ch,
                ));
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
        let ch = self.readable_channel(channel_id).await?;
        Ok((
            ThreadView {
                key,
                channel_id,
                name,
                properties,
                created_ms,
            },
            ch,
        ))
    }

    /// `createThread`: a standalone thread in a channel the user belongs to.
    pub async fn create_thread(
        &mut self,
        cid: i64,
        body: &Value,
        receipt: Option<&str>,
    ) -> ApiResult<()> {
        let state = self.state.clone();
        let channel = self.member_channel(cid).await?;
        let name = body
            .get("name")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("");
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ApiError::validation(
                "A thread needs a `name` of 1 to 100 characters.",
            ));
        }
        let props = crate::limits::properties(body, self.state.config.max_properties_bytes)?;
        let t = state
            .store
            .create_thread(channel.id, name, &props, self.user.id)
            .await?;
        let view = ThreadView {
            key: ThreadKey::Standalone(t.id),
            channel_id: channel.id,
            name: Some(t.name),
            properties: t.properties,
            created_ms: t.created_ms,
        };
        let rendered = state.render_thread(&view);
        self.reply_event(
            chatkitty_protocol::destination::UserTopic::Threads,
            &crate::state::event_json(
                chatkitty_protocol::event::types::USER_THREAD_CREATED,
                &rendered,
            ),
            receipt,
        );
        Ok(())
    }

    /// `getThreads`: the main thread (unless `includeMainThread:false` or
    /// `standalone:true`), standalone threads, and reply threads (unless
    /// `standalone:true`), as a page of `threads`.
    pub async fn threads_page(&self, cid: i64, params: &Params) -> ApiResult<String> {
        let state = &self.state;
        let channel = self.readable_channel(cid).await?;
        let standalone_only = params.flag("standalone") == Some(true);
        let include_main = params.flag("includeMainThread") != Some(false) && !standalone_only;
        let mut views = Vec::new();
        if include_main {
            views.push(ThreadView {
                key: ThreadKey::Main(channel.id),
                channel_id: channel.id,
                name: None,
                properties: "{}".into(),
                created_ms: channel.created_ms,
            });
        }
        for t in state.store.threads_of(channel.id).await? {
            views.push(ThreadView {
                key: ThreadKey::Standalone(t.id),
                channel_id: channel.id,
                name: Some(t.name),
                properties: t.properties,
                created_ms: t.created_ms,
            });
        }
        if !standalone_only {
            for m in state.store.replied_messages(channel.id).await? {
                views.push(ThreadView {
                    key: ThreadKey::Message(m.id),
                    channel_id: channel.id,
                    name: None,
                    properties: "{}".into(),
                    created_ms: m.created_ms,
                });
            }
        }
        let relay = chatkitty_protocol::destination::Relay::ChannelThreads(cid as u64);
        crate::stomp::relays::paginate(
            &relay,
            params,
            "threads",
            &views,
            state.config.max_page_bytes,
            |v| state.render_thread(v),
        )
    }

    /// `readThread`: remembers the newest message of the thread as read.
    pub async fn read_thread(&mut self, id: &str) -> ApiResult<()> {
        let (view, channel) = self.readable_thread(id).await?;
        let q = crate::store::MessageQuery {
            channel_id: channel.id,
            viewer: self.user.id,
            cleared_before_id: 0,
            scope: view.key.scope(),
        };
        if let Some(newest) = self.state.store.newest_in(&q).await? {
            self.state
                .store
                .read_thread(&view.key.to_id(), self.user.id, newest)
                .await?;
            if let ThreadKey::Main(c) = view.key {
                self.read_messages(c, Some(newest)).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_ids_round_trip_and_are_valid_destination_segments() {
        for k in [
            ThreadKey::Main(7),
            ThreadKey::Standalone(3),
            ThreadKey::Message(99),
        ] {
            let id = k.to_id();
            assert!(chatkitty_protocol::destination::is_valid_thread_id(&id));
            assert_eq!(ThreadKey::parse(&id), Some(k));
        }
        assert_eq!(ThreadKey::parse("other-1"), None);
        assert_eq!(ThreadKey::parse("main-x"), None);
    }
}
