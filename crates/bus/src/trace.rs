//! Distributed traces. One trace follows a change from the gRPC call that
//! made it (a span per call, continuing the caller's `traceparent`),
//! through the `traceparent` of the events it staged, to the consumers
//! that apply them (a span per batch, continuing the first event's trace
//! and linked to the others')
//! and the events those publish in turn. Spans are tracing spans; they
//! become OpenTelemetry spans only when the runtime's telemetry installs
//! the exporter (`OTEL_EXPORTER_OTLP_ENDPOINT`), and then carry trace ids.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const TRACEPARENT: &str = "traceparent";

/// The trace context `traceparent` (W3C) names, if it is valid.
fn context_of(traceparent: &str) -> Option<opentelemetry::Context> {
    if traceparent.is_empty() {
        return None;
    }
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    context.span().span_context().is_valid().then_some(context)
}

/// Makes `span` continue the trace of `traceparent`, when it names one.
pub fn continue_trace(span: &tracing::Span, traceparent: &str) {
    if let Some(context) = context_of(traceparent) {
        let _ = span.set_parent(context);
    }
}

/// Links `span` to the trace of `traceparent` (another cause of the work
/// it does), when it names one.
pub fn link_trace(span: &tracing::Span, traceparent: &str) {
    if let Some(context) = context_of(traceparent) {
        span.add_link(context.span().span_context().clone());
    }
}

/// The `traceparent` of `span`; empty when it is not traced.
pub fn traceparent(span: &tracing::Span) -> String {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return String::new();
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT).unwrap_or_default()
}

/// The `traceparent` an event staged now carries: the current span's, or
/// `fallback` (e.g. the caller's header) when spans are not traced.
pub fn current_traceparent(fallback: &str) -> String {
    let current = traceparent(&tracing::Span::current());
    if current.is_empty() {
        fallback.to_owned()
    } else {
        current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untraced_spans_have_no_traceparent() {
        let span = tracing::info_span!("untraced");
        assert_eq!(traceparent(&span), "");
        continue_trace(&span, "not a traceparent");
        assert_eq!(current_traceparent("00-fallback"), "00-fallback");
    }
}
