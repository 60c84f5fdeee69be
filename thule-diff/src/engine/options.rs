//! What a caller hands the engine: the options of one diff, its inputs, and the one error
//! (unusable options) that stops a whole run.

use std::collections::BTreeMap;

use thule_core::cluster::LiveOutcome;
use thule_core::config::{Applier, IgnoreRule};
use thule_core::{Manifest, ObjectKey};

/// Options of one diff.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// Which applier reconciles the objects (decides removal semantics, §2.3). `None`: per
    /// object, the applier [`thule_core::ownership::infer_applier`] reads from the live
    /// object's managedFields and annotations, else Flux (objects without live state too).
    pub applier: Option<Applier>,
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
    /// Keep [`ObjectPlan::state`](crate::ObjectPlan::state) (normalized sides and `P`) for a
    /// risk pass; off saves memory and time when only the rendered plan is needed.
    pub keep_state: bool,
    /// Threads for the per-object passes of large inputs: 0 = one per available core, 1 =
    /// only the calling thread. The plan is the same whatever the count.
    pub threads: usize,
    /// The operator's key for Secret value fingerprints (spec §6.2 rule 4): with one, each
    /// changed Secret key shows a short keyed HMAC-SHA256 of its old and new value, so
    /// reviewers see when values are equal; without one, no fingerprint is shown.
    pub fingerprint_key: Option<FingerprintKey>,
}

/// The key of Secret value fingerprints. Its bytes never appear in any output, `Debug`
/// included.
#[derive(Clone, PartialEq, Eq)]
pub struct FingerprintKey(Vec<u8>);

impl FingerprintKey {
    /// A key from its bytes (the operator's `THULE_FINGERPRINT_KEY`); `None` when empty.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<Self> {
        let bytes = bytes.into();
        (!bytes.is_empty()).then_some(Self(bytes))
    }

    /// The key's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FingerprintKey(..)")
    }
}

impl Default for DiffOptions {
    fn default() -> Self {
        Self {
            applier: None,
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
            fingerprint_key: None,
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
    /// Documents the caller matched byte-for-byte between base and desired and did not
    /// parse, when only their number is wanted: counted as no-ops.
    pub identical_skipped: usize,
    /// Objects of documents the caller matched byte-for-byte and identified without parsing
    /// ([`crate::input::identify_unchanged`]): no-ops, listed as such when no-ops are
    /// listed ([`DiffOptions::include_noop`]).
    pub identical: &'a [crate::input::Unchanged<'a>],
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
