//! The [`Renderer`] seam and its production implementation, [`RenderEngine`]: dispatch by
//! render mode, content-hash caching, timing, parallel rendering and failure isolation.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use thule_core::cancel::CancelToken;
use thule_core::config::{ProjectConfig, RenderMode};

use crate::cache::{MemoryCache, RenderCache};
use crate::error::{RenderError, ToolError};
use crate::fingerprint::{CacheKey, normalize_rel, rel_label};
use crate::model::{
    Note, ProjectRender, RenderFailure, RenderMeta, RenderOutcome, RenderOutput, ToolInfo,
};
use crate::tool::{DEFAULT_TIMEOUT, ToolInvocation, ToolOutput, ToolRunner};
use crate::{helm, kustomize, plain};

/// Renders projects. The CLI's pipeline is generic over this trait; tests can substitute any
/// implementation.
///
/// Rendering is synchronous: an async caller runs it on a blocking thread.
pub trait Renderer: Sync {
    /// Render one project. Never panics and never returns early: every failure is a
    /// [`RenderOutcome::Failed`] with a reason.
    fn render(&self, project: &ProjectConfig) -> ProjectRender;

    /// How many projects [`Renderer::render_all`] renders at once.
    fn jobs(&self) -> usize {
        default_jobs()
    }

    /// Render many projects in parallel (at most [`Renderer::jobs`] at once). Results are in
    /// the order of `projects`; one failure does not affect the others.
    fn render_all(&self, projects: &[ProjectConfig]) -> Vec<ProjectRender> {
        render_parallel(self, projects, self.jobs())
    }
}

/// The number of CPU cores available to this process (at least 1).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Render `projects` with `renderer` on at most `jobs` threads, keeping input order. A panic
/// in one render becomes that project's [`RenderError::Internal`] failure.
pub fn render_parallel<R: Renderer + ?Sized>(
    renderer: &R,
    projects: &[ProjectConfig],
    jobs: usize,
) -> Vec<ProjectRender> {
    let jobs = jobs.clamp(1, projects.len().max(1));
    let guarded = |p: &ProjectConfig| {
        catch_unwind(AssertUnwindSafe(|| renderer.render(p))).unwrap_or_else(|panic| {
            ProjectRender {
                project: p.name.clone(),
                outcome: RenderOutcome::Failed(RenderFailure {
                    error: RenderError::Internal {
                        message: panic_message(panic.as_ref()),
                    },
                    tool: None,
                    duration: Duration::ZERO,
                }),
            }
        })
    };
    if jobs == 1 {
        return projects.iter().map(guarded).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<ProjectRender>>> = Mutex::new(vec![None; projects.len()]);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = projects.get(i) else { break };
                    let r = guarded(p);
                    slots.lock().unwrap_or_else(PoisonError::into_inner)[i] = Some(r);
                }
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .into_iter()
        .zip(projects)
        .map(|(r, p)| {
            r.unwrap_or_else(|| ProjectRender {
                project: p.name.clone(),
                outcome: RenderOutcome::Failed(RenderFailure {
                    error: RenderError::Internal {
                        message: "render thread ended without a result".into(),
                    },
                    tool: None,
                    duration: Duration::ZERO,
                }),
            })
        })
        .collect()
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}

/// How kustomize is invoked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KustomizeTool {
    /// `kubectl kustomize DIR` (kubectl has kustomize built in).
    Kubectl(PathBuf),
    /// `kustomize build DIR`.
    Standalone(PathBuf),
}

/// Where the tools are.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Toolchain {
    /// The `helm` binary (path or name on `PATH`).
    pub helm: PathBuf,
    /// How to run kustomize.
    pub kustomize: KustomizeTool,
    /// The helm kustomize runs to inflate `helmCharts` (`--helm-command`), when it differs
    /// from [`Toolchain::helm`]: kustomize v5.6 (the one in kubectl v1.33) refuses helm v4
    /// ("this plugin requires helm V3"), so inflation needs a helm v3 here.
    pub kustomize_helm: Option<PathBuf>,
}

impl Default for Toolchain {
    /// `helm` and `kubectl kustomize` from `PATH`.
    fn default() -> Self {
        Self {
            helm: "helm".into(),
            kustomize: KustomizeTool::Kubectl("kubectl".into()),
            kustomize_helm: None,
        }
    }
}

impl Toolchain {
    /// The layout `scripts/install-tools.sh` creates: `DIR/helm` and `DIR/kubectl` (used as
    /// `kubectl kustomize`).
    pub fn from_dir(dir: &Path) -> Self {
        Self {
            helm: dir.join("helm"),
            kustomize: KustomizeTool::Kubectl(dir.join("kubectl")),
            kustomize_helm: None,
        }
    }
}

/// Options for a [`RenderEngine`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RenderOptions {
    /// The repository checkout; project paths are relative to it.
    pub repo_root: PathBuf,
    /// The tools.
    pub toolchain: Toolchain,
    /// Most projects rendered at once (default: the number of cores).
    pub jobs: usize,
    /// Per-invocation tool timeout.
    pub timeout: Duration,
    /// Stops the run: once cancelled, projects not started yet fail with
    /// [`RenderError::Cancelled`] without running anything, and running tools are stopped
    /// (killed, with [`crate::ProcessRunner`]).
    pub cancel: CancelToken,
}

impl RenderOptions {
    /// Defaults for a checkout: tools from `PATH`, one job per core, 5 minute timeout.
    pub fn new(repo_root: impl Into<PathBuf>) -> Self {
        Self {
            repo_root: repo_root.into(),
            toolchain: Toolchain::default(),
            jobs: default_jobs(),
            timeout: DEFAULT_TIMEOUT,
            cancel: CancelToken::new(),
        }
    }

    /// Use these tools.
    #[must_use]
    pub fn toolchain(mut self, toolchain: Toolchain) -> Self {
        self.toolchain = toolchain;
        self
    }

    /// Render at most `jobs` projects at once (at least 1).
    #[must_use]
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }

    /// Kill a tool that runs longer than this.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Stop rendering when `cancel` is cancelled (see [`RenderOptions::cancel`]). Engines made
    /// with [`RenderEngine::for_checkout`] share it.
    #[must_use]
    pub fn cancel_token(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }
}

/// The closed local port the tools' proxies point at (the discard port); a macro so that the
/// URL below is built from the same literal.
macro_rules! closed_proxy {
    () => {
        "127.0.0.1:9"
    };
}
/// The closed local port, as tool errors print it.
const CLOSED_PROXY: &str = closed_proxy!();
/// The same as a proxy URL.
const CLOSED_PROXY_URL: &str = concat!("http://", closed_proxy!());

/// Environment for every tool: proxies pointing at a closed local port, so any attempt to
/// reach the network (a remote kustomize base, a chart repository) fails fast instead of
/// making the render depend on the network. Best effort: it relies on the tools honouring
/// the standard proxy variables, which Go's HTTP client and git do.
const NO_NETWORK_ENV: &[(&str, &str)] = &[
    ("HTTP_PROXY", CLOSED_PROXY_URL),
    ("HTTPS_PROXY", CLOSED_PROXY_URL),
    ("http_proxy", CLOSED_PROXY_URL),
    ("https_proxy", CLOSED_PROXY_URL),
    ("ALL_PROXY", CLOSED_PROXY_URL),
    ("NO_PROXY", ""),
    ("GIT_TERMINAL_PROMPT", "0"),
];

/// Objects and notes of one render.
pub(crate) type Objects = (Vec<thule_core::Manifest>, Vec<Note>);

/// What a backend decided to do for one project: the tool, the cache key, and the work.
pub(crate) struct Prepared {
    pub tool: ToolInfo,
    pub key: CacheKey,
    pub job: Job,
}

/// The work of one render, once the cache missed.
pub(crate) enum Job {
    /// Plain YAML files already read: (repository-relative path, bytes).
    Files(Vec<(PathBuf, Vec<u8>)>),
    /// Run a tool and read its output.
    Tool {
        invocation: ToolInvocation,
        output: ToolOutputKind,
        blame: Blame,
    },
}

/// How to read a tool's stdout.
pub(crate) enum ToolOutputKind {
    /// A plain YAML stream; origins name the invocation.
    Kustomize,
    /// `helm template` output; origins name the template from `# Source:` comments.
    Helm {
        chart_dir: PathBuf,
        chart_name: String,
    },
}

/// Whom to blame when the tool fails.
pub(crate) struct Blame {
    pub tool: &'static str,
    pub file: String,
    pub fix: String,
}

/// The value in `slot`, or the result of `ask`, remembered when it succeeds.
fn remembered(
    slot: &Mutex<Option<String>>,
    ask: impl FnOnce() -> Result<String, ToolError>,
) -> Result<String, ToolError> {
    let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(v) = slot.as_ref() {
        return Ok(v.clone());
    }
    let v = ask()?;
    *slot = Some(v.clone());
    Ok(v)
}

/// A note for every object defined more than once in one render: appliers either reject the
/// set (kustomize, Flux) or let the last one win (`kubectl apply`), so the plan must say so.
fn duplicate_notes(objects: &[thule_core::Manifest]) -> Vec<Note> {
    let mut first: std::collections::HashMap<&thule_core::ObjectKey, &thule_core::Origin> =
        std::collections::HashMap::new();
    let mut notes = Vec::new();
    for m in objects {
        match first.get(&m.key) {
            Some(origin) => notes.push(Note {
                source: m.origin.to_string(),
                message: format!(
                    "duplicate object {}, first defined at {origin}; appliers reject the set or \
                     keep only the last one, so define it once",
                    m.key
                ),
            }),
            None => {
                first.insert(&m.key, &m.origin);
            }
        }
    }
    notes
}

/// A more precise hint than the default for failures whose cause thule recognises.
fn better_fix(e: &ToolError) -> Option<String> {
    let stderr = e.stderr()?;
    // kustomize v5.6 probes `helm version -c --short`, which helm v4 rejects; with a helm v4
    // that answers the probe it says "requires helm V3".
    if stderr.contains("requires helm V3") || stderr.contains("helm version -c --short") {
        return Some(
            "kustomize (v5.6 and older) inflates Helm charts only with helm v3; point \
             `Toolchain::kustomize_helm` at a helm v3 binary, or render the chart with \
             `render.mode: helm`"
                .to_owned(),
        );
    }
    if stderr.contains("proxyconnect") && stderr.contains(CLOSED_PROXY) {
        return Some(
            "thule renders without network access; vendor the remote base or chart into the \
             repository and refer to it by path"
                .to_owned(),
        );
    }
    if stderr.contains("missing in charts/ directory") {
        return Some(
            "vendor the chart's dependencies into its `charts/` directory (run `helm \
             dependency build` and commit the result); thule renders without network access"
                .to_owned(),
        );
    }
    if stderr.contains("must specify --enable-helm") {
        return Some(
            "the kustomization inflates a Helm chart (`helmCharts`), which is off unless the \
             project sets `render.kustomize.enableHelm: true`"
                .to_owned(),
        );
    }
    if stderr.contains("is not in or below") {
        return Some(
            "kustomize's load restrictions forbid reading files outside the kustomization's \
             directory; move the file into it, or make the other directory a kustomization \
             and list it under `resources`"
                .to_owned(),
        );
    }
    None
}

/// The failure of a tool version query: the tool is unavailable, unless the run was cancelled.
fn unavailable(tool: &'static str, source: ToolError) -> RenderError {
    if source.is_cancelled() {
        return cancelled(source);
    }
    RenderError::ToolUnavailable {
        tool,
        source: Box::new(source),
    }
}

/// A project stopped by cancellation while `source` was running.
fn cancelled(source: ToolError) -> RenderError {
    RenderError::Cancelled {
        source: Some(Box::new(source)),
    }
}

/// The production [`Renderer`]: plain YAML, kustomize and helm, with a content-hash cache.
///
/// Generic over the [`ToolRunner`] so tests can count or script tool runs.
pub struct RenderEngine<T> {
    pub(crate) runner: T,
    pub(crate) options: RenderOptions,
    cache: Option<Arc<dyn RenderCache>>,
    // Versions are asked once per engine and remembered only when the question succeeds, so
    // a transient failure (a timeout on a loaded machine) is retried by the next render. The
    // lock is held while asking, so parallel renders never ask twice.
    // Shared (`Arc`) with engines made by [`RenderEngine::for_checkout`]: versions belong to
    // the toolchain, not to a checkout.
    helm_version: Arc<Mutex<Option<String>>>,
    kustomize_version: Arc<Mutex<Option<String>>>,
}

impl<T: ToolRunner> RenderEngine<T> {
    /// An engine with an in-memory cache.
    pub fn new(runner: T, options: RenderOptions) -> Self {
        Self {
            runner,
            options,
            cache: Some(Arc::new(MemoryCache::default())),
            helm_version: Arc::new(Mutex::new(None)),
            kustomize_version: Arc::new(Mutex::new(None)),
        }
    }

    /// An engine for another checkout of the same repository (a merge request's base beside
    /// its head) with the same tools and options: it shares this engine's remembered tool
    /// versions, so they are asked once, and its cache, so a project whose inputs are
    /// byte-identical in both checkouts renders once.
    #[must_use]
    pub fn for_checkout(&self, repo_root: impl Into<PathBuf>) -> Self
    where
        T: Clone,
    {
        let mut options = self.options.clone();
        options.repo_root = repo_root.into();
        Self {
            runner: self.runner.clone(),
            options,
            cache: self.cache.clone(),
            helm_version: Arc::clone(&self.helm_version),
            kustomize_version: Arc::clone(&self.kustomize_version),
        }
    }

    /// Run at most this many projects at once (at least one).
    #[must_use]
    pub fn with_jobs(mut self, jobs: usize) -> Self {
        self.options = self.options.jobs(jobs);
        self
    }

    /// Use this cache (for example one shared between engines, or persisted).
    #[must_use]
    pub fn with_cache(mut self, cache: Arc<dyn RenderCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Never serve from or store into a cache.
    #[must_use]
    pub fn without_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// The tool runner.
    pub fn runner(&self) -> &T {
        &self.runner
    }

    /// The options.
    pub fn options(&self) -> &RenderOptions {
        &self.options
    }

    /// A tool invocation with this engine's working directory, timeout and environment.
    pub(crate) fn invocation(&self, program: &Path) -> ToolInvocation {
        let mut inv = ToolInvocation::new(program)
            .cwd(&self.options.repo_root)
            .timeout(self.options.timeout);
        for (k, v) in NO_NETWORK_ENV {
            inv = inv.env(*k, *v);
        }
        inv
    }

    /// The helm version (`v4.1.4`), asked once per engine.
    pub(crate) fn helm_version(&self) -> Result<String, RenderError> {
        remembered(&self.helm_version, || {
            let inv = self.invocation(&self.options.toolchain.helm).args([
                "version",
                "--template",
                "{{.Version}}",
            ]);
            let out = self.run_tool(&inv)?;
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        })
        .map_err(|source| unavailable("helm", source))
    }

    /// The kustomize version (`v5.6.0 (kubectl v1.33.9)` or `v5.6.0`), asked once per engine.
    pub(crate) fn kustomize_version(&self) -> Result<String, RenderError> {
        remembered(&self.kustomize_version, || {
            match &self.options.toolchain.kustomize {
                KustomizeTool::Kubectl(p) => {
                    let inv = self
                        .invocation(p)
                        .args(["version", "--client", "-o", "json"]);
                    let out = self.run_tool(&inv)?;
                    let v: serde_json::Value =
                        serde_json::from_slice(&out.stdout).unwrap_or_default();
                    let s =
                        |ptr: &str| v.pointer(ptr).and_then(|x| x.as_str()).unwrap_or("unknown");
                    Ok(format!(
                        "{} (kubectl {})",
                        s("/kustomizeVersion"),
                        s("/clientVersion/gitVersion")
                    ))
                }
                KustomizeTool::Standalone(p) => {
                    let out = self.run_tool(&self.invocation(p).arg("version"))?;
                    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
                }
            }
        })
        .map_err(|source| unavailable("kustomize", source))
    }

    /// Run a tool through the runner, stopped by this engine's cancellation token.
    fn run_tool(&self, invocation: &ToolInvocation) -> Result<ToolOutput, ToolError> {
        self.runner
            .run_cancellable(invocation, &self.options.cancel)
    }

    /// Resolve a repository-relative path from the configuration, refusing anything that
    /// leaves the repository.
    pub(crate) fn checked_path(
        &self,
        project: &ProjectConfig,
        path: &Path,
    ) -> Result<PathBuf, RenderError> {
        normalize_rel(path).ok_or_else(|| RenderError::PathOutsideRepo {
            path: path.display().to_string(),
            config: rel_label(&project.file),
        })
    }

    fn prepare(&self, project: &ProjectConfig) -> Result<Prepared, RenderError> {
        match project.render.mode {
            RenderMode::Yaml => plain::prepare(self, project),
            RenderMode::Kustomize => kustomize::prepare(self, project),
            RenderMode::Helm => helm::prepare(self, project),
            RenderMode::Flux => Err(RenderError::UnsupportedMode {
                mode: "flux".into(),
                config: rel_label(&project.file),
            }),
        }
    }

    fn execute(
        &self,
        project: &ProjectConfig,
        job: Job,
    ) -> Result<(Objects, Option<String>), RenderError> {
        match job {
            Job::Files(files) => Ok((plain::parse_files(project, files)?, None)),
            Job::Tool {
                invocation,
                output,
                blame,
            } => {
                let out = self
                    .run_tool(&invocation)
                    .map_err(|e| self.tool_error(e, blame))?;
                let label = invocation.label();
                let (objects, mut notes) = match output {
                    ToolOutputKind::Kustomize => {
                        kustomize::parse_output(project, &label, &out.stdout)
                    }
                    ToolOutputKind::Helm {
                        chart_dir,
                        chart_name,
                    } => helm::parse_output(project, &label, &out.stdout, &chart_dir, &chart_name),
                }
                .map_err(|e| RenderError::ToolOutput {
                    command: invocation.to_string(),
                    source: Box::new(e),
                })?;
                let warnings = String::from_utf8_lossy(&out.stderr);
                notes.extend(
                    warnings
                        .lines()
                        .filter(|l| !l.trim().is_empty())
                        .map(|l| Note {
                            source: label.clone(),
                            message: format!("warning: {}", self.relativize(l.trim())),
                        }),
                );
                Ok(((objects, notes), Some(label)))
            }
        }
    }

    fn tool_error(&self, e: ToolError, blame: Blame) -> RenderError {
        if matches!(e, ToolError::NotFound { .. }) {
            return RenderError::ToolUnavailable {
                tool: blame.tool,
                source: Box::new(e),
            };
        }
        let mut e = e;
        for root in self.root_prefixes() {
            e = e.replace_text(&root, "");
        }
        if e.is_cancelled() {
            return cancelled(e);
        }
        RenderError::Tool {
            tool: blame.tool,
            file: blame.file,
            fix: better_fix(&e).unwrap_or(blame.fix),
            source: Box::new(e),
        }
    }

    /// `/abs/checkout/` spellings to strip from tool messages.
    fn root_prefixes(&self) -> Vec<String> {
        let mut v = vec![format!("{}/", self.options.repo_root.display())];
        if let Ok(c) = self.options.repo_root.canonicalize() {
            let c = format!("{}/", c.display());
            if !v.contains(&c) {
                v.push(c);
            }
        }
        v
    }

    fn relativize(&self, s: &str) -> String {
        self.root_prefixes()
            .iter()
            .fold(s.to_owned(), |acc, r| acc.replace(r.as_str(), ""))
    }
}

impl<T: ToolRunner> Renderer for RenderEngine<T> {
    fn render(&self, project: &ProjectConfig) -> ProjectRender {
        let start = Instant::now();
        let failed = |error, tool| ProjectRender {
            project: project.name.clone(),
            outcome: RenderOutcome::Failed(RenderFailure {
                error,
                tool,
                duration: start.elapsed(),
            }),
        };
        // Nothing new starts once the run is cancelled, not even a cache lookup: the caller
        // is not waiting for results any more.
        if self.options.cancel.is_cancelled() {
            return failed(RenderError::Cancelled { source: None }, None);
        }
        let prepared = match self.prepare(project) {
            Ok(p) => p,
            Err(e) => return failed(e, None),
        };
        if let Some(hit) = self.cache.as_ref().and_then(|c| c.get(&prepared.key)) {
            let mut out = hit;
            out.meta.cached = true;
            out.meta.duration = start.elapsed();
            return ProjectRender {
                project: project.name.clone(),
                outcome: RenderOutcome::Rendered(out),
            };
        }
        match self.execute(project, prepared.job) {
            Ok(((objects, mut notes), command)) => {
                notes.extend(duplicate_notes(&objects));
                let out = RenderOutput {
                    objects,
                    notes,
                    meta: RenderMeta {
                        tool: prepared.tool,
                        command,
                        duration: start.elapsed(),
                        cached: false,
                        key: prepared.key,
                    },
                };
                if let Some(c) = &self.cache {
                    c.put(prepared.key, out.clone());
                }
                ProjectRender {
                    project: project.name.clone(),
                    outcome: RenderOutcome::Rendered(out),
                }
            }
            Err(e) => failed(e, Some(prepared.tool)),
        }
    }

    fn jobs(&self) -> usize {
        self.options.jobs
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Fails the first call, answers `v9` afterwards.
    struct FlakyRunner(AtomicUsize);

    impl ToolRunner for FlakyRunner {
        fn run(&self, invocation: &ToolInvocation) -> Result<ToolOutput, ToolError> {
            if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(ToolError::TimedOut {
                    command: invocation.to_string(),
                    timeout: Duration::from_secs(1),
                    stderr: String::new(),
                });
            }
            Ok(ToolOutput {
                stdout: b"v9\n".to_vec(),
                stderr: Vec::new(),
                duration: Duration::ZERO,
            })
        }
    }

    #[test]
    fn a_failed_version_query_is_retried_and_a_successful_one_remembered() {
        let engine = RenderEngine::new(FlakyRunner(AtomicUsize::new(0)), RenderOptions::new("."));
        let err = engine.helm_version().unwrap_err();
        assert!(matches!(
            err,
            RenderError::ToolUnavailable { tool: "helm", .. }
        ));
        assert_eq!(engine.helm_version().unwrap(), "v9");
        assert_eq!(engine.helm_version().unwrap(), "v9");
        assert_eq!(engine.runner().0.load(Ordering::SeqCst), 2);
    }

    /// Counts runs across clones (engines made by `for_checkout` clone the runner).
    #[derive(Clone)]
    struct SharedCount(Arc<AtomicUsize>);

    impl ToolRunner for SharedCount {
        fn run(&self, _invocation: &ToolInvocation) -> Result<ToolOutput, ToolError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(ToolOutput {
                stdout: b"v9\n".to_vec(),
                stderr: Vec::new(),
                duration: Duration::ZERO,
            })
        }
    }

    #[test]
    fn an_engine_for_another_checkout_shares_tool_versions() {
        let runs = Arc::new(AtomicUsize::new(0));
        let head = RenderEngine::new(SharedCount(Arc::clone(&runs)), RenderOptions::new("head"));
        let base = head.for_checkout("base");
        assert_eq!(base.options().repo_root, std::path::PathBuf::from("base"));
        assert_eq!(head.helm_version().unwrap(), "v9");
        assert_eq!(base.helm_version().unwrap(), "v9");
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "the version was asked once for both"
        );
    }

    #[test]
    fn duplicates_are_noted_with_both_origins() {
        let m = |source: &str| {
            thule_core::Manifest::from_value(
                serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
                thule_core::Origin {
                    source: source.into(),
                    line: 1,
                    ..thule_core::Origin::default()
                },
            )
            .unwrap()
        };
        let notes = duplicate_notes(&[m("a.yaml"), m("b.yaml"), m("c.yaml")]);
        let text: Vec<_> = notes.iter().map(|n| n.to_string()).collect();
        assert_eq!(text.len(), 2);
        assert!(
            text[0]
                .starts_with("b.yaml:1: duplicate object ConfigMap c, first defined at a.yaml:1")
        );
        assert!(
            text[1]
                .starts_with("c.yaml:1: duplicate object ConfigMap c, first defined at a.yaml:1")
        );
    }
}
