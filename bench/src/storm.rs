//! Reconnect storm: `--sessions` clients (10,000), each in a chat session on a PUBLIC
//! channel of `--channel-size` members, lose the server at once (SIGKILL) and come
//! back to it, restarted on the same database, the way the SDK does (src/core):
//!
//! - backoff: `--reconnect-min-ms` (1,000) doubled per failed attempt up to
//!   `--reconnect-max-ms` (30,000), each delay drawn in `[d/2, d]`;
//! - an attempt: the WebSocket, CONNECT with the previous session id
//!   (`StompX-Auth-Session-ID`, docs/protocol.md §2.4) and, pipelined behind it, the
//!   errors queue and the current-user relay; on CONNECTED every user and channel topic
//!   again (same ids, with receipts); an attempt fails after 60 s without CONNECTED;
//! - gap recovery once the channel's messages topic is confirmed: the messages relay
//!   `?size=100&after=<id>`, the id being the oldest of the newest delivered id and the
//!   last 16 delivered, then each page's `_relays.prev` until there is none; live
//!   messages meanwhile count too, duplicates once.
//!
//! This process starts the server itself (`--server-cmd`, a program that execs the
//! server on the port in `$STORM_PORT`), so it can kill it and start it again. Before
//! the kill one message goes to every channel and every client must have it. After the
//! restart a sender (its own session, a member of every channel, reconnecting every
//! 20 ms until it is in) sends `--messages` (5) to each channel, pipelined (1,000 at a
//! time, `SEND_WINDOW`): they are sent while the clients are away (their first attempt
//! comes at least half the first backoff after the kill), and each client must fetch
//! them through gap recovery.
//! Figures: time from the kill until every client is back (CONNECTED) and caught up
//! (recovery done), the distribution of both, the server's peak RSS (`VmHWM` of the
//! restarted process), its CPU time and the events and deliveries it made (its
//! `/metrics`), and lost messages: confirmed sends a member never saw, summed over
//! members (must be 0).

use std::collections::{HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command as Process, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chatkitty_protocol::destination::{self, ERRORS_QUEUE};
use chatkitty_protocol::{Command, Frame};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::report::{self, percentile, round};
use crate::stomp::{self, Conn, Res};
use crate::{run_tag, Args};

/// How long one reconnect attempt may wait for CONNECTED (the SDK's connect timeout).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
/// Gap recovery starts after the oldest of this many last delivered ids (the SDK's).
const RECHECK: usize = 16;

pub async fn run(a: &Args) -> Res<()> {
    let key = a.str("key", "bench");
    let n: usize = a.num("sessions", 10_000)?;
    let group: usize = a.num("channel-size", 100)?.max(2);
    let per_channel: usize = a.num("messages", 5)?;
    let backoff = Backoff {
        min_ms: a.num("reconnect-min-ms", 1_000)?,
        max_ms: a.num("reconnect-max-ms", 30_000)?,
    };
    let concurrency: usize = a.num("concurrency", 64)?;
    let max_wait = Duration::from_secs(a.num("max-secs", 300)?);
    let cmd = a
        .map_get("server-cmd")
        .ok_or("--server-cmd (a program that runs the server on $STORM_PORT) is required")?;
    let pid_file = a.map_get("pid-file");
    let path = format!("/rtm/websocket?api-key={key}");
    let tag = format!("st{}", run_tag());

    let port = free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut server = Server::start(&cmd, port, pid_file.as_deref())?;
    wait_listening(addr, Duration::from_secs(30)).await?;
    let first_pid = server.child.id();
    println!("storm: server up on {addr} (pid {first_pid}); setting up {n} sessions in channels of {group}");

    // --- set-up: owners create the channels, the others join ---------------------
    let t_setup = Instant::now();
    let groups = n.div_ceil(group);
    let owners: Vec<Res<(usize, Conn, Value)>> = futures_util::stream::iter(0..groups)
        .map(|g| {
            let path = path.clone();
            let name = format!("{tag}-{}", g * group);
            let channel_name = format!("{tag}-c{g}");
            async move {
                let mut c =
                    Conn::new(stomp::open(addr, stomp::source_for(g * group), &path).await?);
                let user = c.start_session(&name).await?;
                let create = user["_actions"]["createChannel"]
                    .as_str()
                    .ok_or("no createChannel action")?
                    .to_owned();
                let channel = c
                    .action(&create, &json!({"type": "PUBLIC", "name": channel_name}))
                    .await?;
                c.start_chat(&channel).await?;
                Ok((g, c, channel))
            }
        })
        .buffer_unordered(concurrency.min(16))
        .collect()
        .await;
    let mut channels: Vec<Value> = vec![Value::Null; groups];
    let mut conns: Vec<(usize, Conn)> = Vec::new();
    for r in owners {
        let (g, c, ch) = r?;
        channels[g] = ch;
        conns.push((g * group, c));
    }
    let members: Vec<Res<(usize, Conn)>> =
        futures_util::stream::iter((0..n).filter(|i| i % group != 0))
            .map(|i| {
                let path = path.clone();
                let name = format!("{tag}-{i}");
                let cid = channels[i / group]["id"].as_u64().unwrap_or(0);
                async move {
                    let mut c = Conn::new(stomp::open(addr, stomp::source_for(i), &path).await?);
                    c.start_session(&name).await?;
                    let view = c.relay(&destination::channel_relay(cid)).await?;
                    let join = view["_actions"]["join"]
                        .as_str()
                        .ok_or("no join action")?
                        .to_owned();
                    let joined = c.action(&join, &json!({})).await?;
                    c.start_chat(&joined).await?;
                    Ok((i, c))
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
    for m in members {
        conns.push(m?);
    }
    // The sender: a member of every channel, not one of the clients measured.
    let sender_name = format!("{tag}-sender");
    let sender_ip = IpAddr::from([127, 0, 1, 1]);
    let mut sender = Conn::new(stomp::open(addr, Some(sender_ip), &path).await?);
    sender.start_session(&sender_name).await?;
    let mut send_dests = Vec::new();
    for ch in &channels {
        let cid = ch["id"].as_u64().ok_or("channel id")?;
        let view = sender.relay(&destination::channel_relay(cid)).await?;
        let join = view["_actions"]["join"]
            .as_str()
            .ok_or("no join action")?
            .to_owned();
        sender.action(&join, &json!({})).await?;
        send_dests.push(
            ch["_actions"]["message"]
                .as_str()
                .ok_or("no message action")?
                .to_owned(),
        );
    }
    sender.clear_inbox();
    let setup_secs = t_setup.elapsed().as_secs_f64();
    println!("storm: {n} sessions in {groups} channels ready in {setup_secs:.1} s");

    // --- the clients run on their own ---------------------------------------------
    let shared = Arc::new(Shared {
        seen: AtomicU64::new(0),
        back: AtomicUsize::new(0),
        caught_up: AtomicUsize::new(0),
        kill: Mutex::new(None),
        failed: Mutex::new(Default::default()),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    for (i, mut c) in conns {
        c.clear_inbox();
        let client = Client::new(i, &path, &c, &channels[i / group], backoff)?;
        tasks.push(tokio::spawn(client.run(
            c,
            addr,
            shared.clone(),
            stop_rx.clone(),
        )));
    }

    // One message per channel before the kill: every client has a position.
    let pre = send_round(&mut sender, &send_dests).await?;
    let want = n as u64;
    let until = Instant::now() + Duration::from_secs(60);
    while shared.seen.load(Ordering::Relaxed) < want && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen_before = shared.seen.load(Ordering::Relaxed);
    if seen_before < want {
        return Err(format!("only {seen_before} of {want} deliveries before the kill").into());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = report::status_kb(first_pid, "VmRSS");
    let hwm_before = report::status_kb(first_pid, "VmHWM");
    println!(
        "storm: every client has the first message; server RSS {} kB ({} B/session); killing it (SIGKILL)",
        rss_before.unwrap_or(0),
        rss_before.unwrap_or(0) * 1024 / n as u64
    );

    // --- kill, restart ------------------------------------------------------------
    drop(sender);
    let t_kill = Instant::now();
    *shared.kill.lock().expect("lock") = Some(t_kill);
    server.kill();
    let down_ms: u64 = a.num("down-ms", 0)?;
    tokio::time::sleep(Duration::from_millis(down_ms)).await;
    server = Server::start(&cmd, port, pid_file.as_deref())?;
    let pid = server.child.id();
    wait_listening(addr, Duration::from_secs(30)).await?;
    let up_ms = t_kill.elapsed().as_secs_f64() * 1000.0;
    println!("storm: server restarted (pid {pid}), listening {up_ms:.0} ms after the kill");

    // Peak RSS: sampled, and the kernel's high-water mark at the end.
    let rss_peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let rss_peak = rss_peak.clone();
        tokio::spawn(async move {
            loop {
                if let Some(kb) = report::status_kb(pid, "VmRSS") {
                    rss_peak.fetch_max(kb, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    // The sender comes back at once and sends while the clients come back.
    let dests = send_dests.clone();
    let send_task = tokio::spawn(async move {
        let mut sender = loop {
            match reconnect_sender(addr, sender_ip, &path_of(&key), &sender_name).await {
                Ok(c) => break c,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        // A channel's messages one after the other (the server stores them together).
        let all: Vec<String> = dests
            .iter()
            .flat_map(|d| std::iter::repeat_n(d.clone(), per_channel))
            .collect();
        let ids = send_round(&mut sender, &all).await?;
        let sent_ms = t_kill.elapsed().as_secs_f64() * 1000.0;
        let mut sent: Vec<Vec<u64>> = vec![Vec::new(); dests.len()];
        for (k, id) in ids.into_iter().enumerate() {
            sent[k / per_channel.max(1)].push(id);
        }
        Res::Ok((sent, sent_ms))
    });

    // --- wait until every client is back and caught up ------------------------------
    let deadline = t_kill + max_wait;
    let mut last_print = Instant::now();
    while shared.caught_up.load(Ordering::Relaxed) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if last_print.elapsed() > Duration::from_secs(1) {
            last_print = Instant::now();
            println!(
                "storm: {:>5.1} s after the kill: {} back, {} caught up",
                t_kill.elapsed().as_secs_f64(),
                shared.back.load(Ordering::Relaxed),
                shared.caught_up.load(Ordering::Relaxed)
            );
        }
    }
    let all_back_secs = t_kill.elapsed().as_secs_f64();
    let cpu_at_caught_up = report::cpu_time(pid);
    let (sent, sent_ms) = send_task.await??;
    let metrics = report::server_metrics(addr).await.unwrap_or_default();
    // Live deliveries still on their way.
    let expected: u64 = (0..n).map(|i| 1 + sent[i / group].len() as u64).sum();
    let until = Instant::now() + Duration::from_secs(10);
    while shared.seen.load(Ordering::Relaxed) < expected && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_tx.send(true);
    let mut recs = Vec::new();
    for t in tasks {
        recs.push(t.await?);
    }
    sampler.abort();
    let hwm = report::status_kb(pid, "VmHWM");
    let server_cpus = report::cpus_allowed(pid);
    let rss_after = report::status_kb(pid, "VmRSS");
    let cpu = report::cpu_secs(Some(Duration::ZERO), cpu_at_caught_up);
    server.stop();

    // --- figures ----------------------------------------------------------------------
    let mut lost = 0u64;
    let mut lost_clients = 0usize;
    for r in &recs {
        let want: Vec<u64> = std::iter::once(pre[r.idx / group])
            .chain(sent[r.idx / group].iter().copied())
            .collect();
        let missing = want.iter().filter(|id| !r.seen.contains(id)).count() as u64;
        lost += missing;
        lost_clients += (missing > 0) as usize;
    }
    let not_back = recs.iter().filter(|r| r.caught_up_ms.is_none()).count();
    let sorted = |f: &dyn Fn(&Rec) -> Option<f64>| {
        let mut v: Vec<f64> = recs.iter().filter_map(f).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let back = sorted(&|r| r.connected_ms);
    let caught = sorted(&|r| r.caught_up_ms);
    let attempts = sorted(&|r| Some(r.attempts as f64));
    let recovered: u64 = recs.iter().map(|r| r.recovered).sum();
    let live: u64 = recs.iter().map(|r| r.live).sum();
    let dups: u64 = recs.iter().map(|r| r.duplicates).sum();
    let dist = |v: &[f64]| {
        json!({
            "p50": percentile(v, 50.0).map(|x| round(x, 0)),
            "p90": percentile(v, 90.0).map(|x| round(x, 0)),
            "p99": percentile(v, 99.0).map(|x| round(x, 0)),
            "max": v.last().map(|x| round(*x, 0)),
        })
    };
    let sent_total: usize = sent.iter().map(Vec::len).sum();
    let failed = std::mem::take(&mut *shared.failed.lock().expect("lock"));
    let failed_total: usize = failed.values().sum();
    println!(
        "storm: {n} sessions: all back and caught up {all_back_secs:.2} s after the kill (server listening after {up_ms:.0} ms); {not_back} not back"
    );
    println!(
        "storm: back (CONNECTED) ms p50 {:?} p99 {:?} max {:?}; caught up ms p50 {:?} p99 {:?} max {:?}; attempts max {:?}",
        percentile(&back, 50.0).map(|x| x.round()),
        percentile(&back, 99.0).map(|x| x.round()),
        back.last().map(|x| x.round()),
        percentile(&caught, 50.0).map(|x| x.round()),
        percentile(&caught, 99.0).map(|x| x.round()),
        caught.last().map(|x| x.round()),
        attempts.last()
    );
    println!("storm: {failed_total} reconnect attempts failed: {failed:?}");
    println!(
        "storm: {sent_total} messages sent during the storm (all confirmed {sent_ms:.0} ms after the kill); {recovered} fetched by gap recovery, {live} live, {dups} duplicates dropped; lost {lost} (clients missing any: {lost_clients})"
    );
    println!(
        "storm: the restarted server published {} events, {} deliveries (MESSAGE frames queued); {} connections dropped for falling behind",
        metrics.get("chatkitty_events_total").copied().unwrap_or(0),
        metrics
            .get("chatkitty_deliveries_total")
            .copied()
            .unwrap_or(0),
        metrics
            .get("chatkitty_slow_consumers_total")
            .copied()
            .unwrap_or(0)
    );
    println!(
        "storm: server peak RSS {} kB (sampled peak {} kB; {} kB before the kill, {} kB after), CPU {:.2} s from restart to all caught up = {:.3} ms per session",
        hwm.unwrap_or(0),
        rss_peak.load(Ordering::Relaxed),
        rss_before.unwrap_or(0),
        rss_after.unwrap_or(0),
        cpu.unwrap_or(f64::NAN),
        cpu.unwrap_or(f64::NAN) * 1000.0 / n as f64
    );
    let figures = json!({
        "sessions": n,
        "channel_size": group,
        "channels": groups,
        "messages_per_channel_during_storm": per_channel,
        "messages_confirmed_ms_after_kill": round(sent_ms, 0),
        "server_events": metrics.get("chatkitty_events_total"),
        "server_deliveries": metrics.get("chatkitty_deliveries_total"),
        "server_slow_consumers": metrics.get("chatkitty_slow_consumers_total"),
        "reconnect_min_ms": backoff.min_ms,
        "reconnect_max_ms": backoff.max_ms,
        "server_cpus": server_cpus,
        "load_generator_cpus": report::cpus_allowed(std::process::id()),
        "setup_secs": round(setup_secs, 1),
        "server_listening_ms_after_kill": round(up_ms, 0),
        "all_back_and_caught_up_secs": round(all_back_secs, 2),
        "not_back": not_back,
        "back_ms": dist(&back),
        "caught_up_ms": dist(&caught),
        "attempts": dist(&attempts),
        "failed_attempts": failed_total,
        "failed_attempts_by_error": failed,
        "messages_sent_during_storm": sent_total,
        "deliveries_expected": expected,
        "recovered_by_relay": recovered,
        "received_live": live,
        "duplicates_dropped": dups,
        "lost": lost,
        "clients_with_losses": lost_clients,
        "server_rss_before_kill_kb": rss_before,
        "server_peak_rss_before_kill_kb": hwm_before,
        "server_peak_rss_kb": hwm,
        "server_peak_rss_sampled_kb": rss_peak.load(Ordering::Relaxed),
        "server_rss_after_kb": rss_after,
        "server_cpu_secs_restart_to_caught_up": cpu.map(|c| round(c, 2)),
        "server_cpu_ms_per_session": cpu.map(|c| round(c * 1000.0 / n as f64, 3)),
    });
    if let Some(out) = a.map_get("out") {
        report::write(&out, "storm", figures)?;
    }
    Ok(())
}

fn path_of(key: &str) -> String {
    format!("/rtm/websocket?api-key={key}")
}

struct Shared {
    /// Distinct messages seen, summed over clients.
    seen: AtomicU64,
    /// Clients CONNECTED again after the kill.
    back: AtomicUsize,
    /// Clients whose gap recovery finished after the kill.
    caught_up: AtomicUsize,
    kill: Mutex<Option<Instant>>,
    /// Failed reconnect attempts, by what failed them.
    failed: Mutex<std::collections::BTreeMap<String, usize>>,
}

impl Shared {
    fn since_kill_ms(&self) -> Option<f64> {
        self.kill
            .lock()
            .expect("lock")
            .map(|k| k.elapsed().as_secs_f64() * 1000.0)
    }
}

#[derive(Clone, Copy)]
struct Backoff {
    min_ms: u64,
    max_ms: u64,
}

/// What one client saw.
struct Rec {
    idx: usize,
    seen: HashSet<u64>,
    connected_ms: Option<f64>,
    caught_up_ms: Option<f64>,
    attempts: u32,
    recovered: u64,
    live: u64,
    duplicates: u64,
}

/// One simulated SDK instance after its set-up.
struct Client {
    idx: usize,
    path: String,
    user: String,
    session: String,
    errors_id: String,
    /// (id, destination) of every topic SUBSCRIBE: user topics, then channel topics.
    topics: Vec<(String, String)>,
    messages_topic: String,
    messages_relay: String,
    backoff: Backoff,
    /// Failed attempts since the last CONNECTED (the backoff's exponent).
    failures: u32,
    /// Connections opened (each from its own source address, see `attempt`).
    opened: usize,
    rng: u64,
    rec: Rec,
    /// The newest delivered message id, and the last [`RECHECK`] delivered.
    after: u64,
    last: VecDeque<u64>,
    counted_back: bool,
    counted_caught_up: bool,
}

impl Client {
    fn new(idx: usize, path: &str, c: &Conn, channel: &Value, backoff: Backoff) -> Res<Client> {
        Ok(Client {
            idx,
            path: path.to_owned(),
            user: c.user.clone().ok_or("no user")?,
            session: c.session.clone().ok_or("no session id")?,
            errors_id: c.errors_id.clone().ok_or("no errors queue")?,
            topics: c.topics.clone(),
            messages_topic: channel["_topics"]["messages"]
                .as_str()
                .ok_or("channel lacks its messages topic")?
                .to_owned(),
            messages_relay: channel["_relays"]["messages"]
                .as_str()
                .ok_or("channel lacks its messages relay")?
                .to_owned(),
            backoff,
            failures: 0,
            opened: 0,
            rng: 0x9e37_79b9_7f4a_7c15 ^ (idx as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d),
            rec: Rec {
                idx,
                seen: HashSet::new(),
                connected_ms: None,
                caught_up_ms: None,
                attempts: 0,
                recovered: 0,
                live: 0,
                duplicates: 0,
            },
            after: 0,
            last: VecDeque::new(),
            counted_back: false,
            counted_caught_up: false,
        })
    }

    /// Live until the connection drops, then back off and reconnect, until `stop`.
    async fn run(
        mut self,
        conn: Conn,
        addr: SocketAddr,
        shared: Arc<Shared>,
        mut stop: watch::Receiver<bool>,
    ) -> Rec {
        let mut conn = conn;
        loop {
            if !self.live(&mut conn, &shared, &mut stop).await {
                return self.rec;
            }
            // Lost: the dead socket closed first (as the SDK does; kept open, each client
            // would hold two descriptors while it reconnects), then the SDK's backoff,
            // attempt after attempt.
            drop(conn);
            conn = loop {
                let delay = Duration::from_millis(self.next_delay());
                tokio::select! {
                    _ = stop.changed() => return self.rec,
                    _ = tokio::time::sleep(delay) => {}
                }
                self.rec.attempts += 1;
                let attempt = tokio::time::timeout(ATTEMPT_TIMEOUT, self.attempt(addr, &shared));
                let result = tokio::select! {
                    _ = stop.changed() => return self.rec,
                    r = attempt => r,
                };
                let why = match result {
                    Ok(Ok(c)) => break c,
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => format!("no CONNECTED and recovery within {ATTEMPT_TIMEOUT:?}"),
                };
                self.failures += 1;
                *shared.failed.lock().expect("lock").entry(why).or_default() += 1;
            };
        }
    }

    /// `min × 2^failures` capped at `max`, drawn in `[d/2, d]` (src/core `backoff`).
    fn next_delay(&mut self) -> u64 {
        let b = self.backoff;
        let d = b
            .min_ms
            .saturating_mul(1 << self.failures.min(20))
            .min(b.max_ms);
        // xorshift64
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        d - self.rng % (d / 2 + 1)
    }

    /// Reads the connection; false once `stop` says so, true when it is gone.
    async fn live(
        &mut self,
        c: &mut Conn,
        shared: &Shared,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        let mut beat = tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(50),
            Duration::from_secs(50),
        );
        loop {
            tokio::select! {
                _ = stop.changed() => return false,
                _ = beat.tick() => {
                    if c.ws.send(Message::Text("\n".into())).await.is_err() {
                        return true;
                    }
                }
                f = c.recv() => match f {
                    Some(f) => {
                        if let Some(id) = self.live_message(&f) {
                            self.note(id, true, shared);
                        }
                    }
                    None => return true,
                },
            }
        }
    }

    /// The id of a message created in our channel, if `f` announces one.
    fn live_message(&self, f: &Frame) -> Option<u64> {
        if f.command != Command::Message
            || f.header("destination") != Some(self.messages_topic.as_str())
        {
            return None;
        }
        let v: Value = serde_json::from_slice(&f.body).ok()?;
        if v["type"] != "channel.message.created" {
            return None;
        }
        v["resource"]["id"].as_u64()
    }

    fn note(&mut self, id: u64, live: bool, shared: &Shared) {
        if !self.rec.seen.insert(id) {
            self.rec.duplicates += 1;
            return;
        }
        shared.seen.fetch_add(1, Ordering::Relaxed);
        if live {
            self.rec.live += 1;
        } else {
            self.rec.recovered += 1;
        }
        self.after = self.after.max(id);
        if self.last.len() == RECHECK {
            self.last.pop_front();
        }
        self.last.push_back(id);
    }

    /// One reconnect, as the SDK makes it, up to the end of gap recovery.
    async fn attempt(&mut self, addr: SocketAddr, shared: &Shared) -> Res<Conn> {
        // Each connection from its own source address block: the killed server's side
        // of the old connections sits in TIME_WAIT on the first address.
        self.opened += 1;
        let source = stomp::source_for(20_000 * self.opened + self.idx);
        let mut c = Conn::new(stomp::open(addr, source, &self.path).await?);
        c.send(
            &Frame::new(Command::Connect)
                .with_header("StompX-User", self.user.as_str())
                .with_header("StompX-Auth-Session-ID", self.session.as_str())
                .with_header("StompX-User-Agent", "chatkitty-bench/0.1")
                .with_header("accept-version", "1.2")
                .with_header("heart-beat", "60000,10000"),
        )
        .await?;
        // Pipelined behind CONNECT: the errors queue and the current user again.
        c.send(
            &Frame::new(Command::Subscribe)
                .with_header("id", self.errors_id.as_str())
                .with_header("destination", ERRORS_QUEUE),
        )
        .await?;
        c.send(
            &Frame::new(Command::Subscribe)
                .with_header("id", "subscription-id-user-again")
                .with_header("destination", destination::CURRENT_USER_RELAY),
        )
        .await?;
        let connected = c.wait_for(|f| f.command == Command::Connected).await?;
        if let Some(s) = connected.header("session") {
            self.session = s.to_owned();
        }
        self.failures = 0;
        self.rec.connected_ms = shared.since_kill_ms();
        if !self.counted_back {
            self.counted_back = true;
            shared.back.fetch_add(1, Ordering::Relaxed);
        }
        // Every topic again, same ids, each with a receipt.
        let mut messages_receipt = String::new();
        for (id, dest) in &self.topics {
            let receipt = format!("receipt-again-{id}");
            c.send(
                &Frame::new(Command::Subscribe)
                    .with_header("id", id.as_str())
                    .with_header("receipt", receipt.as_str())
                    .with_header("ack", "client-individual")
                    .with_header("destination", dest.as_str()),
            )
            .await?;
            if *dest == self.messages_topic {
                messages_receipt = receipt;
            }
        }
        // Gap recovery once the messages topic is confirmed.
        c.receipts(&[messages_receipt]).await?;
        let from = self.last.iter().copied().fold(self.after, u64::min);
        let mut dest = format!("{}?size=100&after={from}", self.messages_relay);
        loop {
            let page = c.relay(&dest).await?;
            let items = page["_embedded"]["messages"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            // Pages list the newest first.
            for m in items.iter().rev() {
                if let Some(id) = m["id"].as_u64() {
                    self.note(id, false, shared);
                }
            }
            match page["_relays"]["prev"].as_str() {
                Some(newer) => dest = newer.to_owned(),
                None => break,
            }
        }
        self.rec.caught_up_ms = shared.since_kill_ms();
        if !self.counted_caught_up {
            self.counted_caught_up = true;
            shared.caught_up.fetch_add(1, Ordering::Relaxed);
        }
        Ok(c)
    }
}

/// Sends one TEXT message to each destination, pipelined [`SEND_WINDOW`] at a time,
/// and returns the id of each (in order) once the server confirmed it (its result
/// event, docs/protocol.md §3.3).
async fn send_round(c: &mut Conn, dests: &[String]) -> Res<Vec<u64>> {
    let mut ids = Vec::with_capacity(dests.len());
    for window in dests.chunks(SEND_WINDOW) {
        let mut receipts = Vec::new();
        for d in window {
            let r = c.next_id("receipt-storm");
            c.ws.send(Message::Text(stomp::text_message(d, &r, "storm").into()))
                .await?;
            receipts.push(r);
        }
        for r in &receipts {
            let f = c
                .wait_for(|f| f.command == Command::Message && f.header("receipt-id") == Some(r))
                .await?;
            if f.header("destination") == Some(ERRORS_QUEUE) {
                return Err(format!("send failed: {}", f.body_str().unwrap_or("")).into());
            }
            let v: Value = serde_json::from_slice(&f.body)?;
            ids.push(v["resource"]["id"].as_u64().ok_or("result without id")?);
        }
        c.receipts(&receipts).await?;
        c.clear_inbox();
    }
    Ok(ids)
}

/// How many sends go out before their answers are read: this process writes and reads
/// one connection in turn, and a client that writes without reading is cut off by the
/// server once the answers wait 10 s for room (docs/protocol.md §3.3). The README's
/// storm sends 500, in one window.
const SEND_WINDOW: usize = 1000;

/// A fresh session for the sender (as soon as the server accepts one).
async fn reconnect_sender(addr: SocketAddr, ip: IpAddr, path: &str, name: &str) -> Res<Conn> {
    let mut c = Conn::new(stomp::open(addr, Some(ip), path).await?);
    c.start_session(name).await?;
    c.clear_inbox();
    Ok(c)
}

/// A loopback port nothing listens on now.
fn free_port() -> Res<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

async fn wait_listening(addr: SocketAddr, limit: Duration) -> Res<()> {
    let until = Instant::now() + limit;
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if Instant::now() > until {
            return Err(format!("the server did not listen on {addr}").into());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The server process this benchmark started.
struct Server {
    child: Child,
}

impl Server {
    fn start(cmd: &str, port: u16, pid_file: Option<&str>) -> Res<Server> {
        let child = Process::new(cmd)
            .env("STORM_PORT", port.to_string())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {cmd}: {e}"))?;
        if let Some(p) = pid_file {
            std::fs::write(p, child.id().to_string())?;
        }
        Ok(Server { child })
    }

    /// SIGKILL, and reap it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// At the end: SIGTERM (a clean shutdown), SIGKILL after 10 s.
    fn stop(mut self) {
        let _ = Process::new("kill")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.kill();
    }
}
