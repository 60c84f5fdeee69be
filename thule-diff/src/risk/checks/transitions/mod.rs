//! Transitions: before → after of an applied patch (or replace), plus create-time checks.
//!
//! [`transitions`] flags field conflicts with other managers on every kind, then hands the
//! object to the checks of its kind: ConfigMaps and Secrets, Services, Ingresses,
//! Namespaces, volumes and storage classes, admission webhooks, and workloads (`workload`).

mod workload;

use crate::path::At as _;
use std::collections::BTreeSet;

use serde_json::Value;

use super::super::world::{World, references, template_prefix};
use super::super::{Outcome, View};
use super::helpers::{manager, owners_of, s, under};
use crate::path::Seg;
use crate::plan::{Action, Op, Severity};

use Severity::{High, Medium};

pub(crate) use workload::vct_change;

/// The before → after checks of one object. Creates get only the create-time checks (a
/// Service's selector, a workload's autoscaler conflict); a replace skips the checks of
/// content changed in place.
pub(crate) fn transitions(v: &View<'_>, world: &World, replaced: bool, out: &mut Outcome) {
    field_conflicts(v, out);
    let patch = matches!(v.o.action, Action::Patch | Action::Replace) && v.before.is_some();
    // No kind before the last arm has a pod template: an arm whose guard fails ends in `_`.
    match (v.group(), v.kind()) {
        ("", "ConfigMap" | "Secret") if patch && !replaced => config_content(v, world, out),
        ("", "Service") => service(v, world, patch, out),
        ("networking.k8s.io", "Ingress") if patch => ingress(v, out),
        ("", "Namespace") if patch => pod_security(v, out),
        ("", "PersistentVolume") | ("storage.k8s.io", "StorageClass") if patch => {
            reclaim_policy(v, out);
        }
        ("admissionregistration.k8s.io", _) if patch => webhook_ca(v, out),
        (g, k) if template_prefix(g, k).is_some() => {
            workload::workload(v, world, replaced, patch, out);
        }
        _ => {}
    }
}

/// `FIELD_CONFLICT`: a patched field is also owned by another controller.
fn field_conflicts(v: &View<'_>, out: &mut Outcome) {
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
}

/// `CONFIG_NOT_RELOADED` / `RESTART_ROLLOUT`: ConfigMap or Secret content changes under the
/// same name; who picks it up.
fn config_content(v: &View<'_>, world: &World, out: &mut Outcome) {
    let k = v.kind();
    let key = &v.o.key;
    let content =
        v.o.changes
            .iter()
            .any(|c| under(&c.keyed, &["data"]) || under(&c.keyed, &["binaryData"]));
    if !content {
        return;
    }
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
        let list_has = |a: &str| ann(a).is_some_and(|l| l.split(',').any(|n| n.trim() == key.name));
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

/// A Service's load balancer (patch only) and selector (create and patch).
fn service(v: &View<'_>, world: &World, patch: bool, out: &mut Outcome) {
    if patch {
        load_balancer(v, out);
    }
    service_selector(v, world, out);
}

/// `LB_RELEASE`, `EXPOSURE_PUBLIC`: the Service stops being a load balancer or drops its
/// source ranges.
fn load_balancer(v: &View<'_>, out: &mut Outcome) {
    let (before, after) = (v.before, v.after);
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
}

/// `INGRESS_CLASS_CHANGE`, `INGRESS_ROUTE_REMOVED`.
fn ingress(v: &View<'_>, out: &mut Outcome) {
    let (before, after) = (v.before, v.after);
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

/// `PSA_TIGHTENED`, `PSA_WEAKENED`: the Namespace's pod security enforce level.
fn pod_security(v: &View<'_>, out: &mut Outcome) {
    let (before, after) = (v.before, v.after);
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

/// `RECLAIM_POLICY_DELETE`: a PersistentVolume's or StorageClass's reclaim policy becomes
/// Delete.
fn reclaim_policy(v: &View<'_>, out: &mut Outcome) {
    let k = v.kind();
    let (before, after) = (v.before, v.after);
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

/// `WEBHOOK_TRUST_CHANGE`: an admission webhook's CA bundle changes.
fn webhook_ca(v: &View<'_>, out: &mut Outcome) {
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
