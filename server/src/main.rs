//! `chatkitty-server`: parses flags, starts logging, serves until SIGINT/SIGTERM.

use clap::Parser;
use tracing_subscriber::EnvFilter;

use chatkitty_server::Config;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
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
