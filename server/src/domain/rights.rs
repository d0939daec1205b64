//! Data rights (Platform API, docs/protocol.md §15): everything stored about a user
//! exported as one JSON document, and a user deleted on request.
//!
//! The export is streamed: each section is read in batches of [`EXPORT_BATCH_ROWS`]
//! and written out before the next is read, through a queue of
//! [`EXPORT_QUEUE_CHUNKS`] chunks, so a user with a long history costs the server a
//! batch of memory, not their history; a reader that stops reading stops the export.
//!
//! Deleting a user empties their row (it stays, as "Deleted user" with a random
//! username, for what refers to it: their anonymised messages, mentions of them),
//! revokes their sessions on every node, removes their memberships and read positions,
//! reactions, thread reads, hidden marks, blocks either way and every file they
//! uploaded (rows and bytes), and then either deletes their messages for everyone (as
//! `deleteMessage` does, in batches of [`DELETE_BATCH_ROWS`]) or keeps them, attributed
//! to the emptied row. Others see the change when they next load; no event announces
//! each message.

use futures_util::stream::{self, Stream};
use serde_json::{json, Value};

use crate::clock::time_iso;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{MessageRow, MessagesOfDeletedUser, UserData, USER_DATA_SECTIONS};

/// Rows read per query of an export.
pub const EXPORT_BATCH_ROWS: i64 = 500;
/// Chunks of an export queued ahead of the reader.
pub const EXPORT_QUEUE_CHUNKS: usize = 4;
/// A deleted user's messages deleted per transaction.
pub const DELETE_BATCH_ROWS: i64 = 500;

/// What a deletion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deleted {
    /// Messages deleted for everyone.
    pub messages_deleted: u64,
    /// Files removed.
    pub files_removed: usize,
}

/// The export of user `user_id` of application `app_id` as a stream of JSON text
/// chunks (one document); `NotFoundError` for an unknown user. A failure part-way ends
/// the stream with an error, so the document is visibly cut short.
pub async fn export(
    state: AppState,
    app_id: i64,
    user_id: i64,
) -> ApiResult<impl Stream<Item = Result<String, std::io::Error>>> {
    let user = state
        .store
        .user(app_id, user_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("User {user_id}")))?;
    let (tx, rx) =
        tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(EXPORT_QUEUE_CHUNKS);
    tokio::spawn(async move {
        let head = json!({
            "exportedTime": time_iso(crate::clock::now_ms()),
            "applicationId": app_id,
            "user": {
                "id": user.id,
                "name": user.name,
                "displayName": user.display_name,
                "displayPictureUrl": user.display_picture_url,
                "isGuest": user.is_guest,
                "properties": parse_json(&user.properties),
                "presenceStatus": user.presence_status,
                "createdTime": time_iso(user.created_ms),
            },
        })
        .to_string();
        // The head without its closing brace; the sections follow.
        let mut chunk = head[..head.len() - 1].to_owned();
        for (section, name) in USER_DATA_SECTIONS.iter().enumerate() {
            chunk.push_str(&format!(",\"{name}\":["));
            let mut after = String::new();
            let mut first = true;
            loop {
                let batch = state
                    .store
                    .user_data(section, user_id, &after, EXPORT_BATCH_ROWS)
                    .await;
                let (rows, key) = match batch {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::error!(error = %e, "exporting a user's data");
                        let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                        return;
                    }
                };
                for row in &rows {
                    if !first {
                        chunk.push(',');
                    }
                    first = false;
                    chunk.push_str(&data_json(row).to_string());
                }
                if tx.send(Ok(std::mem::take(&mut chunk))).await.is_err() {
                    return; // the reader went away
                }
                match key {
                    Some(k) if rows.len() as i64 == EXPORT_BATCH_ROWS => after = k,
                    _ => break,
                }
            }
            chunk.push(']');
        }
        chunk.push('}');
        let _ = tx.send(Ok(chunk)).await;
    });
    Ok(stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|c| (c, rx))
    }))
}

fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn message_json(m: &MessageRow) -> Value {
    json!({
        "id": m.id,
        "channelId": m.channel_id,
        "type": m.kind.as_str(),
        "body": m.body,
        "file": m.file.as_deref().map(parse_json),
        "properties": parse_json(&m.properties),
        "groupTag": m.group_tag,
        "parentId": m.parent_id,
        "threadId": m.thread_id,
        "mentions": m.mentions.as_deref().map(parse_json),
        "links": m.links.as_deref().map(parse_json),
        "createdTime": time_iso(m.created_ms),
        "lastEditedTime": m.edited_ms.map(time_iso),
        "deletedTime": m.deleted_ms.map(time_iso),
    })
}

fn data_json(d: &UserData) -> Value {
    match d {
        UserData::Membership(m, kind, name, display_name, joined_ms) => json!({
            "channel": {
                "id": m.channel_id,
                "type": kind,
                "name": name,
                "displayName": display_name,
            },
            "role": m.role,
            "joinedTime": time_iso(*joined_ms),
            "lastReadMessageId": (m.last_read_message_id > 0).then_some(m.last_read_message_id),
            "lastReadTime": (m.last_read_ms > 0).then(|| time_iso(m.last_read_ms)),
            "clearedBeforeMessageId": (m.cleared_before_id > 0).then_some(m.cleared_before_id),
            "hidden": m.hidden,
            "muted": m.muted,
        }),
        UserData::Message(m) => message_json(m),
        UserData::Reaction(r) => json!({
            "messageId": r.message_id,
            "emoji": r.emoji,
            "createdTime": time_iso(r.created_ms),
        }),
        UserData::ThreadRead(key, mid) => json!({ "threadId": key, "lastReadMessageId": mid }),
        UserData::Hidden(mid) => json!({ "messageId": mid }),
        UserData::Block(id, name, at) => json!({
            "userId": id,
            "username": name,
            "createdTime": time_iso(*at),
        }),
        UserData::File(id, name, content_type, size, channel, message, public, at) => json!({
            "id": id,
            "name": name,
            "contentType": content_type,
            "size": size,
            "channelId": channel,
            "messageId": message,
            "public": public,
            "createdTime": time_iso(*at),
        }),
        UserData::ChannelCreated(id, name) => json!({ "id": id, "name": name }),
    }
}

/// Deletes user `user_id` of application `app_id` (see the module's documentation);
/// `NotFoundError` for an unknown or already deleted user.
pub async fn delete_user(
    state: &AppState,
    app_id: i64,
    user_id: i64,
    messages: MessagesOfDeletedUser,
) -> ApiResult<Deleted> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|_| ApiError::internal())?;
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let tombstone = format!("deleted-{user_id}-{suffix}");
    let tokens = state
        .store
        .delete_user_data(app_id, user_id, &tombstone)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("User {user_id}")))?;
    state.revoke_sessions(user_id);
    remove_files(state, &tokens).await;
    let mut messages_deleted = 0;
    if messages == MessagesOfDeletedUser::Delete {
        loop {
            let n = state
                .store
                .delete_messages_of(user_id, DELETE_BATCH_ROWS)
                .await?;
            if n == 0 {
                break;
            }
            messages_deleted += n;
        }
    }
    tracing::info!(user_id, messages_deleted, "user deleted");
    Ok(Deleted {
        messages_deleted,
        files_removed: tokens.len(),
    })
}

/// Removes uploads' bytes (their rows are gone).
pub async fn remove_files(state: &AppState, tokens: &[String]) {
    for token in tokens {
        if let Err(e) = tokio::fs::remove_file(state.config.files_dir.join(token)).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(error = %e, "removing a file");
            }
        }
    }
}
