//! Embeddings: order, counts and retries.

use ai::LlmError;
use axum::http::StatusCode;
use serde_json::json;

use crate::support::{Stub, error_answer, json_response};

fn inputs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn vectors_come_back_in_input_order() {
    let stub = Stub::scripted(|_, _| {
        json_response(
            StatusCode::OK,
            &json!({"object": "list", "data": [
                {"object": "embedding", "index": 2, "embedding": [2.0, 2.5]},
                {"object": "embedding", "index": 0, "embedding": [0.0, 0.5]},
                {"object": "embedding", "index": 1, "embedding": [1.0, 1.5]},
            ]}),
        )
    })
    .await;
    let vectors = stub
        .client()
        .embed("embed-small", &inputs(&["a", "b", "c"]))
        .await
        .unwrap();
    assert_eq!(
        vectors,
        vec![vec![0.0, 0.5], vec![1.0, 1.5], vec![2.0, 2.5]]
    );
    let request = &stub.requests()[0];
    assert_eq!(request.path, "/v1/embeddings");
    assert_eq!(
        request.body,
        json!({"model": "embed-small", "input": ["a", "b", "c"]})
    );
}

#[tokio::test]
async fn a_count_mismatch_is_a_bad_response() {
    let stub = Stub::scripted(|_, _| {
        json_response(
            StatusCode::OK,
            &json!({"data": [{"index": 0, "embedding": [0.0]}]}),
        )
    })
    .await;
    let error = stub
        .client()
        .embed("embed-small", &inputs(&["a", "b"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, LlmError::BadResponse(m) if m.contains("asked for 2 embeddings, got 1")),
        "{error:?}"
    );
    assert_eq!(stub.count(), 1);
}

#[tokio::test]
async fn no_inputs_need_no_request_and_failures_are_retried() {
    let stub = Stub::scripted(|n, _| match n {
        0 => error_answer(StatusCode::SERVICE_UNAVAILABLE, "loading model"),
        _ => json_response(
            StatusCode::OK,
            &json!({"data": [{"index": 0, "embedding": [0.25]}]}),
        ),
    })
    .await;
    let client = stub.client();
    assert!(client.embed("embed-small", &[]).await.unwrap().is_empty());
    assert_eq!(stub.count(), 0);
    assert_eq!(
        client.embed("embed-small", &inputs(&["a"])).await.unwrap(),
        vec![vec![0.25]]
    );
    assert_eq!(stub.count(), 2);
}
