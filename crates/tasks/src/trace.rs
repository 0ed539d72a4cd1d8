//! Trace context from the enqueuer to the task: a task enqueued inside a traced span (a request,
//! or another task's handler) keeps that span's W3C `traceparent` in its `meta`, and the worker
//! makes the handler's span a child of it, so one trace shows the request and the work it caused.
//!
//! Nothing here needs an exporter: without the OpenTelemetry layer (no OTLP endpoint configured)
//! no span has a valid context, nothing is stored and the handler's span is a root.

use opentelemetry::{
    Context,
    trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState},
};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The key of the trace context in a task's `meta`.
pub const TRACEPARENT: &str = "traceparent";

/// The current span's trace context as a W3C `traceparent` header value, when it has one.
pub fn current_traceparent() -> Option<String> {
    let span = tracing::Span::current();
    if span.is_disabled() {
        return None;
    }
    let context = span.context();
    let span_ref = context.span();
    let span_context = span_ref.span_context();
    span_context.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            span_context.trace_id(),
            span_context.span_id(),
            span_context.trace_flags()
        )
    })
}

/// The remote parent a `traceparent` names, or `None` when it is not a valid version-00 value
/// (a malformed value must not break the task, only its link to the trace).
pub fn parent_context(traceparent: &str) -> Option<Context> {
    let mut parts = traceparent.trim().split('-');
    let (Some(version), Some(trace_id), Some(span_id), Some(flags), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let lower_hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    if version != "00"
        || !lower_hex(trace_id, 32)
        || !lower_hex(span_id, 16)
        || !lower_hex(flags, 2)
    {
        return None;
    }
    let span_context = SpanContext::new(
        TraceId::from_hex(trace_id).ok()?,
        SpanId::from_hex(span_id).ok()?,
        TraceFlags::new(u8::from_str_radix(flags, 16).ok()? & TraceFlags::SAMPLED.to_u8()),
        true,
        TraceState::default(),
    );
    // All-zero ids are invalid by the specification.
    span_context
        .is_valid()
        .then(|| Context::new().with_remote_span_context(span_context))
}

/// Makes `span` (not yet entered) a child of the trace `traceparent` names. Without the
/// OpenTelemetry layer this does nothing.
pub(crate) fn set_parent(span: &tracing::Span, traceparent: &str) {
    if traceparent.is_empty() {
        return;
    }
    match parent_context(traceparent) {
        Some(parent) => {
            let _ = span.set_parent(parent);
        }
        None => tracing::debug!(traceparent, "ignoring a malformed traceparent"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn parses_a_valid_traceparent_and_refuses_malformed_ones() {
        let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = parent_context(valid).unwrap();
        let span = context.span();
        let parent = span.span_context();
        assert_eq!(
            parent.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(parent.span_id().to_string(), "00f067aa0ba902b7");
        assert!(parent.is_sampled());
        assert!(parent.is_remote());
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert!(parent_context(bad).is_none(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn no_traceparent_without_an_opentelemetry_context() {
        let _span = tracing::info_span!("plain").entered();
        assert_eq!(current_traceparent(), None);
    }
}
