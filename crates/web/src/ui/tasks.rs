//! The task-queue dashboard: queue lengths by state, the tasks (filtered, newest first) with
//! their last error, one task's full error history and arguments, and the operator's retry,
//! cancel and discard (the admin API's own code, audited the same way).

use std::collections::BTreeMap;

use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tasks::{Task, TaskId, TaskState, admin};
use uuid::Uuid;

use super::{HOME, Layout, Operator, encode, error_page, local_target, message_page, render};
use crate::{
    client::Client,
    routes::tasks::{failure_kind_name, steer_task, task_error},
    state::AppState,
};

/// Tasks per page.
const PAGE_SIZE: i64 = 50;
/// How much of the last error the list shows.
const ERROR_PREVIEW_CHARS: usize = 300;

#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    queue: Option<String>,
    kind: Option<String>,
    state: Option<String>,
    before: Option<String>,
    refresh: Option<String>,
    done: Option<String>,
}

/// The filters as the form shows them (empty: any).
#[derive(Debug, Default)]
struct FilterView {
    queue: String,
    kind: String,
    state: String,
}

struct Cell {
    state: &'static str,
    count: i64,
    href: String,
}

struct QueueRow {
    queue: String,
    cells: Vec<Cell>,
}

/// A task as the pages show it.
struct TaskRow {
    id: Uuid,
    short_id: String,
    kind: String,
    queue: String,
    state: &'static str,
    attempt: i32,
    max_attempts: i32,
    inserted_at: String,
    scheduled_at: String,
    attempted_at: String,
    finished_at: String,
    last_error: String,
    /// What an operator may do with it in its state.
    actions: Vec<&'static str>,
}

struct ErrorRow {
    attempt: i32,
    at: String,
    kind: String,
    message: String,
}

#[derive(Template)]
#[template(path = "ui/tasks.html")]
struct TasksPage {
    layout: Layout,
    notice: Option<String>,
    states: Vec<&'static str>,
    queues: Vec<QueueRow>,
    filter: FilterView,
    tasks: Vec<TaskRow>,
    /// This page's address, to come back to after an action.
    back: String,
    older: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/task.html")]
struct TaskPage {
    layout: Layout,
    notice: Option<String>,
    task: TaskRow,
    /// This page's address, to come back to after an action.
    back: String,
    errors: Vec<ErrorRow>,
    args: String,
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn when_opt(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "—".to_owned(), when)
}

/// The actions the queue allows from a state (see [`tasks::admin`]).
fn actions_for(state: TaskState) -> Vec<&'static str> {
    use TaskState::*;
    match state {
        Scheduled | Retryable => vec!["retry", "cancel", "discard"],
        Available | Executing => vec!["cancel", "discard"],
        Discarded | Cancelled => vec!["retry"],
        Completed => Vec::new(),
    }
}

impl From<&Task> for TaskRow {
    fn from(task: &Task) -> Self {
        let id = task.id.0;
        let last_error = task.errors.last().map_or_else(String::new, |e| {
            let mut preview: String = e.message.chars().take(ERROR_PREVIEW_CHARS).collect();
            if e.message.chars().count() > ERROR_PREVIEW_CHARS {
                preview.push('…');
            }
            preview
        });
        Self {
            id,
            short_id: id.to_string().chars().take(8).collect(),
            kind: task.kind.clone(),
            queue: task.queue.clone(),
            state: task.state.as_str(),
            attempt: task.attempt,
            max_attempts: task.max_attempts,
            inserted_at: when(task.inserted_at),
            scheduled_at: when(task.scheduled_at),
            attempted_at: when_opt(task.attempted_at),
            finished_at: when_opt(task.finished_at),
            last_error,
            actions: actions_for(task.state),
        }
    }
}

/// A filter value from the form: blank is no filter; over 200 characters or with control
/// characters is refused.
fn text_filter(name: &str, value: Option<String>) -> Result<Option<String>, String> {
    match value.map(|v| v.trim().to_owned()) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) if v.chars().count() > 200 || v.chars().any(char::is_control) => {
            Err(format!("{name}: at most 200 printable characters"))
        }
        Some(v) => Ok(Some(v)),
    }
}

/// A link to the list with these filters.
fn list_href(
    queue: Option<&str>,
    kind: Option<&str>,
    state: Option<&str>,
    extra: &[(&str, &str)],
) -> String {
    let mut pairs: Vec<String> = [("queue", queue), ("kind", kind), ("state", state)]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| format!("{name}={}", encode(v))))
        .collect();
    pairs.extend(
        extra
            .iter()
            .map(|(name, value)| format!("{name}={}", encode(value))),
    );
    if pairs.is_empty() {
        HOME.to_owned()
    } else {
        format!("{HOME}?{}", pairs.join("&"))
    }
}

/// What a finished action says on the page it returns to.
fn notice(done: Option<&str>) -> Option<String> {
    match done? {
        "retry" => Some("The task will run again.".to_owned()),
        "cancel" => Some("The task is cancelled.".to_owned()),
        "discard" => Some("The task is discarded.".to_owned()),
        _ => None,
    }
}

/// The dashboard: queue lengths and the filtered list of tasks.
pub(super) async fn list(
    State(state): State<AppState>,
    Operator(operator): Operator,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let mut layout = Layout::signed_in(&state, &operator);
    let Ok(Query(query)) = query else {
        return message_page(
            StatusCode::BAD_REQUEST,
            layout,
            "The filters could not be read.",
            HOME,
        );
    };
    let filters = (|| {
        let queue = text_filter("queue", query.queue.clone())?;
        let kind = text_filter("kind", query.kind.clone())?;
        let task_state = match text_filter("state", query.state.clone())? {
            Some(s) => Some(s.parse::<TaskState>()?),
            None => None,
        };
        let before = match text_filter("before", query.before.clone())? {
            Some(id) => Some(TaskId(
                Uuid::parse_str(&id).map_err(|_| "before: not a task id".to_owned())?,
            )),
            None => None,
        };
        Ok::<_, String>((queue, kind, task_state, before))
    })();
    let (queue, kind, task_state, before) = match filters {
        Ok(filters) => filters,
        Err(problem) => return message_page(StatusCode::BAD_REQUEST, layout, &problem, HOME),
    };
    let refresh = query.refresh.as_deref().and_then(|r| r.parse::<u64>().ok());
    layout.auto_refresh = refresh.map_or(0, |seconds| seconds.clamp(5, 3600));

    let db = state.tasks();
    let counts = match admin::stats(db).await {
        Ok(counts) => counts,
        Err(error) => return error_page(&task_error(error), layout, HOME),
    };
    let filter = admin::ListFilter {
        queue: queue.clone(),
        kind: kind.clone(),
        state: task_state,
        user_id: None,
        before,
    };
    let page = match admin::list(db, &filter, PAGE_SIZE).await {
        Ok(page) => page,
        Err(error) => return error_page(&task_error(error), layout, HOME),
    };

    let mut by_queue: BTreeMap<String, [i64; TaskState::ALL.len()]> = BTreeMap::new();
    for count in counts {
        let row = by_queue.entry(count.queue).or_default();
        if let Some(i) = TaskState::ALL.iter().position(|s| *s == count.state) {
            row[i] += count.count;
        }
    }
    let queues = by_queue
        .into_iter()
        .map(|(name, counts)| QueueRow {
            cells: TaskState::ALL
                .iter()
                .zip(counts)
                .map(|(s, count)| Cell {
                    state: s.as_str(),
                    count,
                    href: list_href(Some(&name), None, Some(s.as_str()), &[]),
                })
                .collect(),
            queue: name,
        })
        .collect();
    let state_str = task_state.map(TaskState::as_str);
    let refresh_pair = refresh.map(|r| r.to_string());
    let refresh_extra: Vec<(&str, &str)> = refresh_pair
        .as_deref()
        .map(|r| vec![("refresh", r)])
        .unwrap_or_default();
    let mut here_extra = refresh_extra.clone();
    let before_str = before.map(|b| b.to_string());
    if let Some(b) = before_str.as_deref() {
        here_extra.push(("before", b));
    }
    let back = list_href(queue.as_deref(), kind.as_deref(), state_str, &here_extra);
    let older = page.next.map(|next| {
        let next = next.to_string();
        let mut extra = refresh_extra.clone();
        extra.push(("before", &next));
        list_href(queue.as_deref(), kind.as_deref(), state_str, &extra)
    });
    render(
        StatusCode::OK,
        &TasksPage {
            layout,
            notice: notice(query.done.as_deref()),
            states: TaskState::ALL.iter().map(|s| s.as_str()).collect(),
            queues,
            filter: FilterView {
                queue: queue.unwrap_or_default(),
                kind: kind.unwrap_or_default(),
                state: state_str.unwrap_or_default().to_owned(),
            },
            tasks: page.tasks.iter().map(TaskRow::from).collect(),
            back,
            older,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct DetailQuery {
    done: Option<String>,
}

/// One task: its facts, every failed attempt and its arguments.
pub(super) async fn detail(
    State(state): State<AppState>,
    Operator(operator): Operator,
    Path(id): Path<String>,
    query: Result<Query<DetailQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let layout = Layout::signed_in(&state, &operator);
    let Ok(id) = Uuid::parse_str(&id) else {
        return message_page(
            StatusCode::NOT_FOUND,
            layout,
            "There is no such task.",
            HOME,
        );
    };
    let task = match admin::get(state.tasks(), TaskId(id)).await {
        Ok(task) => task,
        Err(error) => return error_page(&task_error(error), layout, HOME),
    };
    let errors = task
        .errors
        .iter()
        .map(|e| ErrorRow {
            attempt: e.attempt,
            at: when(e.at),
            kind: failure_kind_name(e.kind),
            message: e.message.clone(),
        })
        .collect();
    let args = serde_json::to_string_pretty(&task.args).unwrap_or_default();
    render(
        StatusCode::OK,
        &TaskPage {
            layout,
            notice: query.ok().and_then(|Query(q)| notice(q.done.as_deref())),
            back: format!("{HOME}/{id}"),
            task: TaskRow::from(&task),
            errors,
            args,
        },
    )
}

#[derive(Debug, Deserialize)]
pub(super) struct ActionForm {
    csrf: String,
    back: Option<String>,
}

/// Retries, cancels or discards a task, then returns to the page the form was on.
pub(super) async fn act(
    State(state): State<AppState>,
    client: Client,
    Operator(operator): Operator,
    Path((id, action)): Path<(String, String)>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let layout = Layout::signed_in(&state, &operator);
    let Ok(Form(form)) = form else {
        return message_page(
            StatusCode::BAD_REQUEST,
            layout,
            "The form could not be read.",
            HOME,
        );
    };
    if !operator.form_is_genuine(&state, &form.csrf) {
        return message_page(
            StatusCode::FORBIDDEN,
            layout,
            "This form did not come from this session's pages. Reload the page and try again.",
            HOME,
        );
    }
    let back = local_target(form.back.as_deref(), HOME);
    let Ok(id) = Uuid::parse_str(&id) else {
        return message_page(
            StatusCode::NOT_FOUND,
            layout,
            "There is no such task.",
            back,
        );
    };
    match steer_task(&state, &client, &operator.caller, TaskId(id), &action).await {
        Ok(_) => {
            let separator = if back.contains('?') { '&' } else { '?' };
            Redirect::to(&format!("{back}{separator}done={}", encode(&action))).into_response()
        }
        Err(error) => error_page(&error, layout, back),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_match_what_the_queue_allows() {
        for state in TaskState::ALL {
            let actions = actions_for(state);
            assert_eq!(
                actions.contains(&"retry"),
                !matches!(
                    state,
                    TaskState::Available | TaskState::Executing | TaskState::Completed
                ),
                "{state}"
            );
            assert_eq!(actions.contains(&"cancel"), !state.is_final(), "{state}");
            assert_eq!(actions.contains(&"discard"), !state.is_final(), "{state}");
        }
    }

    #[test]
    fn filters_refuse_control_characters_and_long_values() {
        assert_eq!(text_filter("queue", Some("  ".into())), Ok(None));
        assert_eq!(
            text_filter("queue", Some(" default ".into())),
            Ok(Some("default".into()))
        );
        assert!(text_filter("kind", Some("a\u{0}b".into())).is_err());
        assert!(text_filter("kind", Some("x".repeat(201))).is_err());
    }

    #[test]
    fn list_links_encode_their_filters() {
        assert_eq!(list_href(None, None, None, &[]), HOME);
        assert_eq!(
            list_href(Some("a&b"), None, Some("discarded"), &[("before", "x y")]),
            "/ui/admin/tasks?queue=a%26b&state=discarded&before=x%20y"
        );
    }
}
