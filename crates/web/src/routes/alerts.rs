//! A seeker's match alert on one of their resumes: new postings that match it well enough are
//! announced on the event socket (`matches.new`), each once (see [`crate::alerts`]).

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use domain::{Permission, ResumeId};
use serde::{Deserialize, Serialize};
use store::MatchAlert;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    alerts::DEFAULT_MIN_SCORE,
    authn::Authenticated,
    error::{ApiError, ApiResult, ErrorResponse},
    extract::{ApiJson, UuidPath},
    routes::resumes::invalid,
    state::AppState,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    pub resume_id: Uuid,
    /// Matches scoring below this (0 to 1, as in the resume's matches) are not announced.
    pub min_score: f32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Postings first seen before this have been looked at.
    pub checked_at: DateTime<Utc>,
}

impl From<MatchAlert> for AlertView {
    fn from(alert: MatchAlert) -> Self {
        Self {
            resume_id: alert.resume_id.as_uuid(),
            min_score: alert.min_score,
            created_at: alert.created_at,
            updated_at: alert.updated_at,
            checked_at: alert.checked_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    /// From 0 to 1; default 0.4.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub min_score: Option<f32>,
}

/// The alert of one of the caller's resumes.
#[utoipa::path(
    get,
    path = "/api/v1/resumes/{id}/alert",
    tag = "resumes",
    params(("id" = Uuid, Path, description = "The resume's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The alert", body = AlertView),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "An API key without the resumes scope", body = ErrorResponse),
        (status = 404, description = "No alert on this resume, or no such resume of the caller's", body = ErrorResponse),
    )
)]
pub async fn get_alert(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
) -> ApiResult<Json<AlertView>> {
    caller.require(Permission::ManageOwnResumes)?;
    let alert = state
        .store()
        .match_alert(caller.user_id, ResumeId::from_uuid(id))
        .await?
        .ok_or_else(|| ApiError::not_found("no alert on this resume"))?;
    Ok(Json(alert.into()))
}

/// Turns on the alert of one of the caller's resumes, or changes its threshold. From then on,
/// postings first seen after it that match the resume with at least `min_score` are announced
/// on the event socket (`matches.new`), each once, a few minutes after they arrive.
#[utoipa::path(
    put,
    path = "/api/v1/resumes/{id}/alert",
    tag = "resumes",
    params(("id" = Uuid, Path, description = "The resume's id")),
    request_body = AlertSettings,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The alert", body = AlertView),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "An API key without the resumes scope", body = ErrorResponse),
        (status = 404, description = "No such resume of the caller's", body = ErrorResponse),
        (status = 422, description = "A threshold outside 0 to 1", body = ErrorResponse),
    )
)]
pub async fn set_alert(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
    ApiJson(settings): ApiJson<AlertSettings>,
) -> ApiResult<Json<AlertView>> {
    caller.require(Permission::ManageOwnResumes)?;
    let min_score = settings.min_score.unwrap_or(DEFAULT_MIN_SCORE);
    if !(0.0..=1.0).contains(&min_score) {
        return Err(invalid("min_score", "must be from 0 to 1"));
    }
    let alert = state
        .store()
        .set_match_alert(
            caller.user_id,
            ResumeId::from_uuid(id),
            min_score,
            Utc::now(),
        )
        .await?
        .ok_or_else(|| ApiError::not_found("no such resume"))?;
    Ok(Json(alert.into()))
}

/// Turns the alert of one of the caller's resumes off.
#[utoipa::path(
    delete,
    path = "/api/v1/resumes/{id}/alert",
    tag = "resumes",
    params(("id" = Uuid, Path, description = "The resume's id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Turned off"),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "An API key without the resumes scope", body = ErrorResponse),
        (status = 404, description = "No alert on this resume, or no such resume of the caller's", body = ErrorResponse),
    )
)]
pub async fn delete_alert(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
) -> ApiResult<StatusCode> {
    caller.require(Permission::ManageOwnResumes)?;
    if state
        .store()
        .delete_match_alert(caller.user_id, ResumeId::from_uuid(id))
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no alert on this resume"))
    }
}
