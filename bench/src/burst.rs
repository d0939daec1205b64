//! One sender for the browser throughput benchmark. Starts a session as `--user`,
//! prints `READY`, then for each line `go <channel id> <count>` on standard input
//! sends `count` TEXT messages to that channel, pipelined (at most `--window` without
//! their RECEIPT), and prints `SENT <count> <milliseconds>` once every RECEIPT is
//! back. Ends when standard input closes.

use std::time::Instant;

use chatkitty_protocol::{destination, Command};
use tokio::io::AsyncBufReadExt;

use crate::stomp::{self, Conn, Res};
use crate::Args;

pub async fn run(a: &Args) -> Res<()> {
    let server = a.server()?;
    let key = a.str("key", "bench");
    let user = a.str("user", "burst-sender");
    let window: usize = a.num("window", 64)?;
    let path = format!("/rtm/websocket?api-key={key}");
    let mut c = Conn::new(stomp::open(server, None, &path).await?);
    c.start_session(&user).await?;
    c.clear_inbox();
    println!("READY");
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut seq = 0u64;
    while let Some(line) = lines.next_line().await? {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let (cid, count) = match parts.as_slice() {
            ["go", cid, count] => (cid.parse::<u64>()?, count.parse::<usize>()?),
            [] => continue,
            _ => return Err(format!("burst: unexpected command {line:?}").into()),
        };
        let channel = c.relay(&destination::channel_relay(cid)).await?;
        let dest = channel["_actions"]["message"]
            .as_str()
            .ok_or("no message action")?
            .to_owned();
        c.clear_inbox();
        let t0 = Instant::now();
        let (mut sent, mut done) = (0usize, 0usize);
        while done < count {
            while sent < count && sent - done < window {
                seq += 1;
                let f = stomp::text_message(
                    &dest,
                    &format!("receipt-burst-{seq}"),
                    &format!("burst message {sent}"),
                );
                use futures_util::SinkExt;
                c.ws.send(tokio_tungstenite::tungstenite::Message::Text(f.into()))
                    .await?;
                sent += 1;
            }
            c.wait_for(|f| f.command == Command::Receipt).await?;
            c.clear_inbox();
            done += 1;
        }
        println!("SENT {count} {}", t0.elapsed().as_millis());
    }
    Ok(())
}
