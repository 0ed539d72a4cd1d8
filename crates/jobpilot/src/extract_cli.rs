//! The hidden `pdf-sandbox` subcommand: the child half of [`extract::PdfSandbox`], which runs
//! this binary to parse one untrusted PDF under resource limits.

use std::{ffi::OsString, process::ExitCode};

/// The limits the parent chose, passed through untouched: the extract crate writes and reads
/// them, so the two sides cannot disagree on their format.
#[derive(Debug, clap::Args)]
pub struct PdfSandboxArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    args: Vec<OsString>,
}

/// Runs before any runtime or thread starts, so the address-space limit covers little besides
/// the parser.
pub fn pdf_sandbox(args: &PdfSandboxArgs) -> ExitCode {
    ExitCode::from(extract::child_main(args.args.iter().cloned()))
}
