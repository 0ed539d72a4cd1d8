//! Recruiters: resumes shared with them (and only those, or their own uploads) ranked against
//! a posting; sharing and unsharing; batch uploads with a progress report.

use std::time::{Duration, Instant};

use reqwest::{Method, multipart};
use serde_json::{Value, json};

use crate::harness::{Db, TestApp, assert_error};
use crate::resumes::{app_taking_pushed_jobs, job, push_jobs, upload_parsed};

async fn pushed_job_id(app: &TestApp, token: &str) -> String {
    let jobs = json!([
        job(
            "rust",
            "Senior Rust Engineer",
            &["Rust", "PostgreSQL", "Kubernetes"],
            None
        ),
        job("chef", "Chef", &["Cooking"], None),
    ]);
    push_jobs(app, &jobs).await;
    let listed: Value = app
        .get_as("/api/v1/jobs?source=jobspy&limit=10", token)
        .await
        .json()
        .await
        .unwrap();
    listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["external_id"] == "rust")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The candidates once the index has the posting (it follows within moments).
async fn candidates(app: &TestApp, job: &str, token: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = app
            .get_as(&format!("/api/v1/jobs/{job}/candidates"), token)
            .await;
        if response.status() != 404 {
            assert_eq!(response.status(), 200);
            return response.json().await.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "the posting never reached the index"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn recruiters_rank_the_resumes_shared_with_them(db: Db) {
    let Some(app) = app_taking_pushed_jobs(db).await else {
        return;
    };
    let recruiter = app
        .user("recruiter@example.org", domain::Role::Recruiter)
        .await;
    let other_recruiter = app
        .user("other-recruiter@example.org", domain::Role::Recruiter)
        .await;
    let strong = app.user("strong@example.org", domain::Role::Seeker).await;
    let weak = app.user("weak@example.org", domain::Role::Seeker).await;
    let private = app.user("private@example.org", domain::Role::Seeker).await;
    let job_id = pushed_job_id(&app, &recruiter.access).await;

    let cv = |text: &str| text.as_bytes().to_vec();
    let strong_cv = upload_parsed(
        &app,
        &strong.access,
        "cv.txt",
        cv("Senior Rust engineer: Rust, PostgreSQL, Kubernetes."),
    )
    .await;
    let weak_cv = upload_parsed(
        &app,
        &weak.access,
        "cv.txt",
        cv("Junior developer who knows some Rust."),
    )
    .await;
    let private_cv = upload_parsed(
        &app,
        &private.access,
        "cv.txt",
        cv("Rust, PostgreSQL, Kubernetes expert."),
    )
    .await;
    let id = |cv: &Value| cv["id"].as_str().unwrap().to_owned();

    // Nothing shared yet: nothing to rank.
    let none = candidates(&app, &job_id, &recruiter.access).await;
    assert_eq!(none["items"], json!([]));

    // Shares: by the recruiter's address; only the owner shares, only with recruiters.
    let share = |tokens: &crate::harness::Tokens, cv: String, email: &str| {
        let body = json!({"email": email});
        let token = tokens.access.clone();
        let app = &app;
        async move {
            app.send_as(
                Method::POST,
                &format!("/api/v1/resumes/{cv}/shares"),
                &token,
                Some(&body),
            )
            .await
        }
    };
    let shared = share(&strong, id(&strong_cv), "Recruiter@Example.org").await;
    assert_eq!(shared.status(), 200);
    let shares: Value = shared.json().await.unwrap();
    assert_eq!(shares.as_array().unwrap().len(), 1);
    assert_eq!(shares[0]["recruiter_email"], "recruiter@example.org");
    // Again: no change.
    let again: Value = share(&strong, id(&strong_cv), "recruiter@example.org")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again.as_array().unwrap().len(), 1);
    assert_eq!(
        share(&weak, id(&weak_cv), "recruiter@example.org")
            .await
            .status(),
        200
    );
    for (who, cv, email) in [
        // Not a recruiter, or nobody at all: the same answer.
        (&weak, id(&weak_cv), "strong@example.org"),
        (&weak, id(&weak_cv), "nobody@example.org"),
        (&weak, id(&weak_cv), "not an address"),
        // Someone else's resume.
        (&weak, id(&private_cv), "recruiter@example.org"),
    ] {
        assert_error(share(who, cv, email).await, 404, "not_found").await;
    }

    // The owner's data export lists the share.
    let export: Value = app
        .get_as("/api/v1/me/export", &strong.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        export["resume_shares"][0]["recruiter_email"],
        "recruiter@example.org"
    );
    assert_eq!(export["resume_shares"][0]["resume_id"], strong_cv["id"]);

    // The recruiter ranks the two shared resumes, best first, with explanations; the private
    // one is never among them, and another recruiter sees none.
    let ranked = candidates(&app, &job_id, &recruiter.access).await;
    let items = ranked["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{ranked:#}");
    assert_eq!(items[0]["resume_id"], strong_cv["id"]);
    assert_eq!(items[0]["owner_email"], "strong@example.org");
    assert_eq!(items[0]["shared"], true);
    assert_eq!(items[0]["missing_skills"], json!([]));
    assert_eq!(items[1]["resume_id"], weak_cv["id"]);
    assert_eq!(items[1]["matched_skills"], json!(["Rust"]));
    assert!(items[0]["score"].as_f64() > items[1]["score"].as_f64());
    assert!(items[0]["reason"].as_str().unwrap().contains("skills"));
    assert!(
        !ranked
            .to_string()
            .contains(private_cv["id"].as_str().unwrap())
    );
    let theirs = candidates(&app, &job_id, &other_recruiter.access).await;
    assert_eq!(theirs["items"], json!([]));

    // Seekers may not rank; unknown postings are 404.
    assert_error(
        app.get_as(&format!("/api/v1/jobs/{job_id}/candidates"), &strong.access)
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.get_as(
            &format!("/api/v1/jobs/{}/candidates", uuid::Uuid::now_v7()),
            &recruiter.access,
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // The recruiter downloads a shared file as uploaded; nobody else gets it, and the
    // download is in the audit log.
    let file_path = |cv: &Value| format!("/api/v1/resumes/{}/file", id(cv));
    let downloaded = app.get_as(&file_path(&weak_cv), &recruiter.access).await;
    assert_eq!(downloaded.status(), 200);
    assert_eq!(
        downloaded.bytes().await.unwrap().as_ref(),
        b"Junior developer who knows some Rust."
    );
    for (cv, token) in [
        (&weak_cv, &other_recruiter.access),
        (&weak_cv, &strong.access),
        (&private_cv, &recruiter.access),
    ] {
        assert_error(app.get_as(&file_path(cv), token).await, 404, "not_found").await;
    }
    let audit = app.store.recent_audit(100).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "resumes.shared_download" && e.details.contains(&id(&weak_cv))),
        "{audit:?}"
    );

    // Unsharing takes the resume out of the ranking.
    let recruiter_id = shares[0]["recruiter_id"].as_str().unwrap();
    let path = format!("/api/v1/resumes/{}/shares/{recruiter_id}", id(&weak_cv));
    assert_eq!(
        app.send_as(Method::DELETE, &path, &weak.access, None)
            .await
            .status(),
        204
    );
    assert_error(
        app.send_as(Method::DELETE, &path, &weak.access, None).await,
        404,
        "not_found",
    )
    .await;
    let listed: Value = app
        .get_as(
            &format!("/api/v1/resumes/{}/shares", id(&weak_cv)),
            &weak.access,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]));
    let ranked = candidates(&app, &job_id, &recruiter.access).await;
    assert_eq!(ranked["items"].as_array().unwrap().len(), 1);
    assert_error(
        app.get_as(&file_path(&weak_cv), &recruiter.access).await,
        404,
        "not_found",
    )
    .await;

    // A deleted resume leaves with its shares.
    let deleted = app
        .send_as(
            Method::DELETE,
            &format!("/api/v1/resumes/{}", id(&strong_cv)),
            &strong.access,
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let ranked = candidates(&app, &job_id, &recruiter.access).await;
    assert_eq!(ranked["items"], json!([]));
}

async fn recruiters_upload_batches_and_follow_their_progress(db: Db) {
    let Some(app) = app_taking_pushed_jobs(db).await else {
        return;
    };
    let recruiter = app
        .user("recruiter@example.org", domain::Role::Recruiter)
        .await;
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let job_id = pushed_job_id(&app, &recruiter.access).await;
    let mut form = multipart::Form::new();
    for (name, bytes) in [
        (
            "anna.txt",
            b"Anna: Rust, PostgreSQL and Kubernetes in production.".to_vec(),
        ),
        (
            "boris.md",
            b"# Boris\n\nPython and Django developer.".to_vec(),
        ),
        ("evil.exe", b"MZ\x90\x00\x03\x00\x00\x00binary".to_vec()),
        ("empty.txt", Vec::new()),
        ("big.txt", vec![b'a'; web::resumes::MAX_RESUME_BYTES + 1]),
    ] {
        form = form.part(
            "file",
            multipart::Part::bytes(bytes).file_name(name.to_owned()),
        );
    }
    let response = app
        .client
        .post(app.url("/api/v1/resumes/batch"))
        .bearer_auth(&recruiter.access)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let started: Value = response.json().await.unwrap();
    let accepted: Vec<&str> = started["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["file_name"].as_str().unwrap())
        .collect();
    assert_eq!(accepted, ["anna.txt", "boris.md"]);
    let refused: Vec<(&str, &str)> = started["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["file_name"].as_str().unwrap(),
                r["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(refused.len(), 3, "{started:#}");
    assert!(
        refused.contains(&("big.txt", "payload_too_large")),
        "{refused:?}"
    );
    let batch = started["batch_id"].as_str().unwrap();

    let deadline = Instant::now() + Duration::from_secs(60);
    let progress = loop {
        let progress: Value = app
            .get_as(
                &format!("/api/v1/resumes/batches/{batch}"),
                &recruiter.access,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(progress["total"], 2, "{progress:#}");
        if progress["done"] == true {
            break progress;
        }
        assert!(
            Instant::now() < deadline,
            "the batch never finished: {progress:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(progress["parsed"], 2);
    assert_eq!(progress["pending"], 0);

    // The recruiter's own uploads are candidates too.
    let ranked = candidates(&app, &job_id, &recruiter.access).await;
    let items = ranked["items"].as_array().unwrap();
    assert_eq!(items[0]["file_name"], "anna.txt", "{ranked:#}");
    assert_eq!(items[0]["shared"], false);
    assert_eq!(items[0]["owner_email"], "recruiter@example.org");

    // Seekers do not batch-upload; nobody else sees the batch.
    let form = multipart::Form::new().part(
        "file",
        multipart::Part::bytes(b"text".to_vec()).file_name("a.txt"),
    );
    let refused = app
        .client
        .post(app.url("/api/v1/resumes/batch"))
        .bearer_auth(&seeker.access)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_error(refused, 403, "forbidden").await;
    let other = app.user("admin@example.org", domain::Role::Admin).await;
    assert_error(
        app.get_as(&format!("/api/v1/resumes/batches/{batch}"), &other.access)
            .await,
        404,
        "not_found",
    )
    .await;
}

crate::on_both_databases!(
    recruiters_rank_the_resumes_shared_with_them,
    recruiters_upload_batches_and_follow_their_progress
);
