//! The streaming STOMP decoder on arbitrary bytes, split at an input-chosen point: it
//! never panics, and every frame it yields re-encodes to bytes that decode to the same
//! frame.
#![no_main]

use chatkitty_protocol::{Decoder, Item, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (split, bytes) = match data.split_first() {
        Some((s, rest)) => (*s as usize % (rest.len() + 1), rest),
        None => return,
    };
    let mut d = Decoder::new(Limits { max_frame_bytes: 4096, max_headers: 16 });
    let mut frames = Vec::new();
    d.push(&bytes[..split]);
    while let Ok(Some(item)) = d.decode() {
        frames.push(item);
    }
    d.push(&bytes[split..]);
    while let Ok(Some(item)) = d.decode() {
        frames.push(item);
    }
    let _ = d.finish();
    for item in frames {
        if let Item::Frame(mut f) = item {
            // Encoding rewrites content-length; compare without it.
            f.headers.retain(|(n, _)| n != "content-length");
            let mut again = Decoder::new(Limits { max_frame_bytes: 1 << 20, max_headers: 64 });
            again.push(&f.encode());
            match again.decode() {
                Ok(Some(Item::Frame(mut g))) => {
                    g.headers.retain(|(n, _)| n != "content-length");
                    assert_eq!(f, g, "round trip");
                }
                other => panic!("re-encoded frame did not decode: {other:?}"),
            }
        }
    }
});
