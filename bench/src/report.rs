//! Figures and their record: percentiles, /proc readings (RSS, CPU time), the machine
//! description and the results file.

use std::time::Duration;

use serde_json::{json, Value};

/// The `p`-th percentile (0–100) of sorted values, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// A field of `/proc/<pid>/status` in kB (`VmRSS`, `RssAnon`, …).
pub fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// User + system CPU time of a process (all its threads) so far.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(Duration::from_millis(ticks * 10))
}

/// CPU seconds between two readings of [`cpu_time`].
pub fn cpu_secs(before: Option<Duration>, after: Option<Duration>) -> Option<f64> {
    Some(after?.saturating_sub(before?).as_secs_f64())
}

/// The CPUs a process may run on (`Cpus_allowed_list` of `/proc/<pid>/status`, e.g.
/// `0` when pinned with `taskset -c 0`, `0-1` when not).
pub fn cpus_allowed(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|v| v.trim().to_owned())
}

/// Process-wide CPU seconds between two readings, as cores busy over `wall`.
pub fn cores(before: Option<Duration>, after: Option<Duration>, wall: Duration) -> Option<f64> {
    Some((after?.saturating_sub(before?)).as_secs_f64() / wall.as_secs_f64())
}

/// CPU model, core count and memory, from /proc.
pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    json!({
        "cpu": model,
        "cores": cores,
        "memory_gib": (mem_kb as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
    })
}

/// Writes `{benchmark, date, machine, commit, …figures}` to `path`.
pub fn write(path: &str, name: &str, figures: Value) -> std::io::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut doc = json!({
        "benchmark": name,
        "date": chatkitty_protocol::time::iso8601_millis(now.as_millis() as i64),
        "machine": machine(),
        "commit": std::env::var("BENCH_COMMIT").unwrap_or_else(|_| "unknown".into()),
        // The file system of the server's database (`tmpfs`, `ext2/ext3`, …), when
        // scripts/bench.sh says.
        "database": std::env::var("BENCH_DATABASE").ok(),
        // The machine is shared: its load (1, 5, 15 min) when the benchmark ended.
        "load_average": std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .filter_map(|v| v.parse::<f64>().ok())
            .collect::<Vec<_>>(),
        // Share of the last 60 s in which some task waited for a CPU (Linux PSI):
        // how much else the machine was running.
        "cpu_pressure_some_avg60": cpu_pressure(),
    });
    if let (Value::Object(d), Value::Object(f)) = (&mut doc, figures) {
        d.extend(f);
    }
    if let Some(dir) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
}

/// `avg60` of the `some` line of /proc/pressure/cpu, if the kernel has PSI.
fn cpu_pressure() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/pressure/cpu").ok()?;
    text.lines()
        .find(|l| l.starts_with("some"))?
        .split_whitespace()
        .find_map(|f| f.strip_prefix("avg60="))?
        .parse()
        .ok()
}

/// The server's counters (`GET /metrics`, served to loopback clients).
pub async fn server_metrics(
    addr: std::net::SocketAddr,
) -> crate::stomp::Res<std::collections::HashMap<String, u64>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut text = String::new();
    s.read_to_string(&mut text).await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("chatkitty_"))
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_owned(), v.trim().parse().ok()?))
        })
        .collect())
}

/// Rounds to `d` decimals for the record.
pub fn round(x: f64, d: i32) -> f64 {
    let m = 10f64.powi(d);
    (x * m).round() / m
}
