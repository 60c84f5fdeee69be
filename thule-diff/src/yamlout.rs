//! The canonical YAML printer (spec §8.2): one spelling per value, so text diffs show only
//! real changes and outputs are byte-stable.
//!
//! `apiVersion`, `kind`, `metadata` first at the top; `name`, `namespace`, `labels`,
//! `annotations` first in `metadata`; every other key sorted byte-wise. Block style, indent 2,
//! sequences not indented under their key, no anchors or tags. Strings are plain only when a
//! YAML 1.1 reader would read them back as the same string.

use std::fmt::Write as _;

use serde_json::{Map, Value};
use thule_core::yaml::resolve_plain;

/// Print one value as a YAML document (no `---`, final newline).
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::with_capacity(2048);
    match v {
        Value::Object(m) if !m.is_empty() => emit_map(&mut out, m, 0, Level::Top),
        Value::Array(a) if !a.is_empty() => emit_seq(&mut out, a, 0),
        scalar => {
            // Block content at indent 2: at column 0 a `...` or `---` line would end the document.
            emit_scalar_inline(&mut out, scalar, 2);
            out.push('\n');
        }
    }
    out
}

/// Print several documents separated by `---`.
pub fn to_yaml_stream(docs: &[Value]) -> String {
    let mut out = String::new();
    for d in docs {
        out.push_str("---\n");
        out.push_str(&to_yaml(d));
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Top,
    Metadata,
    Other,
}

/// The entries of `m` in printing order: the level's leading keys, then the rest sorted
/// (a `Map` iterates sorted).
fn for_each_entry<'m>(
    m: &'m Map<String, Value>,
    level: Level,
    mut f: impl FnMut(&'m String, &'m Value),
) {
    let first: &[&str] = match level {
        Level::Top => &["apiVersion", "kind", "metadata"],
        Level::Metadata => &["name", "namespace", "labels", "annotations"],
        Level::Other => {
            for (k, v) in m {
                f(k, v);
            }
            return;
        }
    };
    for key in first {
        if let Some((k, v)) = m.get_key_value(*key) {
            f(k, v);
        }
    }
    for (k, v) in m {
        if !first.contains(&k.as_str()) {
            f(k, v);
        }
    }
}

fn indent(out: &mut String, n: usize) {
    const SPACES: &str = "                                                                ";
    let mut n = n;
    while n > 0 {
        let step = n.min(SPACES.len());
        out.push_str(&SPACES[..step]);
        n -= step;
    }
}

fn emit_map(out: &mut String, m: &Map<String, Value>, ind: usize, level: Level) {
    let mut first = true;
    emit_map_entries(out, m, ind, level, &mut first, false);
}

/// Emit map entries; when `inline_first`, the first entry continues the current line (after
/// `- `).
fn emit_map_entries(
    out: &mut String,
    m: &Map<String, Value>,
    ind: usize,
    level: Level,
    first: &mut bool,
    inline_first: bool,
) {
    for_each_entry(m, level, |k, v| {
        if !(*first && inline_first) {
            indent(out, ind);
        }
        *first = false;
        let child_level = if level == Level::Top && k == "metadata" {
            Level::Metadata
        } else {
            Level::Other
        };
        let key_start = out.len();
        emit_string(out, k, true);
        if out.len() - key_start > 1000 {
            // YAML limits implicit keys to 1024 characters: use an explicit `? key` entry.
            out.insert_str(key_start, "? ");
            out.push('\n');
            indent(out, ind);
            out.push(':');
            match v {
                Value::Array(a) if !a.is_empty() => {
                    out.push('\n');
                    emit_seq(out, a, ind + 2);
                }
                v => emit_after_key(out, v, ind, child_level),
            }
            return;
        }
        out.push(':');
        emit_after_key(out, v, ind, child_level);
    });
}

fn emit_after_key(out: &mut String, v: &Value, ind: usize, level: Level) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            emit_map(out, m, ind + 2, level);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            emit_seq(out, a, ind);
        }
        scalar => {
            out.push(' ');
            emit_scalar_inline(out, scalar, ind + 2);
            out.push('\n');
        }
    }
}

fn emit_seq(out: &mut String, items: &[Value], ind: usize) {
    for it in items {
        indent(out, ind);
        out.push('-');
        match it {
            Value::Object(m) if !m.is_empty() => {
                out.push(' ');
                let mut first = true;
                emit_map_entries(out, m, ind + 2, Level::Other, &mut first, true);
            }
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                emit_seq(out, a, ind + 2);
            }
            scalar => {
                out.push(' ');
                emit_scalar_inline(out, scalar, ind + 2);
                out.push('\n');
            }
        }
    }
}

/// A scalar (or empty collection) after `key: ` or `- `; block strings continue on the next
/// lines at `block_indent`.
fn emit_scalar_inline(out: &mut String, v: &Value, block_indent: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => {
            if s.contains('\n') && block_ok(s) {
                emit_block(out, s, block_indent);
            } else {
                emit_string(out, s, false);
            }
        }
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

fn block_ok(s: &str) -> bool {
    let first_line = s.split('\n').next().unwrap_or("");
    !first_line.starts_with(' ')
        && !first_line.is_empty()
        && s.split('\n')
            .all(|l| !l.ends_with(' ') && !l.ends_with('\t'))
        && s.chars().all(|c| c == '\n' || !c.is_control())
}

fn emit_block(out: &mut String, s: &str, ind: usize) {
    let trailing = s.len() - s.trim_end_matches('\n').len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    out.push('|');
    out.push_str(chomp);
    let body = if trailing == 1 {
        &s[..s.len() - 1]
    } else {
        s.trim_end_matches('\n')
    };
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            indent(out, ind);
            out.push_str(line);
        }
    }
    if trailing > 1 {
        for _ in 0..trailing - 1 {
            out.push('\n');
        }
    }
}

fn needs_quotes(s: &str, key: bool) -> bool {
    let _ = key;
    let b = s.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return true;
    };
    if first.is_ascii_whitespace() || last.is_ascii_whitespace() || last == b':' {
        return true;
    }
    if thule_core::yaml::is_indicator(first) {
        return true;
    }
    // One pass for what may not appear inside a plain scalar: `: `, ` #`, tabs and other
    // controls (DEL included).
    let mut prev = 0u8;
    for &c in b {
        if c < 0x20 || c == 0x7f || (prev == b':' && c == b' ') || (prev == b' ' && c == b'#') {
            return true;
        }
        prev = c;
    }
    // Unicode whitespace at the ends and non-ASCII controls.
    if !s.is_ascii() && (s.trim() != s || s.chars().any(|c| c.is_control() || c == '\u{feff}')) {
        return true;
    }
    if s.starts_with("...") || s.starts_with("---") {
        return true;
    }
    // Sexagesimal-looking (`1:30`) and anything YAML 1.1 reads as another type. Only plain
    // scalars that start like a number or are one of the special words can resolve to
    // something other than the string itself.
    if b.iter().all(|&c| {
        c.is_ascii_digit() || c == b':' || c == b'.' || c == b'_' || c == b'+' || c == b'-'
    }) && b.contains(&b':')
    {
        return true;
    }
    let numeric_start = first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.');
    if !numeric_start && b.len() > 5 {
        // The longest special word (`false`, `FALSE`) has five letters.
        return false;
    }
    !matches!(resolve_plain(s), Ok(Value::String(ref r)) if r == s)
}

fn emit_string(out: &mut String, s: &str, key: bool) {
    if needs_quotes(s, key) {
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    } else {
        out.push_str(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_canonical_kubectl_style() {
        let v = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
                {"name": "web", "args": ["--a", "on", "0644", ""], "env": []}]}}},
            "metadata": {"labels": {"app.kubernetes.io/name": "web", "enabled": "true"}, "name": "web"},
            "kind": "Deployment", "apiVersion": "apps/v1",
            "data": {"script": "line1\nline2\n", "k": "a: b"}});
        let y = to_yaml(&v);
        assert_eq!(
            y,
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app.kubernetes.io/name: web\n    enabled: \"true\"\ndata:\n  k: \"a: b\"\n  script: |\n    line1\n    line2\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - args:\n        - \"--a\"\n        - \"on\"\n        - \"0644\"\n        - \"\"\n        env: []\n        name: web\n"
        );
    }

    #[test]
    fn printed_yaml_reads_back_identically() {
        let v = json!({"a": ["x", {"b": "yes", "c": [1, 2.5, null, true]}, "multi\nline", "trailing\n\n"],
            "d": {}, "e": "-dash", "f": " lead", "g": "1:30", "h": "~", "i": "x #y",
            "k".repeat(1100): {"x": [1, {"y": "z"}]}, "l".repeat(1100): ["a"], "m".repeat(1100): "v"});
        let y = to_yaml(&v);
        let back = thule_core::yaml::parse_str(&y, "t", &thule_core::yaml::ParseOptions::default())
            .unwrap();
        assert_eq!(back[0].value, v, "{y}");
        for top in [json!("a\n...\n---\nb"), json!("x\n")] {
            let y = to_yaml(&top);
            let back =
                thule_core::yaml::parse_str(&y, "t", &thule_core::yaml::ParseOptions::default())
                    .unwrap();
            assert_eq!(back[0].value, top, "{y}");
        }
    }

    /// The quoting rule as first written (several scans and a `resolve_plain` per string);
    /// the one-pass version must decide exactly the same.
    fn needs_quotes_reference(s: &str) -> bool {
        if s.is_empty() || s.trim() != s {
            return true;
        }
        let first = s.chars().next().unwrap_or(' ');
        if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
            return true;
        }
        if s.contains(": ") || s.contains(" #") || s.ends_with(':') || s.contains('\t') {
            return true;
        }
        if s.chars().any(|c| c.is_control() || c == '\u{feff}') {
            return true;
        }
        if s.starts_with("...") || s.starts_with("---") {
            return true;
        }
        if s.bytes().all(|b| {
            b.is_ascii_digit() || b == b':' || b == b'.' || b == b'_' || b == b'+' || b == b'-'
        }) && s.contains(':')
        {
            return true;
        }
        !matches!(resolve_plain(s), Ok(Value::String(ref r)) if r == s)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20000))]
        #[test]
        fn quoting_matches_the_reference_rule(
            s in "[-a-zA-Z0-9 :#._+~\\t\\n\u{7f}\u{85}\u{a0}\u{feff}é'\"?,\\[\\]{}&*!|>%@`]{0,8}"
        ) {
            proptest::prop_assert_eq!(needs_quotes(&s, false), needs_quotes_reference(&s), "{:?}", s);
        }
    }

    #[test]
    fn quoting_matches_the_reference_rule_on_special_words() {
        for s in [
            "true", "False", "yes", "No", "on", "OFF", "y", "n", "~", "null", "NULL", ".inf",
            "-.Inf", ".nan", "0644", "0x1F", "1_000", "1e3", "1:30", "_1:2", "+5", "-", "-a",
            "...x", "---", "a: b", "a #b", "a#b", "web", "falsey", "nulls",
        ] {
            assert_eq!(needs_quotes(s, false), needs_quotes_reference(s), "{s}");
        }
    }
}
