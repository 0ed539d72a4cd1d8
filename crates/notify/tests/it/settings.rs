use notify::{MailError, Mailer, SmtpSecurity, SmtpSettings};
use secrecy::SecretString;

use crate::support::{FROM, PASSWORD};

fn remote_plain() -> SmtpSettings {
    SmtpSettings::new("smtp.example.com", 25, SmtpSecurity::None, FROM)
}

#[test]
fn plain_text_to_a_remote_host_needs_explicit_permission() {
    let error = Mailer::new(remote_plain()).unwrap_err();
    assert!(matches!(error, MailError::Config(_)), "{error:?}");

    let mut allowed = remote_plain();
    allowed.allow_plain = true;
    assert!(Mailer::new(allowed).is_ok());

    for host in ["localhost", "127.0.0.1", "::1"] {
        let local = SmtpSettings::new(host, 25, SmtpSecurity::None, FROM);
        assert!(Mailer::new(local).is_ok(), "{host}");
    }
}

#[test]
fn debug_output_never_shows_the_password() {
    let mut settings = SmtpSettings::new("smtp.example.com", 587, SmtpSecurity::StartTls, FROM);
    settings.username = Some("mailer".to_owned());
    settings.password = Some(SecretString::from(PASSWORD));

    let settings_debug = format!("{settings:?}");
    assert!(settings_debug.contains("mailer"), "{settings_debug}");
    assert!(!settings_debug.contains(PASSWORD), "{settings_debug}");

    let mailer_debug = format!("{:?}", Mailer::new(settings).unwrap());
    assert!(
        mailer_debug.contains("smtp.example.com:587"),
        "{mailer_debug}"
    );
    assert!(!mailer_debug.contains(PASSWORD), "{mailer_debug}");
}

#[test]
fn a_bad_sender_is_an_invalid_address() {
    for from in [
        "",
        "no-at-sign",
        "Evil\r\nBcc: eve@example.com <a@example.com>",
    ] {
        let settings = SmtpSettings::new("localhost", 25, SmtpSecurity::None, from);
        let error = Mailer::new(settings).unwrap_err();
        assert!(
            matches!(error, MailError::InvalidAddress(_)),
            "{from:?}: {error:?}"
        );
    }
}

#[test]
fn incomplete_or_impossible_settings_are_refused() {
    let mut username_only = SmtpSettings::new("localhost", 25, SmtpSecurity::None, FROM);
    username_only.username = Some("mailer".to_owned());
    let mut zero_timeout = SmtpSettings::new("localhost", 25, SmtpSecurity::None, FROM);
    zero_timeout.timeout = std::time::Duration::ZERO;
    let mut bad_hello = SmtpSettings::new("localhost", 25, SmtpSecurity::None, FROM);
    bad_hello.hello_name = Some("two words".to_owned());
    let cases = [
        username_only,
        zero_timeout,
        bad_hello,
        SmtpSettings::new("", 25, SmtpSecurity::Tls, FROM),
        SmtpSettings::new("smtp.example.com", 0, SmtpSecurity::Tls, FROM),
    ];
    for settings in cases {
        let error = Mailer::new(settings.clone()).unwrap_err();
        assert!(
            matches!(error, MailError::Config(_)),
            "{settings:?}: {error:?}"
        );
    }
}
