//! `TestApp`: the real application on port 0 against its own database.

use std::{sync::Arc, time::Duration};

use jobpilot::{app::Server, config::Config};
use store::Store;
use test_support::ScratchDatabase;
use tokio::{sync::oneshot, task::JoinHandle};

pub use test_support::Db;

/// Installs the process's TLS provider once (reqwest is built without one).
pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A database made for one test and dropped after it.
pub struct TestDb {
    pub url: String,
    _scratch: ScratchDatabase,
}

impl TestDb {
    /// `None` (with a note on stderr) when PostgreSQL is asked for but not configured.
    pub async fn create(db: Db) -> Option<Self> {
        init();
        let scratch = ScratchDatabase::create(db, "jobpilot_test").await?;
        let url = match db {
            // An explicit SQLite URL must ask for the file to be created.
            Db::Sqlite => format!("{}?mode=rwc", scratch.url),
            Db::Postgres => scratch.url.clone(),
        };
        Some(Self {
            url,
            _scratch: scratch,
        })
    }
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub state: web::AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    /// The database URL, for a second app on the same database (a second replica).
    pub db_url: String,
    _db: Option<TestDb>,
    _data_dir: tempfile::TempDir,
}

pub struct Builder {
    db: Db,
    env: Vec<(String, String)>,
    migrate: bool,
    shared_db: Option<String>,
    workers: bool,
}

impl TestApp {
    pub fn builder(db: Db) -> Builder {
        Builder {
            db,
            env: Vec::new(),
            migrate: true,
            shared_db: None,
            workers: false,
        }
    }

    pub async fn spawn(db: Db) -> Option<Self> {
        Self::builder(db).spawn().await
    }

    /// The data directory this server keeps its files (and search index) in.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self._data_dir.path().to_owned()
    }

    /// The SQLite database's files (the database, its WAL); empty on PostgreSQL.
    pub fn sqlite_files(&self) -> Vec<std::path::PathBuf> {
        let Some(rest) = self.db_url.strip_prefix("sqlite://") else {
            return Vec::new();
        };
        let path = rest.split('?').next().unwrap_or(rest);
        ["", "-wal", "-shm"]
            .iter()
            .map(|suffix| std::path::PathBuf::from(format!("{path}{suffix}")))
            .filter(|p| p.exists())
            .collect()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Stops the server as SIGTERM would, and waits for it to finish.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.server.take() {
            Some(handle) => handle.await.unwrap(),
            None => Ok(()),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.server.take() {
            handle.abort();
        }
    }
}

impl Builder {
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Runs on another app's database, as a second replica would.
    pub fn share_database(mut self, other: &TestApp) -> Self {
        self.shared_db = Some(other.db_url.clone());
        self
    }

    /// Runs the task workers (and their cron schedules) as `serve` does.
    pub fn with_workers(mut self) -> Self {
        self.workers = true;
        self
    }

    /// Starts without applying migrations.
    pub fn unmigrated(mut self) -> Self {
        self.migrate = false;
        self
    }

    pub async fn spawn(self) -> Option<TestApp> {
        let (db, db_url) = match self.shared_db {
            Some(url) => (None, url),
            None => {
                let db = TestDb::create(self.db).await?;
                let url = db.url.clone();
                (Some(db), url)
            }
        };
        let data_dir = tempfile::tempdir().unwrap();
        let mut env = vec![
            ("JOBPILOT_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            ("JOBPILOT_DATABASE_URL".to_owned(), db_url.clone()),
            (
                "JOBPILOT_DATA_DIR".to_owned(),
                data_dir.path().display().to_string(),
            ),
            ("JOBPILOT_POOL_SIZE".to_owned(), "4".to_owned()),
            // One key ring for the server and its workers (a test may set its own).
            (
                "JOBPILOT_ENCRYPTION_KEYS".to_owned(),
                "test:QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=".to_owned(),
            ),
            // The server runs inside the test binary: PDFs go to the real jobpilot binary.
            (
                "JOBPILOT_PDF_HELPER".to_owned(),
                env!("CARGO_BIN_EXE_jobpilot").to_owned(),
            ),
            // Tests make many requests from one address; the rate-limit tests lower these.
            ("JOBPILOT_RATE_LIMIT".to_owned(), "100000".to_owned()),
            ("JOBPILOT_AUTH_RATE_LIMIT".to_owned(), "100000".to_owned()),
            // The daily sync fires on start when its time passed minutes ago (the cron catch-up),
            // which would add a sync to a test's own: its time is put half a day from now.
            (
                "JOBPILOT_SOURCES_SYNC_CRON".to_owned(),
                format!(
                    "0 {} * * *",
                    (chrono::Timelike::hour(&chrono::Utc::now()) + 12) % 24
                ),
            ),
        ];
        env.extend(self.env);
        let config = Config::from_sources(env, None).unwrap();
        let database = jobpilot::app::open_database(&config).await.unwrap();
        let store = database.store.clone();
        if self.migrate {
            store.migrate().await.unwrap();
        }
        let tasks_db = database.tasks.clone();
        let mut server = Server::bind(&config, database).await.unwrap();
        if self.workers {
            let catalog = config.sources.clone().build().unwrap();
            let index = server.state().search().clone();
            let worker =
                jobpilot::workers::start(&config, tasks_db, store.clone(), catalog, index).unwrap();
            if let Some(worker) = worker {
                server = server.with_worker(worker);
            }
        }
        let addr = server.local_addr().unwrap();
        let state = server.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Some(TestApp {
            base: format!("http://{addr}"),
            client,
            store,
            state,
            shutdown: Some(tx),
            server: Some(handle),
            db_url,
            _db: db,
            _data_dir: data_dir,
        })
    }
}

/// Checks a response is the one error shape with this status and code; returns its body.
pub async fn assert_error(
    response: reqwest::Response,
    status: u16,
    code: &str,
) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let header_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("x-request-id header");
    let body: serde_json::Value = response.json().await.unwrap();
    let error = &body["error"];
    assert_eq!(error["code"], code, "{body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(error["request_id"], header_id.as_str(), "{body}");
    let timestamp = error["timestamp"].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(timestamp).expect("RFC 3339 timestamp");
    body
}

/// Runs a test body against SQLite and PostgreSQL, as two tests.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::harness::Db::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::harness::Db::Postgres).await
                }
            )*
        }
    };
}

pub const PASSWORD: &str = "correct horse battery";

/// A signed-in user's tokens.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub body: serde_json::Value,
}

impl TestApp {
    pub async fn register(&self, email: &str) {
        let response = self
            .post_json(
                "/api/v1/auth/register",
                &serde_json::json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/login",
            &serde_json::json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn login_ok(&self, email: &str) -> Tokens {
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        let body: serde_json::Value = response.json().await.unwrap();
        Tokens {
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
            body,
        }
    }

    /// Registers and signs in a user of the given role (roles other than seeker set in the store).
    pub async fn user(&self, email: &str, role: domain::Role) -> Tokens {
        self.register(email).await;
        if role != domain::Role::Seeker {
            let user = self
                .store
                .user_by_email(&domain::Email::parse(email).unwrap())
                .await
                .unwrap()
                .unwrap();
            self.store.set_role(user.id, role).await.unwrap();
        }
        self.login_ok(email).await
    }

    pub async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn send_as(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&serde_json::Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    /// Waits (up to a minute) until a task completes; panics if it fails or never does.
    pub async fn wait_for_task(&self, task: &str, token: &str) -> serde_json::Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let state: serde_json::Value = self
                .get_as(&format!("/api/v1/tasks/{task}"), token)
                .await
                .json()
                .await
                .unwrap();
            match state["state"].as_str().unwrap() {
                "completed" => return state,
                "discarded" | "cancelled" => panic!("the task failed: {state}"),
                _ if std::time::Instant::now() > deadline => panic!("the task never ran: {state}"),
                _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    }

    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/refresh",
            &serde_json::json!({"refresh_token": refresh_token}),
        )
        .await
    }
}
