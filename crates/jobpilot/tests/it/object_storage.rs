//! Resume files in an S3-compatible bucket. Runs when `JOBPILOT_TEST_S3_ENDPOINT` names an S3
//! service that accepts any credentials (CI starts one; see `.ci/run`); says it was skipped
//! otherwise.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use web::files::{Files, S3Settings};

use crate::harness::{Db, TestApp};

const CANARY: &str = "CANARY-s3-51d0e2-resume-secret";

/// The service's URL and a fresh bucket on it; `None` (after saying so) without one.
async fn bucket() -> Option<(String, String)> {
    crate::harness::init();
    let Ok(endpoint) = std::env::var("JOBPILOT_TEST_S3_ENDPOINT") else {
        eprintln!("skipped: JOBPILOT_TEST_S3_ENDPOINT is not set, so the S3 tests did not run");
        return None;
    };
    let bucket = format!("jobpilot-test-{}", uuid::Uuid::new_v4().simple());
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());
    Some((endpoint, bucket))
}

fn settings(endpoint: &str, bucket: &str, prefix: &str) -> S3Settings {
    S3Settings {
        bucket: bucket.to_owned(),
        endpoint: Some(endpoint.to_owned()),
        region: "us-east-1".to_owned(),
        access_key_id: Some("test-key-id".to_owned()),
        secret_access_key: Some("test-secret-key".to_owned()),
        prefix: prefix.to_owned(),
    }
}

/// Every object in the bucket, as (key, bytes): listed over plain HTTP, read (signed) at the
/// bucket's root, whatever prefix jobpilot uses.
async fn objects(endpoint: &str, bucket: &str) -> Vec<(String, Vec<u8>)> {
    let listing = reqwest::Client::new()
        .get(format!("{endpoint}/{bucket}?list-type=2"))
        .send()
        .await
        .unwrap();
    assert!(listing.status().is_success(), "{}", listing.status());
    let listing = listing.text().await.unwrap();
    let root = Files::s3(&settings(endpoint, bucket, "")).unwrap();
    let mut out = Vec::new();
    for part in listing.split("<Key>").skip(1) {
        let key = part.split("</Key>").next().unwrap().to_owned();
        let bytes = root.get(&key).await.unwrap();
        out.push((key, bytes));
    }
    out
}

/// Stands in for a key ring's output: the storage never looks inside.
fn sealed(bytes: &[u8]) -> domain::Sealed {
    domain::Sealed::from_stored(bytes.to_vec())
}

#[tokio::test]
async fn files_round_trip_in_a_bucket_under_their_prefix() {
    let Some((endpoint, bucket)) = bucket().await else {
        return;
    };
    let files = Files::s3(&settings(&endpoint, &bucket, "deploy-a")).unwrap();
    assert_eq!(files.describe(), format!("s3://{bucket}/deploy-a"));
    files
        .put("resumes/u1/r1", sealed(b"sealed bytes"))
        .await
        .unwrap();
    assert_eq!(files.get("resumes/u1/r1").await.unwrap(), b"sealed bytes");
    assert_eq!(files.head("resumes/u1/r1", 6).await.unwrap(), b"sealed");
    // A head longer than the object is the whole object.
    assert_eq!(
        files.head("resumes/u1/r1", 4096).await.unwrap(),
        b"sealed bytes"
    );
    files.put("resumes/u1/r1", sealed(b"again")).await.unwrap();
    assert_eq!(files.get("resumes/u1/r1").await.unwrap(), b"again");
    let stored = objects(&endpoint, &bucket).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0, "deploy-a/resumes/u1/r1");

    files.delete("resumes/u1/r1").await.unwrap();
    files.delete("resumes/u1/r1").await.unwrap();
    let missing = files.get("resumes/u1/r1").await.unwrap_err();
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    let missing = files.head("resumes/u1/r1", 8).await.unwrap_err();
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    for bad in ["../x", "a/../../x", "/etc/passwd", "a//b", "", "a/b.c"] {
        let error = files.put(bad, sealed(b"")).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{bad}");
    }
    assert!(objects(&endpoint, &bucket).await.is_empty());

    // Half a credential pair, or a prefix that is not a plain folder, is refused at start.
    let mut half = settings(&endpoint, &bucket, "");
    half.secret_access_key = None;
    assert!(Files::s3(&half).is_err());
    assert!(Files::s3(&settings(&endpoint, &bucket, "../up")).is_err());
}

/// The whole path through the server: an upload is sealed into the bucket (never the local
/// disk), parsed from there, re-sealed by a key rotation, and deleted with the resume.
async fn resumes_live_in_the_bucket_when_one_is_configured(db: Db) {
    let Some((endpoint, bucket)) = bucket().await else {
        return;
    };
    let Some(app) = TestApp::builder(db)
        .env("JOBPILOT_S3_BUCKET", &bucket)
        .env("JOBPILOT_S3_ENDPOINT", &endpoint)
        .env("JOBPILOT_S3_PREFIX", "jobpilot")
        .env("JOBPILOT_S3_ACCESS_KEY_ID", "test-key-id")
        .env("JOBPILOT_S3_SECRET_ACCESS_KEY", "test-secret-key")
        .with_workers()
        .spawn()
        .await
    else {
        return;
    };
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let token = seeker.access.as_str();
    let text = format!("Jane Doe. {CANARY}. Senior Rust engineer, Kubernetes and PostgreSQL.");
    let resume =
        crate::resumes::upload_parsed(&app, token, "cv.txt", text.clone().into_bytes()).await;
    assert_eq!(resume["status"], "parsed", "{resume}");
    let skills = resume["skills"].as_array().unwrap();
    assert!(skills.contains(&Value::from("Rust")), "{resume}");
    let id = resume["id"].as_str().unwrap().to_owned();

    // In the bucket, sealed; nothing under the data directory's files folder.
    let stored = objects(&endpoint, &bucket).await;
    assert_eq!(
        stored.len(),
        1,
        "{:?}",
        stored.iter().map(|o| &o.0).collect::<Vec<_>>()
    );
    assert!(
        stored[0].0.starts_with("jobpilot/resumes/"),
        "{}",
        stored[0].0
    );
    assert!(
        !stored[0]
            .1
            .windows(CANARY.len())
            .any(|w| w == CANARY.as_bytes()),
        "the object holds the resume in the clear"
    );
    assert!(!app.data_dir().join("files").exists());
    // The owner downloads the original.
    let download = app
        .get_as(&format!("/api/v1/resumes/{id}/file"), token)
        .await;
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap(), text.as_bytes());

    // Rotation reaches the object too.
    let files = Files::s3(&settings(&endpoint, &bucket, "jobpilot")).unwrap();
    let sealed = web::keys::Sealed {
        store: app.store.as_ref(),
        files: &files,
    };
    let status = web::keys::status(sealed).await.unwrap();
    assert_eq!(status.get("test"), Some(&2), "{status:?}");
    let ring = auth::KeyRing::new(vec![
        ("next".to_owned(), vec![9; 32]),
        ("test".to_owned(), vec![0x42; 32]),
    ])
    .unwrap();
    assert_eq!(web::keys::rotate(sealed, &ring, &|_| {}).await.unwrap(), 2);
    let object = &objects(&endpoint, &bucket).await[0].1;
    assert_eq!(auth::KeyRing::key_id_of(object).unwrap(), "next");

    // Deleting the resume deletes the object.
    let deleted = app
        .send_as(
            Method::DELETE,
            &format!("/api/v1/resumes/{id}"),
            token,
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !objects(&endpoint, &bucket).await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the object outlived its resume"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

crate::on_both_databases!(resumes_live_in_the_bucket_when_one_is_configured);
