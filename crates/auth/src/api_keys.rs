//! API keys: `jp_<prefix>_<secret>`. The prefix (60 random bits, base32) finds the key; the
//! secret (256 random bits) proves it and is kept only as its SHA-256, compared in constant time.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

const MARK: &str = "jp";
const PREFIX_LEN: usize = 12;
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A freshly made key: the token is shown to its owner once and never stored.
#[derive(Debug)]
pub struct NewApiKey {
    pub token: String,
    pub prefix: String,
    pub secret_hash: [u8; 32],
}

pub fn new_api_key() -> NewApiKey {
    let mut rng = rand::rng();
    let mut prefix_bytes = [0u8; PREFIX_LEN];
    rng.fill_bytes(&mut prefix_bytes);
    let prefix: String = prefix_bytes
        .iter()
        .map(|b| char::from(BASE32[usize::from(b & 31)]))
        .collect();
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    NewApiKey {
        token: format!("{MARK}_{prefix}_{secret}"),
        secret_hash: Sha256::digest(secret.as_bytes()).into(),
        prefix,
    }
}

/// Whether a presented credential looks like an API key (rather than a JWT).
pub fn looks_like_api_key(token: &str) -> bool {
    token.starts_with("jp_")
}

/// Splits a presented key into its prefix and the SHA-256 of its secret.
pub fn parse_api_key(token: &str) -> Option<(&str, [u8; 32])> {
    let mut parts = token.splitn(3, '_');
    let (Some(MARK), Some(prefix), Some(secret)) = (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let well_formed = prefix.len() == PREFIX_LEN
        && prefix.bytes().all(|b| BASE32.contains(&b))
        && secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| (prefix, Sha256::digest(secret.as_bytes()).into()))
}

/// Compares a stored and a presented secret hash in constant time.
pub fn secret_matches(stored: &[u8; 32], presented: &[u8; 32]) -> bool {
    stored.ct_eq(presented).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_keys_parse_back_to_their_prefix_and_hash() {
        let key = new_api_key();
        assert!(looks_like_api_key(&key.token));
        let (prefix, hash) = parse_api_key(&key.token).unwrap();
        assert_eq!(prefix, key.prefix);
        assert!(secret_matches(&key.secret_hash, &hash));
        assert_ne!(new_api_key().prefix, key.prefix);
    }

    #[test]
    fn wrong_secrets_and_malformed_keys_do_not_match() {
        let key = new_api_key();
        let mut tampered = key.token.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        let (_, hash) = parse_api_key(&tampered).unwrap();
        assert!(!secret_matches(&key.secret_hash, &hash));
        for bad in [
            "",
            "jp_",
            "jp_short_secret",
            "xx_abcdefghijkl_",
            &key.token[..20],
        ] {
            assert!(parse_api_key(bad).is_none(), "{bad}");
        }
    }
}
