//! A benchmark, not a test (ignored; no thresholds): the store's cost of what a page
//! of messages reads besides the messages themselves — its reactions with reply counts
//! and its authors — against a SQLite file of 10,000 messages. Prints microseconds per
//! page; bench/README.md, "Reconnect storm: where a returning client's CPU goes", has
//! the figures and what they compared. Run:
//!
//! `cargo test --release -p chatkitty-server --test page_reads_cost -- --ignored --nocapture`

use std::time::Instant;

use chatkitty_protocol::resource::ChannelType;
use chatkitty_server::store::{NewGroupChannel, NewMessage, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "a benchmark: run on demand with --ignored --nocapture"]
async fn page_reads_cost() {
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
    for (i, id) in ids.iter().enumerate().step_by(7) {
        store.add_reaction(*id, users[i % 100], "👍").await.unwrap();
    }
    for size in [1usize, 10, 100] {
        for round in 1..=3 {
            let pages = 2000;
            let start = Instant::now();
            for k in 0..pages {
                let from = (k * 37) % (ids.len() - size);
                let page = &ids[from..from + size];
                store.reactions_and_replies(page).await.unwrap();
                let authors: Vec<i64> = page.iter().map(|i| users[*i as usize % 100]).collect();
                store.users_by_ids(app, &authors).await.unwrap();
            }
            let us = start.elapsed().as_secs_f64() * 1e6 / pages as f64;
            println!("page of {size:>3}, round {round}: {us:.0} µs for its reactions, reply counts and authors");
        }
    }
}
