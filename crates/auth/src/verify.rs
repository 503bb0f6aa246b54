//! Verifying bearer tokens: EdDSA-signed JWTs checked against the public
//! keys of a JWKS file (or one public key in PEM), their issuer and
//! audience, and their `exp` and `nbf` against the caller's clock with a
//! small skew. The key file can be read again at any time, so keys rotate
//! by adding the new one before removing the old.
//!
//! A token whose signature and claims verified is remembered (by its full
//! text, signature included) until the keys are reloaded, so a client that
//! sends the same token on every call pays for the signature check once;
//! its lifetime is still judged on every call.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::principal::{Principal, Role};

/// Why a token was refused. Each has a stable reason for `ErrorInfo`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token: send `authorization: Bearer <JWT>`")]
    Missing,
    #[error("the token is not a well-formed JWT: {0}")]
    Malformed(String),
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token is signed with an unknown key `{0}`")]
    UnknownKey(String),
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    #[error("the token is meant for another audience")]
    WrongAudience,
}

impl TokenError {
    /// The `google.rpc.ErrorInfo` reason.
    pub fn reason(&self) -> &'static str {
        match self {
            TokenError::Missing => "TOKEN_MISSING",
            TokenError::Malformed(_) => "TOKEN_MALFORMED",
            TokenError::Expired => "TOKEN_EXPIRED",
            TokenError::NotYetValid => "TOKEN_NOT_YET_VALID",
            TokenError::BadSignature => "TOKEN_BAD_SIGNATURE",
            TokenError::UnknownKey(_) => "TOKEN_UNKNOWN_KEY",
            TokenError::WrongIssuer => "TOKEN_WRONG_ISSUER",
            TokenError::WrongAudience => "TOKEN_WRONG_AUDIENCE",
        }
    }
}

/// Why the key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} holds no usable key: {reason}")]
    Unusable { path: String, reason: String },
}

/// Where the keys are and what tokens must say.
#[derive(Clone, Debug)]
pub struct VerifierConfig {
    /// A JWKS file (`{"keys": [...]}`) or a public key in PEM.
    pub keys: PathBuf,
    pub issuer: String,
    pub audience: String,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway_seconds: i64,
}

/// Tokens remembered at most; past that the memory starts afresh.
const REMEMBERED: usize = 4096;

/// Verifies tokens; clones share the keys, so a reload reaches them all.
#[derive(Clone)]
pub struct Verifier {
    config: Arc<VerifierConfig>,
    keys: Arc<RwLock<Vec<Key>>>,
    verified: Arc<Mutex<HashMap<String, Verified>>>,
}

/// A token whose signature, issuer and audience checked out.
#[derive(Clone)]
struct Verified {
    principal: Principal,
    expires: i64,
    not_before: Option<i64>,
}

struct Key {
    id: Option<String>,
    decoding: DecodingKey,
}

/// The claims this service reads; `iss` and `aud` are checked by the
/// validation itself.
#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: Option<i64>,
    nbf: Option<i64>,
    #[serde(default)]
    agency: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

impl Verifier {
    /// Reads the key file; fails when it holds no usable key.
    pub fn load(config: VerifierConfig) -> Result<Self, KeyError> {
        let keys = read_keys(&config.keys)?;
        Ok(Self {
            config: Arc::new(config),
            keys: Arc::new(RwLock::new(keys)),
            verified: Arc::default(),
        })
    }

    /// Reads the key file again (after a rotation); returns how many keys
    /// it holds. On error the keys in use stay as they were.
    pub fn reload(&self) -> Result<usize, KeyError> {
        let keys = read_keys(&self.config.keys)?;
        let count = keys.len();
        // Lock poisoning would mean a panic while swapping a Vec: not possible.
        *self.keys.write().expect("no panic while holding the keys") = keys;
        // A removed key must stop vouching for its tokens at once.
        self.remembered().clear();
        Ok(count)
    }

    /// The key file.
    pub fn key_file(&self) -> &Path {
        &self.config.keys
    }

    /// The principal a bearer token names, judged at `now`.
    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Result<Principal, TokenError> {
        let remembered = self.remembered().get(token).cloned();
        let verified = match remembered {
            Some(verified) => verified,
            None => {
                let verified = self.check_signature_and_claims(token)?;
                let mut remembered = self.remembered();
                if remembered.len() >= REMEMBERED {
                    remembered.clear();
                }
                remembered.insert(token.to_owned(), verified.clone());
                verified
            }
        };
        let now = now.unix_timestamp();
        let leeway = self.config.leeway_seconds;
        if now > verified.expires + leeway {
            return Err(TokenError::Expired);
        }
        if verified.not_before.is_some_and(|nbf| nbf > now + leeway) {
            return Err(TokenError::NotYetValid);
        }
        Ok(verified.principal)
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<String, Verified>> {
        // Lock poisoning would mean a panic inside a HashMap call: not possible.
        self.verified
            .lock()
            .expect("no panic while holding the tokens")
    }

    /// Everything about a token but its lifetime.
    fn check_signature_and_claims(&self, token: &str) -> Result<Verified, TokenError> {
        let header = decode_header(token).map_err(|err| TokenError::Malformed(err.to_string()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Malformed(format!(
                "algorithm {:?}, expected EdDSA",
                header.alg
            )));
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims = HashSet::new();
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        let claims = {
            // Lock poisoning would mean a panic while swapping a Vec: not possible.
            let keys = self.keys.read().expect("no panic while holding the keys");
            let candidates: Vec<&Key> = match &header.kid {
                Some(kid) => keys
                    .iter()
                    .filter(|key| key.id.as_deref() == Some(kid.as_str()))
                    .collect(),
                None => keys.iter().collect(),
            };
            if candidates.is_empty() {
                return Err(TokenError::UnknownKey(header.kid.unwrap_or_default()));
            }
            let mut outcome = Err(TokenError::BadSignature);
            for key in candidates {
                outcome = decode::<Claims>(token, &key.decoding, &validation)
                    .map(|data| data.claims)
                    .map_err(token_error);
                if !matches!(outcome, Err(TokenError::BadSignature)) {
                    break;
                }
            }
            outcome?
        };
        let expires = claims
            .exp
            .ok_or_else(|| TokenError::Malformed("no `exp` claim".into()))?;
        if claims.sub.is_empty() {
            return Err(TokenError::Malformed("empty `sub` claim".into()));
        }
        Ok(Verified {
            principal: Principal {
                subject: claims.sub,
                agency: claims.agency.filter(|agency| !agency.is_empty()),
                // Roles this version does not know grant nothing.
                roles: claims
                    .roles
                    .iter()
                    .filter_map(|role| role.parse::<Role>().ok())
                    .collect(),
            },
            expires,
            not_before: claims.nbf,
        })
    }
}

fn token_error(err: jsonwebtoken::errors::Error) -> TokenError {
    match err.kind() {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => TokenError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => TokenError::WrongAudience,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        _ => TokenError::Malformed(err.to_string()),
    }
}

fn read_keys(path: &Path) -> Result<Vec<Key>, KeyError> {
    let unusable = |reason: String| KeyError::Unusable {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let keys = if text.trim_start().starts_with('{') {
        let set: JwkSet = serde_json::from_str(&text).map_err(|err| unusable(err.to_string()))?;
        set.keys
            .iter()
            .map(|jwk| {
                let decoding =
                    DecodingKey::from_jwk(jwk).map_err(|err| unusable(err.to_string()))?;
                Ok(Key {
                    id: jwk.common.key_id.clone(),
                    decoding,
                })
            })
            .collect::<Result<Vec<_>, KeyError>>()?
    } else {
        let decoding =
            DecodingKey::from_ed_pem(text.as_bytes()).map_err(|err| unusable(err.to_string()))?;
        vec![Key { id: None, decoding }]
    };
    if keys.is_empty() {
        return Err(unusable("the key set is empty".into()));
    }
    Ok(keys)
}
