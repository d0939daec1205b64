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
