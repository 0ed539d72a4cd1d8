//! Live per-user events: one follower per process reads the user event log and hands each
//! new entry to the open WebSockets of its user.
//!
//! The follower wakes at once when this process commits an event, and on PostgreSQL when
//! another replica announces one (`NOTIFY`); it also polls every [`POLL`] for announcements
//! lost while a listener reconnected (one indexed query per replica, however many sockets are
//! open; none while no socket is). A socket that cannot keep up is dropped; its
//! client reconnects and replays from the log what it missed.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::Utc;
use domain::UserId;
use store::{Store, UserEvent};
use tokio::{sync::mpsc, task::JoinHandle};

/// How often the follower looks for other replicas' events.
pub const POLL: Duration = Duration::from_millis(250);
/// How far back the follower re-reads, for events that committed after a later one.
const LATE_WINDOW: chrono::TimeDelta = chrono::TimeDelta::seconds(5);
/// Events one socket may have waiting before it counts as stuck.
const QUEUE: usize = 256;
/// Events one read takes at most.
const BATCH: u32 = 1000;

type Subscribers = HashMap<UserId, Vec<(u64, mpsc::Sender<Arc<UserEvent>>)>>;

/// Cheap to clone; the follower runs while any subscription is open.
#[derive(Clone)]
pub struct EventHub {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    subscribers: Mutex<Subscribers>,
    open: AtomicU64,
    next_id: AtomicU64,
    follower: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for EventHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventHub")
            .field("open", &self.open())
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let follower = self
            .follower
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(follower) = follower.take() {
            follower.abort();
        }
    }
}

/// One socket's feed; unsubscribes when dropped.
#[derive(Debug)]
pub struct Subscription {
    pub events: mpsc::Receiver<Arc<UserEvent>>,
    user: UserId,
    id: u64,
    hub: Weak<Inner>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.remove(self.user, self.id);
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Subscribers> {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn remove(&self, user: UserId, id: u64) {
        let mut subscribers = self.lock();
        if let Some(list) = subscribers.get_mut(&user) {
            let before = list.len();
            list.retain(|(sub, _)| *sub != id);
            if list.len() < before {
                self.open.fetch_sub(1, Ordering::Relaxed);
            }
            if list.is_empty() {
                subscribers.remove(&user);
            }
        }
    }

    /// Hands an event to its user's sockets; drops those that are full or gone.
    fn dispatch(&self, event: &Arc<UserEvent>) {
        let mut subscribers = self.lock();
        let Some(list) = subscribers.get_mut(&event.user_id) else {
            return;
        };
        let before = list.len();
        list.retain(|(_, tx)| tx.try_send(event.clone()).is_ok());
        let dropped = before - list.len();
        if dropped > 0 {
            self.open.fetch_sub(dropped as u64, Ordering::Relaxed);
            tracing::debug!(dropped, "slow event sockets dropped");
        }
        if list.is_empty() {
            subscribers.remove(&event.user_id);
        }
    }
}

impl EventHub {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                subscribers: Mutex::new(HashMap::new()),
                open: AtomicU64::new(0),
                next_id: AtomicU64::new(1),
                follower: Mutex::new(None),
            }),
        }
    }

    /// Open subscriptions.
    pub fn open(&self) -> u64 {
        self.inner.open.load(Ordering::Relaxed)
    }

    /// Open subscriptions of one user.
    pub fn open_for(&self, user: UserId) -> usize {
        self.inner.lock().get(&user).map_or(0, Vec::len)
    }

    /// Starts receiving the user's new events (from the moment of the call).
    pub fn subscribe(&self, user: UserId) -> Subscription {
        let (tx, rx) = mpsc::channel(QUEUE);
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner.lock().entry(user).or_default().push((id, tx));
        self.inner.open.fetch_add(1, Ordering::Relaxed);
        self.start_follower();
        Subscription {
            events: rx,
            user,
            id,
            hub: Arc::downgrade(&self.inner),
        }
    }

    fn start_follower(&self) {
        let mut follower = self
            .inner
            .follower
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if follower.as_ref().is_none_or(JoinHandle::is_finished) {
            *follower = Some(tokio::spawn(follow(Arc::downgrade(&self.inner))));
        }
    }

    /// Stops following (at shutdown).
    pub fn stop(&self) {
        if let Some(follower) = self
            .inner
            .follower
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            follower.abort();
        }
    }
}

/// Events delivered lately, to skip the ones the late window reads again.
#[derive(Default)]
struct Delivered {
    order: VecDeque<(i64, chrono::DateTime<Utc>)>,
    seqs: HashSet<i64>,
}

impl Delivered {
    fn first_time(&mut self, event: &UserEvent) -> bool {
        if !self.seqs.insert(event.seq) {
            return false;
        }
        self.order.push_back((event.seq, event.at));
        true
    }

    fn forget_before(&mut self, cutoff: chrono::DateTime<Utc>) {
        while let Some((seq, at)) = self.order.front().copied() {
            if at >= cutoff {
                break;
            }
            self.order.pop_front();
            self.seqs.remove(&seq);
        }
    }
}

async fn follow(hub: Weak<Inner>) {
    let mut appended = store::events::watch_appended();
    let mut announced = match hub.upgrade() {
        Some(inner) => inner.store.user_event_signal(),
        None => return,
    };
    let mut last: Option<i64> = None;
    let mut delivered = Delivered::default();
    loop {
        let Some(inner) = hub.upgrade() else {
            return;
        };
        if inner.open.load(Ordering::Relaxed) == 0 {
            // Nobody listens: stop reading, and start from the end when someone does.
            last = None;
        } else {
            let store = inner.store.clone();
            let start = match last {
                Some(seq) => Some(seq),
                None => match store.last_user_event_seq().await {
                    Ok(seq) => Some(seq),
                    Err(error) => {
                        tracing::warn!(error = %crate::error::ErrorChain(&error), "event log unreadable");
                        None
                    }
                },
            };
            if let Some(after) = start {
                let since = Utc::now() - LATE_WINDOW;
                match store.recent_user_events(after, since, BATCH).await {
                    Ok(events) => {
                        let mut newest = after;
                        for event in events {
                            newest = newest.max(event.seq);
                            if delivered.first_time(&event) {
                                inner.dispatch(&Arc::new(event));
                            }
                        }
                        last = Some(newest);
                        delivered.forget_before(since);
                    }
                    Err(error) => {
                        tracing::warn!(error = %crate::error::ErrorChain(&error), "event log unreadable");
                    }
                }
            }
        }
        drop(inner);
        tokio::select! {
            changed = appended.changed() => {
                if changed.is_err() {
                    tokio::time::sleep(POLL).await;
                }
            }
            changed = announced.changed() => {
                if changed.is_err() {
                    tokio::time::sleep(POLL).await;
                }
            }
            () = tokio::time::sleep(POLL) => {}
        }
    }
}
