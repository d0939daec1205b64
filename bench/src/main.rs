//! `chatkitty-bench`: the native side of the benchmarks (see bench/README.md).
//!
//! Subcommands:
//!
//! - `idle`: opens idle sessions in steps (1k, 5k, 10k, …), each through the complete
//!   start-up sequence, and reads the server's resident memory after each step; the
//!   highest step reached is the concurrent-session figure.
//! - `fanout`: channels of 2, 100 and 1,000 members, a few senders at a rising rate;
//!   deliveries per second and send→receive latency. `--target ours` speaks the
//!   ChatKitty protocol to chatkitty-server, `--target rabbitmq` plain STOMP to
//!   RabbitMQ's Web-STOMP plugin (`/topic/<channel>` destinations).
//! - `active`: N clients in small channels, each in a chat session and sending now and
//!   then, until standard input closes (background load for the latency benchmark).
//! - `burst`: one sender that pushes N messages into a channel when told on standard
//!   input (the browser throughput benchmark).
//!
//! Flags are `--name value`; every figure goes to standard output and, with `--out`,
//! to a JSON file. Times are measured in this process with one monotonic clock, so
//! send and receive timestamps compare directly.

mod active;
mod burst;
mod fanout;
mod idle;
mod memory;
mod nats;
mod report;
mod stomp;
mod storm;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;

use stomp::Res;

/// jemalloc, as the server uses: glibc's malloc cost the generator a tenth of its CPU
/// (bench/README.md, "The load generator's allocator").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// `--name value` flags.
pub struct Args {
    map: HashMap<String, String>,
}

impl Args {
    fn parse(args: impl Iterator<Item = String>) -> Res<Args> {
        let mut map = HashMap::new();
        let mut it = args.peekable();
        while let Some(a) = it.next() {
            let name = a
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {a}"))?;
            let value = match it.peek() {
                Some(v) if !v.starts_with("--") => it.next().unwrap_or_default(),
                _ => "true".to_owned(),
            };
            map.insert(name.to_owned(), value);
        }
        Ok(Args { map })
    }

    /// A flag's text, or `default`.
    pub fn str(&self, name: &str, default: &str) -> String {
        self.map
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    }

    /// A flag's text, if given.
    pub fn map_get(&self, name: &str) -> Option<String> {
        self.map.get(name).cloned()
    }

    /// A parsed flag, or `default`.
    pub fn num<T: FromStr>(&self, name: &str, default: T) -> Res<T> {
        match self.map.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: cannot parse {v:?}").into()),
        }
    }

    /// A comma-separated list.
    pub fn list<T: FromStr>(&self, name: &str, default: &str) -> Res<Vec<T>> {
        self.str(name, default)
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.trim()
                    .parse()
                    .map_err(|_| format!("--{name}: cannot parse {s:?}").into())
            })
            .collect()
    }

    /// The server address (`--server host:port`, loopback).
    pub fn server(&self) -> Res<SocketAddr> {
        let s = self.str("server", "");
        s.parse()
            .map_err(|_| format!("--server must be ip:port, got {s:?}").into())
    }
}

/// A tag unique to this run, so usernames and channel names never collide.
pub fn run_tag() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    format!("{:x}", ms)
}

fn main() {
    let mut argv = std::env::args().skip(1);
    let cmd = argv.next().unwrap_or_default();
    let args = match Args::parse(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("chatkitty-bench: {e}");
            std::process::exit(2);
        }
    };
    let threads: usize = args.num("threads", 0).unwrap_or(0);
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if threads > 0 {
        rt.worker_threads(threads);
    }
    let rt = rt.build().expect("tokio runtime");
    let result = rt.block_on(async {
        match cmd.as_str() {
            "idle" => idle::run(&args).await,
            "startup" => idle::startup(&args).await,
            "fanout" => fanout::run(&args).await,
            "active" => active::run(&args).await,
            "burst" => burst::run(&args).await,
            "storm" => storm::run(&args).await,
            "memory" => memory::run(&args),
            _ => Err(
                "usage: chatkitty-bench idle|startup|fanout|storm|memory|active|burst --server IP:PORT [flags] (see bench/README.md)"
                    .into(),
            ),
        }
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    if let Err(e) = result {
        eprintln!("chatkitty-bench {cmd}: {e}");
        std::process::exit(1);
    }
}
