//! `jilin-risk`: runs the risk service until SIGINT/SIGTERM.

use clap::Parser;
use jilin_risk::Config;
use jilin_runtime::{CancellationToken, init_tracing, purge_freed_pages_at_once, run_until_signal};

/// The allocator `jilin up` uses too (see crates/cli/src/main.rs), told to
/// return freed pages at once.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    purge_freed_pages_at_once();
    run()
}

#[tokio::main]
async fn run() -> std::process::ExitCode {
    let config = Config::parse();
    init_tracing(config.log_format);
    let shutdown = CancellationToken::new();
    let started = jilin_risk::start(&config, shutdown.clone()).await;
    run_until_signal("risk", started, shutdown).await
}
