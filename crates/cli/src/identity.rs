//! The development identity `jilin up` runs with: on first start a signing
//! key and its JWKS under `<data>/auth/` and a local CA with the services'
//! certificate under `<data>/tls/`, then, at every start, fresh
//! tokens under `<data>/auth/tokens/`: an admin (the CLI's default), an
//! analyst, a supervisor, one reporter per agency, and the read-only
//! tokens the indicator and risk services call the registry with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jilin_auth::{
    AUDIENCE, CertFiles, DEV_ISSUER, Grant, KeyError, KeyFiles, LOCAL_HOSTS, Minter, Role,
};
use jilin_runtime::{ClientTls, TlsArgs, TlsError};
use time::OffsetDateTime;

use crate::client::Credentials;

/// How long the tokens written at start stay valid.
pub const DEV_TOKEN_TTL: time::Duration = time::Duration::days(30);

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot sign a token: {0}")]
    Sign(#[from] jilin_auth::SignError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The key, the certificates and the tokens of one data directory.
pub struct DevIdentity {
    pub keys: KeyFiles,
    pub certs: CertFiles,
    tokens_dir: PathBuf,
    minter: Minter,
}

/// The tokens written at start, by name (`admin`, `reporter-2201-drc`, …).
#[derive(Clone, Debug, Default)]
pub struct IssuedTokens {
    pub files: BTreeMap<String, PathBuf>,
    pub values: BTreeMap<String, String>,
}

impl IssuedTokens {
    pub fn file(&self, name: &str) -> Option<&Path> {
        self.files.get(name).map(PathBuf::as_path)
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

/// The token name of `agency`'s reporter.
pub fn reporter_token_name(agency: &str) -> String {
    format!("reporter-{agency}")
}

impl DevIdentity {
    /// The key under `<data_dir>/auth`, made if missing.
    pub fn ensure(data_dir: &Path) -> Result<Self, IdentityError> {
        Self::ensure_for(data_dir, &LOCAL_HOSTS)
    }

    /// The key under `<data_dir>/auth`, and a CA with a certificate valid
    /// for `hosts` under `<data_dir>/tls`, each made if missing.
    pub fn ensure_for(data_dir: &Path, hosts: &[&str]) -> Result<Self, IdentityError> {
        let dir = data_dir.join("auth");
        let keys = KeyFiles::in_dir(&dir);
        keys.ensure()?;
        let minter = Minter::from_key_file(&keys.signing_key, DEV_ISSUER, AUDIENCE)?;
        let certs = dev_cert_files(data_dir);
        certs.ensure(hosts)?;
        Ok(Self {
            keys,
            certs,
            tokens_dir: dir.join("tokens"),
            minter,
        })
    }

    /// The key under `<data_dir>/auth`, if `jilin up` made one there.
    pub fn existing(data_dir: &Path) -> Result<Option<Self>, IdentityError> {
        if KeyFiles::in_dir(&data_dir.join("auth"))
            .signing_key
            .exists()
        {
            Self::ensure(data_dir).map(Some)
        } else {
            Ok(None)
        }
    }

    /// How a service serves TLS with the development certificate (and
    /// trusts it when calling the others).
    pub fn service_tls(&self) -> TlsArgs {
        TlsArgs::with_certificate(
            self.certs.cert.clone(),
            self.certs.key.clone(),
            self.certs.ca.clone(),
        )
    }

    /// What a client of the services trusts: the development CA.
    pub fn client_tls(&self) -> Result<ClientTls, TlsError> {
        ClientTls::trusting(Some(&self.certs.ca))
    }

    pub fn tokens_dir(&self) -> &Path {
        &self.tokens_dir
    }

    /// A token for `grant`, valid from `now` for [`DEV_TOKEN_TTL`].
    pub fn mint(&self, grant: &Grant, now: OffsetDateTime) -> Result<String, IdentityError> {
        Ok(self.minter.mint(grant, now, DEV_TOKEN_TTL)?)
    }

    /// Writes the standard tokens, and one reporter per agency in
    /// `agencies` (agency ids such as `2201-drc`).
    pub fn issue_tokens(
        &self,
        now: OffsetDateTime,
        agencies: &[String],
    ) -> Result<IssuedTokens, IdentityError> {
        let user = |name: &str, role: Role| Grant {
            subject: format!("users/dev-{name}"),
            roles: vec![role],
            agency: None,
        };
        let service = |name: &str| Grant {
            subject: format!("services/{name}"),
            roles: Vec::new(),
            agency: None,
        };
        let mut grants = vec![
            ("admin".to_owned(), user("admin", Role::Admin)),
            ("analyst".to_owned(), user("analyst", Role::Analyst)),
            (
                "supervisor".to_owned(),
                user("supervisor", Role::Supervisor),
            ),
            ("service-indicators".to_owned(), service("indicators")),
            ("service-risk".to_owned(), service("risk")),
        ];
        for agency in agencies {
            grants.push((
                reporter_token_name(agency),
                Grant {
                    subject: format!("users/dev-reporter@{agency}"),
                    roles: vec![Role::Reporter],
                    agency: Some(format!("agencies/{agency}")),
                },
            ));
        }
        std::fs::create_dir_all(&self.tokens_dir).map_err(|source| IdentityError::Write {
            path: self.tokens_dir.display().to_string(),
            source,
        })?;
        let mut issued = IssuedTokens::default();
        for (name, grant) in grants {
            let token = self.mint(&grant, now)?;
            let file = self.tokens_dir.join(format!("{name}.jwt"));
            std::fs::write(&file, &token).map_err(|source| IdentityError::Write {
                path: file.display().to_string(),
                source,
            })?;
            issued.files.insert(name.clone(), file);
            issued.values.insert(name, token);
        }
        Ok(issued)
    }
}

/// The development CA and certificate `jilin up` keeps under `data_dir`.
pub fn dev_cert_files(data_dir: &Path) -> CertFiles {
    CertFiles::in_dir(&data_dir.join("tls"))
}

/// Who the demo loader writes as: each project's agency's reporter, or
/// no token at all for a registry that does not check them.
#[derive(Clone, Debug, Default)]
pub struct AgencyCredentials {
    by_agency: BTreeMap<String, Credentials>,
}

impl AgencyCredentials {
    /// The reporters among `tokens`.
    pub fn from_tokens(tokens: &IssuedTokens) -> Result<Self, crate::client::CredentialsError> {
        let mut by_agency = BTreeMap::new();
        for (name, token) in &tokens.values {
            if let Some(agency) = name.strip_prefix("reporter-") {
                by_agency.insert(agency.to_owned(), Credentials::new(Some(token), None)?);
            }
        }
        Ok(Self { by_agency })
    }

    /// `message` as `agency`'s reporter sends it.
    pub fn request<T>(&self, agency: &str, message: T) -> tonic::Request<T> {
        let request = tonic::Request::new(message);
        match self.by_agency.get(agency) {
            Some(credentials) => credentials.apply(request),
            None => request,
        }
    }
}
