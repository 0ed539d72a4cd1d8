use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use domain::Remote;
use sources::{Cursor, GreenhouseConfig, GreenhouseSource, Source};

use crate::support::{Board, fast_http, fixture, job, utc};

const ETAG: &str = "\"board-v1\"";

/// The board answers with an ETag, and with 304 to a request that already has it.
fn board_with_etag() -> Router {
    Router::new().route(
        "/v1/boards/acme/jobs",
        get(|headers: HeaderMap| async move {
            if headers
                .get(header::IF_NONE_MATCH)
                .is_some_and(|v| v == ETAG)
            {
                return StatusCode::NOT_MODIFIED.into_response();
            }
            (
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::ETAG, ETAG),
                ],
                fixture("greenhouse/acme_jobs_content.json"),
            )
                .into_response()
        }),
    )
}

fn config(base: &str, boards: &[&str]) -> GreenhouseConfig {
    GreenhouseConfig {
        base_url: base.to_owned(),
        boards: boards.iter().map(|b| b.to_string()).collect(),
        http: fast_http(),
    }
}

#[tokio::test]
async fn board_jobs_map_with_content_unescaped_once() {
    let board = Board::start(board_with_etag()).await;
    let greenhouse = GreenhouseSource::new(config(&board.base, &["acme"])).unwrap();

    let page = greenhouse.fetch_page(None).await.unwrap();
    assert_eq!(page.items.len(), 4);
    assert_eq!(page.next, None);
    assert_eq!(
        board.requests()[0].param("content").as_deref(),
        Some("true")
    );

    let rust = job(&page.items, "7781204003");
    assert_eq!(rust.title, "Senior Rust Engineer");
    assert_eq!(rust.company.as_deref(), Some("Northwind Robotics"));
    assert_eq!(
        rust.url,
        "https://job-boards.greenhouse.io/acme/jobs/7781204003"
    );
    assert_eq!(rust.locations, ["Berlin, Germany", "Remote - Europe"]);
    assert_eq!(
        rust.remote,
        Some(Remote::Hybrid),
        "from the Location Type field"
    );
    assert_eq!(rust.published_at, utc("2026-11-10T08:30:00Z"));
    assert_eq!(rust.salary, None, "pay in prose is not a stated salary");
    let html = rust.description_html.as_deref().unwrap();
    assert!(
        html.starts_with("<div><p><strong>About Northwind Robotics</strong></p>"),
        "{html}"
    );
    assert!(!html.contains("&lt;"), "content was not unescaped: {html}");
    assert!(html.contains("€85,000&nbsp;–&nbsp;€110,000"), "{html}");
    let text = rust.description_text.as_deref().unwrap();
    assert!(
        text.contains("Salary: €85,000 – €110,000 per year"),
        "{text}"
    );
    assert!(text.contains("\n- Design and implement low-latency fleet coordination"));

    let perception = job(&page.items, "7779861003");
    let html = perception.description_html.as_deref().unwrap();
    assert!(html.contains("Munich R&amp;D centre"), "{html}");
    let text = perception.description_text.as_deref().unwrap();
    assert!(text.contains("Munich R&D centre"), "{text}");
    assert!(!text.contains("&amp;"));

    assert_eq!(job(&page.items, "7762290003").remote, None, "no metadata");
    assert_eq!(job(&page.items, "7788013003").remote, Some(Remote::No));
}

#[tokio::test]
async fn an_unchanged_board_is_not_modified() {
    let board = Board::start(board_with_etag()).await;
    let greenhouse = GreenhouseSource::new(config(&board.base, &["acme", "acme"])).unwrap();

    let first = greenhouse.fetch_page(None).await.unwrap();
    assert_eq!(first.items.len(), 4);
    assert!(!first.not_modified);
    assert_eq!(first.next, Some(Cursor::new(1, 0)));

    let again = greenhouse.fetch_page(None).await.unwrap();
    assert!(again.not_modified);
    assert!(again.items.is_empty());
    assert_eq!(again.next, Some(Cursor::new(1, 0)), "the sync moves on");

    let requests = board.requests();
    assert!(requests[0].headers.get(header::IF_NONE_MATCH).is_none());
    assert_eq!(requests[1].headers[header::IF_NONE_MATCH], ETAG);
}

#[tokio::test]
async fn markup_quoted_as_text_stays_text() {
    // The original HTML talks about a tag: `<p>Never trust &lt;script&gt; from a board</p>`,
    // which Greenhouse encodes once more. A second unescape would turn the words into a
    // script element (and the sanitiser would then delete them).
    let mut body = crate::support::fixture_json("greenhouse/acme_jobs_content.json");
    body["jobs"][0]["content"] =
        "&lt;p&gt;Never trust &amp;lt;script&amp;gt; from a board&lt;/p&gt;".into();
    let board = Board::start(Router::new().route(
        "/v1/boards/acme/jobs",
        get(move || {
            let body = body.to_string();
            async move { crate::support::json(body) }
        }),
    ))
    .await;
    let greenhouse = GreenhouseSource::new(config(&board.base, &["acme"])).unwrap();
    let page = greenhouse.fetch_page(None).await.unwrap();
    let rust = job(&page.items, "7781204003");
    assert_eq!(
        rust.description_html.as_deref(),
        Some("<p>Never trust &lt;script&gt; from a board</p>")
    );
    assert_eq!(
        rust.description_text.as_deref(),
        Some("Never trust <script> from a board")
    );
}
