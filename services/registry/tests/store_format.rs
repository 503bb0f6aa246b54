//! A store the build does not understand is refused before anything is
//! served: the real binary, on a store in a newer format or of another
//! service, exits non-zero and says why and what to do.

use std::process::{Command, Output};
use std::time::Duration;

use jilin_registry::STORE_LAYOUT as LAYOUT;
use jilin_store::{Layout, Store};
use jilin_testkit::NatsServer;

/// Runs the registry binary on `data_dir` until it exits (it must, by
/// itself, within a minute).
fn run_registry(data_dir: &std::path::Path, nats_url: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jilin-registry"))
        .args(["--listen", "127.0.0.1:0"])
        .args(["--insecure-no-auth", "--insecure-plaintext"])
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--nats-url", nats_url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start jilin-registry");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the registry served a store it should have refused");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Leaves a store laid out as `layout` in `dir`.
fn written_as(dir: &std::path::Path, layout: &Layout) {
    drop(Store::open(dir, layout).expect("the store opens"));
    // sled lets go of its file lock a moment after the last handle.
    std::thread::sleep(Duration::from_millis(200));
}

#[tokio::test]
async fn stores_of_a_newer_format_or_another_service_are_refused_clearly() {
    let nats = NatsServer::start().await;
    let newer = tempfile::tempdir().unwrap();
    written_as(
        newer.path(),
        &Layout {
            version: LAYOUT.version + 1,
            ..LAYOUT
        },
    );
    let foreign = tempfile::tempdir().unwrap();
    written_as(
        foreign.path(),
        &Layout {
            kind: "risk",
            ..LAYOUT
        },
    );
    for (dir, says) in [
        (
            newer.path(),
            "written by a newer Jilin; this build reads format 1 only",
        ),
        (foreign.path(), "holds a risk store, not a registry store"),
    ] {
        let output = run_registry(dir, &nats.url());
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!output.status.success(), "{said}");
        assert!(said.contains("cannot open the store"), "{said}");
        assert!(said.contains(says), "{said}");
    }
    // This build's own store opens, and records this build's format.
    let own = tempfile::tempdir().unwrap();
    written_as(own.path(), &LAYOUT);
    let store = Store::open(own.path(), &LAYOUT).unwrap();
    assert_eq!(store.layout().version, LAYOUT.version);
}
