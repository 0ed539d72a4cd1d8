use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::get;
use domain::{EmploymentType, Remote, SalaryPeriod, Seniority};
use sources::{Cursor, HH_SEARCH_DEPTH, HhConfig, HhQuery, HhSource, Source, SourceError};
use std::collections::HashMap;

use crate::support::{Board, errs, fast_http, fixture, fixture_json, job, json, status_json, utc};

const AGENT: &str = "JobSearchServer/0.1 (dev@example.org)";

fn config(base: &str, fetch_details: bool) -> HhConfig {
    HhConfig {
        base_url: base.to_owned(),
        user_agent: AGENT.to_owned(),
        app_token: Some("APPL-token-123".to_owned().into()),
        queries: vec![HhQuery {
            text: "Rust".into(),
            areas: vec!["113".into()],
        }],
        per_page: 3,
        fetch_details,
        http: fast_http(),
    }
}

fn fixture_board() -> Router {
    Router::new()
        .route(
            "/vacancies",
            get(|Query(q): Query<HashMap<String, String>>| async move {
                match q.get("page").map(String::as_str) {
                    Some("0") => json(fixture("hh/vacancies_page0.json")),
                    Some("1") => json(fixture("hh/vacancies_page1.json")),
                    _ => status_json(
                        StatusCode::BAD_REQUEST,
                        fixture("hh/error_search_depth_2000.json"),
                    ),
                }
            }),
        )
        .route(
            "/vacancies/{id}",
            get(|Path(id): Path<String>| async move {
                match id.as_str() {
                    "154820397" | "154907768" => json(fixture(&format!("hh/vacancy_{id}.json"))),
                    _ => status_json(
                        StatusCode::NOT_FOUND,
                        fixture("hh/error_vacancy_not_found.json"),
                    ),
                }
            }),
        )
}

#[tokio::test]
async fn search_pages_map_to_jobs_with_snippets() {
    let board = Board::start(fixture_board()).await;
    let hh = HhSource::new(config(&board.base, false)).unwrap();

    let first = hh.fetch_page(None).await.unwrap();
    assert_eq!(first.items.len(), 3);
    assert_eq!(first.next, Some(Cursor::new(0, 1)));
    let second = hh.fetch_page(first.next.as_ref()).await.unwrap();
    assert_eq!(second.next, None, "page 1 is the last of 2");

    let moscow = job(&first.items, "154820397");
    assert_eq!(moscow.source, "hh");
    assert_eq!(
        moscow.title,
        "Rust-разработчик (Backend, платёжная платформа)"
    );
    assert_eq!(moscow.company.as_deref(), Some("Полярный Код"));
    assert_eq!(moscow.url, "https://hh.ru/vacancy/154820397");
    assert_eq!(moscow.locations, ["Москва"]);
    assert_eq!(moscow.remote, Some(Remote::Hybrid));
    assert_eq!(moscow.employment_type, Some(EmploymentType::FullTime));
    assert_eq!(
        moscow.seniority, None,
        "HH states experience years, not a level"
    );
    // `+0300` without a colon.
    assert_eq!(moscow.published_at, utc("2026-11-20T07:15:00Z"));
    let salary = moscow.salary.as_ref().unwrap();
    assert_eq!(salary.currency.as_str(), "RUB", "HH's RUR is ISO RUB");
    assert_eq!((salary.min, salary.max), (Some(280_000.0), Some(380_000.0)));
    assert_eq!(salary.period, SalaryPeriod::Month);
    assert_eq!(salary.gross, Some(false));
    let snippet = moscow.description_text.as_deref().unwrap();
    assert!(
        snippet.starts_with("Коммерческий опыт разработки на Rust от 3 лет"),
        "{snippet}"
    );
    assert!(!snippet.contains("highlighttext"));
    assert_eq!(
        moscow.description_html, None,
        "a snippet is not the description"
    );

    let usd = job(&first.items, "154907768");
    let salary = usd.salary.as_ref().unwrap();
    assert_eq!(salary.currency.as_str(), "USD");
    assert_eq!((salary.min, salary.max), (Some(5_000.0), Some(6_500.0)));
    assert_eq!(usd.remote, Some(Remote::Yes));

    let embedded = job(&first.items, "154733150");
    assert_eq!(embedded.salary, None, "a null salary stays unknown");
    assert_eq!(embedded.remote, Some(Remote::No));
    assert_eq!(embedded.company.as_deref(), Some("НПП «Кварта-Сенсор»"));

    let gross = job(&second.items, "154690288");
    let salary = gross.salary.as_ref().unwrap();
    assert_eq!((salary.min, salary.max), (Some(300_000.0), None));
    assert_eq!(salary.gross, Some(true));
    assert_eq!(
        gross.remote,
        Some(Remote::Yes),
        "remote is one of its formats"
    );

    let intern = job(&second.items, "154512046");
    assert_eq!(intern.employment_type, Some(EmploymentType::Internship));
    assert_eq!(intern.seniority, Some(Seniority::Intern));

    let requests = board.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.headers["hh-user-agent"], AGENT);
        assert_eq!(request.headers["authorization"], "Bearer APPL-token-123");
        assert_eq!(request.param("text").as_deref(), Some("Rust"));
        assert_eq!(request.param("area").as_deref(), Some("113"));
        assert_eq!(request.param("per_page").as_deref(), Some("3"));
    }
}

#[tokio::test]
async fn details_bring_the_full_description_and_skills() {
    let board = Board::start(fixture_board()).await;
    let hh = HhSource::new(config(&board.base, true)).unwrap();

    let page = hh.fetch_page(None).await.unwrap();
    assert_eq!(page.items.len(), 3);

    let moscow = job(&page.items, "154820397");
    let html = moscow.description_html.as_deref().unwrap();
    assert!(
        html.starts_with("<p><strong>Полярный Код</strong>"),
        "{html}"
    );
    let text = moscow.description_text.as_deref().unwrap();
    assert!(text.contains("- проектировать и развивать сервисы обработки платежей на Rust"));
    assert!(
        text.contains("120 000 ₽ в год"),
        "&nbsp; decoded once: {text}"
    );
    assert!(moscow.skills.contains(&"Tokio".to_owned()));

    let storage = job(&page.items, "154907768");
    let html = storage.description_html.as_deref().unwrap();
    assert!(!html.contains("<script") && !html.contains("<style"));
    assert!(storage.skills.contains(&"io_uring".to_owned()));

    // 154733150 has no detail on this board: reported, and the page goes on.
    let missing = errs(&page.items);
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].external_id.as_deref(), Some("154733150"));
    assert!(missing[0].errors[0].message.contains("404"));

    let paths: Vec<String> = board.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/vacancies",
            "/vacancies/154820397",
            "/vacancies/154907768",
            "/vacancies/154733150"
        ]
    );
}

#[tokio::test]
async fn search_never_goes_past_the_depth_limit() {
    let page0 = fixture_json("hh/vacancies_page0.json");
    let item = page0["items"][0].clone();
    let board = Board::start(Router::new().route(
        "/vacancies",
        get(move |Query(q): Query<HashMap<String, String>>| {
            let item = item.clone();
            async move {
                let page: u32 = q["page"].parse().unwrap();
                let per_page: u32 = q["per_page"].parse().unwrap();
                if page * per_page >= HH_SEARCH_DEPTH {
                    return status_json(
                        StatusCode::BAD_REQUEST,
                        fixture("hh/error_search_depth_2000.json"),
                    );
                }
                json(
                    serde_json::json!({
                        "items": [item], "found": 7_500, "pages": 75,
                        "page": page, "per_page": per_page
                    })
                    .to_string(),
                )
            }
        }),
    ))
    .await;
    let mut config = config(&board.base, false);
    config.per_page = 100;
    let hh = HhSource::new(config).unwrap();

    let mut cursor = None;
    let mut notes = Vec::new();
    for _ in 0..100 {
        let page = hh.fetch_page(cursor.as_ref()).await.unwrap();
        notes.extend(page.notes);
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    let pages: Vec<String> = board
        .requests()
        .iter()
        .map(|r| r.param("page").unwrap())
        .collect();
    assert_eq!(pages.len(), 20, "pages 0..=19 of 100 reach result 2000");
    assert_eq!(pages.last().map(String::as_str), Some("19"));
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0].contains("7500") && notes[0].contains("2000"),
        "{}",
        notes[0]
    );
}

#[tokio::test]
async fn refusals_are_reported_with_hh_reason_and_not_retried() {
    let board = Board::start(Router::new().route(
        "/vacancies",
        get(|| async {
            status_json(
                StatusCode::FORBIDDEN,
                fixture("hh/error_captcha_required.json"),
            )
        }),
    ))
    .await;
    let hh = HhSource::new(config(&board.base, false)).unwrap();

    let err = hh.fetch_page(None).await.unwrap_err();
    assert_eq!(err.status(), Some(403));
    let message = err.to_string();
    assert!(message.starts_with("hh: http://127.0.0.1:"), "{message}");
    assert!(message.contains("captcha_required"), "{message}");
    assert_eq!(board.count(), 1);
}

#[test]
fn a_user_agent_is_required() {
    let mut config = config("https://api.hh.ru", false);
    config.user_agent = "  ".into();
    let err = HhSource::new(config).unwrap_err();
    assert!(matches!(err, SourceError::Config { .. }), "{err}");
    assert!(err.to_string().contains("HH-User-Agent"));
}
