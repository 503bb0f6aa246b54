//! `jilin-registry`: runs the project registry service until SIGINT/SIGTERM.

use clap::Parser;
use jilin_registry::Config;
use jilin_runtime::{CancellationToken, init_tracing, run_until_signal};

/// The allocator `jilin up` uses too (see crates/cli/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    init_tracing(config.log_format);
    let shutdown = CancellationToken::new();
    let started = jilin_registry::start(&config, shutdown.clone()).await;
    run_until_signal("registry", started, shutdown).await
}
