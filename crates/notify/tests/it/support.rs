use std::time::Duration;

use notify::{Outgoing, SmtpSecurity, SmtpSettings};
use test_support::smtp::SmtpSink;

pub const FROM: &str = "Jobpilot <noreply@jobpilot.test>";
pub const PASSWORD: &str = "s3cret-Pa55word";

/// Plain text to the sink, no login, a timeout short enough that a hung test shows quickly.
pub fn settings_for(sink: &SmtpSink) -> SmtpSettings {
    let mut settings = SmtpSettings::new("127.0.0.1", sink.port(), SmtpSecurity::None, FROM);
    settings.timeout = Duration::from_secs(5);
    settings
}

pub fn outgoing(message_id: &str) -> Outgoing {
    Outgoing {
        to: "Ann Applicant <ann@example.com>".to_owned(),
        reply_to: None,
        subject: "Your application to Rust Engineer".to_owned(),
        text: "Hello Ann,\n\nyour application was sent.\n".to_owned(),
        message_id: message_id.to_owned(),
        attachments: Vec::new(),
    }
}
