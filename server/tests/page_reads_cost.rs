//! A benchmark, not a test (ignored; no thresholds): the store's cost of what a page
//! of messages reads besides the messages themselves — its reactions with reply counts
//! and its authors — against a SQLite file of 10,000 messages. Prints microseconds per
//! page; bench/README.md, "Reconnect storm: where a returning client's CPU goes", has
//! the figures and what they compared. Run:
//!
//! `cargo test --release -p chatkitty-server --test page_reads_cost -- --ignored --nocapture`

mod bench_store;

use std::time::Instant;

use bench_store::BenchStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "a benchmark: run on demand with --ignored --nocapture"]
async fn page_reads_cost() {
    let BenchStore {
        store,
        app,
        users,
        ids,
        _dir,
        ..
    } = bench_store::channel_of_10k_messages().await;
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
