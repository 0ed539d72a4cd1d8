//! Following a task as it changes: for pushing its progress to whoever waits on it (the API's
//! event stream), without every waiter polling the database.
//!
//! - **In process**: this process's workers, its rescuer and the operator actions announce each
//!   change they make to the tasks someone here watches (a map lookup per change; nothing when
//!   nobody watches).
//! - **Across replicas** (PostgreSQL): every state change of a task started on a user's behalf
//!   also sends `NOTIFY` on `jobpilot_task_changes` with the changed ids, in the same statement,
//!   so it is heard only if it commits. A [`Changes`] listens from its first watch on and
//!   announces what it hears here. (System tasks are left out: a notifying commit takes a
//!   cluster-wide lock, and only administrators follow those.)
//! - **Anything else** (a SQLite file changed by another process, a notification lost while the
//!   listener reconnected) is left to the watcher's own slow poll: a wake-up only says "look
//!   again", never what changed, so a missed or duplicate one costs one read at most.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::{sync::watch, task::JoinHandle};

use crate::{db::TaskDb, task::TaskId, worker::error_chain};

/// The channel state changes are announced on across replicas (payload: task ids, separated by
/// commas).
pub(crate) const CHANNEL: &str = "jobpilot_task_changes";

/// The tasks watched in this process, each with a counter bumped on every announced change.
/// Keyed by task id alone: ids are UUIDv7, unique across databases.
static WATCHED: LazyLock<Mutex<HashMap<TaskId, watch::Sender<u64>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn watched() -> MutexGuard<'static, HashMap<TaskId, watch::Sender<u64>>> {
    WATCHED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Tells this process's watchers of these tasks that they changed.
pub(crate) fn announce(ids: impl IntoIterator<Item = TaskId>) {
    let watched = watched();
    if watched.is_empty() {
        return;
    }
    for id in ids {
        if let Some(counter) = watched.get(&id) {
            counter.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

/// Announces the ids a change notification carries; anything unreadable is skipped.
fn announce_payload(payload: &str) {
    announce(payload.split(',').filter_map(|id| id.trim().parse().ok()));
}

/// Hands out [`TaskWatch`]es for one database. Cheap to clone; on PostgreSQL it keeps one pooled
/// connection listening from the first watch until the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Changes {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: TaskDb,
    listener: Mutex<Option<JoinHandle<()>>>,
    /// Set by [`Changes::stop`]: no listener starts again.
    stopped: std::sync::atomic::AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let listener = self
            .listener
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(listener) = listener.take() {
            listener.abort();
        }
    }
}

impl Changes {
    pub fn new(db: TaskDb) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                listener: Mutex::new(None),
                stopped: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// Stops listening for good and hands the listening connection back to the pool. Call it
    /// before closing the pool, which waits for every connection to come back. Watches made
    /// afterwards resolve only for this process's announcements (watchers poll anyway).
    pub async fn stop(&self) {
        self.inner
            .stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let listener = self
            .inner
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(listener) = listener {
            listener.abort();
            let _ = listener.await;
        }
    }

    /// Starts following a task. Take the watch *before* reading the task, so no change can fall
    /// between the read and the watch.
    pub fn watch(&self, id: TaskId) -> TaskWatch {
        if let TaskDb::Postgres(pool) = &self.inner.db {
            let mut listener = self
                .inner
                .listener
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if listener.as_ref().is_none_or(JoinHandle::is_finished)
                && !self.inner.stopped.load(std::sync::atomic::Ordering::SeqCst)
                && let Ok(runtime) = tokio::runtime::Handle::try_current()
            {
                *listener = Some(runtime.spawn(listen(pool.clone())));
            }
        }
        let counter = watched()
            .entry(id)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe();
        TaskWatch { id, counter }
    }
}

/// One waiter's interest in one task; dropping it ends the interest.
#[derive(Debug)]
pub struct TaskWatch {
    id: TaskId,
    counter: watch::Receiver<u64>,
}

impl TaskWatch {
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Resolves once a change of the task was announced since the watch began or since the last
    /// call. It may be one that the caller has already seen, and changes this process was not
    /// told of never resolve it: poll as well, slowly.
    pub async fn changed(&mut self) {
        if self.counter.changed().await.is_err() {
            // The sender lives in the map as long as any watch of the task: unreachable, but
            // never busy-loop on it.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for TaskWatch {
    fn drop(&mut self) {
        let mut watched = watched();
        // Our own receiver still counts: the entry goes with the last watch.
        if watched
            .get(&self.id)
            .is_some_and(|counter| counter.receiver_count() <= 1)
        {
            watched.remove(&self.id);
        }
    }
}

/// Announces here what other replicas (and this one's SQL) notify on [`CHANNEL`].
async fn listen(pool: sqlx::PgPool) {
    const PAUSE: Duration = Duration::from_secs(1);
    let mut listener = loop {
        let connected = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        match connected {
            Ok(listener) => break listener,
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "listening for task changes failed; watchers poll meanwhile");
                tokio::time::sleep(PAUSE).await;
            }
        }
    };
    loop {
        // `recv` reconnects by itself; changes missed meanwhile reach watchers by their polling.
        match listener.recv().await {
            Ok(notification) => announce_payload(notification.payload()),
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "task change notifications interrupted");
                tokio::time::sleep(PAUSE).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn watchers_hear_announcements_of_their_task_only_and_clean_up() {
        let db = TaskDb::Sqlite(sqlx::SqlitePool::connect_lazy("sqlite::memory:").unwrap());
        let changes = Changes::new(db);
        let (mine, other) = (TaskId::new(), TaskId::new());
        let mut first = changes.watch(mine);
        let mut second = changes.watch(mine);
        let quick = Duration::from_millis(50);

        announce([other]);
        assert!(tokio::time::timeout(quick, first.changed()).await.is_err());
        announce_payload(&format!("{other},{mine},not-an-id"));
        tokio::time::timeout(quick, first.changed()).await.unwrap();
        tokio::time::timeout(quick, second.changed()).await.unwrap();
        // Each change is seen once.
        assert!(tokio::time::timeout(quick, first.changed()).await.is_err());

        drop(first);
        assert!(
            watched().contains_key(&mine),
            "the second watch still holds it"
        );
        drop(second);
        assert!(!watched().contains_key(&mine));
    }
}
