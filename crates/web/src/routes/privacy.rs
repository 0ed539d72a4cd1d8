//! The caller's data: download all of it, or delete the account.

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{AppendHeaders, IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use domain::{AuditOutcome, Permission};
use serde::{Deserialize, Serialize};
use store::AuditFilter;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    authn::Authenticated,
    client::Client,
    cookies,
    error::{ApiError, ApiResult, ErrorResponse},
    extract::ApiJson,
    routes::{
        audit::AuditEntry,
        auth::{UserView, audit, password_matches},
        tasks::TaskView,
    },
    state::{AppState, Rule},
};

/// Audit entries about the caller included in an export, newest first.
const EXPORT_AUDIT_MAX: u32 = 10_000;
/// A password-less account (signed in through a provider) proves itself by a session this new.
const FRESH_SESSION_MINUTES: i64 = 10;

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionExport {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyExport {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityExport {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub linked_at: DateTime<Utc>,
}

/// Everything jobpilot holds about an account. Secrets (password hash, TOTP secret, key
/// hashes) are described, not included: they are of no use to their owner.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountExport {
    pub exported_at: DateTime<Utc>,
    pub account: UserView,
    pub has_password: bool,
    pub two_factor_enabled_at: Option<DateTime<Utc>>,
    pub sessions: Vec<SessionExport>,
    pub api_keys: Vec<ApiKeyExport>,
    pub linked_identities: Vec<IdentityExport>,
    pub tasks: Vec<TaskView>,
    /// Uploaded resumes with the text read from them (the files themselves are downloaded
    /// one by one).
    pub resumes: Vec<crate::routes::resumes::ResumeDetail>,
    /// Recruiters the resumes are shared with.
    pub resume_shares: Vec<ResumeShareExport>,
    /// The match alerts of the resumes.
    pub match_alerts: Vec<crate::routes::alerts::AlertView>,
    /// Applications with their history and every version of their documents.
    pub applications: Vec<ApplicationExport>,
    /// Job postings the account published (recruiters), closed ones too.
    pub published_jobs: Vec<crate::routes::jobs::JobView>,
    /// What the audit log records the account doing, newest first.
    pub audit_events: Vec<AuditEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationExport {
    pub application: crate::routes::applications::ApplicationView,
    pub events: Vec<domain::ApplicationEvent>,
    pub documents: Vec<crate::routes::applications::DocumentsView>,
}

/// Every posting the user published, page by page.
async fn published_jobs_of(
    state: &AppState,
    user: domain::UserId,
) -> ApiResult<Vec<crate::routes::jobs::JobView>> {
    let filter = store::JobFilter::published_by(user, true);
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = state.store().list_jobs(&filter, after, 500).await?;
        let Some(last) = page.last() else {
            return Ok(out);
        };
        after = Some(last.id);
        out.extend(page.into_iter().map(Into::into));
    }
}

/// Every application of the user, page by page, with its history and documents.
async fn applications_of(
    state: &AppState,
    user: domain::UserId,
) -> ApiResult<Vec<ApplicationExport>> {
    let store = state.store();
    let mut out = Vec::new();
    let mut filter = store::applications::ApplicationFilter {
        limit: 200,
        ..Default::default()
    };
    loop {
        let page = store.applications(user, &filter).await?;
        let Some(last) = page.last() else {
            return Ok(out);
        };
        filter.before = Some(last.id);
        for application in page {
            let id = application.id;
            let keys = state.key_ring();
            let events = store
                .application_events(user, id)
                .await?
                .unwrap_or_default();
            out.push(ApplicationExport {
                events: crate::routes::applications::open_events(keys, events)?,
                documents: store
                    .documents(user, id)
                    .await?
                    .unwrap_or_default()
                    .into_iter()
                    .map(|version| crate::routes::applications::DocumentsView::open(keys, version))
                    .collect::<ApiResult<_>>()?,
                application: application.into(),
            });
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResumeShareExport {
    pub resume_id: Uuid,
    pub recruiter_email: String,
    pub created_at: DateTime<Utc>,
}

/// Downloads everything the service holds about the caller, as one JSON document.
#[utoipa::path(
    get,
    path = "/api/v1/me/export",
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's data", body = AccountExport),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "API keys cannot export an account", body = ErrorResponse),
    )
)]
pub async fn export_account(
    State(state): State<AppState>,
    client: Client,
    caller: Authenticated,
) -> ApiResult<Response> {
    caller.require_session(Permission::ReadOwnAccount)?;
    let user = caller.fresh_user(&state).await?;
    let store = state.store();
    let sessions = store.user_sessions(user.id).await?;
    let keys = store.api_keys(user.id).await?;
    let identities = store.external_identities(user.id).await?;
    let actor = AuditFilter {
        actor_id: Some(user.id),
        ..AuditFilter::default()
    };
    let audit_events = store.query_audit(&actor, None, EXPORT_AUDIT_MAX).await?;
    let filter = tasks::admin::ListFilter {
        queue: None,
        kind: None,
        state: None,
        user_id: Some(user.id.as_uuid()),
        before: None,
    };
    let tasks = tasks::admin::list(state.tasks(), &filter, 1000)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let stored_resumes = store.resumes(user.id).await?;
    let mut resume_shares = Vec::new();
    let mut match_alerts = Vec::new();
    for resume in &stored_resumes {
        if let Some(alert) = store.match_alert(user.id, resume.id).await? {
            match_alerts.push(alert.into());
        }
        for share in store
            .resume_shares(user.id, resume.id)
            .await?
            .unwrap_or_default()
        {
            resume_shares.push(ResumeShareExport {
                resume_id: resume.id.as_uuid(),
                recruiter_email: share.recruiter_email,
                created_at: share.created_at,
            });
        }
    }
    let resumes = stored_resumes
        .iter()
        .map(|resume| crate::routes::resumes::ResumeDetail {
            text: crate::resumes::text_of(resume, state.key_ring()),
            resume: resume.into(),
        })
        .collect();
    let applications = applications_of(&state, user.id).await?;
    let published_jobs = published_jobs_of(&state, user.id).await?;
    let export = AccountExport {
        published_jobs,
        resumes,
        resume_shares,
        match_alerts,
        applications,
        exported_at: Utc::now(),
        has_password: user.password_hash.is_some(),
        two_factor_enabled_at: user.totp_enabled_at,
        sessions: sessions
            .into_iter()
            .map(|s| SessionExport {
                id: s.id.as_uuid(),
                created_at: s.created_at,
                last_used_at: s.last_used_at,
                expires_at: s.expires_at,
                revoked_at: s.revoked_at,
                user_agent: s.user_agent,
                ip: s.ip,
            })
            .collect(),
        api_keys: keys
            .into_iter()
            .map(|k| ApiKeyExport {
                id: k.id.as_uuid(),
                name: k.name,
                prefix: k.prefix,
                scopes: k.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
                created_at: k.created_at,
                expires_at: k.expires_at,
                last_used_at: k.last_used_at,
                revoked_at: k.revoked_at,
            })
            .collect(),
        linked_identities: identities
            .into_iter()
            .map(|i| IdentityExport {
                issuer: i.issuer,
                subject: i.subject,
                email: i.email,
                linked_at: i.linked_at,
            })
            .collect(),
        tasks: tasks.tasks.into_iter().map(TaskView::from).collect(),
        audit_events: audit_events.into_iter().map(AuditEntry::from).collect(),
        account: user.clone().into(),
    };
    audit(
        &state,
        &client,
        "account.export",
        AuditOutcome::Success,
        Some(user.id),
        None,
        Vec::new(),
    )
    .await;
    Ok((
        [(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"jobpilot-account.json\"",
        )],
        Json(export),
    )
        .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    /// The account's password (accounts without one, signed in through a provider, need a
    /// session at most 10 minutes old instead).
    #[schema(max_length = 1024, format = Password)]
    pub password: Option<String>,
}

/// Deletes the caller's account: sessions, API keys, second factor, linked provider accounts
/// and the tasks started for it go with it; job postings it published are closed. The audit
/// log keeps its entries, which then name an account id that no longer exists.
#[utoipa::path(
    delete,
    path = "/api/v1/me",
    tag = "account",
    security(("bearer" = [])),
    request_body = DeleteAccountRequest,
    responses(
        (status = 204, description = "Deleted; session cookies cleared"),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Wrong password, or re-authentication needed", body = ErrorResponse),
        (status = 429, description = "Too many attempts", body = ErrorResponse),
    )
)]
pub async fn delete_account(
    State(state): State<AppState>,
    client: Client,
    caller: Authenticated,
    ApiJson(request): ApiJson<DeleteAccountRequest>,
) -> ApiResult<Response> {
    let session_id = caller.require_session(Permission::ManageOwnAccount)?;
    state
        .check_limit(Rule::AuthByAccount, &caller.user_id.to_string())
        .await?;
    let user = caller.fresh_user(&state).await?;
    let now = Utc::now();
    let proven =
        if user.password_hash.is_some() {
            let given = request.password.as_deref().unwrap_or_default();
            password_matches(&state, &user, given).await?
        } else {
            state.store().session(session_id).await?.is_some_and(|s| {
                now - s.created_at <= chrono::Duration::minutes(FRESH_SESSION_MINUTES)
            })
        };
    if !proven {
        audit(
            &state,
            &client,
            "account.delete",
            AuditOutcome::Denied,
            Some(user.id),
            None,
            Vec::new(),
        )
        .await;
        let message = if user.password_hash.is_some() {
            "the password is wrong"
        } else {
            "sign in again (within the last 10 minutes) to delete the account"
        };
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "reauthentication_required",
            message,
        ));
    }
    let tasks_deleted = tasks::admin::forget_user(state.tasks(), user.id.as_uuid())
        .await
        .map_err(|e| ApiError::internal(&e))?;
    // The files first: once the rows are gone, nothing would name them.
    let files = state.files();
    for resume in state.store().resumes(user.id).await? {
        crate::resumes::delete(state.store(), files, user.id, resume.id).await?;
    }
    // Postings the account published close (seekers' applications keep pointing at them).
    let jobs_closed = state.store().close_owned_jobs(user.id, None, now).await?;
    if jobs_closed > 0 {
        state.search_wake().notify_one();
    }
    state.store().delete_user(user.id).await?;
    state.session_ended(None).await;
    audit(
        &state,
        &client,
        "account.delete",
        AuditOutcome::Success,
        Some(user.id),
        None,
        vec![
            ("tasks_deleted", tasks_deleted.to_string()),
            ("jobs_closed", jobs_closed.to_string()),
        ],
    )
    .await;
    let clear: Vec<_> = cookies::clearing_cookies(&state)
        .into_iter()
        .map(|value| (header::SET_COOKIE, value))
        .collect();
    Ok((StatusCode::NO_CONTENT, AppendHeaders(clear)).into_response())
}
