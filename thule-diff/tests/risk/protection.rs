//! `PROTECTION_REMOVED` ("protected in the base render but deleted now") gives the same
//! verdict as `thule_core::ownership::protection` on the base render, for every marker in
//! both places: the risk pass and the appliers' prune decisions share one answer.

use serde_json::{Value, json};
use thule_core::ownership::{
    ARGO_SYNC_OPTIONS, FLUX_PRUNE, FLUX_RECONCILE, HELM_RESOURCE_POLICY, protection,
};
use thule_diff::{Action, DiffOptions, Plan, RiskReport};

use crate::common::*;
use crate::support::*;

/// Every marker with the value that switches it on, and values that do not.
const MARKERS: &[(&str, &str, bool)] = &[
    (FLUX_PRUNE, "disabled", true),
    (FLUX_PRUNE, "Disabled", true),
    (FLUX_PRUNE, "enabled", false),
    (FLUX_RECONCILE, "disabled", true),
    (FLUX_RECONCILE, "enabled", false),
    (HELM_RESOURCE_POLICY, "keep", true),
    (HELM_RESOURCE_POLICY, "delete", false),
    (ARGO_SYNC_OPTIONS, "Prune=false", true),
    (ARGO_SYNC_OPTIONS, "Delete=false", true),
    (
        ARGO_SYNC_OPTIONS,
        "ServerSideApply=true, Delete=false",
        true,
    ),
    (ARGO_SYNC_OPTIONS, "Prune=true", false),
];

/// Where a marker goes: `metadata.labels` or `metadata.annotations`.
const PLACES: &[&str] = &["labels", "annotations"];

/// A ConfigMap the unit `apps` owns in live, without any marker.
fn live() -> Value {
    with_labels(
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "keep", "namespace": "shop"}, "data": {"a": "1"}}),
        &flux_labels("apps"),
    )
}

/// The plan and report of deleting the live ConfigMap whose base render carries `key: value`
/// in `place`: the marker is removed and the object deleted in the same change.
fn delete_after(place: &str, key: &str, value: &str) -> (Value, Plan, RiskReport) {
    let live = live();
    let mut base = live.clone();
    base["metadata"][place][key] = json!(value);
    let opts = DiffOptions {
        owner_labels: flux_labels("apps"),
        ..fk()
    };
    let (plan, report) = assessed(run(&opts, Some(base.clone()), None, Live::Found(live)));
    (base, plan, report)
}

#[test]
fn protection_removed_agrees_with_the_shared_protection_verdict() {
    for &(key, value, on) in MARKERS {
        for &place in PLACES {
            let (base, plan, report) = delete_after(place, key, value);
            let case = format!("{place} {key}: {value}");
            assert_eq!(
                only(&plan).action,
                Action::Delete,
                "{case}: the plan deletes"
            );
            let shared = protection(&base);
            let flagged: Vec<_> = report
                .flags
                .iter()
                .filter(|f| f.risk.id == "PROTECTION_REMOVED")
                .collect();
            assert_eq!(
                !flagged.is_empty(),
                shared.is_some(),
                "{case}: risk verdict {flagged:?} vs protection {shared:?}"
            );
            // Not vacuous: Flux reads both places, Helm and Argo CD annotations only.
            let flux = key.starts_with("kustomize.toolkit.fluxcd.io/");
            assert_eq!(
                shared.is_some(),
                on && (flux || place == "annotations"),
                "{case}: expected protection"
            );
            if let Some(p) = shared {
                let why = p.to_string();
                assert_eq!(flagged.len(), 1, "{case}");
                assert_eq!(flagged[0].evidence, [why.as_str()], "{case}");
                assert_eq!(
                    flagged[0].risk.message,
                    format!("protected in the base render ({why}) but deleted now"),
                    "{case}"
                );
            }
        }
    }
}

#[test]
fn argo_evidence_names_the_option_found() {
    for (options, shown) in [
        (
            "Prune=false",
            "argocd.argoproj.io/sync-options: Prune=false",
        ),
        (
            "Delete=false",
            "argocd.argoproj.io/sync-options: Delete=false",
        ),
    ] {
        let (_, _, report) = delete_after("annotations", ARGO_SYNC_OPTIONS, options);
        let ev: Vec<&str> = report
            .flags
            .iter()
            .filter(|f| f.risk.id == "PROTECTION_REMOVED")
            .flat_map(|f| f.evidence.iter().map(String::as_str))
            .collect();
        assert_eq!(ev, [shown]);
    }
}
