//! A task's progress pushed live, as Server-Sent Events.
//!
//! A stream wakes when the task queue announces a change of its task (this process's workers and
//! operator actions at once; other PostgreSQL replicas over `NOTIFY`, for tasks started on a
//! user's behalf), and otherwise reads the task every [`POLL`] for changes nobody announced: a
//! few reads per minute per open stream, however busy the queue is.
//!
//! A stream is authorised once, when it opens: it shows only the caller's own task (or, to an
//! administrator, any), and ends within [`MAX_DURATION`]; a session revoked meanwhile stops at
//! the reconnect.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use axum::{
    extract::State,
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use domain::Permission;
use tasks::{Task, TaskId, TaskState, TaskWatch};
use tokio::time::Instant;
use uuid::Uuid;

use crate::{
    authn::Authenticated,
    error::{ApiError, ApiResult, ErrorChain, ErrorResponse},
    extract::UuidPath,
    routes::tasks::{TaskView, visible_task},
    state::AppState,
};

/// A comment line this often keeps idle connections (and the proxies on their way) open.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// How often a stream reads its task for changes no notification told of.
pub const POLL: Duration = Duration::from_secs(2);
/// A stream ends after this long, final state or not; the client reconnects.
pub const MAX_DURATION: Duration = Duration::from_secs(600);
/// How long EventSource waits before it reconnects.
const RECONNECT: Duration = Duration::from_secs(3);
/// Open streams one user may hold; each costs a connection and a slow poll.
pub const MAX_STREAMS_PER_USER: usize = 8;
/// Open streams one process holds at most.
pub const MAX_STREAMS: usize = 2048;

/// What the event streams share: the queue's change announcements and the open-stream counts.
#[derive(Debug, Clone)]
pub(crate) struct TaskEvents {
    changes: tasks::Changes,
    limits: StreamLimits,
}

impl TaskEvents {
    pub(crate) fn new(db: tasks::TaskDb) -> Self {
        Self {
            changes: tasks::Changes::new(db),
            limits: StreamLimits::new(MAX_STREAMS_PER_USER, MAX_STREAMS),
        }
    }

    /// Stops listening for other replicas' announcements, returning the connection to the pool.
    pub(crate) async fn stop(&self) {
        self.changes.stop().await;
    }
}

/// Counts open streams, per user and in all.
#[derive(Debug, Clone)]
struct StreamLimits {
    per_user: usize,
    total: usize,
    open: Arc<Mutex<OpenStreams>>,
}

#[derive(Debug, Default)]
struct OpenStreams {
    total: usize,
    by_user: HashMap<Uuid, usize>,
}

/// One open stream, counted until it is dropped (the stream ended or the client went away).
struct Slot {
    open: Arc<Mutex<OpenStreams>>,
    user: Uuid,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.by_user.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.by_user.remove(&self.user);
            }
        }
    }
}

impl StreamLimits {
    fn new(per_user: usize, total: usize) -> Self {
        Self {
            per_user,
            total,
            open: Arc::default(),
        }
    }

    fn open(&self, user: Uuid) -> ApiResult<Slot> {
        let retry_after = || HeaderValue::from_static("10");
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.by_user.get(&user).copied().unwrap_or(0) >= self.per_user {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_streams",
                format!("at most {} task streams may be open at once", self.per_user),
            )
            .with_header(header::RETRY_AFTER, retry_after()));
        }
        if open.total >= self.total {
            return Err(
                ApiError::unavailable("too many task streams are open; try again shortly")
                    .with_header(header::RETRY_AFTER, retry_after()),
            );
        }
        open.total += 1;
        *open.by_user.entry(user).or_default() += 1;
        Ok(Slot {
            open: self.open.clone(),
            user,
        })
    }
}

/// One event of a task's stream, as its Server-Sent Events fields.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // documents the wire format; the events are written by `event`
pub struct TaskEvent {
    /// Always `task`.
    #[schema(pattern = "^task$")]
    pub event: String,
    /// `<attempt>:<state>`, e.g. `1:executing`; `Last-Event-ID` on a reconnect.
    pub id: String,
    /// The task as JSON: a `TaskView`, as `GET /api/v1/tasks/{id}` answers.
    #[schema(content_media_type = "application/json")]
    pub data: String,
    /// Milliseconds `EventSource` waits before it reconnects; on the first event only.
    pub retry: Option<u64>,
}

/// Follows a task live (Server-Sent Events), for its owner or an administrator.
///
/// The response is `text/event-stream`, readable with the browser's `EventSource` (which sends
/// the session cookie) or any SSE client (with a bearer token or API key). It sends an event
/// `task` whose data is the task (the `TaskView` of `GET /api/v1/tasks/{id}`) at once, then again
/// each time the task's state or attempt changes, usually within a moment of the change (at the
/// latest within 2 s). Each event's id is `<attempt>:<state>`. After a final state (`completed`,
/// `discarded` or `cancelled`) the server closes the stream: close the `EventSource` when one
/// arrives. A reconnect whose `Last-Event-ID` already names the final state is answered
/// `204 No Content`, which makes `EventSource` stop. A comment line (`: heartbeat`) comes every
/// 15 s, and a stream ends after 10 minutes whatever the state: the client reconnects and gets
/// the current state at once. Errors before the stream starts have the usual error shape.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{id}/events",
    tag = "tasks",
    security(("bearer" = []), ("api_key" = [])),
    params(
        ("id" = Uuid, Path, description = "The task's id"),
        ("Last-Event-ID" = Option<String>, Header,
         description = "The id of the last event received, sent by EventSource when it reconnects"),
    ),
    responses(
        (status = 200, content_type = "text/event-stream", body = TaskEvent,
         description = "A stream of `task` events, each with the task as JSON data:\n\n\
                        ```\nevent: task\nid: 1:executing\ndata: {\"id\":\"…\",\"state\":\"executing\",…}\n```\n\n\
                        then one per change of state or attempt, until a final state, with a \
                        `: heartbeat` comment every 15 s and at most 10 minutes in all."),
        (status = 204, description = "The client already has the task's final state (its \
                                      `Last-Event-ID`): nothing more will come"),
        (status = 404, description = "No such task of yours", body = ErrorResponse),
        (status = 429, description = "Too many task streams open for this user, or too many \
                                      requests from this address; see `Retry-After`",
         body = ErrorResponse),
    )
)]
pub async fn task_events(
    State(state): State<AppState>,
    caller: Authenticated,
    UuidPath(id): UuidPath,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller.require(Permission::ReadOwnAccount)?;
    let id = TaskId(id);
    let events = state.task_events().clone();
    // Watch first: a change between the read below and the watch would otherwise be missed.
    let watch = events.changes.watch(id);
    let task = visible_task(&state, &caller, id).await?;
    let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    if task.state.is_final() && last_event_id == Some(event_id(&task).as_str()) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let slot = events.limits.open(caller.user_id.as_uuid())?;
    let follow = Follow {
        state,
        watch,
        next: Some(task),
        last: None,
        deadline: Instant::now() + MAX_DURATION,
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(follow, next_event);
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat"))
        .into_response();
    // Proxies that buffer responses (nginx) would hold the events back.
    response.headers_mut().insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    Ok(response)
}

/// A stream's state between events.
struct Follow {
    state: AppState,
    watch: TaskWatch,
    /// The task as read, to send next.
    next: Option<Task>,
    /// The state and attempt last sent; `None` before the first event.
    last: Option<(TaskState, i32)>,
    deadline: Instant,
    _slot: Slot,
}

fn event_id(task: &Task) -> String {
    format!("{}:{}", task.attempt, task.state)
}

fn event(task: Task, first: bool) -> Event {
    let mut event = Event::default().event("task").id(event_id(&task));
    if first {
        event = event.retry(RECONNECT);
    }
    let view = TaskView::from(task);
    match event.json_data(&view) {
        Ok(event) => event,
        Err(error) => {
            tracing::error!(%error, task = %view.id, "a task event could not be encoded");
            Event::default().comment("an event could not be encoded")
        }
    }
}

/// The next event, or `None` when the stream ends: after a final state, at the deadline, when
/// the server shuts down (so the client reconnects to a replica that stays), or when the task
/// can no longer be read.
async fn next_event(mut follow: Follow) -> Option<(Result<Event, Infallible>, Follow)> {
    loop {
        if let Some(task) = follow.next.take() {
            let first = follow.last.is_none();
            follow.last = Some((task.state, task.attempt));
            return Some((Ok(event(task, first)), follow));
        }
        if follow.last.is_some_and(|(state, _)| state.is_final()) {
            return None;
        }
        tokio::select! {
            () = follow.watch.changed() => {}
            () = tokio::time::sleep(POLL) => {}
            () = tokio::time::sleep_until(follow.deadline) => return None,
        }
        if follow.state.is_shutting_down() {
            return None;
        }
        match tasks::admin::get(follow.state.tasks(), follow.watch.id()).await {
            Ok(task) => {
                if follow.last != Some((task.state, task.attempt)) {
                    follow.next = Some(task);
                }
            }
            // Pruned meanwhile; a reconnect gets the 404.
            Err(tasks::Error::NotFound(_)) => return None,
            Err(error) => {
                // The client reconnects, and gets a proper error response if it persists.
                tracing::warn!(task = %follow.watch.id(), error = %ErrorChain(&error), "a task stream could not read its task");
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn open_streams_are_limited_per_user_and_in_all_and_released_when_dropped() {
        let limits = StreamLimits::new(2, 3);
        let (alice, bob, carol) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let alices = [limits.open(alice).unwrap(), limits.open(alice).unwrap()];
        let refused = limits.open(alice).err().unwrap();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.code, "too_many_streams");
        assert!(
            refused
                .headers
                .iter()
                .any(|(name, _)| name == header::RETRY_AFTER)
        );
        let bobs = limits.open(bob).unwrap();
        let full = limits.open(carol).err().unwrap();
        assert_eq!(full.status, StatusCode::SERVICE_UNAVAILABLE);

        drop(alices);
        drop(bobs);
        let open = limits.open.lock().unwrap();
        assert_eq!(open.total, 0);
        assert!(open.by_user.is_empty());
    }
}
