//! The NATS server `jilin up` talks to: the one at `NATS_URL` when it
//! answers (its users are the operator's business), otherwise a
//! `nats-server` with JetStream started from PATH with its store under the
//! data dir (and stopped on exit). The one started here serves TLS with
//! the development certificate and requires a user: one per service, each
//! allowed to publish only its own subjects, and a read-only `watcher`;
//! their passwords are made once under `<data>/auth/nats/`.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use jilin_auth::CertFiles;
use jilin_bus::{
    NATS_SERVER_ENV, NatsAccess, NatsUser, authorization_block, find_nats_server, system_users,
};
use rand::distr::{Alphanumeric, SampleString};
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
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// A NATS server in use, and whether this process started it.
pub struct Nats {
    pub url: String,
    child: Option<Child>,
    /// The data dir of a server started here (its users' passwords, its CA).
    secured: Option<PathBuf>,
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
    pub async fn ensure(url: &str, data_dir: &Path, certs: &CertFiles) -> Result<Self, NatsError> {
        let servers = url
            .split(',')
            .map(host_port)
            .collect::<Result<Vec<_>, _>>()?;
        if servers.iter().any(|(host, port)| answers(host, *port)) {
            tracing::info!(%url, "using the NATS server already running");
            return Ok(Self {
                url: url.to_owned(),
                child: None,
                secured: None,
            });
        }
        // One server can be started here; a cluster is the operator's.
        let [(host, port)] = servers.as_slice() else {
            return Err(NatsError::NotListening(url.to_owned()));
        };
        let (host, port) = (host.clone(), *port);
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
        let config = server_config(&host, port, data_dir, certs)?;
        let child = Command::new(&binary)
            .arg("-c")
            .arg(&config)
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
        tracing::info!(%url, binary = %binary.display(), "started nats-server with JetStream, TLS and a user per service");
        Ok(Self {
            url: url.to_owned(),
            child: Some(child),
            secured: Some(data_dir.to_owned()),
        })
    }

    /// How `user` (a service name, or `watcher`) signs in: with its
    /// password and over TLS on a server started here, anonymously on one
    /// that was already running.
    pub fn access(&self, user: &str) -> NatsAccess {
        self.secured
            .as_deref()
            .and_then(|data_dir| dev_access(data_dir, user))
            .unwrap_or_default()
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

/// How `user` signs in to the NATS server a `jilin up` with `data_dir`
/// started, if that directory has its password.
pub fn dev_access(data_dir: &Path, user: &str) -> Option<NatsAccess> {
    let file = password_file(&passwords_dir(data_dir), user);
    file.exists().then(|| NatsAccess {
        ca: Some(crate::identity::dev_cert_files(data_dir).ca),
        ..NatsAccess::user(user, file)
    })
}

/// Where `jilin up` notes the NATS URL it uses, for watchers run beside it.
fn url_file(data_dir: &Path) -> PathBuf {
    data_dir.join("nats.url")
}

/// Notes `url` as the NATS of the `jilin up` keeping its data in `data_dir`.
pub fn note_url(data_dir: &Path, url: &str) -> std::io::Result<()> {
    std::fs::write(url_file(data_dir), format!("{url}\n"))
}

/// The NATS a watcher listens to: `given`, else the one a `jilin up`
/// keeping its data in `data_dir` noted, else the default local one.
pub fn watcher_url(given: Option<&str>, data_dir: &Path) -> String {
    given.map(str::to_owned).unwrap_or_else(|| {
        std::fs::read_to_string(url_file(data_dir))
            .ok()
            .map(|text| text.trim().to_owned())
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| DEFAULT_URL.to_owned())
    })
}

/// Where NATS is looked for when nothing says otherwise.
pub const DEFAULT_URL: &str = "nats://127.0.0.1:4222";

/// Where `jilin up` keeps the NATS users' passwords.
fn passwords_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("auth").join("nats")
}

/// The file holding `user`'s password.
pub fn password_file(dir: &Path, user: &str) -> PathBuf {
    dir.join(format!("{user}.password"))
}

/// The system's NATS users (see `jilin_bus::system_users`), with the
/// passwords kept under `<data>/auth/nats/`, made once.
pub fn ensure_users(data_dir: &Path) -> Result<Vec<NatsUser>, NatsError> {
    let passwords = &passwords_dir(data_dir);
    let write_error = |path: &Path| {
        let path = path.display().to_string();
        move |source| NatsError::Write { path, source }
    };
    std::fs::create_dir_all(passwords).map_err(write_error(passwords))?;
    let mut failure = None;
    let users = system_users(|user| {
        let file = password_file(passwords, user);
        let password = std::fs::read_to_string(&file)
            .map(|password| password.trim().to_owned())
            .or_else(|_| {
                let password = Alphanumeric.sample_string(&mut rand::rng(), 32);
                jilin_auth::write_private(&file, password.as_bytes()).map(|()| password)
            });
        password.unwrap_or_else(|err| {
            failure = Some((file, err));
            String::new()
        })
    });
    match failure {
        Some((file, err)) => Err(write_error(&file)(err)),
        None => Ok(users),
    }
}

/// Writes `<data>/nats/authorization.conf`: the users' block a NATS
/// server config includes (`include "authorization.conf"`).
pub fn write_authorization(data_dir: &Path) -> Result<PathBuf, NatsError> {
    let users = ensure_users(data_dir)?;
    let path = passwords_dir(data_dir).join("authorization.conf");
    jilin_auth::write_private(&path, authorization_block(&users).as_bytes()).map_err(|source| {
        NatsError::Write {
            path: path.display().to_string(),
            source,
        }
    })?;
    Ok(path)
}

/// Writes the server's config (`<data>/nats.conf`): listening on
/// `host:port`, JetStream under `<data>/nats`, TLS with the development
/// certificate, and the system's users.
fn server_config(
    host: &str,
    port: u16,
    data_dir: &Path,
    certs: &CertFiles,
) -> Result<PathBuf, NatsError> {
    let users = ensure_users(data_dir)?;
    let config = format!(
        "# Written by `jilin up` at every start; edit the code, not this file.\n\
         host: {host:?}\nport: {port}\n\
         jetstream {{ store_dir: {store:?} }}\n\
         tls {{ cert_file: {cert:?}, key_file: {key:?} }}\n{authorization}",
        store = data_dir.join("nats").display().to_string(),
        cert = certs.cert.display().to_string(),
        key = certs.key.display().to_string(),
        authorization = authorization_block(&users),
    );
    let path = data_dir.join("nats.conf");
    jilin_auth::write_private(&path, config.as_bytes()).map_err(|source| NatsError::Write {
        path: path.display().to_string(),
        source,
    })?;
    Ok(path)
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
