//! Test support shared by every crate's integration tests.
//!
//! [`NatsServer`] runs a real `nats-server -js` on a free loopback port with
//! its JetStream store in a temp dir, so tests run in parallel without
//! sharing state, and can stop and restart it (same port, same store) to
//! test what happens when the broker goes away; [`NatsCluster`] runs
//! several routed into one JetStream cluster. [`grpc`] asks a running
//! service for its health and its reflected services; [`bus`] publishes
//! test events and follows consumers; [`registry`] drives a running
//! registry as an agency would.

pub mod bus;
mod cluster;
pub mod grpc;
pub mod hostile;
pub mod registry;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub use cluster::NatsCluster;
pub use jilin_bus::{NATS_SERVER_ENV, find_nats_server};

/// The instant every test pins its services' clocks to, so that no test
/// depends on the day it runs (`make test-dates` checks that under
/// libfaketime). Dates a test writes are chosen relative to it.
pub const TEST_NOW: &str = "2026-11-16T08:00:00Z";

/// The text a `/metrics` endpoint at `addr` serves (plain HTTP/1.1 GET).
pub async fn scrape(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the metrics endpoint");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n")
        .await
        .expect("send the scrape");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("read the scrape");
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "the scrape failed: {response}"
    );
    response
}

/// The value of the sample `name{labels}` (exactly as exposed, e.g.
/// `jilin_outbox_backlog` or `jilin_alerts{state="firing",severity="warning"}`)
/// in a scrape, if present.
pub fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// A loopback port nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// A service URL where nothing answers: the peer of a service under test
/// that must not be reached (plaintext, so no CA is needed).
pub const NOWHERE: &str = "http://127.0.0.1:9";

/// The calendar month of [`TEST_NOW`] (`YYYY-MM`).
pub fn test_month() -> &'static str {
    &TEST_NOW[..7]
}

/// A nats-server child process owned by a test; killed when dropped.
pub struct NatsServer {
    binary: PathBuf,
    dir: TempDir,
    port: u16,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts a server with JetStream on a free port.
    ///
    /// Panics with an explanation when no nats-server binary can be found:
    /// tests cannot run without one (`make test` installs it).
    pub async fn start() -> Self {
        let binary = find_nats_server().unwrap_or_else(|| {
            panic!(
                "nats-server not found: set {NATS_SERVER_ENV}, put it on PATH, \
                 or run `make test`, which installs it"
            )
        });
        let dir = tempfile::Builder::new()
            .prefix("jilin-nats-")
            .tempdir()
            .expect("create a temp dir for nats-server");
        let mut server = Self {
            binary,
            dir,
            port: 0,
            child: None,
        };
        server.spawn(None).await;
        server
    }

    /// Client URL, e.g. `nats://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same JetStream
    /// store, after [`NatsServer::stop`].
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn(Some(self.port)).await;
    }

    async fn spawn(&mut self, port: Option<u16>) {
        let store_dir = self.dir.path().join("jetstream");
        let ports_dir = self.dir.path().join("ports");
        std::fs::create_dir_all(&ports_dir).expect("create the ports dir");
        for stale in std::fs::read_dir(&ports_dir).expect("read the ports dir") {
            let _ = std::fs::remove_file(stale.expect("ports dir entry").path());
        }
        let port_arg = port.map_or_else(|| "-1".to_owned(), |port| port.to_string());
        let child = Command::new(&self.binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &port_arg, "-sd"])
            .arg(&store_dir)
            .arg("--ports_file_dir")
            .arg(&ports_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("start {}: {err}", self.binary.display()));
        self.child = Some(child);

        let deadline = Instant::now() + Duration::from_secs(20);
        let port = loop {
            if let Some(port) = read_ports_file(&ports_dir) {
                break port;
            }
            assert!(
                Instant::now() < deadline,
                "nats-server did not write its ports file"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.port = port;
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads the client port from the `<binary>_<pid>.ports` JSON file that
/// nats-server writes once it listens.
fn read_ports_file(dir: &Path) -> Option<u16> {
    let entry = std::fs::read_dir(dir).ok()?.flatten().next()?;
    let text = std::fs::read_to_string(entry.path()).ok()?;
    let start = text.find("nats://")? + "nats://".len();
    let rest = &text[start..];
    let host_port = &rest[..rest.find('"')?];
    host_port.rsplit(':').next()?.parse().ok()
}
