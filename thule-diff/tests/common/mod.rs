//! Shared helpers for thule-diff's integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::{Value, json};
use thule_core::config::Applier;
use thule_core::{Manifest, Origin};
use thule_diff::{DiffInput, DiffOptions, LiveOutcome, ObjectPlan, Plan, diff};

/// A manifest from a JSON value (origin `test.yaml`).
pub fn mk(v: Value) -> Manifest {
    Manifest::from_value(
        v,
        Origin {
            source: "test.yaml".into(),
            line: 1,
            ..Origin::default()
        },
    )
    .expect("test object is a manifest")
}

/// A manifest from YAML text (the Kubernetes YAML 1.1 dialect).
pub fn yaml(text: &str) -> Value {
    let docs = thule_core::yaml::parse_str(text, "test.yaml", &Default::default()).expect("yaml");
    docs.into_iter().next().expect("one document").value
}

/// What the cluster says.
pub enum Live {
    /// No cluster at all (intent diff).
    NoCluster,
    /// The object does not exist.
    Absent,
    /// The object as read.
    Found(Value),
    /// Reading this object (given for its identity) is forbidden.
    Forbidden(Value),
}

/// Options for a test context of spec §9.
pub fn ctx(applier: Applier) -> DiffOptions {
    DiffOptions {
        applier: Some(applier),
        default_namespace: Some("shop".into()),
        ..DiffOptions::default()
    }
}

/// Flux (server-side apply) options of the spec §9 context.
pub fn fk() -> DiffOptions {
    ctx(Applier::Flux)
}

/// Diff desired (also the base) against a server-like live copy of `live_desired` owned by
/// the Flux manager.
pub fn fk_against(live_desired: &Value, desired: Value) -> Plan {
    let live = server_like(
        live_desired,
        Some(("kustomize-controller", fields_v1_of(live_desired))),
    );
    run(
        &fk(),
        Some(desired.clone()),
        Some(desired),
        Live::Found(live),
    )
}

/// `v` with these labels added.
pub fn with_labels(mut v: Value, labels: &BTreeMap<String, String>) -> Value {
    for (k, val) in labels {
        v["metadata"]["labels"][k] = json!(val);
    }
    v
}

/// Run one diff over single objects.
pub fn run(opts: &DiffOptions, base: Option<Value>, desired: Option<Value>, live: Live) -> Plan {
    run_many(
        opts,
        base.into_iter().collect(),
        desired.into_iter().collect(),
        live_vec(live),
    )
}

fn live_vec(live: Live) -> Option<Vec<(Value, bool)>> {
    match live {
        Live::NoCluster => None,
        Live::Absent => Some(Vec::new()),
        Live::Found(v) => Some(vec![(v, true)]),
        Live::Forbidden(v) => Some(vec![(v, false)]),
    }
}

/// Run a diff over several objects; `live` entries are `(object, found)`.
pub fn run_many(
    opts: &DiffOptions,
    base: Vec<Value>,
    desired: Vec<Value>,
    live: Option<Vec<(Value, bool)>>,
) -> Plan {
    let base: Vec<Manifest> = base.into_iter().map(mk).collect();
    let desired: Vec<Manifest> = desired.into_iter().map(mk).collect();
    let live_map: Option<BTreeMap<_, _>> = live.map(|items| {
        items
            .into_iter()
            .map(|(v, found)| {
                let m = mk(v.clone());
                let mut key = m.key.clone();
                if key.namespace.is_empty()
                    && thule_core::object::builtin_cluster_scoped(&key.group, &key.kind)
                        == Some(false)
                {
                    key.namespace = "shop".into();
                }
                let outcome = if found {
                    LiveOutcome::Found(v)
                } else {
                    LiveOutcome::Forbidden {
                        message: "secrets \"db\" is forbidden".into(),
                    }
                };
                (key, outcome)
            })
            .collect()
    });
    diff(&DiffInput {
        base: if base.is_empty() { None } else { Some(&base) },
        desired: &desired,
        live: live_map.as_ref(),
        inventory: None,
        identical_skipped: 0,
        identical: &[],
        options: opts,
    })
    .expect("diff runs")
}

/// The plan entry of the only (or the named) object.
pub fn only(plan: &Plan) -> &ObjectPlan {
    assert_eq!(plan.objects.len(), 1, "objects: {:#?}", plan.objects);
    &plan.objects[0]
}

/// `(path, op)` of every change.
pub fn paths(o: &ObjectPlan) -> Vec<(String, &'static str)> {
    o.changes
        .iter()
        .map(|c| {
            (
                c.path.clone(),
                match c.op {
                    thule_diff::Op::Add => "add",
                    thule_diff::Op::Remove => "remove",
                    thule_diff::Op::Replace => "replace",
                },
            )
        })
        .collect()
}

/// A Deployment `shop/web` with these containers.
pub fn deployment(containers: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": containers}}}})
}

/// The usual single container.
pub fn web(image: &str) -> Value {
    json!([{"name": "web", "image": image, "ports": [{"containerPort": 8080}]}])
}

fn set_default(m: &mut serde_json::Map<String, Value>, k: &str, v: Value) {
    m.entry(k.to_owned()).or_insert(v);
}

/// A server-like copy of a Deployment: schema defaults, server fields, status and a
/// managedFields entry for `manager` covering `fields_v1`.
pub fn server_like(desired: &Value, manager: Option<(&str, Value)>) -> Value {
    let mut l = desired.clone();
    let o = l.as_object_mut().expect("object");
    let meta = o
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .expect("metadata");
    meta.insert("uid".into(), json!("0c7d-11"));
    meta.insert("resourceVersion".into(), json!("12345"));
    meta.insert("generation".into(), json!(7));
    meta.insert("creationTimestamp".into(), json!("2026-01-01T00:00:00Z"));
    set_default(meta, "namespace", json!("shop"));
    let ann = meta
        .entry("annotations")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("annotations");
    ann.insert("deployment.kubernetes.io/revision".into(), json!("7"));
    if let Some((m, fields)) = manager {
        meta.insert(
            "managedFields".into(),
            json!([{"manager": m, "operation": "Apply", "apiVersion": "apps/v1",
                "fieldsType": "FieldsV1", "fieldsV1": fields},
                {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1",
                 "subresource": "status", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}}, "f:status": {}}}]),
        );
    }
    o.insert("status".into(), json!({"replicas": 3, "readyReplicas": 3}));
    if let Some(spec) = o.get_mut("spec").and_then(Value::as_object_mut) {
        set_default(spec, "replicas", json!(1));
        set_default(spec, "revisionHistoryLimit", json!(10));
        set_default(spec, "progressDeadlineSeconds", json!(600));
        set_default(
            spec,
            "strategy",
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
        );
        if let Some(t) = spec.get_mut("template").and_then(Value::as_object_mut) {
            let tm = t.entry("metadata").or_insert_with(|| json!({}));
            tm["creationTimestamp"] = Value::Null;
            if let Some(ps) = t.get_mut("spec").and_then(Value::as_object_mut) {
                set_default(ps, "dnsPolicy", json!("ClusterFirst"));
                set_default(ps, "restartPolicy", json!("Always"));
                set_default(ps, "schedulerName", json!("default-scheduler"));
                set_default(ps, "securityContext", json!({}));
                set_default(ps, "terminationGracePeriodSeconds", json!(30));
                if let Some(cs) = ps.get_mut("containers").and_then(Value::as_array_mut) {
                    for c in cs {
                        let c = c.as_object_mut().expect("container");
                        let latest = c
                            .get("image")
                            .and_then(Value::as_str)
                            .is_some_and(|i| !i.contains(':') || i.ends_with(":latest"));
                        set_default(
                            c,
                            "imagePullPolicy",
                            json!(if latest { "Always" } else { "IfNotPresent" }),
                        );
                        set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
                        set_default(c, "terminationMessagePolicy", json!("File"));
                        set_default(c, "resources", json!({}));
                        if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
                            for p in ports {
                                set_default(
                                    p.as_object_mut().expect("port"),
                                    "protocol",
                                    json!("TCP"),
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    l
}

/// The managedFields trie (`fieldsV1`) of a whole object, as a field manager would own it.
pub fn fields_v1_of(v: &Value) -> Value {
    let kind = v["kind"].as_str().unwrap_or_default().to_owned();
    let group = v["apiVersion"]
        .as_str()
        .and_then(|a| a.rsplit_once('/').map(|(g, _)| g.to_owned()))
        .unwrap_or_default();
    let k = thule_diff::schema::Kind::new(&group, &kind);
    let n = thule_diff::normalize::normalize(
        v,
        k,
        thule_diff::normalize::Side::Desired,
        &thule_diff::normalize::NormalizeContext::default(),
    );
    let fs = thule_diff::fields::FieldSet::of_object(k, &n.value);
    to_fields_v1(&fs)
}

fn to_fields_v1(fs: &thule_diff::fields::FieldSet) -> Value {
    let mut m = serde_json::Map::new();
    if fs.member && !fs.children.is_empty() {
        m.insert(".".into(), json!({}));
    }
    for (seg, child) in &fs.children {
        m.insert(
            thule_diff::path::fields_v1_element(seg),
            to_fields_v1(child),
        );
    }
    Value::Object(m)
}

/// Every output format of a plan, concatenated.
pub fn all_outputs(plan: &Plan) -> String {
    let mut s = thule_diff::render::to_json(plan);
    s.push_str(&thule_diff::render::to_markdown(plan));
    s.push_str(&thule_diff::render::to_text(plan));
    s
}

/// A test fixture builder shared by the spec and risk cases.
pub fn env_deploy(names: &[&str]) -> Value {
    let env: Vec<Value> = names
        .iter()
        .map(|n| json!({"name": n, "value": "1"}))
        .collect();
    deployment(json!([{"name": "web", "image": "app:1", "env": env}]))
}

/// A test fixture builder shared by the spec and risk cases.
pub fn last_applied(mut live: Value, applied: &Value) -> Value {
    live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
        json!(serde_json::to_string(applied).expect("json"));
    live
}

/// A test fixture builder shared by the spec and risk cases.
pub fn resources(req: Value) -> Value {
    json!([{"name": "web", "image": "app:1.2", "resources": req}])
}

/// A test fixture builder shared by the spec and risk cases.
pub fn service(ports: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"app": "web"}, "ports": ports}})
}
