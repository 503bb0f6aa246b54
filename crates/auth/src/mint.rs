//! Signing tokens and making keys, for development and tests: `jilin up`
//! makes a signing key and its JWKS on first start, `jilin token mint`
//! signs tokens with it. Production tokens come from the province's
//! identity provider; the services only ever need its public keys.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::principal::Role;
use crate::verify::KeyError;

/// What a token grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub subject: String,
    pub roles: Vec<Role>,
    /// e.g. `agencies/changchun-drc`, for an agency's principal.
    pub agency: Option<String>,
}

#[derive(Serialize)]
struct MintedClaims<'a> {
    sub: &'a str,
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    agency: Option<&'a str>,
    roles: Vec<&'static str>,
}

/// Signs tokens with one Ed25519 key.
pub struct Minter {
    key: EncodingKey,
    key_id: String,
    issuer: String,
    audience: String,
}

impl Minter {
    /// A minter with the PKCS#8 PEM signing key in `path`.
    pub fn from_key_file(path: &Path, issuer: &str, audience: &str) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let signing = SigningKey::from_pkcs8_pem(&text).map_err(|err| KeyError::Unusable {
            path: path.display().to_string(),
            reason: err.to_string(),
        })?;
        Self::new(&signing, issuer, audience).map_err(|reason| KeyError::Unusable {
            path: path.display().to_string(),
            reason,
        })
    }

    /// A minter signing with `signing`; fails only if the key cannot be
    /// encoded as PKCS#8.
    pub fn new(signing: &SigningKey, issuer: &str, audience: &str) -> Result<Self, String> {
        let der = signing.to_pkcs8_der().map_err(|err| err.to_string())?;
        Ok(Self {
            key: EncodingKey::from_ed_der(der.as_bytes()),
            key_id: key_id(&signing.verifying_key()),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }

    /// A token for `grant`, valid from `now` for `ttl`.
    pub fn mint(
        &self,
        grant: &Grant,
        now: OffsetDateTime,
        ttl: time::Duration,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key_id.clone());
        let claims = MintedClaims {
            sub: &grant.subject,
            iss: &self.issuer,
            aud: &self.audience,
            iat: now.unix_timestamp(),
            nbf: now.unix_timestamp(),
            exp: (now + ttl).unix_timestamp(),
            agency: grant.agency.as_deref(),
            roles: grant.roles.iter().map(|role| role.as_str()).collect(),
        };
        encode(&header, &claims, &self.key)
    }
}

/// A new random Ed25519 signing key.
pub fn generate_signing_key() -> SigningKey {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    SigningKey::from_bytes(&secret)
}

/// The key id of a public key: the first 16 hex digits of its SHA-256.
pub fn key_id(key: &VerifyingKey) -> String {
    Sha256::digest(key.as_bytes())[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A JWKS document holding `keys`.
pub fn jwks(keys: &[VerifyingKey]) -> String {
    let keys: Vec<serde_json::Value> = keys
        .iter()
        .map(|key| {
            serde_json::json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": key_id(key),
                "x": URL_SAFE_NO_PAD.encode(key.as_bytes()),
            })
        })
        .collect();
    serde_json::json!({ "keys": keys }).to_string()
}

/// A signing key's files: the private key and the JWKS to verify with.
#[derive(Clone, Debug)]
pub struct KeyFiles {
    pub signing_key: PathBuf,
    pub jwks: PathBuf,
}

impl KeyFiles {
    /// `signing-key.pem` and `jwks.json` in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            signing_key: dir.join("signing-key.pem"),
            jwks: dir.join("jwks.json"),
        }
    }

    /// Makes a new key and writes both files, unless the signing key is
    /// already there (it is kept, so tokens minted before stay valid).
    pub fn ensure(&self) -> Result<(), KeyError> {
        if self.signing_key.exists() {
            return Ok(());
        }
        let write_error = |path: &Path| {
            let path = path.display().to_string();
            move |source| KeyError::Write { path, source }
        };
        if let Some(dir) = self.signing_key.parent() {
            std::fs::create_dir_all(dir).map_err(write_error(dir))?;
        }
        let signing = generate_signing_key();
        let pem = signing
            .to_pkcs8_pem(Default::default())
            .map_err(|err| KeyError::Unusable {
                path: self.signing_key.display().to_string(),
                reason: err.to_string(),
            })?;
        write_private(&self.signing_key, pem.as_bytes()).map_err(write_error(&self.signing_key))?;
        std::fs::write(&self.jwks, jwks(&[signing.verifying_key()]))
            .map_err(write_error(&self.jwks))
    }
}

/// Writes `contents` to `path`, readable by its owner only, and syncs it.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}
