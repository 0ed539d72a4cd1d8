//! Verifying an identity provider's signed ID token against its published keys (JWKS).
//!
//! Only asymmetric algorithms are accepted: the token must be signed by the provider, and a
//! shared-secret (`HS*`) or unsigned (`none`) token could be minted by anyone who knows the client
//! secret, or by no one at all. The signature is checked with `ring` before any claim is read.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;

/// ID tokens are small; anything this long is not one.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The signature algorithms this service verifies.
pub const SUPPORTED_ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's algorithm {0:?} is not accepted")]
    Algorithm(String),
    #[error("no published key matches the token")]
    UnknownKey,
    #[error("the token's signature is wrong")]
    Signature,
}

/// One published key (RFC 7517), the fields verification needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default, rename = "use")]
    pub key_use: Option<String>,
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
}

/// A provider's key set.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// A token whose signature checked out: its header's key id and its claims, not yet validated.
#[derive(Debug)]
pub struct Verified {
    pub algorithm: String,
    pub claims: serde_json::Value,
}

/// The parts of a compact JWS, and the header decoded.
struct Parts<'a> {
    header: Header,
    signing_input: &'a [u8],
    payload: &'a str,
    signature: Vec<u8>,
}

fn split(token: &str) -> Result<Parts<'_>, JwsError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwsError::Malformed);
    }
    let mut pieces = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (pieces.next(), pieces.next(), pieces.next(), pieces.next())
    else {
        return Err(JwsError::Malformed);
    };
    let header: Header = serde_json::from_slice(&b64(header)?).map_err(|_| JwsError::Malformed)?;
    Ok(Parts {
        header,
        signing_input: &token.as_bytes()[..token.len() - signature.len() - 1],
        payload,
        signature: b64(signature)?,
    })
}

fn b64(part: &str) -> Result<Vec<u8>, JwsError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwsError::Malformed)
}

/// The key id a token names, if any (to decide whether the key set needs fetching again).
pub fn key_id(token: &str) -> Result<Option<String>, JwsError> {
    Ok(split(token)?.header.kid)
}

impl JwkSet {
    /// Whether the set holds a key with this id.
    pub fn has_key(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Checks the token's signature with the matching key; `allowed` further narrows the
    /// algorithms (the provider's advertised list).
    pub fn verify(&self, token: &str, allowed: &[String]) -> Result<Verified, JwsError> {
        let parts = split(token)?;
        let alg = parts.header.alg.as_str();
        if !SUPPORTED_ALGORITHMS.contains(&alg)
            || (!allowed.is_empty() && !allowed.iter().any(|a| a == alg))
        {
            return Err(JwsError::Algorithm(alg.to_owned()));
        }
        let candidates: Vec<&Jwk> = self
            .keys
            .iter()
            .filter(|k| k.key_use.as_deref().is_none_or(|u| u == "sig"))
            .filter(|k| k.alg.as_deref().is_none_or(|a| a == alg))
            .filter(|k| match &parts.header.kid {
                Some(kid) => k.kid.as_deref() == Some(kid.as_str()),
                None => true,
            })
            .collect();
        // Without a key id the key must be unambiguous.
        let key = match (candidates.as_slice(), &parts.header.kid) {
            ([key], _) => *key,
            ([key, ..], Some(_)) => *key,
            _ => return Err(JwsError::UnknownKey),
        };
        verify_with(key, alg, parts.signing_input, &parts.signature)?;
        let claims =
            serde_json::from_slice(&b64(parts.payload)?).map_err(|_| JwsError::Malformed)?;
        Ok(Verified {
            algorithm: alg.to_owned(),
            claims,
        })
    }
}

fn field(value: &Option<String>) -> Result<Vec<u8>, JwsError> {
    value.as_deref().ok_or(JwsError::UnknownKey).and_then(b64)
}

fn verify_with(key: &Jwk, alg: &str, message: &[u8], sig: &[u8]) -> Result<(), JwsError> {
    let rsa = |params: &'static signature::RsaParameters| -> Result<(), JwsError> {
        if key.kty != "RSA" {
            return Err(JwsError::UnknownKey);
        }
        let n = field(&key.n)?;
        let first = n.iter().position(|&b| b != 0).unwrap_or(n.len());
        RsaPublicKeyComponents {
            n: &n[first..],
            e: field(&key.e)?.as_slice(),
        }
        .verify(params, message, sig)
        .map_err(|_| JwsError::Signature)
    };
    let ec = |curve: &str, algorithm: &'static signature::EcdsaVerificationAlgorithm| {
        if key.kty != "EC" || key.crv.as_deref() != Some(curve) {
            return Err(JwsError::UnknownKey);
        }
        let mut point = vec![0x04];
        point.extend(field(&key.x)?);
        point.extend(field(&key.y)?);
        UnparsedPublicKey::new(algorithm, point)
            .verify(message, sig)
            .map_err(|_| JwsError::Signature)
    };
    match alg {
        "RS256" => rsa(&signature::RSA_PKCS1_2048_8192_SHA256),
        "RS384" => rsa(&signature::RSA_PKCS1_2048_8192_SHA384),
        "RS512" => rsa(&signature::RSA_PKCS1_2048_8192_SHA512),
        "PS256" => rsa(&signature::RSA_PSS_2048_8192_SHA256),
        "PS384" => rsa(&signature::RSA_PSS_2048_8192_SHA384),
        "PS512" => rsa(&signature::RSA_PSS_2048_8192_SHA512),
        "ES256" => ec("P-256", &signature::ECDSA_P256_SHA256_FIXED),
        "ES384" => ec("P-384", &signature::ECDSA_P384_SHA384_FIXED),
        "EdDSA" => {
            if key.kty != "OKP" || key.crv.as_deref() != Some("Ed25519") {
                return Err(JwsError::UnknownKey);
            }
            UnparsedPublicKey::new(&signature::ED25519, field(&key.x)?)
                .verify(message, sig)
                .map_err(|_| JwsError::Signature)
        }
        other => Err(JwsError::Algorithm(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::{
        rand::SystemRandom,
        signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _},
    };

    /// RFC 7515, appendix A.2: an RS256 JWS and the public half of its key.
    const RFC7515_A2_TOKEN: &str = concat!(
        "eyJhbGciOiJSUzI1NiJ9",
        ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ",
        ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5",
        "jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07",
        "Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI",
        "8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw",
    );
    const RFC7515_A2_N: &str = concat!(
        "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx",
        "HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMs",
        "D1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSH",
        "SXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdV",
        "MTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8",
        "NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
    );

    fn rsa_set() -> JwkSet {
        serde_json::from_value(serde_json::json!({
            "keys": [{"kty": "RSA", "n": RFC7515_A2_N, "e": "AQAB"}]
        }))
        .unwrap()
    }

    #[test]
    fn verifies_the_rfc_7515_rs256_example() {
        let verified = rsa_set().verify(RFC7515_A2_TOKEN, &[]).unwrap();
        assert_eq!(verified.algorithm, "RS256");
        assert_eq!(verified.claims["iss"], "joe");
        assert_eq!(verified.claims["exp"], 1_300_819_380);
    }

    #[test]
    fn rejects_a_tampered_payload_and_a_forbidden_algorithm() {
        let mut parts: Vec<&str> = RFC7515_A2_TOKEN.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"iss":"mallory"}"#);
        parts[1] = &forged;
        assert_eq!(
            rsa_set().verify(&parts.join("."), &[]).unwrap_err(),
            JwsError::Signature
        );
        // The provider may narrow the algorithms; RS256 then does not pass.
        assert!(matches!(
            rsa_set().verify(RFC7515_A2_TOKEN, &["ES256".to_owned()]),
            Err(JwsError::Algorithm(_))
        ));
        // Shared-secret and unsigned tokens are never accepted.
        for alg in ["HS256", "none"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}"}}"#));
            let token = format!("{header}.{}.", parts[1]);
            assert_eq!(
                rsa_set().verify(&token, &[]).unwrap_err(),
                JwsError::Algorithm(alg.to_owned())
            );
        }
    }

    fn es256_token(pair: &EcdsaKeyPair, kid: &str, claims: &serde_json::Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#));
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{payload}");
        let sig = pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn es256_pair() -> (EcdsaKeyPair, Jwk) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = pair.public_key().as_ref();
        let jwk = Jwk {
            kty: "EC".into(),
            kid: Some("k1".into()),
            key_use: Some("sig".into()),
            alg: Some("ES256".into()),
            n: None,
            e: None,
            crv: Some("P-256".into()),
            x: Some(URL_SAFE_NO_PAD.encode(&point[1..33])),
            y: Some(URL_SAFE_NO_PAD.encode(&point[33..])),
        };
        (pair, jwk)
    }

    #[test]
    fn verifies_es256_by_key_id_and_refuses_an_unknown_or_wrong_key() {
        let (pair, jwk) = es256_pair();
        let (_, other) = es256_pair();
        let claims = serde_json::json!({"sub": "42"});
        let token = es256_token(&pair, "k1", &claims);
        let set = JwkSet {
            keys: vec![jwk.clone()],
        };
        assert_eq!(set.verify(&token, &[]).unwrap().claims["sub"], "42");
        assert_eq!(key_id(&token).unwrap().as_deref(), Some("k1"));
        let unknown = es256_token(&pair, "k2", &claims);
        assert_eq!(set.verify(&unknown, &[]).unwrap_err(), JwsError::UnknownKey);
        let wrong = JwkSet {
            keys: vec![Jwk {
                kid: Some("k1".into()),
                ..other
            }],
        };
        assert_eq!(wrong.verify(&token, &[]).unwrap_err(), JwsError::Signature);
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for token in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.e30.",
            &"a".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert_eq!(
                rsa_set().verify(token, &[]).unwrap_err(),
                JwsError::Malformed
            );
        }
    }
}
