//! Prometheus metrics.

use std::sync::OnceLock;

use axum::{
    extract::State,
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use subtle::ConstantTimeEq;

use crate::{
    error::{ApiError, ErrorResponse},
    middleware::http_metrics::REQUEST_DURATION,
    state::AppState,
};

/// Latency buckets in seconds: fine below 100 ms, where a healthy API lives.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide recorder (metrics are global by nature); installed on first use.
pub(crate) fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.to_owned()), LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
            }
            handle
        })
        .clone()
}

/// Metrics in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain"),
        (status = 401, description = "A metrics token is configured and was not given", body = ErrorResponse),
    )
)]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.settings().metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            return ApiError::unauthorized(
                "unauthorized",
                "this endpoint needs the metrics bearer token",
            )
            .into_response();
        }
    }
    let pool = state.store().pool_stats();
    let backend = state.store().backend().as_str();
    metrics::gauge!("db_pool_connections", "database" => backend).set(f64::from(pool.size));
    metrics::gauge!("db_pool_idle_connections", "database" => backend).set(f64::from(pool.idle));
    metrics::gauge!("db_pool_max_connections", "database" => backend).set(f64::from(pool.max_size));
    let index = state.search();
    metrics::gauge!("search_index_rebuilding").set(if index.is_rebuilding() { 1.0 } else { 0.0 });
    metrics::gauge!("search_index_documents").set(index.num_docs() as f64);
    // Queue lengths by queue and state, read at scrape time.
    if let Err(error) = tasks::admin::record_gauges(state.tasks()).await {
        tracing::warn!(error = %crate::error::ErrorChain(&error), "task gauges unavailable");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics().render(),
    )
        .into_response()
}
