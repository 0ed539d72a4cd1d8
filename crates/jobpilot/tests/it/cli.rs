//! The `jobpilot` command as an operator runs it: clear errors, exit codes, signals.

use std::{
    io::{BufRead as _, BufReader, Read as _},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::harness::init;

fn jobpilot() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jobpilot"));
    // Only what each test sets: no JOBPILOT_* from the developer's shell.
    command.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command
}

fn output(command: &mut Command) -> (i32, String, String) {
    let output = command.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn help_lists_the_commands() {
    let (code, stdout, _) = output(jobpilot().arg("--help"));
    assert_eq!(code, 0);
    for command in ["serve", "migrate", "config", "keys"] {
        assert!(stdout.contains(command), "{stdout}");
    }
}

#[test]
fn config_check_prints_redacted_config() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = output(
        jobpilot()
            .args(["config", "check"])
            .env("JOBPILOT_DATA_DIR", dir.path())
            .env(
                "JOBPILOT_DATABASE_URL",
                "postgres://jobpilot:hunter2-db-password@db.internal:5432/jobpilot",
            )
            .env(
                "JOBPILOT_JWT_SECRET",
                "a-very-long-jwt-secret-value-0123456789",
            )
            .env("JOBPILOT_LISTEN", "0.0.0.0:9000"),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("listen = 0.0.0.0:9000"), "{stdout}");
    assert!(
        stdout.contains("postgres://jobpilot:***@db.internal:5432/jobpilot"),
        "{stdout}"
    );
    assert!(stdout.contains("jwt_secret = (set, redacted)"), "{stdout}");
    assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"));
    assert!(!stdout.contains("0123456789") && !stderr.contains("0123456789"));
    // It writes nothing.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_bad_value_names_its_variable_and_exits_2() {
    let (code, _, stderr) = output(
        jobpilot()
            .args(["config", "check"])
            .env("JOBPILOT_LISTEN", "not-an-address")
            .env("JOBPILOT_POOL_SIZE", "0")
            .env("JOBPILOT_MODE", "staging"),
    );
    assert_eq!(code, 2);
    for variable in ["JOBPILOT_LISTEN", "JOBPILOT_POOL_SIZE", "JOBPILOT_MODE"] {
        assert!(stderr.contains(variable), "{stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn production_refuses_missing_and_weak_secrets() {
    let (code, _, stderr) = output(
        jobpilot()
            .args(["serve"])
            .env("JOBPILOT_MODE", "production")
            .env("JOBPILOT_JWT_SECRET", "short"),
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("JOBPILOT_JWT_SECRET: too weak"), "{stderr}");
    assert!(
        stderr.contains("JOBPILOT_ENCRYPTION_KEYS: required in production"),
        "{stderr}"
    );
    assert!(!stderr.contains("short"), "a secret was printed: {stderr}");
}

#[test]
fn an_unreachable_postgres_is_a_clear_error_not_a_panic() {
    // Nothing listens on port 1.
    let (code, _, stderr) = output(jobpilot().arg("migrate").env(
        "JOBPILOT_DATABASE_URL",
        "postgres://jobpilot:pw-secret@127.0.0.1:1/jobpilot",
    ));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "cannot connect to PostgreSQL at postgres://jobpilot:***@127.0.0.1:1/jobpilot"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("pw-secret"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_mistyped_sqlite_path_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobpiot.db");
    let (code, _, stderr) = output(
        jobpilot()
            .arg("migrate")
            .env("JOBPILOT_DATA_DIR", dir.path())
            .env(
                "JOBPILOT_DATABASE_URL",
                format!("sqlite://{}", path.display()),
            ),
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("?mode=rwc"), "{stderr}");
    assert!(!path.exists());
    // Asked for explicitly, it is created.
    let (code, _, stderr) = output(
        jobpilot()
            .arg("migrate")
            .env("JOBPILOT_DATA_DIR", dir.path())
            .env(
                "JOBPILOT_DATABASE_URL",
                format!("sqlite://{}?mode=rwc", path.display()),
            ),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(path.exists());
}

#[test]
fn keys_generate_prints_a_valid_key() {
    // Production mode without keys must still let the operator generate them.
    let (code, stdout, _) = output(
        jobpilot()
            .args(["keys", "generate", "--id", "k7"])
            .env("JOBPILOT_MODE", "production"),
    );
    assert_eq!(code, 0);
    let keys = jobpilot::config::parse_key_ring(stdout.trim()).unwrap();
    assert_eq!(keys[0].0, "k7");
    assert_eq!(keys[0].1.len(), 32);
}

/// A running `jobpilot serve`, its address read from its JSON log.
struct Running {
    child: Child,
    addr: String,
}

#[expect(
    clippy::zombie_processes,
    reason = "the caller waits for the child it gets back"
)]
fn start_server(extra: &[(&str, &str)], data_dir: &std::path::Path) -> Running {
    let mut command = jobpilot();
    command
        .arg("serve")
        .env("JOBPILOT_LISTEN", "127.0.0.1:0")
        .env("JOBPILOT_DATA_DIR", data_dir)
        .env("JOBPILOT_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in extra {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the server never said it was listening");
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if entry["fields"]["message"] == "listening" {
            let addr = entry["fields"]["address"].as_str().unwrap().to_owned();
            return Running { child, addr };
        }
    }
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn sigterm_turns_readiness_false_lets_in_flight_requests_finish_and_exits_0() {
    init();
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_server(&[("JOBPILOT_SHUTDOWN_DELAY", "2")], dir.path());
    let client = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    assert_eq!(
        client
            .get(format!("{base}/health/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The first run in development mode generated its secrets, privately.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("secrets.toml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = std::fs::metadata(dir.path().join("jobpilot.db"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the database file is readable by others"
        );
    }

    // An in-flight request: headers and half the body sent before the signal.
    let body = br#"{"email":"inflight@example.org","password":"correct horse battery"}"#;
    let mut stream = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/auth/register HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    terminate(&server.child);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ready = client
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let live = client
        .get(format!("{base}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);

    stream.write_all(&body[10..]).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");

    let status = wait_with_timeout(&mut server.child, Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn traces_are_exported_over_otlp_when_configured() {
    init();
    use std::sync::{Arc, Mutex};
    // A stand-in collector: records what arrives at the OTLP/HTTP traces endpoint.
    let received: Arc<Mutex<Vec<(String, usize)>>> = Arc::default();
    let sink = received.clone();
    let collector = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let sink = sink.clone();
                async move {
                    let content_type = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    sink.lock().unwrap().push((content_type, body.len()));
                    axum::http::StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, collector).await });

    let dir = tempfile::tempdir().unwrap();
    let mut server = start_server(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)], dir.path());
    let client = reqwest::Client::new();
    for _ in 0..3 {
        client
            .get(format!("http://{}/health/live", server.addr))
            .send()
            .await
            .unwrap();
    }
    terminate(&server.child);
    let status = tokio::task::spawn_blocking(move || {
        let status = wait_with_timeout(&mut server.child, Duration::from_secs(30));
        let mut stderr = String::new();
        if let Some(mut err) = server.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        (status, stderr)
    })
    .await
    .unwrap();
    assert!(status.0.success(), "{}", status.1);
    let received = received.lock().unwrap().clone();
    assert!(!received.is_empty(), "no spans reached the collector");
    assert!(
        received
            .iter()
            .all(|(ct, len)| ct == "application/x-protobuf" && *len > 0),
        "{received:?}"
    );
}

#[test]
fn users_and_tasks_commands_work_on_a_fresh_install() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| output(jobpilot().args(args).env("JOBPILOT_DATA_DIR", dir.path()));
    let (code, stdout, stderr) = run(&[
        "users",
        "create",
        "--email",
        "Root@Example.org",
        "--role",
        "admin",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("created root@example.org (admin)"),
        "{stdout}"
    );
    let password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("password (shown once): "))
        .unwrap();
    assert!(password.len() >= 20);
    let (code, _, stderr) = run(&["users", "create", "--email", "root@example.org"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("already exists"), "{stderr}");
    let (code, _, _) = run(&["users", "lock", "root@example.org"]);
    assert_eq!(code, 0);
    let (_, listed, _) = run(&["users", "list"]);
    assert!(
        listed.contains("root@example.org\tadmin\tlocked"),
        "{listed}"
    );
    let (code, _, _) = run(&["users", "unlock", "root@example.org"]);
    assert_eq!(code, 0);
    let (code, _, stderr) = run(&["users", "lock", "nobody@example.org"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no account"), "{stderr}");

    let (code, stats, stderr) = run(&["tasks", "stats"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stats.is_empty());
    let (code, _, stderr) = run(&["tasks", "retry", "01a217cd-0ed1-708f-a3c7-f002b6bf66f3"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("not found"), "{stderr}");
    let (code, _, stderr) = run(&["tasks", "list", "--state", "sleeping"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn an_unreachable_redis_stops_serve_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = output(
        jobpilot()
            .arg("serve")
            .env("JOBPILOT_DATA_DIR", dir.path())
            .env("JOBPILOT_LISTEN", "127.0.0.1:0")
            .env("JOBPILOT_REDIS_URL", "redis://:redis-pass@127.0.0.1:1/0"),
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("cannot connect to Redis at redis://:***@127.0.0.1:1/0"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("redis-pass") && !stderr.contains("panicked"),
        "{stderr}"
    );
}
