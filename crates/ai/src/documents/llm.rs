//! Documents written by the language model, checked before anyone sees them.

use serde_json::{Value, json};

use super::{
    ApplicationContext, Documents, InterviewQuestion, MAX_COVER_LETTER_CHARS, MAX_CV_SUMMARY_CHARS,
    MAX_QUESTION_CHARS, MAX_QUESTIONS, MAX_TOPIC_CHARS, MAX_WHY_CHARS, MIN_QUESTIONS, prompt,
};
use crate::{LlmClient, LlmError};

const SCHEMA_NAME: &str = "application_documents";

/// The JSON schema the model's answer must follow, in the subset strict structured output
/// accepts (every property required, no additional properties, no length keywords; the
/// lengths are checked here afterwards).
pub fn documents_schema() -> Value {
    let text = |description: &str| json!({"type": "string", "description": description});
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["cover_letter", "cv_summary", "interview_questions"],
        "properties": {
            "cover_letter": text("The cover letter, plain text, paragraphs separated by blank lines."),
            "cv_summary": text("Two to four sentences summarising the applicant for this job."),
            "interview_questions": {
                "type": "array",
                "description": "6 to 10 likely interview questions.",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["question", "topic", "why"],
                    "properties": {
                        "question": text("The question as an interviewer would ask it."),
                        "topic": text("A few words: the skill or theme."),
                        "why": text("Why an interviewer would ask it."),
                    },
                },
            },
        },
    })
}

/// Asks the model for the documents (one call) and checks them: a non-empty letter and
/// summary within their lengths, [`MIN_QUESTIONS`] to [`MAX_QUESTIONS`] complete questions.
/// An answer that fails is a [`LlmError::BadResponse`].
///
/// The model can still be talked into writing something odd by a hostile posting; the
/// prompt makes that unlikely, not impossible, which is why the documents are drafts that
/// the user reviews before sending.
pub async fn llm_documents(
    client: &LlmClient,
    context: &ApplicationContext,
) -> Result<Documents, LlmError> {
    let prompt = prompt::build(context, &prompt::nonce());
    let answer = client
        .complete_json(
            &prompt.system,
            &prompt.user,
            SCHEMA_NAME,
            &documents_schema(),
        )
        .await?;
    let documents: Documents = serde_json::from_value(answer).map_err(|err| {
        LlmError::BadResponse(format!("the documents have the wrong shape: {err}"))
    })?;
    checked(documents)
}

fn checked(documents: Documents) -> Result<Documents, LlmError> {
    let count = documents.interview_questions.len();
    if !(MIN_QUESTIONS..=MAX_QUESTIONS).contains(&count) {
        return Err(LlmError::BadResponse(format!(
            "{count} interview questions; between {MIN_QUESTIONS} and {MAX_QUESTIONS} are \
             expected"
        )));
    }
    let interview_questions = documents
        .interview_questions
        .into_iter()
        .enumerate()
        .map(|(index, q)| {
            let field = |name: &str| format!("interview question {}: {name}", index + 1);
            Ok(InterviewQuestion {
                question: field_text(q.question, &field("question"), MAX_QUESTION_CHARS)?,
                topic: field_text(q.topic, &field("topic"), MAX_TOPIC_CHARS)?,
                why: field_text(q.why, &field("why"), MAX_WHY_CHARS)?,
            })
        })
        .collect::<Result<Vec<_>, LlmError>>()?;
    Ok(Documents {
        cover_letter: field_text(
            documents.cover_letter,
            "cover letter",
            MAX_COVER_LETTER_CHARS,
        )?,
        cv_summary: field_text(documents.cv_summary, "CV summary", MAX_CV_SUMMARY_CHARS)?,
        interview_questions,
    })
}

/// The text trimmed, without control characters other than line breaks and tabs; an error
/// when that leaves nothing or too much.
fn field_text(text: String, name: &str, max_chars: usize) -> Result<String, LlmError> {
    let clean: String = text
        .replace("\r\n", "\n")
        .chars()
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        return Err(LlmError::BadResponse(format!("the {name} is empty")));
    }
    let length = clean.chars().count();
    if length > max_chars {
        return Err(LlmError::BadResponse(format!(
            "the {name} has {length} characters; at most {max_chars} are accepted"
        )));
    }
    Ok(clean.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn questions(count: usize) -> Vec<InterviewQuestion> {
        (0..count)
            .map(|i| InterviewQuestion {
                question: format!("Question {i}?"),
                topic: "Rust".into(),
                why: "Because.".into(),
            })
            .collect()
    }

    fn documents(count: usize) -> Documents {
        Documents {
            cover_letter: "  Dear team,\r\n\r\nHello.\u{0}  ".into(),
            cv_summary: "Engineer.".into(),
            interview_questions: questions(count),
        }
    }

    #[test]
    fn good_documents_are_cleaned() {
        let checked = checked(documents(6)).unwrap();
        assert_eq!(checked.cover_letter, "Dear team,\n\nHello.");
        assert_eq!(checked.interview_questions.len(), 6);
    }

    #[test]
    fn bad_documents_are_refused_with_the_reason() {
        let cases = [
            (documents(2), "2 interview questions"),
            (documents(16), "16 interview questions"),
            (
                Documents {
                    cover_letter: " \n ".into(),
                    ..documents(5)
                },
                "cover letter is empty",
            ),
            (
                Documents {
                    cv_summary: "x".repeat(MAX_CV_SUMMARY_CHARS + 1),
                    ..documents(5)
                },
                "CV summary has",
            ),
            (
                Documents {
                    cover_letter: "é".repeat(MAX_COVER_LETTER_CHARS + 1),
                    ..documents(5)
                },
                "cover letter has",
            ),
        ];
        for (documents, why) in cases {
            let error = checked(documents).unwrap_err();
            assert!(
                matches!(&error, LlmError::BadResponse(m) if m.contains(why)),
                "{why}: {error}"
            );
        }
        let mut blank_topic = documents(5);
        blank_topic.interview_questions[3].topic = " ".into();
        let error = checked(blank_topic).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("interview question 4: topic is empty"),
            "{error}"
        );
    }

    #[test]
    fn the_schema_is_strict_mode_compatible() {
        let schema = documents_schema();
        assert_eq!(schema["additionalProperties"], false);
        let item = &schema["properties"]["interview_questions"]["items"];
        assert_eq!(item["additionalProperties"], false);
        assert_eq!(item["required"], json!(["question", "topic", "why"]));
    }
}
