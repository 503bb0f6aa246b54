//! Authentication at the gRPC edge, the same in every service: the flags
//! that configure it, an interceptor that turns a bearer token into a
//! [`Principal`] on the request (or refuses it as UNAUTHENTICATED with an
//! `ErrorInfo` reason), and PERMISSION_DENIED for what a principal may not
//! do. Health and reflection are served beside the intercepted service, so
//! they stay open. The token itself is never logged.

use std::path::PathBuf;

use jilin_auth::{Denied, Principal, Role, TokenError, Verifier, VerifierConfig};
use tokio_util::sync::CancellationToken;
use tonic::codegen::http;

use crate::guard::Guarded;
use crate::metrics::GrpcMetrics;
use tonic::{Code, Request, Status};

use crate::{Clock, ClockSetting, StatusDetails};

/// `ErrorInfo.domain` of authentication and authorization errors.
pub const AUTH_DOMAIN: &str = "auth.jilin.gov.cn";
/// With `--insecure-no-auth`, the header naming the actor (as before
/// tokens existed); ignored otherwise.
pub const ACTOR_HEADER: &str = "x-jilin-actor";

/// How callers are authenticated; every service takes these flags.
#[derive(Clone, Debug, clap::Args)]
pub struct AuthArgs {
    /// Public keys tokens are verified with: a JWKS file (rotate keys by
    /// adding the new one, sending SIGHUP, then removing the old) or one
    /// Ed25519 public key in PEM.
    #[arg(long, env = "JILIN_JWKS")]
    pub jwks: Option<PathBuf>,
    /// The `iss` every token must carry.
    #[arg(long, env = "JILIN_TOKEN_ISSUER", default_value = jilin_auth::DEV_ISSUER)]
    pub token_issuer: String,
    /// The `aud` every token must carry.
    #[arg(long, env = "JILIN_TOKEN_AUDIENCE", default_value = jilin_auth::AUDIENCE)]
    pub token_audience: String,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    #[arg(long, env = "JILIN_TOKEN_LEEWAY", default_value_t = 30)]
    pub token_leeway: i64,
    /// Accept every call without a token, as an admin named by the
    /// `x-jilin-actor` header. For development only: warns at start.
    #[arg(long, env = "JILIN_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// A file holding this service's own token, sent when it calls the
    /// other services (a read-only principal is enough).
    #[arg(long, env = "JILIN_PEER_TOKEN_FILE")]
    pub peer_token_file: Option<PathBuf>,
}

/// The flags' defaults: tokens required, but no keys given yet.
impl Default for AuthArgs {
    fn default() -> Self {
        Self {
            jwks: None,
            token_issuer: jilin_auth::DEV_ISSUER.into(),
            token_audience: jilin_auth::AUDIENCE.into(),
            token_leeway: 30,
            insecure_no_auth: false,
            peer_token_file: None,
        }
    }
}

impl AuthArgs {
    /// No authentication, for tests of everything else and development.
    pub fn insecure() -> Self {
        Self {
            insecure_no_auth: true,
            ..Self::default()
        }
    }

    /// Tokens verified against `jwks`, issued by the development issuer;
    /// this service calls its peers with the token in `peer_token_file`.
    pub fn verified(jwks: PathBuf, peer_token_file: Option<PathBuf>) -> Self {
        Self {
            jwks: Some(jwks),
            peer_token_file,
            ..Self::default()
        }
    }

    /// The token this service sends to its peers, if any.
    pub fn peer_token(&self) -> Result<Option<String>, String> {
        let Some(path) = &self.peer_token_file else {
            return Ok(None);
        };
        std::fs::read_to_string(path)
            .map(|token| Some(token.trim().to_owned()))
            .map_err(|err| format!("cannot read the peer token {}: {err}", path.display()))
    }
}

/// Whether tokens are required.
#[derive(Clone)]
enum Mode {
    Verified(Verifier),
    /// `--insecure-no-auth`.
    Open,
}

/// The interceptor every service's API sits behind.
#[derive(Clone)]
pub struct Authenticator {
    mode: Mode,
    clock: Clock,
    /// The service it guards, as named in spans.
    service: String,
}

impl Authenticator {
    /// From the flags: keys required unless `--insecure-no-auth`. Token
    /// lifetimes are judged by the system clock, never by a service's
    /// `--clock`: a clock set back must not revive expired tokens.
    pub fn from_args(args: &AuthArgs, service: &str) -> Result<Self, String> {
        let clock = Clock::new(ClockSetting::System);
        let mode = match (&args.jwks, args.insecure_no_auth) {
            (_, true) => {
                tracing::warn!(%service, "--insecure-no-auth: every caller is an admin; never in production");
                Mode::Open
            }
            (Some(keys), false) => Mode::Verified(
                Verifier::load(VerifierConfig {
                    keys: keys.clone(),
                    issuer: args.token_issuer.clone(),
                    audience: args.token_audience.clone(),
                    leeway_seconds: args.token_leeway,
                })
                .map_err(|err| err.to_string())?,
            ),
            (None, false) => {
                return Err(
                    "no keys to verify tokens with: give --jwks FILE (JILIN_JWKS), or \
                     --insecure-no-auth for development"
                        .into(),
                );
            }
        };
        Ok(Self {
            mode,
            clock,
            service: service.to_owned(),
        })
    }

    /// `service` behind this authenticator, its denials audited, its
    /// calls counted in `metrics`.
    pub fn guard<S>(self, service: S, metrics: &GrpcMetrics) -> Guarded<S> {
        Guarded::new(service, self, metrics.clone())
    }

    /// What a service serves behind this authenticator: its `api`, and
    /// the administration of its `store` (backups, stamped by `clock`).
    pub fn routes<S>(
        self,
        api: S,
        store: &jilin_store::Store,
        clock: &Clock,
        metrics: &GrpcMetrics,
    ) -> tonic::service::Routes
    where
        S: tonic::codegen::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + tonic::server::NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let admin = crate::StoreAdminApi::server(store.clone(), clock.clone());
        tonic::service::Routes::new(self.clone().guard(api, metrics))
            .add_service(self.guard(admin, metrics))
    }

    /// The service this authenticator guards.
    pub(crate) fn service(&self) -> &str {
        &self.service
    }

    /// The caller of a request with `headers`, or the UNAUTHENTICATED
    /// status that refuses it (with its `ErrorInfo` reason).
    pub(crate) fn authenticate(&self, headers: &http::HeaderMap) -> Result<Principal, Status> {
        self.principal(headers).map_err(|err| {
            StatusDetails::new(AUTH_DOMAIN).status(
                Code::Unauthenticated,
                err.to_string(),
                err.reason(),
                &[],
            )
        })
    }

    /// Reads the key file again on every SIGHUP until `shutdown`.
    pub fn reload_on_hangup(&self, shutdown: CancellationToken) {
        let Mode::Verified(verifier) = &self.mode else {
            return;
        };
        let verifier = verifier.clone();
        // Listening starts before this returns, so a SIGHUP sent once the
        // service serves never finds the default action (exit).
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: keys reload only on restart");
            return;
        };
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = hangups.recv() => match verifier.reload() {
                        Ok(keys) => tracing::info!(keys, file = %verifier.key_file().display(), "token keys reloaded"),
                        Err(err) => tracing::error!(error = %err, "token keys not reloaded; the old ones stay"),
                    },
                }
            }
        });
    }

    fn principal(&self, metadata: &http::HeaderMap) -> Result<Principal, TokenError> {
        match &self.mode {
            Mode::Open => Ok(Principal {
                subject: metadata
                    .get(ACTOR_HEADER)
                    .and_then(|value| value.to_str().ok())
                    .filter(|actor| !actor.is_empty())
                    .unwrap_or("anonymous")
                    .to_owned(),
                agency: None,
                roles: [Role::Admin].into(),
            }),
            Mode::Verified(verifier) => {
                let token = metadata
                    .get("authorization")
                    .and_then(|value| value.to_str().ok())
                    .ok_or(TokenError::Missing)?
                    .strip_prefix("Bearer ")
                    .ok_or_else(|| TokenError::Malformed("not a Bearer authorization".into()))?;
                verifier.verify(token.trim(), self.clock.now())
            }
        }
    }
}

/// The principal the guard put on `request`.
pub fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| {
            StatusDetails::new(AUTH_DOMAIN).status(
                Code::Unauthenticated,
                TokenError::Missing.to_string(),
                TokenError::Missing.reason(),
                &[],
            )
        })
}

/// The PERMISSION_DENIED status for `denied`: the reason names the role
/// or the agency required.
pub fn permission_denied(denied: &Denied) -> Status {
    let message = denied.to_string();
    let (reason, metadata) = match denied {
        Denied::Role { role, .. } => ("ROLE_REQUIRED", ("role", role.as_str().to_owned())),
        Denied::MoveAgency { .. } => ("ROLE_REQUIRED", ("role", Role::Admin.as_str().to_owned())),
        Denied::Agency { agency, .. } => {
            ("AGENCY_REQUIRED", ("agency", format!("agencies/{agency}")))
        }
    };
    StatusDetails::new(AUTH_DOMAIN).status(Code::PermissionDenied, message, reason, &[metadata])
}
