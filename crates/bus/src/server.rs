//! Finding a nats-server binary to run (tests, `jilin up`).

use std::path::PathBuf;

/// Environment variable naming the nats-server binary to use.
pub const NATS_SERVER_ENV: &str = "NATS_SERVER_BIN";

/// The nats-server binary: `$NATS_SERVER_BIN`, then PATH, then where Debian
/// and the usual installers put it.
pub fn find_nats_server() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(NATS_SERVER_ENV) {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    let fixed = ["/usr/sbin", "/usr/local/bin", "/usr/bin"].map(PathBuf::from);
    on_path
        .into_iter()
        .chain(fixed)
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
}
