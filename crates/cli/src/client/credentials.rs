//! Who the client is: a bearer token added to every call (and, for a
//! system running with `--insecure-no-auth`, the actor header instead).
//! The token comes from `--token`, `--token-file`, or the admin token that
//! `jilin up` wrote under its data directory.

use std::path::{Path, PathBuf};

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// A channel whose calls carry the caller's credentials.
pub type AuthedChannel = InterceptedService<Channel, Credentials>;

/// What every call of one caller carries.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    authorization: Option<MetadataValue<Ascii>>,
    actor: Option<MetadataValue<Ascii>>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CredentialsError(pub String);

impl Credentials {
    /// Credentials sending `token` (if any) and naming `actor` (if any).
    pub fn new(token: Option<&str>, actor: Option<&str>) -> Result<Self, CredentialsError> {
        let authorization = token
            .map(|token| MetadataValue::try_from(format!("Bearer {}", token.trim())))
            .transpose()
            .map_err(|_| CredentialsError("the token cannot be sent as a header".into()))?;
        let actor = actor.and_then(|actor| MetadataValue::try_from(actor).ok());
        Ok(Self {
            authorization,
            actor,
        })
    }

    /// Credentials with the token read from `path`.
    pub fn from_token_file(path: &Path) -> Result<Self, CredentialsError> {
        let token = std::fs::read_to_string(path).map_err(|err| {
            CredentialsError(format!("cannot read the token {}: {err}", path.display()))
        })?;
        Self::new(Some(&token), None)
    }

    /// Adds the credentials to one request.
    pub fn apply<T>(&self, mut request: tonic::Request<T>) -> tonic::Request<T> {
        if let Some(authorization) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", authorization.clone());
        }
        if let Some(actor) = &self.actor {
            request
                .metadata_mut()
                .insert(jilin_runtime::auth::ACTOR_HEADER, actor.clone());
        }
        request
    }

    /// `channel` with these credentials on every call.
    pub fn on(&self, channel: Channel) -> AuthedChannel {
        InterceptedService::new(channel, self.clone())
    }
}

impl Interceptor for Credentials {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        Ok(self.apply(request))
    }
}

/// The admin token `jilin up` writes under `data_dir`.
pub fn dev_admin_token(data_dir: &Path) -> PathBuf {
    data_dir.join("auth").join("tokens").join("admin.jwt")
}
