//! The edge every service API sits behind: each call is authenticated
//! (the token's [`Principal`] goes on the request, or the call ends
//! UNAUTHENTICATED), and every denied call, UNAUTHENTICATED here or
//! PERMISSION_DENIED by the service, is written to the audit log: the
//! tracing target [`AUDIT_TARGET`], with the principal, the method, the
//! code, the reason and what was required. Time comes with every log line.
//! Every call is counted by method and code, with its latency, and runs
//! in a span that continues the caller's `traceparent`.
//!
//! It is also the panic boundary: a call whose handler panics ends
//! INTERNAL ("the service failed on this request"), the panic is logged at
//! ERROR with the method, and the service goes on serving every other call.
//! (A stack overflow cannot be caught: every parser of user text is bounded
//! in depth and length instead, so that none can happen.)

use std::any::Any;
use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::FutureExt;
use jilin_auth::Principal;
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;
use tonic::{Code, Status};
use tonic_types::StatusExt;
use tracing::Instrument;

use crate::Authenticator;
use crate::metrics::GrpcMetrics;
use crate::panics::panic_message;

/// The tracing target of the audit log; operators route it to its own
/// file (`JILIN_AUDIT_LOG`) or filter it with `RUST_LOG`.
pub const AUDIT_TARGET: &str = "jilin::audit";

/// `S` behind an [`Authenticator`], with denials audited.
#[derive(Clone)]
pub struct Guarded<S> {
    inner: S,
    authenticator: Authenticator,
    metrics: GrpcMetrics,
}

impl<S> Guarded<S> {
    pub(crate) fn new(inner: S, authenticator: Authenticator, metrics: GrpcMetrics) -> Self {
        Self {
            inner,
            authenticator,
            metrics,
        }
    }
}

/// Writes one denied call to the audit log.
fn audit(principal: Option<&str>, method: &str, status: &Status) {
    let info = status.get_details_error_info();
    let reason = info.as_ref().map_or("", |info| info.reason.as_str());
    let required = info
        .as_ref()
        .and_then(|info| info.metadata.iter().next())
        .map(|(key, value)| format!("{key}={value}"))
        .unwrap_or_default();
    tracing::warn!(
        target: AUDIT_TARGET,
        principal = principal.unwrap_or("-"),
        method,
        code = ?status.code(),
        reason,
        required,
        detail = status.message(),
        "call denied"
    );
}

/// The answer to a call whose handler panicked, logged.
fn panicked(method: &str, panic: &(dyn Any + Send)) -> http::Response<Body> {
    let message = panic_message(panic);
    tracing::error!(method, panic = message, "a call's handler panicked");
    Status::internal(format!(
        "the service failed on this request ({method}); the failure is logged, and other calls are unaffected"
    ))
    .into_http()
}

impl<S> Service<http::Request<Body>> for Guarded<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let started = Instant::now();
        let method = request.uri().path().to_owned();
        let metrics = self.metrics.clone();
        let principal: Principal = match self.authenticator.authenticate(request.headers()) {
            Ok(principal) => principal,
            Err(status) => {
                audit(None, &method, &status);
                metrics.observe(&method, status.code(), started.elapsed());
                return Box::pin(std::future::ready(Ok(status.into_http())));
            }
        };
        let subject = principal.subject.clone();
        request.extensions_mut().insert(principal);
        let span = tracing::info_span!(
            "grpc.request",
            service = self.authenticator.service(),
            rpc.method = %method,
        );
        if let Some(traceparent) = request
            .headers()
            .get("traceparent")
            .and_then(|value| value.to_str().ok())
        {
            crate::trace::continue_trace(&span, traceparent);
        }
        let answered = AssertUnwindSafe(self.inner.call(request).instrument(span)).catch_unwind();
        Box::pin(async move {
            let response = match answered.await {
                Ok(answer) => answer?,
                Err(panic) => panicked(&method, panic.as_ref()),
            };
            // An error comes in the headers; OK comes later, in trailers.
            let code = match Status::from_header_map(response.headers()) {
                Some(status) => {
                    if status.code() == Code::PermissionDenied {
                        audit(Some(&subject), &method, &status);
                    }
                    status.code()
                }
                None => Code::Ok,
            };
            metrics.observe(&method, code, started.elapsed());
            Ok(response)
        })
    }
}

impl<S: NamedService> NamedService for Guarded<S> {
    const NAME: &'static str = S::NAME;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuthArgs;

    /// A handler that panics on every call.
    #[derive(Clone)]
    struct Panics;

    impl Service<http::Request<Body>> for Panics {
        type Response = http::Response<Body>;
        type Error = Infallible;
        type Future = BoxFuture<Self::Response, Infallible>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<Body>) -> Self::Future {
            Box::pin(async { panic!("a bug in a handler") })
        }
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_internal_and_the_service_goes_on() {
        let authenticator = Authenticator::from_args(&AuthArgs::insecure(), "test").unwrap();
        let metrics = GrpcMetrics::default();
        let mut guarded = authenticator.guard(Panics, &metrics);
        for _ in 0..2 {
            let request = http::Request::builder()
                .uri("/jilin.test.v1.Test/Call")
                .body(Body::empty())
                .unwrap();
            let response = guarded.call(request).await.unwrap();
            let status = Status::from_header_map(response.headers()).expect("an error status");
            assert_eq!(status.code(), Code::Internal);
            assert!(
                status.message().contains("/jilin.test.v1.Test/Call"),
                "{}",
                status.message()
            );
        }
    }
}
