//! `thule schema`: print the JSON Schema of a configuration file.

use std::io::Write;
use std::process::ExitCode;

use thule_core::config::schema::{project_schema, repo_schema, serve_schema};

/// Which configuration file.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum SchemaFile {
    /// The project file `thule.yaml`.
    #[default]
    Project,
    /// The repo file `.thule/config.yaml` (also the org defaults file).
    Repo,
    /// The webhook service's file (`thule serve --config`).
    Serve,
}

/// Print the JSON Schema of thule.yaml (default), of .thule/config.yaml, or of the webhook
/// service's config file.
///
/// Point your editor's YAML language server at it, e.g.
/// `# yaml-language-server: $schema=docs/schema/thule.schema.json`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  thule schema > thule.schema.json\n  thule schema repo\n  thule schema serve"
)]
pub struct SchemaArgs {
    /// The file whose schema to print.
    #[arg(value_enum, default_value_t = SchemaFile::Project)]
    pub file: SchemaFile,
}

/// Run `thule schema`.
pub fn run(args: &SchemaArgs) -> anyhow::Result<ExitCode> {
    let schema = match args.file {
        SchemaFile::Project => project_schema(),
        SchemaFile::Repo => repo_schema(),
        SchemaFile::Serve => serve_schema(),
    };
    std::io::stdout().lock().write_all(schema.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
