//! Load for the applications benchmark, against a running server (`bench/applications/run`
//! starts one):
//!
//! 1. `POST /api/v1/applications/{id}/submit` from `--users` concurrent users, each submitting
//!    its `--per-user` applications one after another (link channel, so nothing leaves the
//!    machine): latency percentiles of the 202 answers.
//! 2. `--sockets` WebSockets at `/api/v1/ws` spread over the users, then `--samples` status
//!    moves: the time from sending the move to each of that user's sockets receiving its event.
//!
//! Prints one line per figure; exits 1 if any request failed or any event never arrived.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::{StreamExt, stream};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, http::HeaderValue};

const PASSWORD: &str = "correct horse battery staple";
const SOCKETS_PER_USER: usize = 16;

struct Args {
    base: String,
    internal_key: String,
    users: usize,
    per_user: usize,
    sockets: usize,
    samples: usize,
    /// Submits per second from all users together (each user waits its share between two);
    /// 0: as fast as answers come (a closed loop).
    rate: f64,
}

fn args() -> Args {
    let mut args = Args {
        base: "http://127.0.0.1:8080".into(),
        internal_key: String::new(),
        users: 500,
        per_user: 4,
        sockets: 0,
        samples: 200,
        rate: 0.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--base" => args.base = value,
            "--internal-key" => args.internal_key = value,
            "--users" => args.users = value.parse().expect("--users"),
            "--per-user" => args.per_user = value.parse().expect("--per-user"),
            "--sockets" => args.sockets = value.parse().expect("--sockets"),
            "--samples" => args.samples = value.parse().expect("--samples"),
            "--rate" => args.rate = value.parse().expect("--rate"),
            other => panic!("unknown option {other}"),
        }
    }
    args
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(name: &str, mut samples: Vec<Duration>, wall: Duration) {
    samples.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: n={} p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms rate={:.0}/s",
        samples.len(),
        ms(percentile(&samples, 50.0)),
        ms(percentile(&samples, 90.0)),
        ms(percentile(&samples, 99.0)),
        ms(samples.last().copied().unwrap_or_default()),
        samples.len() as f64 / wall.as_secs_f64().max(1e-9),
    );
}

struct User {
    token: String,
    applications: Vec<String>,
}

async fn json_ok(response: reqwest::Response, what: &str) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{what}: {status} {body}");
    body
}

async fn setup(client: &reqwest::Client, args: &Args) -> Vec<User> {
    let jobs: Vec<Value> = (0..args.users * args.per_user)
        .map(|i| {
            json!({
                "source": "bench", "external_id": format!("job-{i}"),
                "url": format!("https://jobs.example.org/{i}"),
                "title": format!("Engineer {i}"), "company": format!("Company {}", i % 97),
                "skills": ["Rust", "PostgreSQL"],
            })
        })
        .collect();
    for chunk in jobs.chunks(500) {
        json_ok(
            client
                .post(format!("{}/internal/v1/jobs", args.base))
                .header("x-internal-api-key", &args.internal_key)
                .json(&chunk)
                .send()
                .await
                .unwrap(),
            "push jobs",
        )
        .await;
    }
    let started = Instant::now();
    let users: Vec<User> = stream::iter(0..args.users)
        .map(|i| {
            let client = client.clone();
            let base = args.base.clone();
            async move {
                let credentials =
                    json!({ "email": format!("bench{i}@example.org"), "password": PASSWORD });
                json_ok(
                    client
                        .post(format!("{base}/api/v1/auth/register"))
                        .json(&credentials)
                        .send()
                        .await
                        .unwrap(),
                    "register",
                )
                .await;
                let login = json_ok(
                    client
                        .post(format!("{base}/api/v1/auth/login"))
                        .json(&credentials)
                        .send()
                        .await
                        .unwrap(),
                    "login",
                )
                .await;
                User {
                    token: login["access_token"].as_str().unwrap().to_owned(),
                    applications: Vec::new(),
                }
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    eprintln!(
        "{} users signed in in {:.1?}",
        users.len(),
        started.elapsed()
    );
    let listed = {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{}/api/v1/jobs?source=bench&limit=100", args.base);
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let page = json_ok(
                client
                    .get(url)
                    .bearer_auth(&users[0].token)
                    .send()
                    .await
                    .unwrap(),
                "list jobs",
            )
            .await;
            ids.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|j| j["id"].as_str().unwrap().to_owned()),
            );
            match page["next_cursor"].as_str() {
                Some(next) if ids.len() < args.users * args.per_user => {
                    cursor = Some(next.to_owned())
                }
                _ => break ids,
            }
        }
    };
    assert!(
        listed.len() >= args.users * args.per_user,
        "only {} jobs listed",
        listed.len()
    );
    let listed = Arc::new(listed);
    let per_user = args.per_user;
    let users: Vec<User> = stream::iter(users.into_iter().enumerate())
        .map(|(i, mut user)| {
            let client = client.clone();
            let base = args.base.clone();
            let listed = listed.clone();
            async move {
                for k in 0..per_user {
                    let job = &listed[i * per_user + k];
                    let created = json_ok(
                        client
                            .post(format!("{base}/api/v1/applications"))
                            .bearer_auth(&user.token)
                            .json(&json!({ "job_id": job }))
                            .send()
                            .await
                            .unwrap(),
                        "create application",
                    )
                    .await;
                    user.applications
                        .push(created["id"].as_str().unwrap().to_owned());
                }
                user
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    users
}

async fn submit_load(client: &reqwest::Client, args: &Args, users: &[User]) -> bool {
    eprintln!("submitting");
    let started = Instant::now();
    // Open loop: each user submits once every `gap`, starting at a random phase.
    let gap = (args.rate > 0.0).then(|| Duration::from_secs_f64(users.len() as f64 / args.rate));
    let results: Vec<Vec<(Duration, bool)>> = stream::iter(users.iter().enumerate())
        .map(|(i, user)| {
            let client = client.clone();
            let base = args.base.clone();
            async move {
                let mut out = Vec::new();
                let mut next = Instant::now()
                    + gap.map_or(Duration::ZERO, |g| g.mul_f64(i as f64 / users.len() as f64));
                for id in &user.applications {
                    if let Some(gap) = gap {
                        tokio::time::sleep_until(next.into()).await;
                        next += gap;
                    }
                    let sent = Instant::now();
                    let response = client
                        .post(format!("{base}/api/v1/applications/{id}/submit"))
                        .bearer_auth(&user.token)
                        .json(&json!({ "channel": "link", "confirm": true }))
                        .send()
                        .await;
                    let ok = matches!(&response, Ok(r) if r.status() == 202);
                    if let Ok(r) = response {
                        let _ = r.bytes().await;
                    }
                    out.push((sent.elapsed(), ok));
                }
                out
            }
        })
        .buffer_unordered(users.len().max(1))
        .collect()
        .await;
    let wall = started.elapsed();
    let all: Vec<(Duration, bool)> = results.into_iter().flatten().collect();
    let failed = all.iter().filter(|(_, ok)| !ok).count();
    let mode = match gap {
        Some(_) => format!("{} users at {:.0} submits/s in all", users.len(), args.rate),
        None => format!("{} users submitting back to back", users.len()),
    };
    report(
        &format!("submit (202), {mode}"),
        all.into_iter().map(|(d, _)| d).collect(),
        wall,
    );
    if failed > 0 {
        eprintln!("{failed} submits did not answer 202");
    }
    failed == 0
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_socket(base: &str, token: &str) -> Socket {
    let url = format!("{}/api/v1/ws", base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    // The hello.
    let _ = socket.next().await;
    socket
}

async fn socket_load(client: &reqwest::Client, args: &Args, users: &[User]) -> bool {
    let per_user = args.sockets.div_ceil(users.len()).min(SOCKETS_PER_USER);
    let started = Instant::now();
    let base = args.base.clone();
    // Each user's sockets feed one channel of (arrival time) per event.
    let mut feeds = Vec::new();
    let mut opened = 0;
    for user in users {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, String)>();
        for _ in 0..per_user {
            if opened == args.sockets {
                break;
            }
            let mut socket = open_socket(&base, &user.token).await;
            opened += 1;
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(Ok(message)) = socket.next().await {
                    if let tungstenite::Message::Text(text) = message {
                        let at = Instant::now();
                        let event: Value = serde_json::from_str(&text).unwrap_or_default();
                        if event["kind"] != "application.status" {
                            continue;
                        }
                        let id = event["data"]["application_id"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                        if tx.send((at, id)).is_err() {
                            return;
                        }
                    }
                }
            });
        }
        feeds.push(tokio::sync::Mutex::new(rx));
    }
    eprintln!("{opened} sockets open in {:.1?}", started.elapsed());
    let samples = args.samples.min(users.len());
    let mut latencies = Vec::new();
    let mut missing = 0;
    let started = Instant::now();
    for (i, user) in users.iter().take(samples).enumerate() {
        let expected = per_user.min(args.sockets.saturating_sub(i * per_user));
        if expected == 0 {
            break;
        }
        let id = &user.applications[0];
        let sent = Instant::now();
        let response = client
            .patch(format!("{}/api/v1/applications/{id}", args.base))
            .bearer_auth(&user.token)
            .json(&json!({ "status": "withdrawn" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let mut feed = feeds[i].lock().await;
        let mut got = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while got < expected {
            match tokio::time::timeout_at(deadline, feed.recv()).await {
                Ok(Some((at, event_for))) if event_for == *id => {
                    latencies.push(at.saturating_duration_since(sent));
                    got += 1;
                }
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        missing += expected - got;
    }
    report(
        &format!("event delivery to {opened} open sockets (move sent → event received)"),
        latencies,
        started.elapsed(),
    );
    if missing > 0 {
        eprintln!("{missing} events never arrived");
    }
    missing == 0
}

#[tokio::main]
async fn main() {
    let args = args();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .unwrap();
    let users = setup(&client, &args).await;
    let mut ok = submit_load(&client, &args, &users).await;
    if args.sockets > 0 {
        ok &= socket_load(&client, &args, &users).await;
    }
    std::process::exit(if ok { 0 } else { 1 });
}
