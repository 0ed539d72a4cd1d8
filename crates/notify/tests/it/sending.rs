use base64::Engine as _;
use notify::{Attachment, MailError, Mailer};
use secrecy::SecretString;
use test_support::smtp::{Behaviour, SmtpSink};

use crate::support::{PASSWORD, outgoing, settings_for};

/// Bytes that are not text, so only a binary-safe encoding gets them across.
fn pdf_bytes() -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    bytes.extend((0..=255u8).cycle().take(3000));
    bytes
}

/// The body of the MIME part whose headers contain `marker`, up to the next boundary line.
fn part_body<'a>(data: &'a str, marker: &str) -> &'a str {
    let start = data.find(marker).expect("the part's header");
    let body_start = data[start..]
        .find("\r\n\r\n")
        .expect("the part's blank line")
        + start
        + 4;
    let body_end = data[body_start..]
        .find("\r\n--")
        .expect("the closing boundary")
        + body_start;
    &data[body_start..body_end]
}

#[tokio::test]
async fn a_mail_with_a_pdf_attachment_arrives_whole() {
    let sink = SmtpSink::start(Behaviour::AcceptAll).await;
    let mailer = Mailer::new(settings_for(&sink)).unwrap();
    let mut mail = outgoing("<0190-attachment@jobpilot>");
    mail.reply_to = Some("recruiter@example.org".to_owned());
    mail.attachments.push(Attachment {
        file_name: "Ann Applicant CV.pdf".to_owned(),
        content_type: "application/pdf".to_owned(),
        bytes: pdf_bytes(),
    });

    let sent = mailer.send(&mail).await.unwrap();

    assert_eq!(sent.message_id, "<0190-attachment@jobpilot>");
    assert_eq!(sent.response, "250 2.0.0 OK queued as SINK1");
    let received = sink.messages();
    assert_eq!(received.len(), 1);
    let received = &received[0];
    assert_eq!(received.from, "noreply@jobpilot.test");
    assert_eq!(received.to, ["ann@example.com"]);
    assert_eq!(received.authenticated_as, None);
    let data = &received.data;
    assert!(
        data.contains("Message-ID: <0190-attachment@jobpilot>\r\n"),
        "{data}"
    );
    assert!(
        data.contains("Subject: Your application to Rust Engineer\r\n"),
        "{data}"
    );
    assert!(
        data.contains("From: Jobpilot <noreply@jobpilot.test>\r\n"),
        "{data}"
    );
    assert!(
        data.contains("Reply-To: recruiter@example.org\r\n"),
        "{data}"
    );
    assert!(
        data.contains("Hello Ann,\r\n\r\nyour application was sent.\r\n"),
        "{data}"
    );
    assert!(data.contains("Content-Type: multipart/mixed"), "{data}");
    assert!(data.contains("Content-Type: application/pdf\r\n"), "{data}");
    let disposition = "Content-Disposition: attachment; filename=\"Ann Applicant CV.pdf\"";
    assert!(data.contains(disposition), "{data}");
    let encoded: String = part_body(data, disposition).split_whitespace().collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(decoded, pdf_bytes());
}

#[tokio::test]
async fn a_line_starting_with_a_dot_survives_the_transfer() {
    let sink = SmtpSink::start(Behaviour::AcceptAll).await;
    let mailer = Mailer::new(settings_for(&sink)).unwrap();
    let mut mail = outgoing("<dots@jobpilot>");
    mail.text = "Before\n.\n.. two dots\nAfter\n".to_owned();

    mailer.send(&mail).await.unwrap();

    let data = &sink.messages()[0].data;
    assert!(
        data.contains("Before\r\n.\r\n.. two dots\r\nAfter\r\n"),
        "{data}"
    );
}

#[tokio::test]
async fn credentials_are_sent_and_accepted() {
    let sink = SmtpSink::start_with_credentials(Behaviour::AcceptAll, "mailer", PASSWORD).await;
    let mut settings = settings_for(&sink);
    settings.username = Some("mailer".to_owned());
    settings.password = Some(SecretString::from(PASSWORD));

    Mailer::new(settings)
        .unwrap()
        .send(&outgoing("<auth@jobpilot>"))
        .await
        .unwrap();

    let received = sink.messages();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].authenticated_as.as_deref(), Some("mailer"));
}

#[tokio::test]
async fn a_wrong_password_is_a_permanent_rejection_that_does_not_show_the_password() {
    let sink = SmtpSink::start_with_credentials(Behaviour::AcceptAll, "mailer", PASSWORD).await;
    let mut settings = settings_for(&sink);
    settings.username = Some("mailer".to_owned());
    settings.password = Some(SecretString::from("not-the-Pa55word"));

    let error = Mailer::new(settings)
        .unwrap()
        .send(&outgoing("<auth@jobpilot>"))
        .await
        .unwrap_err();

    let MailError::Rejected { code, reason } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*code, 535);
    assert!(
        reason.contains("authentication credentials invalid"),
        "{reason}"
    );
    assert!(!error.is_retryable());
    assert!(!format!("{error} {error:?}").contains("not-the-Pa55word"));
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_greylisted_mail_is_temporary_and_goes_through_on_retry_with_the_same_id() {
    let sink = SmtpSink::start(Behaviour::GreylistFirst(1)).await;
    let mailer = Mailer::new(settings_for(&sink)).unwrap();
    let mail = outgoing("<retry-me@jobpilot>");

    let error = mailer.send(&mail).await.unwrap_err();
    let MailError::Temporary { code, reason } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*code, 451);
    assert!(reason.contains("greylisted"), "{reason}");
    assert!(error.is_retryable());
    assert!(sink.messages().is_empty());

    let sent = mailer.clone().send(&mail).await.unwrap();
    assert_eq!(sent.message_id, "<retry-me@jobpilot>");
    let received = sink.messages();
    assert_eq!(received.len(), 1);
    assert!(
        received[0]
            .data
            .contains("Message-ID: <retry-me@jobpilot>\r\n")
    );
    assert_eq!(sink.connections(), 2);
}
