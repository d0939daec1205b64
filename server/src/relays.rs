//! Relays: one SUBSCRIBE, one answer (PROTOCOL.md 3.1, 6, 9). Each handler authorises
//! the user against the resource before reading it, and returns the resource JSON.

use chatkitty_protocol::destination::Relay;
use chatkitty_protocol::resource::{Grant, Page, PageMeta, PageRelays};
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::keys::{Claims, Scope};
use crate::session::{Params, Session};
use crate::store::{now_ms, ChannelScope, MessageCursor};

/// Default page size (PROTOCOL.md 9.2).
pub const DEFAULT_PAGE_SIZE: i64 = 25;
/// Largest page size.
pub const MAX_PAGE_SIZE: i64 = 100;

fn json<T: Serialize>(v: &T) -> ApiResult<String> {
    serde_json::to_string(v).map_err(|e| {
        tracing::error!(error = %e, "serialising a resource");
        ApiError::internal()
    })
}

fn page_size(params: &Params) -> ApiResult<i64> {
    match params.get("size") {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 1 => Ok(n.min(MAX_PAGE_SIZE)),
            _ => Err(ApiError::validation(format!(
                "Page size must be a positive integer, got {s:?}."
            ))),
        },
    }
}

/// Numbered pages: `?page=N&size=S` in the `next`/`prev` links.
fn numbered_relays(base: &Relay, page: i64, size: i64, total: i64) -> (PageRelays, PageMeta) {
    let pages = if total == 0 {
        0
    } else {
        (total + size - 1) / size
    };
    let link = |n: i64| base.with_query(&[("page", &n.to_string()), ("size", &size.to_string())]);
    let relays = PageRelays {
        first: Some(link(0)),
        prev: (page > 0).then(|| link(page - 1)),
        self_: Some(link(page)),
        next: (page + 1 < pages).then(|| link(page + 1)),
        last: Some(link(pages.max(1) - 1)),
    };
    let meta = PageMeta {
        size: size as u64,
        total_elements: total as u64,
        total_pages: pages as u64,
        number: page as u64,
    };
    (relays, meta)
}

impl Session {
    /// Answers a relay.
    pub async fn relay(&self, relay: Relay, params: &Params) -> ApiResult<String> {
        let state = &self.state;
        match relay {
            Relay::CurrentUser => {
                let user = state
                    .store
                    .user(self.app_id, self.user.id)
                    .await?
                    .unwrap_or_else(|| self.user.clone());
                json(&state.render_current_user(&user))
            }
            Relay::ReadGrant | Relay::WriteGrant => {
                let scope = if relay == Relay::ReadGrant {
                    Scope::Read
                } else {
                    Scope::Write
                };
                let grant = state.keys.issue(
                    scope,
                    Claims {
                        app_id: self.app_id,
                        user_id: self.user.id,
                    },
                    now_ms(),
                );
                json(&Grant { grant })
            }
            Relay::User(id) => {
                let user = state
                    .store
                    .user(self.app_id, id as i64)
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("User {id}")))?;
                json(&state.render_user(&user))
            }
            Relay::Channel(id) => {
                let channel = self.readable_channel(id as i64).await?;
                json(&state.render_channel(&channel, self.user.id).await?)
            }
            Relay::MyChannels | Relay::MyJoinableChannels | Relay::MyUnreadChannels => {
                let scope = match relay {
                    Relay::MyJoinableChannels => ChannelScope::Joinable,
                    Relay::MyUnreadChannels => ChannelScope::Unread,
                    _ if params.flag("subscribable") == Some(true) => ChannelScope::Joined,
                    _ => ChannelScope::Visible,
                };
                let size = page_size(params)?;
                let page = params.int("page").unwrap_or(0).max(0);
                let (rows, total) = state
                    .store
                    .channels_page(
                        self.app_id,
                        self.user.id,
                        scope,
                        params.get("name"),
                        page * size,
                        size,
                    )
                    .await?;
                let mut items = Vec::with_capacity(rows.len());
                for c in &rows {
                    items.push(state.render_channel(c, self.user.id).await?);
                }
                let (relays, meta) = numbered_relays(&relay, page, size, total);
                json(&Page {
                    content_name: "channels",
                    items,
                    page: meta,
                    relays,
                })
            }
            Relay::ChannelMessages(id) => self.messages_page(id as i64, params).await,
            Relay::ChannelMembers(id) => {
                let channel = self.readable_channel(id as i64).await?;
                let mut members = state.store.members(channel.id).await?;
                if let Some(f) = params.get("displayName").map(str::to_lowercase) {
                    members.retain(|u| u.display_name.to_lowercase().contains(&f));
                }
                let size = page_size(params)?;
                let page = params.int("page").unwrap_or(0).max(0);
                let total = members.len() as i64;
                let items = members
                    .iter()
                    .skip((page * size) as usize)
                    .take(size as usize)
                    .map(|u| state.render_user(u))
                    .collect();
                let (relays, meta) = numbered_relays(&relay, page, size, total);
                json(&Page {
                    content_name: "users",
                    items,
                    page: meta,
                    relays,
                })
            }
            other => Err(ApiError::unsupported(&format!(
                "The relay {}",
                other.to_destination()
            ))),
        }
    }

    /// A page of a channel's messages, newest first; `next` goes to older messages,
    /// `prev` back to newer ones, both as id cursors in the link (PROTOCOL.md 9.2, 9.3).
    async fn messages_page(&self, cid: i64, params: &Params) -> ApiResult<String> {
        let state = &self.state;
        let channel = self.readable_channel(cid).await?;
        let cleared = state
            .store
            .membership(cid, self.user.id)
            .await?
            .map_or(0, |m| m.cleared_before_id);
        let main = params.flag("mainThread") == Some(true);
        let size = page_size(params)?;
        let cursor = match (params.int("before"), params.int("after")) {
            (Some(b), _) => MessageCursor::Before(b),
            (None, Some(a)) => MessageCursor::After(a),
            (None, None) => MessageCursor::Newest,
        };
        let (rows, more) = state
            .store
            .messages_page(channel.id, cleared, cursor, size, main)
            .await?;
        let exists = |c: MessageCursor| async move {
            state
                .store
                .messages_page(channel.id, cleared, c, 0, main)
                .await
                .map(|(_, more)| more)
        };
        let (newest, oldest) = (rows.first().map(|m| m.id), rows.last().map(|m| m.id));
        let has_older = match (cursor, oldest) {
            (MessageCursor::Newest | MessageCursor::Before(_), Some(_)) => more,
            (MessageCursor::After(_), Some(o)) => exists(MessageCursor::Before(o)).await?,
            (_, None) => false,
        };
        let has_newer = match (cursor, newest) {
            (MessageCursor::After(_), Some(_)) => more,
            (MessageCursor::Before(_), Some(n)) => exists(MessageCursor::After(n)).await?,
            _ => false,
        };
        let base = Relay::ChannelMessages(cid as u64);
        let size_s = size.to_string();
        let relays = PageRelays {
            first: Some(base.with_query(&[("size", &size_s)])),
            prev: if has_newer {
                newest.map(|n| base.with_query(&[("after", &n.to_string()), ("size", &size_s)]))
            } else {
                None
            },
            self_: None,
            next: if has_older {
                oldest.map(|o| base.with_query(&[("before", &o.to_string()), ("size", &size_s)]))
            } else {
                None
            },
            last: None,
        };
        let total = state
            .store
            .count_messages(channel.id, cleared, main)
            .await?;
        let items = state.render_messages(self.app_id, &rows).await?;
        let meta = PageMeta {
            size: size as u64,
            total_elements: total as u64,
            total_pages: ((total + size - 1) / size) as u64,
            number: 0,
        };
        json(&Page {
            content_name: "messages",
            items,
            page: meta,
            relays,
        })
    }
}
