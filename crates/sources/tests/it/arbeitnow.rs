use std::collections::HashMap;

use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use domain::{EmploymentType, Remote};
use sources::{ArbeitnowConfig, ArbeitnowSource, Cursor, Source};

use crate::support::{Board, fast_http, fixture_json, job, json, oks, utc};

fn config(base: &str, keywords: &[&str]) -> ArbeitnowConfig {
    ArbeitnowConfig {
        base_url: base.to_owned(),
        keywords: keywords.iter().map(|k| k.to_string()).collect(),
        max_pages: 10,
        http: fast_http(),
    }
}

/// Page 1 is the fixture with `links.next` replaced by `next`; page 2 is the empty end.
fn feed(next: Option<&str>) -> Router {
    let mut first = fixture_json("arbeitnow/job_board_api_page1.json");
    if let Some(next) = next {
        first["links"]["next"] = next.into();
    }
    Router::new().route(
        "/api/job-board-api",
        get(move |Query(q): Query<HashMap<String, String>>| {
            let first = first.clone();
            async move {
                match q.get("page").map(String::as_str) {
                    Some("1") => json(first.to_string()),
                    _ => json(r#"{"data":[],"links":{"next":null},"meta":{}}"#),
                }
            }
        }),
    )
}

#[tokio::test]
async fn feed_maps_to_jobs_and_follows_next_on_our_host() {
    let board = Board::start(feed(None)).await;
    let arbeitnow = ArbeitnowSource::new(config(&board.base, &[])).unwrap();

    let page = arbeitnow.fetch_page(None).await.unwrap();
    assert_eq!(page.items.len(), 5);
    // links.next names www.arbeitnow.com; only its page number is used.
    assert_eq!(page.next, Some(Cursor::new(0, 1)));

    let kaltfront = job(&page.items, "backend-entwickler-rust-mwd-berlin-412877");
    assert_eq!(kaltfront.title, "Backend-Entwickler Rust (m/w/d)");
    assert_eq!(kaltfront.company.as_deref(), Some("Kaltfront Systems GmbH"));
    assert_eq!(kaltfront.locations, ["Berlin"]);
    assert_eq!(kaltfront.remote, None, "remote: false covers hybrid too");
    assert_eq!(kaltfront.employment_type, Some(EmploymentType::FullTime));
    assert_eq!(kaltfront.published_at, utc("2026-11-20T05:10:12Z"));
    assert!(
        kaltfront
            .description_text
            .as_deref()
            .unwrap()
            .starts_with("Über uns\nKaltfront Systems")
    );

    let alpenwerk = job(
        &page.items,
        "senior-platform-engineer-all-genders-munich-412861",
    );
    assert_eq!(alpenwerk.remote, Some(Remote::Yes));
    assert_eq!(alpenwerk.employment_type, Some(EmploymentType::FullTime));
    assert_eq!(
        alpenwerk.salary, None,
        "pay in prose is not a stated salary"
    );

    let student = job(
        &page.items,
        "werkstudent-softwareentwicklung-mwd-hamburg-412840",
    );
    assert_eq!(
        student.employment_type, None,
        "\"Working student\" is not clearly one type"
    );

    let end = arbeitnow.fetch_page(page.next.as_ref()).await.unwrap();
    assert!(end.items.is_empty());
    assert_eq!(end.next, None);
    let pages: Vec<Option<String>> = board.requests().iter().map(|r| r.param("page")).collect();
    assert_eq!(pages, [Some("1".into()), Some("2".into())]);
}

#[tokio::test]
async fn a_hostile_next_link_cannot_redirect_or_loop() {
    let board = Board::start(feed(Some("http://attacker.invalid/collect?page=2"))).await;
    let arbeitnow = ArbeitnowSource::new(config(&board.base, &[])).unwrap();
    let page = arbeitnow.fetch_page(None).await.unwrap();
    let end = arbeitnow.fetch_page(page.next.as_ref()).await.unwrap();
    assert_eq!(end.next, None);
    assert!(
        board
            .requests()
            .iter()
            .all(|r| r.path == "/api/job-board-api")
    );
    assert_eq!(board.count(), 2, "page 2 was asked of our configured host");

    let board = Board::start(feed(Some(
        "https://www.arbeitnow.com/api/job-board-api?page=1",
    )))
    .await;
    let arbeitnow = ArbeitnowSource::new(config(&board.base, &[])).unwrap();
    let page = arbeitnow.fetch_page(None).await.unwrap();
    assert_eq!(page.next, None, "a link back to page 1 would loop");
    assert!(
        page.notes[0].contains("does not move forward"),
        "{:?}",
        page.notes
    );
}

#[tokio::test]
async fn keywords_filter_on_our_side() {
    let board = Board::start(feed(None)).await;
    let arbeitnow = ArbeitnowSource::new(config(&board.base, &["KUBERNETES"])).unwrap();
    let page = arbeitnow.fetch_page(None).await.unwrap();
    let titles: Vec<&str> = oks(&page.items).iter().map(|j| j.title.as_str()).collect();
    assert_eq!(titles, ["Senior Platform Engineer (all genders)"]);
    assert_eq!(
        page.next,
        Some(Cursor::new(0, 1)),
        "filtering does not end the feed"
    );
}
