//! Files (docs/protocol.md §10): the session's grants, uploads of message files and
//! display pictures (the driver performs the HTTP request, [`Upload`]), and the read
//! grant appended to the file URLs of the messages delivered to the app.

use std::collections::VecDeque;

use super::payload::Payload;
use super::types::{Config, Id, Post};

/// An HTTP upload the driver must perform (docs/protocol.md §10.2): `POST url` with header
/// `Grant: grant` and a multipart body of part `file` plus the JSON-encoded `fields`.
/// Report its outcome with `Client::handle_upload`.
#[derive(Debug, Clone)]
pub struct Upload<P> {
    /// The call.
    pub id: Id,
    /// `http(s)://{host}{stream}` (or the stream itself when it is a full URL).
    pub url: String,
    /// The write grant.
    pub grant: String,
    /// The `File`/`Blob`, or a `{uri: 'data:…', name}` object to turn into one.
    pub file: P,
    /// Extra parts: `groupTag`, `properties`, each JSON-encoded (10.2).
    pub fields: Vec<(&'static str, String)>,
    /// The request's `progressListener`, if any (docs/api.md §2.6).
    pub listener: Option<P>,
}

/// How `sendMessage` / `updateCurrentUserDisplayPicture` treat their `file`
/// (docs/api.md §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// `{url, name, size, …}`: sent by reference in an action.
    External,
    /// A DOM `File`/`Blob`, or a `{uri: 'data:…', name}` object: uploaded.
    Upload,
    /// A `{uri}` that is not a `data:` URI.
    BadUri,
}

/// What `file` is (docs/protocol.md §16.18: told apart by the keys it has).
pub(crate) fn file_kind<P: Payload>(file: &P) -> FileKind {
    if file.get("url").is_some() && file.get("name").is_some() && file.get("size").is_some() {
        FileKind::External
    } else if let Some(uri) = file.get("uri") {
        match uri.as_string() {
            Some(u) if u.starts_with("data:") => FileKind::Upload,
            _ => FileKind::BadUri,
        }
    } else {
        FileKind::Upload
    }
}

/// The grants and the uploads: queued for the driver, or under way.
#[derive(Debug)]
pub(crate) struct Uploads<P> {
    /// The write grant (10.1), once the start-up fetched it.
    pub(crate) write_grant: Option<String>,
    /// The read grant (10.1), once the start-up fetched it.
    pub(crate) read_grant: Option<String>,
    queue: VecDeque<Upload<P>>,
    /// Uploads handed to the driver, with what their result goes through.
    under_way: Vec<(Id, Post)>,
}

impl<P: Payload> Uploads<P> {
    pub(crate) fn new() -> Uploads<P> {
        Uploads {
            write_grant: None,
            read_grant: None,
            queue: VecDeque::new(),
            under_way: Vec::new(),
        }
    }

    /// Queues `upload` (its grant is the session's write grant); its result goes
    /// through `post`.
    pub(crate) fn start(&mut self, mut upload: Upload<P>, post: Post) {
        upload.grant = self.write_grant.clone().unwrap_or_default();
        self.under_way.push((upload.id, post));
        self.queue.push_back(upload);
    }

    /// The next upload for the driver.
    pub(crate) fn poll(&mut self) -> Option<Upload<P>> {
        self.queue.pop_front()
    }

    /// Upload `id` finished: what its result goes through, if it was ours.
    pub(crate) fn finish(&mut self, id: Id) -> Option<Post> {
        let i = self.under_way.iter().position(|u| u.0 == id)?;
        Some(self.under_way.remove(i).1)
    }

    /// Appends the read grant to `message.file.url` (docs/protocol.md §10.3), with `?` or `&`
    /// as the URL needs, once (the same object may be delivered to several handlers).
    pub(crate) fn map_file(&self, message: &mut P) {
        let Some(grant) = self.read_grant.as_deref().filter(|g| !g.is_empty()) else {
            return;
        };
        let Some(url) = message.get_str(&["file", "url"]) else {
            return;
        };
        let mapped = with_grant(&url, grant);
        if mapped != url {
            message.set_str(&["file", "url"], &mapped);
        }
    }
}

/// Where an upload to `stream` goes: `http(s)://{host}{stream}`, or the stream itself
/// when it is a full URL (docs/protocol.md §10.2).
pub(crate) fn url(config: &Config, stream: &str) -> String {
    let mut url = String::new();
    if !stream.starts_with("http:") && !stream.starts_with("https:") {
        url.push_str(if config.secure { "https://" } else { "http://" });
        url.push_str(&config.host);
        if !stream.starts_with('/') {
            url.push('/');
        }
    }
    url.push_str(stream);
    url
}

/// `url` with `grant=<grant>` appended (`?` or `&`), unless it already carries it.
pub fn with_grant(url: &str, grant: &str) -> String {
    let mut param = String::from("grant=");
    param.push_str(grant);
    let query = url
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or(""));
    if query.is_some_and(|q| q.split('&').any(|kv| kv == param)) {
        return url.to_owned();
    }
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let mut out = String::from(base);
    out.push(if query.is_some() { '&' } else { '?' });
    out.push_str(&param);
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}
