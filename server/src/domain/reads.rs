//! What relays answer (docs/protocol.md §3.1, §6, §9): one read, one resource JSON.
//! Each read authorises the actor against the resource before reading it; lists are
//! byte-bounded pages ([`super::pages`]).

use chatkitty_protocol::destination::{Action, Relay};
use chatkitty_protocol::resource::{Count, Exists, Grant, Page, PageMeta, PageRelays};
use chatkitty_protocol::thread::ThreadKey;
use serde_json::Value;

use super::mentions::Viewer;
use super::pages::{fit, json, numbered_page, page_size, paginate, Params, Window};
use super::threads::{self, ThreadView};
use super::{access, Call};
use crate::auth::keys::{Claims, Scope};
use crate::error::{ApiError, ApiResult};
use crate::store::{
    ChannelRow, ChannelScope, MessageCursor, MessageQuery, MessageScope, Shown, UserFilter, UserRow,
};

/// Answers a relay: the resource JSON.
pub async fn answer(call: &Call<'_>, relay: Relay, params: &Params) -> ApiResult<String> {
    match relay {
        Relay::CurrentUser => current_user(call).await,
        Relay::ReadGrant => grant(call, Scope::Read),
        Relay::WriteGrant => grant(call, Scope::Write),
        Relay::User(id) => json(
            &call
                .state
                .render_user(&access::app_user(call, id as i64).await?),
        ),
        Relay::UserChannelMember(id) => channel_member(call, id as i64, params).await,
        Relay::MyContacts | Relay::MyContactsCount => contacts(call, &relay, params).await,
        Relay::MyBlockListItems => block_list(call, &relay, params).await,
        Relay::MySearchMessages => super::search::relay_page(call, &relay, params).await,
        Relay::MyChannelsCount | Relay::MyUnreadChannelsCount => {
            channels_count(call, &relay, params).await
        }
        Relay::MyUnreadMessagesCount => json(&Count {
            count: call.state.store.unread_total(call.user.id).await? as u64,
        }),
        Relay::MyChannels | Relay::MyJoinableChannels | Relay::MyUnreadChannels => {
            my_channels(call, &relay, params).await
        }
        Relay::Channel(id) => {
            let channel = access::readable_channel(call, id as i64).await?;
            json(&call.state.render_channel(&channel, call.user.id).await?)
        }
        Relay::ChannelMessages(id) => {
            let main_only = params.flag("mainThread") == Some(true);
            messages_page(
                call,
                id as i64,
                MessageScope::Channel { main_only },
                &relay,
                params,
            )
            .await
        }
        Relay::ChannelMessagesCount(id) => channel_messages_count(call, id as i64, params).await,
        Relay::ChannelUnread(id) => {
            let channel = access::member_channel(call, id as i64).await?;
            let exists = call
                .state
                .store
                .unread_count(channel.id, call.user.id)
                .await?
                > 0;
            json(&Exists { exists })
        }
        Relay::ChannelLastReceivedMessage(id) => last_received(call, id as i64).await,
        Relay::ChannelLastReadMessage(id) => last_read(call, id as i64, params).await,
        Relay::ChannelMembers(id) => members(call, id as i64, &relay, params).await,
        Relay::ChannelThreads(id) => channel_threads(call, id as i64, params).await,
        Relay::ChannelCalls(_) => Err(ApiError::unsupported("Calls")),
        Relay::Message(_)
        | Relay::MessageChannel(_)
        | Relay::MessageRepliesCount(_)
        | Relay::MessageReplies(_)
        | Relay::MessageReadReceipts(_)
        | Relay::MessageReactions(_) => message_relay(call, relay, params).await,
        Relay::Thread(ref id) => {
            let (view, _) = threads::readable(call, id).await?;
            json(&call.state.render_thread(&view))
        }
        Relay::ThreadChannel(ref id) => {
            let (_, channel) = threads::readable(call, id).await?;
            json(&call.state.render_channel(&channel, call.user.id).await?)
        }
        Relay::ThreadMessage(ref id) => {
            let (view, _) = threads::readable(call, id).await?;
            match view.key {
                ThreadKey::Message(mid) => one_message(call, mid).await,
                _ => Err(ApiError::not_found(format!("A message for thread {id}"))),
            }
        }
    }
}

async fn current_user(call: &Call<'_>) -> ApiResult<String> {
    let user = call
        .state
        .store
        .user(call.app_id, call.user.id)
        .await?
        .unwrap_or_else(|| call.user.clone());
    json(&call.state.render_current_user(&user))
}

fn grant(call: &Call<'_>, scope: Scope) -> ApiResult<String> {
    let claims = Claims {
        app_id: call.app_id,
        user_id: call.user.id,
    };
    let generation = call.user.session_generation;
    let grant = call
        .state
        .keys
        .issue_grant(scope, claims, generation, crate::clock::now_ms());
    json(&Grant { grant })
}

async fn channel_member(call: &Call<'_>, user: i64, params: &Params) -> ApiResult<String> {
    let user = access::app_user(call, user).await?;
    let cid = params
        .int("channelId")
        .ok_or_else(|| ApiError::validation("The channelId parameter is required."))?;
    let channel = access::readable_channel(call, cid).await?;
    let exists = call
        .state
        .store
        .membership(channel.id, user.id)
        .await?
        .is_some();
    json(&Exists { exists })
}

async fn contacts(call: &Call<'_>, relay: &Relay, params: &Params) -> ApiResult<String> {
    let state = call.state;
    let filter = UserFilter {
        name: params.get("name"),
        display_name: params.get("displayName"),
    };
    // Presence is in memory: the connected users are listed, and the database keeps
    // those shown online (or offline: invisible users are); a page is read in SQL
    // either way (README, "Limits").
    let online = params.flag("online");
    let connected = match online {
        Some(_) => state.users_shown_online(),
        None => Vec::new(),
    };
    let shown = match online {
        None => Shown::Any,
        Some(true) => Shown::Online(&connected),
        Some(false) => Shown::Offline(&connected),
    };
    if *relay == Relay::MyContactsCount {
        let (_, total) = state
            .store
            .users_page(call.app_id, Some(call.user.id), &filter, shown, 0, 0)
            .await?;
        return json(&Count {
            count: total as u64,
        });
    }
    let window = Window::of(params)?;
    let (users, total) = state
        .store
        .users_page(
            call.app_id,
            Some(call.user.id),
            &filter,
            shown,
            window.start,
            window.size,
        )
        .await?;
    let rendered: Vec<_> = users.iter().map(|u| state.render_user(u)).collect();
    numbered_page(
        relay,
        &window,
        "users",
        &rendered,
        total,
        state.config.max_page_bytes,
    )
}

async fn block_list(call: &Call<'_>, relay: &Relay, params: &Params) -> ApiResult<String> {
    let state = call.state;
    let window = Window::of(params)?;
    let (rows, total) = state
        .store
        .block_list(call.user.id, window.start, window.size)
        .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|b| {
            serde_json::json!({
                "user": state.render_user(&b.blocked),
                "createdTime": crate::clock::time_iso(b.created_ms),
                "_actions": { "delete": Action::DeleteBlockListItem(b.blocked.id as u64).to_destination() },
            })
        })
        .collect();
    numbered_page(
        relay,
        &window,
        "items",
        &items,
        total,
        state.config.max_page_bytes,
    )
}

async fn channels_count(call: &Call<'_>, relay: &Relay, params: &Params) -> ApiResult<String> {
    let store = &call.state.store;
    let kind = params
        .get("type")
        .filter(|t| matches!(*t, "DIRECT" | "PUBLIC" | "PRIVATE"));
    let unread = *relay == Relay::MyUnreadChannelsCount || params.flag("unread") == Some(true);
    let count = if unread {
        store.unread_channels_count(call.user.id, kind).await?
    } else {
        store.member_channels_count(call.user.id, kind).await?
    };
    json(&Count {
        count: count as u64,
    })
}

async fn my_channels(call: &Call<'_>, relay: &Relay, params: &Params) -> ApiResult<String> {
    let state = call.state;
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
            call.app_id,
            call.user.id,
            scope,
            params.get("name"),
            window.start,
            window.size,
        )
        .await?;
    let mut items = Vec::with_capacity(rows.len());
    for c in &rows {
        items.push(state.render_channel(c, call.user.id).await?);
    }
    numbered_page(
        relay,
        &window,
        "channels",
        &items,
        total,
        state.config.max_page_bytes,
    )
}

async fn channel_messages_count(call: &Call<'_>, cid: i64, params: &Params) -> ApiResult<String> {
    let store = &call.state.store;
    let (channel, q) =
        readable_messages(call, cid, MessageScope::Channel { main_only: false }).await?;
    let count = if params.flag("unread") == Some(true) {
        store.unread_count(channel.id, call.user.id).await?
    } else {
        store.count_messages(&q).await?
    };
    json(&Count {
        count: count as u64,
    })
}

async fn last_received(call: &Call<'_>, cid: i64) -> ApiResult<String> {
    let (_, q) = readable_messages(call, cid, MessageScope::Channel { main_only: true }).await?;
    let (rows, _) = call
        .state
        .store
        .messages_page(&q, MessageCursor::Newest, 1)
        .await?;
    match rows.first() {
        Some(m) => json(
            &call
                .state
                .render_one_message(call.app_id, m, Viewer::User(call.user.id))
                .await?,
        ),
        None => Ok("null".to_owned()),
    }
}

async fn last_read(call: &Call<'_>, cid: i64, params: &Params) -> ApiResult<String> {
    let state = call.state;
    let channel = access::readable_channel(call, cid).await?;
    let reader = match params.get("username") {
        Some(name) => state
            .store
            .user_by_name(call.app_id, name)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("User {name:?}")))?,
        None => call.user.clone(),
    };
    match state.store.last_read_message(channel.id, reader.id).await? {
        Some(m) => json(
            &state
                .render_one_message(call.app_id, &m, Viewer::User(call.user.id))
                .await?,
        ),
        None => Ok("null".to_owned()),
    }
}

async fn members(call: &Call<'_>, cid: i64, relay: &Relay, params: &Params) -> ApiResult<String> {
    let state = call.state;
    let channel = access::readable_channel(call, cid).await?;
    let mut members = state.store.members(channel.id).await?;
    if let Some(f) = params.get("displayName").map(str::to_lowercase) {
        members.retain(|u| u.display_name.to_lowercase().contains(&f));
    }
    paginate(
        relay,
        params,
        "users",
        &members,
        state.config.max_page_bytes,
        |u| state.render_user(u),
    )
}

/// `getThreads`: the main thread (unless `includeMainThread:false` or
/// `standalone:true`), standalone threads, and reply threads (unless
/// `standalone:true`), as a page of `threads`.
async fn channel_threads(call: &Call<'_>, cid: i64, params: &Params) -> ApiResult<String> {
    let state = call.state;
    let channel = access::readable_channel(call, cid).await?;
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
    let relay = Relay::ChannelThreads(cid as u64);
    paginate(
        &relay,
        params,
        "threads",
        &views,
        state.config.max_page_bytes,
        |v| state.render_thread(v),
    )
}

async fn one_message(call: &Call<'_>, mid: i64) -> ApiResult<String> {
    let (m, _) = access::readable_message(call, mid).await?;
    json(
        &call
            .state
            .render_one_message(call.app_id, &m, Viewer::User(call.user.id))
            .await?,
    )
}

/// The relays of one message.
async fn message_relay(call: &Call<'_>, relay: Relay, params: &Params) -> ApiResult<String> {
    let state = call.state;
    let budget = state.config.max_page_bytes;
    let id = match relay {
        Relay::Message(id)
        | Relay::MessageChannel(id)
        | Relay::MessageRepliesCount(id)
        | Relay::MessageReplies(id)
        | Relay::MessageReadReceipts(id)
        | Relay::MessageReactions(id) => id as i64,
        _ => return Err(ApiError::internal()),
    };
    let (m, channel) = access::readable_message(call, id).await?;
    match relay {
        Relay::MessageChannel(_) => json(&state.render_channel(&channel, call.user.id).await?),
        Relay::MessageRepliesCount(_) => json(&Count {
            count: state.store.replies_count(m.id).await? as u64,
        }),
        Relay::MessageReplies(_) => {
            messages_page(
                call,
                m.channel_id,
                MessageScope::Replies(m.id),
                &relay,
                params,
            )
            .await
        }
        Relay::MessageReadReceipts(_) => {
            let readers = state.store.readers(m.channel_id, m.id, m.user_id).await?;
            let ids: Vec<i64> = readers.iter().map(|(u, _)| *u).collect();
            let users = by_id(state.store.users_by_ids(call.app_id, &ids).await?);
            let receipts: Vec<Value> = readers
                .iter()
                .filter_map(|(u, at)| Some(state.render_receipt(m.id, users.get(u)?, *at)))
                .collect();
            paginate(&relay, params, "receipts", &receipts, budget, Value::clone)
        }
        Relay::MessageReactions(_) => {
            let rows = state.store.reactions_of(&[m.id]).await?;
            let ids: Vec<i64> = rows.iter().map(|r| r.user_id).collect();
            let users = by_id(state.store.users_by_ids(call.app_id, &ids).await?);
            let reactions: Vec<Value> = rows
                .iter()
                .filter_map(|r| Some(state.render_reaction(r, users.get(&r.user_id)?)))
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
        _ => json(
            &state
                .render_one_message(call.app_id, &m, Viewer::User(call.user.id))
                .await?,
        ),
    }
}

/// A channel the actor may read and their listing of a scope of its messages (after
/// what they cleared), checked and read in one query.
pub async fn readable_messages(
    call: &Call<'_>,
    cid: i64,
    scope: MessageScope,
) -> ApiResult<(ChannelRow, MessageQuery)> {
    let (channel, cleared) = access::readable_history(call, cid).await?;
    let q = MessageQuery {
        channel_id: channel.id,
        viewer: call.user.id,
        cleared_before_id: cleared,
        scope,
    };
    Ok((channel, q))
}

/// A page of messages, newest first; `next` goes to older messages, `prev` back to
/// newer ones, both as id cursors in the link (docs/protocol.md §9.2, §9.3). A page
/// larger than the byte budget keeps the messages nearest its cursor, and its link
/// goes on from the last one kept.
async fn messages_page(
    call: &Call<'_>,
    cid: i64,
    scope: MessageScope,
    base: &Relay,
    params: &Params,
) -> ApiResult<String> {
    let state = call.state;
    let (_, q) = readable_messages(call, cid, scope).await?;
    let size = page_size(params)?;
    let cursor = match (params.int("before"), params.int("after")) {
        (Some(b), _) => MessageCursor::Before(b),
        (None, Some(a)) => MessageCursor::After(a),
        (None, None) => MessageCursor::Newest,
    };
    let page = state.store.messages_page_counted(&q, cursor, size).await?;
    let (mut rows, mut more) = (page.rows, page.more);
    let mut items = state
        .render_messages(call.app_id, &rows, Viewer::User(call.user.id))
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
    let (newest, oldest) = (rows.first().map(|m| m.id), rows.last().map(|m| m.id));
    // Whether messages lie past the page's far end was read with the page; past its
    // near end (back towards the cursor) are those behind the cursor, read with it too
    // (the page keeps the messages nearest its cursor, so its near end stays).
    let beyond_near_end = page.behind_cursor && !rows.is_empty();
    let total = page.total;
    let (has_older, has_newer) = match cursor {
        MessageCursor::After(_) => (beyond_near_end, more),
        MessageCursor::Before(_) => (more, beyond_near_end),
        MessageCursor::Newest => (more, false),
    };
    let relays = cursor_links(
        newest.filter(|_| has_newer),
        oldest.filter(|_| has_older),
        base,
        size,
    );
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

/// The links of a page of messages: `prev` to those newer than `newer_than`, `next` to
/// those older than `older_than` (`None`: there are none that way).
fn cursor_links(
    newer_than: Option<i64>,
    older_than: Option<i64>,
    base: &Relay,
    size: i64,
) -> PageRelays {
    let size_s = size.to_string();
    let link = |key: &str, id: i64| base.with_query(&[(key, &id.to_string()), ("size", &size_s)]);
    PageRelays {
        first: Some(base.with_query(&[("size", &size_s)])),
        prev: newer_than.map(|n| link("after", n)),
        self_: None,
        next: older_than.map(|o| link("before", o)),
        last: None,
    }
}

/// Users by id: a list of readers or reactions finds each one's user in constant time
/// (a search through the list for each was quadratic in a large channel).
fn by_id(users: Vec<UserRow>) -> std::collections::HashMap<i64, UserRow> {
    users.into_iter().map(|u| (u.id, u)).collect()
}
