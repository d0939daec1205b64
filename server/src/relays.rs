//! Relays: one SUBSCRIBE, one answer (PROTOCOL.md 3.1, 6, 9). Each handler authorises
//! the user against the resource before reading it, and returns the resource JSON.

use chatkitty_protocol::destination::Relay;
use chatkitty_protocol::resource::{Count, Exists, Grant, Page, PageMeta, PageRelays};
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::keys::{Claims, Scope};
use crate::session::{Params, Session};
use crate::store::{now_ms, ChannelScope, MessageCursor, MessageQuery, MessageScope, UserFilter};
use crate::threads::ThreadKey;

/// Default page size (PROTOCOL.md 9.2).
pub const DEFAULT_PAGE_SIZE: i64 = 25;
/// Largest page size.
pub const MAX_PAGE_SIZE: i64 = 100;

/// Serialises a resource.
pub fn json<T: Serialize>(v: &T) -> ApiResult<String> {
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

fn page_number(params: &Params) -> ApiResult<i64> {
    match params.get("page") {
        None => Ok(0),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(n),
            _ => Err(ApiError::validation(format!(
                "Page number must be a non-negative integer, got {s:?}."
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

/// Pages an in-memory list with numbered pages.
pub fn paginate<T>(
    base: &Relay,
    params: &Params,
    all: Vec<T>,
) -> ApiResult<(Vec<T>, PageMeta, PageRelays)> {
    let size = page_size(params)?;
    let page = page_number(params)?;
    let total = all.len() as i64;
    let items: Vec<T> = all
        .into_iter()
        .skip((page * size) as usize)
        .take(size as usize)
        .collect();
    let (relays, meta) = numbered_relays(base, page, size, total);
    Ok((items, meta, relays))
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
            Relay::User(id) => json(&state.render_user(&self.app_user(id as i64).await?)),
            Relay::UserChannelMember(id) => {
                let user = self.app_user(id as i64).await?;
                let cid = params
                    .int("channelId")
                    .ok_or_else(|| ApiError::validation("The channelId parameter is required."))?;
                let channel = self.readable_channel(cid).await?;
                let exists = state.store.membership(channel.id, user.id).await?.is_some();
                json(&Exists { exists })
            }
            Relay::MyContacts | Relay::MyContactsCount => {
                let filter = UserFilter {
                    name: params.get("name"),
                    display_name: params.get("displayName"),
                };
                let mut users = state
                    .store
                    .users_matching(self.app_id, Some(self.user.id), &filter)
                    .await?;
                if let Some(online) = params.flag("online") {
                    users.retain(|u| state.render_user(u).presence.online == online);
                }
                if relay == Relay::MyContactsCount {
                    return json(&Count {
                        count: users.len() as u64,
                    });
                }
                let (items, page, relays) = paginate(&relay, params, users)?;
                let items: Vec<_> = items.iter().map(|u| state.render_user(u)).collect();
                json(&Page {
                    content_name: "users",
                    items,
                    page,
                    relays,
                })
            }
            Relay::MyBlockListItems => {
                let size = page_size(params)?;
                let page = page_number(params)?;
                let (rows, total) = state
                    .store
                    .block_list(self.user.id, page * size, size)
                    .await?;
                let items: Vec<_> = rows
                    .iter()
                    .map(|b| {
                        serde_json::json!({
                            "user": state.render_user(&b.blocked),
                            "createdTime": crate::time_iso(b.created_ms),
                            "_actions": { "delete": chatkitty_protocol::destination::Action::DeleteBlockListItem(b.blocked.id as u64).to_destination() },
                        })
                    })
                    .collect();
                let (relays, meta) = numbered_relays(&relay, page, size, total);
                json(&Page {
                    content_name: "items",
                    items,
                    page: meta,
                    relays,
                })
            }
            Relay::MyChannelsCount | Relay::MyUnreadChannelsCount => {
                let kind = params
                    .get("type")
                    .filter(|t| matches!(*t, "DIRECT" | "PUBLIC" | "PRIVATE"));
                let unread =
                    relay == Relay::MyUnreadChannelsCount || params.flag("unread") == Some(true);
                let count = if unread {
                    state
                        .store
                        .unread_channels_count(self.user.id, kind)
                        .await?
                } else {
                    state
                        .store
                        .member_channels_count(self.user.id, kind)
                        .await?
                };
                json(&Count {
                    count: count as u64,
                })
            }
            Relay::MyUnreadMessagesCount => json(&Count {
                count: state.store.unread_total(self.user.id).await? as u64,
            }),
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
                let page = page_number(params)?;
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
            Relay::ChannelMessages(id) => {
                let main = params.flag("mainThread") == Some(true);
                self.messages_page(
                    id as i64,
                    MessageScope::Channel { main_only: main },
                    &relay,
                    params,
                )
                .await
            }
            Relay::ChannelMessagesCount(id) => {
                let channel = self.readable_channel(id as i64).await?;
                let count = if params.flag("unread") == Some(true) {
                    state.store.unread_count(channel.id, self.user.id).await?
                } else {
                    let q = self
                        .message_query(channel.id, MessageScope::Channel { main_only: false })
                        .await?;
                    state.store.count_messages(&q).await?
                };
                json(&Count {
                    count: count as u64,
                })
            }
            Relay::ChannelUnread(id) => {
                let channel = self.member_channel(id as i64).await?;
                let exists = state.store.unread_count(channel.id, self.user.id).await? > 0;
                json(&Exists { exists })
            }
            Relay::ChannelLastReceivedMessage(id) => {
                let channel = self.readable_channel(id as i64).await?;
                let q = self
                    .message_query(channel.id, MessageScope::Channel { main_only: true })
                    .await?;
                let (rows, _) = state
                    .store
                    .messages_page(&q, MessageCursor::Newest, 1)
                    .await?;
                match rows.first() {
                    Some(m) => json(&state.render_one_message(self.app_id, m).await?),
                    None => Ok("null".to_owned()),
                }
            }
            Relay::ChannelLastReadMessage(id) => {
                let channel = self.readable_channel(id as i64).await?;
                let reader = match params.get("username") {
                    Some(name) => state
                        .store
                        .user_by_name(self.app_id, name)
                        .await?
                        .ok_or_else(|| ApiError::not_found(format!("User {name:?}")))?,
                    None => self.user.clone(),
                };
                match state.store.last_read_message(channel.id, reader.id).await? {
                    Some(m) => json(&state.render_one_message(self.app_id, &m).await?),
                    None => Ok("null".to_owned()),
                }
            }
            Relay::ChannelMembers(id) => {
                let channel = self.readable_channel(id as i64).await?;
                let mut members = state.store.members(channel.id).await?;
                if let Some(f) = params.get("displayName").map(str::to_lowercase) {
                    members.retain(|u| u.display_name.to_lowercase().contains(&f));
                }
                let (items, page, relays) = paginate(&relay, params, members)?;
                let items: Vec<_> = items.iter().map(|u| state.render_user(u)).collect();
                json(&Page {
                    content_name: "users",
                    items,
                    page,
                    relays,
                })
            }
            Relay::ChannelThreads(id) => self.threads_page(id as i64, params).await,
            Relay::ChannelCalls(_) => Err(ApiError::unsupported("Calls")),
            Relay::Message(id) => {
                let (m, _) = self.readable_message(id as i64).await?;
                json(&state.render_one_message(self.app_id, &m).await?)
            }
            Relay::MessageChannel(id) => {
                let (_, channel) = self.readable_message(id as i64).await?;
                json(&state.render_channel(&channel, self.user.id).await?)
            }
            Relay::MessageRepliesCount(id) => {
                let (m, _) = self.readable_message(id as i64).await?;
                json(&Count {
                    count: state.store.replies_count(m.id).await? as u64,
                })
            }
            Relay::MessageReplies(id) => {
                let (m, _) = self.readable_message(id as i64).await?;
                self.messages_page(m.channel_id, MessageScope::Replies(m.id), &relay, params)
                    .await
            }
            Relay::MessageReadReceipts(id) => {
                let (m, _) = self.readable_message(id as i64).await?;
                let readers = state.store.readers(m.channel_id, m.id, m.user_id).await?;
                let ids: Vec<i64> = readers.iter().map(|(u, _)| *u).collect();
                let users = state.store.users_by_ids(self.app_id, &ids).await?;
                let receipts: Vec<_> = readers
                    .iter()
                    .filter_map(|(u, at)| {
                        users
                            .iter()
                            .find(|x| x.id == *u)
                            .map(|user| state.render_receipt(m.id, user, *at))
                    })
                    .collect();
                let (items, page, relays) = paginate(&relay, params, receipts)?;
                json(&Page {
                    content_name: "receipts",
                    items,
                    page,
                    relays,
                })
            }
            Relay::MessageReactions(id) => {
                let (m, _) = self.readable_message(id as i64).await?;
                let rows = state.store.reactions_of(&[m.id]).await?;
                let ids: Vec<i64> = rows.iter().map(|r| r.user_id).collect();
                let users = state.store.users_by_ids(self.app_id, &ids).await?;
                let reactions: Vec<_> = rows
                    .iter()
                    .filter_map(|r| {
                        users
                            .iter()
                            .find(|u| u.id == r.user_id)
                            .map(|u| state.render_reaction(r, u))
                    })
                    .collect();
                let (items, page, relays) = paginate(&relay, params, reactions)?;
                json(&Page {
                    content_name: "reactions",
                    items,
                    page,
                    relays,
                })
            }
            Relay::Thread(ref id) => {
                let (view, _) = self.readable_thread(id).await?;
                json(&state.render_thread(&view))
            }
            Relay::ThreadChannel(ref id) => {
                let (_, channel) = self.readable_thread(id).await?;
                json(&state.render_channel(&channel, self.user.id).await?)
            }
            Relay::ThreadMessage(ref id) => {
                let (view, _) = self.readable_thread(id).await?;
                match view.key {
                    ThreadKey::Message(mid) => {
                        let (m, _) = self.readable_message(mid).await?;
                        json(&state.render_one_message(self.app_id, &m).await?)
                    }
                    _ => Err(ApiError::not_found(format!("A message for thread {id}"))),
                }
            }
        }
    }

    /// A user of this application.
    pub async fn app_user(&self, id: i64) -> ApiResult<crate::store::UserRow> {
        self.state
            .store
            .user(self.app_id, id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("User {id}")))
    }

    /// The viewer's listing of a scope of a channel's messages.
    pub async fn message_query(&self, cid: i64, scope: MessageScope) -> ApiResult<MessageQuery> {
        let cleared = self
            .state
            .store
            .membership(cid, self.user.id)
            .await?
            .map_or(0, |m| m.cleared_before_id);
        Ok(MessageQuery {
            channel_id: cid,
            viewer: self.user.id,
            cleared_before_id: cleared,
            scope,
        })
    }

    /// A page of messages, newest first; `next` goes to older messages, `prev` back to
    /// newer ones, both as id cursors in the link (PROTOCOL.md 9.2, 9.3).
    async fn messages_page(
        &self,
        cid: i64,
        scope: MessageScope,
        base: &Relay,
        params: &Params,
    ) -> ApiResult<String> {
        let state = &self.state;
        let channel = self.readable_channel(cid).await?;
        let q = self.message_query(channel.id, scope).await?;
        let size = page_size(params)?;
        let cursor = match (params.int("before"), params.int("after")) {
            (Some(b), _) => MessageCursor::Before(b),
            (None, Some(a)) => MessageCursor::After(a),
            (None, None) => MessageCursor::Newest,
        };
        let (rows, more) = state.store.messages_page(&q, cursor, size).await?;
        let exists = |c: MessageCursor| async move {
            state
                .store
                .messages_page(&q, c, 0)
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
        let total = state.store.count_messages(&q).await?;
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
