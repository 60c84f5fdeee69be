//! Object identity and manifests.
//!
//! An object is identified by `(group, kind, namespace, name)`; the API version is **not** part
//! of identity (spec/diff-semantics.md §2.1), so `autoscaling/v2beta2` and `autoscaling/v2` of
//! the same HPA are one object, and `extensions/Ingress` is `networking.k8s.io/Ingress`.
//! [`ObjectKey`] orders objects canonically (§8.1): by kind rank, group, kind, namespace, name.

use std::cmp::Ordering;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The identity of a Kubernetes object. Ordered canonically (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    /// API group, `""` for the core group. Known aliases are mapped to one group.
    pub group: String,
    /// Kind, case-sensitive.
    pub kind: String,
    /// Namespace, `""` for cluster-scoped objects (or when not yet resolved).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// Build a key from an `apiVersion` (`apps/v1`, `v1`), kind, namespace and name.
    pub fn from_api_version(api_version: &str, kind: &str, namespace: &str, name: &str) -> Self {
        let group = group_of(api_version);
        Self {
            group: canonical_group(group, kind).to_owned(),
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The canonical sort rank of this key's kind (§8.1).
    pub fn kind_rank(&self) -> u8 {
        kind_rank(&self.group, &self.kind)
    }

    /// `group/kind`, or just `kind` for the core group.
    pub fn group_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}/{}", self.group, self.kind)
        }
    }
}

impl Ord for ObjectKey {
    fn cmp(&self, other: &Self) -> Ordering {
        // Same group and kind (the common case in sorted maps): the rank is equal too.
        if self.group == other.group && self.kind == other.kind {
            return (&self.namespace, &self.name).cmp(&(&other.namespace, &other.name));
        }
        // Different group or kind: the order is decided before namespace and name.
        (self.kind_rank(), &self.group, &self.kind).cmp(&(
            other.kind_rank(),
            &other.group,
            &other.kind,
        ))
    }
}

impl PartialOrd for ObjectKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ObjectKey {
    /// `Kind group namespace/name`, e.g. `Deployment apps shop/web` or `Namespace team-a`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kind)?;
        if !self.group.is_empty() {
            write!(f, ".{}", self.group)?;
        }
        f.write_str(" ")?;
        if !self.namespace.is_empty() {
            write!(f, "{}/", self.namespace)?;
        }
        f.write_str(&self.name)
    }
}

/// The group part of an `apiVersion`: `apps/v1` → `apps`, `v1` → `""`.
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// Map known group aliases to one canonical group, so an `apiVersion` move is not a
/// delete and a create (§2.1).
pub fn canonical_group<'a>(group: &'a str, kind: &str) -> &'a str {
    match (group, kind) {
        ("extensions", "Ingress" | "NetworkPolicy") => "networking.k8s.io",
        ("extensions", "Deployment" | "DaemonSet" | "ReplicaSet") => "apps",
        ("extensions", "PodSecurityPolicy") => "policy",
        _ => group,
    }
}

/// Groups whose kinds are built into Kubernetes; only these get a kind rank (§8.1).
const BUILT_IN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "policy",
    "storage.k8s.io",
    "scheduling.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "autoscaling",
    "admissionregistration.k8s.io",
];

const KIND_ORDER: &[&str] = &[
    "CustomResourceDefinition",
    "Namespace",
    "PriorityClass",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// Rank of a kind in the canonical order (§8.1): Helm's install order with CRDs and
/// Namespaces first; unknown kinds (and built-in names in other groups) get 36, webhook
/// configurations 37 and 38.
pub fn kind_rank(group: &str, kind: &str) -> u8 {
    if !BUILT_IN_GROUPS.contains(&group) {
        return 36;
    }
    match kind {
        "MutatingWebhookConfiguration" => 37,
        "ValidatingWebhookConfiguration" => 38,
        _ => KIND_ORDER
            .iter()
            .position(|k| *k == kind)
            .and_then(|i| u8::try_from(i).ok())
            .unwrap_or(36),
    }
}

/// Whether a built-in kind is cluster-scoped. `None` for kinds this table does not know
/// (custom resources): their scope comes from discovery or from a CRD in the same render.
pub fn builtin_cluster_scoped(group: &str, kind: &str) -> Option<bool> {
    let cluster = matches!(
        (group, kind),
        (
            "",
            "Namespace" | "Node" | "PersistentVolume" | "ComponentStatus"
        ) | (
            "rbac.authorization.k8s.io",
            "ClusterRole" | "ClusterRoleBinding"
        ) | ("apiextensions.k8s.io", "CustomResourceDefinition")
            | ("apiregistration.k8s.io", "APIService")
            | (
                "admissionregistration.k8s.io",
                "MutatingWebhookConfiguration"
                    | "ValidatingWebhookConfiguration"
                    | "ValidatingAdmissionPolicy"
                    | "ValidatingAdmissionPolicyBinding"
                    | "MutatingAdmissionPolicy"
                    | "MutatingAdmissionPolicyBinding"
            )
            | ("scheduling.k8s.io", "PriorityClass")
            | (
                "storage.k8s.io",
                "StorageClass"
                    | "CSIDriver"
                    | "CSINode"
                    | "VolumeAttachment"
                    | "VolumeAttributesClass"
            )
            | (
                "networking.k8s.io",
                "IngressClass" | "IPAddress" | "ServiceCIDR"
            )
            | ("node.k8s.io", "RuntimeClass")
            | (
                "certificates.k8s.io",
                "CertificateSigningRequest" | "ClusterTrustBundle"
            )
            | ("flowcontrol.apiserver.k8s.io", _)
            | ("policy", "PodSecurityPolicy")
    );
    if cluster {
        return Some(true);
    }
    if BUILT_IN_GROUPS.contains(&group)
        || matches!(
            group,
            "discovery.k8s.io"
                | "coordination.k8s.io"
                | "events.k8s.io"
                | "node.k8s.io"
                | "certificates.k8s.io"
                | "resource.k8s.io"
        )
    {
        return Some(false);
    }
    None
}

/// Where an object came from, for error messages and the plan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Origin {
    /// The project that produced it (empty outside a project).
    pub project: String,
    /// The file it was read from, or the tool invocation that printed it.
    pub source: String,
    /// Index of the YAML document in that source, starting at 0.
    pub document: usize,
    /// Line where the document starts, starting at 1 (0 when unknown).
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}", self.source, self.line)
        } else {
            write!(f, "{} (document {})", self.source, self.document + 1)
        }
    }
}

/// A Kubernetes object as a JSON value, with its identity and origin.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// Identity. The namespace is as written; resolving defaults is the caller's job.
    pub key: ObjectKey,
    /// The `apiVersion` as written.
    pub api_version: String,
    /// The whole object.
    pub object: Value,
    /// Where it came from.
    pub origin: Origin,
}

/// Why a YAML document is not a Kubernetes object.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The document is not a mapping.
    #[error("{origin}: document is a {found}, not a Kubernetes object")]
    NotAnObject {
        /// Where.
        origin: Origin,
        /// What it is instead (`list`, `string`, …).
        found: &'static str,
    },
    /// A required field is missing or not a string.
    #[error("{origin}: `{field}` is missing or not a string; every Kubernetes object needs it")]
    MissingField {
        /// Where.
        origin: Origin,
        /// `apiVersion`, `kind` or `metadata.name`.
        field: &'static str,
    },
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

/// Does this value look like a Kubernetes object (`apiVersion` and `kind` strings)?
pub fn looks_like_object(value: &Value) -> bool {
    value.get("apiVersion").is_some_and(Value::is_string)
        && value.get("kind").is_some_and(Value::is_string)
}

impl Manifest {
    /// Build a manifest from a decoded object.
    ///
    /// # Errors
    /// When the value is not a mapping or lacks `apiVersion`, `kind` or `metadata.name`.
    pub fn from_value(object: Value, origin: Origin) -> Result<Self, ManifestError> {
        if !object.is_object() {
            return Err(ManifestError::NotAnObject {
                found: type_name(&object),
                origin,
            });
        }
        let top = |k: &str| object.get(k).and_then(Value::as_str);
        let meta = |k: &str| object.get("metadata")?.get(k)?.as_str();
        let Some(api_version) = top("apiVersion") else {
            return Err(ManifestError::MissingField {
                origin,
                field: "apiVersion",
            });
        };
        let Some(kind) = top("kind") else {
            return Err(ManifestError::MissingField {
                origin,
                field: "kind",
            });
        };
        let Some(name) = meta("name") else {
            return Err(ManifestError::MissingField {
                origin,
                field: "metadata.name",
            });
        };
        let namespace = meta("namespace").unwrap_or("");
        let key = ObjectKey::from_api_version(api_version, kind, namespace, name);
        let api_version = api_version.to_owned();
        Ok(Self {
            key,
            api_version,
            object,
            origin,
        })
    }
}

/// Expand `List` kinds (`v1/List`, `*List` of `kubectl get -o yaml`) into their items, in
/// order; other values pass through.
pub fn flatten_lists(value: Value) -> Vec<Value> {
    let is_list = value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k == "List" || k.ends_with("List"))
        && value.get("items").is_some_and(Value::is_array);
    if !is_list {
        return vec![value];
    }
    let Value::Object(mut map) = value else {
        return Vec::new();
    };
    match map.remove("items") {
        Some(Value::Array(items)) => items.into_iter().flat_map(flatten_lists).collect(),
        _ => Vec::new(),
    }
}

/// A file path relative to the repository root, with `/` separators.
pub type RepoPath = PathBuf;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn version_is_not_identity_and_aliases_collapse() {
        let a = ObjectKey::from_api_version(
            "autoscaling/v2beta2",
            "HorizontalPodAutoscaler",
            "ns",
            "x",
        );
        let b = ObjectKey::from_api_version("autoscaling/v2", "HorizontalPodAutoscaler", "ns", "x");
        assert_eq!(a, b);
        let i = ObjectKey::from_api_version("extensions/v1beta1", "Ingress", "ns", "x");
        assert_eq!(i.group, "networking.k8s.io");
    }

    #[test]
    fn canonical_order_puts_crds_and_namespaces_first_and_webhooks_last() {
        let k = |api: &str, kind: &str| ObjectKey::from_api_version(api, kind, "", "a");
        let mut keys = [
            k(
                "admissionregistration.k8s.io/v1",
                "ValidatingWebhookConfiguration",
            ),
            k("serving.knative.dev/v1", "Service"),
            k("v1", "Service"),
            k("apps/v1", "Deployment"),
            k("v1", "Namespace"),
            k("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ];
        keys.sort();
        let kinds: Vec<_> = keys
            .iter()
            .map(|k| (k.group.as_str(), k.kind.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("apiextensions.k8s.io", "CustomResourceDefinition"),
                ("", "Namespace"),
                ("", "Service"),
                ("apps", "Deployment"),
                ("serving.knative.dev", "Service"),
                (
                    "admissionregistration.k8s.io",
                    "ValidatingWebhookConfiguration"
                ),
            ]
        );
    }

    #[test]
    fn lists_flatten_recursively() {
        let v = json!({"apiVersion": "v1", "kind": "List", "items": [
            {"kind": "A"}, {"kind": "ConfigMapList", "items": [{"kind": "B"}]}]});
        let kinds: Vec<_> = flatten_lists(v)
            .into_iter()
            .map(|v| v["kind"].clone())
            .collect();
        assert_eq!(kinds, vec![json!("A"), json!("B")]);
    }

    #[test]
    fn manifests_need_identity_fields() {
        let o = Origin {
            source: "x.yaml".into(),
            line: 3,
            ..Origin::default()
        };
        let e = Manifest::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap"}), o.clone())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.yaml:3: `metadata.name` is missing or not a string; every Kubernetes object needs it"
        );
        let m = Manifest::from_value(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w", "namespace": "s"}}),
            o,
        )
        .unwrap();
        assert_eq!(m.key.to_string(), "Deployment.apps s/w");
    }
}
