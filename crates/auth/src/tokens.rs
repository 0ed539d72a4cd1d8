//! Access tokens: JWTs signed with HMAC-SHA-256 (HS256), the algorithm pinned by construction.
//!
//! A token is accepted only if its header says exactly `HS256`, names (by `kid`) one of the
//! configured keys, its signature matches under that key (compared in constant time), and its
//! `iss`, `aud`, `exp` and `iat` claims hold. Several keys may be configured: the first signs,
//! all verify, so keys rotate without signing anyone out.
//!
//! Refresh tokens are opaque: 256 random bits, stored only as their SHA-256.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use domain::{Role, SessionId, UserId};
use hmac::Mac as _;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Longest token we look at; anything longer is rejected before any work.
const MAX_TOKEN_LEN: usize = 4096;
/// Clock skew tolerated between replicas.
const LEEWAY_SECONDS: i64 = 30;
const REFRESH_PREFIX: &str = "rt_";

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub role: Role,
    pub sid: Uuid,
    pub jti: Uuid,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

impl Claims {
    pub fn user_id(&self) -> UserId {
        UserId::from_uuid(self.sub)
    }

    pub fn session_id(&self) -> SessionId {
        SessionId::from_uuid(self.sid)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's algorithm is not accepted")]
    Algorithm,
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token was not issued for this service")]
    WrongAudience,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Clone)]
struct Key {
    id: String,
    secret: Vec<u8>,
}

/// Issues and verifies access tokens.
#[derive(Clone)]
pub struct TokenIssuer {
    keys: Vec<Key>,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field(
                "key_ids",
                &self.keys.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// A key's id: a digest prefix, so it names the key without revealing it.
fn key_id(secret: &[u8]) -> String {
    let digest = Sha256::digest(secret);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl TokenIssuer {
    /// `secrets`: the first signs, all verify. Empty secrets are ignored.
    pub fn new<'a>(
        secrets: impl IntoIterator<Item = &'a str>,
        issuer: &str,
        audience: &str,
        ttl: Duration,
    ) -> Option<Self> {
        let keys: Vec<Key> = secrets
            .into_iter()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Key {
                id: key_id(s.as_bytes()),
                secret: s.as_bytes().to_vec(),
            })
            .collect();
        (!keys.is_empty()).then(|| Self {
            keys,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
        })
    }

    /// An issuer with a random key that lives as long as the process (tests, tools).
    pub fn ephemeral(issuer: &str, audience: &str, ttl: Duration) -> Self {
        let mut secret = vec![0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        Self {
            keys: vec![Key {
                id: key_id(&secret),
                secret,
            }],
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
        }
    }

    /// The same keys, for another kind of token (another audience, another lifetime), so one
    /// kind can never pass for the other.
    pub fn with_audience(&self, audience: &str, ttl: Duration) -> Self {
        Self {
            keys: self.keys.clone(),
            issuer: self.issuer.clone(),
            audience: audience.to_owned(),
            ttl,
        }
    }

    /// A MAC of `data` under the signing key, for values the server must recognise as its own
    /// (CSRF tokens). Changes when the signing key rotates.
    pub fn tag(&self, purpose: &str, data: &[u8]) -> String {
        let key = &self.keys[0];
        let mut mac = Self::mac(key, purpose.as_bytes());
        mac.update(b"\0");
        mac.update(data);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    #[expect(clippy::expect_used, reason = "HMAC takes keys of any length")]
    fn mac(key: &Key, signing_input: &[u8]) -> HmacSha256 {
        let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(&key.secret)
            .expect("HMAC takes keys of any length");
        mac.update(signing_input);
        mac
    }

    /// A fresh access token for a session, and when it expires.
    pub fn issue(
        &self,
        user: UserId,
        role: Role,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> (String, DateTime<Utc>) {
        let expires = now + self.ttl;
        let claims = Claims {
            sub: user.as_uuid(),
            role,
            sid: session.as_uuid(),
            jti: Uuid::now_v7(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now.timestamp(),
            exp: expires.timestamp(),
        };
        let key = &self.keys[0];
        let header = Header {
            alg: "HS256".to_owned(),
            typ: Some("JWT".to_owned()),
            kid: Some(key.id.clone()),
        };
        let signing_input = format!("{}.{}", encode_json(&header), encode_json(&claims));
        let signature = Self::mac(key, signing_input.as_bytes())
            .finalize()
            .into_bytes();
        (
            format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)),
            expires,
        )
    }

    /// Checks a token completely; only then are its claims returned.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = decode_json(header)?;
        if header.alg != "HS256" || header.typ.as_deref().is_some_and(|t| t != "JWT") {
            return Err(TokenError::Algorithm);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.iter().find(|k| k.id == kid))
            .ok_or(TokenError::UnknownKey)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let signing_input_len = token.len() - token.rsplit('.').next().map_or(0, str::len) - 1;
        Self::mac(key, &token.as_bytes()[..signing_input_len])
            .verify_slice(&signature)
            .map_err(|_| TokenError::Signature)?;
        let claims: Claims = decode_json(payload)?;
        if claims.iss != self.issuer || claims.aud != self.audience {
            return Err(TokenError::WrongAudience);
        }
        let now = now.timestamp();
        if claims.exp + LEEWAY_SECONDS <= now || claims.iat - LEEWAY_SECONDS > now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

fn encode_json<T: Serialize>(value: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

/// A new opaque refresh token and the SHA-256 the store keeps of it.
pub fn new_refresh_token() -> (String, [u8; 32]) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("{REFRESH_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = refresh_token_hash(&token);
    (token, hash)
}

/// The digest under which a refresh token is stored and looked up.
pub fn refresh_token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> TokenIssuer {
        TokenIssuer::new(
            ["first-secret-0123456789abcdef0123456789"],
            "https://jobpilot.test",
            "jobpilot",
            Duration::minutes(15),
        )
        .unwrap()
    }

    fn issue(issuer: &TokenIssuer, now: DateTime<Utc>) -> String {
        issuer
            .issue(UserId::new(), Role::Seeker, SessionId::new(), now)
            .0
    }

    #[test]
    fn a_fresh_token_verifies_with_its_claims() {
        let issuer = issuer();
        let now = Utc::now();
        let user = UserId::new();
        let session = SessionId::new();
        let (token, expires) = issuer.issue(user, Role::Admin, session, now);
        assert_eq!(expires, now + Duration::minutes(15));
        let claims = issuer.verify(&token, now).unwrap();
        assert_eq!(claims.user_id(), user);
        assert_eq!(claims.session_id(), session);
        assert_eq!(claims.role, Role::Admin);
        assert_eq!(claims.aud, "jobpilot");
        assert_eq!(claims.exp - claims.iat, 15 * 60);
    }

    #[test]
    fn expired_tokens_are_rejected() {
        let issuer = issuer();
        let then = Utc::now() - Duration::minutes(16);
        let token = issue(&issuer, then);
        assert_eq!(issuer.verify(&token, Utc::now()), Err(TokenError::Expired));
        // Issued in the future (a forged clock) is no better.
        let token = issue(&issuer, Utc::now() + Duration::hours(1));
        assert_eq!(issuer.verify(&token, Utc::now()), Err(TokenError::Expired));
    }

    #[test]
    fn tampered_payloads_fail_the_signature() {
        let issuer = issuer();
        let token = issue(&issuer, Utc::now());
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["role"] = "admin".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
            parts[2]
        );
        assert_eq!(
            issuer.verify(&forged, Utc::now()),
            Err(TokenError::Signature)
        );
    }

    #[test]
    fn alg_none_and_other_algorithms_are_rejected() {
        let issuer = issuer();
        let token = issue(&issuer, Utc::now());
        let parts: Vec<&str> = token.split('.').collect();
        for alg in ["none", "HS512", "RS256", "hs256"] {
            let header = URL_SAFE_NO_PAD.encode(
                serde_json::to_vec(&serde_json::json!({"alg": alg, "typ": "JWT"})).unwrap(),
            );
            for signature in ["", parts[2]] {
                let forged = format!("{header}.{}.{signature}", parts[1]);
                assert_eq!(
                    issuer.verify(&forged, Utc::now()),
                    Err(TokenError::Algorithm),
                    "{alg}"
                );
            }
        }
    }

    #[test]
    fn tokens_from_another_key_issuer_or_audience_are_rejected() {
        let now = Utc::now();
        let other_key = TokenIssuer::new(
            ["other-secret-0123456789abcdef0123456789"],
            "https://jobpilot.test",
            "jobpilot",
            Duration::minutes(15),
        )
        .unwrap();
        assert_eq!(
            issuer().verify(&issue(&other_key, now), now),
            Err(TokenError::UnknownKey)
        );
        let other_audience = TokenIssuer::new(
            ["first-secret-0123456789abcdef0123456789"],
            "https://jobpilot.test",
            "someone-else",
            Duration::minutes(15),
        )
        .unwrap();
        assert_eq!(
            issuer().verify(&issue(&other_audience, now), now),
            Err(TokenError::WrongAudience)
        );
    }

    #[test]
    fn rotated_keys_still_verify_old_tokens() {
        let now = Utc::now();
        let old = issuer();
        let token = issue(&old, now);
        let rotated = TokenIssuer::new(
            [
                "second-secret-0123456789abcdef012345678",
                "first-secret-0123456789abcdef0123456789",
            ],
            "https://jobpilot.test",
            "jobpilot",
            Duration::minutes(15),
        )
        .unwrap();
        assert!(rotated.verify(&token, now).is_ok());
        let fresh = issue(&rotated, now);
        assert_eq!(old.verify(&fresh, now), Err(TokenError::UnknownKey));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let issuer = issuer();
        for token in [
            "",
            "a",
            "a.b",
            "a.b.c.d",
            "....",
            "!!.!!.!!",
            &"x".repeat(5000),
        ] {
            assert!(issuer.verify(token, Utc::now()).is_err(), "{token}");
        }
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, hash_a) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert!(a.starts_with("rt_") && a.len() == 3 + 43);
        assert_eq!(refresh_token_hash(&a), hash_a);
    }
}
