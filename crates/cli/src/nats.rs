//! The NATS server `jilin up` talks to: the one at `NATS_URL` when it
//! answers, otherwise a `nats-server -js` started from PATH with its store
//! under the data dir (and stopped on exit).

use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use jilin_bus::{NATS_SERVER_ENV, find_nats_server};
use tokio::process::{Child, Command};

#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("`{0}` is not a nats://host:port URL")]
    BadUrl(String),
    #[error(
        "no NATS server answers at {url} and no nats-server binary was found. Install one \
         (Debian/Ubuntu: `apt-get install nats-server`; or `make up`, which does it), put it on \
         PATH or name it with {NATS_SERVER_ENV}=/path/to/nats-server; or set NATS_URL to a \
         running server with JetStream enabled"
    )]
    NotFound { url: String },
    #[error("cannot start {binary}: {source}")]
    Spawn {
        binary: String,
        source: std::io::Error,
    },
    #[error("nats-server did not listen on {0} within 20 s (see its log in the data dir)")]
    NotListening(String),
}

/// A NATS server in use, and whether this process started it.
pub struct Nats {
    pub url: String,
    child: Option<Child>,
}

fn host_port(url: &str) -> Result<(String, u16), NatsError> {
    let bad = || NatsError::BadUrl(url.to_owned());
    let rest = url.strip_prefix("nats://").ok_or_else(bad)?;
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    Ok((host.to_owned(), port.parse().map_err(|_| bad())?))
}

fn answers(host: &str, port: u16) -> bool {
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok())
}

impl Nats {
    /// Uses the server at `url`, or starts one there with its store in
    /// `data_dir/nats`.
    pub async fn ensure(url: &str, data_dir: &Path) -> Result<Self, NatsError> {
        let (host, port) = host_port(url)?;
        if answers(&host, port) {
            tracing::info!(%url, "using the NATS server already running");
            return Ok(Self {
                url: url.to_owned(),
                child: None,
            });
        }
        let binary = find_nats_server().ok_or_else(|| NatsError::NotFound {
            url: url.to_owned(),
        })?;
        std::fs::create_dir_all(data_dir).map_err(|source| NatsError::Spawn {
            binary: binary.display().to_string(),
            source,
        })?;
        let log = std::fs::File::create(data_dir.join("nats.log")).map_err(|source| {
            NatsError::Spawn {
                binary: binary.display().to_string(),
                source,
            }
        })?;
        let child = Command::new(&binary)
            .args(["-js", "-a", &host, "-p", &port.to_string(), "-sd"])
            .arg(data_dir.join("nats"))
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| NatsError::Spawn {
                binary: binary.display().to_string(),
                source,
            })?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while !answers(&host, port) {
            if Instant::now() > deadline {
                return Err(NatsError::NotListening(url.to_owned()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tracing::info!(%url, binary = %binary.display(), "started nats-server with JetStream");
        Ok(Self {
            url: url.to_owned(),
            child: Some(child),
        })
    }

    /// Whether this process started the server.
    pub fn started_here(&self) -> bool {
        self.child.is_some()
    }

    /// Stops the server if this process started it (SIGTERM: it flushes
    /// its store and exits).
    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .await;
            }
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_host_and_port() {
        assert_eq!(
            host_port("nats://127.0.0.1:4222").unwrap(),
            ("127.0.0.1".into(), 4222)
        );
        assert!(host_port("127.0.0.1:4222").is_err());
        assert!(host_port("nats://localhost").is_err());
    }
}
