//! Deletion candidates (spec/diff-semantics.md §7): objects in the cluster that a project owns
//! but the merge request no longer renders.
//!
//! Two sources feed the candidates:
//! - the base render: `keys(D0) − keys(D1)`;
//! - ownership labels configured per project (Flux `kustomize.toolkit.fluxcd.io/name` +
//!   `/namespace`, Argo CD `app.kubernetes.io/instance`): objects listed read-only with those
//!   labels whose key is not in `D1`.
//!
//! Every candidate is then confirmed with a read before it is reported. The decision is pure:
//! [`candidate_refs`] picks what to confirm, [`deletion_candidates`] turns the confirming
//! read into verdicts; [`find_deletion_candidates`] runs the two around a [`ClusterReader`].
//!
//! Whether a confirmed object is protected from pruning is thule-core's shared answer,
//! [`thule_core::ownership::protection`]: Flux's `prune`/`reconcile: disabled` as a label or
//! an annotation, Helm's `resource-policy: keep` and Argo CD's `sync-options`
//! (`Prune=false`, `Delete=false`) as annotations only, which is how those tools read them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;
use thule_core::cluster::{
    ClusterReader, LiveOutcome, ObjectRef, OwnedList, OwnedQuery, ReadError,
};
use thule_core::object::{Manifest, ObjectKey, Origin};
use thule_core::ownership::labels_match;

// The markers are thule-core's ownership vocabulary, shared with the diff engine and the risk
// pass so their verdicts agree; re-exported here so existing paths keep working.
pub use thule_core::ownership::{
    ARGO_INSTANCE, FLUX_NAME, FLUX_NAMESPACE, FLUX_PRUNE, FLUX_RECONCILE, Protection, protection,
};

/// How a project marks the live objects it applied: all of these labels, with these values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ownership {
    /// Labels every owned object carries. Empty: the project has no ownership labels, and
    /// only the base render yields candidates (which are then taken as owned).
    pub labels: BTreeMap<String, String>,
}

impl Ownership {
    /// A Flux Kustomization `namespace/name`.
    pub fn flux_kustomization(name: &str, namespace: &str) -> Self {
        Self {
            labels: BTreeMap::from([
                (FLUX_NAME.to_owned(), name.to_owned()),
                (FLUX_NAMESPACE.to_owned(), namespace.to_owned()),
            ]),
        }
    }

    /// An Argo CD Application in label tracking mode. The label is a weak signal (charts
    /// render it themselves, §7.2): prefer confirming keys against the Application's
    /// `status.resources` where available.
    pub fn argo_instance(app: &str) -> Self {
        Self {
            labels: BTreeMap::from([(ARGO_INSTANCE.to_owned(), app.to_owned())]),
        }
    }

    /// Whether `object` carries every ownership label. Always false without labels.
    pub fn owns(&self, object: &Value) -> bool {
        !self.labels.is_empty() && labels_match(object, &self.labels)
    }

    /// The label queries to list owned objects of these `(apiVersion, kind)`s, in `namespace`
    /// (`None`: all namespaces).
    pub fn queries(&self, kinds: &[(String, String)], namespace: Option<&str>) -> Vec<OwnedQuery> {
        if self.labels.is_empty() {
            return Vec::new();
        }
        kinds
            .iter()
            .map(|(api_version, kind)| OwnedQuery {
                api_version: api_version.clone(),
                kind: kind.clone(),
                namespace: namespace.map(str::to_owned),
                labels: self.labels.clone(),
            })
            .collect()
    }
}

impl fmt::Display for Ownership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Where a candidate came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CandidateSources {
    /// In the base render (`D0`) but not in the MR's render (`D1`).
    pub base_render: bool,
    /// Listed in the cluster with the project's ownership labels, not in `D1`.
    pub ownership_labels: bool,
}

/// What the plan should say about one candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Owned, unprotected, present: the applier will delete it.
    Delete,
    /// Owned but protected (prune disabled and friends, see [`protection`]): it stays in the
    /// cluster, orphaned.
    Orphan {
        /// The [`Protection`]'s display, e.g. `kustomize.toolkit.fluxcd.io/prune: disabled`
        /// or `argocd.argoproj.io/sync-options: Prune=false`.
        reason: String,
    },
    /// Not in the cluster (404): nothing to delete.
    AlreadyAbsent,
    /// In the base render but the live object lacks the project's ownership labels: the
    /// applier will not prune it.
    NotOwned {
        /// Which labels are missing or differ.
        reason: String,
    },
    /// The confirming read could not tell (forbidden, not served, error).
    Unknown {
        /// Why.
        reason: String,
    },
}

/// One deletion candidate, confirmed.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// Identity.
    pub key: ObjectKey,
    /// The `apiVersion` it was read through.
    pub api_version: String,
    /// Where it came from.
    pub sources: CandidateSources,
    /// What happens to it.
    pub verdict: Verdict,
    /// The live object carries a `deletionTimestamp` (already terminating).
    pub terminating: bool,
}

/// The result of [`find_deletion_candidates`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeletionReport {
    /// Candidates in canonical key order.
    pub candidates: Vec<Candidate>,
    /// Kinds whose owned objects could not be listed, with why (forbidden, not served): the
    /// plan cannot promise there are no deletions of these.
    pub unchecked: Vec<(OwnedQuery, String)>,
}

fn controller_owned(object: &Value) -> bool {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        })
}

/// Step 1 (pure): the objects to confirm. Base-render candidates are `base − desired`; label
/// candidates are listed objects that carry every ownership label, are not in `desired`, and
/// are not controller-owned (a ReplicaSet or Pod inherits `app.kubernetes.io/instance` from its
/// template, but the applier never applied it). Ordered by key; one entry per key.
pub fn candidate_refs(
    base: &[ObjectRef],
    desired: &BTreeSet<ObjectKey>,
    owned_listed: &[Value],
    ownership: &Ownership,
) -> Vec<(ObjectRef, CandidateSources)> {
    let mut out: BTreeMap<ObjectKey, (ObjectRef, CandidateSources)> = BTreeMap::new();
    for r in base.iter().filter(|r| !desired.contains(&r.key)) {
        out.entry(r.key.clone())
            .or_insert_with(|| {
                (
                    ObjectRef::new(r.api_version.clone(), r.key.clone()),
                    CandidateSources::default(),
                )
            })
            .1
            .base_render = true;
    }
    for object in owned_listed {
        if !ownership.owns(object) || controller_owned(object) {
            continue;
        }
        let Ok(m) = Manifest::from_value(object.clone(), Origin::default()) else {
            continue;
        };
        if desired.contains(&m.key) {
            continue;
        }
        out.entry(m.key.clone())
            .or_insert_with(|| {
                (
                    ObjectRef::new(m.api_version, m.key),
                    CandidateSources::default(),
                )
            })
            .1
            .ownership_labels = true;
    }
    out.into_values().collect()
}

/// Step 2 (pure): verdicts from the confirming read of [`candidate_refs`]' objects.
///
/// Absent → [`Verdict::AlreadyAbsent`]; forbidden, not served, error or missing from
/// `confirmed` → [`Verdict::Unknown`]; found without the ownership labels (when the project
/// has some) → [`Verdict::NotOwned`]; found and protected → [`Verdict::Orphan`]; else
/// [`Verdict::Delete`].
pub fn deletion_candidates(
    candidates: &[(ObjectRef, CandidateSources)],
    confirmed: &BTreeMap<ObjectKey, LiveOutcome>,
    ownership: &Ownership,
) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = candidates
        .iter()
        .map(|(r, sources)| {
            let mut terminating = false;
            let verdict = match confirmed.get(&r.key) {
                None => Verdict::Unknown {
                    reason: "not confirmed by a read".to_owned(),
                },
                Some(LiveOutcome::Absent) => Verdict::AlreadyAbsent,
                Some(LiveOutcome::Forbidden { message }) => Verdict::Unknown {
                    reason: format!("forbidden: {message}"),
                },
                Some(LiveOutcome::NotServed { message }) => Verdict::Unknown {
                    reason: format!("not served: {message}"),
                },
                Some(LiveOutcome::Error { message }) => Verdict::Unknown {
                    reason: message.clone(),
                },
                Some(LiveOutcome::Found(live)) => {
                    terminating = live.pointer("/metadata/deletionTimestamp").is_some();
                    if !ownership.labels.is_empty() && !ownership.owns(live) {
                        let missing =
                            thule_core::ownership::missing_labels(live, &ownership.labels)
                                .into_iter()
                                .map(|k| format!("{k}={}", ownership.labels[k]))
                                .collect::<Vec<_>>()
                                .join(", ");
                        Verdict::NotOwned {
                            reason: format!("the live object lacks the labels {missing}"),
                        }
                    } else if let Some(found) = protection(live) {
                        Verdict::Orphan {
                            reason: found.to_string(),
                        }
                    } else {
                        Verdict::Delete
                    }
                }
                Some(_) => Verdict::Unknown {
                    reason: "the read returned an outcome this version does not know".to_owned(),
                },
            };
            Candidate {
                key: r.key.clone(),
                api_version: r.api_version.clone(),
                sources: *sources,
                verdict,
                terminating,
            }
        })
        .collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// Find and confirm a project's deletion candidates through `reader` (read-only).
///
/// `base` are the base render's objects (namespaces resolved), `desired` the keys of the MR's
/// render, `owned_kinds` the `(apiVersion, kind)`s to list by ownership label (typically the
/// kinds of `D0 ∪ D1`), in `namespace` (`None`: all namespaces).
///
/// # Errors
/// When the reader fails as a whole (unreachable, deadline).
pub async fn find_deletion_candidates(
    reader: &dyn ClusterReader,
    base: &[ObjectRef],
    desired: &BTreeSet<ObjectKey>,
    ownership: &Ownership,
    owned_kinds: &[(String, String)],
    namespace: Option<&str>,
) -> Result<DeletionReport, ReadError> {
    let mut listed = Vec::new();
    let mut unchecked = Vec::new();
    for query in ownership.queries(owned_kinds, namespace) {
        match reader.list_owned(&query).await? {
            OwnedList::Listed(objects) => listed.extend(objects),
            OwnedList::Forbidden { message } => {
                unchecked.push((query, format!("forbidden: {message}")));
            }
            OwnedList::NotServed { .. } => {}
            _ => unchecked.push((query, "unrecognised list outcome".to_owned())),
        }
    }
    let refs = candidate_refs(base, desired, &listed, ownership);
    let to_read: Vec<ObjectRef> = refs.iter().map(|(r, _)| r.clone()).collect();
    let confirmed = if to_read.is_empty() {
        BTreeMap::new()
    } else {
        reader.read(&to_read).await?
    };
    Ok(DeletionReport {
        candidates: deletion_candidates(&refs, &confirmed, ownership),
        unchecked,
    })
}
