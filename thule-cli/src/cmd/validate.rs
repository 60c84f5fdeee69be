//! `thule validate`: check configuration and dry-run discovery.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use thule_core::config::ConfigLayers;
use thule_core::discovery::{discover, load_projects};
use thule_core::repo::{DiskTree, slash};

/// Check every thule.yaml and .thule/config.yaml of a repository, and show which projects a
/// change would plan, with the reason for each.
///
/// Exit code 0 when the configuration is valid, 2 when it is not (every error is printed with
/// file:line:column).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  thule validate --repo .\n  thule validate --repo . --changed apps/base/deployment.yaml --changed charts/web/values.yaml\n  thule validate --repo . --changed old/path.yaml:new/path.yaml   # a rename"
)]
pub struct ValidateArgs {
    /// Repository root.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// A changed path, repo-relative (repeatable). `OLD:NEW` is a rename. With none, all
    /// projects are listed.
    #[arg(long = "changed", value_name = "PATH")]
    pub changed: Vec<String>,
    /// Org defaults and MR overrides.
    #[command(flatten)]
    pub config: super::ConfigArgs,
}

/// Run `thule validate`.
pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let tree = DiskTree::open(&args.repo)
        .with_context(|| format!("cannot read repository {}", args.repo.display()))?;
    let org = args.config.org()?;
    let layers = ConfigLayers::load(&tree, org)?;
    let overrides = args.config.mr_overrides()?;
    let mut out = String::new();
    if args.changed.is_empty() {
        let projects = load_projects(&tree, &layers, &overrides)?;
        writeln!(out, "{} project(s), configuration valid:", projects.len())?;
        for p in &projects {
            writeln!(
                out,
                "  {:<24} {:<10} cluster={} dir={}",
                p.name,
                format!("{:?}", p.render.mode).to_lowercase(),
                p.cluster_ref.as_deref().unwrap_or("-"),
                if p.dir.as_os_str().is_empty() {
                    ".".to_owned()
                } else {
                    slash(&p.dir)
                },
            )?;
        }
    } else {
        let changed = super::parse_changed(&args.changed);
        let d = discover(&tree, &layers, &changed, &overrides)?;
        writeln!(out, "{} project(s) to plan:", d.projects.len())?;
        for p in &d.projects {
            writeln!(out, "  {}", p.config.name)?;
            for r in &p.reasons {
                writeln!(out, "    {}: {}", slash(&r.changed), r.why)?;
            }
        }
        for r in &d.removed_projects {
            writeln!(
                out,
                "project file deleted: {} (its objects are deletion candidates)",
                slash(r)
            )?;
        }
        if !d.unmatched.is_empty() {
            writeln!(out, "changed paths no project watches:")?;
            for u in &d.unmatched {
                writeln!(out, "  {}", slash(u))?;
            }
        }
    }
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
