//! jobpilot's HTTP API: router, handlers, middleware and the OpenAPI document.

pub mod alerts;
pub mod applications;
pub mod audit;
mod audit_writer;
pub mod authn;
pub mod client;
pub mod cookies;
pub mod error;
pub mod events;
pub mod extract;
pub mod files;
pub mod hh;
pub mod keys;
mod match_cache;
pub mod middleware;
pub mod openapi;
pub mod rate_limit;
pub mod resumes;
pub mod routes;
pub mod semantic;
pub mod shared;
mod state;
pub mod ui;

use std::time::Duration;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::{from_fn, from_fn_with_state},
    response::{IntoResponse, Response},
};
use tower_http::{
    catch_panic::CatchPanicLayer, compression::CompressionLayer, cors::CorsLayer,
    limit::RequestBodyLimitLayer, timeout::TimeoutLayer, trace::TraceLayer,
};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};
use utoipa_swagger_ui::SwaggerUi;

pub use crate::{
    client::IpRange,
    shared::Shared,
    state::{AUDIENCE, AppState, WebSettings},
};
use crate::{
    middleware::{http_metrics, request_id, security_headers::SecurityHeaders},
    openapi::ApiDoc,
};

pub const OPENAPI_PATH: &str = "/api/openapi.json";
pub const DOCS_PATH: &str = "/api/docs";

/// The API's routes, each documented: a route can only be added here together with its OpenAPI
/// description.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(routes::health::live))
        .routes(routes!(routes::health::ready))
        .routes(routes!(routes::metrics::metrics))
        .routes(routes!(routes::auth::register))
        .routes(routes!(routes::auth::login))
        .routes(routes!(routes::auth::login_second_factor))
        .routes(routes!(routes::auth::refresh))
        .routes(routes!(routes::auth::logout))
        .routes(routes!(routes::auth::logout_all))
        .routes(routes!(routes::web_session::web_login))
        .routes(routes!(routes::web_session::web_login_second_factor))
        .routes(routes!(routes::web_session::web_refresh))
        .routes(routes!(routes::oidc::list_providers))
        .routes(routes!(routes::oidc::start))
        .routes(routes!(routes::oidc::callback))
        .routes(routes!(routes::me::me, routes::privacy::delete_account))
        .routes(routes!(routes::privacy::export_account))
        .routes(routes!(routes::me::change_password))
        .routes(routes!(
            routes::api_keys::create_api_key,
            routes::api_keys::list_api_keys
        ))
        .routes(routes!(routes::api_keys::revoke_api_key))
        .routes(routes!(routes::two_factor::setup_two_factor))
        .routes(routes!(routes::two_factor::confirm_two_factor))
        .routes(routes!(routes::two_factor::disable_two_factor))
        .routes(routes!(routes::admin::list_users))
        .routes(routes!(routes::admin::update_user))
        .routes(routes!(routes::tasks::get_task))
        .routes(routes!(routes::task_events::task_events))
        .routes(routes!(routes::tasks::list_tasks))
        .routes(routes!(routes::tasks::task_stats))
        .routes(routes!(routes::tasks::act_on_task))
        .routes(routes!(
            routes::jobs::list_jobs,
            routes::postings::create_posting
        ))
        .routes(routes!(
            routes::jobs::get_job,
            routes::postings::update_posting
        ))
        .routes(routes!(routes::postings::close_posting))
        .routes(routes!(routes::postings::reopen_posting))
        .routes(routes!(routes::postings::own_postings))
        .routes(routes!(routes::resumes::list_resumes))
        .routes(routes!(
            routes::resumes::get_resume,
            routes::resumes::edit_resume,
            routes::resumes::delete_resume
        ))
        .routes(routes!(routes::resumes::match_resume))
        .routes(routes!(
            routes::alerts::get_alert,
            routes::alerts::set_alert,
            routes::alerts::delete_alert
        ))
        .routes(routes!(routes::resumes::download_resume))
        .routes(routes!(routes::resumes::skill_gap))
        .routes(routes!(routes::resumes::salary_estimate))
        .routes(routes!(
            routes::recruiting::share_resume,
            routes::recruiting::list_shares
        ))
        .routes(routes!(routes::recruiting::unshare_resume))
        .routes(routes!(routes::recruiting::job_candidates))
        .routes(routes!(routes::recruiting::batch_progress))
        .routes(routes!(
            routes::applications::create_application,
            routes::applications::list_applications
        ))
        .routes(routes!(routes::applications::funnel))
        .routes(routes!(
            routes::applications::get_application,
            routes::applications::update_application,
            routes::applications::delete_application
        ))
        .routes(routes!(routes::applications::add_note))
        .routes(routes!(routes::applications::application_events))
        .routes(routes!(
            routes::applications::generate_documents,
            routes::applications::list_documents,
            routes::applications::edit_documents
        ))
        .routes(routes!(routes::applications::submit_application))
        .routes(routes!(routes::applications::confirm_submission))
        .routes(routes!(routes::applications::submit_batch))
        .routes(routes!(routes::hh::hh_connect))
        .routes(routes!(routes::hh::hh_callback))
        .routes(routes!(
            routes::hh::hh_connection,
            routes::hh::hh_disconnect
        ))
        .routes(routes!(routes::hh::hh_resumes))
        .routes(routes!(routes::ws::events_socket))
        .routes(routes!(routes::sources::list_sources))
        .routes(routes!(routes::sources::start_sync))
        .routes(routes!(routes::admin_keys::key_status))
        .routes(routes!(routes::admin_keys::start_rotation))
        .routes(routes!(routes::audit::list_audit))
        .routes(routes!(routes::audit::export_audit))
        .routes(routes!(routes::audit::verify_audit))
}

/// Routes that take large bodies (batches of jobs); they get their own body limit.
fn bulk_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).routes(routes!(routes::ingest::push_jobs))
}

/// File uploads: their own body limit, a little above the largest file for the form's framing.
fn upload_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).routes(routes!(routes::resumes::upload_resume))
}

/// Batch uploads: many resume files in one request, with a limit of their own.
fn batch_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).routes(routes!(routes::recruiting::upload_batch))
}

/// Room for the multipart framing around the largest accepted file.
const UPLOAD_OVERHEAD: usize = 64 * 1024;

/// The routes and their finished OpenAPI document.
fn api_parts() -> (
    Router<AppState>,
    Router<AppState>,
    Router<AppState>,
    Router<AppState>,
    utoipa::openapi::OpenApi,
) {
    let (routes, mut spec) = api_routes().split_for_parts();
    let (bulk, bulk_spec) = bulk_routes().split_for_parts();
    let (uploads, uploads_spec) = upload_routes().split_for_parts();
    let (batches, batches_spec) = batch_routes().split_for_parts();
    spec.merge(bulk_spec);
    spec.merge(uploads_spec);
    spec.merge(batches_spec);
    utoipa::Modify::modify(&openapi::CommonErrors, &mut spec);
    (routes, bulk, uploads, batches, spec)
}

/// The OpenAPI document the server serves at [`OPENAPI_PATH`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_parts().4
}

/// Builds the whole application: routes, documentation and every layer.
pub fn router(state: AppState) -> Router {
    let settings = state.settings().clone();
    let (api, bulk, uploads, batches, spec) = api_parts();
    let docs = Router::new()
        .merge(SwaggerUi::new(DOCS_PATH).url(OPENAPI_PATH, spec))
        .layer(axum::middleware::map_response(docs_csp));

    // Layers run outside-in in the reverse order they are added: the request id is assigned
    // first, then the error envelope sees every response that anything below produced.
    let api = api
        .with_state(state.clone())
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(RequestBodyLimitLayer::new(settings.body_limit));
    let bulk = bulk
        .with_state(state.clone())
        .layer(DefaultBodyLimit::max(settings.ingest_body_limit))
        .layer(RequestBodyLimitLayer::new(settings.ingest_body_limit));
    let upload_limit = resumes::MAX_RESUME_BYTES + UPLOAD_OVERHEAD;
    let uploads = uploads
        .with_state(state.clone())
        .layer(DefaultBodyLimit::max(upload_limit))
        .layer(RequestBodyLimitLayer::new(upload_limit));
    let batch_limit = routes::recruiting::BATCH_BODY_LIMIT;
    let batches = batches
        .with_state(state.clone())
        .layer(DefaultBodyLimit::max(batch_limit))
        .layer(RequestBodyLimitLayer::new(batch_limit));
    let mut app = Router::new()
        .merge(api)
        .merge(bulk)
        .merge(uploads)
        .merge(batches)
        .merge(ui::router(state.clone(), settings.body_limit))
        .merge(docs)
        .fallback(not_found)
        .layer(RequestBodyLimitLayer::new(
            settings
                .body_limit
                .max(settings.ingest_body_limit)
                .max(upload_limit)
                .max(batch_limit),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a handler panicked");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            settings.request_timeout,
        ))
        .layer(from_fn_with_state(state.clone(), rate_limit::global))
        .layer(from_fn_with_state(state, client::identify))
        .layer(from_fn(http_metrics::record))
        .layer(CompressionLayer::new());
    if let Some(cors) = cors_layer(&settings.cors_origins) {
        app = app.layer(cors);
    }
    let security = SecurityHeaders {
        hsts: settings.hsts,
    };
    app.layer(from_fn(move |request, next| security.apply(request, next)))
        .layer(from_fn(error::envelope))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(make_span)
                .on_response(on_response),
        )
        .layer(from_fn(request_id::assign))
}

async fn not_found() -> error::ApiError {
    error::ApiError::not_found("no route matches this path")
}

/// Swagger UI styles itself inline, so its pages get a CSP that allows that (and nothing else
/// more than the strict default).
async fn docs_csp(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("x-api-key"),
                HeaderName::from_static("x-csrf-token"),
                request_id::X_REQUEST_ID.clone(),
            ])
            .expose_headers([request_id::X_REQUEST_ID.clone()])
            .allow_credentials(true)
            .max_age(Duration::from_secs(600)),
    )
}

fn make_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let request_id = request
        .extensions()
        .get::<request_id::RequestId>()
        .map(|id| id.as_str().to_owned())
        .unwrap_or_default();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| http_metrics::UNMATCHED_ROUTE.to_owned());
    tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        request_id = %request_id,
        status = tracing::field::Empty,
    )
}

fn on_response(response: &Response, latency: Duration, span: &tracing::Span) {
    span.record("status", response.status().as_u16());
    let latency_ms = latency.as_secs_f64() * 1000.0;
    if response.status().is_server_error() {
        tracing::error!(status = response.status().as_u16(), latency_ms, "response");
    } else {
        tracing::info!(status = response.status().as_u16(), latency_ms, "response");
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// A route can only be added with `routes!`, which documents it in the OpenAPI document at
    /// the same time; a plain axum `.route(` would add an undocumented one. (The served document
    /// is checked from the other side by the integration tests: every documented operation is
    /// routed.) The web UI's HTML pages under `src/ui/` are for browsers, not part of the API.
    #[test]
    fn routes_are_only_added_through_the_documented_router() {
        let mut files = Vec::new();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        rust_files(&src, &mut files);
        files.retain(|file| !file.starts_with(src.join("ui")));
        assert!(files.iter().any(|f| f.ends_with("lib.rs")));
        let forbidden = [".route(", ".route_service(", ".nest(", ".nest_service("];
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for pattern in forbidden {
                assert!(
                    !code.contains(pattern),
                    "{} adds a route with {pattern}: use `routes!` so it is documented",
                    file.display()
                );
            }
        }
    }
}
