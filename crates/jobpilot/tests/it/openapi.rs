//! The OpenAPI document: served, snapshot-tested, complete.

use crate::harness::{Db, TestApp};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[tokio::test]
async fn the_served_document_is_the_generated_one_and_matches_the_snapshot() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    let served: serde_json::Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let generated = serde_json::to_value(web::openapi()).unwrap();
    assert_eq!(served, generated);
    assert_eq!(served["openapi"], "3.1.0");
    insta::assert_json_snapshot!("openapi", served);
}

/// Every documented operation answers on its route (no 404 "no route", no 405), and lists the
/// error responses it can give, each in the one error shape.
#[tokio::test]
async fn every_documented_operation_is_routed_and_lists_its_errors() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    let spec = serde_json::to_value(web::openapi()).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    assert!(!paths.is_empty());
    for (path, item) in paths {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let responses = operation["responses"].as_object().unwrap();
            for status in ["500", "503"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} lacks {status}"
                );
            }
            if operation.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} lacks {status}"
                    );
                }
            }
            for (status, response) in responses {
                // Protocol switches, successes and redirects have their own shapes.
                if status.starts_with('1') || status.starts_with('2') || status.starts_with('3') {
                    continue;
                }
                let schema =
                    resolve(&spec, response)["content"]["application/json"]["schema"]["$ref"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                assert_eq!(
                    schema, "#/components/schemas/ErrorResponse",
                    "{method} {path} {status} does not use the error shape"
                );
            }
            let request = app
                .client
                .request(method.to_uppercase().parse().unwrap(), app.url(path))
                .send()
                .await
                .unwrap();
            let status = request.status().as_u16();
            let body = request.text().await.unwrap();
            assert_ne!(status, 405, "{method} {path} is documented but not routed");
            assert!(
                !(status == 404 && body.contains("no route matches")),
                "{method} {path} is documented but not routed"
            );
        }
    }
}

fn resolve<'a>(spec: &'a serde_json::Value, value: &'a serde_json::Value) -> &'a serde_json::Value {
    match value.get("$ref").and_then(|r| r.as_str()) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            spec.pointer(pointer).unwrap()
        }
        None => value,
    }
}

#[test]
fn operation_ids_are_unique() {
    let spec = serde_json::to_value(web::openapi()).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            if let Some(id) = operation.get("operationId").and_then(|v| v.as_str()) {
                assert!(seen.insert(id.to_owned()), "operationId {id} appears twice");
            }
        }
    }
    assert!(seen.len() > 10);
}
