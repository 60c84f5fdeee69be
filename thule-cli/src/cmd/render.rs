//! `thule render`: print what a project renders to, as thule sees it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use thule_core::config::ConfigLayers;
use thule_core::discovery::load_projects;
use thule_core::repo::DiskTree;
use thule_render::{ProcessRunner, RenderEngine, RenderOptions, RenderOutcome, Renderer};

use crate::cmd::plan::toolchain_from;

/// Render one project with the real tools and print its objects (canonical YAML, or JSON),
/// with namespaces resolved as the plan resolves them. Notes (skipped non-Kubernetes files)
/// and the tool version go to stderr.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  thule render shop-prod --repo examples/gitops\n  thule render web-prod --repo examples/gitops --format json"
)]
pub struct RenderArgs {
    /// The project name (see `thule validate`).
    pub project: String,
    /// The repository.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// `yaml` (canonical, one document per object) or `json` (an array).
    #[arg(long, default_value = "yaml", value_parser = ["yaml", "json"])]
    pub format: String,
    /// Directory with the helm and kubectl binaries (default: $THULE_TOOLS_DIR, then
    /// ./.tools/bin, then PATH).
    #[arg(long, value_name = "DIR")]
    pub tools_dir: Option<PathBuf>,
}

/// Run `thule render`.
pub fn run(args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let tree = DiskTree::open(&args.repo)
        .with_context(|| format!("cannot read repository {}", args.repo.display()))?;
    let layers = ConfigLayers::load(&tree, None)?;
    let projects = load_projects(&tree, &layers, &[])?;
    let Some(project) = projects.iter().find(|p| p.name == args.project) else {
        let names: Vec<&str> = projects.iter().map(|p| p.name.as_str()).collect();
        bail!(
            "no project named `{}` in {}; projects: {}",
            args.project,
            args.repo.display(),
            names.join(", ")
        );
    };
    let engine = RenderEngine::new(
        ProcessRunner::new(),
        RenderOptions::new(&args.repo).toolchain(toolchain_from(args.tools_dir.as_ref())),
    );
    let rendered = engine.render(project);
    let out = match rendered.outcome {
        RenderOutcome::Rendered(out) => out,
        RenderOutcome::Failed(f) => bail!("{} failed to render: {}", project.name, f.reason()),
    };
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "{}: {} object(s), rendered with {}",
            project.name,
            out.objects.len(),
            out.meta.tool
        );
        for note in &out.notes {
            eprintln!("note: {note}");
        }
    }
    let objects: Vec<serde_json::Value> =
        crate::pipeline::resolve_namespaces(&out.objects, project)
            .into_iter()
            .map(|m| m.object)
            .collect();
    let text = if args.format == "json" {
        let mut s = serde_json::to_string_pretty(&objects)?;
        s.push('\n');
        s
    } else {
        thule_diff::yamlout::to_yaml_stream(&objects)
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
