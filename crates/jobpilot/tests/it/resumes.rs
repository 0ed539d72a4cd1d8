//! Resumes end to end: uploads of every accepted format are sniffed, stored sealed, parsed by
//! the task queue (PDFs in the sandbox child) into skills, experience and seniority; hostile
//! and malformed files get clear errors or a clear failed state; other users see nothing;
//! parsed resumes are matched to jobs with explanations, a skill gap and salary estimates.

use std::time::{Duration, Instant};

use reqwest::{Method, multipart};
use serde_json::{Value, json};

use crate::harness::{Db, TestApp, assert_error};

pub(crate) const INTERNAL_KEY: &str = "internal-key-for-tests-0123456789abcdef";
const CANARY: &str = "CANARY-7f3a9c-resume-secret";

pub(crate) async fn upload(
    app: &TestApp,
    token: &str,
    name: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let form = multipart::Form::new().part(
        "file",
        multipart::Part::bytes(bytes).file_name(name.to_owned()),
    );
    app.client
        .post(app.url("/api/v1/resumes"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Uploads and waits for the parse task; returns the resume as then stored.
pub(crate) async fn upload_parsed(app: &TestApp, token: &str, name: &str, bytes: Vec<u8>) -> Value {
    let response = upload(app, token, name, bytes).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    // Usually still pending; a fast worker may have read it already.
    let status = body["resume"]["status"].as_str().unwrap();
    assert!(["pending", "parsed", "failed"].contains(&status), "{body}");
    let task = body["task_id"].as_str().unwrap().to_owned();
    app.wait_for_task(&task, token).await;
    let id = body["resume"]["id"].as_str().unwrap();
    app.get_as(&format!("/api/v1/resumes/{id}"), token)
        .await
        .json()
        .await
        .unwrap()
}

fn resume_text() -> String {
    format!(
        "Jane Doe — Senior Backend Engineer\n\
         7+ years of experience building services in Rust and Python.\n\
         Skills: Rust, PostgreSQL, k8s, Docker, Kafka.\n\
         {CANARY}\n"
    )
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

async fn resumes_upload_parse_and_isolation(db: Db) {
    let Some(app) = TestApp::builder(db).with_workers().spawn().await else {
        return;
    };
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let other = app.user("other@example.org", domain::Role::Seeker).await;
    let token = seeker.access.as_str();

    // Plain text: skills canonical, experience and seniority as stated.
    let text = upload_parsed(&app, token, "cv.txt", resume_text().into_bytes()).await;
    assert_eq!(text["status"], "parsed", "{text}");
    assert_eq!(text["kind"], "text");
    let skills = names(&text["skills"]);
    for expected in [
        "Rust",
        "PostgreSQL",
        "Kubernetes",
        "Docker",
        "Apache Kafka",
        "Python",
    ] {
        assert!(
            skills.contains(&expected.to_owned()),
            "{expected} missing: {skills:?}"
        );
    }
    assert_eq!(text["years_experience"], 7.0);
    assert_eq!(text["seniority"], "senior");
    assert!(text["text"].as_str().unwrap().contains(CANARY));

    // Word and PDF (the PDF through the sandboxed child process), whatever the name claims.
    let docx = extract::fixtures::docx(&[
        "Data Analyst",
        "Опыт работы более 3 лет",
        "SQL, Tableau, Excel",
    ]);
    let docx = upload_parsed(&app, token, "resume.bin", docx).await;
    assert_eq!(
        (docx["status"].as_str(), docx["kind"].as_str()),
        (Some("parsed"), Some("docx")),
        "{docx}"
    );
    assert!(names(&docx["skills"]).contains(&"SQL".to_owned()), "{docx}");
    assert_eq!(docx["years_experience"], 3.0);
    let pdf = extract::fixtures::pdf(&["Go developer with Terraform and AWS"]);
    let pdf = upload_parsed(&app, token, "cv.pdf", pdf).await;
    assert_eq!(pdf["status"], "parsed", "{pdf}");
    assert_eq!(pdf["kind"], "pdf");
    assert!(
        names(&pdf["skills"]).contains(&"Terraform".to_owned()),
        "{pdf}"
    );

    // Hostile and malformed files: refused at once, or a clear failed state after parsing.
    let png = [&b"\x89PNG\r\n\x1a\n"[..], &[0u8; 64]].concat();
    assert_error(
        upload(&app, token, "cv.pdf", png).await,
        422,
        "unsupported_file",
    )
    .await;
    assert_error(
        upload(&app, token, "cv.txt", Vec::new()).await,
        422,
        "unsupported_file",
    )
    .await;
    assert_error(
        upload(&app, token, "big.txt", vec![b'a'; 11 * 1024 * 1024]).await,
        413,
        "payload_too_large",
    )
    .await;
    let no_file = app
        .client
        .post(app.url("/api/v1/resumes"))
        .bearer_auth(token)
        .multipart(multipart::Form::new().text("note", "hello"))
        .send()
        .await
        .unwrap();
    assert_error(no_file, 400, "bad_request").await;
    let not_multipart = app
        .client
        .post(app.url("/api/v1/resumes"))
        .bearer_auth(token)
        .json(&json!({"file": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(not_multipart, 400, "bad_request").await;
    let bomb_body = format!(
        "<w:p><w:r><w:t>{}</w:t></w:r></w:p>",
        "a".repeat(30 * 1024 * 1024)
    );
    let bomb = upload_parsed(
        &app,
        token,
        "bomb.docx",
        extract::fixtures::docx_with_body(&bomb_body),
    )
    .await;
    assert_eq!(bomb["status"], "failed");
    assert!(
        bomb["error"]
            .as_str()
            .unwrap()
            .contains("not a plausible document"),
        "{bomb}"
    );
    let encrypted = upload_parsed(
        &app,
        token,
        "locked.pdf",
        extract::fixtures::encrypted_pdf(),
    )
    .await;
    assert_eq!(encrypted["status"], "failed");
    assert!(
        encrypted["error"].as_str().unwrap().contains("password"),
        "{encrypted}"
    );
    let corrupt = upload_parsed(
        &app,
        token,
        "broken.pdf",
        b"%PDF-1.7\n garbage \x00\x01".to_vec(),
    )
    .await;
    assert_eq!(corrupt["status"], "failed", "{corrupt}");

    // The original comes back as uploaded, as an attachment.
    let original = app
        .get_as(
            &format!("/api/v1/resumes/{}/file", text["id"].as_str().unwrap()),
            token,
        )
        .await;
    assert_eq!(original.status(), 200);
    assert_eq!(
        original.headers()["content-type"],
        "application/octet-stream"
    );
    assert!(
        original.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(original.text().await.unwrap(), resume_text());

    // Listing: the caller's own, newest first.
    let listed: Value = app
        .get_as("/api/v1/resumes", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 6);
    assert_eq!(listed[0]["id"], corrupt["id"]);
    assert!(listed[0].get("text").is_none(), "the list carries no text");

    // Editing the skills: aliases become canonical names.
    let id = text["id"].as_str().unwrap();
    let edited = app
        .send_as(
            Method::PATCH,
            &format!("/api/v1/resumes/{id}"),
            token,
            Some(&json!({"skills": ["k8s", "Rust", "Rust", "Underwater basket weaving"]})),
        )
        .await;
    assert_eq!(edited.status(), 200);
    let edited: Value = edited.json().await.unwrap();
    assert_eq!(
        names(&edited["skills"]),
        ["Kubernetes", "Rust", "Underwater basket weaving"]
    );
    assert_eq!(edited["skills_edited"], true);
    let too_many: Vec<String> = (0..201).map(|i| format!("skill {i}")).collect();
    assert_error(
        app.send_as(
            Method::PATCH,
            &format!("/api/v1/resumes/{id}"),
            token,
            Some(&json!({"skills": too_many})),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;

    // Another user sees none of it.
    let theirs = other.access.as_str();
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"skills": []}))),
        (Method::DELETE, None),
    ] {
        assert_error(
            app.send_as(
                method,
                &format!("/api/v1/resumes/{id}"),
                theirs,
                body.as_ref(),
            )
            .await,
            404,
            "not_found",
        )
        .await;
    }
    assert_error(
        app.get_as(&format!("/api/v1/resumes/{id}/matches"), theirs)
            .await,
        404,
        "not_found",
    )
    .await;
    let theirs_listed: Value = app
        .get_as("/api/v1/resumes", theirs)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs_listed, json!([]));

    // At rest, neither the database nor the file storage holds the resume's text.
    let data_dir = app.data_dir();
    let mut at_rest = walk(&data_dir);
    at_rest.extend(app.sqlite_files());
    assert!(
        at_rest
            .iter()
            .any(|p| p.starts_with(data_dir.join("files")))
    );
    for entry in at_rest {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
            "{} holds the resume's text in the clear",
            entry.display()
        );
    }

    // Deleting removes the row and the file.
    let deleted = app
        .send_as(
            Method::DELETE,
            &format!("/api/v1/resumes/{id}"),
            token,
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    assert_error(
        app.get_as(&format!("/api/v1/resumes/{id}"), token).await,
        404,
        "not_found",
    )
    .await;
    let files: Vec<_> = walk(&data_dir.join("files"));
    assert_eq!(files.len(), 5, "{files:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A server with workers that takes postings pushed with [`INTERNAL_KEY`] (see [`push_jobs`]).
pub(crate) async fn app_taking_pushed_jobs(db: Db) -> Option<TestApp> {
    TestApp::builder(db)
        .with_workers()
        .env("JOBPILOT_INTERNAL_API_KEY", INTERNAL_KEY)
        .spawn()
        .await
}

/// Pushes postings in as a scraper would (the app needs `JOBPILOT_INTERNAL_API_KEY` set to
/// [`INTERNAL_KEY`]).
pub(crate) async fn push_jobs(app: &TestApp, jobs: &Value) {
    let pushed = app
        .client
        .post(app.url("/internal/v1/jobs"))
        .header("x-internal-api-key", INTERNAL_KEY)
        .json(jobs)
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 200);
}

pub(crate) fn job(id: &str, title: &str, skills: &[&str], salary: Option<(u32, u32)>) -> Value {
    let mut job = json!({
        "source": "jobspy", "external_id": id, "url": format!("https://jobs.example.org/{id}"),
        "title": title, "company": format!("Company {id}"), "skills": skills,
        "published_at": "2026-11-28T00:00:00Z",
    });
    if let Some((min, max)) = salary {
        job["salary"] = json!({"min": min, "max": max, "currency": "EUR", "period": "year"});
    }
    job
}

async fn resumes_match_jobs_with_explanations(db: Db) {
    let Some(app) = app_taking_pushed_jobs(db).await else {
        return;
    };
    let mut jobs = vec![
        job(
            "a",
            "Senior Rust Engineer",
            &["Rust", "PostgreSQL", "Kubernetes"],
            Some((90_000, 110_000)),
        ),
        job(
            "b",
            "Backend Engineer",
            &["Rust", "AWS", "Terraform", "Kafka"],
            None,
        ),
        job("c", "Chef", &["Cooking"], None),
    ];
    for i in 0..6 {
        jobs.push(job(
            &format!("de{i}"),
            "Data Engineer",
            &["Python", "Kafka", "Spark"][..if i < 3 { 3 } else { 2 }],
            Some((50_000 + i * 10_000, 70_000 + i * 10_000)),
        ));
    }
    push_jobs(&app, &Value::Array(jobs)).await;
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let token = seeker.access.as_str();
    let resume = upload_parsed(&app, token, "cv.md", resume_text().into_bytes()).await;
    let id = resume["id"].as_str().unwrap();

    // The index follows the pushed jobs within moments.
    let deadline = Instant::now() + Duration::from_secs(20);
    let matches = loop {
        let body: Value = app
            .get_as(&format!("/api/v1/resumes/{id}/matches?limit=20"), token)
            .await
            .json()
            .await
            .unwrap();
        if body["items"]
            .as_array()
            .is_some_and(|items| items.len() >= 3)
        {
            break body;
        }
        assert!(Instant::now() < deadline, "no matches: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let first = &matches["items"][0];
    assert_eq!(first["job"]["external_id"], "a", "{matches:#}");
    assert_eq!(first["missing_skills"], json!([]));
    assert!(first["score"].as_f64().unwrap() > matches["items"][1]["score"].as_f64().unwrap());
    assert!(first["reason"].as_str().unwrap().contains("skills"));
    let features: Vec<&str> = first["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["feature"].as_str().unwrap())
        .collect();
    assert_eq!(
        features,
        [
            "skills",
            "title",
            "seniority",
            "location",
            "salary",
            "recency"
        ]
    );
    let chef = matches["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["job"]["external_id"] == "c");
    assert!(!chef, "a posting sharing no skill is not a match");
    let b = matches["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["job"]["external_id"] == "b")
        .unwrap();
    assert_eq!(names(&b["missing_skills"]).len(), 2, "{b}");

    // Skill gap for a target role, and what it pays.
    let gap: Value = app
        .get_as(
            &format!("/api/v1/resumes/{id}/skill-gap?role=data%20engineer"),
            token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(gap["postings"], 6, "{gap}");
    // The index is complete: no answer says it is partial.
    for answer in [&matches, &gap] {
        assert!(answer.get("partial").is_none(), "{answer}");
    }
    let missing: Vec<(String, f64)> = gap["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["skill"].as_str().unwrap().to_owned(),
                s["share"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        missing,
        [("Apache Spark".to_owned(), 0.5)],
        "python and kafka are in the resume"
    );
    assert_error(
        app.get_as(&format!("/api/v1/resumes/{id}/skill-gap?role=chef"), token)
            .await,
        422,
        "too_few_postings",
    )
    .await;
    let estimate: Value = app
        .get_as(
            "/api/v1/salary-estimate?role=data%20engineer&currency=EUR&period=month",
            token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(estimate["postings"], 6, "{estimate}");
    assert!(estimate.get("partial").is_none(), "{estimate}");
    // Midpoints 60k…110k EUR a year: the median is 85k a year, about 7,083 a month.
    let p50 = estimate["p50"].as_f64().unwrap();
    assert!((p50 - 85_000.0 / 12.0).abs() < 1.0, "{estimate}");
    assert_error(
        app.get_as("/api/v1/salary-estimate?role=chef", token).await,
        422,
        "too_few_postings",
    )
    .await;
    assert_error(
        app.get_as("/api/v1/salary-estimate?role=chef&currency=XX", token)
            .await,
        422,
        "validation_failed",
    )
    .await;

    // A resume with no recognisable skills: no matches, and a note saying why.
    let blank = upload_parsed(
        &app,
        token,
        "empty.txt",
        b"Hello, I like long walks.".to_vec(),
    )
    .await;
    assert_eq!(blank["skills"], json!([]));
    let body: Value = app
        .get_as(
            &format!("/api/v1/resumes/{}/matches", blank["id"].as_str().unwrap()),
            token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["items"], json!([]));
    assert!(body["note"].as_str().unwrap().contains("no skills"));
    // A malformed parameter is refused there too, before the empty answer.
    assert_error(
        app.get_as(
            &format!(
                "/api/v1/resumes/{}/matches?salary_min=-1",
                blank["id"].as_str().unwrap()
            ),
            token,
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
}

/// Matches are cached per resume, but never served stale: a new posting reaches them once the
/// index has it, and an edit of the resume's skills changes them at once.
async fn cached_matches_follow_the_index_and_the_resume(db: Db) {
    let Some(app) = app_taking_pushed_jobs(db).await else {
        return;
    };
    let push = |jobs: Value| {
        let app = &app;
        async move { push_jobs(app, &jobs).await }
    };
    push(json!([job("first", "Rust Engineer", &["Rust"], None)])).await;
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let token = seeker.access.as_str();
    let resume = upload_parsed(&app, token, "cv.txt", b"Rust and Elixir developer".to_vec()).await;
    let id = resume["id"].as_str().unwrap();
    let matched = |want: usize| {
        let app = &app;
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let body: Value = app
                    .get_as(&format!("/api/v1/resumes/{id}/matches"), token)
                    .await
                    .json()
                    .await
                    .unwrap();
                let ids: Vec<String> = body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["job"]["external_id"].as_str().unwrap().to_owned())
                    .collect();
                if ids.len() == want {
                    return ids;
                }
                assert!(Instant::now() < deadline, "never {want} matches: {body}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert_eq!(matched(1).await, ["first"]);
    // Asked again (from the cache), the same.
    assert_eq!(matched(1).await, ["first"]);

    // A new posting reaches the matches once indexed.
    push(json!([job(
        "second",
        "Elixir Engineer",
        &["Elixir", "Rust"],
        None
    )]))
    .await;
    let mut both = matched(2).await;
    both.sort();
    assert_eq!(both, ["first", "second"]);

    // The owner drops Elixir: the cached ranking is not served.
    let edited = app
        .send_as(
            Method::PATCH,
            &format!("/api/v1/resumes/{id}"),
            token,
            Some(&json!({"skills": ["Rust"]})),
        )
        .await;
    assert_eq!(edited.status(), 200);
    let body: Value = app
        .get_as(&format!("/api/v1/resumes/{id}/matches"), token)
        .await
        .json()
        .await
        .unwrap();
    let second = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["job"]["external_id"] == "second")
        .unwrap();
    assert_eq!(second["missing_skills"], json!(["Elixir"]), "{body}");
}

/// An OpenAI-compatible embeddings server whose vectors count topic words: storage, the
/// browser, and a constant. It records every request; its mode is [`STUB_UP`], [`STUB_DOWN`]
/// (answers 500) or [`STUB_SLOW`] (answers after 10 s).
async fn embeddings_stub() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    std::sync::Arc<std::sync::atomic::AtomicU8>,
) {
    use axum::{Json, Router, http::StatusCode, response::IntoResponse, routing::post};
    use std::sync::{Arc, Mutex, atomic::AtomicU8};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let down = Arc::new(AtomicU8::new(STUB_UP));
    let (recorded, failing) = (seen.clone(), down.clone());
    let router = Router::new().route(
        "/v1/embeddings",
        post(move |Json(body): Json<Value>| {
            let (recorded, failing) = (recorded.clone(), failing.clone());
            async move {
                recorded.lock().unwrap().push(body.clone());
                match failing.load(std::sync::atomic::Ordering::SeqCst) {
                    STUB_DOWN => {
                        return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
                    }
                    STUB_SLOW => tokio::time::sleep(Duration::from_secs(10)).await,
                    _ => {}
                }
                let count = |text: &str, words: &[&str]| {
                    let text = text.to_lowercase();
                    words.iter().map(|w| text.matches(w).count()).sum::<usize>() as f32
                };
                let data: Vec<Value> = body["input"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .enumerate()
                    .map(|(index, text)| {
                        let text = text.as_str().unwrap();
                        let vector = [
                            count(text, &["database", "storage"]),
                            count(text, &["frontend", "browser"]),
                            0.1,
                        ];
                        json!({"object": "embedding", "index": index, "embedding": vector})
                    })
                    .collect();
                Json(json!({"object": "list", "data": data, "model": "embed-stub"})).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, seen, down)
}

/// A resume's matches (`path`) once the index has `count` of them (it follows within moments).
pub(crate) async fn matches_once_indexed(
    app: &TestApp,
    path: &str,
    token: &str,
    count: usize,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found: Value = app.get_as(path, token).await.json().await.unwrap();
        if found["items"]
            .as_array()
            .is_some_and(|items| items.len() == count)
        {
            return found;
        }
        assert!(Instant::now() < deadline, "never matched: {found}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn an_embedding_model_reranks_matches_by_text(db: Db) {
    let (base, seen, down) = embeddings_stub().await;
    let Some(app) = TestApp::builder(db)
        .with_workers()
        .env("JOBPILOT_INTERNAL_API_KEY", INTERNAL_KEY)
        .env("JOBPILOT_LLM_BASE_URL", &base)
        .env("JOBPILOT_LLM_MODEL", "chat-stub")
        .env("JOBPILOT_EMBEDDINGS_MODEL", "embed-stub")
        .spawn()
        .await
    else {
        return;
    };
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let token = seeker.access.as_str();
    // Alike to the index (same title and skill); the browser one is newer, so without the
    // texts it would come first.
    let mut browser = job("browser", "Rust Engineer", &["Rust"], None);
    browser["published_at"] = json!(chrono::Utc::now().to_rfc3339());
    browser["description_html"] =
        json!("<p>Frontend work: a browser UI, frontend tooling, browser extensions.</p>");
    let mut storage = job("storage", "Rust Engineer", &["Rust"], None);
    storage["description_html"] =
        json!("<p>Database internals: the storage engine, database replication.</p>");
    push_jobs(&app, &json!([browser, storage])).await;
    let resume = upload_parsed(
        &app,
        token,
        "cv.txt",
        b"Rust engineer who builds database storage engines.".to_vec(),
    )
    .await;
    let path = format!("/api/v1/resumes/{}/matches", resume["id"].as_str().unwrap());
    let found = matches_once_indexed(&app, &path, token, 2).await;
    let items = found["items"].as_array().unwrap();
    assert_eq!(items[0]["job"]["external_id"], "storage", "{found:#}");
    let semantic = |item: &Value| {
        item["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["feature"] == "semantic")
            .map(|f| f["value"].as_f64().unwrap())
    };
    assert!(semantic(&items[0]).unwrap() > 0.9, "{found:#}");
    assert!(semantic(&items[1]).unwrap() < 0.2, "{found:#}");
    let contributions: f64 = items[0]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["contribution"].as_f64().unwrap())
        .sum();
    assert!((contributions - items[0]["score"].as_f64().unwrap()).abs() < 1e-3);
    // What was sent: the model, and the resume's skills and text.
    let requests = seen.lock().unwrap().clone();
    assert!(requests.iter().all(|r| r["model"] == "embed-stub"));
    let sent = |needle: &str| {
        requests.iter().any(|r| {
            r["input"]
                .as_array()
                .unwrap()
                .iter()
                .any(|input| input.as_str().unwrap().contains(needle))
        })
    };
    assert!(sent(
        "Rust\nRust engineer who builds database storage engines."
    ));

    // Asked again: from memory, nothing embedded again.
    let before = seen.lock().unwrap().len();
    let again: Value = app.get_as(&path, token).await.json().await.unwrap();
    assert_eq!(again["items"][0]["job"]["external_id"], "storage");
    assert_eq!(seen.lock().unwrap().len(), before);

    // The model down: matches still come, ranked without it, and say so.
    down.store(STUB_DOWN, std::sync::atomic::Ordering::SeqCst);
    let other = upload_parsed(
        &app,
        token,
        "cv2.txt",
        b"Rust developer, storage and database work.".to_vec(),
    )
    .await;
    let response = app
        .get_as(
            &format!("/api/v1/resumes/{}/matches", other["id"].as_str().unwrap()),
            token,
        )
        .await;
    assert_eq!(response.status(), 200);
    let degraded: Value = response.json().await.unwrap();
    assert_eq!(degraded["items"].as_array().unwrap().len(), 2, "{degraded}");
    assert!(
        degraded["note"]
            .as_str()
            .unwrap()
            .contains("embedding model")
    );
    assert!(semantic(&degraded["items"][0]).is_none());

    // The model too slow: the answer comes after the match timeout, ranked without it.
    down.store(STUB_SLOW, std::sync::atomic::Ordering::SeqCst);
    let third = upload_parsed(
        &app,
        token,
        "cv3.txt",
        b"Rust developer for storage systems.".to_vec(),
    )
    .await;
    let started = Instant::now();
    let response = app
        .get_as(
            &format!("/api/v1/resumes/{}/matches", third["id"].as_str().unwrap()),
            token,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
    let slow: Value = response.json().await.unwrap();
    assert!(
        slow["note"].as_str().unwrap().contains("embedding model"),
        "{slow}"
    );
}

const STUB_UP: u8 = 0;
const STUB_DOWN: u8 = 1;
const STUB_SLOW: u8 = 2;

/// A scanned resume (a PDF of page images, no text of its own) is read with OCR when it is
/// installed (as in CI).
async fn scanned_resumes_are_read_with_ocr(db: Db) {
    if crate::pdf_sandbox::ocr_or_skip().is_none() {
        return;
    }
    let Some(app) = TestApp::builder(db).with_workers().spawn().await else {
        return;
    };
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let scan = crate::pdf_sandbox::scanned(&[
        "Jane Doe\nSenior Rust Engineer\n7 years of Rust, PostgreSQL and Kubernetes",
    ]);
    let parsed = upload_parsed(&app, &seeker.access, "scan.pdf", scan).await;
    assert_eq!(parsed["status"], "parsed", "{parsed}");
    assert_eq!(parsed["kind"], "pdf");
    let skills = names(&parsed["skills"]);
    for expected in ["Rust", "PostgreSQL", "Kubernetes"] {
        assert!(
            skills.contains(&expected.to_owned()),
            "{expected}: {parsed}"
        );
    }
    assert!(
        parsed["text"]
            .as_str()
            .unwrap()
            .contains("Senior Rust Engineer"),
        "{parsed}"
    );
}

crate::on_both_databases!(
    scanned_resumes_are_read_with_ocr,
    resumes_upload_parse_and_isolation,
    resumes_match_jobs_with_explanations,
    cached_matches_follow_the_index_and_the_resume,
    an_embedding_model_reranks_matches_by_text
);
