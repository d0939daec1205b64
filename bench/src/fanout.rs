//! Fan-out: deliveries per second into one channel of M members, and send→receive
//! latency, while a few senders raise their rate step by step.
//!
//! `--target ours`: every member runs the official client's start-up sequence, joins
//! one PUBLIC channel and starts a chat session on it (docs/protocol.md §4.4); senders SEND
//! TEXT messages to the channel's `message` action. A delivery is a
//! `channel.message.created` MESSAGE on the channel's messages topic.
//!
//! `--target rabbitmq`: every member CONNECTs to Web-STOMP and SUBSCRIBEs
//! `/topic/<channel>` (amq.topic exchange, one queue per subscriber, auto ack);
//! senders SEND to the same destination. The body is padded so a delivered frame is
//! as long as ours (`--frame-bytes`), and every member receives what is sent.
//!
//! `--target nats`: every member opens NATS's WebSocket listener, sends CONNECT and
//! `SUB <channel> 1` (one subject per channel) and waits for the PONG of a PING behind
//! them; senders PUB to the subject. The payload is padded so a delivered
//! `MSG … \r\n<payload>\r\n` is `--frame-bytes` long. NATS may pack several MSGs
//! into one WebSocket message or split one across two; the reader parses the byte
//! stream, and answers the server's PINGs.
//!
//! Each message body starts with `@@fo<send time µs>@@`; the receiver subtracts. All
//! clients live in this process (one clock). A step offers `rate` messages/s for
//! `--step-secs`; the ramp stops after the first step the server could not keep up
//! with (fewer than 90% of the offered deliveries per second, or fewer than 99% of the
//! expected deliveries within 5 s of the step's end). With `--all-steps` every rate is
//! offered whatever happened before (the CPU-per-delivery mode).
//!
//! Per step, the server's CPU time (all its threads, `/proc/<pid>/stat`) from the
//! step's start to its last delivery gives CPU seconds, deliveries per server CPU
//! second and µs of server CPU per delivery; the same for this process.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chatkitty_protocol::destination;
use chatkitty_protocol::{Command, Frame};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{watch, Mutex};
use tokio_tungstenite::tungstenite::Message;

use crate::nats;
use crate::report::{self, percentile, round};
use crate::stomp::{self, Conn, Res, Sink, Stream, Ws};
use crate::{run_tag, Args};

static BASE: OnceLock<Instant> = OnceLock::new();

fn now_us() -> u64 {
    BASE.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// One delivery: send time (100 µs units since BASE) and latency (µs).
#[derive(Clone, Copy)]
struct Sample {
    send: u32,
    lat: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Ours,
    Rabbit,
    Nats,
}

impl Target {
    fn label(self) -> &'static str {
        match self {
            Target::Ours => "ours",
            Target::Rabbit => "rabbitmq",
            Target::Nats => "nats",
        }
    }
}

struct Shared {
    delivered: AtomicU64,
    frame_len: AtomicUsize,
    /// When the latest delivery arrived (µs since BASE).
    last_us: AtomicU64,
}

pub async fn run(a: &Args) -> Res<()> {
    now_us();
    let target = match a.str("target", "ours").as_str() {
        "ours" => Target::Ours,
        "rabbitmq" => Target::Rabbit,
        "nats" => Target::Nats,
        other => return Err(format!("--target ours|rabbitmq|nats, not {other}").into()),
    };
    let server = a.server()?;
    let pid: u32 = a.num("server-pid", 0)?;
    let sizes: Vec<usize> = a.list("members", "2,100,1000")?;
    let senders: usize = a.num("senders", 4)?;
    let step = Duration::from_secs_f64(a.num("step-secs", 5.0)?);
    let body_chars: usize = a.num("body-chars", 100)?;
    let frame_bytes: usize = a.num("frame-bytes", 0)?;
    let opts = Opts {
        all_steps: a.num("all-steps", false)?,
        notifications: a.num("notifications", false)?,
        idle: Duration::from_secs_f64(a.num("idle-secs", 0.0)?),
    };
    let mut out = Vec::new();
    for &m in &sizes {
        let default_rates = match m {
            // The highest rates are for the peers that get that far.
            0..=10 => "250,500,1000,2000,3000,4000,6000,8000,12000,16000,20000,24000,32000,48000",
            11..=300 => "50,100,200,400,800,1600,3200,6400",
            _ => "10,25,50,75,100,200,400,800",
        };
        let rates: Vec<f64> = a.list(&format!("rates-{m}"), default_rates)?;
        let r = run_size(
            a,
            target,
            server,
            pid,
            m,
            senders,
            step,
            &rates,
            body_chars,
            frame_bytes,
            &opts,
        )
        .await?;
        out.push(r);
    }
    let figures = json!({
        "target": match target {
            Target::Ours => "chatkitty-server",
            Target::Rabbit => "rabbitmq-web-stomp",
            Target::Nats => "nats-server-websocket",
        },
        "mode": if opts.all_steps { "cpu" } else { "ramp" },
        "delivered_as": if opts.notifications { "notifications" } else { "chat messages" },
        "server_cpus": report::cpus_allowed(pid),
        "load_generator_cpus": report::cpus_allowed(std::process::id()),
        "senders": senders,
        "step_secs": step.as_secs_f64(),
        "body_chars": body_chars,
        "sizes": out,
    });
    if let Some(path) = a.map_get("out") {
        report::write(&path, "load-fanout", figures)?;
    }
    Ok(())
}

struct Member {
    sink: Arc<Mutex<Sink>>,
    stream: Stream,
}

struct Opts {
    /// Offer every rate, also after one that was not kept up with.
    all_steps: bool,
    /// `--notifications` (ours): members join the channel but open no chat session, so
    /// each message reaches them as a `user.notification.created` on their
    /// notifications topic, rendered for each member, which is what is counted.
    notifications: bool,
    /// Measure the server's CPU with every member connected and nothing sent.
    idle: Duration,
}

#[allow(clippy::too_many_arguments)]
async fn run_size(
    a: &Args,
    target: Target,
    server: std::net::SocketAddr,
    pid: u32,
    m: usize,
    senders: usize,
    step: Duration,
    rates: &[f64],
    body_chars: usize,
    frame_bytes: usize,
    opts: &Opts,
) -> Res<Value> {
    let tag = format!("fo{}-{m}", run_tag());
    let t_setup = Instant::now();
    let (members, send_dest) = match target {
        Target::Ours => setup_ours(a, server, m, &tag, opts.notifications).await?,
        Target::Rabbit => setup_rabbit(server, m, &tag).await?,
        Target::Nats => setup_nats(server, m, &tag).await?,
    };
    let setup_secs = t_setup.elapsed().as_secs_f64();
    println!(
        "fanout {}: {m} members ready in {setup_secs:.1} s",
        target.label()
    );
    let shared = Arc::new(Shared {
        delivered: AtomicU64::new(0),
        frame_len: AtomicUsize::new(0),
        last_us: AtomicU64::new(0),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut sinks = Vec::new();
    let mut readers = Vec::new();
    for mem in members {
        sinks.push(mem.sink.clone());
        readers.push(tokio::spawn(reader(
            target,
            opts.notifications,
            mem.stream,
            mem.sink,
            shared.clone(),
            stop_rx.clone(),
        )));
    }
    // Keep every connection alive past the server's client heart-beat check.
    let beat_sinks = sinks.clone();
    let beat = tokio::spawn(async move {
        let mut iv = tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(30),
            Duration::from_secs(30),
        );
        loop {
            iv.tick().await;
            if target == Target::Ours {
                for s in &beat_sinks {
                    let _ = s.lock().await.send(Message::Text("\n".into())).await;
                }
            }
        }
    });
    let n_send = senders.min(m).max(1);
    // The text of a message: marker, then padding up to the body size.
    let pad = match target {
        Target::Ours => body_chars,
        // Web-STOMP's MESSAGE headers take about 230 bytes.
        Target::Rabbit => frame_bytes.saturating_sub(230).max(body_chars),
        Target::Nats => nats::payload_for_wire(&send_dest, nats::SID, frame_bytes, body_chars),
    };
    // Warm-up at the lowest rate (not recorded): connections, queues and caches of
    // both ends settle before the first measured step.
    {
        let sent = Arc::new(AtomicU64::new(0));
        let d0 = shared.delivered.load(Ordering::Relaxed);
        let mut tasks = Vec::new();
        for (j, sink) in sinks.iter().take(n_send).enumerate() {
            let (sink, dest, sent) = (sink.clone(), send_dest.clone(), sent.clone());
            let per = rates[0] / n_send as f64;
            let offset = Duration::from_secs_f64(j as f64 / rates[0]);
            tasks.push(tokio::spawn(async move {
                sender(
                    sink,
                    target,
                    dest,
                    per,
                    Duration::from_secs(2),
                    offset,
                    pad,
                    sent,
                )
                .await
            }));
        }
        for t in tasks {
            t.await??;
        }
        let expected = sent.load(Ordering::Relaxed) * m as u64;
        let until = Instant::now() + Duration::from_secs(10);
        while shared.delivered.load(Ordering::Relaxed) - d0 < expected && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let idle_cores = if opts.idle.is_zero() {
        None
    } else {
        let c0 = report::cpu_time(pid);
        let w0 = Instant::now();
        tokio::time::sleep(opts.idle).await;
        report::cores(c0, report::cpu_time(pid), w0.elapsed())
    };
    if let Some(c) = idle_cores {
        println!("  {m:>5} members  idle: server {c:.3} cores");
    }
    let mut steps = Vec::new();
    let mut windows = Vec::new();
    let mut stop_reason = None;
    for &rate in rates {
        let d0 = shared.delivered.load(Ordering::Relaxed);
        let cpu_s0 = report::cpu_time(pid);
        let cpu_c0 = report::cpu_time(std::process::id());
        let t0 = now_us();
        let w0 = Instant::now();
        let sent = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for (j, sink) in sinks.iter().take(n_send).enumerate() {
            let (sink, dest, sent) = (sink.clone(), send_dest.clone(), sent.clone());
            let per = rate / n_send as f64;
            let offset = Duration::from_secs_f64(j as f64 / rate);
            tasks.push(tokio::spawn(async move {
                sender(sink, target, dest, per, step, offset, pad, sent).await
            }));
        }
        // A connection the server closed (a slow consumer, say) ends the ramp.
        let mut failed = None;
        for t in tasks {
            if let Err(e) = t
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
            {
                failed.get_or_insert(e);
            }
        }
        let send_wall = w0.elapsed();
        let t1 = now_us();
        let sent = sent.load(Ordering::Relaxed);
        let expected = sent * m as u64;
        // Drain: until every expected delivery arrived, at most 5 s after the step.
        let drain_until = Instant::now() + Duration::from_secs(5);
        while shared.delivered.load(Ordering::Relaxed) - d0 < expected
            && Instant::now() < drain_until
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let wall = w0.elapsed();
        let cpu_s1 = report::cpu_time(pid);
        let cpu_c1 = report::cpu_time(std::process::id());
        let received = shared.delivered.load(Ordering::Relaxed) - d0;
        let last = shared.last_us.load(Ordering::Relaxed).max(t0 + 1);
        // Deliveries over the time from the step's start to its last delivery: the
        // offered rate when the server keeps up, its throughput when it does not.
        let achieved = received as f64 / ((last - t0) as f64 / 1e6);
        let offered = rate * m as f64;
        let kept_up = failed.is_none()
            && achieved >= 0.9 * offered
            && received as f64 >= 0.99 * expected as f64;
        let server_cores = report::cores(cpu_s0, cpu_s1, wall);
        let client_cores = report::cores(cpu_c0, cpu_c1, wall);
        let server_cpu = report::cpu_secs(cpu_s0, cpu_s1);
        let client_cpu = report::cpu_secs(cpu_c0, cpu_c1);
        let per_delivery_us = |cpu: Option<f64>| {
            cpu.filter(|_| received > 0)
                .map(|c| c * 1e6 / received as f64)
        };
        let server_us = per_delivery_us(server_cpu);
        let client_us = per_delivery_us(client_cpu);
        println!(
            "  {m:>5} members  offered {rate:>6.0} msg/s = {offered:>8.0} deliveries/s   achieved {achieved:>8.0} deliveries/s  ({received}/{expected} delivered)  server {:.2} cores, {:.2} µs/delivery; load generator {:.2} cores, {:.2} µs/delivery",
            server_cores.unwrap_or(f64::NAN),
            server_us.unwrap_or(f64::NAN),
            client_cores.unwrap_or(f64::NAN),
            client_us.unwrap_or(f64::NAN),
        );
        windows.push((t0, t1));
        steps.push(json!({
            "offered_messages_per_s": rate,
            "offered_deliveries_per_s": offered,
            "messages_sent": sent,
            "messages_per_s_sent": round(sent as f64 / send_wall.as_secs_f64(), 1),
            "deliveries_expected": expected,
            "deliveries_received": received,
            "deliveries_per_s": round(achieved, 0),
            "server_cores": server_cores.map(|c| round(c, 3)),
            "server_cpu_secs": server_cpu.map(|c| round(c, 2)),
            "deliveries_per_server_cpu_sec": server_cpu
                .filter(|c| *c > 0.0)
                .map(|c| round(received as f64 / c, 0)),
            "server_cpu_us_per_delivery": server_us.map(|c| round(c, 2)),
            "load_generator_cores": client_cores.map(|c| round(c, 3)),
            "load_generator_cpu_us_per_delivery": client_us.map(|c| round(c, 2)),
            "kept_up": kept_up,
            "connection_failed": failed,
        }));
        if let Some(e) = &failed {
            println!("  {m:>5} members  a sender's connection failed: {e}");
            stop_reason = Some(format!("a connection failed at {rate} messages/s: {e}"));
            break;
        }
        if !kept_up && !opts.all_steps {
            stop_reason = Some(format!("saturated at {rate} messages/s"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = stop_tx.send(true);
    beat.abort();
    let mut samples: Vec<Sample> = Vec::new();
    for r in readers {
        samples.extend(r.await?);
    }
    for s in &sinks {
        let _ = s.lock().await.close().await;
    }
    // Latency per step, by send time.
    let mut best = 0f64;
    let mut best_ok = 0f64;
    let mut best_ok_per_cpu = None;
    for (i, (t0, t1)) in windows.iter().enumerate() {
        let mut lats: Vec<f64> = samples
            .iter()
            .filter(|s| {
                let t = s.send as u64 * 100;
                t >= *t0 && t <= *t1
            })
            .map(|s| s.lat as f64 / 1000.0)
            .collect();
        lats.sort_by(f64::total_cmp);
        let (p50, p99, max) = (
            percentile(&lats, 50.0),
            percentile(&lats, 99.0),
            lats.last().copied(),
        );
        let st = &mut steps[i];
        st["latency_ms_p50"] = json!(p50.map(|v| round(v, 2)));
        st["latency_ms_p99"] = json!(p99.map(|v| round(v, 2)));
        st["latency_ms_max"] = json!(max.map(|v| round(v, 2)));
        let rate = st["deliveries_per_s"].as_f64().unwrap_or(0.0);
        best = best.max(rate);
        if st["kept_up"] == json!(true) && rate >= best_ok {
            best_ok = rate;
            best_ok_per_cpu = st["deliveries_per_server_cpu_sec"].as_f64();
        }
        println!(
            "  {m:>5} members  offered {:>6} msg/s  latency p50 {:?} ms  p99 {:?} ms",
            st["offered_messages_per_s"],
            p50.map(|v| round(v, 2)),
            p99.map(|v| round(v, 2))
        );
    }
    let frame_len = shared.frame_len.load(Ordering::Relaxed);
    // Connections our server dropped for falling behind (its outbound queue limits).
    let slow_consumers = match target {
        Target::Ours => report::server_metrics(server)
            .await
            .ok()
            .and_then(|m| m.get("chatkitty_slow_consumers_total").copied()),
        _ => None,
    };
    Ok(json!({
        "server_slow_consumers_total": slow_consumers,
        "members": m,
        "senders": n_send,
        "setup_secs": round(setup_secs, 2),
        "delivered_frame_bytes": frame_len,
        "steps": steps,
        "max_deliveries_per_s": best,
        "max_deliveries_per_s_kept_up": best_ok,
        "deliveries_per_server_cpu_sec_at_max_kept_up": best_ok_per_cpu,
        "server_cores_idle": idle_cores.map(|c| round(c, 4)),
        "stopped_because": stop_reason.unwrap_or_else(|| "all rates done".into()),
    }))
}

async fn reader(
    target: Target,
    notifications: bool,
    mut stream: Stream,
    sink: Arc<Mutex<Sink>>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> Vec<Sample> {
    let mut out = Vec::new();
    let mut record = |sent: u64, len: usize| {
        let now = now_us();
        shared.delivered.fetch_add(1, Ordering::Relaxed);
        shared.frame_len.store(len, Ordering::Relaxed);
        shared.last_us.fetch_max(now, Ordering::Relaxed);
        out.push(Sample {
            send: (sent / 100) as u32,
            lat: now.saturating_sub(sent).min(u32::MAX as u64) as u32,
        });
    };
    let mut parser = nats::Parser::default();
    loop {
        let msg = tokio::select! {
            m = stream.next() => m,
            _ = stop.changed() => break,
        };
        let msg = match msg {
            Some(Ok(m)) => m,
            _ => break,
        };
        let bytes: &[u8] = match &msg {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
            _ => continue,
        };
        if target != Target::Nats {
            // A WebSocket message may hold several STOMP frames (ours packs frames
            // queued together, docs/protocol.md §2.2): each ends with NUL.
            for frame in bytes.split_inclusive(|&b| b == 0) {
                let frame = frame.trim_ascii_start();
                if let Some(sent) = delivery_time(frame, notifications) {
                    record(sent, frame.len());
                }
            }
            continue;
        }
        parser.push(bytes);
        let mut pings = 0;
        loop {
            match parser.next() {
                Ok(Some(nats::Event::Msg { start, end, wire })) => {
                    if let Some(sent) = stamp(parser.bytes(start, end)) {
                        record(sent, wire);
                    }
                }
                Ok(Some(nats::Event::Ping)) => pings += 1,
                Ok(Some(nats::Event::Err(e))) => eprintln!("fanout nats: {e}"),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    eprintln!("fanout nats: {e}");
                    return out;
                }
            }
        }
        for _ in 0..pings {
            let pong = Message::Binary(b"PONG\r\n".to_vec().into());
            let _ = sink.lock().await.send(pong).await;
        }
    }
    out
}

/// The send time in a delivered MESSAGE, if it is one: a chat message on the channel's
/// topic, or with `notifications` a notification on a user topic. Our server also
/// sends the sender a `user.message.created` copy on a user topic: not a delivery.
fn delivery_time(bytes: &[u8], notifications: bool) -> Option<u64> {
    if !bytes.starts_with(b"MESSAGE\n") {
        return None;
    }
    let head_end = find(bytes, b"\n\n")?;
    let on_user_topic = find(&bytes[..head_end], b"destination:/topic/v1/users/").is_some();
    if on_user_topic != notifications {
        return None;
    }
    if notifications && find(&bytes[head_end..], b"\"user.notification.created\"").is_none() {
        return None;
    }
    stamp(&bytes[head_end..])
}

/// The send time after the first `@@fo` in `bytes`.
fn stamp(bytes: &[u8]) -> Option<u64> {
    let at = find(bytes, b"@@fo")? + 4;
    let mut v = 0u64;
    for &b in &bytes[at..] {
        if !b.is_ascii_digit() {
            break;
        }
        v = v * 10 + (b - b'0') as u64;
    }
    Some(v)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = needle[0];
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        match hay[i..hay.len() - needle.len() + 1]
            .iter()
            .position(|&b| b == first)
        {
            None => return None,
            Some(p) => {
                i += p;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
        }
    }
    None
}

#[allow(clippy::too_many_arguments)]
async fn sender(
    sink: Arc<Mutex<Sink>>,
    target: Target,
    dest: String,
    rate: f64,
    duration: Duration,
    offset: Duration,
    body_chars: usize,
    sent: Arc<AtomicU64>,
) -> Res<()> {
    let start = tokio::time::Instant::now() + offset;
    let total = (rate * duration.as_secs_f64()).round() as u64;
    let mut receipt = 0u64;
    for k in 0..total {
        tokio::time::sleep_until(start + Duration::from_secs_f64(k as f64 / rate)).await;
        let mut text = format!("@@fo{}@@", now_us());
        while text.len() < body_chars {
            text.push('x');
        }
        receipt += 1;
        let frame = match target {
            Target::Ours => Message::Text(
                stomp::text_message(&dest, &format!("receipt-fo-{receipt}"), &text).into(),
            ),
            Target::Rabbit => Message::Text(
                Frame::new(Command::Send)
                    .with_header("destination", dest.as_str())
                    .with_header("content-type", "text/plain")
                    .with_body(text.into_bytes())
                    .encode_to_string()
                    .into(),
            ),
            Target::Nats => Message::Binary(nats::publish(&dest, text.as_bytes()).into()),
        };
        sink.lock().await.send(frame).await?;
        sent.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// Members of one PUBLIC channel, each in a chat session on it (or, with
/// `notifications`, none but the sender); the channel's `message` action.
async fn setup_ours(
    a: &Args,
    server: std::net::SocketAddr,
    m: usize,
    tag: &str,
    notifications: bool,
) -> Res<(Vec<Member>, String)> {
    let key = a.str("key", "bench");
    let path = format!("/rtm/websocket?api-key={key}");
    let mut owner = Conn::new(stomp::open(server, stomp::source_for(0), &path).await?);
    let user = owner.start_session(&format!("{tag}-0")).await?;
    let create = user["_actions"]["createChannel"]
        .as_str()
        .ok_or("no createChannel action")?
        .to_owned();
    let channel = owner
        .action(&create, &json!({"type": "PUBLIC", "name": tag}))
        .await?;
    let cid = channel["id"].as_u64().ok_or("channel without id")?;
    let send_dest = channel["_actions"]["message"]
        .as_str()
        .ok_or("no message action")?
        .to_owned();
    owner.start_chat(&channel).await?;
    owner.clear_inbox();
    let concurrency: usize = a.num("setup-concurrency", 32)?;
    let rest: Vec<Res<Conn>> = futures_util::stream::iter(1..m)
        .map(|i| {
            let path = path.clone();
            let name = format!("{tag}-{i}");
            async move {
                let mut c = Conn::new(stomp::open(server, stomp::source_for(i), &path).await?);
                c.start_session(&name).await?;
                let view = c.relay(&destination::channel_relay(cid)).await?;
                let join = view["_actions"]["join"]
                    .as_str()
                    .ok_or("no join action")?
                    .to_owned();
                let joined = c.action(&join, &json!({})).await?;
                if !notifications {
                    c.start_chat(&joined).await?;
                }
                c.clear_inbox();
                Ok(c)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut conns = vec![owner];
    for r in rest {
        conns.push(r?);
    }
    Ok((into_members(conns), send_dest))
}

/// Members subscribed to `/topic/<tag>` on RabbitMQ Web-STOMP.
async fn setup_rabbit(
    server: std::net::SocketAddr,
    m: usize,
    tag: &str,
) -> Res<(Vec<Member>, String)> {
    let dest = format!("/topic/{tag}");
    let conns: Vec<Res<Conn>> = futures_util::stream::iter(0..m)
        .map(|i| {
            let dest = dest.clone();
            async move {
                let mut c = Conn::new(stomp::open(server, stomp::source_for(i), "/ws").await?);
                c.send(
                    &Frame::new(Command::Connect)
                        .with_header("accept-version", "1.2")
                        .with_header("host", "/")
                        .with_header("login", "guest")
                        .with_header("passcode", "guest")
                        .with_header("heart-beat", "0,0"),
                )
                .await?;
                c.wait_for(|f| f.command == Command::Connected).await?;
                c.send(
                    &Frame::new(Command::Subscribe)
                        .with_header("id", "sub-0")
                        .with_header("destination", dest.as_str())
                        .with_header("ack", "auto")
                        .with_header("receipt", "r-0"),
                )
                .await?;
                c.receipts(&["r-0".to_owned()]).await?;
                Ok(c)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let mut out = Vec::new();
    for c in conns {
        out.push(c?);
    }
    Ok((into_members(out), dest))
}

/// Members subscribed to the subject `<tag>` on NATS's WebSocket listener.
async fn setup_nats(
    server: std::net::SocketAddr,
    m: usize,
    tag: &str,
) -> Res<(Vec<Member>, String)> {
    let conns: Vec<Res<Ws>> = futures_util::stream::iter(0..m)
        .map(|i| nats::subscriber(server, stomp::source_for(i), tag))
        .buffer_unordered(32)
        .collect()
        .await;
    let mut out = Vec::new();
    for c in conns {
        out.push(member(c?.split()));
    }
    Ok((out, tag.to_owned()))
}

fn member((sink, stream): (Sink, Stream)) -> Member {
    Member {
        sink: Arc::new(Mutex::new(sink)),
        stream,
    }
}

fn into_members(conns: Vec<Conn>) -> Vec<Member> {
    conns.into_iter().map(|c| member(c.split())).collect()
}
