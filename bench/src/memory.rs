//! Where an idle session's memory goes: `chatkitty-bench memory` reads what
//! scripts/bench.sh collected and writes one summary.
//!
//! - `--variants name=file,…`: `idle` results of the same server under different
//!   settings (allocator, arenas, worker threads, pinning): RSS per session each.
//! - `--live FILE` and `--live-baseline FILE`: heaptrack's live heap of a server
//!   holding `--sessions` idle sessions when it was killed, and of one killed without
//!   sessions, as collapsed stacks (`heaptrack_print -F … --flamegraph-cost-type
//!   leaked`): bytes per session by what allocated them.
//! - `--allocations FILE` and `--allocations-baseline FILE`: the same for allocation
//!   calls (`--flamegraph-cost-type allocations`), of that run and of a server started
//!   and killed without sessions: allocations per session start.
//!
//! Stacks are classified by rules on their frames (function and file, leaf first),
//! see [`classify`]; the rules name the structures of server/src they stand for.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::report::{self, round};
use crate::stomp::Res;
use crate::Args;

/// One frame of a collapsed stack: function (demangled) and file.
struct Frame {
    func: String,
    file: String,
}

fn parse_frame(raw: &str) -> Frame {
    let (name, file) = match raw.rfind(" (") {
        Some(i) if raw.ends_with(')') => (&raw[..i], &raw[i + 2..raw.len() - 1]),
        _ => (raw, ""),
    };
    let func = format!("{:#}", rustc_demangle::demangle(name));
    Frame {
        func,
        file: file.to_owned(),
    }
}

/// `(stack, cost)` pairs of a collapsed-stacks file, frames leaf first.
fn read_stacks(path: &str) -> Res<Vec<(Vec<Frame>, u64)>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((stack, cost)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(cost) = cost.parse::<u64>() else {
            continue;
        };
        let mut frames: Vec<Frame> = stack
            .split(';')
            .filter(|f| !f.is_empty())
            .map(parse_frame)
            .collect();
        frames.reverse();
        out.push((frames, cost));
    }
    Ok(out)
}

/// What a stack's allocation is for (see the module docs).
fn classify(frames: &[Frame]) -> &'static str {
    let has = |func: &str, file: &str| {
        frames
            .iter()
            .any(|f| f.func.contains(func) && (file.is_empty() || f.file.ends_with(file)))
    };
    if has("bind_new_task", "") {
        return if has("accept", "upgrade.rs") {
            "reader task (the upgrade's task around connection::serve)"
        } else if frames.iter().any(|f| f.file.ends_with("connection.rs")) {
            "writer task (connection::write_loop)"
        } else {
            "other tasks"
        };
    }
    if has("subscribe", "hub.rs") {
        return if has("rustc_entry", "") || has("reserve_rehash", "") {
            "hub: destination hash table"
        } else {
            "hub: subscriber list per destination (Vec<TopicSub>)"
        };
    }
    if has("", "websocket.rs") {
        return "WebSocket buffers (stomp::websocket: only while a frame is incomplete or unsent)";
    }
    if has("", "queue.rs") {
        return "outbound queue (realtime::queue)";
    }
    if has("", "split.rs") {
        return "socket halves (tokio::io::split)";
    }
    if has("", "registration_set.rs") || has("", "registration.rs") {
        return "tokio I/O registration";
    }
    if has("", "cancellation_token.rs") || has("", "interval.rs") || has("new", "hub.rs") {
        return "connection handles (kill switch, byte budget, heart-beat timer)";
    }
    if has("", "live.rs") || has("", "tracker.rs") {
        return "registries (live sessions, presence)";
    }
    if has("", "sqlite3.c") || frames.iter().any(|f| f.func.contains("sqlx")) {
        return "SQLite and sqlx";
    }
    // The first frame (leaf first) that is not the allocator's or `Box`'s own.
    let caller = frames.iter().find(|f| {
        !f.file.is_empty()
            && !["alloc.rs", "boxed.rs", "unix.rs"]
                .iter()
                .any(|x| f.file.ends_with(x))
    });
    if caller.is_some_and(|f| f.file.ends_with("connection.rs")) {
        return "read loop (connection::serve boxes it)";
    }
    if frames.iter().any(|f| f.file.ends_with("session.rs")) {
        return "session state (subscription map, strings)";
    }
    "other"
}

/// What an allocation call was made for: the leaf-most frame that says.
fn classify_call(frames: &[Frame]) -> &'static str {
    for f in frames {
        let (func, file) = (f.func.as_str(), f.file.as_str());
        let rule = if file.ends_with("sqlite3.c") {
            Some("SQLite (C)")
        } else if func.contains("sqlx") || func.contains("flume") || func.contains("event_listener")
        {
            Some("sqlx (statements, rows, the channel to its SQLite thread)")
        } else if func.contains("serde_json")
            || file.ends_with("render.rs")
            || func.contains("event_json")
        {
            Some("JSON (rendering resources and events, parsing bodies)")
        } else if func.contains("chatkitty_protocol")
            || file.ends_with("codec.rs")
            || file.ends_with("frame.rs")
            || file.ends_with("destination.rs")
        {
            Some("STOMP frames and destinations (decoding, unescaping, formatting)")
        } else if file.ends_with("hub.rs") {
            Some("hub (subscriptions, frames per subscriber)")
        } else if func.contains("tungstenite") || file.ends_with("websocket.rs") {
            Some("WebSocket (stomp::websocket)")
        } else if func.contains("hyper")
            || func.contains("axum")
            || file.ends_with("upgrade.rs")
            || file.ends_with("http1.rs")
            || file.ends_with("listen.rs")
            || file.ends_with("http.rs")
        {
            Some("HTTP upgrade (hyper, axum)")
        } else if file.ends_with("relays.rs")
            || file.ends_with("users.rs")
            || file.ends_with("channels.rs")
            || file.ends_with("auth.rs")
            || file.ends_with("keys.rs")
        {
            Some("relay and CONNECT handlers")
        } else if func.contains("chatkitty_server::store") || file.ends_with("queries.rs") {
            Some("store (queries)")
        } else if file.ends_with("session.rs")
            || file.ends_with("tracker.rs")
            || file.ends_with("live.rs")
        {
            Some("session (frame handling, subscriptions, presence)")
        } else if func.contains("tokio") {
            Some("tokio (tasks, timers, channels)")
        } else {
            None
        };
        if let Some(r) = rule {
            return r;
        }
    }
    "other"
}

fn by_class(
    path: &str,
    class: fn(&[Frame]) -> &'static str,
) -> Res<(BTreeMap<&'static str, u64>, u64)> {
    let mut out = BTreeMap::new();
    let mut total = 0;
    for (frames, cost) in read_stacks(path)? {
        *out.entry(class(&frames)).or_default() += cost;
        total += cost;
    }
    Ok((out, total))
}

pub fn run(a: &Args) -> Res<()> {
    let n: f64 = a.num("sessions", 0usize)? as f64;
    let mut figures = serde_json::Map::new();
    if let Some(list) = a.map_get("variants") {
        let mut rows = Vec::new();
        println!("RSS per idle session by setting (idle benchmark, highest step):");
        for item in list.split(',').filter(|s| !s.is_empty()) {
            let (name, path) = item.rsplit_once('=').ok_or("--variants name=file,…")?;
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
            let last = doc["steps"]
                .as_array()
                .and_then(|s| s.last())
                .cloned()
                .unwrap_or(Value::Null);
            println!(
                "  {name:<36} {:>6} sessions  {:>7} B/session (anon {:>7})",
                last["sessions"], last["rss_bytes_per_session"], last["rss_anon_bytes_per_session"]
            );
            rows.push(json!({
                "variant": name,
                "sessions": last["sessions"],
                "rss_bytes_per_session": last["rss_bytes_per_session"],
                "rss_anon_bytes_per_session": last["rss_anon_bytes_per_session"],
                "server_rss_kb": last["server_rss_kb"],
            }));
        }
        figures.insert("rss_by_variant".into(), json!(rows));
    }
    if let Some(path) = a.map_get("live") {
        if n <= 0.0 {
            return Err("--sessions is needed with --live".into());
        }
        let (mut classes, mut total) = by_class(&path, classify)?;
        // What the server holds without sessions is not theirs.
        if let Some(b) = a.map_get("live-baseline") {
            let (base, base_total) = by_class(&b, classify)?;
            for (c, v) in base {
                if let Some(x) = classes.get_mut(c) {
                    *x = x.saturating_sub(v);
                }
            }
            total = total.saturating_sub(base_total);
        }
        let mut rows: Vec<(&str, u64)> = classes.into_iter().collect();
        rows.sort_by_key(|(_, b)| std::cmp::Reverse(*b));
        println!(
            "live heap with {n} idle sessions: {:.0} B per session",
            total as f64 / n
        );
        let mut out = Vec::new();
        for (class, bytes) in rows {
            let per = bytes as f64 / n;
            println!(
                "  {per:>8.0} B  {:>5.1}%  {class}",
                100.0 * bytes as f64 / total as f64
            );
            out.push(json!({"what": class, "bytes_per_session": round(per, 0)}));
        }
        figures.insert("live_heap_sessions".into(), json!(n));
        figures.insert(
            "live_heap_bytes_per_session".into(),
            json!(round(total as f64 / n, 0)),
        );
        figures.insert("live_heap_by_structure".into(), json!(out));
    }
    if let Some(path) = a.map_get("allocations") {
        let (classes, total) = by_class(&path, classify_call)?;
        let (base, base_total) = match a.map_get("allocations-baseline") {
            Some(b) => by_class(&b, classify_call)?,
            None => (BTreeMap::new(), 0),
        };
        let per = (total.saturating_sub(base_total)) as f64 / n.max(1.0);
        println!("allocation calls per session start (start-up sequence, then idle): {per:.0}");
        let mut rows: Vec<(&str, f64)> = classes
            .iter()
            .map(|(c, v)| {
                (
                    *c,
                    v.saturating_sub(*base.get(c).unwrap_or(&0)) as f64 / n.max(1.0),
                )
            })
            .collect();
        rows.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut out = Vec::new();
        for (class, v) in rows.iter().filter(|r| r.1 >= 0.5) {
            println!("  {v:>8.0}  {class}");
            out.push(json!({"what": class, "allocations_per_session": round(*v, 0)}));
        }
        figures.insert("allocations_per_session_start".into(), json!(round(per, 0)));
        figures.insert("allocations_by_structure".into(), json!(out));
    }
    if let Some(out) = a.map_get("out") {
        report::write(&out, "memory", Value::Object(figures))?;
    }
    Ok(())
}
