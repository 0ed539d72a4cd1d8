//! Resumes: an upload is sniffed, sealed with the key ring and written to file storage, and a
//! parse task is enqueued with its row in one transaction; the task extracts the text (PDFs in
//! a sandboxed child process), finds skills, years of experience and seniority, and stores the
//! text sealed. Matching, skill gap and salary estimates read the parsed resume.

use std::sync::Arc;

use auth::{KeyRing, Place};
use chrono::Utc;
use domain::{ResumeId, ResumeKind, UserId};
use search::skills::{SkillExtractor, seniority, years_of_experience};
use sha2::Digest as _;
use store::{NewResume, ParsedResume, Resume, Store};

use crate::files::Files;

/// The task kind that extracts a resume's text and skills.
pub const PARSE_TASK: &str = "resumes.parse";
/// The largest resume file accepted.
pub const MAX_RESUME_BYTES: usize = 10 * 1024 * 1024;
/// Files one batch upload may hold.
pub const MAX_BATCH_FILES: usize = 50;
/// The largest batch upload, all files together.
pub const MAX_BATCH_BYTES: usize = 50 * 1024 * 1024;
/// Skills kept per resume.
pub const MAX_SKILLS: usize = 200;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParseArgs {
    pub resume_id: uuid::Uuid,
}

/// Where a resume file is sealed, as (table, column) of its associated data.
pub const FILE_PLACE: (&str, &str) = ("resume_files", "content");

pub fn file_place(id: &str) -> Place<'_> {
    Place {
        table: FILE_PLACE.0,
        column: FILE_PLACE.1,
        row: id,
    }
}

pub fn text_place(id: &str) -> Place<'_> {
    Place {
        table: "resumes",
        column: "text_sealed",
        row: id,
    }
}

fn file_key(user: UserId, id: ResumeId) -> String {
    format!(
        "resumes/{}/{}",
        user.as_uuid().simple(),
        id.as_uuid().simple()
    )
}

pub fn kind_of(kind: ::extract::FileKind) -> ResumeKind {
    match kind {
        ::extract::FileKind::Pdf => ResumeKind::Pdf,
        ::extract::FileKind::Docx => ResumeKind::Docx,
        ::extract::FileKind::Text => ResumeKind::Text,
        ::extract::FileKind::Markdown => ResumeKind::Markdown,
    }
}

/// A file name as shown back to its owner: no path, no control characters, bounded.
pub fn clean_file_name(name: Option<&str>) -> String {
    let base = name
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        "resume".to_owned()
    } else {
        cleaned.to_owned()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Rejected(#[from] ::extract::ExtractError),
    #[error("storing the file failed: {0}")]
    Files(#[source] std::io::Error),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// Stores an upload (sealed) and queues its parsing; the row and the task commit together.
/// The file is written first: a crash before the commit leaves an orphan file, never a row
/// without its file.
pub async fn upload(
    store: &dyn Store,
    files: &Files,
    keys: &KeyRing,
    user: UserId,
    file_name: Option<&str>,
    bytes: Vec<u8>,
    batch_id: Option<uuid::Uuid>,
) -> Result<(Resume, tasks::TaskId), UploadError> {
    let kind = kind_of(::extract::sniff(&bytes, file_name)?);
    let id = ResumeId::new();
    let key = file_key(user, id);
    let row = id.to_string();
    let digest: [u8; 32] = sha2::Sha256::digest(&bytes).into();
    let size = bytes.len() as i64;
    let sealed = keys.seal(&bytes, file_place(&row));
    drop(bytes);
    files.put(&key, sealed).await.map_err(UploadError::Files)?;
    let resume = NewResume {
        id,
        user_id: user,
        file_name: clean_file_name(file_name),
        kind,
        size_bytes: size,
        sha256: digest,
        file_key: key.clone(),
        created_at: Utc::now(),
        batch_id,
    };
    let task = tasks::NewTask::new(
        PARSE_TASK,
        serde_json::to_value(ParseArgs {
            resume_id: id.as_uuid(),
        })
        .unwrap_or_default(),
    )
    .with_user(user.as_uuid())
    .with_unique_key(format!("{PARSE_TASK}:{id}"));
    let task_id = match store.create_resume(&resume, task).await {
        Ok(task_id) => task_id,
        Err(error) => {
            let _ = files.delete(&key).await;
            return Err(error.into());
        }
    };
    let stored = store
        .resume(user, id)
        .await?
        .ok_or_else(|| store::StoreError::Corrupt("a resume vanished after insert".into()))?;
    Ok((stored, task_id))
}

/// Why a parse task did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Worth another attempt (storage or database trouble).
    #[error("{0}")]
    Transient(String),
}

/// Extracts a resume's text and skills. Idempotent: a rerun rewrites the same result. A file
/// that cannot be read is a finished parse with status `failed` and the reason, not an error:
/// retrying would not change the file.
pub async fn parse(
    store: &dyn Store,
    files: &Files,
    keys: &KeyRing,
    sandbox: &::extract::PdfSandbox,
    id: ResumeId,
) -> Result<(), ParseError> {
    let transient = |e: &dyn std::fmt::Display| ParseError::Transient(e.to_string());
    let Some(resume) = store.resume_unscoped(id).await.map_err(|e| transient(&e))? else {
        // Deleted before it was parsed.
        return Ok(());
    };
    let sealed = files
        .get(&resume.file_key)
        .await
        .map_err(|e| transient(&e))?;
    let row = id.to_string();
    let bytes = keys
        .open(&sealed, file_place(&row))
        .map_err(|e| transient(&e))?
        .to_vec();
    let outcome = match ::extract::extract(bytes, Some(&resume.file_name), sandbox).await {
        Ok(extracted) => Ok(analyse(&extracted.text, keys, &row)),
        Err(::extract::ExtractError::Io(e)) => return Err(transient(&e)),
        Err(error) => {
            tracing::info!(resume = %id, code = error.code(), "resume could not be read");
            Err(error.to_string())
        }
    };
    let outcome = match &outcome {
        Ok(parsed) => Ok(parsed),
        Err(message) => Err(message.as_str()),
    };
    store
        .finish_resume_parse(id, outcome, Utc::now())
        .await
        .map_err(|e| transient(&e))?;
    Ok(())
}

/// Skills, experience and seniority of a resume's text; the text sealed for storage.
pub fn analyse(text: &str, keys: &KeyRing, row: &str) -> ParsedResume {
    let mut skills = SkillExtractor::builtin().skill_names(text);
    skills.truncate(MAX_SKILLS);
    ParsedResume {
        text_sealed: keys.seal(text.as_bytes(), text_place(row)),
        skills,
        years_experience: years_of_experience(text),
        seniority: seniority(text),
    }
}

/// A resume's extracted text, opened for its owner.
pub fn text_of(resume: &Resume, keys: &KeyRing) -> Option<String> {
    let sealed = resume.text_sealed.as_ref()?;
    let row = resume.id.to_string();
    match keys.open(sealed, text_place(&row)) {
        Ok(plain) => Some(String::from_utf8_lossy(&plain).into_owned()),
        Err(error) => {
            tracing::error!(resume = %resume.id, %error, "a resume's text cannot be opened");
            None
        }
    }
}

/// What matching knows of a resume's owner from the resume alone (no stated preferences).
pub fn profile_of(resume: &Resume, keys: &KeyRing) -> search::index::matching::Profile {
    search::index::matching::Profile {
        skills: resume.skills.clone(),
        text: text_of(resume, keys).unwrap_or_default(),
        seniority: resume.seniority,
        years_experience: resume.years_experience,
        ..search::index::matching::Profile::default()
    }
}

/// The canonical spelling of skills a user typed; unknown ones are kept as typed (trimmed),
/// duplicates dropped.
pub fn canonical_skills(raw: &[String]) -> Vec<String> {
    let taxonomy = search::skills::Taxonomy::builtin();
    let mut seen = std::collections::HashSet::new();
    raw.iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            taxonomy
                .canonicalize(s)
                .map_or_else(|| s.to_owned(), |skill| skill.name.clone())
        })
        .filter(|s| seen.insert(s.to_lowercase()))
        .collect()
}

/// Deletes a resume and its file.
pub async fn delete(
    store: &dyn Store,
    files: &Files,
    user: UserId,
    id: ResumeId,
) -> Result<bool, store::StoreError> {
    match store.delete_resume(user, id).await? {
        Some(key) => {
            if let Err(error) = files.delete(&key).await {
                tracing::warn!(%error, "a deleted resume's file could not be removed");
            }
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Shared handles the parse task needs.
#[derive(Debug, Clone)]
pub struct ParseContext {
    pub store: Arc<dyn Store>,
    pub files: Files,
    pub keys: Arc<KeyRing>,
    pub sandbox: Arc<::extract::PdfSandbox>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(clean_file_name(Some("C:\\Users\\me\\cv.pdf")), "cv.pdf");
        assert_eq!(clean_file_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_file_name(Some("a\u{0}b\nc.txt")), "abc.txt");
        assert_eq!(clean_file_name(Some("   ")), "resume");
        assert_eq!(clean_file_name(None), "resume");
        assert_eq!(clean_file_name(Some(&"x".repeat(500))).len(), 200);
    }

    #[test]
    fn typed_skills_are_canonicalised_and_deduplicated() {
        let typed = [
            "k8s",
            " Kubernetes ",
            "postgres",
            "",
            "Underwater basket weaving",
        ]
        .map(String::from);
        assert_eq!(
            canonical_skills(&typed),
            ["Kubernetes", "PostgreSQL", "Underwater basket weaving"]
        );
    }
}
