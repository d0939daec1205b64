//! Message text analysis: links (docs/protocol.md §12.3 `MessageLink`), with positions in
//! UTF-16 code units, end exclusive, as JavaScript strings index them.

use chatkitty_protocol::resource::MessageLink;

/// At most this many links are recorded per message (later ones stay plain text):
/// each costs a stored entry, so a body of short links cannot multiply its size.
pub const MAX_LINKS: usize = 100;

/// UTF-16 offsets of byte positions visited in increasing order, in time linear in
/// the text (positions are what JavaScript strings index by).
struct Utf16Offsets<'a> {
    text: &'a str,
    byte: usize,
    units: u32,
}

impl<'a> Utf16Offsets<'a> {
    fn new(text: &'a str) -> Self {
        Utf16Offsets {
            text,
            byte: 0,
            units: 0,
        }
    }

    /// The UTF-16 offset of byte position `at` (not before the previous one asked).
    fn at(&mut self, at: usize) -> u32 {
        debug_assert!(at >= self.byte);
        self.units += utf16_len(&self.text[self.byte..at]);
        self.byte = at;
        self.units
    }
}

/// Finds `http://` and `https://` links in `text` (at most [`MAX_LINKS`]).
pub fn links(text: &str) -> Vec<MessageLink> {
    let mut out = Vec::new();
    let mut offsets = Utf16Offsets::new(text);
    let mut search = 0;
    while let Some(rel) = find_scheme(&text[search..]) {
        if out.len() == MAX_LINKS {
            break;
        }
        let start = search + rel;
        let rest = &text[start..];
        let mut end = start
            + rest
                .find(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"')
                .unwrap_or(rest.len());
        // Trailing punctuation belongs to the sentence, not the link.
        while end > start && text[..end].ends_with(['.', ',', ';', ':', '!', '?', ')', ']', '\'']) {
            end -= 1;
        }
        let url = &text[start..end];
        if url.len() > "https://".len() {
            out.push(MessageLink {
                source: url.to_owned(),
                start_position: offsets.at(start),
                end_position: offsets.at(end),
            });
        }
        search = end.max(start + 1);
        while !text.is_char_boundary(search) {
            search += 1;
        }
    }
    out
}

fn find_scheme(s: &str) -> Option<usize> {
    let a = s.find("http://");
    let b = s.find("https://");
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn utf16_len(s: &str) -> u32 {
    s.encode_utf16().count() as u32
}

/// [`links`] as stored JSON.
pub fn links_json(text: &str) -> String {
    serde_json::to_string(&links(text)).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_links_with_utf16_positions_and_without_trailing_punctuation() {
        let l = links("see https://example.com/a?b=1. and 😀 http://x.org)");
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].source, "https://example.com/a?b=1");
        assert_eq!((l[0].start_position, l[0].end_position), (4, 29));
        assert_eq!(l[1].source, "http://x.org");
        // The emoji counts as two UTF-16 code units.
        let js_index = "see https://example.com/a?b=1. and 😀 "
            .encode_utf16()
            .count() as u32;
        assert_eq!(l[1].start_position, js_index);
        assert!(links("no links here, just http:// alone").is_empty());
    }
}

/// A mention found in a text: `<@username>` or `<#channel-name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentionTag {
    /// `USER` or `CHANNEL`.
    pub kind: &'static str,
    /// The literal tag, e.g. `<@jane>`.
    pub tag: String,
    /// The name inside it.
    pub name: String,
    /// UTF-16 offset of `<`.
    pub start: u32,
    /// UTF-16 offset after `>`.
    pub end: u32,
}

/// Longest name inside a mention tag (usernames are at most 256 characters): the
/// search for a tag's `>` stops there, so scanning a body stays linear.
const MAX_TAG_NAME_BYTES: usize = 1024;

/// Finds the first `max` `<@username>` and `<#channel-name>` tags (README, "Limits":
/// `--max-mentions`; later tags stay plain text).
pub fn mention_tags(text: &str, max: usize) -> Vec<MentionTag> {
    let mut out = Vec::new();
    let mut offsets = Utf16Offsets::new(text);
    let mut i = 0;
    while let Some(rel) = text[i..].find('<') {
        if out.len() >= max {
            break;
        }
        let start = i + rel;
        let rest = &text[start..];
        let kind = match rest.as_bytes().get(1) {
            Some(b'@') => "USER",
            Some(b'#') => "CHANNEL",
            _ => {
                i = start + 1;
                continue;
            }
        };
        let window = &rest.as_bytes()[..rest.len().min(MAX_TAG_NAME_BYTES + 3)];
        // A name ends at the first `>`, and cannot hold `<` or a line break.
        let close = window
            .get(2..)
            .unwrap_or_default()
            .iter()
            .position(|&b| matches!(b, b'>' | b'<' | b'\n'))
            .map(|p| p + 2)
            .filter(|&c| c > 2 && window[c] == b'>');
        match close {
            Some(close) => {
                let end = start + close + 1;
                out.push(MentionTag {
                    kind,
                    tag: text[start..end].to_owned(),
                    name: rest[2..close].to_owned(),
                    start: offsets.at(start),
                    end: offsets.at(end),
                });
                i = end;
            }
            None => i = start + 1,
        }
    }
    out
}

#[cfg(test)]
mod mention_tests {
    use super::*;

    #[test]
    fn finds_user_and_channel_mentions_with_positions() {
        let m = mention_tags("hi <@jane> see <#general> and <notatag> <@>", 20);
        assert_eq!(m.len(), 2);
        assert_eq!(
            (m[0].kind, m[0].name.as_str(), m[0].start, m[0].end),
            ("USER", "jane", 3, 10)
        );
        assert_eq!((m[1].kind, m[1].tag.as_str()), ("CHANNEL", "<#general>"));
        // A name with `<` or a line break in it is no tag; the next `<` may start one.
        let m = mention_tags("<@a<@b> <@c\nd> 😀<#x>", 20);
        let found: Vec<(&str, u32)> = m.iter().map(|t| (t.name.as_str(), t.start)).collect();
        assert_eq!(found, [("b", 3), ("x", 17)]);
    }

    #[test]
    fn only_the_first_tags_up_to_the_limit_are_taken() {
        let body = "<@u> ".repeat(1000);
        let m = mention_tags(&body, 20);
        assert_eq!(m.len(), 20);
        assert_eq!((m[19].start, m[19].end), (95, 99));
    }

    #[test]
    fn an_unclosed_tag_scan_is_bounded_by_the_longest_name() {
        // "<@" then 5,000 bytes and no `>`: not a tag, and what follows is still found.
        let body = format!("<@{} <@real>", "x".repeat(5000));
        let m = mention_tags(&body, 20);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].name, "real");
    }

    #[test]
    fn links_are_capped_per_message() {
        let body = "http://a.io ".repeat(MAX_LINKS + 50);
        let l = links(&body);
        assert_eq!(l.len(), MAX_LINKS);
        assert_eq!(
            l[MAX_LINKS - 1].start_position,
            (12 * (MAX_LINKS - 1)) as u32
        );
    }
}
