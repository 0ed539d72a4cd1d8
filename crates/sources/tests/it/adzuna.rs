use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::routing::get;
use domain::{EmploymentType, SalaryPeriod};
use sources::{AdzunaConfig, AdzunaSource, Cursor, Source};

use crate::support::{Board, fast_http, fixture, job, json, status_json, utc};

const APP_KEY: &str = "k3y-9f2c7e1ab4d84c3e";

fn config(base: &str) -> AdzunaConfig {
    AdzunaConfig {
        base_url: base.to_owned(),
        app_id: "4b7e19c2".into(),
        app_key: APP_KEY.to_owned().into(),
        country: "gb".into(),
        what: Some("rust developer".into()),
        location: None,
        results_per_page: 5,
        max_pages: 5,
        http: fast_http(),
    }
}

#[tokio::test]
async fn search_results_map_to_jobs() {
    let board = Board::start(Router::new().route(
        "/gb/search/1",
        get(|| async { json(fixture("adzuna/search_gb_page1.json")) }),
    ))
    .await;
    let adzuna = AdzunaSource::new(config(&board.base)).unwrap();

    let page = adzuna.fetch_page(None).await.unwrap();
    assert_eq!(page.items.len(), 5);
    // 214 matches at 5 a page, but max_pages = 5 bounds the sync.
    assert_eq!(page.next, Some(Cursor::new(0, 1)));

    let senior = job(&page.items, "5931840277");
    assert_eq!(senior.title, "Senior Rust Developer", "<strong> stripped");
    assert_eq!(senior.company.as_deref(), Some("Harbourside Talent"));
    assert_eq!(senior.locations, ["Shoreditch, East London"]);
    assert!(
        senior
            .url
            .starts_with("https://www.adzuna.co.uk/jobs/land/ad/5931840277")
    );
    assert_eq!(senior.published_at, utc("2026-11-19T16:41:08Z"));
    assert_eq!(senior.employment_type, Some(EmploymentType::FullTime));
    assert_eq!(senior.remote, None, "Adzuna does not state it");
    let salary = senior.salary.as_ref().unwrap();
    assert_eq!((salary.min, salary.max), (Some(95_000.0), Some(115_000.0)));
    assert_eq!(salary.currency.as_str(), "GBP");
    assert_eq!(salary.period, SalaryPeriod::Year);
    assert_eq!(salary.gross, None);

    let embedded = job(&page.items, "5931722904");
    let text = embedded.description_text.as_deref().unwrap();
    assert!(text.contains("increasingly in Rust (no_std"), "{text}");
    assert!(!text.contains("<strong>"));

    let predicted = job(&page.items, "5930995611");
    assert_eq!(predicted.salary, None, "Adzuna's estimate is not the offer");

    let contract = job(&page.items, "5930481736");
    assert_eq!(contract.salary, None, "absent salary stays unknown");
    assert_eq!(contract.employment_type, Some(EmploymentType::Contract));

    let part_time = job(&page.items, "5929870042");
    assert_eq!(part_time.employment_type, Some(EmploymentType::PartTime));

    let request = &board.requests()[0];
    assert_eq!(request.param("app_id").as_deref(), Some("4b7e19c2"));
    assert_eq!(request.param("app_key").as_deref(), Some(APP_KEY));
    assert_eq!(request.param("results_per_page").as_deref(), Some("5"));
    assert_eq!(request.param("what").as_deref(), Some("rust developer"));
}

#[tokio::test]
async fn the_app_key_never_appears_in_errors() {
    // A board error page that echoes the request, key included.
    let echo = |status: StatusCode| {
        get(move |request: Request| async move {
            let uri = request.uri().to_string();
            status_json(
                status,
                format!(r#"{{"exception":"AUTH_FAIL","display":"bad {uri}"}}"#),
            )
        })
    };
    let board = Board::start(
        Router::new()
            .route("/gb/search/1", echo(StatusCode::UNAUTHORIZED))
            .route("/gb/search/2", echo(StatusCode::BAD_GATEWAY))
            .route("/gb/search/3", get(|| async { json("{\"results\": [") })),
    )
    .await;
    let adzuna = AdzunaSource::new(config(&board.base)).unwrap();

    let mut messages = Vec::new();
    for page in 0..3 {
        let err = adzuna
            .fetch_page(Some(&Cursor::new(0, page)))
            .await
            .unwrap_err();
        messages.push(format!("{err} / {err:?}"));
    }
    // Nothing listens here: a connection error, whose text reqwest would fill with the URL.
    let mut closed = config("http://127.0.0.1:9");
    closed.http.max_retries = 0;
    let err = AdzunaSource::new(closed)
        .unwrap()
        .fetch_page(None)
        .await
        .unwrap_err();
    messages.push(format!("{err} / {err:?}"));
    messages.push(format!("{:?}", config(&board.base)));

    for message in &messages {
        assert!(!message.contains(APP_KEY), "key leaked: {message}");
    }
    assert!(messages[0].contains("401") && messages[0].contains("app_key=REDACTED"));
    assert!(messages[0].contains("AUTH_FAIL"), "{}", messages[0]);
    assert!(messages[1].contains("502"));
    assert!(messages[2].contains("did not send the expected JSON"));
    assert!(messages[3].contains("failed"), "{}", messages[3]);
}
