//! How a service signs in to NATS: the flags every service takes for its
//! NATS user (or creds file) and the CA of the server's TLS certificate,
//! and the connection made with them.

use std::path::PathBuf;

use jilin_bus::NatsAccess;

use crate::StartError;

/// A service's NATS credentials; every service takes these flags.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct NatsArgs {
    /// The NATS user this service connects as (with `--nats-password-file`).
    #[arg(long, env = "NATS_USER", requires = "nats_password_file")]
    pub nats_user: Option<String>,
    /// A file holding the password of `--nats-user`.
    #[arg(long, env = "NATS_PASSWORD_FILE", requires = "nats_user")]
    pub nats_password_file: Option<PathBuf>,
    /// A NATS creds file (user JWT and NKey seed), instead of a user and
    /// password.
    #[arg(long, env = "NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,
    /// The CA (PEM) of the NATS server's certificate: the connection then
    /// requires TLS.
    #[arg(long, env = "NATS_CA")]
    pub nats_ca: Option<PathBuf>,
}

impl NatsArgs {
    /// What the client presents.
    pub fn access(&self) -> NatsAccess {
        NatsAccess {
            user: self.nats_user.clone(),
            password_file: self.nats_password_file.clone(),
            creds_file: self.nats_creds.clone(),
            ca: self.nats_ca.clone(),
        }
    }

    /// From what a client presents.
    pub fn from_access(access: &NatsAccess) -> Self {
        Self {
            nats_user: access.user.clone(),
            nats_password_file: access.password_file.clone(),
            nats_creds: access.creds_file.clone(),
            nats_ca: access.ca.clone(),
        }
    }
}

/// Connects to NATS at `url` as `name` with `args` (or keeps trying in the
/// background).
pub async fn connect_nats(
    url: &str,
    name: &str,
    args: &NatsArgs,
) -> Result<jilin_bus::async_nats::Client, StartError> {
    jilin_bus::connect(url, name, &args.access())
        .await
        .map_err(|source| StartError::Nats {
            url: url.to_owned(),
            source,
        })
}
