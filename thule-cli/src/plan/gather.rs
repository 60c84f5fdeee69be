//! Gathering a plan's inputs: discovery, the base and head renders, and the live objects.
//!
//! Every step keeps going past a failure and records it on the project it belongs to, so a
//! project that fails to render or to read says so in the plan while the others are planned.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::PathBuf;

use serde_json::Value;
use thule_core::cluster::{ClusterReader, LiveOutcome, ObjectRef, OwnedList, OwnedQuery};
use thule_core::config::{
    ClusterSettings, ConfigLayers, Loaded, MrOverride, ProjectConfig, RepoFile,
};
use thule_core::discovery::{ChangedFile, Reason, discover, load_projects};
use thule_core::object::{Manifest, ObjectKey, builtin_cluster_scoped};
use thule_core::repo::{DiskTree, slash};
use thule_diff::LiveFacts;
use thule_kube::{Ownership, ReaderOptions, reader_for_cluster};
use thule_render::{
    ProcessRunner, RenderEngine, RenderOptions, RenderOutcome, Renderer, Toolchain,
};

/// Where live objects come from.
#[derive(Clone, Debug, Default)]
pub enum LiveSource {
    /// No cluster access: an intent-only plan (base render against head render).
    #[default]
    None,
    /// `kubectl get -o yaml` snapshots: per clusterRef a file or directory, and optionally a
    /// directory holding one subdirectory per clusterRef.
    Snapshots {
        /// Explicit `CLUSTER=PATH` snapshots.
        by_cluster: BTreeMap<String, PathBuf>,
        /// A directory with `<clusterRef>/` inside.
        root: Option<PathBuf>,
    },
    /// The clusters of the repo config, read with kube-rs.
    Clusters {
        /// A kubeconfig file overriding the config's.
        kubeconfig: Option<PathBuf>,
        /// Contexts per clusterRef overriding the config's.
        contexts: BTreeMap<String, String>,
    },
}

/// What to plan.
#[derive(Debug)]
pub struct PlanRequest {
    /// The head checkout.
    pub repo: PathBuf,
    /// The base checkout, if any.
    pub base: Option<PathBuf>,
    /// The merge request's changed paths.
    pub changed: Vec<ChangedFile>,
    /// Head commit, for the plan header.
    pub head_sha: Option<String>,
    /// Base commit, for the plan header.
    pub base_sha: Option<String>,
    /// Live state.
    pub live: LiveSource,
    /// Org defaults file.
    pub org: Option<Loaded<RepoFile>>,
    /// MR overrides.
    pub overrides: Vec<MrOverride>,
    /// Rendering tools.
    pub toolchain: Toolchain,
    /// Parallel renders.
    pub jobs: usize,
}

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

struct Progress {
    on: bool,
}

impl Progress {
    fn new() -> Self {
        Self {
            on: std::io::stderr().is_terminal() && std::env::var_os("THULE_NO_PROGRESS").is_none(),
        }
    }

    fn say(&self, message: &str) {
        if self.on {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("thule: {message}");
            }
        }
    }
}

/// Gather inputs: discovery on the head, renders of both sides, live reads.
///
/// # Errors
/// Only for configuration errors (the plan cannot know what to plan) and unreadable
/// checkouts; render and read failures are recorded per project.
pub async fn gather(request: &PlanRequest) -> anyhow::Result<Gathered> {
    let progress = Progress::new();
    let head_tree = DiskTree::open(&request.repo)?;
    let head_layers = ConfigLayers::load(&head_tree, request.org.clone())?;
    let discovery = discover(
        &head_tree,
        &head_layers,
        &request.changed,
        &request.overrides,
    )?;

    // The base side: the same projects as configured on the target branch.
    let (base_tree, base_projects) = match &request.base {
        Some(dir) => {
            let tree = DiskTree::open(dir)?;
            let projects = ConfigLayers::load(&tree, request.org.clone())
                .ok()
                .and_then(|layers| load_projects(&tree, &layers, &request.overrides).ok());
            (Some(tree), projects)
        }
        None => (None, None),
    };
    let base_by_file: BTreeMap<PathBuf, ProjectConfig> = base_projects
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.file.clone(), p))
        .collect();

    let mut planned: Vec<(ProjectConfig, Vec<Reason>, Option<ProjectConfig>)> = discovery
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

    progress.say(&format!("rendering {} project(s)", planned.len()));
    let head_configs: Vec<ProjectConfig> = planned
        .iter()
        .filter(|(c, ..)| head_tree_has(&head_tree, c))
        .map(|(c, ..)| c.clone())
        .collect();
    let base_configs: Vec<ProjectConfig> = match &base_tree {
        Some(_) => planned.iter().filter_map(|(_, _, b)| b.clone()).collect(),
        None => Vec::new(),
    };
    // With two jobs or more, both sides render at once and split the job budget, so the
    // tools' version queries and the tail of one side overlap with the other; with one job
    // the base renders after the head.
    let base_work = request.base.is_some() && !base_configs.is_empty();
    let at_once = base_work && request.jobs > 1;
    let (head_jobs, base_jobs) = if at_once {
        (request.jobs.div_ceil(2), request.jobs / 2)
    } else {
        (request.jobs, request.jobs)
    };
    let head_engine = RenderEngine::new(
        ProcessRunner::new(),
        RenderOptions::new(&request.repo)
            .toolchain(request.toolchain.clone())
            .jobs(head_jobs),
    );
    // The base engine shares tool versions and the content-hash cache with the head's.
    let base_engine = request
        .base
        .as_deref()
        .filter(|_| base_work)
        .map(|dir| head_engine.for_checkout(dir).with_jobs(base_jobs));
    let render_side = |engine: &RenderEngine<ProcessRunner>, configs: &[ProjectConfig]| {
        let renders = engine.render_all(configs);
        configs
            .iter()
            .zip(renders)
            .map(|(c, r)| (c.name.clone(), side(&r.outcome, c)))
            .collect::<BTreeMap<String, RenderSide>>()
    };
    // The base side takes the projects in reverse order: a project that is the same in both
    // checkouts is then rendered by one side and found in the shared cache by the other,
    // rather than rendered by both at the same time.
    let base_configs: Vec<ProjectConfig> = base_configs.into_iter().rev().collect();
    let (mut head_by_name, mut base_by_name) = std::thread::scope(|scope| {
        let base_thread = base_engine
            .as_ref()
            .filter(|_| at_once)
            .map(|engine| scope.spawn(|| render_side(engine, &base_configs)));
        let head = render_side(&head_engine, &head_configs);
        let base = match (base_thread, &base_engine) {
            (Some(h), _) => h
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            (None, Some(engine)) => render_side(engine, &base_configs),
            (None, None) => BTreeMap::new(),
        };
        (head, base)
    });
    progress.say("rendered");

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

    read_live(
        &request.live,
        &request.repo,
        &head_layers,
        &mut projects,
        &progress,
    )
    .await;

    Ok(Gathered {
        projects,
        unmatched: discovery.unmatched,
        has_base: request.base.is_some(),
    })
}

fn head_tree_has(tree: &DiskTree, config: &ProjectConfig) -> bool {
    use thule_core::repo::RepoTree;
    tree.is_file(&config.file)
}

/// A render outcome as a plan side, with namespaces resolved.
fn side(outcome: &RenderOutcome, config: &ProjectConfig) -> RenderSide {
    match outcome {
        RenderOutcome::Rendered(out) => RenderSide::Rendered {
            objects: prepare(&out.objects, config),
            tool: out.meta.tool.to_string(),
            notes: out.notes.iter().map(ToString::to_string).collect(),
        },
        RenderOutcome::Failed(f) => RenderSide::Failed(f.reason()),
    }
}

/// Resolve namespaces (explicit, else the project's namespace, else `default`; cluster-scoped
/// kinds get none), so live reads and the diff agree on identity (spec §2.1). The applier's
/// ownership labels are added by the diff engine (`DiffOptions::inject_labels`).
pub fn prepare(objects: &[Manifest], config: &ProjectConfig) -> Vec<Manifest> {
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

fn rendered(side: &RenderSide) -> &[Manifest] {
    match side {
        RenderSide::Rendered { objects, .. } => objects,
        _ => &[],
    }
}

async fn read_live(
    source: &LiveSource,
    repo: &std::path::Path,
    layers: &ConfigLayers,
    projects: &mut [ProjectInputs],
    progress: &Progress,
) {
    if matches!(source, LiveSource::None) {
        return;
    }
    let clusters = layers.clusters();
    let mut readers: BTreeMap<String, Result<Box<dyn ClusterReader>, String>> = BTreeMap::new();
    let mut lists: BTreeMap<String, Lists> = BTreeMap::new();
    for p in projects.iter_mut() {
        let Some(cluster) = p.config.cluster_ref.clone() else {
            continue;
        };
        if !readers.contains_key(&cluster) {
            progress.say(&format!("reading cluster {cluster}"));
            let reader = open_reader(source, repo, &cluster, clusters.get(&cluster)).await;
            readers.insert(cluster.clone(), reader);
        }
        let reader = match &readers[&cluster] {
            Ok(r) => r,
            Err(e) => {
                p.live = LiveState::Failed(e.clone());
                continue;
            }
        };
        let lists = lists.entry(cluster).or_default();
        p.live = read_project(reader.as_ref(), p, lists).await;
    }
}

async fn open_reader(
    source: &LiveSource,
    repo: &std::path::Path,
    cluster: &str,
    configured: Option<&ClusterSettings>,
) -> Result<Box<dyn ClusterReader>, String> {
    let mut settings = configured.cloned().unwrap_or_default();
    match source {
        LiveSource::None => return Err("no live source".to_owned()),
        LiveSource::Snapshots { by_cluster, root } => {
            let path = by_cluster.get(cluster).cloned().or_else(|| {
                root.as_ref()
                    .map(|r| r.join(cluster))
                    .filter(|p| p.exists())
            });
            let Some(path) = path else {
                return Err(format!(
                    "no snapshot for cluster `{cluster}`: pass --live {cluster}=PATH or a --live directory with a `{cluster}/` subdirectory"
                ));
            };
            // Loaded here rather than through the cluster settings, so the plan names the path
            // as the user gave it (deterministic across machines).
            return thule_kube::SnapshotReader::load(&path)
                .map(|r| Box::new(r) as Box<dyn ClusterReader>)
                .map_err(|e| format!("cluster `{cluster}`: {e}"));
        }
        LiveSource::Clusters {
            kubeconfig,
            contexts,
        } => {
            settings.snapshot = None;
            if let Some(k) = kubeconfig {
                settings.kubeconfig = Some(k.to_string_lossy().into_owned());
            }
            if let Some(c) = contexts.get(cluster) {
                settings.context = Some(c.clone());
            }
        }
    }
    reader_for_cluster(cluster, &settings, repo, ReaderOptions::default())
        .await
        .map_err(|e| format!("cluster `{cluster}`: {}", thule_render::chain(&e)))
}

async fn read_project(
    reader: &dyn ClusterReader,
    p: &ProjectInputs,
    lists: &mut Lists,
) -> LiveState {
    let mut refs: BTreeMap<ObjectKey, ObjectRef> = BTreeMap::new();
    for m in rendered(&p.base).iter().chain(rendered(&p.head)) {
        refs.insert(
            m.key.clone(),
            ObjectRef {
                api_version: m.api_version.clone(),
                key: m.key.clone(),
            },
        );
    }
    let refs: Vec<ObjectRef> = refs.into_values().collect();
    let mut outcomes = match reader.read(&refs).await {
        Ok(o) => o,
        Err(e) => return LiveState::Failed(e.to_string()),
    };
    // Objects the project owns by label that neither render has (§7.2: the applier's
    // record of what it applied, beyond the base render).
    let mut owned_extra = Vec::new();
    if p.config.diff.prune && !p.config.diff.owner_labels.is_empty() {
        let ownership = Ownership {
            labels: p.config.diff.owner_labels.clone(),
        };
        let kinds: BTreeSet<(String, String)> = rendered(&p.base)
            .iter()
            .chain(rendered(&p.head))
            .map(|m| (m.api_version.clone(), m.key.kind.clone()))
            .collect();
        let kinds: Vec<(String, String)> = kinds.into_iter().collect();
        let desired: BTreeSet<ObjectKey> =
            rendered(&p.head).iter().map(|m| m.key.clone()).collect();
        let base: Vec<ObjectRef> = rendered(&p.base)
            .iter()
            .map(|m| ObjectRef {
                api_version: m.api_version.clone(),
                key: m.key.clone(),
            })
            .collect();
        match thule_kube::find_deletion_candidates(
            reader, &base, &desired, &ownership, &kinds, None,
        )
        .await
        {
            Ok(report) => {
                owned_extra = report
                    .candidates
                    .into_iter()
                    .filter(|c| c.sources.ownership_labels && !c.sources.base_render)
                    .map(|c| ObjectRef {
                        api_version: c.api_version,
                        key: c.key,
                    })
                    .collect();
            }
            Err(e) => return LiveState::Failed(e.to_string()),
        }
        if !owned_extra.is_empty() {
            match reader.read(&owned_extra).await {
                Ok(extra) => outcomes.extend(extra),
                Err(e) => return LiveState::Failed(e.to_string()),
            }
        }
    }
    let facts = Box::new(live_facts(reader, p, &outcomes, &owned_extra, lists).await);
    LiveState::Read {
        source: reader.describe(),
        outcomes,
        owned_extra,
        facts,
    }
}

/// The lists already made on one cluster during this plan: projects that share a namespace
/// list its kinds once.
#[derive(Default)]
struct Lists(BTreeMap<OwnedQuery, Vec<Value>>);

impl Lists {
    /// All objects of a kind (in a namespace, or cluster-wide); empty when forbidden, not
    /// served or failing: facts are best-effort, and a missing fact only weakens a risk
    /// message.
    async fn all(
        &mut self,
        reader: &dyn ClusterReader,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> &[Value] {
        let query = OwnedQuery {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            namespace: namespace.map(str::to_owned),
            labels: BTreeMap::new(),
        };
        if !self.0.contains_key(&query) {
            let objects = match reader.list_owned(&query).await {
                Ok(OwnedList::Listed(objects)) => objects,
                _ => Vec::new(),
            };
            self.0.insert(query.clone(), objects);
        }
        &self.0[&query]
    }
}

/// Kinds counted inside a Namespace that a plan deletes (Secrets are never listed).
const NAMESPACE_KINDS: &[(&str, &str)] = &[
    ("v1", "ConfigMap"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "Pod"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("batch/v1", "CronJob"),
    ("batch/v1", "Job"),
];

/// Workload kinds other objects may refer to (consumers, selectors, autoscaler targets).
const RELATED_KINDS: &[(&str, &str)] = &[
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
];

/// Read-only facts the risk pass uses (spec §5.3): how many custom resources a deleted CRD
/// takes with it, what a deleted Namespace holds, the reclaim policy behind a claim, and the
/// live workloads of the affected namespaces that the renders do not contain.
async fn live_facts(
    reader: &dyn ClusterReader,
    p: &ProjectInputs,
    outcomes: &BTreeMap<ObjectKey, LiveOutcome>,
    owned_extra: &[ObjectRef],
    lists: &mut Lists,
) -> LiveFacts {
    let mut facts = LiveFacts::default();
    let head: BTreeSet<&ObjectKey> = rendered(&p.head).iter().map(|m| &m.key).collect();
    let base_keys: BTreeSet<&ObjectKey> = rendered(&p.base).iter().map(|m| &m.key).collect();
    let removed = base_keys
        .iter()
        .copied()
        .chain(owned_extra.iter().map(|r| &r.key))
        .filter(|k| !head.contains(k));
    for key in removed {
        let Some(LiveOutcome::Found(live)) = outcomes.get(key) else {
            continue;
        };
        if key.kind == "CustomResourceDefinition" {
            let group = live.pointer("/spec/group").and_then(Value::as_str);
            let kind = live.pointer("/spec/names/kind").and_then(Value::as_str);
            let version = live
                .pointer("/spec/versions")
                .and_then(Value::as_array)
                .and_then(|vs| {
                    vs.iter()
                        .find(|v| v["storage"] == true)
                        .and_then(|v| v["name"].as_str())
                });
            if let (Some(g), Some(k), Some(v)) = (group, kind, version) {
                let n = lists.all(reader, &format!("{g}/{v}"), k, None).await.len();
                facts.crd_instances.insert(key.clone(), n as u64);
            }
        } else if key.kind == "Namespace" && key.group.is_empty() {
            let mut counts = BTreeMap::new();
            for (api_version, kind) in NAMESPACE_KINDS {
                let n = lists
                    .all(reader, api_version, kind, Some(&key.name))
                    .await
                    .len();
                if n > 0 {
                    counts.insert((*kind).to_owned(), n as u64);
                }
            }
            facts.namespace_contents.insert(key.clone(), counts);
        }
    }
    // The volume behind every claim the plan touches, read in one request.
    let claims: Vec<(&ObjectKey, ObjectRef)> = outcomes
        .iter()
        .filter(|(key, _)| key.kind == "PersistentVolumeClaim" && key.group.is_empty())
        .filter_map(|(key, outcome)| match outcome {
            LiveOutcome::Found(claim) => claim
                .pointer("/spec/volumeName")
                .and_then(Value::as_str)
                .map(|volume| (key, volume)),
            _ => None,
        })
        .map(|(key, volume)| {
            let pv = ObjectRef {
                api_version: "v1".to_owned(),
                key: ObjectKey::from_api_version("v1", "PersistentVolume", "", volume),
            };
            (key, pv)
        })
        .collect();
    if !claims.is_empty() {
        let pvs: Vec<ObjectRef> = claims.iter().map(|(_, pv)| pv.clone()).collect();
        if let Ok(read) = reader.read(&pvs).await {
            for (key, pv) in &claims {
                if let Some(LiveOutcome::Found(v)) = read.get(&pv.key)
                    && let Some(policy) = v
                        .pointer("/spec/persistentVolumeReclaimPolicy")
                        .and_then(Value::as_str)
                {
                    facts
                        .pv_reclaim_policy
                        .insert((*key).clone(), policy.to_owned());
                }
            }
        }
    }
    // Live workloads of the affected namespaces that neither render has.
    let namespaces: BTreeSet<&str> = head
        .iter()
        .chain(base_keys.iter())
        .map(|k| k.namespace.as_str())
        .filter(|n| !n.is_empty())
        .collect();
    for ns in namespaces {
        for (api_version, kind) in RELATED_KINDS {
            for obj in lists.all(reader, api_version, kind, Some(ns)).await {
                let Some(name) = obj.pointer("/metadata/name").and_then(Value::as_str) else {
                    continue;
                };
                let key = ObjectKey::from_api_version(api_version, kind, ns, name);
                if !head.contains(&key) && !base_keys.contains(&key) {
                    facts.related.push(obj.clone());
                }
            }
        }
    }
    facts
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use thule_core::cluster::ReadError;

    use super::*;

    /// The example's snapshot reader, counting the lists it is asked for.
    struct Counting {
        inner: thule_kube::SnapshotReader,
        lists: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl ClusterReader for Counting {
        fn describe(&self) -> String {
            self.inner.describe()
        }

        async fn read(
            &self,
            objects: &[ObjectRef],
        ) -> Result<BTreeMap<ObjectKey, LiveOutcome>, ReadError> {
            self.inner.read(objects).await
        }

        async fn list_owned(&self, query: &OwnedQuery) -> Result<OwnedList, ReadError> {
            self.lists.fetch_add(1, Ordering::SeqCst);
            self.inner.list_owned(query).await
        }
    }

    /// Projects of one cluster that share a namespace list its kinds once.
    #[test]
    fn a_namespace_kind_is_listed_once_per_cluster() {
        let snapshot = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/snapshots/prod/shop.yaml");
        let reader = Counting {
            inner: thule_kube::SnapshotReader::load(&snapshot).expect("example snapshot"),
            lists: AtomicUsize::new(0),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let mut lists = Lists::default();
            let first = lists
                .all(&reader, "apps/v1", "Deployment", Some("shop"))
                .await
                .to_vec();
            assert!(!first.is_empty(), "the snapshot holds Deployments in shop");
            let again = lists
                .all(&reader, "apps/v1", "Deployment", Some("shop"))
                .await
                .to_vec();
            assert_eq!(first, again);
            assert_eq!(reader.lists.load(Ordering::SeqCst), 1);
            lists
                .all(&reader, "apps/v1", "Deployment", Some("other"))
                .await;
            assert_eq!(reader.lists.load(Ordering::SeqCst), 2);
        });
    }
}
