//! Background load: `--clients` sessions in PUBLIC channels of `--group` members,
//! every client in a chat session on its channel and sending a message every
//! `--interval-ms` (phases spread evenly). Prints `READY <n>` once every client is
//! set up, then runs until standard input closes (or `--max-secs`), and prints what
//! was sent and received.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chatkitty_protocol::destination;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::Message;

use crate::stomp::{self, Conn, Res};
use crate::{run_tag, Args};

pub async fn run(a: &Args) -> Res<()> {
    let server = a.server()?;
    let key = a.str("key", "bench");
    let n: usize = a.num("clients", 100)?;
    let group: usize = a.num("group", 10)?.max(1);
    let interval = Duration::from_millis(a.num("interval-ms", 10_000)?);
    let max = Duration::from_secs(a.num("max-secs", 1800)?);
    let path = format!("/rtm/websocket?api-key={key}");
    let tag = format!("act{}", run_tag());
    let groups = n.div_ceil(group);
    let sent = Arc::new(AtomicU64::new(0));
    let received = Arc::new(AtomicU64::new(0));
    // Set up group by group (owner creates, the others join), a few groups at once.
    let set: Vec<Res<Vec<(Conn, String)>>> = futures_util::stream::iter(0..groups)
        .map(|g| {
            let path = path.clone();
            let tag = tag.clone();
            async move {
                let size = group.min(n - g * group);
                let base = g * group;
                let mut owner =
                    Conn::new(stomp::open(server, stomp::source_for(base), &path).await?);
                let user = owner.start_session(&format!("{tag}-{base}")).await?;
                let create = user["_actions"]["createChannel"]
                    .as_str()
                    .ok_or("no createChannel")?
                    .to_owned();
                let channel = owner
                    .action(
                        &create,
                        &json!({"type": "PUBLIC", "name": format!("{tag}-g{g}")}),
                    )
                    .await?;
                let cid = channel["id"].as_u64().ok_or("channel id")?;
                let dest = channel["_actions"]["message"]
                    .as_str()
                    .ok_or("no message action")?
                    .to_owned();
                owner.start_chat(&channel).await?;
                owner.clear_inbox();
                let mut out = vec![(owner, dest.clone())];
                for i in 1..size {
                    let mut c =
                        Conn::new(stomp::open(server, stomp::source_for(base + i), &path).await?);
                    c.start_session(&format!("{tag}-{}", base + i)).await?;
                    let view = c.relay(&destination::channel_relay(cid)).await?;
                    let join = view["_actions"]["join"]
                        .as_str()
                        .ok_or("no join")?
                        .to_owned();
                    let joined = c.action(&join, &json!({})).await?;
                    c.start_chat(&joined).await?;
                    c.clear_inbox();
                    out.push((c, dest.clone()));
                }
                Ok(out)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut clients = Vec::new();
    for g in set {
        clients.extend(g?);
    }
    let total = clients.len();
    let mut tasks = Vec::new();
    for (i, (c, dest)) in clients.into_iter().enumerate() {
        let (mut sink, mut stream) = c.split();
        let received = received.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(Ok(_)) = stream.next().await {
                received.fetch_add(1, Ordering::Relaxed);
            }
        }));
        let sent = sent.clone();
        let phase = interval.mul_f64(i as f64 / total as f64);
        tasks.push(tokio::spawn(async move {
            let mut iv = tokio::time::interval_at(tokio::time::Instant::now() + phase, interval);
            let mut k = 0u64;
            loop {
                iv.tick().await;
                k += 1;
                let f = stomp::text_message(
                    &dest,
                    &format!("receipt-act-{k}"),
                    &format!("load message {k} from client {i}"),
                );
                if sink.send(Message::Text(f.into())).await.is_err() {
                    return;
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    println!("READY {total}");
    let stdin_closed = async {
        let mut buf = [0u8; 256];
        let mut stdin = tokio::io::stdin();
        while let Ok(k) = stdin.read(&mut buf).await {
            if k == 0 {
                break;
            }
        }
    };
    tokio::select! {
        _ = stdin_closed => {}
        _ = tokio::time::sleep(max) => {}
    }
    for t in &tasks {
        t.abort();
    }
    println!(
        "{}",
        json!({"clients": total, "sent": sent.load(Ordering::Relaxed), "received": received.load(Ordering::Relaxed)})
    );
    Ok(())
}
