//! The pipeline of spec §2.2: per key, normalize `D0`, `D1`, `L`, predict `P`, compare, tag
//! origins, decide the action; then redact and render the per-object views.

use crate::path::At as _;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;
use thule_core::cluster::LiveOutcome;
use thule_core::config::{Applier, IgnoreRule};
use thule_core::object::{builtin_cluster_scoped, canonical_group, group_of};
use thule_core::{Manifest, ObjectKey};

use crate::fields::{FieldSet, Removals, removals};
use crate::mask;
use crate::merge::{
    self, RawChange, RawOp, additions, apply_discriminators, compare, covers, field_names,
    get_path, merge, remove_path, sem_eq, sort_lists,
};
use crate::normalize::{NormalizeContext, Normalized, Side, normalize};
use crate::path::{Path, Seg, display};
use crate::plan::{
    Action, ApplyMode, Change, ChangeOrigin, Detail, ObjectPlan, ObjectState, Op, PLAN_SCHEMA,
    Plan, Summary,
};
use crate::redact::{self, Redactor};
use crate::schema::{self, Kind, ListType};
use crate::yamlout::to_yaml;

/// Options of one diff.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// Which applier reconciles the objects (decides removal semantics, §2.3).
    pub applier: Applier,
    /// Override the applier's field manager name (`kustomize-controller`, …).
    pub field_manager: Option<String>,
    /// Whether the applier prunes objects removed from desired (else they are orphans).
    pub prune: bool,
    /// Ignore rules (JSON pointers and managers), applied to every side before diffing.
    pub ignore: Vec<IgnoreRule>,
    /// Field paths to ignore on every object, in thule's path syntax
    /// (`spec.replicas`, `metadata.annotations["example.com/x"]`, `…containers[name=web].image`).
    pub ignore_paths: Vec<String>,
    /// Namespace for namespaced objects that do not set one; `None` leaves them unresolved
    /// (`""`), which is right when comparing two renders with no cluster.
    pub default_namespace: Option<String>,
    /// Extra cluster-scoped `(group, kind)` pairs (from discovery); CRDs in the inputs and
    /// the built-in table are consulted first.
    pub cluster_scoped: Vec<(String, String)>,
    /// Labels the applier adds to everything it applies (Flux owner labels, …, §3.3).
    pub inject_labels: BTreeMap<String, String>,
    /// Annotations the applier adds to everything it applies (Argo tracking id, Helm release).
    pub inject_annotations: BTreeMap<String, String>,
    /// Labels a live object must carry to count as owned (deletion, §7.2); empty = owned.
    pub owner_labels: BTreeMap<String, String>,
    /// List every object in the plan, including plain no-ops.
    pub include_noop: bool,
    /// Context lines in the text diffs.
    pub context_lines: usize,
    /// Compute the per-object views: `textDiff`, `jsonPatch` and change `pointer`s. The text
    /// renderer prints none of them, so `thule diff --format text` switches them off.
    pub views: bool,
    /// With `views`, also compute each object's `jsonPatch` (the JSON format prints it; the
    /// Markdown comment shows only the text diff, so `thule diff --format markdown` skips it).
    pub patch_view: bool,
    /// Keep [`ObjectPlan::state`] (normalized sides and `P`) for a risk pass; off saves memory
    /// and time when only the rendered plan is needed.
    pub keep_state: bool,
    /// Threads for the per-object passes of large inputs: 0 = one per available core, 1 =
    /// only the calling thread. The plan is the same whatever the count.
    pub threads: usize,
}

impl Default for DiffOptions {
    fn default() -> Self {
        Self {
            applier: Applier::Flux,
            field_manager: None,
            prune: true,
            ignore: Vec::new(),
            ignore_paths: Vec::new(),
            default_namespace: None,
            cluster_scoped: Vec::new(),
            inject_labels: BTreeMap::new(),
            inject_annotations: BTreeMap::new(),
            owner_labels: BTreeMap::new(),
            include_noop: false,
            context_lines: 3,
            views: true,
            patch_view: true,
            keep_state: true,
            threads: 0,
        }
    }
}

/// The inputs of one diff.
#[derive(Clone, Copy, Debug)]
pub struct DiffInput<'a> {
    /// `D0`: the render of the target branch, if any.
    pub base: Option<&'a [Manifest]>,
    /// `D1`: the render of the merge request head.
    pub desired: &'a [Manifest],
    /// `L`: what the cluster said per key. `None` means no cluster (intent diff only); with a
    /// map, keys missing from it count as absent.
    pub live: Option<&'a BTreeMap<ObjectKey, LiveOutcome>>,
    /// Keys the applier's inventory says it applied (deletion candidates beyond `D0`).
    pub inventory: Option<&'a [ObjectKey]>,
    /// Objects the caller matched byte-for-byte between base and desired and did not parse;
    /// counted as no-ops.
    pub identical_skipped: usize,
    /// Options.
    pub options: &'a DiffOptions,
}

/// Why a diff could not run at all (per-object problems are plan entries, not errors).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiffError {
    /// An ignored field path is not in thule's path syntax.
    #[error("ignored field path: {0}")]
    IgnorePath(String),
    /// An ignore rule's JSON pointer is not an RFC 6901 pointer.
    #[error("ignore rule {index}: `{pointer}` is not a JSON pointer (it must start with `/`)")]
    IgnorePointer {
        /// Index of the rule.
        index: usize,
        /// The pointer.
        pointer: String,
    },
}

struct Entry<'a> {
    manifests: Vec<&'a Manifest>,
    cluster_scoped: bool,
}

fn manager_of(opts: &DiffOptions) -> String {
    if let Some(m) = &opts.field_manager {
        return m.clone();
    }
    match opts.applier {
        Applier::Flux => "kustomize-controller",
        Applier::Argocd | Applier::ArgocdSsa => "argocd-controller",
        Applier::Helm => "helm-controller",
        Applier::HelmSsa => "helm",
        Applier::Kubectl => "kubectl-client-side-apply",
    }
    .to_owned()
}

/// Resolve keys: scope from the built-in table, CRDs in the inputs and the options.
struct Scopes {
    crd_cluster: BTreeSet<(String, String)>,
    crd_namespaced: BTreeSet<(String, String)>,
    extra: BTreeSet<(String, String)>,
}

impl Scopes {
    fn new(inputs: &[&[Manifest]], opts: &DiffOptions) -> Self {
        let mut s = Scopes {
            crd_cluster: BTreeSet::new(),
            crd_namespaced: BTreeSet::new(),
            extra: opts.cluster_scoped.iter().cloned().collect(),
        };
        for ms in inputs {
            for m in *ms {
                if m.key.kind == "CustomResourceDefinition" && m.key.group == "apiextensions.k8s.io"
                {
                    let spec = &m.object["spec"];
                    if let (Some(g), Some(k)) =
                        (spec["group"].as_str(), spec["names"]["kind"].as_str())
                    {
                        let gk = (g.to_owned(), k.to_owned());
                        if spec["scope"].as_str() == Some("Cluster") {
                            s.crd_cluster.insert(gk);
                        } else {
                            s.crd_namespaced.insert(gk);
                        }
                    }
                }
            }
        }
        s
    }

    fn cluster_scoped(&self, group: &str, kind: &str) -> bool {
        if let Some(b) = builtin_cluster_scoped(group, kind) {
            return b;
        }
        let gk = (group.to_owned(), kind.to_owned());
        if self.crd_cluster.contains(&gk) || self.extra.contains(&gk) {
            return true;
        }
        if self.crd_namespaced.contains(&gk) {
            return false;
        }
        // Unknown custom kinds: the `Cluster*` naming convention (ClusterIssuer, …).
        kind.starts_with("Cluster")
    }

    fn resolve(&self, key: &ObjectKey, opts: &DiffOptions) -> (ObjectKey, bool) {
        let cluster = self.cluster_scoped(&key.group, &key.kind);
        let namespace = if cluster {
            String::new()
        } else if key.namespace.is_empty() {
            opts.default_namespace.clone().unwrap_or_default()
        } else {
            key.namespace.clone()
        };
        (
            ObjectKey {
                namespace,
                ..key.clone()
            },
            cluster,
        )
    }
}

fn annotation<'v>(obj: &'v Value, key: &str) -> Option<&'v str> {
    obj.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

fn label<'v>(obj: &'v Value, key: &str) -> Option<&'v str> {
    obj.get("metadata")?.get("labels")?.get(key)?.as_str()
}

fn meta_flag<'v>(obj: &'v Value, key: &str) -> Option<&'v str> {
    annotation(obj, key).or_else(|| label(obj, key))
}

fn skip_reason(d1: &Value, live: Option<&Value>) -> Option<&'static str> {
    for obj in std::iter::once(d1).chain(live) {
        if meta_flag(obj, "kustomize.toolkit.fluxcd.io/reconcile")
            .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
        {
            return Some("reconcile disabled by kustomize.toolkit.fluxcd.io/reconcile");
        }
        if meta_flag(obj, "kustomize.toolkit.fluxcd.io/ssa")
            .is_some_and(|v| v.eq_ignore_ascii_case("ignore"))
        {
            return Some("ignored by kustomize.toolkit.fluxcd.io/ssa: Ignore");
        }
    }
    if live.is_some()
        && meta_flag(d1, "kustomize.toolkit.fluxcd.io/ssa")
            .is_some_and(|v| v.eq_ignore_ascii_case("ifnotpresent"))
    {
        return Some("kustomize.toolkit.fluxcd.io/ssa: IfNotPresent and the object exists");
    }
    None
}

fn is_hook(d1: &Value) -> bool {
    annotation(d1, "helm.sh/hook").is_some() || annotation(d1, "argocd.argoproj.io/hook").is_some()
}

fn protection(obj: &Value) -> Option<&'static str> {
    if meta_flag(obj, "kustomize.toolkit.fluxcd.io/prune")
        .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
    {
        return Some("protected by kustomize.toolkit.fluxcd.io/prune: disabled");
    }
    if annotation(obj, "helm.sh/resource-policy") == Some("keep") {
        return Some("protected by helm.sh/resource-policy: keep");
    }
    if let Some(opts) = annotation(obj, "argocd.argoproj.io/sync-options")
        && opts
            .split(',')
            .any(|o| matches!(o.trim(), "Prune=false" | "Delete=false"))
    {
        return Some("protected by argocd.argoproj.io/sync-options");
    }
    None
}

fn glob(pattern: &str, text: &str) -> bool {
    fn rec(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) => (0..=t.len()).any(|i| rec(rest, &t[i..])),
            Some((b'?', rest)) => !t.is_empty() && rec(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && rec(rest, &t[1..]),
        }
    }
    rec(pattern.as_bytes(), text.as_bytes())
}

fn rule_applies(rule: &IgnoreRule, key: &ObjectKey) -> bool {
    let m = |p: &Option<String>, v: &str| p.as_ref().is_none_or(|p| glob(p, v));
    m(&rule.group, &key.group)
        && m(&rule.kind, &key.kind)
        && m(&rule.name, &key.name)
        && m(&rule.namespace, &key.namespace)
}

fn remove_pointer(v: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match v.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < items.len()
            {
                items.remove(i);
            }
        }
        _ => {}
    }
}

/// Managers' field sets from a live object's managedFields.
struct Managed {
    owned: Option<(FieldSet, String)>,
    others: Option<FieldSet>,
    error: Option<String>,
}

fn managed_fields(live_raw: &Value, manager: &str) -> Managed {
    let mut out = Managed {
        owned: None,
        others: None,
        error: None,
    };
    let Some(entries) = live_raw
        .at("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return out;
    };
    let mut others = FieldSet::default();
    let mut any_other = false;
    for e in entries {
        let fs = match e.get("fieldsV1").map(FieldSet::from_fields_v1) {
            Some(Ok(fs)) => fs,
            Some(Err(err)) => {
                out.error = Some(err.to_string());
                continue;
            }
            None => continue,
        };
        let is_m = e["manager"].as_str() == Some(manager)
            && e["operation"].as_str() == Some("Apply")
            && e.get("subresource")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty();
        if is_m && out.owned.is_none() {
            out.owned = Some((fs, e["apiVersion"].as_str().unwrap_or("").to_owned()));
        } else {
            others.union_with(&fs);
            any_other = true;
        }
    }
    if any_other {
        out.others = Some(others);
    }
    out
}

struct Computed {
    /// `P`; `None` when it is the desired render itself (no live state to merge with).
    predicted: Option<Value>,
    changes: Vec<RawChange>,
    removals: Removals,
    implied: Vec<Path>,
    format_only: Vec<Path>,
    notes: Vec<String>,
    mode: ApplyMode,
}

#[allow(clippy::too_many_arguments)]
fn compute_patch(
    kind: Kind<'_>,
    n0: Option<&Value>,
    n1: &Value,
    nl: &Value,
    live_raw: Option<&Value>,
    desired_api_version: &str,
    opts: &DiffOptions,
    norm_ctx: &NormalizeContext,
) -> Computed {
    let manager = manager_of(opts);
    let mut notes = Vec::new();
    let fdes = FieldSet::of_object(kind, n1);
    let from_base = |notes: &mut Vec<String>, why: &str| -> FieldSet {
        match n0 {
            Some(b) => {
                notes.push(format!("{why}; removals inferred from the base render"));
                FieldSet::of_object(kind, b)
            }
            None => {
                notes.push(format!(
                    "{why}; removals cannot be predicted without a base render"
                ));
                FieldSet::default()
            }
        }
    };
    let mut ssa = matches!(
        opts.applier,
        Applier::Flux | Applier::ArgocdSsa | Applier::HelmSsa
    );
    if matches!(opts.applier, Applier::Argocd)
        && annotation(n1, "argocd.argoproj.io/sync-options")
            .is_some_and(|o| o.contains("ServerSideApply=true"))
    {
        ssa = true;
    }
    let (owned, others, mode) = match live_raw {
        None => (
            n0.map(|b| FieldSet::of_object(kind, b)).unwrap_or_default(),
            None,
            ApplyMode::Intent,
        ),
        Some(raw) if ssa => {
            let mf = managed_fields(raw, &manager);
            if let Some(e) = mf.error {
                notes.push(e);
            }
            let owned = match mf.owned {
                Some((fs, v)) if v == desired_api_version || v.is_empty() => fs,
                Some((_, v)) => from_base(
                    &mut notes,
                    &format!(
                        "the {manager} managedFields entry is for {v}, not {desired_api_version}"
                    ),
                ),
                None => from_base(&mut notes, &format!("no managedFields entry for {manager}")),
            };
            (owned, mf.others, ApplyMode::Ssa(manager.clone()))
        }
        Some(raw) if !matches!(opts.applier, Applier::Helm) => {
            let last = annotation(raw, "kubectl.kubernetes.io/last-applied-configuration")
                .and_then(|s| serde_json::from_str::<Value>(s).ok());
            let owned = match last {
                Some(o) => {
                    let on = normalize(&o, kind, Side::Desired, norm_ctx);
                    FieldSet::of_object(kind, &on.value)
                }
                None => from_base(&mut notes, "no last-applied-configuration"),
            };
            (owned, None, ApplyMode::Csa(manager.clone()))
        }
        Some(_) => (
            n0.map(|b| FieldSet::of_object(kind, b)).unwrap_or_default(),
            None,
            ApplyMode::Helm,
        ),
    };
    let rem = removals(kind, &owned, &fdes, others.as_ref(), nl);
    let mut predicted = merge(kind, nl, n1);
    for p in &rem.removed {
        remove_path(kind, &mut predicted, p);
    }
    let implied = apply_discriminators(kind, &mut predicted);
    let (changes, cn) = compare(kind, nl, &predicted);
    let predicted = Some(predicted);
    Computed {
        predicted,
        changes,
        removals: rem,
        implied,
        format_only: cn.format_only,
        notes,
        mode,
    }
}

fn opt_eq(kind: Kind<'_>, a: Option<&Value>, b: Option<&Value>, path: &[Seg]) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => sem_eq(kind, x, y, &field_names(path)),
        _ => false,
    }
}

fn origin_of(kind: Kind<'_>, path: &[Seg], n0: &Value, n1: &Value, nl: &Value) -> ChangeOrigin {
    let v0 = get_path(kind, n0, path);
    let v1 = get_path(kind, n1, path);
    let vl = get_path(kind, nl, path);
    let mr = !opt_eq(kind, v0, v1, path);
    let live_matches_base = match (vl, v0) {
        (None, None) => true,
        (Some(l), Some(o)) => covers(kind, l, o, &field_names(path)),
        _ => false,
    };
    match (mr, live_matches_base) {
        (true, true) => ChangeOrigin::Mr,
        (true, false) => ChangeOrigin::Both,
        (false, _) => ChangeOrigin::Drift,
    }
}

fn aggregate(origins: impl Iterator<Item = ChangeOrigin>) -> ChangeOrigin {
    let mut mr = false;
    let mut drift = false;
    for o in origins {
        match o {
            ChangeOrigin::Mr => mr = true,
            ChangeOrigin::Drift => drift = true,
            ChangeOrigin::Both => return ChangeOrigin::Both,
        }
    }
    match (mr, drift) {
        (true, true) => ChangeOrigin::Both,
        (false, true) => ChangeOrigin::Drift,
        _ => ChangeOrigin::Mr,
    }
}

/// An object's plan before rendering: raw changes, unredacted.
struct Draft {
    key: ObjectKey,
    api_version: String,
    action: Action,
    detail: Option<Detail>,
    origin: ChangeOrigin,
    source: Option<String>,
    changes: Vec<(RawChange, ChangeOrigin, Option<String>)>,
    notes: Vec<String>,
    before_doc: Option<Value>,
    after_doc: Option<Value>,
    /// Whether `before_doc` and `after_doc` are wanted ([`DiffOptions::views`]).
    views: bool,
    /// The before side is live state (else the base render).
    state_live: bool,
    state: ObjectState,
}

impl Draft {
    /// Keep copies of the two sides for the text diff and patch views (when they are on).
    fn set_docs(&mut self, before: Option<&Value>, after: Option<&Value>) {
        if self.views {
            self.before_doc = before.cloned();
            self.after_doc = after.cloned();
        }
    }

    /// Whether the plan lists this object (no-ops only when asked, or when they say something).
    fn listed(&self, opts: &DiffOptions) -> bool {
        opts.include_noop
            || self.action != Action::Noop
            || self.detail.is_some()
            || !self.notes.is_empty()
    }
}

/// Below this many objects the per-object pass stays on the calling thread.
const PARALLEL_MIN_OBJECTS: usize = 256;
/// Below this many listed objects the rendering pass stays on the calling thread.
const PARALLEL_MIN_LISTED: usize = 64;

/// Run the diff (see the crate docs).
///
/// # Errors
/// Only for unusable options ([`DiffError`]); problems of single objects are plan entries.
pub fn diff(input: &DiffInput<'_>) -> Result<Plan, DiffError> {
    let opts = input.options;
    for (index, rule) in opts.ignore.iter().enumerate() {
        for p in &rule.json_pointers {
            if !p.starts_with('/') {
                return Err(DiffError::IgnorePointer {
                    index,
                    pointer: p.clone(),
                });
            }
        }
    }
    let ignore_paths = opts
        .ignore_paths
        .iter()
        .map(|p| crate::path::parse(p))
        .collect::<Result<Vec<Path>, String>>()
        .map_err(DiffError::IgnorePath)?;
    let base = input.base.unwrap_or(&[]);
    let scopes = Scopes::new(&[base, input.desired], opts);
    let mut d0: HashMap<ObjectKey, Entry<'_>> = HashMap::new();
    let mut d1: HashMap<ObjectKey, Entry<'_>> = HashMap::new();
    for (ms, map) in [(base, &mut d0), (input.desired, &mut d1)] {
        for m in ms {
            let (key, cluster_scoped) = scopes.resolve(&m.key, opts);
            map.entry(key)
                .or_insert_with(|| Entry {
                    manifests: Vec::new(),
                    cluster_scoped,
                })
                .manifests
                .push(m);
        }
    }
    // Canonical order (§8.1); the rank is computed once per key, not per comparison.
    let mut keys: Vec<ObjectKey> = d0.keys().chain(d1.keys()).cloned().collect();
    if let Some(inv) = input.inventory {
        keys.extend(inv.iter().cloned());
    }
    keys.sort_by_cached_key(|k| {
        (
            k.kind_rank(),
            k.group.clone(),
            k.kind.clone(),
            k.namespace.clone(),
            k.name.clone(),
        )
    });
    keys.dedup();
    // Pass 1 per object: plan it; for listed objects, mask sensitive values (adding them
    // to the taint set). Objects are independent, so large inputs run on a few threads
    // (`par` keeps the input order, and the taint set is a set: the output is the same).
    let threads = crate::par::threads_for(opts.threads, keys.len(), PARALLEL_MIN_OBJECTS);
    let (planned, redactors) =
        crate::par::map_with(keys, threads, Redactor::new, |redactor, key| {
            let draft = plan_key(
                &key,
                d0.get(&key),
                d1.get(&key),
                input,
                &scopes,
                &ignore_paths,
                redactor,
            );
            let action = draft.action;
            let listed = draft.listed(opts).then(|| mask_draft(draft, redactor));
            (action, listed)
        });
    let mut redactor = Redactor::new();
    for r in redactors {
        redactor.absorb(r);
    }
    redactor.finish();
    let mut summary = Summary {
        noop: input.identical_skipped,
        ..Summary::default()
    };
    let mut masked = Vec::new();
    for (action, m) in planned {
        summary.count(action);
        masked.extend(m);
    }
    // Pass 2: render the views and scrub every text with the complete taint set.
    let threads = crate::par::threads_for(opts.threads, masked.len(), PARALLEL_MIN_LISTED);
    let (objects, _) = crate::par::map_with(
        masked,
        threads,
        || (),
        |(), m| render_object(m, &redactor, opts),
    );
    Ok(Plan {
        schema: PLAN_SCHEMA,
        objects,
        summary,
        redactor,
    })
}

fn live_outcome<'a>(input: &DiffInput<'a>, key: &ObjectKey) -> Option<&'a LiveOutcome> {
    const ABSENT: &LiveOutcome = &LiveOutcome::Absent;
    input.live.map(|l| l.get(key).unwrap_or(ABSENT))
}

fn norm_ctx(key: &ObjectKey, cluster_scoped: bool, opts: &DiffOptions) -> NormalizeContext {
    let mut strip_annotations = Vec::new();
    let mut strip_labels = Vec::new();
    if opts.applier == Applier::Flux {
        strip_annotations.extend(
            [
                "kustomize.toolkit.fluxcd.io/checksum",
                "fluxcd.io/sync-checksum",
            ]
            .map(str::to_owned),
        );
        strip_labels.push("fluxcd.io/sync-gc-mark".to_owned());
    }
    NormalizeContext {
        namespace: key.namespace.clone(),
        cluster_scoped,
        inject_labels: opts
            .inject_labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        inject_annotations: opts
            .inject_annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        strip_annotations,
        strip_labels,
    }
}

#[allow(clippy::too_many_lines)]
fn plan_key(
    key: &ObjectKey,
    e0: Option<&Entry<'_>>,
    e1: Option<&Entry<'_>>,
    input: &DiffInput<'_>,
    scopes: &Scopes,
    ignore_paths: &[Path],
    redactor: &mut Redactor,
) -> Draft {
    let opts = input.options;
    let kind = Kind::new(&key.group, &key.kind);
    let m0 = e0.and_then(|e| e.manifests.first().copied());
    let m1 = e1.and_then(|e| e.manifests.first().copied());
    let cluster_scoped = e1.or(e0).map_or_else(
        || scopes.cluster_scoped(&key.group, &key.kind),
        |e| e.cluster_scoped,
    );
    let ctx = norm_ctx(key, cluster_scoped, opts);
    let outcome = live_outcome(input, key);
    let live_raw = match outcome {
        Some(LiveOutcome::Found(v)) => Some(v),
        _ => None,
    };
    let api_version = m1
        .or(m0)
        .map(|m| m.api_version.clone())
        .or_else(|| live_raw.and_then(|l| l["apiVersion"].as_str().map(str::to_owned)))
        .unwrap_or_default();
    let source = m1.or(m0).map(|m| m.origin.to_string());
    let mut draft = Draft {
        key: key.clone(),
        api_version: api_version.clone(),
        action: Action::Noop,
        detail: None,
        origin: ChangeOrigin::Mr,
        source,
        changes: Vec::new(),
        notes: Vec::new(),
        before_doc: None,
        after_doc: None,
        views: opts.views,
        state_live: live_raw.is_some(),
        state: ObjectState {
            base: None,
            desired: None,
            live: None,
            predicted: None,
            live_raw: live_raw.filter(|_| opts.keep_state).cloned(),
            removed: Vec::new(),
            released: Vec::new(),
            mode: ApplyMode::Intent,
        },
    };
    let mut take = |n: Normalized, notes: &mut Vec<String>| -> Normalized {
        for s in &n.secrets {
            redactor.add(s);
        }
        notes.extend(n.notes.iter().cloned());
        n
    };
    let mut notes = Vec::new();
    // Without a cluster, a base render equal to the desired one (the common case in large
    // renders) normalizes to the same value: normalize it once, and the answer is a no-op.
    let same_render = outcome.is_none()
        && e0.is_some_and(|e| e.manifests.len() == 1)
        && e1.is_some_and(|e| e.manifests.len() == 1)
        && m0.zip(m1).is_some_and(|(a, b)| a.object == b.object);
    let n0 = m0
        .filter(|_| !same_render)
        .map(|m| take(normalize(&m.object, kind, Side::Desired, &ctx), &mut notes));
    let n1 = m1.map(|m| take(normalize(&m.object, kind, Side::Desired, &ctx), &mut notes));
    let nl = live_raw.map(|l| take(normalize(l, kind, Side::Live, &ctx), &mut notes));
    draft.notes = notes;
    if e1.is_some_and(|e| e.manifests.len() > 1) {
        draft.detail = Some(Detail::Invalid);
        draft.notes.push(format!(
            "the desired render holds this object {} times; duplicates are a render error",
            e1.map_or(0, |e| e.manifests.len())
        ));
        return draft;
    }
    if let (Some(m1), Some(n1)) = (m1, &n1) {
        if let Some(why) = skip_reason(&m1.object, live_raw) {
            draft.detail = Some(Detail::Skip);
            draft.notes.push(why.to_owned());
            return draft;
        }
        let ssa = matches!(
            opts.applier,
            Applier::Flux | Applier::ArgocdSsa | Applier::HelmSsa
        );
        let mut invalid = n1.invalid.clone();
        if ssa {
            invalid.extend(n1.duplicate_keys.iter().cloned());
        } else {
            draft
                .notes
                .extend(n1.duplicate_keys.iter().map(|d| format!("warning: {d}")));
        }
        if !invalid.is_empty() {
            draft.detail = Some(Detail::Invalid);
            draft.notes.extend(invalid);
            return draft;
        }
    }
    let (mut n0v, mut n1v, mut nlv) = (
        n0.map(|n| n.value),
        n1.map(|n| n.value),
        nl.map(|n| n.value),
    );
    // Ignore rules and injected CA bundles.
    let managers: Vec<&String> = opts
        .ignore
        .iter()
        .filter(|r| rule_applies(r, key))
        .flat_map(|r| r.managed_fields_managers.iter())
        .collect();
    let mut by_manager = FieldSet::default();
    if let Some(raw) = live_raw {
        for e in raw
            .at("/metadata/managedFields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if e["manager"]
                .as_str()
                .is_some_and(|m| managers.iter().any(|x| *x == m))
                && let Some(Ok(fs)) = e.get("fieldsV1").map(FieldSet::from_fields_v1)
            {
                by_manager.union_with(&fs);
            }
        }
    }
    let injected_ca = live_raw.is_some_and(|l| {
        l.at("/metadata/annotations")
            .and_then(Value::as_object)
            .is_some_and(|a| {
                a.keys()
                    .any(|k| k.starts_with("cert-manager.io/inject-ca-from"))
            })
    });
    for v in [&mut n0v, &mut n1v, &mut nlv].into_iter().flatten() {
        for rule in opts.ignore.iter().filter(|r| rule_applies(r, key)) {
            for p in &rule.json_pointers {
                remove_pointer(v, p);
            }
        }
        merge::remove_members(kind, v, &by_manager);
        for p in ignore_paths {
            remove_path(kind, v, p);
        }
        if injected_ca {
            strip_ca_bundles(v);
        }
    }
    if let Some(l) = live_raw {
        let lv = l["apiVersion"].as_str().unwrap_or_default();
        if m1.is_some() && !lv.is_empty() && lv != api_version {
            draft.notes.push(format!(
                "apiVersion {lv} → {api_version} (same object; not a change)"
            ));
        }
    }
    let intent_changes = |draft: &mut Draft| {
        if let (Some(b), Some(d)) = (&n0v, &n1v) {
            let c = compute_patch(kind, Some(b), d, b, None, &api_version, opts, &ctx);
            draft.set_docs(Some(b), Some(c.predicted.as_ref().unwrap_or(d)));
            draft.changes = c
                .changes
                .into_iter()
                .map(|c| (c, ChangeOrigin::Mr, None))
                .collect();
        }
    };
    if m1.is_some_and(|m| is_hook(&m.object)) {
        if outcome.is_some() {
            // Hooks are recreated on every sync: not diffed against live (§2.9).
            draft.detail = Some(Detail::Hook);
            draft
                .notes
                .push("hook: runs on sync, not diffed against live".to_owned());
            intent_changes(&mut draft);
            draft.notes.sort();
            draft.state.base = n0v;
            draft.state.desired = n1v;
            draft.state.live = nlv;
            return draft;
        }
        draft.notes.push("hook: runs on sync".to_owned());
    }
    match (outcome, &n1v) {
        // No cluster: the intent diff D0 → D1.
        (None, Some(_)) if same_render => {}
        (None, Some(d)) => match &n0v {
            None => {
                draft.action = Action::Create;
                draft.set_docs(None, Some(d));
                draft.changes = additions(kind, d)
                    .into_iter()
                    .map(|c| (c, ChangeOrigin::Mr, None))
                    .collect();
            }
            // Equal renders: nothing to compute (the common case for large renders).
            Some(b) if b == d => {}
            Some(b) => {
                // Without live state the baseline is the base render itself, so
                // P = prune(merge(n0, n1), F(n0) − F(n1)) is n1: compare directly.
                let (changes, notes) = compare(kind, b, d);
                let c = Computed {
                    predicted: None,
                    changes,
                    removals: Removals::default(),
                    implied: Vec::new(),
                    format_only: notes.format_only,
                    notes: Vec::new(),
                    mode: ApplyMode::Intent,
                };
                finish_patch(&mut draft, kind, c, b, d, None);
            }
        },
        (None, None) => {
            if let Some(b) = &n0v {
                deletion(&mut draft, b, None, opts);
            }
        }
        (Some(LiveOutcome::Found(_)), Some(d)) => {
            let l = nlv.as_ref().unwrap_or(&Value::Null);
            let c = compute_patch(kind, n0v.as_ref(), d, l, live_raw, &api_version, opts, &ctx);
            finish_patch(&mut draft, kind, c, l, d, n0v.as_ref().map(|b| (b, d)));
        }
        (Some(LiveOutcome::Found(_)), None) => {
            let l = nlv.as_ref().unwrap_or(&Value::Null);
            if n0v.is_none() && input.inventory.is_some() {
                draft.origin = ChangeOrigin::Drift;
            }
            deletion(&mut draft, l, live_raw, opts);
        }
        (Some(LiveOutcome::Absent), Some(d)) => {
            draft.action = Action::Create;
            draft.set_docs(None, Some(d));
            let origin = match &n0v {
                None => ChangeOrigin::Mr,
                Some(b) if sem_eq(kind, b, d, &[]) => ChangeOrigin::Drift,
                Some(_) => ChangeOrigin::Both,
            };
            draft.origin = origin;
            draft.changes = additions(kind, d)
                .into_iter()
                .map(|c| (c, origin, None))
                .collect();
        }
        (Some(LiveOutcome::Absent), None) => {
            if n0v.is_some() {
                draft
                    .notes
                    .push("already absent from the cluster".to_owned());
            }
        }
        (Some(LiveOutcome::NotServed { message }), Some(d))
            if scopes
                .crd_cluster
                .contains(&(key.group.clone(), key.kind.clone()))
                || scopes
                    .crd_namespaced
                    .contains(&(key.group.clone(), key.kind.clone())) =>
        {
            let _ = message;
            draft.action = Action::Create;
            draft.set_docs(None, Some(d));
            draft
                .notes
                .push("its CustomResourceDefinition is created by this change".to_owned());
            draft.changes = additions(kind, d)
                .into_iter()
                .map(|c| (c, ChangeOrigin::Mr, None))
                .collect();
        }
        (
            Some(
                LiveOutcome::Forbidden { message }
                | LiveOutcome::NotServed { message }
                | LiveOutcome::Error { message },
            ),
            _,
        ) => {
            draft.detail = Some(Detail::Unknown);
            draft.notes.push(format!("live state unknown: {message}"));
            intent_changes(&mut draft);
        }
        (Some(_), _) => {
            draft.detail = Some(Detail::Unknown);
            draft.notes.push("live state unknown".to_owned());
            intent_changes(&mut draft);
        }
    }
    if m1.is_some_and(|m| is_hook(&m.object)) {
        if draft.action == Action::Noop {
            draft.notes.clear();
        } else {
            draft.detail = Some(Detail::Hook);
        }
    }
    draft.notes.sort();
    draft.notes.dedup();
    if same_render && opts.keep_state && draft.listed(opts) {
        n0v.clone_from(&n1v);
    }
    if opts.keep_state {
        draft.state.base = n0v;
        draft.state.desired = n1v;
        draft.state.live = nlv;
    } else {
        draft.state.predicted = None;
    }
    draft
}

fn strip_ca_bundles(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(cc)) = m.get_mut("clientConfig") {
                cc.remove("caBundle");
            }
            m.values_mut().for_each(strip_ca_bundles);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_ca_bundles),
        _ => {}
    }
}

fn finish_patch(
    draft: &mut Draft,
    kind: Kind<'_>,
    c: Computed,
    live: &Value,
    desired: &Value,
    base_and_desired: Option<(&Value, &Value)>,
) {
    // How removals were predicted matters only when something is removed or changes.
    if !c.changes.is_empty() || !c.removals.released.is_empty() {
        draft.notes.extend(c.notes);
    }
    for p in &c.removals.released {
        draft.notes.push(format!(
            "{} is released to another field manager; its value stays",
            display(p)
        ));
    }
    let changes: Vec<(RawChange, ChangeOrigin, Option<String>)> = c
        .changes
        .into_iter()
        .map(|rc| {
            let origin = match base_and_desired {
                Some((b, d)) => origin_of(kind, &rc.path, b, d, live),
                None => ChangeOrigin::Mr,
            };
            let note = c.implied.contains(&rc.path).then(|| {
                "implied by the strategy type (the other union member is cleared)".to_owned()
            });
            (rc, origin, note)
        })
        .collect();
    if changes.is_empty() {
        draft.action = Action::Noop;
        if !c.format_only.is_empty() {
            draft.detail = Some(Detail::FormatOnly);
            for p in &c.format_only {
                draft.notes.push(format!(
                    "{}: format-only difference (same quantity)",
                    display(p)
                ));
            }
        }
    } else {
        draft.action = Action::Patch;
        draft.origin = aggregate(changes.iter().map(|c| c.1));
    }
    draft.changes = changes;
    draft.set_docs(Some(live), Some(c.predicted.as_ref().unwrap_or(desired)));
    draft.state.predicted = c.predicted;
    draft.state.removed = c.removals.removed;
    draft.state.released = c.removals.released;
    draft.state.mode = c.mode;
}

fn deletion(draft: &mut Draft, obj: &Value, live_raw: Option<&Value>, opts: &DiffOptions) {
    let check = live_raw.unwrap_or(obj);
    if let Some(why) = protection(check) {
        draft.detail = Some(Detail::Orphan);
        draft.notes.push(why.to_owned());
        return;
    }
    if !opts.prune {
        draft.detail = Some(Detail::Orphan);
        draft
            .notes
            .push("prune is disabled for this applier".to_owned());
        return;
    }
    if live_raw.is_some() {
        let missing: Vec<&String> = opts
            .owner_labels
            .iter()
            .filter(|(k, v)| label(check, k) != Some(v.as_str()))
            .map(|(k, _)| k)
            .collect();
        if !missing.is_empty() {
            draft.notes.push(format!(
                "not deleted: not owned by this unit (missing owner labels {})",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            return;
        }
    }
    draft.action = Action::Delete;
    draft.set_docs(Some(obj), None);
}

/// A draft with masked change values and masked before/after documents.
struct Masked {
    draft: Draft,
    changes: Vec<Change>,
}

fn mask_draft(mut d: Draft, redactor: &mut Redactor) -> Masked {
    let kind_owned = (d.key.group.clone(), d.key.kind.clone());
    let kind = Kind::new(&kind_owned.0, &kind_owned.1);
    let mut seen = Vec::new();
    // Documents for the text diff and patch view: list-sorted, sensitive values masked.
    let mut before = d.before_doc.take();
    let mut after = d.after_doc.take();
    for doc in [&mut before, &mut after].into_iter().flatten() {
        sort_lists(kind, doc);
        if let Value::Object(m) = doc
            && !d.api_version.is_empty()
        {
            m.insert(
                "apiVersion".to_owned(),
                Value::String(d.api_version.clone()),
            );
        }
    }
    mask::mask_pair(kind, &[], before.as_mut(), after.as_mut(), &mut seen);
    let mut changes = Vec::with_capacity(d.changes.len());
    let mut raw_changes = std::mem::take(&mut d.changes);
    raw_changes.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    for (rc, origin, note) in raw_changes {
        let leaf_sensitive = [&rc.before, &rc.after]
            .into_iter()
            .flatten()
            .any(|v| !v.is_object() && !v.is_array() && redact::is_sensitive(kind, &rc.path, v));
        let pointer = match rc.op {
            RawOp::Add => after.as_ref().map(|a| pointer_of(kind, a, &rc.path)),
            _ => before.as_ref().map(|b| pointer_of(kind, b, &rc.path)),
        }
        .unwrap_or_default();
        let (before_v, after_v) = if leaf_sensitive {
            for v in [&rc.before, &rc.after].into_iter().flatten() {
                if let Value::String(s) = v {
                    seen.push(s.clone());
                }
            }
            (
                rc.before.as_ref().map(|_| Value::Null),
                rc.after.as_ref().map(|_| Value::Null),
            )
        } else {
            let (mut b, mut a) = (rc.before.clone(), rc.after.clone());
            mask::mask_pair(kind, &rc.path, b.as_mut(), a.as_mut(), &mut seen);
            (b, a)
        };
        changes.push(Change {
            path: display(&rc.path),
            op: match rc.op {
                RawOp::Add => Op::Add,
                RawOp::Remove => Op::Remove,
                RawOp::Replace => Op::Replace,
            },
            before: before_v,
            after: after_v,
            origin,
            sensitive: leaf_sensitive,
            pointer,
            note,
            keyed: rc.path,
        });
    }
    for s in seen {
        redactor.add(&s);
    }
    d.before_doc = before;
    d.after_doc = after;
    Masked { draft: d, changes }
}

fn pointer_of(kind: Kind<'_>, doc: &Value, path: &[Seg]) -> String {
    let mut out = String::new();
    let mut cur = doc;
    let mut fields: Vec<String> = Vec::new();
    for seg in path {
        match (seg, cur) {
            (Seg::Field(n), Value::Object(m)) => {
                out.push('/');
                out.push_str(&thule_core::yaml::escape_pointer_token(n));
                fields.push(n.clone());
                match m.get(n) {
                    Some(c) => cur = c,
                    None => return out,
                }
            }
            (_, Value::Array(items)) => {
                let fs: Vec<&str> = fields.iter().map(String::as_str).collect();
                let keys: Vec<String> = match schema::list_type(kind, &fs) {
                    ListType::Map(k) => k.iter().map(|s| (*s).to_owned()).collect(),
                    _ => crate::path::key_fields(seg),
                };
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                match crate::path::find_item(items, seg, &keys) {
                    Some(i) => {
                        out.push_str(&format!("/{i}"));
                        cur = &items[i];
                    }
                    None => {
                        out.push_str("/-");
                        return out;
                    }
                }
            }
            _ => return out,
        }
    }
    out
}

fn render_object(m: Masked, redactor: &Redactor, opts: &DiffOptions) -> ObjectPlan {
    let Masked {
        draft: d,
        mut changes,
    } = m;
    let (text_diff, json_patch) = match (&d.before_doc, &d.after_doc) {
        (None, None) => (String::new(), Vec::new()),
        (b, a) => {
            let by = b.as_ref().map(to_yaml).unwrap_or_default();
            let ay = a.as_ref().map(to_yaml).unwrap_or_default();
            let text = if by == ay {
                String::new()
            } else {
                similar::TextDiff::from_lines(&by, &ay)
                    .unified_diff()
                    .context_radius(opts.context_lines)
                    .header(
                        if d.state_live { "live" } else { "base" },
                        if d.state_live { "predicted" } else { "desired" },
                    )
                    .to_string()
            };
            let patch = if opts.patch_view {
                let empty = merge::empty_object();
                let patch =
                    json_patch::diff(b.as_ref().unwrap_or(&empty), a.as_ref().unwrap_or(&empty));
                match serde_json::to_value(&patch) {
                    Ok(Value::Array(ops)) => ops,
                    _ => Vec::new(),
                }
            } else {
                Vec::new()
            };
            (text, patch)
        }
    };
    let mut text_diff = text_diff;
    redactor.scrub_in_place(&mut text_diff);
    let mut json_patch = json_patch;
    for p in &mut json_patch {
        redactor.scrub_value(p);
    }
    for c in &mut changes {
        redactor.scrub_in_place(&mut c.path);
        redactor.scrub_in_place(&mut c.pointer);
        for v in [&mut c.before, &mut c.after].into_iter().flatten() {
            redactor.scrub_value(v);
        }
    }
    let mut notes = d.notes;
    for n in &mut notes {
        redactor.scrub_in_place(n);
    }
    let state = opts.keep_state.then(|| Box::new(d.state));
    ObjectPlan {
        api_version: d.api_version,
        kind: d.key.kind.clone(),
        group: d.key.group.clone(),
        namespace: d.key.namespace.clone(),
        name: redactor.scrub(&d.key.name),
        action: d.action,
        detail: d.detail,
        origin: d.origin,
        source: d.source.map(|s| redactor.scrub(&s)),
        changes,
        risks: Vec::new(),
        notes,
        text_diff,
        json_patch,
        key: d.key,
        state,
    }
}

/// The identity group of an `apiVersion`/kind pair (aliases collapsed).
pub fn identity_group(api_version: &str, kind: &str) -> String {
    canonical_group(group_of(api_version), kind).to_owned()
}
