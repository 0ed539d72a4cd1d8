//! Administration of accounts.

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use domain::{AuditOutcome, Permission, Role, User, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    authn::Authenticated,
    client::Client,
    error::{ApiError, ApiResult, ErrorResponse},
    extract::{ApiJson, ApiQuery, UuidPath},
    routes::auth::audit,
    state::AppState,
};

const PAGE_DEFAULT: u32 = 50;
const PAGE_MAX: u32 = 200;

/// An account as administrators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserView {
    pub id: Uuid,
    #[schema(format = IdnEmail)]
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    /// Locked by an administrator.
    pub disabled: bool,
    /// Locked after failed sign-ins until then (if still in the future).
    pub locked_until: Option<DateTime<Utc>>,
}

impl From<User> for AdminUserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id.as_uuid(),
            email: user.email.to_string(),
            role: user.role,
            created_at: user.created_at,
            disabled: user.disabled_at.is_some(),
            locked_until: user.locked_until.filter(|until| *until > Utc::now()),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListUsersQuery {
    /// The `next_cursor` of the previous page.
    pub after: Option<Uuid>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<AdminUserView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_cursor: Option<Uuid>,
}

/// Lists accounts, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/admin/users",
    tag = "admin",
    security(("bearer" = []), ("api_key" = [])),
    params(ListUsersQuery),
    responses(
        (status = 200, description = "A page of accounts", body = UserPage),
        (status = 403, description = "Only administrators may list accounts", body = ErrorResponse),
        (status = 422, description = "Invalid query parameters", body = ErrorResponse),
    )
)]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(query): ApiQuery<ListUsersQuery>,
) -> ApiResult<Json<UserPage>> {
    caller.require(Permission::ManageUsers)?;
    let limit = query.limit.unwrap_or(PAGE_DEFAULT);
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(ApiError::validation(vec![crate::error::ErrorDetail::new(
            "limit",
            format!("must be from 1 to {PAGE_MAX}"),
        )]));
    }
    let mut users = state
        .store()
        .list_users(query.after.map(UserId::from_uuid), limit + 1)
        .await?;
    let more = users.len() > limit as usize;
    users.truncate(limit as usize);
    let next_cursor = more.then(|| users.last().map(|u| u.id.as_uuid())).flatten();
    Ok(Json(UserPage {
        items: users.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// A new role. The account's sessions end, so its next sign-in carries the new role.
    pub role: Option<Role>,
    /// Lock (`true`) or unlock (`false`) the account. Locking ends its sessions; unlocking also
    /// lifts a lockout after failed sign-ins.
    pub disabled: Option<bool>,
}

/// Changes an account's role or locks/unlocks it. Administrators cannot change their own.
#[utoipa::path(
    patch,
    path = "/api/v1/admin/users/{id}",
    tag = "admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = Uuid, Path, description = "The account's id")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The updated account", body = AdminUserView),
        (status = 403, description = "Only administrators may change accounts", body = ErrorResponse),
        (status = 404, description = "No such account", body = ErrorResponse),
        (status = 409, description = "Administrators cannot change their own account here", body = ErrorResponse),
    )
)]
pub async fn update_user(
    State(state): State<AppState>,
    client: Client,
    caller: Authenticated,
    UuidPath(id): UuidPath,
    ApiJson(request): ApiJson<UpdateUserRequest>,
) -> ApiResult<Json<AdminUserView>> {
    caller.require(Permission::ManageUsers)?;
    let id = UserId::from_uuid(id);
    if id == caller.user_id {
        return Err(ApiError::conflict(
            "cannot_change_own_account",
            "administrators cannot change their own role or lock themselves out",
        ));
    }
    let not_found = || ApiError::not_found("no such account");
    let mut user = state.store().user_by_id(id).await?.ok_or_else(not_found)?;
    let now = Utc::now();
    let mut end_sessions = false;
    if let Some(role) = request.role.filter(|role| *role != user.role) {
        user = state
            .store()
            .set_role(id, role)
            .await?
            .ok_or_else(not_found)?;
        end_sessions = true;
        audit(
            &state,
            &client,
            "admin.user_role",
            AuditOutcome::Success,
            Some(caller.user_id),
            Some(id),
            vec![("role", role.to_string())],
        )
        .await;
    }
    if let Some(disabled) = request.disabled {
        user = state
            .store()
            .set_disabled(id, disabled, now)
            .await?
            .ok_or_else(not_found)?;
        end_sessions |= disabled;
        audit(
            &state,
            &client,
            if disabled {
                "admin.user_lock"
            } else {
                "admin.user_unlock"
            },
            AuditOutcome::Success,
            Some(caller.user_id),
            Some(id),
            Vec::new(),
        )
        .await;
    }
    if end_sessions {
        state.store().revoke_sessions(id, None, now).await?;
        state.session_ended(None).await;
    }
    Ok(Json(user.into()))
}
