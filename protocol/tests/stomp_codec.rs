//! The STOMP 1.2 rules the codec implements, one test each, including malformed input.

use chatkitty_protocol::frame::{encode_text, escape, unescape, SharedMessage};
use chatkitty_protocol::{Command, DecodeError, Decoder, Frame, Item, Limits};

fn decode_one(bytes: &[u8]) -> Result<Option<Item>, DecodeError> {
    let mut d = Decoder::default();
    d.push(bytes);
    d.decode()
}

fn frame(bytes: &[u8]) -> Frame {
    match decode_one(bytes) {
        Ok(Some(Item::Frame(f))) => f,
        other => panic!("expected a frame, got {other:?}"),
    }
}

#[test]
fn encodes_command_headers_blank_line_body_and_nul() {
    let f = Frame::new(Command::Send)
        .with_header("destination", "/a")
        .with_body(b"hello".to_vec());
    assert_eq!(
        f.encode(),
        b"SEND\ndestination:/a\ncontent-length:5\n\nhello\0"
    );
}

#[test]
fn empty_body_gets_no_content_length() {
    let f = Frame::new(Command::Receipt).with_header("receipt-id", "r-1");
    assert_eq!(f.encode(), b"RECEIPT\nreceipt-id:r-1\n\n\0");
}

#[test]
fn content_length_is_always_the_real_utf8_byte_length() {
    let f = Frame::new(Command::Message)
        .with_header("content-length", "999")
        .with_body("héllo ✓".as_bytes().to_vec());
    let text = String::from_utf8(f.encode()).unwrap();
    assert!(text.contains("content-length:10\n"), "{text}");
    assert!(!text.contains("999"));
}

#[test]
fn header_values_and_names_are_escaped_outside_connect_frames() {
    let f = Frame::new(Command::Message).with_header("a:b", "x\\y\nz\rw:v");
    assert_eq!(f.encode(), b"MESSAGE\na\\cb:x\\\\y\\nz\\rw\\cv\n\n\0");
}

#[test]
fn connect_and_connected_headers_are_not_escaped() {
    let f = Frame::new(Command::Connect).with_header("StompX-User", "a:b\\c");
    assert_eq!(f.encode(), b"CONNECT\nStompX-User:a:b\\c\n\n\0");
    let f = Frame::new(Command::Connected).with_header("session", "x:y");
    assert_eq!(f.encode(), b"CONNECTED\nsession:x:y\n\n\0");
}

#[test]
fn connect_header_value_is_everything_after_the_first_colon() {
    let f = frame(b"CONNECT\nStompX-User:jane:doe\\x\n\n\0");
    assert_eq!(f.header("StompX-User"), Some("jane:doe\\x"));
}

#[test]
fn escaped_headers_are_unescaped_on_decode() {
    let f = frame(b"SEND\ndestination:/a\\cb\nk\\\\:v\\n\\r\n\n\0");
    assert_eq!(f.header("destination"), Some("/a:b"));
    assert_eq!(f.header("k\\"), Some("v\n\r"));
}

#[test]
fn undefined_escape_sequence_is_an_error() {
    let e = decode_one(b"SEND\ndestination:/a\\tb\n\n\0").unwrap_err();
    assert!(matches!(e, DecodeError::InvalidEscape(_)), "{e:?}");
}

#[test]
fn trailing_lone_backslash_is_an_error() {
    let e = decode_one(b"SEND\ndestination:/a\\\n\n\0").unwrap_err();
    assert!(matches!(e, DecodeError::InvalidEscape(_)), "{e:?}");
}

#[test]
fn escape_and_unescape_round_trip() {
    for s in ["", "plain", "a:b", "\\", "\n\r", "x\\cy", "ünïcødé:✓"] {
        assert_eq!(unescape(&escape(s)).as_deref(), Some(s));
    }
    assert_eq!(unescape("\\x"), None);
}

#[test]
fn repeated_headers_keep_the_first_value() {
    let f = frame(b"SEND\nfoo:1\nfoo:2\n\n\0");
    assert_eq!(f.header("foo"), Some("1"));
    assert_eq!(f.headers.len(), 2);
}

#[test]
fn header_values_are_not_trimmed() {
    let f = frame(b"SEND\nfoo: padded \n\n\0");
    assert_eq!(f.header("foo"), Some(" padded "));
}

#[test]
fn body_without_content_length_reads_up_to_nul() {
    let f = frame(b"SEND\ndestination:/a\n\n{\"a\":1}\0");
    assert_eq!(f.body, b"{\"a\":1}");
}

#[test]
fn content_length_allows_nul_bytes_inside_the_body() {
    let f = frame(b"SEND\ncontent-length:3\n\na\0b\0");
    assert_eq!(f.body, b"a\0b");
}

#[test]
fn wrong_content_length_is_missing_nul() {
    let e = decode_one(b"SEND\ncontent-length:2\n\nabc\0").unwrap_err();
    assert_eq!(e, DecodeError::MissingNul);
}

#[test]
fn non_numeric_or_negative_content_length_is_an_error() {
    for v in ["abc", "-1", "", "1.5", "99999999999999999999999"] {
        let text = format!("SEND\ncontent-length:{v}\n\n\0");
        let e = decode_one(text.as_bytes()).unwrap_err();
        assert!(
            matches!(
                e,
                DecodeError::InvalidContentLength(_) | DecodeError::FrameTooLarge { .. }
            ),
            "{v}: {e:?}"
        );
    }
}

#[test]
fn crlf_line_endings_are_accepted() {
    let f = frame(b"SEND\r\ndestination:/a\r\n\r\nbody\0");
    assert_eq!(f.command, Command::Send);
    assert_eq!(f.header("destination"), Some("/a"));
    assert_eq!(f.body, b"body");
}

#[test]
fn carriage_return_without_line_feed_is_an_error() {
    assert_eq!(
        decode_one(b"\rX").unwrap_err(),
        DecodeError::StrayCarriageReturn
    );
    assert_eq!(
        decode_one(b"SEND\ndesti\rnation:/a\n\n\0").unwrap_err(),
        DecodeError::StrayCarriageReturn
    );
}

#[test]
fn lone_eols_between_frames_are_heartbeats() {
    let mut d = Decoder::default();
    d.push(b"\n\r\nRECEIPT\nreceipt-id:1\n\n\0\n\n");
    let items = d.decode_all().unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(items[0], Item::Heartbeat);
    assert_eq!(items[1], Item::Heartbeat);
    assert!(matches!(&items[2], Item::Frame(f) if f.command == Command::Receipt));
    assert_eq!(items[3], Item::Heartbeat);
    assert_eq!(items[4], Item::Heartbeat);
    assert_eq!(d.buffered(), 0);
}

#[test]
fn a_lone_cr_waits_for_its_lf() {
    let mut d = Decoder::default();
    d.push(b"\r");
    assert_eq!(d.decode().unwrap(), None);
    d.push(b"\n");
    assert_eq!(d.decode().unwrap(), Some(Item::Heartbeat));
}

#[test]
fn several_frames_packed_in_one_message_decode_in_order() {
    let mut bytes = Vec::new();
    for i in 0..3 {
        Frame::new(Command::Send)
            .with_header("n", i.to_string())
            .with_body(format!("body{i}").into_bytes())
            .encode_into(&mut bytes);
    }
    let mut d = Decoder::default();
    d.push(&bytes);
    let items = d.decode_all().unwrap();
    assert_eq!(items.len(), 3);
    for (i, item) in items.iter().enumerate() {
        let Item::Frame(f) = item else { panic!() };
        assert_eq!(f.header("n"), Some(i.to_string().as_str()));
        assert_eq!(f.body, format!("body{i}").into_bytes());
    }
}

#[test]
fn a_frame_split_at_every_byte_decodes_the_same() {
    let frames = [
        Frame::new(Command::Send)
            .with_header("destination", "/application/v1/channels/1.message")
            .with_header("weird", "a:b\nc\\d")
            .with_body(br#"{"type":"TEXT","body":"hi"}"#.to_vec()),
        Frame::new(Command::Subscribe).with_header("id", "s-1"),
    ];
    for f in frames {
        let bytes = f.encode();
        // What the decoder yields in one piece (it keeps the content-length header).
        let f = frame(&bytes);
        for split in 0..=bytes.len() {
            let mut d = Decoder::default();
            d.push(&bytes[..split]);
            let first = d.decode().unwrap();
            if split < bytes.len() {
                assert_eq!(first, None, "split at {split}");
                d.push(&bytes[split..]);
                assert_eq!(
                    d.decode().unwrap(),
                    Some(Item::Frame(f.clone())),
                    "split at {split}"
                );
            } else {
                assert_eq!(first, Some(Item::Frame(f.clone())));
            }
            assert_eq!(d.buffered(), 0);
        }
    }
}

#[test]
fn a_frame_fed_one_byte_at_a_time_decodes_once() {
    let f = Frame::new(Command::Message)
        .with_header("subscription", "s")
        .with_body(vec![b'x'; 5000]);
    for with_length in [true, false] {
        let mut bytes = f.encode();
        if !with_length {
            // Re-encode without content-length to exercise the NUL scan.
            let text = String::from_utf8(bytes)
                .unwrap()
                .replace("content-length:5000\n", "");
            bytes = text.into_bytes();
        }
        let mut d = Decoder::default();
        let mut got = Vec::new();
        for b in &bytes {
            d.push(std::slice::from_ref(b));
            while let Some(item) = d.decode().unwrap() {
                got.push(item);
            }
        }
        assert_eq!(got.len(), 1);
        let Item::Frame(g) = &got[0] else { panic!() };
        assert_eq!(g.body, f.body);
    }
}

#[test]
fn oversized_frame_with_content_length_fails_before_the_body_arrives() {
    let mut d = Decoder::new(Limits {
        max_frame_bytes: 100,
        max_headers: 8,
    });
    d.push(b"SEND\ncontent-length:1000\n\n");
    assert_eq!(
        d.decode().unwrap_err(),
        DecodeError::FrameTooLarge { limit: 100 }
    );
}

#[test]
fn oversized_frame_without_content_length_fails_once_the_limit_is_passed() {
    let mut d = Decoder::new(Limits {
        max_frame_bytes: 100,
        max_headers: 8,
    });
    d.push(b"SEND\n\n");
    assert_eq!(d.decode().unwrap(), None);
    d.push(&[b'x'; 60]);
    assert_eq!(d.decode().unwrap(), None);
    d.push(&[b'x'; 60]);
    assert_eq!(
        d.decode().unwrap_err(),
        DecodeError::FrameTooLarge { limit: 100 }
    );
}

#[test]
fn oversized_headers_fail_without_waiting_for_their_end() {
    let mut d = Decoder::new(Limits {
        max_frame_bytes: 100,
        max_headers: 8,
    });
    d.push(b"SEND\nx:");
    d.push(&[b'y'; 200]);
    assert_eq!(
        d.decode().unwrap_err(),
        DecodeError::FrameTooLarge { limit: 100 }
    );
}

#[test]
fn a_frame_of_exactly_the_limit_is_accepted() {
    let f = Frame::new(Command::Send).with_body(vec![b'a'; 10]);
    let bytes = f.encode();
    let mut d = Decoder::new(Limits {
        max_frame_bytes: bytes.len(),
        max_headers: 8,
    });
    d.push(&bytes);
    assert!(matches!(d.decode().unwrap(), Some(Item::Frame(_))));
}

#[test]
fn too_many_headers_is_an_error() {
    let mut d = Decoder::new(Limits {
        max_frame_bytes: 10_000,
        max_headers: 2,
    });
    d.push(b"SEND\na:1\nb:2\nc:3\n\n\0");
    assert_eq!(
        d.decode().unwrap_err(),
        DecodeError::TooManyHeaders { limit: 2 }
    );
}

#[test]
fn unknown_or_lowercase_command_is_an_error() {
    for bytes in [&b"HELLO\n\n\0"[..], b"send\n\n\0", b"SEND \n\n\0"] {
        assert!(matches!(
            decode_one(bytes).unwrap_err(),
            DecodeError::UnknownCommand(_)
        ));
    }
}

#[test]
fn every_command_decodes() {
    for c in Command::ALL {
        let f = frame(&Frame::new(c).encode());
        assert_eq!(f.command, c);
    }
}

#[test]
fn header_line_without_colon_or_name_is_malformed() {
    for bytes in [&b"SEND\nnocolon\n\n\0"[..], b"SEND\n:value\n\n\0"] {
        assert!(matches!(
            decode_one(bytes).unwrap_err(),
            DecodeError::MalformedHeader(_)
        ));
    }
}

#[test]
fn invalid_utf8_in_headers_is_an_error() {
    assert_eq!(
        decode_one(b"SEND\na:\xff\xfe\n\n\0").unwrap_err(),
        DecodeError::InvalidUtf8
    );
}

#[test]
fn nul_before_the_end_of_headers_is_an_error() {
    assert_eq!(
        decode_one(b"SEND\ndestination:/a\n\0").unwrap_err(),
        DecodeError::UnterminatedHeaders
    );
    assert_eq!(
        decode_one(b"SEND\0").unwrap_err(),
        DecodeError::UnterminatedHeaders
    );
}

#[test]
fn stream_ending_inside_a_frame_is_truncated() {
    let mut d = Decoder::default();
    d.push(b"SEND\ndestination:/a\n\nno terminator");
    assert_eq!(d.decode().unwrap(), None);
    assert_eq!(d.finish().unwrap_err(), DecodeError::Truncated);
    let d = Decoder::default();
    assert!(d.finish().is_ok());
}

#[test]
fn encode_then_decode_round_trips() {
    let frames = [
        Frame::new(Command::Connect)
            .with_header("accept-version", "1.2")
            .with_header("StompX-User", "jane"),
        Frame::new(Command::Message)
            .with_header("destination", "/topic/v1/channels/7/messages")
            .with_header("subscription", "subscription-id-1")
            .with_header("x", "a:b\\c\nd")
            .with_body("{\"body\":\"héllo\"}".as_bytes().to_vec()),
        Frame::new(Command::Error)
            .with_header("message", "bad")
            .with_body(b"{}".to_vec()),
    ];
    for f in frames {
        let mut got = frame(&f.encode());
        got.headers.retain(|(n, _)| n != "content-length");
        assert_eq!(got, f);
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A deterministic pseudo-random walk over byte soup biased towards STOMP syntax.
    let alphabet: &[u8] = b"SENDCONECTMSAGRIPUBK\n\r:\\\0ctn0123456789-lengthx\xff";
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        let mut d = Decoder::new(Limits {
            max_frame_bytes: 256,
            max_headers: 8,
        });
        let len = (state % 64) as usize;
        let mut bytes = Vec::with_capacity(len);
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            bytes.push(alphabet[(state % alphabet.len() as u64) as usize]);
        }
        let mid = bytes.len() / 2;
        d.push(&bytes[..mid]);
        let _ = d.decode_all();
        d.push(&bytes[mid..]);
        let _ = d.decode_all();
        let _ = d.finish();
    }
}

#[test]
fn encode_text_matches_frame_encoding() {
    use chatkitty_protocol::frame::encode_text;
    let headers = [
        ("destination", "/topic/v1/channels/7"),
        ("x", "a:b\\c\nd\re"),
    ];
    let body = "{\"k\":\"ü\"}";
    let mut f = Frame::new(Command::Message).with_body(body.as_bytes().to_vec());
    for (n, v) in headers {
        f.push_header(n, v);
    }
    assert_eq!(
        encode_text(Command::Message, &headers, body).into_bytes(),
        f.encode()
    );
    assert_eq!(
        encode_text(Command::Connected, &[("session", "a:b")], ""),
        "CONNECTED\nsession:a:b\n\n\0"
    );
}

#[test]
fn a_shared_message_encodes_each_subscribers_frame_like_encode_text() {
    for (dest, sub, id, body) in [
        (
            "/topic/v1/channels/7/messages",
            "sub-3",
            "n1-42",
            "{\"a\":\"é\"}",
        ),
        ("/topic/a:b\\c\nd", "s:1\r", "id\\:2", ""),
    ] {
        let shared = SharedMessage::new(dest, "application/json", body);
        let one = encode_text(
            Command::Message,
            &[
                ("destination", dest),
                ("subscription", sub),
                ("message-id", id),
                ("ack", id),
                ("content-type", "application/json"),
            ],
            body,
        );
        assert_eq!(shared.to(sub, id), one);
        let f = frame(shared.to(sub, id).as_bytes());
        assert_eq!(f.header("destination"), Some(dest));
        assert_eq!(f.header("subscription"), Some(sub));
        assert_eq!(f.header("ack"), Some(id));
        assert_eq!(f.body, body.as_bytes());
    }
}

// Work bounds (issue 16, items 2 and 3). `Decoder::work` counts the bytes the decoder
// copies in, scans, moves and copies out: a deterministic stand-in for its CPU time, so
// these tests prove linear cost without timing anything.

/// Work allowed per input byte: a few passes (copy in, scan, parse, copy out).
const WORK_PER_BYTE: u64 = 8;

#[test]
fn a_mebibyte_of_heartbeats_decodes_in_linear_work() {
    let n = 1 << 20;
    let mut d = Decoder::default();
    d.push(&vec![b'\n'; n]);
    let mut beats = 0;
    while let Some(item) = d.decode().unwrap() {
        assert_eq!(item, Item::Heartbeat);
        beats += 1;
    }
    assert_eq!(beats, n);
    assert_eq!(d.buffered(), 0);
    assert!(
        d.work() <= WORK_PER_BYTE * n as u64,
        "{} units of work for {n} bytes",
        d.work()
    );
}

#[test]
fn a_mebibyte_header_arriving_in_256_byte_pieces_decodes_in_linear_work() {
    let value = "v".repeat((1 << 20) - 64);
    let bytes = Frame::new(Command::Send)
        .with_header("destination", "/a")
        .with_header("x-big", value.clone())
        .encode();
    assert!(bytes.len() <= Limits::DEFAULT.max_frame_bytes);
    let mut d = Decoder::default();
    let mut got = Vec::new();
    // As the server does: decode after every WebSocket message.
    for piece in bytes.chunks(256) {
        d.push(piece);
        while let Some(item) = d.decode().unwrap() {
            got.push(item);
        }
    }
    assert_eq!(got.len(), 1);
    let Item::Frame(f) = &got[0] else { panic!() };
    assert_eq!(f.header("x-big"), Some(value.as_str()));
    let n = bytes.len() as u64;
    assert!(
        d.work() <= WORK_PER_BYTE * n,
        "{} units of work for {n} bytes",
        d.work()
    );
}

#[test]
fn a_mebibyte_body_without_content_length_in_256_byte_pieces_decodes_in_linear_work() {
    let mut bytes = b"SEND\ndestination:/a\n\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'b', (1 << 20) - 64));
    bytes.push(0);
    let mut d = Decoder::default();
    let mut frames = 0;
    for piece in bytes.chunks(256) {
        d.push(piece);
        while let Some(Item::Frame(_)) = d.decode().unwrap() {
            frames += 1;
        }
    }
    assert_eq!(frames, 1);
    let n = bytes.len() as u64;
    assert!(d.work() <= WORK_PER_BYTE * n, "{} for {n}", d.work());
}

#[test]
fn many_small_frames_and_heartbeats_in_one_message_decode_in_linear_work() {
    let mut bytes = Vec::new();
    while bytes.len() < (1 << 20) - 64 {
        bytes.extend_from_slice(b"\n\r\n");
        Frame::new(Command::Ack)
            .with_header("id", "a-1")
            .encode_into(&mut bytes);
    }
    let mut d = Decoder::default();
    d.push(&bytes);
    let items = d.decode_all().unwrap();
    assert_eq!(items.len() % 3, 0);
    assert_eq!(d.buffered(), 0);
    let n = bytes.len() as u64;
    assert!(d.work() <= WORK_PER_BYTE * n, "{} for {n}", d.work());
}

#[test]
fn an_invalid_header_line_fails_as_soon_as_it_ends_not_when_the_frame_does() {
    // Need more bytes: an incomplete but valid head, any number of times.
    let mut d = Decoder::default();
    for piece in [&b"SEN"[..], b"D\ndestina", b"tion:/a\n"] {
        d.push(piece);
        assert_eq!(d.decode().unwrap(), None);
    }
    // Invalid: a complete line that can never be a header, before the blank line.
    d.push(b"no colon here\nmore:");
    assert!(matches!(
        d.decode().unwrap_err(),
        DecodeError::MalformedHeader(_)
    ));
    // A NUL inside the head is invalid at once, with or without the line's end.
    let mut d = Decoder::default();
    d.push(b"SEND\ndestination:/a\nx:y\0");
    assert_eq!(d.decode().unwrap_err(), DecodeError::UnterminatedHeaders);
    // An unknown command as soon as its line ends.
    let mut d = Decoder::default();
    d.push(b"HELLO\n");
    assert!(matches!(
        d.decode().unwrap_err(),
        DecodeError::UnknownCommand(_)
    ));
}

#[test]
fn any_split_of_a_stream_of_frames_and_heartbeats_decodes_like_one_piece() {
    let mut stream = Vec::new();
    for i in 0..40 {
        stream.extend_from_slice(if i % 3 == 0 { b"\r\n" } else { b"\n" });
        let mut f = Frame::new(if i % 2 == 0 {
            Command::Send
        } else {
            Command::Subscribe
        })
        .with_header("id", format!("s-{i}"))
        .with_header("weird", "a\\b:c\nd");
        if i % 4 == 0 {
            f = f.with_body(vec![b'z'; i * 37]);
        }
        let mut bytes = f.encode();
        if i % 8 == 4 {
            // Without content-length: the body ends at the NUL.
            let text = String::from_utf8(bytes).unwrap();
            let text = text.replace(&format!("content-length:{}\n", i * 37), "");
            bytes = text.into_bytes();
        }
        stream.extend_from_slice(&bytes);
    }
    let mut whole = Decoder::default();
    whole.push(&stream);
    let expected = whole.decode_all().unwrap();
    assert_eq!(expected.len(), 80);
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..300 {
        let mut d = Decoder::default();
        let mut got = Vec::new();
        let mut at = 0;
        while at < stream.len() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let n = 1 + (seed % 97) as usize;
            let end = (at + n).min(stream.len());
            d.push(&stream[at..end]);
            at = end;
            got.extend(d.decode_all().unwrap());
            if seed % 5 == 1 {
                d.shrink();
            }
        }
        assert_eq!(got, expected);
        assert_eq!(d.buffered(), 0);
        assert!(d.finish().is_ok());
    }
}
