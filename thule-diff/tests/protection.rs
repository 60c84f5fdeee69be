//! The engine's removal verdict agrees with `thule_core::ownership::protection`: an object
//! removed from the desired render is an orphan exactly when its live object carries a
//! protection marker, for every marker in its label and its annotation form (spec §2.3,
//! §7.2). Deletion candidates and the risk pass read the same function, so the three agree.

mod common;

use common::*;
use serde_json::{Value, json};
use thule_core::config::Applier;
use thule_core::ownership::{
    ARGO_SYNC_OPTIONS, FLUX_PRUNE, FLUX_RECONCILE, HELM_RESOURCE_POLICY, protection,
};
use thule_diff::{Action, Detail, ObjectPlan};

/// Every marker with its switching value, plus values that switch nothing.
const MARKERS: &[(&str, &str)] = &[
    (FLUX_PRUNE, "disabled"),
    (FLUX_PRUNE, "Disabled"),
    (FLUX_PRUNE, "enabled"),
    (FLUX_RECONCILE, "disabled"),
    (FLUX_RECONCILE, "DISABLED"),
    (FLUX_RECONCILE, "enabled"),
    (HELM_RESOURCE_POLICY, "keep"),
    (HELM_RESOURCE_POLICY, "delete"),
    (ARGO_SYNC_OPTIONS, "Prune=false"),
    (ARGO_SYNC_OPTIONS, "Delete=false"),
    (ARGO_SYNC_OPTIONS, "ServerSideApply=true, Delete=false"),
    (ARGO_SYNC_OPTIONS, "Prune=true"),
];

const PLACES: &[&str] = &["labels", "annotations"];

const APPLIERS: &[Applier] = &[
    Applier::Flux,
    Applier::Argocd,
    Applier::Helm,
    Applier::Kubectl,
];

fn config_map() -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "shop"}, "data": {"a": "1"}})
}

fn marked(place: &str, key: &str, value: &str) -> Value {
    let mut v = config_map();
    v["metadata"][place] = json!({ key: value });
    v
}

/// Orphan (`true`) or delete (`false`); anything else fails the test.
fn verdict(o: &ObjectPlan, case: &str) -> bool {
    match (o.action, o.detail) {
        (Action::Noop, Some(Detail::Orphan)) => true,
        (Action::Delete, None) => false,
        other => panic!(
            "{case}: neither orphan nor delete: {other:?}, notes {:?}",
            o.notes
        ),
    }
}

/// Check one removal: `object` is the marked object (live, or the base without a cluster).
fn check(applier: Applier, case: &str, object: &Value, plan: &thule_diff::Plan) -> bool {
    let o = only(plan);
    let protected = protection(object);
    assert_eq!(
        verdict(o, case),
        protected.is_some(),
        "{applier:?} {case}: the engine and thule_core::ownership::protection disagree; notes {:?}",
        o.notes
    );
    if let Some(p) = protected {
        assert_eq!(o.notes, [format!("protected by {p}")], "{applier:?} {case}");
    }
    protected.is_some()
}

#[test]
fn removal_against_live_follows_the_ownership_vocabulary() {
    let mut verdicts = Vec::new();
    for &applier in APPLIERS {
        for &(key, value) in MARKERS {
            for &place in PLACES {
                let case = format!("{place} {key}: {value}");
                let live = marked(place, key, value);
                // The base render holds the object unmarked: the live object decides.
                let plan = run(
                    &ctx(applier),
                    Some(config_map()),
                    None,
                    Live::Found(live.clone()),
                );
                verdicts.push(check(applier, &case, &live, &plan));
            }
        }
    }
    // Both verdicts occur, so the comparison above is not vacuous.
    assert!(verdicts.contains(&true) && verdicts.contains(&false));
}

#[test]
fn removal_without_a_cluster_reads_the_base_render() {
    for &(key, value) in MARKERS {
        for &place in PLACES {
            let case = format!("{place} {key}: {value}");
            let base = marked(place, key, value);
            let plan = run(
                &ctx(Applier::Flux),
                Some(base.clone()),
                None,
                Live::NoCluster,
            );
            check(Applier::Flux, &case, &base, &plan);
        }
    }
}

#[test]
fn the_notes_name_the_marker() {
    let cases = [
        (
            marked("labels", FLUX_RECONCILE, "disabled"),
            "protected by kustomize.toolkit.fluxcd.io/reconcile: disabled",
        ),
        (
            marked("annotations", ARGO_SYNC_OPTIONS, "Prune=false"),
            "protected by argocd.argoproj.io/sync-options: Prune=false",
        ),
        (
            marked("annotations", ARGO_SYNC_OPTIONS, "Delete=false"),
            "protected by argocd.argoproj.io/sync-options: Delete=false",
        ),
        (
            marked("annotations", FLUX_PRUNE, "Disabled"),
            "protected by kustomize.toolkit.fluxcd.io/prune: disabled",
        ),
        (
            marked("annotations", HELM_RESOURCE_POLICY, "keep"),
            "protected by helm.sh/resource-policy: keep",
        ),
    ];
    for (live, note) in cases {
        let plan = run(&fk(), Some(config_map()), None, Live::Found(live));
        let o = only(&plan);
        assert_eq!((o.action, o.detail), (Action::Noop, Some(Detail::Orphan)));
        assert_eq!(o.notes, [note]);
    }
}
