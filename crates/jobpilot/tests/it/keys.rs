//! Encryption at rest: key status, rotation while values are being written, refusing to run
//! without a needed key, and no plaintext secret on disk.

use auth::{KeyRing, Place};

use crate::harness::{Db, TestApp};

fn ring(keys: &[(&str, u8)]) -> KeyRing {
    KeyRing::new(
        keys.iter()
            .map(|(id, byte)| ((*id).to_owned(), vec![*byte; 32]))
            .collect(),
    )
    .unwrap()
}

/// Gives `count` users a TOTP secret sealed with `keys`, as enrolment does.
async fn users_with_secrets(app: &TestApp, keys: &KeyRing, count: usize) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for i in 0..count {
        let email = format!("user{i}@example.org");
        app.register(&email).await;
        let user = app
            .store
            .user_by_email(&domain::Email::parse(&email).unwrap())
            .await
            .unwrap()
            .unwrap();
        let secret = auth::new_totp_secret();
        let row = user.id.to_string();
        let sealed = keys.seal(
            &secret,
            Place {
                table: "users",
                column: "totp_secret",
                row: &row,
            },
        );
        app.store
            .set_totp_pending(user.id, Some(&sealed))
            .await
            .unwrap();
        assert!(
            app.store
                .enable_totp(user.id, &sealed, 0, &[], chrono::Utc::now())
                .await
                .unwrap()
        );
        out.push((row, secret));
    }
    out
}

/// The server's own key (the harness's `JOBPILOT_ENCRYPTION_KEYS`), which sealed the uploads.
const SERVER_KEY: (&str, u8) = ("test", 0x42);

async fn rotation_reseals_everything_and_old_keys_can_go(db: Db) {
    let Some(app) = TestApp::builder(db).with_workers().spawn().await else {
        return;
    };
    let old = ring(&[("k1", 1)]);
    let secrets = users_with_secrets(&app, &old, 5).await;
    // Two resumes: each a sealed file on disk and its sealed text in the database.
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let mut resumes = Vec::new();
    for i in 0..2 {
        let text = format!("Resume {i}: Rust and PostgreSQL, 5 years.");
        let resume = crate::resumes::upload_parsed(
            &app,
            seeker.access.as_str(),
            "cv.txt",
            text.clone().into_bytes(),
        )
        .await;
        let id = domain::ResumeId::from_uuid(resume["id"].as_str().unwrap().parse().unwrap());
        resumes.push((id, text));
    }
    let files = web::files::Files::local(app.data_dir().join("files"));
    let sealed = web::keys::Sealed {
        store: app.store.as_ref(),
        files: &files,
    };
    let status = web::keys::status(sealed).await.unwrap();
    assert_eq!(status.get("k1"), Some(&5));
    assert_eq!(status.get(SERVER_KEY.0), Some(&4), "{status:?}");

    // A ring without k1 is refused before anything fails value by value.
    let without_old = ring(&[("k2", 2)]);
    let error = web::keys::check_present(sealed, &without_old)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("k1"), "{error}");
    // The start-up check reads the columns only, and sees both keys there too.
    let error = web::keys::check_columns_present(app.store.as_ref(), &without_old)
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("k1") && message.contains(SERVER_KEY.0),
        "{message}"
    );

    // Rotation: k2 becomes active, k1 and the server's key still open.
    let all = ring(&[("k2", 2), ("k1", 1), SERVER_KEY]);
    let rotated = web::keys::rotate(sealed, &all, &|_| {}).await.unwrap();
    assert_eq!(rotated, 9);
    let status = web::keys::status(sealed).await.unwrap();
    assert_eq!(status.get("k2"), Some(&9), "{status:?}");
    assert_eq!(status.len(), 1, "{status:?}");
    // Running it again finds nothing left (a crashed run resumes the same way).
    assert_eq!(web::keys::rotate(sealed, &all, &|_| {}).await.unwrap(), 0);

    // The old keys can go: every value and file opens with k2 alone, to what it was.
    web::keys::check_present(sealed, &without_old)
        .await
        .unwrap();
    web::keys::check_columns_present(app.store.as_ref(), &without_old)
        .await
        .unwrap();
    for (id, text) in &resumes {
        let resume = app.store.resume_unscoped(*id).await.unwrap().unwrap();
        let file = files.get(&resume.file_key).await.unwrap();
        let row = id.to_string();
        let opened = without_old
            .open(&file, web::resumes::file_place(&row))
            .unwrap();
        assert_eq!(opened.as_slice(), text.as_bytes());
        assert_eq!(
            web::resumes::text_of(&resume, &without_old).as_deref(),
            Some(text.as_str())
        );
    }
    for (row, secret) in &secrets {
        let user = app
            .store
            .user_by_id(domain::UserId::from_uuid(row.parse().unwrap()))
            .await
            .unwrap()
            .unwrap();
        let record = app.store.totp(user.id).await.unwrap();
        let sealed = record.secret.unwrap();
        let place = Place {
            table: "users",
            column: "totp_secret",
            row,
        };
        assert_eq!(
            without_old.open(&sealed, place).unwrap().as_slice(),
            secret.as_slice()
        );
    }
}

/// An administrator sees the keys in use and rotates through the API, as a background task;
/// others may not, and a server without a configured ring refuses to rotate.
async fn administrators_rotate_keys_through_the_api(db: Db) {
    use base64::Engine as _;
    let b64 = |byte: u8| base64::engine::general_purpose::STANDARD.encode([byte; 32]);
    // The server's ring: "fresh" is active, the harness's "test" key still opens.
    let ring_env = format!("fresh:{},{}:{}", b64(7), SERVER_KEY.0, b64(SERVER_KEY.1));
    let Some(app) = TestApp::builder(db)
        .env("JOBPILOT_ENCRYPTION_KEYS", &ring_env)
        .with_workers()
        .spawn()
        .await
    else {
        return;
    };
    let old = ring(&[SERVER_KEY]);
    let secrets = users_with_secrets(&app, &old, 3).await;
    let admin = app.user("admin@example.org", domain::Role::Admin).await;
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;

    let status: serde_json::Value = app
        .get_as("/api/v1/admin/keys", admin.access.as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["active"], "fresh");
    assert_eq!(
        status["keys"],
        serde_json::json!([{"id": "test", "values": 3, "in_ring": true}])
    );
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/admin/keys"),
        (reqwest::Method::POST, "/api/v1/admin/keys/rotate"),
    ] {
        let refused = app
            .send_as(method, path, seeker.access.as_str(), None)
            .await;
        crate::harness::assert_error(refused, 403, "forbidden").await;
    }

    let started = app
        .send_as(
            reqwest::Method::POST,
            "/api/v1/admin/keys/rotate",
            admin.access.as_str(),
            None,
        )
        .await;
    assert_eq!(started.status(), 202);
    let task = started.json::<serde_json::Value>().await.unwrap()["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_task(&task, admin.access.as_str()).await;
    let status: serde_json::Value = app
        .get_as("/api/v1/admin/keys", admin.access.as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        status["keys"],
        serde_json::json!([{"id": "fresh", "values": 3, "in_ring": true}])
    );
    let fresh = ring(&[("fresh", 7)]);
    for (row, secret) in &secrets {
        let user = domain::UserId::from_uuid(row.parse().unwrap());
        let sealed = app.store.totp(user).await.unwrap().secret.unwrap();
        let place = Place {
            table: "users",
            column: "totp_secret",
            row,
        };
        assert_eq!(
            fresh.open(&sealed, place).unwrap().as_slice(),
            secret.as_slice()
        );
    }
    let audited = app.store.recent_audit(100).await.unwrap();
    assert!(
        audited.iter().any(|entry| entry.action == "keys.rotate"),
        "the rotation is in the audit log"
    );
}

crate::on_both_databases!(
    rotation_reseals_everything_and_old_keys_can_go,
    administrators_rotate_keys_through_the_api,
    a_rotation_killed_half_way_finishes_on_the_next_run,
    application_notes_and_documents_are_sealed_at_rest
);

/// Without a configured key ring, values are sealed with a throwaway key: rotating to it would
/// lose them at the next restart, so the API refuses.
#[tokio::test]
async fn rotation_is_refused_without_a_configured_key_ring() {
    let app = TestApp::builder(Db::Sqlite)
        .env("JOBPILOT_ENCRYPTION_KEYS", "")
        .spawn()
        .await
        .unwrap();
    let admin = app.user("admin@example.org", domain::Role::Admin).await;
    let refused = app
        .send_as(
            reqwest::Method::POST,
            "/api/v1/admin/keys/rotate",
            admin.access.as_str(),
            None,
        )
        .await;
    crate::harness::assert_error(refused, 409, "no_key_ring").await;
}

/// Plants a known TOTP secret through the API and looks for it in the raw database files.
#[tokio::test]
async fn no_plaintext_secret_reaches_the_database_file() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    let tokens = app.user("canary@example.org", domain::Role::Seeker).await;
    let setup = app
        .send_as(
            reqwest::Method::POST,
            "/api/v1/me/2fa/setup",
            &tokens.access,
            None,
        )
        .await;
    assert_eq!(setup.status(), 200);
    let setup: serde_json::Value = setup.json().await.unwrap();
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let raw = crate::identity::base32_decode(&secret);
    let path = app
        .db_url
        .strip_prefix("sqlite://")
        .and_then(|rest| rest.split('?').next())
        .unwrap()
        .to_owned();
    // Both the database file and its write-ahead log, as they are on disk now.
    let mut bytes = Vec::new();
    for file in [path.clone(), format!("{path}-wal")] {
        if let Ok(content) = std::fs::read(&file) {
            bytes.extend(content);
        }
    }
    assert!(
        bytes.len() > 4096,
        "the database file was not found at {path}"
    );
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!contains(secret.as_bytes()), "the base32 secret is on disk");
    assert!(!contains(&raw), "the raw secret bytes are on disk");
    assert!(contains(b"canary@example.org"), "the search itself works");
}

/// `jobpilot keys rotate` killed with SIGKILL half-way loses nothing: every value still opens
/// (with the old key or the new), and a second run finishes the job.
async fn a_rotation_killed_half_way_finishes_on_the_next_run(db: Db) {
    use base64::Engine as _;
    const VALUES: usize = 1500;
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let old = ring(&[("k1", 1)]);
    app.user("many@example.org", domain::Role::Seeker).await;
    let user = app
        .store
        .user_by_email(&domain::Email::parse("many@example.org").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    // Resumes with sealed texts, written straight to the store (their files are not needed).
    let mut texts = Vec::new();
    for i in 0..VALUES {
        let id = domain::ResumeId::new();
        let resume = store::NewResume {
            id,
            user_id: user,
            file_name: "cv.txt".into(),
            kind: domain::ResumeKind::Text,
            size_bytes: 10,
            sha256: [0; 32],
            file_key: format!("resumes/test/{}", id.as_uuid().simple()),
            created_at: chrono::Utc::now(),
            batch_id: None,
        };
        let task = tasks::NewTask::new("resumes.parse", serde_json::json!({}));
        app.store.create_resume(&resume, task).await.unwrap();
        let text = format!("resume {i}: Rust, Kubernetes");
        let row = id.to_string();
        let parsed = store::ParsedResume {
            text_sealed: old.seal(text.as_bytes(), web::resumes::text_place(&row)),
            skills: Vec::new(),
            years_experience: None,
            seniority: None,
        };
        app.store
            .finish_resume_parse(id, Ok(&parsed), chrono::Utc::now())
            .await
            .unwrap();
        texts.push((id, text));
    }

    let b64 = |byte: u8| base64::engine::general_purpose::STANDARD.encode([byte; 32]);
    let rotate = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_jobpilot"));
        command
            .env_clear()
            // Small transactions, so the kill lands between two of them.
            .args(["keys", "rotate", "--batch", "10"])
            .env("JOBPILOT_DATABASE_URL", &app.db_url)
            .env("JOBPILOT_DATA_DIR", app.data_dir())
            .env(
                "JOBPILOT_ENCRYPTION_KEYS",
                format!("k2:{},k1:{}", b64(2), b64(1)),
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    };
    let files = web::files::Files::local(app.data_dir().join("files"));
    let sealed = web::keys::Sealed {
        store: app.store.as_ref(),
        files: &files,
    };
    let mut child = rotate().spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let status = web::keys::status(sealed).await.unwrap();
        if status.get("k2").is_some_and(|n| *n > 0) {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the rotation ended before it was seen under way"
        );
        assert!(std::time::Instant::now() < deadline, "no rotation progress");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL: no cleanup of any kind
    child.wait().unwrap();
    let status = web::keys::status(sealed).await.unwrap();
    let (moved, left) = (status["k2"], status.get("k1").copied().unwrap_or(0));
    assert_eq!(moved + left, VALUES as u64, "{status:?}");
    assert!(left > 0, "killed too late to test anything: {status:?}");

    let output = rotate().output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("{left} values re-sealed")),
        "{stdout}"
    );
    let status = web::keys::status(sealed).await.unwrap();
    assert_eq!(status.get("k2"), Some(&(VALUES as u64)), "{status:?}");
    assert_eq!(status.len(), 1, "{status:?}");
    let new_only = ring(&[("k2", 2)]);
    for (id, text) in &texts {
        let resume = app.store.resume_unscoped(*id).await.unwrap().unwrap();
        assert_eq!(
            web::resumes::text_of(&resume, &new_only).as_deref(),
            Some(text.as_str())
        );
    }
}

/// Runs SQL straight on the app's database, as an older version of jobpilot would have
/// written; returns the first column of the first row as a number (0 without rows).
async fn raw_sql(app: &TestApp, sql: &str) -> i64 {
    use sqlx::Row as _;
    if app.db_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&app.db_url).await.unwrap();
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_optional(&pool)
            .await
            .unwrap();
        pool.close().await;
        row.and_then(|r| r.try_get::<i64, _>(0).ok()).unwrap_or(0)
    } else {
        let pool = sqlx::PgPool::connect(&app.db_url).await.unwrap();
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_optional(&pool)
            .await
            .unwrap();
        pool.close().await;
        row.and_then(|r| r.try_get::<i64, _>(0).ok()).unwrap_or(0)
    }
}

/// Notes and the documents' texts reach the database sealed; rows an older version left in
/// plain text stay readable, show in the key status and are sealed by the next rotation.
async fn application_notes_and_documents_are_sealed_at_rest(db: Db) {
    use serde_json::{Value, json};
    let Some(app) = crate::resumes::app_taking_pushed_jobs(db).await else {
        return;
    };
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let token = seeker.access.as_str();
    crate::resumes::push_jobs(
        &app,
        &json!([crate::resumes::job(
            "sealed",
            "Rust Engineer",
            &["Rust"],
            None
        )]),
    )
    .await;
    let listed: Value = app
        .get_as("/api/v1/jobs?source=jobspy", token)
        .await
        .json()
        .await
        .unwrap();
    let job = listed["items"][0]["id"].as_str().unwrap().to_owned();
    let user = app
        .store
        .user_by_email(&domain::Email::parse("seeker@example.org").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let app = &app;
    let post = |path: String, body: Value| async move {
        app.send_as(reqwest::Method::POST, &path, token, Some(&body))
            .await
    };
    let created = post(
        "/api/v1/applications".into(),
        json!({"job_id": job, "note": "  NOTE-ALPHA met them at a fair  "}),
    )
    .await;
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/applications/{id}");
    let moved = app
        .send_as(
            reqwest::Method::PATCH,
            &path,
            token,
            Some(&json!({"status": "applied", "note": "NOTE-BETA sent by post"})),
        )
        .await;
    assert_eq!(moved.status(), 200);
    let noted = post(
        format!("{path}/notes"),
        json!({"text": "NOTE-GAMMA salary 95k"}),
    )
    .await;
    assert_eq!(noted.status(), 201);
    let edited = app
        .send_as(
            reqwest::Method::PUT,
            &format!("{path}/documents"),
            token,
            Some(&json!({
                "cover_letter": "LETTER-DELTA Dear team",
                "cv_summary": "SUMMARY-EPSILON",
                "interview_questions": [{"question": "QUESTION-ZETA?", "topic": "Rust", "why": "core"}],
            })),
        )
        .await;
    assert_eq!(edited.status(), 201);
    assert_eq!(
        edited.json::<Value>().await.unwrap()["cover_letter"],
        "LETTER-DELTA Dear team"
    );

    // The owner reads them back.
    let events: Value = app
        .get_as(&format!("{path}/events"), token)
        .await
        .json()
        .await
        .unwrap();
    let details: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["detail"].as_str())
        .collect();
    for note in [
        "NOTE-ALPHA met them at a fair",
        "NOTE-BETA sent by post",
        "NOTE-GAMMA salary 95k",
    ] {
        assert!(details.contains(&note), "{note} missing from {details:?}");
    }
    let documents: Value = app
        .get_as(&format!("{path}/documents"), token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(documents[0]["cover_letter"], "LETTER-DELTA Dear team");
    assert_eq!(
        documents[0]["interview_questions"][0]["question"],
        "QUESTION-ZETA?"
    );

    // None of it is in the database in plain text.
    for table_column in [
        "application_events.detail",
        "application_documents.cover_letter",
        "application_documents.cv_summary",
        "application_documents.interview_questions",
    ] {
        let (table, column) = table_column.split_once('.').unwrap();
        let found = raw_sql(
            app,
            &format!(
                "SELECT COUNT(*) FROM {table} WHERE CAST({column} AS TEXT) LIKE '%NOTE-%' \
                 OR CAST({column} AS TEXT) LIKE '%LETTER-%' OR CAST({column} AS TEXT) LIKE '%SUMMARY-%' \
                 OR CAST({column} AS TEXT) LIKE '%QUESTION-%'"
            ),
        )
        .await;
        assert_eq!(found, 0, "plain text in {table_column}");
    }
    let sealed_notes = app
        .store
        .sealed_values(store::SealedColumn::ApplicationNote, None, 100)
        .await
        .unwrap();
    assert_eq!(sealed_notes.len(), 3);

    // Rows an older version wrote in plain text.
    let now = chrono::Utc::now().to_rfc3339();
    raw_sql(
        app,
        &format!(
            "INSERT INTO application_events (application_id, user_id, kind, detail, note_id, \
             created_at) VALUES ('{id}', '{user}', 'note', 'LEGACY-NOTE', 'legacy-note', '{now}')"
        ),
    )
    .await;
    raw_sql(
        app,
        &format!(
            "INSERT INTO application_documents (application_id, version, generator, cover_letter, \
             cv_summary, interview_questions, created_at, id) VALUES ('{id}', 2, 'edited', \
             'LEGACY-LETTER', 'LEGACY-SUMMARY', '[]', '{now}', 'legacy-documents')"
        ),
    )
    .await;
    let events: Value = app
        .get_as(&format!("{path}/events"), token)
        .await
        .json()
        .await
        .unwrap();
    assert!(events.to_string().contains("LEGACY-NOTE"), "{events}");
    let documents: Value = app
        .get_as(&format!("{path}/documents"), token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(documents[0]["version"], 2);
    assert_eq!(documents[0]["cover_letter"], "LEGACY-LETTER");
    let files = web::files::Files::local(app.data_dir().join("files"));
    let sealed = web::keys::Sealed {
        store: app.store.as_ref(),
        files: &files,
    };
    let status = web::keys::status(sealed).await.unwrap();
    assert_eq!(status.get(web::keys::PLAIN), Some(&2), "{status:?}");
    // Plain values need no key: the start-up check passes.
    let server = ring(&[SERVER_KEY]);
    web::keys::check_columns_present(app.store.as_ref(), &server)
        .await
        .unwrap();

    // Rotation seals them with the new key, and re-seals the rest.
    let new_and_server = ring(&[("k2", 2), SERVER_KEY]);
    web::keys::rotate(sealed, &new_and_server, &|_| {})
        .await
        .unwrap();
    let status = web::keys::status(sealed).await.unwrap();
    assert_eq!(status.get(web::keys::PLAIN), None, "{status:?}");
    assert_eq!(status.get(SERVER_KEY.0), None, "{status:?}");
    let legacy = raw_sql(
        app,
        "SELECT COUNT(*) FROM application_events WHERE detail LIKE '%LEGACY%'",
    )
    .await
        + raw_sql(
            app,
            "SELECT COUNT(*) FROM application_documents WHERE cover_letter LIKE '%LEGACY%' \
             OR cv_summary LIKE '%LEGACY%'",
        )
        .await;
    assert_eq!(legacy, 0, "plain text left after the rotation");
    // Everything opens with the new key alone, to what it was.
    let new_only = ring(&[("k2", 2)]);
    let application = domain::ApplicationId::from_uuid(id.parse().unwrap());
    let history = app
        .store
        .application_events(user, application)
        .await
        .unwrap()
        .unwrap();
    let opened: Vec<String> = history
        .into_iter()
        .filter_map(|e| web::applications::open_event(&new_only, e).unwrap().detail)
        .collect();
    for note in ["NOTE-ALPHA", "NOTE-BETA", "NOTE-GAMMA", "LEGACY-NOTE"] {
        assert!(
            opened.iter().any(|d| d.starts_with(note)),
            "{note} not in {opened:?}"
        );
    }
    let versions = app
        .store
        .documents(user, application)
        .await
        .unwrap()
        .unwrap();
    let letters: Vec<String> = versions
        .iter()
        .map(|v| {
            web::applications::open_documents(&new_only, v)
                .unwrap()
                .cover_letter
        })
        .collect();
    assert_eq!(letters, ["LEGACY-LETTER", "LETTER-DELTA Dear team"]);
}
