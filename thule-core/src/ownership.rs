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

/// The labels and annotations an applier stamps on every object it applies, which a render
/// never holds. Values depend on the applying unit (Kustomization, release, Application).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamps {
    /// Label keys.
    pub labels: &'static [&'static str],
    /// Annotation keys.
    pub annotations: &'static [&'static str],
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
        }
    }

    /// What the applier stamps on the objects it applies.
    pub fn stamps(self) -> Stamps {
        match self {
            Applier::Flux => Stamps {
                labels: &[FLUX_NAME, FLUX_NAMESPACE],
                annotations: &[],
            },
            Applier::Argocd | Applier::ArgocdSsa => Stamps {
                labels: &[],
                annotations: &[ARGO_TRACKING_ID],
            },
            Applier::Helm | Applier::HelmSsa => Stamps {
                labels: &[],
                annotations: &[HELM_RELEASE_NAME, HELM_RELEASE_NAMESPACE],
            },
            Applier::Kubectl => Stamps {
                labels: &[],
                annotations: &[],
            },
        }
    }
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
        assert_eq!(Applier::Flux.stamps().labels, [FLUX_NAME, FLUX_NAMESPACE]);
        assert_eq!(Applier::HelmSsa.field_manager(), "helm");
    }
}
