//! Message search (docs/protocol.md §9.6): full text over the messages a user may
//! read, optionally within one channel, newest first, in byte-bounded pages, for the
//! `user/messages.search.relay` relay (SDK `searchMessages`) and the Platform API.
//!
//! A message is found when every word of the query occurs in its body (words are runs
//! of letters and digits; case-insensitive; no stemming, no prefixes). Never found:
//! messages deleted for everyone, messages the searcher deleted for themselves,
//! messages before their cleared history, messages of users they blocked (as in every
//! listing of theirs), and messages of channels they cannot read. Without a channel a
//! user searches the channels they are a member of; with one, any channel they may
//! read (a public channel too).
//!
//! What one search may cost is bounded by the limits below: the query's length and
//! words, the page size, the index entries examined per page (a page that ran out of
//! them may hold fewer results, even none, and its `next` link goes on), a statement
//! timeout on PostgreSQL, and searches running at once on a node.

use std::time::Duration;

use chatkitty_protocol::destination::Relay;
use chatkitty_protocol::error::names;
use chatkitty_protocol::resource::{Page, PageMeta, PageRelays};
use serde_json::Value;

use super::mentions::Viewer;
use super::pages::{fit, json, Params, DEFAULT_PAGE_SIZE};
use super::{access, Call};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{MessageRow, SearchQuery, SearchResult};

/// Longest query, in characters.
pub const MAX_SEARCH_QUERY_CHARS: usize = 256;
/// Most words in a query.
pub const MAX_SEARCH_TERMS: usize = 8;
/// Most results in one page.
pub const MAX_SEARCH_PAGE_SIZE: i64 = 50;
/// Index entries one page examines at most (newest first) before the reader's
/// filters: the bound on the work of one page whatever the query.
pub const SEARCH_CANDIDATES: i64 = 2000;
/// PostgreSQL statement timeout of one page's queries.
pub const SEARCH_TIMEOUT: Duration = Duration::from_secs(2);
pub use crate::state::MAX_CONCURRENT_SEARCHES;
/// How long a search waits for its turn before it is refused.
pub const SEARCH_QUEUE_WAIT: Duration = Duration::from_secs(2);

/// The words of a query: runs of letters and digits, at most [`MAX_SEARCH_TERMS`],
/// duplicates dropped. Case is left to the database, which folds the indexed text the
/// same way.
pub fn terms(query: &str) -> ApiResult<Vec<String>> {
    if query.chars().count() > MAX_SEARCH_QUERY_CHARS {
        return Err(crate::limits::too_large(format!(
            "A search query is at most {MAX_SEARCH_QUERY_CHARS} characters."
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for word in query.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() || out.iter().any(|w| w.to_lowercase() == word.to_lowercase()) {
            continue;
        }
        if out.len() == MAX_SEARCH_TERMS {
            return Err(ApiError::validation(format!(
                "A search query has at most {MAX_SEARCH_TERMS} words."
            )));
        }
        out.push(word.to_owned());
    }
    if out.is_empty() {
        return Err(ApiError::validation(
            "A search query needs at least one word (letters or digits).",
        ));
    }
    Ok(out)
}

/// One search request, whichever transport asked.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The query text.
    pub query: &'a str,
    /// Within this channel only.
    pub channel: Option<i64>,
    /// Messages older than this id only (the `next` link's cursor).
    pub before: Option<i64>,
    /// Results wanted (capped at [`MAX_SEARCH_PAGE_SIZE`]).
    pub size: i64,
}

/// A page of results: messages newest first, and the `before` of the next page.
pub struct Found {
    /// The messages.
    pub rows: Vec<MessageRow>,
    /// Where the next page starts, if anything may be left.
    pub next_before: Option<i64>,
}

/// Searches the messages `viewer` may read (`None`: the operator, every message of the
/// application). The caller has checked that `viewer` may read `req.channel`.
pub async fn search(
    state: &AppState,
    app_id: i64,
    viewer: Option<i64>,
    req: &Request<'_>,
) -> ApiResult<Found> {
    let terms = terms(req.query)?;
    let size = req.size.clamp(1, MAX_SEARCH_PAGE_SIZE);
    let _turn = tokio::time::timeout(SEARCH_QUEUE_WAIT, state.searches.acquire())
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| {
            ApiError::new(
                names::RATE_LIMITED,
                "Too many searches at once; try again shortly.",
            )
        })?;
    let q = SearchQuery {
        app_id,
        viewer,
        terms: &terms,
        channel: req.channel,
        before: req.before,
        limit: size,
        candidates: SEARCH_CANDIDATES,
        timeout_ms: SEARCH_TIMEOUT.as_millis() as u64,
    };
    match state.store.search_messages(&q).await? {
        SearchResult::Found { rows, resume } => Ok(Found {
            rows,
            next_before: resume,
        }),
        SearchResult::TooSlow => Err(ApiError::new(
            names::RATE_LIMITED,
            "The search took too long; use rarer words or search within one channel.",
        )),
    }
}

/// The request a relay's parameters make: `query`, `channelId`, `before`, `size`.
pub fn request_of(params: &Params) -> ApiResult<Request<'_>> {
    let query = params
        .get("query")
        .ok_or_else(|| ApiError::validation("The query parameter is required."))?;
    let int = |name: &str| match params.get(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::validation(format!("{name} must be an integer, got {v:?}."))),
    };
    let size = match int("size")? {
        None => DEFAULT_PAGE_SIZE,
        Some(n) if n >= 1 => n,
        Some(n) => {
            return Err(ApiError::validation(format!(
                "Page size must be a positive integer, got {n}."
            )))
        }
    };
    Ok(Request {
        query,
        channel: int("channelId")?,
        before: int("before")?,
        size,
    })
}

/// The relay's answer (`user/messages.search.relay`): a page of `messages` as the
/// actor sees them, cut to the byte budget; `next` continues the search.
pub async fn relay_page(call: &Call<'_>, relay: &Relay, params: &Params) -> ApiResult<String> {
    let state = call.state;
    let req = request_of(params)?;
    if let Some(cid) = req.channel {
        access::readable_channel(call, cid).await?;
    }
    let found = search(state, call.app_id, Some(call.user.id), &req).await?;
    let items = state
        .render_messages(call.app_id, &found.rows, Viewer::User(call.user.id))
        .await?;
    let kept = fit(&items, state.config.max_page_bytes)?;
    let next = if kept.len() < found.rows.len() {
        kept.len().checked_sub(1).map(|i| found.rows[i].id)
    } else {
        found.next_before
    };
    let size = req.size.clamp(1, MAX_SEARCH_PAGE_SIZE).to_string();
    let channel = req.channel.map(|c| c.to_string());
    let link = |before: Option<i64>| {
        let before = before.map(|b| b.to_string());
        let mut pairs: Vec<(&str, &str)> = vec![("query", req.query)];
        if let Some(c) = &channel {
            pairs.push(("channelId", c));
        }
        if let Some(b) = &before {
            pairs.push(("before", b));
        }
        pairs.push(("size", &size));
        relay.with_query(&pairs)
    };
    let count = kept.len() as u64;
    json(&Page {
        content_name: "messages",
        items: kept,
        // Matches are not counted (that would cost a scan of them all): the numbers
        // describe this page.
        page: PageMeta {
            size: count,
            total_elements: count,
            total_pages: 1,
            number: 0,
        },
        relays: PageRelays {
            first: Some(link(None)),
            prev: None,
            self_: None,
            next: next.map(|b| link(Some(b))),
            last: None,
        },
    })
}

/// The messages of a page rendered for the operator, as JSON values, and the `before`
/// of the next page (the Platform API's answer, `crate::http::platform`).
pub async fn operator_page(
    state: &AppState,
    app_id: i64,
    as_user: Option<i64>,
    req: &Request<'_>,
) -> ApiResult<(Vec<Value>, Option<i64>)> {
    let found = search(state, app_id, as_user, req).await?;
    let viewer = match as_user {
        Some(u) => Viewer::User(u),
        None => Viewer::Operator,
    };
    let items = state.render_messages(app_id, &found.rows, viewer).await?;
    let kept = fit(&items, state.config.max_page_bytes)?;
    let next = if kept.len() < found.rows.len() {
        kept.len().checked_sub(1).map(|i| found.rows[i].id)
    } else {
        found.next_before
    };
    let values = kept
        .iter()
        .map(|raw| serde_json::from_str(raw.get()).unwrap_or(Value::Null))
        .collect();
    Ok((values, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_split_into_bounded_words() {
        assert_eq!(
            terms("Hello, wörld! e-mail 3.14 hello").unwrap(),
            ["Hello", "wörld", "e", "mail", "3", "14"]
        );
        assert!(terms("   ...  ").is_err());
        assert!(terms("a b c d e f g h").is_ok());
        assert!(terms("a b c d e f g h i").is_err());
        assert!(terms(&"x".repeat(MAX_SEARCH_QUERY_CHARS + 1)).is_err());
        assert_eq!(
            terms("\"quoted\" OR NEAR(x)").unwrap(),
            ["quoted", "OR", "NEAR", "x"]
        );
    }
}
