//! The HH.ru applicant client against a local server replaying the recorded HH answers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use chrono::{TimeDelta, Utc};
use secrecy::ExposeSecret;
use sources::hh_apply::{ApplyOutcome, HhApplyClient, HhError, HhOAuthSettings, HhTokens};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

use crate::support::{Board, fixture, fixture_json, install_crypto, json, status_json};

const AGENT: &str = "JobSearchServer/0.1 (dev@example.org)";
const CLIENT_ID: &str = "K9J2M4N6P8Q1R3S5T7V9W2X4Y6Z8A1B3C5D7E9F2G4H6";
const CLIENT_SECRET: &str = "SECRET-R7T2Y9U4I1O6P3A8S5D0F2G7H4J9K1L6Z3X8C5V0";
const REDIRECT_URI: &str = "https://jobs.example.org/connect/hh/callback?from=settings";
/// The user token of `oauth_token.json` and `negotiations_created.txt`.
const ACCESS_TOKEN: &str = "USERQ7K2M9P4V1X8C3N6B5R0T2W7Y4H9J1L6F3D8S5A0G2E7U4I9O1K6Z3Q8N5M2";
const REFRESH_TOKEN: &str = "USERH4D9F2K7L1P6S3A8G5J0Q2W7E4R9T1Y6U3I8O5Z0X2C7V4B9N1M6Q3W8E5R2";
const VACANCY_ID: &str = "154820397";
const RESUME_ID: &str = "7c1e4a9bff0a3d58e20039ed1f6b4c7a2e5d81";
const LETTER: &str = "Здравствуйте! Четыре года пишу backend на Rust (tokio, axum, sqlx), последние \
                      два — в логистике. Буду рад рассказать подробнее.";

fn settings(base: &str) -> HhOAuthSettings {
    let mut settings = HhOAuthSettings::new(
        CLIENT_ID,
        CLIENT_SECRET.to_owned().into(),
        REDIRECT_URI,
        AGENT,
    );
    settings.api_base = Url::parse(base).unwrap();
    settings.timeout = Duration::from_millis(1_500);
    settings.connect_timeout = Duration::from_millis(500);
    settings
}

fn client(base: &str) -> HhApplyClient {
    install_crypto();
    HhApplyClient::new(settings(base)).unwrap()
}

/// What the board received, body included.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
}

impl Received {
    fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }
}

type Inbox = Arc<Mutex<Vec<Received>>>;

/// A board answering every request to `path` with `respond()`, keeping what it received.
async fn serve<F>(path: &'static str, respond: F) -> (Board, Inbox)
where
    F: Fn() -> Response + Clone + Send + Sync + 'static,
{
    let inbox = Inbox::default();
    let kept = inbox.clone();
    let router = Router::new().route(
        path,
        any(move |headers: HeaderMap, body: String| {
            let respond = respond.clone();
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(Received { headers, body });
                respond()
            }
        }),
    );
    (Board::start(router).await, inbox)
}

fn only(inbox: &Inbox) -> Received {
    let received = inbox.lock().unwrap();
    assert_eq!(received.len(), 1, "exactly one request: nothing is retried");
    received[0].clone()
}

async fn apply(hh: &HhApplyClient) -> Result<ApplyOutcome, HhError> {
    hh.apply(ACCESS_TOKEN, VACANCY_ID, RESUME_ID, Some(LETTER))
        .await
}

// --- authorisation URL ----------------------------------------------------------------------

#[test]
fn the_authorize_url_carries_every_parameter_and_encodes_the_state() {
    let hh = client("https://api.hh.ru");
    let state = "a b&c=d/é?";
    let url = hh.authorize_url(state);

    assert_eq!(url.scheme(), "https");
    assert_eq!(url.host_str(), Some("hh.ru"));
    assert_eq!(url.path(), "/oauth/authorize");
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let expected = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("state", state),
        ("redirect_uri", REDIRECT_URI),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(pairs, expected, "HH documents no PKCE parameters");
    let query = url.query().unwrap();
    assert!(
        query.contains("state=a+b%26c%3Dd%2F%C3%A9%3F"),
        "state is URL-encoded: {query}"
    );
    assert!(
        !query.contains(CLIENT_SECRET),
        "the secret never goes to the browser"
    );
}

#[test]
fn an_empty_redirect_uri_is_left_to_the_registration() {
    install_crypto();
    let mut settings = settings("https://api.hh.ru");
    settings.redirect_uri = String::new();
    let url = HhApplyClient::new(settings).unwrap().authorize_url("s1");
    assert!(url.query_pairs().all(|(k, _)| k != "redirect_uri"), "{url}");
}

// --- tokens ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_code_is_exchanged_with_the_documented_form() {
    let (board, inbox) = serve("/token", || json(fixture("hh/oauth_token.json"))).await;
    let hh = client(&board.base);

    let before = Utc::now();
    let tokens = hh.exchange_code("CODE-L4K8J2H6G0F3").await.unwrap();
    let after = Utc::now();

    let recorded = fixture_json("hh/oauth_token.json");
    assert_eq!(
        tokens.access_token.expose_secret(),
        recorded["access_token"]
    );
    assert_eq!(
        tokens.refresh_token.expose_secret(),
        recorded["refresh_token"]
    );
    let lifetime = TimeDelta::seconds(1_209_600);
    assert!(
        tokens.expires_at >= before + lifetime && tokens.expires_at <= after + lifetime,
        "{} not within [{}, {}] + 14 days",
        tokens.expires_at,
        before,
        after
    );
    assert!(!tokens.is_expired(after));

    let sent = only(&inbox);
    let mut form = sent.form();
    form.sort();
    let mut expected: Vec<(String, String)> = [
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("code", "CODE-L4K8J2H6G0F3"),
        ("grant_type", "authorization_code"),
        ("redirect_uri", REDIRECT_URI),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    expected.sort();
    assert_eq!(form, expected);
    assert_eq!(
        sent.headers[header::CONTENT_TYPE],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(sent.headers["hh-user-agent"], AGENT);
    assert_eq!(sent.headers[header::USER_AGENT], AGENT);
    assert!(
        sent.headers.get(header::AUTHORIZATION).is_none(),
        "credentials go in the form"
    );
}

#[tokio::test]
async fn a_refresh_sends_only_the_refresh_token() {
    let (board, inbox) = serve("/token", || json(fixture("hh/oauth_token.json"))).await;
    let hh = client(&board.base);

    let tokens = hh.refresh("USER-old-refresh-0001").await.unwrap();
    assert_eq!(tokens.access_token.expose_secret(), ACCESS_TOKEN);

    let sent = only(&inbox);
    assert_eq!(
        sent.form(),
        [
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            (
                "refresh_token".to_owned(),
                "USER-old-refresh-0001".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn refreshing_too_early_is_its_own_error() {
    let (board, _) = serve("/token", || {
        status_json(
            StatusCode::BAD_REQUEST,
            fixture("hh/error_oauth_token_not_expired.json"),
        )
    })
    .await;
    let err = client(&board.base)
        .refresh(REFRESH_TOKEN)
        .await
        .unwrap_err();
    assert_eq!(err, HhError::TokenNotExpired);
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_spent_or_revoked_grant_means_reconnecting() {
    for description in [
        "token has already been refreshed",
        "token was revoked",
        "bad token",
    ] {
        let body = serde_json::json!({"error": "invalid_grant", "error_description": description})
            .to_string();
        let (board, _) = serve("/token", move || {
            status_json(StatusCode::BAD_REQUEST, body.clone())
        })
        .await;
        let err = client(&board.base)
            .refresh(REFRESH_TOKEN)
            .await
            .unwrap_err();
        match &err {
            HhError::BadAuthorization { reason } => assert!(reason.contains(description), "{err}"),
            other => panic!("{description}: {other:?}"),
        }
        assert!(!err.is_retryable());
    }
}

#[tokio::test]
async fn wrong_client_credentials_are_a_configuration_error() {
    let (board, _) = serve("/token", || {
        status_json(
            StatusCode::BAD_REQUEST,
            r#"{"error":"invalid_client","error_description":"client_id or client_secret not found"}"#,
        )
    })
    .await;
    let err = client(&board.base)
        .exchange_code("CODE-1234")
        .await
        .unwrap_err();
    assert!(matches!(err, HhError::Config(_)), "{err:?}");
}

// --- resumes --------------------------------------------------------------------------------

#[tokio::test]
async fn my_resumes_reads_the_recorded_list_with_the_users_token() {
    let (board, inbox) = serve("/resumes/mine", || json(fixture("hh/resumes_mine.json"))).await;
    let hh = client(&board.base);

    let resumes = hh.my_resumes(ACCESS_TOKEN).await.unwrap();
    assert_eq!(resumes.len(), 2);
    let rust = &resumes[0];
    assert_eq!(rust.id, RESUME_ID);
    assert_eq!(rust.title.as_deref(), Some("Rust-разработчик"));
    assert_eq!(rust.status.as_deref(), Some("published"));
    assert!(rust.is_published());
    assert_eq!(rust.access.as_deref(), Some("clients"));
    assert_eq!(rust.visible, Some(true));
    assert_eq!(
        rust.alternate_url.as_deref(),
        Some("https://hh.ru/resume/7c1e4a9bff0a3d58e20039ed1f6b4c7a2e5d81")
    );
    // `+0300` without a colon.
    assert_eq!(
        rust.updated_at.map(|t| t.to_rfc3339()),
        Some("2026-11-18T05:55:10+00:00".to_owned())
    );
    let hidden = &resumes[1];
    assert_eq!(hidden.id, "a40d92c6ff0b17e3c50039ed1f39704e6b7c2d");
    assert_eq!(hidden.title.as_deref(), Some("Backend Engineer (Rust)"));
    assert!(!hidden.is_published());
    assert_eq!(hidden.access.as_deref(), Some("no_one"));
    assert_eq!(hidden.visible, Some(false));

    let sent = only(&inbox);
    assert_eq!(
        sent.headers[header::AUTHORIZATION],
        format!("Bearer {ACCESS_TOKEN}").as_str()
    );
    assert_eq!(sent.headers["hh-user-agent"], AGENT);
    assert_eq!(sent.headers[header::USER_AGENT], AGENT);
    assert_eq!(board.requests()[0].path, "/resumes/mine");
}

#[tokio::test]
async fn my_resumes_maps_token_errors() {
    let cases = [
        ("hh/error_token_expired.json", HhError::TokenExpired),
        (
            "hh/error_bad_authorization.json",
            HhError::BadAuthorization {
                reason: "bad_authorization".to_owned(),
            },
        ),
    ];
    for (file, expected) in cases {
        let (board, _) = serve("/resumes/mine", move || {
            status_json(StatusCode::FORBIDDEN, fixture(file))
        })
        .await;
        let err = client(&board.base)
            .my_resumes(ACCESS_TOKEN)
            .await
            .unwrap_err();
        assert_eq!(err, expected, "{file}");
    }
}

// --- applying -------------------------------------------------------------------------------

/// A server speaking raw HTTP/1.1, so the recorded exchanges of `negotiations_created.txt` are
/// replayed exactly: status line, headers and a chunked body of zero bytes.
struct RawBoard {
    base: String,
    received: Arc<Mutex<Vec<(String, String)>>>,
}

impl RawBoard {
    async fn start(response: Vec<u8>) -> Self {
        install_crypto();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = received.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (head, body) = read_request(&mut stream).await;
                kept.lock().unwrap().push((head, body));
                // The client may hang up once it has what it needs (a large body).
                let _ = stream.write_all(&response).await;
                let _ = stream.shutdown().await;
            }
        });
        Self { base, received }
    }

    fn only(&self) -> (String, String) {
        let received = self.received.lock().unwrap();
        assert_eq!(received.len(), 1);
        received[0].clone()
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> (String, String) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "request ended early");
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "body ended early");
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8(buffer[head_end..head_end + length].to_vec()).unwrap();
    (head, body)
}

/// The recorded response starting with `status_line`, as bytes on the wire.
fn recorded_response(status_line: &str) -> Vec<u8> {
    let text = fixture("hh/negotiations_created.txt");
    let start = text
        .find(&format!("\n{status_line}\n"))
        .unwrap_or_else(|| panic!("{status_line} not in the fixture"))
        + 1;
    let head: Vec<&str> = text[start..]
        .lines()
        .take_while(|line| !line.is_empty())
        .collect();
    let mut wire = head.join("\r\n");
    wire.push_str("\r\n\r\n");
    if head.contains(&"Transfer-Encoding: chunked") {
        // "(empty body: zero bytes, not "{}")": the last-chunk marker and nothing else.
        wire.push_str("0\r\n\r\n");
    } else {
        // Delimited by closing the connection; the client must not need it.
        wire.push_str("<html><body>Откликнуться на сайте работодателя</body></html>");
    }
    wire.into_bytes()
}

#[tokio::test]
async fn a_created_application_yields_the_negotiation_id() {
    let response = recorded_response("HTTP/1.1 201 Created");
    assert!(response.ends_with(b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"));
    let board = RawBoard::start(response).await;

    let outcome = apply(&client(&board.base)).await.unwrap();
    assert_eq!(
        outcome,
        ApplyOutcome::Created {
            negotiation_id: Some("4418302957".to_owned())
        }
    );

    let (head, body) = board.only();
    assert!(
        head.starts_with("POST /negotiations HTTP/1.1\r\n"),
        "{head}"
    );
    let head_lower = head.to_ascii_lowercase();
    assert!(
        head.contains(&format!("authorization: Bearer {ACCESS_TOKEN}\r\n")),
        "{head}"
    );
    assert!(head_lower.contains(&format!(
        "hh-user-agent: {}\r\n",
        AGENT.to_ascii_lowercase()
    )));
    assert!(head_lower.contains("content-type: application/x-www-form-urlencoded\r\n"));
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(
        form,
        [
            ("vacancy_id".to_owned(), VACANCY_ID.to_owned()),
            ("resume_id".to_owned(), RESUME_ID.to_owned()),
            ("message".to_owned(), LETTER.to_owned()),
        ]
    );
}

#[tokio::test]
async fn without_a_letter_no_message_field_is_sent() {
    let board = RawBoard::start(recorded_response("HTTP/1.1 201 Created")).await;
    let hh = client(&board.base);
    hh.apply(ACCESS_TOKEN, VACANCY_ID, RESUME_ID, Some("  \n"))
        .await
        .unwrap();
    let (_, body) = board.only();
    assert_eq!(
        body,
        format!("vacancy_id={VACANCY_ID}&resume_id={RESUME_ID}")
    );
}

#[tokio::test]
async fn a_direct_vacancy_answers_303_which_is_not_followed() {
    let board = RawBoard::start(recorded_response("HTTP/1.1 303 See Other")).await;
    let outcome = apply(&client(&board.base)).await.unwrap();
    assert_eq!(
        outcome,
        ApplyOutcome::Redirected {
            location: "https://careers.example-employer.ru/jobs/rust-backend/apply".to_owned()
        }
    );
    assert_eq!(board.received.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn each_recorded_refusal_has_its_outcome() {
    let negotiations = |value: &str| {
        serde_json::json!({
            "description": "Bad Request",
            "errors": [{"type": "negotiations", "value": value}],
            "request_id": "1795629611054000000000000000000a"
        })
        .to_string()
    };
    let cases: Vec<(StatusCode, String, ApplyOutcome)> = vec![
        (
            StatusCode::FORBIDDEN,
            fixture("hh/error_already_applied.json"),
            ApplyOutcome::AlreadyApplied,
        ),
        (
            StatusCode::FORBIDDEN,
            fixture("hh/error_vacancy_archived.json"),
            ApplyOutcome::VacancyArchived,
        ),
        (
            StatusCode::FORBIDDEN,
            fixture("hh/error_test_required.json"),
            ApplyOutcome::TestRequired,
        ),
        (
            StatusCode::BAD_REQUEST,
            fixture("hh/error_limit_exceeded.json"),
            ApplyOutcome::LimitExceeded,
        ),
        (
            StatusCode::NOT_FOUND,
            fixture("hh/error_vacancy_not_found.json"),
            ApplyOutcome::VacancyNotFound,
        ),
        (
            StatusCode::BAD_REQUEST,
            negotiations("vacancy_not_found"),
            ApplyOutcome::VacancyNotFound,
        ),
        (
            StatusCode::BAD_REQUEST,
            negotiations("resume_not_found"),
            ApplyOutcome::ResumeNotFound,
        ),
        (
            StatusCode::FORBIDDEN,
            fixture("hh/error_captcha_required.json"),
            ApplyOutcome::CaptchaRequired {
                captcha_url: Some(
                    "https://hh.ru/account/captcha?state=Xk2vQ9LmT4pR7wZs1BcN8dF3hJ6yG0aE"
                        .to_owned(),
                ),
            },
        ),
        (
            StatusCode::FORBIDDEN,
            negotiations("resume_visibility_conflict"),
            ApplyOutcome::Rejected {
                reason: "resume_visibility_conflict".to_owned(),
            },
        ),
        (
            StatusCode::BAD_REQUEST,
            r#"{"errors":[{"type":"bad_argument","value":"resume_id"}]}"#.to_owned(),
            ApplyOutcome::Rejected {
                reason: "bad_argument: resume_id".to_owned(),
            },
        ),
    ];
    for (status, body, expected) in cases {
        let (board, inbox) =
            serve("/negotiations", move || status_json(status, body.clone())).await;
        let outcome = apply(&client(&board.base)).await;
        assert_eq!(outcome, Ok(expected), "{status}");
        only(&inbox);
    }
}

#[tokio::test]
async fn token_problems_while_applying_are_errors() {
    let cases = [
        ("hh/error_token_expired.json", HhError::TokenExpired),
        (
            "hh/error_bad_authorization.json",
            HhError::BadAuthorization {
                reason: "bad_authorization".to_owned(),
            },
        ),
    ];
    for (file, expected) in cases {
        let (board, inbox) = serve("/negotiations", move || {
            status_json(StatusCode::FORBIDDEN, fixture(file))
        })
        .await;
        let err = apply(&client(&board.base)).await.unwrap_err();
        assert_eq!(err, expected, "{file}");
        assert!(!err.is_retryable());
        only(&inbox);
    }
}

#[tokio::test]
async fn an_application_token_or_a_closed_api_is_forbidden() {
    let (board, _) = serve("/negotiations", || {
        status_json(
            StatusCode::FORBIDDEN,
            r#"{"errors":[{"type":"forbidden"}]}"#,
        )
    })
    .await;
    let err = apply(&client(&board.base)).await.unwrap_err();
    assert!(matches!(err, HhError::Forbidden { .. }), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn server_trouble_is_retryable_and_keeps_retry_after() {
    let cases: [(Response, Option<Duration>); 3] = [
        (
            status_json(
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"description":"Internal Server Error","errors":[{"type":"internal"}]}"#,
            ),
            None,
        ),
        (
            (
                StatusCode::BAD_GATEWAY,
                [(header::CONTENT_TYPE, "text/html")],
                "<html>502 Bad Gateway</html>",
            )
                .into_response(),
            None,
        ),
        (
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "7")],
                "",
            )
                .into_response(),
            Some(Duration::from_secs(7)),
        ),
    ];
    for (response, retry_after) in cases {
        let response = Arc::new(Mutex::new(Some(response)));
        let (board, inbox) = serve("/negotiations", move || {
            response.lock().unwrap().take().unwrap()
        })
        .await;
        let err = apply(&client(&board.base)).await.unwrap_err();
        assert!(err.is_retryable(), "{err:?}");
        assert!(matches!(err, HhError::Unavailable { .. }), "{err:?}");
        assert_eq!(err.retry_after(), retry_after);
        only(&inbox);
    }
}

#[tokio::test]
async fn a_slow_hh_times_out_as_unavailable() {
    let slow = Router::new().route(
        "/negotiations",
        any(|| async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            StatusCode::CREATED
        }),
    );
    let board = Board::start(slow).await;
    let mut settings = settings(&board.base);
    settings.timeout = Duration::from_millis(200);
    let hh = HhApplyClient::new(settings).unwrap();

    let started = Instant::now();
    let err = apply(&hh).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(err.is_retryable(), "{err:?}");
    assert!(
        err.to_string().contains("did not answer within 200ms"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_hh_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = client(&base).my_resumes(ACCESS_TOKEN).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(!err.to_string().contains(ACCESS_TOKEN));
}

// --- hostile or broken answers --------------------------------------------------------------

const TEN_MB: usize = 10 * 1024 * 1024;

#[tokio::test]
async fn huge_bodies_are_refused_without_reading_them_all() {
    let started = Instant::now();

    // Announced by Content-Length.
    let huge = Arc::new(format!("{{\"items\": [\"{}\"]}}", "x".repeat(TEN_MB)));
    let (board, _) = serve("/resumes/mine", move || json(huge.as_str().to_owned())).await;
    let err = client(&board.base)
        .my_resumes(ACCESS_TOKEN)
        .await
        .unwrap_err();
    assert!(matches!(err, HhError::BadResponse(_)), "{err:?}");
    assert!(err.to_string().contains("more than 2097152 bytes"), "{err}");

    // Unannounced: the body runs until the connection closes.
    let mut wire =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n".to_vec();
    wire.extend(std::iter::repeat_n(b' ', TEN_MB));
    let raw = RawBoard::start(wire).await;
    let err = client(&raw.base)
        .my_resumes(ACCESS_TOKEN)
        .await
        .unwrap_err();
    assert!(matches!(err, HhError::BadResponse(_)), "{err:?}");

    // An error document that is not small.
    let huge = Arc::new("x".repeat(TEN_MB));
    let (board, _) = serve("/negotiations", move || {
        status_json(StatusCode::FORBIDDEN, huge.as_str().to_owned())
    })
    .await;
    let err = apply(&client(&board.base)).await.unwrap_err();
    assert!(matches!(err, HhError::BadResponse(_)), "{err:?}");

    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn invalid_json_is_a_bad_response() {
    let (board, _) = serve("/resumes/mine", || {
        json(r#"{"items": [{"id": "7c1e4a9bff0a3d58e20039ed1f6b4c7a2e5d81", "ti"#)
    })
    .await;
    let err = client(&board.base)
        .my_resumes(ACCESS_TOKEN)
        .await
        .unwrap_err();
    assert!(matches!(err, HhError::BadResponse(_)), "{err:?}");
    assert!(err.to_string().contains("not valid JSON"), "{err}");

    let (board, _) = serve("/token", || {
        (
            [(header::CONTENT_TYPE, "text/html")],
            "<html>maintenance</html>",
        )
            .into_response()
    })
    .await;
    let err = client(&board.base)
        .exchange_code("CODE-1234")
        .await
        .unwrap_err();
    assert!(matches!(err, HhError::BadResponse(_)), "{err:?}");

    let (board, _) = serve("/negotiations", || {
        status_json(StatusCode::FORBIDDEN, "<html>Forbidden</html>")
    })
    .await;
    let err = apply(&client(&board.base)).await.unwrap_err();
    assert!(matches!(err, HhError::BadResponse(_)), "{err:?}");
}

// --- secrets --------------------------------------------------------------------------------

#[test]
fn debug_output_never_shows_secrets() {
    let settings = settings("https://api.hh.ru");
    let shown = format!("{settings:?}");
    assert!(!shown.contains(CLIENT_SECRET), "{shown}");
    assert!(shown.contains(CLIENT_ID), "the rest stays visible: {shown}");

    let hh = client("https://api.hh.ru");
    assert!(!format!("{hh:?}").contains(CLIENT_SECRET));

    let tokens = HhTokens {
        access_token: ACCESS_TOKEN.to_owned().into(),
        refresh_token: REFRESH_TOKEN.to_owned().into(),
        expires_at: Utc::now(),
    };
    let shown = format!("{tokens:?}");
    assert!(
        !shown.contains(ACCESS_TOKEN) && !shown.contains(REFRESH_TOKEN),
        "{shown}"
    );
}

#[tokio::test]
async fn echoed_credentials_are_scrubbed_from_errors() {
    // An answer quoting the token back, in every place HH puts text.
    let echo = serde_json::json!({
        "description": format!("token {ACCESS_TOKEN} rejected"),
        "errors": [{"type": "oauth", "value": format!("bad_authorization {ACCESS_TOKEN}")}],
    })
    .to_string();
    let (board, _) = serve("/negotiations", move || {
        status_json(StatusCode::FORBIDDEN, echo.clone())
    })
    .await;
    let err = apply(&client(&board.base)).await.unwrap_err();
    assert!(matches!(err, HhError::BadAuthorization { .. }), "{err:?}");
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(ACCESS_TOKEN), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");
    }

    let unknown = serde_json::json!({
        "errors": [{"type": "mystery", "value": ACCESS_TOKEN}],
        "description": ACCESS_TOKEN,
    })
    .to_string();
    let (board, _) = serve("/resumes/mine", move || {
        status_json(StatusCode::FORBIDDEN, unknown.clone())
    })
    .await;
    let err = client(&board.base)
        .my_resumes(ACCESS_TOKEN)
        .await
        .unwrap_err();
    assert!(matches!(err, HhError::BadResponse(_)), "{err:?}");
    assert!(err.to_string().contains("mystery"), "{err}");
    assert!(!err.to_string().contains(ACCESS_TOKEN), "{err}");

    let oauth_echo = serde_json::json!({
        "error": "invalid_request",
        "error_description": format!("token not found: {REFRESH_TOKEN} for {CLIENT_SECRET}"),
    })
    .to_string();
    let (board, _) = serve("/token", move || {
        status_json(StatusCode::BAD_REQUEST, oauth_echo.clone())
    })
    .await;
    let err = client(&board.base)
        .refresh(REFRESH_TOKEN)
        .await
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(matches!(err, HhError::BadAuthorization { .. }), "{err:?}");
    assert!(
        !shown.contains(REFRESH_TOKEN) && !shown.contains(CLIENT_SECRET),
        "{shown}"
    );
}

// --- settings -------------------------------------------------------------------------------

#[test]
fn settings_are_checked_up_front() {
    install_crypto();
    type Breaks = fn(&mut HhOAuthSettings);
    let broken: [(&str, Breaks); 4] = [
        ("HH-User-Agent", |s| s.user_agent = "  ".into()),
        ("client_secret", |s| s.client_secret = String::new().into()),
        ("api_base", |s| {
            s.api_base = Url::parse("ftp://api.hh.ru").unwrap()
        }),
        ("redirect_uri", |s| s.redirect_uri = "/callback".into()),
    ];
    for (named, breaks) in broken {
        let mut settings = settings("https://api.hh.ru");
        breaks(&mut settings);
        let err = HhApplyClient::new(settings).unwrap_err();
        assert!(matches!(err, HhError::Config(_)), "{err:?}");
        assert!(err.to_string().contains(named), "{err}");
    }
}
