//! A local certificate authority for development and tests: one CA, and
//! one certificate signed by it that a service presents as a server and,
//! under mutual TLS, as a client of the other services. `jilin up` makes
//! them under its data directory on first start; production certificates
//! come from the operator's own CA and are only read (by the runtime).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::KeyError;
use crate::mint::write_private;

/// The names every development certificate is valid for.
pub const LOCAL_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The PEM files of a local CA and the certificate it signed.
#[derive(Clone, Debug)]
pub struct CertFiles {
    /// The CA certificate clients trust (`ca.pem`).
    pub ca: PathBuf,
    /// The CA's private key (`ca.key`), kept to sign more later.
    pub ca_key: PathBuf,
    /// The certificate the services present (`service.pem`).
    pub cert: PathBuf,
    /// Its private key (`service.key`).
    pub key: PathBuf,
}

impl CertFiles {
    /// The four files in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            ca: dir.join("ca.pem"),
            ca_key: dir.join("ca.key"),
            cert: dir.join("service.pem"),
            key: dir.join("service.key"),
        }
    }

    fn all_exist(&self) -> bool {
        [&self.ca, &self.ca_key, &self.cert, &self.key]
            .iter()
            .all(|path| path.exists())
    }

    /// Makes a new CA and a certificate for `hosts` (DNS names or IP
    /// addresses), unless all four files are already there (they are kept,
    /// so clients that trust the CA keep trusting it).
    pub fn ensure(&self, hosts: &[&str]) -> Result<(), KeyError> {
        if self.all_exist() {
            return Ok(());
        }
        let issued = issue(hosts).map_err(|err| KeyError::Unusable {
            path: self.cert.display().to_string(),
            reason: err.to_string(),
        })?;
        write_pem(&self.ca_key, &issued.ca_key, true)?;
        write_pem(&self.ca, &issued.ca, false)?;
        write_pem(&self.key, &issued.key, true)?;
        write_pem(&self.cert, &issued.cert, false)
    }
}

/// Writes `contents` to `path` (readable by its owner only if `private`),
/// making its directory.
fn write_pem(path: &Path, contents: &str, private: bool) -> Result<(), KeyError> {
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| {
            if private {
                write_private(path, contents.as_bytes())
            } else {
                std::fs::write(path, contents)
            }
        });
    written.map_err(|source| KeyError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// A CA and one certificate it signed, in PEM.
pub struct IssuedCerts {
    pub ca: String,
    pub ca_key: String,
    pub cert: String,
    pub key: String,
}

/// A new CA named "Jilin development CA" and a certificate for `hosts`,
/// usable both to serve TLS and to authenticate as a TLS client.
pub fn issue(hosts: &[&str]) -> Result<IssuedCerts, rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Jilin development CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key)?;

    let key = KeyPair::generate()?;
    let names: Vec<String> = hosts.iter().map(|host| host.to_string()).collect();
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "jilin service");
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let issuer = Issuer::new(ca_params, &ca_key);
    let cert = params.signed_by(&key, &issuer)?;
    Ok(IssuedCerts {
        ca: ca.pem(),
        ca_key: ca_key.serialize_pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let files = CertFiles::in_dir(&dir.path().join("tls"));
        files.ensure(&LOCAL_HOSTS).unwrap();
        let ca = std::fs::read_to_string(&files.ca).unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(
            std::fs::read_to_string(&files.key)
                .unwrap()
                .contains("PRIVATE KEY")
        );
        files.ensure(&LOCAL_HOSTS).unwrap();
        assert_eq!(std::fs::read_to_string(&files.ca).unwrap(), ca);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files.key).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the private key is readable only by its owner"
        );
    }

    #[test]
    fn each_issue_is_a_new_authority() {
        let first = issue(&LOCAL_HOSTS).unwrap();
        let second = issue(&LOCAL_HOSTS).unwrap();
        assert_ne!(first.ca, second.ca);
        assert_ne!(first.key, second.key);
    }
}
