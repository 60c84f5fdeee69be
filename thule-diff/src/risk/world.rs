//! Cross-object facts for the rules: workloads and their references to ConfigMaps and Secrets,
//! autoscaler targets, hash-suffix renames and namespace moves.

use crate::path::At as _;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use thule_core::ObjectKey;
use thule_core::cluster::LiveOutcome;

use super::RiskContext;
use crate::engine::identity_group;
use crate::plan::{Action, Plan};

/// A workload (anything with a pod template) as one side sees it.
#[derive(Clone, Debug)]
pub(crate) struct Workload<'a> {
    pub key: ObjectKey,
    /// The object (borrowed from the plan or the context).
    pub obj: &'a Value,
}

impl Workload<'_> {
    pub(crate) fn template(&self) -> Option<&Value> {
        pod_template(&self.key.group, &self.key.kind, self.obj)
    }

    pub(crate) fn label(&self) -> String {
        format!("{}/{}", self.key.kind, self.key.name)
    }
}

/// How a workload uses a ConfigMap or Secret.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Reference {
    /// `ConfigMap` or `Secret`.
    pub kind: &'static str,
    /// Referenced name.
    pub name: String,
    /// `env`, `envFrom`, `volume`, `volume (subPath)`, `projected volume`.
    pub how: &'static str,
    /// Marked `optional: true`.
    pub optional: bool,
}

/// Cross-object facts.
#[derive(Debug, Default)]
pub(crate) struct World<'a> {
    /// Workloads of the desired render (plan state first, then `ctx.desired`).
    pub desired: Vec<Workload<'a>>,
    /// Live workloads (`ctx.live` and `facts.related`).
    pub live: Vec<Workload<'a>>,
    /// Keys in the desired render.
    pub desired_keys: BTreeSet<ObjectKey>,
    /// Objects whose pod template changes in this plan (they roll anyway).
    pub rolling: BTreeSet<ObjectKey>,
    /// `(namespace, kind, name)` targeted by an autoscaler (desired or live), with its label.
    pub scaled: BTreeMap<(String, String, String), String>,
    /// Hash-suffix renames: created or deleted key → the other name.
    pub renames: BTreeMap<ObjectKey, String>,
    /// Namespace moves: created or deleted key → the other namespace.
    pub moves: BTreeMap<ObjectKey, String>,
    /// CRDs by the `(group, kind)` they serve (desired first, then live).
    pub crds: BTreeMap<(String, String), &'a Value>,
    /// Whether any live state was supplied (`ctx.live` or `facts.related`).
    pub live_known: bool,
    /// Objects this plan deletes.
    pub deleted: BTreeSet<ObjectKey>,
}

/// The pod template (`{metadata, spec}`) of a workload kind, or the Pod itself.
pub(crate) fn pod_template<'v>(group: &str, kind: &str, obj: &'v Value) -> Option<&'v Value> {
    match (group, kind) {
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet")
        | ("batch", "Job")
        | ("", "ReplicationController") => obj.at("/spec/template"),
        ("batch", "CronJob") => obj.at("/spec/jobTemplate/spec/template"),
        ("", "Pod") => Some(obj),
        _ => None,
    }
}

/// The keyed-path prefix of the pod template of a workload kind.
pub(crate) fn template_prefix(group: &str, kind: &str) -> Option<&'static [&'static str]> {
    match (group, kind) {
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet")
        | ("batch", "Job")
        | ("", "ReplicationController") => Some(&["spec", "template"]),
        ("batch", "CronJob") => Some(&["spec", "jobTemplate", "spec", "template"]),
        ("", "Pod") => Some(&[]),
        _ => None,
    }
}

fn key_of(v: &Value, default_ns: Option<&str>) -> Option<ObjectKey> {
    let api = v.get("apiVersion")?.as_str()?;
    let kind = v.get("kind")?.as_str()?;
    let name = v.at("/metadata/name")?.as_str()?;
    let ns = v
        .at("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or(default_ns)
        .unwrap_or("");
    Some(ObjectKey {
        group: identity_group(api, kind),
        kind: kind.to_owned(),
        namespace: ns.to_owned(),
        name: name.to_owned(),
    })
}

/// The ConfigMaps and Secrets a pod template refers to.
pub(crate) fn references(template: &Value) -> Vec<Reference> {
    let mut out = Vec::new();
    let spec = &template["spec"];
    let opt = |v: &Value| v.get("optional").and_then(Value::as_bool).unwrap_or(false);
    let mut subpath_volumes = BTreeSet::new();
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for c in spec[list].as_array().into_iter().flatten() {
            for e in c["env"].as_array().into_iter().flatten() {
                for (field, kind) in [("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")]
                {
                    let r = &e["valueFrom"][field];
                    if let Some(n) = r["name"].as_str() {
                        out.push(Reference {
                            kind,
                            name: n.to_owned(),
                            how: "env",
                            optional: opt(r),
                        });
                    }
                }
            }
            for e in c["envFrom"].as_array().into_iter().flatten() {
                for (field, kind) in [("configMapRef", "ConfigMap"), ("secretRef", "Secret")] {
                    let r = &e[field];
                    if let Some(n) = r["name"].as_str() {
                        out.push(Reference {
                            kind,
                            name: n.to_owned(),
                            how: "envFrom",
                            optional: opt(r),
                        });
                    }
                }
            }
            for m in c["volumeMounts"].as_array().into_iter().flatten() {
                if m.get("subPath").or_else(|| m.get("subPathExpr")).is_some()
                    && let Some(n) = m["name"].as_str()
                {
                    subpath_volumes.insert(n.to_owned());
                }
            }
        }
    }
    for vol in spec["volumes"].as_array().into_iter().flatten() {
        let vname = vol["name"].as_str().unwrap_or_default();
        let how = if subpath_volumes.contains(vname) {
            "volume (subPath)"
        } else {
            "volume"
        };
        if let Some(n) = vol["configMap"]["name"].as_str() {
            out.push(Reference {
                kind: "ConfigMap",
                name: n.to_owned(),
                how,
                optional: opt(&vol["configMap"]),
            });
        }
        if let Some(n) = vol["secret"]["secretName"].as_str() {
            out.push(Reference {
                kind: "Secret",
                name: n.to_owned(),
                how,
                optional: opt(&vol["secret"]),
            });
        }
        for s in vol["projected"]["sources"].as_array().into_iter().flatten() {
            for (field, kind) in [("configMap", "ConfigMap"), ("secret", "Secret")] {
                if let Some(n) = s[field]["name"].as_str() {
                    out.push(Reference {
                        kind,
                        name: n.to_owned(),
                        how: "projected volume",
                        optional: opt(&s[field]),
                    });
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Insert `v` under `key`; on a duplicate keep the smaller canonical JSON (order-independent).
fn keep_min<'a>(map: &mut BTreeMap<ObjectKey, &'a Value>, key: ObjectKey, v: &'a Value) {
    match map.get(&key) {
        Some(old) if crate::path::canonical_json(old) <= crate::path::canonical_json(v) => {}
        _ => {
            map.insert(key, v);
        }
    }
}

/// `name` without a kustomize hash suffix (`-` and 10 chars of `[2456789bcdfghkmt]`).
pub(crate) fn hash_stem(name: &str) -> Option<&str> {
    let (stem, suffix) = name.rsplit_once('-')?;
    (suffix.len() == 10
        && !stem.is_empty()
        && suffix.bytes().all(|b| b"2456789bcdfghkmt".contains(&b)))
    .then_some(stem)
}

impl<'a> World<'a> {
    pub(crate) fn build(plan: &'a Plan, ctx: &'a RiskContext<'a>) -> Self {
        let dns = ctx.default_namespace.as_deref();
        let mut w = World {
            live_known: ctx.live.is_some() || !ctx.facts.related.is_empty(),
            ..World::default()
        };
        let hpa = |w: &mut World<'a>, ns: &str, obj: &Value, label: String| {
            let kind = obj["kind"].as_str().unwrap_or_default();
            let target = match kind {
                "HorizontalPodAutoscaler" => Some((
                    obj.at("/spec/scaleTargetRef/kind")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    obj.at("/spec/scaleTargetRef/name").and_then(Value::as_str),
                )),
                "ScaledObject" => Some((
                    obj.at("/spec/scaleTargetRef/kind")
                        .and_then(Value::as_str)
                        .unwrap_or("Deployment"),
                    obj.at("/spec/scaleTargetRef/name").and_then(Value::as_str),
                )),
                _ => None,
            };
            if let Some((k, Some(n))) = target {
                w.scaled
                    .entry((ns.to_owned(), k.to_owned(), n.to_owned()))
                    .or_insert(label);
            }
        };
        let crd = |w: &mut World<'a>, obj: &'a Value| {
            if obj["kind"].as_str() == Some("CustomResourceDefinition")
                && let (Some(g), Some(k)) = (
                    obj.at("/spec/group").and_then(Value::as_str),
                    obj.at("/spec/names/kind").and_then(Value::as_str),
                )
            {
                w.crds.entry((g.to_owned(), k.to_owned())).or_insert(obj);
            }
        };
        // Desired: the plan's own desired states, then the rest of the render; live: what the
        // diff read, then the related objects. Collected into maps first so that the order of
        // the caller's lists never matters (on a duplicate key the smaller canonical JSON wins).
        let mut desired: BTreeMap<ObjectKey, &'a Value> = BTreeMap::new();
        for o in &plan.objects {
            if o.action == Action::Delete {
                continue;
            }
            if let Some(d) = o.state.as_deref().and_then(|s| s.desired.as_ref()) {
                desired.insert(o.key.clone(), d);
            }
        }
        let from_plan: BTreeSet<ObjectKey> = desired.keys().cloned().collect();
        for m in ctx.desired {
            let Some(mut key) = key_of(&m.object, dns) else {
                continue;
            };
            if key.namespace.is_empty() {
                key.namespace.clone_from(&m.key.namespace);
            }
            if !from_plan.contains(&key) {
                keep_min(&mut desired, key, &m.object);
            }
        }
        let mut live: BTreeMap<ObjectKey, &'a Value> = BTreeMap::new();
        let found = ctx
            .live
            .into_iter()
            .flat_map(|m| m.values())
            .filter_map(|l| match l {
                LiveOutcome::Found(v) => Some(v),
                _ => None,
            });
        for v in found.chain(ctx.facts.related.iter()) {
            if let Some(key) = key_of(v, dns) {
                keep_min(&mut live, key, v);
            }
        }
        for (key, obj) in desired {
            hpa(
                &mut w,
                &key.namespace,
                obj,
                format!("{}/{}", key.kind, key.name),
            );
            crd(&mut w, obj);
            w.desired_keys.insert(key.clone());
            if pod_template(&key.group, &key.kind, obj).is_some() {
                w.desired.push(Workload { key, obj });
            }
        }
        for (key, obj) in live {
            hpa(
                &mut w,
                &key.namespace,
                obj,
                format!("{}/{} (live)", key.kind, key.name),
            );
            crd(&mut w, obj);
            if pod_template(&key.group, &key.kind, obj).is_some() {
                w.live.push(Workload { key, obj });
            }
        }
        // Rolling objects, renames and moves.
        let mut created: BTreeMap<(String, String, String), Vec<&ObjectKey>> = BTreeMap::new();
        let mut deleted: Vec<&ObjectKey> = Vec::new();
        for o in &plan.objects {
            if let Some(prefix) = template_prefix(&o.key.group, &o.key.kind)
                && !prefix.is_empty()
                && matches!(o.action, Action::Patch | Action::Replace)
                && o.changes
                    .iter()
                    .any(|c| super::checks::under(&c.keyed, prefix))
            {
                w.rolling.insert(o.key.clone());
            }
            match o.action {
                Action::Create => created
                    .entry((o.key.group.clone(), o.key.kind.clone(), o.key.name.clone()))
                    .or_default()
                    .push(&o.key),
                Action::Delete => {
                    deleted.push(&o.key);
                    w.deleted.insert(o.key.clone());
                }
                _ => {}
            }
        }
        for d in &deleted {
            if let Some(c) = created.get(&(d.group.clone(), d.kind.clone(), d.name.clone()))
                && let Some(c) = c.iter().find(|c| c.namespace != d.namespace)
            {
                w.moves.insert((*d).clone(), c.namespace.clone());
                w.moves.insert((*c).clone(), d.namespace.clone());
            }
        }
        for d in &deleted {
            if !(d.group.is_empty() && matches!(d.kind.as_str(), "ConfigMap" | "Secret")) {
                continue;
            }
            let Some(stem) = hash_stem(&d.name) else {
                continue;
            };
            let partner = created
                .values()
                .flatten()
                .filter(|c| {
                    c.group == d.group
                        && c.kind == d.kind
                        && c.namespace == d.namespace
                        && c.name != d.name
                })
                .find(|c| hash_stem(&c.name) == Some(stem));
            if let Some(c) = partner {
                w.renames.insert((*d).clone(), c.name.clone());
                w.renames.insert((*c).clone(), d.name.clone());
            }
        }
        w
    }

    /// The schema of a custom resource's version, from its CRD (desired or live), if known.
    pub(crate) fn crd_schema<'w>(&'w self, v: &super::View<'_>) -> Option<&'w Value> {
        if crate::schema::is_builtin_group(v.group()) {
            return None;
        }
        let crd = self
            .crds
            .get(&(v.group().to_owned(), v.kind().to_owned()))?;
        let version = v.o.api_version.rsplit('/').next().unwrap_or_default();
        super::crd::schema_of(crd, version)
    }

    /// Workloads in `namespace` (desired first; live ones only when not in the render and not
    /// deleted by this plan).
    pub(crate) fn workloads_in<'w>(
        &'w self,
        namespace: &'w str,
    ) -> impl Iterator<Item = (&'w Workload<'a>, bool)> + 'w {
        self.desired
            .iter()
            .filter(move |w| w.key.namespace == namespace)
            .map(|w| (w, true))
            .chain(
                self.live
                    .iter()
                    .filter(move |w| {
                        w.key.namespace == namespace
                            && !self.desired_keys.contains(&w.key)
                            && !self.deleted.contains(&w.key)
                    })
                    .map(|w| (w, false)),
            )
    }
}
