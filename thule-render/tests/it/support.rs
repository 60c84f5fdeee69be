//! Shared helpers: where the tools and fixtures are, loading fixture projects through
//! thule-core's configuration, and running a tool directly for comparison.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use thule_core::ParseOptions;
use thule_core::config::{ConfigLayers, ProjectConfig};
use thule_core::discovery::load_projects;
use thule_core::repo::DiskTree;
use thule_render::{
    CountingRunner, ProcessRunner, ProjectRender, RenderEngine, RenderOptions, RenderOutput,
    Toolchain,
};

/// The workspace root (parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate has a parent directory")
        .to_path_buf()
}

/// The directory holding `helm` and `kubectl`. Panics with instructions when they are missing:
/// these tests must run against the real tools, never skip silently.
pub fn tools_dir() -> PathBuf {
    let dir = std::env::var_os("THULE_TOOLS_DIR")
        .map_or_else(|| workspace_root().join(".tools/bin"), PathBuf::from);
    for tool in ["helm", "kubectl"] {
        assert!(
            dir.join(tool).is_file(),
            "`{}` not found: run `scripts/install-tools.sh` (installs the pinned helm and \
             kubectl into <workspace>/.tools/bin), or set THULE_TOOLS_DIR to a directory \
             holding `helm` and `kubectl`",
            dir.join(tool).display()
        );
    }
    dir
}

/// The fixture repository.
pub fn fixture_repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/repo")
}

/// Copy the fixture repository into a temporary directory (for tests that edit files).
pub fn fixture_copy() -> Result<tempfile::TempDir> {
    let t = tempfile::tempdir()?;
    copy_dir(&fixture_repo(), t.path())?;
    Ok(t)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

/// Every project of a repository, resolved by thule-core exactly as the CLI does.
pub fn load(repo: &Path) -> Result<Vec<ProjectConfig>> {
    let tree = DiskTree::open(repo)?;
    let layers = ConfigLayers::load(&tree, None)?;
    Ok(load_projects(&tree, &layers, &[])?)
}

/// One project by name.
pub fn project(repo: &Path, name: &str) -> Result<ProjectConfig> {
    load(repo)?
        .into_iter()
        .find(|p| p.name == name)
        .with_context(|| format!("no project `{name}` in {}", repo.display()))
}

/// An engine over the real tools, counting every process it starts.
pub fn engine(repo: &Path) -> RenderEngine<CountingRunner<ProcessRunner>> {
    let options = RenderOptions::new(repo).toolchain(Toolchain::from_dir(&tools_dir()));
    RenderEngine::new(CountingRunner::new(ProcessRunner::new()), options)
}

/// The output of a successful render, or a failure with its reason.
pub fn rendered(r: &ProjectRender) -> Result<&RenderOutput> {
    match r.output() {
        Some(o) => Ok(o),
        None => bail!(
            "{} failed: {}",
            r.project,
            r.failure().map(|f| f.reason()).unwrap_or_default()
        ),
    }
}

/// The failure reason of a render that must have failed.
pub fn failure_reason(r: &ProjectRender) -> Result<String> {
    match r.failure() {
        Some(f) => Ok(f.reason()),
        None => bail!("{} rendered but was expected to fail", r.project),
    }
}

/// The objects of a render as plain values, in order.
pub fn values(out: &RenderOutput) -> Vec<Value> {
    out.objects.iter().map(|m| m.object.clone()).collect()
}

/// Run a tool directly (not through thule) in `cwd` and parse what it prints.
pub fn run_tool(cwd: &Path, program: &str, args: &[&str]) -> Result<Vec<Value>> {
    // The point is to run the tool without thule, to compare with what thule makes of it.
    #[allow(clippy::disallowed_methods)]
    let out = Command::new(tools_dir().join(program))
        .args(args)
        .current_dir(cwd)
        .output()?;
    ensure!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = thule_core::yaml::parse_stream(&out.stdout, program, &ParseOptions::default())?;
    Ok(docs
        .into_iter()
        .map(|d| d.value)
        .filter(|v| !v.is_null())
        .collect())
}

/// `Kind namespace/name` of every object, in order.
pub fn keys(out: &RenderOutput) -> Vec<String> {
    out.objects.iter().map(|m| m.key.to_string()).collect()
}
