//! Helpers the checks share: keyed paths, quantities, JSON access, pod template paths, the
//! containers and registry of an image, and who else owns a field (`managedFields`).

use crate::path::At as _;
use std::cmp::Ordering;

use serde_json::Value;

use super::super::world::template_prefix;
use crate::fields::FieldSet;
use crate::path::{Path, Seg};
use crate::plan::ApplyMode;
use crate::quantity::Quantity;

/// The field names of a keyed path (list items left out).
pub(crate) fn fields_of(path: &Path) -> Vec<&str> {
    path.iter()
        .filter_map(|s| match s {
            Seg::Field(f) => Some(f.as_str()),
            _ => None,
        })
        .collect()
}

/// Whether a keyed path starts with these fields (no list items in between).
pub(crate) fn under(path: &Path, prefix: &[&str]) -> bool {
    path.len() >= prefix.len()
        && path
            .iter()
            .zip(prefix)
            .all(|(s, p)| matches!(s, Seg::Field(f) if f == p))
}

pub(super) fn qty(v: &Value) -> Option<i128> {
    match v {
        Value::String(s) => Quantity::parse(s).map(|q| q.nanos),
        Value::Number(n) => Quantity::parse(&n.to_string()).map(|q| q.nanos),
        _ => None,
    }
}

/// Compare two quantities (`None` when either does not parse).
pub(crate) fn quantity_cmp(a: &str, b: &str) -> Option<Ordering> {
    Some(Quantity::parse(a)?.nanos.cmp(&Quantity::parse(b)?.nanos))
}

pub(super) fn s<'v>(v: Option<&'v Value>, pointer: &str) -> Option<&'v str> {
    v.and_then(|v| v.at(pointer)).and_then(Value::as_str)
}

pub(super) fn int(v: Option<&Value>, pointer: &str) -> Option<i64> {
    v.and_then(|v| v.at(pointer)).and_then(Value::as_i64)
}

pub(super) fn join(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_owned()
    } else {
        format!("{prefix}.{rest}")
    }
}

pub(super) fn prefix_str(group: &str, kind: &str) -> String {
    template_prefix(group, kind)
        .map(|p| p.join("."))
        .unwrap_or_default()
}

pub(super) fn containers(tpl: Option<&Value>) -> Vec<(&str, &Value)> {
    tpl.and_then(|t| t.at("/spec/containers"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c["name"].as_str()?, c)))
        .collect()
}

pub(super) fn registry(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first
        }
        _ => "docker.io",
    }
}

pub(super) fn replicas_kind(g: &str, k: &str) -> bool {
    matches!(
        (g, k),
        ("apps", "Deployment" | "StatefulSet" | "ReplicaSet") | ("", "ReplicationController")
    )
}

pub(super) fn pct_or_int(v: Option<&Value>, total: i64, round_up: bool) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let p: i64 = s.strip_suffix('%')?.parse().ok()?;
            let x = total * p;
            Some(if round_up { (x + 99) / 100 } else { x / 100 })
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Field managers (`managedFields`)

pub(super) fn manager(mode: &ApplyMode) -> String {
    match mode {
        ApplyMode::Ssa(m) | ApplyMode::Csa(m) => m.clone(),
        _ => String::new(),
    }
}

fn owns(fs: &FieldSet, path: &[Seg]) -> bool {
    let mut node = fs;
    for (i, seg) in path.iter().enumerate() {
        if i > 0 && node.member && node.children.is_empty() {
            return true;
        }
        match node.children.get(seg) {
            Some(n) => node = n,
            None => return false,
        }
    }
    node.any_member()
}

/// Managers that are people or SSA's migration placeholder, not controllers: taking their
/// fields reverts a manual edit (drift), nobody fights back.
fn human_or_placeholder(m: &str) -> bool {
    m == "before-first-apply" || m.starts_with("kubectl")
}

/// Other managers (not `manager`, not the status subresource; with `controllers_only` not
/// `kubectl*` or `before-first-apply` either) that own `path` in live.
pub(super) fn owners_of(
    live_raw: &Value,
    manager: &str,
    path: &[Seg],
    controllers_only: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for e in live_raw
        .at("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let m = e["manager"].as_str().unwrap_or_default();
        let sub = e
            .get("subresource")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if m == manager || sub == "status" || (controllers_only && human_or_placeholder(m)) {
            continue;
        }
        if let Some(Ok(fs)) = e.get("fieldsV1").map(FieldSet::from_fields_v1)
            && owns(&fs, path)
        {
            let label = if sub.is_empty() {
                m.to_owned()
            } else {
                format!("{m} ({sub})")
            };
            if !out.contains(&label) {
                out.push(label);
            }
        }
    }
    out
}
