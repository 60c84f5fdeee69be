//! Every risk-dependent case of spec §9 (a row whose expected flags are not "none"), named by
//! its number. Each checks that the required flags appear and that no other flag of severity
//! medium or above does (`check_case`).
//!
//! Not here: 60 (its "format-only" is a note of the engine, not a flag).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use thule_core::ObjectKey;
use thule_core::config::Applier;
use thule_diff::risk::{LiveFacts, RiskContext};
use thule_diff::{Action, Detail, DiffOptions, LiveOutcome, Severity};

use crate::common::*;
use crate::support::*;

use Severity::{Blocker, Critical, High, Info, Medium};

/// §9 convention: "D0 equals D1 unless a D0: value is given".
fn run(
    opts: &DiffOptions,
    base: Option<Value>,
    desired: Option<Value>,
    live: Live,
) -> thule_diff::Plan {
    let base = base.or_else(|| desired.clone());
    crate::common::run(opts, base, desired, live)
}

fn ac() -> DiffOptions {
    ctx(Applier::Argocd)
}

#[test]
fn case_05_memory_request_change_rolls() {
    let live = deployment(resources(json!({"requests": {"memory": "1Gi"}})));
    let desired = deployment(resources(json!({"requests": {"memory": "2Gi"}})));
    let (plan, _) = assessed(fk_against(&live, desired));
    check_case(&plan, &[("RESTART_ROLLOUT", Some(Medium))]);
}

fn secret(field: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
        "type": "Opaque", field: data})
}

#[test]
fn case_12_secret_type_is_immutable() {
    let live = secret("data", json!({"a": "YQ=="}));
    let desired = set(live.clone(), "/type", json!("kubernetes.io/tls"));
    let (plan, _) = assessed(run(&fk(), None, Some(desired), Live::Found(live)));
    check_case(&plan, &[("IMMUTABLE_FIELD", Some(Blocker))]);
    let o = only(&plan);
    assert_eq!(
        (o.action, o.detail),
        (Action::Patch, Some(Detail::Rejected))
    );
    assert_eq!(o.risks[0].path.as_deref(), Some("type"));
}

#[test]
fn case_13_immutable_configmap_data() {
    let cm = |v: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"},
            "immutable": true, "data": {"a": v}})
    };
    let (plan, _) = assessed(run(&fk(), None, Some(cm("2")), Live::Found(cm("1"))));
    check_case(&plan, &[("IMMUTABLE_FIELD", Some(Blocker))]);
    assert_eq!(only(&plan).detail, Some(Detail::Rejected));
    assert_eq!(only(&plan).risks[0].path.as_deref(), Some("data.a"));
}

#[test]
fn case_14_scale_to_zero() {
    let live = deployment(web("app:1"));
    let desired = set(live.clone(), "/spec/replicas", json!(0));
    let (plan, _) = assessed(fk_against(&live, desired));
    check_case(&plan, &[("SCALE_TO_ZERO", Some(High))]);
    assert!(
        !has(&plan, "SCALE_DOWN"),
        "SCALE_TO_ZERO subsumes SCALE_DOWN"
    );
}

fn selector_change() -> (Value, Value) {
    let live = deployment(web("app:1"));
    let mut desired = live.clone();
    desired["spec"]["selector"]["matchLabels"]["tier"] = json!("fe");
    desired["spec"]["template"]["metadata"]["labels"]["tier"] = json!("fe");
    (live, desired)
}

#[test]
fn case_15_selector_is_immutable() {
    let (live, desired) = selector_change();
    let (plan, _) = assessed(fk_against(&live, desired));
    check_case(&plan, &[("IMMUTABLE_FIELD", Some(Blocker))]);
    let o = only(&plan);
    assert_eq!(
        (o.action, o.detail),
        (Action::Patch, Some(Detail::Rejected))
    );
    assert_eq!(o.risks[0].path.as_deref(), Some("spec.selector"));
}

#[test]
fn case_16_forced_selector_change_is_replace() {
    let (live, desired) = selector_change();
    let desired = annotate(desired, "kustomize.toolkit.fluxcd.io/force", "enabled");
    let (plan, _) = assessed(fk_against(&live, desired));
    check_case(&plan, &[("REPLACE", Some(High)), ("RESTART_ROLLOUT", None)]);
    let o = only(&plan);
    assert_eq!((o.action, o.detail), (Action::Replace, None));
    assert_eq!((plan.summary.replace, plan.summary.patch), (1, 0));
}

fn sts(storage: &str, live: bool) -> Value {
    let mut vct = json!({"metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}}});
    if live {
        vct["apiVersion"] = json!("v1");
        vct["kind"] = json!("PersistentVolumeClaim");
        vct["spec"]["volumeMode"] = json!("Filesystem");
        vct["status"] = json!({"phase": "Pending"});
    }
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "shop"},
        "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "pg:16"}]}},
            "volumeClaimTemplates": [vct]}})
}

#[test]
fn case_17_vct_storage_is_immutable() {
    let (plan, _) = assessed(run(
        &fk(),
        None,
        Some(sts("20Gi", false)),
        Live::Found(sts("10Gi", true)),
    ));
    check_case(&plan, &[("IMMUTABLE_FIELD", Some(Blocker))]);
    assert_eq!(
        only(&plan).risks[0].path.as_deref(),
        Some("spec.volumeClaimTemplates")
    );
    assert!(
        !has(&plan, "VCT_CHANGE"),
        "same claim names: not a VCT_CHANGE"
    );
}

#[test]
fn case_19_on_delete_is_pending() {
    let live = set(sts("10Gi", true), "/spec/serviceName", json!("db"));
    let mut live = live;
    live["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
    let mut desired = sts("10Gi", false);
    desired["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
    desired["spec"]["template"]["spec"]["containers"][0]["image"] = json!("pg:17");
    let (plan, _) = assessed(run(&fk(), None, Some(desired), Live::Found(live)));
    check_case(&plan, &[("RESTART_PENDING_ONDELETE", Some(Medium))]);
    assert!(!has(&plan, "RESTART_ROLLOUT"));
}

fn pvc(storage: &str, class: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "shop"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class,
            "resources": {"requests": {"storage": storage}}}})
}

fn bound(mut p: Value) -> Value {
    p["spec"]["volumeName"] = json!("pvc-123");
    p["spec"]["volumeMode"] = json!("Filesystem");
    p
}

#[test]
fn case_20_pvc_expansion() {
    let (plan, _) = assessed(run(
        &fk(),
        None,
        Some(pvc("20Gi", "standard")),
        Live::Found(bound(pvc("10Gi", "standard"))),
    ));
    check_case(&plan, &[("VOLUME_EXPANSION", Some(Info))]);
    assert_eq!(only(&plan).detail, None);
}

#[test]
fn case_21_pvc_shrink_is_rejected() {
    let (plan, _) = assessed(run(
        &fk(),
        None,
        Some(pvc("10Gi", "standard")),
        Live::Found(bound(pvc("20Gi", "standard"))),
    ));
    check_case(&plan, &[("IMMUTABLE_FIELD", Some(Blocker))]);
    assert_eq!(only(&plan).detail, Some(Detail::Rejected));
}

#[test]
fn case_22_forced_storage_class_change_replaces_the_claim() {
    let mut opts = fk();
    opts.inject_labels = flux_labels("apps");
    let live = with_labels(bound(pvc("10Gi", "standard")), &flux_labels("apps"));
    let plan = run(&opts, None, Some(pvc("10Gi", "fast")), Live::Found(live));
    let ctx = RiskContext {
        force: true,
        ..RiskContext::default()
    };
    let (plan, _) = assessed_with(plan, &ctx);
    check_case(
        &plan,
        &[
            ("IMMUTABLE_FIELD", Some(Info)),
            ("REPLACE", Some(High)),
            ("DELETE_PVC", Some(Critical)),
        ],
    );
    assert_eq!(only(&plan).action, Action::Replace);
}

fn live_service(ports: Value) -> Value {
    let mut s = service(ports);
    s["spec"]["clusterIP"] = json!("10.0.0.9");
    s["spec"]["clusterIPs"] = json!(["10.0.0.9"]);
    s["spec"]["ipFamilies"] = json!(["IPv4"]);
    s["spec"]["type"] = json!("ClusterIP");
    s["spec"]["sessionAffinity"] = json!("None");
    s
}

#[test]
fn case_23_cluster_ip_is_immutable() {
    let live = live_service(json!([{"port": 80, "protocol": "TCP"}]));
    let mut desired = service(json!([{"port": 80}]));
    desired["spec"]["clusterIP"] = json!("10.0.0.5");
    let (plan, _) = assessed(run(&fk(), None, Some(desired), Live::Found(live)));
    check_case(&plan, &[("IMMUTABLE_FIELD", Some(Blocker))]);
    assert_eq!(only(&plan).risks[0].path.as_deref(), Some("spec.clusterIP"));
}

fn hpa_scaled_live() -> Value {
    let applied = deployment(web("app:1"));
    let mut live = server_like(
        &applied,
        Some(("kustomize-controller", fields_v1_of(&applied))),
    );
    live["spec"]["replicas"] = json!(7);
    live["metadata"]["managedFields"].as_array_mut().expect("managedFields").push(json!({
        "manager": "kube-controller-manager", "operation": "Update", "subresource": "scale",
        "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}));
    live
}

#[test]
fn case_24_released_replicas_is_not_a_scale_down() {
    let base = deployment(web("app:1"));
    let mut desired = base.clone();
    desired["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("replicas");
    let (plan, _) = assessed(run(
        &fk(),
        Some(base),
        Some(desired),
        Live::Found(hpa_scaled_live()),
    ));
    check_case(&plan, &[("FIELD_RELEASED", Some(Info))]);
    assert!(!has(&plan, "SCALE_DOWN"));
    let r = &only(&plan).risks[0];
    assert!(
        r.message.contains("kube-controller-manager"),
        "{}",
        r.message
    );
}

#[test]
fn case_25_csa_removed_replicas_scales_down() {
    let applied = deployment(web("app:1"));
    let mut live = last_applied(server_like(&applied, None), &applied);
    live["spec"]["replicas"] = json!(7);
    let mut desired = applied.clone();
    desired["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("replicas");
    let (plan, _) = assessed(run(&ac(), None, Some(desired), Live::Found(live)));
    check_case(&plan, &[("SCALE_DOWN", Some(Medium))]);
    assert!(
        only(&plan)
            .risks
            .iter()
            .any(|r| r.message.contains("7 → 1") && r.message.contains("defaults to 1"))
    );
}

#[test]
fn case_26_hpa_conflict_and_scale_down() {
    let desired = set(deployment(web("app:1")), "/spec/replicas", json!(2));
    let (plan, _) = assessed(run(
        &fk(),
        Some(desired.clone()),
        Some(desired),
        Live::Found(hpa_scaled_live()),
    ));
    check_case(
        &plan,
        &[
            ("HPA_CONFLICT", Some(Medium)),
            ("FIELD_CONFLICT", Some(Medium)),
            ("SCALE_DOWN", Some(Medium)),
        ],
    );
    let o = only(&plan);
    assert!(
        o.risks
            .iter()
            .any(|r| r.id == "FIELD_CONFLICT" && r.message.contains("kube-controller-manager"))
    );
    assert!(
        o.risks
            .iter()
            .any(|r| r.id == "SCALE_DOWN" && r.message.contains("7 → 2"))
    );
}

#[test]
fn case_27_removed_env_rolls() {
    let applied = env_deploy(&["A", "LOG_LEVEL", "B"]);
    let live = server_like(
        &applied,
        Some(("kustomize-controller", fields_v1_of(&applied))),
    );
    let (plan, _) = assessed(run(
        &fk(),
        Some(applied),
        Some(env_deploy(&["A", "B"])),
        Live::Found(live),
    ));
    check_case(&plan, &[("RESTART_ROLLOUT", Some(Medium))]);
}

#[test]
fn case_28_co_owned_env_is_released() {
    let applied = env_deploy(&["A", "LOG_LEVEL", "B"]);
    let mut live = server_like(
        &applied,
        Some(("kustomize-controller", fields_v1_of(&applied))),
    );
    live["metadata"]["managedFields"].as_array_mut().expect("mf").push(json!({
        "manager": "kubectl-edit", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {"f:env": {
            "k:{\"name\":\"LOG_LEVEL\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}}}}}));
    let (plan, _) = assessed(run(
        &fk(),
        Some(applied),
        Some(env_deploy(&["A", "B"])),
        Live::Found(live),
    ));
    check_case(&plan, &[("FIELD_RELEASED", Some(Info))]);
    assert!(only(&plan).risks[0].message.contains("kubectl-edit"));
}

/// §9 lists no flag for 29, but the same removal rolls the pods as in 27; `RESTART_ROLLOUT`
/// is the only flag.
#[test]
fn case_29_csa_removed_env_rolls() {
    let applied = env_deploy(&["A", "LOG_LEVEL", "B"]);
    let live = last_applied(server_like(&applied, None), &applied);
    let (plan, _) = assessed(run(
        &ac(),
        None,
        Some(env_deploy(&["A", "B"])),
        Live::Found(live),
    ));
    check_case(&plan, &[("RESTART_ROLLOUT", Some(Medium))]);
}

#[test]
fn case_30_env_insert_rolls() {
    let (plan, _) = assessed(fk_against(
        &env_deploy(&["A", "B", "C"]),
        env_deploy(&["NEW", "A", "B", "C"]),
    ));
    check_case(&plan, &[("RESTART_ROLLOUT", Some(Medium))]);
}

#[test]
fn case_32_args_reorder_rolls() {
    let d = |args: Value| deployment(json!([{"name": "web", "image": "app:1", "args": args}]));
    let (plan, _) = assessed(fk_against(
        &d(json!(["--a", "--b"])),
        d(json!(["--b", "--a"])),
    ));
    check_case(&plan, &[("RESTART_ROLLOUT", Some(Medium))]);
}

#[test]
fn case_35_pull_policy_rolls() {
    let d = deployment(json!([{"name": "web", "image": "app:1.2"}]));
    let live = server_like(&d, None);
    let desired =
        deployment(json!([{"name": "web", "image": "app:1.2", "imagePullPolicy": "Always"}]));
    let (plan, _) = assessed(run(&fk(), None, Some(desired), Live::Found(live)));
    check_case(&plan, &[("RESTART_ROLLOUT", Some(Medium))]);
}

const VOL_YAML: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata:
      labels: {app: web, enabled: on}
    spec:
      containers: [{name: web, image: app}]
      volumes:
      - name: cfg
        configMap: {name: cfg, defaultMode: 0644}
";

#[test]
fn case_38_bool_label_is_invalid() {
    let desired = yaml(VOL_YAML);
    let mut live = desired.clone();
    live["spec"]["template"]["metadata"]["labels"]["enabled"] = json!("true");
    let (plan, _) = assessed(run(&fk(), None, Some(desired), Live::Found(live)));
    check_case(&plan, &[("INVALID", Some(Blocker))]);
    assert!(only(&plan).risks[0].message.contains("enabled"));
}

#[test]
fn case_39_privileged() {
    let d = deployment(json!([{"name": "web", "image": "app:1"}]));
    let live = server_like(&d, None);
    let desired = deployment(
        json!([{"name": "web", "image": "app:1", "securityContext": {"privileged": true}}]),
    );
    let (plan, _) = assessed(run(&fk(), None, Some(desired), Live::Found(live)));
    check_case(
        &plan,
        &[
            ("PRIVILEGED", Some(Critical)),
            ("RESTART_ROLLOUT", Some(Medium)),
        ],
    );
}

#[test]
fn case_40_host_path_socket_and_host_network() {
    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {"metadata": {"labels": {"app": "agent"}},
        "spec": {"hostNetwork": true, "containers": [{"name": "a", "image": "agent:1"}],
            "volumes": [{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}]}}}});
    let (plan, _) = assessed(run(&fk(), None, Some(ds), Live::Absent));
    check_case(
        &plan,
        &[
            ("HOST_PATH", Some(Critical)),
            ("HOST_NAMESPACE", Some(High)),
        ],
    );
    assert_eq!(
        only(&plan)
            .risks
            .iter()
            .filter(|r| r.id == "HOST_PATH")
            .count(),
        1,
        "critical subsumes high"
    );
}

#[test]
fn case_41_cluster_admin_for_all_authenticated() {
    let crb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "all"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "Group", "name": "system:authenticated", "apiGroup": "rbac.authorization.k8s.io"}]});
    let (plan, _) = assessed(run(&fk(), None, Some(crb), Live::Absent));
    check_case(
        &plan,
        &[
            ("RBAC_ADMIN_BINDING", Some(Critical)),
            ("RBAC_BROAD_SUBJECT", Some(Critical)),
        ],
    );
}

fn role(verbs: Value, res: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r", "namespace": "shop"},
        "rules": [{"apiGroups": [""], "resources": res, "verbs": verbs}]})
}

#[test]
fn case_42_wildcard_rule() {
    let (plan, _) = assessed(run(
        &fk(),
        None,
        Some(role(json!(["*"]), json!(["*"]))),
        Live::Found(role(json!(["get"]), json!(["pods"]))),
    ));
    check_case(&plan, &[("RBAC_WILDCARD", Some(High))]);
    assert!(
        !has(&plan, "RBAC_SECRETS_READ") && !has(&plan, "RBAC_ESCALATION"),
        "the wildcard subsumes them"
    );
}

fn rb(role: &str) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "b", "namespace": "shop"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "User", "name": "ann"}]})
}

#[test]
fn case_43_role_ref_is_immutable_and_edit_binding_is_new() {
    let (plan, _) = assessed(run(&fk(), None, Some(rb("edit")), Live::Found(rb("view"))));
    check_case(
        &plan,
        &[
            ("IMMUTABLE_FIELD", Some(Blocker)),
            ("RBAC_ADMIN_BINDING", Some(High)),
        ],
    );
    assert_eq!(only(&plan).detail, Some(Detail::Rejected));
    // With force: a replace.
    let ctx = RiskContext {
        force: true,
        ..RiskContext::default()
    };
    let (plan, _) = assessed_with(
        run(&fk(), None, Some(rb("edit")), Live::Found(rb("view"))),
        &ctx,
    );
    check_case(
        &plan,
        &[("REPLACE", Some(High)), ("RBAC_ADMIN_BINDING", Some(High))],
    );
    assert_eq!(only(&plan).action, Action::Replace);
}

#[test]
fn case_44_forced_job_change_reruns() {
    let job = |img: &str| {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "shop"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": img}]}}}})
    };
    let ctx = RiskContext {
        force: true,
        ..RiskContext::default()
    };
    let (plan, _) = assessed_with(
        run(
            &fk(),
            Some(job("migrate:1")),
            Some(job("migrate:2")),
            Live::Found(job("migrate:1")),
        ),
        &ctx,
    );
    check_case(
        &plan,
        &[
            ("IMMUTABLE_FIELD", None),
            ("REPLACE", Some(High)),
            ("JOB_RERUN", Some(High)),
        ],
    );
    assert_eq!(only(&plan).action, Action::Replace);
}

fn owned_opts() -> DiffOptions {
    let mut o = fk();
    o.owner_labels = flux_labels("apps");
    o
}

#[test]
fn case_45_deleted_pvc_loses_data() {
    let p = with_labels(pvc("10Gi", "standard"), &flux_labels("apps"));
    let (plan, _) = assessed(run(&owned_opts(), Some(p.clone()), None, Live::Found(p)));
    check_case(&plan, &[("DELETE_PVC", Some(Critical))]);
    assert_eq!(only(&plan).action, Action::Delete);
}

fn namespace(name: &str) -> Value {
    with_labels(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        &flux_labels("apps"),
    )
}

#[test]
fn case_46_deleted_namespace_with_counts() {
    let ns = namespace("team-a");
    let plan = run(&owned_opts(), Some(ns.clone()), None, Live::Found(ns));
    let key = ObjectKey {
        group: String::new(),
        kind: "Namespace".into(),
        namespace: String::new(),
        name: "team-a".into(),
    };
    let counts: BTreeMap<String, u64> = [
        ("ConfigMap", 20),
        ("Deployment", 5),
        ("Pod", 10),
        ("Service", 2),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_owned(), n))
    .collect();
    let ctx = RiskContext {
        facts: LiveFacts {
            namespace_contents: [(key, counts)].into_iter().collect(),
            ..LiveFacts::default()
        },
        ..RiskContext::default()
    };
    let (plan, report) = assessed_with(plan, &ctx);
    check_case(&plan, &[("DELETE_NAMESPACE", Some(Critical))]);
    let msg = &only(&plan).risks[0].message;
    assert!(
        msg.contains("37 objects") && msg.contains("Deployment 5"),
        "{msg}"
    );
    assert!(report.flags[0].evidence.contains(&"Pod 10".to_owned()));
}

#[test]
fn case_47_deleted_crd_with_count() {
    let crd = with_labels(
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets"}}}),
        &flux_labels("apps"),
    );
    let plan = run(&owned_opts(), Some(crd.clone()), None, Live::Found(crd));
    let key = only(&plan).key.clone();
    let ctx = RiskContext {
        facts: LiveFacts {
            crd_instances: [(key, 12)].into_iter().collect(),
            ..LiveFacts::default()
        },
        ..RiskContext::default()
    };
    let (plan, _) = assessed_with(plan, &ctx);
    check_case(&plan, &[("DELETE_CRD", Some(Critical))]);
    assert!(only(&plan).risks[0].message.contains("12 custom resources"));
}

fn cm(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "shop"}, "data": data})
}

#[test]
fn case_48_prune_disabled_is_orphaned() {
    let c = annotate(
        with_labels(cm("keep", json!({"a": "1"})), &flux_labels("apps")),
        "kustomize.toolkit.fluxcd.io/prune",
        "disabled",
    );
    let (plan, _) = assessed(run(&owned_opts(), Some(c.clone()), None, Live::Found(c)));
    check_case(&plan, &[("ORPHANED", Some(Info))]);
}

#[test]
fn case_49_helm_keep_is_orphaned() {
    let c = annotate(
        cm("keep", json!({"a": "1"})),
        "helm.sh/resource-policy",
        "keep",
    );
    let (plan, _) = assessed(run(
        &ctx(Applier::Helm),
        Some(c.clone()),
        None,
        Live::Found(c),
    ));
    check_case(&plan, &[("ORPHANED", Some(Info))]);
}

#[test]
fn case_50_adoption() {
    let mut opts = fk();
    opts.inject_labels = flux_labels("apps");
    let d = deployment(web("app:1"));
    let live = server_like(&d, None);
    let (plan, _) = assessed(run(&opts, Some(d.clone()), Some(d), Live::Found(live)));
    check_case(&plan, &[("ADOPT", Some(Medium))]);
    assert_eq!(
        only(&plan).risks.iter().filter(|r| r.id == "ADOPT").count(),
        1,
        "one adoption, one flag"
    );
}

#[test]
fn case_52_hash_suffix_rename_rolls_the_consumer() {
    let with_ref = |name: &str| {
        deployment(
            json!([{"name": "web", "image": "app:1", "envFrom": [{"configMapRef": {"name": name}}]}]),
        )
    };
    let old = cm("app-cfg-7g8h9k2m4t", json!({"LOG": "info"}));
    let new = cm("app-cfg-b2c4d6f8g9", json!({"LOG": "debug"}));
    let live_dep = server_like(&with_ref("app-cfg-7g8h9k2m4t"), None);
    let desired = vec![new, with_ref("app-cfg-b2c4d6f8g9")];
    let plan = run_many(
        &fk(),
        vec![old.clone(), with_ref("app-cfg-7g8h9k2m4t")],
        desired.clone(),
        Some(vec![(old, true), (live_dep, true)]),
    );
    let d1 = manifests(&desired);
    let (plan, _) = assessed_with(
        plan,
        &RiskContext {
            desired: &d1,
            ..RiskContext::default()
        },
    );
    check_case(&plan, &[("RESTART_ROLLOUT", Some(Medium))]);
    let web = plan.objects.iter().find(|o| o.name == "web").expect("web");
    assert!(
        web.risks
            .iter()
            .any(|r| r.id == "RESTART_ROLLOUT" && r.message.contains("renamed config app-cfg")),
        "{:?}",
        web.risks
    );
    assert!(
        plan.objects
            .iter()
            .filter(|o| o.kind == "ConfigMap")
            .all(|o| ids(o) == ["RENAME"])
    );
    assert!(!has(&plan, "DANGLING_REFERENCE"));
}

#[test]
fn case_53_config_not_reloaded_names_the_consumer() {
    let dep = deployment(
        json!([{"name": "web", "image": "app:1", "envFrom": [{"configMapRef": {"name": "app-cfg"}}]}]),
    );
    let desired = vec![cm("app-cfg", json!({"LOG": "debug"})), dep.clone()];
    let live = vec![
        (cm("app-cfg", json!({"LOG": "info"})), true),
        (server_like(&dep, None), true),
    ];
    let plan = run_many(&fk(), vec![], desired.clone(), Some(live));
    let d1 = manifests(&desired);
    let (plan, report) = assessed_with(
        plan,
        &RiskContext {
            desired: &d1,
            ..RiskContext::default()
        },
    );
    check_case(&plan, &[("CONFIG_NOT_RELOADED", Some(Medium))]);
    let c = plan
        .objects
        .iter()
        .find(|o| o.kind == "ConfigMap")
        .expect("the ConfigMap");
    let r = &c.risks[0];
    assert!(
        r.message.contains("Deployment/web (envFrom)"),
        "{}",
        r.message
    );
    assert_eq!(
        report.flags[0].evidence,
        vec!["Deployment/web (envFrom)".to_owned()]
    );
}

#[test]
fn case_54_substitute_password_in_plaintext() {
    let ks = |pw: &str| {
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system"},
            "spec": {"postBuild": {"substitute": {"DB_PASSWORD": pw, "REGION": "eu"}}}})
    };
    let (plan, report) = assessed(run(
        &fk(),
        Some(ks("old")),
        Some(ks("hunter2x")),
        Live::Found(ks("old")),
    ));
    check_case(&plan, &[("SECRET_IN_PLAINTEXT", Some(High))]);
    let out = format!("{}{:?}", all_outputs(&plan), report);
    assert!(!out.contains("hunter2x"));
}

#[test]
fn case_55_helm_values_password_in_plaintext() {
    let hr = |pw: &str| {
        json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": {"name": "db", "namespace": "shop"},
            "spec": {"values": {"db": {"password": pw, "user": "app"}}}})
    };
    let (plan, report) = assessed(run(
        &fk(),
        Some(hr("aaaaaaaa")),
        Some(hr("bbbbbbbb")),
        Live::Found(hr("aaaaaaaa")),
    ));
    check_case(&plan, &[("SECRET_IN_PLAINTEXT", Some(High))]);
    let out = format!("{}{:?}", all_outputs(&plan), report);
    assert!(!out.contains("aaaaaaaa") && !out.contains("bbbbbbbb"));
}

#[test]
fn case_56_env_password_in_plaintext_rolls() {
    let d = |v: &str| {
        deployment(
            json!([{"name": "web", "image": "app:1", "env": [{"name": "DB_PASSWORD", "value": v}]}]),
        )
    };
    let (plan, report) = assessed(fk_against(&d("x1-old-value"), d("x2-new-value")));
    check_case(
        &plan,
        &[
            ("SECRET_IN_PLAINTEXT", Some(High)),
            ("RESTART_ROLLOUT", Some(Medium)),
        ],
    );
    let out = format!("{}{:?}", all_outputs(&plan), report);
    assert!(!out.contains("x1-old-value") && !out.contains("x2-new-value"));
}

#[test]
fn case_57_unit_move_is_a_transfer_not_an_adoption() {
    let mut opts = fk();
    opts.inject_labels = flux_labels("b");
    let d = deployment(web("app:1"));
    let live = server_like(&with_labels(d.clone(), &flux_labels("a")), None);
    let (plan, _) = assessed(run(&opts, None, Some(d), Live::Found(live)));
    check_case(&plan, &[("OWNERSHIP_TRANSFER", Some(Medium))]);
    assert_eq!(only(&plan).action, Action::Patch);
    assert!(!has(&plan, "ADOPT"));
}

#[test]
fn case_61_duplicate_env_is_invalid() {
    let d = env_deploy(&["FOO", "FOO"]);
    let (plan, _) = assessed(run(
        &fk(),
        None,
        Some(d),
        Live::Found(server_like(&env_deploy(&["FOO"]), None)),
    ));
    check_case(&plan, &[("INVALID", Some(Blocker))]);
}

#[test]
fn case_62_strategy_recreate() {
    let d = deployment(web("app:1"));
    let live = server_like(&d, None);
    let desired = set(d.clone(), "/spec", {
        let mut s = d["spec"].clone();
        s["strategy"] = json!({"type": "Recreate"});
        s
    });
    let (plan, _) = assessed(run(&fk(), None, Some(desired), Live::Found(live)));
    check_case(&plan, &[("STRATEGY_RECREATE", Some(High))]);
    assert!(
        only(&plan).risks.iter().all(|r| !r
            .path
            .as_deref()
            .unwrap_or_default()
            .contains("rollingUpdate")),
        "the implied rollingUpdate removal is not a finding"
    );
}

#[test]
fn case_63_load_balancer_exposure() {
    let live = live_service(json!([{"port": 80, "protocol": "TCP"}]));
    let mut desired = service(json!([{"port": 80}]));
    desired["spec"]["type"] = json!("LoadBalancer");
    let workload = deployment(web("app:1"));
    let d1 = manifests(&[desired.clone(), workload]);
    let (plan, _) = assessed_with(
        run(&fk(), None, Some(desired), Live::Found(live)),
        &RiskContext {
            desired: &d1,
            ..RiskContext::default()
        },
    );
    check_case(&plan, &[("EXPOSURE_PUBLIC", Some(Medium))]);
}

#[test]
fn case_64_selector_matches_nothing() {
    let live = live_service(json!([{"port": 80, "protocol": "TCP"}]));
    let mut desired = service(json!([{"port": 80}]));
    desired["spec"]["selector"] = json!({"app": "webapp"});
    let d1 = manifests(&[desired.clone(), deployment(web("app:1"))]);
    let (plan, _) = assessed_with(
        run(&fk(), None, Some(desired), Live::Found(live)),
        &RiskContext {
            desired: &d1,
            ..RiskContext::default()
        },
    );
    check_case(&plan, &[("SELECTOR_MISMATCH", Some(High))]);
}

#[test]
fn case_67_hook() {
    let job = |img: &str| {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "shop",
            "annotations": {"helm.sh/hook": "pre-upgrade"}},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": img}]}}}})
    };
    let (plan, _) = assessed(run(
        &ctx(Applier::Helm),
        Some(job("m:1")),
        Some(job("m:2")),
        Live::Found(job("m:1")),
    ));
    check_case(&plan, &[("HOOK", Some(Info))]);
    assert_eq!(only(&plan).detail, Some(Detail::Hook));
}

#[test]
fn case_69_null_replicas_scales_down() {
    let applied = deployment(web("app:1"));
    let live = last_applied(server_like(&applied, None), &applied);
    let desired = set(applied.clone(), "/spec/replicas", Value::Null);
    let (plan, _) = assessed(run(&ac(), None, Some(desired), Live::Found(live)));
    check_case(&plan, &[("SCALE_DOWN", Some(Medium))]);
    assert!(only(&plan).risks[0].message.contains("defaults to 1"));
}

#[test]
fn case_70_forbidden_secret_is_unreadable() {
    let s = |pw: &str| secret("stringData", json!({"password": pw}));
    let (plan, _) = assessed(run(
        &fk(),
        Some(s("old-password")),
        Some(s("new-password")),
        Live::Forbidden(s("x")),
    ));
    check_case(&plan, &[("SECRET_UNREADABLE", Some(Info))]);
    // The same with the live outcomes passed to the risk pass.
    let live: BTreeMap<ObjectKey, LiveOutcome> = [(
        ObjectKey {
            group: String::new(),
            kind: "Secret".into(),
            namespace: "shop".into(),
            name: "db".into(),
        },
        LiveOutcome::Forbidden {
            message: "forbidden".into(),
        },
    )]
    .into_iter()
    .collect();
    let plan = run(
        &fk(),
        Some(s("old-password")),
        Some(s("new-password")),
        Live::Forbidden(s("x")),
    );
    let (plan, _) = assessed_with(
        plan,
        &RiskContext {
            live: Some(&live),
            ..RiskContext::default()
        },
    );
    check_case(&plan, &[("SECRET_UNREADABLE", Some(Info))]);
}

#[test]
fn case_71_priority_class_value_is_immutable() {
    let pc = |v: i64| json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"}, "value": v});
    let (plan, _) = assessed(run(&fk(), None, Some(pc(2000)), Live::Found(pc(1000))));
    check_case(&plan, &[("IMMUTABLE_FIELD", Some(Blocker))]);
    assert_eq!(only(&plan).detail, Some(Detail::Rejected));
}

fn crd(versions: &[&str]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"name": v, "served": true, "storage": i + 1 == versions.len(), "schema": {"openAPIV3Schema": {"type": "object"}}}))
        .collect();
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets"}, "versions": vs}})
}

#[test]
fn case_72_stored_version_removed_is_rejected() {
    let mut live = crd(&["v1alpha1", "v1"]);
    live["status"] = json!({"storedVersions": ["v1alpha1", "v1"]});
    let (plan, _) = assessed(run(
        &fk(),
        Some(crd(&["v1alpha1", "v1"])),
        Some(crd(&["v1"])),
        Live::Found(live),
    ));
    check_case(&plan, &[("CRD_VERSION_REMOVED", Some(Blocker))]);
    assert_eq!(only(&plan).detail, Some(Detail::Rejected));
}

#[test]
fn case_73_ingress_class_change() {
    let ing = |c: &str| {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"ingressClassName": c}})
    };
    let (plan, _) = assessed(run(
        &fk(),
        None,
        Some(ing("traefik")),
        Live::Found(ing("nginx")),
    ));
    check_case(&plan, &[("INGRESS_CLASS_CHANGE", Some(Medium))]);
}

#[test]
fn case_75_second_protocol_collides_under_csa() {
    let live = last_applied(
        live_service(json!([{"port": 53, "protocol": "TCP"}])),
        &service(json!([{"port": 53, "protocol": "TCP"}])),
    );
    let desired =
        service(json!([{"port": 53, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]));
    let d1 = manifests(&[desired.clone(), deployment(web("app:1"))]);
    let (plan, _) = assessed_with(
        run(&ac(), None, Some(desired), Live::Found(live)),
        &RiskContext {
            desired: &d1,
            ..RiskContext::default()
        },
    );
    check_case(&plan, &[("SMP_KEY_COLLISION", Some(Medium))]);
}

/// §9 expects NO-OP (the API server prunes the field); the engine reports the add as a
/// patch, and the risk pass flags it. The action is the engine's to decide.
#[test]
fn case_59_field_missing_from_the_crd_schema() {
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object",
                "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}});
    let cr = |spec: Value| json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "shop"}, "spec": spec});
    let desired = cr(json!({"size": 1, "foo": 1}));
    let d1 = manifests(&[desired.clone(), crd]);
    let plan = run(
        &fk(),
        Some(cr(json!({"size": 1}))),
        Some(desired),
        Live::Found(cr(json!({"size": 1}))),
    );
    let (plan, _) = assessed_with(
        plan,
        &RiskContext {
            desired: &d1,
            ..RiskContext::default()
        },
    );
    check_case(&plan, &[("UNKNOWN_FIELD", Some(Medium))]);
    assert_eq!(only(&plan).risks[0].path.as_deref(), Some("spec.foo"));
}
