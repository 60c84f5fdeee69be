//! RBAC findings of a Role, ClusterRole or binding: wildcards, escalation, secret reads,
//! aggregation into the built-in roles, admin bindings and broad subjects.

use crate::path::At as _;

use serde_json::Value;

use super::super::helpers::s;
use super::{Finding, f};
use crate::plan::Severity;

use Severity::{Critical, High};

pub(super) fn rbac_findings(obj: &Value, kind: &str, out: &mut Vec<Finding>) {
    if matches!(kind, "Role" | "ClusterRole") {
        for (i, rule) in obj["rules"].as_array().into_iter().flatten().enumerate() {
            role_rule(i, rule, out);
        }
    }
    if kind == "ClusterRole" {
        aggregation(obj, out);
    }
    if matches!(kind, "RoleBinding" | "ClusterRoleBinding") {
        binding(obj, out);
    }
}

/// `RBAC_WILDCARD`, or else `RBAC_ESCALATION` / `RBAC_SECRETS_READ`: one rule of a role.
fn role_rule(i: usize, rule: &Value, out: &mut Vec<Finding>) {
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
        return;
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
    if res.contains(&"secrets") && verbs.iter().any(|v| matches!(*v, "get" | "list" | "watch")) {
        out.push(f(
            "RBAC_SECRETS_READ",
            High,
            path.clone(),
            "read secrets".into(),
            format!("RBAC rule can read Secrets ({})", verbs.join(",")),
        ));
    }
}

/// `RBAC_AGGREGATION`: a ClusterRole aggregated into the built-in admin, edit or view role.
fn aggregation(obj: &Value, out: &mut Vec<Finding>) {
    let Some(labels) = obj.at("/metadata/labels").and_then(Value::as_object) else {
        return;
    };
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

/// `RBAC_ADMIN_BINDING`, `RBAC_BROAD_SUBJECT`: a binding of an admin role or to everyone.
fn binding(obj: &Value, out: &mut Vec<Finding>) {
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
