//! The deletion side (§5.3), also run for a replace (deleted and created).

use thule_core::ownership::protection;

use super::super::world::{World, references};
use super::super::{Outcome, RiskContext, View};
use super::helpers::s;
use crate::plan::{Action, Severity};

use Severity::{Critical, High, Medium};

/// The flags of deleting (or, with `replace`, deleting and creating) one object: data lost
/// with claims, volumes, namespaces and CRDs, stopped workloads, released load balancers,
/// rerun Jobs, weakened budgets and policies, dangling references, and a protection the base
/// render had ([`protection`], the verdict the appliers' prune shares).
pub(crate) fn deletion(
    v: &View<'_>,
    world: &World,
    ctx: &RiskContext<'_>,
    replace: bool,
    out: &mut Outcome,
) {
    let key = &v.o.key;
    let obj = v.before;
    let verb = if replace {
        "replaced (deleted and created)"
    } else {
        "deleted"
    };
    match (v.group(), v.kind()) {
        ("", "PersistentVolumeClaim") => {
            let policy = ctx.facts.pv_reclaim_policy.get(key);
            let (sev, why) = match policy.map(String::as_str) {
                Some("Retain") => (High, "the bound volume is retained (reclaim policy Retain) but the claim is gone".to_owned()),
                Some(p) => (Critical, format!("the bound volume's reclaim policy is {p}: its data is destroyed")),
                None => (Critical, "with the usual reclaim policy Delete its data is destroyed".to_owned()),
            };
            out.flag("DELETE_PVC", sev, None, format!("claim {} is {verb}; {why}", key.name), policy.map(|p| vec![format!("reclaimPolicy {p}")]).unwrap_or_default());
        }
        ("", "PersistentVolume") => {
            let p = s(obj, "/spec/persistentVolumeReclaimPolicy");
            if matches!(p, Some("Delete" | "Recycle")) {
                out.flag("DELETE_PV", Critical, None, format!("volume {} is {verb} with reclaim policy {}: its data is destroyed", key.name, p.unwrap_or_default()), vec![format!("reclaimPolicy {}", p.unwrap_or_default())]);
            }
        }
        ("", "Namespace") => {
            let (msg, ev) = match ctx.facts.namespace_contents.get(key) {
                Some(counts) => {
                    let total: u64 = counts.values().sum();
                    let per: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
                    (format!("namespace {} is {verb} with everything in it: {total} objects ({})", key.name, per.join(", ")), per)
                }
                None => (format!("namespace {} is {verb} with everything in it (counts need a cluster)", key.name), vec![]),
            };
            out.flag("DELETE_NAMESPACE", Critical, None, msg, ev);
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            let (msg, ev) = match ctx.facts.crd_instances.get(key) {
                Some(n) => (format!("CRD {} is {verb}: its {n} custom resources are deleted cluster-wide", key.name), vec![format!("{n} custom resources")]),
                None => (format!("CRD {} is {verb}: all its custom resources are deleted cluster-wide (count needs a cluster)", key.name), vec![]),
            };
            out.flag("DELETE_CRD", Critical, None, msg, ev);
        }
        ("apps", "StatefulSet") => out.flag("DELETE_STATEFUL_WORKLOAD", High, None,
            format!("StatefulSet {} is {verb}: its pods stop (claims are kept unless the retention policy deletes them)", key.name), vec![]),
        ("", "Service") if s(obj, "/spec/type") == Some("LoadBalancer") => out.flag("LB_RELEASE", High, None,
            format!("LoadBalancer Service {} is {verb}: its external address is released and may not come back", key.name), vec!["type LoadBalancer".into()]),
        ("batch", "Job") if replace => out.flag("JOB_RERUN", High, None,
            format!("Job {} is replaced: it runs again (side effects such as migrations repeat)", key.name), vec![]),
        ("policy", "PodDisruptionBudget") if !replace => out.flag("PDB_WEAKENED", Medium, None,
            format!("PodDisruptionBudget {} is deleted: evictions are no longer limited", key.name), vec!["deleted".into()]),
        ("networking.k8s.io", "NetworkPolicy") if !replace => out.flag("NETPOL_WEAKENED", Medium, None,
            format!("NetworkPolicy {} is deleted: the traffic it restricted is allowed", key.name), vec!["deleted".into()]),
        ("", "ConfigMap" | "Secret") if !replace => {
            let users: Vec<String> = world
                .workloads_in(&key.namespace)
                .filter(|(w, _)| w.template().is_some_and(|t| references(t).iter().any(|r| r.kind == key.kind && r.name == key.name && !r.optional)))
                .map(|(w, desired)| if desired { w.label() } else { format!("{} (live)", w.label()) })
                .collect();
            if !users.is_empty() {
                out.flag("DANGLING_REFERENCE", High, None,
                    format!("{} {} is deleted but still referenced by {}: their pods fail to start", key.kind, key.name, users.join(", ")), users);
            }
        }
        _ => {}
    }
    if !replace
        && v.o.action == Action::Delete
        && let Some(why) = v.st.and_then(|s| s.base.as_ref()).and_then(protection)
    {
        out.flag(
            "PROTECTION_REMOVED",
            High,
            None,
            format!("protected in the base render ({why}) but deleted now"),
            vec![why.to_string()],
        );
    }
}
