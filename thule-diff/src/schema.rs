//! What the engine knows about the shape of built-in types, without a live schema: the list
//! identity table (spec §4.1), atomic maps, Quantity and base64 paths, key-field defaults
//! (§3.5) and the typed `omitempty` fields (§3.6).
//!
//! Rules are keyed by the *field path* of a node: the field names and map keys from the object
//! root, list items left out (`["spec", "template", "spec", "containers", "ports"]`). Custom
//! resources (groups outside Kubernetes' own) get the CRD defaults: every list is atomic except
//! the `metadata` lists every object shares.
//!
//! Seam: a later schema source (cluster `/openapi/v3`, CRD `openAPIV3Schema`) can replace these
//! functions; the merge, field-set and compare code only call them through [`Kind`].

/// The type of an object, as the schema rules need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind<'a> {
    /// API group (`""` for core).
    pub group: &'a str,
    /// Kind.
    pub kind: &'a str,
    /// Whether the group is one of Kubernetes' own (only those get built-in rules).
    pub builtin: bool,
}

impl<'a> Kind<'a> {
    /// Classify a group/kind.
    pub fn new(group: &'a str, kind: &'a str) -> Self {
        let builtin = is_builtin_group(group);
        Self {
            group,
            kind,
            builtin,
        }
    }
}

/// Groups whose types ship with Kubernetes.
pub fn is_builtin_group(group: &str) -> bool {
    matches!(
        group,
        "" | "apps"
            | "batch"
            | "networking.k8s.io"
            | "rbac.authorization.k8s.io"
            | "policy"
            | "storage.k8s.io"
            | "scheduling.k8s.io"
            | "apiextensions.k8s.io"
            | "apiregistration.k8s.io"
            | "autoscaling"
            | "admissionregistration.k8s.io"
            | "discovery.k8s.io"
            | "coordination.k8s.io"
            | "node.k8s.io"
            | "certificates.k8s.io"
            | "resource.k8s.io"
            | "flowcontrol.apiserver.k8s.io"
            | "events.k8s.io"
    )
}

/// How a list is matched and merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListType {
    /// Replaced wholesale; order matters.
    Atomic,
    /// A set of scalars; order never matters.
    Set,
    /// Items identified by these key fields; order never matters.
    Map(&'static [&'static str]),
}

const NAME: &[&str] = &["name"];

fn is_container_list(name: &str) -> bool {
    matches!(
        name,
        "containers" | "initContainers" | "ephemeralContainers"
    )
}

/// The list type of the list at `fields` (SSA `x-kubernetes-list-type` / `list-map-keys`).
pub fn list_type(k: Kind<'_>, fields: &[&str]) -> ListType {
    match fields {
        ["metadata", "finalizers"] => return ListType::Set,
        ["metadata", "ownerReferences"] => return ListType::Map(&["uid"]),
        _ => {}
    }
    if !k.builtin {
        return ListType::Atomic;
    }
    let n = fields.len();
    let Some(&last) = fields.last() else {
        return ListType::Atomic;
    };
    let parent = if n >= 2 { fields[n - 2] } else { "" };
    match last {
        "containers" | "initContainers" | "ephemeralContainers" if parent == "spec" => {
            ListType::Map(NAME)
        }
        "ports" if is_container_list(parent) => ListType::Map(&["containerPort", "protocol"]),
        "ports" if k.kind == "Service" && fields == ["spec", "ports"] => {
            ListType::Map(&["port", "protocol"])
        }
        "env" if is_container_list(parent) => ListType::Map(NAME),
        "volumeMounts" if is_container_list(parent) => ListType::Map(&["mountPath"]),
        "volumeDevices" if is_container_list(parent) => ListType::Map(&["devicePath"]),
        "claims" if parent == "resources" => ListType::Map(NAME),
        "volumes" if parent == "spec" && k.kind != "PersistentVolume" => ListType::Map(NAME),
        "imagePullSecrets" if k.kind != "ServiceAccount" => ListType::Map(NAME),
        "hostAliases" => ListType::Map(&["ip"]),
        "topologySpreadConstraints" => ListType::Map(&["topologyKey", "whenUnsatisfiable"]),
        "schedulingGates" | "resourceClaims" if parent == "spec" => ListType::Map(NAME),
        "secrets" if k.kind == "ServiceAccount" && n == 1 => ListType::Map(NAME),
        "webhooks"
            if n == 1
                && matches!(
                    k.kind,
                    "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration"
                ) =>
        {
            ListType::Map(NAME)
        }
        "matchConditions" => ListType::Map(NAME),
        "conditions" => ListType::Map(&["type"]),
        _ => ListType::Atomic,
    }
}

/// Whether the map/struct at `fields` is atomic (`x-kubernetes-map-type: atomic`): label
/// selectors, `roleRef`, object references.
pub fn atomic_map(k: Kind<'_>, fields: &[&str]) -> bool {
    if !k.builtin {
        return false;
    }
    match fields.last() {
        Some(
            &("selector" | "labelSelector" | "namespaceSelector" | "podSelector"
            | "objectSelector"),
        ) => {
            // Service.spec.selector is a plain map[string]string (atomic as well in SSA).
            true
        }
        Some(&"roleRef") => matches!(k.kind, "RoleBinding" | "ClusterRoleBinding"),
        _ => false,
    }
}

/// How a Quantity field is defaulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantityPath {
    /// A `ResourceList` value: rounded up to milli precision.
    ResourceList,
    /// A plain Quantity.
    Plain,
}

/// Whether the scalar at `fields` is a `resource.Quantity` (V1).
pub fn quantity_path(k: Kind<'_>, fields: &[&str]) -> Option<QuantityPath> {
    if !k.builtin {
        return None;
    }
    let n = fields.len();
    if n < 2 {
        return None;
    }
    let parent = fields[n - 2];
    let grand = if n >= 3 { fields[n - 3] } else { "" };
    match (grand, parent) {
        ("resources", "limits" | "requests") => Some(QuantityPath::ResourceList),
        ("spec", "hard") if k.kind == "ResourceQuota" => Some(QuantityPath::ResourceList),
        ("spec", "capacity") if k.kind == "PersistentVolume" => Some(QuantityPath::ResourceList),
        (_, "overhead") => Some(QuantityPath::ResourceList),
        ("limits", "max" | "min" | "default" | "defaultRequest" | "maxLimitRequestRatio")
            if k.kind == "LimitRange" =>
        {
            Some(QuantityPath::ResourceList)
        }
        (_, "emptyDir") if fields[n - 1] == "sizeLimit" => Some(QuantityPath::Plain),
        _ => None,
    }
}

/// Whether the string at `fields` is base64 (`format: byte`): compared on decoded bytes (V5).
pub fn base64_path(k: Kind<'_>, fields: &[&str]) -> bool {
    match fields {
        ["data", _] if k.kind == "Secret" && k.group.is_empty() => true,
        ["binaryData", _] if k.kind == "ConfigMap" && k.group.is_empty() => true,
        [.., "caBundle"] if k.builtin => true,
        _ => false,
    }
}

/// Built-in map/struct fields whose empty value `{}` equals absent (E2/E4/E6).
pub fn empty_map_is_absent(k: Kind<'_>, fields: &[&str]) -> bool {
    let last = fields.last().copied().unwrap_or("");
    if matches!(last, "labels" | "annotations") {
        return true;
    }
    if !k.builtin {
        return false;
    }
    matches!(
        last,
        "nodeSelector"
            | "data"
            | "binaryData"
            | "stringData"
            | "matchLabels"
            | "resources"
            | "limits"
            | "requests"
            | "securityContext"
            | "hard"
            | "capacity"
            | "metadata"
    ) || (last == "selector" && k.kind == "Service")
}

/// Built-in non-pointer `omitempty` scalar fields whose zero value equals absent (E2).
pub fn zero_scalar_is_absent(k: Kind<'_>, fields: &[&str], v: &serde_json::Value) -> bool {
    use serde_json::Value;
    if !k.builtin || fields.len() < 2 {
        return false;
    }
    let last = fields[fields.len() - 1];
    match v {
        Value::Bool(false) => matches!(
            last,
            "hostNetwork"
                | "hostPID"
                | "hostIPC"
                | "stdin"
                | "stdinOnce"
                | "tty"
                | "readOnly"
                | "paused"
        ),
        Value::Number(n) => {
            n.as_i64() == Some(0) && matches!(last, "minReadySeconds" | "initialDelaySeconds")
        }
        Value::String(s) => {
            s.is_empty()
                && matches!(
                    last,
                    "subPath"
                        | "subPathExpr"
                        | "nodeName"
                        | "serviceAccountName"
                        | "serviceAccount"
                        | "hostname"
                        | "subdomain"
                        | "priorityClassName"
                        | "workingDir"
                        | "loadBalancerIP"
                        | "externalName"
                        | "value"
                )
                && !(last == "value" && fields[fields.len() - 2] != "env")
        }
        _ => false,
    }
}

/// Whether the `ports` list at `fields` has a `protocol` key field defaulted to `TCP` (§3.5).
pub fn ports_default_protocol(k: Kind<'_>, fields: &[&str]) -> bool {
    if !k.builtin || fields.last() != Some(&"ports") {
        return false;
    }
    let n = fields.len();
    let parent = if n >= 2 { fields[n - 2] } else { "" };
    is_container_list(parent)
        || (k.kind == "Service" && fields == ["spec", "ports"])
        || (k.kind == "Endpoints" && fields == ["subsets", "ports"])
        || (k.kind == "NetworkPolicy" && matches!(parent, "ingress" | "egress"))
        || (k.kind == "EndpointSlice" && fields == ["ports"])
}

/// Volume source fields (a union: setting one clears the others, `retainKeys`).
pub const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_identity_follows_the_ssa_table() {
        let d = Kind::new("apps", "Deployment");
        assert_eq!(
            list_type(d, &["spec", "template", "spec", "containers"]),
            ListType::Map(&["name"])
        );
        assert_eq!(
            list_type(d, &["spec", "template", "spec", "containers", "ports"]),
            ListType::Map(&["containerPort", "protocol"])
        );
        assert_eq!(
            list_type(d, &["spec", "template", "spec", "containers", "args"]),
            ListType::Atomic
        );
        assert_eq!(
            list_type(d, &["spec", "template", "spec", "tolerations"]),
            ListType::Atomic
        );
        let svc = Kind::new("", "Service");
        assert_eq!(
            list_type(svc, &["spec", "ports"]),
            ListType::Map(&["port", "protocol"])
        );
        let cr = Kind::new("example.com", "Widget");
        assert_eq!(list_type(cr, &["spec", "containers"]), ListType::Atomic);
        assert_eq!(list_type(cr, &["metadata", "finalizers"]), ListType::Set);
    }
}
