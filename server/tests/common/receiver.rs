//! A webhook receiver the tests start: an HTTP/1.1 server on loopback that records
//! every request and checks its signature the Standard Webhooks way (written here from
//! the specification, not with the server's code), answering as the test says.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How the receiver answers.
#[derive(Clone)]
pub enum Mode {
    /// `200 {}`.
    Ok,
    /// This status.
    Status(u16),
    /// Reads the request and never answers.
    Hang,
    /// This status for the next `n` requests, then `200`.
    FailFirst(u16, usize),
    /// The answer body (200) from the request body.
    Answer(Arc<dyn Fn(&Value) -> String + Send + Sync>),
}

/// One request received.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: Value,
    pub raw: Vec<u8>,
    pub at: Instant,
    /// When it arrived, Unix seconds (the signature's timestamp is checked against it).
    pub at_unix: i64,
}

impl Received {
    pub fn kind(&self) -> &str {
        self.body["type"].as_str().unwrap_or("")
    }

    /// Whether one of the `v1,` signatures is `secret`'s over `id.timestamp.body`, and
    /// the timestamp within five minutes of the request's arrival (the specification's
    /// tolerance).
    pub fn signed_with(&self, secret: &str) -> bool {
        verify(
            secret,
            &self.id,
            self.timestamp,
            &self.raw,
            &self.signature,
            self.at_unix,
        )
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The Standard Webhooks verification, for a request that arrived at `now` (Unix
/// seconds).
pub fn verify(secret: &str, id: &str, timestamp: i64, body: &[u8], header: &str, now: i64) -> bool {
    if (now - timestamp).abs() > 300 {
        return false;
    }
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| STANDARD.decode(k).ok())
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    header
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| s == expected)
}

pub struct Receiver {
    pub port: u16,
    pub mode: Arc<Mutex<Mode>>,
    pub got: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// A receiver on a free loopback port.
    pub async fn start(mode: Mode) -> Receiver {
        Self::start_on(0, mode).await
    }

    /// A receiver on `port` (0: any).
    pub async fn start_on(port: u16, mode: Mode) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(Mutex::new(mode));
        let got = Arc::new(Mutex::new(Vec::new()));
        let (m, g) = (mode.clone(), got.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (m, g) = (m.clone(), g.clone());
                tokio::spawn(serve(stream, m, g));
            }
        });
        Receiver {
            port,
            mode,
            got,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks", self.port)
    }

    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (up to `wait`) until `pred` holds of what was received.
    pub async fn wait_until(
        &self,
        wait: Duration,
        pred: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let until = Instant::now() + wait;
        loop {
            let done = pred(&self.got.lock().unwrap()) || Instant::now() > until;
            if done {
                return self.received();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for a request of event type `kind` (and `pred`).
    pub async fn wait_for(
        &self,
        wait: Duration,
        kind: &str,
        pred: impl Fn(&Received) -> bool,
    ) -> Option<Received> {
        let got = self
            .wait_until(wait, |g| g.iter().any(|r| r.kind() == kind && pred(r)))
            .await;
        got.into_iter().find(|r| r.kind() == kind && pred(r))
    }
}

async fn serve(
    mut stream: tokio::net::TcpStream,
    mode: Arc<Mutex<Mode>>,
    got: Arc<Mutex<Vec<Received>>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_end, length) = loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let raw = buf[head_end..head_end + length].to_vec();
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    got.lock().unwrap().push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp").parse().unwrap_or(0),
        signature: header("webhook-signature"),
        body: body.clone(),
        raw,
        at: Instant::now(),
        at_unix: unix_now(),
    });
    let (status, answer) = {
        let mut m = mode.lock().unwrap();
        match &mut *m {
            Mode::Ok => (200, "{}".to_owned()),
            Mode::Status(s) => (*s, "{\"error\":\"nope\"}".to_owned()),
            Mode::Hang => (0, String::new()),
            Mode::FailFirst(s, n) => {
                if *n > 0 {
                    *n -= 1;
                    (*s, "{}".to_owned())
                } else {
                    (200, "{}".to_owned())
                }
            }
            Mode::Answer(f) => (200, f(&body)),
        }
    };
    if status == 0 {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return;
    }
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
