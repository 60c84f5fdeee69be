//! Transitions: before → after of an applied patch (or replace), plus create-time checks.

use crate::path::At as _;
use std::collections::BTreeSet;

use serde_json::Value;

use super::super::world::{World, pod_template, references, template_prefix};
use super::super::{Outcome, View};
use super::helpers::{
    containers, int, join, manager, owners_of, qty, registry, replicas_kind, s, under,
};
use crate::path::Seg;
use crate::plan::{Action, Op, Severity};

use Severity::{Critical, High, Low, Medium};

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

#[allow(clippy::too_many_lines)]
pub(crate) fn transitions(v: &View<'_>, world: &World, replaced: bool, out: &mut Outcome) {
    let (g, k) = (v.group(), v.kind());
    let key = &v.o.key;
    let patch = matches!(v.o.action, Action::Patch | Action::Replace) && v.before.is_some();
    let (before, after) = (v.before, v.after);
    // Field conflicts with other managers.
    if let Some(st) = v.st
        && let (Some(raw), m) = (st.live_raw.as_ref(), manager(&st.mode))
        && !m.is_empty()
        && v.o.action == Action::Patch
    {
        for c in v.o.changes.iter().filter(|c| c.op != Op::Remove) {
            let owners = owners_of(raw, &m, &c.keyed, true);
            if !owners.is_empty() {
                out.flag("FIELD_CONFLICT", Medium, Some(c.path.clone()),
                            format!("{} is also owned by {}; the apply takes it over and that controller may set it back", c.path, owners.join(", ")), owners);
            }
        }
    }
    // Rollouts.
    let rollout_kind = matches!(
        (g, k),
        (
            "apps",
            "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet"
        )
    );
    if rollout_kind && patch {
        let prefix = template_prefix(g, k).unwrap_or(&[]);
        let tchanges: Vec<&crate::plan::Change> =
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
                let recreate =
                    k == "Deployment" && s(after, "/spec/strategy/type") == Some("Recreate");
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
        }
    }
    // ConfigMap / Secret content under the same name.
    if g.is_empty() && matches!(k, "ConfigMap" | "Secret") && patch && !replaced {
        let content =
            v.o.changes
                .iter()
                .any(|c| under(&c.keyed, &["data"]) || under(&c.keyed, &["binaryData"]));
        if content {
            let mut stale = Vec::new();
            let mut reloaded = Vec::new();
            for (w, desired) in world.workloads_in(&key.namespace) {
                let Some(tpl) = w.template() else { continue };
                let refs: Vec<_> = references(tpl)
                    .into_iter()
                    .filter(|r| r.kind == k && r.name == key.name)
                    .collect();
                if refs.is_empty() {
                    continue;
                }
                let ann = |a: &str| {
                    w.obj
                        .at("/metadata/annotations")
                        .and_then(|m| m.get(a))
                        .and_then(Value::as_str)
                };
                let list_has =
                    |a: &str| ann(a).is_some_and(|l| l.split(',').any(|n| n.trim() == key.name));
                let label = if desired {
                    w.label()
                } else {
                    format!("{} (live)", w.label())
                };
                let via_reloader = ann("reloader.stakater.com/auto") == Some("true")
                    || list_has(if k == "ConfigMap" {
                        "configmap.reloader.stakater.com/reload"
                    } else {
                        "secret.reloader.stakater.com/reload"
                    });
                if via_reloader {
                    reloaded.push(label);
                } else if !world.rolling.contains(&w.key) {
                    let hows: BTreeSet<&str> = refs.iter().map(|r| r.how).collect();
                    stale.push(format!(
                        "{label} ({})",
                        hows.into_iter().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            if !stale.is_empty() {
                out.flag("CONFIG_NOT_RELOADED", Medium, None,
                    format!("content changes under the same name; not restarted: {} (env values stay old until a restart; volume files update in place, subPath ones never)", stale.join(", ")), stale);
            }
            if !reloaded.is_empty() {
                out.flag(
                    "RESTART_ROLLOUT",
                    Medium,
                    None,
                    format!(
                        "reloader restarts {} for this change (via reloader)",
                        reloaded.join(", ")
                    ),
                    reloaded,
                );
            }
        }
    }
    // Scale.
    if replicas_kind(g, k) && patch {
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
    // Autoscaler conflicts.
    if replicas_kind(g, k) && matches!(v.o.action, Action::Create | Action::Patch | Action::Replace)
    {
        let sets =
            v.st.and_then(|s| s.desired.as_ref())
                .and_then(|d| d.at("/spec/replicas"))
                .is_some_and(|r| !r.is_null());
        if sets {
            let mut ev = Vec::new();
            if let Some(h) =
                world
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
    if !patch {
        // Create-time checks only.
        service_selector(v, world, out);
        return;
    }
    // Strategy.
    if v.is("apps", "Deployment")
        && s(after, "/spec/strategy/type") == Some("Recreate")
        && s(before, "/spec/strategy/type").unwrap_or("RollingUpdate") != "Recreate"
    {
        out.flag("STRATEGY_RECREATE", High, Some("spec.strategy.type".into()), "strategy becomes Recreate: every pod stops before new ones start (downtime on each rollout)".into(), vec!["Recreate".into()]);
    }
    // Per-container changes of the pod template.
    if let Some(prefix) = template_prefix(g, k) {
        let sp = join(&prefix.join("."), "spec");
        let tb = before.and_then(|b| pod_template(g, k, b));
        let ta = after.and_then(|a| pod_template(g, k, a));
        let cb = containers(tb);
        for (name, ca) in containers(ta) {
            let Some((_, cbv)) = cb.iter().find(|(n, _)| *n == name) else {
                continue;
            };
            let cp = format!("{sp}.containers[name={name}]");
            // Probes.
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
            // Resources.
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
            // Images.
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
    match (g, k) {
        ("", "Service") => {
            let tb = s(before, "/spec/type").unwrap_or("ClusterIP");
            let ta = s(after, "/spec/type").unwrap_or("ClusterIP");
            if tb == "LoadBalancer" && ta != "LoadBalancer" {
                out.flag(
                    "LB_RELEASE",
                    High,
                    Some("spec.type".into()),
                    format!("type LoadBalancer → {ta}: the external address is released"),
                    vec![format!("{tb} → {ta}")],
                );
            }
            let ranges = |o: Option<&Value>| {
                o.and_then(|o| o.at("/spec/loadBalancerSourceRanges"))
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty())
            };
            if ta == "LoadBalancer" && ranges(before) && !ranges(after) {
                out.flag(
                    "EXPOSURE_PUBLIC",
                    Medium,
                    Some("spec.loadBalancerSourceRanges".into()),
                    "loadBalancerSourceRanges removed: the load balancer accepts any source".into(),
                    vec!["source ranges removed".into()],
                );
            }
            service_selector(v, world, out);
        }
        ("networking.k8s.io", "Ingress") => {
            fn class(o: Option<&Value>) -> Option<&str> {
                s(o, "/spec/ingressClassName")
                    .or_else(|| s(o, "/metadata/annotations/kubernetes.io~1ingress.class"))
            }
            if let (Some(b), Some(a)) = (class(before), class(after))
                && a != b
            {
                out.flag("INGRESS_CLASS_CHANGE", Medium, Some("spec.ingressClassName".into()), format!("ingress class {b} → {a}: another controller takes over the routes (address and behaviour may change)"), vec![format!("{b} → {a}")]);
            }
            let hosts = |o: Option<&Value>| -> BTreeSet<String> {
                let spec = o.and_then(|o| o.get("spec"));
                let mut h: BTreeSet<String> = spec
                    .and_then(|s| s["rules"].as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r["host"].as_str().map(str::to_owned))
                    .collect();
                for t in spec.and_then(|s| s["tls"].as_array()).into_iter().flatten() {
                    h.extend(
                        t["hosts"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|x| x.as_str().map(|x| format!("tls {x}"))),
                    );
                }
                h
            };
            let gone: Vec<String> = hosts(before).difference(&hosts(after)).cloned().collect();
            if !gone.is_empty() {
                out.flag(
                    "INGRESS_ROUTE_REMOVED",
                    Medium,
                    Some("spec".into()),
                    format!("routes removed: {}", gone.join(", ")),
                    gone,
                );
            }
        }
        ("", "Namespace") => {
            let rank = |l: Option<&str>| match l {
                Some("privileged") => Some(0),
                Some("baseline") => Some(1),
                Some("restricted") => Some(2),
                _ => None,
            };
            let lb = s(
                before,
                "/metadata/labels/pod-security.kubernetes.io~1enforce",
            );
            let la = s(
                after,
                "/metadata/labels/pod-security.kubernetes.io~1enforce",
            );
            if let (Some(x), Some(y)) = (rank(lb), rank(la))
                && y > x
            {
                out.flag(
                    "PSA_TIGHTENED",
                    Medium,
                    Some("metadata.labels[\"pod-security.kubernetes.io/enforce\"]".into()),
                    format!(
                        "pod security enforce {} → {}: existing pods may not be re-admitted",
                        lb.unwrap_or_default(),
                        la.unwrap_or_default()
                    ),
                    vec![format!(
                        "{} → {}",
                        lb.unwrap_or_default(),
                        la.unwrap_or_default()
                    )],
                );
            }
            if lb.is_some() && la.is_none() {
                out.flag(
                    "PSA_WEAKENED",
                    High,
                    Some("metadata.labels[\"pod-security.kubernetes.io/enforce\"]".into()),
                    "pod security enforce label removed".into(),
                    vec!["enforce removed".into()],
                );
            }
        }
        ("", "PersistentVolume") | ("storage.k8s.io", "StorageClass") => {
            let p = if k == "PersistentVolume" {
                "/spec/persistentVolumeReclaimPolicy"
            } else {
                "/reclaimPolicy"
            };
            if let (Some(b), Some("Delete")) = (s(before, p), s(after, p))
                && b != "Delete"
            {
                out.flag(
                    "RECLAIM_POLICY_DELETE",
                    Medium,
                    Some(p.trim_start_matches('/').replace('/', ".")),
                    format!("reclaim policy {b} → Delete: volumes are destroyed with their claims"),
                    vec![format!("{b} → Delete")],
                );
            }
        }
        ("admissionregistration.k8s.io", _) => {
            for c in v.o.changes.iter().filter(|c| {
                c.op != Op::Remove
                    && c.keyed
                        .iter()
                        .any(|s| matches!(s, Seg::Field(f) if f == "caBundle"))
            }) {
                out.flag(
                    "WEBHOOK_TRUST_CHANGE",
                    Medium,
                    Some(c.path.clone()),
                    "the webhook trusts a different CA bundle".into(),
                    vec![c.path.clone()],
                );
            }
        }
        _ => {}
    }
}

fn service_selector(v: &View<'_>, world: &World, out: &mut Outcome) {
    if !v.is("", "Service") || s(v.after, "/spec/type") == Some("ExternalName") {
        return;
    }
    let touched = v.o.action == Action::Create
        || v.o
            .changes
            .iter()
            .any(|c| under(&c.keyed, &["spec", "selector"]));
    let Some(sel) = v
        .after
        .and_then(|a| a.at("/spec/selector"))
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty())
    else {
        return;
    };
    if !touched {
        return;
    }
    let matches = world.workloads_in(&v.o.key.namespace).any(|(w, _)| {
        let labels = w
            .template()
            .and_then(|t| t.at("/metadata/labels"))
            .and_then(Value::as_object);
        labels.is_some_and(|l| sel.iter().all(|(k, val)| l.get(k) == Some(val)))
    });
    if !matches {
        let text = crate::path::canonical_json(&Value::Object(sel.clone()));
        out.flag("SELECTOR_MISMATCH", High, Some("spec.selector".into()),
            format!(
                "selector {text} matches no pod template among {} workloads in namespace {}: the Service has no endpoints",
                if world.live_known { "desired and live" } else { "desired (no live data)" },
                v.o.key.namespace
            ),
            vec![text],
        );
    }
}
