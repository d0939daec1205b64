//! The part of NATS's client protocol the fan-out benchmark needs, over NATS's
//! WebSocket listener: CONNECT, SUB, PUB, PING/PONG out; INFO, MSG, PING, PONG, +OK and
//! -ERR in. A WebSocket message from the server may hold several protocol messages or
//! part of one (the server writes whatever it has buffered), so incoming bytes go
//! through [`Parser`], which works across message boundaries.

use std::net::{IpAddr, SocketAddr};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::stomp::{self, Res, Ws};

/// What the server sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A MSG: its payload is `parser.bytes(start, end)`; `wire` is the whole protocol
    /// message (control line, payload and CRLF) in bytes.
    Msg {
        start: usize,
        end: usize,
        wire: usize,
    },
    Ping,
    Pong,
    /// INFO, +OK: nothing to do.
    Other,
    /// -ERR with its text.
    Err(String),
}

/// Incoming bytes → [`Event`]s.
#[derive(Default)]
pub struct Parser {
    buf: Vec<u8>,
    pos: usize,
}

impl Parser {
    /// Appends bytes that arrived (what was consumed before goes first).
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes of the buffer (a MSG's payload) until the next [`Parser::push`].
    pub fn bytes(&self, start: usize, end: usize) -> &[u8] {
        &self.buf[start..end]
    }

    /// The next complete protocol message, if one is buffered.
    pub fn next(&mut self) -> Res<Option<Event>> {
        let rest = &self.buf[self.pos..];
        let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = &rest[..nl];
        if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"MSG ") {
            // MSG <subject> <sid> [reply-to] <#bytes>
            let len: usize = std::str::from_utf8(line)?
                .split_ascii_whitespace()
                .last()
                .ok_or("MSG without a size")?
                .parse()?;
            let wire = nl + 2 + len + 2;
            if rest.len() < wire {
                return Ok(None);
            }
            let start = self.pos + nl + 2;
            self.pos += wire;
            return Ok(Some(Event::Msg {
                start,
                end: start + len,
                wire,
            }));
        }
        let event = if line.eq_ignore_ascii_case(b"PING") {
            Event::Ping
        } else if line.eq_ignore_ascii_case(b"PONG") {
            Event::Pong
        } else if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"-ERR") {
            Event::Err(String::from_utf8_lossy(line).into_owned())
        } else {
            Event::Other
        };
        self.pos += nl + 2;
        Ok(Some(event))
    }
}

/// `PUB <subject> <#bytes>\r\n<payload>\r\n`.
pub fn publish(subject: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("PUB {subject} {}\r\n", payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
    out
}

/// The payload size that makes a delivered `MSG <subject> <sid> <#bytes>\r\n<payload>\r\n`
/// exactly `wire` bytes long (at least `min`).
pub fn payload_for_wire(subject: &str, sid: &str, wire: usize, min: usize) -> usize {
    let fixed = "MSG ".len() + subject.len() + 1 + sid.len() + 1 + 2 + 2;
    let mut len = wire.saturating_sub(fixed);
    // The size's own digits are part of the control line.
    while len > 0 && fixed + len + len.to_string().len() > wire {
        len -= 1;
    }
    len.max(min)
}

/// The subscription id of every member (one subscription each).
pub const SID: &str = "1";

/// Opens a WebSocket to NATS (no subprotocol), sends CONNECT and `SUB <subject> 1`, and
/// returns once the PONG to a PING behind them says both were processed.
pub async fn subscriber(server: SocketAddr, source: Option<IpAddr>, subject: &str) -> Res<Ws> {
    let mut ws = stomp::open_ws(server, source, "/", None).await?;
    let hello = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"lang\":\"rust\",\"version\":\"0.1\",\"protocol\":1,\"echo\":true,\"headers\":false}}\r\nSUB {subject} {SID}\r\nPING\r\n"
    );
    ws.send(Message::Binary(hello.into_bytes().into())).await?;
    let mut p = Parser::default();
    let deadline = tokio::time::Instant::now() + stomp::WAIT;
    loop {
        while let Some(e) = p.next()? {
            match e {
                Event::Pong => return Ok(ws),
                Event::Err(e) => return Err(format!("NATS refused: {e}").into()),
                _ => {}
            }
        }
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| "timed out waiting for NATS")?
            .ok_or("connection closed")??;
        match msg {
            Message::Binary(b) => p.push(&b),
            Message::Text(t) => p.push(t.as_bytes()),
            Message::Close(_) => return Err("NATS closed the connection".into()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_and_joined_across_pushes() {
        let mut p = Parser::default();
        p.push(b"INFO {}\r\nMSG a.b 1 5\r\nhel");
        assert_eq!(p.next().unwrap(), Some(Event::Other));
        assert_eq!(p.next().unwrap(), None);
        p.push(b"lo\r\nPING\r\nMSG a 1 r 2\r\nxy\r\n");
        match p.next().unwrap() {
            Some(Event::Msg { start, end, wire }) => {
                assert_eq!(p.bytes(start, end), b"hello");
                assert_eq!(wire, "MSG a.b 1 5\r\nhello\r\n".len());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.next().unwrap(), Some(Event::Ping));
        match p.next().unwrap() {
            Some(Event::Msg { start, end, .. }) => assert_eq!(p.bytes(start, end), b"xy"),
            other => panic!("{other:?}"),
        }
        assert_eq!(p.next().unwrap(), None);
    }

    #[test]
    fn payload_sized_for_a_wire_length() {
        for wire in [100, 1645, 1700, 10_005] {
            let len = payload_for_wire("fo123-1000", SID, wire, 10);
            let msg = format!("MSG fo123-1000 {SID} {len}\r\n{}\r\n", "x".repeat(len));
            assert_eq!(msg.len(), wire, "{wire}");
        }
    }
}
