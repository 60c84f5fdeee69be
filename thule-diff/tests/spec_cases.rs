//! The test cases of spec/diff-semantics.md §9 that do not depend on risk flags, one test per
//! case number. They assert the action, detail and changes; flags come with the risk pass.
//! Not here (risk-only): 16, 22, 44 (REPLACE needs the immutable-field catalog), 57
//! (ownership transfer across units), 59 (CRD schema pruning), 72 (CRD stored versions).

mod common;

use common::*;
use serde_json::{Value, json};
use thule_core::config::Applier;
use thule_diff::{Action, ChangeOrigin, Detail};

fn ac() -> thule_diff::DiffOptions {
    ctx(Applier::Argocd)
}

fn any() -> thule_diff::DiffOptions {
    ctx(Applier::Flux)
}

fn flux_labels() -> std::collections::BTreeMap<String, String> {
    [
        ("kustomize.toolkit.fluxcd.io/name", "apps"),
        ("kustomize.toolkit.fluxcd.io/namespace", "flux-system"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn assert_noop(plan: &thule_diff::Plan) {
    assert_eq!(
        plan.summary.noop,
        1,
        "{}",
        thule_diff::render::to_text(plan)
    );
    assert!(
        plan.objects
            .iter()
            .all(|o| o.action == Action::Noop && o.changes.is_empty()),
        "{}",
        thule_diff::render::to_text(plan)
    );
}

#[test]
fn case_01_defaults_and_owner_labels_are_noop() {
    let mut opts = fk();
    opts.inject_labels = flux_labels();
    let desired = deployment(web("registry/web:1.4.2"));
    let applied = with_labels(desired.clone(), &flux_labels());
    let live = server_like(
        &applied,
        Some(("kustomize-controller", fields_v1_of(&applied))),
    );
    let plan = run(
        &opts,
        Some(desired.clone()),
        Some(desired),
        Live::Found(live),
    );
    assert_noop(&plan);
}

#[test]
fn case_02_quantity_forms_are_noop() {
    let live = deployment(resources(
        json!({"requests": {"cpu": "1", "memory": "1Gi"}}),
    ));
    let desired = deployment(resources(
        json!({"requests": {"cpu": "1000m", "memory": "1024Mi"}}),
    ));
    assert_noop(&fk_against(&live, desired));
}

#[test]
fn case_03_half_cpu_is_500m() {
    let live = deployment(resources(json!({"limits": {"cpu": "500m"}})));
    let desired = deployment(resources(json!({"limits": {"cpu": 0.5}})));
    assert_noop(&fk_against(&live, desired));
}

#[test]
fn case_04_integer_cpu_equals_string() {
    let live = deployment(resources(json!({"requests": {"cpu": "2"}})));
    let desired = deployment(resources(json!({"requests": {"cpu": 2}})));
    assert_noop(&fk_against(&live, desired));
}

#[test]
fn case_05_memory_change_is_patch() {
    let live = deployment(resources(json!({"requests": {"memory": "1Gi"}})));
    let desired = deployment(resources(json!({"requests": {"memory": "2Gi"}})));
    let plan = fk_against(&live, desired);
    let o = only(&plan);
    assert_eq!(o.action, Action::Patch);
    assert_eq!(
        paths(o),
        vec![(
            "spec.template.spec.containers[name=web].resources.requests.memory".into(),
            "replace"
        )]
    );
    assert_eq!(o.changes[0].before, Some(json!("1Gi")));
    assert_eq!(o.changes[0].after, Some(json!("2Gi")));
}

fn live_service(ports: Value) -> Value {
    let mut s = service(ports);
    s["spec"]["clusterIP"] = json!("10.0.12.7");
    s["spec"]["clusterIPs"] = json!(["10.0.12.7"]);
    s["spec"]["ipFamilies"] = json!(["IPv4"]);
    s["spec"]["ipFamilyPolicy"] = json!("SingleStack");
    s["spec"]["sessionAffinity"] = json!("None");
    s["spec"]["type"] = json!("ClusterIP");
    s["spec"]["internalTrafficPolicy"] = json!("Cluster");
    s["metadata"]["uid"] = json!("u");
    s
}

#[test]
fn case_06_service_defaults_and_protocol_key_are_noop() {
    let live = live_service(json!([{"port": 80, "protocol": "TCP", "targetPort": 8080}]));
    let desired = service(json!([{"port": 80, "targetPort": 8080}]));
    assert_noop(&run(&any(), None, Some(desired), Live::Found(live)));
}

#[test]
fn case_07_defaulted_target_port_is_noop() {
    let live = live_service(json!([{"port": 80, "protocol": "TCP", "targetPort": 80}]));
    let desired = service(json!([{"port": 80}]));
    assert_noop(&run(&any(), None, Some(desired), Live::Found(live)));
}

#[test]
fn case_08_port_order_is_noop() {
    let live =
        live_service(json!([{"port": 53, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]));
    let desired =
        service(json!([{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]));
    assert_noop(&run(&any(), None, Some(desired), Live::Found(live)));
}

fn secret(field: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
        "type": "Opaque", field: data})
}

#[test]
fn case_09_string_data_equals_data() {
    let live = secret("data", json!({"password": "czNjcjN0"}));
    let desired = secret("stringData", json!({"password": "s3cr3t"}));
    let plan = run(&any(), None, Some(desired), Live::Found(live));
    assert_noop(&plan);
    let out = all_outputs(&plan);
    assert!(!out.contains("s3cr3t") && !out.contains("czNjcjN0"));
}

#[test]
fn case_10_secret_change_reports_key_only() {
    let live = secret("data", json!({"password": "b2xk"}));
    let desired = secret("stringData", json!({"password": "new"}));
    let plan = run(&any(), None, Some(desired), Live::Found(live));
    let o = only(&plan);
    assert_eq!(o.action, Action::Patch);
    assert_eq!(paths(o), vec![("data.password".into(), "replace")]);
    let c = &o.changes[0];
    assert!(c.sensitive);
    assert_eq!(
        (c.before.clone(), c.after.clone()),
        (Some(Value::Null), Some(Value::Null))
    );
    let out = all_outputs(&plan);
    for leak in ["b2xk", "bmV3", "\"new\"", "old", "bytes"] {
        assert!(!out.contains(leak), "{leak} leaked:\n{out}");
    }
    assert!(out.contains("changed, value hidden"));
}

#[test]
fn case_11_wrapped_base64_is_noop() {
    let blob: String = (0..200u32)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let b64 = thule_diff::normalize::encode_base64(blob.as_bytes());
    let wrapped = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let live = secret("data", json!({"tls.crt": b64}));
    let desired = secret("data", json!({"tls.crt": wrapped}));
    assert_noop(&run(&any(), None, Some(desired), Live::Found(live)));
}

#[test]
fn case_12_secret_type_change_is_a_patch_of_type() {
    let live = secret("data", json!({"a": "YQ=="}));
    let mut desired = live.clone();
    desired["type"] = json!("kubernetes.io/tls");
    let plan = run(&any(), None, Some(desired), Live::Found(live));
    let o = only(&plan);
    assert_eq!(o.action, Action::Patch);
    assert_eq!(paths(o), vec![("type".into(), "replace")]);
}

#[test]
fn case_13_immutable_configmap_data_change_is_a_patch() {
    let cm = |v: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"},
            "immutable": true, "data": {"a": v}})
    };
    let plan = run(&any(), None, Some(cm("2")), Live::Found(cm("1")));
    assert_eq!(paths(only(&plan)), vec![("data.a".into(), "replace")]);
}

#[test]
fn case_14_scale_to_zero_is_a_patch() {
    let live = deployment(web("app:1"));
    let mut desired = live.clone();
    desired["spec"]["replicas"] = json!(0);
    let plan = fk_against(&live, desired);
    let o = only(&plan);
    assert_eq!(o.action, Action::Patch);
    assert_eq!(paths(o), vec![("spec.replicas".into(), "replace")]);
    assert_eq!(o.changes[0].after, Some(json!(0)));
}

#[test]
fn case_15_selector_change_is_one_atomic_change() {
    let live = deployment(web("app:1"));
    let mut desired = live.clone();
    desired["spec"]["selector"]["matchLabels"]["tier"] = json!("fe");
    desired["spec"]["template"]["metadata"]["labels"]["tier"] = json!("fe");
    let plan = fk_against(&live, desired);
    let o = only(&plan);
    assert_eq!(o.action, Action::Patch);
    assert_eq!(
        paths(o),
        vec![
            ("spec.selector".into(), "replace"),
            ("spec.template.metadata.labels.tier".into(), "add")
        ]
    );
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
fn case_17_vct_change_is_one_atomic_change_without_default_noise() {
    let plan = run(
        &fk(),
        None,
        Some(sts("20Gi", false)),
        Live::Found(sts("10Gi", true)),
    );
    let o = only(&plan);
    assert_eq!(o.action, Action::Patch);
    assert_eq!(
        paths(o),
        vec![("spec.volumeClaimTemplates".into(), "replace")]
    );
    let changed: Vec<&str> = o
        .text_diff
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(
        changed,
        vec!["-          storage: 10Gi", "+          storage: 20Gi"],
        "{}",
        o.text_diff
    );
}

#[test]
fn case_18_vct_defaults_are_noop() {
    assert_noop(&run(
        &fk(),
        None,
        Some(sts("10Gi", false)),
        Live::Found(sts("10Gi", true)),
    ));
}

#[test]
fn case_19_ondelete_statefulset_image_change_is_a_patch() {
    let mut live = sts("10Gi", true);
    live["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
    let mut desired = sts("10Gi", false);
    desired["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
    desired["spec"]["template"]["spec"]["containers"][0]["image"] = json!("pg:17");
    let plan = run(&fk(), None, Some(desired), Live::Found(live));
    assert_eq!(
        paths(only(&plan)),
        vec![(
            "spec.template.spec.containers[name=db].image".into(),
            "replace"
        )]
    );
}

fn pvc(storage: &str, class: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "shop"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class,
            "resources": {"requests": {"storage": storage}}}})
}

#[test]
fn case_20_pvc_expansion_is_a_patch() {
    let mut live = pvc("10Gi", "standard");
    live["spec"]["volumeName"] = json!("pvc-123");
    live["spec"]["volumeMode"] = json!("Filesystem");
    let plan = run(
        &any(),
        None,
        Some(pvc("20Gi", "standard")),
        Live::Found(live),
    );
    assert_eq!(
        paths(only(&plan)),
        vec![("spec.resources.requests.storage".into(), "replace")]
    );
}

#[test]
fn case_21_pvc_shrink_is_a_patch_of_storage() {
    let plan = run(
        &any(),
        None,
        Some(pvc("10Gi", "standard")),
        Live::Found(pvc("20Gi", "standard")),
    );
    let o = only(&plan);
    assert_eq!(o.action, Action::Patch);
    assert_eq!(o.changes[0].before, Some(json!("20Gi")));
    assert_eq!(o.changes[0].after, Some(json!("10Gi")));
}

#[test]
fn case_23_cluster_ip_change_is_a_patch() {
    let live = live_service(json!([{"port": 80, "protocol": "TCP"}]));
    let mut desired = service(json!([{"port": 80}]));
    desired["spec"]["clusterIP"] = json!("10.0.0.5");
    let plan = run(&any(), None, Some(desired), Live::Found(live));
    assert_eq!(
        paths(only(&plan)),
        vec![("spec.clusterIP".into(), "replace")]
    );
}

fn hpa_scaled_live(extra: Value) -> Value {
    let applied = deployment(web("app:1"));
    let mut live = server_like(
        &applied,
        Some(("kustomize-controller", fields_v1_of(&applied))),
    );
    live["spec"]["replicas"] = json!(7);
    live["metadata"]["managedFields"]
        .as_array_mut()
        .expect("managedFields")
        .push(extra);
    live
}

#[test]
fn case_24_ssa_releases_hpa_owned_replicas() {
    let live = hpa_scaled_live(
        json!({"manager": "kube-controller-manager", "operation": "Update",
        "subresource": "scale", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:replicas": {}}}}),
    );
    let base = deployment(web("app:1"));
    let mut desired = base.clone();
    desired["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("replicas");
    let plan = run(&fk(), Some(base), Some(desired), Live::Found(live));
    let o = only(&plan);
    assert_eq!(o.action, Action::Noop);
    assert!(o.changes.is_empty());
    assert!(
        o.notes
            .iter()
            .any(|n| n.contains("spec.replicas is released")),
        "{:?}",
        o.notes
    );
}

#[test]
fn case_25_csa_removal_deletes_replicas() {
    let applied = deployment(web("app:1"));
    let mut live = last_applied(server_like(&applied, None), &applied);
    live["spec"]["replicas"] = json!(7);
    let mut desired = applied.clone();
    desired["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("replicas");
    let plan = run(&ac(), None, Some(desired), Live::Found(live));
    let o = only(&plan);
    assert_eq!(o.action, Action::Patch);
    assert_eq!(paths(o), vec![("spec.replicas".into(), "remove")]);
    assert_eq!(o.changes[0].before, Some(json!(7)));
}

#[test]
fn case_26_hpa_drift_is_tagged_drift() {
    let live = hpa_scaled_live(
        json!({"manager": "kube-controller-manager", "operation": "Update",
        "subresource": "scale", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:replicas": {}}}}),
    );
    let mut desired = deployment(web("app:1"));
    desired["spec"]["replicas"] = json!(2);
    let plan = run(
        &fk(),
        Some(desired.clone()),
        Some(desired),
        Live::Found(live),
    );
    let o = only(&plan);
    assert_eq!(o.action, Action::Patch);
    assert_eq!(paths(o), vec![("spec.replicas".into(), "replace")]);
    assert_eq!(o.changes[0].origin, ChangeOrigin::Drift);
    assert_eq!(o.origin, ChangeOrigin::Drift);
}

#[test]
fn case_27_ssa_removes_exclusively_owned_env() {
    let applied = env_deploy(&["A", "LOG_LEVEL", "B"]);
    let live = server_like(
        &applied,
        Some(("kustomize-controller", fields_v1_of(&applied))),
    );
    let desired = env_deploy(&["A", "B"]);
    let plan = run(&fk(), Some(applied), Some(desired), Live::Found(live));
    assert_eq!(
        paths(only(&plan)),
        vec![(
            "spec.template.spec.containers[name=web].env[name=LOG_LEVEL]".into(),
            "remove"
        )]
    );
}

#[test]
fn case_28_ssa_keeps_co_owned_env() {
    let applied = env_deploy(&["A", "LOG_LEVEL", "B"]);
    let mut live = server_like(
        &applied,
        Some(("kustomize-controller", fields_v1_of(&applied))),
    );
    live["metadata"]["managedFields"].as_array_mut().expect("mf").push(json!({
        "manager": "kubectl-edit", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {"f:env": {
            "k:{\"name\":\"LOG_LEVEL\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}}}}}));
    let desired = env_deploy(&["A", "B"]);
    let plan = run(&fk(), Some(applied), Some(desired), Live::Found(live));
    let o = only(&plan);
    assert_eq!(o.action, Action::Noop);
    assert!(o.changes.is_empty());
}

#[test]
fn case_29_csa_removes_env_regardless_of_other_writers() {
    let applied = env_deploy(&["A", "LOG_LEVEL", "B"]);
    let live = last_applied(server_like(&applied, None), &applied);
    let plan = run(
        &ac(),
        None,
        Some(env_deploy(&["A", "B"])),
        Live::Found(live),
    );
    assert_eq!(
        paths(only(&plan)),
        vec![(
            "spec.template.spec.containers[name=web].env[name=LOG_LEVEL]".into(),
            "remove"
        )]
    );
}

#[test]
fn case_30_env_insert_is_one_keyed_add() {
    let live = env_deploy(&["A", "B", "C"]);
    let plan = fk_against(&live, env_deploy(&["NEW", "A", "B", "C"]));
    let o = only(&plan);
    assert_eq!(
        paths(o),
        vec![(
            "spec.template.spec.containers[name=web].env[name=NEW]".into(),
            "add"
        )]
    );
    assert!(o.changes.iter().all(|c| !c.path.contains("env[0]")));
}

#[test]
fn case_31_env_reorder_is_noop() {
    let live = env_deploy(&["A", "B", "C"]);
    assert_noop(&fk_against(&live, env_deploy(&["C", "A", "B"])));
}

#[test]
fn case_32_args_reorder_is_an_atomic_replace() {
    let d = |args: Value| deployment(json!([{"name": "web", "image": "app:1", "args": args}]));
    let plan = fk_against(&d(json!(["--a", "--b"])), d(json!(["--b", "--a"])));
    let o = only(&plan);
    assert_eq!(o.action, Action::Patch);
    assert_eq!(
        paths(o),
        vec![(
            "spec.template.spec.containers[name=web].args".into(),
            "replace"
        )]
    );
}

#[test]
fn case_33_rollout_restart_annotation_is_noop() {
    let applied = deployment(web("app:1"));
    let mut live = server_like(
        &applied,
        Some(("kustomize-controller", fields_v1_of(&applied))),
    );
    live["spec"]["template"]["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"});
    live["metadata"]["managedFields"].as_array_mut().expect("mf").push(json!({
        "manager": "kubectl-rollout", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:template": {"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/restartedAt": {}}}}}}}));
    assert_noop(&run(
        &fk(),
        Some(applied.clone()),
        Some(applied),
        Live::Found(live),
    ));
}

#[test]
fn case_34_defaulted_pull_policy_is_noop() {
    let d = deployment(json!([{"name": "web", "image": "nginx"}]));
    let live = server_like(&d, None);
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        json!("Always")
    );
    assert_noop(&run(&any(), None, Some(d), Live::Found(live)));
}

#[test]
fn case_35_explicit_pull_policy_change_is_a_patch() {
    let d = deployment(json!([{"name": "web", "image": "app:1.2"}]));
    let live = server_like(&d, None);
    let desired =
        deployment(json!([{"name": "web", "image": "app:1.2", "imagePullPolicy": "Always"}]));
    let plan = run(&any(), None, Some(desired), Live::Found(live));
    assert_eq!(
        paths(only(&plan)),
        vec![(
            "spec.template.spec.containers[name=web].imagePullPolicy".into(),
            "replace"
        )]
    );
}

#[test]
fn case_36_empty_values_equal_absent() {
    let d = deployment(json!([{"name": "web", "image": "app:1"}]));
    let live = server_like(&d, None);
    let mut desired = d.clone();
    desired["metadata"]["annotations"] = json!({});
    desired["spec"]["template"]["spec"]["containers"][0]["args"] = json!([]);
    desired["spec"]["template"]["spec"]["containers"][0]["resources"] = json!({});
    desired["spec"]["template"]["spec"]["hostNetwork"] = json!(false);
    desired["spec"]["template"]["spec"]["securityContext"] = json!({});
    assert_noop(&run(&any(), None, Some(desired), Live::Found(live)));
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
fn case_37_octal_mode_equals_decimal() {
    let mut desired = yaml(VOL_YAML);
    desired["spec"]["template"]["metadata"]["labels"]["enabled"] = json!("true");
    let mut live = desired.clone();
    live["spec"]["template"]["spec"]["volumes"][0]["configMap"]["defaultMode"] = json!(420);
    assert_noop(&run(&any(), None, Some(desired), Live::Found(live)));
}

#[test]
fn case_38_bool_label_is_invalid_not_a_change() {
    let desired = yaml(VOL_YAML);
    assert_eq!(
        desired["spec"]["template"]["metadata"]["labels"]["enabled"],
        json!(true)
    );
    let mut live = desired.clone();
    live["spec"]["template"]["metadata"]["labels"]["enabled"] = json!("true");
    live["spec"]["template"]["spec"]["volumes"][0]["configMap"]["defaultMode"] = json!(420);
    let plan = run(&any(), None, Some(desired), Live::Found(live));
    let o = only(&plan);
    assert_eq!((o.action, o.detail), (Action::Noop, Some(Detail::Invalid)));
    assert!(o.changes.is_empty());
    assert!(
        o.notes
            .iter()
            .any(|n| n.contains("enabled") && n.contains("boolean")),
        "{:?}",
        o.notes
    );
}

#[test]
fn case_39_privileged_is_a_keyed_add() {
    let d = deployment(json!([{"name": "web", "image": "app:1"}]));
    let live = server_like(&d, None);
    let desired = deployment(
        json!([{"name": "web", "image": "app:1", "securityContext": {"privileged": true}}]),
    );
    let plan = run(&any(), None, Some(desired), Live::Found(live));
    assert_eq!(
        paths(only(&plan)),
        vec![(
            "spec.template.spec.containers[name=web].securityContext.privileged".into(),
            "add"
        )]
    );
}

#[test]
fn case_40_new_daemonset_is_create() {
    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {"metadata": {"labels": {"app": "agent"}},
        "spec": {"hostNetwork": true, "containers": [{"name": "a", "image": "agent:1"}],
            "volumes": [{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}]}}}});
    let plan = run(&any(), None, Some(ds), Live::Absent);
    let o = only(&plan);
    assert_eq!(o.action, Action::Create);
    assert!(
        o.changes
            .iter()
            .any(|c| c.path == "spec.template.spec.volumes[name=sock]")
    );
    assert!(
        o.changes
            .iter()
            .any(|c| c.path == "spec.template.spec.hostNetwork")
    );
}

#[test]
fn case_41_new_cluster_role_binding_is_create() {
    let crb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "all"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "Group", "name": "system:authenticated", "apiGroup": "rbac.authorization.k8s.io"}]});
    let plan = run(&any(), None, Some(crb), Live::Absent);
    let o = only(&plan);
    assert_eq!((o.action, o.namespace.as_str()), (Action::Create, ""));
    assert!(o.changes.iter().any(|c| c.path == "roleRef"));
}

#[test]
fn case_42_role_rules_are_an_atomic_replace() {
    let role = |verbs: Value, res: Value| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r", "namespace": "shop"},
            "rules": [{"apiGroups": [""], "resources": res, "verbs": verbs}]})
    };
    let plan = run(
        &any(),
        None,
        Some(role(json!(["*"]), json!(["*"]))),
        Live::Found(role(json!(["get"]), json!(["pods"]))),
    );
    assert_eq!(paths(only(&plan)), vec![("rules".into(), "replace")]);
}

#[test]
fn case_43_role_ref_change_is_one_atomic_change() {
    let rb = |role: &str| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "b", "namespace": "shop"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "User", "name": "ann"}]})
    };
    let plan = run(&any(), None, Some(rb("edit")), Live::Found(rb("view")));
    assert_eq!(paths(only(&plan)), vec![("roleRef".into(), "replace")]);
}

fn owned_opts() -> thule_diff::DiffOptions {
    let mut o = fk();
    o.owner_labels = flux_labels();
    o
}

#[test]
fn case_45_removed_owned_pvc_is_delete() {
    let p = with_labels(pvc("10Gi", "standard"), &flux_labels());
    let plan = run(&owned_opts(), Some(p.clone()), None, Live::Found(p));
    let o = only(&plan);
    assert_eq!(
        (o.action, o.kind.as_str()),
        (Action::Delete, "PersistentVolumeClaim")
    );
}

#[test]
fn case_46_removed_namespace_is_delete() {
    let ns = with_labels(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
        &flux_labels(),
    );
    let plan = run(&owned_opts(), Some(ns.clone()), None, Live::Found(ns));
    let o = only(&plan);
    assert_eq!((o.action, o.namespace.as_str()), (Action::Delete, ""));
}

#[test]
fn case_47_removed_crd_is_delete() {
    let crd = with_labels(
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets"}}}),
        &flux_labels(),
    );
    let plan = run(&owned_opts(), Some(crd.clone()), None, Live::Found(crd));
    assert_eq!(only(&plan).action, Action::Delete);
}

fn cm(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "shop"}, "data": data})
}

#[test]
fn case_48_prune_disabled_is_orphan() {
    let mut c = with_labels(cm("keep", json!({"a": "1"})), &flux_labels());
    c["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/prune": "disabled"});
    let plan = run(&owned_opts(), Some(c.clone()), None, Live::Found(c));
    let o = only(&plan);
    assert_eq!((o.action, o.detail), (Action::Noop, Some(Detail::Orphan)));
}

#[test]
fn case_49_helm_keep_is_orphan() {
    let mut c = cm("keep", json!({"a": "1"}));
    c["metadata"]["annotations"] = json!({"helm.sh/resource-policy": "keep"});
    let plan = run(&ctx(Applier::Helm), Some(c.clone()), None, Live::Found(c));
    let o = only(&plan);
    assert_eq!((o.action, o.detail), (Action::Noop, Some(Detail::Orphan)));
}

#[test]
fn case_50_adoption_changes_only_owner_labels() {
    let mut opts = fk();
    opts.inject_labels = flux_labels();
    let d = deployment(web("app:1"));
    let live = server_like(&d, None);
    let plan = run(&opts, Some(d.clone()), Some(d), Live::Found(live));
    let o = only(&plan);
    assert_eq!(o.action, Action::Patch);
    assert_eq!(
        paths(o),
        vec![
            (
                r#"metadata.labels["kustomize.toolkit.fluxcd.io/name"]"#.into(),
                "add"
            ),
            (
                r#"metadata.labels["kustomize.toolkit.fluxcd.io/namespace"]"#.into(),
                "add"
            ),
        ]
    );
}

#[test]
fn case_51_absent_object_is_create() {
    let plan = run(&any(), None, Some(deployment(web("app:1"))), Live::Absent);
    assert_eq!(only(&plan).action, Action::Create);
}

#[test]
fn case_52_hash_suffixed_configmap_is_create_plus_delete() {
    let with_ref = |name: &str| {
        deployment(
            json!([{"name": "web", "image": "app:1", "envFrom": [{"configMapRef": {"name": name}}]}]),
        )
    };
    let old = cm("app-cfg-7g8h9k2m4t", json!({"LOG": "info"}));
    let new = cm("app-cfg-b2c4d6f8g9", json!({"LOG": "debug"}));
    let live_dep = server_like(&with_ref("app-cfg-7g8h9k2m4t"), None);
    let plan = run_many(
        &fk(),
        vec![old.clone(), with_ref("app-cfg-7g8h9k2m4t")],
        vec![new, with_ref("app-cfg-b2c4d6f8g9")],
        Some(vec![(old, true), (live_dep, true)]),
    );
    let actions: Vec<(String, Action)> = plan
        .objects
        .iter()
        .map(|o| (o.name.clone(), o.action))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("app-cfg-7g8h9k2m4t".into(), Action::Delete),
            ("app-cfg-b2c4d6f8g9".into(), Action::Create),
            ("web".into(), Action::Patch),
        ]
    );
    assert_eq!(
        paths(&plan.objects[2]),
        vec![(
            "spec.template.spec.containers[name=web].envFrom".into(),
            "replace"
        )]
    );
}

#[test]
fn case_53_configmap_content_change_is_a_patch() {
    let plan = run(
        &any(),
        None,
        Some(cm("app-cfg", json!({"LOG": "debug"}))),
        Live::Found(cm("app-cfg", json!({"LOG": "info"}))),
    );
    let o = only(&plan);
    assert_eq!(paths(o), vec![("data.LOG".into(), "replace")]);
    assert_eq!(o.changes[0].after, Some(json!("debug")));
}

#[test]
fn case_54_substitute_password_is_masked() {
    let ks = |pw: &str| {
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system"},
            "spec": {"postBuild": {"substitute": {"DB_PASSWORD": pw, "REGION": "eu"}}}})
    };
    let plan = run(
        &fk(),
        Some(ks("old")),
        Some(ks("hunter2x")),
        Live::Found(ks("old")),
    );
    let o = only(&plan);
    assert_eq!(o.action, Action::Patch);
    assert_eq!(
        paths(o),
        vec![("spec.postBuild.substitute.DB_PASSWORD".into(), "replace")]
    );
    assert!(o.changes[0].sensitive);
    assert!(!all_outputs(&plan).contains("hunter2x"));
}

#[test]
fn case_55_helm_values_password_is_masked() {
    let hr = |pw: &str| {
        json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": {"name": "db", "namespace": "shop"},
            "spec": {"values": {"db": {"password": pw, "user": "app"}}}})
    };
    let plan = run(
        &any(),
        Some(hr("aaaaaaaa")),
        Some(hr("bbbbbbbb")),
        Live::Found(hr("aaaaaaaa")),
    );
    let o = only(&plan);
    assert_eq!(
        paths(o),
        vec![("spec.values.db.password".into(), "replace")]
    );
    assert!(o.changes[0].sensitive);
    let out = all_outputs(&plan);
    assert!(
        !out.contains("aaaaaaaa") && !out.contains("bbbbbbbb"),
        "{out}"
    );
}

#[test]
fn case_56_env_password_is_masked() {
    let d = |v: &str| {
        deployment(
            json!([{"name": "web", "image": "app:1", "env": [{"name": "DB_PASSWORD", "value": v}]}]),
        )
    };
    let plan = fk_against(&d("x1-old-value"), d("x2-new-value"));
    let o = only(&plan);
    assert_eq!(
        paths(o),
        vec![(
            "spec.template.spec.containers[name=web].env[name=DB_PASSWORD].value".into(),
            "replace"
        )]
    );
    assert!(o.changes[0].sensitive);
    let out = all_outputs(&plan);
    assert!(
        !out.contains("x1-old-value") && !out.contains("x2-new-value"),
        "{out}"
    );
}

#[test]
fn case_58_api_version_move_is_noop() {
    let hpa = |v: &str| {
        json!({"apiVersion": v, "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"minReplicas": 2, "maxReplicas": 5, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}})
    };
    let plan = run(
        &any(),
        Some(hpa("autoscaling/v2beta2")),
        Some(hpa("autoscaling/v2")),
        Live::Found(hpa("autoscaling/v2")),
    );
    assert_eq!(plan.summary.noop, 1);
    assert!(plan.objects.iter().all(|o| o.changes.is_empty()));
}

#[test]
fn case_60_cr_quantity_format_is_format_only() {
    let cq = |q: Value| {
        json!({"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "ClusterQueue", "metadata": {"name": "q"},
            "spec": {"resourceGroups": [{"flavors": [{"name": "f", "resources": [{"name": "cpu", "nominalQuota": q}]}]}]}})
    };
    let live = cq(json!("12"));
    let desired = cq(json!("12000m"));
    let plan = run(&any(), None, Some(desired), Live::Found(live));
    let o = only(&plan);
    assert_eq!(
        (o.action, o.detail),
        (Action::Noop, Some(Detail::FormatOnly))
    );
    assert!(o.changes.is_empty());
}

#[test]
fn case_61_duplicate_env_under_ssa_is_invalid() {
    let d = env_deploy(&["FOO", "FOO"]);
    let plan = run(
        &fk(),
        None,
        Some(d.clone()),
        Live::Found(server_like(&env_deploy(&["FOO"]), None)),
    );
    let o = only(&plan);
    assert_eq!((o.action, o.detail), (Action::Noop, Some(Detail::Invalid)));
}

#[test]
fn case_62_recreate_clears_rolling_update() {
    let d = deployment(web("app:1"));
    let live = server_like(&d, None);
    let mut desired = d.clone();
    desired["spec"]["strategy"] = json!({"type": "Recreate"});
    let plan = run(&any(), None, Some(desired), Live::Found(live));
    let o = only(&plan);
    assert_eq!(
        paths(o),
        vec![
            ("spec.strategy.rollingUpdate".into(), "remove"),
            ("spec.strategy.type".into(), "replace")
        ]
    );
    assert!(
        o.changes[0]
            .note
            .as_deref()
            .is_some_and(|n| n.contains("implied"))
    );
}

#[test]
fn case_63_service_type_change_is_a_patch() {
    let live = live_service(json!([{"port": 80, "protocol": "TCP"}]));
    let mut desired = service(json!([{"port": 80}]));
    desired["spec"]["type"] = json!("LoadBalancer");
    let plan = run(&any(), None, Some(desired), Live::Found(live));
    assert_eq!(paths(only(&plan)), vec![("spec.type".into(), "replace")]);
}

#[test]
fn case_64_service_selector_change_is_a_patch() {
    let live = live_service(json!([{"port": 80, "protocol": "TCP"}]));
    let mut desired = service(json!([{"port": 80}]));
    desired["spec"]["selector"] = json!({"app": "webapp"});
    let plan = run(&any(), None, Some(desired), Live::Found(live));
    assert_eq!(
        paths(only(&plan)),
        vec![("spec.selector".into(), "replace")]
    );
}

#[test]
fn case_65_injected_ca_bundle_is_noop() {
    let mwc = json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "hook", "annotations": {"cert-manager.io/inject-ca-from": "shop/cert"}},
        "webhooks": [{"name": "a.example.com", "clientConfig": {"service": {"name": "s", "namespace": "shop"}},
            "admissionReviewVersions": ["v1"], "sideEffects": "None"}]});
    let mut live = mwc.clone();
    live["webhooks"][0]["clientConfig"]["caBundle"] = json!("Y2EtYnVuZGxl");
    live["webhooks"][0]["failurePolicy"] = json!("Fail");
    assert_noop(&run(&any(), None, Some(mwc), Live::Found(live)));
}

#[test]
fn case_66_status_in_desired_is_ignored() {
    let d = deployment(web("app:1"));
    let live = server_like(&d, None);
    let mut desired = d.clone();
    desired["status"] = json!({"replicas": 3});
    assert_noop(&run(&any(), None, Some(desired), Live::Found(live)));
}

#[test]
fn case_67_hook_is_not_diffed_against_live() {
    let job = |img: &str| {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "shop",
            "annotations": {"helm.sh/hook": "pre-upgrade"}},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": img}]}}}})
    };
    let plan = run(
        &ctx(Applier::Helm),
        Some(job("m:1")),
        Some(job("m:2")),
        Live::Found(job("m:1")),
    );
    let o = only(&plan);
    assert_eq!((o.action, o.detail), (Action::Noop, Some(Detail::Hook)));
}

#[test]
fn case_68_null_with_nothing_to_delete_is_noop() {
    let applied = deployment(web("app:1"));
    let mut la = applied.clone();
    la["spec"].as_object_mut().expect("spec").remove("replicas");
    let mut live = last_applied(server_like(&applied, None), &la);
    live["spec"]["replicas"] = json!(1);
    let mut desired = applied.clone();
    desired["spec"]["replicas"] = Value::Null;
    assert_noop(&run(&ac(), None, Some(desired), Live::Found(live)));
}

#[test]
fn case_69_null_deletes_last_applied_replicas() {
    let applied = deployment(web("app:1"));
    let live = last_applied(server_like(&applied, None), &applied);
    let mut desired = applied.clone();
    desired["spec"]["replicas"] = Value::Null;
    let plan = run(&ac(), None, Some(desired), Live::Found(live));
    assert_eq!(paths(only(&plan)), vec![("spec.replicas".into(), "remove")]);
}

#[test]
fn case_70_forbidden_secret_is_unknown_with_intent_diff() {
    let s = |pw: &str| secret("stringData", json!({"password": pw}));
    let plan = run(
        &fk(),
        Some(s("old-password")),
        Some(s("new-password")),
        Live::Forbidden(s("x")),
    );
    let o = only(&plan);
    assert_eq!((o.action, o.detail), (Action::Noop, Some(Detail::Unknown)));
    assert_eq!(paths(o), vec![("data.password".into(), "replace")]);
    assert!(o.changes[0].sensitive);
    let out = all_outputs(&plan);
    assert!(!out.contains("old-password") && !out.contains("new-password"));
}

#[test]
fn case_71_priority_class_value_change_is_a_patch() {
    let pc = |v: i64| json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"}, "value": v});
    let plan = run(&any(), None, Some(pc(2000)), Live::Found(pc(1000)));
    let o = only(&plan);
    assert_eq!(
        (paths(o), o.namespace.as_str()),
        (vec![("value".into(), "replace")], "")
    );
}

#[test]
fn case_73_ingress_class_change_is_a_patch() {
    let ing = |c: &str| {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"ingressClassName": c}})
    };
    let plan = run(
        &any(),
        None,
        Some(ing("traefik")),
        Live::Found(ing("nginx")),
    );
    assert_eq!(
        paths(only(&plan)),
        vec![("spec.ingressClassName".into(), "replace")]
    );
}

#[test]
fn case_74_knative_service_sorts_as_unknown_kind() {
    let ksvc = json!({"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "a", "namespace": "shop"}});
    let plan = run_many(
        &any(),
        vec![],
        vec![
            ksvc,
            deployment(web("app:1")),
            service(json!([{"port": 80}])),
        ],
        Some(vec![]),
    );
    let order: Vec<(String, String)> = plan
        .objects
        .iter()
        .map(|o| (o.group.clone(), o.kind.clone()))
        .collect();
    assert_eq!(
        order,
        vec![
            ("".into(), "Service".into()),
            ("apps".into(), "Deployment".into()),
            ("serving.knative.dev".into(), "Service".into())
        ]
    );
    assert!(plan.objects.iter().all(|o| o.action == Action::Create));
}

#[test]
fn case_75_second_protocol_on_same_port_is_one_add() {
    let live = live_service(json!([{"port": 53, "protocol": "TCP"}]));
    let applied = service(json!([{"port": 53, "protocol": "TCP"}]));
    let live = last_applied(live, &applied);
    let desired =
        service(json!([{"port": 53, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]));
    let plan = run(&ac(), None, Some(desired), Live::Found(live));
    assert_eq!(
        paths(only(&plan)),
        vec![("spec.ports[port=53,protocol=UDP]".into(), "add")]
    );
}

#[test]
fn ignored_paths_are_not_changes() {
    let live = deployment(web("app:1"));
    let mut desired = live.clone();
    desired["spec"]["replicas"] = json!(9);
    desired["spec"]["template"]["spec"]["containers"][0]["image"] = json!("app:2");
    let mut opts = fk();
    opts.ignore_paths = vec!["spec.replicas".into()];
    opts.ignore = vec![thule_core::config::IgnoreRule {
        kind: Some("Deploy*".into()),
        json_pointers: vec!["/spec/template/spec/containers/0/image".into()],
        ..Default::default()
    }];
    let l = server_like(&live, Some(("kustomize-controller", fields_v1_of(&live))));
    let plan = run(&opts, Some(desired.clone()), Some(desired), Live::Found(l));
    assert_noop(&plan);
    opts.ignore_paths = vec!["spec[name=".into()];
    let err = thule_diff::diff(&thule_diff::DiffInput {
        base: None,
        desired: &[],
        live: None,
        inventory: None,
        identical_skipped: 0,
        identical: &[],
        options: &opts,
    })
    .expect_err("bad path");
    assert!(err.to_string().contains("unclosed"), "{err}");
}
