//! Transitions of workloads (objects with a pod template): rollouts, scale, autoscaler
//! conflicts, the Deployment strategy, per-container changes and scheduling, and the claim
//! templates of a StatefulSet.

use crate::path::At as _;
use std::collections::BTreeSet;

use serde_json::Value;

use super::super::super::world::{World, pod_template, references, template_prefix};
use super::super::super::{Outcome, View};
use super::super::helpers::{
    containers, int, join, manager, owners_of, qty, registry, replicas_kind, s, under,
};
use crate::path::Seg;
use crate::plan::{Action, Change, Severity};

use Severity::{Critical, High, Low, Medium};

/// The transitions of a workload, in this order: the rollout, scale, autoscaler conflicts,
/// and for a patch the strategy, the containers of the pod template and its scheduling.
pub(super) fn workload(
    v: &View<'_>,
    world: &World,
    replaced: bool,
    patch: bool,
    out: &mut Outcome,
) {
    let (g, k) = (v.group(), v.kind());
    let rollout_kind = matches!(
        (g, k),
        (
            "apps",
            "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet"
        )
    );
    if rollout_kind && patch {
        rollout(v, world, replaced, out);
    }
    if replicas_kind(g, k) && patch {
        scale(v, out);
    }
    if replicas_kind(g, k) && matches!(v.o.action, Action::Create | Action::Patch | Action::Replace)
    {
        autoscaler(v, world, out);
    }
    if !patch {
        return;
    }
    strategy(v, out);
    if let Some(prefix) = template_prefix(g, k) {
        container_changes(v, prefix, out);
        scheduling(v, prefix, out);
    }
}

/// `RESTART_ROLLOUT` / `RESTART_PENDING_ONDELETE`: what a pod template change (or a replace)
/// does to the running pods.
fn rollout(v: &View<'_>, world: &World, replaced: bool, out: &mut Outcome) {
    let (g, k) = (v.group(), v.kind());
    let (before, after) = (v.before, v.after);
    let prefix = template_prefix(g, k).unwrap_or(&[]);
    let tchanges: Vec<&Change> =
        v.o.changes
            .iter()
            .filter(|c| under(&c.keyed, prefix))
            .collect();
    let pods = match (k, int(before, "/spec/replicas")) {
        ("DaemonSet", _) => "the pod on every node".to_owned(),
        (_, Some(1)) => "its 1 pod".to_owned(),
        (_, Some(n)) => format!("its {n} pods"),
        (_, None) => "its pods".to_owned(),
    };
    let ev: Vec<String> = tchanges.iter().take(5).map(|c| c.path.clone()).collect();
    if replaced {
        out.flag(
            "RESTART_ROLLOUT",
            Medium,
            None,
            format!("the replace deletes and recreates {pods} at once"),
            vec!["replace".into()],
        );
    } else if !tchanges.is_empty() {
        let on_delete = s(after, "/spec/updateStrategy/type") == Some("OnDelete");
        if s(after, "/spec/paused").is_some()
            && after
                .and_then(|a| a.at("/spec/paused"))
                .and_then(Value::as_bool)
                == Some(true)
        {
            out.notes.push(
                "pod template changes, but the Deployment is paused: the rollout is deferred"
                    .to_owned(),
            );
        } else if on_delete {
            out.flag("RESTART_PENDING_ONDELETE", Medium, Some(prefix.join(".")),
                "pod template changes but updateStrategy is OnDelete: nothing restarts until pods are deleted by hand (running pods keep the old version)".to_owned(), ev);
        } else {
            rolling_restart(v, world, prefix, &tchanges, &pods, ev, out);
        }
    }
}

/// `RESTART_ROLLOUT` of a pod template change: how the pods are replaced, and whether the
/// change is only a checksum annotation or a renamed config.
fn rolling_restart(
    v: &View<'_>,
    world: &World,
    prefix: &[&str],
    tchanges: &[&Change],
    pods: &str,
    ev: Vec<String>,
    out: &mut Outcome,
) {
    let (g, k) = (v.group(), v.kind());
    let key = &v.o.key;
    let after = v.after;
    let recreate = k == "Deployment" && s(after, "/spec/strategy/type") == Some("Recreate");
    let checksum = tchanges.iter().all(|c| {
        under(&c.keyed, &[prefix, &["metadata", "annotations"]].concat())
            && matches!(c.keyed.get(prefix.len() + 2), Some(Seg::Field(a)) if a.starts_with("checksum/"))
    });
    let renamed: Vec<&String> = world
        .renames
        .iter()
        .filter(|(rk, _)| rk.namespace == key.namespace)
        .filter(|(rk, _)| {
            after
                .and_then(|a| pod_template(g, k, a))
                .is_some_and(|t| references(t).iter().any(|r| r.name == rk.name))
        })
        .map(|(rk, _)| &rk.name)
        .collect();
    let how = if recreate {
        "strategy Recreate stops and replaces"
    } else if k == "StatefulSet" {
        "an ordered rolling update (highest ordinal first) replaces"
    } else {
        "a rolling update replaces"
    };
    let mut msg = format!("pod template changes; {how} {pods}");
    if checksum {
        msg.push_str(" (checksum annotation)");
    }
    if !renamed.is_empty() {
        msg.push_str(&format!(
            " (renamed config {})",
            renamed
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out.flag(
        "RESTART_ROLLOUT",
        if recreate { High } else { Medium },
        Some(prefix.join(".")),
        msg,
        ev,
    );
}

/// `SCALE_TO_ZERO`, `STS_SCALE_DELETES_PVC`, `SCALE_DOWN`: the replicas go down.
fn scale(v: &View<'_>, out: &mut Outcome) {
    let k = v.kind();
    let (before, after) = (v.before, v.after);
    let b = int(before, "/spec/replicas").unwrap_or(1);
    let a_set = after
        .and_then(|a| a.at("/spec/replicas"))
        .and_then(Value::as_i64);
    let a = a_set.unwrap_or(1);
    let dflt = if a_set.is_none() {
        " (removed: defaults to 1)"
    } else {
        ""
    };
    if a == 0 && b > 0 {
        out.flag(
            "SCALE_TO_ZERO",
            High,
            Some("spec.replicas".into()),
            format!("replicas {b} → 0: the workload stops"),
            vec![format!("{b} → 0")],
        );
    } else if a < b {
        if k == "StatefulSet"
            && s(
                after,
                "/spec/persistentVolumeClaimRetentionPolicy/whenScaled",
            ) == Some("Delete")
        {
            out.flag("STS_SCALE_DELETES_PVC", Critical, Some("spec.replicas".into()),
                format!("replicas {b} → {a}{dflt} with whenScaled: Delete: the claims of removed pods are deleted"), vec![format!("{b} → {a}")]);
        } else if (b - a) * 2 >= b {
            out.flag(
                "SCALE_DOWN",
                Medium,
                Some("spec.replicas".into()),
                format!("replicas {b} → {a}{dflt}"),
                vec![format!("{b} → {a}")],
            );
        }
    }
}

/// `HPA_CONFLICT`: git sets the replicas of an autoscaled workload.
fn autoscaler(v: &View<'_>, world: &World, out: &mut Outcome) {
    let k = v.kind();
    let key = &v.o.key;
    let sets =
        v.st.and_then(|s| s.desired.as_ref())
            .and_then(|d| d.at("/spec/replicas"))
            .is_some_and(|r| !r.is_null());
    if sets {
        let mut ev = Vec::new();
        if let Some(h) = world
            .scaled
            .get(&(key.namespace.clone(), k.to_owned(), key.name.clone()))
        {
            ev.push(format!("autoscaler {h}"));
        }
        if let Some(st) = v.st
            && let Some(raw) = st.live_raw.as_ref()
        {
            let path = vec![Seg::Field("spec".into()), Seg::Field("replicas".into())];
            for o in owners_of(raw, &manager(&st.mode), &path, true) {
                if o.starts_with("kube-controller-manager") {
                    ev.push(format!("replicas co-owned by {o}"));
                }
            }
        }
        if !ev.is_empty() {
            out.flag("HPA_CONFLICT", Medium, Some("spec.replicas".into()),
                format!("replicas is set in git while it is autoscaled ({}); drop it from git or add an ignore rule", ev.join("; ")), ev);
        }
    }
}

/// `STRATEGY_RECREATE`: a Deployment's strategy becomes Recreate.
fn strategy(v: &View<'_>, out: &mut Outcome) {
    let (before, after) = (v.before, v.after);
    if v.is("apps", "Deployment")
        && s(after, "/spec/strategy/type") == Some("Recreate")
        && s(before, "/spec/strategy/type").unwrap_or("RollingUpdate") != "Recreate"
    {
        out.flag("STRATEGY_RECREATE", High, Some("spec.strategy.type".into()), "strategy becomes Recreate: every pod stops before new ones start (downtime on each rollout)".into(), vec!["Recreate".into()]);
    }
}

/// Per-container changes of the pod template (containers present before and after).
fn container_changes(v: &View<'_>, prefix: &[&str], out: &mut Outcome) {
    let (g, k) = (v.group(), v.kind());
    let (before, after) = (v.before, v.after);
    let sp = join(&prefix.join("."), "spec");
    let tb = before.and_then(|b| pod_template(g, k, b));
    let ta = after.and_then(|a| pod_template(g, k, a));
    let cb = containers(tb);
    for (name, ca) in containers(ta) {
        let Some((_, cbv)) = cb.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        let cp = format!("{sp}.containers[name={name}]");
        probes(name, &cp, cbv, ca, out);
        resources(name, &cp, cbv, ca, out);
        images(name, &cp, cbv, ca, out);
    }
}

/// `PROBE_CHANGE`: a readiness probe removed or loosened, a liveness probe added that kills
/// slow starts.
fn probes(name: &str, cp: &str, cbv: &Value, ca: &Value, out: &mut Outcome) {
    let rb = cbv.get("readinessProbe");
    let ra = ca.get("readinessProbe");
    match (rb, ra) {
        (Some(_), None) => out.flag(
            "PROBE_CHANGE",
            Medium,
            Some(format!("{cp}.readinessProbe")),
            format!("container {name} loses its readinessProbe: unready pods get traffic"),
            vec![format!("container {name}: readiness removed")],
        ),
        (Some(b), Some(a)) => {
            let loosened: Vec<String> = [
                ("failureThreshold", 3),
                ("periodSeconds", 10),
                ("timeoutSeconds", 1),
            ]
            .iter()
            .filter_map(|(fld, d)| {
                let (x, y) = (b[fld].as_i64().unwrap_or(*d), a[fld].as_i64().unwrap_or(*d));
                (y > x).then(|| format!("{fld} {x} → {y}"))
            })
            .collect();
            if !loosened.is_empty() {
                out.flag(
                    "PROBE_CHANGE",
                    Medium,
                    Some(format!("{cp}.readinessProbe")),
                    format!(
                        "container {name} readinessProbe loosened ({})",
                        loosened.join(", ")
                    ),
                    loosened,
                );
            }
        }
        _ => {}
    }
    if cbv.get("livenessProbe").is_none()
        && let Some(lp) = ca.get("livenessProbe")
    {
        let delay = lp["initialDelaySeconds"].as_i64().unwrap_or(0);
        if delay < 10 && ca.get("startupProbe").is_none() {
            out.flag("PROBE_CHANGE", Medium, Some(format!("{cp}.livenessProbe")),
                    format!("container {name} gets a livenessProbe with initialDelaySeconds {delay} and no startupProbe: slow starts are killed"), vec![format!("container {name}: liveness added")]);
        }
    }
}

/// `RESOURCE_SQUEEZE`: the memory limit shrinks, requests grow.
fn resources(name: &str, cp: &str, cbv: &Value, ca: &Value, out: &mut Outcome) {
    let q = |c: &Value, p: &str| c.at(p).and_then(qty);
    if let (Some(b), Some(a)) = (
        q(cbv, "/resources/limits/memory"),
        q(ca, "/resources/limits/memory"),
    ) && a < b
    {
        out.flag(
            "RESOURCE_SQUEEZE",
            Medium,
            Some(format!("{cp}.resources.limits.memory")),
            format!("container {name} memory limit shrinks: risk of OOM kills"),
            vec![format!("container {name}: memory limit down")],
        );
    }
    for r in ["cpu", "memory"] {
        let p = format!("/resources/requests/{r}");
        if let (Some(b), Some(a)) = (q(cbv, &p), q(ca, &p))
            && a > b
        {
            out.flag(
                "RESOURCE_SQUEEZE",
                Low,
                Some(format!("{cp}.resources.requests.{r}")),
                format!("container {name} requests more {r}: pods may not fit on nodes"),
                vec![format!("container {name}: {r} request up")],
            );
        }
    }
}

/// `IMAGE_REGISTRY_CHANGE`, `IMAGE_MUTABLE`: the image moves to another registry or loses its
/// digest pin.
fn images(name: &str, cp: &str, cbv: &Value, ca: &Value, out: &mut Outcome) {
    if let (Some(b), Some(a)) = (cbv["image"].as_str(), ca["image"].as_str()) {
        if registry(b) != registry(a) {
            out.flag(
                "IMAGE_REGISTRY_CHANGE",
                Medium,
                Some(format!("{cp}.image")),
                format!(
                    "container {name} image moves from {} to {}",
                    registry(b),
                    registry(a)
                ),
                vec![format!("{} → {}", registry(b), registry(a))],
            );
        }
        if b.contains('@') && !a.contains('@') {
            out.flag(
                "IMAGE_MUTABLE",
                Low,
                Some(format!("{cp}.image")),
                format!("container {name} image loses its digest pin"),
                vec![format!("container {name}: digest removed")],
            );
        }
    }
}

/// `SCHEDULING_CHANGE`: node selector, affinity or tolerations of the pod template change.
fn scheduling(v: &View<'_>, prefix: &[&str], out: &mut Outcome) {
    let sched: Vec<String> =
        v.o.changes
            .iter()
            .filter(|c| {
                ["nodeSelector", "affinity", "tolerations"]
                    .iter()
                    .any(|x| under(&c.keyed, &[prefix, &["spec", x]].concat()))
            })
            .map(|c| c.path.clone())
            .collect();
    if !sched.is_empty() {
        out.flag(
            "SCHEDULING_CHANGE",
            Low,
            None,
            "node selection changes: pods may move or stay pending".into(),
            sched,
        );
    }
}

/// `VCT_CHANGE`: the claim templates of a StatefulSet change.
pub(crate) fn vct_change(v: &View<'_>, out: &mut Outcome) {
    if !v.is("apps", "StatefulSet") || v.o.action == Action::Create {
        return;
    }
    let names = |o: Option<&Value>| -> Option<BTreeSet<String>> {
        Some(
            o?.at("/spec/volumeClaimTemplates")?
                .as_array()?
                .iter()
                .filter_map(|t| t.at("/metadata/name")?.as_str().map(str::to_owned))
                .collect(),
        )
    };
    if let (Some(b), Some(a)) = (names(v.before), names(v.after))
        && b != a
    {
        let gone: Vec<&String> = b.difference(&a).collect();
        let new: Vec<&String> = a.difference(&b).collect();
        out.flag("VCT_CHANGE", Critical, Some("spec.volumeClaimTemplates".into()),
                format!("claim templates change (removed {gone:?}, added {new:?}): pods get new, empty claims"),
                vec![format!("{b:?} → {a:?}")]);
    }
}
