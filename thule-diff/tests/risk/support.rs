//! Helpers: run the diff, then the risk pass, and check flags the §9 way.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::{Value, json};
use thule_core::Manifest;
use thule_diff::risk::{RiskContext, RiskReport, assess};
use thule_diff::{ObjectPlan, Plan, Severity};

use crate::common::mk;

/// Run the risk pass with a default context.
pub fn assessed(mut plan: Plan) -> (Plan, RiskReport) {
    let report = assess(&mut plan, &RiskContext::default());
    (plan, report)
}

/// Run the risk pass with a context.
pub fn assessed_with(mut plan: Plan, ctx: &RiskContext<'_>) -> (Plan, RiskReport) {
    let report = assess(&mut plan, ctx);
    (plan, report)
}

/// Manifests from values (for `RiskContext::desired`).
pub fn manifests(vs: &[Value]) -> Vec<Manifest> {
    vs.iter().cloned().map(mk).collect()
}

/// `(object name, id, severity)` of every flag in the plan.
pub fn flags(plan: &Plan) -> Vec<(String, String, Severity)> {
    plan.objects
        .iter()
        .flat_map(|o| {
            o.risks
                .iter()
                .map(move |r| (o.name.clone(), r.id.clone(), r.severity))
        })
        .collect()
}

/// Ids of one object's flags.
pub fn ids(o: &ObjectPlan) -> Vec<&str> {
    o.risks.iter().map(|r| r.id.as_str()).collect()
}

/// Whether the plan has this flag id anywhere.
pub fn has(plan: &Plan, id: &str) -> bool {
    plan.objects
        .iter()
        .any(|o| o.risks.iter().any(|r| r.id == id))
}

/// The rule of §9: every `required` flag appears (with the severity, when given), and no
/// other flag of severity medium or above does.
pub fn check_case(plan: &Plan, required: &[(&str, Option<Severity>)]) {
    let all = flags(plan);
    let dump = || format!("{all:#?}\n{}", thule_diff::render::to_text(plan));
    for (id, sev) in required {
        assert!(
            all.iter()
                .any(|(_, i, s)| i == id && sev.is_none_or(|want| *s == want)),
            "required flag {id} ({sev:?}) missing: {}",
            dump()
        );
    }
    for (name, id, s) in &all {
        if *s >= Severity::Medium {
            assert!(
                required.iter().any(|(r, _)| r == id),
                "unexpected flag {id} ({s:?}) on {name}: {}",
                dump()
            );
        }
    }
}

/// Flux owner labels of the unit `apps/flux-system`.
pub fn flux_labels(name: &str) -> BTreeMap<String, String> {
    [
        ("kustomize.toolkit.fluxcd.io/name", name),
        ("kustomize.toolkit.fluxcd.io/namespace", "flux-system"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// `v` with this annotation.
pub fn annotate(mut v: Value, k: &str, val: &str) -> Value {
    v["metadata"]["annotations"][k] = json!(val);
    v
}

/// `v` with a JSON pointer set.
pub fn set(mut v: Value, pointer: &str, val: Value) -> Value {
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} missing")) = val;
    v
}
