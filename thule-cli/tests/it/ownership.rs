//! One ownership vocabulary: for every prune-protection marker (Flux prune and reconcile,
//! Helm resource-policy, Argo CD sync-options; as a label and as an annotation), thule-kube's
//! deletion candidates, the diff engine and the risk pass give the same verdict, and it is
//! the verdict of `thule_core::ownership::protection` and of the tools themselves (Flux reads
//! both places; Helm and Argo CD read annotations only).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use thule_core::cluster::{LiveOutcome, ObjectRef};
use thule_core::ownership::{
    ARGO_SYNC_OPTIONS, FLUX_PRUNE, FLUX_RECONCILE, HELM_RESOURCE_POLICY, protection,
};
use thule_core::{Manifest, ObjectKey, Origin};
use thule_diff::{Action, DiffInput, DiffOptions, RiskContext};
use thule_kube::deletion::{CandidateSources, Ownership, Verdict, deletion_candidates};

/// `(key, value, place, protected as the tools read it)`.
const CASES: &[(&str, &str, &str, bool)] = &[
    (FLUX_PRUNE, "disabled", "labels", true),
    (FLUX_PRUNE, "disabled", "annotations", true),
    (FLUX_PRUNE, "Disabled", "annotations", true),
    (FLUX_RECONCILE, "disabled", "labels", true),
    (FLUX_RECONCILE, "disabled", "annotations", true),
    (HELM_RESOURCE_POLICY, "keep", "annotations", true),
    (HELM_RESOURCE_POLICY, "keep", "labels", false),
    (ARGO_SYNC_OPTIONS, "Prune=false", "annotations", true),
    (ARGO_SYNC_OPTIONS, "Delete=false", "annotations", true),
    (ARGO_SYNC_OPTIONS, "Prune=false", "labels", false),
    (ARGO_SYNC_OPTIONS, "Prune=true", "annotations", false),
    (FLUX_PRUNE, "enabled", "annotations", false),
];

fn config_map(marker: Option<(&str, &str, &str)>) -> Value {
    let mut obj = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "keep", "namespace": "shop",
            "labels": {"kustomize.toolkit.fluxcd.io/name": "apps"}},
        "data": {"a": "1"},
    });
    if let Some((key, value, place)) = marker {
        obj["metadata"][place][key] = json!(value);
    }
    obj
}

fn manifest(obj: &Value) -> Manifest {
    Manifest::from_value(obj.clone(), Origin::default()).unwrap()
}

/// Deletion candidates: the base render had the object, the MR removes it, live carries the
/// marker.
fn candidates_protect(live: &Value) -> bool {
    let key = ObjectKey::from_api_version("v1", "ConfigMap", "shop", "keep");
    let candidate = (
        ObjectRef::new("v1", key.clone()),
        CandidateSources {
            base_render: true,
            ownership_labels: false,
        },
    );
    let confirmed = BTreeMap::from([(key, LiveOutcome::Found(live.clone()))]);
    let out = deletion_candidates(&[candidate], &confirmed, &Ownership::default());
    match &out[0].verdict {
        Verdict::Orphan { .. } => true,
        Verdict::Delete => false,
        other => panic!("unexpected verdict {other:?}"),
    }
}

fn diff(base: &Value, live: &Value) -> thule_diff::Plan {
    let base = vec![manifest(base)];
    let live = BTreeMap::from([(
        ObjectKey::from_api_version("v1", "ConfigMap", "shop", "keep"),
        LiveOutcome::Found(live.clone()),
    )]);
    let options = DiffOptions {
        keep_state: true,
        ..DiffOptions::default()
    };
    thule_diff::diff(&DiffInput {
        base: Some(&base),
        desired: &[],
        live: Some(&live),
        inventory: None,
        identical_skipped: 0,
        identical: &[],
        options: &options,
    })
    .unwrap()
}

/// The engine: same inputs; an orphan when protected, a delete otherwise.
fn engine_protects(obj: &Value) -> bool {
    let plan = diff(obj, obj);
    let o = &plan.objects[0];
    match o.action {
        Action::Delete => false,
        Action::Noop => true,
        other => panic!("unexpected action {other:?}"),
    }
}

/// The risk pass: the base render carried the marker, live no longer does, the object is
/// deleted: `PROTECTION_REMOVED` is raised exactly when the base object was protected.
fn risk_protects(base: &Value) -> bool {
    let mut plan = diff(base, &config_map(None));
    assert_eq!(plan.objects[0].action, Action::Delete);
    let report = thule_diff::assess(&mut plan, &RiskContext::default());
    report
        .flags
        .iter()
        .any(|f| f.risk.id == "PROTECTION_REMOVED")
}

#[test]
fn every_marker_gets_one_verdict_from_candidates_engine_and_risk() {
    for &(key, value, place, expected) in CASES {
        let obj = config_map(Some((key, value, place)));
        let case = format!("{place} {key}: {value}");
        assert_eq!(protection(&obj).is_some(), expected, "{case}: thule-core");
        assert_eq!(
            candidates_protect(&obj),
            expected,
            "{case}: deletion candidates"
        );
        assert_eq!(engine_protects(&obj), expected, "{case}: diff engine");
        assert_eq!(risk_protects(&obj), expected, "{case}: risk pass");
    }
}
