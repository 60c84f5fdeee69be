//! `thule diff`: placeholder until the diff engine lands (issue 4).

use std::process::ExitCode;

/// Arguments of `thule diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// Rendered desired objects (YAML file or directory).
    #[arg(long)]
    pub desired: std::path::PathBuf,
}

/// Run `thule diff`.
pub fn run(_args: &DiffArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("thule diff is not implemented yet")
}
