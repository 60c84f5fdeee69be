//! The predicted live object `P = prune(merge(L, D1), R)` and its changes (spec §2.2): the
//! applier's record `R` (managedFields of its field manager, else last-applied-configuration,
//! else the base render), the merge, the removals, the comparison; then the patch decision
//! and the origin of each change (merge request, drift or both).

use serde_json::Value;
use thule_core::config::Applier;
use thule_core::ownership::{self, ARGO_SYNC_OPTIONS};

use super::Inputs;
use crate::engine::draft::Draft;
use crate::fields::{FieldSet, Removals, removals};
use crate::merge::{
    RawChange, apply_discriminators, compare, covers, field_names, get_path, merge, remove_path,
    sem_eq,
};
use crate::normalize::{Side, normalize};
use crate::path::{At as _, Path, Seg, display};
use crate::plan::{Action, ApplyMode, ChangeOrigin, Detail};
use crate::schema::Kind;

/// The client-side apply record.
const LAST_APPLIED: &str = ownership::LAST_APPLIED;

/// Managers' field sets from a live object's managedFields.
struct Managed {
    owned: Option<(FieldSet, String)>,
    others: Option<FieldSet>,
    error: Option<String>,
}

/// The prediction of one object.
pub(super) struct Computed {
    /// `P`; `None` when it is the desired render itself (no live state to merge with).
    pub(super) predicted: Option<Value>,
    pub(super) changes: Vec<RawChange>,
    removals: Removals,
    implied: Vec<Path>,
    format_only: Vec<Path>,
    notes: Vec<String>,
    mode: ApplyMode,
}

impl Computed {
    /// Changes compared directly between two renders (`P` is the desired render).
    pub(super) fn direct(changes: Vec<RawChange>, format_only: Vec<Path>) -> Self {
        Self {
            predicted: None,
            changes,
            removals: Removals::default(),
            implied: Vec::new(),
            format_only,
            notes: Vec::new(),
            mode: ApplyMode::Intent,
        }
    }
}

/// The field manager the applier writes with (the option overrides the applier's own).
fn manager_of(inputs: &Inputs<'_>) -> String {
    match &inputs.opts.field_manager {
        Some(m) => m.clone(),
        None => inputs.applier.field_manager().to_owned(),
    }
}

/// Whether this object is applied server-side: by the applier, or by Argo CD's per-object
/// `ServerSideApply=true` sync option.
fn server_side(applier: Applier, n1: &Value) -> bool {
    applier.server_side()
        || (matches!(applier, Applier::Argocd)
            && ownership::annotation(n1, ARGO_SYNC_OPTIONS)
                .is_some_and(|o| o.contains("ServerSideApply=true")))
}

fn managed_fields(live_raw: &Value, manager: &str) -> Managed {
    let mut out = Managed {
        owned: None,
        others: None,
        error: None,
    };
    let Some(entries) = live_raw
        .at("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return out;
    };
    let mut others = FieldSet::default();
    let mut any_other = false;
    for e in entries {
        let fs = match e.get("fieldsV1").map(FieldSet::from_fields_v1) {
            Some(Ok(fs)) => fs,
            Some(Err(err)) => {
                out.error = Some(err.to_string());
                continue;
            }
            None => continue,
        };
        let is_m = e["manager"].as_str() == Some(manager)
            && e["operation"].as_str() == Some("Apply")
            && e.get("subresource")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty();
        if is_m && out.owned.is_none() {
            out.owned = Some((fs, e["apiVersion"].as_str().unwrap_or("").to_owned()));
        } else {
            others.union_with(&fs);
            any_other = true;
        }
    }
    if any_other {
        out.others = Some(others);
    }
    out
}

/// Predict `P` from `n0`, `n1` and `nl` and list the changes `nl → P`.
pub(super) fn compute_patch(
    inputs: &Inputs<'_>,
    n0: Option<&Value>,
    n1: &Value,
    nl: &Value,
    live_raw: Option<&Value>,
) -> Computed {
    let kind = inputs.kind;
    let mut notes = Vec::new();
    let fdes = FieldSet::of_object(kind, n1);
    let (owned, others, mode) = baseline(inputs, n0, n1, live_raw, &mut notes);
    let rem = removals(kind, &owned, &fdes, others.as_ref(), nl);
    let mut predicted = merge(kind, nl, n1);
    for p in &rem.removed {
        remove_path(kind, &mut predicted, p);
    }
    let implied = apply_discriminators(kind, &mut predicted);
    let (changes, cn) = compare(kind, nl, &predicted);
    Computed {
        predicted: Some(predicted),
        changes,
        removals: rem,
        implied,
        format_only: cn.format_only,
        notes,
        mode,
    }
}

/// The fields the applier set last time (from its own record), the fields of other
/// managers (server-side apply only) and the apply mode.
fn baseline(
    inputs: &Inputs<'_>,
    n0: Option<&Value>,
    n1: &Value,
    live_raw: Option<&Value>,
    notes: &mut Vec<String>,
) -> (FieldSet, Option<FieldSet>, ApplyMode) {
    let kind = inputs.kind;
    let manager = manager_of(inputs);
    match live_raw {
        None => (base_fields(kind, n0), None, ApplyMode::Intent),
        Some(raw) if server_side(inputs.applier, n1) => {
            let (owned, others) = ssa_fields(inputs, n0, raw, &manager, notes);
            (owned, others, ApplyMode::Ssa(manager))
        }
        Some(raw) if !matches!(inputs.applier, Applier::Helm) => {
            let owned = csa_fields(inputs, n0, raw, notes);
            (owned, None, ApplyMode::Csa(manager))
        }
        Some(_) => (base_fields(kind, n0), None, ApplyMode::Helm),
    }
}

fn base_fields(kind: Kind<'_>, n0: Option<&Value>) -> FieldSet {
    n0.map(|b| FieldSet::of_object(kind, b)).unwrap_or_default()
}

/// No usable record: the base render's fields stand in for it (with a note saying why).
fn from_base(kind: Kind<'_>, n0: Option<&Value>, notes: &mut Vec<String>, why: &str) -> FieldSet {
    match n0 {
        Some(b) => {
            notes.push(format!("{why}; removals inferred from the base render"));
            FieldSet::of_object(kind, b)
        }
        None => {
            notes.push(format!(
                "{why}; removals cannot be predicted without a base render"
            ));
            FieldSet::default()
        }
    }
}

/// Server-side apply: the manager's `Apply` entry of managedFields, and everyone else's.
fn ssa_fields(
    inputs: &Inputs<'_>,
    n0: Option<&Value>,
    raw: &Value,
    manager: &str,
    notes: &mut Vec<String>,
) -> (FieldSet, Option<FieldSet>) {
    let kind = inputs.kind;
    let desired_api_version = &inputs.api_version;
    let mf = managed_fields(raw, manager);
    if let Some(e) = mf.error {
        notes.push(e);
    }
    let owned = match mf.owned {
        Some((fs, v)) if v == *desired_api_version || v.is_empty() => fs,
        Some((_, v)) => from_base(
            kind,
            n0,
            notes,
            &format!("the {manager} managedFields entry is for {v}, not {desired_api_version}"),
        ),
        None => from_base(
            kind,
            n0,
            notes,
            &format!("no managedFields entry for {manager}"),
        ),
    };
    (owned, mf.others)
}

/// Client-side apply: the fields of the last-applied-configuration annotation.
fn csa_fields(
    inputs: &Inputs<'_>,
    n0: Option<&Value>,
    raw: &Value,
    notes: &mut Vec<String>,
) -> FieldSet {
    let kind = inputs.kind;
    let last = ownership::annotation(raw, LAST_APPLIED)
        .and_then(|s| serde_json::from_str::<Value>(s).ok());
    match last {
        Some(o) => {
            let on = normalize(&o, kind, Side::Desired, &inputs.ctx);
            FieldSet::of_object(kind, &on.value)
        }
        None => from_base(kind, n0, notes, "no last-applied-configuration"),
    }
}

/// Decide patch or no-op (format-only) from a prediction, and record it in the draft.
pub(super) fn finish_patch(
    draft: &mut Draft,
    kind: Kind<'_>,
    c: Computed,
    live: &Value,
    desired: &Value,
    base_and_desired: Option<(&Value, &Value)>,
) {
    // How removals were predicted matters only when something is removed or changes.
    if !c.changes.is_empty() || !c.removals.released.is_empty() {
        draft.notes.extend(c.notes);
    }
    for p in &c.removals.released {
        draft.notes.push(format!(
            "{} is released to another field manager; its value stays",
            display(p)
        ));
    }
    let changes = tag_changes(kind, c.changes, &c.implied, live, base_and_desired);
    if changes.is_empty() {
        draft.action = Action::Noop;
        if !c.format_only.is_empty() {
            draft.detail = Some(Detail::FormatOnly);
            for p in &c.format_only {
                draft.notes.push(format!(
                    "{}: format-only difference (same quantity)",
                    display(p)
                ));
            }
        }
    } else {
        draft.action = Action::Patch;
        draft.origin = aggregate(changes.iter().map(|c| c.1));
    }
    draft.changes = changes;
    draft.set_docs(Some(live), Some(c.predicted.as_ref().unwrap_or(desired)));
    draft.state.predicted = c.predicted;
    draft.state.removed = c.removals.removed;
    draft.state.released = c.removals.released;
    draft.state.mode = c.mode;
}

/// Each change with its origin and, for union members cleared by a discriminator, a note.
fn tag_changes(
    kind: Kind<'_>,
    changes: Vec<RawChange>,
    implied: &[Path],
    live: &Value,
    base_and_desired: Option<(&Value, &Value)>,
) -> Vec<(RawChange, ChangeOrigin, Option<String>)> {
    changes
        .into_iter()
        .map(|rc| {
            let origin = match base_and_desired {
                Some((b, d)) => origin_of(kind, &rc.path, b, d, live),
                None => ChangeOrigin::Mr,
            };
            let note = implied.contains(&rc.path).then(|| {
                "implied by the strategy type (the other union member is cleared)".to_owned()
            });
            (rc, origin, note)
        })
        .collect()
}

fn opt_eq(kind: Kind<'_>, a: Option<&Value>, b: Option<&Value>, path: &[Seg]) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => sem_eq(kind, x, y, &field_names(path)),
        _ => false,
    }
}

fn origin_of(kind: Kind<'_>, path: &[Seg], n0: &Value, n1: &Value, nl: &Value) -> ChangeOrigin {
    let v0 = get_path(kind, n0, path);
    let v1 = get_path(kind, n1, path);
    let vl = get_path(kind, nl, path);
    let mr = !opt_eq(kind, v0, v1, path);
    let live_matches_base = match (vl, v0) {
        (None, None) => true,
        (Some(l), Some(o)) => covers(kind, l, o, &field_names(path)),
        _ => false,
    };
    match (mr, live_matches_base) {
        (true, true) => ChangeOrigin::Mr,
        (true, false) => ChangeOrigin::Both,
        (false, _) => ChangeOrigin::Drift,
    }
}

fn aggregate(origins: impl Iterator<Item = ChangeOrigin>) -> ChangeOrigin {
    let mut mr = false;
    let mut drift = false;
    for o in origins {
        match o {
            ChangeOrigin::Mr => mr = true,
            ChangeOrigin::Drift => drift = true,
            ChangeOrigin::Both => return ChangeOrigin::Both,
        }
    }
    match (mr, drift) {
        (true, true) => ChangeOrigin::Both,
        (false, true) => ChangeOrigin::Drift,
        _ => ChangeOrigin::Mr,
    }
}
