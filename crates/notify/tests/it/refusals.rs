use std::time::{Duration, Instant};

use notify::{Attachment, MAX_MESSAGE_BYTES, MailError, Mailer, SmtpSecurity};
use test_support::smtp::{Behaviour, SmtpSink};

use crate::support::{outgoing, settings_for};

#[tokio::test]
async fn a_recipient_refused_at_rcpt_is_rejected_with_the_servers_reason() {
    let sink = SmtpSink::start(Behaviour::RejectRcpt("550 5.1.1 no such user here".into())).await;
    let error = Mailer::new(settings_for(&sink))
        .unwrap()
        .send(&outgoing("<a@b>"))
        .await
        .unwrap_err();

    let MailError::Rejected { code, reason } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*code, 550);
    assert!(reason.contains("5.1.1 no such user here"), "{reason}");
    assert!(!error.is_retryable());
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_message_refused_after_data_is_rejected_with_the_servers_reason() {
    let sink = SmtpSink::start(Behaviour::RejectData("554 5.7.1 looks like spam".into())).await;
    let error = Mailer::new(settings_for(&sink))
        .unwrap()
        .send(&outgoing("<a@b>"))
        .await
        .unwrap_err();

    let MailError::Rejected { code, reason } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*code, 554);
    assert!(reason.contains("5.7.1 looks like spam"), "{reason}");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_421_greeting_is_temporary() {
    let sink = SmtpSink::start(Behaviour::RefuseConnection(
        "421 4.3.2 shutting down".into(),
    ))
    .await;
    let error = Mailer::new(settings_for(&sink))
        .unwrap()
        .send(&outgoing("<a@b>"))
        .await
        .unwrap_err();

    let MailError::Temporary { code, reason } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*code, 421);
    assert!(reason.contains("shutting down"), "{reason}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_long_server_reason_is_clipped() {
    let sink = SmtpSink::start(Behaviour::RejectRcpt(format!("550 {}", "x".repeat(900)))).await;
    let error = Mailer::new(settings_for(&sink))
        .unwrap()
        .send(&outgoing("<a@b>"))
        .await
        .unwrap_err();

    let MailError::Rejected { reason, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(reason.starts_with("xxx"), "{reason}");
    assert!(
        reason.chars().count() <= 301,
        "{} chars",
        reason.chars().count()
    );
}

#[tokio::test]
async fn a_server_that_never_greets_is_unavailable_after_the_timeout() {
    let sink = SmtpSink::start(Behaviour::Hang).await;
    let mut settings = settings_for(&sink);
    settings.timeout = Duration::from_millis(500);
    let mailer = Mailer::new(settings).unwrap();

    let started = Instant::now();
    let error = mailer.send(&outgoing("<a@b>")).await.unwrap_err();
    let waited = started.elapsed();

    assert!(matches!(error, MailError::Unavailable(_)), "{error:?}");
    assert!(error.is_retryable());
    assert!(
        waited >= Duration::from_millis(450),
        "gave up after {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "gave up after {waited:?}");
    assert_eq!(sink.connections(), 1);
}

#[tokio::test]
async fn a_closed_port_is_unavailable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let sink_like =
        notify::SmtpSettings::new("127.0.0.1", port, SmtpSecurity::None, crate::support::FROM);

    let error = Mailer::new(sink_like)
        .unwrap()
        .send(&outgoing("<a@b>"))
        .await
        .unwrap_err();

    assert!(matches!(error, MailError::Unavailable(_)), "{error:?}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn line_breaks_in_the_subject_or_recipient_are_refused_before_connecting() {
    let sink = SmtpSink::start(Behaviour::AcceptAll).await;
    let mailer = Mailer::new(settings_for(&sink)).unwrap();

    let mut subject = outgoing("<a@b>");
    subject.subject = "Hello\r\nBcc: eve@example.com".to_owned();
    let mut lone_lf = outgoing("<a@b>");
    lone_lf.subject = "Hello\nBcc: eve@example.com".to_owned();
    let mut to = outgoing("<a@b>");
    to.to = "ann@example.com\r\nBcc: eve@example.com".to_owned();
    let mut reply_to = outgoing("<a@b>");
    reply_to.reply_to = Some("Eve\r\nBcc: eve@example.com <eve@example.com>".to_owned());
    let mut message_id = outgoing("<a@b>\r\nBcc: eve@example.com");
    message_id.message_id = "<a@b>\r\nBcc: eve@example.com".to_owned();

    for mail in [subject, lone_lf, to, reply_to, message_id] {
        let error = mailer.send(&mail).await.unwrap_err();
        assert!(matches!(error, MailError::InvalidAddress(_)), "{error:?}");
        assert!(!error.is_retryable());
    }
    assert!(sink.messages().is_empty());
    assert_eq!(sink.connections(), 0);
}

#[tokio::test]
async fn a_malformed_recipient_or_content_type_is_refused_before_connecting() {
    let sink = SmtpSink::start(Behaviour::AcceptAll).await;
    let mailer = Mailer::new(settings_for(&sink)).unwrap();

    let mut to = outgoing("<a@b>");
    to.to = "not an address".to_owned();
    let mut content_type = outgoing("<a@b>");
    content_type.attachments.push(Attachment {
        file_name: "cv.pdf".to_owned(),
        content_type: "pdf please".to_owned(),
        bytes: vec![1, 2, 3],
    });

    for mail in [to, content_type] {
        let error = mailer.send(&mail).await.unwrap_err();
        assert!(matches!(error, MailError::InvalidAddress(_)), "{error:?}");
    }
    assert_eq!(sink.connections(), 0);
}

#[tokio::test]
async fn an_oversized_mail_is_refused_before_connecting() {
    let sink = SmtpSink::start(Behaviour::AcceptAll).await;
    let mailer = Mailer::new(settings_for(&sink)).unwrap();
    let mut mail = outgoing("<big@jobpilot>");
    // Under the limit raw, over it once base64 adds a third.
    mail.attachments.push(Attachment {
        file_name: "big.bin".to_owned(),
        content_type: "application/octet-stream".to_owned(),
        bytes: vec![0xA5; MAX_MESSAGE_BYTES - 1024 * 1024],
    });

    let error = mailer.send(&mail).await.unwrap_err();

    let MailError::TooLarge { size, limit } = error else {
        panic!("{error:?}")
    };
    assert_eq!(limit, MAX_MESSAGE_BYTES);
    assert!(size > MAX_MESSAGE_BYTES);
    assert_eq!(sink.connections(), 0);
}

#[tokio::test]
async fn required_starttls_against_a_server_without_it_is_a_settings_error() {
    let sink = SmtpSink::start(Behaviour::AcceptAll).await;
    let mut settings = settings_for(&sink);
    settings.security = SmtpSecurity::StartTls;

    let error = Mailer::new(settings)
        .unwrap()
        .send(&outgoing("<a@b>"))
        .await
        .unwrap_err();

    assert!(matches!(error, MailError::Config(_)), "{error:?}");
    assert!(!error.is_retryable());
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn implicit_tls_against_a_plain_server_is_unavailable() {
    let sink = SmtpSink::start(Behaviour::AcceptAll).await;
    let mut settings = settings_for(&sink);
    settings.security = SmtpSecurity::Tls;

    let error = Mailer::new(settings)
        .unwrap()
        .send(&outgoing("<a@b>"))
        .await
        .unwrap_err();

    assert!(matches!(error, MailError::Unavailable(_)), "{error:?}");
    assert!(sink.messages().is_empty());
}
