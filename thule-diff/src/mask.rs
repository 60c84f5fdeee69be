//! Masking of sensitive scalars in printed objects and change values (spec §6.2 rule 1).
//!
//! A pair of values (the two sides of an object or of a change) is walked without building
//! [`Seg`] paths: each scalar's position is summarized as the [`PathFacts`] that
//! [`redact::is_sensitive_at`] reads, so the walk allocates only for the rare sensitive
//! scalar. Both sides are searched before either is changed, so each side is compared with
//! the other's real value: a value that is the same on both sides becomes
//! [`MARK_SENSITIVE`], one that changes becomes [`MARK_BEFORE`] / [`MARK_AFTER`].

use std::borrow::Cow;

use serde_json::Value;

use crate::merge::field_names;
use crate::path::{Seg, item_key, key_fields};
use crate::redact::{self, MARK_AFTER, MARK_BEFORE, MARK_SENSITIVE, PathFacts};
use crate::schema::{self, Kind, ListType};

/// One step from a value to a child.
#[derive(Clone, Copy)]
enum Step<'a> {
    Field(&'a str),
    Index(usize),
}

/// Where a sensitive scalar is, and whether the other side holds the same value.
struct Hit {
    steps: Vec<(Option<String>, usize)>,
    same: bool,
}

/// What the walk knows about the node it is at.
#[derive(Clone, Copy)]
struct Node<'a> {
    first: Option<&'a str>,
    /// The second segment, when it and the first are fields.
    second: Option<&'a str>,
    len: usize,
    last: Option<&'a str>,
    /// The `name` of the keyed list item this node is a field of (`env[name=X].value`).
    item_name: Option<&'a str>,
    /// The `name` this node has when it is a list item keyed by `name` alone.
    named: Option<&'a str>,
}

struct Walk<'a, 'k> {
    kind: Kind<'k>,
    fields: Vec<&'a str>,
    steps: Vec<Step<'a>>,
    hits: Vec<Hit>,
    seen: &'a mut Vec<String>,
}

impl<'a> Walk<'a, '_> {
    fn find(&mut self, v: &'a Value, other: Option<&'a Value>, at: Node<'a>) {
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    let child = Node {
                        first: if at.len == 0 { Some(k) } else { at.first },
                        second: if at.len == 1 && at.first.is_some() {
                            Some(k)
                        } else {
                            at.second
                        },
                        len: at.len + 1,
                        last: Some(k),
                        item_name: at.named,
                        named: None,
                    };
                    self.fields.push(k);
                    self.steps.push(Step::Field(k));
                    self.find(c, other.and_then(|o| o.get(k)), child);
                    self.steps.pop();
                    self.fields.pop();
                }
            }
            Value::Array(items) => {
                let lt = schema::list_type(self.kind, &self.fields);
                let other_items = other.and_then(Value::as_array);
                // The other side's item keys, computed once per list rather than per item.
                let other_keys: Vec<Option<String>> = match (lt, other_items) {
                    (ListType::Map(keys), Some(os)) => {
                        os.iter().map(|o| item_key(keys, o)).collect()
                    }
                    _ => Vec::new(),
                };
                for (i, it) in items.iter().enumerate() {
                    let by_index = || other_items.and_then(|os| os.get(i));
                    let (o, named) = match lt {
                        ListType::Map(keys) => {
                            let o = match item_key(keys, it) {
                                Some(key) => other_keys
                                    .iter()
                                    .position(|ok| ok.as_deref() == Some(key.as_str()))
                                    .and_then(|j| other_items.and_then(|os| os.get(j))),
                                None => by_index(),
                            };
                            let named = if *keys == ["name"] {
                                it.get("name").and_then(Value::as_str)
                            } else {
                                None
                            };
                            (o, named)
                        }
                        ListType::Set => (by_index(), None),
                        ListType::Atomic => (by_index(), it.get("name").and_then(Value::as_str)),
                    };
                    let child = Node {
                        first: at.first,
                        second: at.second,
                        len: at.len + 1,
                        last: None,
                        item_name: at.named,
                        named,
                    };
                    self.steps.push(Step::Index(i));
                    self.find(it, o, child);
                    self.steps.pop();
                }
            }
            scalar => {
                let facts = PathFacts {
                    first: at.first,
                    second: at.second,
                    len: at.len,
                    last: at.last,
                    item_name: at.item_name.map(Cow::Borrowed),
                };
                if redact::is_sensitive_at(self.kind, &facts, scalar) {
                    if let Value::String(s) = scalar {
                        self.seen.push(s.clone());
                    }
                    let steps = self
                        .steps
                        .iter()
                        .map(|s| match s {
                            Step::Field(k) => (Some((*k).to_owned()), 0),
                            Step::Index(i) => (None, *i),
                        })
                        .collect();
                    self.hits.push(Hit {
                        steps,
                        same: other.is_some_and(|o| o == scalar),
                    });
                }
            }
        }
    }
}

fn search<'a>(
    kind: Kind<'_>,
    prefix_fields: &'a [String],
    root: Node<'a>,
    v: Option<&'a Value>,
    other: Option<&'a Value>,
    seen: &'a mut Vec<String>,
) -> Vec<Hit> {
    let Some(v) = v else { return Vec::new() };
    let mut walk = Walk {
        kind,
        fields: prefix_fields.iter().map(String::as_str).collect(),
        steps: Vec::new(),
        hits: Vec::new(),
        seen,
    };
    walk.find(v, other, root);
    walk.hits
}

fn apply(v: &mut Value, hits: Vec<Hit>, marker: &str) {
    for hit in hits {
        let mut cur = Some(&mut *v);
        for (field, index) in &hit.steps {
            cur = cur.and_then(|c| match field {
                Some(k) => c.get_mut(k.as_str()),
                None => c.get_mut(*index),
            });
        }
        if let Some(scalar) = cur {
            let mark = if hit.same { MARK_SENSITIVE } else { marker };
            *scalar = Value::String(mark.to_owned());
        }
    }
}

/// Replace the sensitive scalars of `before` and `after`, two sides of the value at `prefix`
/// in an object of `kind`, with markers; every sensitive string is pushed to `seen` (the
/// caller adds them to the taint set).
pub(crate) fn mask_pair(
    kind: Kind<'_>,
    prefix: &[Seg],
    before: Option<&mut Value>,
    after: Option<&mut Value>,
    seen: &mut Vec<String>,
) {
    let prefix_fields = field_names(prefix);
    let facts = PathFacts::of(prefix);
    // The prefix itself may end at a list item keyed by `name`.
    let named: Option<String> = match prefix.last() {
        Some(key @ Seg::Key(json)) if key_fields(key) == ["name"] => {
            serde_json::from_str::<Value>(json)
                .ok()
                .and_then(|m| m.get("name").and_then(Value::as_str).map(str::to_owned))
        }
        _ => None,
    };
    let root = Node {
        first: facts.first,
        second: facts.second,
        len: facts.len,
        last: facts.last,
        item_name: facts.item_name.as_deref(),
        named: named.as_deref(),
    };
    let (b, a) = (before.as_deref(), after.as_deref());
    let before_hits = search(kind, &prefix_fields, root, b, a, seen);
    let after_hits = search(kind, &prefix_fields, root, a, b, seen);
    if let Some(v) = before {
        apply(v, before_hits, MARK_BEFORE);
    }
    if let Some(v) = after {
        apply(v, after_hits, MARK_AFTER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::{Path, canonical_json};
    use proptest::prelude::*;

    /// The masking walk as first written: a full [`Seg`] path per node and
    /// [`redact::is_sensitive`] on it. The path-free walk must agree with it everywhere.
    fn reference(
        kind: Kind<'_>,
        path: &mut Path,
        fields: &mut Vec<String>,
        v: &mut Value,
        other: Option<&Value>,
        marker: &str,
        seen: &mut Vec<String>,
    ) {
        match v {
            Value::Object(m) => {
                for (k, c) in m.iter_mut() {
                    path.push(Seg::Field(k.clone()));
                    fields.push(k.clone());
                    let o = other.and_then(|o| o.get(k));
                    reference(kind, path, fields, c, o, marker, seen);
                    fields.pop();
                    path.pop();
                }
            }
            Value::Array(items) => {
                let fs: Vec<&str> = fields.iter().map(String::as_str).collect();
                let lt = schema::list_type(kind, &fs);
                let other_items = other.and_then(Value::as_array);
                let other_keys: Vec<Option<String>> = match (lt, other_items) {
                    (ListType::Map(keys), Some(os)) => {
                        os.iter().map(|o| item_key(keys, o)).collect()
                    }
                    _ => Vec::new(),
                };
                for (i, it) in items.iter_mut().enumerate() {
                    let seg = match lt {
                        ListType::Map(keys) => item_key(keys, it).map_or(Seg::Index(i), Seg::Key),
                        ListType::Set => Seg::Value(canonical_json(it)),
                        ListType::Atomic => match it.get("name").and_then(Value::as_str) {
                            Some(n) => Seg::Key(serde_json::json!({ "name": n }).to_string()),
                            None => Seg::Index(i),
                        },
                    };
                    let o = other_items.and_then(|os| match (&seg, lt) {
                        (Seg::Key(k), ListType::Map(_)) => other_keys
                            .iter()
                            .position(|ok| ok.as_deref() == Some(k.as_str()))
                            .map(|j| &os[j]),
                        _ => os.get(i),
                    });
                    path.push(seg);
                    reference(kind, path, fields, it, o, marker, seen);
                    path.pop();
                }
            }
            scalar => {
                if redact::is_sensitive(kind, path, scalar) {
                    if let Value::String(s) = scalar {
                        seen.push(s.clone());
                    }
                    let same = other.is_some_and(|o| o == scalar);
                    *scalar = Value::String(if same { MARK_SENSITIVE } else { marker }.to_owned());
                }
            }
        }
    }

    const KEYS: &[&str] = &[
        "data",
        "stringData",
        "metadata",
        "spec",
        "template",
        "containers",
        "env",
        "name",
        "value",
        "password",
        "apiKey",
        "token",
        "ports",
        "containerPort",
        "protocol",
        "args",
        "finalizers",
        "items",
        "passwordSecretRef",
        "encryptedData",
        "sops",
        "enc",
        "x",
    ];
    const STRINGS: &[&str] = &[
        "web",
        "DB_PASSWORD",
        "API_TOKEN",
        "LOG_LEVEL",
        "hunter2hunter2",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "db-creds",
        "TCP",
        "info",
        "ENC[AES256_GCM,data:c2VjcmV0,iv:aXY=,tag:dGFn,type:str]",
    ];

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            proptest::sample::select(STRINGS).prop_map(|s| Value::String(s.to_owned())),
            (0i64..3).prop_map(Value::from),
            Just(Value::Bool(true)),
            Just(Value::Null),
        ];
        leaf.prop_recursive(5, 48, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(
                    proptest::sample::select(KEYS).prop_map(str::to_owned),
                    inner,
                    0..5
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn prefix() -> impl Strategy<Value = Path> {
        prop_oneof![
            3 => Just(Vec::new()),
            1 => Just(vec![Seg::Field("data".into())]),
            1 => Just(vec![Seg::Field("spec".into())]),
            1 => Just(vec![
                Seg::Field("spec".into()),
                Seg::Field("containers".into()),
                Seg::Key(r#"{"name":"web"}"#.into()),
                Seg::Field("env".into()),
                Seg::Key(r#"{"name":"DB_PASSWORD"}"#.into()),
            ]),
            1 => Just(vec![
                Seg::Field("spec".into()),
                Seg::Field("env".into()),
                Seg::Key(r#"{"name":"API_TOKEN"}"#.into()),
                Seg::Field("value".into()),
            ]),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// The path-free walk masks exactly what the path-building walk masks, with the same
        /// markers, and reports the same sensitive strings, for every kind of object.
        #[test]
        fn agrees_with_the_path_walk(
            kind in proptest::sample::select(&[
                ("", "Secret"), ("", "ConfigMap"), ("apps", "Deployment"), ("example.com", "Widget"),
                ("bitnami.com", "SealedSecret"),
            ][..]),
            prefix in prefix(),
            before in proptest::option::of(value()),
            after in proptest::option::of(value()),
        ) {
            let kind = Kind::new(kind.0, kind.1);
            let (mut b, mut a) = (before.clone(), after.clone());
            let mut seen = Vec::new();
            mask_pair(kind, &prefix, b.as_mut(), a.as_mut(), &mut seen);

            let (mut rb, mut ra) = (before.clone(), after.clone());
            let mut ref_seen = Vec::new();
            let fields = field_names(&prefix);
            if let Some(v) = &mut rb {
                reference(kind, &mut prefix.clone(), &mut fields.clone(), v, after.as_ref(), MARK_BEFORE, &mut ref_seen);
            }
            if let Some(v) = &mut ra {
                reference(kind, &mut prefix.clone(), &mut fields.clone(), v, before.as_ref(), MARK_AFTER, &mut ref_seen);
            }
            prop_assert_eq!(&b, &rb);
            prop_assert_eq!(&a, &ra);
            seen.sort();
            ref_seen.sort();
            prop_assert_eq!(seen, ref_seen);
        }
    }

    #[test]
    fn env_values_named_like_credentials_are_masked() {
        let kind = Kind::new("apps", "Deployment");
        let doc = |v: &str| {
            serde_json::json!({"spec": {"template": {"spec": {"containers": [
                {"name": "web", "env": [
                    {"name": "DB_PASSWORD", "value": v},
                    {"name": "LOG_LEVEL", "value": "info"},
                ]}
            ]}}}})
        };
        let (mut b, mut a) = (doc("old-secret-1"), doc("new-secret-2"));
        let mut seen = Vec::new();
        mask_pair(kind, &[], Some(&mut b), Some(&mut a), &mut seen);
        let env = |d: &Value, i: usize| {
            d["spec"]["template"]["spec"]["containers"][0]["env"][i]["value"].clone()
        };
        assert_eq!(env(&b, 0), MARK_BEFORE);
        assert_eq!(env(&a, 0), MARK_AFTER);
        assert_eq!(env(&b, 1), "info");
        seen.sort();
        assert_eq!(seen, ["new-secret-2", "old-secret-1"]);
        // The same value on both sides is marked as such.
        let (mut b, mut a) = (doc("same-secret"), doc("same-secret"));
        mask_pair(kind, &[], Some(&mut b), Some(&mut a), &mut Vec::new());
        assert_eq!(env(&b, 0), MARK_SENSITIVE);
        assert_eq!(env(&a, 0), MARK_SENSITIVE);
    }
}
