//! Text of scanned PDFs: pages rendered by poppler's `pdftoppm`, read by `tesseract`.
//!
//! Runs inside the sandbox child (see [`crate::sandbox`]) only when the PDF's own text is
//! empty, so both programs inherit its resource limits (address space, CPU time per process,
//! no core files) and start with an empty environment. The page images live in a private
//! temporary folder that is removed whatever happens.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

/// Pages read by OCR at most: a scanned résumé is one to three pages, and each page costs
/// seconds.
pub const DEFAULT_MAX_PAGES: u32 = 5;
/// Rendering resolution: small print stays legible, a page stays a few megabytes.
const DPI: &str = "200";

/// The OCR programs and languages, as found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ocr {
    pub pdftoppm: PathBuf,
    pub tesseract: PathBuf,
    /// tesseract's language list, e.g. `eng+rus`.
    pub languages: String,
    pub max_pages: u32,
}

/// A program's path in `PATH`, if it is there.
fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

impl Ocr {
    /// OCR with the `wanted` languages that tesseract has, if `pdftoppm` and `tesseract` are
    /// installed and at least one of the languages is; otherwise why not.
    pub fn detect(wanted: &[&str]) -> Result<Self, String> {
        let pdftoppm = find("pdftoppm").ok_or("pdftoppm (poppler-utils) is not installed")?;
        let tesseract = find("tesseract").ok_or("tesseract is not installed")?;
        let listed = Command::new(&tesseract)
            .arg("--list-langs")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| format!("tesseract does not run: {e}"))?;
        let installed = String::from_utf8_lossy(&listed.stdout).into_owned();
        let installed: Vec<&str> = installed.lines().map(str::trim).collect();
        let languages: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|lang| installed.contains(lang))
            .collect();
        if languages.is_empty() {
            return Err(format!(
                "tesseract has none of the languages {}",
                wanted.join(", ")
            ));
        }
        Ok(Self {
            pdftoppm,
            tesseract,
            languages: languages.join("+"),
            max_pages: DEFAULT_MAX_PAGES,
        })
    }

    /// The sandbox child's arguments that carry these settings.
    pub(crate) fn child_args(&self) -> Vec<OsString> {
        vec![
            "--ocr-pdftoppm".into(),
            self.pdftoppm.clone().into(),
            "--ocr-tesseract".into(),
            self.tesseract.clone().into(),
            "--ocr-languages".into(),
            self.languages.clone().into(),
            "--ocr-pages".into(),
            self.max_pages.to_string().into(),
        ]
    }
}

/// A folder removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch() -> std::io::Result<Scratch> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("jobpilot-ocr-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(Scratch(dir))
}

fn run(program: &Path, args: &[&std::ffi::OsStr]) -> Result<Vec<u8>, String> {
    let output = Command::new(program)
        .args(args)
        .env_clear()
        // One thread: the memory limit covers every thread's stack, and the CPU limit is
        // per process anyway.
        .env("OMP_THREAD_LIMIT", "1")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("{} did not start: {e}", program.display()))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(format!("{} failed ({})", program.display(), output.status))
    }
}

/// The text OCR reads on the first `ocr.max_pages` pages of `pdf`, page after page.
pub(crate) fn recognise(pdf: &[u8], ocr: &Ocr) -> Result<String, String> {
    let dir = scratch().map_err(|e| format!("no scratch folder: {e}"))?;
    let input = dir.0.join("input.pdf");
    std::fs::write(&input, pdf).map_err(|e| format!("cannot write the PDF: {e}"))?;
    let root = dir.0.join("page");
    let last = ocr.max_pages.to_string();
    run(
        &ocr.pdftoppm,
        &[
            "-r".as_ref(),
            DPI.as_ref(),
            "-gray".as_ref(),
            "-f".as_ref(),
            "1".as_ref(),
            "-l".as_ref(),
            last.as_ref(),
            input.as_os_str(),
            root.as_os_str(),
        ],
    )?;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir.0)
        .map_err(|e| format!("cannot list the pages: {e}"))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "pgm"))
        .collect();
    // page-1.pgm … page-10.pgm: by page number, not by name.
    pages.sort_by_key(|path| {
        path.file_stem()
            .and_then(|stem| stem.to_str())
            .and_then(|stem| stem.rsplit('-').next())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    });
    let mut text = String::new();
    for page in pages {
        let read = run(
            &ocr.tesseract,
            &[
                page.as_os_str(),
                "stdout".as_ref(),
                "-l".as_ref(),
                ocr.languages.as_ref(),
            ],
        )?;
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&String::from_utf8_lossy(&read));
        let _ = std::fs::remove_file(&page);
    }
    Ok(text)
}
