//! Project discovery: from "these paths changed" to "these projects must be planned, and why".
//!
//! [`discover`] is a pure function over a [`RepoTree`]. A project (a directory holding a
//! `thule.yaml`) is impacted when a changed path (old or new side of a rename, deleted files
//! included) is:
//! - its `thule.yaml`, or anything under its directory;
//! - under its render path, if that lies outside the project directory;
//! - anything its kustomization refers to, transitively: `resources`, `bases`, `components`,
//!   `patches`, `patchesStrategicMerge`, `patchesJson6902`, generator `files`/`envs`/`env`,
//!   `crds`, `configurations`, `replacements`, `transformers`/`generators`/`validators` files,
//!   and `helmCharts` values files, so a change to a shared `base/` plans every overlay that
//!   uses it;
//! - its local Helm chart directory or one of its values files;
//! - matched by one of its `whenModified` globs;
//! - the repo config `.thule/config.yaml` (every project).
//!
//! Broken configuration is never "nothing to plan": any invalid project file makes the result
//! an error listing every problem found.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::config::{
    ConfigError, ConfigLayers, MrOverride, PROJECT_FILE, ProjectConfig, REPO_FILE, RenderMode,
    apply_overrides, parse_project_file, resolve_project,
};
use crate::repo::{RepoTree, join_in_repo, slash};
use crate::yaml::{self, ParseOptions};

/// A changed path of the merge request. A rename has the old path in `previous`; a deleted
/// file is simply a path that is no longer in the tree.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChangedFile {
    /// The path (repo-relative, `/`-separated).
    pub path: PathBuf,
    /// The path before a rename.
    pub previous: Option<PathBuf>,
}

impl ChangedFile {
    /// A changed (added, modified or deleted) path.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            previous: None,
        }
    }

    /// A renamed path.
    pub fn renamed(from: impl Into<PathBuf>, to: impl Into<PathBuf>) -> Self {
        Self {
            path: to.into(),
            previous: Some(from.into()),
        }
    }
}

/// Why a changed path impacts a project.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Why {
    /// The project's own `thule.yaml` changed.
    ProjectFile,
    /// The path is under the project directory.
    InProjectDir,
    /// The path is under the project's render path (outside the project directory).
    RenderPath,
    /// The repo config changed; it applies to every project.
    RepoConfig,
    /// A kustomization the project builds refers to the path.
    Kustomize {
        /// The kustomization file that holds the reference.
        kustomization: PathBuf,
    },
    /// The path is in the project's local Helm chart.
    HelmChart,
    /// The path is one of the project's Helm values files.
    HelmValues,
    /// A `whenModified` glob matches the path.
    WhenModified {
        /// The glob (repo-relative).
        glob: String,
    },
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::ProjectFile => f.write_str("project file changed"),
            Why::InProjectDir => f.write_str("under the project directory"),
            Why::RenderPath => f.write_str("under the render path"),
            Why::RepoConfig => write!(f, "{REPO_FILE} changed"),
            Why::Kustomize { kustomization } => {
                write!(f, "referenced by {}", slash(kustomization))
            }
            Why::HelmChart => f.write_str("in the Helm chart"),
            Why::HelmValues => f.write_str("Helm values file"),
            Why::WhenModified { glob } => write!(f, "matches whenModified `{glob}`"),
        }
    }
}

/// One reason a project is planned.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reason {
    /// The changed path.
    pub changed: PathBuf,
    /// Why it matters to the project.
    pub why: Why,
}

/// A project to plan, with every reason it was picked (sorted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImpactedProject {
    /// The resolved project.
    pub config: ProjectConfig,
    /// Why, sorted by path then reason.
    pub reasons: Vec<Reason>,
}

/// The result of discovery.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Impacted projects, sorted by name.
    pub projects: Vec<ImpactedProject>,
    /// Project files deleted by the change: these projects no longer render at the head and
    /// their objects are deletion candidates.
    pub removed_projects: Vec<PathBuf>,
    /// Changed paths that no project watches (shown in the plan, so nothing is dropped
    /// silently).
    pub unmatched: Vec<PathBuf>,
}

/// Discovery could not run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// One or more configuration files are invalid.
    #[error("{}", render_errors(.0))]
    Config(Vec<ConfigError>),
}

fn render_errors(errors: &[ConfigError]) -> String {
    let mut s = format!("{} configuration error(s):", errors.len());
    for e in errors {
        s.push_str("\n  ");
        s.push_str(&e.to_string());
    }
    s
}

/// Load and resolve every project of the tree (used by discovery and `thule validate`).
///
/// # Errors
/// Every invalid project file, and duplicate project names.
pub fn load_projects(
    tree: &dyn RepoTree,
    layers: &ConfigLayers,
    overrides: &[MrOverride],
) -> Result<Vec<ProjectConfig>, DiscoveryError> {
    let globs = build_globs(&layers.project_globs());
    let mut errors = Vec::new();
    let mut projects: Vec<ProjectConfig> = Vec::new();
    let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
    // MR overrides are the same for every project: check them once (allow-list and types,
    // against the merged defaults), and on refusal plan without them, so that the refusal is
    // reported once rather than by every project.
    let overrides = match apply_overrides(layers.defaults(), overrides, &layers.allowed_overrides())
    {
        Ok(_) => overrides,
        Err(e) => {
            errors.push(e);
            &[]
        }
    };
    for file in tree.files() {
        if file.file_name().and_then(|n| n.to_str()) != Some(PROJECT_FILE) {
            continue;
        }
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Some(g) = &globs
            && !g.is_match(slash(&dir))
        {
            continue;
        }
        let label = slash(&file);
        let bytes = match tree.read(&file) {
            Ok(b) => b,
            Err(e) => {
                errors.push(ConfigError {
                    file: label,
                    line: 0,
                    column: 0,
                    message: format!("cannot read: {e}"),
                    hint: None,
                });
                continue;
            }
        };
        let loaded = match parse_project_file(&bytes, &label) {
            Ok(l) => l,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        match resolve_project(layers, &loaded, &file, tree, overrides) {
            Ok(p) => {
                if let Some(first) = names.get(&p.name) {
                    let mut e = loaded.error_at(
                        "/project",
                        format!(
                            "project name `{}` is already used by {}",
                            p.name,
                            slash(first)
                        ),
                    );
                    e.hint = Some("project names must be unique in the repository".to_owned());
                    errors.push(e);
                } else {
                    names.insert(p.name.clone(), file.clone());
                    projects.push(p);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        projects.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(projects)
    } else {
        Err(DiscoveryError::Config(errors))
    }
}

fn build_globs(globs: &[String]) -> Option<globset::GlobSet> {
    if globs.is_empty() {
        return None;
    }
    let mut b = globset::GlobSetBuilder::new();
    for g in globs {
        if let Ok(glob) = globset::GlobBuilder::new(g).literal_separator(true).build() {
            b.add(glob);
        }
    }
    b.build().ok()
}

/// What one project watches.
#[derive(Debug, Default)]
struct Watch {
    files: Vec<(PathBuf, Why)>,
    dirs: Vec<(PathBuf, Why)>,
    globs: Vec<(globset::GlobMatcher, String)>,
}

impl Watch {
    fn reasons_for(&self, path: &Path) -> Vec<Why> {
        let mut out = Vec::new();
        for (f, why) in &self.files {
            if f == path {
                out.push(why.clone());
            }
        }
        for (d, why) in &self.dirs {
            if path.starts_with(d) {
                out.push(why.clone());
            }
        }
        let s = slash(path);
        for (g, text) in &self.globs {
            if g.is_match(&s) {
                out.push(Why::WhenModified { glob: text.clone() });
            }
        }
        out
    }
}

fn watch_of(project: &ProjectConfig, tree: &dyn RepoTree) -> Watch {
    let mut w = Watch::default();
    w.files.push((project.file.clone(), Why::ProjectFile));
    w.dirs.push((project.dir.clone(), Why::InProjectDir));
    let render = &project.render;
    if !render.path.starts_with(&project.dir) {
        w.dirs.push((render.path.clone(), Why::RenderPath));
    }
    match render.mode {
        RenderMode::Kustomize => {
            let mut seen = BTreeSet::new();
            kustomize_refs(tree, &render.path, &mut w, &mut seen);
        }
        RenderMode::Helm => {
            w.dirs.push((render.helm.chart.clone(), Why::HelmChart));
            for v in &render.helm.values_files {
                w.files.push((v.clone(), Why::HelmValues));
            }
        }
        RenderMode::Yaml | RenderMode::Flux => {}
    }
    for g in &project.when_modified {
        if let Ok(glob) = globset::GlobBuilder::new(g).literal_separator(true).build() {
            w.globs.push((glob.compile_matcher(), g.clone()));
        }
    }
    w
}

const KUSTOMIZATION_NAMES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

fn is_remote(reference: &str) -> bool {
    reference.contains("://")
        || reference.starts_with("github.com/")
        || reference.starts_with("git@")
        || reference.starts_with("gitlab.com/")
        || reference.starts_with("bitbucket.org/")
}

/// Collect what the kustomization in `dir` refers to, transitively.
fn kustomize_refs(tree: &dyn RepoTree, dir: &Path, w: &mut Watch, seen: &mut BTreeSet<PathBuf>) {
    if !seen.insert(dir.to_path_buf()) {
        return;
    }
    let Some(file) = KUSTOMIZATION_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| tree.is_file(p))
    else {
        return;
    };
    let Ok(bytes) = tree.read(&file) else { return };
    let Ok(docs) = yaml::parse_stream(&bytes, &slash(&file), &ParseOptions::default()) else {
        // An unreadable kustomization fails at render time with its own error; here the whole
        // directory stays watched (it is, as the project's render path or as a referenced dir).
        return;
    };
    let Some(k) = docs.into_iter().map(|d| d.value).find(Value::is_object) else {
        return;
    };
    let mut refs: Vec<String> = Vec::new();
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    for field in [
        "resources",
        "bases",
        "components",
        "crds",
        "configurations",
        "generators",
        "transformers",
        "validators",
    ] {
        refs.extend(strings(k.get(field)));
    }
    // Inline patches hold YAML (with newlines); paths do not.
    refs.extend(
        strings(k.get("patchesStrategicMerge"))
            .into_iter()
            .filter(|s| !s.contains('\n')),
    );
    for field in ["patches", "patchesJson6902", "replacements"] {
        if let Some(items) = k.get(field).and_then(Value::as_array) {
            for item in items {
                if let Some(p) = item.get("path").and_then(Value::as_str) {
                    refs.push(p.to_owned());
                }
            }
        }
    }
    for field in ["configMapGenerator", "secretGenerator"] {
        if let Some(items) = k.get(field).and_then(Value::as_array) {
            for item in items {
                for f in strings(item.get("files")) {
                    // `key=path` or `path`
                    refs.push(f.split_once('=').map_or(f.clone(), |(_, p)| p.to_owned()));
                }
                refs.extend(strings(item.get("envs")));
                if let Some(e) = item.get("env").and_then(Value::as_str) {
                    refs.push(e.to_owned());
                }
            }
        }
    }
    if let Some(p) = k.pointer("/openapi/path").and_then(Value::as_str) {
        refs.push(p.to_owned());
    }
    if let Some(charts) = k.get("helmCharts").and_then(Value::as_array) {
        let home = k
            .pointer("/helmGlobals/chartHome")
            .and_then(Value::as_str)
            .unwrap_or("charts");
        refs.push(home.to_owned());
        for c in charts {
            if let Some(v) = c.get("valuesFile").and_then(Value::as_str) {
                refs.push(v.to_owned());
            }
            refs.extend(strings(c.get("additionalValuesFiles")));
        }
    }
    for r in refs {
        if is_remote(&r) {
            continue;
        }
        let Ok(target) = join_in_repo(dir, &r) else {
            continue;
        };
        let why = Why::Kustomize {
            kustomization: file.clone(),
        };
        if tree.is_dir(&target) && !tree.is_file(&target) {
            w.dirs.push((target.clone(), why));
            kustomize_refs(tree, &target, w, seen);
        } else {
            w.files.push((target, why));
        }
    }
}

/// Find the projects a change impacts, each with its reasons.
///
/// # Errors
/// When any configuration file is invalid (the repo file or any project file): the errors are
/// the result, never an empty plan.
pub fn discover(
    tree: &dyn RepoTree,
    layers: &ConfigLayers,
    changed: &[ChangedFile],
    overrides: &[MrOverride],
) -> Result<Discovery, DiscoveryError> {
    let projects = load_projects(tree, layers, overrides)?;
    let watches: Vec<Watch> = projects.iter().map(|p| watch_of(p, tree)).collect();

    let mut paths: BTreeSet<PathBuf> = BTreeSet::new();
    for c in changed {
        paths.insert(c.path.clone());
        if let Some(p) = &c.previous {
            paths.insert(p.clone());
        }
    }

    let mut reasons: Vec<BTreeSet<Reason>> = vec![BTreeSet::new(); projects.len()];
    let mut removed = Vec::new();
    let mut unmatched = Vec::new();
    for path in &paths {
        let mut matched = false;
        if path == Path::new(REPO_FILE) {
            for r in &mut reasons {
                r.insert(Reason {
                    changed: path.clone(),
                    why: Why::RepoConfig,
                });
            }
            matched = true;
        }
        for (i, w) in watches.iter().enumerate() {
            for why in w.reasons_for(path) {
                reasons[i].insert(Reason {
                    changed: path.clone(),
                    why,
                });
                matched = true;
            }
        }
        if path.file_name().and_then(|n| n.to_str()) == Some(PROJECT_FILE) && !tree.is_file(path) {
            removed.push(path.clone());
            matched = true;
        }
        if !matched {
            unmatched.push(path.clone());
        }
    }

    let projects = projects
        .into_iter()
        .zip(reasons)
        .filter(|(_, r)| !r.is_empty())
        .map(|(config, r)| ImpactedProject {
            config,
            reasons: r.into_iter().collect(),
        })
        .collect();
    Ok(Discovery {
        projects,
        removed_projects: removed,
        unmatched,
    })
}
