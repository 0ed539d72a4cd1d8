use axum::Router;
use axum::routing::get;
use domain::{Remote, SalaryPeriod};
use serde_json::json as value;
use sources::{RemoteOkConfig, RemoteOkSource, Source};

use crate::support::{Board, errs, fast_http, fixture, fixture_json, job, json, oks, utc};

async fn serve(body: String) -> (Board, RemoteOkSource) {
    let board = Board::start(Router::new().route(
        "/api",
        get(move || {
            let body = body.clone();
            async move { json(body) }
        }),
    ))
    .await;
    let source = RemoteOkSource::new(RemoteOkConfig {
        base_url: board.base.clone(),
        http: fast_http(),
    })
    .unwrap();
    (board, source)
}

#[tokio::test]
async fn feed_maps_to_jobs_without_the_legal_notice() {
    let (_board, remoteok) = serve(fixture("remoteok/api.json")).await;
    let page = remoteok.fetch_page(None).await.unwrap();

    assert_eq!(page.items.len(), 5, "element 0 is the notice, not a job");
    assert_eq!(oks(&page.items).len(), 5);
    assert_eq!(page.next, None);
    assert!(
        oks(&page.items)
            .iter()
            .all(|j| j.remote == Some(Remote::Yes))
    );

    let ferrous = job(&page.items, "1138352");
    assert_eq!(ferrous.title, "Senior Rust Engineer");
    assert_eq!(ferrous.company.as_deref(), Some("Ferrous Labs"));
    assert_eq!(ferrous.locations, ["Europe"]);
    assert_eq!(ferrous.published_at, utc("2026-11-20T06:00:05Z"));
    let salary = ferrous.salary.as_ref().unwrap();
    assert_eq!((salary.min, salary.max), (Some(110_000.0), Some(140_000.0)));
    assert_eq!(salary.currency.as_str(), "USD");
    assert_eq!(salary.period, SalaryPeriod::Year);

    let quill = job(&page.items, "1138349");
    assert_eq!(quill.salary, None, "0/0 means not stated");
    let html = quill.description_html.as_deref().unwrap();
    for banned in ["<script", "onclick", "document.cookie", "tracker.example"] {
        assert!(!html.contains(banned), "{banned} in {html}");
    }
    assert!(html.contains(
        r#"<a href="https://quillchain.example/apply" rel="noopener noreferrer nofollow">"#
    ));
    let text = quill.description_text.as_deref().unwrap();
    assert!(
        text.contains("Apply in one click: Start your application"),
        "{text}"
    );
    assert!(!text.contains("document.write"));

    let tallyfox = job(&page.items, "1138344");
    let salary = tallyfox.salary.as_ref().unwrap();
    assert_eq!(
        (salary.min, salary.max),
        (Some(90_000.0), None),
        "90000/0 is a floor"
    );
    assert!(tallyfox.locations.is_empty(), "\"\" is no location");
}

#[tokio::test]
async fn a_feed_with_only_the_notice_has_no_jobs() {
    let feed = fixture_json("remoteok/api.json");
    let (_board, remoteok) = serve(value!([feed[0]]).to_string()).await;
    let page = remoteok.fetch_page(None).await.unwrap();
    assert!(page.items.is_empty());
}

#[tokio::test]
async fn bad_postings_are_reported_one_by_one_and_good_ones_kept() {
    let feed = fixture_json("remoteok/api.json");
    let with = |changes: serde_json::Value| {
        let mut posting = feed[1].clone();
        for (key, value) in changes.as_object().unwrap() {
            if value.is_null() {
                posting.as_object_mut().unwrap().remove(key);
            } else {
                posting[key] = value.clone();
            }
        }
        posting
    };
    let body = value!([
        feed[0],
        feed[1],
        with(value!({"id": "wrong-types", "salary_min": "lots"})),
        with(value!({"id": "no-title", "position": null})),
        with(value!({"id": "negative", "salary_min": -5})),
        with(value!({"id": "upside-down", "salary_min": 200_000, "salary_max": 100_000})),
        with(value!({"id": "absurd", "salary_min": 5e12})),
        with(value!({"id": "huge", "description": "x".repeat(10 * 1024 * 1024)})),
        with(value!({"id": "bad-url", "url": "javascript:alert(1)"})),
        feed[2],
    ]);
    let (_board, remoteok) = serve(body.to_string()).await;
    let page = remoteok.fetch_page(None).await.unwrap();

    let good: Vec<&str> = oks(&page.items)
        .iter()
        .map(|j| j.external_id.as_str())
        .collect();
    assert_eq!(good, ["1138352", "1138349"]);

    let bad: Vec<(String, String, String)> = errs(&page.items)
        .iter()
        .map(|e| {
            (
                e.external_id.clone().unwrap_or_default(),
                e.errors[0].field.clone(),
                e.errors[0].message.clone(),
            )
        })
        .collect();
    let expect = [
        ("wrong-types", "salary_min", "invalid type"),
        ("no-title", ".", "missing field `position`"),
        ("negative", "salary.min", "must not be negative"),
        ("upside-down", "salary.min", "greater than salary.max"),
        ("absurd", "salary.min", "not a plausible salary"),
        ("huge", "description_html", "10485760 bytes"),
        ("bad-url", "url", "http or https"),
    ];
    assert_eq!(bad.len(), expect.len(), "{bad:#?}");
    for ((id, field, message), (want_id, want_field, want_message)) in bad.iter().zip(expect) {
        assert_eq!(id, want_id);
        assert_eq!(field, want_field, "{id}");
        assert!(message.contains(want_message), "{id}: {message}");
    }
}
