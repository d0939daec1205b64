//! Files over HTTP (docs/protocol.md §10): multipart uploads to the `_streams` paths,
//! authorised by the write grant in a `Grant` header, stored on local disk under the
//! files directory; downloads authorised by the read grant in `?grant=`.
//!
//! Uploaded bytes are streamed to disk while counted, so a file over the size limit is
//! refused (413) without being held in memory; an upload that fails for any reason
//! leaves nothing on disk. Downloads are served with `nosniff` and a sandboxing CSP,
//! inline only for an allow-list of raster images, audio and video (by the content
//! type's essence, lower-cased) and otherwise as `application/octet-stream`
//! attachments, so no uploaded file (HTML, SVG, XML…) can run script on the app's
//! origin. A file message's file stops being served (410) once the message is
//! deleted.
//!
//! Messages store a file's path, not a URL: links are made from the configured base
//! URL when the message is rendered (`Shared::link`).

use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chatkitty_protocol::destination::{percent_encode, UserTopic};
use chatkitty_protocol::error::names;
use chatkitty_protocol::event::types;
use chatkitty_protocol::resource::ChannelType;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::auth::keys::{Claims, Scope};
use crate::domain::post::{self, Announcement, Where};
use crate::domain::{Call, NoAnswer};
use crate::error::{ApiError, HttpError, HttpResult};
use crate::state::AppState;
use crate::store::{now_ms, UserRow};

/// The file routes.
pub fn routes(state: &AppState) -> Router<AppState> {
    let limit = state.config.max_upload_bytes.saturating_add(256 * 1024) as usize;
    Router::new()
        .route("/files/v1/channels/{cid}/messages", post(upload_to_channel))
        .route("/files/v1/messages/{mid}/replies", post(upload_reply))
        .route("/files/v1/threads/{tid}/messages", post(upload_to_thread))
        .route(
            "/files/v1/user/display_picture",
            post(upload_display_picture),
        )
        .route("/files/v1/hosted/{token}/{name}", get(download))
        .layer(DefaultBodyLimit::max(limit))
}

/// The uploader, from the write grant.
async fn uploader(state: &AppState, headers: &HeaderMap) -> HttpResult<UserRow> {
    let grant = headers
        .get("grant")
        .and_then(|g| g.to_str().ok())
        .unwrap_or("");
    let refused = || {
        ApiError::new(
            names::ACCESS_DENIED,
            "A valid write grant is required in the Grant header.",
        )
    };
    let (claims, generation) = state
        .keys
        .verify_grant(Scope::Write, grant.trim(), now_ms())
        .ok_or_else(refused)?;
    let user = state
        .store
        .user(claims.app_id, claims.user_id)
        .await?
        .ok_or_else(|| ApiError::new(names::ACCESS_DENIED, "The grant's user no longer exists."))?;
    // Revoking the user's sessions ends their grants too.
    if user.session_generation != generation {
        return Err(refused().into());
    }
    Ok(user)
}

/// An uploaded file's bytes on disk, removed when dropped unless [`Stored::keep`] was
/// called: every way an upload can fail (a bad part, a second file, a database error)
/// drops it. (Removing is a quick `unlink`, done in place even on the async thread.)
struct Stored {
    path: PathBuf,
    keep: bool,
}

impl Stored {
    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Stored {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A received upload: the stored file and the JSON parts.
struct Upload {
    stored: Stored,
    token: String,
    name: String,
    content_type: String,
    size: i64,
    group_tag: Option<String>,
    properties: String,
}

/// Largest text part (`groupTag`, `properties`) of an upload.
const MAX_TEXT_PART: usize = 64 * 1024;

fn new_token() -> String {
    let mut bytes = [0u8; 18];
    let _ = getrandom::fill(&mut bytes);
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
}

/// A text part, read up to [`MAX_TEXT_PART`] bytes.
async fn text_part(field: &mut axum::extract::multipart::Field<'_>) -> HttpResult<String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| {
        HttpError(
            StatusCode::BAD_REQUEST,
            ApiError::validation(format!("Malformed multipart body: {e}.")),
        )
    })? {
        if bytes.len() + chunk.len() > MAX_TEXT_PART {
            return Err(HttpError(
                StatusCode::PAYLOAD_TOO_LARGE,
                ApiError::new(
                    names::PAYLOAD_TOO_LARGE,
                    format!("Text parts of an upload are at most {MAX_TEXT_PART} bytes."),
                ),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| {
        HttpError(
            StatusCode::BAD_REQUEST,
            ApiError::validation("Text parts must be UTF-8."),
        )
    })
}

/// Reads the multipart body: streams part `file` to disk (counting bytes against the
/// limit) and JSON-parses the other parts (docs/protocol.md §10.2: text parts are JSON),
/// within the limits of any message's `groupTag` and `properties`.
async fn receive(state: &AppState, mut form: Multipart) -> HttpResult<Upload> {
    let dir = &state.config.files_dir;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| internal("creating the files directory", e))?;
    let mut upload: Option<Upload> = None;
    let mut group_tag = None;
    let mut properties = "{}".to_owned();
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| bad(format!("Malformed multipart body: {e}.")))?
    {
        match field.name().unwrap_or("") {
            "file" if upload.is_some() => {
                return Err(bad("An upload carries one `file` part.".into()));
            }
            "file" => upload = Some(file_part(state, &mut field).await?),
            "groupTag" => {
                let text = text_part(&mut field).await?;
                let tag = match serde_json::from_str::<Value>(&text) {
                    Ok(Value::String(s)) => s,
                    _ => text,
                };
                crate::limits::bounded("groupTag", Some(&tag), crate::limits::MAX_GROUP_TAG_CHARS)?;
                group_tag = Some(tag);
            }
            "properties" => {
                let text = text_part(&mut field).await?;
                properties = match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(m)) => {
                        crate::limits::properties(Some(&m), state.config.max_properties_bytes)?
                    }
                    _ => return Err(bad("The `properties` part must be a JSON object.".into())),
                };
            }
            _ => {}
        }
    }
    let mut upload = upload.ok_or_else(|| bad("The multipart body needs a `file` part.".into()))?;
    upload.group_tag = group_tag;
    upload.properties = properties;
    Ok(upload)
}

/// A `ValidationError` answered 400.
fn bad(message: String) -> HttpError {
    HttpError(StatusCode::BAD_REQUEST, ApiError::validation(message))
}

/// A name or content type from a multipart header: no control characters, at most 200
/// characters.
fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// Streams the `file` part to a new file in the files directory, refusing it past
/// `--max-upload-bytes`.
async fn file_part(
    state: &AppState,
    field: &mut axum::extract::multipart::Field<'_>,
) -> HttpResult<Upload> {
    let max = state.config.max_upload_bytes;
    let token = new_token();
    let name = clean(field.file_name().unwrap_or("file"));
    let name = if name.trim().is_empty() {
        "file".to_owned()
    } else {
        name
    };
    let content_type = clean(field.content_type().unwrap_or("application/octet-stream"));
    let path = state.config.files_dir.join(&token);
    let mut out = tokio::fs::File::create(&path)
        .await
        .map_err(|e| internal("creating a file", e))?;
    let stored = Stored { path, keep: false };
    let mut size: u64 = 0;
    loop {
        let chunk = match field.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large(max)),
            Err(e) => return Err(bad(format!("The upload was interrupted: {e}."))),
        };
        size += chunk.len() as u64;
        if size > max {
            return Err(too_large(max));
        }
        out.write_all(&chunk)
            .await
            .map_err(|e| internal("writing a file", e))?;
    }
    out.flush()
        .await
        .map_err(|e| internal("writing a file", e))?;
    Ok(Upload {
        stored,
        token,
        name,
        content_type,
        size: size as i64,
        group_tag: None,
        properties: String::new(),
    })
}

fn too_large(max: u64) -> HttpError {
    HttpError(
        StatusCode::PAYLOAD_TOO_LARGE,
        ApiError::new(
            names::PAYLOAD_TOO_LARGE,
            format!("Files are at most {max} bytes."),
        ),
    )
}

fn internal(what: &str, e: std::io::Error) -> HttpError {
    tracing::error!(error = %e, "{what}");
    HttpError(StatusCode::INTERNAL_SERVER_ERROR, ApiError::internal())
}

/// The path of a hosted file: stored as is, made a link when rendered.
fn file_path(token: &str, name: &str) -> String {
    format!("/files/v1/hosted/{token}/{}", percent_encode(name))
}

/// Content types served inline: raster images, audio and video, which browsers only
/// ever render as media. Anything else (SVG, HTML, XML, PDF, …) is an attachment.
const INLINE_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/bmp",
    "audio/mpeg",
    "audio/ogg",
    "audio/wav",
    "audio/webm",
    "audio/mp4",
    "audio/aac",
    "audio/flac",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "video/quicktime",
];

/// The allow-listed type a content type is, judged by its essence (parameters
/// dropped, case ignored); `None` for everything else.
fn inline_type(content_type: &str) -> Option<&'static str> {
    let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
    INLINE_TYPES.iter().find(|t| **t == essence).copied()
}

/// Stores a FILE message for an upload and announces it like any new message,
/// through the one message pipeline (`crate::domain::post`): where it goes is
/// authorised before the upload is read.
async fn file_message(
    state: &AppState,
    user: &UserRow,
    to: Where<'_>,
    form: Multipart,
) -> HttpResult<Response> {
    let answer = NoAnswer;
    let call = Call::new(state, user.app_id, user, &answer);
    let dest = post::destination(&call, to).await?;
    post::admit(state, &dest, user.id).await?;
    let up = receive(state, form).await?;
    let Upload {
        stored,
        token,
        name,
        content_type,
        size,
        group_tag,
        properties,
    } = up;
    let file = serde_json::json!({
        "type": "HOSTED",
        "url": file_path(&token, &name),
        "name": name,
        "contentType": content_type,
        "size": size,
    })
    .to_string();
    let content = post::hosted_file(file, properties, group_tag);
    // Refused by the before-send hook: nothing stored (`stored` removes the file).
    let content = post::screen(state, user.app_id, Some(user), &dest, content, Some(&call)).await?;
    state
        .store
        .insert_file(
            user.app_id,
            user.id,
            Some(dest.channel.id),
            &token,
            &name,
            &content_type,
            size,
            false,
        )
        .await?;
    let (row, new) =
        post::store_one(state, &content.new_message(Some(user.id), &dest, None)).await?;
    state.store.attach_file(&token, row.id).await?;
    stored.keep();
    let announcement = Announcement {
        app_id: user.app_id,
        sender: Some(user),
        dest: &dest,
        content,
        row,
        new,
        idempotency_key: None,
    };
    let message = post::announce(state, announcement, |_| {}).await?;
    Ok(Json(message).into_response())
}

async fn upload_to_channel(
    State(state): State<AppState>,
    Path(cid): Path<i64>,
    headers: HeaderMap,
    form: Multipart,
) -> HttpResult<Response> {
    let user = uploader(&state, &headers).await?;
    file_message(&state, &user, Where::Channel(cid), form).await
}

async fn upload_reply(
    State(state): State<AppState>,
    Path(mid): Path<i64>,
    headers: HeaderMap,
    form: Multipart,
) -> HttpResult<Response> {
    let user = uploader(&state, &headers).await?;
    file_message(&state, &user, Where::Reply(mid), form).await
}

async fn upload_to_thread(
    State(state): State<AppState>,
    Path(tid): Path<String>,
    headers: HeaderMap,
    form: Multipart,
) -> HttpResult<Response> {
    let user = uploader(&state, &headers).await?;
    file_message(&state, &user, Where::Thread(&tid), form).await
}

async fn upload_display_picture(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Multipart,
) -> HttpResult<Response> {
    let user = uploader(&state, &headers).await?;
    let up = receive(&state, form).await?;
    if !inline_type(&up.content_type).is_some_and(|t| t.starts_with("image/")) {
        return Err(ApiError::validation(
            "A display picture must be a PNG, JPEG, GIF, WebP, AVIF or BMP image.",
        )
        .into());
    }
    state
        .store
        .insert_file(
            user.app_id,
            user.id,
            None,
            &up.token,
            &up.name,
            &up.content_type,
            up.size,
            true,
        )
        .await?;
    let path = file_path(&up.token, &up.name);
    state
        .store
        .update_user(user.id, None, None, None, Some(&path))
        .await?;
    up.stored.keep();
    let user = state
        .store
        .user(user.app_id, user.id)
        .await?
        .ok_or_else(ApiError::internal)?;
    let public = state.render_user(&user);
    for c in state.store.contact_ids(user.id).await? {
        state.publish_to_user(c, UserTopic::Contacts, types::CONTACT_USER_UPDATED, &public);
    }
    let me = state.render_current_user(&user);
    state.publish_to_user(user.id, UserTopic::Self_, types::USER_SELF_UPDATED, &me);
    Ok(Json(me).into_response())
}

#[derive(serde::Deserialize)]
struct GrantQuery {
    grant: Option<String>,
}

/// `GET /files/v1/hosted/{token}/{name}?grant=…`.
async fn download(
    State(state): State<AppState>,
    Path((token, _name)): Path<(String, String)>,
    Query(q): Query<GrantQuery>,
) -> HttpResult<Response> {
    let file = state
        .store
        .file_by_token(&token)
        .await?
        .ok_or_else(|| ApiError::not_found("The file"))?;
    if !file.public {
        may_download(&state, &file, q.grant.as_deref()).await?;
    }
    let on_disk = state.config.files_dir.join(&file.token);
    if let Some(mid) = file.message_id {
        let deleted = !matches!(
            state.store.message(mid).await?,
            Some(m) if m.deleted_ms.is_none()
        );
        if deleted {
            // Removed with its message; should that have failed, its bytes go now. The
            // row stays, so the answer stays 410.
            let _ = tokio::fs::remove_file(&on_disk).await;
            return Err(HttpError(
                StatusCode::GONE,
                ApiError::not_found("The file's message was deleted; the file"),
            ));
        }
    }
    let f = tokio::fs::File::open(on_disk)
        .await
        .map_err(|_| ApiError::not_found("The file's content"))?;
    Ok(file_response(&file, f))
}

/// A file that is not public needs a read grant of its application whose user may read
/// its channel (or, a display picture, is its owner).
async fn may_download(
    state: &AppState,
    file: &crate::store::FileRow,
    grant: Option<&str>,
) -> HttpResult<()> {
    let refused = || {
        ApiError::new(
            names::ACCESS_DENIED,
            "A valid read grant is required (?grant=).",
        )
    };
    let (claims, generation): (Claims, i64) = grant
        .and_then(|g| state.keys.verify_grant(Scope::Read, g, now_ms()))
        .filter(|(c, _)| c.app_id == file.app_id)
        .ok_or_else(refused)?;
    // Revoking the user's sessions ends their grants too.
    let current = state.store.user(claims.app_id, claims.user_id).await?;
    if current.is_none_or(|u| u.session_generation != generation) {
        return Err(refused().into());
    }
    let allowed = match file.channel_id {
        Some(cid) => {
            let channel = state.store.channel(file.app_id, cid).await?;
            channel.is_some_and(|c| c.kind == ChannelType::Public)
                || state.store.membership(cid, claims.user_id).await?.is_some()
        }
        None => file.owner_id == Some(claims.user_id),
    };
    if !allowed {
        return Err(ApiError::forbidden("You cannot see this file.").into());
    }
    Ok(())
}

/// A stored file's bytes: inline only for the allow-listed types, else an
/// `application/octet-stream` attachment; never sniffed, never run.
fn file_response(file: &crate::store::FileRow, f: tokio::fs::File) -> Response {
    let inline = inline_type(&file.content_type);
    let disposition = format!(
        "{}; filename*=UTF-8''{}",
        if inline.is_some() {
            "inline"
        } else {
            "attachment"
        },
        percent_encode(&file.name)
    );
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(f));
    (
        [
            (
                header::CONTENT_TYPE,
                inline.unwrap_or("application/octet-stream").to_owned(),
            ),
            (header::CONTENT_LENGTH, file.size.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'".to_owned(),
            ),
            (header::CACHE_CONTROL, "private, max-age=86400".to_owned()),
        ],
        body,
    )
        .into_response()
}
