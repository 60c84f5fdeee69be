//! Ownership vocabulary: which applier owns a live object, what each applier stamps on the
//! objects it applies, what protects an object from being pruned, and the one label matcher.
//!
//! Every crate that asks "may this object be pruned?" or "does this project own that object?"
//! asks it here: thule-kube's deletion candidates, the diff engine's removal decision and the
//! risk pass. Keeping the answer in one place keeps their verdicts equal.
//!
//! The protection markers, and where each tool reads them:
//!
//! | marker | tool | read from |
//! |---|---|---|
//! | `kustomize.toolkit.fluxcd.io/prune: disabled` | Flux kustomize-controller | label or annotation |
//! | `kustomize.toolkit.fluxcd.io/reconcile: disabled` | Flux kustomize-controller | label or annotation |
//! | `helm.sh/resource-policy: keep` | Helm, helm-controller | annotation |
//! | `argocd.argoproj.io/sync-options: Prune=false` or `Delete=false` | Argo CD | annotation |
//!
//! Flux matches its values case-insensitively (`Disabled` works); Helm and Argo CD compare
//! exactly, and a label form of their markers protects nothing, as in the tools.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::config::Applier;

/// Flux's prune switch (label or annotation).
pub const FLUX_PRUNE: &str = "kustomize.toolkit.fluxcd.io/prune";
/// Flux's reconcile switch (label or annotation).
pub const FLUX_RECONCILE: &str = "kustomize.toolkit.fluxcd.io/reconcile";
/// Flux's server-side apply policy (`Merge`, `IfNotPresent`, `Ignore`).
pub const FLUX_SSA: &str = "kustomize.toolkit.fluxcd.io/ssa";
/// The label Flux's kustomize-controller stamps with the Kustomization's name.
pub const FLUX_NAME: &str = "kustomize.toolkit.fluxcd.io/name";
/// The label Flux's kustomize-controller stamps with the Kustomization's namespace.
pub const FLUX_NAMESPACE: &str = "kustomize.toolkit.fluxcd.io/namespace";
/// The label Flux's helm-controller stamps with the HelmRelease's name.
pub const FLUX_HELM_NAME: &str = "helm.toolkit.fluxcd.io/name";
/// The label Flux's helm-controller stamps with the HelmRelease's namespace.
pub const FLUX_HELM_NAMESPACE: &str = "helm.toolkit.fluxcd.io/namespace";
/// Helm's resource policy annotation (`keep`).
pub const HELM_RESOURCE_POLICY: &str = "helm.sh/resource-policy";
/// The annotation Helm stamps with the release name.
pub const HELM_RELEASE_NAME: &str = "meta.helm.sh/release-name";
/// The annotation Helm stamps with the release namespace.
pub const HELM_RELEASE_NAMESPACE: &str = "meta.helm.sh/release-namespace";
/// Argo CD's per-object sync options annotation.
pub const ARGO_SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";
/// Argo CD's annotation-mode tracking annotation.
pub const ARGO_TRACKING_ID: &str = "argocd.argoproj.io/tracking-id";
/// Argo CD's label-mode tracking label (also rendered by many charts: a weak signal).
pub const ARGO_INSTANCE: &str = "app.kubernetes.io/instance";
/// The label Helm-installed charts carry (`app.kubernetes.io/managed-by: Helm`).
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Client-side apply's record of what was applied last (kubectl, Argo CD's default sync).
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Where on an object a marker was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Place {
    /// `metadata.labels`.
    Label,
    /// `metadata.annotations`.
    Annotation,
}

/// Which marker protects an object from pruning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Marker {
    /// `kustomize.toolkit.fluxcd.io/prune: disabled`.
    FluxPruneDisabled,
    /// `kustomize.toolkit.fluxcd.io/reconcile: disabled`: Flux neither updates nor prunes it.
    FluxReconcileDisabled,
    /// `helm.sh/resource-policy: keep`.
    HelmKeep,
    /// `argocd.argoproj.io/sync-options` holding `Prune=false`.
    ArgoPruneFalse,
    /// `argocd.argoproj.io/sync-options` holding `Delete=false`.
    ArgoDeleteFalse,
}

impl Marker {
    /// The label or annotation key the marker lives under.
    pub fn key(self) -> &'static str {
        match self {
            Marker::FluxPruneDisabled => FLUX_PRUNE,
            Marker::FluxReconcileDisabled => FLUX_RECONCILE,
            Marker::HelmKeep => HELM_RESOURCE_POLICY,
            Marker::ArgoPruneFalse | Marker::ArgoDeleteFalse => ARGO_SYNC_OPTIONS,
        }
    }

    /// The value that switches the protection on (`disabled`, `keep`, `Prune=false`, ...).
    pub fn value(self) -> &'static str {
        match self {
            Marker::FluxPruneDisabled | Marker::FluxReconcileDisabled => "disabled",
            Marker::HelmKeep => "keep",
            Marker::ArgoPruneFalse => "Prune=false",
            Marker::ArgoDeleteFalse => "Delete=false",
        }
    }

    /// Whether the tool also reads the marker from a label (Flux does; Helm and Argo CD
    /// read annotations only).
    pub fn read_from_labels(self) -> bool {
        matches!(
            self,
            Marker::FluxPruneDisabled | Marker::FluxReconcileDisabled
        )
    }
}

/// A prune protection found on an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Protection {
    /// The marker.
    pub marker: Marker,
    /// Where it was found.
    pub place: Place,
}

impl fmt::Display for Protection {
    /// `kustomize.toolkit.fluxcd.io/prune: disabled`, `argocd.argoproj.io/sync-options: Prune=false`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.marker.key(), self.marker.value())
    }
}

/// A string label of an object (`metadata.labels[key]`).
pub fn label<'v>(object: &'v Value, key: &str) -> Option<&'v str> {
    object.get("metadata")?.get("labels")?.get(key)?.as_str()
}

/// A string annotation of an object (`metadata.annotations[key]`).
pub fn annotation<'v>(object: &'v Value, key: &str) -> Option<&'v str> {
    object
        .get("metadata")?
        .get("annotations")?
        .get(key)?
        .as_str()
}

/// A marker Flux reads from either place: the annotation first, then the label.
pub fn flux_flag<'v>(object: &'v Value, key: &str) -> Option<(&'v str, Place)> {
    annotation(object, key)
        .map(|v| (v, Place::Annotation))
        .or_else(|| label(object, key).map(|v| (v, Place::Label)))
}

/// Whether Flux's switch `key` is `disabled` on the object (either place, any case).
pub fn flux_disabled(object: &Value, key: &str) -> Option<Place> {
    flux_flag(object, key)
        .filter(|(v, _)| v.eq_ignore_ascii_case("disabled"))
        .map(|(_, place)| place)
}

/// The prune protection on an object, if any, in the order of the table in the module docs.
///
/// This is the one answer to "would the applier leave this object in the cluster when git no
/// longer has it?" that deletion candidates, the diff engine and the risk pass share.
pub fn protection(object: &Value) -> Option<Protection> {
    for marker in [Marker::FluxPruneDisabled, Marker::FluxReconcileDisabled] {
        if let Some(place) = flux_disabled(object, marker.key()) {
            return Some(Protection { marker, place });
        }
    }
    if annotation(object, HELM_RESOURCE_POLICY) == Some("keep") {
        return Some(Protection {
            marker: Marker::HelmKeep,
            place: Place::Annotation,
        });
    }
    if let Some(options) = annotation(object, ARGO_SYNC_OPTIONS) {
        for option in options.split(',').map(str::trim) {
            let marker = match option {
                "Prune=false" => Marker::ArgoPruneFalse,
                "Delete=false" => Marker::ArgoDeleteFalse,
                _ => continue,
            };
            return Some(Protection {
                marker,
                place: Place::Annotation,
            });
        }
    }
    None
}

/// One label or annotation an applier stamps on every object it applies, which a render
/// never holds: the applier writes it again on every apply, so a live object carrying it is
/// not a change (spec §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Label or annotation.
    pub place: Place,
    /// The key.
    pub key: &'static str,
    /// The value, when the applier always writes the same one (`Helm`); `None` when it
    /// depends on the applying unit (Kustomization, release, Application).
    pub value: Option<&'static str>,
    /// The appliers that stamp it.
    pub by: &'static [Applier],
}

/// Every key an applier stamps, with the appliers that stamp it:
///
/// | key | place | stamped by |
/// |---|---|---|
/// | `kustomize.toolkit.fluxcd.io/name`, `/namespace` | label | Flux kustomize-controller |
/// | `helm.toolkit.fluxcd.io/name`, `/namespace` | label | Flux helm-controller |
/// | `meta.helm.sh/release-name`, `/release-namespace` | annotation | Helm, helm-controller |
/// | `app.kubernetes.io/managed-by: Helm` | label | Helm, helm-controller |
/// | `argocd.argoproj.io/tracking-id` | annotation | Argo CD (annotation tracking) |
/// | `app.kubernetes.io/instance` | label | Argo CD (label tracking) |
/// | `kubectl.kubernetes.io/last-applied-configuration` | annotation | kubectl and Argo CD client-side apply |
pub const STAMPS: &[Stamp] = &[
    Stamp {
        place: Place::Label,
        key: FLUX_NAME,
        value: None,
        by: &[Applier::Flux],
    },
    Stamp {
        place: Place::Label,
        key: FLUX_NAMESPACE,
        value: None,
        by: &[Applier::Flux],
    },
    Stamp {
        place: Place::Label,
        key: FLUX_HELM_NAME,
        value: None,
        by: &[Applier::Helm],
    },
    Stamp {
        place: Place::Label,
        key: FLUX_HELM_NAMESPACE,
        value: None,
        by: &[Applier::Helm],
    },
    Stamp {
        place: Place::Annotation,
        key: HELM_RELEASE_NAME,
        value: None,
        by: &[Applier::Helm, Applier::HelmSsa],
    },
    Stamp {
        place: Place::Annotation,
        key: HELM_RELEASE_NAMESPACE,
        value: None,
        by: &[Applier::Helm, Applier::HelmSsa],
    },
    Stamp {
        place: Place::Label,
        key: MANAGED_BY,
        value: Some("Helm"),
        by: &[Applier::Helm, Applier::HelmSsa],
    },
    Stamp {
        place: Place::Annotation,
        key: ARGO_TRACKING_ID,
        value: None,
        by: &[Applier::Argocd, Applier::ArgocdSsa],
    },
    Stamp {
        place: Place::Label,
        key: ARGO_INSTANCE,
        value: None,
        by: &[Applier::Argocd, Applier::ArgocdSsa],
    },
    Stamp {
        place: Place::Annotation,
        key: LAST_APPLIED,
        value: None,
        by: &[Applier::Argocd, Applier::Kubectl],
    },
];

/// The stamps a live object carries that the render does not set, as `(place, key, value)`
/// with live's value: whichever applier stamped them writes them again, so they are never a
/// change. A stamped key the render sets itself is the render's (its change still shows).
/// Stamps of every applier count, not only the one applying now: a stamp another tool left
/// is kept by any apply that does not own it.
pub fn absent_stamps<'v>(render: &Value, live: &'v Value) -> Vec<(Place, &'static str, &'v str)> {
    STAMPS
        .iter()
        .filter_map(|s| {
            let (have, live_value) = match s.place {
                Place::Label => (label_value(render, s.key), label(live, s.key)?),
                Place::Annotation => (annotation_value(render, s.key), annotation(live, s.key)?),
            };
            let matches = s.value.is_none_or(|v| v == live_value);
            (have.is_none() && matches).then_some((s.place, s.key, live_value))
        })
        .collect()
}

fn label_value<'v>(object: &'v Value, key: &str) -> Option<&'v Value> {
    object.get("metadata")?.get("labels")?.get(key)
}

fn annotation_value<'v>(object: &'v Value, key: &str) -> Option<&'v Value> {
    object.get("metadata")?.get("annotations")?.get(key)
}

/// Every marker of ownership an applier leaves on objects, as `(place, key)`: the evidence
/// [`owner_of`] reads.
pub const OWNER_MARKERS: &[(Place, &str)] = &[
    (Place::Label, FLUX_NAME),
    (Place::Label, FLUX_HELM_NAME),
    (Place::Annotation, HELM_RELEASE_NAME),
    (Place::Annotation, ARGO_TRACKING_ID),
];

/// Which tool's ownership marker an object carries, if any: the first of [`OWNER_MARKERS`]
/// present, as `(place, key, value)`.
pub fn owner_of(object: &Value) -> Option<(Place, &'static str, &str)> {
    OWNER_MARKERS.iter().find_map(|&(place, key)| {
        let value = match place {
            Place::Label => label(object, key),
            Place::Annotation => annotation(object, key),
        }?;
        Some((place, key, value))
    })
}

impl Applier {
    /// The field manager the applier writes with, as recorded in `managedFields`.
    pub fn field_manager(self) -> &'static str {
        match self {
            Applier::Flux => "kustomize-controller",
            Applier::Argocd | Applier::ArgocdSsa => "argocd-controller",
            Applier::Helm => "helm-controller",
            Applier::HelmSsa => "helm",
            Applier::Kubectl => "kubectl-client-side-apply",
            Applier::KubectlSsa => "kubectl",
        }
    }

    /// The name users write in `diff.applier` and `--applier` (`argocd-ssa`).
    pub fn name(self) -> &'static str {
        match self {
            Applier::Flux => "flux",
            Applier::Argocd => "argocd",
            Applier::ArgocdSsa => "argocd-ssa",
            Applier::Helm => "helm",
            Applier::HelmSsa => "helm-ssa",
            Applier::Kubectl => "kubectl",
            Applier::KubectlSsa => "kubectl-ssa",
        }
    }

    /// Whether the applier writes with server-side apply.
    pub fn server_side(self) -> bool {
        matches!(
            self,
            Applier::Flux | Applier::ArgocdSsa | Applier::HelmSsa | Applier::KubectlSsa
        )
    }

    /// What the applier stamps on the objects it applies (see [`STAMPS`]).
    pub fn stamps(self) -> Vec<Stamp> {
        STAMPS
            .iter()
            .filter(|s| s.by.contains(&self))
            .copied()
            .collect()
    }
}

impl fmt::Display for Applier {
    /// The name users write (`argocd-ssa`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a field manager in `managedFields` tells which applier wrote an object. The tier
/// orders evidence: a GitOps controller (tier 0) outranks the Helm CLI (1), which outranks
/// kubectl (2), because people run the CLIs by hand on objects a controller reconciles.
const MANAGERS: &[(&str, Option<&str>, Applier, u8)] = &[
    ("kustomize-controller", None, Applier::Flux, 0),
    ("helm-controller", None, Applier::Helm, 0),
    ("argocd-controller", Some("Apply"), Applier::ArgocdSsa, 0),
    ("argocd-controller", Some("Update"), Applier::Argocd, 0),
    ("helm", Some("Apply"), Applier::HelmSsa, 1),
    ("helm", Some("Update"), Applier::Helm, 1),
    ("kubectl", Some("Apply"), Applier::KubectlSsa, 2),
    ("kubectl-client-side-apply", None, Applier::Kubectl, 2),
];

/// Which applier wrote a live object, read from its `metadata.managedFields` and its
/// annotations and labels, when neither the project nor the command line says.
///
/// 1. `managedFields` entries of the object itself (not of a subresource) by a known field
///    manager: `kustomize-controller` → Flux; `helm-controller` → Flux's helm-controller
///    ([`Applier::Helm`]); `argocd-controller` with operation `Apply` → Argo CD server-side
///    apply, with `Update` → Argo CD client-side apply; `helm` with `Apply` → Helm 4
///    server-side apply, with `Update` → Helm 3; `kubectl` with `Apply` → kubectl
///    server-side apply; `kubectl-client-side-apply` → kubectl. A GitOps controller outranks
///    the Helm CLI, which outranks kubectl; within a tier the most recent entry (`time`)
///    wins, then the order of that list.
/// 2. Without such an entry: Flux's kustomize-controller or helm-controller labels; then
///    `kubectl.kubernetes.io/last-applied-configuration` (client-side apply), by Argo CD when
///    Argo CD's tracking annotation or label is there, else by kubectl; then Helm's release
///    annotations (Helm 3); then Argo CD's tracking annotation (its default client-side
///    sync).
/// 3. Otherwise `None`.
pub fn infer_applier(live: &Value) -> Option<Applier> {
    if let Some(applier) = applier_from_managed_fields(live) {
        return Some(applier);
    }
    if label(live, FLUX_NAME).is_some() {
        return Some(Applier::Flux);
    }
    if label(live, FLUX_HELM_NAME).is_some() {
        return Some(Applier::Helm);
    }
    let argo_tracked =
        annotation(live, ARGO_TRACKING_ID).is_some() || label(live, ARGO_INSTANCE).is_some();
    if annotation(live, LAST_APPLIED).is_some() {
        return Some(if argo_tracked {
            Applier::Argocd
        } else {
            Applier::Kubectl
        });
    }
    if annotation(live, HELM_RELEASE_NAME).is_some() {
        return Some(Applier::Helm);
    }
    if annotation(live, ARGO_TRACKING_ID).is_some() {
        return Some(Applier::Argocd);
    }
    None
}

/// How an entry ranks as evidence: tier, newest first, position in [`MANAGERS`] (lower wins).
type Rank<'v> = (u8, std::cmp::Reverse<&'v str>, usize);

fn applier_from_managed_fields(live: &Value) -> Option<Applier> {
    let entries = live.get("metadata")?.get("managedFields")?.as_array()?;
    // (tier, newest time first, list position) of the best entry so far.
    let mut best: Option<(Rank<'_>, Applier)> = None;
    for e in entries {
        let subresource = e.get("subresource").and_then(Value::as_str).unwrap_or("");
        if !subresource.is_empty() {
            continue;
        }
        let manager = e.get("manager").and_then(Value::as_str).unwrap_or("");
        let operation = e.get("operation").and_then(Value::as_str).unwrap_or("");
        let time = e.get("time").and_then(Value::as_str).unwrap_or("");
        let found = MANAGERS
            .iter()
            .enumerate()
            .find(|(_, (m, op, _, _))| *m == manager && op.is_none_or(|op| op == operation));
        if let Some((position, &(_, _, applier, tier))) = found {
            let rank = (tier, std::cmp::Reverse(time), position);
            if best.as_ref().is_none_or(|(b, _)| rank < *b) {
                best = Some((rank, applier));
            }
        }
    }
    best.map(|(_, applier)| applier)
}

/// Whether the object carries every one of `labels` with exactly that value (an equality
/// selector, as `matchLabels` and `kubectl get -l k=v,...`). An empty set matches everything.
pub fn labels_match(object: &Value, labels: &BTreeMap<String, String>) -> bool {
    let have = object.get("metadata").and_then(|m| m.get("labels"));
    labels.iter().all(|(k, v)| {
        have.and_then(|l| l.get(k))
            .and_then(Value::as_str)
            .is_some_and(|x| x == v)
    })
}

/// The keys of `labels` the object lacks or carries with another value, in key order.
pub fn missing_labels<'l>(object: &Value, labels: &'l BTreeMap<String, String>) -> Vec<&'l str> {
    labels
        .iter()
        .filter(|(k, v)| label(object, k) != Some(v.as_str()))
        .map(|(k, _)| k.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn with(place: &str, key: &str, value: &str) -> Value {
        json!({"metadata": {place: {key: value}}})
    }

    #[test]
    fn flux_markers_protect_in_either_place_and_any_case() {
        for key in [FLUX_PRUNE, FLUX_RECONCILE] {
            for place in ["labels", "annotations"] {
                let p = protection(&with(place, key, "Disabled")).expect("protected");
                assert_eq!(p.marker.key(), key);
                let want = if place == "labels" {
                    Place::Label
                } else {
                    Place::Annotation
                };
                assert_eq!(p.place, want);
            }
            assert_eq!(protection(&with("labels", key, "enabled")), None);
        }
    }

    #[test]
    fn helm_and_argo_markers_protect_only_as_annotations() {
        let keep = protection(&with("annotations", HELM_RESOURCE_POLICY, "keep")).unwrap();
        assert_eq!(keep.to_string(), "helm.sh/resource-policy: keep");
        assert_eq!(
            protection(&with("labels", HELM_RESOURCE_POLICY, "keep")),
            None
        );
        let argo = protection(&with(
            "annotations",
            ARGO_SYNC_OPTIONS,
            "ServerSideApply=true, Delete=false",
        ))
        .unwrap();
        assert_eq!(argo.marker, Marker::ArgoDeleteFalse);
        assert_eq!(
            argo.to_string(),
            "argocd.argoproj.io/sync-options: Delete=false"
        );
        assert_eq!(
            protection(&with("labels", ARGO_SYNC_OPTIONS, "Prune=false")),
            None
        );
        assert_eq!(
            protection(&with("annotations", ARGO_SYNC_OPTIONS, "Prune=true")),
            None
        );
    }

    #[test]
    fn labels_match_is_an_equality_selector() {
        let obj = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        let sel = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert!(labels_match(&obj, &sel(&[])));
        assert!(labels_match(&obj, &sel(&[("a", "1"), ("b", "2")])));
        assert!(!labels_match(&obj, &sel(&[("a", "2")])));
        assert!(!labels_match(&json!({}), &sel(&[("a", "1")])));
        assert_eq!(
            missing_labels(&obj, &sel(&[("a", "2"), ("b", "2"), ("c", "3")])),
            ["a", "c"]
        );
    }

    #[test]
    fn owner_markers_name_the_tool() {
        let flux = with("labels", FLUX_NAME, "apps");
        assert_eq!(owner_of(&flux), Some((Place::Label, FLUX_NAME, "apps")));
        assert_eq!(owner_of(&with("labels", HELM_RELEASE_NAME, "x")), None);
        let keys: Vec<&str> = Applier::Flux.stamps().iter().map(|s| s.key).collect();
        assert_eq!(keys, [FLUX_NAME, FLUX_NAMESPACE]);
        assert_eq!(Applier::HelmSsa.field_manager(), "helm");
    }

    fn managed(entries: &[(&str, &str, &str)]) -> Value {
        let mf: Vec<Value> = entries
            .iter()
            .map(|(m, op, time)| json!({"manager": m, "operation": op, "time": time, "fieldsType": "FieldsV1", "fieldsV1": {}}))
            .collect();
        json!({"metadata": {"managedFields": mf}})
    }

    #[test]
    fn the_applier_is_inferred_from_managed_fields() {
        let t = "2024-01-01T00:00:00Z";
        for (manager, op, want) in [
            ("kustomize-controller", "Apply", Applier::Flux),
            ("helm-controller", "Update", Applier::Helm),
            ("argocd-controller", "Apply", Applier::ArgocdSsa),
            ("argocd-controller", "Update", Applier::Argocd),
            ("helm", "Apply", Applier::HelmSsa),
            ("helm", "Update", Applier::Helm),
            ("kubectl", "Apply", Applier::KubectlSsa),
            ("kubectl-client-side-apply", "Update", Applier::Kubectl),
        ] {
            assert_eq!(
                infer_applier(&managed(&[(manager, op, t)])),
                Some(want),
                "{manager} {op}"
            );
        }
        // A controller outranks the CLIs run by hand, whatever their times.
        let flux_then_kubectl = managed(&[
            (
                "kubectl-client-side-apply",
                "Update",
                "2025-01-01T00:00:00Z",
            ),
            ("kustomize-controller", "Apply", t),
        ]);
        assert_eq!(infer_applier(&flux_then_kubectl), Some(Applier::Flux));
        // Between controllers the newest entry wins (an Argo CD → Flux migration).
        let migrated = managed(&[
            ("argocd-controller", "Update", t),
            ("kustomize-controller", "Apply", "2025-01-01T00:00:00Z"),
        ]);
        assert_eq!(infer_applier(&migrated), Some(Applier::Flux));
        // Status writers and unknown managers say nothing.
        let mut status = managed(&[("kustomize-controller", "Apply", t)]);
        status["metadata"]["managedFields"][0]["subresource"] = json!("status");
        assert_eq!(infer_applier(&status), None);
        assert_eq!(infer_applier(&managed(&[("main", "Update", t)])), None);
    }

    #[test]
    fn without_managed_fields_annotations_and_labels_tell() {
        let last_applied = with("annotations", LAST_APPLIED, "{}");
        assert_eq!(infer_applier(&last_applied), Some(Applier::Kubectl));
        let mut argo = last_applied.clone();
        argo["metadata"]["labels"] = json!({ARGO_INSTANCE: "app"});
        assert_eq!(infer_applier(&argo), Some(Applier::Argocd));
        assert_eq!(
            infer_applier(&with("labels", FLUX_NAME, "apps")),
            Some(Applier::Flux)
        );
        assert_eq!(
            infer_applier(&with("labels", FLUX_HELM_NAME, "web")),
            Some(Applier::Helm)
        );
        assert_eq!(
            infer_applier(&with("annotations", HELM_RELEASE_NAME, "web")),
            Some(Applier::Helm)
        );
        assert_eq!(
            infer_applier(&with("annotations", ARGO_TRACKING_ID, "a:/ConfigMap:ns/x")),
            Some(Applier::Argocd)
        );
        assert_eq!(infer_applier(&json!({"metadata": {"name": "x"}})), None);
    }

    #[test]
    fn absent_stamps_are_the_live_ones_the_render_lacks() {
        let live = json!({"metadata": {
            "labels": {FLUX_NAME: "apps", FLUX_NAMESPACE: "flux-system", MANAGED_BY: "Helm", "app": "web"},
            "annotations": {HELM_RELEASE_NAME: "web", ARGO_TRACKING_ID: "a:apps/Deployment:ns/web"}
        }});
        let render = json!({"metadata": {"labels": {FLUX_NAME: "other", "app": "web"}}});
        let got = absent_stamps(&render, &live);
        assert_eq!(
            got,
            [
                (Place::Label, FLUX_NAMESPACE, "flux-system"),
                (Place::Annotation, HELM_RELEASE_NAME, "web"),
                (Place::Label, MANAGED_BY, "Helm"),
                (
                    Place::Annotation,
                    ARGO_TRACKING_ID,
                    "a:apps/Deployment:ns/web"
                ),
            ]
        );
        // `managed-by` is Helm's stamp only with Helm's value.
        let kustomize = json!({"metadata": {"labels": {MANAGED_BY: "kustomize"}}});
        assert!(absent_stamps(&json!({}), &kustomize).is_empty());
        // Every stamp names who stamps it.
        assert!(STAMPS.iter().all(|s| !s.by.is_empty()));
        assert_eq!(Applier::ArgocdSsa.to_string(), "argocd-ssa");
    }
}
