//! The language model: an OpenAI-compatible client for chat completions that answer with
//! JSON and for embeddings, and the application documents (cover letter, CV summary,
//! interview questions) written with it, or by a template when there is no model or its
//! answer cannot be used.
//!
//! Every call here is slow and may fail for reasons outside our control, so callers run
//! them in tasks; [`LlmError::is_retryable`] says whether a task should try again later.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod client;
mod documents;
mod error;
mod settings;
mod text;

pub use client::{Backoff, LlmClient, MAX_BODY_BYTES};
pub use documents::{
    ApplicationContext, Documents, Generated, Generator, InterviewQuestion, MAX_COVER_LETTER_CHARS,
    MAX_CV_SUMMARY_CHARS, MAX_QUESTION_CHARS, MAX_QUESTIONS, MAX_TOPIC_CHARS, MAX_WHY_CHARS,
    MIN_QUESTIONS, documents, documents_or_retry, documents_schema, llm_documents,
    template_documents,
};
pub use error::LlmError;
pub use settings::LlmSettings;
