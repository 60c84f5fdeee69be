//! State findings: evaluated on the after object, raised when new or worse than before.

mod pod;
mod rbac;

use crate::path::At as _;
use std::collections::BTreeSet;

use serde_json::Value;

use super::super::world::{World, pod_template};
use super::super::{Outcome, View};
use super::helpers::{int, join, pct_or_int, prefix_str, replicas_kind, s};
use crate::plan::{ApplyMode, Op, Severity};

use Severity::{High, Medium};

struct Finding {
    id: &'static str,
    severity: Severity,
    path: String,
    evidence: String,
    message: String,
}

fn f(
    id: &'static str,
    severity: Severity,
    path: String,
    evidence: String,
    message: String,
) -> Finding {
    Finding {
        id,
        severity,
        path,
        evidence,
        message,
    }
}

fn excludes_kube_system(sel: &Value) -> bool {
    if sel["matchLabels"]
        .as_object()
        .is_some_and(|m| !m.is_empty())
    {
        return true;
    }
    sel["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| {
            let vals: Vec<&str> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            match e["operator"].as_str() {
                Some("NotIn") => vals.contains(&"kube-system"),
                Some("In") => !vals.contains(&"kube-system"),
                Some("Exists") => true,
                _ => false,
            }
        })
}

fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let hostport = rest.split(['/', '?', '#']).next()?;
    let host = hostport.rsplit('@').next()?;
    Some(host.split(':').next().unwrap_or(host))
}

fn state_findings(v: &View<'_>, obj: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    let (g, k) = (v.group(), v.kind());
    if let Some(tpl) = pod_template(g, k, obj) {
        pod::pod_findings(tpl, &prefix_str(g, k), &mut out);
    }
    match (g, k) {
        ("apps", "Deployment") => deployment_rollout(obj, &mut out),
        ("apps", "DaemonSet") => daemonset_rollout(obj, &mut out),
        ("apps", "StatefulSet") => claim_retention(obj, &mut out),
        ("rbac.authorization.k8s.io", _) => rbac::rbac_findings(obj, k, &mut out),
        ("", "Namespace") => namespace_privileged(obj, &mut out),
        ("networking.k8s.io", "NetworkPolicy") => network_policy(obj, &mut out),
        ("", "Service") => service_exposure(obj, &mut out),
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration",
        ) => webhooks(obj, &mut out),
        ("policy", "PodDisruptionBudget") => disruption_budget(obj, &mut out),
        _ => {}
    }
    smp_collisions(v, obj, &mut out);
    out
}

/// `MAX_UNAVAILABLE_ALL` of a Deployment: a rolling update may stop (nearly) every pod.
fn deployment_rollout(obj: &Value, out: &mut Vec<Finding>) {
    let o = Some(obj);
    let r = int(o, "/spec/replicas").unwrap_or(1);
    let rolling = s(o, "/spec/strategy/type").unwrap_or("RollingUpdate") == "RollingUpdate";
    let mu_v = obj.at("/spec/strategy/rollingUpdate/maxUnavailable");
    let ms_v = obj.at("/spec/strategy/rollingUpdate/maxSurge");
    let dflt = Value::String("25%".into());
    let mut mu = pct_or_int(Some(mu_v.unwrap_or(&dflt)), r, false).unwrap_or(0);
    let ms = pct_or_int(Some(ms_v.unwrap_or(&dflt)), r, true).unwrap_or(1);
    if mu == 0 && ms == 0 {
        mu = 1;
    }
    if rolling && r > 0 && (mu >= r || (ms == 0 && mu * 2 >= r)) {
        out.push(f(
            "MAX_UNAVAILABLE_ALL",
            High,
            "spec.strategy.rollingUpdate".into(),
            "rolling update can stop most pods".into(),
            format!("a rolling update may take {mu} of {r} pods down at once"),
        ));
    }
}

/// `MAX_UNAVAILABLE_ALL` of a DaemonSet: `maxUnavailable: 100%`.
fn daemonset_rollout(obj: &Value, out: &mut Vec<Finding>) {
    let o = Some(obj);
    if s(o, "/spec/updateStrategy/rollingUpdate/maxUnavailable") == Some("100%") {
        out.push(f(
            "MAX_UNAVAILABLE_ALL",
            High,
            "spec.updateStrategy.rollingUpdate.maxUnavailable".into(),
            "rolling update can stop most pods".into(),
            "a rolling update may take every node's pod down at once (maxUnavailable 100%)".into(),
        ));
    }
}

/// `STS_PVC_AUTODELETE`: a StatefulSet's claims are deleted with it or when it scales down.
fn claim_retention(obj: &Value, out: &mut Vec<Finding>) {
    let o = Some(obj);
    for w in ["whenDeleted", "whenScaled"] {
        if s(
            o,
            &format!("/spec/persistentVolumeClaimRetentionPolicy/{w}"),
        ) == Some("Delete")
        {
            out.push(f(
                "STS_PVC_AUTODELETE",
                High,
                format!("spec.persistentVolumeClaimRetentionPolicy.{w}"),
                format!("{w} Delete"),
                format!("claims are deleted automatically ({w}: Delete)"),
            ));
        }
    }
}

/// `PSA_WEAKENED`: a Namespace enforces the privileged pod security level.
fn namespace_privileged(obj: &Value, out: &mut Vec<Finding>) {
    if s(
        Some(obj),
        "/metadata/labels/pod-security.kubernetes.io~1enforce",
    ) == Some("privileged")
    {
        out.push(f(
            "PSA_WEAKENED",
            High,
            "metadata.labels[\"pod-security.kubernetes.io/enforce\"]".into(),
            "enforce privileged".into(),
            "pod security enforcement is privileged: any pod is admitted".into(),
        ));
    }
}

/// `NETPOL_WEAKENED`: a NetworkPolicy rule without peers, or with peers open to everyone.
fn network_policy(obj: &Value, out: &mut Vec<Finding>) {
    for (dir, peers) in [("ingress", "from"), ("egress", "to")] {
        for (i, rule) in obj["spec"][dir]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let path = format!("spec.{dir}[{i}]");
            match rule.get(peers).and_then(Value::as_array) {
                None => out.push(f(
                    "NETPOL_WEAKENED",
                    Medium,
                    path,
                    format!("{dir} without {peers}"),
                    format!("an {dir} rule without `{peers}` allows every peer"),
                )),
                Some(list) => {
                    for p in list {
                        open_peer(dir, &path, p, out);
                    }
                }
            }
        }
    }
}

/// `NETPOL_WEAKENED`: one peer of a NetworkPolicy rule open to any address, every namespace
/// or every pod of the namespace.
fn open_peer(dir: &str, path: &str, p: &Value, out: &mut Vec<Finding>) {
    if let Some(c) = p["ipBlock"]["cidr"]
        .as_str()
        .filter(|c| matches!(*c, "0.0.0.0/0" | "::/0"))
    {
        out.push(f(
            "NETPOL_WEAKENED",
            Medium,
            path.to_owned(),
            format!("{dir} {c}"),
            format!("{dir} is open to {c}"),
        ));
    }
    if p.get("namespaceSelector")
        .and_then(Value::as_object)
        .is_some_and(|m| m.is_empty())
    {
        out.push(f(
            "NETPOL_WEAKENED",
            Medium,
            path.to_owned(),
            format!("{dir} all namespaces"),
            format!("{dir} is open to every namespace"),
        ));
    } else if p.get("namespaceSelector").is_none()
        && p.get("podSelector")
            .and_then(Value::as_object)
            .is_some_and(|m| m.is_empty())
    {
        out.push(f(
            "NETPOL_WEAKENED",
            Medium,
            path.to_owned(),
            format!("{dir} all pods"),
            format!("{dir} is open to every pod of the namespace"),
        ));
    }
}

/// `EXPOSURE_PUBLIC`: a Service reachable from outside the cluster.
fn service_exposure(obj: &Value, out: &mut Vec<Finding>) {
    let o = Some(obj);
    if let Some(t) = s(o, "/spec/type").filter(|t| matches!(*t, "LoadBalancer" | "NodePort")) {
        out.push(f(
            "EXPOSURE_PUBLIC",
            Medium,
            "spec.type".into(),
            format!("type {t}"),
            format!("the Service is reachable from outside the cluster (type {t})"),
        ));
    }
}

/// `WEBHOOK_FAIL_CLOSED`, `WEBHOOK_TRUST_CHANGE`: admission webhooks that can block the
/// cluster or send requests outside it.
fn webhooks(obj: &Value, out: &mut Vec<Finding>) {
    for wh in obj["webhooks"].as_array().into_iter().flatten() {
        let name = wh["name"].as_str().unwrap_or_default();
        let path = format!("webhooks[name={name}]");
        let fail = wh["failurePolicy"].as_str().unwrap_or("Fail") == "Fail";
        let broad = wh["rules"].as_array().into_iter().flatten().any(|r| {
            let has = |k: &str, x: &str| {
                r[k].as_array()
                    .into_iter()
                    .flatten()
                    .any(|v| v.as_str() == Some(x))
            };
            has("apiGroups", "")
                || has("apiGroups", "*")
                || has("resources", "*")
                || has("resources", "*/*")
        });
        if fail && broad && !excludes_kube_system(&wh["namespaceSelector"]) {
            out.push(f("WEBHOOK_FAIL_CLOSED", High, path.clone(), format!("webhook {name} fail-closed"),
                format!("webhook {name} fails closed on core resources without excluding kube-system: an outage blocks the cluster")));
        }
        if let Some(host) = wh["clientConfig"]["url"].as_str().and_then(url_host)
            && !(host.ends_with(".svc")
                || host.ends_with(".svc.cluster.local")
                || host.ends_with(".cluster.local"))
        {
            out.push(f(
                "WEBHOOK_TRUST_CHANGE",
                Medium,
                format!("{path}.clientConfig.url"),
                format!("webhook {name} url {host}"),
                format!("webhook {name} sends admission requests outside the cluster ({host})"),
            ));
        }
    }
}

/// `PDB_WEAKENED`, `PDB_BLOCKS_DRAIN`: a budget that allows every eviction, or none.
fn disruption_budget(obj: &Value, out: &mut Vec<Finding>) {
    let min = obj.at("/spec/minAvailable");
    let max = obj.at("/spec/maxUnavailable");
    let zero = |v: Option<&Value>| {
        matches!(v, Some(Value::Number(n)) if n.as_i64() == Some(0))
            || matches!(v, Some(Value::String(s)) if s == "0%")
    };
    let full = |v: Option<&Value>| matches!(v, Some(Value::String(s)) if s == "100%");
    if zero(min) || full(max) {
        out.push(f(
            "PDB_WEAKENED",
            Medium,
            "spec".into(),
            "allows all evictions".into(),
            "the budget allows every pod to be evicted".into(),
        ));
    }
    if zero(max) || full(min) {
        out.push(f(
            "PDB_BLOCKS_DRAIN",
            Medium,
            "spec".into(),
            "allows no eviction".into(),
            "the budget allows no eviction: node drains block".into(),
        ));
    }
}

/// `SMP_KEY_COLLISION`: strategic-merge key collisions under client-side apply.
fn smp_collisions(v: &View<'_>, obj: &Value, out: &mut Vec<Finding>) {
    let (g, k) = (v.group(), v.kind());
    if v.st
        .is_some_and(|st| matches!(st.mode, ApplyMode::Csa(_) | ApplyMode::Helm))
    {
        let mut check = |list: Option<&Value>, key: &str, path: String| {
            let mut seen = BTreeSet::new();
            for it in list.and_then(Value::as_array).into_iter().flatten() {
                if let Some(p) = it.get(key).and_then(Value::as_i64)
                    && !seen.insert(p)
                {
                    out.push(f("SMP_KEY_COLLISION", Medium, path.clone(), format!("{key} {p}"),
                            format!("two items share {key} {p}; client-side apply merges them by {key} alone and may drop one")));
                }
            }
        };
        if g.is_empty() && k == "Service" {
            check(obj.at("/spec/ports"), "port", "spec.ports".into());
        }
        if let Some(tpl) = pod_template(g, k, obj) {
            let sp = join(&prefix_str(g, k), "spec");
            for c in tpl["spec"]["containers"].as_array().into_iter().flatten() {
                check(
                    c.get("ports"),
                    "containerPort",
                    format!(
                        "{sp}.containers[name={}].ports",
                        c["name"].as_str().unwrap_or_default()
                    ),
                );
            }
        }
    }
}

/// Security and configuration findings of the after object that are new or more severe.
pub(crate) fn state(v: &View<'_>, out: &mut Outcome) {
    let Some(after) = v.after else { return };
    let now = state_findings(v, after);
    let was = v.before.map(|b| state_findings(v, b)).unwrap_or_default();
    for x in now {
        if was
            .iter()
            .any(|b| b.id == x.id && b.evidence == x.evidence && b.severity >= x.severity)
        {
            continue;
        }
        out.flag(x.id, x.severity, Some(x.path), x.message, vec![x.evidence]);
    }
}

pub(crate) fn secrets_in_plaintext(v: &View<'_>, out: &mut Outcome) {
    if v.is("", "Secret") || v.is("bitnami.com", "SealedSecret") {
        return;
    }
    // Every value the apply writes from git, drift reverts included (spec §9 #56: D0 = D1
    // there, and the flag is still expected): the value sits in git in clear either way.
    for c in &v.o.changes {
        if c.sensitive && c.op != Op::Remove {
            out.flag("SECRET_IN_PLAINTEXT", High, Some(c.path.clone()),
                format!("a secret-like value at {} is committed in clear; keep it in a Secret (or SOPS)", c.path), vec![c.path.clone()]);
        }
    }
}

/// `PDB_WEAKENED` / `PDB_BLOCKS_DRAIN` measured against the replicas of the workloads the
/// budget selects (desired, else live), when they are known; new or worse than before only.
pub(crate) fn pdb_against_replicas(v: &View<'_>, world: &World, out: &mut Outcome) {
    if !v.is("policy", "PodDisruptionBudget") {
        return;
    }
    let Some(after) = v.after else { return };
    let Some(sel) = after
        .at("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty())
    else {
        return;
    };
    let mut total = 0;
    let mut any = false;
    for (w, _) in world.workloads_in(&v.o.key.namespace) {
        let labels = w
            .template()
            .and_then(|t| t.at("/metadata/labels"))
            .and_then(Value::as_object);
        if labels.is_some_and(|l| sel.iter().all(|(k, val)| l.get(k) == Some(val)))
            && replicas_kind(&w.key.group, &w.key.kind)
        {
            any = true;
            total += int(Some(w.obj), "/spec/replicas").unwrap_or(1);
        }
    }
    if !any || total == 0 {
        return;
    }
    let verdict = |pdb: Option<&Value>| -> (bool, bool) {
        let min = pdb.and_then(|p| p.at("/spec/minAvailable"));
        let max = pdb.and_then(|p| p.at("/spec/maxUnavailable"));
        let weak = pct_or_int(max, total, true).is_some_and(|m| m >= total);
        let blocks = pct_or_int(min, total, true).is_some_and(|m| m >= total);
        (weak, blocks)
    };
    let (weak, blocks) = verdict(Some(after));
    let (was_weak, was_blocking) = verdict(v.before);
    if weak && !was_weak {
        out.flag(
            "PDB_WEAKENED",
            Medium,
            Some("spec".into()),
            format!("the budget allows all {total} selected pods to be evicted at once"),
            vec!["allows all evictions".into()],
        );
    }
    if blocks && !was_blocking {
        out.flag(
            "PDB_BLOCKS_DRAIN",
            Medium,
            Some("spec".into()),
            format!("minAvailable covers all {total} selected pods: no eviction is allowed, node drains block"),
            vec!["allows no eviction".into()],
        );
    }
}
