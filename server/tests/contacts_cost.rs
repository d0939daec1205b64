//! A benchmark, not a test (ignored; no thresholds): what a page of a user's contacts
//! costs the store in an application of 10,000 users — a page of 25 and its count, as
//! the contacts relay reads them now, against every user read in order, as each
//! request did before 2026-12-04 (then paged in memory; measured here through today's
//! index, so without the sort the old statement also paid). Prints microseconds per request;
//! bench/README.md, "Contacts paged in SQL", has the figures. Run:
//!
//! `cargo test --release -p chatkitty-server --test contacts_cost -- --ignored --nocapture`

use std::time::Instant;

use chatkitty_server::store::{Shown, Store, UserFilter};

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "a benchmark: run on demand with --ignored --nocapture"]
async fn contacts_cost() {
    const USERS: i64 = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let store = Store::open(db.to_str().unwrap()).await.unwrap();
    let app = store.ensure_application("bench").await.unwrap();
    let mut ids = Vec::new();
    for i in 0..USERS {
        ids.push(
            store
                .user_or_create(app, &format!("user{i}"), false)
                .await
                .unwrap()
                .id,
        );
    }
    let me = ids[0];
    let online: Vec<i64> = ids.iter().step_by(10).copied().collect();
    let all = UserFilter::default();
    let rounds = 200u32;
    let cases: [(&str, Shown, i64, i64); 5] = [
        ("every user, in order (before)", Shown::Any, 0, USERS),
        ("page 1 of 25 and its count", Shown::Any, 0, 25),
        ("page 201 of 25 and its count", Shown::Any, 5_000, 25),
        (
            "page 1, online (1,000 of them)",
            Shown::Online(&online),
            0,
            25,
        ),
        ("page 1, offline", Shown::Offline(&online), 0, 25),
    ];
    for (what, shown, start, size) in cases {
        let rounds = if size == USERS { rounds / 10 } else { rounds };
        let t = Instant::now();
        for _ in 0..rounds {
            let (rows, total) = store
                .users_page(app, Some(me), &all, shown, start, size)
                .await
                .unwrap();
            assert!(total > 0 && !rows.is_empty());
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
        println!("contacts at {USERS} users: {what}: {us:.0} µs");
    }
}
