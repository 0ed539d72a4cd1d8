use std::fmt;

pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 128;

/// A candidate password that meets the length policy (NIST SP 800-63B: length, no composition
/// rules). It never prints itself.
#[derive(Clone)]
pub struct Password(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be at least {PASSWORD_MIN_CHARS} characters long")]
    TooShort,
    #[error("password must be at most {PASSWORD_MAX_CHARS} characters long")]
    TooLong,
}

impl Password {
    pub fn parse(raw: String) -> Result<Self, PasswordError> {
        // Counted in characters, not bytes, so non-Latin passwords are not penalised; the byte
        // length is bounded too (4 bytes a character) which caps hashing work.
        let chars = raw.chars().count();
        if chars < PASSWORD_MIN_CHARS {
            return Err(PasswordError::TooShort);
        }
        if chars > PASSWORD_MAX_CHARS {
            return Err(PasswordError::TooLong);
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforces_length_in_characters() {
        assert_eq!(
            Password::parse("short".into()).unwrap_err(),
            PasswordError::TooShort
        );
        assert!(Password::parse("correct horse battery".into()).is_ok());
        // Twelve Cyrillic letters are 24 bytes but twelve characters.
        assert!(Password::parse("пароль-длинный".into()).is_ok());
        assert_eq!(
            Password::parse("x".repeat(129)).unwrap_err(),
            PasswordError::TooLong
        );
        assert!(Password::parse("x".repeat(128)).is_ok());
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let password = Password::parse("hunter2hunter2".into()).unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }
}
