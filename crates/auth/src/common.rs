//! The most common passwords, rejected whatever their length.

use std::{collections::HashSet, sync::OnceLock};

static LIST: &str = include_str!("../data/common-passwords.txt");

fn set() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        LIST.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Whether a password is among the 10,000 most common (compared lower-cased).
pub fn is_common_password(password: &str) -> bool {
    set().contains(password.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_loaded_and_matched_case_insensitively() {
        assert_eq!(set().len(), 10_000);
        assert!(is_common_password("password"));
        assert!(is_common_password("PassWord"));
        assert!(is_common_password("123QweAsdZxc"));
        assert!(!is_common_password("correct horse battery staple"));
    }
}
