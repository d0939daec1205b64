//! A benchmark, not a test (ignored; no thresholds): the store's cost of a gap page of
//! messages — the page, its total and whether it links back — against a SQLite file of
//! 10,000 messages in one channel: a page after the newest message (caught up: empty)
//! and a page of the 5 newest, for a viewer who hides and blocks nothing and for one who
//! hid a message. Prints microseconds per page; bench/README.md, "Gap pages: one lower
//! bound, viewer checks asked once" (and "Reconnect storm: the kernel's share, one
//! statement per page" before it), has the figures. Run:
//!
//! `cargo test --release -p chatkitty-server --test gap_page_cost -- --ignored --nocapture`

mod bench_store;

use std::time::Instant;

use bench_store::BenchStore;
use chatkitty_server::store::{MessageCursor, MessageQuery, MessageScope};

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "a benchmark: run on demand with --ignored --nocapture"]
async fn gap_page_cost() {
    let BenchStore {
        store,
        users,
        channel,
        ids,
        _dir,
        ..
    } = bench_store::channel_of_10k_messages().await;
    // users[1] hides and blocks nothing; users[2] hid the oldest message, so each
    // message of a page is checked against what they hid.
    store.hide_message(users[2], ids[0]).await.unwrap();
    let newest = *ids.last().unwrap();
    for (viewer, who) in [(users[1], "hides nothing"), (users[2], "hid one")] {
        let q = MessageQuery {
            channel_id: channel,
            viewer,
            cleared_before_id: 0,
            scope: MessageScope::Channel { main_only: false },
        };
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
                println!("gap page, viewer {who}, {what:>17}, round {round}: {us:.1} µs");
            }
        }
    }
}
