//! A benchmark, not a test (ignored; no thresholds): the store's cost of a gap page of
//! messages — the page, its total and whether it links back — against a SQLite file of
//! 10,000 messages in one channel: a page after the newest message (caught up: empty)
//! and a page of the 5 newest. Prints microseconds per page; bench/README.md, "One
//! statement per page of messages", has the figures. Run:
//!
//! `cargo test --release -p chatkitty-server --test gap_page_cost -- --ignored --nocapture`

use std::time::Instant;

use chatkitty_protocol::resource::ChannelType;
use chatkitty_server::store::{
    MessageCursor, MessageQuery, MessageScope, NewGroupChannel, NewMessage, Store,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "a benchmark: run on demand with --ignored --nocapture"]
async fn gap_page_cost() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let store = Store::open(db.to_str().unwrap()).await.unwrap();
    let app = store.ensure_application("bench").await.unwrap();
    let mut users = Vec::new();
    for i in 0..100 {
        let name = format!("user{i}");
        users.push(store.user_or_create(app, &name, false).await.unwrap().id);
    }
    let channel = NewGroupChannel {
        app_id: app,
        kind: ChannelType::Public,
        name: "bench",
        display_name: "bench",
        properties: "{}",
    };
    let ch = store
        .create_group_channel(&channel, users[0], &users[1..])
        .await
        .unwrap();
    let mut ids = Vec::new();
    for k in 0..200 {
        let batch: Vec<NewMessage> = (0..50)
            .map(|_| NewMessage::text(ch.id, Some(users[k % 100]), "hello"))
            .collect();
        for (m, _) in store.insert_messages(&batch).await.unwrap() {
            ids.push(m.id);
        }
    }
    let q = MessageQuery {
        channel_id: ch.id,
        viewer: users[1],
        cleared_before_id: 0,
        scope: MessageScope::Channel { main_only: false },
    };
    let newest = *ids.last().unwrap();
    for (what, after) in [("empty (caught up)", newest), ("5 messages", newest - 5)] {
        for round in 1..=3 {
            let pages = 5000;
            let start = Instant::now();
            for _ in 0..pages {
                store
                    .messages_page_counted(&q, MessageCursor::After(after), 100)
                    .await
                    .unwrap();
            }
            let us = start.elapsed().as_secs_f64() * 1e6 / pages as f64;
            println!("gap page, {what:>17}, round {round}: {us:.1} µs");
        }
    }
}
