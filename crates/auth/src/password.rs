//! Password hashing with argon2id (m = 19 MiB, t = 2, p = 1, the OWASP baseline).
//!
//! Hashing is deliberately slow and memory-hungry, so it runs on the blocking pool behind a
//! semaphore: a login flood queues here instead of starving the async runtime or allocating
//! 19 MiB per request without bound.

use std::sync::Arc;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
};
use domain::Password;
use tokio::sync::Semaphore;

const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("password hashing was interrupted")]
    Interrupted,
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Mismatch,
    Match,
    /// Correct, but hashed with other parameters: store this new hash.
    MatchNeedsRehash(String),
}

#[derive(Debug, Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    params: Params,
}

impl PasswordHasher {
    /// `concurrency` bounds how many hashes run at once (and so the memory they take).
    pub fn new(concurrency: usize) -> Self {
        Self::with_params(
            concurrency,
            Params::new(MEMORY_KIB, ITERATIONS, LANES, None).unwrap_or_default(),
        )
    }

    fn with_params(concurrency: usize, params: Params) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            params,
        }
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// A hash of a random password, made once at start-up: verifying against it when an account
    /// does not exist makes "no such account" take as long as "wrong password".
    pub fn dummy_hash(&self) -> String {
        let mut random = [0u8; 24];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut random);
        Self::argon2(self.params.clone())
            .hash_password(&random)
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let password = password.expose().to_owned();
        let params = self.params.clone();
        self.run(move || {
            Self::argon2(params)
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|e| HashError::Hash(e.to_string()))
        })
        .await?
    }

    /// Checks a password against a stored PHC string; a malformed stored hash is a mismatch.
    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verification, HashError> {
        let password = password.to_owned();
        let stored = stored.to_owned();
        let params = self.params.clone();
        self.run(move || {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                tracing::warn!("stored password hash is not a valid PHC string");
                return Ok(Verification::Mismatch);
            };
            if Self::argon2(params.clone())
                .verify_password(password.as_bytes(), &parsed)
                .is_err()
            {
                return Ok(Verification::Mismatch);
            }
            let current = Params::try_from(&parsed).ok();
            let same_algorithm = parsed.algorithm.as_str() == Algorithm::Argon2id.as_str();
            let same_params = current.is_some_and(|p| {
                p.m_cost() == params.m_cost()
                    && p.t_cost() == params.t_cost()
                    && p.p_cost() == params.p_cost()
            });
            if same_algorithm && same_params {
                return Ok(Verification::Match);
            }
            Self::argon2(params)
                .hash_password(password.as_bytes())
                .map(|hash| Verification::MatchNeedsRehash(hash.to_string()))
                .map_err(|e| HashError::Hash(e.to_string()))
        })
        .await?
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Interrupted)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| HashError::Interrupted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(raw: &str) -> Password {
        Password::parse(raw.to_owned()).unwrap()
    }

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_that_verify() {
        let hasher = PasswordHasher::new(2);
        let hash = hasher
            .hash(&password("correct horse battery"))
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_eq!(
            hasher.verify("correct horse battery", &hash).await.unwrap(),
            Verification::Match
        );
        assert_eq!(
            hasher.verify("correct horse batterY", &hash).await.unwrap(),
            Verification::Mismatch
        );
    }

    #[tokio::test]
    async fn the_same_password_gets_a_new_salt_each_time() {
        let hasher = PasswordHasher::new(2);
        let a = hasher
            .hash(&password("correct horse battery"))
            .await
            .unwrap();
        let b = hasher
            .hash(&password("correct horse battery"))
            .await
            .unwrap();
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn old_parameters_are_upgraded_on_a_correct_password() {
        let weak = PasswordHasher::with_params(1, Params::new(8 * 1024, 1, 1, None).unwrap());
        let old_hash = weak.hash(&password("correct horse battery")).await.unwrap();
        let hasher = PasswordHasher::new(1);
        match hasher
            .verify("correct horse battery", &old_hash)
            .await
            .unwrap()
        {
            Verification::MatchNeedsRehash(new_hash) => {
                assert!(new_hash.contains("m=19456,t=2,p=1"), "{new_hash}");
            }
            other => panic!("expected a rehash, got {other:?}"),
        }
        assert_eq!(
            hasher.verify("wrong password!!", &old_hash).await.unwrap(),
            Verification::Mismatch
        );
    }

    #[tokio::test]
    async fn a_garbled_stored_hash_is_a_mismatch_not_an_error() {
        let hasher = PasswordHasher::new(1);
        assert_eq!(
            hasher
                .verify("anything at all", "not-a-phc-string")
                .await
                .unwrap(),
            Verification::Mismatch
        );
    }
}
