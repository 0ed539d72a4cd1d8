//! Bad input: every one gets a clear 4xx in the one error shape, never a 500, and loses nothing.

use serde_json::json;

use crate::harness::{Db, TestApp, assert_error};

const REGISTER: &str = "/api/v1/auth/register";

async fn app() -> TestApp {
    TestApp::spawn(Db::Sqlite).await.unwrap()
}

#[tokio::test]
async fn unknown_route_is_404() {
    let app = app().await;
    let body = assert_error(app.get("/no/such/route").await, 404, "not_found").await;
    assert!(
        !body.to_string().contains("/no/such/route"),
        "path reflected: {body}"
    );
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let app = app().await;
    let response = app
        .client
        .delete(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    let allow = response
        .headers()
        .get("allow")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(allow.contains("GET"), "{allow}");
    assert_error(response, 405, "method_not_allowed").await;
    let response = app.client.get(app.url(REGISTER)).send().await.unwrap();
    assert_error(response, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn malformed_json_is_400_with_position() {
    let app = app().await;
    let response = app
        .client
        .post(app.url(REGISTER))
        .header("content-type", "application/json")
        .body(r#"{"email": "a@example.org", "password": "#)
        .send()
        .await
        .unwrap();
    let body = assert_error(response, 400, "malformed_json").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 1")
    );
    assert_eq!(app.store.count_users().await.unwrap(), 0);
}

#[tokio::test]
async fn empty_body_is_400() {
    let app = app().await;
    let response = app
        .client
        .post(app.url(REGISTER))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    let body = assert_error(response, 400, "malformed_json").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("empty"));
}

#[tokio::test]
async fn wrong_or_missing_content_type_is_415() {
    let app = app().await;
    let payload = r#"{"email":"a@example.org","password":"correct horse battery"}"#;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = app.client.post(app.url(REGISTER)).body(payload);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_error(response, 415, "unsupported_media_type").await;
    }
    // A charset parameter is fine.
    let response = app
        .client
        .post(app.url(REGISTER))
        .header("content-type", "application/json; charset=utf-8")
        .body(payload)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(app.store.count_users().await.unwrap(), 1);
}

#[tokio::test]
async fn oversized_body_is_413_and_nothing_is_written() {
    let app = app().await;
    let huge = "x".repeat(2 * 1024 * 1024);
    let response = app
        .post_json(
            REGISTER,
            &json!({"email": "a@example.org", "password": huge}),
        )
        .await;
    assert_error(response, 413, "payload_too_large").await;
    // Without a Content-Length (chunked), the limit holds while streaming.
    let mut request = format!(
        "POST {REGISTER} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in huge.as_bytes().chunks(64 * 1024) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let response = raw_http(&app, &request).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(
        response.contains(r#""code":"payload_too_large""#),
        "{response}"
    );
    assert_eq!(app.store.count_users().await.unwrap(), 0);
}

/// Sends raw bytes and reads the raw response (the server may close early; that is fine).
pub async fn raw_http(app: &TestApp, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(request).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn unknown_missing_and_mistyped_fields_are_422_naming_the_field() {
    let app = app().await;
    let cases = [
        (
            json!({"email": "a@example.org", "password": "correct horse battery", "role": "admin"}),
            "role",
            "unknown field",
        ),
        (
            json!({"email": "a@example.org"}),
            "body",
            "missing field `password`",
        ),
        (
            json!({"email": 42, "password": "correct horse battery"}),
            "email",
            "invalid type",
        ),
        (
            json!(["a@example.org", "correct horse battery"]),
            "body",
            "JSON object",
        ),
    ];
    for (payload, target, message) in cases {
        let body = assert_error(
            app.post_json(REGISTER, &payload).await,
            422,
            "validation_failed",
        )
        .await;
        let detail = &body["error"]["details"][0];
        assert_eq!(detail["target"], target, "{body}");
        assert!(
            detail["message"].as_str().unwrap().contains(message),
            "{body}"
        );
    }
    assert_eq!(app.store.count_users().await.unwrap(), 0);
}

#[tokio::test]
async fn hostile_request_ids_are_replaced_and_sane_ones_echoed() {
    let app = app().await;
    let response = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "trace-abc.123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-abc.123");
    let body = assert_error(response, 404, "not_found").await;
    assert_eq!(body["error"]["request_id"], "trace-abc.123");

    let response = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "evil\"}{ <script>")
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}
