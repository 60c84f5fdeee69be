//! Schema-driven merge of desired onto live (spec §2.4 table), pruning of removed paths,
//! semantic equality and the keyed structural compare that yields changes.

use serde_json::{Map, Value};

use crate::path::{Path, Seg, canonical_json, find_item, item_key};
use crate::quantity::Quantity;
use crate::schema::{self, Kind, ListType};

/// `merge(L, D)`: the live value with the desired value applied under list/map semantics.
pub fn merge(kind: Kind<'_>, live: &Value, desired: &Value) -> Value {
    let mut fields = Vec::with_capacity(16);
    merge_at(kind, live, desired, &mut fields)
}

fn merge_at<'a>(kind: Kind<'_>, l: &'a Value, d: &'a Value, fields: &mut Vec<&'a str>) -> Value {
    match (l, d) {
        (Value::Object(lm), Value::Object(dm)) if !schema::atomic_map(kind, fields) => {
            let mut out = lm.clone();
            for (k, dv) in dm {
                fields.push(k.as_str());
                let merged = match lm.get(k) {
                    Some(lv) => merge_at(kind, lv, dv, fields),
                    None => dv.clone(),
                };
                fields.pop();
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(li), Value::Array(di)) => match schema::list_type(kind, fields) {
            ListType::Atomic => d.clone(),
            ListType::Set => {
                let mut out = di.clone();
                let seen: std::collections::BTreeSet<String> =
                    di.iter().map(canonical_json).collect();
                for it in li {
                    if !seen.contains(&canonical_json(it)) {
                        out.push(it.clone());
                    }
                }
                Value::Array(out)
            }
            ListType::Map(keys) => {
                let volumes = kind.builtin && fields.last() == Some(&"volumes");
                let mut out = Vec::with_capacity(di.len() + li.len());
                let mut used = vec![false; li.len()];
                for ditem in di {
                    let key = item_key(keys, ditem);
                    let pos = key.as_ref().and_then(|k| {
                        li.iter()
                            .enumerate()
                            .position(|(i, it)| !used[i] && item_key(keys, it).as_ref() == Some(k))
                    });
                    match pos {
                        Some(i) => {
                            used[i] = true;
                            let mut m = merge_at(kind, &li[i], ditem, fields);
                            if volumes {
                                retain_volume_source(&mut m, ditem);
                            }
                            out.push(m);
                        }
                        None => out.push(ditem.clone()),
                    }
                }
                for (i, it) in li.iter().enumerate() {
                    if !used[i] {
                        out.push(it.clone());
                    }
                }
                Value::Array(out)
            }
        },
        _ => d.clone(),
    }
}

/// `retainKeys` on `Volume`: a desired item that names a source clears the other sources.
fn retain_volume_source(merged: &mut Value, desired: &Value) {
    let Some(dm) = desired.as_object() else {
        return;
    };
    if !schema::VOLUME_SOURCES.iter().any(|s| dm.contains_key(*s)) {
        return;
    }
    if let Value::Object(m) = merged {
        m.retain(|k, _| !schema::VOLUME_SOURCES.contains(&k.as_str()) || dm.contains_key(k));
    }
}

/// Fields cleared by union discriminators (`retainKeys`): `strategy.type: Recreate` drops
/// `rollingUpdate`, `updateStrategy.type: OnDelete` likewise. Returns the cleared paths.
pub fn apply_discriminators(kind: Kind<'_>, predicted: &mut Value) -> Vec<Path> {
    let mut cleared = Vec::new();
    if !kind.builtin {
        return cleared;
    }
    let (field, other) = match kind.kind {
        "Deployment" => ("strategy", "Recreate"),
        "StatefulSet" | "DaemonSet" => ("updateStrategy", "OnDelete"),
        _ => return cleared,
    };
    if let Some(Value::Object(s)) = predicted.get_mut("spec").and_then(|s| s.get_mut(field))
        && s.get("type").and_then(Value::as_str) == Some(other)
        && s.remove("rollingUpdate").is_some()
    {
        cleared.push(vec![
            Seg::Field("spec".into()),
            Seg::Field(field.into()),
            Seg::Field("rollingUpdate".into()),
        ]);
    }
    cleared
}

fn list_keys(kind: Kind<'_>, fields: &[String], seg: &Seg) -> Vec<String> {
    let fs: Vec<&str> = fields.iter().map(String::as_str).collect();
    match schema::list_type(kind, &fs) {
        ListType::Map(keys) => keys.iter().map(|k| (*k).to_owned()).collect(),
        _ => crate::path::key_fields(seg),
    }
}

/// The value at a keyed path, if present.
pub fn get_path<'v>(kind: Kind<'_>, v: &'v Value, path: &[Seg]) -> Option<&'v Value> {
    let mut cur = v;
    let mut fields: Vec<String> = Vec::new();
    for seg in path {
        cur = match (seg, cur) {
            (Seg::Field(n), Value::Object(m)) => {
                fields.push(n.clone());
                m.get(n)?
            }
            (_, Value::Array(items)) => {
                let keys = list_keys(kind, &fields, seg);
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                &items[find_item(items, seg, &keys)?]
            }
            _ => return None,
        };
    }
    Some(cur)
}

/// Remove the value at a keyed path; removing a list-item path removes the item.
pub fn remove_path(kind: Kind<'_>, v: &mut Value, path: &[Seg]) -> bool {
    let Some((last, parent)) = path.split_last() else {
        return false;
    };
    let mut cur = v;
    let mut fields: Vec<String> = Vec::new();
    for seg in parent {
        cur = match (seg, cur) {
            (Seg::Field(n), Value::Object(m)) => {
                fields.push(n.clone());
                match m.get_mut(n) {
                    Some(c) => c,
                    None => return false,
                }
            }
            (_, Value::Array(items)) => {
                let keys = list_keys(kind, &fields, seg);
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                match find_item(items, seg, &keys) {
                    Some(i) => &mut items[i],
                    None => return false,
                }
            }
            _ => return false,
        };
    }
    match (last, cur) {
        (Seg::Field(n), Value::Object(m)) => m.remove(n).is_some(),
        (_, Value::Array(items)) => {
            let keys = list_keys(kind, &fields, last);
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            match find_item(items, last, &keys) {
                Some(i) => {
                    items.remove(i);
                    true
                }
                None => false,
            }
        }
        _ => false,
    }
}

/// Remove every path that is a member of a field set (ignore rules by manager).
pub fn remove_members(kind: Kind<'_>, v: &mut Value, set: &crate::fields::FieldSet) {
    for p in set.member_paths() {
        remove_path(kind, v, &p);
    }
}

/// Semantic scalar equality: numbers by value, Quantities numerically at Quantity paths.
fn scalar_eq(kind: Kind<'_>, fields: &[&str], a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64() && x.as_f64().is_some(),
        (Value::String(x), Value::String(y)) => {
            schema::quantity_path(kind, fields).is_some()
                && matches!((Quantity::parse(x), Quantity::parse(y)), (Some(p), Some(q)) if p.nanos == q.nanos)
        }
        _ => false,
    }
}

/// Semantic equality under list semantics (map/set order ignored, atomic order kept).
pub fn sem_eq(kind: Kind<'_>, a: &Value, b: &Value, fields: &[String]) -> bool {
    let fs: Vec<&str> = fields.iter().map(String::as_str).collect();
    sem_eq_at(kind, a, b, &mut fs.clone())
}

fn sem_eq_at<'a>(kind: Kind<'_>, a: &'a Value, b: &'a Value, fields: &mut Vec<&'a str>) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, xv)| {
                    y.get(k).is_some_and(|yv| {
                        fields.push(k.as_str());
                        let r = sem_eq_at(kind, xv, yv, fields);
                        fields.pop();
                        r
                    })
                })
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return false;
            }
            match schema::list_type(kind, fields) {
                ListType::Atomic => x.iter().zip(y).all(|(p, q)| sem_eq_at(kind, p, q, fields)),
                ListType::Set => {
                    let mut xs: Vec<String> = x.iter().map(canonical_json).collect();
                    let mut ys: Vec<String> = y.iter().map(canonical_json).collect();
                    xs.sort();
                    ys.sort();
                    xs == ys
                }
                ListType::Map(keys) => x.iter().all(|xi| {
                    let k = item_key(keys, xi);
                    y.iter()
                        .find(|yi| item_key(keys, yi) == k)
                        .is_some_and(|yi| sem_eq_at(kind, xi, yi, fields))
                }),
            }
        }
        _ => scalar_eq(kind, fields, a, b),
    }
}

/// The kind of a raw change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawOp {
    /// Present only after.
    Add,
    /// Present only before.
    Remove,
    /// Present on both sides with different values.
    Replace,
}

/// A change found by [`compare`], before redaction.
#[derive(Clone, Debug, PartialEq)]
pub struct RawChange {
    /// Where.
    pub path: Path,
    /// What.
    pub op: RawOp,
    /// Value before (live), if any.
    pub before: Option<Value>,
    /// Value after (predicted), if any.
    pub after: Option<Value>,
}

/// What a compare found besides changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompareNotes {
    /// Paths whose values differ only in format (a CR string Quantity written differently).
    pub format_only: Vec<Path>,
}

/// Compare `before` (live) with `after` (predicted), yielding keyed changes. Added maps are
/// expanded to their leaves; added and removed list items are single changes; atomic lists
/// that differ are one `Replace` of the whole list.
pub fn compare(kind: Kind<'_>, before: &Value, after: &Value) -> (Vec<RawChange>, CompareNotes) {
    let mut out = Vec::new();
    let mut notes = CompareNotes::default();
    let mut path = Vec::new();
    let mut fields = Vec::new();
    cmp_at(
        kind,
        Some(before),
        Some(after),
        &mut path,
        &mut fields,
        &mut out,
        &mut notes,
    );
    (out, notes)
}

/// Every field of `after` as additions (CREATE).
pub fn additions(kind: Kind<'_>, after: &Value) -> Vec<RawChange> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    let mut fields = Vec::new();
    add_deep(kind, after, &mut path, &mut fields, &mut out);
    out
}

fn add_deep<'a>(
    kind: Kind<'_>,
    v: &'a Value,
    path: &mut Path,
    fields: &mut Vec<&'a str>,
    out: &mut Vec<RawChange>,
) {
    match v {
        Value::Object(m) if !m.is_empty() && !schema::atomic_map(kind, fields) => {
            for (k, c) in m {
                path.push(Seg::Field(k.clone()));
                fields.push(k.as_str());
                add_deep(kind, c, path, fields, out);
                fields.pop();
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => match schema::list_type(kind, fields) {
            ListType::Map(keys) => {
                for it in items {
                    match item_key(keys, it) {
                        Some(k) => out.push(RawChange {
                            path: extend(path, Seg::Key(k)),
                            op: RawOp::Add,
                            before: None,
                            after: Some(it.clone()),
                        }),
                        None => out.push(RawChange {
                            path: path.clone(),
                            op: RawOp::Add,
                            before: None,
                            after: Some(v.clone()),
                        }),
                    }
                }
            }
            ListType::Set => {
                for it in items {
                    out.push(RawChange {
                        path: extend(path, Seg::Value(canonical_json(it))),
                        op: RawOp::Add,
                        before: None,
                        after: Some(it.clone()),
                    });
                }
            }
            ListType::Atomic => out.push(RawChange {
                path: path.clone(),
                op: RawOp::Add,
                before: None,
                after: Some(v.clone()),
            }),
        },
        _ => out.push(RawChange {
            path: path.clone(),
            op: RawOp::Add,
            before: None,
            after: Some(v.clone()),
        }),
    }
}

fn extend(path: &Path, seg: Seg) -> Path {
    let mut p = path.clone();
    p.push(seg);
    p
}

fn cmp_at<'a>(
    kind: Kind<'_>,
    before: Option<&'a Value>,
    after: Option<&'a Value>,
    path: &mut Path,
    fields: &mut Vec<&'a str>,
    out: &mut Vec<RawChange>,
    notes: &mut CompareNotes,
) {
    match (before, after) {
        (None, None) => {}
        (None, Some(a)) => add_deep(kind, a, path, fields, out),
        (Some(b), None) => out.push(RawChange {
            path: path.clone(),
            op: RawOp::Remove,
            before: Some(b.clone()),
            after: None,
        }),
        (Some(Value::Object(bm)), Some(Value::Object(am))) if !schema::atomic_map(kind, fields) => {
            let mut keys: Vec<&'a String> = bm.keys().chain(am.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                path.push(Seg::Field(k.clone()));
                fields.push(k.as_str());
                cmp_at(kind, bm.get(k), am.get(k), path, fields, out, notes);
                fields.pop();
                path.pop();
            }
        }
        (Some(b @ Value::Array(bi)), Some(a @ Value::Array(ai))) => {
            match schema::list_type(kind, fields) {
                ListType::Atomic => {
                    if sem_eq_at(kind, b, a, fields) {
                        return;
                    }
                    if !kind.builtin && quantity_loose_eq(b, a) {
                        notes.format_only.push(path.clone());
                    } else {
                        out.push(RawChange {
                            path: path.clone(),
                            op: RawOp::Replace,
                            before: Some(b.clone()),
                            after: Some(a.clone()),
                        });
                    }
                }
                ListType::Set => {
                    let bs: Vec<String> = bi.iter().map(canonical_json).collect();
                    let as_: Vec<String> = ai.iter().map(canonical_json).collect();
                    for (i, s) in bs.iter().enumerate() {
                        if !as_.contains(s) {
                            out.push(RawChange {
                                path: extend(path, Seg::Value(s.clone())),
                                op: RawOp::Remove,
                                before: Some(bi[i].clone()),
                                after: None,
                            });
                        }
                    }
                    for (i, s) in as_.iter().enumerate() {
                        if !bs.contains(s) {
                            out.push(RawChange {
                                path: extend(path, Seg::Value(s.clone())),
                                op: RawOp::Add,
                                before: None,
                                after: Some(ai[i].clone()),
                            });
                        }
                    }
                }
                ListType::Map(keys) => {
                    let bk: Vec<Option<String>> = bi.iter().map(|i| item_key(keys, i)).collect();
                    let ak: Vec<Option<String>> = ai.iter().map(|i| item_key(keys, i)).collect();
                    if bk.iter().chain(&ak).any(Option::is_none) {
                        // Items without keys: fall back to a whole-list compare.
                        if !sem_eq_at(kind, b, a, fields) {
                            out.push(RawChange {
                                path: path.clone(),
                                op: RawOp::Replace,
                                before: Some(b.clone()),
                                after: Some(a.clone()),
                            });
                        }
                        return;
                    }
                    for (i, k) in bk.iter().enumerate() {
                        let k = k.clone().unwrap_or_default();
                        path.push(Seg::Key(k.clone()));
                        let other = ak.iter().position(|x| x.as_deref() == Some(k.as_str()));
                        cmp_at(
                            kind,
                            Some(&bi[i]),
                            other.map(|j| &ai[j]),
                            path,
                            fields,
                            out,
                            notes,
                        );
                        path.pop();
                    }
                    for (j, k) in ak.iter().enumerate() {
                        let k = k.clone().unwrap_or_default();
                        if !bk.iter().any(|x| x.as_deref() == Some(k.as_str())) {
                            out.push(RawChange {
                                path: extend(path, Seg::Key(k)),
                                op: RawOp::Add,
                                before: None,
                                after: Some(ai[j].clone()),
                            });
                        }
                    }
                }
            }
        }
        (Some(b), Some(a)) => {
            if sem_eq_at(kind, b, a, fields) {
                return;
            }
            if let (Value::String(x), Value::String(y)) = (b, a)
                && !kind.builtin
                && let (Some(p), Some(q)) = (Quantity::parse(x), Quantity::parse(y))
                && p.nanos == q.nanos
            {
                notes.format_only.push(path.clone());
                return;
            }
            out.push(RawChange {
                path: path.clone(),
                op: RawOp::Replace,
                before: Some(b.clone()),
                after: Some(a.clone()),
            });
        }
    }
}

/// Equality where strings that parse as equal quantities count as equal (custom resources
/// store strings verbatim: `12` and `12000m` differ only in format, V2).
fn quantity_loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| quantity_loose_eq(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| quantity_loose_eq(v, w))
        }
        (Value::String(x), Value::String(y)) => {
            x == y
                || matches!((Quantity::parse(x), Quantity::parse(y)), (Some(p), Some(q)) if p.nanos == q.nanos)
        }
        _ => a == b,
    }
}

/// Whether `live` already has everything `desired` sets (merging changes nothing).
pub fn covers(kind: Kind<'_>, live: &Value, desired: &Value, fields: &[String]) -> bool {
    let fs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let mut f = fs.clone();
    let merged = merge_at(kind, live, desired, &mut f);
    let mut f2 = fs;
    sem_eq_at(kind, &merged, live, &mut f2)
}

/// The field path (names only) of a keyed path.
pub fn field_names(path: &[Seg]) -> Vec<String> {
    path.iter()
        .filter_map(|s| match s {
            Seg::Field(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

/// Sort the items of map and set lists by key (and set values), recursively, so printing and
/// patches do not depend on input order.
pub fn sort_lists(kind: Kind<'_>, v: &mut Value) {
    let mut fields: Vec<String> = Vec::new();
    sort_at(kind, v, &mut fields);
}

fn sort_at(kind: Kind<'_>, v: &mut Value, fields: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m.iter_mut() {
                fields.push(k.clone());
                sort_at(kind, c, fields);
                fields.pop();
            }
        }
        Value::Array(items) => {
            for it in items.iter_mut() {
                sort_at(kind, it, fields);
            }
            let fs: Vec<&str> = fields.iter().map(String::as_str).collect();
            match schema::list_type(kind, &fs) {
                ListType::Map(keys) => items.sort_by_cached_key(|it| item_key(keys, it)),
                ListType::Set => items.sort_by_cached_key(canonical_json),
                ListType::Atomic => {}
            }
        }
        _ => {}
    }
}

/// An empty JSON object.
pub fn empty_object() -> Value {
    Value::Object(Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn map_lists_merge_by_key_and_keep_live_only_items() {
        let k = Kind::new("apps", "Deployment");
        let l = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "a", "imagePullPolicy": "IfNotPresent"},
            {"name": "side", "image": "s"}]}}}});
        let d = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "b"}]}}}});
        let p = merge(k, &l, &d);
        let (changes, _) = compare(k, &l, &p);
        assert_eq!(changes.len(), 1);
        assert_eq!(
            crate::path::display(&changes[0].path),
            "spec.template.spec.containers[name=web].image"
        );
    }
}
