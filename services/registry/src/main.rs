//! `jilin-registry`: runs the project registry service until SIGINT/SIGTERM.

use clap::Parser;
use jilin_registry::Config;
use jilin_runtime::{CancellationToken, init_tracing, wait_for_signal};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    init_tracing(config.log_format);
    let shutdown = CancellationToken::new();
    let running = match jilin_registry::start(&config, shutdown.clone()).await {
        Ok(running) => running,
        Err(err) => {
            tracing::error!(error = %err, "registry failed to start");
            return std::process::ExitCode::FAILURE;
        }
    };
    tokio::spawn(wait_for_signal(shutdown));
    running.cancelled().await;
    match running.shutdown().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "registry stopped with an error");
            std::process::ExitCode::FAILURE
        }
    }
}
