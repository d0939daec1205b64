//! A streaming STOMP 1.2 decoder.
//!
//! Bytes go in with [`Decoder::push`] in whatever pieces the transport delivers them
//! (a WebSocket message may hold several frames, or part of one); [`Decoder::decode`]
//! returns the next complete [`Item`], `Ok(None)` when more bytes are needed, or an
//! error when the input can never become a valid frame. It never panics on any input.
//!
//! After an error the decoder's buffer is in an unspecified state: a STOMP peer that
//! sent a malformed frame gets an ERROR frame and is disconnected (STOMP 1.2), so the
//! stream is not resumed.

use crate::frame::{unescape, Command, Frame};
use crate::header;

/// One decoded unit of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A complete frame.
    Frame(Frame),
    /// A heart-beat: an end-of-line (`\n` or `\r\n`) outside any frame.
    Heartbeat,
}

/// Size limits the decoder enforces before buffering more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum size of one frame on the wire (command, headers, body and NUL).
    pub max_frame_bytes: usize,
    /// Maximum number of header entries in one frame.
    pub max_headers: usize,
}

impl Limits {
    /// The default: 1 MiB frames, 64 headers.
    pub const DEFAULT: Limits = Limits {
        max_frame_bytes: 1 << 20,
        max_headers: 64,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Why the input is not valid STOMP 1.2.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame is larger than [`Limits::max_frame_bytes`].
    FrameTooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// More header entries than [`Limits::max_headers`].
    TooManyHeaders {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The command line is not a STOMP command.
    UnknownCommand(String),
    /// A header line without a `:` or with an empty name.
    MalformedHeader(String),
    /// A header uses an undefined escape sequence (e.g. `\t`) or ends in a lone `\`.
    InvalidEscape(String),
    /// The command or a header is not valid UTF-8.
    InvalidUtf8,
    /// `content-length` is not a non-negative decimal integer.
    InvalidContentLength(String),
    /// The byte after a `content-length`-sized body is not NUL: the length is wrong
    /// or the terminator is missing.
    MissingNul,
    /// A carriage return not followed by a line feed where an end-of-line is expected.
    StrayCarriageReturn,
    /// A NUL arrived before the blank line that ends the headers.
    UnterminatedHeaders,
    /// The stream ended in the middle of a frame (see [`Decoder::finish`]).
    Truncated,
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DecodeError::FrameTooLarge { limit } => {
                write!(f, "frame exceeds the maximum size of {limit} bytes")
            }
            DecodeError::TooManyHeaders { limit } => {
                write!(f, "frame has more than {limit} headers")
            }
            DecodeError::UnknownCommand(c) => write!(f, "unknown command {c:?}"),
            DecodeError::MalformedHeader(h) => write!(f, "malformed header line {h:?}"),
            DecodeError::InvalidEscape(h) => write!(f, "invalid escape sequence in header {h:?}"),
            DecodeError::InvalidUtf8 => f.write_str("command or header is not valid UTF-8"),
            DecodeError::InvalidContentLength(v) => write!(f, "invalid content-length {v:?}"),
            DecodeError::MissingNul => {
                f.write_str("frame body is not terminated by NUL where content-length says it ends")
            }
            DecodeError::StrayCarriageReturn => f.write_str("carriage return without line feed"),
            DecodeError::UnterminatedHeaders => {
                f.write_str("frame ended (NUL) before the blank line that ends its headers")
            }
            DecodeError::Truncated => f.write_str("stream ended inside a frame"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The parsed head of a frame whose body has not fully arrived yet, kept so that a
/// large frame arriving in many pieces is not re-parsed (or re-scanned) each time.
#[derive(Debug)]
struct PendingBody {
    command: Command,
    headers: Vec<(String, String)>,
    /// Offset of the first body byte in the buffer.
    body_start: usize,
    /// Exact body length from `content-length`, if given.
    content_length: Option<usize>,
    /// Without `content-length`: how far the NUL search has already looked.
    scanned_to: usize,
}

/// Streaming STOMP 1.2 decoder. See the module docs.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    limits: Limits,
    pending: Option<PendingBody>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(Limits::DEFAULT)
    }
}

impl Decoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            buf: Vec::new(),
            limits,
            pending: None,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Number of bytes buffered and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Call when the stream has ended: an error if a frame was left incomplete.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Truncated)
        }
    }

    /// Releases buffer capacity beyond what is in use (for idle connections).
    pub fn shrink(&mut self) {
        if self.buf.is_empty() {
            self.buf = Vec::new();
        } else {
            self.buf.shrink_to_fit();
        }
    }

    /// Decodes the next item: `Ok(None)` means more bytes are needed.
    pub fn decode(&mut self) -> Result<Option<Item>, DecodeError> {
        if self.pending.is_none() {
            match self.buf.first() {
                None => return Ok(None),
                Some(b'\n') => {
                    self.consume(1);
                    return Ok(Some(Item::Heartbeat));
                }
                Some(b'\r') => {
                    return match self.buf.get(1) {
                        None => Ok(None),
                        Some(b'\n') => {
                            self.consume(2);
                            Ok(Some(Item::Heartbeat))
                        }
                        Some(_) => Err(DecodeError::StrayCarriageReturn),
                    };
                }
                Some(_) => {}
            }
            match self.parse_head()? {
                Some(pending) => self.pending = Some(pending),
                None => return Ok(None),
            }
        }
        self.finish_body()
    }

    /// Decodes every complete item currently buffered.
    pub fn decode_all(&mut self) -> Result<Vec<Item>, DecodeError> {
        let mut items = Vec::new();
        while let Some(item) = self.decode()? {
            items.push(item);
        }
        Ok(items)
    }

    fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
    }

    /// Parses command and headers if the blank line ending them has arrived.
    fn parse_head(&mut self) -> Result<Option<PendingBody>, DecodeError> {
        let max = self.limits.max_frame_bytes;
        let mut pos = 0;
        let Some((line, next)) = next_line(&self.buf, pos, max)? else {
            return Ok(None);
        };
        let command = Command::parse(line).ok_or_else(|| {
            DecodeError::UnknownCommand(String::from_utf8_lossy(line).into_owned())
        })?;
        pos = next;
        let escaped = command.escapes_headers();
        let mut headers = Vec::new();
        loop {
            let Some((line, next)) = next_line(&self.buf, pos, max)? else {
                return Ok(None);
            };
            pos = next;
            if line.is_empty() {
                break;
            }
            if headers.len() == self.limits.max_headers {
                return Err(DecodeError::TooManyHeaders {
                    limit: self.limits.max_headers,
                });
            }
            let text = core::str::from_utf8(line).map_err(|_| DecodeError::InvalidUtf8)?;
            let (name, value) = text
                .split_once(':')
                .filter(|(name, _)| !name.is_empty())
                .ok_or_else(|| DecodeError::MalformedHeader(text.to_owned()))?;
            if escaped {
                let bad = || DecodeError::InvalidEscape(text.to_owned());
                headers.push((
                    unescape(name).ok_or_else(bad)?,
                    unescape(value).ok_or_else(bad)?,
                ));
            } else {
                headers.push((name.to_owned(), value.to_owned()));
            }
        }
        let content_length = match headers.iter().find(|(n, _)| n == header::CONTENT_LENGTH) {
            None => None,
            Some((_, v)) => {
                let v = v.trim();
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(DecodeError::InvalidContentLength(v.to_owned()));
                }
                let n = v
                    .parse::<usize>()
                    .map_err(|_| DecodeError::InvalidContentLength(v.to_owned()))?;
                if pos.saturating_add(n).saturating_add(1) > max {
                    return Err(DecodeError::FrameTooLarge { limit: max });
                }
                Some(n)
            }
        };
        Ok(Some(PendingBody {
            command,
            headers,
            body_start: pos,
            content_length,
            scanned_to: pos,
        }))
    }

    fn finish_body(&mut self) -> Result<Option<Item>, DecodeError> {
        let max = self.limits.max_frame_bytes;
        let Some(p) = self.pending.as_mut() else {
            return Ok(None);
        };
        let end = match p.content_length {
            Some(len) => {
                let end = p.body_start + len;
                if self.buf.len() <= end {
                    return Ok(None);
                }
                if self.buf[end] != 0 {
                    return Err(DecodeError::MissingNul);
                }
                end
            }
            None => match self.buf[p.scanned_to..].iter().position(|&b| b == 0) {
                Some(i) => p.scanned_to + i,
                None => {
                    p.scanned_to = self.buf.len();
                    if self.buf.len() >= max {
                        return Err(DecodeError::FrameTooLarge { limit: max });
                    }
                    return Ok(None);
                }
            },
        };
        if end + 1 > max {
            return Err(DecodeError::FrameTooLarge { limit: max });
        }
        let Some(p) = self.pending.take() else {
            return Ok(None);
        };
        let body = self.buf[p.body_start..end].to_vec();
        self.consume(end + 1);
        Ok(Some(Item::Frame(Frame {
            command: p.command,
            headers: p.headers,
            body,
        })))
    }
}

/// The line starting at `from` (without its `\n` or `\r\n`) and the offset after it;
/// `None` if its end has not arrived.
fn next_line(buf: &[u8], from: usize, max: usize) -> Result<Option<(&[u8], usize)>, DecodeError> {
    let rest = buf.get(from..).unwrap_or_default();
    let eol = rest.iter().position(|&b| b == b'\n');
    if rest[..eol.unwrap_or(rest.len())].contains(&0) {
        return Err(DecodeError::UnterminatedHeaders);
    }
    match eol {
        Some(i) => {
            if from + i + 1 > max {
                return Err(DecodeError::FrameTooLarge { limit: max });
            }
            let mut line = &rest[..i];
            if let [head @ .., b'\r'] = line {
                line = head;
            }
            if line.contains(&b'\r') {
                return Err(DecodeError::StrayCarriageReturn);
            }
            Ok(Some((line, from + i + 1)))
        }
        None if buf.len() >= max => Err(DecodeError::FrameTooLarge { limit: max }),
        None => Ok(None),
    }
}
