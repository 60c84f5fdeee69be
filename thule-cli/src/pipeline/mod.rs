//! The planning pipeline: one merge request's plan, from trees to report.
//!
//! `thule plan`, the coming webhook service and embedders' own bots all call this one
//! composition: discover the impacted projects on the head tree, render them at base and head,
//! read the live objects read-only, diff and assess every project, and return the report
//! ([`MrPlan`]) that [`report::json`], [`report::markdown_parts`] and [`report::text`] print.
//!
//! ```text
//! PlanRequest ──► discover ──► render (blocking pool) ──► read live ──► diff + risk (blocking pool) ──► Outcome
//!                    │              │                         │                 │
//!                 RepoTree      Renderers               ReaderFactory      thule-diff
//! ```
//!
//! # Why here
//! The pipeline composes every library crate (thule-core's discovery, thule-render's engines,
//! thule-kube's readers, thule-diff's engine and risk pass, thule-vcs's splitter). A module of
//! a crate that already depends on all of them is the only honest place: putting it in
//! thule-core would make the vocabulary crate depend on the I/O crates. It lives in the library
//! of `thule-cli` (not in `main.rs`), so the binary, the service and embedders link the same
//! code, and nothing in it touches clap, stdout/stderr or the environment: the CLI reads flags
//! and environment, builds the seams and prints.
//!
//! # Seams
//! - [`RepoTree`] for the head and base trees ([`thule_core::repo::DiskTree`] in the CLI, a
//!   [`thule_core::repo::MemoryTree`] in tests and embedders).
//! - [`Renderers`] renders both sides; [`ToolRenderers`] is the production pair of
//!   [`thule_render::RenderEngine`]s with the real tools, [`Sides`] wraps any two
//!   [`thule_render::Renderer`]s.
//! - [`ReaderFactory`] opens a [`thule_core::ClusterReader`] per clusterRef:
//!   [`readers::SnapshotReaders`], [`readers::KubeReaders`], or the embedder's own.
//! - [`Progress`] hears the stages; the CLI draws its progress line from it.
//!
//! # Async and cancellation
//! Rendering and diffing are synchronous and CPU- or process-bound: they run on tokio's
//! blocking pool, never on the async worker threads. A [`CancelToken`] stops a run between
//! stages and while it waits on a stage; the production renderers share the token, so their
//! tool processes are killed too. A cancelled run returns [`Outcome::Cancelled`], never a
//! partial plan.

pub mod gather;
pub mod live;
pub mod mr;
pub mod publish;
pub mod readers;
pub mod report;
pub mod status;

use std::sync::Arc;

use thule_core::cancel::CancelToken;
use thule_core::config::{
    ClusterSettings, ConfigError, Loaded, MrOverride, ProjectConfig, RepoFile,
};
use thule_core::discovery::{ChangedFile, DiscoveryError};
use thule_core::repo::RepoTree;
use thule_core::{ClusterReader, Manifest};
use thule_render::{ProjectRender, Renderer};

pub use gather::{Gathered, LiveState, ProjectInputs, RenderSide, resolve_namespaces};
pub use report::{MrPlan, ProjectPlan, Status};

/// A repository tree the pipeline can share with its blocking stages.
pub type SharedTree = Arc<dyn RepoTree + Send + Sync>;

/// What to plan: the merge request's trees and what changed.
#[derive(Clone)]
pub struct PlanRequest {
    /// The head tree (the MR's source branch).
    pub head: SharedTree,
    /// The base tree (the MR's target branch), if known. Without it the plan has no base
    /// render: every object is compared with live only, or is a create in an intent-only plan.
    pub base: Option<SharedTree>,
    /// The paths the merge request changes.
    pub changed: Vec<ChangedFile>,
    /// Head commit, for the plan header.
    pub head_sha: Option<String>,
    /// Base commit, for the plan header.
    pub base_sha: Option<String>,
    /// Organisation defaults (same shape as `.thule/config.yaml`).
    pub org: Option<Loaded<RepoFile>>,
    /// MR overrides, checked against the repository's allow-list.
    pub overrides: Vec<MrOverride>,
}

impl std::fmt::Debug for PlanRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanRequest")
            .field("has_base", &self.base.is_some())
            .field("changed", &self.changed)
            .field("head_sha", &self.head_sha)
            .field("base_sha", &self.base_sha)
            .field("overrides", &self.overrides)
            .finish_non_exhaustive()
    }
}

/// Renders the planned projects of both sides.
///
/// Called on a blocking thread: implementations may block, start processes and use threads.
pub trait Renderers: Send + Sync {
    /// Render `head` projects from the head checkout and `base` projects from the base
    /// checkout; results in the order of each slice.
    fn render_sides(
        &self,
        head: &[ProjectConfig],
        base: &[ProjectConfig],
    ) -> (Vec<ProjectRender>, Vec<ProjectRender>);
}

/// Any two [`Renderer`]s, one per checkout, rendering one side after the other.
pub struct Sides<H, B> {
    /// Renders the head checkout.
    pub head: H,
    /// Renders the base checkout (`None`: base projects are not rendered and come out absent).
    pub base: Option<B>,
}

impl<H: Renderer + Send, B: Renderer + Send> Renderers for Sides<H, B> {
    fn render_sides(
        &self,
        head: &[ProjectConfig],
        base: &[ProjectConfig],
    ) -> (Vec<ProjectRender>, Vec<ProjectRender>) {
        let head = self.head.render_all(head);
        let base = match &self.base {
            Some(b) => b.render_all(base),
            None => Vec::new(),
        };
        (head, base)
    }
}

pub use gather::ToolRenderers;

/// Opens a read-only [`ClusterReader`] for a clusterRef.
#[async_trait::async_trait]
pub trait ReaderFactory: Send + Sync {
    /// The reader for `cluster`, with its settings from the repository configuration if it
    /// declares the cluster.
    ///
    /// # Errors
    /// A message for the plan (the cluster's projects are reported as failed with it): what
    /// could not be opened and what to do. It must name the cluster.
    async fn open(
        &self,
        cluster: &str,
        settings: Option<&ClusterSettings>,
    ) -> Result<Box<dyn ClusterReader>, String>;
}

/// A stage of a run, as [`Progress`] hears it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage<'a> {
    /// Discovery is done; this many projects will be rendered.
    Rendering {
        /// Planned projects.
        projects: usize,
    },
    /// Both sides are rendered.
    Rendered,
    /// Reading the live objects of a cluster (once per clusterRef).
    ReadingCluster {
        /// The clusterRef.
        cluster: &'a str,
    },
    /// Diffing and assessing the projects.
    Diffing {
        /// Planned projects.
        projects: usize,
    },
}

/// Hears the stages of a run (the CLI's progress line; the service's logs and metrics).
pub trait Progress: Send + Sync {
    /// A stage begins.
    fn stage(&self, stage: Stage<'_>);
}

/// A [`Progress`] that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn stage(&self, _: Stage<'_>) {}
}

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    /// The plan of every discovered project (failed projects say so inside).
    Planned(MrPlan),
    /// The run was cancelled; nothing was planned.
    Cancelled,
}

impl Outcome {
    /// The plan, if the run was not cancelled.
    pub fn planned(self) -> Option<MrPlan> {
        match self {
            Outcome::Planned(p) => Some(p),
            Outcome::Cancelled => None,
        }
    }
}

/// Which of the impacted projects to plan: all when both lists are empty, else those named
/// or under one of the directories.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Project names.
    pub projects: Vec<String>,
    /// Repository-relative directories (a project is selected when its directory is one of
    /// them or below one).
    pub dirs: Vec<String>,
}

impl Selection {
    /// Whether nothing restricts the plan.
    pub fn is_all(&self) -> bool {
        self.projects.is_empty() && self.dirs.is_empty()
    }

    /// Whether the project is selected.
    pub fn selects(&self, project: &ProjectConfig) -> bool {
        if self.is_all() {
            return true;
        }
        let dir = thule_core::repo::slash(&project.dir);
        self.projects.contains(&project.name)
            || self.dirs.iter().any(|d| {
                let d = d.trim_matches('/');
                d.is_empty() || d == "." || dir == d || dir.starts_with(&format!("{d}/"))
            })
    }
}

/// Why a run could not produce a plan at all. Render and read failures are not errors: they
/// are reported per project inside the plan.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The repository configuration is invalid (file:line:column in the message).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A project file is invalid, or discovery failed.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// A project's diff options are invalid (an ignore rule that is not a JSON pointer).
    #[error("project {project}: {source}")]
    Diff {
        /// The project.
        project: String,
        /// The engine's complaint.
        source: thule_diff::DiffError,
    },
    /// A command named projects or directories that the merge request does not impact.
    #[error("{0}")]
    Selection(String),
    /// A blocking stage panicked (a bug in thule or in a seam implementation).
    #[error("internal error in the {stage} stage: {message}")]
    Internal {
        /// Which stage.
        stage: &'static str,
        /// The panic message.
        message: String,
    },
}

/// The seams a run uses.
#[derive(Clone)]
pub struct Pipeline {
    renderers: Arc<dyn Renderers>,
    readers: Option<Arc<dyn ReaderFactory>>,
    progress: Arc<dyn Progress>,
    cancel: CancelToken,
    fingerprint_key: Option<thule_diff::FingerprintKey>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("live", &self.readers.is_some())
            .field("cancelled", &self.cancel.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// A pipeline that renders with `renderers` and plans intent-only (no cluster reads),
    /// silently, with a fresh cancellation token.
    pub fn new(renderers: Arc<dyn Renderers>) -> Self {
        Self {
            renderers,
            readers: None,
            progress: Arc::new(Silent),
            cancel: CancelToken::new(),
            fingerprint_key: None,
        }
    }

    /// Show keyed fingerprints of changed Secret values under this key (spec §6.2 rule 4);
    /// without one, none are shown.
    #[must_use]
    pub fn with_fingerprint_key(mut self, key: Option<thule_diff::FingerprintKey>) -> Self {
        self.fingerprint_key = key;
        self
    }

    /// Read live objects through `readers` (else the plan is intent-only: base render
    /// against head render).
    #[must_use]
    pub fn with_readers(mut self, readers: Arc<dyn ReaderFactory>) -> Self {
        self.readers = Some(readers);
        self
    }

    /// Report stages to `progress`.
    #[must_use]
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// Stop when `cancel` is cancelled. Give the same token to the renderers' tool runner so
    /// their processes are killed too ([`ToolRenderers::new`] takes it).
    #[must_use]
    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// The run's cancellation token.
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }

    /// Plan a merge request.
    ///
    /// # Errors
    /// Only when nothing can be planned: invalid configuration (the plan cannot know what to
    /// plan), invalid diff options, or a panic in a blocking stage. A project that fails to
    /// render or read is a failed project inside the plan.
    pub async fn plan(&self, request: &PlanRequest) -> Result<Outcome, PipelineError> {
        self.plan_selected(request, &Selection::default()).await
    }

    /// [`Pipeline::plan`] restricted to some of the impacted projects (a `/thule plan PROJECT`
    /// or `/thule plan -d DIR` command).
    ///
    /// # Errors
    /// As [`Pipeline::plan`], and [`PipelineError::Selection`] when a name or directory
    /// matches no impacted project.
    pub async fn plan_selected(
        &self,
        request: &PlanRequest,
        selection: &Selection,
    ) -> Result<Outcome, PipelineError> {
        let Some(gathered) = gather::gather(self, request, selection).await? else {
            return Ok(Outcome::Cancelled);
        };
        if self.cancel.is_cancelled() {
            return Ok(Outcome::Cancelled);
        }
        self.progress.stage(Stage::Diffing {
            projects: gathered.projects.len(),
        });
        let meta = report::RunMeta {
            head_sha: request.head_sha.clone(),
            base_sha: request.base_sha.clone(),
            fingerprint_key: self.fingerprint_key.clone(),
        };
        let build = blocking("diff", move || report::build(&meta, &gathered));
        match self.until_cancelled(build).await {
            None => Ok(Outcome::Cancelled),
            Some(plan) => Ok(Outcome::Planned(plan??)),
        }
    }

    /// Await `work` unless the run is cancelled first (`None`).
    pub(crate) async fn until_cancelled<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => None,
            out = work => Some(out),
        }
    }
}

/// Run synchronous work on tokio's blocking pool; a panic becomes [`PipelineError::Internal`].
pub(crate) async fn blocking<T: Send + 'static>(
    stage: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PipelineError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| PipelineError::Internal {
            stage,
            message: match e.try_into_panic() {
                Ok(panic) => panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_owned()),
                Err(e) => e.to_string(),
            },
        })
}

/// The objects of a rendered side (empty for a failed or absent one).
pub fn rendered(side: &RenderSide) -> &[Manifest] {
    match side {
        RenderSide::Rendered { objects, .. } => objects,
        _ => &[],
    }
}
