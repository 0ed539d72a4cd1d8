//! The documents for one application: a cover letter, a CV summary and likely interview
//! questions, written by the language model when one is configured and by a template
//! otherwise, or when the model's answer cannot be used.

mod llm;
mod prompt;
mod template;

use serde::{Deserialize, Serialize};

pub use llm::{documents_schema, llm_documents};
pub use template::template_documents;

use crate::{LlmClient, LlmError};

/// The longest cover letter accepted from the model, in characters.
pub const MAX_COVER_LETTER_CHARS: usize = 6_000;
pub const MAX_CV_SUMMARY_CHARS: usize = 1_500;
pub const MIN_QUESTIONS: usize = 3;
pub const MAX_QUESTIONS: usize = 15;
pub const MAX_QUESTION_CHARS: usize = 500;
pub const MAX_TOPIC_CHARS: usize = 100;
pub const MAX_WHY_CHARS: usize = 600;

/// What the documents are written from. The caller gathers it from the job, the resume and
/// the match; `job_text` and `resume_excerpt` are untrusted text that may try to instruct a
/// model, so they only ever reach one between delimiters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ApplicationContext {
    pub job_title: String,
    pub company: Option<String>,
    pub job_location: Option<String>,
    /// "yes", "no" or "hybrid".
    pub job_remote: Option<String>,
    /// The posting as plain text. Untrusted.
    pub job_text: String,
    pub job_skills: Vec<String>,
    pub applicant_name: Option<String>,
    pub resume_skills: Vec<String>,
    pub years_experience: Option<f32>,
    pub seniority: Option<String>,
    /// Skills the job asks for that the resume has.
    pub matched_skills: Vec<String>,
    /// Skills the job asks for that the resume lacks.
    pub missing_skills: Vec<String>,
    /// The parts of the resume the documents need, already trimmed by the caller. Untrusted.
    pub resume_excerpt: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterviewQuestion {
    pub question: String,
    /// A few words: a skill, "Motivation", "Teamwork".
    pub topic: String,
    /// Why an interviewer would ask it, so the applicant can prepare.
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Documents {
    pub cover_letter: String,
    pub cv_summary: String,
    pub interview_questions: Vec<InterviewQuestion>,
}

/// Who wrote the documents, stored with them and shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Generator {
    Template,
    Llm { model: String },
}

/// The documents, who wrote them, and why the model's were not used when it was configured
/// but the template wrote them.
pub type Generated = (Documents, Generator, Option<LlmError>);

/// Documents for `context`, always: the model's when `client` is set and its answer is
/// usable, otherwise the template's with the model's error alongside.
///
/// This never fails, so it suits an interactive "generate" button. A task that would
/// rather try the model again later after an outage or a rate limit uses
/// [`documents_or_retry`].
pub async fn documents(client: Option<&LlmClient>, context: &ApplicationContext) -> Generated {
    match documents_or_retry(client, context).await {
        Ok(generated) => generated,
        Err(error) => {
            tracing::warn!(%error, "language model unavailable; using the template documents");
            (
                template_documents(context),
                Generator::Template,
                Some(error),
            )
        }
    }
}

/// Like [`documents`], except that a failure that may pass ([`LlmError::is_retryable`]: the
/// server down, slow or rate limiting) is returned as `Err`, for the calling task to retry
/// later; any other failure (a refused key, an unusable answer) still falls back to the
/// template, since trying again would not help.
pub async fn documents_or_retry(
    client: Option<&LlmClient>,
    context: &ApplicationContext,
) -> Result<Generated, LlmError> {
    let Some(client) = client else {
        return Ok((template_documents(context), Generator::Template, None));
    };
    match llm_documents(client, context).await {
        Ok(documents) => Ok((
            documents,
            Generator::Llm {
                model: client.model().to_owned(),
            },
            None,
        )),
        Err(error) if error.is_retryable() => Err(error),
        Err(error) => {
            tracing::warn!(%error, "unusable language model answer; using the template documents");
            Ok((
                template_documents(context),
                Generator::Template,
                Some(error),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn generator_serialises_with_a_kind_tag() {
        assert_eq!(
            serde_json::to_value(Generator::Template).unwrap(),
            json!({"kind": "template"})
        );
        let llm = Generator::Llm {
            model: "gpt-4o-mini".into(),
        };
        assert_eq!(
            serde_json::to_value(&llm).unwrap(),
            json!({"kind": "llm", "model": "gpt-4o-mini"})
        );
        assert_eq!(
            serde_json::from_value::<Generator>(json!({"kind": "llm", "model": "gpt-4o-mini"}))
                .unwrap(),
            llm
        );
    }

    #[tokio::test]
    async fn without_a_client_the_template_writes_them() {
        let context = ApplicationContext {
            job_title: "Data Engineer".into(),
            ..ApplicationContext::default()
        };
        let (documents, generator, reason) = documents(None, &context).await;
        assert_eq!(generator, Generator::Template);
        assert_eq!(reason, None);
        assert_eq!(documents, template_documents(&context));
    }
}
