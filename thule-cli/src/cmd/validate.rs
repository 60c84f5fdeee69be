//! `thule validate`.

use std::process::ExitCode;

/// Arguments of `thule validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {}

/// Run `thule validate`.
pub fn run(_args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("thule validate is not implemented yet")
}
