//! Signing in and out of the web UI. The checks are the API's own (the same handlers run, with
//! their rate limits, lockout and audit); the tokens land in the browser-session cookies.
//!
//! The sign-in form has no session yet to bind a CSRF token to, so it carries a random token
//! that must match a `SameSite=Strict` cookie set with the form (a double submit): another site
//! can neither read the cookie nor make the browser send it, so it cannot sign a victim's
//! browser into the attacker's account.

use askama::Template;
use axum::{
    Form, Json,
    extract::{Query, State, rejection::FormRejection},
    http::{HeaderMap, StatusCode, header::SET_COOKIE},
    response::{AppendHeaders, IntoResponse, Redirect, Response},
};
use base64::Engine as _;
use rand::RngCore as _;
use serde::Deserialize;
use subtle::ConstantTimeEq as _;

use super::{
    HOME, Layout, SignedIn, copy_retry_after, error_page, local_target, message_page, render,
};
use crate::{
    authn::authenticate_session,
    client::Client,
    cookies,
    error::ApiError,
    extract::ApiJson,
    routes::{
        auth::{
            LoginRequest, LoginResponse, SecondFactorRequest, login, login_second_factor,
            logout as end_session,
        },
        web_session::into_cookies,
    },
    state::AppState,
};

/// The double-submit cookie of the sign-in form.
const FORM_COOKIE: &str = "jp_ui_form";
/// How long a sign-in form stays usable.
const FORM_TTL_SECONDS: i64 = 3600;

#[derive(Template)]
#[template(path = "ui/login.html")]
struct LoginPage {
    layout: Layout,
    form_token: String,
    email: String,
    error: Option<String>,
    /// Set when the password was right and the second factor is asked for.
    challenge: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct NextQuery {
    next: Option<String>,
}

/// The sign-in form (or, for a browser already signed in, straight on to where it was going).
pub(super) async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<NextQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let next = query.ok().and_then(|Query(q)| q.next);
    let next = local_target(next.as_deref(), HOME).to_owned();
    if let Some(token) = cookies::read(&headers, cookies::ACCESS_COOKIE).filter(|t| !t.is_empty())
        && authenticate_session(&state, token).await.is_ok()
    {
        return Redirect::to(&next).into_response();
    }
    sign_in_form(
        &state,
        &headers,
        next,
        String::new(),
        None,
        None,
        StatusCode::OK,
    )
}

fn sign_in_form(
    state: &AppState,
    headers: &HeaderMap,
    next: String,
    email: String,
    error: Option<String>,
    challenge: Option<String>,
    status: StatusCode,
) -> Response {
    // One token per browser, kept while it is valid, so two open sign-in tabs both work.
    let form_token = cookies::read(headers, FORM_COOKIE)
        .filter(|t| t.len() == 43)
        .map_or_else(new_form_token, str::to_owned);
    let layout = Layout {
        try_renew: challenge.is_none(),
        next,
        ..Layout::default()
    };
    let cookie = cookies::cookie(
        state,
        FORM_COOKIE,
        &form_token,
        "/ui",
        "Strict",
        true,
        FORM_TTL_SECONDS,
    );
    let page = render(
        status,
        &LoginPage {
            layout,
            form_token,
            email,
            error,
            challenge,
        },
    );
    (AppendHeaders([(SET_COOKIE, cookie)]), page).into_response()
}

fn new_form_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether the form's token matches the browser's form cookie.
fn form_is_genuine(headers: &HeaderMap, given: &str) -> bool {
    match cookies::read(headers, FORM_COOKIE) {
        Some(expected) if !expected.is_empty() => {
            bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
        }
        _ => false,
    }
}

fn stale_form() -> Response {
    message_page(
        StatusCode::FORBIDDEN,
        Layout::default(),
        "This form has expired or did not come from this site. Open the sign-in page again.",
        "/ui/login",
    )
}

fn malformed_form(rejection: &FormRejection) -> Response {
    message_page(
        StatusCode::BAD_REQUEST,
        Layout::default(),
        &format!("The form could not be read: {}", rejection.body_text()),
        "/ui/login",
    )
}

/// A sign-in form that could be read and carries this browser's form token; otherwise the page
/// that says why not.
fn genuine<T>(
    form: Result<Form<T>, FormRejection>,
    headers: &HeaderMap,
    token_of: impl Fn(&T) -> &str,
) -> Result<T, Box<Response>> {
    let Form(form) = form.map_err(|rejection| Box::new(malformed_form(&rejection)))?;
    if !form_is_genuine(headers, token_of(&form)) {
        return Err(Box::new(stale_form()));
    }
    Ok(form)
}

#[derive(Debug, Deserialize)]
pub(super) struct SignInForm {
    csrf: String,
    email: String,
    password: String,
    next: Option<String>,
}

/// Checks the e-mail address and password with the API's sign-in; sets the session cookies.
pub(super) async fn submit(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let form = match genuine(form, &headers, |f: &SignInForm| f.csrf.as_str()) {
        Ok(form) => form,
        Err(page) => return *page,
    };
    let next = local_target(form.next.as_deref(), HOME).to_owned();
    let request = LoginRequest {
        email: form.email.clone(),
        password: form.password,
    };
    match login(State(state.clone()), client, ApiJson(request)).await {
        Ok(Json(LoginResponse::Tokens(tokens))) => {
            let (cookies, _) = into_cookies(&state, &tokens);
            (cookies, Redirect::to(&next)).into_response()
        }
        Ok(Json(LoginResponse::SecondFactor(challenge))) => sign_in_form(
            &state,
            &headers,
            next,
            form.email,
            None,
            Some(challenge.challenge),
            StatusCode::OK,
        ),
        Err(error) => failed(&state, &headers, next, form.email, &error),
    }
}

/// The sign-in form again, with the reason (and `Retry-After` when rate limited).
fn failed(
    state: &AppState,
    headers: &HeaderMap,
    next: String,
    email: String,
    error: &ApiError,
) -> Response {
    let mut response = sign_in_form(
        state,
        headers,
        next,
        email,
        Some(error.message.clone()),
        None,
        error.status,
    );
    copy_retry_after(error, &mut response);
    response
}

#[derive(Debug, Deserialize)]
pub(super) struct SecondFactorForm {
    csrf: String,
    challenge: String,
    code: String,
    next: Option<String>,
}

/// Completes a sign-in with the code from the authenticator app (or a backup code).
pub(super) async fn second_factor(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    form: Result<Form<SecondFactorForm>, FormRejection>,
) -> Response {
    let form = match genuine(form, &headers, |f: &SecondFactorForm| f.csrf.as_str()) {
        Ok(form) => form,
        Err(page) => return *page,
    };
    let next = local_target(form.next.as_deref(), HOME).to_owned();
    let challenge = form.challenge.clone();
    let request = SecondFactorRequest {
        challenge: form.challenge,
        code: form.code,
    };
    match login_second_factor(State(state.clone()), client, ApiJson(request)).await {
        Ok(Json(tokens)) => {
            let (cookies, _) = into_cookies(&state, &tokens);
            (cookies, Redirect::to(&next)).into_response()
        }
        // A wrong code may be corrected while the challenge lasts (wrong codes count towards
        // the lockout); an expired challenge says so, and the password form is a reload away.
        Err(error) => {
            let mut response = sign_in_form(
                &state,
                &headers,
                next,
                String::new(),
                Some(error.message.clone()),
                Some(challenge),
                error.status,
            );
            copy_retry_after(&error, &mut response);
            response
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct SignOutForm {
    csrf: String,
}

/// Ends the session (as `POST /api/v1/auth/logout` does) and clears its cookies.
pub(super) async fn logout(
    State(state): State<AppState>,
    client: Client,
    signed_in: SignedIn,
    form: Result<Form<SignOutForm>, FormRejection>,
) -> Response {
    let genuine = form
        .as_ref()
        .is_ok_and(|Form(form)| signed_in.form_is_genuine(&state, &form.csrf));
    if !genuine {
        return stale_form();
    }
    match end_session(State(state.clone()), client, signed_in.caller).await {
        Ok((cookies, _)) => (cookies, Redirect::to("/ui/login")).into_response(),
        Err(error) => error_page(&error, Layout::default(), HOME),
    }
}
