//! One module per subcommand. Each exposes its clap `Args` and `run`.

pub mod diff;
pub mod plan;
pub mod publish;
pub mod render;
pub mod schema;
#[cfg(feature = "serve")]
pub mod serve;
pub mod validate;

use std::path::PathBuf;

use anyhow::Context;
use thule_core::config::{Loaded, MrOverride, RepoFile, parse_repo_file};
use thule_core::discovery::ChangedFile;

/// Configuration flags shared by the commands that read a repository's configuration.
#[derive(Debug, Default, clap::Args)]
pub struct ConfigArgs {
    /// Org/server defaults file (same shape as .thule/config.yaml).
    #[arg(long, value_name = "FILE")]
    pub org_config: Option<PathBuf>,
    /// MR override KEY=VALUE (repeatable), checked against the repo's allow-list.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

impl ConfigArgs {
    /// The org defaults file, parsed, if one was given.
    ///
    /// # Errors
    /// When it cannot be read or is invalid (with file:line:column).
    pub fn org(&self) -> anyhow::Result<Option<Loaded<RepoFile>>> {
        let Some(path) = &self.org_config else {
            return Ok(None);
        };
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Some(parse_repo_file(&bytes, &path.display().to_string())?))
    }

    /// The MR overrides, parsed (each names its `--set` flag in errors).
    ///
    /// # Errors
    /// When one is not `KEY=VALUE`.
    pub fn mr_overrides(&self) -> anyhow::Result<Vec<MrOverride>> {
        Ok(self
            .overrides
            .iter()
            .map(|o| MrOverride::parse(o, &format!("--set {o}")))
            .collect::<Result<Vec<_>, _>>()?)
    }
}

/// Changed paths from `--changed` flags: `PATH`, or `OLD:NEW` for a rename.
pub fn parse_changed(list: &[String]) -> Vec<ChangedFile> {
    list.iter()
        .map(|c| match c.split_once(':') {
            Some((from, to)) => ChangedFile::renamed(from, to),
            None => ChangedFile::new(c),
        })
        .collect()
}
