//! The event WebSocket: a user's application moves, submissions and documents arrive live;
//! a reconnecting client replays what it missed; nobody sees another user's events; cookies
//! from foreign pages, API keys and plain HTTP requests are refused.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, http::HeaderValue};

use crate::{
    harness::{Db, TestApp, assert_error},
    resumes::{INTERNAL_KEY, job, push_jobs},
};

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn ws_url(app: &TestApp, query: &str) -> String {
    format!("{}/api/v1/ws{query}", app.base.replacen("http", "ws", 1))
}

async fn connect(
    app: &TestApp,
    query: &str,
    headers: &[(&'static str, String)],
) -> Result<Socket, tungstenite::Error> {
    let mut request = ws_url(app, query).into_client_request().unwrap();
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(*name, HeaderValue::from_str(value).unwrap());
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

pub(crate) async fn open(app: &TestApp, token: &str, query: &str) -> Socket {
    connect(app, query, &[("authorization", format!("Bearer {token}"))])
        .await
        .unwrap()
}

/// The next JSON message, skipping pings; panics after a few seconds without one.
pub(crate) async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("no message within 10 s")
            .expect("the socket closed")
            .unwrap();
        match message {
            tungstenite::Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) => {}
            other => panic!("unexpected message {other:?}"),
        }
    }
}

/// Nothing arrives for a moment.
pub(crate) async fn quiet(socket: &mut Socket) {
    if let Ok(Some(Ok(tungstenite::Message::Text(text)))) =
        tokio::time::timeout(Duration::from_millis(700), socket.next()).await
    {
        panic!("unexpected event {text}");
    }
}

async fn application(app: &TestApp, token: &str) -> String {
    push_jobs(app, &json!([job("a", "Rust Engineer", &["Rust"], None)])).await;
    let listed: Value = app
        .get_as("/api/v1/jobs?source=jobspy", token)
        .await
        .json()
        .await
        .unwrap();
    let job = listed["items"][0]["id"].as_str().unwrap();
    let created = app
        .send_as(
            Method::POST,
            "/api/v1/applications",
            token,
            Some(&json!({ "job_id": job })),
        )
        .await;
    assert_eq!(created.status(), 201);
    created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn move_to(app: &TestApp, token: &str, id: &str, status: &str) {
    let moved = app
        .send_as(
            Method::PATCH,
            &format!("/api/v1/applications/{id}"),
            token,
            Some(&json!({ "status": status })),
        )
        .await;
    assert_eq!(moved.status(), 200);
}

async fn events_arrive_live_and_replay_after_a_reconnect(db: Db) {
    let Some(app) = TestApp::builder(db)
        .with_workers()
        .env("JOBPILOT_INTERNAL_API_KEY", INTERNAL_KEY)
        .spawn()
        .await
    else {
        return;
    };
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let other = app.user("other@example.org", domain::Role::Seeker).await;
    let token = &seeker.access;
    let id = application(&app, token).await;

    let mut mine = open(&app, token, "").await;
    let mut theirs = open(&app, &other.access, "").await;
    let hello = next(&mut mine).await;
    assert_eq!(hello["type"], "hello");
    assert!(hello["last_seq"].is_i64());
    next(&mut theirs).await;

    move_to(&app, token, &id, "applied").await;
    let event = next(&mut mine).await;
    assert_eq!(event["type"], "event");
    assert_eq!(event["kind"], "application.status");
    assert_eq!(event["data"]["application_id"], id.as_str());
    assert_eq!(event["data"]["from"], "saved");
    assert_eq!(event["data"]["to"], "applied");
    let seen = event["seq"].as_i64().unwrap();
    // Generated documents are announced too.
    let generate = app
        .send_as(
            Method::POST,
            &format!("/api/v1/applications/{id}/documents"),
            token,
            None,
        )
        .await;
    assert_eq!(generate.status(), 202);
    let task_id = generate.json::<Value>().await.unwrap()["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let documents = next(&mut mine).await;
    assert_eq!(documents["kind"], "application.documents");
    assert_eq!(documents["data"]["version"], 1);
    // ...and so is the end of the task that wrote them, whatever its kind.
    let finished = next(&mut mine).await;
    assert_eq!(finished["kind"], "task.finished");
    assert_eq!(finished["data"]["task_id"], task_id.as_str());
    assert_eq!(finished["data"]["kind"], "applications.generate");
    assert_eq!(finished["data"]["state"], "completed");
    // The other user hears nothing of it.
    quiet(&mut theirs).await;

    // Offline, the application moves on; the reconnecting client gets it from the log.
    mine.close(None).await.unwrap();
    move_to(&app, token, &id, "interviewing").await;
    let mut again = open(&app, token, &format!("?after={seen}")).await;
    assert_eq!(next(&mut again).await["type"], "hello");
    let replayed = next(&mut again).await;
    assert_eq!(replayed["kind"], "application.documents");
    let replayed = next(&mut again).await;
    assert_eq!(replayed["kind"], "task.finished");
    let replayed = next(&mut again).await;
    assert_eq!(replayed["data"]["to"], "interviewing");
    // ...and then live ones, each once.
    move_to(&app, token, &id, "offer").await;
    let live = next(&mut again).await;
    assert_eq!(live["data"]["to"], "offer");
    quiet(&mut again).await;
    app.stop().await.unwrap();
}

async fn sockets_need_a_session_and_a_trusted_page(db: Db) {
    let Some(app) = TestApp::builder(db)
        .env("JOBPILOT_PUBLIC_URL", "https://jobs.example.org")
        .spawn()
        .await
    else {
        return;
    };
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let token = &seeker.access;
    // Not a WebSocket handshake: the error shape, not a hang.
    assert_error(
        app.get_as("/api/v1/ws", token).await,
        426,
        "websocket_required",
    )
    .await;
    assert_error(app.get("/api/v1/ws").await, 401, "unauthorized").await;

    let refused = |result: Result<Socket, tungstenite::Error>, status: u16| match result {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), status),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("the socket opened"),
    };
    refused(connect(&app, "", &[]).await, 401);
    refused(
        connect(
            &app,
            "",
            &[("authorization", "Bearer not-a-token".to_owned())],
        )
        .await,
        401,
    );
    // The session cookie works from our own pages only.
    let cookie = format!("jp_access={token}");
    refused(
        connect(
            &app,
            "",
            &[
                ("cookie", cookie.clone()),
                ("origin", "https://evil.example".to_owned()),
            ],
        )
        .await,
        403,
    );
    let mut ours = connect(
        &app,
        "",
        &[
            ("cookie", cookie),
            ("origin", "https://jobs.example.org".to_owned()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(next(&mut ours).await["type"], "hello");
    // API keys are for scripts, not live sessions.
    let key: Value = app
        .send_as(
            Method::POST,
            "/api/v1/me/api-keys",
            token,
            Some(&json!({ "name": "script", "scopes": ["account:read"] })),
        )
        .await
        .json()
        .await
        .unwrap();
    refused(
        connect(
            &app,
            "",
            &[("x-api-key", key["secret"].as_str().unwrap().to_owned())],
        )
        .await,
        403,
    );
    // A bad cursor is a clear error.
    refused(
        connect(
            &app,
            "?after=yesterday",
            &[("authorization", format!("Bearer {token}"))],
        )
        .await,
        422,
    );

    // Clients have nothing to say: a stray message is ignored and the socket stays open.
    let mut socket = open(&app, token, "").await;
    next(&mut socket).await;
    socket
        .send(tungstenite::Message::Text("hello?".into()))
        .await
        .unwrap();
    quiet(&mut socket).await;
    socket
        .send(tungstenite::Message::Ping(Vec::new().into()))
        .await
        .unwrap();
    app.stop().await.unwrap();
}

async fn events_reach_sockets_on_another_replica(db: Db) {
    // Replicas share the token signing key, as a deployment's do.
    let secret = "replicas-share-this-signing-key-0123456789abcdef";
    let Some(first) = TestApp::builder(db)
        .env("JOBPILOT_INTERNAL_API_KEY", INTERNAL_KEY)
        .env("JOBPILOT_JWT_SECRET", secret)
        .spawn()
        .await
    else {
        return;
    };
    let Some(second) = TestApp::builder(db)
        .share_database(&first)
        .env("JOBPILOT_INTERNAL_API_KEY", INTERNAL_KEY)
        .env("JOBPILOT_JWT_SECRET", secret)
        .spawn()
        .await
    else {
        return;
    };
    let seeker = first.user("seeker@example.org", domain::Role::Seeker).await;
    let token = &seeker.access;
    let id = application(&first, token).await;
    // The socket is held by one replica; the move is made through the other.
    let mut socket = open(&first, token, "").await;
    assert_eq!(next(&mut socket).await["type"], "hello");
    move_to(&second, token, &id, "applied").await;
    let event = next(&mut socket).await;
    assert_eq!(event["kind"], "application.status");
    assert_eq!(event["data"]["to"], "applied");
    second.stop().await.unwrap();
    first.stop().await.unwrap();
}

async fn a_new_socket_gets_what_comes_after_it_not_the_logs_last_seconds(db: Db) {
    let Some(app) = TestApp::builder(db)
        .env("JOBPILOT_INTERNAL_API_KEY", INTERNAL_KEY)
        .spawn()
        .await
    else {
        return;
    };
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let token = &seeker.access;
    let id = application(&app, token).await;
    // An event in the log from before the socket, but within the feed's re-read window.
    move_to(&app, token, &id, "applied").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // The first socket of the process: its feed starts by re-reading the last seconds.
    let mut socket = open(&app, token, "").await;
    let hello = next(&mut socket).await;
    assert_eq!(hello["type"], "hello");
    move_to(&app, token, &id, "interviewing").await;
    let event = next(&mut socket).await;
    assert_eq!(event["data"]["to"], "interviewing", "{event}");
    assert!(event["seq"].as_i64().unwrap() > hello["last_seq"].as_i64().unwrap());
    quiet(&mut socket).await;

    // One that asks for what came after a seq it saw gets that from the log, once.
    let first = event["seq"].as_i64().unwrap() - 1;
    let mut again = open(&app, token, &format!("?after={first}")).await;
    assert_eq!(next(&mut again).await["type"], "hello");
    assert_eq!(next(&mut again).await["data"]["to"], "interviewing");
    quiet(&mut again).await;
    app.stop().await.unwrap();
}

crate::on_both_databases!(
    a_new_socket_gets_what_comes_after_it_not_the_logs_last_seconds,
    events_arrive_live_and_replay_after_a_reconnect,
    sockets_need_a_session_and_a_trusted_page,
    events_reach_sockets_on_another_replica,
);
