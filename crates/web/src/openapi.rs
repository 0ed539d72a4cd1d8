//! The OpenAPI document: generated from the handlers' annotations, plus the error responses that
//! every operation can produce, added in one place so no operation forgets them.

use utoipa::{
    Modify, OpenApi,
    openapi::{
        Content, Ref, RefOr, Response,
        path::{Operation, PathItem},
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use crate::error::{ErrorBody, ErrorDetail, ErrorResponse};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "jobpilot API",
        description = "Self-hostable, security-first job-search platform. Every error response \
                       has the shape `{\"error\":{\"code\",\"message\",\"request_id\",\"timestamp\"}}`.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    components(schemas(ErrorResponse, ErrorBody, ErrorDetail, domain::NewJob)),
    tags(
        (name = "health", description = "Liveness and readiness probes"),
        (name = "operations", description = "Metrics and other operator endpoints"),
        (name = "auth", description = "Registration, sign-in, tokens, sign-out"),
        (name = "account", description = "The signed-in user's own account"),
        (name = "admin", description = "Administration (admin role)"),
        (name = "tasks", description = "Background work started on the caller's behalf"),
        (name = "jobs", description = "Job postings from every source, and push ingestion"),
        (name = "applications", description = "The caller's applications: pipeline, history, documents, submission"),
    ),
)]
pub struct ApiDoc;

/// Which operations an error response applies to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AppliesTo {
    All,
    WithBody,
    /// A body or query parameters: anything that can fail validation.
    WithInput,
    Secured,
}

/// (status, component name, description, which operations)
const COMMON: &[(&str, &str, &str, AppliesTo)] = &[
    (
        "400",
        "BadRequest",
        "Malformed request (e.g. invalid JSON syntax)",
        AppliesTo::WithBody,
    ),
    (
        "401",
        "Unauthorized",
        "No valid access token, or its session has ended",
        AppliesTo::Secured,
    ),
    (
        "413",
        "PayloadTooLarge",
        "The request body is over the size limit",
        AppliesTo::WithBody,
    ),
    (
        "415",
        "UnsupportedMediaType",
        "The request body is not `application/json`",
        AppliesTo::WithBody,
    ),
    (
        "422",
        "ValidationFailed",
        "The request body or query does not fit the schema or its rules; `details` names each \
         field",
        AppliesTo::WithInput,
    ),
    (
        "429",
        "RateLimited",
        "Too many requests from this address; see `Retry-After`",
        AppliesTo::All,
    ),
    (
        "500",
        "InternalError",
        "An unexpected error; details are in the server log under the request id",
        AppliesTo::All,
    ),
    (
        "503",
        "ServiceUnavailable",
        "A dependency is unavailable or the request timed out; retry later",
        AppliesTo::All,
    ),
];

/// Applied to the finished document (after the routes added their paths).
pub(crate) struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (_, name, description, _) in COMMON {
            components
                .responses
                .insert((*name).to_owned(), RefOr::T(error_response(description)));
        }
        components.security_schemes.insert(
            "bearer".to_owned(),
            RefOr::T(SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from /api/v1/auth/login or /api/v1/auth/refresh, or an \
                         API key (`jp_…`, also accepted as the X-API-Key header)",
                    ))
                    .build(),
            )),
        );
        components.security_schemes.insert(
            "api_key".to_owned(),
            RefOr::T(SecurityScheme::ApiKey(ApiKey::Header(
                ApiKeyValue::with_description(
                    "X-API-Key",
                    "An API key (`jp_…`) from /api/v1/me/api-keys, limited to its scopes; it may \
                 also be sent as `Authorization: Bearer jp_…`",
                ),
            ))),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            // Probes are exempt from rate limits.
            let probe = path.starts_with("/health/");
            for operation in operations(item) {
                let has_body = operation.request_body.is_some();
                let has_query = operation.parameters.as_ref().is_some_and(|parameters| {
                    parameters.iter().any(|p| match p {
                        RefOr::T(p) => p.parameter_in == utoipa::openapi::path::ParameterIn::Query,
                        RefOr::Ref(_) => true,
                    })
                });
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                for (status, name, _, applies) in COMMON {
                    let applies = match applies {
                        AppliesTo::All => !(probe && *status == "429"),
                        AppliesTo::WithBody => has_body,
                        AppliesTo::WithInput => has_body || has_query,
                        AppliesTo::Secured => secured,
                    };
                    if !applies {
                        continue;
                    }
                    operation
                        .responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
                }
            }
        }
    }
}

/// A response that carries the one error shape.
pub fn error_response(description: &str) -> Response {
    let mut response = Response::new(description);
    response.content.insert(
        "application/json".to_owned(),
        RefOr::T(Content::new(Some(Ref::from_schema_name("ErrorResponse")))),
    );
    response
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}
