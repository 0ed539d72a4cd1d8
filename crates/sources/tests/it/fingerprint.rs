//! Near-duplicates and content hashes over every fixture, fetched through the connectors.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::get;
use domain::NewJob;
use sources::normalize::{NEAR_DUPLICATE_MAX_DISTANCE, content_hash, fingerprint, hamming};
use sources::*;

use crate::support::{Board, fast_http, fixture, json, oks, status_json};

/// One local board serving every recorded fixture at its board's path.
fn all_boards() -> Router {
    let hh_search = |Query(q): Query<HashMap<String, String>>| async move {
        match q.get("page").map(String::as_str) {
            Some("0") => json(fixture("hh/vacancies_page0.json")),
            _ => json(fixture("hh/vacancies_page1.json")),
        }
    };
    let hh_detail = |Path(id): Path<String>| async move {
        match id.as_str() {
            "154820397" | "154907768" => json(fixture(&format!("hh/vacancy_{id}.json"))),
            _ => status_json(
                StatusCode::NOT_FOUND,
                fixture("hh/error_vacancy_not_found.json"),
            ),
        }
    };
    let file = |path: &'static str| get(move || async move { json(fixture(path)) });
    Router::new()
        .route("/hh/vacancies", get(hh_search))
        .route("/hh/vacancies/{id}", get(hh_detail))
        .route("/adzuna/gb/search/1", file("adzuna/search_gb_page1.json"))
        .route("/remoteok/api", file("remoteok/api.json"))
        .route(
            "/greenhouse/v1/boards/acme/jobs",
            file("greenhouse/acme_jobs_content.json"),
        )
        .route(
            "/lever/v0/postings/northwind",
            file("lever/northwind_postings.json"),
        )
        .route(
            "/arbeitnow/api/job-board-api",
            file("arbeitnow/job_board_api_page1.json"),
        )
}

async fn all_pages(source: &dyn Source) -> Vec<NewJob> {
    let mut jobs = Vec::new();
    let mut cursor = None;
    for _ in 0..10 {
        let page = source.fetch_page(cursor.as_ref()).await.unwrap();
        jobs.extend(oks(&page.items).into_iter().cloned());
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    jobs
}

async fn every_fixture_job() -> Vec<NewJob> {
    let board = Board::start(all_boards()).await;
    let base = |name: &str| format!("{}/{name}", board.base);
    let hh = |fetch_details| HhConfig {
        base_url: base("hh"),
        user_agent: "jobpilot-test/0.1 (dev@example.org)".into(),
        app_token: None,
        queries: vec![HhQuery {
            text: "Rust".into(),
            areas: vec![],
        }],
        per_page: 3,
        fetch_details,
        http: fast_http(),
    };
    let sources: Vec<Box<dyn Source>> = vec![
        // Snippets for all six vacancies, and the two full descriptions as well.
        Box::new(HhSource::new(hh(false)).unwrap()),
        Box::new(HhSource::new(hh(true)).unwrap()),
        Box::new(
            AdzunaSource::new(AdzunaConfig {
                base_url: base("adzuna"),
                app_id: "id".into(),
                app_key: "key-for-tests".to_owned().into(),
                country: "gb".into(),
                what: None,
                location: None,
                results_per_page: 5,
                max_pages: 1,
                http: fast_http(),
            })
            .unwrap(),
        ),
        Box::new(
            RemoteOkSource::new(RemoteOkConfig {
                base_url: base("remoteok"),
                http: fast_http(),
            })
            .unwrap(),
        ),
        Box::new(
            GreenhouseSource::new(GreenhouseConfig {
                base_url: base("greenhouse"),
                boards: vec!["acme".into()],
                http: fast_http(),
            })
            .unwrap(),
        ),
        Box::new(
            LeverSource::new(LeverConfig {
                base_url: base("lever"),
                companies: vec![LeverCompany {
                    site: "northwind".into(),
                    name: None,
                }],
                page_size: None,
                http: fast_http(),
            })
            .unwrap(),
        ),
        Box::new(
            ArbeitnowSource::new(ArbeitnowConfig {
                base_url: base("arbeitnow"),
                keywords: vec![],
                max_pages: 1,
                http: fast_http(),
            })
            .unwrap(),
        ),
    ];
    let mut jobs = Vec::new();
    for source in &sources {
        jobs.extend(all_pages(source.as_ref()).await);
    }
    jobs
}

#[tokio::test]
async fn the_cross_board_duplicate_is_near_and_every_other_pair_is_far() {
    let jobs = every_fixture_job().await;
    assert_eq!(jobs.len(), 6 + 2 + 5 + 5 + 4 + 3 + 5);
    let key = |job: &NewJob| (job.source.clone(), job.external_id.clone());
    let duplicate = |a: &NewJob, b: &NewJob| {
        let mut pair = [key(a), key(b)];
        pair.sort();
        pair == [
            ("greenhouse".into(), "7781204003".into()),
            (
                "lever".into(),
                "3f9c2b7e-1d4a-4e8b-9c61-7a5d0e2f4b18".into(),
            ),
        ]
    };

    let prints: Vec<u64> = jobs.iter().map(fingerprint).collect();
    let mut duplicates_seen = 0;
    let mut closest_other = u32::MAX;
    for i in 0..jobs.len() {
        for j in i + 1..jobs.len() {
            if key(&jobs[i]) == key(&jobs[j]) {
                continue; // HH's snippet and detail of one vacancy
            }
            let distance = hamming(prints[i], prints[j]);
            if duplicate(&jobs[i], &jobs[j]) {
                duplicates_seen += 1;
                assert!(
                    distance <= NEAR_DUPLICATE_MAX_DISTANCE,
                    "duplicate at {distance}"
                );
            } else {
                closest_other = closest_other.min(distance);
                assert!(
                    distance > NEAR_DUPLICATE_MAX_DISTANCE,
                    "{:?} and {:?} are {distance} apart",
                    key(&jobs[i]),
                    key(&jobs[j])
                );
            }
        }
    }
    assert_eq!(duplicates_seen, 1);
    assert!(closest_other > NEAR_DUPLICATE_MAX_DISTANCE);
}

#[tokio::test]
async fn content_hashes_are_stable_across_fetches_and_distinct_across_jobs() {
    let first = every_fixture_job().await;
    let second = every_fixture_job().await;
    let hashes: Vec<[u8; 32]> = first.iter().map(content_hash).collect();
    assert_eq!(hashes, second.iter().map(content_hash).collect::<Vec<_>>());
    let mut unique = hashes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), hashes.len());
}
