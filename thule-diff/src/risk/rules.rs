//! The rule table: every flag id the risk pass can raise, with its default severity, category
//! and a one-line description. `docs/risk-rules.md` is generated from it ([`rules_markdown`]).

use std::fmt::Write as _;

use crate::plan::Severity;

/// The section of spec §5 a rule belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// §5.1 immutable fields.
    Immutable,
    /// §5.2 restarts and rollouts.
    Rollout,
    /// §5.3 data loss.
    DataLoss,
    /// §5.4 availability.
    Availability,
    /// §5.5 security.
    Security,
    /// §5.6 process and ownership.
    Process,
}

impl Category {
    /// The name used in the docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Immutable => "immutable",
            Category::Rollout => "rollout",
            Category::DataLoss => "data-loss",
            Category::Availability => "availability",
            Category::Security => "security",
            Category::Process => "process",
        }
    }
}

/// One rule of the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleInfo {
    /// Flag id (`IMMUTABLE_FIELD`), as in spec §5.
    pub id: &'static str,
    /// Default severity. Rules marked "(varies)" in their description compute a different
    /// severity for some evidence; a severity override in `thule.yaml` replaces both.
    pub severity: Severity,
    /// Section of the catalog.
    pub category: Category,
    /// What the rule flags, in one line.
    pub description: &'static str,
}

const fn r(
    id: &'static str,
    severity: Severity,
    category: Category,
    description: &'static str,
) -> RuleInfo {
    RuleInfo {
        id,
        severity,
        category,
        description,
    }
}

use Category::{
    Availability as Av, DataLoss as Dl, Immutable as Im, Process as Pr, Rollout as Ro,
    Security as Se,
};
use Severity::{Blocker, Critical, High, Info, Low, Medium};

/// Every rule, in catalog order.
pub const RULES: &[RuleInfo] = &[
    r(
        "IMMUTABLE_FIELD",
        Blocker,
        Im,
        "A change at an immutable path (built-in table; CRD `self == oldSelf` rules): the apply is rejected (detail `rejected`). With force the object is replaced instead and the flag is info (varies).",
    ),
    r(
        "REPLACE",
        High,
        Im,
        "An immutable change with force enabled: the object is deleted and created again (action `replace`).",
    ),
    r(
        "VOLUME_EXPANSION",
        Info,
        Im,
        "A bound claim's storage request grows; needs `allowVolumeExpansion` on its StorageClass.",
    ),
    r(
        "CRD_VERSION_REMOVED",
        Critical,
        Dl,
        "A CRD drops a served version; blocker (rejected) when the version is in `status.storedVersions` (varies).",
    ),
    r(
        "RESTART_ROLLOUT",
        Medium,
        Ro,
        "Pod template change (or replace): pods are replaced; high with strategy Recreate (varies). Also on a ConfigMap/Secret whose consumers restart via reloader.",
    ),
    r(
        "RESTART_PENDING_ONDELETE",
        Medium,
        Ro,
        "Template change of an OnDelete StatefulSet/DaemonSet: nothing restarts until pods are deleted by hand.",
    ),
    r(
        "CONFIG_NOT_RELOADED",
        Medium,
        Ro,
        "ConfigMap/Secret content changes under the same name: the named consumers keep old values until they restart.",
    ),
    r(
        "RENAME",
        Info,
        Ro,
        "A hash-suffixed ConfigMap/Secret is renamed (kustomize generator): one create plus one delete; consumers roll.",
    ),
    r(
        "DELETE_PVC",
        Critical,
        Dl,
        "A PersistentVolumeClaim is deleted or replaced; high when the bound PV's reclaim policy is Retain (varies).",
    ),
    r(
        "DELETE_PV",
        Critical,
        Dl,
        "A PersistentVolume with reclaim policy Delete is deleted or replaced.",
    ),
    r(
        "DELETE_NAMESPACE",
        Critical,
        Dl,
        "A Namespace is deleted with everything in it (counts per kind from live lists).",
    ),
    r(
        "DELETE_CRD",
        Critical,
        Dl,
        "A CustomResourceDefinition is deleted or replaced: all its custom resources go (count from live lists).",
    ),
    r(
        "STS_PVC_AUTODELETE",
        High,
        Dl,
        "A StatefulSet's PVC retention policy switches to Delete.",
    ),
    r(
        "DELETE_STATEFUL_WORKLOAD",
        High,
        Dl,
        "A StatefulSet is deleted or replaced.",
    ),
    r(
        "VCT_CHANGE",
        Critical,
        Dl,
        "StatefulSet volumeClaimTemplates names change: new, empty claims.",
    ),
    r(
        "STS_SCALE_DELETES_PVC",
        Critical,
        Dl,
        "A StatefulSet scales down with `whenScaled: Delete`: the claims of removed pods are deleted.",
    ),
    r(
        "RECLAIM_POLICY_DELETE",
        Medium,
        Dl,
        "A PersistentVolume or StorageClass reclaim policy changes to Delete.",
    ),
    r(
        "DANGLING_REFERENCE",
        High,
        Dl,
        "A deleted ConfigMap/Secret is still referenced (not optional) by a desired or live workload.",
    ),
    r(
        "PROTECTION_REMOVED",
        High,
        Dl,
        "An object protected from pruning in the base render (Flux prune or reconcile disabled, Helm resource-policy keep, Argo CD Prune=false or Delete=false) is deleted.",
    ),
    r(
        "JOB_RERUN",
        High,
        Dl,
        "A Job is replaced: it runs again (side effects such as migrations).",
    ),
    r("SCALE_TO_ZERO", High, Av, "replicas goes to 0."),
    r(
        "SCALE_DOWN",
        Medium,
        Av,
        "replicas drops by half or more (a removed or null replicas counts as 1 under client-side apply).",
    ),
    r(
        "HPA_CONFLICT",
        Medium,
        Av,
        "Desired sets replicas while an autoscaler targets the object or kube-controller-manager co-owns replicas.",
    ),
    r(
        "STRATEGY_RECREATE",
        High,
        Av,
        "Deployment strategy changes to Recreate: all pods stop before new ones start.",
    ),
    r(
        "MAX_UNAVAILABLE_ALL",
        High,
        Av,
        "Rolling update may take every pod down (maxUnavailable >= replicas, or maxSurge 0 with maxUnavailable >= 50%).",
    ),
    r(
        "PDB_WEAKENED",
        Medium,
        Av,
        "A PodDisruptionBudget is deleted, or allows every pod to be evicted (minAvailable 0, maxUnavailable 100% or >= the selected replicas).",
    ),
    r(
        "PDB_BLOCKS_DRAIN",
        Medium,
        Av,
        "A PodDisruptionBudget allows no eviction (maxUnavailable 0, minAvailable 100% or >= the selected replicas): node drains block.",
    ),
    r(
        "PROBE_CHANGE",
        Medium,
        Av,
        "readinessProbe removed or loosened, or a livenessProbe added with a short initial delay.",
    ),
    r(
        "RESOURCE_SQUEEZE",
        Low,
        Av,
        "Requests grow (scheduling); medium when a memory limit shrinks (varies).",
    ),
    r(
        "SCHEDULING_CHANGE",
        Low,
        Av,
        "nodeSelector, affinity or tolerations change.",
    ),
    r(
        "SELECTOR_MISMATCH",
        High,
        Av,
        "A Service selector matches no pod template among desired and live workloads in its namespace.",
    ),
    r(
        "LB_RELEASE",
        High,
        Av,
        "A LoadBalancer Service stops being one or is deleted/replaced: its external address is released.",
    ),
    r(
        "INGRESS_CLASS_CHANGE",
        Medium,
        Av,
        "An Ingress moves to another ingress class (controller handover).",
    ),
    r(
        "INGRESS_ROUTE_REMOVED",
        Medium,
        Av,
        "An Ingress host or TLS host is removed.",
    ),
    r(
        "WEBHOOK_FAIL_CLOSED",
        High,
        Av,
        "A webhook with failurePolicy Fail matches core or all resources without excluding kube-system.",
    ),
    r(
        "PSA_TIGHTENED",
        Medium,
        Av,
        "A Namespace's pod-security enforce level tightens: existing pods may not be re-admitted.",
    ),
    r(
        "PRIVILEGED",
        Critical,
        Se,
        "A container becomes privileged.",
    ),
    r(
        "PRIV_ESCALATION",
        High,
        Se,
        "allowPrivilegeEscalation: true or procMount: Unmasked.",
    ),
    r(
        "CAP_ADD",
        High,
        Se,
        "A dangerous capability is added; critical for ALL and SYS_ADMIN (varies).",
    ),
    r(
        "HOST_NAMESPACE",
        High,
        Se,
        "hostNetwork, hostPID or hostIPC.",
    ),
    r(
        "HOST_PATH",
        High,
        Se,
        "A hostPath volume; critical for /, /etc, /proc, /sys, the kubelet dir and runtime sockets (varies).",
    ),
    r(
        "HOST_PORT",
        Medium,
        Se,
        "A container port binds a hostPort.",
    ),
    r(
        "RUN_AS_ROOT",
        Medium,
        Se,
        "runAsUser: 0 or runAsNonRoot: false.",
    ),
    r(
        "SECCOMP_UNCONFINED",
        Medium,
        Se,
        "seccomp or AppArmor profile Unconfined.",
    ),
    r(
        "RBAC_WILDCARD",
        High,
        Se,
        "An RBAC rule with `*` in verbs, resources or apiGroups (subsumes the two below for that rule).",
    ),
    r(
        "RBAC_ESCALATION",
        High,
        Se,
        "RBAC escalate/bind/impersonate, pods/exec, pods/attach, nodes/proxy, token creation or CSR approval.",
    ),
    r(
        "RBAC_SECRETS_READ",
        High,
        Se,
        "RBAC get/list/watch on secrets.",
    ),
    r(
        "RBAC_ADMIN_BINDING",
        Critical,
        Se,
        "A binding to cluster-admin; high for admin or edit (varies).",
    ),
    r(
        "RBAC_BROAD_SUBJECT",
        Critical,
        Se,
        "A binding to system:anonymous, system:unauthenticated, system:authenticated or system:serviceaccounts.",
    ),
    r(
        "RBAC_AGGREGATION",
        High,
        Se,
        "A ClusterRole aggregates into the built-in admin, edit or view roles.",
    ),
    r(
        "PSA_WEAKENED",
        High,
        Se,
        "A Namespace's pod-security enforce level becomes privileged or is removed.",
    ),
    r(
        "NETPOL_WEAKENED",
        Medium,
        Se,
        "A NetworkPolicy is deleted or opens to 0.0.0.0/0, all pods or all namespaces.",
    ),
    r(
        "EXPOSURE_PUBLIC",
        Medium,
        Se,
        "A Service becomes LoadBalancer/NodePort, or loses loadBalancerSourceRanges.",
    ),
    r(
        "SA_TOKEN_AUTOMOUNT",
        Low,
        Se,
        "automountServiceAccountToken switched to true.",
    ),
    r(
        "IMAGE_MUTABLE",
        Low,
        Se,
        "An image uses the latest tag or no tag, or loses its digest.",
    ),
    r(
        "IMAGE_REGISTRY_CHANGE",
        Medium,
        Se,
        "A container's image moves to another registry host.",
    ),
    r(
        "SECRET_IN_PLAINTEXT",
        High,
        Se,
        "A secret-like value is committed in clear in a non-Secret object.",
    ),
    r(
        "WEBHOOK_TRUST_CHANGE",
        Medium,
        Se,
        "A webhook caBundle is set/changed or its URL points outside the cluster.",
    ),
    r(
        "ADOPT",
        Medium,
        Pr,
        "An existing object without this unit's ownership markers is taken over.",
    ),
    r(
        "ORPHANED",
        Info,
        Pr,
        "Removed from desired but kept (prune disabled or protected).",
    ),
    r(
        "OWNERSHIP_TRANSFER",
        Medium,
        Pr,
        "The object moves between GitOps units (prune race); high for stateful kinds (varies).",
    ),
    r(
        "NAMESPACE_MOVE",
        Medium,
        Pr,
        "The same kind and name is deleted in one namespace and created in another.",
    ),
    r(
        "FIELD_CONFLICT",
        Medium,
        Pr,
        "Desired changes a field another field manager owns; the applier takes it and that controller may fight back.",
    ),
    r(
        "FIELD_RELEASED",
        Info,
        Pr,
        "Ownership of a field is released to another manager; its value stays.",
    ),
    r(
        "DRIFT",
        Info,
        Pr,
        "The apply reverts live drift (count of drift changes).",
    ),
    r(
        "INVALID",
        Blocker,
        Pr,
        "Desired cannot be applied as written (render error, wrong type, duplicate list key).",
    ),
    r(
        "UNKNOWN_FIELD",
        Medium,
        Pr,
        "A custom resource sets a field its CRD schema does not have: the API server prunes it.",
    ),
    r(
        "SMP_KEY_COLLISION",
        Medium,
        Pr,
        "Two list items share a strategic-merge key under client-side apply (e.g. one port with TCP and UDP).",
    ),
    r(
        "SECRET_UNREADABLE",
        Info,
        Pr,
        "Reading the live Secret is forbidden; only the intent diff is shown.",
    ),
    r(
        "HOOK",
        Info,
        Pr,
        "A Helm or Argo CD hook: not diffed, runs on sync.",
    ),
    r(
        "API_NOT_SERVED",
        Blocker,
        Pr,
        "The cluster does not serve the desired apiVersion/kind.",
    ),
];

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.id == id)
}

/// `docs/risk-rules.md`: the rule table as Markdown.
pub fn rules_markdown() -> String {
    let mut out = String::new();
    out.push_str("# Risk rules\n\n");
    out.push_str(
        "Generated from `thule-diff/src/risk/rules.rs` (`RULES`); do not edit by hand. Refresh with\n\
         `THULE_UPDATE_DOCS=1 cargo test -p thule-diff --test risk docs`.\n\n",
    );
    out.push_str(
        "Every flag carries an id, a severity, the object, an optional keyed path, a one-line\n\
         message and its evidence. A project can change a rule's severity or switch it off in\n\
         `thule.yaml`:\n\n\
         ```yaml\n\
         policy:\n  rules:\n    SCALE_DOWN: {severity: high}\n    IMAGE_MUTABLE: {enabled: false}\n\
         ```\n\n\
         Switched-off rules are listed in the risk report, and an object a switched-off rule would\n\
         have flagged gets a note, so nothing is hidden silently. Severity order:\n\
         `info < low < medium < high < critical < blocker` (blocker: the apply will fail).\n\n",
    );
    out.push_str("| id | default severity | category | flags |\n|---|---|---|---|\n");
    for r in RULES {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            r.id,
            r.severity.name(),
            r.category.as_str(),
            r.description.replace('|', "\\|")
        );
    }
    out
}
