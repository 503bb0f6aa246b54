//! Transport security, the same in every service: the flags that give a
//! service its certificate (and, for mutual TLS, the CA its clients'
//! certificates must come from), the server side built from them, and
//! [`ClientTls`], the one way anything here opens a channel to a service:
//! `https://` URLs over TLS trusting a given CA, `http://` URLs in
//! plaintext. Plaintext serving needs `--insecure-plaintext` and warns.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

/// How long a client gets to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How a service encrypts its gRPC; every service takes these flags.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct TlsArgs {
    /// This service's certificate chain (PEM). With `--tls-key`, the
    /// service serves gRPC over TLS only.
    #[arg(long, env = "JILIN_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM).
    #[arg(long, env = "JILIN_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: every client must present a certificate signed by this
    /// CA (PEM), or the handshake fails. The service also presents its own
    /// certificate when it calls the other services.
    #[arg(long, env = "JILIN_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,
    /// The CA (PEM) this service trusts when it calls the other services
    /// at `https://` URLs.
    #[arg(long, env = "JILIN_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// Serve gRPC in plaintext. For development only: warns at start.
    #[arg(long, env = "JILIN_INSECURE_PLAINTEXT")]
    pub insecure_plaintext: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(
        "no certificate to serve TLS with: give --tls-cert and --tls-key (JILIN_TLS_CERT, \
         JILIN_TLS_KEY), or --insecure-plaintext for development"
    )]
    NoCertificate,
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{url} is https:// but no CA to trust was given (--ca, JILIN_CA or --tls-ca)")]
    NoCa { url: String },
    #[error("bad address {url}: {reason}")]
    Address { url: String, reason: String },
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

impl TlsArgs {
    /// Plaintext, for tests of everything else.
    pub fn plaintext() -> Self {
        Self {
            insecure_plaintext: true,
            ..Self::default()
        }
    }

    /// Serving with `cert` and `key`, trusting `ca` when calling peers.
    pub fn with_certificate(cert: PathBuf, key: PathBuf, ca: PathBuf) -> Self {
        Self {
            tls_cert: Some(cert),
            tls_key: Some(key),
            tls_ca: Some(ca),
            ..Self::default()
        }
    }

    /// The server side, or `None` for plaintext (`--insecure-plaintext`,
    /// which warns).
    pub fn server(&self, service: &str) -> Result<Option<ServerTlsConfig>, TlsError> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            if self.insecure_plaintext {
                tracing::warn!(%service, "--insecure-plaintext: gRPC is not encrypted; never in production");
                return Ok(None);
            }
            return Err(TlsError::NoCertificate);
        };
        let mut config = ServerTlsConfig::new()
            .identity(Identity::from_pem(read(cert)?, read(key)?))
            .timeout(HANDSHAKE_TIMEOUT);
        if let Some(ca) = &self.tls_client_ca {
            config = config.client_ca_root(Certificate::from_pem(read(ca)?));
        }
        Ok(Some(config))
    }

    /// How this service connects to its peers: trusting `--tls-ca`, and
    /// presenting its own certificate when mutual TLS is on.
    pub fn client(&self) -> Result<ClientTls, TlsError> {
        let mut client = ClientTls::trusting(self.tls_ca.as_deref())?;
        if self.tls_client_ca.is_some()
            && let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key)
        {
            client.identity = Some(Identity::from_pem(read(cert)?, read(key)?));
        }
        Ok(client)
    }
}

/// What a client trusts and shows when it opens a channel.
#[derive(Clone, Debug, Default)]
pub struct ClientTls {
    ca: Option<Certificate>,
    identity: Option<Identity>,
}

impl ClientTls {
    /// Trusting the CA in `ca` (PEM), if any.
    pub fn trusting(ca: Option<&Path>) -> Result<Self, TlsError> {
        Ok(Self {
            ca: ca.map(read).transpose()?.map(Certificate::from_pem),
            identity: None,
        })
    }

    /// Also presenting the certificate `cert` with its `key` (mutual TLS).
    pub fn presenting(mut self, cert: &Path, key: &Path) -> Result<Self, TlsError> {
        self.identity = Some(Identity::from_pem(read(cert)?, read(key)?));
        Ok(self)
    }

    /// An endpoint for `url` with `TCP_NODELAY`: over TLS for `https://`
    /// (which needs a CA), in plaintext for `http://`.
    pub fn endpoint(&self, url: &str) -> Result<Endpoint, TlsError> {
        let address = |reason: String| TlsError::Address {
            url: url.to_owned(),
            reason,
        };
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|err| address(err.to_string()))?
            .tcp_nodelay(true);
        if !url.starts_with("https://") {
            return Ok(endpoint);
        }
        let ca = self.ca.clone().ok_or_else(|| TlsError::NoCa {
            url: url.to_owned(),
        })?;
        let mut config = ClientTlsConfig::new()
            .ca_certificate(ca)
            .timeout(HANDSHAKE_TIMEOUT);
        if let Some(identity) = &self.identity {
            config = config.identity(identity.clone());
        }
        endpoint
            .tls_config(config)
            .map_err(|err| address(err.to_string()))
    }
}

/// `https://{addr}` when `tls`, else `http://{addr}`.
pub fn url_of(addr: std::net::SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{addr}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_needs_a_certificate_or_the_explicit_flag() {
        assert!(matches!(
            TlsArgs::default().server("registry"),
            Err(TlsError::NoCertificate)
        ));
        assert!(TlsArgs::plaintext().server("registry").unwrap().is_none());
    }

    #[test]
    fn https_needs_a_ca_and_http_does_not() {
        let bare = ClientTls::default();
        assert!(matches!(
            bare.endpoint("https://127.0.0.1:50051"),
            Err(TlsError::NoCa { .. })
        ));
        assert!(bare.endpoint("http://127.0.0.1:50051").is_ok());
        assert!(matches!(
            bare.endpoint("not a url"),
            Err(TlsError::Address { .. })
        ));
    }

    #[test]
    fn urls_carry_the_scheme_of_the_transport() {
        let addr = "127.0.0.1:50051".parse().unwrap();
        assert_eq!(url_of(addr, true), "https://127.0.0.1:50051");
        assert_eq!(url_of(addr, false), "http://127.0.0.1:50051");
    }
}
