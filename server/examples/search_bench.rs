//! Message search latency (run by `bench/search.sh`): fills a database with `--messages`
//! messages of generated text in many channels, then times the search relay's answer
//! (`user/messages.search.relay`: access check, the store's query, rendering, the
//! page's JSON) for users searching their channels, as the server answers it.
//!
//!   search_bench --database <file | postgres://…/admin-db> [--messages N] [--queries Q]
//!                [--out results.json]
//!
//! Text: a vocabulary of 20,000 made-up words drawn with a Zipf law (a few words very
//! common, most rare), 4 to 24 words a message, the same for every run (fixed seed).
//! 100 channels of 20 members each (2,000 users, one channel each). Each kind of query
//! below is asked `--queries` times by random users; the figures are the latency
//! percentiles of each kind.

use std::time::{Duration, Instant};

use chatkitty_protocol::destination::Relay;
use chatkitty_server::domain::pages::Params;
use chatkitty_server::domain::{search, Call, NoAnswer};
use chatkitty_server::store::NewMessage;
use chatkitty_server::Config;
use serde_json::{json, Value};

const VOCABULARY: usize = 20_000;
const CHANNELS: usize = 100;
const MEMBERS_PER_CHANNEL: usize = 20;
const INSERT_BATCH: usize = 1000;

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Made-up words, and the cumulative Zipf (s = 1.07) weights of their ranks.
fn vocabulary(rng: &mut Rng) -> (Vec<String>, Vec<f64>) {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    let mut words = Vec::with_capacity(VOCABULARY);
    let mut seen = std::collections::HashSet::new();
    while words.len() < VOCABULARY {
        let len = 3 + rng.below(7);
        let w: String = (0..len)
            .map(|_| LETTERS[rng.below(LETTERS.len())] as char)
            .collect();
        if seen.insert(w.clone()) {
            words.push(w);
        }
    }
    let mut cumulative = Vec::with_capacity(VOCABULARY);
    let mut sum = 0.0;
    for rank in 1..=VOCABULARY {
        sum += 1.0 / (rank as f64).powf(1.07);
        cumulative.push(sum);
    }
    for c in &mut cumulative {
        *c /= sum;
    }
    (words, cumulative)
}

fn zipf(rng: &mut Rng, cumulative: &[f64]) -> usize {
    let u = rng.unit();
    cumulative
        .partition_point(|c| *c < u)
        .min(cumulative.len() - 1)
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A fresh database on the PostgreSQL server of `admin` (dropped first if left over).
async fn fresh_postgres(admin: &str) -> String {
    use sqlx::Connection;
    let name = "chatkitty_search_bench";
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .expect("PostgreSQL");
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    format!("{base}/{name}")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let database = arg("--database").expect("--database <file | postgres://…>");
    let messages: usize = arg("--messages").map_or(1_000_000, |n| n.parse().unwrap());
    let queries: usize = arg("--queries").map_or(200, |n| n.parse().unwrap());
    let backend = if database.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    let database = if backend == "postgres" {
        fresh_postgres(&database).await
    } else {
        let _ = std::fs::remove_file(&database);
        database
    };
    let mut config = Config::for_tests(database, "bench");
    config.files_dir = std::env::temp_dir().join("chatkitty-search-bench-files");
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let state = chatkitty_server::build_state(config, shutdown)
        .await
        .expect("state");
    let store = &state.store;
    let app = state.apps["bench"];
    let mut rng = Rng(0x5EED_CA75);
    let (words, cumulative) = vocabulary(&mut rng);

    eprintln!("[search-bench] {backend}: users and channels");
    let mut users = Vec::new();
    for i in 0..CHANNELS * MEMBERS_PER_CHANNEL {
        users.push(
            store
                .user_or_create(app, &format!("user{i}"), false)
                .await
                .unwrap(),
        );
    }
    let mut channels = Vec::new();
    for c in 0..CHANNELS {
        let members: Vec<i64> = users[c * MEMBERS_PER_CHANNEL..(c + 1) * MEMBERS_PER_CHANNEL]
            .iter()
            .map(|u| u.id)
            .collect();
        let channel = store
            .create_group_channel(
                &chatkitty_server::store::NewGroupChannel {
                    app_id: app,
                    kind: chatkitty_protocol::resource::ChannelType::Private,
                    name: &format!("channel{c}"),
                    display_name: &format!("Channel {c}"),
                    properties: "{}",
                },
                members[0],
                &members[1..],
            )
            .await
            .unwrap();
        channels.push((channel.id, members));
    }

    eprintln!("[search-bench] {backend}: inserting {messages} messages");
    let started = Instant::now();
    let mut done = 0;
    let t0 = chatkitty_server::clock::now_ms() - messages as i64;
    while done < messages {
        let n = INSERT_BATCH.min(messages - done);
        let bodies: Vec<(i64, i64, String)> = (0..n)
            .map(|_| {
                let (cid, members) = &channels[rng.below(CHANNELS)];
                let sender = members[rng.below(MEMBERS_PER_CHANNEL)];
                let len = 4 + rng.below(21);
                let text: Vec<&str> = (0..len)
                    .map(|_| words[zipf(&mut rng, &cumulative)].as_str())
                    .collect();
                (*cid, sender, text.join(" "))
            })
            .collect();
        let rows: Vec<NewMessage> = bodies
            .iter()
            .enumerate()
            .map(|(i, (cid, sender, text))| {
                let mut m = NewMessage::text(*cid, Some(*sender), text);
                m.created_ms = t0 + (done + i) as i64;
                m
            })
            .collect();
        // A bulk load far faster than any chat: SQLite's checkpoint of a long
        // write-ahead log may outlast the busy timeout; try again.
        let mut tries = 0;
        while let Err(e) = store.insert_messages(&rows).await {
            tries += 1;
            assert!(tries < 100, "inserting: {e}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        done += n;
        if done % 100_000 == 0 {
            eprintln!(
                "[search-bench] {done} messages, {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let insert_secs = started.elapsed().as_secs_f64();
    if backend == "sqlite" {
        // As a running server's checkpointing (`keep_wal_small`) leaves it: the
        // write-ahead log copied back into the database file.
        let conn = format!("sqlite://{}", state.config.database);
        let pool = sqlx::SqlitePool::connect(&conn).await.unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    if backend == "postgres" {
        // As a long-running server's autovacuum would have by then.
        for sql in ["VACUUM ANALYZE messages", "VACUUM ANALYZE channel_members"] {
            let _ = sqlx::query(sql).execute(&pool_of(&state).await).await;
        }
    }

    // Query kinds: a rare word (ranks 2,000–20,000), a common one (ranks 10–100: each
    // in about 1% of messages or more), a common and a middling word together, and a
    // common word within the searcher's channel.
    let kinds = [
        "rare word",
        "common word",
        "two words",
        "common word, one channel",
    ];
    let mut report = serde_json::Map::new();
    for (k, kind) in kinds.iter().enumerate() {
        let mut times = Vec::with_capacity(queries);
        let mut results = 0usize;
        for _ in 0..queries {
            let (cid, members) = &channels[rng.below(CHANNELS)];
            let uid = members[rng.below(MEMBERS_PER_CHANNEL)];
            let user = store.user(app, uid).await.unwrap().unwrap();
            let pick = |rng: &mut Rng, lo: usize, hi: usize| words[lo + rng.below(hi - lo)].clone();
            let query = match k {
                0 => pick(&mut rng, 2000, VOCABULARY),
                1 | 3 => pick(&mut rng, 10, 100),
                _ => format!("{} {}", pick(&mut rng, 10, 100), pick(&mut rng, 100, 1000)),
            };
            let mut pairs = vec![("query".to_owned(), query)];
            if k == 3 {
                pairs.push(("channelId".to_owned(), cid.to_string()));
            }
            let params = Params::new(pairs);
            let call = Call::new(&state, app, &user, &NoAnswer);
            let t = Instant::now();
            let page = search::relay_page(&call, &Relay::MySearchMessages, &params)
                .await
                .unwrap_or_else(|e| panic!("{kind}: {e:?}"));
            times.push(t.elapsed());
            let page: Value = serde_json::from_str(&page).unwrap();
            results += page["_embedded"]["messages"].as_array().map_or(0, Vec::len);
        }
        times.sort();
        let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
        eprintln!(
            "[search-bench] {backend} {kind}: p50 {p50:.2} ms, p99 {p99:.2} ms, {:.1} results a page",
            results as f64 / queries as f64
        );
        report.insert(
            kind.to_string(),
            json!({"p50_ms": p50, "p99_ms": p99, "max_ms": percentile(&times, 1.0),
                   "queries": queries, "results_per_page": results as f64 / queries as f64}),
        );
    }
    let out = json!({
        "backend": backend,
        "messages": messages,
        "channels": CHANNELS,
        "members_per_channel": MEMBERS_PER_CHANNEL,
        "vocabulary": VOCABULARY,
        "page_size": chatkitty_server::domain::pages::DEFAULT_PAGE_SIZE,
        "candidates_per_page": search::SEARCH_CANDIDATES,
        "insert_seconds": insert_secs,
        "latency": report,
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
    if let Some(path) = arg("--out") {
        std::fs::write(path, serde_json::to_string_pretty(&out).unwrap()).unwrap();
    }
}

/// A connection pool to the bench's database, for maintenance statements.
async fn pool_of(state: &chatkitty_server::state::AppState) -> sqlx::PgPool {
    sqlx::PgPool::connect(&state.config.database).await.unwrap()
}
