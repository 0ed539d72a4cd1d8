//! One outgoing mail and how it becomes a MIME message. Everything a caller hands in is checked
//! here, before any connection is made.

use lettre::Message;
use lettre::address::Envelope;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment as MimeAttachment, Body, Mailbox, MultiPart, SinglePart};

use super::error::MailError;

/// The largest formatted message (headers, text and base64-encoded attachments) we send.
/// Most providers refuse 25 MiB or less; base64 makes attachments a third larger.
pub const MAX_MESSAGE_BYTES: usize = 20 * 1024 * 1024;

/// The longest attachment file name kept, in characters.
const MAX_FILE_NAME_CHARS: usize = 120;

/// A mail to one recipient.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// `Name <addr@example.com>` or `addr@example.com`.
    pub to: String,
    pub reply_to: Option<String>,
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// Chosen by the caller, e.g. `<0190…@jobpilot>`, and kept across retries so a receiver can
    /// tell a resend from a new mail.
    pub message_id: String,
    pub attachments: Vec<Attachment>,
}

#[derive(Clone)]
pub struct Attachment {
    /// Shown to the receiver; path parts and control characters are removed before use.
    pub file_name: String,
    /// A MIME type such as `application/pdf`.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Builds the MIME message, refusing anything that could inject headers or is too large, and
/// formats it once: the envelope and the bytes that go after DATA.
pub(crate) fn build(from: &Mailbox, mail: &Outgoing) -> Result<(Envelope, Vec<u8>), MailError> {
    let raw_size = mail.text.len()
        + mail
            .attachments
            .iter()
            .map(|a| a.bytes.len())
            .sum::<usize>();
    if raw_size > MAX_MESSAGE_BYTES {
        return Err(MailError::TooLarge {
            size: raw_size,
            limit: MAX_MESSAGE_BYTES,
        });
    }

    let to = parse_mailbox("to", &mail.to)?;
    no_line_breaks("subject", &mail.subject)?;
    check_message_id(&mail.message_id)?;

    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.as_str())
        .message_id(Some(mail.message_id.clone()));
    if let Some(reply_to) = &mail.reply_to {
        builder = builder.reply_to(parse_mailbox("reply-to", reply_to)?);
    }

    let text = SinglePart::plain(mail.text.clone());
    let built = if mail.attachments.is_empty() {
        builder.singlepart(text)
    } else {
        let mut parts = MultiPart::mixed().singlepart(text);
        for attachment in &mail.attachments {
            parts = parts.singlepart(attachment_part(attachment)?);
        }
        builder.multipart(parts)
    };
    let message = built.map_err(|e| MailError::invalid(e.to_string()))?;

    let bytes = message.formatted();
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(MailError::TooLarge {
            size: bytes.len(),
            limit: MAX_MESSAGE_BYTES,
        });
    }
    Ok((message.envelope().clone(), bytes))
}

/// Parses `Name <addr>` or `addr`. Line breaks are refused outright rather than trusted to the
/// parser, since a name with CR/LF in it is how a Bcc: header gets smuggled in.
pub(crate) fn parse_mailbox(field: &str, value: &str) -> Result<Mailbox, MailError> {
    no_line_breaks(field, value)?;
    value
        .trim()
        .parse::<Mailbox>()
        .map_err(|e| MailError::invalid(format!("{field} address {value:?}: {e}")))
}

fn no_line_breaks(field: &str, value: &str) -> Result<(), MailError> {
    if value.contains(['\r', '\n']) {
        return Err(MailError::invalid(format!("{field} contains a line break")));
    }
    Ok(())
}

/// `<left@right>`: printable ASCII without spaces, as RFC 5322's msg-id asks.
fn check_message_id(id: &str) -> Result<(), MailError> {
    let inner = id.strip_prefix('<').and_then(|rest| rest.strip_suffix('>'));
    let valid = inner.is_some_and(|inner| {
        inner.len() <= 250
            && inner
                .split_once('@')
                .is_some_and(|(left, right)| !left.is_empty() && !right.is_empty())
            && inner
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>'))
    });
    if valid {
        Ok(())
    } else {
        Err(MailError::invalid(format!(
            "message id {id:?} is not of the form <left@right>"
        )))
    }
}

fn attachment_part(attachment: &Attachment) -> Result<SinglePart, MailError> {
    let content_type = ContentType::parse(&attachment.content_type).map_err(|e| {
        MailError::invalid(format!(
            "attachment content type {:?}: {e}",
            attachment.content_type
        ))
    })?;
    // Base64 always: it is valid for any bytes, and a receiver never sees bare CR/LF from a file.
    let body = Body::new_with_encoding(attachment.bytes.clone(), ContentTransferEncoding::Base64)
        .map_err(|_| MailError::invalid("attachment could not be base64-encoded"))?;
    Ok(MimeAttachment::new(safe_file_name(&attachment.file_name)).body(body, content_type))
}

/// The last path component, without control characters, quotes or backslashes, at most
/// [`MAX_FILE_NAME_CHARS`] long; `attachment` when nothing is left.
pub(crate) fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\\'))
        .take(MAX_FILE_NAME_CHARS)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        "attachment".to_owned()
    } else {
        cleaned.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("C:\\Users\\me\\cv.pdf"), "cv.pdf");
        assert_eq!(safe_file_name("cv\r\nX-Evil: 1.pdf"), "cvX-Evil: 1.pdf");
        assert_eq!(safe_file_name("say \"hi\".txt"), "say hi.txt");
        assert_eq!(safe_file_name(".hidden"), "hidden");
        assert_eq!(safe_file_name("dir/"), "attachment");
        assert_eq!(safe_file_name("Резюме.pdf"), "Резюме.pdf");
        assert_eq!(safe_file_name(&"a".repeat(500)).len(), MAX_FILE_NAME_CHARS);
    }

    #[test]
    fn message_ids_must_be_angle_bracketed_with_an_at() {
        assert!(check_message_id("<0190-abc@jobpilot>").is_ok());
        for bad in [
            "0190@jobpilot",
            "<nobody>",
            "<@x>",
            "<a@>",
            "<a b@x>",
            "<a@x>\r\nBcc: e@x",
            "",
        ] {
            assert!(check_message_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mailboxes_with_line_breaks_are_refused() {
        assert!(parse_mailbox("to", "Ann <ann@example.com>").is_ok());
        assert!(parse_mailbox("to", "ann@example.com").is_ok());
        assert!(matches!(
            parse_mailbox("to", "Ann\r\nBcc: eve@example.com <ann@example.com>"),
            Err(MailError::InvalidAddress(_))
        ));
        assert!(matches!(
            parse_mailbox("to", "not an address"),
            Err(MailError::InvalidAddress(_))
        ));
    }
}
