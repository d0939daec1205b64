//! Message text analysis: links (PROTOCOL.md 12.3 `MessageLink`), with positions in
//! UTF-16 code units, end exclusive, as JavaScript strings index them.

use chatkitty_protocol::resource::MessageLink;

/// Finds `http://` and `https://` links in `text`.
pub fn links(text: &str) -> Vec<MessageLink> {
    let mut out = Vec::new();
    let mut search = 0;
    while let Some(rel) = find_scheme(&text[search..]) {
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
                start_position: utf16_len(&text[..start]),
                end_position: utf16_len(&text[..end]),
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

/// Finds `<@username>` and `<#channel-name>` tags.
pub fn mention_tags(text: &str) -> Vec<MentionTag> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(rel) = text[i..].find('<') {
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
        match rest.find('>') {
            Some(close) if close > 2 && !rest[2..close].contains(['<', '\n']) => {
                let end = start + close + 1;
                out.push(MentionTag {
                    kind,
                    tag: text[start..end].to_owned(),
                    name: rest[2..close].to_owned(),
                    start: utf16_len(&text[..start]),
                    end: utf16_len(&text[..end]),
                });
                i = end;
            }
            _ => i = start + 1,
        }
    }
    out
}

#[cfg(test)]
mod mention_tests {
    use super::*;

    #[test]
    fn finds_user_and_channel_mentions_with_positions() {
        let m = mention_tags("hi <@jane> see <#general> and <notatag> <@>");
        assert_eq!(m.len(), 2);
        assert_eq!(
            (m[0].kind, m[0].name.as_str(), m[0].start, m[0].end),
            ("USER", "jane", 3, 10)
        );
        assert_eq!((m[1].kind, m[1].tag.as_str()), ("CHANNEL", "<#general>"));
    }
}
