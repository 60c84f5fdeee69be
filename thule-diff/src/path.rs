//! Keyed paths (spec §4.3): `spec.template.spec.containers[name=web].env[name=LOG_LEVEL].value`.
//!
//! A [`Seg`] is one step: a field or map key, an item of a map-list addressed by its key
//! fields, an item of a set addressed by its value, or (display only) an index into an atomic
//! list. The same steps double as the path elements of a managedFields `FieldsV1` trie
//! (`f:`, `k:`, `v:`, `i:`), so field sets and changes share one vocabulary.

use std::fmt::{self, Write as _};

use serde_json::{Map, Value};

/// One step of a keyed path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Seg {
    /// A struct field or map key (`f:<name>`).
    Field(String),
    /// A map-list item by its key fields, as canonical JSON of an object sorted by field name
    /// (`k:{"containerPort":8080,"protocol":"TCP"}`).
    Key(String),
    /// A set item by its value, as canonical JSON (`v:"example.com/protect"`).
    Value(String),
    /// An item of a list by position (`i:<n>`); only for atomic lists, display only.
    Index(usize),
}

/// A keyed path from the object root.
pub type Path = Vec<Seg>;

/// Canonical JSON text: object keys sorted (serde_json's map is ordered), integral floats as
/// integers, so `8080` and `8080.0` give the same text.
pub fn canonical_json(v: &Value) -> String {
    serde_json::to_string(&canonical_numbers(v)).unwrap_or_default()
}

/// A copy of `v` with integral floats turned into integers.
pub fn canonical_numbers(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::Number(canonical_number(n)),
        Value::Array(a) => Value::Array(a.iter().map(canonical_numbers).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), canonical_numbers(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// An integral float as an integer; other numbers unchanged.
pub fn canonical_number(n: &serde_json::Number) -> serde_json::Number {
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    if n.is_f64()
        && let Some(f) = n.as_f64()
        && f.fract() == 0.0
        && f.abs() < 9.0e15
    {
        return serde_json::Number::from(f as i64);
    }
    n.clone()
}

/// The key segment of a map-list item: the values of `keys` present in the item.
/// `None` when a key field is missing.
pub fn item_key(keys: &[&str], item: &Value) -> Option<String> {
    let obj = item.as_object()?;
    let mut fields: Vec<(&str, &Value)> = Vec::with_capacity(keys.len());
    for k in keys {
        let v = obj.get(*k)?;
        if v.is_null() {
            return None;
        }
        fields.push((k, v));
    }
    // The JSON object serde_json would print: keys sorted, numbers canonical. Written
    // directly, as this runs for every item of every keyed list.
    fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::with_capacity(32);
    out.push(b'{');
    for (i, (k, v)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, k).ok()?;
        out.push(b':');
        match v {
            Value::String(_) | Value::Bool(_) => serde_json::to_writer(&mut out, v).ok()?,
            other => serde_json::to_writer(&mut out, &canonical_numbers(other)).ok()?,
        }
    }
    out.push(b'}');
    String::from_utf8(out).ok()
}

fn simple_ident(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn display_key_value(v: &Value, out: &mut String) {
    match v {
        Value::String(s)
            if !s.is_empty()
                && !s.contains([',', ']', '=', '"', '[', ' '])
                && s.chars().all(|c| !c.is_control()) =>
        {
            out.push_str(s);
        }
        other => out.push_str(&canonical_json(other)),
    }
}

/// Render a path in thule's syntax.
pub fn display(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Field(name) => {
                if simple_ident(name) {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(name);
                } else {
                    let _ = write!(out, "[{}]", canonical_json(&Value::String(name.clone())));
                }
            }
            Seg::Key(json) => {
                out.push('[');
                match serde_json::from_str::<Map<String, Value>>(json) {
                    Ok(m) => {
                        for (i, (k, v)) in m.iter().enumerate() {
                            if i > 0 {
                                out.push(',');
                            }
                            out.push_str(k);
                            out.push('=');
                            display_key_value(v, &mut out);
                        }
                    }
                    Err(_) => out.push_str(json),
                }
                out.push(']');
            }
            Seg::Value(json) => {
                let _ = write!(out, "[={json}]");
            }
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

/// The managedFields spelling of a segment (`f:name`, `k:{…}`, `v:…`, `i:n`).
pub fn fields_v1_element(seg: &Seg) -> String {
    match seg {
        Seg::Field(n) => format!("f:{n}"),
        Seg::Key(j) => format!("k:{j}"),
        Seg::Value(j) => format!("v:{j}"),
        Seg::Index(i) => format!("i:{i}"),
    }
}

/// Find the index of the list item a segment designates, under the list's key fields.
pub fn find_item(list: &[Value], seg: &Seg, keys: &[&str]) -> Option<usize> {
    match seg {
        Seg::Key(k) => list
            .iter()
            .position(|it| item_key(keys, it).as_deref() == Some(k.as_str())),
        Seg::Value(v) => list.iter().position(|it| &canonical_json(it) == v),
        Seg::Index(i) => (*i < list.len()).then_some(*i),
        Seg::Field(_) => None,
    }
}

/// The keys of a map-list key segment, parsed back from its JSON.
pub fn key_fields(seg: &Seg) -> Vec<String> {
    match seg {
        Seg::Key(j) => serde_json::from_str::<Map<String, Value>>(j)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

impl fmt::Display for Seg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&fields_v1_element(self))
    }
}

/// Parse a path in thule's syntax (as [`display`] prints it) back into segments:
/// `spec.template.spec.containers[name=web].env[name=A].value`,
/// `metadata.labels["app.kubernetes.io/name"]`, `metadata.finalizers[="x"]`, `args[2]`.
///
/// # Errors
/// A message naming the byte offset of the first thing that is not path syntax.
pub fn parse(text: &str) -> Result<Path, String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    let err = |i: usize, what: &str| format!("`{text}`: {what} at byte {i}");
    while i < b.len() {
        match b[i] {
            b'.' if !out.is_empty() => i += 1,
            b'[' => {
                let close = find_close(b, i + 1).ok_or_else(|| err(i, "unclosed `[`"))?;
                let inner = &text[i + 1..close];
                out.push(bracket(inner).map_err(|m| err(i, &m))?);
                i = close + 1;
            }
            _ => {
                let end = b[i..]
                    .iter()
                    .position(|c| matches!(c, b'.' | b'['))
                    .map_or(b.len(), |p| i + p);
                if end == i {
                    return Err(err(i, "empty field name"));
                }
                out.push(Seg::Field(text[i..end].to_owned()));
                i = end;
            }
        }
    }
    if out.is_empty() {
        return Err(format!("`{text}`: empty path"));
    }
    Ok(out)
}

/// The `]` closing a bracket that starts at `from`, skipping JSON strings.
fn find_close(b: &[u8], from: usize) -> Option<usize> {
    let mut in_str = false;
    let mut esc = false;
    for (j, &c) in b.iter().enumerate().skip(from) {
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
        } else if c == b'"' {
            in_str = true;
        } else if c == b']' {
            return Some(j);
        }
    }
    None
}

fn key_value(raw: &str) -> Result<Value, String> {
    if raw.starts_with('"') {
        return serde_json::from_str(raw).map_err(|e| format!("bad quoted value {raw}: {e}"));
    }
    if let Ok(n) = raw.parse::<i64>() {
        return Ok(Value::from(n));
    }
    Ok(Value::String(raw.to_owned()))
}

fn bracket(inner: &str) -> Result<Seg, String> {
    if let Some(v) = inner.strip_prefix('=') {
        let parsed: Value =
            serde_json::from_str(v).map_err(|e| format!("bad set value {v}: {e}"))?;
        return Ok(Seg::Value(canonical_json(&parsed)));
    }
    if inner.starts_with('"') {
        let name: String =
            serde_json::from_str(inner).map_err(|e| format!("bad quoted key {inner}: {e}"))?;
        return Ok(Seg::Field(name));
    }
    if let Ok(n) = inner.parse::<usize>() {
        return Ok(Seg::Index(n));
    }
    let mut m = Map::new();
    for part in inner.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("expected `key=value` in [{inner}]"))?;
        m.insert(k.to_owned(), key_value(v)?);
    }
    Ok(Seg::Key(
        serde_json::to_string(&Value::Object(m)).unwrap_or_default(),
    ))
}

/// `Value::pointer` without its per-token allocations: tokens are borrowed unless the
/// pointer has `~` escapes (then `serde_json`'s own lookup runs). Same results.
pub(crate) trait At {
    /// The value at a JSON pointer (`/spec/replicas`), as `Value::pointer` finds it.
    fn at(&self, pointer: &str) -> Option<&Value>;
}

impl At for Value {
    fn at(&self, pointer: &str) -> Option<&Value> {
        if pointer.is_empty() {
            return Some(self);
        }
        if pointer.contains('~') {
            return self.pointer(pointer);
        }
        pointer
            .strip_prefix('/')?
            .split('/')
            .try_fold(self, |v, token| match v {
                Value::Object(m) => m.get(token),
                Value::Array(items) => {
                    // As serde_json: no sign, no leading zeros.
                    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
                        return None;
                    }
                    items.get(token.parse::<usize>().ok()?)
                }
                _ => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_render_keyed_and_quoted() {
        let p = vec![
            Seg::Field("spec".into()),
            Seg::Field("containers".into()),
            Seg::Key(item_key(&["name"], &json!({"name": "web"})).unwrap()),
            Seg::Field("ports".into()),
            Seg::Key(
                item_key(
                    &["containerPort", "protocol"],
                    &json!({"containerPort": 8080.0, "protocol": "TCP"}),
                )
                .unwrap(),
            ),
        ];
        assert_eq!(
            display(&p),
            "spec.containers[name=web].ports[containerPort=8080,protocol=TCP]"
        );
        let l = vec![
            Seg::Field("metadata".into()),
            Seg::Field("labels".into()),
            Seg::Field("app.kubernetes.io/name".into()),
        ];
        assert_eq!(display(&l), r#"metadata.labels["app.kubernetes.io/name"]"#);
        let s = vec![
            Seg::Field("metadata".into()),
            Seg::Field("finalizers".into()),
            Seg::Value(canonical_json(&json!("example.com/protect"))),
        ];
        assert_eq!(
            display(&s),
            r#"metadata.finalizers[="example.com/protect"]"#
        );
        for p in [&p, &l, &s] {
            assert_eq!(parse(&display(p)).as_ref(), Ok(p));
        }
        assert_eq!(
            parse("spec.args[2]"),
            Ok(vec![
                Seg::Field("spec".into()),
                Seg::Field("args".into()),
                Seg::Index(2)
            ])
        );
        assert!(parse("spec[name=web").is_err());
        assert!(parse("").is_err());
    }

    /// `item_key` as first written, through a `serde_json` map.
    fn item_key_reference(keys: &[&str], item: &Value) -> Option<String> {
        let obj = item.as_object()?;
        let mut m = Map::new();
        for k in keys {
            let v = obj.get(*k)?;
            if v.is_null() {
                return None;
            }
            m.insert((*k).to_owned(), canonical_numbers(v));
        }
        Some(serde_json::to_string(&Value::Object(m)).unwrap_or_default())
    }

    #[test]
    fn item_keys_print_as_sorted_json_objects() {
        let items = [
            json!({"name": "web", "x": 1}),
            json!({"containerPort": 80, "protocol": "TCP"}),
            json!({"protocol": "UDP", "containerPort": 53.0}),
            json!({"name": "a\"b\\c\u{1}é"}),
            json!({"name": true}),
            json!({"name": null}),
            json!({"name": {"b": 1.0, "a": [2.0]}}),
            json!({"other": 1}),
            json!([1]),
        ];
        for keys in [
            &["name"][..],
            &["protocol", "containerPort"],
            &["containerPort", "protocol"],
        ] {
            for it in &items {
                assert_eq!(
                    item_key(keys, it),
                    item_key_reference(keys, it),
                    "{keys:?} {it}"
                );
            }
        }
    }

    #[test]
    fn at_finds_what_pointer_finds() {
        let v = json!({"a": {"b/c": 1, "d~e": 2, "": 3, "l": [10, 11, {"x": 12}]}, "n": null});
        for p in [
            "", "/a", "/a/b~1c", "/a/d~0e", "/a/", "/a/l/0", "/a/l/2/x", "/a/l/01", "/a/l/+1",
            "/a/l/3", "/a/l/-", "/n", "/n/x", "a", "/missing", "/a/l/x",
        ] {
            assert_eq!(v.at(p), v.pointer(p), "{p}");
        }
    }
}
