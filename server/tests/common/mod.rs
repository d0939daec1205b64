//! A native STOMP client over a real WebSocket, speaking to a server started in the
//! test: the same frames the official client sends (docs/protocol.md §4.1).
#![allow(dead_code)]

pub mod http;
pub mod receiver;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chatkitty_protocol::destination::{self, ERRORS_QUEUE};
use chatkitty_protocol::{Command, Decoder, Frame, Item};
use chatkitty_server::{Config, Running};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const KEY: &str = "test-key";
pub const WAIT: Duration = Duration::from_secs(5);

static SEQ: AtomicU64 = AtomicU64::new(1);

fn next_id(prefix: &str) -> String {
    format!("{prefix}-{}", SEQ.fetch_add(1, Ordering::Relaxed))
}

/// A server on a fresh SQLite file (the directory lives as long as the server).
pub struct TestServer {
    pub running: Option<Running>,
    pub dir: tempfile::TempDir,
    /// Declared after `running`, so it is dropped after the server.
    pub db: TestDb,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(f: impl FnOnce(&mut Config)) -> TestServer {
        // The server's errors (a store failure behind an InternalError, say) in the
        // test's captured output, which libtest prints when the test fails.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("chatkitty_server=error"))
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let db = test_database(&dir).await;
        let mut config = Config::for_tests(&*db, KEY);
        config.files_dir = dir.path().join("files");
        config.typing_timeout_ms = 600;
        f(&mut config);
        let running = chatkitty_server::spawn(config)
            .await
            .expect("server starts");
        TestServer {
            running: Some(running),
            dir,
            db,
        }
    }

    pub fn host(&self) -> String {
        self.running.as_ref().unwrap().host()
    }

    pub fn state(&self) -> &chatkitty_server::state::AppState {
        &self.running.as_ref().unwrap().state
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }
}

/// The database of one test: a SQLite file in `dir`, or, when
/// `CHATKITTY_TEST_POSTGRES` names a PostgreSQL server (scripts/with-postgres.sh), a
/// fresh database on it, so the same tests run against both stores.
///
/// A PostgreSQL database is dropped when the [`TestDb`] is: each one costs about 8 MB
/// of files and as much write-ahead log, and a run of the test command creates some
/// 160 of them, more than a small disk holds at once.
pub async fn test_database(dir: &tempfile::TempDir) -> TestDb {
    match std::env::var("CHATKITTY_TEST_POSTGRES") {
        Ok(admin) if !admin.is_empty() => {
            use sqlx::Connection;
            let name = format!(
                "chatkitty_test_{}_{}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            );
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("admin connection to PostgreSQL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create database");
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            TestDb {
                url: format!("{base}/{name}"),
                on_postgres: Some((admin, name)),
            }
        }
        _ => TestDb {
            url: dir.path().join("chat.db").to_str().unwrap().to_owned(),
            on_postgres: None,
        },
    }
}

/// A test's database URL ([`test_database`]); derefs to the URL. Keep it as long as
/// a server may use the database: dropping it drops a PostgreSQL database, with
/// whatever connections are still open to it.
pub struct TestDb {
    url: String,
    /// The admin URL and the database's name, on PostgreSQL.
    on_postgres: Option<(String, String)>,
}

impl std::ops::Deref for TestDb {
    type Target = str;
    fn deref(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.on_postgres.take() else {
            return;
        };
        // Drop runs on the test's runtime, which cannot be blocked on: a thread of its
        // own with a runtime of its own. The test does not wait for it (a drop forces a
        // checkpoint, a few hundred milliseconds here). A drop that fails, or that the
        // end of the process cuts short, leaves the database to the cluster's removal
        // at the end of the run, and never fails a test.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
                let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(drop))
                    .execute(&mut conn)
                    .await
                    .ok()
            })
        });
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens the WebSocket like a browser stompjs client (subprotocol `v12.stomp`).
pub async fn open_ws(host: &str, api_key: &str) -> (Ws, Option<String>) {
    let mut req = format!("ws://{host}/rtm/websocket?api-key={api_key}")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "v12.stomp".parse().unwrap());
    let (ws, resp) = tokio_tungstenite::connect_async(req)
        .await
        .expect("websocket opens");
    let proto = resp
        .headers()
        .get("sec-websocket-protocol")
        .map(|v| v.to_str().unwrap().to_owned());
    (ws, proto)
}

pub struct Client {
    pub ws: Ws,
    decoder: Decoder,
    /// Frames received and not yet consumed by an expectation.
    pub inbox: VecDeque<Frame>,
    pub user: Value,
    pub username: String,
    pub connected: Option<Frame>,
    pub errors_sub: Option<String>,
    pub closed: bool,
}

impl Client {
    /// A client over an open socket, before CONNECT.
    pub fn from_ws(ws: Ws, username: &str) -> Client {
        Client {
            ws,
            decoder: Decoder::default(),
            inbox: VecDeque::new(),
            user: Value::Null,
            username: username.to_owned(),
            connected: None,
            errors_sub: None,
            closed: false,
        }
    }

    /// WebSocket + CONNECT; returns the client and the first answer (CONNECTED or ERROR).
    pub async fn connect_raw(
        host: &str,
        api_key: &str,
        username: &str,
        extra: &[(&str, &str)],
    ) -> (Client, Frame) {
        let (ws, _) = open_ws(host, api_key).await;
        let mut c = Client::from_ws(ws, username);
        let mut connect = Frame::new(Command::Connect)
            .with_header("StompX-User", username)
            .with_header("StompX-User-Agent", "ChatKitty-JS/1.58.2")
            .with_header("accept-version", "1.2")
            .with_header("heart-beat", "60000,10000");
        for (k, v) in extra {
            connect.push_header(*k, *v);
        }
        c.send(&connect).await;
        let first = c.next_frame(WAIT).await.expect("answer to CONNECT");
        (c, first)
    }

    /// The official client's start-up sequence (docs/protocol.md §4.1), receipts awaited.
    pub async fn start(host: &str, username: &str) -> Client {
        Client::start_with_key(host, KEY, username).await
    }

    /// [`Client::start`] with another application's key.
    pub async fn start_with_key(host: &str, key: &str, username: &str) -> Client {
        let (mut c, first) = Client::connect_raw(host, key, username, &[]).await;
        assert_eq!(first.command, Command::Connected, "{first:?}");
        c.connected = Some(first);
        c.user = c
            .relay(destination::CURRENT_USER_RELAY, &[])
            .await
            .expect("current user");
        let errors = next_id("errors");
        c.send(
            &Frame::new(Command::Subscribe)
                .with_header("id", errors.clone())
                .with_header("destination", ERRORS_QUEUE),
        )
        .await;
        c.errors_sub = Some(errors);
        c.relay(destination::WRITE_GRANT_RELAY, &[])
            .await
            .expect("write grant");
        c.relay(destination::READ_GRANT_RELAY, &[])
            .await
            .expect("read grant");
        for t in [
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
        ] {
            let dest = c.user["_topics"][t].as_str().unwrap().to_owned();
            c.subscribe(&dest).await.expect("user topic subscribed");
        }
        c
    }

    /// Accepts frames up to `bytes` from now on (the default is the codec's 1 MiB).
    pub fn accept_frames_up_to(&mut self, bytes: usize) {
        self.decoder = Decoder::new(chatkitty_protocol::Limits {
            max_frame_bytes: bytes,
            ..chatkitty_protocol::Limits::DEFAULT
        });
    }

    pub fn id(&self) -> i64 {
        self.user["id"].as_i64().unwrap()
    }

    pub fn topic(&self, name: &str) -> String {
        self.user["_topics"][name].as_str().unwrap().to_owned()
    }

    pub async fn send(&mut self, f: &Frame) {
        self.ws
            .send(Message::Text(f.encode_to_string().into()))
            .await
            .expect("send");
    }

    /// Sends text as it is; `false` when the socket is closed already.
    pub async fn try_send_raw(&mut self, text: &str) -> bool {
        self.ws
            .send(Message::Text(text.to_owned().into()))
            .await
            .is_ok()
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.to_owned().into()))
            .await
            .expect("send");
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(Message::Binary(bytes.into()))
            .await
            .expect("send");
    }

    /// The next frame from the server (heart-beats skipped), or `None` on timeout/close.
    pub async fn next_frame(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            loop {
                match self.decoder.decode() {
                    Ok(Some(Item::Frame(f))) => return Some(f),
                    Ok(Some(Item::Heartbeat)) => continue,
                    Ok(None) => break,
                    Err(e) => panic!("server sent a malformed frame: {e}"),
                }
            }
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??;
            match msg {
                Ok(Message::Text(t)) => self.decoder.push(t.as_bytes()),
                Ok(Message::Binary(b)) => self.decoder.push(&b),
                Ok(Message::Close(_)) | Err(_) => {
                    self.closed = true;
                    return None;
                }
                Ok(_) => {}
            }
        }
    }

    /// Waits for the first frame matching `pred`, keeping the others in the inbox.
    pub async fn wait_for(
        &mut self,
        wait: Duration,
        pred: impl Fn(&Frame) -> bool,
    ) -> Option<Frame> {
        if let Some(i) = self.inbox.iter().position(&pred) {
            return self.inbox.remove(i);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let f = self.next_frame(left).await?;
            if pred(&f) {
                return Some(f);
            }
            self.inbox.push_back(f);
        }
    }

    /// A relay: SUBSCRIBE with parameter headers; the resource, or the error body.
    pub async fn relay(&mut self, dest: &str, params: &[(&str, &str)]) -> Result<Value, Value> {
        let id = next_id("subscription-id");
        let mut f = Frame::new(Command::Subscribe)
            .with_header("id", id.clone())
            .with_header("destination", dest);
        for (k, v) in params {
            f.push_header(*k, *v);
        }
        self.send(&f).await;
        let got = self
            .wait_for(WAIT, |f| {
                f.command == Command::Message
                    && (f.header("subscription") == Some(&id)
                        || f.header("subscription-id") == Some(&id))
            })
            .await
            .unwrap_or_else(|| panic!("no answer to relay {dest}"));
        let body: Value = serde_json::from_slice(&got.body).unwrap();
        if got.header("subscription-id").is_some() {
            Err(body)
        } else {
            Ok(body["resource"].clone())
        }
    }

    /// A topic SUBSCRIBE with receipt; `Ok(id)` once the RECEIPT arrives, `Err(error)`.
    pub async fn subscribe(&mut self, dest: &str) -> Result<String, Value> {
        let id = next_id("subscription-id");
        let receipt = next_id("receipt");
        let f = Frame::new(Command::Subscribe)
            .with_header("id", id.clone())
            .with_header("receipt", receipt.clone())
            .with_header("ack", "client-individual")
            .with_header("destination", dest);
        self.send(&f).await;
        let got = self
            .wait_for(WAIT, |f| {
                (f.command == Command::Receipt && f.header("receipt-id") == Some(&receipt))
                    || (f.command == Command::Message && f.header("subscription-id") == Some(&id))
            })
            .await
            .unwrap_or_else(|| panic!("no receipt for {dest}"));
        if got.command == Command::Receipt {
            Ok(id)
        } else {
            Err(serde_json::from_slice(&got.body).unwrap())
        }
    }

    pub async fn unsubscribe(&mut self, id: &str) {
        self.send(&Frame::new(Command::Unsubscribe).with_header("id", id))
            .await;
    }

    /// An action: SEND with receipt; the correlated event (type, resource) or the
    /// error. Asserts the RECEIPT comes after it.
    pub async fn action(&mut self, dest: &str, body: Value) -> Result<(String, Value), Value> {
        self.action_with(dest, body, &[]).await
    }

    pub async fn action_with(
        &mut self,
        dest: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> Result<(String, Value), Value> {
        let receipt = next_id("receipt");
        let mut f = Frame::new(Command::Send)
            .with_header("destination", dest)
            .with_header("content-type", "application/json;charset=UTF-8")
            .with_header("receipt", receipt.clone())
            .with_body(body.to_string().into_bytes());
        for (k, v) in headers {
            f.push_header(*k, *v);
        }
        self.send(&f).await;
        let got = self
            .wait_for(WAIT, |f| f.header("receipt-id") == Some(&receipt))
            .await
            .unwrap_or_else(|| panic!("no answer to action {dest}"));
        let result = if got.command == Command::Receipt {
            Ok(("RECEIPT".to_owned(), Value::Null))
        } else {
            let v: Value = serde_json::from_slice(&got.body).unwrap();
            if got.header("destination") == Some(ERRORS_QUEUE) {
                Err(v)
            } else {
                Ok((
                    v["type"].as_str().unwrap().to_owned(),
                    v["resource"].clone(),
                ))
            }
        };
        if got.command != Command::Receipt {
            let r = self
                .wait_for(WAIT, |f| {
                    f.command == Command::Receipt && f.header("receipt-id") == Some(&receipt)
                })
                .await;
            assert!(r.is_some(), "RECEIPT follows the result of {dest}");
        }
        result
    }

    /// The next event of `kind` on `dest` (resource).
    pub async fn expect_event(&mut self, dest: &str, kind: &str) -> Value {
        self.try_event(dest, kind, WAIT)
            .await
            .unwrap_or_else(|| panic!("{} expected {kind} on {dest}", self.username))
    }

    /// The next `contact.presence.changed` on this client's contacts topic: whose
    /// (name) and whether they are online now.
    pub async fn expect_contact_presence(&mut self) -> (String, bool) {
        let p = self
            .expect_event(&self.topic("contacts"), "contact.presence.changed")
            .await;
        let online = p["presence"]["online"].as_bool();
        (
            p["name"].as_str().unwrap_or_default().to_owned(),
            online.expect("presence.online"),
        )
    }

    pub async fn try_event(&mut self, dest: &str, kind: &str, wait: Duration) -> Option<Value> {
        let f = self
            .wait_for(wait, |f| {
                f.command == Command::Message
                    && f.header("destination") == Some(dest)
                    && serde_json::from_slice::<Value>(&f.body).is_ok_and(|v| v["type"] == kind)
            })
            .await?;
        let v: Value = serde_json::from_slice(&f.body).unwrap();
        Some(v["resource"].clone())
    }

    /// Asserts no event of `kind` arrives on `dest` within `wait`.
    pub async fn expect_no_event(&mut self, dest: &str, kind: &str, wait: Duration) {
        if let Some(v) = self.try_event(dest, kind, wait).await {
            panic!("{} did not expect {kind} on {dest}: {v}", self.username);
        }
    }

    pub async fn create_channel(&mut self, body: Value) -> Result<(String, Value), Value> {
        let dest = self.user["_actions"]["createChannel"]
            .as_str()
            .unwrap()
            .to_owned();
        self.action(&dest, body).await
    }

    pub async fn direct_with(&mut self, other: &str) -> Value {
        self.create_channel(json!({"type": "DIRECT", "members": [{"username": other}]}))
            .await
            .unwrap()
            .1
    }

    pub async fn send_text(&mut self, channel: &Value, text: &str) -> Result<Value, Value> {
        let dest = channel["_actions"]["message"].as_str().unwrap().to_owned();
        self.action(&dest, json!({"type": "TEXT", "body": text}))
            .await
            .map(|(_, m)| m)
    }

    /// The chat-session sequence (docs/protocol.md §4.4); returns the subscription ids.
    pub async fn start_chat(&mut self, channel: &Value) -> Vec<String> {
        let mut ids = Vec::new();
        for t in [
            "self",
            "messages",
            "keystrokes",
            "typing",
            "participants",
            "readReceipts",
            "reactions",
            "events",
        ] {
            let dest = channel["_topics"][t].as_str().unwrap().to_owned();
            ids.push(
                self.subscribe(&dest)
                    .await
                    .expect("channel topic subscribed"),
            );
        }
        ids
    }

    pub async fn end_chat(&mut self, ids: &[String]) {
        for id in ids.iter().rev() {
            self.unsubscribe(id).await;
        }
    }

    /// DISCONNECT with a receipt; returns whether the RECEIPT came.
    pub async fn disconnect(&mut self) -> bool {
        self.send(&Frame::new(Command::Disconnect).with_header("receipt", "close-1"))
            .await;
        self.wait_for(WAIT, |f| {
            f.command == Command::Receipt && f.header("receipt-id") == Some("close-1")
        })
        .await
        .is_some()
    }

    /// Waits until the server closes the socket.
    pub async fn wait_closed(&mut self) -> bool {
        while !self.closed {
            if self.next_frame(WAIT).await.is_none() {
                return self.closed;
            }
        }
        true
    }

    pub fn header_of<'a>(f: &'a Frame, name: &str) -> Option<&'a str> {
        f.header(name)
    }
}

/// The bodies of a messages page's messages, in page order.
pub fn page_bodies(page: &Value) -> Vec<String> {
    page["_embedded"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}

pub fn body_json(f: &Frame) -> Value {
    serde_json::from_slice(&f.body).unwrap()
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", next_id("u"))
}
