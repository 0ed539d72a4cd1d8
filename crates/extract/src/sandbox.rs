//! PDF parsing in a child process of our own binary, under OS resource limits.
//!
//! A hostile PDF can make the parser panic, loop or allocate without bound. Inside the server
//! any of these would take down or starve every user's requests; in a child process, with
//! `RLIMIT_AS` and `RLIMIT_CPU` set and a wall-clock timeout in the parent, each becomes a
//! clear error for one upload.
//!
//! The parent ([`PdfSandbox::extract`]) runs
//! `program args_prefix… --max-pages N --memory-mb M --timeout-secs T --max-input-bytes B
//! --max-output-chars C`, writes the PDF to the child's stdin and closes it; the child
//! ([`child_main`]) answers with an exit code:
//!
//! | code | meaning | stdout |
//! |-----:|---------|--------|
//! | 0  | text extracted | the text, normalised and capped |
//! | 64 | bad arguments (a bug in the parent) | — |
//! | 65 | corrupt PDF | — |
//! | 66 | encrypted PDF | — |
//! | 67 | too many pages | the page count |
//! | 68 | a part of the PDF is too large | — |
//! | 69 | out of memory, noticed before the allocator aborted | — |
//! | 70 | the parser panicked | — |
//! | 71 | reading stdin or writing stdout failed | — |
//! | 72 | the resource limits could not be applied; nothing was parsed | — |
//!
//! Death by a signal is read too: `SIGXCPU` is the CPU limit (a timeout), and `SIGABRT` with
//! Rust's "memory allocation … failed" on stderr is an allocation refused under `RLIMIT_AS`.
//! Neither stdout nor stderr is ever put into an error message: both may echo the file.

use std::{
    ffi::OsString,
    io::{self, Read as _, Write as _},
    os::unix::process::ExitStatusExt as _,
    path::PathBuf,
    process::{ExitStatus, Stdio},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _},
    process::Command,
};

use crate::{ExtractError, Limits, ocr::Ocr, pdf::pdf_text, text};

/// Exit codes of the child; see the module documentation.
pub mod exit {
    pub const OK: u8 = 0;
    pub const USAGE: u8 = 64;
    pub const CORRUPT: u8 = 65;
    pub const ENCRYPTED: u8 = 66;
    pub const TOO_MANY_PAGES: u8 = 67;
    pub const TOO_LARGE: u8 = 68;
    pub const OUT_OF_MEMORY: u8 = 69;
    pub const PANIC: u8 = 70;
    pub const IO: u8 = 71;
    pub const LIMITS_FAILED: u8 = 72;
}

const MIB: u64 = 1024 * 1024;
/// Enough of stderr to recognise the allocator's message, never more held in memory.
const STDERR_CAP: u64 = 8 * 1024;
const ALLOCATION_FAILED: &[u8] = b"memory allocation of";
const STACK_OVERFLOW: &[u8] = b"has overflowed its stack";

/// Runs PDF text extraction in a fresh, resource-limited child process per file.
///
/// `program args_prefix…` must lead to [`child_main`]: in jobpilot that is the binary itself
/// with its hidden `pdf-sandbox` subcommand.
#[derive(Debug, Clone)]
pub struct PdfSandbox {
    program: PathBuf,
    args_prefix: Vec<OsString>,
    limits: Limits,
    ocr: Option<Ocr>,
}

impl PdfSandbox {
    pub fn new(program: impl Into<PathBuf>, args_prefix: Vec<OsString>, limits: Limits) -> Self {
        Self {
            program: program.into(),
            args_prefix,
            limits,
            ocr: None,
        }
    }

    /// Reads scanned PDFs (no text of their own) with OCR, in the same child.
    pub fn with_ocr(mut self, ocr: Option<Ocr>) -> Self {
        self.ocr = ocr;
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn ocr(&self) -> Option<&Ocr> {
        self.ocr.as_ref()
    }

    /// The whole run's wall-clock limit: OCR takes seconds per page.
    fn timeout(&self) -> Duration {
        match self.ocr {
            Some(_) => self.limits.pdf_timeout + self.limits.ocr_timeout,
            None => self.limits.pdf_timeout,
        }
    }

    /// The text of `pdf`, normalised and capped at `max_output_chars`.
    pub async fn extract(&self, pdf: Vec<u8>) -> Result<String, ExtractError> {
        let limits = &self.limits;
        if pdf.is_empty() {
            return Err(ExtractError::Empty);
        }
        if pdf.len() as u64 > limits.max_input_bytes {
            return Err(ExtractError::TooLarge {
                what: format!(
                    "the file is larger than {} MiB",
                    limits.max_input_bytes / MIB
                ),
            });
        }
        let mut child = Command::new(&self.program)
            .args(&self.args_prefix)
            .args(self.child_args())
            // The child parses hostile input: it gets no secrets from our environment.
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let stdout_cap = (limits.max_output_chars as u64).saturating_mul(4);

        let run = async {
            let feed = async move {
                if let Some(mut stdin) = stdin {
                    // A child that dies early closes the pipe; its exit status says why, so
                    // the broken pipe itself is not the error to report.
                    let _ = stdin.write_all(&pdf).await;
                    let _ = stdin.shutdown().await;
                }
            };
            let ((), out, err) = tokio::join!(
                feed,
                read_capped(stdout, stdout_cap),
                read_capped(stderr, STDERR_CAP)
            );
            let status = child.wait().await?;
            Ok::<_, io::Error>((status, out?, err?))
        };
        let outcome = tokio::time::timeout(self.timeout(), run).await;
        match outcome {
            Ok(Ok((status, stdout, stderr))) => self.interpret(status, &stdout, &stderr),
            Ok(Err(error)) => Err(ExtractError::Io(error)),
            Err(_elapsed) => {
                // Reap it now rather than leave a zombie until drop.
                let _ = child.start_kill();
                let _ = child.wait().await;
                Err(ExtractError::Timeout {
                    limit: self.timeout(),
                })
            }
        }
    }

    fn child_args(&self) -> Vec<OsString> {
        let limits = &self.limits;
        let args = [
            ("--max-pages", limits.pdf_max_pages.to_string()),
            (
                "--memory-mb",
                limits.pdf_memory_bytes.div_ceil(MIB).max(1).to_string(),
            ),
            (
                "--timeout-secs",
                timeout_secs(limits.pdf_timeout).to_string(),
            ),
            ("--max-input-bytes", limits.max_input_bytes.to_string()),
            ("--max-output-chars", limits.max_output_chars.to_string()),
        ];
        let mut args: Vec<OsString> = args
            .into_iter()
            .flat_map(|(flag, value)| [OsString::from(flag), OsString::from(value)])
            .collect();
        if let Some(ocr) = &self.ocr {
            args.extend(ocr.child_args());
        }
        args
    }

    fn interpret(
        &self,
        status: ExitStatus,
        stdout: &[u8],
        stderr: &[u8],
    ) -> Result<String, ExtractError> {
        let limits = &self.limits;
        let Some(code) = status.code() else {
            return Err(signal_error(status.signal().unwrap_or(0), stderr, limits));
        };
        let detail = || String::from_utf8_lossy(stdout).trim().to_owned();
        let code = u8::try_from(code).unwrap_or(u8::MAX);
        match code {
            exit::OK => Ok(text::normalise(
                &String::from_utf8_lossy(stdout),
                limits.max_output_chars,
            )),
            exit::CORRUPT => Err(ExtractError::Corrupt { kind: "PDF" }),
            exit::ENCRYPTED => Err(ExtractError::Encrypted),
            exit::TOO_MANY_PAGES => Err(ExtractError::TooManyPages {
                pages: detail().parse().unwrap_or(0),
                limit: limits.pdf_max_pages,
            }),
            exit::TOO_LARGE => Err(ExtractError::TooLarge {
                what: "a compressed part of the PDF expands beyond the limit".into(),
            }),
            exit::OUT_OF_MEMORY => Err(ExtractError::OutOfMemory),
            exit::PANIC => Err(ExtractError::Crashed {
                reason: "the PDF parser panicked".into(),
            }),
            exit::USAGE | exit::IO | exit::LIMITS_FAILED => Err(ExtractError::Io(
                io::Error::other(format!("the PDF sandbox failed to run (exit code {code})")),
            )),
            other => Err(ExtractError::Crashed {
                reason: format!("the PDF sandbox exited with code {other}"),
            }),
        }
    }
}

fn signal_error(signal: i32, stderr: &[u8], limits: &Limits) -> ExtractError {
    let said = |needle: &[u8]| stderr.windows(needle.len()).any(|w| w == needle);
    match signal {
        rlimit_signals::SIGXCPU => ExtractError::Timeout {
            limit: limits.pdf_timeout,
        },
        rlimit_signals::SIGABRT if said(ALLOCATION_FAILED) => ExtractError::OutOfMemory,
        _ if said(STACK_OVERFLOW) => ExtractError::Crashed {
            reason: "the PDF parser overflowed its stack".into(),
        },
        _ => ExtractError::Crashed {
            reason: format!("the PDF sandbox was killed by signal {signal}"),
        },
    }
}

/// Linux signal numbers; the standard library names none and the workspace forbids the
/// `unsafe` a libc dependency would invite.
mod rlimit_signals {
    pub const SIGABRT: i32 = 6;
    pub const SIGXCPU: i32 = 24;
}

fn timeout_secs(timeout: Duration) -> u64 {
    timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0)
}

/// Reads up to `cap` bytes, then discards the rest so the child never blocks on a full pipe.
async fn read_capped<R: AsyncRead + Unpin>(source: Option<R>, cap: u64) -> io::Result<Vec<u8>> {
    let Some(mut source) = source else {
        return Ok(Vec::new());
    };
    let mut kept = Vec::new();
    (&mut source).take(cap).read_to_end(&mut kept).await?;
    tokio::io::copy(&mut source, &mut tokio::io::sink()).await?;
    Ok(kept)
}

/// What the parent asked for, parsed from the child's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ChildArgs {
    max_pages: u32,
    memory_mb: u64,
    timeout_secs: u64,
    max_input_bytes: u64,
    max_output_chars: usize,
    test_hang: bool,
    ocr: Option<Ocr>,
}

fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<ChildArgs, String> {
    let mut parsed = ChildArgs {
        max_pages: 0,
        memory_mb: 0,
        timeout_secs: 0,
        max_input_bytes: 0,
        max_output_chars: 0,
        test_hang: false,
        ocr: None,
    };
    let mut seen = 0u8;
    let (mut pdftoppm, mut tesseract, mut languages, mut ocr_pages) = (None, None, None, None);
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let flag = flag.to_string_lossy().into_owned();
        // Only a debug build honours this: it lets tests make a child that never finishes.
        if flag == "--test-hang" && cfg!(debug_assertions) {
            parsed.test_hang = true;
            continue;
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .to_string_lossy()
            .into_owned();
        let number = |value: &str| {
            value
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{flag} needs a positive whole number"))
        };
        match flag.as_str() {
            "--max-pages" => {
                parsed.max_pages = u32::try_from(number(&value)?).map_err(|e| e.to_string())?;
            }
            "--memory-mb" => parsed.memory_mb = number(&value)?,
            "--timeout-secs" => parsed.timeout_secs = number(&value)?,
            "--max-input-bytes" => parsed.max_input_bytes = number(&value)?,
            "--max-output-chars" => {
                parsed.max_output_chars =
                    usize::try_from(number(&value)?).map_err(|e| e.to_string())?;
            }
            "--ocr-pdftoppm" => {
                pdftoppm = Some(PathBuf::from(value));
                continue;
            }
            "--ocr-tesseract" => {
                tesseract = Some(PathBuf::from(value));
                continue;
            }
            "--ocr-languages" => {
                languages = Some(value);
                continue;
            }
            "--ocr-pages" => {
                ocr_pages = Some(u32::try_from(number(&value)?).map_err(|e| e.to_string())?);
                continue;
            }
            _ => return Err(format!("unknown argument {flag}")),
        }
        seen += 1;
    }
    if seen < 5 {
        return Err("every limit must be given".into());
    }
    parsed.ocr = match (pdftoppm, tesseract, languages, ocr_pages) {
        (None, None, None, None) => None,
        (Some(pdftoppm), Some(tesseract), Some(languages), Some(max_pages)) => Some(Ocr {
            pdftoppm,
            tesseract,
            languages,
            max_pages,
        }),
        _ => return Err("OCR needs all of its arguments".into()),
    };
    Ok(parsed)
}

/// The child side of the sandbox: apply the limits, read the PDF from stdin, print its text.
///
/// Returns the process exit code (see the module documentation). Call it before starting
/// threads or a runtime, so the address-space limit covers as little as possible besides the
/// parser.
pub fn child_main(args: impl IntoIterator<Item = OsString>) -> u8 {
    let args = match parse_args(args) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("pdf-sandbox: {message}");
            return exit::USAGE;
        }
    };
    if let Err(error) = apply_limits(&args) {
        eprintln!("pdf-sandbox: could not apply resource limits: {error}");
        return exit::LIMITS_FAILED;
    }
    // The default hook prints the panic message, which can quote the file; keep the location.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
        eprintln!("pdf-sandbox: the PDF parser panicked{location}");
    }));

    let mut input = Vec::new();
    let read = io::stdin()
        .lock()
        .take(args.max_input_bytes.saturating_add(1))
        .read_to_end(&mut input);
    match read {
        Ok(_) if input.len() as u64 > args.max_input_bytes => return exit::TOO_LARGE,
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::OutOfMemory => return exit::OUT_OF_MEMORY,
        Err(_) => return exit::IO,
    }
    if args.test_hang {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }

    let (code, out) = match pdf_text(&input, args.max_pages) {
        Ok(raw) => {
            let mut out = text::normalise(&raw, args.max_output_chars);
            // No text of its own: a scan. What OCR reads, if it can.
            if out.trim().is_empty()
                && let Some(ocr) = &args.ocr
            {
                match crate::ocr::recognise(&input, ocr) {
                    Ok(read) => out = text::normalise(&read, args.max_output_chars),
                    Err(reason) => eprintln!("pdf-sandbox: OCR failed: {reason}"),
                }
            }
            (exit::OK, out)
        }
        Err(ExtractError::TooManyPages { pages, .. }) => (exit::TOO_MANY_PAGES, pages.to_string()),
        Err(ExtractError::Encrypted) => (exit::ENCRYPTED, String::new()),
        Err(ExtractError::TooLarge { .. }) => (exit::TOO_LARGE, String::new()),
        Err(ExtractError::OutOfMemory) => (exit::OUT_OF_MEMORY, String::new()),
        Err(ExtractError::Crashed { .. }) => (exit::PANIC, String::new()),
        Err(_) => (exit::CORRUPT, String::new()),
    };
    drop(input);
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => code,
        Err(_) => exit::IO,
    }
}

fn apply_limits(args: &ChildArgs) -> io::Result<()> {
    use rlimit::{Resource, setrlimit};
    // A crash must not leave a core file holding the document.
    setrlimit(Resource::CORE, 0, 0)?;
    // The hard limit a second later kills a process that ignores SIGXCPU.
    setrlimit(
        Resource::CPU,
        args.timeout_secs,
        args.timeout_secs.saturating_add(1),
    )?;
    let bytes = args.memory_mb.saturating_mul(MIB);
    setrlimit(Resource::AS, bytes, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn parent_arguments_parse_in_the_child() {
        let limits = Limits {
            pdf_timeout: Duration::from_millis(2500),
            pdf_memory_bytes: 300 * MIB + 1,
            ..Limits::default()
        };
        let sandbox = PdfSandbox::new("/bin/false", vec![], limits.clone());
        let parsed = parse_args(sandbox.child_args()).unwrap();
        assert_eq!(
            parsed,
            ChildArgs {
                max_pages: limits.pdf_max_pages,
                memory_mb: 301,
                timeout_secs: 3,
                max_input_bytes: limits.max_input_bytes,
                max_output_chars: limits.max_output_chars,
                test_hang: false,
                ocr: None,
            }
        );
        let ocr = Ocr {
            pdftoppm: "/usr/bin/pdftoppm".into(),
            tesseract: "/usr/bin/tesseract".into(),
            languages: "eng+rus".into(),
            max_pages: 3,
        };
        let with_ocr = sandbox.with_ocr(Some(ocr.clone()));
        assert_eq!(parse_args(with_ocr.child_args()).unwrap().ocr, Some(ocr));
        assert_eq!(with_ocr.timeout(), limits.pdf_timeout + limits.ocr_timeout);
    }

    #[test]
    fn bad_arguments_are_a_usage_error() {
        assert!(parse_args(os(&["--max-pages", "5"])).is_err());
        assert!(parse_args(os(&["--max-pages"])).is_err());
        assert!(parse_args(os(&["--max-pages", "0"])).is_err());
        assert!(parse_args(os(&["--bogus", "1"])).is_err());
        let mut partial = os(&[
            "--max-pages",
            "1",
            "--memory-mb",
            "1",
            "--timeout-secs",
            "1",
            "--max-input-bytes",
            "1",
            "--max-output-chars",
            "1",
        ]);
        assert!(parse_args(partial.clone()).is_ok());
        partial.extend(os(&["--ocr-languages", "eng"]));
        assert!(parse_args(partial).is_err(), "OCR is all or nothing");
        assert_eq!(child_main(os(&["--bogus", "1"])), exit::USAGE);
    }

    #[tokio::test]
    async fn a_missing_program_is_a_server_error() {
        let sandbox = PdfSandbox::new("/nonexistent/jobpilot", vec![], Limits::default());
        let error = sandbox.extract(b"%PDF-1.4".to_vec()).await.unwrap_err();
        assert!(matches!(error, ExtractError::Io(_)), "{error:?}");
        assert!(!error.is_client_error());
    }

    #[tokio::test]
    async fn oversized_and_empty_input_never_reach_a_child() {
        let limits = Limits {
            max_input_bytes: 10,
            ..Limits::default()
        };
        let sandbox = PdfSandbox::new("/nonexistent/jobpilot", vec![], limits);
        let error = sandbox.extract(vec![b'x'; 11]).await.unwrap_err();
        assert!(matches!(error, ExtractError::TooLarge { .. }), "{error:?}");
        let error = sandbox.extract(Vec::new()).await.unwrap_err();
        assert!(matches!(error, ExtractError::Empty), "{error:?}");
    }

    /// A stand-in child (the shell) shows how exit codes and signals are read, without the
    /// jobpilot binary; the real child is driven by jobpilot's integration tests.
    async fn shell(script: &str, timeout: Duration) -> Result<String, ExtractError> {
        let limits = Limits {
            pdf_timeout: timeout,
            ..Limits::default()
        };
        // `sh -c script name args…`: our limit flags land in $@ and are ignored.
        // No core files from the signal cases.
        let script = format!("ulimit -c 0; {script}");
        let sandbox = PdfSandbox::new("/bin/sh", os(&["-c", &script, "pdf-sandbox"]), limits);
        sandbox.extract(b"%PDF-1.4 fake".to_vec()).await
    }

    #[tokio::test]
    async fn exit_codes_and_signals_map_to_errors() {
        let long = Duration::from_secs(10);
        assert_eq!(
            shell("cat >/dev/null; printf 'Jane\\r\\nDoe\\n'", long)
                .await
                .unwrap(),
            "Jane\nDoe"
        );
        let cases: &[(&str, &str)] = &[
            ("exit 65", "corrupt"),
            ("exit 66", "encrypted"),
            ("echo 73; exit 67", "too_many_pages"),
            ("exit 68", "too_large"),
            ("exit 69", "out_of_memory"),
            ("exit 70", "crashed"),
            ("exit 71", "io"),
            ("exit 101", "crashed"),
            (
                "echo 'memory allocation of 99 bytes failed' >&2; kill -ABRT $$",
                "out_of_memory",
            ),
            ("kill -ABRT $$", "crashed"),
            ("kill -XCPU $$", "timeout"),
            ("kill -SEGV $$", "crashed"),
        ];
        for (script, code) in cases {
            let error = shell(script, long).await.unwrap_err();
            assert_eq!(error.code(), *code, "{script}: {error:?}");
        }
        let error = shell("echo 73; exit 67", long).await.unwrap_err();
        assert!(
            matches!(error, ExtractError::TooManyPages { pages: 73, .. }),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_child_that_never_ends_is_killed_at_the_timeout() {
        let started = std::time::Instant::now();
        let error = shell("exec sleep 30", Duration::from_millis(500))
            .await
            .unwrap_err();
        assert!(matches!(error, ExtractError::Timeout { .. }), "{error:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_child_that_floods_stdout_is_capped() {
        let limits = Limits {
            max_output_chars: 100,
            pdf_timeout: Duration::from_secs(10),
            ..Limits::default()
        };
        let script = "cat >/dev/null; head -c 1000000 /dev/zero | tr '\\0' 'a'";
        let sandbox = PdfSandbox::new("/bin/sh", os(&["-c", script, "x"]), limits);
        let text = sandbox.extract(b"%PDF-".to_vec()).await.unwrap();
        assert_eq!(text.len(), 100);
    }
}
