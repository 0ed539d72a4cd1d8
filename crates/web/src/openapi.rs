//! The OpenAPI document: generated from the handlers' annotations, plus the error responses that
//! every operation can produce, added in one place so no operation forgets them.

use utoipa::{
    Modify, OpenApi,
    openapi::{
        Content, Ref, RefOr, Response,
        path::{Operation, PathItem},
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
    components(schemas(ErrorResponse, ErrorBody, ErrorDetail)),
    tags(
        (name = "health", description = "Liveness and readiness probes"),
        (name = "operations", description = "Metrics and other operator endpoints"),
        (name = "auth", description = "Accounts and sign-in"),
    ),
)]
pub struct ApiDoc;

/// (status, component name, description, applies to operations with a request body only)
const COMMON: &[(&str, &str, &str, bool)] = &[
    (
        "400",
        "BadRequest",
        "Malformed request (e.g. invalid JSON syntax)",
        true,
    ),
    (
        "413",
        "PayloadTooLarge",
        "The request body is over the size limit",
        true,
    ),
    (
        "415",
        "UnsupportedMediaType",
        "The request body is not `application/json`",
        true,
    ),
    (
        "422",
        "ValidationFailed",
        "The request body does not fit the schema or its rules; `details` names each field",
        true,
    ),
    (
        "500",
        "InternalError",
        "An unexpected error; details are in the server log under the request id",
        false,
    ),
    (
        "503",
        "ServiceUnavailable",
        "A dependency is unavailable or the request timed out; retry later",
        false,
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
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                let has_body = operation.request_body.is_some();
                for (status, name, _, body_only) in COMMON {
                    if *body_only && !has_body {
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
