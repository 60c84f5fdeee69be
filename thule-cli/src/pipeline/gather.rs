//! Gathering a plan's inputs: discovery, the base and head renders, and the live objects
//! ([`live`]).
//!
//! Every step keeps going past a failure and records it on the project it belongs to, so a
//! project that fails to render or to read says so in the plan while the others are planned.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use thule_core::cancel::CancelToken;
use thule_core::cluster::{LiveOutcome, ObjectRef};
use thule_core::config::{ConfigLayers, ProjectConfig};
use thule_core::discovery::{Reason, discover, load_projects};
use thule_core::object::{Manifest, ObjectKey, builtin_cluster_scoped};
use thule_core::repo::slash;
use thule_diff::LiveFacts;
use thule_render::{
    ProcessRunner, ProjectRender, RenderEngine, RenderOptions, RenderOutcome, Renderer, Toolchain,
};

use super::{Pipeline, PipelineError, PlanRequest, Renderers, Selection, Stage, blocking, live};

/// One side's render of a project.
#[derive(Clone, Debug, PartialEq)]
pub enum RenderSide {
    /// Rendered objects, with the tool that produced them (`helm v4.1.4`).
    Rendered {
        /// Objects, namespaces resolved.
        objects: Vec<Manifest>,
        /// Tool and version.
        tool: String,
        /// What the render reported beside its objects (documents that are not objects,
        /// objects defined twice, tool warnings), one line each.
        notes: Vec<String>,
    },
    /// The render failed; the reason names the file and what to fix.
    Failed(String),
    /// The project does not exist on this side.
    Absent,
}

/// What the plan knows of the live cluster for a project.
#[derive(Clone, Debug, PartialEq)]
pub enum LiveState {
    /// No cluster access requested.
    IntentOnly,
    /// Read: one outcome per key of the base and head renders, plus objects the project owns
    /// by label that neither render has.
    Read {
        /// The reader's description (context or snapshot path).
        source: String,
        /// Outcomes by key.
        outcomes: BTreeMap<ObjectKey, LiveOutcome>,
        /// Live objects carrying the project's ownership labels that no render has (their
        /// outcomes are in `outcomes`): deletion candidates beyond the base render.
        owned_extra: Vec<ObjectRef>,
        /// Facts for the risk pass (CR counts, namespace contents, reclaim policies, related
        /// workloads), read with lists and gets only.
        facts: Box<LiveFacts>,
    },
    /// The cluster could not be read at all.
    Failed(String),
}

/// Everything gathered for one project.
#[derive(Clone, Debug)]
pub struct ProjectInputs {
    /// The project (head config; base config for a project removed by the MR).
    pub config: ProjectConfig,
    /// Why it is planned.
    pub reasons: Vec<Reason>,
    /// Head render.
    pub head: RenderSide,
    /// Base render (`Absent` without a base checkout or when the project is new).
    pub base: RenderSide,
    /// Live state.
    pub live: LiveState,
}

/// All projects' inputs, plus what discovery saw.
#[derive(Clone, Debug)]
pub struct Gathered {
    /// Projects in name order.
    pub projects: Vec<ProjectInputs>,
    /// Changed paths no project watches.
    pub unmatched: Vec<PathBuf>,
    /// Whether a base checkout was available.
    pub has_base: bool,
}

/// The production [`Renderers`]: two [`RenderEngine`]s over the real tools, one per checkout,
/// sharing tool versions and the content-hash cache, so a project that is the same in both
/// checkouts renders once.
///
/// With two jobs or more and a base to render, both sides render at once and split the job
/// budget, so the tools' version queries and the tail of one side overlap with the other; with
/// one job the base renders after the head. The base side takes its projects in reverse
/// order: a project that is the same in both checkouts is then rendered by one side and found
/// in the shared cache by the other, rather than rendered by both at the same time.
pub struct ToolRenderers {
    head: RenderEngine<ProcessRunner>,
    base_dir: Option<PathBuf>,
    jobs: usize,
}

impl ToolRenderers {
    /// Engines for the head checkout `head_dir` and the base checkout `base_dir`, with these
    /// tools, at most `jobs` renders at once in all. Cancelling `cancel` stops starting
    /// renders and kills the tool processes running.
    pub fn new(
        head_dir: &Path,
        base_dir: Option<&Path>,
        toolchain: Toolchain,
        jobs: usize,
        cancel: CancelToken,
    ) -> Self {
        let head = RenderEngine::new(
            ProcessRunner::new(),
            RenderOptions::new(head_dir)
                .toolchain(toolchain)
                .jobs(jobs)
                .cancel_token(cancel),
        );
        Self {
            head,
            base_dir: base_dir.map(Path::to_path_buf),
            jobs: jobs.max(1),
        }
    }
}

impl Renderers for ToolRenderers {
    fn render_sides(
        &self,
        head: &[ProjectConfig],
        base: &[ProjectConfig],
    ) -> (Vec<ProjectRender>, Vec<ProjectRender>) {
        let base_work = self.base_dir.is_some() && !base.is_empty();
        let at_once = base_work && self.jobs > 1;
        let (head_jobs, base_jobs) = if at_once {
            (self.jobs.div_ceil(2), self.jobs / 2)
        } else {
            (self.jobs, self.jobs)
        };
        let head_engine = self
            .head
            .for_checkout(self.head.options().repo_root.clone())
            .with_jobs(head_jobs);
        let base_engine = self
            .base_dir
            .as_deref()
            .filter(|_| base_work)
            .map(|dir| self.head.for_checkout(dir).with_jobs(base_jobs));
        let reversed: Vec<ProjectConfig> = base.iter().rev().cloned().collect();
        let render_base = |engine: &RenderEngine<ProcessRunner>| {
            let mut out = engine.render_all(&reversed);
            out.reverse();
            out
        };
        std::thread::scope(|scope| {
            let base_thread = base_engine
                .as_ref()
                .filter(|_| at_once)
                .map(|engine| scope.spawn(|| render_base(engine)));
            let head = head_engine.render_all(head);
            let base = match (base_thread, &base_engine) {
                (Some(h), _) => h
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                (None, Some(engine)) => render_base(engine),
                (None, None) => Vec::new(),
            };
            (head, base)
        })
    }
}

/// Gather inputs: discovery on the head, renders of both sides, live reads. `None` when the
/// run was cancelled.
///
/// # Errors
/// Only for configuration errors (the plan cannot know what to plan); render and read
/// failures are recorded per project.
pub(crate) async fn gather(
    pipeline: &Pipeline,
    request: &PlanRequest,
    selection: &Selection,
) -> Result<Option<Gathered>, PipelineError> {
    let discovered = {
        let request = request.clone();
        let selection = selection.clone();
        blocking("discovery", move || {
            let (planned, unmatched, layers) = discover_sides(&request)?;
            Ok::<_, PipelineError>((select(planned, &selection)?, unmatched, layers))
        })
    };
    let Some(discovered) = pipeline.until_cancelled(discovered).await else {
        return Ok(None);
    };
    let (planned, unmatched, layers) = discovered??;

    pipeline.progress.stage(Stage::Rendering {
        projects: planned.len(),
    });
    let head_configs: Vec<ProjectConfig> = planned
        .iter()
        .filter(|(c, ..)| request.head.is_file(&c.file))
        .map(|(c, ..)| c.clone())
        .collect();
    let base_configs: Vec<ProjectConfig> = match &request.base {
        Some(_) => planned.iter().filter_map(|(_, _, b)| b.clone()).collect(),
        None => Vec::new(),
    };
    let renders = {
        let renderers = Arc::clone(&pipeline.renderers);
        blocking("render", move || {
            let (head, base) = renderers.render_sides(&head_configs, &base_configs);
            let by_name = |configs: &[ProjectConfig], renders: Vec<ProjectRender>| {
                configs
                    .iter()
                    .zip(renders)
                    .map(|(c, r)| (c.name.clone(), side(&r.outcome, c)))
                    .collect::<BTreeMap<String, RenderSide>>()
            };
            (by_name(&head_configs, head), by_name(&base_configs, base))
        })
    };
    let Some(renders) = pipeline.until_cancelled(renders).await else {
        return Ok(None);
    };
    let (mut head_by_name, mut base_by_name) = renders?;
    if pipeline.cancel.is_cancelled() {
        return Ok(None);
    }
    pipeline.progress.stage(Stage::Rendered);

    let mut projects = Vec::new();
    for (config, reasons, _) in planned {
        let head = head_by_name
            .remove(&config.name)
            .unwrap_or(RenderSide::Absent);
        let base = base_by_name
            .remove(&config.name)
            .unwrap_or(RenderSide::Absent);
        projects.push(ProjectInputs {
            config,
            reasons,
            head,
            base,
            live: LiveState::IntentOnly,
        });
    }

    if let Some(readers) = &pipeline.readers {
        let read = live::read_live(
            readers.as_ref(),
            pipeline.progress.as_ref(),
            &layers,
            &mut projects,
        );
        if pipeline.until_cancelled(read).await.is_none() {
            return Ok(None);
        }
    }

    Ok(Some(Gathered {
        projects,
        unmatched,
        has_base: request.base.is_some(),
    }))
}

/// Keep the selected projects; a name or directory that selects nothing is an error naming
/// the impacted projects.
fn select(planned: Vec<Planned>, selection: &Selection) -> Result<Vec<Planned>, PipelineError> {
    if selection.is_all() {
        return Ok(planned);
    }
    let names: Vec<String> = planned.iter().map(|(c, ..)| c.name.clone()).collect();
    let unknown: Vec<&str> = selection
        .projects
        .iter()
        .filter(|p| !names.contains(p))
        .map(String::as_str)
        .chain(selection.dirs.iter().map(String::as_str).filter(|d| {
            let one = Selection {
                projects: Vec::new(),
                dirs: vec![(*d).to_owned()],
            };
            !planned.iter().any(|(c, ..)| one.selects(c))
        }))
        .collect();
    if !unknown.is_empty() {
        return Err(PipelineError::Selection(format!(
            "{} selects no project this merge request impacts (impacted: {})",
            unknown.join(", "),
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        )));
    }
    Ok(planned
        .into_iter()
        .filter(|(c, ..)| selection.selects(c))
        .collect())
}

/// A planned project: its head config, why, and its base config if the base has it.
type Planned = (ProjectConfig, Vec<Reason>, Option<ProjectConfig>);

/// Discovery on the head tree, and the same projects as configured on the base tree.
fn discover_sides(
    request: &PlanRequest,
) -> Result<(Vec<Planned>, Vec<PathBuf>, ConfigLayers), PipelineError> {
    let head_tree = request.head.as_ref();
    let head_layers = ConfigLayers::load(head_tree, request.org.clone())?;
    let discovery = discover(
        head_tree,
        &head_layers,
        &request.changed,
        &request.overrides,
    )?;

    // The base side: the same projects as configured on the target branch.
    let base_projects = request.base.as_deref().and_then(|tree| {
        ConfigLayers::load(tree, request.org.clone())
            .ok()
            .and_then(|layers| load_projects(tree, &layers, &request.overrides).ok())
    });
    let base_by_file: BTreeMap<PathBuf, ProjectConfig> = base_projects
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.file.clone(), p))
        .collect();

    let mut planned: Vec<Planned> = discovery
        .projects
        .iter()
        .map(|p| {
            let base = base_by_file.get(&p.config.file).cloned();
            (p.config.clone(), p.reasons.clone(), base)
        })
        .collect();
    // Projects whose thule.yaml the MR deletes: plan their base render as all deletions.
    for removed in &discovery.removed_projects {
        if let Some(base) = base_by_file.get(removed) {
            let reason = Reason {
                changed: removed.clone(),
                why: thule_core::discovery::Why::ProjectFile,
            };
            planned.push((base.clone(), vec![reason], Some(base.clone())));
        }
    }
    planned.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    Ok((planned, discovery.unmatched, head_layers))
}

/// A render outcome as a plan side, with namespaces resolved.
fn side(outcome: &RenderOutcome, config: &ProjectConfig) -> RenderSide {
    match outcome {
        RenderOutcome::Rendered(out) => RenderSide::Rendered {
            objects: resolve_namespaces(&out.objects, config),
            tool: out.meta.tool.to_string(),
            notes: out.notes.iter().map(ToString::to_string).collect(),
        },
        RenderOutcome::Failed(f) => RenderSide::Failed(f.reason()),
    }
}

/// Resolve namespaces (explicit, else the project's namespace, else `default`; cluster-scoped
/// kinds get none), so live reads and the diff agree on identity (spec §2.1). The applier's
/// ownership labels are added by the diff engine (`DiffOptions::inject_labels`).
pub fn resolve_namespaces(objects: &[Manifest], config: &ProjectConfig) -> Vec<Manifest> {
    let default_ns = config.namespace.as_deref().unwrap_or("default");
    // Custom resources are cluster-scoped when a CRD in the same render says so.
    let cluster_scoped_crs: BTreeSet<(String, String)> = objects
        .iter()
        .filter(|m| m.key.kind == "CustomResourceDefinition")
        .filter(|m| m.object.pointer("/spec/scope").and_then(Value::as_str) == Some("Cluster"))
        .filter_map(|m| {
            let group = m.object.pointer("/spec/group")?.as_str()?;
            let kind = m.object.pointer("/spec/names/kind")?.as_str()?;
            Some((group.to_owned(), kind.to_owned()))
        })
        .collect();
    objects
        .iter()
        .map(|m| {
            let mut m = m.clone();
            let cluster = builtin_cluster_scoped(&m.key.group, &m.key.kind).unwrap_or_else(|| {
                cluster_scoped_crs.contains(&(m.key.group.clone(), m.key.kind.clone()))
            });
            let namespace = if cluster {
                String::new()
            } else if m.key.namespace.is_empty() {
                default_ns.to_owned()
            } else {
                m.key.namespace.clone()
            };
            if let Some(meta) = m.object.get_mut("metadata").and_then(Value::as_object_mut) {
                if namespace.is_empty() {
                    meta.remove("namespace");
                } else {
                    meta.insert("namespace".into(), Value::String(namespace.clone()));
                }
            }
            m.key.namespace = namespace;
            m
        })
        .collect()
}

/// The cluster a project plans against, for headers.
pub fn cluster_label(p: &ProjectConfig) -> String {
    p.cluster_ref.clone().unwrap_or_else(|| "-".to_owned())
}

/// The project directory for headers.
pub fn dir_label(p: &ProjectConfig) -> String {
    if p.dir.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        slash(&p.dir)
    }
}
