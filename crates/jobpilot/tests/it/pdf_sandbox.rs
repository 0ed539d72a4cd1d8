//! The PDF sandbox as the server runs it: `jobpilot pdf-sandbox` as a real child process, under
//! real resource limits, fed through its stdin.

use std::time::{Duration, Instant};

use extract::{ExtractError, Limits, PdfSandbox, fixtures};

fn sandbox_with(extra_args: &[&str], limits: Limits) -> PdfSandbox {
    let mut args = vec!["pdf-sandbox".into()];
    args.extend(extra_args.iter().map(Into::into));
    PdfSandbox::new(env!("CARGO_BIN_EXE_jobpilot"), args, limits)
}

fn sandbox(limits: Limits) -> PdfSandbox {
    sandbox_with(&[], limits)
}

#[tokio::test]
async fn a_valid_pdf_comes_back_as_text() {
    let pdf = fixtures::pdf(&["Jane Doe\nRust engineer", "Berlin (remote)"]);
    let text = sandbox(Limits::default()).extract(pdf).await.unwrap();
    assert_eq!(text, "Jane Doe\nRust engineer\n\nBerlin (remote)");
}

#[tokio::test]
async fn output_is_capped_by_the_limit() {
    let pdf = fixtures::pdf(&["0123456789 0123456789 0123456789"]);
    let limits = Limits {
        max_output_chars: 12,
        ..Limits::default()
    };
    let text = sandbox(limits).extract(pdf).await.unwrap();
    assert_eq!(text, "0123456789 0");
}

#[tokio::test]
async fn refusals_are_told_apart() {
    let sandbox = sandbox(Limits {
        pdf_max_pages: 2,
        ..Limits::default()
    });
    let corrupt = sandbox
        .extract(b"%PDF-1.7\nthis is not a PDF body".to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(corrupt, ExtractError::Corrupt { kind: "PDF" }),
        "{corrupt:?}"
    );

    let encrypted = sandbox
        .extract(fixtures::encrypted_pdf())
        .await
        .unwrap_err();
    assert!(
        matches!(encrypted, ExtractError::Encrypted),
        "{encrypted:?}"
    );

    let long = sandbox
        .extract(fixtures::pdf(&["one", "two", "three"]))
        .await
        .unwrap_err();
    assert!(
        matches!(long, ExtractError::TooManyPages { pages: 3, limit: 2 }),
        "{long:?}"
    );
    assert_eq!(
        long.to_string(),
        "the PDF has 3 pages; at most 2 are accepted"
    );
}

#[tokio::test]
async fn a_hanging_parser_is_killed_at_the_timeout() {
    let limits = Limits {
        pdf_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let started = Instant::now();
    let error = sandbox_with(&["--test-hang"], limits)
        .extract(fixtures::pdf(&["Jane"]))
        .await
        .unwrap_err();
    assert!(matches!(error, ExtractError::Timeout { .. }), "{error:?}");
    assert_eq!(error.code(), "timeout");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_tiny_memory_limit_fails_cleanly() {
    // 32 MiB is less than the program itself maps, so any allocation that needs fresh
    // address space is refused; a few MiB of page text needs some (a tiny PDF could still fit
    // in heap the process already has).
    let limits = Limits {
        pdf_memory_bytes: 32 * 1024 * 1024,
        pdf_timeout: Duration::from_secs(10),
        ..Limits::default()
    };
    let started = Instant::now();
    let page = "Jane Doe, Rust engineer. ".repeat(160_000);
    let error = sandbox(limits)
        .extract(fixtures::pdf(&[&page]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ExtractError::OutOfMemory | ExtractError::Crashed { .. }
        ),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_subcommand_is_hidden_and_refuses_bad_arguments() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_jobpilot"))
        .arg("--help")
        .env_clear()
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains("pdf-sandbox"));

    let status = std::process::Command::new(env!("CARGO_BIN_EXE_jobpilot"))
        .args(["pdf-sandbox", "--max-pages", "nope"])
        .env_clear()
        .status()
        .unwrap();
    assert_eq!(
        status.code(),
        Some(i32::from(extract::sandbox::exit::USAGE))
    );
}
