use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest address RFC 5321 lets through a mail system, counted in characters (addresses
/// may be internationalised, RFC 6531).
const MAX_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;

/// A normalised e-mail address: trimmed, lower-cased, syntactically plausible.
///
/// Addresses are compared case-insensitively everywhere in jobpilot; storing the normalised form
/// is what makes the unique index on users case-insensitive on every database.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("email is empty")]
    Empty,
    #[error("email is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("email must look like name@example.com")]
    Malformed,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.chars().count() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let normalised = trimmed.to_lowercase();
        let (local, domain) = normalised.rsplit_once('@').ok_or(EmailError::Malformed)?;
        let plausible = !local.is_empty()
            && local.chars().count() <= MAX_LOCAL_LEN
            && !local.contains('@')
            && domain.contains('.')
            && !domain.starts_with(['.', '-'])
            && !domain.ends_with(['.', '-'])
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
            && normalised
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control());
        if !plausible {
            return Err(EmailError::Malformed);
        }
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Addresses are personal data: keep them out of debug logs.
        f.write_str("Email(..)")
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Email::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_whitespace() {
        let email = Email::parse("  Ada.Lovelace@Example.ORG ").unwrap();
        assert_eq!(email.as_str(), "ada.lovelace@example.org");
        assert_eq!(email, Email::parse("ADA.LOVELACE@example.org").unwrap());
    }

    #[test]
    fn rejects_what_cannot_be_an_address() {
        for raw in [
            "",
            "   ",
            "no-at-sign",
            "@example.org",
            "ada@",
            "ada@localhost",
            "ada@.example.org",
            "ada@example..org",
            "ada@exa mple.org",
            "a\u{0}b@example.org",
            "ada@example.org-",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let accented = format!("a@{}.org", "é".repeat(190));
        assert!(Email::parse(&accented).is_ok());
        assert!(Email::parse(&format!("{}@example.org", "é".repeat(64))).is_ok());
    }

    #[test]
    fn rejects_overlong_addresses() {
        let long = format!("{}@example.org", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
        let long_local = format!("{}@example.org", "a".repeat(65));
        assert_eq!(Email::parse(&long_local), Err(EmailError::Malformed));
    }

    #[test]
    fn debug_output_hides_the_address() {
        let email = Email::parse("secret@example.org").unwrap();
        assert!(!format!("{email:?}").contains("secret"));
    }
}
