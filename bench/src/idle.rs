//! Concurrent idle sessions and the server's resident memory per session.
//!
//! Sessions are added in steps; each one completes the official client's start-up
//! sequence (CONNECT, current user, errors queue, both file grants, the ten user
//! topics with their receipts) and then idles, sending a heart-beat every 50 s as the
//! `heart-beat:60000,10000` it asked for promises. After each step the server's RSS is
//! read from `/proc/<pid>/status`.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::report::{self, round};
use crate::stomp::{self, Conn, Res};
use crate::{run_tag, Args};

pub async fn run(a: &Args) -> Res<()> {
    let server = a.server()?;
    let key = a.str("key", "bench");
    let pid: u32 = a.num("server-pid", 0)?;
    let steps: Vec<usize> = a.list("steps", "1000,5000,10000,20000,30000,40000,50000")?;
    let concurrency: usize = a.num("concurrency", 64)?;
    let budget = Duration::from_secs(a.num("max-secs", 600)?);
    let settle = Duration::from_secs(a.num("settle-secs", 3)?);
    let path = format!("/rtm/websocket?api-key={key}");
    let tag = run_tag();
    let started = Instant::now();

    tokio::time::sleep(settle).await;
    let base_rss = report::status_kb(pid, "VmRSS").ok_or("cannot read the server's RSS")?;
    let base_anon = report::status_kb(pid, "RssAnon").unwrap_or(0);
    println!("idle: server RSS before any session: {base_rss} kB");

    let mut keepers: Vec<JoinHandle<()>> = Vec::new();
    let mut rows = Vec::new();
    let mut stopped = None;
    for target in steps {
        if keepers.len() >= target {
            continue;
        }
        if started.elapsed() > budget {
            stopped = Some(format!("time budget of {budget:?} spent"));
            break;
        }
        let from = keepers.len();
        let t0 = Instant::now();
        let cpu0 = report::cpu_time(pid);
        let opened: Vec<Res<JoinHandle<()>>> = futures_util::stream::iter(from..target)
            .map(|i| {
                let path = path.clone();
                let name = format!("idle-{tag}-{i}");
                async move { open_idle(server, i, &path, &name).await }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let took = t0.elapsed();
        let cpu1 = report::cpu_time(pid);
        let mut failures = 0usize;
        let mut first_error = None;
        for r in opened {
            match r {
                Ok(h) => keepers.push(h),
                Err(e) => {
                    failures += 1;
                    first_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        tokio::time::sleep(settle).await;
        let rss = report::status_kb(pid, "VmRSS").unwrap_or(0);
        let anon = report::status_kb(pid, "RssAnon").unwrap_or(0);
        let n = keepers.len();
        let per = (rss.saturating_sub(base_rss)) as f64 * 1024.0 / n.max(1) as f64;
        let per_anon = (anon.saturating_sub(base_anon)) as f64 * 1024.0 / n.max(1) as f64;
        let rate = (n - from) as f64 / took.as_secs_f64();
        let server_cpu_ms_per_session = match (cpu0, cpu1) {
            (Some(a), Some(b)) => Some(round(
                b.saturating_sub(a).as_secs_f64() * 1000.0 / (n - from).max(1) as f64,
                3,
            )),
            _ => None,
        };
        println!(
            "idle: {n:>6} sessions ({failures} failed)  server RSS {rss} kB  = {:.1} KB/session (anon {:.1} KB)  start-up {rate:.0}/s, server CPU {:?} ms/session",
            per / 1000.0,
            per_anon / 1000.0,
            server_cpu_ms_per_session
        );
        rows.push(json!({
            "sessions": n,
            "failed": failures,
            "first_error": first_error,
            "server_rss_kb": rss,
            "server_rss_anon_kb": anon,
            "rss_bytes_per_session": round(per, 0),
            "rss_anon_bytes_per_session": round(per_anon, 0),
            "startups_per_second": round(rate, 1),
            "server_cpu_ms_per_startup": server_cpu_ms_per_session,
        }));
        if failures > 0 {
            stopped = Some(format!(
                "{failures} sessions failed at step {target}: {}",
                first_error.unwrap_or_default()
            ));
            break;
        }
    }
    let max = keepers.len();
    for k in &keepers {
        k.abort();
    }
    let figures = json!({
        "server_rss_before_kb": base_rss,
        "steps": rows,
        "max_concurrent_sessions": max,
        "stopped_because": stopped.clone().unwrap_or_else(|| "all steps done".into()),
    });
    println!(
        "idle: maximum concurrent sessions reached: {max} ({})",
        stopped.unwrap_or_else(|| "all steps done".into())
    );
    if let Some(out) = a.map_get("out") {
        report::write(&out, "load-idle", figures)?;
    }
    Ok(())
}

/// Opens one session, completes its start-up, and leaves a task keeping it alive.
async fn open_idle(
    server: std::net::SocketAddr,
    i: usize,
    path: &str,
    name: &str,
) -> Res<JoinHandle<()>> {
    let ws = stomp::open(server, stomp::source_for(i), path).await?;
    let mut c = Conn::new(ws);
    c.start_session(name).await?;
    c.clear_inbox();
    let (mut sink, mut stream) = c.split();
    Ok(tokio::spawn(async move {
        let mut beat = tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(50),
            Duration::from_secs(50),
        );
        loop {
            tokio::select! {
                m = stream.next() => match m {
                    Some(Ok(_)) => {}
                    _ => return,
                },
                _ = beat.tick() => {
                    if sink.send(Message::Text("\n".into())).await.is_err() {
                        return;
                    }
                }
            }
        }
    }))
}

/// Session start-up cost: `--rounds` rounds (3) of `--sessions` (2,000) sessions opened
/// `--concurrency` (64) at a time, each through the complete start-up sequence; per
/// round, start-ups per second and the server's CPU time per start-up (all its threads,
/// `/proc/<pid>/stat`) over the round. The sessions of a round stay open until it ends,
/// then close, and the server is left to settle before the next round.
pub async fn startup(a: &Args) -> Res<()> {
    let server = a.server()?;
    let key = a.str("key", "bench");
    let pid: u32 = a.num("server-pid", 0)?;
    let n: usize = a.num("sessions", 2_000)?;
    let rounds: usize = a.num("rounds", 3)?;
    let concurrency: usize = a.num("concurrency", 64)?;
    let settle = Duration::from_secs(a.num("settle-secs", 2)?);
    let path = format!("/rtm/websocket?api-key={key}");
    let tag = run_tag();
    let mut rows = Vec::new();
    for r in 0..rounds {
        tokio::time::sleep(settle).await;
        let t0 = Instant::now();
        let cpu0 = report::cpu_time(pid);
        let me0 = report::cpu_time(std::process::id());
        let opened: Vec<Res<JoinHandle<()>>> = futures_util::stream::iter(0..n)
            .map(|i| {
                let path = path.clone();
                let name = format!("su-{tag}-{r}-{i}");
                // Each round from its own source addresses (TIME_WAIT of the last).
                async move { open_idle(server, r * 20_000 + i, &path, &name).await }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let took = t0.elapsed();
        let cpu = report::cpu_secs(cpu0, report::cpu_time(pid));
        let me = report::cpu_secs(me0, report::cpu_time(std::process::id()));
        let mut failed = 0usize;
        let mut first_error = None;
        let mut keep = Vec::new();
        for o in opened {
            match o {
                Ok(h) => keep.push(h),
                Err(e) => {
                    failed += 1;
                    first_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        let ok = keep.len();
        let rate = ok as f64 / took.as_secs_f64();
        let ms = cpu.map(|c| c * 1000.0 / ok.max(1) as f64);
        let cores = cpu.map(|c| c / took.as_secs_f64());
        println!(
            "startup round {}: {ok} sessions ({failed} failed) in {:.2} s = {rate:.0}/s; server {:.3} ms CPU per start-up ({:.2} cores), load generator {:.2} cores",
            r + 1,
            took.as_secs_f64(),
            ms.unwrap_or(f64::NAN),
            cores.unwrap_or(f64::NAN),
            me.map(|c| c / took.as_secs_f64()).unwrap_or(f64::NAN),
        );
        rows.push(json!({
            "sessions": ok,
            "failed": failed,
            "first_error": first_error,
            "secs": round(took.as_secs_f64(), 3),
            "startups_per_second": round(rate, 1),
            "server_cpu_ms_per_startup": ms.map(|v| round(v, 3)),
            "server_cores": cores.map(|v| round(v, 3)),
            "load_generator_cores": me.map(|c| round(c / took.as_secs_f64(), 3)),
        }));
        for k in &keep {
            k.abort();
        }
    }
    let med = |key: &str| {
        let mut v: Vec<f64> = rows.iter().filter_map(|r| r[key].as_f64()).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    let (rate, ms) = (med("startups_per_second"), med("server_cpu_ms_per_startup"));
    println!(
        "startup: median {:.0} start-ups/s, {:.3} ms of server CPU each (server CPUs {})",
        rate.unwrap_or(f64::NAN),
        ms.unwrap_or(f64::NAN),
        report::cpus_allowed(pid).unwrap_or_default()
    );
    let figures = json!({
        "sessions_per_round": n,
        "concurrency": concurrency,
        "server_cpus": report::cpus_allowed(pid),
        "load_generator_cpus": report::cpus_allowed(std::process::id()),
        "rounds": rows,
        "startups_per_second": rate,
        "server_cpu_ms_per_startup": ms,
    });
    if let Some(out) = a.map_get("out") {
        report::write(&out, "load-startup", figures)?;
    }
    Ok(())
}
