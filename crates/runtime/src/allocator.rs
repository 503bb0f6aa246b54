//! How each binary's allocator gives memory back to the system. The
//! registry allocates with glibc's malloc, told to share two arenas among
//! its threads and to map large blocks on their own
//! ([`bound_glibc_malloc`]); the other services and `jilin`
//! with mimalloc, told to return freed pages at once
//! ([`purge_freed_pages_at_once`]). Each `main` calls its allocator's
//! function first, before the runtime starts a thread. The figures behind
//! both: BENCHMARKS.md, "The registry's memory at 100,000 projects", "The
//! registry's mapping threshold" and "The followers' memory at 100,000
//! projects".

/// How many arenas glibc's malloc shares among the registry's threads. By
/// default it makes one per allocating thread, up to eight per core, and
/// each keeps what its threads freed: at 100,000 projects the registry
/// peaked at 618 MB of RSS for a heap of about 200 MB.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_ARENAS: libc::c_int = 2;

/// The size from which glibc's malloc maps each allocation on its own, and
/// unmaps it when freed. By default it starts at 128 KiB and rises to the
/// size of every mapped block freed (up to 32 MiB), after which such
/// blocks (a batch's buffers, a compaction's) come from the arenas and
/// stay there once freed. Set, it stays.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_MMAP_THRESHOLD: libc::c_int = 256 << 10;

/// Sets glibc's arena count to [`MALLOC_ARENAS`] and its mapping threshold
/// to [`MALLOC_MMAP_THRESHOLD`], each unless the operator chose it with
/// `GLIBC_TUNABLES` (`glibc.malloc.arena_max=N`,
/// `glibc.malloc.mmap_threshold=N`). Other allocators than glibc's are
/// left as they are.
pub fn bound_glibc_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let tunables = std::env::var("GLIBC_TUNABLES").ok();
        for (tunable, parameter, value) in [
            ("arena_max", libc::M_ARENA_MAX, MALLOC_ARENAS),
            (
                "mmap_threshold",
                libc::M_MMAP_THRESHOLD,
                MALLOC_MMAP_THRESHOLD,
            ),
        ] {
            if !chose(tunables.as_deref(), tunable) {
                // SAFETY: mallopt only changes a parameter of glibc's
                // allocator, and no other thread exists yet to allocate
                // concurrently.
                unsafe { libc::mallopt(parameter, value) };
            }
        }
    }
}

/// Whether `GLIBC_TUNABLES` (colon-separated `name=value` pairs) sets
/// `glibc.malloc.{tunable}` itself.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn chose(tunables: Option<&str>, tunable: &str) -> bool {
    let name = format!("glibc.malloc.{tunable}=");
    tunables.is_some_and(|tunables| tunables.split(':').any(|pair| pair.starts_with(&name)))
}

/// mimalloc's `mi_option_purge_delay` (`mimalloc.h`, the same in v2 and
/// v3; `libmimalloc-sys` names the options before it and not this one).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc to return pages freed by a thread to the system at once,
/// not a second later (its default): under a bulk load a batch of events
/// allocates and frees megabytes on whichever thread runs it, and mimalloc
/// held those as RSS. Unless the operator chose with
/// `MIMALLOC_PURGE_DELAY=N`, which mimalloc reads itself.
pub fn purge_freed_pages_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mi_option_set stores one of mimalloc's options, which its
        // allocations read atomically; it may be called at any time.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn only_its_own_tunable_overrides_a_malloc_parameter() {
        assert!(!chose(None, "arena_max"));
        assert!(!chose(Some(""), "arena_max"));
        assert!(!chose(
            Some("glibc.malloc.mmap_threshold=131072"),
            "arena_max"
        ));
        assert!(chose(
            Some("glibc.malloc.mmap_threshold=131072"),
            "mmap_threshold"
        ));
        assert!(chose(Some("glibc.malloc.arena_max=4"), "arena_max"));
        assert!(chose(
            Some("glibc.malloc.trim_threshold=0:glibc.malloc.arena_max=8"),
            "arena_max"
        ));
        assert!(!chose(Some("glibc.malloc.arena_max=8"), "mmap_threshold"));
    }

    /// The option numbered [`MI_OPTION_PURGE_DELAY`] is the purge delay:
    /// it holds mimalloc v3's default of 1,000 ms (no other option starts
    /// at 1,000) or what `MIMALLOC_PURGE_DELAY` says, and is 0 once told.
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        let chosen = std::env::var("MIMALLOC_PURGE_DELAY").ok();
        let expected = chosen.as_deref().and_then(|value| value.parse().ok());
        // SAFETY: reading an option of mimalloc, which this test binary
        // links but does not allocate with.
        let read = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(read(), expected.unwrap_or(1_000));
        purge_freed_pages_at_once();
        if chosen.is_none() {
            assert_eq!(read(), 0);
        }
    }
}
