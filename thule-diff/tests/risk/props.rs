//! Property: removing a change from a diff never raises the highest severity. A diff is built
//! from a live Deployment and a set of edits to it; dropping any one edit (one change, or the
//! group of changes it causes) must not give a more severe plan. The edits touch disjoint
//! paths, so dropping one removes exactly its own changes.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{Value, json};
use thule_core::config::Applier;
use thule_diff::Severity;
use thule_diff::risk::{RiskContext, assess};

use crate::common::*;

fn live() -> Value {
    deployment(json!([{"name": "web", "image": "app:1",
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
        "resources": {"limits": {"memory": "1Gi"}}}]))
}

type Edit = fn(&mut Value);

const EDITS: &[Edit] = &[
    |d| d["spec"]["replicas"] = json!(0),
    |d| {
        d["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] =
            json!(true)
    },
    |d| d["spec"]["template"]["spec"]["hostNetwork"] = json!(true),
    |d| d["spec"]["strategy"] = json!({"type": "Recreate"}),
    |d| d["spec"]["selector"]["matchLabels"]["tier"] = json!("fe"),
    |d| {
        d["spec"]["template"]["spec"]["containers"][0]["env"] =
            json!([{"name": "DB_PASSWORD", "value": "pw-123456789"}])
    },
    |d| {
        d["spec"]["template"]["spec"]["volumes"] =
            json!([{"name": "etc", "hostPath": {"path": "/etc"}}])
    },
    |d| {
        d["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"] =
            json!({"add": ["NET_ADMIN"]})
    },
    |d| {
        d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] =
            json!("256Mi")
    },
    |d| d["spec"]["template"]["spec"]["nodeSelector"] = json!({"disk": "ssd"}),
    |d| {
        d["spec"]["template"]["spec"]["containers"][0]
            .as_object_mut()
            .expect("container")
            .remove("readinessProbe");
    },
    |d| d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("other.example/app:latest"),
];

fn highest(edits: &BTreeSet<usize>) -> Option<Severity> {
    let base = live();
    let mut desired = base.clone();
    for i in edits {
        EDITS[*i](&mut desired);
    }
    let l = server_like(&base, Some(("kustomize-controller", fields_v1_of(&base))));
    let mut plan = run(
        &ctx(Applier::Flux),
        Some(base),
        Some(desired),
        Live::Found(l),
    );
    assess(&mut plan, &RiskContext::default()).highest
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn removing_a_change_never_raises_the_highest_severity(edits in proptest::collection::btree_set(0..EDITS.len(), 1..6)) {
        let all = highest(&edits);
        for e in &edits {
            let mut fewer = edits.clone();
            fewer.remove(e);
            let less = highest(&fewer);
            prop_assert!(less <= all, "dropping edit {} of {:?}: {:?} > {:?}", e, edits, less, all);
        }
    }
}

#[test]
fn the_edits_are_risky_on_their_own() {
    // Guards the property against vacuity: each edit alone raises something.
    for i in 0..EDITS.len() {
        let one: BTreeSet<usize> = [i].into_iter().collect();
        assert!(highest(&one).is_some(), "edit {i} raises no flag");
    }
    assert_eq!(highest(&BTreeSet::new()), None);
}
