//! Storage of uploaded resumes and of what parsing found in them.
//!
//! The file itself lies encrypted in file storage (`file_key`); the extracted text is sealed by
//! the caller with the key ring before it reaches the store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{ResumeId, ResumeKind, ResumeStatus, Seniority, UserId};

use crate::{StoreError, StoreResult};

/// A resume as uploaded, before parsing.
#[derive(Debug, Clone)]
pub struct NewResume {
    pub id: ResumeId,
    pub user_id: UserId,
    pub file_name: String,
    pub kind: ResumeKind,
    pub size_bytes: i64,
    pub sha256: [u8; 32],
    /// Where the encrypted file lies in file storage.
    pub file_key: String,
    pub created_at: DateTime<Utc>,
    /// Uploaded in this batch (several files at once), for its progress report.
    pub batch_id: Option<uuid::Uuid>,
}

/// A recruiter a resume is shared with.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumeShare {
    pub recruiter_id: UserId,
    pub recruiter_email: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    pub id: ResumeId,
    pub user_id: UserId,
    pub file_name: String,
    pub kind: ResumeKind,
    pub size_bytes: i64,
    pub sha256: Vec<u8>,
    pub file_key: String,
    pub status: ResumeStatus,
    /// Why parsing failed.
    pub error: Option<String>,
    /// The extracted text, sealed by the caller.
    pub text_sealed: Option<Vec<u8>>,
    pub skills: Vec<String>,
    /// The owner edited the skills: a re-parse leaves them alone.
    pub skills_edited: bool,
    pub years_experience: Option<f32>,
    pub seniority: Option<Seniority>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub parsed_at: Option<DateTime<Utc>>,
}

/// What a successful parse found.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedResume {
    /// The extracted text, sealed by the caller.
    pub text_sealed: domain::Sealed,
    pub skills: Vec<String>,
    pub years_experience: Option<f32>,
    pub seniority: Option<Seniority>,
}

#[async_trait]
pub trait ResumeStore: Send + Sync {
    /// Inserts the resume and enqueues its parse task in one transaction: both or neither.
    /// `Conflict("resumes.id")` if the id is taken.
    async fn create_resume(
        &self,
        resume: &NewResume,
        parse: tasks::NewTask,
    ) -> StoreResult<tasks::TaskId>;

    /// The owner's resume; `None` for another user's.
    async fn resume(&self, user: UserId, id: ResumeId) -> StoreResult<Option<Resume>>;

    /// Any user's resume: for the background parser only.
    async fn resume_unscoped(&self, id: ResumeId) -> StoreResult<Option<Resume>>;

    /// The owner's resumes, newest first.
    async fn resumes(&self, user: UserId) -> StoreResult<Vec<Resume>>;

    /// Records the outcome of parsing. `Ok`: parsed, with its text, experience and seniority,
    /// and its skills unless the owner has edited them (their edits win). `Err(message)`:
    /// failed, with the message. False if the resume no longer exists.
    async fn finish_resume_parse(
        &self,
        id: ResumeId,
        outcome: Result<&ParsedResume, &str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// The owner's edit of the skills list; false if the resume is not theirs or absent.
    async fn set_resume_skills(
        &self,
        user: UserId,
        id: ResumeId,
        skills: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Deletes the owner's resume; returns its file key, so the caller removes the file.
    async fn delete_resume(&self, user: UserId, id: ResumeId) -> StoreResult<Option<String>>;

    /// Shares the owner's resume with a recruiter (again: no change); false if the resume is
    /// not the owner's.
    async fn share_resume(
        &self,
        owner: UserId,
        id: ResumeId,
        recruiter: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Ends a share; false if there was none (or the resume is not the owner's).
    async fn unshare_resume(
        &self,
        owner: UserId,
        id: ResumeId,
        recruiter: UserId,
    ) -> StoreResult<bool>;

    /// Who the owner's resume is shared with, oldest share first; `None` if it is not theirs.
    async fn resume_shares(
        &self,
        owner: UserId,
        id: ResumeId,
    ) -> StoreResult<Option<Vec<ResumeShare>>>;

    /// The resumes a recruiter may rank: their own uploads and those shared with them, newest
    /// first, at most `limit`.
    async fn resumes_for_recruiter(
        &self,
        recruiter: UserId,
        limit: u32,
    ) -> StoreResult<Vec<Resume>>;

    /// One resume shared with this recruiter (not their own); `None` for any other.
    async fn resume_shared_with(
        &self,
        recruiter: UserId,
        id: ResumeId,
    ) -> StoreResult<Option<Resume>>;

    /// The owner's resumes uploaded in one batch, oldest first.
    async fn resumes_in_batch(&self, owner: UserId, batch: uuid::Uuid) -> StoreResult<Vec<Resume>>;

    /// Every user's resume files, as (id, file key), in id order after `after`: for key
    /// rotation, which re-seals the files.
    async fn resume_files(
        &self,
        after: Option<ResumeId>,
        limit: u32,
    ) -> StoreResult<Vec<(ResumeId, String)>>;
}

/// Skills as the JSON array both stores keep.
pub fn encode_skills(skills: &[String]) -> StoreResult<String> {
    serde_json::to_string(skills).map_err(|e| StoreError::Other(Box::new(e)))
}

pub fn decode_skills(text: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("resumes.skills: {e}")))
}

/// Seniority as its snake_case name, the same as in the API.
pub fn encode_seniority(seniority: Seniority) -> StoreResult<String> {
    match serde_json::to_value(seniority) {
        Ok(serde_json::Value::String(name)) => Ok(name),
        Ok(other) => Err(StoreError::Other(
            format!("seniority encoded as {other}").into(),
        )),
        Err(e) => Err(StoreError::Other(Box::new(e))),
    }
}

pub fn decode_seniority(text: &str) -> StoreResult<Seniority> {
    serde_json::from_value(serde_json::Value::from(text))
        .map_err(|e| StoreError::Corrupt(format!("resumes.seniority: {e}")))
}

/// The columns every store keeps for a resume, as read from a row.
#[derive(Debug)]
pub struct ResumeColumns {
    pub id: uuid::Uuid,
    pub user_id: uuid::Uuid,
    pub file_name: String,
    pub kind: String,
    pub size_bytes: i64,
    pub sha256: Vec<u8>,
    pub file_key: String,
    pub status: String,
    pub error: Option<String>,
    pub text_sealed: Option<Vec<u8>>,
    pub skills: String,
    pub skills_edited: bool,
    pub years_experience: Option<f32>,
    pub seniority: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub parsed_at: Option<DateTime<Utc>>,
}

impl ResumeColumns {
    /// Rebuilds the [`Resume`], checking what the database cannot.
    pub fn into_resume(self) -> StoreResult<Resume> {
        Ok(Resume {
            id: ResumeId::from_uuid(self.id),
            user_id: UserId::from_uuid(self.user_id),
            file_name: self.file_name,
            kind: self
                .kind
                .parse()
                .map_err(|e| StoreError::Corrupt(format!("resumes.kind: {e}")))?,
            size_bytes: self.size_bytes,
            sha256: self.sha256,
            file_key: self.file_key,
            status: self
                .status
                .parse()
                .map_err(|e| StoreError::Corrupt(format!("resumes.status: {e}")))?,
            error: self.error,
            text_sealed: self.text_sealed,
            skills: decode_skills(&self.skills)?,
            skills_edited: self.skills_edited,
            years_experience: self.years_experience,
            seniority: self
                .seniority
                .as_deref()
                .map(decode_seniority)
                .transpose()?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            parsed_at: self.parsed_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seniority_and_skills_round_trip_through_their_stored_text() {
        let text = encode_seniority(Seniority::Principal).unwrap();
        assert_eq!(text, "principal");
        assert!(matches!(decode_seniority(&text), Ok(Seniority::Principal)));
        assert!(matches!(
            decode_seniority("boss"),
            Err(StoreError::Corrupt(_))
        ));
        let skills = vec!["Rust".to_owned(), "SQL \"quoted\"".to_owned()];
        let stored = encode_skills(&skills).unwrap();
        assert!(matches!(decode_skills(&stored), Ok(decoded) if decoded == skills));
        assert!(matches!(decode_skills("{}"), Err(StoreError::Corrupt(_))));
    }
}
