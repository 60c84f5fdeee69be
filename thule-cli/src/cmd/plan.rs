//! `thule plan`: the whole merge-request plan.
//!
//! Thin over [`crate::pipeline`]: this module turns flags into a [`PlanRequest`] (git
//! revisions or directories, changed paths) and the pipeline's seams (the real tools,
//! snapshots or clusters, a progress line on stderr), runs it, and prints the report as
//! markdown (the MR comment, split into parts under a size limit), JSON or terminal text.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use thule_core::cancel::CancelToken;
use thule_core::discovery::ChangedFile;
use thule_core::repo::DiskTree;
use thule_render::Toolchain;

use crate::cmd::publish;
use crate::pipeline::readers::{KubeReaders, SnapshotReaders};
use crate::pipeline::{
    Outcome, Pipeline, PlanRequest, Progress, ReaderFactory, Stage, ToolRenderers, report,
};

/// Output format of a plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The MR comment (GitHub/GitLab markdown), split into parts under --max-part-chars.
    #[default]
    Markdown,
    /// The versioned machine-readable plan (schema `thule.plan/v1`).
    Json,
    /// A terminal view, coloured unless NO_COLOR is set or stdout is not a terminal.
    Text,
}

/// Plan a merge request: render the projects it touches at its base and head, read the live
/// objects read-only, and print the per-resource plan with risks.
///
/// The MR is given as two git revisions (--base/--head), as a checkout of the target branch
/// (--base-path, with --repo as the head), or as explicit --changed paths (no base render).
/// Live state comes from snapshots (--live), from clusters (--kubeconfig/--context), or from
/// nowhere: then the plan is intent-only (base render against head render) and says so.
///
/// Exit code: 0 nothing changes, 1 something changes, 2 error (including a project that failed
/// to render or read, unless --allow-partial).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  # The bundled example, no cluster needed:
  thule plan --repo examples/gitops --base-path examples/gitops-base --live examples/snapshots

  # In CI, between the target branch and the MR head, against real clusters:
  thule plan --repo . --base origin/main --head HEAD --kubeconfig ~/.kube/config

  # Intent only (no cluster access), as JSON:
  thule plan --repo . --base origin/main --format json")]
pub struct PlanArgs {
    /// The repository (the head checkout).
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Base revision (the MR's target); with --head, both are read from git.
    #[arg(long, value_name = "REV", conflicts_with = "base_path")]
    pub base: Option<String>,
    /// Head revision (default: HEAD). Needs --base.
    #[arg(long, value_name = "REV", requires = "base")]
    pub head: Option<String>,
    /// A checkout of the target branch; the --repo working tree is the head.
    #[arg(long, value_name = "DIR")]
    pub base_path: Option<PathBuf>,
    /// Changed paths (repo-relative, repeatable; OLD:NEW for a rename), instead of computing
    /// them from --base/--base-path.
    #[arg(long = "changed", value_name = "PATH")]
    pub changed: Vec<String>,
    /// Live snapshots (`kubectl get -o yaml` output): CLUSTER=PATH for one clusterRef, or a
    /// directory holding one subdirectory per clusterRef. Repeatable.
    #[arg(long = "live", value_name = "[CLUSTER=]PATH")]
    pub live: Vec<String>,
    /// Read live objects from clusters with this kubeconfig (read-only: get/list only).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context for a clusterRef, CLUSTER=CONTEXT (repeatable). Implies live reads.
    #[arg(long = "context", value_name = "CLUSTER=CONTEXT")]
    pub contexts: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Markdown)]
    pub format: Format,
    /// Most characters per markdown part (GitHub allows 65,536 per comment).
    #[arg(long, default_value_t = thule_vcs::GITHUB_COMMENT_LIMIT, value_name = "N")]
    pub max_part_chars: usize,
    /// Exit 1/0 (not 2) when some projects failed but the others were planned.
    #[arg(long)]
    pub allow_partial: bool,
    /// Org defaults and MR overrides.
    #[command(flatten)]
    pub config: crate::cmd::ConfigArgs,
    /// Directory with the helm and kubectl binaries (default: $THULE_TOOLS_DIR, then
    /// ./.tools/bin if present, then PATH).
    #[arg(long, value_name = "DIR")]
    pub tools_dir: Option<PathBuf>,
    /// Projects rendered at once (default: number of cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Publishing on the merge request.
    #[command(flatten)]
    pub publish: crate::cmd::publish::PublishArgs,
}

fn toolchain(args: &PlanArgs) -> Toolchain {
    toolchain_from(args.tools_dir.as_ref())
}

/// The rendering tools: `--tools-dir`, else `$THULE_TOOLS_DIR`, else `./.tools/bin` when it
/// holds helm, else `helm` and `kubectl` from `PATH`.
pub fn toolchain_from(tools_dir: Option<&PathBuf>) -> Toolchain {
    let dir = tools_dir
        .cloned()
        .or_else(|| std::env::var_os("THULE_TOOLS_DIR").map(PathBuf::from))
        .or_else(|| {
            let local = PathBuf::from(".tools/bin");
            local.join("helm").exists().then_some(local)
        });
    match dir {
        Some(d) => {
            let d = std::env::current_dir().map(|c| c.join(&d)).unwrap_or(d);
            Toolchain::from_dir(&d)
        }
        None => Toolchain::default(),
    }
}

/// Where live objects come from: `None` for an intent-only plan.
fn live_readers(
    args: &PlanArgs,
    repo: &std::path::Path,
) -> anyhow::Result<Option<Arc<dyn ReaderFactory>>> {
    readers_from(&args.live, args.kubeconfig.as_ref(), &args.contexts, repo)
}

/// The live source from `--live [CLUSTER=]PATH` snapshots or `--kubeconfig` /
/// `--context CLUSTER=CONTEXT` clusters (`thule plan` and `thule serve` take the same):
/// `None` for intent-only plans.
///
/// # Errors
/// When both kinds are given, a snapshot path does not exist, or a context is not
/// `CLUSTER=CONTEXT`.
pub fn readers_from(
    live: &[String],
    kubeconfig: Option<&PathBuf>,
    contexts: &[String],
    repo: &std::path::Path,
) -> anyhow::Result<Option<Arc<dyn ReaderFactory>>> {
    if !live.is_empty() && (kubeconfig.is_some() || !contexts.is_empty()) {
        bail!("use either --live snapshots or --kubeconfig/--context clusters, not both");
    }
    if !live.is_empty() {
        let mut snapshots = SnapshotReaders::default();
        for l in live {
            match l.split_once('=') {
                Some((cluster, path)) => {
                    snapshots
                        .by_cluster
                        .insert(cluster.to_owned(), PathBuf::from(path));
                }
                None if snapshots.root.is_none() => snapshots.root = Some(PathBuf::from(l)),
                None => bail!("only one --live DIR without CLUSTER= is allowed"),
            }
        }
        for path in snapshots.by_cluster.values().chain(snapshots.root.iter()) {
            if !path.exists() {
                bail!("--live {}: no such file or directory", path.display());
            }
        }
        return Ok(Some(Arc::new(snapshots)));
    }
    if kubeconfig.is_some() || !contexts.is_empty() {
        let mut by_cluster = BTreeMap::new();
        for c in contexts {
            let (cluster, context) = c
                .split_once('=')
                .with_context(|| format!("--context {c}: expected CLUSTER=CONTEXT"))?;
            by_cluster.insert(cluster.to_owned(), context.to_owned());
        }
        return Ok(Some(Arc::new(KubeReaders {
            repo: repo.to_path_buf(),
            kubeconfig: kubeconfig.cloned(),
            contexts: by_cluster,
            options: thule_kube::ReaderOptions::default(),
        })));
    }
    Ok(None)
}

/// The stages on stderr (`thule: rendering 3 project(s)`), when stderr is a terminal and
/// `THULE_NO_PROGRESS` is unset.
struct StderrProgress;

impl StderrProgress {
    fn wanted() -> bool {
        std::io::stderr().is_terminal() && std::env::var_os("THULE_NO_PROGRESS").is_none()
    }
}

impl Progress for StderrProgress {
    fn stage(&self, stage: Stage<'_>) {
        let line = match stage {
            Stage::Rendering { projects } => format!("rendering {projects} project(s)"),
            Stage::Rendered => "rendered".to_owned(),
            Stage::ReadingCluster { cluster } => format!("reading cluster {cluster}"),
            Stage::Diffing { .. } => return,
        };
        #[allow(clippy::print_stderr)]
        {
            eprintln!("thule: {line}");
        }
    }
}

/// Whether to colour terminal output: stdout is a terminal and `NO_COLOR` is unset.
pub fn use_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The merge request's checkouts: head and base directories (git revisions are written to
/// temporary directories held by `keep`), changed paths and commits.
pub(crate) struct Checkouts {
    pub(crate) head: PathBuf,
    pub(crate) base: Option<PathBuf>,
    pub(crate) changed: Vec<ChangedFile>,
    pub(crate) head_sha: Option<String>,
    pub(crate) base_sha: Option<String>,
    _keep: Vec<tempfile::TempDir>,
}

/// The merge request's checkouts. `mr_revisions` (head, base) come from the forge when
/// publishing and no revision flag was given.
fn checkouts(args: &PlanArgs, mr_revisions: Option<(String, String)>) -> anyhow::Result<Checkouts> {
    let explicit = args.base.is_some() || args.base_path.is_some() || !args.changed.is_empty();
    let revisions = match (&args.base, mr_revisions) {
        (Some(base), _) => Some((
            args.head.clone().unwrap_or_else(|| "HEAD".to_owned()),
            base.clone(),
        )),
        (None, Some((head, base))) if !explicit => {
            // Measure the MR from where it branched off when the history says (GitHub's
            // event gives the base branch's tip, which may have moved on).
            let base = crate::git::merge_base(&args.repo, &base, &head).unwrap_or(base);
            Some((head, base))
        }
        _ => None,
    };
    if let Some((head_rev, base_rev)) = &revisions {
        let fetch_hint = |e: anyhow::Error| {
            e.context("the merge request's commits must be in the clone: fetch them (GitHub: actions/checkout with fetch-depth: 0; GitLab: GIT_DEPTH: 0)")
        };
        let base_sha = crate::git::rev_parse(&args.repo, base_rev).map_err(fetch_hint)?;
        let head_sha = crate::git::rev_parse(&args.repo, head_rev).map_err(fetch_hint)?;
        let head_dir = tempfile::tempdir().context("creating a temporary directory")?;
        let base_dir = tempfile::tempdir().context("creating a temporary directory")?;
        crate::git::materialize(&args.repo, &head_sha, head_dir.path())?;
        crate::git::materialize(&args.repo, &base_sha, base_dir.path())?;
        let changed = if args.changed.is_empty() {
            crate::git::changed_files(&args.repo, &base_sha, &head_sha)?
        } else {
            crate::cmd::parse_changed(&args.changed)
        };
        return Ok(Checkouts {
            head: head_dir.path().to_path_buf(),
            base: Some(base_dir.path().to_path_buf()),
            changed,
            head_sha: Some(head_sha),
            base_sha: Some(base_sha),
            _keep: vec![head_dir, base_dir],
        });
    }
    let (base, changed) = if let Some(base_path) = &args.base_path {
        let changed = if args.changed.is_empty() {
            let base_tree = DiskTree::open(base_path)
                .with_context(|| format!("cannot read --base-path {}", base_path.display()))?;
            let head_tree = DiskTree::open(&args.repo)
                .with_context(|| format!("cannot read --repo {}", args.repo.display()))?;
            crate::git::changed_between(&base_tree, &head_tree)?
        } else {
            crate::cmd::parse_changed(&args.changed)
        };
        (Some(base_path.clone()), changed)
    } else if !args.changed.is_empty() {
        (None, crate::cmd::parse_changed(&args.changed))
    } else {
        bail!(
            "say what the merge request changes: --base REV [--head REV], --base-path DIR, --changed PATH..., or --publish in a merge-request CI job"
        );
    };
    Ok(Checkouts {
        head: args.repo.clone(),
        base,
        changed,
        head_sha: None,
        base_sha: None,
        _keep: Vec::new(),
    })
}

/// Run `thule plan`.
pub fn run(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let org = args.config.org()?;
    let overrides = args.config.mr_overrides()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // Publishing: the target from the CI environment and flags, and the MR's head and base
    // (from the environment, else from the forge).
    let mut mr_revisions = None;
    let publishing = match args.publish.publish {
        true => {
            let mut target = publish::resolve(&args.publish, &|k| std::env::var(k).ok())?;
            let publisher = runtime.block_on(publish::connect(&target))?;
            let (head, base) = runtime.block_on(publish::revisions(&target, &publisher))?;
            target.head_sha = Some(head.clone());
            mr_revisions = Some((head, base));
            Some((target, publisher))
        }
        false => None,
    };
    let checkouts = checkouts(args, mr_revisions)?;
    let open = |dir: &PathBuf| -> anyhow::Result<crate::pipeline::SharedTree> {
        Ok(Arc::new(DiskTree::open(dir).with_context(|| {
            format!("cannot read repository {}", dir.display())
        })?))
    };
    let request = PlanRequest {
        head: open(&checkouts.head)?,
        base: checkouts.base.as_ref().map(open).transpose()?,
        changed: checkouts.changed.clone(),
        head_sha: checkouts.head_sha.clone(),
        base_sha: checkouts.base_sha.clone(),
        org,
        overrides,
    };
    let cancel = CancelToken::new();
    let renderers = ToolRenderers::new(
        &checkouts.head,
        checkouts.base.as_deref(),
        toolchain(args),
        args.jobs.unwrap_or_else(thule_render::default_jobs),
        cancel.clone(),
    );
    let mut pipeline = Pipeline::new(Arc::new(renderers))
        .with_cancel(cancel)
        .with_fingerprint_key(crate::cmd::diff::fingerprint_key_from_env());
    if let Some(readers) = live_readers(args, &checkouts.head)? {
        pipeline = pipeline.with_readers(readers);
    }
    if StderrProgress::wanted() {
        pipeline = pipeline.with_progress(Arc::new(StderrProgress));
    }
    let mut publish_failed = false;
    let context = args.publish.status_context.as_str();
    if let Some((target, publisher)) = &publishing {
        let sha = publish::status_sha(target, &checkouts);
        if let Err(e) = runtime.block_on(crate::pipeline::publish::announce(
            publisher, &target.mr, &sha, context,
        )) {
            say(&format!("could not set the pending status: {e}"));
            publish_failed = true;
        }
    }
    // Render tools run in their own process groups, so a terminal's Ctrl-C does not reach
    // them: it cancels the run, which kills them.
    let interrupt = pipeline.cancel_token().clone();
    let outcome = runtime.block_on(async {
        let _watch = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupt.cancel();
            }
        });
        pipeline.plan(&request).await
    });
    let plan = match outcome {
        Ok(Outcome::Planned(plan)) => plan,
        Ok(Outcome::Cancelled) => {
            let message = "interrupted: the plan was cancelled and nothing was printed";
            publish::failed(&runtime, publishing.as_ref(), &checkouts, context, message);
            bail!(message)
        }
        Err(e) => {
            publish::failed(
                &runtime,
                publishing.as_ref(),
                &checkouts,
                context,
                &e.to_string(),
            );
            return Err(e.into());
        }
    };
    let text = match args.format {
        Format::Json => report::json(&plan),
        Format::Markdown => {
            report::markdown_parts(&plan, args.max_part_chars).join(report::PART_SEPARATOR)
        }
        Format::Text => report::text(&plan, use_colour()),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    if let Some((target, publisher)) = &publishing {
        let sha = publish::status_sha(target, &checkouts);
        let published = runtime.block_on(crate::pipeline::publish::publish_plan(
            publisher, &target.mr, &sha, context, &plan,
        ));
        match published {
            Ok(p) => say(&format!(
                "published the plan on {} ({} posted, {} updated, {} unchanged, {} superseded)",
                target.mr,
                p.created.len(),
                p.updated.len(),
                p.unchanged,
                p.superseded.len()
            )),
            Err(e) => {
                say(&format!("publishing failed: {e}"));
                publish_failed = true;
            }
        }
    }
    if publish_failed {
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::from(plan.exit_code(args.allow_partial)))
}

/// A line on stderr (always: publishing results matter in CI logs).
pub(crate) fn say(line: &str) {
    #[allow(clippy::print_stderr)]
    {
        eprintln!("thule: {line}");
    }
}
