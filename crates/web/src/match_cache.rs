//! Matches computed for a resume, kept while neither the resume nor the index changes: a
//! seeker paging through or reloading their matches costs one ranking, not one per request.
//! Entries are keyed by the resume's last change and the index's generation, so a stale entry
//! is never found (it is evicted in time, oldest first).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use domain::ResumeId;
use search::index::matching::JobMatch;

/// Entries kept per process.
pub(crate) const CAPACITY: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct MatchKey {
    pub resume: ResumeId,
    /// The resume's last change (a re-parse or an edit of its skills).
    pub resume_changed: DateTime<Utc>,
    /// The index's generation when the matches were ranked.
    pub generation: u64,
    /// The request's preferences and limit, canonical.
    pub request: String,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<MatchKey, Arc<Vec<JobMatch>>>,
    order: VecDeque<MatchKey>,
}

#[derive(Debug)]
pub(crate) struct MatchCache {
    capacity: usize,
    entries: Mutex<Entries>,
}

impl MatchCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn get(&self, key: &MatchKey) -> Option<Arc<Vec<JobMatch>>> {
        let found = self.lock().map.get(key).cloned();
        metrics::counter!(
            "match_cache_lookups_total",
            "outcome" => if found.is_some() { "hit" } else { "miss" }
        )
        .increment(1);
        found
    }

    pub(crate) fn insert(&self, key: MatchKey, matches: Arc<Vec<JobMatch>>) {
        let mut entries = self.lock();
        if entries.map.insert(key.clone(), matches).is_none() {
            entries.order.push_back(key);
        }
        while entries.map.len() > self.capacity {
            let Some(oldest) = entries.order.pop_front() else {
                break;
            };
            entries.map.remove(&oldest);
        }
    }

    /// Drops a resume's entries (it was deleted).
    pub(crate) fn forget(&self, resume: ResumeId) {
        let mut entries = self.lock();
        entries.map.retain(|key, _| key.resume != resume);
        entries.order.retain(|key| key.resume != resume);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn key(resume: ResumeId, generation: u64) -> MatchKey {
        MatchKey {
            resume,
            resume_changed: DateTime::UNIX_EPOCH,
            generation,
            request: "limit=20".to_owned(),
        }
    }

    #[test]
    fn entries_are_found_by_their_exact_key_and_the_oldest_go_first() {
        let cache = MatchCache::new(2);
        let (a, b, c) = (ResumeId::new(), ResumeId::new(), ResumeId::new());
        cache.insert(key(a, 1), Arc::new(Vec::new()));
        assert!(cache.get(&key(a, 1)).is_some());
        // Another index generation, or another change of the resume: not found.
        assert!(cache.get(&key(a, 2)).is_none());
        let mut edited = key(a, 1);
        edited.resume_changed = Utc::now();
        assert!(cache.get(&edited).is_none());

        cache.insert(key(b, 1), Arc::new(Vec::new()));
        cache.insert(key(c, 1), Arc::new(Vec::new()));
        assert!(cache.get(&key(a, 1)).is_none(), "the oldest was evicted");
        assert!(cache.get(&key(b, 1)).is_some() && cache.get(&key(c, 1)).is_some());

        cache.forget(b);
        assert!(cache.get(&key(b, 1)).is_none());
        assert_eq!(cache.lock().order.len(), 1);
    }
}
