//! `jilin-registry`: runs the project registry service until SIGINT/SIGTERM.

use clap::Parser;
use jilin_registry::Config;
use jilin_runtime::{CancellationToken, bound_glibc_malloc, init_tracing, run_until_signal};

// The system allocator, not mimalloc as the other services and `jilin up`:
// under a bulk load of batched reports, mimalloc held the registry at 700
// to 970 MB, most of it freed memory kept per thread; glibc's malloc held it
// under 250 MB, at 8,500 reports/s against 9,500 to 11,100 (single noisy
// runs; BENCHMARKS.md, "Each service under a bulk load, as its own
// process"). The Kubernetes limit is 1 GiB. Told to share two arenas among
// its threads and to map blocks from 256 KiB on their own
// (jilin_runtime::bound_glibc_malloc).

fn main() -> std::process::ExitCode {
    bound_glibc_malloc();
    run()
}

#[tokio::main]
async fn run() -> std::process::ExitCode {
    let config = Config::parse();
    init_tracing(config.log_format);
    let shutdown = CancellationToken::new();
    let started = jilin_registry::start(&config, shutdown.clone()).await;
    run_until_signal("registry", started, shutdown).await
}
