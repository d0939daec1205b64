//! `chatkitty-server`: parses flags, starts logging, serves until SIGINT/SIGTERM.

use clap::Parser;
use tracing_subscriber::EnvFilter;

use chatkitty_server::Config;

/// jemalloc, which returns freed memory to the system (see Cargo.toml); the feature
/// `system-allocator` leaves the system's malloc, for heap profilers.
#[cfg(all(not(target_env = "msvc"), not(feature = "system-allocator")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    #[cfg(all(not(target_env = "msvc"), not(feature = "system-allocator")))]
    return_freed_memory_promptly();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    tracing::debug!(?config, "configuration");
    let listener = match tokio::net::TcpListener::bind((config.bind, config.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "chatkitty-server: cannot listen on {}:{}: {e}",
                config.bind, config.port
            );
            return std::process::ExitCode::FAILURE;
        }
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("chatkitty-server: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut config = config;
    config.port = addr.port();
    // Scripts wait for this line (stdout, flushed) before they connect.
    println!("chatkitty-server listening on http://{addr}");
    match chatkitty_server::run(config, listener, shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chatkitty-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Has jemalloc give freed memory back to the system within about a second, from a
/// background thread: a burst (a thousand sockets each holding a partial megabyte
/// frame until the CONNECT deadline) should not leave the server that much larger.
#[cfg(all(not(target_env = "msvc"), not(feature = "system-allocator")))]
fn return_freed_memory_promptly() {
    let _ = tikv_jemalloc_ctl::background_thread::write(true);
    // "arenas.*" is the default of arenas made later, "arena.4096.*" (every arena)
    // applies to those that exist.
    for name in [
        &b"arenas.dirty_decay_ms\0"[..],
        b"arena.4096.dirty_decay_ms\0",
    ] {
        // SAFETY: these jemalloc options are `ssize_t`, which `isize` is.
        #[allow(unsafe_code)]
        let _ = unsafe { tikv_jemalloc_ctl::raw::write(name, 1000isize) };
    }
    for name in [
        &b"arenas.muzzy_decay_ms\0"[..],
        b"arena.4096.muzzy_decay_ms\0",
    ] {
        // SAFETY: as above; 0 returns purged pages at once instead of lazily.
        #[allow(unsafe_code)]
        let _ = unsafe { tikv_jemalloc_ctl::raw::write(name, 0isize) };
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
