//! Sign-in with Google or another OpenID Connect provider (authorization code + PKCE).
//!
//! `start` sends the browser to the provider and remembers the flow's secrets (state, nonce,
//! PKCE verifier, where to return) in a short-lived cookie sealed with the key ring, so any
//! replica can finish the flow and nothing needs storing. `callback` checks that the browser
//! coming back is the one that left (state, in constant time), exchanges the code, verifies the
//! ID token, and signs the account in with session cookies. A provider account is linked to an
//! existing jobpilot account only when the provider vouches for the e-mail address; accounts
//! with two-factor authentication still need their second factor.

use axum::{
    Json,
    extract::{Path, State},
    http::{
        HeaderMap, HeaderValue, StatusCode,
        header::{LOCATION, SET_COOKIE},
    },
    response::{IntoResponse, Response},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use domain::{AuditOutcome, Email, ExternalIdentity, NewUser, Role, SessionId, User};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use utoipa::{IntoParams, ToSchema};

use crate::{
    client::Client,
    cookies,
    error::{ApiError, ApiResult, ErrorResponse},
    extract::ApiQuery,
    routes::{
        auth::{audit, open_session},
        web_session::into_cookies,
    },
    state::{AppState, Rule},
};

/// How long a browser may spend at the provider.
const FLOW_TTL_SECONDS: i64 = 600;
const FLOW_PLACE: auth::Place<'static> = auth::Place {
    table: "browser",
    column: "oidc_flow",
    row: "",
};
const MAX_RETURN_TO: usize = 512;

/// A configured identity provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    /// The provider's id in URLs.
    #[schema(example = "google")]
    pub id: String,
    /// What a sign-in button should say.
    #[schema(example = "Google")]
    pub name: String,
    /// Open this URL in the browser (top-level) to sign in.
    #[schema(example = "/api/v1/auth/oidc/google/start")]
    pub start_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderList {
    pub providers: Vec<ProviderView>,
}

/// Lists the identity providers users can sign in with.
#[utoipa::path(
    get,
    path = "/api/v1/auth/oidc/providers",
    tag = "auth",
    responses((status = 200, description = "The configured providers (possibly none)", body = ProviderList))
)]
pub async fn list_providers(State(state): State<AppState>) -> Json<ProviderList> {
    Json(ProviderList {
        providers: state
            .oidc_providers()
            .iter()
            .map(|p| ProviderView {
                id: p.config().id.clone(),
                name: p.config().display_name.clone(),
                start_url: format!("/api/v1/auth/oidc/{}/start", p.config().id),
            })
            .collect(),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StartQuery {
    /// A path on this site to return to afterwards (default `/`).
    #[param(max_length = 512, example = "/jobs")]
    pub return_to: Option<String>,
}

/// What the browser carries (sealed) while it is at the provider.
#[derive(Debug, Serialize, Deserialize)]
struct Flow {
    provider: String,
    state: String,
    nonce: String,
    verifier: String,
    return_to: String,
    expires_at: i64,
}

fn provider_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_provider",
        "no such identity provider is configured",
    )
}

fn provider_unavailable(error: &auth::oidc::OidcError) -> ApiError {
    tracing::warn!(%error, "identity provider failed");
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "provider_unavailable",
        "the identity provider could not be reached or answered wrongly; try again later",
    )
}

/// A return path that stays on this site: absolute path, not protocol-relative, no control
/// characters or backslashes (browsers treat `/\evil` like `//evil`).
fn safe_return_to(raw: Option<&str>) -> Result<String, ApiError> {
    let Some(path) = raw.filter(|p| !p.is_empty()) else {
        return Ok("/".to_owned());
    };
    let safe = path.len() <= MAX_RETURN_TO
        && path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
        && !path.contains('#');
    if safe {
        Ok(path.to_owned())
    } else {
        Err(ApiError::validation(vec![crate::error::ErrorDetail::new(
            "return_to",
            "must be a path on this site, such as /jobs",
        )]))
    }
}

fn redirect_uri(state: &AppState, provider: &str) -> String {
    format!(
        "{}/api/v1/auth/oidc/{provider}/callback",
        state.settings().public_url.trim_end_matches('/')
    )
}

fn flow_cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    cookies::cookie(
        state,
        cookies::OIDC_FLOW_COOKIE,
        value,
        cookies::OIDC_PATH,
        // Lax: the provider sends the browser back with a top-level GET from another site.
        "Lax",
        true,
        max_age,
    )
}

/// Starts a sign-in with an identity provider: redirects the browser there.
#[utoipa::path(
    get,
    path = "/api/v1/auth/oidc/{provider}/start",
    tag = "auth",
    params(("provider" = String, Path, description = "A provider id from /api/v1/auth/oidc/providers"), StartQuery),
    responses(
        (status = 303, description = "Go to the provider; a short-lived flow cookie is set"),
        (status = 404, description = "No such provider is configured", body = ErrorResponse),
        (status = 502, description = "The provider's discovery document could not be read", body = ErrorResponse),
    )
)]
pub async fn start(
    State(state): State<AppState>,
    client: Client,
    Path(provider): Path<String>,
    ApiQuery(query): ApiQuery<StartQuery>,
) -> ApiResult<Response> {
    state
        .check_limit(Rule::AuthByIp, &client.ip.to_string())
        .await?;
    let oidc = state
        .oidc_provider(&provider)
        .ok_or_else(provider_not_found)?;
    let return_to = safe_return_to(query.return_to.as_deref())?;
    let authorization = oidc
        .authorize(&redirect_uri(&state, &provider))
        .await
        .map_err(|e| provider_unavailable(&e))?;
    let flow = Flow {
        provider: provider.clone(),
        state: authorization.state,
        nonce: authorization.nonce,
        verifier: authorization.code_verifier,
        return_to,
        expires_at: Utc::now().timestamp() + FLOW_TTL_SECONDS,
    };
    let plain = serde_json::to_vec(&flow).map_err(|e| ApiError::internal(&e))?;
    let sealed = URL_SAFE_NO_PAD.encode(state.key_ring().seal(&plain, FLOW_PLACE));
    let location = HeaderValue::from_str(&authorization.url).map_err(|e| ApiError::internal(&e))?;
    Ok((
        StatusCode::SEE_OTHER,
        [
            (LOCATION, location),
            (SET_COOKIE, flow_cookie(&state, &sealed, FLOW_TTL_SECONDS)),
        ],
    )
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The authorization code.
    #[param(max_length = 4096)]
    pub code: Option<String>,
    #[param(max_length = 256)]
    pub state: Option<String>,
    /// The provider's error code when it did not sign the user in.
    #[param(max_length = 256)]
    pub error: Option<String>,
    /// The issuer (RFC 9207), checked when the provider sends it.
    #[param(max_length = 2048)]
    pub iss: Option<String>,
}

fn flow_invalid() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "oidc_flow_invalid",
        "this sign-in was not started in this browser or took too long; start again",
    )
}

fn open_flow(state: &AppState, headers: &HeaderMap, provider: &str) -> Option<Flow> {
    let sealed = cookies::read(headers, cookies::OIDC_FLOW_COOKIE)?;
    let sealed = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    let plain = state.key_ring().open(&sealed, FLOW_PLACE).ok()?;
    let flow: Flow = serde_json::from_slice(&plain).ok()?;
    (flow.provider == provider && flow.expires_at > Utc::now().timestamp()).then_some(flow)
}

/// Where the provider sends the browser back: signs in and redirects to the page it started
/// from (with `#second_factor_challenge=…` when the account needs its second factor).
#[utoipa::path(
    get,
    path = "/api/v1/auth/oidc/{provider}/callback",
    tag = "auth",
    params(("provider" = String, Path, description = "The provider id"), CallbackQuery),
    responses(
        (status = 303, description = "Signed in (session cookies set), or on to the second factor"),
        (status = 400, description = "The flow cookie is missing, expired or does not match", body = ErrorResponse),
        (status = 401, description = "The provider refused, or its ID token did not verify", body = ErrorResponse),
        (status = 403, description = "The e-mail address is not verified, sign-up is closed, or the account is disabled", body = ErrorResponse),
        (status = 404, description = "No such provider is configured", body = ErrorResponse),
        (status = 502, description = "The provider could not be reached", body = ErrorResponse),
    )
)]
pub async fn callback(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Path(provider): Path<String>,
    ApiQuery(query): ApiQuery<CallbackQuery>,
) -> Response {
    // The flow cookie is spent whatever happens.
    let clear = flow_cookie(&state, "", 0);
    let mut response = match finish(&state, &client, &headers, &provider, query).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    response.headers_mut().append(SET_COOKIE, clear);
    response
}

async fn finish(
    state: &AppState,
    client: &Client,
    headers: &HeaderMap,
    provider: &str,
    query: CallbackQuery,
) -> ApiResult<Response> {
    state
        .check_limit(Rule::AuthByIp, &client.ip.to_string())
        .await?;
    let oidc = state
        .oidc_provider(provider)
        .ok_or_else(provider_not_found)?;
    let failed = |reason: &'static str| {
        audit(
            state,
            client,
            "auth.oidc_login",
            AuditOutcome::Failure,
            None,
            None,
            vec![
                ("provider", provider.to_owned()),
                ("reason", reason.to_owned()),
            ],
        )
    };
    let flow = open_flow(state, headers, provider);
    let Some(flow) = flow.filter(|flow| {
        query
            .state
            .as_deref()
            .is_some_and(|given| bool::from(given.as_bytes().ct_eq(flow.state.as_bytes())))
    }) else {
        failed("flow_mismatch").await;
        return Err(flow_invalid());
    };
    if let Some(error) = &query.error {
        failed("provider_error").await;
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return Err(ApiError::unauthorized(
            "oidc_denied",
            format!("the identity provider did not sign you in ({code})"),
        ));
    }
    if query
        .iss
        .as_deref()
        .is_some_and(|iss| iss != oidc.config().issuer)
    {
        failed("issuer_mismatch").await;
        return Err(flow_invalid());
    }
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        failed("no_code").await;
        return Err(flow_invalid());
    };
    let now = Utc::now();
    let identity = match oidc
        .finish(
            code,
            &flow.verifier,
            &redirect_uri(state, provider),
            &flow.nonce,
            now,
        )
        .await
    {
        Ok(identity) => identity,
        Err(error @ auth::oidc::OidcError::Provider(_)) => {
            failed("provider_unavailable").await;
            return Err(provider_unavailable(&error));
        }
        Err(error) => {
            tracing::info!(%error, provider, "OIDC sign-in refused");
            failed("invalid_token").await;
            return Err(ApiError::unauthorized(
                "oidc_invalid",
                "the identity provider's answer could not be verified; start again",
            ));
        }
    };
    let user = account_for(state, client, provider, &identity, now).await?;
    if user.disabled_at.is_some() {
        audit(
            state,
            client,
            "auth.oidc_login",
            AuditOutcome::Denied,
            Some(user.id),
            None,
            vec![
                ("provider", provider.to_owned()),
                ("reason", "disabled".into()),
            ],
        )
        .await;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "account_disabled",
            "this account is disabled",
        ));
    }
    signed_in(state, client, provider, &user, &flow.return_to, now).await
}

/// The account a verified provider identity signs in to: the linked one, else the one with the
/// provider-verified e-mail address (linked now), else a new one.
async fn account_for(
    state: &AppState,
    client: &Client,
    provider: &str,
    identity: &auth::oidc::Identity,
    now: DateTime<Utc>,
) -> ApiResult<User> {
    let store = state.store();
    if let Some(user) = store
        .user_by_external_identity(&identity.issuer, &identity.subject)
        .await?
    {
        return Ok(user);
    }
    let email = identity
        .email
        .as_deref()
        .filter(|_| identity.email_verified)
        .and_then(|e| Email::parse(e).ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "oidc_email_unverified",
                "the identity provider did not confirm an e-mail address for this account",
            )
        })?;
    let details = || {
        vec![
            ("provider", provider.to_owned()),
            ("method", "oidc".to_owned()),
        ]
    };
    if let Some(user) = store.user_by_email(&email).await? {
        let link = ExternalIdentity {
            user_id: user.id,
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            email: Some(email.to_string()),
            linked_at: now,
        };
        match store.link_external_identity(&link).await {
            // A concurrent callback linked it first: the same account either way.
            Ok(()) | Err(store::StoreError::Conflict(_)) => {}
            Err(other) => return Err(other.into()),
        }
        audit(
            state,
            client,
            "auth.oidc_link",
            AuditOutcome::Success,
            Some(user.id),
            None,
            details(),
        )
        .await;
        return Ok(user);
    }
    if !state.settings().oidc_signup {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "signup_closed",
            "no account uses this e-mail address, and new accounts cannot be created here",
        ));
    }
    let new = NewUser {
        email,
        password_hash: None,
        role: Role::Seeker,
    };
    let user = match store
        .create_user_with_identity(
            new,
            &identity.issuer,
            &identity.subject,
            identity.email.as_deref(),
        )
        .await
    {
        Ok(user) => user,
        // Another request created or linked it meanwhile; take what is there now.
        Err(store::StoreError::Conflict(_)) => {
            return Box::pin(account_for(state, client, provider, identity, now)).await;
        }
        Err(other) => return Err(other.into()),
    };
    audit(
        state,
        client,
        "auth.register",
        AuditOutcome::Success,
        Some(user.id),
        None,
        details(),
    )
    .await;
    Ok(user)
}

async fn signed_in(
    state: &AppState,
    client: &Client,
    provider: &str,
    user: &User,
    return_to: &str,
    now: DateTime<Utc>,
) -> ApiResult<Response> {
    let details = vec![
        ("provider", provider.to_owned()),
        ("method", "oidc".to_owned()),
    ];
    if user.totp_enabled_at.is_some() {
        let (challenge, expires) =
            state
                .challenges()
                .issue(user.id, user.role, SessionId::new(), now);
        audit(
            state,
            client,
            "auth.login_second_factor_required",
            AuditOutcome::Success,
            Some(user.id),
            None,
            details,
        )
        .await;
        // In the fragment: never sent to a server, never in a Referer header.
        let location = format!(
            "{return_to}#second_factor_challenge={challenge}&expires_in={}",
            (expires - now).num_seconds()
        );
        return redirect(&location, Vec::new());
    }
    state.store().record_login_success(user.id).await?;
    let tokens = open_session(state, client, user).await?;
    audit(
        state,
        client,
        "auth.login",
        AuditOutcome::Success,
        Some(user.id),
        None,
        details,
    )
    .await;
    let (cookies, _) = into_cookies(state, &tokens);
    redirect(return_to, cookies.0.into_iter().map(|(_, v)| v).collect())
}

fn redirect(location: &str, cookies: Vec<HeaderValue>) -> ApiResult<Response> {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let location = HeaderValue::from_str(location).map_err(|e| ApiError::internal(&e))?;
    response.headers_mut().insert(LOCATION, location);
    for cookie in cookies {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_on_this_site() {
        assert_eq!(safe_return_to(None).unwrap(), "/");
        assert_eq!(safe_return_to(Some("")).unwrap(), "/");
        assert_eq!(
            safe_return_to(Some("/jobs?q=rust")).unwrap(),
            "/jobs?q=rust"
        );
        for hostile in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "jobs",
            "/a\nb",
            "/a#frag",
            &format!("/{}", "a".repeat(MAX_RETURN_TO)),
        ] {
            assert!(
                safe_return_to(Some(hostile)).is_err(),
                "{hostile:?} accepted"
            );
        }
    }
}
