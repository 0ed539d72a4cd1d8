//! Match alerts: a seeker asks to hear of new postings that match one of their resumes. A
//! periodic task ranks the postings first seen since the alert's last check and records what it
//! found; each posting is reported once per alert, in a `matches.new` user event written in the
//! same transaction as the record, so an alert announced is an alert remembered.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{JobId, ResumeId, UserId};

use crate::StoreResult;

/// One resume's alert.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchAlert {
    pub resume_id: ResumeId,
    pub user_id: UserId,
    /// Matches scoring below this (0 to 1) are not reported.
    pub min_score: f32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Postings first seen before this were looked at already.
    pub checked_at: DateTime<Utc>,
}

/// A posting an evaluation found for an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertHit {
    pub job_id: JobId,
    pub score: f32,
    pub title: String,
    pub company: Option<String>,
}

#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Turns the alert of the owner's resume on, or changes its threshold (keeping what it
    /// reported). `None` if the resume is not theirs.
    async fn set_match_alert(
        &self,
        user: UserId,
        resume: ResumeId,
        min_score: f32,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<MatchAlert>>;

    /// The alert of the owner's resume; `None` if there is none (or the resume is not theirs).
    async fn match_alert(&self, user: UserId, resume: ResumeId) -> StoreResult<Option<MatchAlert>>;

    /// Turns the alert off and forgets what it reported; false if there was none.
    async fn delete_match_alert(&self, user: UserId, resume: ResumeId) -> StoreResult<bool>;

    /// Every user's alerts in resume id order after `after`, at most `limit`: for the task
    /// that evaluates them.
    async fn match_alerts(
        &self,
        after: Option<ResumeId>,
        limit: u32,
    ) -> StoreResult<Vec<MatchAlert>>;

    /// Records an evaluation of `alert` that looked at postings first seen before `checked`:
    /// keeps the hits not reported before, moves the alert's check time on and, when any hit
    /// is new, appends one `matches.new` event for the owner, all in one transaction. Returns
    /// the new hits (none if the alert was turned off meanwhile).
    async fn record_alert_hits(
        &self,
        alert: &MatchAlert,
        hits: &[AlertHit],
        checked: DateTime<Utc>,
    ) -> StoreResult<Vec<AlertHit>>;

    /// Forgets hits recorded before `before` (older than any posting an evaluation looks at
    /// again); returns how many.
    async fn prune_alert_hits(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}

/// The `matches.new` event's data.
pub fn hits_event(resume: ResumeId, hits: &[AlertHit]) -> serde_json::Value {
    serde_json::json!({
        "resume_id": resume,
        "matches": hits
            .iter()
            .map(|hit| serde_json::json!({
                "job_id": hit.job_id,
                "score": hit.score,
                "title": hit.title,
                "company": hit.company,
            }))
            .collect::<Vec<_>>(),
    })
}
