//! Pages (docs/protocol.md §9): numbered pages of lists and their links, cut to the
//! byte budget of one answer (`--max-page-bytes`, §9.5), and the parameters a relay
//! carries.

use chatkitty_protocol::destination::Relay;
use chatkitty_protocol::resource::{Page, PageMeta, PageRelays};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::{ApiError, ApiResult};

/// Relay parameters: the SUBSCRIBE's extra headers merged with the destination's
/// `?query` (docs/protocol.md §9.2, §16.14: `undefined`, `null` and empty values are
/// absent). The transport collects them; reads only look them up.
#[derive(Debug, Default)]
pub struct Params {
    values: Vec<(String, String)>,
}

impl Params {
    /// Parameters from name/value pairs, earlier pairs winning.
    pub fn new(pairs: Vec<(String, String)>) -> Params {
        let mut values: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            if matches!(v.as_str(), "" | "undefined" | "null" | "[object Object]") {
                continue;
            }
            if !values.iter().any(|(q, _)| *q == k) {
                values.push((k, v));
            }
        }
        Params { values }
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter (`true`/`false`).
    pub fn flag(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name)?.parse().ok()
    }
}

/// Serialises a resource.
pub fn json<T: Serialize>(v: &T) -> ApiResult<String> {
    serde_json::to_string(v).map_err(|e| {
        tracing::error!(error = %e, "serialising a resource");
        ApiError::internal()
    })
}

/// Default page size (docs/protocol.md §9.2).
pub const DEFAULT_PAGE_SIZE: i64 = 25;
/// Largest page size.
pub const MAX_PAGE_SIZE: i64 = 100;
/// Largest page number: with [`MAX_PAGE_SIZE`], page arithmetic (offsets, the next and
/// last links) stays far from overflowing whatever a client asks for.
pub const MAX_PAGE_NUMBER: i64 = 10_000_000;

pub fn page_size(params: &Params) -> ApiResult<i64> {
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
        // Serialized straight into a RawValue: `RawValue::from_string` would parse
        // again, to check it, the JSON serde_json just wrote (a twentieth of the CPU of
        // a reconnect storm's gap pages).
        let raw = serde_json::value::to_raw_value(item).map_err(|e| {
            tracing::error!(error = %e, "serialising a resource");
            ApiError::internal()
        })?;
        used = used.saturating_add(raw.get().len() + 1);
        if used > budget && !out.is_empty() {
            break;
        }
        out.push(raw);
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
