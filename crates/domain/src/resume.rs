//! Uploaded resumes: what kind of file each is and how far its parsing got.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::id::uuid_id;

uuid_id!(
    /// An uploaded resume.
    ResumeId
);

/// The file format a resume was uploaded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResumeKind {
    Pdf,
    Docx,
    Text,
    Markdown,
}

impl ResumeKind {
    pub const ALL: [ResumeKind; 4] = [
        ResumeKind::Pdf,
        ResumeKind::Docx,
        ResumeKind::Text,
        ResumeKind::Markdown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResumeKind::Pdf => "pdf",
            ResumeKind::Docx => "docx",
            ResumeKind::Text => "text",
            ResumeKind::Markdown => "markdown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown resume kind {0:?}: expected pdf, docx, text or markdown")]
pub struct ResumeKindParseError(pub String);

impl FromStr for ResumeKind {
    type Err = ResumeKindParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResumeKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| ResumeKindParseError(s.to_owned()))
    }
}

impl fmt::Display for ResumeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far a resume's parsing got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResumeStatus {
    /// Uploaded; the parse task has not finished yet.
    Pending,
    Parsed,
    /// The parse gave up; the resume's error says why.
    Failed,
}

impl ResumeStatus {
    pub const ALL: [ResumeStatus; 3] = [
        ResumeStatus::Pending,
        ResumeStatus::Parsed,
        ResumeStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResumeStatus::Pending => "pending",
            ResumeStatus::Parsed => "parsed",
            ResumeStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown resume status {0:?}: expected pending, parsed or failed")]
pub struct ResumeStatusParseError(pub String);

impl FromStr for ResumeStatus {
    type Err = ResumeStatusParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResumeStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ResumeStatusParseError(s.to_owned()))
    }
}

impl fmt::Display for ResumeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_statuses_round_trip_through_text_and_json() {
        for kind in ResumeKind::ALL {
            assert_eq!(kind.as_str().parse::<ResumeKind>(), Ok(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::from(kind.as_str())
            );
        }
        for status in ResumeStatus::ALL {
            assert_eq!(status.as_str().parse::<ResumeStatus>(), Ok(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::Value::from(status.as_str())
            );
        }
        assert_eq!(
            "PDF".parse::<ResumeKind>(),
            Err(ResumeKindParseError("PDF".to_owned()))
        );
        assert!("done".parse::<ResumeStatus>().is_err());
    }
}
