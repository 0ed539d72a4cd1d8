//! Match alerts: the task that looks, for every resume with an alert, at the postings first
//! seen since its last look, and tells the owner of those that match well enough (a
//! `matches.new` event on the socket, each posting once).
//!
//! The task runs on a schedule on any replica that runs workers, against that replica's own
//! search index. Each look reaches back [`LOOKBACK`] before the previous one, so postings that
//! reached this index late are still found; the store reports each posting once per alert.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use domain::{JobId, ResumeStatus};
use search::index::{
    JobIndex,
    matching::{Profile, Weights},
};
use store::{AlertHit, MatchAlert, Store, StoreError};

use auth::KeyRing;

use crate::resumes;

/// The task kind that evaluates every alert.
pub const EVALUATE_TASK: &str = "matches.alerts";
/// How far before its last look an alert looks again.
pub const LOOKBACK: TimeDelta = TimeDelta::hours(1);
/// Matches one look reports per alert at most, best first.
pub const MAX_HITS: usize = 20;
/// An alert's threshold when its owner names none.
pub const DEFAULT_MIN_SCORE: f32 = 0.4;
/// Alerts read per page.
const PAGE: u32 = 500;

/// What an alert evaluation needs.
#[derive(Clone)]
pub struct AlertContext {
    pub store: Arc<dyn Store>,
    pub index: Arc<JobIndex>,
    /// Opens resume texts (title words are looked for in them); without it, skills alone.
    pub keys: Option<Arc<KeyRing>>,
    pub weights: Weights,
}

impl std::fmt::Debug for AlertContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertContext")
            .field("weights", &self.weights)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("search index: {0}")]
    Index(String),
}

/// What one evaluation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AlertReport {
    /// Alerts looked at.
    pub alerts: u64,
    /// Alerts skipped: their resume is not parsed, or has no skills.
    pub skipped: u64,
    /// Postings reported (new to their alert).
    pub reported: u64,
}

/// Where an alert looks from: the earlier of its last look less [`LOOKBACK`] and never before
/// it was made.
pub fn look_from(alert: &MatchAlert) -> DateTime<Utc> {
    (alert.checked_at - LOOKBACK).max(alert.created_at)
}

/// Evaluates every alert once. Idempotent: what a crashed run reported is not reported again.
pub async fn evaluate(
    context: &AlertContext,
    now: DateTime<Utc>,
) -> Result<AlertReport, AlertError> {
    let mut report = AlertReport::default();
    let mut after = None;
    loop {
        let alerts = context.store.match_alerts(after, PAGE).await?;
        let Some(last) = alerts.last() else {
            break;
        };
        after = Some(last.resume_id);
        for alert in &alerts {
            report.alerts += 1;
            match evaluate_one(context, alert, now).await? {
                Some(reported) => report.reported += reported,
                None => report.skipped += 1,
            }
        }
        if alerts.len() < PAGE as usize {
            break;
        }
    }
    Ok(report)
}

/// One alert; `None` when its resume cannot be matched (yet).
async fn evaluate_one(
    context: &AlertContext,
    alert: &MatchAlert,
    now: DateTime<Utc>,
) -> Result<Option<u64>, AlertError> {
    // Read as its owner: the store's own isolation applies here too.
    let Some(resume) = context.store.resume(alert.user_id, alert.resume_id).await? else {
        return Ok(None);
    };
    if resume.status != ResumeStatus::Parsed || resume.skills.is_empty() {
        return Ok(None);
    }
    let profile = match &context.keys {
        Some(keys) => resumes::profile_of(&resume, keys),
        None => Profile {
            skills: resume.skills.clone(),
            seniority: resume.seniority,
            years_experience: resume.years_experience,
            ..Profile::default()
        },
    };
    let since = look_from(alert);
    let index = Arc::clone(&context.index);
    let weights = context.weights.clone();
    let matches = tokio::task::spawn_blocking(move || {
        index.match_seen_since(&profile, &weights, MAX_HITS, now, Some(since))
    })
    .await
    .map_err(|e| AlertError::Index(e.to_string()))?
    .map_err(|e| AlertError::Index(e.to_string()))?;
    let good: Vec<(JobId, f32)> = matches
        .iter()
        .filter(|m| m.score >= alert.min_score)
        .map(|m| (m.id, m.score))
        .collect();
    let ids: Vec<JobId> = good.iter().map(|(id, _)| *id).collect();
    let jobs = if ids.is_empty() {
        Vec::new()
    } else {
        context.store.jobs_by_ids(&ids).await?
    };
    // Best first; a posting gone from the store meanwhile is left out, and so is one first
    // seen before `since` in the same second (the index keeps whole seconds).
    let hits: Vec<AlertHit> = good
        .iter()
        .filter_map(|(id, score)| {
            let job = jobs
                .iter()
                .find(|job| job.id == *id && job.first_seen_at >= since)?;
            Some(AlertHit {
                job_id: *id,
                score: *score,
                title: job.posting.title.clone(),
                company: job.posting.company.clone(),
            })
        })
        .collect();
    let fresh = context.store.record_alert_hits(alert, &hits, now).await?;
    if !fresh.is_empty() {
        tracing::debug!(resume = %alert.resume_id, reported = fresh.len(), "match alert");
    }
    Ok(Some(fresh.len() as u64))
}
