//! Resolved configuration: every layer merged, defaults filled in, paths checked.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::model::{Applier, IgnoreRule, RenderMode, RuleOverride};

/// A fully resolved project, ready to render and diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectConfig {
    /// Project name (unique in the repository).
    pub name: String,
    /// Project directory, relative to the repository root (`""` for the root).
    pub dir: PathBuf,
    /// The `thule.yaml` path, relative to the repository root.
    pub file: PathBuf,
    /// Cluster reference, if any (intent-only plans have none).
    pub cluster_ref: Option<String>,
    /// Default namespace for namespaced objects without one.
    pub namespace: Option<String>,
    /// Rendering.
    pub render: RenderConfig,
    /// Diffing.
    pub diff: DiffConfig,
    /// Policy.
    pub policy: PolicyConfig,
    /// MR comment.
    pub comment: CommentConfig,
    /// Extra globs (repo-relative, normalized) whose changes plan this project.
    pub when_modified: Vec<String>,
}

/// Resolved rendering options. Paths are relative to the repository root and stay inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderConfig {
    /// Render mode.
    pub mode: RenderMode,
    /// Directory to render (repo-relative).
    pub path: PathBuf,
    /// `--kube-version` for Helm.
    pub kube_version: Option<String>,
    /// `--api-versions` for Helm.
    pub api_versions: Vec<String>,
    /// Helm options (meaningful for `helm` mode).
    pub helm: HelmConfig,
    /// Let kustomize inflate Helm charts.
    pub kustomize_enable_helm: bool,
}

/// Resolved Helm options. Paths are repo-relative.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelmConfig {
    /// Release name.
    pub release_name: String,
    /// Local chart directory (repo-relative).
    pub chart: PathBuf,
    /// Values files in order (repo-relative).
    pub values_files: Vec<PathBuf>,
    /// `--set` values in key order.
    pub set: BTreeMap<String, String>,
    /// `--include-crds`.
    pub include_crds: bool,
}

/// Resolved diff options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffConfig {
    /// Whether the applier prunes.
    pub prune: bool,
    /// The applier, when configured; `None`: inferred per object from live state.
    pub applier: Option<Applier>,
    /// Ignored field paths.
    pub ignore_fields: Vec<String>,
    /// Scoped ignore rules.
    pub ignore: Vec<IgnoreRule>,
    /// The applier's ownership labels for this project (empty when not configured).
    pub owner_labels: BTreeMap<String, String>,
}

/// Resolved policy options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyConfig {
    /// Profile name.
    pub profile: String,
    /// Rule overrides by id.
    pub rules: BTreeMap<String, RuleOverride>,
}

/// Resolved comment options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommentConfig {
    /// Most resources shown with details.
    pub max_resource_details: u32,
    /// Expand drift changes.
    pub expand_drift: bool,
    /// The lowest risk severity that fails the commit status.
    pub status_on: super::model::StatusOn,
}
