//! Process and ownership (§5.6): objects that cannot be applied or compared, released fields,
//! drift, adoption and ownership transfer, renames and namespace moves.

use thule_core::ownership::{OWNER_MARKERS, Place, missing_labels};

use super::super::immutable::short;
use super::super::world::World;
use super::super::{Outcome, RiskContext, View};
use super::helpers::{manager, owners_of, under};
use crate::plan::{Action, ChangeOrigin, Detail, Op, Severity};

use Severity::{High, Info, Medium};

const STATEFUL: &[&str] = &[
    "StatefulSet",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "Namespace",
    "CustomResourceDefinition",
];

/// The process and ownership flags of one object, in this order: what the engine's detail
/// says (invalid, orphaned, hook, unreadable), released fields, drift, adoption and ownership
/// transfer, renames and namespace moves.
pub(crate) fn process(v: &View<'_>, world: &World, ctx: &RiskContext<'_>, out: &mut Outcome) {
    detail(v, ctx, out);
    released(v, out);
    let patch = matches!(v.o.action, Action::Patch | Action::Replace);
    if patch {
        drift(v, out);
        adoption(v, ctx, out);
    }
    renames(v, world, out);
}

/// `INVALID`, `ORPHANED`, `HOOK`, `SECRET_UNREADABLE`, `API_NOT_SERVED`: objects the engine
/// could not apply or compare.
fn detail(v: &View<'_>, ctx: &RiskContext<'_>, out: &mut Outcome) {
    let o = v.o;
    let first_note = |skip_warnings: bool| {
        o.notes
            .iter()
            .find(|n| !(skip_warnings && n.starts_with("warning")))
            .cloned()
            .unwrap_or_default()
    };
    match o.detail {
        Some(Detail::Invalid) => out.flag(
            "INVALID",
            Severity::Blocker,
            None,
            format!(
                "desired cannot be applied: {}",
                o.notes
                    .iter()
                    .filter(|n| !n.starts_with("warning") && !n.starts_with("risk rule "))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            o.notes.clone(),
        ),
        Some(Detail::Orphan) => out.flag(
            "ORPHANED",
            Info,
            None,
            format!(
                "removed from desired but kept in the cluster ({})",
                first_note(false)
            ),
            o.notes.clone(),
        ),
        Some(Detail::Hook) => out.flag(
            "HOOK",
            Info,
            None,
            "hook: runs on sync; not compared with live".to_owned(),
            vec![],
        ),
        Some(Detail::Unknown) => {
            let outcome = ctx.live.and_then(|m| m.get(&o.key));
            let secret = v.is("", "Secret");
            match outcome {
                Some(thule_core::cluster::LiveOutcome::Forbidden { .. }) if secret => out.flag(
                    "SECRET_UNREADABLE",
                    Info,
                    None,
                    "reading the live Secret is forbidden; only the change in git is shown"
                        .to_owned(),
                    vec!["403".into()],
                ),
                Some(thule_core::cluster::LiveOutcome::NotServed { message }) => out.flag(
                    "API_NOT_SERVED",
                    Severity::Blocker,
                    None,
                    format!(
                        "the cluster does not serve {} {}: the apply will fail",
                        o.api_version, o.kind
                    ),
                    vec![message.clone()],
                ),
                None if secret && o.notes.iter().any(|n| n.contains("forbidden")) => out.flag(
                    "SECRET_UNREADABLE",
                    Info,
                    None,
                    "reading the live Secret is forbidden; only the change in git is shown"
                        .to_owned(),
                    vec!["403".into()],
                ),
                _ => {}
            }
        }
        _ => {}
    }
}

/// `FIELD_RELEASED`: fields the apply stops managing; their values stay.
fn released(v: &View<'_>, out: &mut Outcome) {
    if let Some(st) = v.st {
        for p in &st.released {
            let path = crate::path::display(p);
            let owners =
                v.st.and_then(|s| s.live_raw.as_ref())
                    .map(|l| owners_of(l, &manager(&st.mode), p, false))
                    .unwrap_or_default();
            let to = if owners.is_empty() {
                "another field manager".to_owned()
            } else {
                owners.join(", ")
            };
            out.flag(
                "FIELD_RELEASED",
                Info,
                Some(path.clone()),
                format!("{path} is released to {to}; its value stays"),
                vec![to],
            );
        }
    }
}

/// `DRIFT`: the apply reverts live drift.
fn drift(v: &View<'_>, out: &mut Outcome) {
    let o = v.o;
    let drift = o
        .changes
        .iter()
        .filter(|c| c.origin == ChangeOrigin::Drift)
        .count();
    if drift > 0 {
        out.flag(
            "DRIFT",
            Info,
            None,
            format!("the apply reverts live drift in {drift} field(s)"),
            vec![format!("{drift} drift changes")],
        );
    }
}

/// `ADOPT`, `OWNERSHIP_TRANSFER`: the apply takes over an object another unit (or nobody)
/// owns, from the applier's ownership markers and the unit's owner labels.
fn adoption(v: &View<'_>, ctx: &RiskContext<'_>, out: &mut Outcome) {
    if !marker_changes(v, ctx, out) {
        missing_owner_labels(v, ctx, out);
    }
}

/// `ADOPT` / `OWNERSHIP_TRANSFER` for each ownership marker the apply adds or changes;
/// whether there was one.
fn marker_changes(v: &View<'_>, ctx: &RiskContext<'_>, out: &mut Outcome) -> bool {
    let o = v.o;
    let mut adopt = false;
    for c in &o.changes {
        let marker = OWNER_MARKERS.iter().any(|&(place, k)| {
            c.keyed.len() == 3 && under(&c.keyed, &["metadata", field(place), k])
        }) || ctx
            .owner_labels
            .keys()
            .any(|k| c.keyed.len() == 3 && under(&c.keyed, &["metadata", "labels", k]));
        if !marker {
            continue;
        }
        match c.op {
            Op::Add => {
                adopt = true;
                out.flag(
                    "ADOPT",
                    Medium,
                    Some(c.path.clone()),
                    format!(
                        "{} exists without this unit's ownership marker; the apply takes it over",
                        v.label()
                    ),
                    vec![c.path.clone()],
                );
            }
            Op::Replace => {
                adopt = true;
                let sev = if STATEFUL.contains(&v.kind()) {
                    High
                } else {
                    Medium
                };
                let (b, a) = (
                    c.before.as_ref().map(short).unwrap_or_default(),
                    c.after.as_ref().map(short).unwrap_or_default(),
                );
                out.flag("OWNERSHIP_TRANSFER", sev, Some(c.path.clone()),
                    format!("moves from unit {b} to {a}; if {b} prunes first the object is deleted and recreated"), vec![format!("{b} → {a}")]);
            }
            Op::Remove => {}
        }
    }
    adopt
}

/// The `metadata` field a marker lives in.
fn field(place: Place) -> &'static str {
    match place {
        Place::Label => "labels",
        Place::Annotation => "annotations",
    }
}

/// `ADOPT`: the live object lacks the unit's owner labels.
fn missing_owner_labels(v: &View<'_>, ctx: &RiskContext<'_>, out: &mut Outcome) {
    let Some(live) = v.st.and_then(|s| s.live.as_ref()) else {
        return;
    };
    let missing = missing_labels(live, &ctx.owner_labels);
    if !missing.is_empty() {
        out.flag(
            "ADOPT",
            Medium,
            None,
            format!(
                "{} exists without this unit's ownership labels; the apply takes it over",
                v.label()
            ),
            missing
                .iter()
                .map(|m| format!("missing label {m}"))
                .collect(),
        );
    }
}

/// `RENAME`, `NAMESPACE_MOVE`: the object is pruned under one identity and created under
/// another.
fn renames(v: &View<'_>, world: &World, out: &mut Outcome) {
    let o = v.o;
    if let Some(other) = world.renames.get(&o.key) {
        let msg = if o.action == Action::Create {
            format!(
                "renamed from {other} (kustomize hash suffix: content changed); consumers roll to the new name"
            )
        } else {
            format!("renamed to {other} (kustomize hash suffix); the old object is pruned")
        };
        out.flag("RENAME", Info, None, msg, vec![other.clone()]);
    }
    if let Some(ns) = world.moves.get(&o.key) {
        let msg = if o.action == Action::Create {
            format!("moved here from namespace {ns}: deleted there and created here")
        } else {
            format!("moved to namespace {ns}: deleted here and created there")
        };
        out.flag("NAMESPACE_MOVE", Medium, None, msg, vec![ns.clone()]);
    }
}
