//! Chat completions: addressing, credentials, the output-mode fallback, retries and limits.

use std::time::{Duration, Instant};

use ai::{LlmError, MAX_BODY_BYTES};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{
    API_KEY, Stub, chat_answer, client, error_answer, json_response, schema, settings,
};

async fn ask(client: &ai::LlmClient) -> Result<Value, LlmError> {
    client
        .complete_json("Answer in JSON.", "Say hi.", "greeting", &schema())
        .await
}

#[tokio::test]
async fn the_base_url_may_or_may_not_end_in_v1() {
    let stub = Stub::scripted(|_, _| chat_answer(r#"{"answer":"hi"}"#)).await;
    let cases = [
        ("", "/v1/chat/completions"),
        ("/", "/v1/chat/completions"),
        ("/v1", "/v1/chat/completions"),
        ("/v1/", "/v1/chat/completions"),
        ("/openai/v1", "/openai/v1/chat/completions"),
        ("/openai/", "/openai/v1/chat/completions"),
    ];
    for (suffix, _) in cases {
        let client = client(settings(&format!("{}{suffix}", stub.base)));
        assert_eq!(ask(&client).await.unwrap(), json!({"answer": "hi"}));
    }
    let paths: Vec<String> = stub.requests().into_iter().map(|r| r.path).collect();
    let expected: Vec<&str> = cases.iter().map(|(_, path)| *path).collect();
    assert_eq!(paths, expected);
}

#[tokio::test]
async fn the_key_is_sent_as_a_bearer_token_only_when_configured() {
    let stub = Stub::scripted(|_, _| chat_answer(r#"{"answer":"hi"}"#)).await;
    ask(&stub.client()).await.unwrap();
    let mut with_key = stub.settings();
    with_key.api_key = Some(SecretString::from(API_KEY));
    ask(&client(with_key)).await.unwrap();
    let mut empty_key = stub.settings();
    empty_key.api_key = Some(SecretString::from(""));
    ask(&client(empty_key)).await.unwrap();

    let requests = stub.requests();
    assert!(requests[0].headers.get(header::AUTHORIZATION).is_none());
    assert_eq!(
        requests[1].headers[header::AUTHORIZATION],
        format!("Bearer {API_KEY}").as_str()
    );
    assert!(requests[2].headers.get(header::AUTHORIZATION).is_none());
}

#[tokio::test]
async fn a_json_schema_answer_is_returned() {
    let stub = Stub::scripted(|_, _| chat_answer(r#"{"answer":"hi"}"#)).await;
    let value = ask(&stub.client()).await.unwrap();
    assert_eq!(value, json!({"answer": "hi"}));

    let request = &stub.requests()[0];
    assert_eq!(request.body["model"], "test-model");
    assert_eq!(request.format(), Some("json_schema"));
    let format = &request.body["response_format"]["json_schema"];
    assert_eq!(format["name"], "greeting");
    assert_eq!(format["strict"], true);
    assert_eq!(format["schema"], schema());
    assert_eq!(request.message("system"), "Answer in JSON.");
    assert_eq!(request.message("user"), "Say hi.");
}

#[tokio::test]
async fn a_refused_schema_falls_back_to_json_mode_and_is_remembered() {
    let stub = Stub::scripted(|_, request| match request.format() {
        Some("json_schema") => error_answer(
            StatusCode::BAD_REQUEST,
            "response_format json_schema is not supported",
        ),
        _ => chat_answer(r#"{"answer":"hi"}"#),
    })
    .await;
    let client = stub.client();
    assert_eq!(ask(&client).await.unwrap(), json!({"answer": "hi"}));
    assert_eq!(stub.count(), 2);
    ask(&client).await.unwrap();
    assert_eq!(stub.count(), 3, "the second call starts in JSON mode");

    let formats: Vec<Option<String>> = stub
        .requests()
        .iter()
        .map(|r| r.format().map(str::to_owned))
        .collect();
    assert_eq!(
        formats,
        [
            Some("json_schema".to_owned()),
            Some("json_object".to_owned()),
            Some("json_object".to_owned())
        ]
    );
    // Without a schema on the wire, the model reads it in the system message.
    let system = stub.requests()[1].message("system").to_owned();
    assert!(system.starts_with("Answer in JSON."), "{system}");
    assert!(system.contains(r#""required":["answer"]"#), "{system}");
}

#[tokio::test]
async fn a_server_error_naming_response_format_also_falls_back_without_retrying() {
    let stub = Stub::scripted(|_, request| match request.format() {
        Some("json_schema") => error_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unknown field: response_format.json_schema",
        ),
        _ => chat_answer(r#"{"answer":"hi"}"#),
    })
    .await;
    assert_eq!(ask(&stub.client()).await.unwrap(), json!({"answer": "hi"}));
    assert_eq!(stub.count(), 2);
}

#[tokio::test]
async fn a_server_refusing_both_formats_gets_plain_text_parsed_from_fences() {
    let stub = Stub::scripted(|_, request| match request.format() {
        Some(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unsupported").into_response(),
        None => {
            chat_answer("Sure! Here it is:\n```json\n{\"answer\": \"hi\"}\n```\nAnything else?")
        }
    })
    .await;
    let client = stub.client();
    assert_eq!(ask(&client).await.unwrap(), json!({"answer": "hi"}));
    assert_eq!(stub.count(), 3);
    assert!(stub.requests()[2].body.get("response_format").is_none());
    ask(&client).await.unwrap();
    assert_eq!(stub.count(), 4, "the second call starts without a format");
}

#[tokio::test]
async fn a_request_refused_in_every_mode_is_rejected_and_nothing_is_remembered() {
    let stub = Stub::scripted(|_, _| {
        error_answer(
            StatusCode::BAD_REQUEST,
            "This model's maximum context length is 8192 tokens",
        )
    })
    .await;
    let client = stub.client();
    let error = ask(&client).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::Rejected { status: 400, detail: Some(d) } if d.contains("context length")),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert_eq!(stub.count(), 3);
    ask(&client).await.unwrap_err();
    assert_eq!(
        stub.requests()[3].format(),
        Some("json_schema"),
        "no mode worked, so the next call starts from the strictest again"
    );
}

#[tokio::test]
async fn content_without_json_is_a_bad_response_and_not_retried() {
    let stub = Stub::scripted(|_, _| chat_answer("I'm sorry, I can't help with that.")).await;
    let error = ask(&stub.client()).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::BadResponse(m) if m.contains("no JSON object") && m.contains("I'm sorry")),
        "{error:?}"
    );
    assert_eq!(stub.count(), 1);

    let stub = Stub::scripted(|_, _| (StatusCode::OK, "<html>hello</html>").into_response()).await;
    let error = ask(&stub.client()).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::BadResponse(m) if m.contains("not JSON")),
        "{error:?}"
    );

    let stub = Stub::scripted(|_, _| json_response(StatusCode::OK, &json!({"choices": []}))).await;
    let error = ask(&stub.client()).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::BadResponse(m) if m.contains("no choices")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_error_is_retried_until_it_succeeds() {
    let stub = Stub::scripted(|n, _| match n {
        0 => error_answer(StatusCode::INTERNAL_SERVER_ERROR, "overloaded"),
        _ => chat_answer(r#"{"answer":"hi"}"#),
    })
    .await;
    assert_eq!(ask(&stub.client()).await.unwrap(), json!({"answer": "hi"}));
    assert_eq!(stub.count(), 2);
    let formats: Vec<_> = stub
        .requests()
        .iter()
        .map(|r| r.format().map(str::to_owned))
        .collect();
    assert_eq!(formats[0], formats[1], "a 5xx is not a format refusal");
}

#[tokio::test]
async fn a_server_failing_forever_is_unavailable_after_the_retries() {
    let stub = Stub::scripted(|_, _| error_answer(StatusCode::BAD_GATEWAY, "upstream down")).await;
    let error = ask(&stub.client()).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::Unavailable(m) if m.contains("502") && m.contains("upstream down") && m.contains("3 attempts")),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert_eq!(stub.count(), 3, "max_retries (2) + 1");
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let stub = Stub::scripted(|n, _| match n {
        0 => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            "slow down",
        )
            .into_response(),
        _ => chat_answer(r#"{"answer":"hi"}"#),
    })
    .await;
    let started = Instant::now();
    ask(&stub.client()).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_millis(1_800),
        "{waited:?}"
    );
    assert_eq!(stub.count(), 2);
}

#[tokio::test]
async fn a_rate_limit_that_lasts_is_reported_with_the_wait() {
    let stub = Stub::scripted(|_, _| {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "0")],
            "slow down",
        )
            .into_response()
    })
    .await;
    let error = ask(&stub.client()).await.unwrap_err();
    assert_eq!(
        error,
        LlmError::RateLimited {
            retry_after: Some(Duration::ZERO)
        }
    );
    assert!(error.is_retryable());
    assert_eq!(stub.count(), 3);
}

#[tokio::test]
async fn unauthorized_is_not_retried_and_never_shows_the_key() {
    let stub = Stub::scripted(|_, _| {
        error_answer(
            StatusCode::UNAUTHORIZED,
            &format!("Incorrect API key provided: {API_KEY}. Find your key at …"),
        )
    })
    .await;
    let mut settings = stub.settings();
    settings.api_key = Some(SecretString::from(API_KEY));
    let client = client(settings);
    assert!(!format!("{client:?}").contains(API_KEY));
    let error = ask(&client).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::Unauthorized { status: 401, detail: Some(d) } if d.contains("Incorrect API key")),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert!(!error.to_string().contains(API_KEY), "{error}");
    assert!(!format!("{error:?}").contains(API_KEY), "{error:?}");
    assert_eq!(stub.count(), 1);
}

#[tokio::test]
async fn no_error_quotes_the_key_or_more_than_a_little_of_the_body() {
    let echo = format!("{} {API_KEY} {}", "x".repeat(10), "y".repeat(5_000));
    let cut_key = format!("{}{}", "z".repeat(190), API_KEY);
    let scripts: Vec<(StatusCode, String)> = vec![
        (StatusCode::BAD_GATEWAY, echo.clone()),
        (StatusCode::FORBIDDEN, echo.clone()),
        (StatusCode::NOT_FOUND, echo.clone()),
        (StatusCode::OK, echo.clone()),
        (StatusCode::BAD_GATEWAY, cut_key),
    ];
    for (status, body) in scripts {
        let stub = Stub::scripted(move |_, _| {
            if status == StatusCode::OK {
                chat_answer(&body)
            } else {
                (status, body.clone()).into_response()
            }
        })
        .await;
        let mut settings = stub.settings();
        settings.api_key = Some(SecretString::from(API_KEY));
        let error = ask(&client(settings)).await.unwrap_err();
        let shown = error.to_string();
        assert!(!shown.contains(API_KEY), "{shown}");
        assert!(!shown.contains(&API_KEY[..8]), "{shown}");
        assert!(!format!("{error:?}").contains(API_KEY));
        assert!(shown.chars().count() < 400, "{status}: {shown}");
    }
}

#[tokio::test]
async fn not_found_and_redirects_are_configuration_errors() {
    let stub = Stub::scripted(|_, _| {
        error_answer(
            StatusCode::NOT_FOUND,
            "The model `test-model` does not exist",
        )
    })
    .await;
    let error = ask(&stub.client()).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::Config(m) if m.contains("404") && m.contains("does not exist")),
        "{error:?}"
    );
    assert_eq!(stub.count(), 1);

    let stub = Stub::scripted(|_, _| {
        (
            StatusCode::FOUND,
            [(header::LOCATION, "/elsewhere/v1/chat/completions")],
        )
            .into_response()
    })
    .await;
    let error = ask(&stub.client()).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::Config(m) if m.contains("redirect")),
        "{error:?}"
    );
    assert_eq!(stub.count(), 1, "the redirect was not followed");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let stub = Stub::hanging().await;
    let mut settings = stub.settings();
    settings.timeout = Duration::from_millis(300);
    settings.max_retries = 1;
    let started = Instant::now();
    let error = ask(&client(settings)).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(&error, LlmError::Unavailable(m) if m.contains("did not answer within 300ms") && m.contains("2 attempts")),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_millis(1_500),
        "{took:?}"
    );
    assert_eq!(stub.count(), 2);
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let error = ask(&client(settings(&format!("http://{address}"))))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, LlmError::Unavailable(m) if m.contains("3 attempts")),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_oversized_answer_is_refused() {
    let huge = "x".repeat(MAX_BODY_BYTES + 1);
    let stub = Stub::scripted(move |_, _| chat_answer(&huge)).await;
    let error = ask(&stub.client()).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::BadResponse(m) if m.contains("larger than 2 MiB")),
        "{error:?}"
    );
    assert_eq!(stub.count(), 1);
}

/// Without a Content-Length the limit is enforced while reading.
#[tokio::test]
async fn an_oversized_chunked_answer_is_refused_while_reading() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = vec![0; 64 * 1024];
        let _ = socket.read(&mut buffer).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, " ".repeat(64 * 1024));
        for _ in 0..(MAX_BODY_BYTES / (64 * 1024) + 4) {
            if socket.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
    });
    let mut settings = settings(&format!("http://{address}"));
    settings.max_retries = 0;
    let error = ask(&client(settings)).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::BadResponse(m) if m.contains("larger than 2 MiB")),
        "{error:?}"
    );
}
