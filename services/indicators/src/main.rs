//! `jilin-indicators`: runs the indicator calculation service until SIGINT/SIGTERM.

use clap::Parser;
use jilin_indicators::Config;
use jilin_runtime::{CancellationToken, init_tracing, wait_for_signal};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    init_tracing(config.log_format);
    let shutdown = CancellationToken::new();
    let running = match jilin_indicators::start(&config, shutdown.clone()).await {
        Ok(running) => running,
        Err(err) => {
            tracing::error!(error = %err, "indicators failed to start");
            return std::process::ExitCode::FAILURE;
        }
    };
    tokio::spawn(wait_for_signal(shutdown));
    running.cancelled().await;
    match running.shutdown().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "indicators stopped with an error");
            std::process::ExitCode::FAILURE
        }
    }
}
