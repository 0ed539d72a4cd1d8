//! A local sentence model (`JOBPILOT_EMBEDDINGS_MODEL_DIR`) re-ranks matches in the server,
//! with nothing sent anywhere.

use serde_json::json;

use crate::harness::{Db, TestApp};
use crate::resumes::{INTERNAL_KEY, job, matches_once_indexed, push_jobs, upload_parsed};

async fn a_local_embedding_model_reranks_matches(db: Db) {
    let model = tempfile::tempdir().unwrap();
    embed::fixture::write_tiny_model(model.path()).unwrap();
    let Some(app) = TestApp::builder(db)
        .with_workers()
        .env("JOBPILOT_INTERNAL_API_KEY", INTERNAL_KEY)
        .env(
            "JOBPILOT_EMBEDDINGS_MODEL_DIR",
            model.path().to_str().unwrap(),
        )
        .spawn()
        .await
    else {
        return;
    };
    let seeker = app.user("seeker@example.org", domain::Role::Seeker).await;
    let token = seeker.access.as_str();
    // Alike to the index (same title and skill); their texts differ. The tiny model knows
    // only word overlap, which is all this needs.
    let mut backend = job("backend", "Rust Engineer", &["Rust"], None);
    backend["description_html"] = json!("<p>backend data postgres kafka backend data</p>");
    let mut kitchen = job("kitchen", "Rust Engineer", &["Rust"], None);
    kitchen["description_html"] = json!("<p>kitchen restaurant menu cooking chef</p>");
    push_jobs(&app, &json!([backend, kitchen])).await;
    let resume = upload_parsed(
        &app,
        token,
        "cv.txt",
        b"Rust engineer: backend data, postgres and kafka.".to_vec(),
    )
    .await;
    let path = format!("/api/v1/resumes/{}/matches", resume["id"].as_str().unwrap());
    let found = matches_once_indexed(&app, &path, token, 2).await;
    assert!(found["note"].is_null(), "{found:#}");
    let semantic = |external_id: &str| {
        found["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["job"]["external_id"] == external_id)
            .unwrap()["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["feature"] == "semantic")
            .map(|f| f["value"].as_f64().unwrap())
            .unwrap()
    };
    let (near, far) = (semantic("backend"), semantic("kitchen"));
    assert!(near > far, "backend {near}, kitchen {far}: {found:#}");
    assert_eq!(
        found["items"][0]["job"]["external_id"], "backend",
        "{found:#}"
    );
}

crate::on_both_databases!(a_local_embedding_model_reranks_matches);
