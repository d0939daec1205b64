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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame is larger than [`Limits::max_frame_bytes`].
    #[error("frame exceeds the maximum size of {limit} bytes")]
    FrameTooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// More header entries than [`Limits::max_headers`].
    #[error("frame has more than {limit} headers")]
    TooManyHeaders {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The command line is not a STOMP command.
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    /// A header line without a `:` or with an empty name.
    #[error("malformed header line {0:?}")]
    MalformedHeader(String),
    /// A header uses an undefined escape sequence (e.g. `\t`) or ends in a lone `\`.
    #[error("invalid escape sequence in header {0:?}")]
    InvalidEscape(String),
    /// The command or a header is not valid UTF-8.
    #[error("command or header is not valid UTF-8")]
    InvalidUtf8,
    /// `content-length` is not a non-negative decimal integer.
    #[error("invalid content-length {0:?}")]
    InvalidContentLength(String),
    /// The byte after a `content-length`-sized body is not NUL: the length is wrong
    /// or the terminator is missing.
    #[error("frame body is not terminated by NUL where content-length says it ends")]
    MissingNul,
    /// A carriage return not followed by a line feed where an end-of-line is expected.
    #[error("carriage return without line feed")]
    StrayCarriageReturn,
    /// A NUL arrived before the blank line that ends the headers.
    #[error("frame ended (NUL) before the blank line that ends its headers")]
    UnterminatedHeaders,
    /// The stream ended in the middle of a frame (see [`Decoder::finish`]).
    #[error("stream ended inside a frame")]
    Truncated,
}

/// The head of a frame being read: the command and headers parsed so far, and how far
/// the search for the end of the current line has looked. Offsets are relative to the
/// frame's first byte, so they survive the buffer's compaction.
#[derive(Debug, Default)]
struct PendingHead {
    command: Option<Command>,
    headers: Vec<(String, String)>,
    /// Start of the line being read.
    line: usize,
    /// Bytes before this offset are known to hold no `\n` (nor NUL) of that line.
    scanned: usize,
}

/// The parsed head of a frame whose body has not fully arrived yet, kept so that a
/// large frame arriving in many pieces is not re-parsed (or re-scanned) each time.
#[derive(Debug)]
struct PendingBody {
    command: Command,
    headers: Vec<(String, String)>,
    /// Offset of the first body byte, from the frame's first byte.
    body_start: usize,
    /// Exact body length from `content-length`, if given.
    content_length: Option<usize>,
    /// Without `content-length`: how far the NUL search has already looked.
    scanned_to: usize,
}

/// Where the decoder is in the stream.
#[derive(Debug, Default)]
enum State {
    /// Between frames: heart-beats or the first byte of a command.
    #[default]
    Between,
    /// Reading the command and header lines.
    Head(PendingHead),
    /// Reading the body.
    Body(PendingBody),
}

/// Streaming STOMP 1.2 decoder. See the module docs.
///
/// Every byte is examined a bounded number of times however the input is split: the
/// head is parsed line by line as lines complete, scans resume where they stopped,
/// and decoded bytes are dropped from the buffer only once they outweigh what remains
/// (so a megabyte of heart-beats, or of small frames, is not moved once per item).
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Bytes of `buf` before this offset are decoded (dropped at the next compaction).
    start: usize,
    limits: Limits,
    state: State,
    work: u64,
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
            start: 0,
            limits,
            state: State::Between,
            work: 0,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        // Drop decoded bytes once they are at least as many as the undecoded ones: the
        // move costs no more than what was decoded since the last one (linear overall).
        if self.start > 0 && self.start >= self.buf.len() - self.start {
            self.compact();
        }
        self.work += bytes.len() as u64;
        self.buf.extend_from_slice(bytes);
    }

    /// Number of bytes buffered and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// How much the decoder has worked so far, in bytes copied in, scanned, moved and
    /// copied out. Deterministic and proportional to its CPU time, it lets tests check
    /// that no input, however split, costs more than linear time.
    pub fn work(&self) -> u64 {
        self.work
    }

    /// Call when the stream has ended: an error if a frame was left incomplete.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.buffered() == 0 {
            Ok(())
        } else {
            Err(DecodeError::Truncated)
        }
    }

    /// Releases buffer capacity beyond what is in use (for idle connections).
    pub fn shrink(&mut self) {
        if self.buffered() == 0 {
            self.buf = Vec::new();
            self.start = 0;
        } else {
            self.compact();
            self.buf.shrink_to_fit();
        }
    }

    /// Decodes the next item: `Ok(None)` means more bytes are needed; an error means
    /// the input can never become a valid frame.
    pub fn decode(&mut self) -> Result<Option<Item>, DecodeError> {
        let item = match std::mem::take(&mut self.state) {
            State::Between => self.between()?,
            State::Head(head) => self.head(head)?,
            State::Body(body) => self.body(body)?,
        };
        if item.is_some() && self.start == self.buf.len() {
            // Everything is decoded: start over at the front, nothing to move.
            self.buf.clear();
            self.start = 0;
        }
        Ok(item)
    }

    /// Decodes every complete item currently buffered.
    pub fn decode_all(&mut self) -> Result<Vec<Item>, DecodeError> {
        let mut items = Vec::new();
        while let Some(item) = self.decode()? {
            items.push(item);
        }
        Ok(items)
    }

    fn compact(&mut self) {
        self.work += self.buffered() as u64;
        self.buf.drain(..self.start);
        self.start = 0;
    }

    /// Between frames: a heart-beat, or the start of a frame's head.
    fn between(&mut self) -> Result<Option<Item>, DecodeError> {
        let rest = &self.buf[self.start..];
        self.work += 1;
        match rest.first() {
            None => Ok(None),
            Some(b'\n') => {
                self.start += 1;
                Ok(Some(Item::Heartbeat))
            }
            Some(b'\r') => match rest.get(1) {
                None => Ok(None),
                Some(b'\n') => {
                    self.start += 2;
                    Ok(Some(Item::Heartbeat))
                }
                Some(_) => Err(DecodeError::StrayCarriageReturn),
            },
            Some(_) => self.head(PendingHead::default()),
        }
    }

    /// Reads the command and header lines that have completed since the last call.
    fn head(&mut self, mut head: PendingHead) -> Result<Option<Item>, DecodeError> {
        let max = self.limits.max_frame_bytes;
        loop {
            let frame = &self.buf[self.start..];
            let rest = &frame[head.scanned..];
            let Some(i) = rest.iter().position(|&b| b == b'\n' || b == 0) else {
                self.work += rest.len() as u64;
                if frame.len() >= max {
                    return Err(DecodeError::FrameTooLarge { limit: max });
                }
                head.scanned = frame.len();
                self.state = State::Head(head);
                return Ok(None);
            };
            self.work += i as u64 + 1;
            let eol = head.scanned + i;
            if frame[eol] == 0 {
                return Err(DecodeError::UnterminatedHeaders);
            }
            if eol + 1 > max {
                return Err(DecodeError::FrameTooLarge { limit: max });
            }
            let mut line = &frame[head.line..eol];
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            // Checking, validating and copying the line: a few passes over it.
            self.work += 3 * line.len() as u64;
            if line.contains(&b'\r') {
                return Err(DecodeError::StrayCarriageReturn);
            }
            head.line = eol + 1;
            head.scanned = eol + 1;
            let Some(command) = head.command else {
                head.command = Some(Command::parse(line).ok_or_else(|| {
                    DecodeError::UnknownCommand(String::from_utf8_lossy(line).into_owned())
                })?);
                continue;
            };
            if line.is_empty() {
                let body = PendingBody {
                    command,
                    content_length: content_length(&head.headers, eol + 1, max)?,
                    headers: head.headers,
                    body_start: eol + 1,
                    scanned_to: eol + 1,
                };
                return self.body(body);
            }
            if head.headers.len() == self.limits.max_headers {
                return Err(DecodeError::TooManyHeaders {
                    limit: self.limits.max_headers,
                });
            }
            head.headers
                .push(header_entry(line, command.escapes_headers())?);
        }
    }

    /// Completes the frame once its body and NUL have arrived.
    fn body(&mut self, mut p: PendingBody) -> Result<Option<Item>, DecodeError> {
        let max = self.limits.max_frame_bytes;
        let frame = &self.buf[self.start..];
        let end = match p.content_length {
            Some(len) => {
                let end = p.body_start + len;
                if frame.len() <= end {
                    self.state = State::Body(p);
                    return Ok(None);
                }
                if frame[end] != 0 {
                    return Err(DecodeError::MissingNul);
                }
                end
            }
            None => {
                let rest = &frame[p.scanned_to..];
                match rest.iter().position(|&b| b == 0) {
                    Some(i) => {
                        self.work += i as u64 + 1;
                        p.scanned_to + i
                    }
                    None => {
                        self.work += rest.len() as u64;
                        if frame.len() >= max {
                            return Err(DecodeError::FrameTooLarge { limit: max });
                        }
                        p.scanned_to = frame.len();
                        self.state = State::Body(p);
                        return Ok(None);
                    }
                }
            }
        };
        if end + 1 > max {
            return Err(DecodeError::FrameTooLarge { limit: max });
        }
        let body = frame[p.body_start..end].to_vec();
        self.work += body.len() as u64;
        self.start += end + 1;
        Ok(Some(Item::Frame(Frame {
            command: p.command,
            headers: p.headers,
            body,
        })))
    }
}

/// One `name:value` header line, unescaped where the command calls for it.
fn header_entry(line: &[u8], escaped: bool) -> Result<(String, String), DecodeError> {
    let text = core::str::from_utf8(line).map_err(|_| DecodeError::InvalidUtf8)?;
    let (name, value) = text
        .split_once(':')
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| DecodeError::MalformedHeader(text.to_owned()))?;
    if escaped {
        let bad = || DecodeError::InvalidEscape(text.to_owned());
        Ok((
            unescape(name).ok_or_else(bad)?,
            unescape(value).ok_or_else(bad)?,
        ))
    } else {
        Ok((name.to_owned(), value.to_owned()))
    }
}

/// The body length `content-length` gives (the first occurrence), checked against the
/// frame limit before the body arrives; `None` without the header.
fn content_length(
    headers: &[(String, String)],
    body_start: usize,
    max: usize,
) -> Result<Option<usize>, DecodeError> {
    let Some((_, v)) = headers.iter().find(|(n, _)| n == header::CONTENT_LENGTH) else {
        return Ok(None);
    };
    let v = v.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecodeError::InvalidContentLength(v.to_owned()));
    }
    let n = v
        .parse::<usize>()
        .map_err(|_| DecodeError::InvalidContentLength(v.to_owned()))?;
    if body_start.saturating_add(n).saturating_add(1) > max {
        return Err(DecodeError::FrameTooLarge { limit: max });
    }
    Ok(Some(n))
}
