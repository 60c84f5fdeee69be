//! Rules about single objects: the annotations that make the applier skip an object, hooks,
//! and whether a removed object is deleted or left in the cluster.

use serde_json::Value;

use crate::engine::draft::Draft;
use crate::engine::options::DiffOptions;
use crate::plan::{Action, Detail};

pub(super) fn annotation<'v>(obj: &'v Value, key: &str) -> Option<&'v str> {
    obj.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

fn label<'v>(obj: &'v Value, key: &str) -> Option<&'v str> {
    obj.get("metadata")?.get("labels")?.get(key)?.as_str()
}

fn meta_flag<'v>(obj: &'v Value, key: &str) -> Option<&'v str> {
    annotation(obj, key).or_else(|| label(obj, key))
}

/// Why the applier leaves the desired object alone, if it does: Flux's reconcile switch or
/// its `ssa` policy, on the desired or the live object.
pub(super) fn skip_reason(d1: &Value, live: Option<&Value>) -> Option<&'static str> {
    for obj in std::iter::once(d1).chain(live) {
        if meta_flag(obj, "kustomize.toolkit.fluxcd.io/reconcile")
            .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
        {
            return Some("reconcile disabled by kustomize.toolkit.fluxcd.io/reconcile");
        }
        if meta_flag(obj, "kustomize.toolkit.fluxcd.io/ssa")
            .is_some_and(|v| v.eq_ignore_ascii_case("ignore"))
        {
            return Some("ignored by kustomize.toolkit.fluxcd.io/ssa: Ignore");
        }
    }
    if live.is_some()
        && meta_flag(d1, "kustomize.toolkit.fluxcd.io/ssa")
            .is_some_and(|v| v.eq_ignore_ascii_case("ifnotpresent"))
    {
        return Some("kustomize.toolkit.fluxcd.io/ssa: IfNotPresent and the object exists");
    }
    None
}

/// Whether the desired object is a Helm or Argo CD hook.
pub(super) fn is_hook(d1: &Value) -> bool {
    annotation(d1, "helm.sh/hook").is_some() || annotation(d1, "argocd.argoproj.io/hook").is_some()
}

fn protection(obj: &Value) -> Option<&'static str> {
    if meta_flag(obj, "kustomize.toolkit.fluxcd.io/prune")
        .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
    {
        return Some("protected by kustomize.toolkit.fluxcd.io/prune: disabled");
    }
    if annotation(obj, "helm.sh/resource-policy") == Some("keep") {
        return Some("protected by helm.sh/resource-policy: keep");
    }
    if let Some(opts) = annotation(obj, "argocd.argoproj.io/sync-options")
        && opts
            .split(',')
            .any(|o| matches!(o.trim(), "Prune=false" | "Delete=false"))
    {
        return Some("protected by argocd.argoproj.io/sync-options");
    }
    None
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
    if let Some(why) = protection(check) {
        draft.detail = Some(Detail::Orphan);
        draft.notes.push(why.to_owned());
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
        let missing: Vec<&String> = opts
            .owner_labels
            .iter()
            .filter(|(k, v)| label(check, k) != Some(v.as_str()))
            .map(|(k, _)| k)
            .collect();
        if !missing.is_empty() {
            draft.notes.push(format!(
                "not deleted: not owned by this unit (missing owner labels {})",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            return;
        }
    }
    draft.action = Action::Delete;
    draft.set_docs(Some(obj), None);
}
