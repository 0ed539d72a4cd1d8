//! The per-user event log: what happened to a user's things in the background, kept a few
//! days so a reconnecting browser can replay what it missed. Stores append to it in the same
//! transaction as the change an event reports, so an event exists exactly when its change does.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::UserId;

use crate::StoreResult;

/// Counts the commits of this process that appended events: followers in this process wake on
/// a change at once (another replica's followers find them by polling).
static APPENDED: std::sync::LazyLock<tokio::sync::watch::Sender<u64>> =
    std::sync::LazyLock::new(|| tokio::sync::watch::channel(0).0);

/// Stores call this after committing a transaction that appended events.
pub fn appended() {
    APPENDED.send_modify(|n| *n = n.wrapping_add(1));
}

/// Changes after each commit of this process that appended events.
pub fn watch_appended() -> tokio::sync::watch::Receiver<u64> {
    APPENDED.subscribe()
}

/// One entry of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct UserEvent {
    /// Position in the log of every user, increasing.
    pub seq: i64,
    pub user_id: UserId,
    /// `application.status`, `application.submission`, `application.documents`,
    /// `resume.parsed`, `task.finished` (written by the database when a user's task ends),
    /// `matches.new`.
    pub kind: String,
    pub data: serde_json::Value,
    pub at: DateTime<Utc>,
}

#[async_trait]
pub trait UserEventStore: Send + Sync {
    /// The user's events after `after`, oldest first, at most `limit`.
    async fn user_events_after(
        &self,
        user: UserId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<UserEvent>>;

    /// Every user's events after `after`, and also those written since `since` (a writer may
    /// commit a lower sequence number after a higher one), oldest first, at most `limit`.
    async fn recent_user_events(
        &self,
        after: i64,
        since: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<UserEvent>>;

    /// The newest sequence number (0 with an empty log).
    async fn last_user_event_seq(&self) -> StoreResult<i64>;

    /// Deletes events written before `before`; returns how many.
    async fn prune_user_events(&self, before: DateTime<Utc>) -> StoreResult<u64>;

    /// Changes when events may have been appended: by this process, and on PostgreSQL by any
    /// replica (announced with `NOTIFY`). Spurious changes are allowed; followers still poll
    /// now and then for announcements lost while a listener reconnected.
    fn user_event_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        watch_appended()
    }

    /// Stops listening for other replicas' announcements (before the pool closes).
    async fn stop_user_event_signal(&self) {}
}
