use std::collections::HashMap;

use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use domain::{EmploymentType, Remote, SalaryPeriod};
use sources::{Cursor, LeverCompany, LeverConfig, LeverSource, Source};

use crate::support::{Board, errs, fast_http, fixture, fixture_json, job, json, oks, utc};

const DUPLICATE: &str = "3f9c2b7e-1d4a-4e8b-9c61-7a5d0e2f4b18";

fn config(base: &str, page_size: Option<u32>) -> LeverConfig {
    LeverConfig {
        base_url: base.to_owned(),
        companies: vec![LeverCompany {
            site: "northwind".into(),
            name: Some("Northwind Robotics".into()),
        }],
        page_size,
        http: fast_http(),
    }
}

/// Replays the fixture, honouring `skip` and `limit` as Lever does.
fn paging_board(postings: serde_json::Value) -> Router {
    Router::new().route(
        "/v0/postings/northwind",
        get(move |Query(q): Query<HashMap<String, String>>| {
            let all = postings.as_array().unwrap().clone();
            async move {
                assert_eq!(q.get("mode").map(String::as_str), Some("json"));
                let skip = q.get("skip").map_or(0, |s| s.parse().unwrap());
                let limit = q.get("limit").map_or(all.len(), |s| s.parse().unwrap());
                let page: Vec<_> = all.into_iter().skip(skip).take(limit).collect();
                json(serde_json::Value::from(page).to_string())
            }
        }),
    )
}

#[tokio::test]
async fn postings_map_to_jobs() {
    let board = Board::start(Router::new().route(
        "/v0/postings/northwind",
        get(|| async { json(fixture("lever/northwind_postings.json")) }),
    ))
    .await;
    let lever = LeverSource::new(config(&board.base, None)).unwrap();

    let page = lever.fetch_page(None).await.unwrap();
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.next, None);

    let rust = job(&page.items, DUPLICATE);
    assert_eq!(rust.title, "Senior Rust Engineer");
    assert_eq!(rust.company.as_deref(), Some("Northwind Robotics"));
    assert_eq!(
        rust.url,
        format!("https://jobs.lever.co/northwind/{DUPLICATE}")
    );
    assert_eq!(rust.locations, ["Berlin, Germany", "Remote, Europe"]);
    assert_eq!(rust.remote, Some(Remote::Hybrid));
    assert_eq!(rust.employment_type, Some(EmploymentType::FullTime));
    // createdAt is in milliseconds: the same instant as Greenhouse's first_published.
    assert_eq!(rust.published_at, utc("2026-11-10T08:30:00Z"));
    let salary = rust.salary.as_ref().unwrap();
    assert_eq!((salary.min, salary.max), (Some(85_000.0), Some(110_000.0)));
    assert_eq!(salary.currency.as_str(), "EUR");
    assert_eq!(salary.period, SalaryPeriod::Year);
    let html = rust.description_html.as_deref().unwrap();
    assert!(
        html.contains("<h3>What you'll do</h3><ul><li>Design and implement"),
        "{html}"
    );
    assert!(
        html.ends_with("on request.</div>"),
        "closing text last: {html}"
    );
    let text = rust.description_text.as_deref().unwrap();
    assert!(text.starts_with("Northwind Robotics builds autonomous forklifts"));
    assert!(
        text.contains("Nice to have\n- Experience with robotics"),
        "{text}"
    );

    assert_eq!(
        job(&page.items, "b82e6d40-57c3-4f19-a0de-2c94f1e7b365").remote,
        Some(Remote::No)
    );
    let security = job(&page.items, "e4a1c9f2-0b6d-4c3e-8f75-91d2a6b0c4e7");
    assert_eq!(security.remote, Some(Remote::Yes));
    assert_eq!(security.salary, None);
}

#[tokio::test]
async fn sites_are_read_in_skip_limit_pages() {
    let board = Board::start(paging_board(fixture_json("lever/northwind_postings.json"))).await;
    let lever = LeverSource::new(config(&board.base, Some(2))).unwrap();

    let first = lever.fetch_page(None).await.unwrap();
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.next, Some(Cursor::new(0, 1)));
    let second = lever.fetch_page(first.next.as_ref()).await.unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.next, None, "a short page is the last");

    let skips: Vec<Option<String>> = board.requests().iter().map(|r| r.param("skip")).collect();
    assert_eq!(skips, [Some("0".into()), Some("2".into())]);
}

#[tokio::test]
async fn an_unknown_currency_fails_only_its_posting() {
    let mut postings = fixture_json("lever/northwind_postings.json");
    postings[0]["salaryRange"]["currency"] = "XYZ".into();
    let board = Board::start(paging_board(postings)).await;
    let lever = LeverSource::new(config(&board.base, None)).unwrap();

    let page = lever.fetch_page(None).await.unwrap();
    assert_eq!(oks(&page.items).len(), 2);
    let failed = errs(&page.items);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].external_id.as_deref(), Some(DUPLICATE));
    assert_eq!(failed[0].errors[0].field, "salary.currency");
    assert!(
        failed[0].errors[0]
            .message
            .contains("\"XYZ\" is not an active ISO 4217")
    );
}
