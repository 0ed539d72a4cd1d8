//! Sealed (encrypted) bytes. The store's encrypted columns and the file storage accept only
//! this type, and only a key ring makes one from plaintext: writing a secret in the clear by
//! mistake does not compile.

/// Bytes sealed by a key ring (version, key id, nonce, ciphertext and tag).
///
/// Plaintext does not pass for it:
///
/// ```compile_fail
/// fn store_secret(_: &domain::Sealed) {}
/// store_secret(&b"JBSWY3DPEHPK3PXP".to_vec());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(Vec<u8>);

impl Sealed {
    /// Wraps what a key ring produced. For the key ring itself, and for bytes read back from
    /// storage as they were written (never for plaintext).
    pub fn from_stored(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl std::ops::Deref for Sealed {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Sealed {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Never the bytes: their length only.
impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}
