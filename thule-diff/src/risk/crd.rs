//! What a custom resource's CRD schema says (when the CRD is in the render or live): fields the
//! API server prunes (`UNKNOWN_FIELD`) and fields made immutable by the CEL transition rule
//! `self == oldSelf` (spec §5.1, last row; §10.2: only this simple pattern is understood).

use crate::path::At as _;
use serde_json::Value;

use super::checks::fields_of;
use super::{Outcome, View};
use crate::plan::{Op, Severity};

/// The `openAPIV3Schema` of `version` in a CRD object (v1 per-version schema, else the
/// v1beta1 top-level `validation`).
pub(crate) fn schema_of<'c>(crd: &'c Value, version: &str) -> Option<&'c Value> {
    let per_version = crd
        .at("/spec/versions")
        .and_then(Value::as_array)
        .and_then(|vs| vs.iter().find(|v| v["name"].as_str() == Some(version)))
        .and_then(|v| v.at("/schema/openAPIV3Schema"));
    per_version.or_else(|| crd.at("/spec/validation/openAPIV3Schema"))
}

fn is_self_eq_old_self(rule: &str) -> bool {
    let compact: String = rule.chars().filter(|c| !c.is_whitespace()).collect();
    compact == "self==oldSelf" || compact == "oldSelf==self"
}

/// Field paths (names only, list items left out) made immutable by `self == oldSelf`.
pub(crate) fn cel_immutable(schema: &Value) -> Vec<Vec<String>> {
    fn walk(node: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if node["x-kubernetes-validations"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|v| v["rule"].as_str().is_some_and(is_self_eq_old_self))
        {
            out.push(path.clone());
        }
        if let Some(props) = node["properties"].as_object() {
            for (k, child) in props {
                path.push(k.clone());
                walk(child, path, out);
                path.pop();
            }
        }
        if node.get("items").is_some() {
            walk(&node["items"], path, out);
        }
    }
    let mut out = Vec::new();
    walk(schema, &mut Vec::new(), &mut out);
    out
}

/// The shortest prefix of `fields` the schema does not know (it would be pruned), if any.
fn unknown_prefix(schema: &Value, path: &crate::path::Path) -> Option<usize> {
    use crate::path::Seg;
    let mut node = schema;
    for (i, seg) in path.iter().enumerate() {
        if node["x-kubernetes-preserve-unknown-fields"].as_bool() == Some(true)
            && node.get("properties").is_none()
        {
            return None;
        }
        match seg {
            Seg::Field(f) => {
                if i == 0 && matches!(f.as_str(), "apiVersion" | "kind" | "metadata") {
                    return None;
                }
                if let Some(child) = node["properties"].get(f) {
                    node = child;
                } else if node["x-kubernetes-preserve-unknown-fields"].as_bool() == Some(true) {
                    return None;
                } else if let Some(ap) = node.get("additionalProperties") {
                    if !ap.is_object() {
                        return (ap.as_bool() == Some(false)).then_some(i + 1);
                    }
                    node = ap;
                } else if node["type"].as_str() == Some("object")
                    || node.get("properties").is_some()
                {
                    return Some(i + 1);
                } else {
                    return None;
                }
            }
            _ => match node.get("items") {
                Some(items) => node = items,
                None => return None,
            },
        }
    }
    None
}

/// `UNKNOWN_FIELD` for changes the API server would prune.
pub(crate) fn unknown_fields(v: &View<'_>, schema: &Value, out: &mut Outcome) {
    let mut seen = Vec::new();
    for c in v.o.changes.iter().filter(|c| c.op != Op::Remove) {
        if let Some(n) = unknown_prefix(schema, &c.keyed) {
            let p = crate::path::display(&c.keyed[..n]);
            if !seen.contains(&p) {
                out.flag(
                    "UNKNOWN_FIELD",
                    Severity::Medium,
                    Some(p.clone()),
                    format!("{p} is not in the CRD schema: the API server prunes it (the change has no effect)"),
                    vec![p.clone()],
                );
                seen.push(p);
            }
        }
    }
}

/// Why a change of a custom resource is rejected by a `self == oldSelf` rule.
pub(crate) fn cel_reason(immutable: &[Vec<String>], c: &crate::plan::Change) -> Option<String> {
    if c.op != Op::Replace {
        return None;
    }
    let fields = fields_of(&c.keyed);
    immutable.iter().find_map(|p| {
        let p: Vec<&str> = p.iter().map(String::as_str).collect();
        (fields.len() >= p.len() && fields[..p.len()] == p[..]).then(|| {
            format!(
                "{} is immutable (CRD validation rule self == oldSelf)",
                if p.is_empty() {
                    "the object".to_owned()
                } else {
                    p.join(".")
                }
            )
        })
    })
}
