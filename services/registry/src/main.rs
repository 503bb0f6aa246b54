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

fn main() -> std::process::ExitCode {
    malloc_arenas::limit();
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

/// How many arenas glibc's malloc shares among the registry's threads.
/// By default it makes one per allocating thread, up to eight per core,
/// and each keeps what its thread freed: at 100,000 projects the registry
/// peaked at 618 MB of RSS for a heap of about 200 MB (BENCHMARKS.md,
/// "The registry's memory at 100,000 projects").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod malloc_arenas {
    const ARENAS: libc::c_int = 2;

    /// Sets [`ARENAS`], unless the operator chose with
    /// `GLIBC_TUNABLES=glibc.malloc.arena_max=N`. Runs before any other
    /// thread is started.
    pub fn limit() {
        let tunables = std::env::var("GLIBC_TUNABLES").ok();
        if !operator_chose(tunables.as_deref()) {
            // SAFETY: mallopt only changes a parameter of glibc's allocator,
            // and no other thread exists yet to allocate concurrently.
            unsafe { libc::mallopt(libc::M_ARENA_MAX, ARENAS) };
        }
    }

    /// Whether `GLIBC_TUNABLES` (colon-separated `name=value` pairs) sets
    /// the arena count itself.
    fn operator_chose(tunables: Option<&str>) -> bool {
        tunables.is_some_and(|tunables| {
            tunables
                .split(':')
                .any(|pair| pair.starts_with("glibc.malloc.arena_max="))
        })
    }

    #[cfg(test)]
    mod tests {
        use super::operator_chose;

        #[test]
        fn only_an_arena_max_tunable_overrides_the_registry_s_arena_count() {
            assert!(!operator_chose(None));
            assert!(!operator_chose(Some("")));
            assert!(!operator_chose(Some("glibc.malloc.mmap_threshold=131072")));
            assert!(operator_chose(Some("glibc.malloc.arena_max=4")));
            assert!(operator_chose(Some(
                "glibc.malloc.trim_threshold=0:glibc.malloc.arena_max=8"
            )));
        }
    }
}

/// Other allocators than glibc's are left as they are.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod malloc_arenas {
    pub fn limit() {}
}
