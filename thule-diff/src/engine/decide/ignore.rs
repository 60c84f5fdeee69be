//! Fields removed from every side before the comparison: the ignore rules matching the
//! object (JSON pointers, fields of named managers), the ignored field paths, and CA bundles
//! injected by cert-manager's CA injector.

use serde_json::Value;
use thule_core::ObjectKey;
use thule_core::config::IgnoreRule;

use super::{Inputs, Sides};
use crate::fields::FieldSet;
use crate::merge::{self, remove_path};
use crate::path::At as _;

/// Step: drop ignored fields from every side.
pub(super) fn apply(inputs: &Inputs<'_>, sides: &mut Sides<Value>) {
    let rules: Vec<&IgnoreRule> = inputs
        .opts
        .ignore
        .iter()
        .filter(|r| rule_applies(r, inputs.key))
        .collect();
    let by_manager = managers_fields(&rules, inputs.live_raw);
    let injected_ca = has_injected_ca(inputs.live_raw);
    for v in sides.iter_mut() {
        for rule in &rules {
            for p in &rule.json_pointers {
                remove_pointer(v, p);
            }
        }
        merge::remove_members(inputs.kind, v, &by_manager);
        for p in &inputs.indexed.ignore_paths {
            remove_path(inputs.kind, v, p);
        }
        if injected_ca {
            strip_ca_bundles(v);
        }
    }
}

fn glob(pattern: &str, text: &str) -> bool {
    fn rec(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) => (0..=t.len()).any(|i| rec(rest, &t[i..])),
            Some((b'?', rest)) => !t.is_empty() && rec(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && rec(rest, &t[1..]),
        }
    }
    rec(pattern.as_bytes(), text.as_bytes())
}

fn rule_applies(rule: &IgnoreRule, key: &ObjectKey) -> bool {
    let m = |p: &Option<String>, v: &str| p.as_ref().is_none_or(|p| glob(p, v));
    m(&rule.group, &key.group)
        && m(&rule.kind, &key.kind)
        && m(&rule.name, &key.name)
        && m(&rule.namespace, &key.namespace)
}

/// The fields the live object's managedFields give to the managers the rules name.
fn managers_fields(rules: &[&IgnoreRule], live_raw: Option<&Value>) -> FieldSet {
    let managers: Vec<&String> = rules
        .iter()
        .flat_map(|r| r.managed_fields_managers.iter())
        .collect();
    let mut by_manager = FieldSet::default();
    let Some(raw) = live_raw else {
        return by_manager;
    };
    for e in raw
        .at("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if e["manager"]
            .as_str()
            .is_some_and(|m| managers.iter().any(|x| *x == m))
            && let Some(Ok(fs)) = e.get("fieldsV1").map(FieldSet::from_fields_v1)
        {
            by_manager.union_with(&fs);
        }
    }
    by_manager
}

/// Whether cert-manager's CA injector writes into the live object.
fn has_injected_ca(live_raw: Option<&Value>) -> bool {
    live_raw.is_some_and(|l| {
        l.at("/metadata/annotations")
            .and_then(Value::as_object)
            .is_some_and(|a| {
                a.keys()
                    .any(|k| k.starts_with("cert-manager.io/inject-ca-from"))
            })
    })
}

fn remove_pointer(v: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match v.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < items.len()
            {
                items.remove(i);
            }
        }
        _ => {}
    }
}

fn strip_ca_bundles(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(cc)) = m.get_mut("clientConfig") {
                cc.remove("caBundle");
            }
            m.values_mut().for_each(strip_ca_bundles);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_ca_bundles),
        _ => {}
    }
}
