//! `thule schema`.

use std::process::ExitCode;

/// Arguments of `thule schema`.
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {}

/// Run `thule schema`.
pub fn run(_args: &SchemaArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("thule schema is not implemented yet")
}
