//! Encryption at rest: AES-256-GCM under a ring of keys.
//!
//! A sealed value is `version (1) | key id length (1) | key id | nonce (12) | ciphertext+tag`.
//! The nonce is random per value; the associated data names the value's place (table, column,
//! row id), so a ciphertext copied to another row or column fails to open. The first key of the
//! ring seals; every key opens, so keys rotate without downtime (the data-protection work adds
//! re-encryption and `jobpilot keys rotate`).

use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{Aead as _, KeyInit as _, Payload},
};
use rand::RngCore as _;
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value needs key {0:?}, which is not in the key ring")]
    UnknownKey(String),
    #[error("the sealed value does not open: wrong place or tampered")]
    Forged,
}

struct Key {
    id: String,
    cipher: Aes256Gcm,
    _material: Zeroizing<Vec<u8>>,
}

/// Where a sealed value lives; bound into its authentication tag.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row: &'a str,
}

impl Place<'_> {
    fn associated_data(&self) -> Vec<u8> {
        format!("jobpilot/{}/{}/{}", self.table, self.column, self.row).into_bytes()
    }
}

pub struct KeyRing {
    keys: Vec<Key>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field(
                "key_ids",
                &self.keys.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl KeyRing {
    /// Builds a ring from (id, 32-byte key) pairs; the first seals. `None` if empty or a key
    /// is not 32 bytes or an id is longer than 32 bytes.
    pub fn new(keys: Vec<(String, Vec<u8>)>) -> Option<Self> {
        let keys: Option<Vec<Key>> = keys
            .into_iter()
            .map(|(id, material)| {
                (material.len() == 32 && !id.is_empty() && id.len() <= 32).then_some(())?;
                let cipher = Aes256Gcm::new_from_slice(&material).ok()?;
                Some(Key {
                    id,
                    cipher,
                    _material: Zeroizing::new(material),
                })
            })
            .collect();
        keys.filter(|k| !k.is_empty()).map(|keys| Self { keys })
    }

    /// A ring with one random key (tests, tools).
    pub fn ephemeral() -> Self {
        let mut material = vec![0u8; 32];
        rand::rng().fill_bytes(&mut material);
        Self::new(vec![("ephemeral".to_owned(), material)])
            .unwrap_or_else(|| Self { keys: Vec::new() })
    }

    pub fn active_key_id(&self) -> &str {
        self.keys.first().map_or("", |k| k.id.as_str())
    }

    /// Whether the ring holds a key with this id.
    pub fn has_key(&self, id: &str) -> bool {
        self.keys.iter().any(|k| k.id == id)
    }

    /// A sealed value's first this many bytes hold its key id (see [`KeyRing::key_id_of`]).
    pub const KEY_ID_PREFIX_LEN: usize = 2 + u8::MAX as usize;

    /// The id of the key a sealed value was sealed with, read from its header.
    pub fn key_id_of(sealed: &[u8]) -> Result<String, SealError> {
        let (&version, rest) = sealed.split_first().ok_or(SealError::Malformed)?;
        let (&id_len, rest) = rest.split_first().ok_or(SealError::Malformed)?;
        if version != VERSION || rest.len() < usize::from(id_len) {
            return Err(SealError::Malformed);
        }
        String::from_utf8(rest[..usize::from(id_len)].to_vec()).map_err(|_| SealError::Malformed)
    }

    /// Encrypts a value for its place.
    pub fn seal(&self, plaintext: &[u8], place: Place<'_>) -> domain::Sealed {
        let Some(key) = self.keys.first() else {
            return domain::Sealed::from_stored(Vec::new());
        };
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = place.associated_data();
        let nonce_array = Nonce::from(nonce);
        let ciphertext = key
            .cipher
            .encrypt(
                &nonce_array,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        let mut out = Vec::with_capacity(2 + key.id.len() + NONCE_LEN + ciphertext.len());
        out.push(VERSION);
        out.push(u8::try_from(key.id.len()).unwrap_or(0));
        out.extend_from_slice(key.id.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        domain::Sealed::from_stored(out)
    }

    /// Decrypts a value sealed for this place.
    pub fn open(&self, sealed: &[u8], place: Place<'_>) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let (&version, rest) = sealed.split_first().ok_or(SealError::Malformed)?;
        let (&id_len, rest) = rest.split_first().ok_or(SealError::Malformed)?;
        if version != VERSION || rest.len() < usize::from(id_len) + NONCE_LEN + 16 {
            return Err(SealError::Malformed);
        }
        let (id, rest) = rest.split_at(usize::from(id_len));
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let key = self
            .keys
            .iter()
            .find(|k| k.id.as_bytes() == id)
            .ok_or_else(|| SealError::UnknownKey(String::from_utf8_lossy(id).into_owned()))?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::Malformed)?;
        let aad = place.associated_data();
        key.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SealError::Forged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(ids: &[(&str, u8)]) -> KeyRing {
        KeyRing::new(
            ids.iter()
                .map(|(id, b)| ((*id).to_owned(), vec![*b; 32]))
                .collect(),
        )
        .unwrap()
    }

    const HERE: Place<'static> = Place {
        table: "users",
        column: "totp_secret",
        row: "row-1",
    };

    #[test]
    fn the_sealing_key_is_named_in_the_header() {
        let sealed = ring(&[("k2", 2), ("k1", 1)]).seal(b"x", HERE);
        assert_eq!(KeyRing::key_id_of(&sealed).unwrap(), "k2");
        assert_eq!(KeyRing::key_id_of(&[1]), Err(SealError::Malformed));
        assert_eq!(KeyRing::key_id_of(&[9, 0]), Err(SealError::Malformed));
        assert!(ring(&[("k1", 1)]).has_key("k1") && !ring(&[("k1", 1)]).has_key("k2"));
    }

    #[test]
    fn seals_and_opens_in_place_only() {
        let ring = ring(&[("k1", 1)]);
        let sealed = ring.seal(b"secret", HERE);
        assert_eq!(sealed[0], VERSION);
        assert_eq!(&ring.open(&sealed, HERE).unwrap()[..], b"secret");
        let elsewhere = Place {
            row: "row-2",
            ..HERE
        };
        assert_eq!(ring.open(&sealed, elsewhere), Err(SealError::Forged));
        let mut tampered = sealed.clone().into_bytes();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(ring.open(&tampered, HERE), Err(SealError::Forged));
        assert_ne!(ring.seal(b"secret", HERE), sealed, "nonces repeat");
    }

    #[test]
    fn rotated_rings_open_old_values_and_missing_keys_fail_loudly() {
        let old = ring(&[("k1", 1)]);
        let sealed = old.seal(b"secret", HERE);
        let rotated = ring(&[("k2", 2), ("k1", 1)]);
        assert_eq!(&rotated.open(&sealed, HERE).unwrap()[..], b"secret");
        assert_eq!(rotated.active_key_id(), "k2");
        let without_k1 = ring(&[("k2", 2)]);
        let error = without_k1.open(&sealed, HERE).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the sealed value needs key \"k1\", which is not in the key ring"
        );
        assert_eq!(old.open(&[], HERE), Err(SealError::Malformed));
        assert_eq!(old.open(&[9, 0, 0], HERE), Err(SealError::Malformed));
    }
}
