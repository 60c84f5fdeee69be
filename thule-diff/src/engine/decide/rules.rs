//! Rules about single objects: the annotations that make the applier skip an object, hooks,
//! and whether a removed object is deleted or left in the cluster. Ownership knowledge
//! (protection markers, owner labels, Flux's switches) comes from [`thule_core::ownership`],
//! so the engine, deletion candidates and the risk pass give the same verdict.

use serde_json::Value;
use thule_core::ownership::{self, FLUX_RECONCILE, FLUX_SSA};

use crate::engine::draft::Draft;
use crate::engine::options::DiffOptions;
use crate::plan::{Action, Detail};

/// Helm's hook annotation.
const HELM_HOOK: &str = "helm.sh/hook";
/// Argo CD's hook annotation.
const ARGO_HOOK: &str = "argocd.argoproj.io/hook";

/// Why the applier leaves the desired object alone, if it does: Flux's reconcile switch or
/// its `ssa` policy, on the desired or the live object.
pub(super) fn skip_reason(d1: &Value, live: Option<&Value>) -> Option<String> {
    for obj in std::iter::once(d1).chain(live) {
        if ownership::flux_disabled(obj, FLUX_RECONCILE).is_some() {
            return Some(format!("reconcile disabled by {FLUX_RECONCILE}"));
        }
        if flux_ssa_is(obj, "ignore") {
            return Some(format!("ignored by {FLUX_SSA}: Ignore"));
        }
    }
    if live.is_some() && flux_ssa_is(d1, "ifnotpresent") {
        return Some(format!("{FLUX_SSA}: IfNotPresent and the object exists"));
    }
    None
}

/// Whether Flux's `ssa` policy on the object is `policy` (either place, any case).
fn flux_ssa_is(obj: &Value, policy: &str) -> bool {
    ownership::flux_flag(obj, FLUX_SSA).is_some_and(|(v, _)| v.eq_ignore_ascii_case(policy))
}

/// Whether the desired object is a Helm or Argo CD hook.
pub(super) fn is_hook(d1: &Value) -> bool {
    ownership::annotation(d1, HELM_HOOK).is_some() || ownership::annotation(d1, ARGO_HOOK).is_some()
}

/// Desired no longer holds `obj` (the normalized live object, or the base render's without
/// a cluster): the applier deletes it, unless a protection marker keeps it (orphan), the
/// applier does not prune, or the live object is not this unit's (owner labels missing).
pub(super) fn deletion(
    draft: &mut Draft,
    obj: &Value,
    live_raw: Option<&Value>,
    opts: &DiffOptions,
) {
    let check = live_raw.unwrap_or(obj);
    if let Some(protection) = ownership::protection(check) {
        draft.detail = Some(Detail::Orphan);
        draft.notes.push(format!("protected by {protection}"));
        return;
    }
    if !opts.prune {
        draft.detail = Some(Detail::Orphan);
        draft
            .notes
            .push("prune is disabled for this applier".to_owned());
        return;
    }
    if live_raw.is_some() {
        let missing = ownership::missing_labels(check, &opts.owner_labels);
        if !missing.is_empty() {
            draft.notes.push(format!(
                "not deleted: not owned by this unit (missing owner labels {})",
                missing.join(", ")
            ));
            return;
        }
    }
    draft.action = Action::Delete;
    draft.set_docs(Some(obj), None);
}
