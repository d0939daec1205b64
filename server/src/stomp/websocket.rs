//! WebSocket messages (RFC 6455) over an upgraded connection, with memory held only
//! while a message is being read or frames are being written.
//!
//! `tungstenite` (through axum) kept a read buffer and a write buffer per connection for
//! its whole life, grown to the largest read and the largest batch written: 3.5 KB of
//! every idle connection's ~11 KB of heap (bench/README.md, "Idle memory"). Here bytes
//! are read into a buffer on the stack and kept on the heap only while a frame is
//! incomplete; frames to send are laid out in a buffer freed after each write. The
//! frame header's parsing and layout are `tungstenite`'s ([`FrameHeader`]); what this
//! module owns is the buffering and the message rules of a server (docs/protocol.md §2):
//! client frames masked, no extensions, control frames final and short, fragments in
//! order, text that is UTF-8, and a message size limit. A broken rule ends the read side
//! ([`Reader::next`] returns `None`), as a closing peer does.

use std::future::poll_fn;
use std::io::{self, Cursor};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

/// At most this many bytes are read from the socket at once (on the stack).
const READ_CHUNK: usize = 4096;

/// Frames laid out for sending are written once they reach this many bytes, whatever
/// follows (a batch of large frames is not held in memory at once).
const WRITE_CHUNK: usize = 16 * 1024;

/// The longest payload of a control frame (RFC 6455 §5.5).
const MAX_CONTROL: u64 = 125;

/// A message from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8).
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A ping, to be answered with a pong carrying the same bytes.
    Ping(Vec<u8>),
}

/// Why the read side ended.
#[derive(Debug)]
pub enum End {
    /// The client sent a close frame, or the connection ended.
    Closed,
    /// A message larger than the limit.
    TooLarge,
    /// A frame breaking a rule of the protocol.
    Protocol(&'static str),
    /// The socket failed.
    Io(io::Error),
}

/// The reading side of a WebSocket.
pub struct Reader<R> {
    io: R,
    /// Bytes of a frame not complete yet (and any read after it); no allocation when
    /// nothing is pending.
    pending: Vec<u8>,
    /// How many bytes at the start of `pending` were handled already: they are dropped
    /// once per read, not once per frame (a read full of tiny frames would otherwise
    /// move the rest of the buffer for each of them).
    consumed: usize,
    /// The fragments so far of a message sent in several frames: whether it is text,
    /// and its bytes.
    fragments: Option<(bool, Vec<u8>)>,
    max_message: usize,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// Reads messages of at most `max_message` bytes from `io`.
    pub fn new(io: R, max_message: usize) -> Reader<R> {
        Reader {
            io,
            pending: Vec::new(),
            consumed: 0,
            fragments: None,
            max_message,
        }
    }

    /// The next message. Cancel-safe: what was read stays in the reader.
    pub async fn next(&mut self) -> Result<Message, End> {
        loop {
            if let Some(message) = self.take_frame()? {
                return Ok(message);
            }
            self.read_more().await?;
        }
    }

    /// Reads what the socket has into `pending`, through a buffer on the stack (held
    /// only during the call, never while waiting).
    async fn read_more(&mut self) -> Result<(), End> {
        if self.consumed > 0 {
            self.pending.drain(..self.consumed);
            self.consumed = 0;
        }
        let pending = &mut self.pending;
        let io = &mut self.io;
        poll_fn(|cx| {
            let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut buf = ReadBuf::uninit(&mut chunk);
            match Pin::new(&mut *io).poll_read(cx, &mut buf) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Err(e)) => Poll::Ready(Err(End::Io(e))),
                Poll::Ready(Ok(())) if buf.filled().is_empty() => Poll::Ready(Err(End::Closed)),
                Poll::Ready(Ok(())) => {
                    pending.extend_from_slice(buf.filled());
                    Poll::Ready(Ok(()))
                }
            }
        })
        .await
    }

    /// Handles the frame at the start of `pending` if it is complete: a message when it
    /// completes one.
    fn take_frame(&mut self) -> Result<Option<Message>, End> {
        loop {
            let mut cursor = Cursor::new(&self.pending[self.consumed..]);
            let Some((header, len)) = FrameHeader::parse(&mut cursor)
                .map_err(|_| End::Protocol("invalid frame header"))?
            else {
                return Ok(None);
            };
            let start = self.consumed + cursor.position() as usize;
            self.check(&header, len)?;
            let len = len as usize;
            let Some(end) = start.checked_add(len).filter(|&e| e <= self.pending.len()) else {
                // Room for the rest of the frame (its size was checked).
                self.pending.reserve(start + len - self.pending.len());
                return Ok(None);
            };
            let mut payload = self.pending[start..end].to_vec();
            if let Some(mask) = header.mask {
                for (i, b) in payload.iter_mut().enumerate() {
                    *b ^= mask[i & 3];
                }
            }
            if end == self.pending.len() {
                // Nothing pending: the buffer is let go of.
                self.pending = Vec::new();
                self.consumed = 0;
            } else {
                self.consumed = end;
            }
            if let Some(message) = self.on_frame(&header, payload)? {
                return Ok(Some(message));
            }
        }
    }

    /// The rules a frame's header must follow, checked before its payload is waited for.
    fn check(&self, header: &FrameHeader, len: u64) -> Result<(), End> {
        if header.rsv1 || header.rsv2 || header.rsv3 {
            return Err(End::Protocol("reserved bits set (no extension was agreed)"));
        }
        if header.mask.is_none() {
            return Err(End::Protocol("unmasked frame from the client"));
        }
        match header.opcode {
            OpCode::Control(_) if !header.is_final || len > MAX_CONTROL => {
                Err(End::Protocol("fragmented or long control frame"))
            }
            OpCode::Data(_) => {
                let so_far = self.fragments.as_ref().map_or(0, |(_, b)| b.len()) as u64;
                if so_far.saturating_add(len) > self.max_message as u64 {
                    Err(End::TooLarge)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    fn on_frame(&mut self, header: &FrameHeader, payload: Vec<u8>) -> Result<Option<Message>, End> {
        let (text, bytes) = match (header.opcode, self.fragments.take()) {
            (OpCode::Control(Control::Close), _) => return Err(End::Closed),
            (OpCode::Control(Control::Ping), fragments) => {
                self.fragments = fragments;
                return Ok(Some(Message::Ping(payload)));
            }
            (OpCode::Control(_), fragments) => {
                self.fragments = fragments;
                return Ok(None);
            }
            (OpCode::Data(Data::Continue), None) => {
                return Err(End::Protocol("continuation frame without a message"))
            }
            (OpCode::Data(Data::Continue), Some((text, mut bytes))) => {
                bytes.extend_from_slice(&payload);
                (text, bytes)
            }
            (OpCode::Data(_), Some(_)) => {
                return Err(End::Protocol("new message before the last one ended"))
            }
            (OpCode::Data(Data::Text), None) => (true, payload),
            (OpCode::Data(Data::Binary), None) => (false, payload),
            (OpCode::Data(Data::Reserved(_)), None) => {
                return Err(End::Protocol("reserved opcode"))
            }
        };
        if !header.is_final {
            self.fragments = Some((text, bytes));
            return Ok(None);
        }
        if !text {
            return Ok(Some(Message::Binary(bytes)));
        }
        match String::from_utf8(bytes) {
            Ok(s) => Ok(Some(Message::Text(s))),
            Err(_) => Err(End::Protocol("text message that is not UTF-8")),
        }
    }
}

/// The writing side of a WebSocket.
pub struct Writer<W> {
    io: W,
    /// Frames laid out and not written yet; freed after each write.
    out: Vec<u8>,
}

impl<W: AsyncWrite + Unpin> Writer<W> {
    /// Writes to `io`.
    pub fn new(io: W) -> Writer<W> {
        Writer {
            io,
            out: Vec::new(),
        }
    }

    /// Queues a text message (written by [`Writer::flush`], or earlier once
    /// `WRITE_CHUNK` (16 KiB) bytes are waiting).
    pub async fn text(&mut self, text: &str) -> io::Result<()> {
        self.frame(OpCode::Data(Data::Text), &[text]).await
    }

    /// Queues one text message made of `parts` one after the other (several STOMP
    /// frames in one message, docs/protocol.md §2.2 "Messages out"), copied once, into
    /// the buffer that is written.
    pub async fn text_of(&mut self, parts: &[String]) -> io::Result<()> {
        self.frame(OpCode::Data(Data::Text), parts).await
    }

    /// Queues a pong answering a ping's `payload`.
    pub async fn pong(&mut self, payload: &[u8]) -> io::Result<()> {
        self.frame(OpCode::Control(Control::Pong), &[payload]).await
    }

    /// Writes a close frame (status 1000, normal closure) and everything before it,
    /// then ends the sending direction of the connection.
    pub async fn close(&mut self) -> io::Result<()> {
        self.frame(OpCode::Control(Control::Close), &[1000u16.to_be_bytes()])
            .await?;
        self.flush().await?;
        self.io.shutdown().await
    }

    /// One WebSocket frame whose payload is `payload`'s parts in order; written out
    /// whenever `WRITE_CHUNK` (16 KiB) bytes are waiting, so a large one is not held whole.
    async fn frame<P: AsRef<[u8]>>(&mut self, opcode: OpCode, payload: &[P]) -> io::Result<()> {
        let header = FrameHeader {
            opcode,
            ..FrameHeader::default()
        };
        let size: usize = payload.iter().map(|p| p.as_ref().len()).sum();
        let len = size as u64;
        self.out.reserve(header.len(len) + size);
        header
            .format(len, &mut self.out)
            .map_err(|_| io::Error::other("frame header"))?;
        for part in payload {
            self.out.extend_from_slice(part.as_ref());
            if self.out.len() >= WRITE_CHUNK {
                self.write_out().await?;
            }
        }
        Ok(())
    }

    /// Writes every queued frame.
    pub async fn flush(&mut self) -> io::Result<()> {
        self.write_out().await?;
        self.io.flush().await
    }

    /// Cancel-safe: what was written is taken off `out` at each write, so a write
    /// given up (the kill switch) and started again sends no byte twice.
    async fn write_out(&mut self) -> io::Result<()> {
        while !self.out.is_empty() {
            let n = self.io.write(&self.out).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.out.drain(..n);
        }
        self.out = Vec::new();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A frame as a client sends it: masked.
    fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut out = vec![first];
        let len = payload.len();
        if len < 126 {
            out.push(0x80 | len as u8);
        } else if len < 65536 {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        out
    }

    const TEXT: u8 = 0x81;
    const BINARY: u8 = 0x82;

    async fn read_all(bytes: Vec<u8>, max: usize) -> (Vec<Message>, End) {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let writer = tokio::spawn(async move {
            // Byte by byte: every frame arrives split at every point.
            for b in bytes {
                client.write_all(&[b]).await.unwrap();
            }
            client.shutdown().await.unwrap();
            client
        });
        let mut reader = Reader::new(server, max);
        let mut got = Vec::new();
        let end = loop {
            match reader.next().await {
                Ok(m) => got.push(m),
                Err(e) => break e,
            }
        };
        drop(writer.await.unwrap());
        (got, end)
    }

    #[tokio::test]
    async fn messages_of_every_length_format_fragments_and_pings_are_read() {
        let long = "é".repeat(40_000); // 80,000 bytes: a 64-bit length
        let mid = "x".repeat(300); // a 16-bit length
        let mut bytes = client_frame(TEXT, b"CONNECT\n\n\0");
        bytes.extend(client_frame(TEXT, mid.as_bytes()));
        bytes.extend(client_frame(TEXT, long.as_bytes()));
        // "héllo" in three fragments, split inside the é, a ping and a pong between.
        let h = "héllo".as_bytes();
        bytes.extend(client_frame(0x01, &h[..2]));
        bytes.extend(client_frame(0x89, b"are you there"));
        bytes.extend(client_frame(0x00, &h[2..4]));
        bytes.extend(client_frame(0x8A, b""));
        bytes.extend(client_frame(0x80, &h[4..]));
        bytes.extend(client_frame(BINARY, &[0, 1, 2]));
        bytes.extend(client_frame(0x88, &1000u16.to_be_bytes()));
        bytes.extend(client_frame(TEXT, b"after the close: not read"));
        let (got, end) = read_all(bytes, 100_000).await;
        assert_eq!(
            got,
            vec![
                Message::Text("CONNECT\n\n\0".into()),
                Message::Text(mid),
                Message::Text(long),
                Message::Ping(b"are you there".to_vec()),
                Message::Text("héllo".into()),
                Message::Binary(vec![0, 1, 2]),
            ]
        );
        assert!(matches!(end, End::Closed), "{end:?}");
    }

    #[tokio::test]
    async fn frames_breaking_the_rules_end_the_reading() {
        let unmasked = {
            let mut f = vec![TEXT, 2];
            f.extend_from_slice(b"hi");
            f
        };
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("unmasked", unmasked),
            ("reserved bit", client_frame(0xC1, b"hi")),
            ("reserved opcode", client_frame(0x83, b"hi")),
            ("fragmented ping", client_frame(0x09, b"hi")),
            ("long ping", client_frame(0x89, &[0; 126])),
            ("continuation first", client_frame(0x80, b"hi")),
            ("not UTF-8", client_frame(TEXT, &[0xff, 0xfe])),
            ("new message inside another", {
                let mut b = client_frame(0x01, b"a");
                b.extend(client_frame(TEXT, b"b"));
                b
            }),
        ];
        for (name, bytes) in cases {
            let (got, end) = read_all(bytes, 1000).await;
            assert!(got.is_empty(), "{name}: {got:?}");
            assert!(matches!(end, End::Protocol(_)), "{name}: {end:?}");
        }
    }

    #[tokio::test]
    async fn a_message_over_the_limit_ends_before_its_payload_is_read() {
        let (got, end) = read_all(client_frame(TEXT, &[b'a'; 1001]), 1000).await;
        assert!(got.is_empty());
        assert!(matches!(end, End::TooLarge), "{end:?}");
        // In fragments: the sum counts.
        let mut bytes = client_frame(0x01, &[b'a'; 600]);
        bytes.extend(client_frame(0x80, &[b'a'; 600]));
        let (_, end) = read_all(bytes, 1000).await;
        assert!(matches!(end, End::TooLarge), "{end:?}");
        // Declared length alone is enough: no payload follows it here.
        let mut header = vec![TEXT, 0x80 | 127];
        header.extend_from_slice(&(u64::MAX / 2).to_be_bytes());
        header.extend_from_slice(&[1, 2, 3, 4]);
        let (_, end) = read_all(header, 1000).await;
        assert!(matches!(end, End::TooLarge), "{end:?}");
    }

    #[tokio::test]
    async fn frames_read_together_are_taken_without_moving_the_rest() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let mut reader = Reader::new(server, 1000);
        let mut bytes = Vec::new();
        for i in 0..300 {
            bytes.extend(client_frame(TEXT, format!("{i}").as_bytes()));
        }
        let read = bytes.len();
        assert!(read <= READ_CHUNK);
        client.write_all(&bytes).await.unwrap();
        for i in 0..299 {
            assert_eq!(reader.next().await.unwrap(), Message::Text(format!("{i}")));
            // The frames after it are still where the read put them: nothing moved.
            assert_eq!(reader.pending.len(), read);
        }
        assert_eq!(reader.next().await.unwrap(), Message::Text("299".into()));
        assert_eq!(reader.pending.capacity(), 0);
    }

    #[tokio::test]
    async fn an_idle_reader_holds_no_buffer() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut reader = Reader::new(server, 1000);
        let mut bytes = client_frame(TEXT, b"one");
        bytes.extend(&client_frame(TEXT, b"two")[..3]);
        client.write_all(&bytes).await.unwrap();
        assert_eq!(reader.next().await.unwrap(), Message::Text("one".into()));
        // Part of the next frame is kept; waiting for the rest can be cancelled.
        let wait = tokio::time::timeout(std::time::Duration::from_millis(20), reader.next());
        assert!(wait.await.is_err());
        assert!(reader.pending.capacity() > 0);
        client
            .write_all(&client_frame(TEXT, b"two")[3..])
            .await
            .unwrap();
        assert_eq!(reader.next().await.unwrap(), Message::Text("two".into()));
        assert_eq!(reader.pending.capacity(), 0);
    }

    #[tokio::test]
    async fn a_write_given_up_and_started_again_sends_each_byte_once() {
        let (server, mut client) = tokio::io::duplex(16);
        let mut writer = Writer::new(server);
        writer.text(&"x".repeat(100)).await.unwrap();
        // The peer reads nothing: the flush is given up after part of the frame.
        let given_up = tokio::time::timeout(std::time::Duration::from_millis(20), writer.flush());
        assert!(given_up.await.is_err());
        let reading = tokio::spawn(async move {
            let mut got = vec![0u8; 102];
            client.read_exact(&mut got).await.unwrap();
            got
        });
        writer.flush().await.unwrap();
        let mut expected = vec![TEXT, 100];
        expected.extend_from_slice(&[b'x'; 100]);
        assert_eq!(reading.await.unwrap(), expected);
    }

    #[tokio::test]
    async fn frames_are_written_unmasked_and_the_buffer_is_let_go_of() {
        let (server, mut client) = tokio::io::duplex(256 * 1024);
        let mut writer = Writer::new(server);
        writer.text("a").await.unwrap();
        writer.text(&"b".repeat(200)).await.unwrap();
        writer.pong(b"p").await.unwrap();
        writer.flush().await.unwrap();
        assert_eq!(writer.out.capacity(), 0);
        // Past WRITE_CHUNK the frames go out before the flush.
        writer.text(&"c".repeat(70_000)).await.unwrap();
        assert_eq!(writer.out.capacity(), 0);
        writer.close().await.unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        let mut expected = vec![TEXT, 1, b'a', TEXT, 126, 0, 200];
        expected.extend_from_slice(&[b'b'; 200]);
        expected.extend_from_slice(&[0x8A, 1, b'p', TEXT, 127]);
        expected.extend_from_slice(&70_000u64.to_be_bytes());
        expected.extend_from_slice(&[b'c'; 70_000]);
        expected.extend_from_slice(&[0x88, 2, 0x03, 0xE8]);
        assert_eq!(got, expected);
    }

    #[tokio::test]
    async fn parts_written_as_one_message_cross_write_chunks_whole() {
        let (server, mut client) = tokio::io::duplex(256 * 1024);
        let mut writer = Writer::new(server);
        let parts = vec!["a".repeat(10_000), "b".repeat(10_000), "c".to_owned()];
        writer.text_of(&parts).await.unwrap();
        writer.close().await.unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        let mut expected = vec![TEXT, 126];
        expected.extend_from_slice(&20_001u16.to_be_bytes());
        expected.extend_from_slice(parts.concat().as_bytes());
        expected.extend_from_slice(&[0x88, 2, 0x03, 0xE8]);
        assert_eq!(got, expected);
    }
}
