//! `GET /api/v1/ws`: the signed-in user's events, live, over a WebSocket.
//!
//! The socket is authorised when it opens (a bearer token, or the browser's session cookie from
//! an allowed origin, so another site cannot open one with the user's cookie) and again every
//! [`SESSION_CHECK`]: a signed-out or revoked session closes it. A client that passes the last
//! `seq` it saw as `after` first gets what it missed from the log (kept a few days), then live
//! events; one without gets the events that come after it opened (`last_seq` in its hello), and
//! not what the log held before, except possibly events of its last second ([`OPENING_SLACK`]):
//! clients tell events apart by `seq`. Messages are JSON text frames:
//! `{"type":"hello","last_seq":N}` once, then `{"type":"event","seq","kind","at","data"}`.

use std::{collections::HashSet, time::Duration};

use axum::{
    extract::{
        State,
        ws::{
            CloseFrame, Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
        },
    },
    http::{HeaderMap, StatusCode, header},
    response::Response,
};
use domain::{Permission, UserId};
use serde::{Deserialize, Serialize};
use store::UserEvent;
use utoipa::{IntoParams, ToSchema};

use crate::{
    authn::Authenticated,
    error::{ApiError, ApiResult, ErrorResponse},
    extract::ApiQuery,
    state::AppState,
};

/// How often an open socket checks that its session still stands.
pub const SESSION_CHECK: Duration = Duration::from_secs(30);
/// A ping this often keeps proxies from closing idle sockets.
const PING: Duration = Duration::from_secs(25);
/// Events replayed at most on connect; a client further behind reloads its views.
pub const REPLAY_MAX: u32 = 500;
/// Sockets one user may hold.
pub const MAX_PER_USER: usize = 16;
/// How long before a socket opened an event may have been written and still reach it live,
/// though its `seq` is in the hello's `last_seq`: it may have committed after a later one
/// (PostgreSQL hands out `seq` before commit), and the database's clock may differ a little.
pub const OPENING_SLACK: chrono::TimeDelta = chrono::TimeDelta::seconds(1);
/// Largest message a client may send (it has nothing to say; this bounds a hostile one).
const MAX_CLIENT_MESSAGE: usize = 4096;
/// Bytes read from a socket at a time.
const READ_BUFFER: usize = 4096;
/// Unsent bytes a socket may hold before sends fail (a client that stopped reading).
const MAX_WRITE_BUFFER: usize = 1024 * 1024;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WsQuery {
    /// The last `seq` this client saw: what came after it is replayed first.
    pub after: Option<i64>,
}

/// One message on the socket.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SocketMessage {
    /// First: where the log stands.
    Hello { last_seq: i64 },
    /// Something happened to one of the user's things.
    Event {
        seq: i64,
        /// `application.status`, `application.submission`, `application.documents`,
        /// `resume.parsed`, `task.finished` (any task started on the user's behalf ended:
        /// `data` has its `task_id`, `kind`, `queue`, `state` and `attempt`), `matches.new`.
        kind: String,
        at: chrono::DateTime<chrono::Utc>,
        data: serde_json::Value,
    },
}

impl From<&UserEvent> for SocketMessage {
    fn from(event: &UserEvent) -> Self {
        SocketMessage::Event {
            seq: event.seq,
            kind: event.kind.clone(),
            at: event.at,
            data: event.data.clone(),
        }
    }
}

/// Whether a browser's page at `origin` may open a socket with the user's cookie.
fn origin_allowed(state: &AppState, origin: &str) -> bool {
    let settings = state.settings();
    let public = settings.public_url.trim_end_matches('/');
    origin == public || settings.cors_origins.iter().any(|o| o == origin)
}

/// The user's events, live, over a WebSocket (see the module documentation for the messages).
#[utoipa::path(
    get,
    path = "/api/v1/ws",
    tag = "account",
    params(WsQuery),
    security(("bearer" = [])),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "A cookie from a page of another origin, or an API key", body = ErrorResponse),
        (status = 426, description = "Not a WebSocket handshake", body = ErrorResponse),
        (status = 429, description = "Too many open sockets", body = ErrorResponse),
    )
)]
pub async fn events_socket(
    State(state): State<AppState>,
    caller: Authenticated,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<WsQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let session = caller.require_session(Permission::ReadOwnAccount)?;
    let upgrade = upgrade.map_err(|_| {
        ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "websocket_required",
            "open this URL as a WebSocket",
        )
    })?;
    // A cookie travels with any page's request: only our own pages (and allowed origins) may
    // use it. Clients that send a bearer token are not at the mercy of a page.
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok())
        && headers.get(header::AUTHORIZATION).is_none()
        && !origin_allowed(&state, origin)
    {
        return Err(ApiError::forbidden(
            "this origin may not open a socket with the session cookie",
        ));
    }
    let hub = state.events();
    if hub.open_for(caller.user_id) >= MAX_PER_USER {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_sockets",
            format!("at most {MAX_PER_USER} open sockets per user"),
        ));
    }
    let user = caller.user_id;
    let after = query.after;
    Ok(upgrade
        // Clients say nothing and events are small: small buffers keep 10,000 sockets cheap
        // (the defaults take 128 KiB each).
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| async move {
            if let Err(error) = serve(state, socket, user, session, after).await {
                tracing::debug!(%error, "event socket ended");
            }
        }))
}

fn text(message: &SocketMessage) -> Message {
    Message::Text(
        serde_json::to_string(message)
            .unwrap_or_else(|_| "{}".to_owned())
            .into(),
    )
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

async fn serve(
    state: AppState,
    mut socket: WebSocket,
    user: UserId,
    session: domain::SessionId,
    after: Option<i64>,
) -> Result<(), axum::Error> {
    // Subscribe before reading the log, so nothing falls between the replay and the feed.
    let opened_at = chrono::Utc::now();
    let mut subscription = state.events().subscribe(user);
    let store = state.store_arc();
    let last_seq = store.last_user_event_seq().await.unwrap_or(0);
    // The feed re-reads the last seconds of the log (for late commits): what this client had
    // before it came, in the log or by replay, is not sent again.
    let seen = after.unwrap_or(last_seq);
    let before_opening = opened_at - OPENING_SLACK;
    socket
        .send(text(&SocketMessage::Hello { last_seq }))
        .await?;
    let mut replayed = HashSet::new();
    if let Some(after) = after {
        match store.user_events_after(user, after, REPLAY_MAX).await {
            Ok(events) => {
                for event in &events {
                    replayed.insert(event.seq);
                    socket.send(text(&event.into())).await?;
                }
            }
            Err(error) => {
                tracing::warn!(error = %crate::error::ErrorChain(&error), "replay failed");
                close(&mut socket, 1011, "the event log is unavailable; reconnect").await;
                return Ok(());
            }
        }
    }
    let mut ping = tokio::time::interval(PING);
    ping.tick().await;
    let mut check = tokio::time::interval(SESSION_CHECK);
    check.tick().await;
    loop {
        tokio::select! {
            event = subscription.events.recv() => {
                let Some(event) = event else {
                    // Dropped for falling behind: the client reconnects and replays.
                    close(&mut socket, 1013, "too far behind; reconnect with after").await;
                    return Ok(());
                };
                if replayed.remove(&event.seq) || (event.seq <= seen && event.at < before_opening) {
                    continue;
                }
                socket.send(text(&event.as_ref().into())).await?;
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(()),
                // Clients have nothing to say; pongs and stray messages are ignored.
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => socket.send(Message::Ping(Default::default())).await?,
            _ = check.tick() => {
                let open = state
                    .sessions()
                    .open_session_user(&state, session)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|u| u.id == user && u.disabled_at.is_none());
                if !open {
                    close(&mut socket, 4401, "the session has ended; sign in again").await;
                    return Ok(());
                }
            }
        }
    }
}
