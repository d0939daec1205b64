//! Webhook figures (run by `bench/webhooks.sh`, not by the test command: it is
//! `#[ignore]`d and asserts nothing about time). One server in this process, a local
//! receiver verifying every signature, and a load of STOMP clients:
//!
//! 1. **Throughput**: a burst of messages sent as fast as one connection can, one
//!    `message.created` each: webhooks delivered per second from the first send to the
//!    last receipt, per `--webhook-concurrency`.
//! 2. **Delay under fan-out load**: senders post messages at a fixed rate into a channel
//!    whose members all follow it in chat sessions (each message is fanned out to every
//!    member over WebSocket), while the endpoint receives `message.created` for each:
//!    from just before the send (the message's `properties.sentMs`) to the receiver,
//!    p50 / p99, and what was delivered of what was offered.
//!
//! Settings by environment: `BENCH_MEMBERS` (100), `BENCH_RATES` (messages/s, `200,500,1000`),
//! `BENCH_SECONDS` per rate (10), `BENCH_BACKLOG` (5000), `BENCH_CONCURRENCY` (`8,32`).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chatkitty_protocol::{Command, Frame};
use chatkitty_server::Config;
use common::receiver::{Mode, Receiver};
use common::*;
use serde_json::{json, Value};

fn env_list(name: &str, default: &str) -> Vec<u64> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return -1;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

async fn server(concurrency: u32) -> TestServer {
    TestServer::start_with(move |c: &mut Config| {
        c.webhook_allow_private = true;
        c.webhook_concurrency = concurrency;
        c.send_rate = 100_000;
        c.send_burst = 100_000;
        c.max_connections_per_address = 0;
    })
    .await
}

async fn endpoint(server: &TestServer, url: &str) -> (i64, String) {
    let state = server.state();
    let app = state.apps[KEY];
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned();
    let e = state
        .store
        .create_endpoint(&chatkitty_server::store::NewEndpoint {
            app_id: app,
            url,
            description: "bench",
            event_types: ",message.created,",
            secret: &secret,
        })
        .await
        .unwrap();
    (e.id, secret)
}

/// Sends `n` messages to `ch` without waiting for each answer (receipts drained
/// afterwards), stamped with `sentMs`.
async fn blast(c: &mut Client, ch: &Value, n: usize) {
    let dest = ch["_actions"]["message"].as_str().unwrap().to_owned();
    for i in 0..n {
        let f = Frame::new(Command::Send)
            .with_header("destination", dest.as_str())
            .with_header("content-type", "application/json;charset=UTF-8")
            .with_body(
                json!({"type": "TEXT", "body": format!("m{i}"), "properties": {"sentMs": now_ms()}})
                    .to_string()
                    .into_bytes(),
            );
        c.send(&f).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: bench/webhooks.sh"]
async fn webhook_throughput_and_delay() {
    let backlog = env_list("BENCH_BACKLOG", "5000")[0] as usize;
    let members = env_list("BENCH_MEMBERS", "100")[0] as usize;
    let seconds = env_list("BENCH_SECONDS", "10")[0];
    let mut results = Vec::new();

    // 1. A burst: `backlog` messages sent as fast as one connection can, each one
    //    webhook; from the first send to the last webhook received.
    for concurrency in env_list("BENCH_CONCURRENCY", "8,32") {
        let rx = Receiver::start(Mode::Ok).await;
        let server = server(concurrency as u32).await;
        let (_, secret) = endpoint(&server, &rx.url()).await;
        let mut jane = Client::start(&server.host(), "jane").await;
        let ch = jane.direct_with("john").await;
        let started = Instant::now();
        let mut sent = 0;
        while sent < backlog {
            // A batch's worth, then its answers (a client that stops reading is paced).
            let n = (backlog - sent).min(64);
            blast(&mut jane, &ch, n).await;
            sent += n;
            for _ in 0..n {
                jane.next_frame(WAIT).await;
            }
        }
        let sending = started.elapsed();
        let got = rx
            .wait_until(Duration::from_secs(300), |g| g.len() >= backlog)
            .await;
        let took = got.iter().map(|r| r.at).max().unwrap_or(started) - started;
        let valid = got.iter().filter(|r| r.signed_with(&secret)).count();
        let per_sec = got.len() as f64 / took.as_secs_f64();
        println!(
            "burst: {backlog} messages sent in {:.2} s; webhooks, concurrency {concurrency}: {} in {:.2} s, \
             {per_sec:.0}/s ({valid} signatures valid)",
            sending.as_secs_f64(),
            got.len(),
            took.as_secs_f64(),
        );
        results.push(
            json!({"kind": "burst", "concurrency": concurrency, "messages": backlog,
            "sendSeconds": sending.as_secs_f64(), "seconds": took.as_secs_f64(),
            "webhooksPerSecond": per_sec, "validSignatures": valid, "received": got.len()}),
        );
    }

    // 2. Delay under fan-out load.
    for rate in env_list("BENCH_RATES", "200,500,1000") {
        let rx = Receiver::start(Mode::Ok).await;
        let delays: Arc<Mutex<Vec<i64>>> = Arc::default();
        let server = server(8).await;
        let (_, secret) = endpoint(&server, &rx.url()).await;
        let host = server.host();
        let mut owner = Client::start(&host, "owner").await;
        let (_, ch) = owner
            .create_channel(json!({"type": "PUBLIC", "name": "fanout"}))
            .await
            .unwrap();
        let cid = ch["id"].as_i64().unwrap();
        let mut readers = Vec::new();
        for i in 0..members {
            let mut c = Client::start(&host, &format!("member{i}")).await;
            c.action(&format!("/application/v1/channels/{cid}.join"), json!({}))
                .await
                .unwrap();
            c.start_chat(&ch).await;
            readers.push(c);
        }
        // Readers drain their sockets in the background.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = Vec::new();
        for mut c in readers {
            let stop = stop.clone();
            tasks.push(tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    c.next_frame(Duration::from_millis(200)).await;
                }
            }));
        }
        let total = (rate * seconds) as usize;
        let tick = Duration::from_millis(10);
        let per_tick = (rate as f64 / 100.0).max(1.0);
        let started = Instant::now();
        let mut sent = 0usize;
        let mut owed = 0.0;
        let mut next = Instant::now();
        while sent < total {
            owed += per_tick;
            let n = (owed as usize).min(total - sent);
            owed -= n as f64;
            if n > 0 {
                blast(&mut owner, &ch, n).await;
                sent += n;
            }
            // Answers drained as they come.
            while owner.next_frame(Duration::from_millis(0)).await.is_some() {}
            next += tick;
            tokio::time::sleep_until(next.into()).await;
        }
        let offered = sent as f64 / started.elapsed().as_secs_f64();
        // The sender keeps reading its answers until every webhook has arrived.
        let deadline = Instant::now() + Duration::from_secs(120);
        while rx.got.lock().unwrap().len() < total && Instant::now() < deadline {
            owner.next_frame(Duration::from_millis(20)).await;
        }
        let got = rx.received();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
        {
            let mut d = delays.lock().unwrap();
            for r in &got {
                let sent_ms = r.body["data"]["message"]["properties"]["sentMs"]
                    .as_i64()
                    .unwrap_or(0);
                let arrived = now_ms() - r.at.elapsed().as_millis() as i64;
                d.push(arrived - sent_ms);
            }
            d.sort_unstable();
        }
        let d = delays.lock().unwrap();
        let valid = got.iter().filter(|r| r.signed_with(&secret)).count();
        let (p50, p99) = (percentile(&d, 0.5), percentile(&d, 0.99));
        println!(
            "fan-out into {members} members at {rate} messages/s ({offered:.0} offered, {} deliveries/s to sockets): \
             {}/{total} webhooks, delay p50 {p50} ms, p99 {p99} ms ({valid} signatures valid)",
            (offered * members as f64) as u64,
            got.len()
        );
        results.push(
            json!({"kind": "fanout", "members": members, "rate": rate, "offered": offered,
            "webhooks": got.len(), "expected": total, "p50Ms": p50, "p99Ms": p99,
            "validSignatures": valid}),
        );
    }
    if let Ok(out) = std::env::var("BENCH_OUT") {
        std::fs::write(out, serde_json::to_string_pretty(&results).unwrap()).unwrap();
    }
}
