//! The action decision of one key (spec §2.2–§2.9).
//!
//! [`plan_key`] is a sequence of named steps, one function each: resolve the key's inputs,
//! normalize the sides, stop for objects the applier would not apply (duplicated, skipped,
//! invalid), drop ignored fields, then decide by what the cluster said: create, patch,
//! delete (or orphan), no-op, or unknown. The rules about single objects (skip reasons,
//! hooks, removal) are in `rules`, the ignore rules in `ignore`, the predicted live object
//! and the change origins in `predict`.

mod encrypted;
mod ignore;
mod predict;
mod rules;

use serde_json::Value;
use thule_core::cluster::LiveOutcome;
use thule_core::config::Applier;
use thule_core::ownership::{self, Place};
use thule_core::{Manifest, ObjectKey};

use super::draft::Draft;
use super::keys::Indexed;
use super::options::{DiffInput, DiffOptions};
use crate::merge::{compare, sem_eq};
use crate::normalize::{NormalizeContext, Normalized, Side, normalize};
use crate::plan::{Action, ApplierSource, ApplyMode, ChangeOrigin, Detail, ObjectState};
use crate::redact::Redactor;
use crate::schema::Kind;

/// One key's inputs, resolved before anything is normalized.
struct Inputs<'a> {
    key: &'a ObjectKey,
    kind: Kind<'a>,
    opts: &'a DiffOptions,
    indexed: &'a Indexed<'a>,
    /// `D0`'s manifest (the first one).
    base: Option<&'a Manifest>,
    /// `D1`'s manifest (the first one).
    desired: Option<&'a Manifest>,
    /// How many times the desired render holds the key (more than once is a render error).
    desired_count: usize,
    /// What the cluster said; `None` without a cluster.
    outcome: Option<&'a LiveOutcome>,
    /// The live object as read, when it was found.
    live_raw: Option<&'a Value>,
    /// The object's `apiVersion`: desired, else base, else live.
    api_version: String,
    /// The applier whose semantics decide the object: configured, else inferred from the
    /// live object, else Flux.
    applier: Applier,
    /// Where [`Inputs::applier`] came from.
    applier_source: ApplierSource,
    ctx: NormalizeContext,
    /// No cluster, and base and desired hold the same single object: it normalizes to the
    /// same value, so it is normalized once and is a no-op.
    same_render: bool,
    /// The desired object is a Helm or Argo CD hook.
    hook: bool,
}

/// The three sides of one key: `D0`, `D1` and `L`.
struct Sides<T> {
    base: Option<T>,
    desired: Option<T>,
    live: Option<T>,
}

impl Sides<Normalized> {
    fn into_values(self) -> Sides<Value> {
        Sides {
            base: self.base.map(|n| n.value),
            desired: self.desired.map(|n| n.value),
            live: self.live.map(|n| n.value),
        }
    }
}

impl Sides<Value> {
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        [&mut self.base, &mut self.desired, &mut self.live]
            .into_iter()
            .flatten()
    }
}

/// Decide one key: the draft of its plan entry.
pub(super) fn plan_key(key: &ObjectKey, indexed: &Indexed<'_>, redactor: &mut Redactor) -> Draft {
    let inputs = resolve(key, indexed);
    let mut draft = empty_draft(&inputs);
    let normalized = normalize_sides(&inputs, redactor, &mut draft.notes);
    if excluded(&inputs, normalized.desired.as_ref(), &mut draft) {
        return draft;
    }
    let mut sides = normalized.into_values();
    if inputs.desired.is_some() && encrypted::sops(&inputs) {
        return encrypted::sops_by_ciphertext(&inputs, sides, draft);
    }
    keep_stamps(&mut sides);
    ignore::apply(&inputs, &mut sides);
    note_api_version(&inputs, &mut draft);
    if inputs.hook {
        if inputs.outcome.is_some() {
            return hook_against_live(&inputs, sides, draft);
        }
        draft.notes.push("hook: runs on sync".to_owned());
    }
    decide_action(&inputs, &sides, &mut draft);
    finish(&inputs, sides, draft)
}

/// The applier of an object: the configured one, else the one the live object names, else
/// Flux.
fn applier_of(opts: &DiffOptions, live_raw: Option<&Value>) -> (Applier, ApplierSource) {
    if let Some(a) = opts.applier {
        return (a, ApplierSource::Configured);
    }
    match live_raw.and_then(ownership::infer_applier) {
        Some(a) => (a, ApplierSource::Inferred),
        None => (Applier::Flux, ApplierSource::Default),
    }
}

/// Step 1: the key's manifests, live read, `apiVersion` and normalization context.
fn resolve<'a>(key: &'a ObjectKey, indexed: &'a Indexed<'a>) -> Inputs<'a> {
    let input = indexed.input;
    let opts = input.options;
    let e0 = indexed.base.get(key);
    let e1 = indexed.desired.get(key);
    let m0 = e0.and_then(|e| e.manifests.first().copied());
    let m1 = e1.and_then(|e| e.manifests.first().copied());
    let cluster_scoped = e1.or(e0).map_or_else(
        || indexed.scopes.cluster_scoped(&key.group, &key.kind),
        |e| e.cluster_scoped,
    );
    let outcome = live_outcome(input, key);
    let live_raw = match outcome {
        Some(LiveOutcome::Found(v)) => Some(v),
        _ => None,
    };
    let api_version = m1
        .or(m0)
        .map(|m| m.api_version.clone())
        .or_else(|| live_raw.and_then(|l| l["apiVersion"].as_str().map(str::to_owned)))
        .unwrap_or_default();
    let same_render = outcome.is_none()
        && e0.is_some_and(|e| e.manifests.len() == 1)
        && e1.is_some_and(|e| e.manifests.len() == 1)
        && m0.zip(m1).is_some_and(|(a, b)| a.object == b.object);
    let (applier, applier_source) = applier_of(opts, live_raw);
    Inputs {
        key,
        kind: Kind::new(&key.group, &key.kind),
        opts,
        indexed,
        base: m0,
        desired: m1,
        desired_count: e1.map_or(0, |e| e.manifests.len()),
        outcome,
        live_raw,
        api_version,
        applier,
        applier_source,
        ctx: norm_ctx(key, cluster_scoped, opts, applier),
        same_render,
        hook: m1.is_some_and(|m| rules::is_hook(&m.object)),
    }
}

fn live_outcome<'a>(input: &DiffInput<'a>, key: &ObjectKey) -> Option<&'a LiveOutcome> {
    const ABSENT: &LiveOutcome = &LiveOutcome::Absent;
    input.live.map(|l| l.get(key).unwrap_or(ABSENT))
}

fn norm_ctx(
    key: &ObjectKey,
    cluster_scoped: bool,
    opts: &DiffOptions,
    applier: Applier,
) -> NormalizeContext {
    let mut strip_annotations = Vec::new();
    let mut strip_labels = Vec::new();
    if applier == Applier::Flux {
        strip_annotations.extend(
            [
                "kustomize.toolkit.fluxcd.io/checksum",
                "fluxcd.io/sync-checksum",
            ]
            .map(str::to_owned),
        );
        strip_labels.push("fluxcd.io/sync-gc-mark".to_owned());
    }
    NormalizeContext {
        namespace: key.namespace.clone(),
        cluster_scoped,
        inject_labels: opts
            .inject_labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        inject_annotations: opts
            .inject_annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        strip_annotations,
        strip_labels,
    }
}

/// Step 2: a no-op draft with the key's identity and source.
fn empty_draft(inputs: &Inputs<'_>) -> Draft {
    let opts = inputs.opts;
    Draft {
        key: inputs.key.clone(),
        api_version: inputs.api_version.clone(),
        applier: inputs.applier,
        applier_source: inputs.applier_source,
        action: Action::Noop,
        detail: None,
        origin: ChangeOrigin::Mr,
        source: inputs.desired.or(inputs.base).map(|m| m.origin.to_string()),
        changes: Vec::new(),
        notes: Vec::new(),
        before_doc: None,
        after_doc: None,
        views: opts.views,
        state_live: inputs.live_raw.is_some(),
        encrypted: false,
        state: ObjectState {
            base: None,
            desired: None,
            live: None,
            predicted: None,
            live_raw: inputs.live_raw.filter(|_| opts.keep_state).cloned(),
            removed: Vec::new(),
            released: Vec::new(),
            mode: ApplyMode::Intent,
        },
    }
}

/// Step 3: normalize every side (the base only when it differs from the desired render),
/// collecting secret values for the taint set and the normalizer's notes.
fn normalize_sides(
    inputs: &Inputs<'_>,
    redactor: &mut Redactor,
    notes: &mut Vec<String>,
) -> Sides<Normalized> {
    let mut take = |n: Normalized| -> Normalized {
        for s in &n.secrets {
            redactor.add(s);
        }
        notes.extend(n.notes.iter().cloned());
        n
    };
    let desired_side = |m: &Manifest| normalize(&m.object, inputs.kind, Side::Desired, &inputs.ctx);
    Sides {
        base: inputs
            .base
            .filter(|_| !inputs.same_render)
            .map(|m| take(desired_side(m))),
        desired: inputs.desired.map(|m| take(desired_side(m))),
        live: inputs
            .live_raw
            .map(|l| take(normalize(l, inputs.kind, Side::Live, &inputs.ctx))),
    }
}

/// Step 4: is the object excluded from the decision? The desired render holds it more than
/// once, the applier skips it, or the applier would reject it as invalid.
fn excluded(inputs: &Inputs<'_>, desired: Option<&Normalized>, draft: &mut Draft) -> bool {
    if inputs.desired_count > 1 {
        draft.detail = Some(Detail::Invalid);
        draft.notes.push(format!(
            "the desired render holds this object {} times; duplicates are a render error",
            inputs.desired_count
        ));
        return true;
    }
    let (Some(m1), Some(n1)) = (inputs.desired, desired) else {
        return false;
    };
    if let Some(why) = rules::skip_reason(&m1.object, inputs.live_raw) {
        draft.detail = Some(Detail::Skip);
        draft.notes.push(why);
        return true;
    }
    let mut invalid = n1.invalid.clone();
    if inputs.applier.server_side() {
        invalid.extend(n1.duplicate_keys.iter().cloned());
    } else {
        draft
            .notes
            .extend(n1.duplicate_keys.iter().map(|d| format!("warning: {d}")));
    }
    if invalid.is_empty() {
        return false;
    }
    draft.detail = Some(Detail::Invalid);
    draft.notes.extend(invalid);
    true
}

/// What appliers stamp is never a change (spec §3.3): the stamps live carries that a render
/// lacks ([`ownership::absent_stamps`]) are added to that render with live's value, so
/// neither the merge nor the removal set touches them. A stamp the render sets itself is
/// the render's, and its change shows.
fn keep_stamps(sides: &mut Sides<Value>) {
    let Some(live) = &sides.live else {
        return;
    };
    for render in [&mut sides.base, &mut sides.desired].into_iter().flatten() {
        for (place, key, value) in ownership::absent_stamps(render, live) {
            let field = match place {
                Place::Label => "labels",
                Place::Annotation => "annotations",
            };
            if let Some(meta) = render.get_mut("metadata").and_then(Value::as_object_mut) {
                let map = meta
                    .entry(field)
                    .or_insert_with(|| Value::Object(serde_json::Map::new()));
                if let Value::Object(m) = map {
                    m.insert(key.to_owned(), Value::String(value.to_owned()));
                }
            }
        }
    }
}

/// Step 5: a live object served at another `apiVersion` is the same object.
fn note_api_version(inputs: &Inputs<'_>, draft: &mut Draft) {
    let Some(l) = inputs.live_raw else {
        return;
    };
    let lv = l["apiVersion"].as_str().unwrap_or_default();
    let api_version = &inputs.api_version;
    if inputs.desired.is_some() && !lv.is_empty() && lv != api_version {
        draft.notes.push(format!(
            "apiVersion {lv} → {api_version} (same object; not a change)"
        ));
    }
}

/// Hooks are recreated on every sync: not diffed against live (§2.9); the merge request's
/// change to the hook is still shown.
fn hook_against_live(inputs: &Inputs<'_>, sides: Sides<Value>, mut draft: Draft) -> Draft {
    draft.detail = Some(Detail::Hook);
    draft
        .notes
        .push("hook: runs on sync, not diffed against live".to_owned());
    intent_changes(inputs, &sides, &mut draft);
    draft.notes.sort();
    draft.state.base = sides.base;
    draft.state.desired = sides.desired;
    draft.state.live = sides.live;
    draft
}

/// Step 6: the action, by what the cluster said and which renders hold the object.
fn decide_action(inputs: &Inputs<'_>, sides: &Sides<Value>, draft: &mut Draft) {
    match (inputs.outcome, &sides.desired) {
        (None, Some(_)) if inputs.same_render => {}
        (None, Some(d)) => intent(inputs, sides, d, draft),
        (None, None) => {
            if let Some(b) = &sides.base {
                rules::deletion(draft, b, None, inputs.opts);
            }
        }
        (Some(LiveOutcome::Found(_)), Some(d)) => patch(inputs, sides, d, draft),
        (Some(LiveOutcome::Found(_)), None) => removal(inputs, sides, draft),
        (Some(LiveOutcome::Absent), Some(d)) => create(inputs, sides, d, draft),
        (Some(LiveOutcome::Absent), None) => {
            if sides.base.is_some() {
                draft
                    .notes
                    .push("already absent from the cluster".to_owned());
            }
        }
        (Some(LiveOutcome::NotServed { .. }), Some(d))
            if inputs.indexed.scopes.defined_by_inputs(inputs.key) =>
        {
            draft.create(inputs.kind, d, ChangeOrigin::Mr);
            draft
                .notes
                .push("its CustomResourceDefinition is created by this change".to_owned());
        }
        (
            Some(
                LiveOutcome::Forbidden { message }
                | LiveOutcome::NotServed { message }
                | LiveOutcome::Error { message },
            ),
            _,
        ) => unknown(inputs, sides, Some(message), draft),
        (Some(_), _) => unknown(inputs, sides, None, draft),
    }
}

/// No cluster: the intent diff `D0 → D1`.
fn intent(inputs: &Inputs<'_>, sides: &Sides<Value>, desired: &Value, draft: &mut Draft) {
    match &sides.base {
        None => draft.create(inputs.kind, desired, ChangeOrigin::Mr),
        // Equal renders: nothing to compute (the common case for large renders).
        Some(b) if b == desired => {}
        Some(b) => {
            // Without live state the baseline is the base render itself, so
            // P = prune(merge(n0, n1), F(n0) − F(n1)) is n1: compare directly.
            let (changes, notes) = compare(inputs.kind, b, desired);
            let c = predict::Computed::direct(changes, notes.format_only);
            predict::finish_patch(draft, inputs.kind, c, b, desired, None);
        }
    }
}

/// The object exists and desired holds it: patch it (or a no-op) toward the predicted `P`.
fn patch(inputs: &Inputs<'_>, sides: &Sides<Value>, desired: &Value, draft: &mut Draft) {
    let live = sides.live.as_ref().unwrap_or(&Value::Null);
    let base = sides.base.as_ref();
    let c = predict::compute_patch(inputs, base, desired, live, inputs.live_raw);
    let base_and_desired = base.map(|b| (b, desired));
    predict::finish_patch(draft, inputs.kind, c, live, desired, base_and_desired);
}

/// The object exists and desired no longer holds it: delete it, or leave it (orphan).
fn removal(inputs: &Inputs<'_>, sides: &Sides<Value>, draft: &mut Draft) {
    let live = sides.live.as_ref().unwrap_or(&Value::Null);
    if sides.base.is_none() && inputs.indexed.input.inventory.is_some() {
        draft.origin = ChangeOrigin::Drift;
    }
    rules::deletion(draft, live, inputs.live_raw, inputs.opts);
}

/// The object is absent from the cluster: create it. A base render that already held it
/// means the cluster drifted.
fn create(inputs: &Inputs<'_>, sides: &Sides<Value>, desired: &Value, draft: &mut Draft) {
    let origin = match &sides.base {
        None => ChangeOrigin::Mr,
        Some(b) if sem_eq(inputs.kind, b, desired, &[]) => ChangeOrigin::Drift,
        Some(_) => ChangeOrigin::Both,
    };
    draft.create(inputs.kind, desired, origin);
}

/// The cluster could not tell: unknown, with the merge request's own change.
fn unknown(inputs: &Inputs<'_>, sides: &Sides<Value>, message: Option<&str>, draft: &mut Draft) {
    draft.detail = Some(Detail::Unknown);
    draft.notes.push(match message {
        Some(message) => format!("live state unknown: {message}"),
        None => "live state unknown".to_owned(),
    });
    intent_changes(inputs, sides, draft);
}

/// The changes `D0 → D1`, all of merge-request origin (hooks, unknown live state).
fn intent_changes(inputs: &Inputs<'_>, sides: &Sides<Value>, draft: &mut Draft) {
    if let (Some(b), Some(d)) = (&sides.base, &sides.desired) {
        let c = predict::compute_patch(inputs, Some(b), d, b, None);
        draft.set_docs(Some(b), Some(c.predicted.as_ref().unwrap_or(d)));
        draft.changes = c
            .changes
            .into_iter()
            .map(|c| (c, ChangeOrigin::Mr, None))
            .collect();
    }
}

/// Step 7: hooks that change nothing say nothing; notes in order; keep the sides for the
/// risk pass when asked.
fn finish(inputs: &Inputs<'_>, mut sides: Sides<Value>, mut draft: Draft) -> Draft {
    let opts = inputs.opts;
    if inputs.hook {
        if draft.action == Action::Noop {
            draft.notes.clear();
        } else {
            draft.detail = Some(Detail::Hook);
        }
    }
    if draft
        .changes
        .iter()
        .any(|(c, _, _)| encrypted::sealed_change(inputs.kind, &c.path))
    {
        draft.notes.push(encrypted::SEALED_NOTE.to_owned());
    }
    draft.notes.sort();
    draft.notes.dedup();
    if inputs.same_render && opts.keep_state && draft.listed(opts) {
        sides.base.clone_from(&sides.desired);
    }
    if opts.keep_state {
        draft.state.base = sides.base;
        draft.state.desired = sides.desired;
        draft.state.live = sides.live;
    } else {
        draft.state.predicted = None;
    }
    draft
}
