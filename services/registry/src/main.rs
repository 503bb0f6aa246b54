//! `jilin-registry`: runs the project registry service until SIGINT/SIGTERM.

use clap::Parser;
use jilin_registry::Config;
use jilin_runtime::{CancellationToken, init_tracing, run_until_signal};

// The system allocator, not mimalloc as the other services and `jilin up`:
// under a bulk load of batched reports, mimalloc held the registry at 700
// to 970 MB, most of it freed memory kept per thread; glibc's malloc held it
// under 250 MB, at 8,500 reports/s against 9,500 to 11,100 (single noisy
// runs; BENCHMARKS.md, "Each service under a bulk load, as its own
// process"). The Kubernetes limit is 1 GiB.

/// How many arenas glibc's malloc shares among the registry's threads.
/// By default it makes one per allocating thread, up to eight per core,
/// and each keeps what its thread freed: at 100,000 projects the registry
/// peaked at 618 MB of RSS for a heap of about 200 MB (BENCHMARKS.md,
/// "The registry's memory at 100,000 projects").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_ARENAS: libc::c_int = 2;

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
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

/// Sets [`MALLOC_ARENAS`], unless the operator chose with
/// `GLIBC_TUNABLES=glibc.malloc.arena_max=N`. Runs before any other
/// thread is started.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    let tunables = std::env::var("GLIBC_TUNABLES").ok();
    if !operator_chose_arenas(tunables.as_deref()) {
        // SAFETY: mallopt only changes a parameter of glibc's allocator,
        // and no other thread exists yet to allocate concurrently.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS) };
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

/// Whether `GLIBC_TUNABLES` (colon-separated `name=value` pairs) sets
/// the arena count itself.
#[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]
fn operator_chose_arenas(tunables: Option<&str>) -> bool {
    tunables.is_some_and(|tunables| {
        tunables
            .split(':')
            .any(|pair| pair.split('=').next() == Some("glibc.malloc.arena_max"))
    })
}

#[cfg(test)]
mod tests {
    use super::operator_chose_arenas;

    #[test]
    fn only_an_arena_max_tunable_overrides_the_registry_s_arena_count() {
        assert!(!operator_chose_arenas(None));
        assert!(!operator_chose_arenas(Some("")));
        assert!(!operator_chose_arenas(Some(
            "glibc.malloc.mmap_threshold=131072"
        )));
        assert!(operator_chose_arenas(Some("glibc.malloc.arena_max=4")));
        assert!(operator_chose_arenas(Some(
            "glibc.malloc.trim_threshold=0:glibc.malloc.arena_max=8"
        )));
    }
}
