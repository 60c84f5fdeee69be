//! The rules of spec §5.2–§5.6 (immutable fields are in `immutable.rs`).

use crate::path::At as _;
use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde_json::Value;

use super::immutable::short;
use super::world::{World, pod_template, references, template_prefix};
use super::{Outcome, RiskContext, View};
use crate::fields::FieldSet;
use crate::path::{Path, Seg};
use crate::plan::{Action, ApplyMode, ChangeOrigin, Detail, Op, Severity};
use crate::quantity::Quantity;

use Severity::{Critical, High, Info, Low, Medium};

/// The field names of a keyed path (list items left out).
pub(crate) fn fields_of(path: &Path) -> Vec<&str> {
    path.iter()
        .filter_map(|s| match s {
            Seg::Field(f) => Some(f.as_str()),
            _ => None,
        })
        .collect()
}

/// Whether a keyed path starts with these fields (no list items in between).
pub(crate) fn under(path: &Path, prefix: &[&str]) -> bool {
    path.len() >= prefix.len()
        && path
            .iter()
            .zip(prefix)
            .all(|(s, p)| matches!(s, Seg::Field(f) if f == p))
}

fn qty(v: &Value) -> Option<i128> {
    match v {
        Value::String(s) => Quantity::parse(s).map(|q| q.nanos),
        Value::Number(n) => Quantity::parse(&n.to_string()).map(|q| q.nanos),
        _ => None,
    }
}

/// Compare two quantities (`None` when either does not parse).
pub(crate) fn quantity_cmp(a: &str, b: &str) -> Option<Ordering> {
    Some(Quantity::parse(a)?.nanos.cmp(&Quantity::parse(b)?.nanos))
}

fn s<'v>(v: Option<&'v Value>, pointer: &str) -> Option<&'v str> {
    v.and_then(|v| v.at(pointer)).and_then(Value::as_str)
}

fn int(v: Option<&Value>, pointer: &str) -> Option<i64> {
    v.and_then(|v| v.at(pointer)).and_then(Value::as_i64)
}

fn join(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_owned()
    } else {
        format!("{prefix}.{rest}")
    }
}

fn prefix_str(group: &str, kind: &str) -> String {
    template_prefix(group, kind)
        .map(|p| p.join("."))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Process and ownership (§5.6)

const OWNER_MARKERS: &[(&str, &str)] = &[
    ("labels", "kustomize.toolkit.fluxcd.io/name"),
    ("labels", "helm.toolkit.fluxcd.io/name"),
    ("annotations", "meta.helm.sh/release-name"),
    ("annotations", "argocd.argoproj.io/tracking-id"),
];

const STATEFUL: &[&str] = &[
    "StatefulSet",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "Namespace",
    "CustomResourceDefinition",
];

pub(crate) fn process(v: &View<'_>, world: &World, ctx: &RiskContext<'_>, out: &mut Outcome) {
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
    if matches!(o.action, Action::Patch | Action::Replace) {
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
    // Adoption and ownership transfer, from the applier's markers.
    if matches!(o.action, Action::Patch | Action::Replace) {
        let mut adopt = false;
        for c in &o.changes {
            let marker = OWNER_MARKERS
                .iter()
                .any(|(m, k)| c.keyed.len() == 3 && under(&c.keyed, &["metadata", m, k]))
                || ctx
                    .owner_labels
                    .keys()
                    .any(|k| c.keyed.len() == 3 && under(&c.keyed, &["metadata", "labels", k]));
            if !marker {
                continue;
            }
            match c.op {
                Op::Add => {
                    adopt = true;
                    out.flag("ADOPT", Medium, Some(c.path.clone()),
                        format!("{} exists without this unit's ownership marker; the apply takes it over", v.label()), vec![c.path.clone()]);
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
        if !adopt && let Some(live) = v.st.and_then(|s| s.live.as_ref()) {
            let missing: Vec<&String> = ctx
                .owner_labels
                .iter()
                .filter(|(k, val)| {
                    s(
                        Some(live),
                        &format!(
                            "/metadata/labels/{}",
                            k.replace('~', "~0").replace('/', "~1")
                        ),
                    ) != Some(val.as_str())
                })
                .map(|(k, _)| k)
                .collect();
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
    }
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

fn manager(mode: &ApplyMode) -> String {
    match mode {
        ApplyMode::Ssa(m) | ApplyMode::Csa(m) => m.clone(),
        _ => String::new(),
    }
}

fn owns(fs: &FieldSet, path: &[Seg]) -> bool {
    let mut node = fs;
    for (i, seg) in path.iter().enumerate() {
        if i > 0 && node.member && node.children.is_empty() {
            return true;
        }
        match node.children.get(seg) {
            Some(n) => node = n,
            None => return false,
        }
    }
    node.any_member()
}

/// Managers that are people or SSA's migration placeholder, not controllers: taking their
/// fields reverts a manual edit (drift), nobody fights back.
fn human_or_placeholder(m: &str) -> bool {
    m == "before-first-apply" || m.starts_with("kubectl")
}

/// Other managers (not `manager`, not the status subresource; with `controllers_only` not
/// `kubectl*` or `before-first-apply` either) that own `path` in live.
fn owners_of(live_raw: &Value, manager: &str, path: &[Seg], controllers_only: bool) -> Vec<String> {
    let mut out = Vec::new();
    for e in live_raw
        .at("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let m = e["manager"].as_str().unwrap_or_default();
        let sub = e
            .get("subresource")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if m == manager || sub == "status" || (controllers_only && human_or_placeholder(m)) {
            continue;
        }
        if let Some(Ok(fs)) = e.get("fieldsV1").map(FieldSet::from_fields_v1)
            && owns(&fs, path)
        {
            let label = if sub.is_empty() {
                m.to_owned()
            } else {
                format!("{m} ({sub})")
            };
            if !out.contains(&label) {
                out.push(label);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Deletion side (§5.3, also for a replace)

fn protected(obj: &Value) -> Option<&'static str> {
    let flag = |k: &str| {
        obj.at("/metadata/annotations")
            .and_then(|a| a.get(k))
            .or_else(|| obj.at("/metadata/labels").and_then(|l| l.get(k)))
            .and_then(Value::as_str)
    };
    if flag("kustomize.toolkit.fluxcd.io/prune").is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
    {
        return Some("kustomize.toolkit.fluxcd.io/prune: disabled");
    }
    if flag("helm.sh/resource-policy") == Some("keep") {
        return Some("helm.sh/resource-policy: keep");
    }
    if flag("argocd.argoproj.io/sync-options").is_some_and(|o| {
        o.split(',')
            .any(|x| matches!(x.trim(), "Prune=false" | "Delete=false"))
    }) {
        return Some("argocd.argoproj.io/sync-options Prune=false");
    }
    None
}

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
        && let Some(why) = v.st.and_then(|s| s.base.as_ref()).and_then(protected)
    {
        out.flag(
            "PROTECTION_REMOVED",
            High,
            None,
            format!("protected in the base render ({why}) but deleted now"),
            vec![why.to_owned()],
        );
    }
}

// ---------------------------------------------------------------------------------------
// State findings: evaluated on the after object, raised when new or worse than before.

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

const DANGEROUS_CAPS: &[&str] = &[
    "ALL",
    "SYS_ADMIN",
    "NET_ADMIN",
    "SYS_PTRACE",
    "SYS_MODULE",
    "DAC_READ_SEARCH",
    "BPF",
    "PERFMON",
    "NET_RAW",
];
const SENSITIVE_HOST_PATHS: &[&str] = &[
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/var/lib/kubelet",
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
];

fn mutable_image(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => true,
        Some((_, tag)) => tag == "latest",
    }
}

fn security_context(sc: &Value, path: &str, who: &str, out: &mut Vec<Finding>) {
    if sc["runAsUser"].as_i64() == Some(0) {
        out.push(f(
            "RUN_AS_ROOT",
            Medium,
            join(path, "runAsUser"),
            format!("{who}: runAsUser 0"),
            format!("{who} runs as root (runAsUser: 0)"),
        ));
    }
    if sc["runAsNonRoot"].as_bool() == Some(false) {
        out.push(f(
            "RUN_AS_ROOT",
            Medium,
            join(path, "runAsNonRoot"),
            format!("{who}: runAsNonRoot false"),
            format!("{who} may run as root (runAsNonRoot: false)"),
        ));
    }
    for field in ["seccompProfile", "appArmorProfile"] {
        if sc[field]["type"].as_str() == Some("Unconfined") {
            out.push(f(
                "SECCOMP_UNCONFINED",
                Medium,
                join(path, &format!("{field}.type")),
                format!("{who}: {field} Unconfined"),
                format!("{who} runs with {field} Unconfined"),
            ));
        }
    }
}

fn pod_findings(tpl: &Value, prefix: &str, out: &mut Vec<Finding>) {
    let sp = join(prefix, "spec");
    let spec = &tpl["spec"];
    for hn in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec[hn].as_bool() == Some(true) {
            out.push(f(
                "HOST_NAMESPACE",
                High,
                join(&sp, hn),
                hn.to_owned(),
                format!("pods share the node's namespace ({hn}: true)"),
            ));
        }
    }
    for vol in spec["volumes"].as_array().into_iter().flatten() {
        if let Some(p) = vol["hostPath"]["path"].as_str() {
            let name = vol["name"].as_str().unwrap_or_default();
            let norm = if p.len() > 1 {
                p.trim_end_matches('/')
            } else {
                p
            };
            let sev = if SENSITIVE_HOST_PATHS.contains(&norm) {
                Critical
            } else {
                High
            };
            out.push(f(
                "HOST_PATH",
                sev,
                format!("{sp}.volumes[name={name}].hostPath.path"),
                format!("volume {name}: {norm}"),
                format!("volume {name} mounts the node's {norm}"),
            ));
        }
    }
    security_context(
        &spec["securityContext"],
        &join(&sp, "securityContext"),
        "pod",
        out,
    );
    if spec["automountServiceAccountToken"].as_bool() == Some(true) {
        out.push(f(
            "SA_TOKEN_AUTOMOUNT",
            Low,
            join(&sp, "automountServiceAccountToken"),
            "automount".into(),
            "the service account token is mounted into the pods".into(),
        ));
    }
    if let Some(ann) = tpl.at("/metadata/annotations").and_then(Value::as_object) {
        for (k, val) in ann {
            if k.starts_with("container.apparmor.security.beta.kubernetes.io/")
                && val.as_str() == Some("unconfined")
            {
                out.push(f(
                    "SECCOMP_UNCONFINED",
                    Medium,
                    join(prefix, &format!("metadata.annotations[\"{k}\"]")),
                    k.clone(),
                    format!("AppArmor unconfined ({k})"),
                ));
            }
        }
    }
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for c in spec[list].as_array().into_iter().flatten() {
            let name = c["name"].as_str().unwrap_or_default();
            let cp = format!("{sp}.{list}[name={name}]");
            let who = format!("container {name}");
            let sc = &c["securityContext"];
            let scp = format!("{cp}.securityContext");
            if sc["privileged"].as_bool() == Some(true) {
                out.push(f(
                    "PRIVILEGED",
                    Critical,
                    format!("{scp}.privileged"),
                    format!("{who}: privileged"),
                    format!("{who} runs privileged (full access to the node)"),
                ));
            }
            if sc["allowPrivilegeEscalation"].as_bool() == Some(true) {
                out.push(f(
                    "PRIV_ESCALATION",
                    High,
                    format!("{scp}.allowPrivilegeEscalation"),
                    format!("{who}: allowPrivilegeEscalation"),
                    format!("{who} allows privilege escalation"),
                ));
            }
            if sc["procMount"].as_str() == Some("Unmasked") {
                out.push(f(
                    "PRIV_ESCALATION",
                    High,
                    format!("{scp}.procMount"),
                    format!("{who}: procMount Unmasked"),
                    format!("{who} mounts /proc unmasked"),
                ));
            }
            for cap in sc["capabilities"]["add"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let norm = cap.trim_start_matches("CAP_").to_ascii_uppercase();
                if DANGEROUS_CAPS.contains(&norm.as_str()) {
                    let sev = if matches!(norm.as_str(), "ALL" | "SYS_ADMIN") {
                        Critical
                    } else {
                        High
                    };
                    out.push(f(
                        "CAP_ADD",
                        sev,
                        format!("{scp}.capabilities.add"),
                        format!("{who}: {norm}"),
                        format!("{who} adds capability {norm}"),
                    ));
                }
            }
            security_context(sc, &scp, &who, out);
            for p in c["ports"].as_array().into_iter().flatten() {
                if let Some(hp) = p["hostPort"].as_i64().filter(|h| *h != 0) {
                    out.push(f(
                        "HOST_PORT",
                        Medium,
                        format!("{cp}.ports"),
                        format!("{who}: hostPort {hp}"),
                        format!("{who} binds port {hp} on the node"),
                    ));
                }
            }
            if let Some(img) = c["image"].as_str()
                && mutable_image(img)
            {
                out.push(f(
                    "IMAGE_MUTABLE",
                    Low,
                    format!("{cp}.image"),
                    format!("{who}: mutable tag"),
                    format!("{who} uses a mutable image tag ({img})"),
                ));
            }
        }
    }
}

fn pct_or_int(v: Option<&Value>, total: i64, round_up: bool) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let p: i64 = s.strip_suffix('%')?.parse().ok()?;
            let x = total * p;
            Some(if round_up { (x + 99) / 100 } else { x / 100 })
        }
        _ => None,
    }
}

fn rbac_findings(obj: &Value, kind: &str, out: &mut Vec<Finding>) {
    if matches!(kind, "Role" | "ClusterRole") {
        for (i, rule) in obj["rules"].as_array().into_iter().flatten().enumerate() {
            let list = |k: &str| -> Vec<&str> {
                rule[k]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect()
            };
            let (verbs, res, groups) = (list("verbs"), list("resources"), list("apiGroups"));
            let path = format!("rules[{i}]");
            let wild: Vec<&str> = [
                ("verbs", &verbs),
                ("resources", &res),
                ("apiGroups", &groups),
            ]
            .iter()
            .filter(|(_, l)| l.contains(&"*"))
            .map(|(n, _)| *n)
            .collect();
            if !wild.is_empty() {
                let what = format!("* in {}", wild.join(", "));
                out.push(f(
                    "RBAC_WILDCARD",
                    High,
                    path,
                    what.clone(),
                    format!(
                        "RBAC rule grants {what} (verbs {}, resources {})",
                        verbs.join(","),
                        res.join(",")
                    ),
                ));
                continue;
            }
            for verb in ["escalate", "bind", "impersonate"] {
                if verbs.contains(&verb) {
                    out.push(f(
                        "RBAC_ESCALATION",
                        High,
                        path.clone(),
                        format!("verb {verb}"),
                        format!("RBAC rule grants {verb}"),
                    ));
                }
            }
            for r in [
                "pods/exec",
                "pods/attach",
                "nodes/proxy",
                "certificatesigningrequests/approval",
            ] {
                if res.contains(&r) {
                    out.push(f(
                        "RBAC_ESCALATION",
                        High,
                        path.clone(),
                        format!("resource {r}"),
                        format!("RBAC rule grants {} on {r}", verbs.join(",")),
                    ));
                }
            }
            if res.contains(&"serviceaccounts/token") && verbs.contains(&"create") {
                out.push(f(
                    "RBAC_ESCALATION",
                    High,
                    path.clone(),
                    "create serviceaccounts/token".into(),
                    "RBAC rule can mint service account tokens".into(),
                ));
            }
            if res.contains(&"secrets")
                && verbs.iter().any(|v| matches!(*v, "get" | "list" | "watch"))
            {
                out.push(f(
                    "RBAC_SECRETS_READ",
                    High,
                    path.clone(),
                    "read secrets".into(),
                    format!("RBAC rule can read Secrets ({})", verbs.join(",")),
                ));
            }
        }
    }
    if kind == "ClusterRole"
        && let Some(labels) = obj.at("/metadata/labels").and_then(Value::as_object)
    {
        for role in ["admin", "edit", "view"] {
            let k = format!("rbac.authorization.k8s.io/aggregate-to-{role}");
            if labels.get(&k).and_then(Value::as_str) == Some("true") {
                out.push(f(
                    "RBAC_AGGREGATION",
                    High,
                    format!("metadata.labels[\"{k}\"]"),
                    k.clone(),
                    format!("permissions are aggregated into the built-in {role} role"),
                ));
            }
        }
    }
    if matches!(kind, "RoleBinding" | "ClusterRoleBinding") {
        if s(Some(obj), "/roleRef/kind") == Some("ClusterRole") {
            let name = s(Some(obj), "/roleRef/name").unwrap_or_default();
            let sev = match name {
                "cluster-admin" => Some(Critical),
                "admin" | "edit" => Some(High),
                _ => None,
            };
            if let Some(sev) = sev {
                out.push(f(
                    "RBAC_ADMIN_BINDING",
                    sev,
                    "roleRef".into(),
                    format!("ClusterRole {name}"),
                    format!("binds ClusterRole {name}"),
                ));
            }
        }
        for subj in obj["subjects"].as_array().into_iter().flatten() {
            let name = subj["name"].as_str().unwrap_or_default();
            if matches!(
                name,
                "system:anonymous"
                    | "system:unauthenticated"
                    | "system:authenticated"
                    | "system:serviceaccounts"
            ) {
                out.push(f(
                    "RBAC_BROAD_SUBJECT",
                    Critical,
                    "subjects".into(),
                    name.to_owned(),
                    format!("binds {name}: every such caller gets the role"),
                ));
            }
        }
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
        pod_findings(tpl, &prefix_str(g, k), &mut out);
    }
    let o = Some(obj);
    match (g, k) {
        ("apps", "Deployment") => {
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
        ("apps", "DaemonSet")
            if s(o, "/spec/updateStrategy/rollingUpdate/maxUnavailable") == Some("100%") =>
        {
            out.push(f(
                "MAX_UNAVAILABLE_ALL",
                High,
                "spec.updateStrategy.rollingUpdate.maxUnavailable".into(),
                "rolling update can stop most pods".into(),
                "a rolling update may take every node's pod down at once (maxUnavailable 100%)"
                    .into(),
            ));
        }
        ("apps", "StatefulSet") => {
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
        ("rbac.authorization.k8s.io", _) => rbac_findings(obj, k, &mut out),
        ("", "Namespace")
            if s(o, "/metadata/labels/pod-security.kubernetes.io~1enforce")
                == Some("privileged") =>
        {
            out.push(f(
                "PSA_WEAKENED",
                High,
                "metadata.labels[\"pod-security.kubernetes.io/enforce\"]".into(),
                "enforce privileged".into(),
                "pod security enforcement is privileged: any pod is admitted".into(),
            ));
        }
        ("networking.k8s.io", "NetworkPolicy") => {
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
                                if let Some(c) = p["ipBlock"]["cidr"]
                                    .as_str()
                                    .filter(|c| matches!(*c, "0.0.0.0/0" | "::/0"))
                                {
                                    out.push(f(
                                        "NETPOL_WEAKENED",
                                        Medium,
                                        path.clone(),
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
                                        path.clone(),
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
                                        path.clone(),
                                        format!("{dir} all pods"),
                                        format!("{dir} is open to every pod of the namespace"),
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
        ("", "Service") => {
            if let Some(t) =
                s(o, "/spec/type").filter(|t| matches!(*t, "LoadBalancer" | "NodePort"))
            {
                out.push(f(
                    "EXPOSURE_PUBLIC",
                    Medium,
                    "spec.type".into(),
                    format!("type {t}"),
                    format!("the Service is reachable from outside the cluster (type {t})"),
                ));
            }
        }
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration",
        ) => {
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
                        format!(
                            "webhook {name} sends admission requests outside the cluster ({host})"
                        ),
                    ));
                }
            }
        }
        ("policy", "PodDisruptionBudget") => {
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
        _ => {}
    }
    // Strategic-merge key collisions under client-side apply.
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
    out
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

// ---------------------------------------------------------------------------------------
// Transitions: before → after of an applied patch (or replace), plus create-time checks.

fn containers(tpl: Option<&Value>) -> Vec<(&str, &Value)> {
    tpl.and_then(|t| t.at("/spec/containers"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c["name"].as_str()?, c)))
        .collect()
}

fn registry(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first
        }
        _ => "docker.io",
    }
}

fn replicas_kind(g: &str, k: &str) -> bool {
    matches!(
        (g, k),
        ("apps", "Deployment" | "StatefulSet" | "ReplicaSet") | ("", "ReplicationController")
    )
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
