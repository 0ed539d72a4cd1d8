//! Sign-in with an OpenID Connect provider (Google, or any issuer with discovery): the
//! authorization-code flow with PKCE, `state` and `nonce`.
//!
//! The provider's metadata comes from its discovery document and must name exactly the configured
//! issuer; its signing keys come from its JWKS and are fetched again (at most once a minute) when
//! a token names a key not yet seen, so key rotation at the provider needs nothing here. The ID
//! token is verified completely (signature, issuer, audience, authorized party, expiry, issue
//! time, nonce) before any claim is believed.

mod jws;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, de::DeserializeOwned};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use tokio::sync::Mutex;

pub use jws::{Jwk, JwkSet, JwsError, SUPPORTED_ALGORITHMS};

/// Google's issuer; its ID tokens may also carry the issuer without the scheme.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
const METADATA_TTL: Duration = Duration::from_secs(24 * 3600);
const KEYS_TTL: Duration = Duration::from_secs(3600);
/// A token naming an unknown key fetches the key set again, but such fetches happen at most
/// this often.
const KEYS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Clock difference tolerated between the provider and this service.
const LEEWAY_SECONDS: i64 = 120;
/// Provider answers larger than this are refused (discovery, keys and tokens are a few KiB).
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// One configured provider.
#[derive(Clone)]
pub struct ProviderConfig {
    /// The provider's id in URLs (`google`, `oidc`).
    pub id: String,
    /// What the sign-in button says.
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Requested scopes; `openid` is always among them.
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or answered something unusable.
    #[error("the identity provider failed: {0}")]
    Provider(String),
    /// The provider refused the code (expired, used, or not issued to us).
    #[error("the identity provider refused the sign-in: {0}")]
    Refused(String),
    /// The ID token did not verify.
    #[error("the ID token is invalid: {0}")]
    InvalidToken(String),
}

/// The provider's discovery document, the fields used here.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
}

/// What the browser must remember between leaving for the provider and coming back.
#[derive(Debug, Clone)]
pub struct Authorization {
    /// Where to send the browser.
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub code_verifier: String,
}

/// The person the provider vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

struct Cached<T> {
    value: T,
    fetched: Instant,
}

/// A client for one provider; cheap to share.
pub struct OidcClient {
    config: ProviderConfig,
    http: reqwest::Client,
    metadata: Mutex<Option<Cached<Arc<Metadata>>>>,
    keys: Mutex<Option<KeyCache>>,
}

struct KeyCache {
    value: Cached<Arc<JwkSet>>,
    /// When an unknown key id last made us fetch the set again.
    forced: Option<Instant>,
}

impl std::fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// PKCE's S256 challenge for a verifier (RFC 7636).
pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether a provider URL may be used: HTTPS, or plain HTTP to this machine (development and
/// tests). Tokens and codes never travel in clear text over a network.
pub fn is_acceptable_url(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => match url.host() {
            Some(url::Host::Domain(host)) => host == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

impl OidcClient {
    /// A client with its own HTTP connection pool; redirects are never followed, so a provider
    /// cannot bounce our requests (and the client secret) elsewhere.
    pub fn new(config: ProviderConfig) -> Result<Self, OidcError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("jobpilot/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OidcError::Provider(format!("HTTP client: {e}")))?;
        Ok(Self {
            config,
            http,
            metadata: Mutex::new(None),
            keys: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, OidcError> {
        if !is_acceptable_url(url) {
            return Err(OidcError::Provider(format!(
                "refusing the non-HTTPS provider URL {url}"
            )));
        }
        let response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| OidcError::Provider(format!("GET {url}: {}", without_url(&e))))?;
        let status = response.status();
        let body = read_limited(response).await?;
        if !status.is_success() {
            return Err(OidcError::Provider(format!("GET {url}: HTTP {status}")));
        }
        serde_json::from_slice(&body)
            .map_err(|e| OidcError::Provider(format!("GET {url}: unreadable JSON: {e}")))
    }

    /// The provider's metadata, from cache or discovery.
    pub async fn metadata(&self) -> Result<Arc<Metadata>, OidcError> {
        let mut cached = self.metadata.lock().await;
        if let Some(entry) = cached
            .as_ref()
            .filter(|c| c.fetched.elapsed() < METADATA_TTL)
        {
            return Ok(entry.value.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let metadata: Metadata = self.get_json(&url).await?;
        if metadata.issuer != self.config.issuer {
            return Err(OidcError::Provider(format!(
                "the discovery document names issuer {:?}, not the configured {:?}",
                metadata.issuer, self.config.issuer
            )));
        }
        for endpoint in [
            &metadata.authorization_endpoint,
            &metadata.token_endpoint,
            &metadata.jwks_uri,
        ] {
            if !is_acceptable_url(endpoint) {
                return Err(OidcError::Provider(format!(
                    "the discovery document names the non-HTTPS endpoint {endpoint}"
                )));
            }
        }
        let metadata = Arc::new(metadata);
        *cached = Some(Cached {
            value: metadata.clone(),
            fetched: Instant::now(),
        });
        Ok(metadata)
    }

    /// The provider's keys; `refresh` fetches them again unless that happened very recently.
    async fn keys(&self, refresh: bool) -> Result<Arc<JwkSet>, OidcError> {
        let mut cached = self.keys.lock().await;
        if let Some(entry) = cached.as_ref() {
            let fresh = entry.value.fetched.elapsed() < KEYS_TTL;
            // Tokens naming made-up key ids must not turn into a flood of fetches.
            let refetched_lately = entry
                .forced
                .is_some_and(|at| at.elapsed() < KEYS_REFETCH_INTERVAL);
            if fresh && (!refresh || refetched_lately) {
                return Ok(entry.value.value.clone());
            }
        }
        let metadata = self.metadata().await?;
        let keys: JwkSet = self.get_json(&metadata.jwks_uri).await?;
        let keys = Arc::new(keys);
        let now = Instant::now();
        *cached = Some(KeyCache {
            value: Cached {
                value: keys.clone(),
                fetched: now,
            },
            forced: refresh.then_some(now),
        });
        Ok(keys)
    }

    /// Starts a sign-in: the URL to send the browser to, and the secrets to keep until it
    /// comes back.
    pub async fn authorize(&self, redirect_uri: &str) -> Result<Authorization, OidcError> {
        let metadata = self.metadata().await?;
        let (state, nonce, code_verifier) = (random_token(), random_token(), random_token());
        let mut url = reqwest::Url::parse(&metadata.authorization_endpoint)
            .map_err(|e| OidcError::Provider(format!("authorization endpoint: {e}")))?;
        let mut scopes = vec!["openid".to_owned()];
        scopes.extend(
            self.config
                .scopes
                .iter()
                .filter(|s| s.as_str() != "openid")
                .cloned(),
        );
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &code_challenge(&code_verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(Authorization {
            url: url.into(),
            state,
            nonce,
            code_verifier,
        })
    }

    /// Finishes a sign-in: exchanges the code (with the PKCE verifier) and verifies the ID token.
    pub async fn finish(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<Identity, OidcError> {
        let metadata = self.metadata().await?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", code_verifier),
            ("client_id", self.config.client_id.as_str()),
        ];
        let secret = self.config.client_secret.expose_secret();
        let methods = &metadata.token_endpoint_auth_methods_supported;
        // client_secret_basic is the default (OpenID Connect Discovery §3); post when it is the
        // provider's only choice.
        let request = self.http.post(&metadata.token_endpoint);
        let request = if !methods.is_empty()
            && !methods.iter().any(|m| m == "client_secret_basic")
            && methods.iter().any(|m| m == "client_secret_post")
        {
            let mut with_secret = form.to_vec();
            with_secret.push(("client_secret", secret));
            request.form(&with_secret)
        } else {
            request
                .basic_auth(
                    form_encode(&self.config.client_id),
                    Some(form_encode(secret)),
                )
                .form(&form)
        };
        let response = request
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| OidcError::Provider(format!("token endpoint: {}", without_url(&e))))?;
        let status = response.status();
        let body = read_limited(response).await?;
        if !status.is_success() {
            #[derive(Deserialize)]
            struct TokenError {
                error: String,
            }
            let reason = serde_json::from_slice::<TokenError>(&body)
                .map(|e| e.error)
                .unwrap_or_else(|_| format!("HTTP {status}"));
            return Err(if status.is_client_error() {
                OidcError::Refused(reason)
            } else {
                OidcError::Provider(format!("token endpoint: {reason}"))
            });
        }
        #[derive(Deserialize)]
        struct TokenResponse {
            id_token: Option<String>,
        }
        let token: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| OidcError::Provider(format!("token endpoint: unreadable JSON: {e}")))?;
        let id_token = token
            .id_token
            .ok_or_else(|| OidcError::Provider("the token response has no id_token".into()))?;
        self.verify_id_token(&id_token, nonce, now).await
    }

    /// Verifies an ID token from this provider, fetching its keys again once if the token
    /// names a key not yet known (the provider rotated its keys).
    pub async fn verify_id_token(
        &self,
        token: &str,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<Identity, OidcError> {
        let invalid = |e: JwsError| OidcError::InvalidToken(e.to_string());
        let metadata = self.metadata().await?;
        let kid = jws::key_id(token).map_err(invalid)?;
        let mut keys = self.keys(false).await?;
        if kid.as_deref().is_some_and(|kid| !keys.has_key(kid)) {
            keys = self.keys(true).await?;
        }
        let verified = keys
            .verify(token, &metadata.id_token_signing_alg_values_supported)
            .map_err(invalid)?;
        validate_claims(&verified.claims, &self.config, nonce, now)
    }
}

/// RFC 6749 §2.3.1: client credentials in Basic authentication are form-encoded first.
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// An error's text without the URL reqwest appends (it could carry a code or a secret).
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    kind.to_owned()
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, OidcError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| OidcError::Provider(format!("reading the answer: {}", without_url(&e))))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(OidcError::Provider("the answer is too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// OpenID Connect Core §3.1.3.7: the checks on a verified token's claims.
fn validate_claims(
    claims: &serde_json::Value,
    config: &ProviderConfig,
    nonce: &str,
    now: DateTime<Utc>,
) -> Result<Identity, OidcError> {
    let invalid = |why: &str| OidcError::InvalidToken(why.to_owned());
    let text = |name: &str| claims.get(name).and_then(serde_json::Value::as_str);
    let issuer = text("iss").ok_or_else(|| invalid("no issuer"))?;
    let google_alias = config.issuer == GOOGLE_ISSUER && issuer == "accounts.google.com";
    if issuer != config.issuer && !google_alias {
        return Err(invalid("issued by another issuer"));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(serde_json::Value::String(one)) => vec![one.as_str()],
        Some(serde_json::Value::Array(many)) => many.iter().filter_map(|a| a.as_str()).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&config.client_id.as_str()) {
        return Err(invalid("issued to another client"));
    }
    match text("azp") {
        Some(azp) if azp != config.client_id => return Err(invalid("authorized another party")),
        None if audiences.len() > 1 => return Err(invalid("several audiences and no azp")),
        _ => {}
    }
    let time = |name: &str| claims.get(name).and_then(serde_json::Value::as_i64);
    let now = now.timestamp();
    let exp = time("exp").ok_or_else(|| invalid("no expiry"))?;
    if exp + LEEWAY_SECONDS <= now {
        return Err(invalid("expired"));
    }
    let iat = time("iat").ok_or_else(|| invalid("no issue time"))?;
    if iat - LEEWAY_SECONDS > now {
        return Err(invalid("issued in the future"));
    }
    let given_nonce = text("nonce").ok_or_else(|| invalid("no nonce"))?;
    if !bool::from(given_nonce.as_bytes().ct_eq(nonce.as_bytes())) {
        return Err(invalid("the nonce does not match this sign-in"));
    }
    let subject = text("sub")
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or_else(|| invalid("no usable subject"))?;
    // Some providers send the flag as a string.
    let email_verified = match claims.get("email_verified") {
        Some(serde_json::Value::Bool(flag)) => *flag,
        Some(serde_json::Value::String(flag)) => flag == "true",
        _ => false,
    };
    Ok(Identity {
        issuer: config.issuer.clone(),
        subject: subject.to_owned(),
        email: text("email").map(str::to_owned),
        email_verified,
        name: text("name").map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> ProviderConfig {
        ProviderConfig {
            id: "google".into(),
            display_name: "Google".into(),
            issuer: GOOGLE_ISSUER.into(),
            client_id: "client-1".into(),
            client_secret: SecretString::from("s"),
            scopes: vec!["email".into()],
        }
    }

    fn claims() -> serde_json::Value {
        let now = Utc::now().timestamp();
        json!({
            "iss": GOOGLE_ISSUER, "aud": "client-1", "sub": "1234", "exp": now + 300,
            "iat": now, "nonce": "n-1", "email": "ada@example.org", "email_verified": true,
        })
    }

    fn check(claims: &serde_json::Value) -> Result<Identity, OidcError> {
        validate_claims(claims, &config(), "n-1", Utc::now())
    }

    #[test]
    fn accepts_a_valid_token_and_reads_the_identity() {
        let identity = check(&claims()).unwrap();
        assert_eq!(identity.subject, "1234");
        assert_eq!(identity.email.as_deref(), Some("ada@example.org"));
        assert!(identity.email_verified);
        let mut alias = claims();
        alias["iss"] = json!("accounts.google.com");
        alias["email_verified"] = json!("true");
        assert!(check(&alias).unwrap().email_verified);
    }

    #[test]
    fn refuses_each_broken_claim() {
        let now = Utc::now().timestamp();
        let cases: Vec<(&str, serde_json::Value)> = vec![
            ("iss", json!("https://evil.example")),
            ("aud", json!("someone-else")),
            ("aud", json!(["client-1", "other"])),
            ("azp", json!("other")),
            ("exp", json!(now - 3600)),
            ("iat", json!(now + 3600)),
            ("nonce", json!("n-2")),
            ("sub", json!("")),
        ];
        for (name, value) in cases {
            let mut bad = claims();
            bad[name] = value.clone();
            assert!(
                matches!(check(&bad), Err(OidcError::InvalidToken(_))),
                "{name} = {value} was accepted"
            );
        }
        for name in ["iss", "aud", "exp", "iat", "nonce", "sub"] {
            let mut missing = claims();
            missing.as_object_mut().unwrap().remove(name);
            assert!(
                check(&missing).is_err(),
                "a token without {name} was accepted"
            );
        }
    }

    #[test]
    fn unverified_email_is_reported_as_such() {
        let mut unverified = claims();
        unverified["email_verified"] = json!(false);
        assert!(!check(&unverified).unwrap().email_verified);
        unverified.as_object_mut().unwrap().remove("email_verified");
        assert!(!check(&unverified).unwrap().email_verified);
    }

    #[test]
    fn pkce_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn only_https_or_local_http_provider_urls_are_used() {
        assert!(is_acceptable_url(
            "https://accounts.google.com/o/oauth2/v2/auth"
        ));
        assert!(is_acceptable_url("http://127.0.0.1:8080/token"));
        assert!(is_acceptable_url("http://localhost/keys"));
        assert!(!is_acceptable_url("http://idp.example.org/token"));
        assert!(!is_acceptable_url("ftp://idp.example.org"));
        assert!(!is_acceptable_url("not a url"));
    }
}
