//! STOMP 1.2 frames: commands, headers and body, and their encoding.
//!
//! A frame is `COMMAND EOL *(header EOL) EOL body NUL` (STOMP 1.2, "Augmented BNF").
//! [`Frame::encode_into`] writes that form; decoding lives in [`crate::codec`].

use crate::header;

/// A STOMP command. Client commands first, then server commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Client: open a STOMP session.
    Connect,
    /// Client: the STOMP 1.1+ alias of `CONNECT`.
    Stomp,
    /// Client: send a message to a destination (our "actions").
    Send,
    /// Client: subscribe to a destination (our "relays" and "topics").
    Subscribe,
    /// Client: end a subscription.
    Unsubscribe,
    /// Client: acknowledge a message.
    Ack,
    /// Client: negative acknowledgement.
    Nack,
    /// Client: start a transaction.
    Begin,
    /// Client: commit a transaction.
    Commit,
    /// Client: abort a transaction.
    Abort,
    /// Client: end the session gracefully.
    Disconnect,
    /// Server: the session is open.
    Connected,
    /// Server: a message on a subscription.
    Message,
    /// Server: acknowledges a frame that carried a `receipt` header.
    Receipt,
    /// Server: a fatal error; the server closes the connection after it.
    Error,
}

impl Command {
    /// Every command, in declaration order.
    pub const ALL: [Command; 15] = [
        Command::Connect,
        Command::Stomp,
        Command::Send,
        Command::Subscribe,
        Command::Unsubscribe,
        Command::Ack,
        Command::Nack,
        Command::Begin,
        Command::Commit,
        Command::Abort,
        Command::Disconnect,
        Command::Connected,
        Command::Message,
        Command::Receipt,
        Command::Error,
    ];

    /// The command as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Command::Connect => "CONNECT",
            Command::Stomp => "STOMP",
            Command::Send => "SEND",
            Command::Subscribe => "SUBSCRIBE",
            Command::Unsubscribe => "UNSUBSCRIBE",
            Command::Ack => "ACK",
            Command::Nack => "NACK",
            Command::Begin => "BEGIN",
            Command::Commit => "COMMIT",
            Command::Abort => "ABORT",
            Command::Disconnect => "DISCONNECT",
            Command::Connected => "CONNECTED",
            Command::Message => "MESSAGE",
            Command::Receipt => "RECEIPT",
            Command::Error => "ERROR",
        }
    }

    /// Parses a command line (without its EOL). Commands are case-sensitive.
    pub fn parse(bytes: &[u8]) -> Option<Command> {
        Command::ALL
            .into_iter()
            .find(|c| c.as_str().as_bytes() == bytes)
    }

    /// Whether a client sends this command (as opposed to a server).
    pub const fn is_client_command(self) -> bool {
        !matches!(
            self,
            Command::Connected | Command::Message | Command::Receipt | Command::Error
        )
    }

    /// STOMP 1.2: header values of `CONNECT` and `CONNECTED` frames are not escaped
    /// ("to remain backward compatible with STOMP 1.0"); `STOMP` is the same frame as
    /// `CONNECT` under another name. Every other frame escapes.
    pub const fn escapes_headers(self) -> bool {
        !matches!(self, Command::Connect | Command::Stomp | Command::Connected)
    }
}

impl core::fmt::Display for Command {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One STOMP frame.
///
/// Headers keep their order and repetitions as received; [`Frame::header`] returns the
/// first occurrence, which STOMP 1.2 says is the one that counts. The body is raw
/// bytes; every body of this protocol is UTF-8 JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The command.
    pub command: Command,
    /// Header entries, unescaped, in wire order.
    pub headers: Vec<(String, String)>,
    /// The body, without the terminating NUL.
    pub body: Vec<u8>,
}

impl Frame {
    /// A frame with no headers and an empty body.
    pub fn new(command: Command) -> Frame {
        Frame {
            command,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header entry (builder style).
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Frame {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body (builder style).
    #[must_use]
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Frame {
        self.body = body.into();
        self
    }

    /// Adds a header entry.
    pub fn push_header(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.headers.push((name.into(), value.into()));
    }

    /// The value of the first header entry named `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text, if it is valid UTF-8.
    pub fn body_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.body).ok()
    }

    /// Encodes the frame and returns the bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len_hint());
        self.encode_into(&mut out);
        out
    }

    /// Encodes the frame as text. Bodies of this protocol are UTF-8 JSON, so this is
    /// lossless for them; a non-UTF-8 body is replaced lossily.
    pub fn encode_to_string(&self) -> String {
        match String::from_utf8(self.encode()) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }

    fn encoded_len_hint(&self) -> usize {
        self.command.as_str().len()
            + self
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 2)
                .sum::<usize>()
            + self.body.len()
            + 32
    }

    /// Appends the wire form of the frame to `out`.
    ///
    /// Header names and values are escaped unless the command is `CONNECT`, `STOMP` or
    /// `CONNECTED`. A `content-length` header with the body's exact byte length is
    /// written for every non-empty body; any `content-length` entry in
    /// [`Frame::headers`] is ignored, so the length on the wire is always right.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.command.as_str().as_bytes());
        out.push(b'\n');
        let escape = self.command.escapes_headers();
        for (name, value) in &self.headers {
            if name == header::CONTENT_LENGTH {
                continue;
            }
            if escape {
                escape_into(name, out);
                out.push(b':');
                escape_into(value, out);
            } else {
                out.extend_from_slice(name.as_bytes());
                out.push(b':');
                out.extend_from_slice(value.as_bytes());
            }
            out.push(b'\n');
        }
        if !self.body.is_empty() {
            out.extend_from_slice(header::CONTENT_LENGTH.as_bytes());
            out.push(b':');
            push_decimal(self.body.len(), out);
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.body);
        out.push(0);
    }
}

/// Encodes a frame straight from borrowed parts into text, without building a
/// [`Frame`]: the server's per-recipient MESSAGE frames go through here. Same rules as
/// [`Frame::encode_into`] (escaping, `content-length` for non-empty bodies, NUL).
pub fn encode_text(command: Command, headers: &[(&str, &str)], body: &str) -> String {
    let mut out = String::with_capacity(
        command.as_str().len()
            + headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 2)
                .sum::<usize>()
            + body.len()
            + 40,
    );
    out.push_str(command.as_str());
    out.push('\n');
    let escape = command.escapes_headers();
    for (name, value) in headers {
        if *name == header::CONTENT_LENGTH {
            continue;
        }
        if escape {
            push_header(name, value, &mut out);
        } else {
            out.push_str(name);
            out.push(':');
            out.push_str(value);
            out.push('\n');
        }
    }
    push_length_and_body(body, &mut out);
    out
}

/// `name:value` and an EOL, both escaped.
fn push_header(name: &str, value: &str, out: &mut String) {
    escape_str_into(name, out);
    out.push(':');
    escape_str_into(value, out);
    out.push('\n');
}

/// The `content-length` header (for a non-empty body), the blank line, the body and
/// the NUL that end a frame.
fn push_length_and_body(body: &str, out: &mut String) {
    if !body.is_empty() {
        out.push_str(header::CONTENT_LENGTH);
        out.push(':');
        let mut digits = Vec::with_capacity(20);
        push_decimal(body.len(), &mut digits);
        digits.iter().for_each(|&d| out.push(d as char));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(body);
    out.push('\0');
}

/// A MESSAGE frame going to many subscribers of one destination: everything but the
/// per-subscriber headers is encoded once. [`SharedMessage::to`] gives the same text as
/// [`encode_text`] with the headers `destination`, `subscription`, `message-id`, `ack`
/// (the message id), `content-type`.
#[derive(Debug, Clone)]
pub struct SharedMessage {
    /// `MESSAGE` and the destination header.
    head: String,
    /// The content type, the length, the blank line, the body and the NUL.
    tail: String,
}

impl SharedMessage {
    /// Encodes the shared part once.
    pub fn new(destination: &str, content_type: &str, body: &str) -> SharedMessage {
        let mut head = String::with_capacity(destination.len() + 24);
        head.push_str(Command::Message.as_str());
        head.push('\n');
        push_header(header::DESTINATION, destination, &mut head);
        let mut tail = String::with_capacity(content_type.len() + body.len() + 40);
        push_header(header::CONTENT_TYPE, content_type, &mut tail);
        push_length_and_body(body, &mut tail);
        SharedMessage { head, tail }
    }

    /// The frame for one subscription.
    pub fn to(&self, subscription: &str, message_id: &str) -> String {
        let mut out = String::with_capacity(
            self.head.len() + self.tail.len() + subscription.len() + 2 * message_id.len() + 40,
        );
        out.push_str(&self.head);
        for (name, value) in [
            (header::SUBSCRIPTION, subscription),
            (header::MESSAGE_ID, message_id),
            (header::ACK, message_id),
        ] {
            push_header(name, value, &mut out);
        }
        out.push_str(&self.tail);
        out
    }
}

fn escape_str_into(s: &str, out: &mut String) {
    if !s.bytes().any(|b| matches!(b, b'\\' | b'\n' | b'\r' | b':')) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            ':' => out.push_str("\\c"),
            _ => out.push(c),
        }
    }
}

/// Writes `n` in decimal without the formatting machinery.
pub(crate) fn push_decimal(mut n: usize, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// STOMP 1.2 header escaping: `\` → `\\`, LF → `\n`, CR → `\r`, `:` → `\c`.
pub fn escape_into(s: &str, out: &mut Vec<u8>) {
    for &b in s.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b':' => out.extend_from_slice(b"\\c"),
            _ => out.push(b),
        }
    }
}

/// The escaped form of `s` (see [`escape_into`]).
pub fn escape(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    escape_into(s, &mut out);
    // Escaping only replaces ASCII bytes with ASCII bytes, so UTF-8 stays valid.
    String::from_utf8(out).unwrap_or_default()
}

/// Reverses [`escape`]. Returns `None` for an undefined escape sequence (such as `\t`)
/// or a trailing lone backslash, which STOMP 1.2 makes a fatal protocol error.
pub fn unescape(s: &str) -> Option<String> {
    if !s.contains('\\') {
        return Some(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '\\' => out.push('\\'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            'c' => out.push(':'),
            _ => return None,
        }
    }
    Some(out)
}
