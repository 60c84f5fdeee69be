//! The plan: what the engine decided per object, in the `thule.plan/v1` JSON shape.

use serde::Serialize;
use serde_json::Value;
use thule_core::ObjectKey;
use thule_core::config::Applier;

use crate::path::Path;
use crate::redact::Redactor;

/// The `schema` value of the JSON plan.
pub const PLAN_SCHEMA: &str = "thule.plan/v1";

/// What the applier will do to an object (spec §2.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Live absent, desired present.
    Create,
    /// The predicted live object differs from live.
    Patch,
    /// Removed from desired, owned and prunable.
    Delete,
    /// Delete and create (immutable change with force); set by the risk pass.
    Replace,
    /// Nothing changes (see `detail` for why, when it matters).
    Noop,
}

impl Action {
    /// The lower-case name used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Patch => "patch",
            Action::Delete => "delete",
            Action::Replace => "replace",
            Action::Noop => "noop",
        }
    }
}

/// Sub-state of an action (`action_detail` of spec §2.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Detail {
    /// PATCH touching an immutable field without force (set by the risk pass).
    Rejected,
    /// Removed from desired but prune is off or the object is protected.
    Orphan,
    /// Excluded by annotations (`reconcile: disabled`, `ssa: Ignore`, `ssa: IfNotPresent`).
    Skip,
    /// A Helm or Argo CD hook: not diffed, runs on sync.
    Hook,
    /// Only format-equivalent differences (a CR Quantity written differently).
    FormatOnly,
    /// Live state unreadable (forbidden, kind not served, read error); the intent diff is shown.
    Unknown,
    /// Desired cannot be applied as written (see `notes`).
    Invalid,
}

impl Detail {
    /// The kebab-case name used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            Detail::Rejected => "rejected",
            Detail::Orphan => "orphan",
            Detail::Skip => "skip",
            Detail::Hook => "hook",
            Detail::FormatOnly => "format-only",
            Detail::Unknown => "unknown",
            Detail::Invalid => "invalid",
        }
    }
}

/// Where a change comes from (spec §2.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeOrigin {
    /// The merge request changes it; the cluster matched the base.
    Mr,
    /// The merge request does not touch it; applying reverts drift.
    Drift,
    /// The merge request changes it and the cluster had drifted.
    Both,
}

impl ChangeOrigin {
    /// The lower-case name used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeOrigin::Mr => "mr",
            ChangeOrigin::Drift => "drift",
            ChangeOrigin::Both => "both",
        }
    }
}

/// The operation of one change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// The path appears.
    Add,
    /// The path disappears.
    Remove,
    /// The value at the path changes.
    Replace,
}

impl Op {
    /// `+`, `-` or `~`.
    pub fn sigil(self) -> char {
        match self {
            Op::Add => '+',
            Op::Remove => '-',
            Op::Replace => '~',
        }
    }
}

/// One field-level change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// Keyed path (`spec.template.spec.containers[name=web].image`).
    pub path: String,
    /// `add`, `remove` or `replace`.
    pub op: Op,
    /// Live value (absent for `add`; `null` when sensitive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// Predicted value (absent for `remove`; `null` when sensitive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// `mr`, `drift` or `both`.
    pub origin: ChangeOrigin,
    /// The value is a secret: only added/removed/changed is reported.
    pub sensitive: bool,
    /// RFC 6901 pointer into the canonical (list-sorted) live object, or the predicted one for
    /// additions. A locator for tools; never an identity.
    pub pointer: String,
    /// Remark (`implied by strategy.type Recreate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// For a Secret value, when the operator configured a fingerprint key: keyed
    /// fingerprints of the old and new value (equal values have equal fingerprints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Fingerprint>,
    /// The keyed path as segments, for the risk pass.
    #[serde(skip)]
    pub keyed: Path,
}

/// Fingerprints of a Secret value's two sides (spec §6.2 rule 4): the first 8 hex digits of
/// an HMAC-SHA256 under the operator's key. They show whether values are equal, never what
/// they are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fingerprint {
    /// Of the old value (absent for an addition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Of the new value (absent for a removal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// Where the applier of an object came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplierSource {
    /// The project config or the command line names it.
    Configured,
    /// Read from the live object's managedFields and annotations.
    Inferred,
    /// Nothing named it and there was nothing to infer it from: Flux.
    Default,
}

impl ApplierSource {
    /// The lower-case name used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplierSource::Configured => "configured",
            ApplierSource::Inferred => "inferred",
            ApplierSource::Default => "default",
        }
    }
}

fn is_inferred<S: serde::Serializer>(source: &ApplierSource, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(*source == ApplierSource::Inferred)
}

/// Risk severities (spec §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
    /// The apply will fail.
    Blocker,
}

impl Severity {
    /// The lower-case name, as printed and as written in `thule.yaml` (`medium`).
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
            Severity::Blocker => "blocker",
        }
    }

    /// Parse a severity name as written in `thule.yaml` (case-insensitive).
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.to_ascii_lowercase().as_str() {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            "blocker" => Severity::Blocker,
            _ => return None,
        })
    }
}

/// A risk flag (filled by the risk pass; the diff engine leaves `risks` empty).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Risk {
    /// Flag id (`IMMUTABLE_FIELD`).
    pub id: String,
    /// Severity.
    pub severity: Severity,
    /// Keyed path, when the flag is about one field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// One-line explanation.
    pub message: String,
}

/// How removals were predicted for an object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApplyMode {
    /// Server-side apply by this field manager.
    Ssa(String),
    /// Client-side apply (three-way with last-applied).
    Csa(String),
    /// Helm 3 style: the base render is the previous release.
    Helm,
    /// No live state: `D0 → D1` only.
    Intent,
}

/// Everything the engine computed for one object, for the risk pass. Holds unredacted values:
/// never serialize it.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectState {
    /// `n0`: normalized base render.
    pub base: Option<Value>,
    /// `n1`: normalized desired render.
    pub desired: Option<Value>,
    /// `nl`: normalized live object.
    pub live: Option<Value>,
    /// `P`: predicted live after the apply, when it differs from `desired`; `None` when `P`
    /// is the desired render itself (no live state to merge with: intent diffs, creates).
    pub predicted: Option<Value>,
    /// The raw live object as read (with managedFields), if any.
    pub live_raw: Option<Value>,
    /// Paths the applier removes.
    pub removed: Vec<Path>,
    /// Paths whose ownership is released to other managers (values stay).
    pub released: Vec<Path>,
    /// How removals were predicted.
    pub mode: ApplyMode,
}

/// The plan for one object.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectPlan {
    /// `apiVersion` of the desired object (else base, else live).
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// API group (`""` for core), as in the identity.
    pub group: String,
    /// Namespace (`""` for cluster-scoped or unresolved).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// What happens.
    pub action: Action,
    /// Sub-state, if any.
    pub detail: Option<Detail>,
    /// Where the object's changes come from (the mix of its changes' origins).
    pub origin: ChangeOrigin,
    /// `file:line` of the desired document (or the base one for deletions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The applier whose semantics decided the object (`flux`, `argocd-ssa`, …).
    pub applier: Applier,
    /// Where the applier came from; serialized as `applierInferred: true|false`.
    #[serde(rename = "applierInferred", serialize_with = "is_inferred")]
    pub applier_source: ApplierSource,
    /// Field-level changes, sorted by keyed path.
    pub changes: Vec<Change>,
    /// Risk flags (empty until the risk pass runs).
    pub risks: Vec<Risk>,
    /// Remarks, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Unified diff of the canonical YAML of live (or base) and predicted, secrets masked.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text_diff: String,
    /// RFC 6902 view of the same change (index paths into the canonical, list-sorted objects).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub json_patch: Vec<Value>,
    /// Identity.
    #[serde(skip)]
    pub key: ObjectKey,
    /// Engine state for the risk pass.
    #[serde(skip)]
    pub state: Option<Box<ObjectState>>,
}

/// Whether an object is a plain no-op: nothing changes and there is nothing to say about it
/// (no detail, note or risk). Markdown and text hide these unless asked; JSON lists them.
pub fn plain_noop(o: &ObjectPlan) -> bool {
    o.action == Action::Noop
        && o.detail.is_none()
        && o.notes.is_empty()
        && o.risks.is_empty()
        && o.changes.is_empty()
}

/// Counts per action over every object in scope (listed or not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Objects created.
    pub create: usize,
    /// Objects patched.
    pub patch: usize,
    /// Objects deleted.
    pub delete: usize,
    /// Objects replaced.
    pub replace: usize,
    /// Objects unchanged (including those skipped as byte-identical).
    pub noop: usize,
}

impl Summary {
    /// Add one object.
    pub fn count(&mut self, action: Action) {
        match action {
            Action::Create => self.create += 1,
            Action::Patch => self.patch += 1,
            Action::Delete => self.delete += 1,
            Action::Replace => self.replace += 1,
            Action::Noop => self.noop += 1,
        }
    }

    /// Whether anything changes.
    pub fn has_changes(&self) -> bool {
        self.create + self.patch + self.delete + self.replace > 0
    }
}

/// How many objects of a plan one applier decided, by where the applier came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApplierCount {
    /// The applier.
    pub applier: Applier,
    /// Where it came from.
    pub source: ApplierSource,
    /// Objects (listed or not).
    pub objects: usize,
}

/// A whole plan.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// Always [`PLAN_SCHEMA`].
    pub schema: &'static str,
    /// Objects with something to say (every object when `include_noop`), canonical order.
    pub objects: Vec<ObjectPlan>,
    /// Counts per action.
    pub summary: Summary,
    /// The appliers that decided the plan's objects, by name then source.
    #[serde(skip)]
    pub appliers: Vec<ApplierCount>,
    /// The taint set; use [`Plan::scrub`] on any text derived from this plan's inputs.
    #[serde(skip)]
    pub redactor: Redactor,
}

impl Plan {
    /// Whether anything changes.
    pub fn has_changes(&self) -> bool {
        self.summary.has_changes()
    }

    /// Whether the plan's objects were decided by more than one applier (or by one from
    /// more than one source): then each object names its own.
    pub fn mixed_appliers(&self) -> bool {
        self.appliers.len() > 1
    }

    /// Remove every secret value seen while diffing from `text` (for error messages, risk
    /// messages and anything else printed next to the plan).
    pub fn scrub(&self, text: &str) -> String {
        self.redactor.scrub(text)
    }
}
