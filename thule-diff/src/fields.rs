//! Field sets (spec §2.5): managedFields `FieldsV1` tries, the field set `F(x)` of an object,
//! and the removal walk of §2.4 (`removed` / `released`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::path::{Path, Seg, canonical_json, find_item, item_key};
use crate::schema::{self, Kind, ListType};

/// A trie of path elements; `member` marks the node itself as owned/set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    /// The node itself is a member.
    pub member: bool,
    /// Children by path element.
    pub children: BTreeMap<Seg, FieldSet>,
}

/// A `FieldsV1` trie that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("managedFields: {0}")]
pub struct FieldsV1Error(pub String);

impl FieldSet {
    /// Parse a `fieldsV1` object.
    ///
    /// # Errors
    /// On an unknown path element prefix or malformed `k:`/`v:`/`i:` JSON.
    pub fn from_fields_v1(v: &Value) -> Result<Self, FieldsV1Error> {
        let obj = v
            .as_object()
            .ok_or_else(|| FieldsV1Error("fieldsV1 node is not an object".to_owned()))?;
        let mut node = FieldSet {
            member: obj.is_empty(),
            children: BTreeMap::new(),
        };
        for (k, child) in obj {
            if k == "." {
                node.member = true;
                continue;
            }
            let (tag, rest) = k.split_at(k.len().min(2));
            let seg = match tag {
                "f:" => Seg::Field(rest.to_owned()),
                "k:" => {
                    let parsed: Value = serde_json::from_str(rest)
                        .map_err(|e| FieldsV1Error(format!("bad key element {k}: {e}")))?;
                    Seg::Key(canonical_json(&parsed))
                }
                "v:" => {
                    let parsed: Value = serde_json::from_str(rest)
                        .map_err(|e| FieldsV1Error(format!("bad value element {k}: {e}")))?;
                    Seg::Value(canonical_json(&parsed))
                }
                "i:" => Seg::Index(
                    rest.parse()
                        .map_err(|e| FieldsV1Error(format!("bad index element {k}: {e}")))?,
                ),
                _ => return Err(FieldsV1Error(format!("unknown path element {k}"))),
            };
            node.children.insert(seg, Self::from_fields_v1(child)?);
        }
        Ok(node)
    }

    /// The field set `F(x)` of an object (mirrors SMD `ToFieldSet`).
    pub fn of_object(kind: Kind<'_>, obj: &Value) -> Self {
        let mut root = FieldSet::default();
        let mut fields = Vec::new();
        if let Value::Object(m) = obj {
            of_map(kind, m, &mut fields, &mut root);
        }
        root
    }

    /// Add every member of `other`.
    pub fn union_with(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (k, v) in &other.children {
            self.children.entry(k.clone()).or_default().union_with(v);
        }
    }

    /// Whether the node or any descendant is a member.
    pub fn any_member(&self) -> bool {
        self.member || self.children.values().any(FieldSet::any_member)
    }

    /// Every member path (leaves and `.` members), in trie order.
    pub fn member_paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        let mut cur = Vec::new();
        collect(self, &mut cur, &mut out);
        out
    }
}

fn collect(n: &FieldSet, cur: &mut Path, out: &mut Vec<Path>) {
    if n.member && !cur.is_empty() {
        out.push(cur.clone());
    }
    for (k, c) in &n.children {
        cur.push(k.clone());
        collect(c, cur, out);
        cur.pop();
    }
}

fn of_map<'a>(
    kind: Kind<'_>,
    m: &'a Map<String, Value>,
    fields: &mut Vec<&'a str>,
    node: &mut FieldSet,
) {
    for (k, v) in m {
        fields.push(k.as_str());
        let child = node.children.entry(Seg::Field(k.clone())).or_default();
        child.member = true;
        of_value(kind, v, fields, child);
        fields.pop();
    }
}

fn of_value<'a>(kind: Kind<'_>, v: &'a Value, fields: &mut Vec<&'a str>, node: &mut FieldSet) {
    match v {
        Value::Object(m) if !schema::atomic_map(kind, fields) => of_map(kind, m, fields, node),
        Value::Array(items) => match schema::list_type(kind, fields) {
            ListType::Map(keys) => {
                for item in items {
                    if let Some(key) = item_key(keys, item) {
                        let child = node.children.entry(Seg::Key(key)).or_default();
                        child.member = true;
                        if let Value::Object(m) = item {
                            of_map(kind, m, fields, child);
                        }
                    }
                }
            }
            ListType::Set => {
                for item in items {
                    node.children
                        .entry(Seg::Value(canonical_json(item)))
                        .or_default()
                        .member = true;
                }
            }
            ListType::Atomic => {}
        },
        _ => {}
    }
}

/// The result of the removal walk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Removals {
    /// Paths the applier removes from the live object.
    pub removed: Vec<Path>,
    /// Paths whose ownership the applier gives up while another manager keeps them.
    pub released: Vec<Path>,
}

/// Walk `owned − desired` over the live object (§2.4). With `others` (server-side apply),
/// items and fields still owned by another manager are released instead of removed; without
/// (client-side apply), everything the baseline set and desired no longer sets is removed.
pub fn removals(
    kind: Kind<'_>,
    owned: &FieldSet,
    desired: &FieldSet,
    others: Option<&FieldSet>,
    live: &Value,
) -> Removals {
    let mut out = Removals::default();
    let mut path = Vec::new();
    let mut fields = Vec::new();
    walk(
        kind,
        owned,
        Some(desired),
        others,
        live,
        &mut path,
        &mut fields,
        &mut out,
    );
    out
}

#[allow(clippy::too_many_arguments)]
fn walk(
    kind: Kind<'_>,
    owned: &FieldSet,
    desired: Option<&FieldSet>,
    others: Option<&FieldSet>,
    live: &Value,
    path: &mut Path,
    fields: &mut Vec<String>,
    out: &mut Removals,
) {
    for (seg, owned_child) in &owned.children {
        let live_child = match (seg, live) {
            (Seg::Field(name), Value::Object(m)) => m.get(name),
            (Seg::Key(_) | Seg::Value(_) | Seg::Index(_), Value::Array(items)) => {
                let fs: Vec<&str> = fields.iter().map(String::as_str).collect();
                let keys = match schema::list_type(kind, &fs) {
                    ListType::Map(keys) => keys,
                    _ => &[][..],
                };
                let keys_owned;
                let keys = if keys.is_empty() && matches!(seg, Seg::Key(_)) {
                    keys_owned = crate::path::key_fields(seg);
                    keys_owned.iter().map(String::as_str).collect::<Vec<_>>()
                } else {
                    keys.to_vec()
                };
                find_item(items, seg, &keys).map(|i| &items[i])
            }
            _ => None,
        };
        let Some(live_child) = live_child else {
            continue;
        };
        let desired_child = desired.and_then(|d| d.children.get(seg));
        let others_child = others.and_then(|o| o.children.get(seg));
        path.push(seg.clone());
        let is_field = matches!(seg, Seg::Field(_));
        if let Seg::Field(name) = seg {
            fields.push(name.clone());
        }
        if let Some(dc) = desired_child {
            walk(
                kind,
                owned_child,
                Some(dc),
                others_child,
                live_child,
                path,
                fields,
                out,
            );
        } else if !is_field {
            // A list item: removed unless another manager owns the item itself.
            if others_child.is_some_and(|o| o.member) {
                out.released.push(path.clone());
            } else {
                out.removed.push(path.clone());
            }
        } else {
            match others_child {
                Some(o) if o.any_member() => {
                    if o.member {
                        out.released.push(path.clone());
                    }
                    walk(
                        kind,
                        owned_child,
                        None,
                        Some(o),
                        live_child,
                        path,
                        fields,
                        out,
                    );
                }
                _ => out.removed.push(path.clone()),
            }
        }
        if is_field {
            fields.pop();
        }
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_parses_and_matches_object_field_sets() {
        let fv1 = json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
            "k:{\"name\":\"web\"}": {".": {}, "f:name": {}, "f:image": {}}}}}}});
        let fs = FieldSet::from_fields_v1(&fv1).unwrap();
        let kind = Kind::new("apps", "Deployment");
        let obj = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "x"}]}}}});
        let of = FieldSet::of_object(kind, &obj);
        assert_eq!(fs.member_paths().last(), of.member_paths().last());
    }
}
