//! Relays: one SUBSCRIBE, one answer (docs/protocol.md §3.1, 6, 9). Each handler authorises
//! the user against the resource before reading it, and returns the resource JSON.

use chatkitty_protocol::destination::Relay;
use chatkitty_protocol::resource::{Count, Exists, Grant, Page, PageMeta, PageRelays};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::auth::keys::{Claims, Scope};
use crate::domain::mentions::Viewer;
use crate::domain::threads::ThreadKey;
use crate::error::{ApiError, ApiResult};
use crate::stomp::session::{Params, Session};
use crate::store::{now_ms, ChannelScope, MessageCursor, MessageQuery, MessageScope, UserFilter};

/// Default page size (docs/protocol.md §9.2).
pub const DEFAULT_PAGE_SIZE: i64 = 25;
/// Largest page size.
pub const MAX_PAGE_SIZE: i64 = 100;
/// Largest page number: with [`MAX_PAGE_SIZE`], page arithmetic (offsets, the next and
/// last links) stays far from overflowing whatever a client asks for.
pub const MAX_PAGE_NUMBER: i64 = 10_000_000;

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
            Ok(n) if (0..=MAX_PAGE_NUMBER).contains(&n) => Ok(n),
            _ => Err(ApiError::validation(format!(
                "Page number must be an integer from 0 to {MAX_PAGE_NUMBER}, got {s:?}."
            ))),
        },
    }
}

/// The slice of a list a numbered-page request asks for (docs/protocol.md §9.2): `page` and
/// `size`, or `offset` and `size` where the page before was cut short by the byte
/// budget (README, "Limits": `--max-page-bytes`; such links are ours, the clients only
/// follow them).
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Index of the first item.
    pub start: i64,
    /// Items asked for.
    pub size: i64,
    continued: bool,
}

impl Window {
    /// The window a relay's parameters ask for.
    pub fn of(params: &Params) -> ApiResult<Window> {
        let size = page_size(params)?;
        let page = page_number(params)?;
        let max = MAX_PAGE_NUMBER * MAX_PAGE_SIZE;
        let (start, continued) = match params.get("offset") {
            None => (page * size, false),
            Some(o) => match o.parse::<i64>() {
                Ok(n) if (0..=max).contains(&n) => (n, true),
                _ => {
                    return Err(ApiError::validation(format!(
                        "Offset must be an integer from 0 to {max}, got {o:?}."
                    )))
                }
            },
        };
        Ok(Window {
            start,
            size,
            continued,
        })
    }

    /// Navigation and metadata of the page holding `kept` items from `start`, of
    /// `total`.
    fn relays(&self, base: &Relay, kept: i64, total: i64) -> (PageRelays, PageMeta) {
        let (start, size) = (self.start, self.size);
        let pages = if total == 0 {
            0
        } else {
            (total + size - 1) / size
        };
        let page = start / size;
        let numbered =
            |n: i64| base.with_query(&[("page", &n.to_string()), ("size", &size.to_string())]);
        let at =
            |o: i64| base.with_query(&[("offset", &o.to_string()), ("size", &size.to_string())]);
        let aligned =
            !self.continued && start % size == 0 && (kept == size || start + kept >= total);
        let relays = if aligned {
            PageRelays {
                first: Some(numbered(0)),
                prev: (page > 0).then(|| numbered(page - 1)),
                self_: Some(numbered(page)),
                next: (page + 1 < pages).then(|| numbered(page + 1)),
                last: Some(numbered(pages.max(1) - 1)),
            }
        } else {
            PageRelays {
                first: Some(numbered(0)),
                prev: (start > 0).then(|| at((start - size).max(0))),
                self_: Some(at(start)),
                next: (start + kept < total).then(|| at(start + kept)),
                last: Some(numbered(pages.max(1) - 1)),
            }
        };
        let meta = PageMeta {
            size: size as u64,
            total_elements: total as u64,
            total_pages: pages as u64,
            number: page as u64,
        };
        (relays, meta)
    }
}

/// Serialises items in order while they fit in `budget` bytes (at least one, so a
/// page always moves forward).
pub fn fit<T: Serialize>(items: &[T], budget: usize) -> ApiResult<Vec<Box<RawValue>>> {
    let mut out = Vec::with_capacity(items.len());
    let mut used = 0usize;
    for item in items {
        let text = json(item)?;
        used = used.saturating_add(text.len() + 1);
        if used > budget && !out.is_empty() {
            break;
        }
        out.push(RawValue::from_string(text).map_err(|_| ApiError::internal())?);
    }
    Ok(out)
}

/// A numbered page of `content_name`: `rendered` are the items of `window` (at most
/// its size), cut to the byte budget; `total` counts the whole list.
pub fn numbered_page<T: Serialize>(
    base: &Relay,
    window: &Window,
    content_name: &'static str,
    rendered: &[T],
    total: i64,
    budget: usize,
) -> ApiResult<String> {
    let items = fit(rendered, budget)?;
    let (relays, page) = window.relays(base, items.len() as i64, total);
    json(&Page {
        content_name,
        items,
        page,
        relays,
    })
}

/// A numbered page of an in-memory list, each item rendered by `render`.
pub fn paginate<T, R: Serialize>(
    base: &Relay,
    params: &Params,
    content_name: &'static str,
    all: &[T],
    budget: usize,
    render: impl Fn(&T) -> R,
) -> ApiResult<String> {
    let window = Window::of(params)?;
    let total = all.len() as i64;
    let rendered: Vec<R> = all
        .iter()
        .skip(usize::try_from(window.start).unwrap_or(usize::MAX))
        .take(window.size as usize)
        .map(render)
        .collect();
    numbered_page(base, &window, content_name, &rendered, total, budget)
}

impl Session {
    /// Answers a relay.
    pub async fn relay(&self, relay: Relay, params: &Params) -> ApiResult<String> {
        let state = &self.state;
        let budget = state.config.max_page_bytes;
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
                paginate(&relay, params, "users", &users, budget, |u| {
                    state.render_user(u)
                })
            }
            Relay::MyBlockListItems => {
                let window = Window::of(params)?;
                let (rows, total) = state
                    .store
                    .block_list(self.user.id, window.start, window.size)
                    .await?;
                let items: Vec<_> = rows
                    .iter()
                    .map(|b| {
                        serde_json::json!({
                            "user": state.render_user(&b.blocked),
                            "createdTime": crate::clock::time_iso(b.created_ms),
                            "_actions": { "delete": chatkitty_protocol::destination::Action::DeleteBlockListItem(b.blocked.id as u64).to_destination() },
                        })
                    })
                    .collect();
                numbered_page(&relay, &window, "items", &items, total, budget)
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
                let window = Window::of(params)?;
                let (rows, total) = state
                    .store
                    .channels_page(
                        self.app_id,
                        self.user.id,
                        scope,
                        params.get("name"),
                        window.start,
                        window.size,
                    )
                    .await?;
                let mut items = Vec::with_capacity(rows.len());
                for c in &rows {
                    items.push(state.render_channel(c, self.user.id).await?);
                }
                numbered_page(&relay, &window, "channels", &items, total, budget)
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
                    Some(m) => json(
                        &state
                            .render_one_message(self.app_id, m, Viewer::User(self.user.id))
                            .await?,
                    ),
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
                    Some(m) => json(
                        &state
                            .render_one_message(self.app_id, &m, Viewer::User(self.user.id))
                            .await?,
                    ),
                    None => Ok("null".to_owned()),
                }
            }
            Relay::ChannelMembers(id) => {
                let channel = self.readable_channel(id as i64).await?;
                let mut members = state.store.members(channel.id).await?;
                if let Some(f) = params.get("displayName").map(str::to_lowercase) {
                    members.retain(|u| u.display_name.to_lowercase().contains(&f));
                }
                paginate(&relay, params, "users", &members, budget, |u| {
                    state.render_user(u)
                })
            }
            Relay::ChannelThreads(id) => self.threads_page(id as i64, params).await,
            Relay::ChannelCalls(_) => Err(ApiError::unsupported("Calls")),
            Relay::Message(id) => {
                let (m, _) = self.readable_message(id as i64).await?;
                json(
                    &state
                        .render_one_message(self.app_id, &m, Viewer::User(self.user.id))
                        .await?,
                )
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
                paginate(&relay, params, "receipts", &receipts, budget, Value::clone)
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
                paginate(
                    &relay,
                    params,
                    "reactions",
                    &reactions,
                    budget,
                    Value::clone,
                )
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
                        json(
                            &state
                                .render_one_message(self.app_id, &m, Viewer::User(self.user.id))
                                .await?,
                        )
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
    /// newer ones, both as id cursors in the link (docs/protocol.md §9.2, 9.3). A page larger
    /// than the byte budget keeps the messages nearest its cursor, and its link goes on
    /// from the last one kept.
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
        let (mut rows, mut more) = state.store.messages_page(&q, cursor, size).await?;
        let mut items = state
            .render_messages(self.app_id, &rows, Viewer::User(self.user.id))
            .await?;
        // Newest first; an `after` page continues towards newer messages, at its front.
        let towards_newer = matches!(cursor, MessageCursor::After(_));
        if towards_newer {
            items.reverse();
        }
        let mut kept = fit(&items, state.config.max_page_bytes)?;
        if kept.len() < rows.len() {
            more = true;
            if towards_newer {
                rows.drain(..rows.len() - kept.len());
            } else {
                rows.truncate(kept.len());
            }
        }
        if towards_newer {
            kept.reverse();
        }
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
        let meta = PageMeta {
            size: size as u64,
            total_elements: total as u64,
            total_pages: ((total + size - 1) / size) as u64,
            number: 0,
        };
        json(&Page {
            content_name: "messages",
            items: kept,
            page: meta,
            relays,
        })
    }
}
