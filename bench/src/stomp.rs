//! A lean STOMP-over-WebSocket client: connection set-up with a chosen source address
//! (more than one ephemeral port range on loopback), frame I/O with the protocol
//! crate's codec, and the ChatKitty start-up and chat-session sequences of
//! docs/protocol.md §4.1 and 4.4 as the official client performs them.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use chatkitty_protocol::destination::{self, ERRORS_QUEUE};
use chatkitty_protocol::{Command, Decoder, Frame, Item};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Errors of the load generator: a message is enough.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// Result alias.
pub type Res<T> = Result<T, Error>;

/// A WebSocket over plain TCP.
pub type Ws = WebSocketStream<TcpStream>;
/// Its writing half.
pub type Sink = SplitSink<Ws, Message>;
/// Its reading half.
pub type Stream = SplitStream<Ws>;

/// How long one request of the set-up may take.
pub const WAIT: Duration = Duration::from_secs(60);

/// Opens `ws://{server}{path}` with subprotocol `v12.stomp`, from `source` when given.
/// Small tungstenite buffers: thousands of idle connections live in this process too.
pub async fn open(server: SocketAddr, source: Option<IpAddr>, path: &str) -> Res<Ws> {
    open_ws(server, source, path, Some("v12.stomp")).await
}

/// Opens `ws://{server}{path}` asking for `protocol` (none: no subprotocol header),
/// from `source` when given.
pub async fn open_ws(
    server: SocketAddr,
    source: Option<IpAddr>,
    path: &str,
    protocol: Option<&'static str>,
) -> Res<Ws> {
    let sock = TcpSocket::new_v4()?;
    if let Some(ip) = source {
        sock.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = sock.connect(server).await?;
    stream.set_nodelay(true)?;
    let mut req = format!("ws://{server}{path}").into_client_request()?;
    if let Some(p) = protocol {
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(p));
    }
    let cfg = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0);
    let (ws, _) = tokio_tungstenite::client_async_with_config(req, stream, Some(cfg)).await?;
    Ok(ws)
}

/// A connection during set-up: frames are decoded and kept until asked for.
pub struct Conn {
    /// The socket.
    pub ws: Ws,
    dec: Decoder,
    inbox: VecDeque<Frame>,
    seq: u64,
    /// The session id of the CONNECTED frame (docs/protocol.md §2.5), once there was one.
    pub session: Option<String>,
    /// The user named in CONNECT.
    pub user: Option<String>,
    /// The errors queue's subscription id.
    pub errors_id: Option<String>,
    /// (id, destination) of each topic SUBSCRIBE sent, in order.
    pub topics: Vec<(String, String)>,
}

impl Conn {
    /// Wraps an open socket.
    pub fn new(ws: Ws) -> Conn {
        Conn {
            ws,
            dec: Decoder::default(),
            inbox: VecDeque::new(),
            seq: 0,
            session: None,
            user: None,
            errors_id: None,
            topics: Vec::new(),
        }
    }

    /// The next frame, those kept by [`Conn::wait_for`] first; `None` once the
    /// connection is closed or broken. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Frame> {
        if let Some(f) = self.inbox.pop_front() {
            return Some(f);
        }
        loop {
            match self.dec.decode() {
                Ok(Some(Item::Frame(f))) => return Some(f),
                Ok(Some(Item::Heartbeat)) => continue,
                Ok(None) => {}
                Err(_) => return None,
            }
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => self.dec.push(t.as_bytes()),
                Some(Ok(Message::Binary(b))) => self.dec.push(&b),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// A fresh id with this prefix, unique on the connection.
    pub fn next_id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}-{}", self.seq)
    }

    /// Sends one frame as one text message.
    pub async fn send(&mut self, f: &Frame) -> Res<()> {
        self.ws
            .send(Message::Text(f.encode_to_string().into()))
            .await?;
        Ok(())
    }

    async fn next_frame(&mut self, deadline: tokio::time::Instant) -> Res<Frame> {
        loop {
            match self.dec.decode()? {
                Some(Item::Frame(f)) => return Ok(f),
                Some(Item::Heartbeat) => continue,
                None => {}
            }
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .map_err(|_| "timed out waiting for a frame")?
                .ok_or("connection closed")??;
            match msg {
                Message::Text(t) => self.dec.push(t.as_bytes()),
                Message::Binary(b) => self.dec.push(&b),
                Message::Close(_) => return Err("connection closed by the server".into()),
                _ => {}
            }
        }
    }

    /// The first frame matching `pred` (others are kept); an ERROR frame fails.
    pub async fn wait_for(&mut self, pred: impl Fn(&Frame) -> bool) -> Res<Frame> {
        if let Some(i) = self.inbox.iter().position(&pred) {
            return Ok(self.inbox.remove(i).expect("position is in range"));
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let f = self.next_frame(deadline).await?;
            if pred(&f) {
                return Ok(f);
            }
            if f.command == Command::Error {
                return Err(format!("ERROR frame: {}", f.body_str().unwrap_or("")).into());
            }
            self.inbox.push_back(f);
        }
    }

    /// Drops the frames kept so far (events of the set-up nobody waits for).
    pub fn clear_inbox(&mut self) {
        self.inbox.clear();
    }

    /// Waits for the RECEIPT of each of these receipts.
    pub async fn receipts(&mut self, receipts: &[String]) -> Res<()> {
        for r in receipts {
            self.wait_for(|f| f.command == Command::Receipt && f.header("receipt-id") == Some(r))
                .await?;
        }
        Ok(())
    }

    /// A relay SUBSCRIBE; its resource (docs/protocol.md §3.1).
    pub async fn relay(&mut self, dest: &str) -> Res<Value> {
        let id = self.next_id("subscription-id");
        self.send(
            &Frame::new(Command::Subscribe)
                .with_header("id", id.clone())
                .with_header("destination", dest),
        )
        .await?;
        let f = self
            .wait_for(|f| {
                f.command == Command::Message
                    && (f.header("subscription") == Some(&id)
                        || f.header("subscription-id") == Some(&id))
            })
            .await?;
        let v: Value = serde_json::from_slice(&f.body)?;
        if f.header("subscription-id").is_some() {
            return Err(format!("relay {dest} failed: {v}").into());
        }
        Ok(v["resource"].clone())
    }

    /// Sends a topic SUBSCRIBE with receipt; returns the receipt to wait for.
    pub async fn subscribe_topic(&mut self, dest: &str) -> Res<String> {
        let id = self.next_id("subscription-id");
        let receipt = self.next_id("receipt");
        self.topics.push((id.clone(), dest.to_owned()));
        self.send(
            &Frame::new(Command::Subscribe)
                .with_header("id", id)
                .with_header("receipt", receipt.clone())
                .with_header("ack", "client-individual")
                .with_header("destination", dest),
        )
        .await?;
        Ok(receipt)
    }

    /// An action SEND; the correlated event's resource (docs/protocol.md §3.3).
    pub async fn action(&mut self, dest: &str, body: &Value) -> Res<Value> {
        let receipt = self.next_id("receipt");
        self.send(
            &Frame::new(Command::Send)
                .with_header("destination", dest)
                .with_header("content-type", "application/json;charset=UTF-8")
                .with_header("receipt", receipt.clone())
                .with_body(body.to_string().into_bytes()),
        )
        .await?;
        let f = self
            .wait_for(|f| f.command == Command::Message && f.header("receipt-id") == Some(&receipt))
            .await?;
        let v: Value = serde_json::from_slice(&f.body)?;
        if f.header("destination") == Some(ERRORS_QUEUE) {
            return Err(format!("action {dest} failed: {v}").into());
        }
        self.receipts(&[receipt]).await?;
        Ok(v["resource"].clone())
    }

    /// The official client's start-up sequence (docs/protocol.md §4.1), the ten topic
    /// receipts included; the CurrentUser.
    pub async fn start_session(&mut self, username: &str) -> Res<Value> {
        self.send(
            &Frame::new(Command::Connect)
                .with_header("StompX-User", username)
                .with_header("StompX-User-Agent", "chatkitty-bench/0.1")
                .with_header("accept-version", "1.2")
                .with_header("heart-beat", "60000,10000"),
        )
        .await?;
        let connected = self.wait_for(|f| f.command == Command::Connected).await?;
        self.session = connected.header("session").map(str::to_owned);
        self.user = Some(username.to_owned());
        let user = self.relay(destination::CURRENT_USER_RELAY).await?;
        let errors = self.next_id("subscription-id");
        self.errors_id = Some(errors.clone());
        self.send(
            &Frame::new(Command::Subscribe)
                .with_header("id", errors)
                .with_header("destination", ERRORS_QUEUE),
        )
        .await?;
        self.relay(destination::WRITE_GRANT_RELAY).await?;
        self.relay(destination::READ_GRANT_RELAY).await?;
        let mut receipts = Vec::new();
        for t in USER_TOPICS {
            let dest = user["_topics"][t]
                .as_str()
                .ok_or("CurrentUser lacks a topic")?
                .to_owned();
            receipts.push(self.subscribe_topic(&dest).await?);
        }
        self.receipts(&receipts).await?;
        Ok(user)
    }

    /// The chat-session sequence (docs/protocol.md §4.4), every receipt awaited.
    pub async fn start_chat(&mut self, channel: &Value) -> Res<()> {
        let topic = |t: &str| -> Res<String> {
            Ok(channel["_topics"][t]
                .as_str()
                .ok_or("channel lacks a topic")?
                .to_owned())
        };
        let r = self.subscribe_topic(&topic("self")?).await?;
        self.receipts(&[r]).await?;
        let mut receipts = Vec::new();
        for t in CHANNEL_TOPICS {
            receipts.push(self.subscribe_topic(&topic(t)?).await?);
        }
        self.receipts(&receipts).await
    }

    /// Splits into halves for the measurement phase. Frames still buffered are lost
    /// (the set-up is over by then).
    pub fn split(self) -> (Sink, Stream) {
        self.ws.split()
    }
}

/// The ten user topics, in the official client's order.
pub const USER_TOPICS: [&str; 10] = [
    "self",
    "channels",
    "messages",
    "notifications",
    "contacts",
    "participants",
    "users",
    "reactions",
    "threads",
    "calls",
];

/// The chat-session topics after `self`, in the official client's order.
pub const CHANNEL_TOPICS: [&str; 7] = [
    "messages",
    "keystrokes",
    "typing",
    "participants",
    "readReceipts",
    "reactions",
    "events",
];

/// A SEND of a TEXT message (with a receipt, as the official client sends it).
pub fn text_message(dest: &str, receipt: &str, text: &str) -> String {
    let body = serde_json::json!({"type": "TEXT", "body": text}).to_string();
    Frame::new(Command::Send)
        .with_header("destination", dest)
        .with_header("content-type", "application/json;charset=UTF-8")
        .with_header("receipt", receipt)
        .with_body(body.into_bytes())
        .encode_to_string()
}

/// The `n`-th loopback source address: 127.0.0.2, 127.0.0.3, … one per 20,000
/// connections, so the ephemeral port range of one source address is never exhausted.
pub fn source_for(n: usize) -> Option<IpAddr> {
    let k = 2 + (n / 20_000) as u8;
    Some(IpAddr::from([127, 0, 0, k]))
}
