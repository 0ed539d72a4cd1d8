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

/// OCR's programs, when installed; `JOBPILOT_TEST_OCR=required` (CI) makes their absence a
/// failure rather than a skip.
pub(crate) fn ocr_or_skip() -> Option<extract::Ocr> {
    match extract::Ocr::detect(&["eng", "rus"]) {
        Ok(ocr) => Some(ocr),
        Err(reason) if std::env::var("JOBPILOT_TEST_OCR").as_deref() == Ok("required") => {
            panic!("OCR is required here: {reason}")
        }
        Err(reason) => {
            eprintln!("skipped: {reason}");
            None
        }
    }
}

/// A scan of a text page: the page rendered to a JPEG, wrapped in a PDF with no text.
pub(crate) fn scanned(pages: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("text.pdf");
    std::fs::write(&input, fixtures::pdf(pages)).unwrap();
    let (width, height) = (1275, 1650);
    let status = std::process::Command::new("pdftoppm")
        .args([
            "-jpeg",
            "-gray",
            "-singlefile",
            "-scale-to-x",
            "1275",
            "-scale-to-y",
            "1650",
        ])
        .arg(&input)
        .arg(dir.path().join("scan"))
        .status()
        .unwrap();
    assert!(status.success());
    let jpeg = std::fs::read(dir.path().join("scan.jpg")).unwrap();
    fixtures::image_pdf(&jpeg, width, height)
}

#[tokio::test]
async fn a_scanned_pdf_is_read_with_ocr() {
    let Some(ocr) = ocr_or_skip() else {
        return;
    };
    assert!(ocr.languages.contains("eng"), "{ocr:?}");
    let pdf = scanned(&["Jane Doe\nSenior Rust Engineer\nPostgreSQL and Kubernetes"]);
    // The PDF has no text of its own.
    let plain = sandbox(Limits::default())
        .extract(pdf.clone())
        .await
        .unwrap();
    assert_eq!(plain, "");
    let started = Instant::now();
    let read = sandbox(Limits::default())
        .with_ocr(Some(ocr))
        .extract(pdf)
        .await
        .unwrap();
    for words in [
        "Jane Doe",
        "Senior Rust Engineer",
        "PostgreSQL and Kubernetes",
    ] {
        assert!(read.contains(words), "{words:?} not in {read:?}");
    }
    eprintln!("OCR of one page: {:?}", started.elapsed());
}

#[tokio::test]
async fn ocr_never_runs_on_a_pdf_with_text_and_a_broken_ocr_reads_nothing() {
    let Some(ocr) = ocr_or_skip() else {
        return;
    };
    let with_text = fixtures::pdf(&["Jane Doe\nRust engineer"]);
    let text = sandbox(Limits::default())
        .with_ocr(Some(ocr.clone()))
        .extract(with_text)
        .await
        .unwrap();
    assert_eq!(text, "Jane Doe\nRust engineer");
    // A tesseract that fails: the scan reads as no text, not as an error or a crash.
    let broken = extract::Ocr {
        tesseract: "/bin/false".into(),
        ..ocr
    };
    let text = sandbox(Limits::default())
        .with_ocr(Some(broken))
        .extract(scanned(&["Jane Doe"]))
        .await
        .unwrap();
    assert_eq!(text, "");
}

#[test]
fn ocr_is_off_automatic_or_exactly_the_languages_named() {
    let config = |ocr: &str| {
        jobpilot::config::Config::from_sources([("JOBPILOT_OCR".to_owned(), ocr.to_owned())], None)
            .unwrap()
    };
    assert!(jobpilot::workers::ocr(&config("off")).unwrap().is_none());
    // A language tesseract does not have is refused at start, by name.
    let error = jobpilot::workers::ocr(&config("eng+zzz"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("JOBPILOT_OCR"), "{error}");
    if let Some(found) = ocr_or_skip() {
        let auto = jobpilot::workers::ocr(&config("auto")).unwrap().unwrap();
        assert_eq!(auto.languages, found.languages);
        let named = jobpilot::workers::ocr(&config("eng")).unwrap().unwrap();
        assert_eq!(named.languages, "eng");
    }
}
