//! Signing in with an OpenID Connect provider, end to end, against a local provider that speaks
//! the real protocol: discovery, an authorization endpoint, a token endpoint that checks the
//! client secret and the PKCE verifier, and ES256-signed ID tokens from a published key set.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _},
};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::harness::{Db, TestApp, assert_error};

const CLIENT_ID: &str = "jobpilot-test";
const CLIENT_SECRET: &str = "provider-secret-for-tests";
/// The app's public URL as configured; the test maps it onto the real port.
const PUBLIC_URL: &str = "http://jobpilot.test";

/// Who the provider says signed in, and how it should misbehave.
#[derive(Clone)]
struct Person {
    sub: String,
    email: String,
    email_verified: bool,
}

struct Key {
    kid: String,
    pair: EcdsaKeyPair,
}

impl Key {
    fn new(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Self {
            kid: kid.to_owned(),
            pair,
        }
    }

    fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        })
    }

    fn sign(&self, claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD
            .encode(json!({"alg": "ES256", "typ": "JWT", "kid": self.kid}).to_string());
        let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

struct Grant {
    person: Person,
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

#[derive(Default)]
struct Tamper {
    nonce: Option<String>,
    audience: Option<String>,
    /// Sign with a key the provider does not publish.
    rogue_key: bool,
}

struct ProviderState {
    issuer: String,
    published: Vec<Key>,
    rogue: Key,
    next: Option<Person>,
    grants: HashMap<String, Grant>,
    tamper: Tamper,
    jwks_fetches: usize,
}

type Shared = Arc<Mutex<ProviderState>>;

struct Provider {
    state: Shared,
    issuer: String,
}

impl Provider {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(ProviderState {
            issuer: issuer.clone(),
            published: vec![Key::new("key-1")],
            rogue: Key::new("key-1"),
            next: None,
            grants: HashMap::new(),
            tamper: Tamper::default(),
            jwks_fetches: 0,
        }));
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/jwks", get(jwks))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self { state, issuer }
    }

    fn next_person(&self, sub: &str, email: &str, email_verified: bool) {
        self.state.lock().unwrap().next = Some(Person {
            sub: sub.to_owned(),
            email: email.to_owned(),
            email_verified,
        });
    }
}

async fn discovery(State(state): State<Shared>) -> Json<Value> {
    let issuer = state.lock().unwrap().issuer.clone();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(state): State<Shared>) -> Json<Value> {
    let mut state = state.lock().unwrap();
    state.jwks_fetches += 1;
    Json(json!({"keys": state.published.iter().map(Key::jwk).collect::<Vec<_>>()}))
}

async fn authorize(
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut state = state.lock().unwrap();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query["scope"].split(' ').any(|s| s == "openid"));
    let person = state.next.take().expect("the test names who signs in");
    let code = format!("code-{}", state.grants.len());
    state.grants.insert(
        code.clone(),
        Grant {
            person,
            nonce: query["nonce"].clone(),
            challenge: query["code_challenge"].clone(),
            redirect_uri: query["redirect_uri"].clone(),
        },
    );
    let target = format!(
        "{}?code={code}&state={}",
        query["redirect_uri"],
        urlencoding(&query["state"])
    );
    Redirect::to(&target).into_response()
}

fn urlencoding(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn token(State(state): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let mut state = state.lock().unwrap();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let refuse =
        |error: &str| (StatusCode::BAD_REQUEST, Json(json!({"error": error}))).into_response();
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(expected.as_str())
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    // A code works once.
    let Some(grant) = state.grants.remove(&form["code"]) else {
        return refuse("invalid_grant");
    };
    let verifier_hash = URL_SAFE_NO_PAD.encode(Sha256::digest(form["code_verifier"].as_bytes()));
    if verifier_hash != grant.challenge || form["redirect_uri"] != grant.redirect_uri {
        return refuse("invalid_grant");
    }
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": state.issuer,
        "aud": state.tamper.audience.clone().unwrap_or_else(|| CLIENT_ID.to_owned()),
        "sub": grant.person.sub,
        "email": grant.person.email,
        "email_verified": grant.person.email_verified,
        "nonce": state.tamper.nonce.clone().unwrap_or(grant.nonce),
        "iat": now,
        "exp": now + 300,
    });
    let key = if state.tamper.rogue_key {
        &state.rogue
    } else {
        state.published.last().unwrap()
    };
    let id_token = key.sign(&claims);
    Json(json!({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token}))
        .into_response()
}

/// A browser without automatic redirects, so each hop can be checked.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(header::LOCATION)
        .expect("a redirect")
        .to_str()
        .unwrap()
        .to_owned()
}

fn cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn cookie_value(set_cookie: &str) -> &str {
    set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, v)| v)
        .unwrap()
}

/// Where a sign-in got to: the callback's answer.
struct Attempt {
    callback: reqwest::Response,
}

impl Attempt {
    async fn run(
        app: &TestApp,
        return_to: &str,
        edit_callback: impl FnOnce(String) -> String,
    ) -> Self {
        let browser = browser();
        let start = browser
            .get(app.url(&format!(
                "/api/v1/auth/oidc/oidc/start?return_to={return_to}"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(start.status(), 303);
        let flow = cookie(&start, "jp_oidc").expect("a flow cookie");
        for attribute in [
            "HttpOnly",
            "SameSite=Lax",
            "Path=/api/v1/auth/oidc",
            "Max-Age=600",
        ] {
            assert!(flow.contains(attribute), "{flow}");
        }
        let at_provider = browser.get(location(&start)).send().await.unwrap();
        assert_eq!(at_provider.status(), 303);
        let callback = location(&at_provider);
        let path = callback
            .strip_prefix(PUBLIC_URL)
            .expect("the provider returns to the public URL");
        assert!(path.starts_with("/api/v1/auth/oidc/oidc/callback?"));
        let callback = browser
            .get(app.url(&edit_callback(path.to_owned())))
            .header(header::COOKIE, format!("jp_oidc={}", cookie_value(&flow)))
            .send()
            .await
            .unwrap();
        Self { callback }
    }

    /// The access cookie of a successful sign-in, after checking where it sends the browser.
    fn signed_in(&self, return_to: &str) -> String {
        assert_eq!(self.callback.status(), 303, "sign-in failed");
        assert_eq!(location(&self.callback), return_to);
        let cleared = cookie(&self.callback, "jp_oidc").unwrap();
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
        cookie_value(&cookie(&self.callback, "jp_access").expect("a session")).to_owned()
    }
}

async fn me(app: &TestApp, access: &str) -> Value {
    let response = app
        .client
        .get(app.url("/api/v1/me"))
        .header(header::COOKIE, format!("jp_access={access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn app_with(provider: &Provider, db: Db) -> Option<TestApp> {
    TestApp::builder(db)
        .env("JOBPILOT_PUBLIC_URL", PUBLIC_URL)
        .env("JOBPILOT_OIDC_ISSUER", &provider.issuer)
        .env("JOBPILOT_OIDC_CLIENT_ID", CLIENT_ID)
        .env("JOBPILOT_OIDC_CLIENT_SECRET", CLIENT_SECRET)
        .env("JOBPILOT_OIDC_NAME", "Test IdP")
        .spawn()
        .await
}

async fn sign_up_sign_in_and_link_by_verified_email(db: Db) {
    let provider = Provider::start().await;
    let Some(app) = app_with(&provider, db).await else {
        return;
    };
    let listed: Value = app
        .get("/api/v1/auth/oidc/providers")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["providers"],
        json!([{"id": "oidc", "name": "Test IdP", "start_url": "/api/v1/auth/oidc/oidc/start"}])
    );

    // A first sign-in creates the account (no password), a second finds it by subject.
    provider.next_person("sub-ada", "Ada@Example.org", true);
    let access = Attempt::run(&app, "/jobs", |p| p).await.signed_in("/jobs");
    let ada = me(&app, &access).await;
    assert_eq!(ada["email"], "ada@example.org");
    assert_eq!(ada["role"], "seeker");
    provider.next_person("sub-ada", "ada.new@example.org", true);
    let again = Attempt::run(&app, "/", |p| p).await.signed_in("/");
    assert_eq!(me(&app, &again).await["id"], ada["id"]);

    // An account made with a password is linked when the provider vouches for its address.
    app.register("grace@example.org").await;
    let grace = app.login_ok("grace@example.org").await;
    let grace_id = app
        .get_as("/api/v1/me", &grace.access)
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .clone();
    provider.next_person("sub-grace", "grace@example.org", true);
    let linked = Attempt::run(&app, "/", |p| p).await.signed_in("/");
    assert_eq!(me(&app, &linked).await["id"], grace_id);
    let user_id = domain::UserId::from_uuid(grace_id.as_str().unwrap().parse().unwrap());
    let identities = app.store.external_identities(user_id).await.unwrap();
    assert_eq!(identities.len(), 1);
    assert_eq!(identities[0].subject, "sub-grace");
    assert_eq!(identities[0].issuer, provider.issuer);

    // An unverified address links nothing and creates nothing.
    app.register("mallory-target@example.org").await;
    provider.next_person("sub-mallory", "mallory-target@example.org", false);
    let refused = Attempt::run(&app, "/", |p| p).await;
    assert!(cookie(&refused.callback, "jp_access").is_none());
    assert_error(refused.callback, 403, "oidc_email_unverified").await;
    assert_eq!(
        app.store
            .user_by_external_identity(&provider.issuer, "sub-mallory")
            .await
            .unwrap(),
        None
    );

    let audit = app.store.recent_audit(50).await.unwrap();
    for action in ["auth.register", "auth.oidc_link", "auth.login"] {
        assert!(
            audit
                .iter()
                .any(|e| e.action == action && e.details.contains("oidc")),
            "no {action} event"
        );
    }
}

async fn forged_replayed_and_foreign_answers_are_refused(db: Db) {
    let provider = Provider::start().await;
    let Some(app) = app_with(&provider, db).await else {
        return;
    };
    // Another state than the one this browser was given (login CSRF).
    provider.next_person("sub-1", "one@example.org", true);
    let attempt = Attempt::run(&app, "/", |p| p.replace("state=", "state=x")).await;
    assert_error(attempt.callback, 400, "oidc_flow_invalid").await;

    // No flow cookie at all.
    let bare = browser()
        .get(app.url("/api/v1/auth/oidc/oidc/callback?code=c&state=s"))
        .send()
        .await
        .unwrap();
    assert_error(bare, 400, "oidc_flow_invalid").await;

    // ID tokens for another sign-in, another client, or signed with an unpublished key.
    for tamper in [
        Tamper {
            nonce: Some("someone-elses".into()),
            ..Tamper::default()
        },
        Tamper {
            audience: Some("another-client".into()),
            ..Tamper::default()
        },
        Tamper {
            rogue_key: true,
            ..Tamper::default()
        },
    ] {
        provider.state.lock().unwrap().tamper = tamper;
        provider.next_person("sub-1", "one@example.org", true);
        let attempt = Attempt::run(&app, "/", |p| p).await;
        assert_error(attempt.callback, 401, "oidc_invalid").await;
    }
    provider.state.lock().unwrap().tamper = Tamper::default();

    // The provider reports that the user declined.
    provider.next_person("sub-1", "one@example.org", true);
    let declined = Attempt::run(&app, "/", |p| {
        let state = p.split("state=").nth(1).unwrap().to_owned();
        format!("/api/v1/auth/oidc/oidc/callback?error=access_denied&state={state}")
    })
    .await;
    assert_error(declined.callback, 401, "oidc_denied").await;
    assert_eq!(
        app.store.count_users().await.unwrap(),
        0,
        "nothing was created"
    );

    // Hostile return paths and unknown providers.
    for hostile in [
        "https://evil.example/",
        "//evil.example",
        "/%5Cevil.example",
    ] {
        let response = browser()
            .get(app.url(&format!("/api/v1/auth/oidc/oidc/start?return_to={hostile}")))
            .send()
            .await
            .unwrap();
        assert_error(response, 422, "validation_failed").await;
    }
    let unknown = browser()
        .get(app.url("/api/v1/auth/oidc/nope/start"))
        .send()
        .await
        .unwrap();
    assert_error(unknown, 404, "unknown_provider").await;
}

async fn rotated_provider_keys_are_fetched_again(db: Db) {
    let provider = Provider::start().await;
    let Some(app) = app_with(&provider, db).await else {
        return;
    };
    provider.next_person("sub-r", "rotate@example.org", true);
    Attempt::run(&app, "/", |p| p).await.signed_in("/");
    let fetches = provider.state.lock().unwrap().jwks_fetches;
    // The provider starts signing with a new key the service has not seen.
    provider
        .state
        .lock()
        .unwrap()
        .published
        .push(Key::new("key-2"));
    provider.next_person("sub-r", "rotate@example.org", true);
    Attempt::run(&app, "/", |p| p).await.signed_in("/");
    assert_eq!(provider.state.lock().unwrap().jwks_fetches, fetches + 1);
}

async fn account_rules_apply_to_provider_sign_in(db: Db) {
    let provider = Provider::start().await;
    let Some(app) = app_with(&provider, db).await else {
        return;
    };
    app.register("locked@example.org").await;
    let email = domain::Email::parse("locked@example.org").unwrap();
    let user = app.store.user_by_email(&email).await.unwrap().unwrap();
    app.store
        .set_disabled(user.id, true, chrono::Utc::now())
        .await
        .unwrap();
    provider.next_person("sub-l", "locked@example.org", true);
    let attempt = Attempt::run(&app, "/", |p| p).await;
    assert!(cookie(&attempt.callback, "jp_access").is_none());
    assert_error(attempt.callback, 403, "account_disabled").await;

    // An account with two-factor authentication still needs its second factor: no session,
    // a challenge in the fragment (never sent to servers) for /api/v1/auth/web/login/2fa.
    app.register("careful@example.org").await;
    let email = domain::Email::parse("careful@example.org").unwrap();
    let careful = app.store.user_by_email(&email).await.unwrap().unwrap();
    let secret = auth::new_totp_secret();
    let row = careful.id.to_string();
    let place = auth::Place {
        table: "users",
        column: "totp_secret",
        row: &row,
    };
    let sealed = app.state.key_ring().seal(&secret, place);
    app.store
        .set_totp_pending(careful.id, Some(&sealed))
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let step = auth::step_at(now.timestamp());
    assert!(
        app.store
            .enable_totp(careful.id, &sealed, step - 2, &[], now)
            .await
            .unwrap()
    );
    provider.next_person("sub-c", "careful@example.org", true);
    let attempt = Attempt::run(&app, "/jobs", |p| p).await;
    assert_eq!(attempt.callback.status(), 303);
    assert!(cookie(&attempt.callback, "jp_access").is_none());
    let target = location(&attempt.callback);
    let challenge = target
        .strip_prefix("/jobs#second_factor_challenge=")
        .and_then(|rest| rest.split('&').next())
        .expect("a challenge in the fragment");
    let wrong_code = app
        .post_json(
            "/api/v1/auth/web/login/2fa",
            &json!({"challenge": challenge, "code": "000000"}),
        )
        .await;
    assert_error(wrong_code, 401, "invalid_code").await;
    let right_code = app
        .post_json(
            "/api/v1/auth/web/login/2fa",
            &json!({"challenge": challenge, "code": auth::code_at(&secret, step)}),
        )
        .await;
    assert_eq!(right_code.status(), 200);
    let session = cookie(&right_code, "jp_access").expect("a session after the second factor");
    assert_eq!(
        me(&app, cookie_value(&session)).await["email"],
        "careful@example.org"
    );
}

crate::on_both_databases!(
    sign_up_sign_in_and_link_by_verified_email,
    forged_replayed_and_foreign_answers_are_refused,
    rotated_provider_keys_are_fetched_again,
    account_rules_apply_to_provider_sign_in,
);

#[test]
fn provider_settings_are_checked() {
    use jobpilot::config::Config;
    let load = |vars: &[(&str, &str)]| {
        Config::from_sources(
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            None,
        )
    };
    let half = load(&[("JOBPILOT_GOOGLE_CLIENT_ID", "id")]).unwrap_err();
    assert!(half.to_string().contains("set both or neither"), "{half}");
    let no_url = load(&[
        ("JOBPILOT_GOOGLE_CLIENT_ID", "id"),
        ("JOBPILOT_GOOGLE_CLIENT_SECRET", "secret"),
    ])
    .unwrap_err();
    assert!(
        no_url.to_string().contains("JOBPILOT_PUBLIC_URL"),
        "{no_url}"
    );
    let plain_http = load(&[("JOBPILOT_OIDC_ISSUER", "http://idp.example.org")]).unwrap_err();
    assert!(
        plain_http.to_string().contains("JOBPILOT_OIDC_ISSUER"),
        "{plain_http}"
    );
    let google = load(&[
        ("JOBPILOT_GOOGLE_CLIENT_ID", "id"),
        ("JOBPILOT_GOOGLE_CLIENT_SECRET", "very-secret-value"),
        ("JOBPILOT_PUBLIC_URL", "https://jobs.example.org"),
    ])
    .unwrap();
    assert_eq!(google.oidc_providers.len(), 1);
    assert_eq!(
        google.oidc_providers[0].issuer,
        "https://accounts.google.com"
    );
    assert!(!google.redacted().contains("very-secret-value"));
    assert!(!format!("{google:?}").contains("very-secret-value"));
}
