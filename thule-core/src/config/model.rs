//! The typed configuration model: what users write in `thule.yaml`, `.thule/config.yaml` and
//! the org defaults file.
//!
//! Every layer has the same [`Settings`] shape with all fields optional, so layers merge
//! field by field (org defaults < repo config < project file < MR overrides); [`ProjectConfig`]
//! is the resolved result with defaults filled in.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The only configuration version this release reads.
pub const CONFIG_VERSION: &str = "v1";

/// How a project's manifests are produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RenderMode {
    /// Plain YAML files under `path` (multi-document, `List` kinds allowed).
    #[default]
    Yaml,
    /// `kustomize build` of `path`.
    Kustomize,
    /// `helm template` of the chart at `path` (or `helm.chart`).
    Helm,
    /// Flux `Kustomization` / `HelmRelease` objects under `path`, expanded into their sources.
    Flux,
}

/// How the GitOps applier writes objects; decides which fields an apply removes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Applier {
    /// Flux kustomize-controller: server-side apply, manager `kustomize-controller`.
    #[default]
    Flux,
    /// Argo CD default: client-side apply with last-applied-configuration.
    Argocd,
    /// Argo CD with `ServerSideApply=true`.
    ArgocdSsa,
    /// Helm 3 / helm-controller: client-side three-way merge against the previous release.
    Helm,
    /// Helm 4 with server-side apply.
    HelmSsa,
    /// Plain `kubectl apply` (client-side).
    Kubectl,
    /// `kubectl apply --server-side`, manager `kubectl`.
    KubectlSsa,
}

/// Helm options (render mode `helm`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HelmSettings {
    /// Release name passed to `helm template` (default: the project name).
    pub release_name: Option<String>,
    /// Local chart directory relative to the project (default: `render.path`).
    pub chart: Option<String>,
    /// Values files relative to the project, applied in order.
    pub values_files: Option<Vec<String>>,
    /// `--set` values, `key: value` (applied in key order after the values files).
    pub set: Option<BTreeMap<String, String>>,
    /// Render the chart's CRDs too (`--include-crds`).
    pub include_crds: Option<bool>,
}

/// Kustomize options (render mode `kustomize`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KustomizeSettings {
    /// Let kustomize inflate `helmCharts` (`--enable-helm`); off by default.
    pub enable_helm: Option<bool>,
}

/// How to render the project.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RenderSettings {
    /// `yaml`, `kustomize`, `helm` or `flux`.
    pub mode: Option<RenderMode>,
    /// Directory to render, relative to the project directory (default `.`).
    pub path: Option<String>,
    /// Kubernetes version to render for (`--kube-version`).
    pub kube_version: Option<String>,
    /// Extra API versions the target cluster serves (`--api-versions`).
    pub api_versions: Option<Vec<String>>,
    /// Helm options.
    pub helm: Option<HelmSettings>,
    /// Kustomize options.
    pub kustomize: Option<KustomizeSettings>,
}

/// A rule that removes fields from comparison.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IgnoreRule {
    /// Only objects of this group (glob); all when absent.
    pub group: Option<String>,
    /// Only objects of this kind (glob); all when absent.
    pub kind: Option<String>,
    /// Only objects with this name (glob).
    pub name: Option<String>,
    /// Only objects in this namespace (glob).
    pub namespace: Option<String>,
    /// RFC 6901 JSON pointers to ignore, e.g. `/spec/replicas`.
    #[serde(default)]
    pub json_pointers: Vec<String>,
    /// Ignore every field owned by one of these field managers in the live object.
    #[serde(default)]
    pub managed_fields_managers: Vec<String>,
}

/// Diff options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DiffSettings {
    /// Whether the applier prunes objects removed from git (default `true` for Flux).
    pub prune: Option<bool>,
    /// Which applier reconciles this project (decides removal semantics). Unset: thule
    /// infers it per object from the live object's managedFields and annotations (Flux
    /// when there is no live object or no evidence).
    pub applier: Option<Applier>,
    /// Field paths to ignore, in thule's path syntax
    /// (`metadata.annotations["example.com/x"]`, `spec.replicas`).
    pub ignore_fields: Option<Vec<String>>,
    /// Scoped ignore rules.
    pub ignore: Option<Vec<IgnoreRule>>,
    /// Labels the applier puts on every object of this project, e.g. Flux's
    /// `kustomize.toolkit.fluxcd.io/name` and `/namespace`, or Argo CD's
    /// `app.kubernetes.io/instance`. thule adds them to rendered objects before diffing (so
    /// they are not reported as changes) and lists live objects carrying them to find
    /// deletions.
    pub owner_labels: Option<BTreeMap<String, String>>,
}

/// Severity override for one risk rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuleOverride {
    /// `info`, `low`, `medium`, `high`, `critical` or `blocker`.
    pub severity: Option<String>,
    /// `false` switches the rule off (listed in the plan as switched off).
    pub enabled: Option<bool>,
}

/// Policy options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicySettings {
    /// Named policy profile (default `baseline`).
    pub profile: Option<String>,
    /// Per-rule overrides keyed by rule id (`RESTART_ROLLOUT`, …).
    pub rules: Option<BTreeMap<String, RuleOverride>>,
}

/// MR comment options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CommentSettings {
    /// Most resources shown with full details (the rest are listed by name).
    pub max_resource_details: Option<u32>,
    /// Show drift changes expanded instead of folded.
    pub expand_drift: Option<bool>,
    /// The lowest risk severity that turns the commit status to failure (default `blocker`;
    /// `never`: a planned MR is always a success). A denying policy always fails it.
    pub status_on: Option<StatusOn>,
}

/// When the commit status fails (`comment.statusOn`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum StatusOn {
    /// Any risk.
    Info,
    /// A low risk or worse.
    Low,
    /// A medium risk or worse.
    Medium,
    /// A high risk or worse.
    High,
    /// A critical risk or worse.
    Critical,
    /// A blocker only.
    #[default]
    Blocker,
    /// Never (only a denying policy or a failed project change the status).
    Never,
}

/// Settings shared by every layer. All fields are optional; see [`ProjectConfig`] for defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Settings {
    /// Cluster reference (a key of `clusters` in the repo config).
    pub cluster_ref: Option<String>,
    /// Default namespace for namespaced objects without one.
    pub namespace: Option<String>,
    /// Rendering.
    pub render: Option<RenderSettings>,
    /// Diffing.
    pub diff: Option<DiffSettings>,
    /// Policy.
    pub policy: Option<PolicySettings>,
    /// MR comment.
    pub comment: Option<CommentSettings>,
}

/// The project file, `thule.yaml`, in the project's directory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProjectFile {
    /// Configuration version, `v1`.
    pub version: String,
    /// Project name, unique in the repository (default: the directory path).
    pub project: Option<String>,
    /// Extra globs (relative to the project directory) whose changes plan this project.
    pub when_modified: Option<Vec<String>>,
    /// Cluster reference (a key of `clusters` in the repo config).
    pub cluster_ref: Option<String>,
    /// Default namespace for namespaced objects without one.
    pub namespace: Option<String>,
    /// Rendering.
    pub render: Option<RenderSettings>,
    /// Diffing.
    pub diff: Option<DiffSettings>,
    /// Policy.
    pub policy: Option<PolicySettings>,
    /// MR comment.
    pub comment: Option<CommentSettings>,
}

impl ProjectFile {
    /// The layerable settings of this file.
    pub fn settings(&self) -> Settings {
        Settings {
            cluster_ref: self.cluster_ref.clone(),
            namespace: self.namespace.clone(),
            render: self.render.clone(),
            diff: self.diff.clone(),
            policy: self.policy.clone(),
            comment: self.comment.clone(),
        }
    }
}

/// Field-by-field layering: values set in `over` win; nested sections merge recursively;
/// lists and maps are replaced wholesale (a layer that sets `valuesFiles` sets all of them).
pub trait Layer {
    /// Merge `over` on top of `self`.
    #[must_use]
    fn layer(self, over: Self) -> Self;
}

fn layer_opt<T: Layer>(under: Option<T>, over: Option<T>) -> Option<T> {
    match (under, over) {
        (Some(u), Some(o)) => Some(u.layer(o)),
        (u, o) => o.or(u),
    }
}

macro_rules! impl_layer {
    ($ty:ty { plain: [$($p:ident),*], nested: [$($n:ident),*] }) => {
        impl Layer for $ty {
            fn layer(self, over: Self) -> Self {
                Self {
                    $($p: over.$p.or(self.$p),)*
                    $($n: layer_opt(self.$n, over.$n),)*
                }
            }
        }
    };
}

impl_layer!(Settings {
    plain: [cluster_ref, namespace],
    nested: [render, diff, policy, comment]
});
impl_layer!(RenderSettings {
    plain: [mode, path, kube_version, api_versions],
    nested: [helm, kustomize]
});
impl_layer!(HelmSettings {
    plain: [release_name, chart, values_files, set, include_crds],
    nested: []
});
impl_layer!(KustomizeSettings {
    plain: [enable_helm],
    nested: []
});
impl_layer!(DiffSettings {
    plain: [prune, applier, ignore_fields, ignore, owner_labels],
    nested: []
});
impl_layer!(PolicySettings {
    plain: [profile, rules],
    nested: []
});
impl_layer!(CommentSettings {
    plain: [max_resource_details, expand_drift, status_on],
    nested: []
});

/// Where a cluster's live state comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterSettings {
    /// Kubeconfig file (default: `$KUBECONFIG` or `~/.kube/config`).
    pub kubeconfig: Option<String>,
    /// Kubeconfig context.
    pub context: Option<String>,
    /// A snapshot (`kubectl get -o yaml` output, file or directory, relative to the repo root)
    /// used instead of a live cluster.
    pub snapshot: Option<String>,
}

/// What an MR may override through labels or comment flags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MrOverrides {
    /// Dotted setting paths an MR may set, e.g. `diff.prune`, `comment.maxResourceDetails`.
    #[serde(default)]
    pub allow: Vec<String>,
}

/// The repo file `.thule/config.yaml`, and the org/server defaults file (same shape).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RepoFile {
    /// Configuration version, `v1`.
    pub version: String,
    /// Defaults for every project.
    pub defaults: Option<Settings>,
    /// Clusters by reference.
    pub clusters: Option<BTreeMap<String, ClusterSettings>>,
    /// Globs (relative to the repo root) of directories holding projects; default: everywhere.
    pub projects: Option<Vec<String>>,
    /// MR override allow-list.
    pub mr_overrides: Option<MrOverrides>,
}
