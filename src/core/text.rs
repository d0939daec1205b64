//! Small text encoders the core needs, written out so the wasm build links no
//! formatting or JSON machinery: JSON string literals, Base64, `encodeURIComponent`,
//! and random ids.

/// Appends `s` as a JSON string literal (quotes included).
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(hex(c as u8 >> 4));
                out.push(hex(c as u8 & 15));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn hex(n: u8) -> char {
    b"0123456789abcdef"[n as usize & 15] as char
}

/// Base64 (standard alphabet, padded) of the Latin-1 bytes of `s`, as the official
/// client's `btoa` produces for `StompX-Auth-Params` (docs/protocol.md §2.4). `None` if `s`
/// has a character above U+00FF, which that encoding cannot carry.
pub fn latin1_base64(s: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = s.chars().map(|c| u8::try_from(c as u32).ok()).collect();
    Some(base64(&bytes?))
}

/// Standard padded Base64.
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` percent-encoded.
pub fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(hex(b >> 4).to_ascii_uppercase());
            out.push(hex(b & 15).to_ascii_uppercase());
        }
    }
    out
}

/// Appends the decimal form of `n`.
pub fn push_u64(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(d as char);
    }
}

/// A small deterministic generator (xorshift64*), seeded by the embedder: ids only
/// need to be unique per connection, not secret, and a seed keeps tests reproducible.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced, xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Appends a random UUID v4 (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`).
    pub fn push_uuid(&mut self, out: &mut String) {
        let (a, b) = (self.next_u64(), self.next_u64());
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&a.to_le_bytes());
        bytes[8..].copy_from_slice(&b.to_le_bytes());
        bytes[6] = bytes[6] & 0x0f | 0x40;
        bytes[8] = bytes[8] & 0x3f | 0x80;
        for (i, byte) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                out.push('-');
            }
            out.push(hex(byte >> 4));
            out.push(hex(byte & 15));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_btoa_for_every_padding_length() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"{\"token\":\"abc\"}"), "eyJ0b2tlbiI6ImFiYyJ9");
    }

    #[test]
    fn auth_params_are_encoded_as_latin1_and_refused_beyond_it() {
        assert_eq!(latin1_base64("é").as_deref(), Some("6Q=="));
        assert_eq!(latin1_base64("€"), None);
    }

    #[test]
    fn json_strings_escape_quotes_controls_and_keep_unicode() {
        let mut s = String::new();
        push_json_string(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }

    #[test]
    fn uri_components_are_encoded_like_encode_uri_component() {
        assert_eq!(
            encode_uri_component("a b&c=d/é~!"),
            "a%20b%26c%3Dd%2F%C3%A9~!"
        );
    }

    #[test]
    fn uuids_are_version_4_and_distinct() {
        let mut rng = Rng::new(7);
        let (mut a, mut b) = (String::new(), String::new());
        rng.push_uuid(&mut a);
        rng.push_uuid(&mut b);
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }
}
