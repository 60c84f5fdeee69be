//! §5.1 immutable fields: which changed paths the API server rejects, and what force does.

use crate::path::At as _;
use serde_json::Value;

use super::checks::{fields_of, quantity_cmp};
use super::{Outcome, RiskContext, View};
use crate::plan::{Action, Change, Detail, Op, Severity};

/// What an immutable change does to the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No immutable path changes.
    Fine,
    /// The apply is rejected.
    Rejected,
    /// Force: the object is deleted and created again.
    Replace,
}

fn meta_flag<'v>(obj: &'v Value, key: &str) -> Option<&'v str> {
    obj.at("/metadata/annotations")
        .and_then(|a| a.get(key))
        .or_else(|| obj.at("/metadata/labels").and_then(|l| l.get(key)))
        .and_then(Value::as_str)
}

/// Whether recreation is forced for this object, and by what.
pub(crate) fn forced(v: &View<'_>, ctx: &RiskContext<'_>) -> Option<String> {
    if ctx.force {
        return Some("the unit forces recreation".to_owned());
    }
    let st = v.st?;
    for obj in [st.desired.as_ref(), st.live.as_ref()]
        .into_iter()
        .flatten()
    {
        if meta_flag(obj, "kustomize.toolkit.fluxcd.io/force")
            .is_some_and(|s| s.eq_ignore_ascii_case("enabled"))
        {
            return Some("kustomize.toolkit.fluxcd.io/force: enabled".to_owned());
        }
        if let Some(opts) = obj
            .at("/metadata/annotations")
            .and_then(|a| a.get("argocd.argoproj.io/sync-options"))
            .and_then(Value::as_str)
        {
            for o in opts.split(',').map(str::trim) {
                if o == "Replace=true" || o == "Force=true" {
                    return Some(format!("argocd.argoproj.io/sync-options {o}"));
                }
            }
        }
    }
    None
}

const STS_MUTABLE: &[&str] = &[
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
    "revisionHistoryLimit",
];

/// Why a change at `fields` (field names of the keyed path) of this kind is rejected.
fn reason(v: &View<'_>, c: &Change, fields: &[&str]) -> Option<String> {
    let before = v.before;
    let after = v.after;
    let top = |names: &[&str]| fields.first().is_some_and(|f| names.contains(f));
    let under = |p: &[&str]| fields.len() >= p.len() && fields[..p.len()] == *p;
    let spec_field = |names: &[&str]| {
        fields.first() == Some(&"spec") && fields.get(1).is_some_and(|f| names.contains(f))
    };
    let is_true =
        |o: Option<&Value>, p: &str| o.and_then(|o| o.at(p)).and_then(Value::as_bool) == Some(true);
    match (v.group(), v.kind()) {
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet") => under(&["spec", "selector"]).then(|| "the selector of an apps/v1 workload is immutable".to_owned()),
        ("apps", "StatefulSet") => (fields.first() == Some(&"spec") && fields.get(1).is_some_and(|f| !STS_MUTABLE.contains(f)))
            .then(|| format!("StatefulSet spec.{} cannot change (only replicas, template, updateStrategy, persistentVolumeClaimRetentionPolicy, minReadySeconds, ordinals)", fields[1])),
        ("batch", "Job") => spec_field(&["selector", "template", "completions", "completionMode", "podFailurePolicy", "successPolicy", "backoffLimitPerIndex", "managedBy"])
            .then(|| format!("Job spec.{} is immutable", fields[1])),
        ("", "Pod") => {
            let ok = matches!(fields, ["spec", "containers" | "initContainers", "image"] | ["spec", "activeDeadlineSeconds" | "tolerations" | "terminationGracePeriodSeconds", ..]);
            (fields.first() == Some(&"spec") && !ok).then(|| "pod updates may not change fields other than images, activeDeadlineSeconds and tolerations".to_owned())
        }
        ("", "Service") => {
            let ty = |o: Option<&Value>| o.and_then(|o| o.at("/spec/type")).and_then(Value::as_str).unwrap_or("ClusterIP").to_owned();
            let external = ty(before) == "ExternalName" || ty(after) == "ExternalName";
            let was_set = c.op != Op::Add;
            if spec_field(&["clusterIP", "clusterIPs", "ipFamilies"]) && was_set && !external {
                Some(format!("Service spec.{} may not change once set", fields[1]))
            } else if spec_field(&["healthCheckNodePort"]) && was_set {
                Some("Service spec.healthCheckNodePort may not change once set".to_owned())
            } else if spec_field(&["loadBalancerClass"]) && ty(before) == "LoadBalancer" && ty(after) == "LoadBalancer" {
                Some("Service spec.loadBalancerClass cannot change while the type stays LoadBalancer".to_owned())
            } else {
                None
            }
        }
        ("", "PersistentVolumeClaim") => {
            if fields.first() != Some(&"spec") || spec_field(&["volumeAttributesClassName"]) {
                return None;
            }
            if under(&["spec", "resources", "requests"]) {
                let shrink = matches!((c.before.as_ref().and_then(Value::as_str), c.after.as_ref().and_then(Value::as_str)),
                    (Some(b), Some(a)) if quantity_cmp(a, b) == Some(std::cmp::Ordering::Less));
                return shrink.then(|| "a claim's storage request cannot shrink".to_owned());
            }
            Some(format!("PersistentVolumeClaim spec.{} is immutable after creation", fields.get(1).unwrap_or(&"")))
        }
        ("", "PersistentVolume") => {
            let mutable = ["capacity", "claimRef", "persistentVolumeReclaimPolicy", "mountOptions", "accessModes", "storageClassName", "volumeAttributesClassName"];
            if fields.first() != Some(&"spec") || fields.get(1).is_some_and(|f| mutable.contains(f)) {
                return None;
            }
            if spec_field(&["nodeAffinity"]) && before.and_then(|b| b.at("/spec/nodeAffinity")).is_none() {
                return None;
            }
            Some(format!("PersistentVolume spec.{} is immutable", fields.get(1).unwrap_or(&"")))
        }
        ("", "ConfigMap") => (is_true(before, "/immutable") && top(&["data", "binaryData", "immutable"]))
            .then(|| "the ConfigMap is immutable (immutable: true)".to_owned()),
        ("", "Secret") => {
            if fields == ["type"] {
                Some("a Secret's type is immutable".to_owned())
            } else {
                (is_true(before, "/immutable") && top(&["data", "immutable"])).then(|| "the Secret is immutable (immutable: true)".to_owned())
            }
        }
        ("storage.k8s.io", "StorageClass") => top(&["provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"]).then(|| format!("StorageClass {} is immutable", fields[0])),
        ("storage.k8s.io", "CSIDriver") => spec_field(&["attachRequired", "volumeLifecycleModes"]).then(|| format!("CSIDriver spec.{} is immutable", fields[1])),
        ("storage.k8s.io", "VolumeAttachment") | ("certificates.k8s.io", "CertificateSigningRequest") | ("resource.k8s.io", "ResourceClaim") => {
            top(&["spec"]).then(|| format!("{} spec is immutable", v.kind()))
        }
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => top(&["roleRef"]).then(|| "roleRef of a binding is immutable".to_owned()),
        ("networking.k8s.io", "IngressClass") => under(&["spec", "controller"]).then(|| "IngressClass spec.controller is immutable".to_owned()),
        ("networking.k8s.io", "ServiceCIDR") => under(&["spec", "cidrs"]).then(|| "ServiceCIDR spec.cidrs is immutable".to_owned()),
        ("node.k8s.io", "RuntimeClass") => top(&["handler"]).then(|| "RuntimeClass handler is immutable".to_owned()),
        ("scheduling.k8s.io", "PriorityClass") => top(&["value", "preemptionPolicy"]).then(|| format!("PriorityClass {} may not be changed in an update", fields[0])),
        ("discovery.k8s.io", "EndpointSlice") => top(&["addressType"]).then(|| "EndpointSlice addressType is immutable".to_owned()),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            (under(&["spec", "group"]) || under(&["spec", "names", "plural"]) || under(&["spec", "scope"]) || under(&["spec", "names", "kind"]))
                .then(|| format!("CRD {} is immutable", fields.join(".")))
        }
        _ => None,
    }
}

fn crd_versions(v: Option<&Value>) -> Vec<String> {
    v.and_then(|o| o.at("/spec/versions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| x["name"].as_str().map(str::to_owned))
        .collect()
}

/// Flag immutable changes and decide rejected / replace.
pub(crate) fn check(
    v: &View<'_>,
    ctx: &RiskContext<'_>,
    cel: &[Vec<String>],
    out: &mut Outcome,
) -> Verdict {
    let mut hits: Vec<(String, String, String)> = Vec::new();
    for c in &v.o.changes {
        let fields = fields_of(&c.keyed);
        if let Some(why) = reason(v, c, &fields).or_else(|| super::crd::cel_reason(cel, c)) {
            let ev = match (&c.before, &c.after, c.sensitive) {
                (_, _, true) => "value hidden".to_owned(),
                (Some(b), Some(a), _) => format!("{} → {}", short(b), short(a)),
                (None, Some(a), _) => format!("added {}", short(a)),
                (Some(b), None, _) => format!("removed {}", short(b)),
                _ => String::new(),
            };
            hits.push((c.path.clone(), why, ev));
        }
    }
    // Grows of a claim: expansion, not rejection.
    if v.is("", "PersistentVolumeClaim") {
        for c in &v.o.changes {
            if c.path == "spec.resources.requests.storage"
                && let (Some(b), Some(a)) = (
                    c.before.as_ref().and_then(Value::as_str),
                    c.after.as_ref().and_then(Value::as_str),
                )
                && quantity_cmp(a, b) == Some(std::cmp::Ordering::Greater)
            {
                out.flag("VOLUME_EXPANSION", Severity::Info, Some(c.path.clone()),
                            format!("storage request grows {b} → {a}; the StorageClass must allow volume expansion"),
                            vec![format!("{b} → {a}")]);
            }
        }
    }
    // CRD versions still stored cannot be dropped.
    let mut stored_removed = false;
    if v.is("apiextensions.k8s.io", "CustomResourceDefinition") && v.after.is_some() {
        let before = crd_versions(v.before);
        let after = crd_versions(v.after);
        let stored: Vec<String> =
            v.st.and_then(|s| s.live_raw.as_ref())
                .and_then(|l| l.at("/status/storedVersions"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect();
        for gone in before.iter().filter(|b| !after.contains(b)) {
            if stored.contains(gone) {
                stored_removed = true;
                out.flag("CRD_VERSION_REMOVED", Severity::Blocker, Some("spec.versions".into()),
                    format!("version {gone} is in status.storedVersions; the API server rejects removing it (migrate stored objects first)"),
                    vec![format!("removed {gone}"), format!("storedVersions {}", stored.join(","))]);
            } else {
                out.flag(
                    "CRD_VERSION_REMOVED",
                    Severity::Critical,
                    Some("spec.versions".into()),
                    format!(
                        "version {gone} is no longer served; clients and manifests using it break"
                    ),
                    vec![format!("removed {gone}")],
                );
            }
        }
    }
    if hits.is_empty() {
        if stored_removed {
            out.detail = Some(Detail::Rejected);
            return Verdict::Rejected;
        }
        return Verdict::Fine;
    }
    if let Some(by) = forced(v, ctx) {
        for (path, why, ev) in &hits {
            out.flag(
                "IMMUTABLE_FIELD",
                Severity::Info,
                Some(path.clone()),
                format!("{why}; forced ({by}): the object is replaced"),
                vec![ev.clone(), by.clone()],
            );
        }
        let paths: Vec<&str> = hits.iter().map(|h| h.0.as_str()).collect();
        out.flag(
            "REPLACE",
            Severity::High,
            None,
            format!(
                "{} is deleted and created again ({by}) because {} cannot change in place",
                v.label(),
                paths.join(", ")
            ),
            vec![by],
        );
        out.action = Some(Action::Replace);
        Verdict::Replace
    } else {
        for (path, why, ev) in &hits {
            out.flag(
                "IMMUTABLE_FIELD",
                Severity::Blocker,
                Some(path.clone()),
                format!(
                    "{why}: the apply will be rejected (force recreation to replace the object)"
                ),
                vec![ev.clone()],
            );
        }
        out.detail = Some(Detail::Rejected);
        Verdict::Rejected
    }
}

/// A value for a one-line message (long values are elided).
pub(crate) fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => crate::path::canonical_json(other),
    };
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(57).collect();
        format!("{cut}...")
    } else {
        s
    }
}
