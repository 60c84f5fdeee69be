//! One positive and one negative test per rule of the catalog, plus override handling.
//! `every_rule_is_probed` keeps the list complete when a rule is added.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use thule_core::ObjectKey;
use thule_core::config::{Applier, RuleOverride};
use thule_diff::risk::{LiveFacts, RULES, RiskContext, validate_overrides};
use thule_diff::{Action, DiffOptions, LiveOutcome, Plan, Severity};

use crate::common::*;
use crate::support::*;

fn a(plan: Plan) -> Plan {
    assessed(plan).0
}

/// Live → desired under Flux, no managedFields (removals from the base, here none).
fn patch(live: Value, desired: Value) -> Plan {
    a(run(&fk(), None, Some(desired), Live::Found(live)))
}

/// Like `patch`, with the rest of the desired render known to the risk pass.
fn patch_d1(live: Value, desired: Value, others: &[Value]) -> Plan {
    let mut all = vec![desired.clone()];
    all.extend(others.iter().cloned());
    let d1 = manifests(&all);
    assessed_with(
        run(&fk(), None, Some(desired), Live::Found(live)),
        &RiskContext {
            desired: &d1,
            ..RiskContext::default()
        },
    )
    .0
}

/// Like `patch`, with live as the base render too (so removals are predicted).
fn patch_b(live: Value, desired: Value) -> Plan {
    a(run(
        &fk(),
        Some(live.clone()),
        Some(desired),
        Live::Found(live),
    ))
}

fn create(desired: Value) -> Plan {
    a(run(&fk(), None, Some(desired), Live::Absent))
}

fn owned() -> DiffOptions {
    let mut o = fk();
    o.owner_labels = flux_labels("apps");
    o
}

fn delete_with(obj: Value, ctx: &RiskContext<'_>) -> Plan {
    let obj = with_labels(obj, &flux_labels("apps"));
    let plan = run(&owned(), Some(obj.clone()), None, Live::Found(obj));
    assert_eq!(only(&plan).action, Action::Delete);
    assessed_with(plan, ctx).0
}

fn delete(obj: Value) -> Plan {
    delete_with(obj, &RiskContext::default())
}

fn forced(live: Value, desired: Value) -> Plan {
    let ctx = RiskContext {
        force: true,
        ..RiskContext::default()
    };
    assessed_with(run(&fk(), None, Some(desired), Live::Found(live)), &ctx).0
}

/// A Deployment `shop/web` whose one container has these extra fields.
fn dep(container: Value) -> Value {
    let mut c = json!({"name": "web", "image": "app:1"});
    for (k, v) in container.as_object().expect("object") {
        c[k] = v.clone();
    }
    deployment(json!([c]))
}

/// A Deployment with these extra pod spec fields.
fn pod(spec: Value) -> Value {
    let mut d = dep(json!({}));
    for (k, v) in spec.as_object().expect("object") {
        d["spec"]["template"]["spec"][k] = v.clone();
    }
    d
}

fn with_spec(mut v: Value, k: &str, val: Value) -> Value {
    v["spec"][k] = val;
    v
}

fn cm(name: &str, ns: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": data})
}

fn secret(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "type": "Opaque", "data": data})
}

fn sts(replicas: i64, extra: Value) -> Value {
    let mut s = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "shop"},
        "spec": {"replicas": replicas, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "pg:16"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}});
    for (k, v) in extra.as_object().expect("object") {
        s["spec"][k] = v.clone();
    }
    s
}

fn ds(strategy: &str, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "shop"},
        "spec": {"updateStrategy": {"type": strategy}, "selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": image}]}}}})
}

fn pvc(storage: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "shop"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard", "volumeName": "pv-1",
            "resources": {"requests": {"storage": storage}}}})
}

fn pv(policy: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-1"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": policy,
            "csi": {"driver": "d", "volumeHandle": "h"}}})
}

fn crd(versions: &[&str]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"name": v, "served": true, "storage": i == 0}))
        .collect();
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets"}, "versions": vs}})
}

fn ns(labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "labels": labels}})
}

fn svc(spec: Value) -> Value {
    let mut s = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP"}]}});
    for (k, v) in spec.as_object().expect("object") {
        s["spec"][k] = v.clone();
    }
    s
}

fn ingress(class: &str, hosts: &[&str]) -> Value {
    let rules: Vec<Value> = hosts.iter().map(|h| json!({"host": h})).collect();
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"ingressClassName": class, "rules": rules}})
}

fn pdb(spec: Value) -> Value {
    json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web", "namespace": "shop"}, "spec": spec})
}

fn role(rules: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r", "namespace": "shop"}, "rules": rules})
}

fn binding(role: &str, subject: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "b", "namespace": "shop"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}, "subjects": [subject]})
}

fn webhook(wh: Value) -> Value {
    let mut w = json!({"name": "check.example.com", "admissionReviewVersions": ["v1"], "sideEffects": "None",
        "clientConfig": {"service": {"name": "s", "namespace": "shop"}},
        "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]});
    for (k, v) in wh.as_object().expect("object") {
        w[k] = v.clone();
    }
    json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "check"}, "webhooks": [w]})
}

fn netpol(from: Value) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np", "namespace": "shop"},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": from}]}})
}

fn hpa() -> Value {
    json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"minReplicas": 2, "maxReplicas": 5, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}})
}

fn not_served(kind_obj: Value, outcome: LiveOutcome) -> Plan {
    let m = crate::common::mk(kind_obj.clone());
    let mut key = m.key.clone();
    key.namespace = "shop".into();
    let live: BTreeMap<ObjectKey, LiveOutcome> = [(key, outcome)].into_iter().collect();
    // The engine sees an unreadable object (detail `unknown`); the risk pass reads why.
    let plan = run(
        &fk(),
        Some(kind_obj.clone()),
        Some(kind_obj.clone()),
        Live::Forbidden(kind_obj),
    );
    assessed_with(
        plan,
        &RiskContext {
            live: Some(&live),
            ..RiskContext::default()
        },
    )
    .0
}

macro_rules! probe {
    ($name:ident, $id:literal, pos: $pos:expr, neg: $neg:expr $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn positive() {
                let p: Plan = $pos;
                assert!(
                    has(&p, $id),
                    "{} not raised: {:#?}\n{}",
                    $id,
                    flags(&p),
                    thule_diff::render::to_text(&p)
                );
            }

            #[test]
            fn negative() {
                let p: Plan = $neg;
                assert!(!has(&p, $id), "{} raised: {:#?}", $id, flags(&p));
            }
        }
    };
}

/// Every rule with a `probe!` below.
const PROBED: &[&str] = &[
    "IMMUTABLE_FIELD",
    "REPLACE",
    "VOLUME_EXPANSION",
    "CRD_VERSION_REMOVED",
    "RESTART_ROLLOUT",
    "RESTART_PENDING_ONDELETE",
    "CONFIG_NOT_RELOADED",
    "RENAME",
    "DELETE_PVC",
    "DELETE_PV",
    "DELETE_NAMESPACE",
    "DELETE_CRD",
    "STS_PVC_AUTODELETE",
    "DELETE_STATEFUL_WORKLOAD",
    "VCT_CHANGE",
    "STS_SCALE_DELETES_PVC",
    "RECLAIM_POLICY_DELETE",
    "DANGLING_REFERENCE",
    "PROTECTION_REMOVED",
    "JOB_RERUN",
    "SCALE_TO_ZERO",
    "SCALE_DOWN",
    "HPA_CONFLICT",
    "STRATEGY_RECREATE",
    "MAX_UNAVAILABLE_ALL",
    "PDB_WEAKENED",
    "PDB_BLOCKS_DRAIN",
    "PROBE_CHANGE",
    "RESOURCE_SQUEEZE",
    "SCHEDULING_CHANGE",
    "SELECTOR_MISMATCH",
    "LB_RELEASE",
    "INGRESS_CLASS_CHANGE",
    "INGRESS_ROUTE_REMOVED",
    "WEBHOOK_FAIL_CLOSED",
    "PSA_TIGHTENED",
    "PRIVILEGED",
    "PRIV_ESCALATION",
    "CAP_ADD",
    "HOST_NAMESPACE",
    "HOST_PATH",
    "HOST_PORT",
    "RUN_AS_ROOT",
    "SECCOMP_UNCONFINED",
    "RBAC_WILDCARD",
    "RBAC_ESCALATION",
    "RBAC_SECRETS_READ",
    "RBAC_ADMIN_BINDING",
    "RBAC_BROAD_SUBJECT",
    "RBAC_AGGREGATION",
    "PSA_WEAKENED",
    "NETPOL_WEAKENED",
    "EXPOSURE_PUBLIC",
    "SA_TOKEN_AUTOMOUNT",
    "IMAGE_MUTABLE",
    "IMAGE_REGISTRY_CHANGE",
    "SECRET_IN_PLAINTEXT",
    "WEBHOOK_TRUST_CHANGE",
    "ADOPT",
    "ORPHANED",
    "OWNERSHIP_TRANSFER",
    "NAMESPACE_MOVE",
    "FIELD_CONFLICT",
    "FIELD_RELEASED",
    "DRIFT",
    "INVALID",
    "SMP_KEY_COLLISION",
    "SECRET_UNREADABLE",
    "HOOK",
    "API_NOT_SERVED",
    "UNKNOWN_FIELD",
];

#[test]
fn every_rule_is_probed() {
    let mut rules: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    let mut probed = PROBED.to_vec();
    rules.sort_unstable();
    probed.sort_unstable();
    assert_eq!(rules, probed);
}

// §5.1
probe!(immutable_field, "IMMUTABLE_FIELD",
    pos: patch(secret(json!({"a": "YQ=="})), with_type(secret(json!({"a": "YQ=="})), "kubernetes.io/tls")),
    neg: patch(secret(json!({"a": "YQ=="})), secret(json!({"a": "Yg=="}))));
fn with_type(mut s: Value, t: &str) -> Value {
    s["type"] = json!(t);
    s
}
probe!(replace, "REPLACE",
    pos: forced(secret(json!({"a": "YQ=="})), with_type(secret(json!({"a": "YQ=="})), "kubernetes.io/tls")),
    neg: patch(secret(json!({"a": "YQ=="})), with_type(secret(json!({"a": "YQ=="})), "kubernetes.io/tls")));
probe!(volume_expansion, "VOLUME_EXPANSION", pos: patch(pvc("1Gi"), pvc("2Gi")), neg: patch(pvc("2Gi"), pvc("1Gi")));
probe!(crd_version_removed, "CRD_VERSION_REMOVED",
    pos: patch(crd(&["v1", "v1beta1"]), crd(&["v1"])),
    neg: patch(crd(&["v1"]), crd(&["v1", "v2"])));

// §5.2
probe!(restart_rollout, "RESTART_ROLLOUT",
    pos: patch(dep(json!({})), dep(json!({"image": "app:2"}))),
    neg: patch(dep(json!({})), with_spec(dep(json!({})), "replicas", json!(4))));
probe!(restart_pending_ondelete, "RESTART_PENDING_ONDELETE",
    pos: patch(ds("OnDelete", "agent:1"), ds("OnDelete", "agent:2")),
    neg: patch(ds("RollingUpdate", "agent:1"), ds("RollingUpdate", "agent:2")));
fn config_change(consumer: Value) -> Plan {
    patch_d1(
        cm("app-cfg", "shop", json!({"LOG": "info"})),
        cm("app-cfg", "shop", json!({"LOG": "debug"})),
        &[consumer],
    )
}
fn env_from(name: &str) -> Value {
    dep(json!({"envFrom": [{"configMapRef": {"name": name}}]}))
}
probe!(config_not_reloaded, "CONFIG_NOT_RELOADED",
    pos: config_change(env_from("app-cfg")),
    neg: config_change(annotate(env_from("app-cfg"), "reloader.stakater.com/auto", "true")));
#[test]
fn reloader_consumer_is_a_rollout_of_the_config() {
    let p = config_change(annotate(
        env_from("app-cfg"),
        "reloader.stakater.com/auto",
        "true",
    ));
    assert!(
        only(&p)
            .risks
            .iter()
            .any(|r| r.id == "RESTART_ROLLOUT" && r.message.contains("via reloader"))
    );
    let p = config_change(env_from("other-cfg"));
    assert!(only(&p).risks.is_empty(), "no consumer, no flag");
}
fn swap(old: &str, new: &str) -> Plan {
    let (o, n) = (
        cm(old, "shop", json!({"a": "1"})),
        cm(new, "shop", json!({"a": "2"})),
    );
    a(run_many(
        &owned(),
        vec![with_labels(o.clone(), &flux_labels("apps"))],
        vec![n],
        Some(vec![(with_labels(o, &flux_labels("apps")), true)]),
    ))
}
probe!(rename, "RENAME", pos: swap("cfg-7g8h9k2m4t", "cfg-b2c4d6f8g9"), neg: swap("cfg-old", "cfg-new"));

// §5.3
probe!(delete_pvc, "DELETE_PVC", pos: delete(pvc("1Gi")), neg: patch(pvc("1Gi"), pvc("2Gi")));
#[test]
fn delete_pvc_with_retained_volume_is_high() {
    let key = ObjectKey {
        group: String::new(),
        kind: "PersistentVolumeClaim".into(),
        namespace: "shop".into(),
        name: "data".into(),
    };
    let ctx = RiskContext {
        facts: LiveFacts {
            pv_reclaim_policy: [(key, "Retain".to_owned())].into_iter().collect(),
            ..LiveFacts::default()
        },
        ..RiskContext::default()
    };
    let p = delete_with(pvc("1Gi"), &ctx);
    assert_eq!(only(&p).risks[0].severity, Severity::High);
    assert_eq!(
        delete(pvc("1Gi")).objects[0].risks[0].severity,
        Severity::Critical
    );
}
probe!(delete_pv, "DELETE_PV", pos: delete(pv("Delete")), neg: delete(pv("Retain")));
probe!(delete_namespace, "DELETE_NAMESPACE", pos: delete(ns(json!({}))), neg: patch(ns(json!({"a": "1"})), ns(json!({"a": "2"}))));
probe!(delete_crd, "DELETE_CRD", pos: delete(crd(&["v1"])), neg: patch(crd(&["v1"]), crd(&["v1", "v2"])));
probe!(sts_pvc_autodelete, "STS_PVC_AUTODELETE",
    pos: patch(sts(3, json!({})), sts(3, json!({"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"}}))),
    neg: patch(sts(3, json!({"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"}})), sts(4, json!({"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"}}))));
probe!(delete_stateful_workload, "DELETE_STATEFUL_WORKLOAD", pos: delete(sts(1, json!({}))), neg: delete(dep(json!({}))));
fn vct(name: &str) -> Value {
    sts(
        1,
        json!({"volumeClaimTemplates": [{"metadata": {"name": name}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}),
    )
}
probe!(vct_change, "VCT_CHANGE", pos: patch(vct("data"), vct("pgdata")), neg: patch(vct("data"), with_spec(vct("data"), "replicas", json!(2))));
probe!(sts_scale_deletes_pvc, "STS_SCALE_DELETES_PVC",
    pos: patch(sts(3, json!({"persistentVolumeClaimRetentionPolicy": {"whenScaled": "Delete"}})), sts(2, json!({"persistentVolumeClaimRetentionPolicy": {"whenScaled": "Delete"}}))),
    neg: patch(sts(3, json!({"persistentVolumeClaimRetentionPolicy": {"whenScaled": "Retain"}})), sts(2, json!({"persistentVolumeClaimRetentionPolicy": {"whenScaled": "Retain"}}))));
probe!(reclaim_policy_delete, "RECLAIM_POLICY_DELETE", pos: patch(pv("Retain"), pv("Delete")), neg: patch(pv("Delete"), pv("Retain")));
fn delete_cm_used_by(consumer: Value) -> Plan {
    let c = with_labels(
        cm("app-cfg", "shop", json!({"a": "1"})),
        &flux_labels("apps"),
    );
    let plan = run_many(
        &owned(),
        vec![c.clone(), consumer.clone()],
        vec![consumer.clone()],
        Some(vec![(c, true), (server_like(&consumer, None), true)]),
    );
    let d1 = manifests(&[consumer]);
    assessed_with(
        plan,
        &RiskContext {
            desired: &d1,
            ..RiskContext::default()
        },
    )
    .0
}
probe!(dangling_reference, "DANGLING_REFERENCE",
    pos: delete_cm_used_by(env_from("app-cfg")),
    neg: delete_cm_used_by(dep(json!({"envFrom": [{"configMapRef": {"name": "app-cfg", "optional": true}}]}))));
fn delete_after_base(base_protected: bool) -> Plan {
    let live = with_labels(cm("keep", "shop", json!({"a": "1"})), &flux_labels("apps"));
    let base = if base_protected {
        annotate(
            live.clone(),
            "kustomize.toolkit.fluxcd.io/prune",
            "disabled",
        )
    } else {
        live.clone()
    };
    a(run(&owned(), Some(base), None, Live::Found(live)))
}
probe!(protection_removed, "PROTECTION_REMOVED", pos: delete_after_base(true), neg: delete_after_base(false));
fn job(image: &str, parallelism: i64) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "shop"},
        "spec": {"parallelism": parallelism, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": image}]}}}})
}
probe!(job_rerun, "JOB_RERUN", pos: forced(job("m:1", 1), job("m:2", 1)), neg: forced(job("m:1", 1), job("m:1", 2)));

// §5.4
fn replicas(n: i64) -> Value {
    with_spec(dep(json!({})), "replicas", json!(n))
}
probe!(scale_to_zero, "SCALE_TO_ZERO", pos: patch(replicas(3), replicas(0)), neg: patch(replicas(3), replicas(2)));
probe!(scale_down, "SCALE_DOWN", pos: patch(replicas(4), replicas(2)), neg: patch(replicas(4), replicas(3)));
probe!(hpa_conflict, "HPA_CONFLICT",
    pos: patch_d1(replicas(3), replicas(4), &[hpa()]),
    neg: patch_d1(replicas(3), { let mut d = replicas(3); d["spec"].as_object_mut().expect("spec").remove("replicas"); d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("app:2"); d }, &[hpa()]));
probe!(strategy_recreate, "STRATEGY_RECREATE",
    pos: patch(dep(json!({})), with_spec(dep(json!({})), "strategy", json!({"type": "Recreate"}))),
    neg: patch(with_spec(dep(json!({})), "strategy", json!({"type": "Recreate"})), with_spec(dep(json!({"image": "app:2"})), "strategy", json!({"type": "Recreate"}))));
#[test]
fn rollout_under_recreate_is_high() {
    let p = patch(
        with_spec(dep(json!({})), "strategy", json!({"type": "Recreate"})),
        with_spec(
            dep(json!({"image": "app:2"})),
            "strategy",
            json!({"type": "Recreate"}),
        ),
    );
    assert!(
        only(&p)
            .risks
            .iter()
            .any(|r| r.id == "RESTART_ROLLOUT" && r.severity == Severity::High)
    );
}
fn max_unavailable(v: &str) -> Value {
    with_spec(
        replicas(3),
        "strategy",
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": v, "maxSurge": "25%"}}),
    )
}
probe!(max_unavailable_all, "MAX_UNAVAILABLE_ALL", pos: patch(max_unavailable("25%"), max_unavailable("100%")), neg: patch(max_unavailable("25%"), max_unavailable("34%")));
probe!(pdb_weakened, "PDB_WEAKENED", pos: delete(pdb(json!({"minAvailable": 1}))), neg: patch(pdb(json!({"minAvailable": 1})), pdb(json!({"minAvailable": 2}))));
probe!(pdb_blocks_drain, "PDB_BLOCKS_DRAIN", pos: create(pdb(json!({"maxUnavailable": 0}))), neg: create(pdb(json!({"maxUnavailable": 1}))));
fn readiness() -> Value {
    json!({"readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}})
}
probe!(probe_change, "PROBE_CHANGE",
    pos: patch_b(dep(readiness()), dep(json!({}))),
    neg: patch(dep(readiness()), dep(json!({"image": "app:2", "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}))));
fn limits(mem: &str) -> Value {
    dep(json!({"resources": {"limits": {"memory": mem}}}))
}
probe!(resource_squeeze, "RESOURCE_SQUEEZE", pos: patch(limits("1Gi"), limits("512Mi")), neg: patch(limits("1Gi"), limits("2Gi")));
probe!(scheduling_change, "SCHEDULING_CHANGE",
    pos: patch(pod(json!({})), pod(json!({"nodeSelector": {"disk": "ssd"}}))),
    neg: patch(pod(json!({})), dep(json!({"image": "app:2"}))));
probe!(selector_mismatch, "SELECTOR_MISMATCH",
    pos: patch_d1(svc(json!({})), svc(json!({"selector": {"app": "webapp"}})), &[dep(json!({}))]),
    neg: patch_d1(svc(json!({"selector": {"app": "old"}})), svc(json!({"selector": {"app": "web"}})), &[dep(json!({}))]));
probe!(lb_release, "LB_RELEASE",
    pos: patch(svc(json!({"type": "LoadBalancer"})), svc(json!({"type": "ClusterIP"}))),
    neg: patch(svc(json!({"type": "ClusterIP"})), svc(json!({"type": "NodePort"}))));
probe!(ingress_class_change, "INGRESS_CLASS_CHANGE",
    pos: patch(ingress("nginx", &["a.example.com"]), ingress("traefik", &["a.example.com"])),
    neg: patch(ingress("nginx", &["a.example.com"]), ingress("nginx", &["a.example.com", "b.example.com"])));
probe!(ingress_route_removed, "INGRESS_ROUTE_REMOVED",
    pos: patch(ingress("nginx", &["a.example.com", "b.example.com"]), ingress("nginx", &["a.example.com"])),
    neg: patch(ingress("nginx", &["a.example.com"]), ingress("nginx", &["a.example.com", "b.example.com"])));
probe!(webhook_fail_closed, "WEBHOOK_FAIL_CLOSED",
    pos: create(webhook(json!({}))),
    neg: create(webhook(json!({"failurePolicy": "Ignore"}))));
#[test]
fn webhook_excluding_kube_system_is_not_fail_closed() {
    let p = create(webhook(
        json!({"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}]}}),
    ));
    assert!(!has(&p, "WEBHOOK_FAIL_CLOSED"));
}
fn psa(level: &str) -> Value {
    ns(json!({"pod-security.kubernetes.io/enforce": level}))
}
probe!(psa_tightened, "PSA_TIGHTENED", pos: patch(psa("baseline"), psa("restricted")), neg: patch(psa("restricted"), psa("baseline")));

// §5.5
fn privileged() -> Value {
    json!({"securityContext": {"privileged": true}})
}
probe!(privileged_, "PRIVILEGED",
    pos: create(dep(privileged())),
    neg: patch(dep(privileged()), dep(json!({"image": "app:2", "securityContext": {"privileged": true}}))));
probe!(priv_escalation, "PRIV_ESCALATION",
    pos: patch(dep(json!({})), dep(json!({"securityContext": {"allowPrivilegeEscalation": true}}))),
    neg: patch(dep(json!({})), dep(json!({"securityContext": {"allowPrivilegeEscalation": false}}))));
fn caps(c: &str) -> Value {
    dep(json!({"securityContext": {"capabilities": {"add": [c]}}}))
}
probe!(cap_add, "CAP_ADD", pos: patch(dep(json!({})), caps("NET_ADMIN")), neg: patch(dep(json!({})), caps("CHOWN")));
#[test]
fn cap_sys_admin_is_critical_and_worsening_counts() {
    let p = patch(caps("NET_ADMIN"), caps("SYS_ADMIN"));
    assert_eq!(
        only(&p)
            .risks
            .iter()
            .find(|r| r.id == "CAP_ADD")
            .map(|r| r.severity),
        Some(Severity::Critical)
    );
}
probe!(host_namespace, "HOST_NAMESPACE", pos: patch(pod(json!({})), pod(json!({"hostPID": true}))), neg: patch(pod(json!({})), pod(json!({"hostPID": false}))));
fn host_path(p: &str) -> Value {
    pod(json!({"volumes": [{"name": "data", "hostPath": {"path": p}}]}))
}
probe!(host_path_, "HOST_PATH",
    pos: patch(pod(json!({})), host_path("/data")),
    neg: patch(pod(json!({})), pod(json!({"volumes": [{"name": "data", "emptyDir": {}}]}))));
#[test]
fn host_path_severity_depends_on_the_path() {
    let sev = |p: &str| {
        only(&create(host_path(p)))
            .risks
            .iter()
            .find(|r| r.id == "HOST_PATH")
            .map(|r| r.severity)
    };
    assert_eq!(sev("/data"), Some(Severity::High));
    assert_eq!(sev("/etc/"), Some(Severity::Critical));
    // Worsened: the same volume now points at a sensitive path.
    let p = patch(host_path("/data"), host_path("/var/lib/kubelet"));
    assert_eq!(
        only(&p)
            .risks
            .iter()
            .find(|r| r.id == "HOST_PATH")
            .map(|r| r.severity),
        Some(Severity::Critical)
    );
}
probe!(host_port, "HOST_PORT",
    pos: patch(dep(json!({"ports": [{"containerPort": 80}]})), dep(json!({"ports": [{"containerPort": 80, "hostPort": 80}]}))),
    neg: patch(dep(json!({"ports": [{"containerPort": 80}]})), dep(json!({"ports": [{"containerPort": 80}, {"containerPort": 81}]}))));
probe!(run_as_root, "RUN_AS_ROOT",
    pos: patch(dep(json!({})), dep(json!({"securityContext": {"runAsUser": 0}}))),
    neg: patch(dep(json!({})), dep(json!({"securityContext": {"runAsUser": 1000}}))));
probe!(seccomp_unconfined, "SECCOMP_UNCONFINED",
    pos: patch(pod(json!({})), pod(json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}}}))),
    neg: patch(pod(json!({})), pod(json!({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}}))));
fn rule_of(verbs: &[&str], res: &[&str]) -> Value {
    role(json!([{"apiGroups": [""], "resources": res, "verbs": verbs}]))
}
probe!(rbac_wildcard, "RBAC_WILDCARD", pos: create(rule_of(&["*"], &["pods"])), neg: create(rule_of(&["get", "list"], &["pods"])));
probe!(rbac_escalation, "RBAC_ESCALATION", pos: create(rule_of(&["create"], &["pods/exec"])), neg: create(rule_of(&["get"], &["pods"])));
probe!(rbac_secrets_read, "RBAC_SECRETS_READ", pos: patch(rule_of(&["get"], &["configmaps"]), rule_of(&["get"], &["configmaps", "secrets"])), neg: create(rule_of(&["get"], &["configmaps"])));
probe!(rbac_admin_binding, "RBAC_ADMIN_BINDING",
    pos: create(binding("admin", json!({"kind": "User", "name": "ann"}))),
    neg: create(binding("view", json!({"kind": "User", "name": "ann"}))));
probe!(rbac_broad_subject, "RBAC_BROAD_SUBJECT",
    pos: patch(binding("view", json!({"kind": "User", "name": "ann"})), binding("view", json!({"kind": "Group", "name": "system:unauthenticated"}))),
    neg: patch(binding("view", json!({"kind": "User", "name": "ann"})), binding("view", json!({"kind": "User", "name": "bob"}))));
fn cluster_role(label: &str) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "x", "labels": {label: "true"}},
        "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}]})
}
probe!(rbac_aggregation, "RBAC_AGGREGATION",
    pos: create(cluster_role("rbac.authorization.k8s.io/aggregate-to-edit")),
    neg: create(cluster_role("example.com/aggregate-to-monitoring")));
probe!(psa_weakened, "PSA_WEAKENED", pos: patch(psa("restricted"), psa("privileged")), neg: patch(psa("privileged"), psa("restricted")));
#[test]
fn psa_label_removed_is_weakened() {
    let mut p = psa("restricted");
    let desired = ns(json!({"team": "a"}));
    p["metadata"]["labels"]["team"] = json!("a");
    // Under CSA the removal of the label is applied (last-applied holds it).
    let mut live = p.clone();
    live["metadata"]["annotations"] = json!({"kubectl.kubernetes.io/last-applied-configuration": serde_json::to_string(&p).expect("json")});
    let plan = a(run(
        &ctx(Applier::Argocd),
        None,
        Some(desired),
        Live::Found(live),
    ));
    assert!(has(&plan, "PSA_WEAKENED"), "{:#?}", flags(&plan));
}
probe!(netpol_weakened, "NETPOL_WEAKENED",
    pos: patch(netpol(json!([{"ipBlock": {"cidr": "10.0.0.0/8"}}])), netpol(json!([{"ipBlock": {"cidr": "0.0.0.0/0"}}]))),
    neg: patch(netpol(json!([{"ipBlock": {"cidr": "10.0.0.0/8"}}])), netpol(json!([{"ipBlock": {"cidr": "10.1.0.0/16"}}]))));
probe!(exposure_public, "EXPOSURE_PUBLIC",
    pos: patch_d1(svc(json!({})), svc(json!({"type": "NodePort"})), &[dep(json!({}))]),
    neg: patch_d1(svc(json!({"type": "NodePort"})), svc(json!({"type": "NodePort", "ports": [{"port": 81, "protocol": "TCP"}]})), &[dep(json!({}))]));
probe!(sa_token_automount, "SA_TOKEN_AUTOMOUNT",
    pos: patch(pod(json!({"automountServiceAccountToken": false})), pod(json!({"automountServiceAccountToken": true}))),
    neg: patch(pod(json!({"automountServiceAccountToken": true})), pod(json!({"automountServiceAccountToken": false}))));
probe!(image_mutable, "IMAGE_MUTABLE",
    pos: patch(dep(json!({})), dep(json!({"image": "app:latest"}))),
    neg: patch(dep(json!({})), dep(json!({"image": "app:2"}))));
#[test]
fn image_digest_removed_is_mutable() {
    let p = patch(
        dep(json!({"image": "app:1@sha256:abc"})),
        dep(json!({"image": "app:1"})),
    );
    assert!(has(&p, "IMAGE_MUTABLE"));
}
probe!(image_registry_change, "IMAGE_REGISTRY_CHANGE",
    pos: patch(dep(json!({"image": "registry.a.example/app:1"})), dep(json!({"image": "registry.b.example/app:1"}))),
    neg: patch(dep(json!({"image": "registry.a.example/app:1"})), dep(json!({"image": "registry.a.example/app:2"}))));
probe!(secret_in_plaintext, "SECRET_IN_PLAINTEXT",
    pos: patch(dep(json!({"env": [{"name": "API_TOKEN", "value": "aaaaaaaaaa"}]})), dep(json!({"env": [{"name": "API_TOKEN", "value": "bbbbbbbbbb"}]}))),
    neg: patch(secret(json!({"token": "YQ=="})), secret(json!({"token": "Yg=="}))));
probe!(webhook_trust_change, "WEBHOOK_TRUST_CHANGE",
    pos: patch(webhook(json!({"failurePolicy": "Ignore"})), webhook(json!({"failurePolicy": "Ignore", "clientConfig": {"url": "https://hooks.example.com/check"}}))),
    neg: patch(webhook(json!({"failurePolicy": "Ignore"})), webhook(json!({"failurePolicy": "Ignore", "timeoutSeconds": 5}))));

// §5.6
fn adopt(live_labels: &std::collections::BTreeMap<String, String>) -> Plan {
    let mut opts = fk();
    opts.inject_labels = flux_labels("apps");
    let d = dep(json!({}));
    a(run(
        &opts,
        Some(d.clone()),
        Some(d.clone()),
        Live::Found(server_like(&with_labels(d, live_labels), None)),
    ))
}
probe!(adopt_, "ADOPT", pos: adopt(&BTreeMap::new()), neg: adopt(&flux_labels("apps")));
#[test]
fn adopt_from_configured_owner_labels() {
    let d = dep(json!({"image": "app:2"}));
    let plan = run(
        &fk(),
        None,
        Some(d),
        Live::Found(server_like(&dep(json!({})), None)),
    );
    let ctx = RiskContext {
        owner_labels: flux_labels("apps"),
        ..RiskContext::default()
    };
    assert!(has(&assessed_with(plan, &ctx).0, "ADOPT"));
}
probe!(orphaned, "ORPHANED",
    pos: delete_after_base_live_protected(),
    neg: delete(cm("gone", "shop", json!({"a": "1"}))));
fn delete_after_base_live_protected() -> Plan {
    let c = annotate(
        with_labels(cm("keep", "shop", json!({"a": "1"})), &flux_labels("apps")),
        "helm.sh/resource-policy",
        "keep",
    );
    a(run(&owned(), Some(c.clone()), None, Live::Found(c)))
}
probe!(ownership_transfer, "OWNERSHIP_TRANSFER", pos: adopt(&flux_labels("other")), neg: adopt(&flux_labels("apps")));
fn move_cm(to: &str, name: &str) -> Plan {
    let old = with_labels(cm("cfg", "shop", json!({"a": "1"})), &flux_labels("apps"));
    let new = cm(name, to, json!({"a": "1"}));
    a(run_many(
        &owned(),
        vec![old.clone()],
        vec![new],
        Some(vec![(old, true)]),
    ))
}
probe!(namespace_move, "NAMESPACE_MOVE", pos: move_cm("web", "cfg"), neg: move_cm("shop", "cfg2"));
fn hpa_owned(replicas: i64) -> Plan {
    let applied = dep(json!({}));
    let mut live = server_like(
        &applied,
        Some(("kustomize-controller", fields_v1_of(&applied))),
    );
    live["spec"]["replicas"] = json!(7);
    live["metadata"]["managedFields"].as_array_mut().expect("mf").push(json!({
        "manager": "kube-controller-manager", "operation": "Update", "subresource": "scale",
        "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}));
    let desired = set(applied.clone(), "/spec/replicas", json!(replicas));
    let desired = set(
        desired,
        "/spec/template/spec/containers/0/image",
        json!("app:2"),
    );
    a(run(&fk(), Some(applied), Some(desired), Live::Found(live)))
}
probe!(field_conflict, "FIELD_CONFLICT", pos: hpa_owned(2), neg: {
    let applied = dep(json!({}));
    let live = server_like(&applied, Some(("kustomize-controller", fields_v1_of(&applied))));
    a(run(&fk(), Some(applied.clone()), Some(replicas(5)), Live::Found(live)))
});
fn released(co_owned: bool) -> Plan {
    let applied = dep(json!({"env": [{"name": "A", "value": "1"}]}));
    let mut live = server_like(
        &applied,
        Some(("kustomize-controller", fields_v1_of(&applied))),
    );
    if co_owned {
        live["metadata"]["managedFields"].as_array_mut().expect("mf").push(json!({
            "manager": "kubectl-edit", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {"f:env": {
                "k:{\"name\":\"A\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}}}}}));
    }
    a(run(
        &fk(),
        Some(applied),
        Some(dep(json!({}))),
        Live::Found(live),
    ))
}
probe!(field_released, "FIELD_RELEASED", pos: released(true), neg: released(false));
probe!(drift, "DRIFT",
    pos: a(run(&fk(), Some(replicas(3)), Some(replicas(3)), Live::Found(server_like(&replicas(5), None)))),
    neg: a(run(&fk(), Some(replicas(3)), Some(replicas(4)), Live::Found(server_like(&replicas(3), None)))));
probe!(invalid, "INVALID",
    pos: patch(dep(json!({})), dep(json!({"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}))),
    neg: patch(dep(json!({})), dep(json!({"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}))));
fn two_protocols(applier: Applier) -> Plan {
    let one = svc(json!({"ports": [{"port": 53, "protocol": "TCP"}]}));
    let two =
        svc(json!({"ports": [{"port": 53, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}));
    let mut live = one.clone();
    live["metadata"]["annotations"] = json!({"kubectl.kubernetes.io/last-applied-configuration": serde_json::to_string(&one).expect("json")});
    a(run(&ctx(applier), None, Some(two), Live::Found(live)))
}
probe!(smp_key_collision, "SMP_KEY_COLLISION", pos: two_protocols(Applier::Argocd), neg: two_protocols(Applier::Flux));
probe!(secret_unreadable, "SECRET_UNREADABLE",
    pos: a(run(&fk(), Some(secret(json!({"a": "YQ=="}))), Some(secret(json!({"a": "Yg=="}))), Live::Forbidden(secret(json!({}))))),
    neg: patch(secret(json!({"a": "YQ=="})), secret(json!({"a": "Yg=="}))));
fn maybe_hook(hook: bool) -> Plan {
    let j = |img: &str| {
        if hook {
            annotate(job(img, 1), "helm.sh/hook", "pre-upgrade")
        } else {
            job(img, 1)
        }
    };
    a(run(
        &ctx(Applier::Helm),
        Some(j("m:1")),
        Some(j("m:1")),
        Live::Found(j("m:1")),
    ))
}
probe!(hook, "HOOK", pos: maybe_hook(true), neg: maybe_hook(false));
fn widget() -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "shop"}, "spec": {"size": 1}})
}
probe!(api_not_served, "API_NOT_SERVED",
    pos: not_served(widget(), LiveOutcome::NotServed { message: "example.com/v1 Widget is not served".into() }),
    neg: not_served(widget(), LiveOutcome::Forbidden { message: "forbidden".into() }));

// Overrides.

fn overrides(pairs: &[(&str, Option<&str>, Option<bool>)]) -> BTreeMap<String, RuleOverride> {
    pairs
        .iter()
        .map(|(id, sev, en)| {
            (
                (*id).to_owned(),
                RuleOverride {
                    severity: sev.map(str::to_owned),
                    enabled: *en,
                },
            )
        })
        .collect()
}

#[test]
fn a_severity_override_replaces_the_default() {
    let plan = run(&fk(), None, Some(replicas(2)), Live::Found(replicas(4)));
    let ctx = RiskContext {
        rules: overrides(&[("SCALE_DOWN", Some("critical"), None)]),
        ..RiskContext::default()
    };
    let (plan, report) = assessed_with(plan, &ctx);
    assert_eq!(only(&plan).risks[0].severity, Severity::Critical);
    assert_eq!(report.highest, Some(Severity::Critical));
    assert!(report.disabled.is_empty() && report.warnings.is_empty());
}

#[test]
fn a_switched_off_rule_is_listed_and_noted() {
    let plan = run(&fk(), None, Some(replicas(0)), Live::Found(replicas(4)));
    let ctx = RiskContext {
        rules: overrides(&[
            ("SCALE_TO_ZERO", None, Some(false)),
            ("HOST_PATH", None, Some(false)),
        ]),
        ..RiskContext::default()
    };
    let (plan, report) = assessed_with(plan, &ctx);
    let o = only(&plan);
    assert!(!has(&plan, "SCALE_TO_ZERO"));
    assert_eq!(
        report.disabled,
        vec!["HOST_PATH".to_owned(), "SCALE_TO_ZERO".to_owned()]
    );
    assert_eq!(report.suppressed.len(), 1);
    assert_eq!(report.suppressed[0].risk.id, "SCALE_TO_ZERO");
    let json = serde_json::to_value(&report).expect("report serializes");
    assert_eq!(json["disabled"], json!(["HOST_PATH", "SCALE_TO_ZERO"]));
    assert_eq!(json["suppressed"][0]["risk"]["id"], json!("SCALE_TO_ZERO"));
    assert!(
        o.notes
            .iter()
            .any(|n| n.contains("SCALE_TO_ZERO is switched off")),
        "{:?}",
        o.notes
    );
}

#[test]
fn switching_off_immutable_field_keeps_the_rejection() {
    let plan = run(
        &fk(),
        None,
        Some(with_type(secret(json!({})), "kubernetes.io/tls")),
        Live::Found(secret(json!({}))),
    );
    let ctx = RiskContext {
        rules: overrides(&[("IMMUTABLE_FIELD", None, Some(false))]),
        ..RiskContext::default()
    };
    let (plan, _) = assessed_with(plan, &ctx);
    assert_eq!(only(&plan).detail, Some(thule_diff::Detail::Rejected));
    assert!(only(&plan).risks.is_empty());
}

#[test]
fn bad_overrides_are_reported_and_ignored() {
    let rules = overrides(&[
        ("NOPE", None, Some(false)),
        ("SCALE_DOWN", Some("urgent"), None),
    ]);
    let errs = validate_overrides(&rules).expect_err("two problems");
    assert_eq!(errs.len(), 2);
    let plan = run(&fk(), None, Some(replicas(2)), Live::Found(replicas(4)));
    let (plan, report) = assessed_with(
        plan,
        &RiskContext {
            rules,
            ..RiskContext::default()
        },
    );
    assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
    assert!(report.disabled.is_empty());
    assert_eq!(only(&plan).risks[0].severity, Severity::Medium);
    assert!(validate_overrides(&overrides(&[("SCALE_DOWN", Some("High"), Some(true))])).is_ok());
}

#[test]
fn flags_are_sorted_most_severe_first_and_messages_are_scrubbed() {
    let d = dep(
        json!({"image": "app:2", "securityContext": {"privileged": true}, "env": [{"name": "DB_PASSWORD", "value": "s3cr3t-value-1"}]}),
    );
    let (plan, report) = assessed(run(&fk(), None, Some(d), Live::Found(dep(json!({})))));
    let sev: Vec<Severity> = only(&plan).risks.iter().map(|r| r.severity).collect();
    let mut sorted = sev.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(sev, sorted);
    assert_eq!(sev[0], Severity::Critical);
    assert!(
        !format!("{report:?}{}", thule_diff::render::to_json(&plan)).contains("s3cr3t-value-1")
    );
}

#[test]
fn intent_only_mode_still_flags() {
    let plan = run(&fk(), Some(replicas(3)), Some(replicas(0)), Live::NoCluster);
    let (plan, _) = assessed(plan);
    assert!(has(&plan, "SCALE_TO_ZERO"));
    let plan = run(
        &fk(),
        Some(with_type(secret(json!({})), "Opaque")),
        Some(with_type(secret(json!({})), "kubernetes.io/tls")),
        Live::NoCluster,
    );
    let (plan, _) = assessed(plan);
    assert_eq!(only(&plan).detail, Some(thule_diff::Detail::Rejected));
}

#[test]
fn assess_is_idempotent() {
    let cases = [
        forced(
            secret(json!({"a": "YQ=="})),
            with_type(secret(json!({"a": "YQ=="})), "kubernetes.io/tls"),
        ),
        patch(
            secret(json!({"a": "YQ=="})),
            with_type(secret(json!({"a": "YQ=="})), "kubernetes.io/tls"),
        ),
        patch(replicas(4), replicas(0)),
        adopt(&BTreeMap::new()),
    ];
    for mut plan in cases {
        let ctx = RiskContext {
            force: plan.summary.replace > 0,
            ..RiskContext::default()
        };
        let once = thule_diff::render::to_json(&plan);
        let summary = plan.summary;
        thule_diff::risk::assess(&mut plan, &ctx);
        assert_eq!(thule_diff::render::to_json(&plan), once);
        assert_eq!(plan.summary, summary);
    }
}

fn widget_crd(with_size_rule: bool) -> Value {
    let mut size = json!({"type": "integer"});
    if with_size_rule {
        size["x-kubernetes-validations"] =
            json!([{"rule": "self == oldSelf", "message": "size is immutable"}]);
    }
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object",
                "properties": {"spec": {"type": "object", "properties": {"size": size,
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}}}]}})
}

fn widget_change(crd: Value, live_spec: Value, spec: Value) -> Plan {
    let mut live = widget();
    live["spec"] = live_spec;
    let mut desired = widget();
    desired["spec"] = spec;
    let d1 = manifests(&[desired.clone(), crd]);
    assessed_with(
        run(&fk(), None, Some(desired), Live::Found(live)),
        &RiskContext {
            desired: &d1,
            ..RiskContext::default()
        },
    )
    .0
}

probe!(unknown_field, "UNKNOWN_FIELD",
    pos: widget_change(widget_crd(false), json!({"size": 1}), json!({"size": 1, "foo": 1})),
    neg: widget_change(widget_crd(false), json!({"size": 1}), json!({"size": 1, "labels": {"a": "b"}, "raw": {"x": 1}})));

#[test]
fn cel_self_equals_old_self_is_immutable() {
    let p = widget_change(widget_crd(true), json!({"size": 1}), json!({"size": 2}));
    let o = only(&p);
    assert_eq!(o.detail, Some(thule_diff::Detail::Rejected));
    assert!(
        o.risks
            .iter()
            .any(|r| r.id == "IMMUTABLE_FIELD" && r.path.as_deref() == Some("spec.size")),
        "{:?}",
        o.risks
    );
    // Without the rule, the same change applies.
    let p = widget_change(widget_crd(false), json!({"size": 1}), json!({"size": 2}));
    assert_eq!(only(&p).detail, None);
    // Setting the field the first time is not a transition.
    let p = widget_change(widget_crd(true), json!({}), json!({"size": 2}));
    assert_eq!(only(&p).detail, None);
}

#[test]
fn deleting_a_config_with_its_only_consumer_is_not_dangling() {
    let consumer = env_from("app-cfg");
    let c = with_labels(
        cm("app-cfg", "shop", json!({"a": "1"})),
        &flux_labels("apps"),
    );
    let live_dep = with_labels(server_like(&consumer, None), &flux_labels("apps"));
    let plan = run_many(
        &owned(),
        vec![c.clone(), consumer],
        vec![],
        Some(vec![(c, true), (live_dep, true)]),
    );
    assert_eq!(plan.summary.delete, 2);
    assert!(!has(&a(plan), "DANGLING_REFERENCE"));
}

#[test]
fn taking_a_field_from_kubectl_is_drift_not_a_conflict() {
    let applied = replicas(3);
    let mut live = server_like(
        &applied,
        Some(("kustomize-controller", fields_v1_of(&applied))),
    );
    live["spec"]["replicas"] = json!(5);
    live["metadata"]["managedFields"].as_array_mut().expect("mf").push(json!({
        "manager": "kubectl-scale", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:replicas": {}}}}));
    let p = a(run(
        &fk(),
        Some(applied.clone()),
        Some(applied),
        Live::Found(live),
    ));
    assert!(has(&p, "DRIFT"));
    assert!(!has(&p, "FIELD_CONFLICT"), "{:#?}", flags(&p));
}

#[test]
fn recreating_an_object_missing_from_the_cluster_is_new_to_the_cluster() {
    // In the base already, but absent from the cluster: the create installs it (spec §5.5
    // compares with live when there is a cluster).
    let d = dep(privileged());
    let p = a(run(&fk(), Some(d.clone()), Some(d.clone()), Live::Absent));
    assert_eq!(only(&p).action, Action::Create);
    assert!(has(&p, "PRIVILEGED"), "{:#?}", flags(&p));
    // A StatefulSet that does not exist yet loses no data when its claim templates change.
    let p = a(run(
        &fk(),
        Some(vct("data")),
        Some(vct("pgdata")),
        Live::Absent,
    ));
    assert!(!has(&p, "VCT_CHANGE"));
}

#[test]
fn pdb_is_measured_against_the_selected_replicas() {
    let with_pdb = |spec: Value| {
        let d1 = manifests(&[replicas(3)]);
        let mut p = pdb(spec);
        p["spec"]["selector"] = json!({"matchLabels": {"app": "web"}});
        assessed_with(
            run(&fk(), None, Some(p), Live::Absent),
            &RiskContext {
                desired: &d1,
                ..RiskContext::default()
            },
        )
        .0
    };
    assert!(has(
        &with_pdb(json!({"minAvailable": 3})),
        "PDB_BLOCKS_DRAIN"
    ));
    assert!(!has(
        &with_pdb(json!({"minAvailable": 2})),
        "PDB_BLOCKS_DRAIN"
    ));
    assert!(has(&with_pdb(json!({"maxUnavailable": 3})), "PDB_WEAKENED"));
    assert!(!has(
        &with_pdb(json!({"maxUnavailable": 1})),
        "PDB_WEAKENED"
    ));
}

#[test]
fn the_project_config_fills_rules_owner_labels_and_namespace() {
    use thule_core::config::{ConfigLayers, parse_project_file, resolve_project};
    let text = "version: v1\nnamespace: shop\ndiff:\n  ownerLabels: {team: a}\npolicy:\n  rules:\n    SCALE_DOWN: {severity: high}\n    HOST_PATH: {enabled: false}\n";
    let tree = thule_core::repo::MemoryTree::new()
        .with("apps/x/thule.yaml", text)
        .with("apps/x/a.yaml", "");
    let loaded = parse_project_file(text.as_bytes(), "apps/x/thule.yaml").expect("parses");
    let cfg = resolve_project(
        &ConfigLayers::default(),
        &loaded,
        std::path::Path::new("apps/x/thule.yaml"),
        &tree,
        &[],
    )
    .expect("resolves");
    let ctx = RiskContext::for_project(&cfg);
    assert_eq!(ctx.default_namespace.as_deref(), Some("shop"));
    assert_eq!(ctx.owner_labels.get("team").map(String::as_str), Some("a"));
    let (plan, report) = assessed_with(
        run(&fk(), None, Some(replicas(2)), Live::Found(replicas(4))),
        &ctx,
    );
    assert_eq!(only(&plan).risks[0].severity, Severity::High);
    assert_eq!(report.disabled, vec!["HOST_PATH".to_owned()]);
}

#[test]
fn flags_do_not_depend_on_document_order() {
    let with_ref =
        |name: &str| dep(json!({"envFrom": [{"configMapRef": {"name": name}}], "image": "app:2"}));
    let old = cm("app-cfg-7g8h9k2m4t", "shop", json!({"LOG": "info"}));
    let docs = vec![
        cm("app-cfg-b2c4d6f8g9", "shop", json!({"LOG": "debug"})),
        with_ref("app-cfg-b2c4d6f8g9"),
        svc(json!({"type": "LoadBalancer"})),
        hpa(),
        cm("plain", "shop", json!({"a": "2"})),
        {
            let mut api = dep(json!({"envFrom": [{"configMapRef": {"name": "plain"}}]}));
            api["metadata"]["name"] = json!("api");
            api
        },
        // A duplicate (invalid) pair: which copy the risk pass reads must not depend on order.
        {
            let mut d = dep(json!({"envFrom": [{"configMapRef": {"name": "plain"}}]}));
            d["metadata"]["name"] = json!("twin");
            d
        },
        {
            let mut d = dep(json!({}));
            d["metadata"]["name"] = json!("twin");
            d
        },
    ];
    let live = vec![
        (old.clone(), true),
        (server_like(&with_ref("app-cfg-7g8h9k2m4t"), None), true),
        (cm("plain", "shop", json!({"a": "1"})), true),
    ];
    let render = |docs: Vec<Value>| {
        let d1 = manifests(&docs);
        let plan = run_many(&fk(), vec![old.clone()], docs.clone(), Some(live.clone()));
        let (plan, report) = assessed_with(
            plan,
            &RiskContext {
                desired: &d1,
                ..RiskContext::default()
            },
        );
        (
            thule_diff::render::to_json(&plan),
            serde_json::to_string(&report).expect("json"),
        )
    };
    let forward = render(docs.clone());
    let mut reversed = docs;
    reversed.reverse();
    assert_eq!(forward, render(reversed));
    for id in [
        "RESTART_ROLLOUT",
        "RENAME",
        "CONFIG_NOT_RELOADED",
        "INVALID",
    ] {
        assert!(forward.0.contains(id), "{id} missing");
    }
}
