//! Accounts: registration.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use domain::{Email, NewUser, Password, Role, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    error::{ApiError, ApiResult, ErrorDetail, ErrorResponse},
    extract::ApiJson,
    state::AppState,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The account's e-mail address (internationalised addresses allowed); compared
    /// case-insensitively and stored lower-cased.
    #[schema(format = IdnEmail, max_length = 254, example = "ada@example.org")]
    pub email: String,
    /// 12 to 128 characters; no composition rules.
    #[schema(min_length = 12, max_length = 128, format = Password)]
    pub password: String,
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    #[schema(format = IdnEmail)]
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id.as_uuid(),
            email: user.email.to_string(),
            role: user.role,
            created_at: user.created_at,
        }
    }
}

/// Creates a seeker account.
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The account was created", body = UserView),
        (status = 409, description = "An account with this e-mail address exists", body = ErrorResponse),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let (email, password) = validate(request)?;
    let password_hash = state
        .passwords()
        .hash(&password)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let user = state
        .store()
        .create_user(NewUser {
            email,
            password_hash: Some(password_hash),
            role: Role::Seeker,
        })
        .await
        .map_err(|error| match error {
            store::StoreError::Conflict(_) => ApiError::conflict(
                "email_taken",
                "an account with this e-mail address already exists",
            ),
            other => other.into(),
        })?;
    tracing::info!(user_id = %user.id, "account registered");
    Ok((StatusCode::CREATED, Json(user.into())))
}

fn validate(request: RegisterRequest) -> ApiResult<(Email, Password)> {
    let email = Email::parse(&request.email);
    let password = Password::parse(request.password);
    let mut details = Vec::new();
    if let Err(e) = &email {
        details.push(ErrorDetail::new("email", e.to_string()));
    }
    if let Err(e) = &password {
        details.push(ErrorDetail::new("password", e.to_string()));
    }
    match (email, password) {
        (Ok(email), Ok(password)) => Ok((email, password)),
        _ => Err(ApiError::validation(details)),
    }
}
