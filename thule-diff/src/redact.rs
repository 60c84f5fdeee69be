//! Secret handling (spec §6.2 rules 1, 3, 6; §6.3 detectors).
//!
//! - Values at sensitive paths (`Secret.data`, env values and CR/ConfigMap keys that look like
//!   credentials, values that look like tokens or keys) are never emitted: changes say only
//!   added/removed/changed, printed objects show a fixed marker. No value, base64 or length.
//! - Every secret value seen (decoded and as written, at least 6 bytes) joins a taint set;
//!   every emitted string is scrubbed of those values (`[REDACTED]`), error text included.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::path::{Seg, key_fields};
use crate::schema::Kind;

/// Marker printed in place of a sensitive value that is the same on both sides.
pub const MARK_SENSITIVE: &str = "[sensitive]";
/// Marker for a sensitive value's old side when it changes.
pub const MARK_BEFORE: &str = "[sensitive: before]";
/// Marker for a sensitive value's new side when it changes.
pub const MARK_AFTER: &str = "[sensitive: after]";
/// What tainted substrings are replaced with.
pub const SCRUBBED: &str = "[REDACTED]";

/// The shortest value that is scrubbed from free text.
pub const MIN_SCRUB_LEN: usize = 6;

static VALUE_PATTERNS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
        r"|\b(AKIA|ASIA)[0-9A-Z]{16}\b",
        r"|\bgh[pousr]_[A-Za-z0-9]{36,}",
        r"|\bgithub_pat_[A-Za-z0-9_]{20,}",
        r"|\bglpat-[A-Za-z0-9_-]{20,}",
        r"|\bxox[abprs]-[A-Za-z0-9-]{10,}",
        r"|\bAIza[0-9A-Za-z_-]{35}",
        r"|\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*",
        r"|[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:[^/\s@]+@",
    ))
    .unwrap_or_else(|_| Regex::new("$^").unwrap_or_else(|_| unreachable!()))
});

/// Split camelCase / PascalCase into lower-case tokens on `_ . -` and case changes
/// (`dbPassword` → `db`, `password`; `APIKey` → `api`, `key`).
fn tokens(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if matches!(c, '_' | '.' | '-' | '/' | ' ') {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if c.is_uppercase() && !cur.is_empty() {
            let prev_lower = chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit();
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let prev_upper = chars[i - 1].is_uppercase();
            if prev_lower || (prev_upper && next_lower) {
                out.push(std::mem::take(&mut cur));
            }
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Whether a key or env name looks like it holds a credential (the §6.3 key regex).
pub fn sensitive_key(name: &str) -> bool {
    let t = tokens(name);
    let single = |s: &str| {
        matches!(
            s,
            "pass"
                | "password"
                | "passwd"
                | "passphrase"
                | "secret"
                | "token"
                | "apikey"
                | "accesskey"
                | "privatekey"
                | "clientsecret"
                | "credential"
                | "credentials"
                | "auth"
                | "bearer"
                | "session"
                | "cookie"
                | "signature"
                | "dsn"
                | "pwd"
                | "connstr"
                | "connstring"
                | "connectionstring"
        )
    };
    if t.iter().any(|s| single(s)) {
        return true;
    }
    t.windows(2).any(|w| {
        matches!(
            (w[0].as_str(), w[1].as_str()),
            ("api" | "access" | "private", "key")
                | ("client", "secret")
                | ("conn" | "connection", "str" | "string")
        )
    })
}

/// A key that names a reference, not a value (`secretName: db`, `tokenPath: /var/run/x`).
fn reference_key(name: &str, value: &str) -> bool {
    let ref_suffix = [
        "Name",
        "Ref",
        "Path",
        "File",
        "Selector",
        "SecretName",
        "SecretRef",
        "KeyRef",
    ]
    .iter()
    .any(|s| name.ends_with(s));
    let dns_or_path = !value.is_empty()
        && (value.starts_with('/')
            || value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'));
    ref_suffix && dns_or_path
}

/// Whether a string is a SOPS-encrypted value (`ENC[AES256_GCM,data:…,iv:…,tag:…,type:str]`).
/// Ciphertext is treated as a secret value: never printed, never its length.
pub fn is_ciphertext(s: &str) -> bool {
    s.starts_with("ENC[") && s.ends_with(']') && s.contains(",data:")
}

/// Whether the kind is a Sealed Secrets `SealedSecret` (its `spec.encryptedData` is
/// ciphertext).
pub fn sealed_secret(kind: Kind<'_>) -> bool {
    kind.group == "bitnami.com" && kind.kind == "SealedSecret"
}

/// Whether a string looks like a credential by itself (PEM keys, cloud tokens, JWTs, URLs
/// with passwords, SOPS ciphertext).
pub fn sensitive_value(s: &str) -> bool {
    s.len() >= 10 && (is_ciphertext(s) || VALUE_PATTERNS.is_match(s))
}

/// What [`is_sensitive`] reads of a path; walkers that do not build [`Seg`] paths fill it in
/// directly (see [`PathFacts::of`] for the meaning of each field).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathFacts<'a> {
    /// The first segment, when it is a field.
    pub first: Option<&'a str>,
    /// The second segment, when it and the first are fields.
    pub second: Option<&'a str>,
    /// How many segments the path has.
    pub len: usize,
    /// The last segment, when it is a field.
    pub last: Option<&'a str>,
    /// When the segment before the last is a list item keyed by `name` alone
    /// (`env[name=X].value`): that name. Only read when the last field is `value`.
    pub item_name: Option<std::borrow::Cow<'a, str>>,
}

impl<'a> PathFacts<'a> {
    /// The facts of a path.
    pub fn of(path: &'a [Seg]) -> Self {
        let field = |s: Option<&'a Seg>| match s {
            Some(Seg::Field(n)) => Some(n.as_str()),
            _ => None,
        };
        let last = field(path.last());
        let item_name = if last == Some("value") && path.len() >= 2 {
            match path.get(path.len() - 2) {
                Some(key @ Seg::Key(json)) if key_fields(key) == ["name"] => {
                    match serde_json::from_str::<Value>(json) {
                        Ok(Value::Object(m)) => m
                            .get("name")
                            .and_then(Value::as_str)
                            .map(|n| std::borrow::Cow::Owned(n.to_owned())),
                        _ => None,
                    }
                }
                _ => None,
            }
        } else {
            None
        };
        let first = field(path.first());
        Self {
            first,
            second: first.and_then(|_| field(path.get(1))),
            len: path.len(),
            last,
            item_name,
        }
    }
}

/// Whether the scalar at `path` of an object of `kind` is sensitive.
pub fn is_sensitive(kind: Kind<'_>, path: &[Seg], value: &Value) -> bool {
    is_sensitive_at(kind, &PathFacts::of(path), value)
}

/// [`is_sensitive`] on the facts of a path.
pub fn is_sensitive_at(kind: Kind<'_>, at: &PathFacts<'_>, value: &Value) -> bool {
    let secret_data = kind.group.is_empty()
        && kind.kind == "Secret"
        && matches!(at.first, Some("data" | "stringData"))
        && at.len >= 2;
    let Value::String(s) = value else {
        // Non-string Secret data is still Secret data.
        return secret_data;
    };
    if secret_data {
        return true;
    }
    // Ciphertext: SealedSecret encrypted data, the data keys in a SOPS block.
    if sealed_secret(kind) && at.first == Some("spec") && at.second == Some("encryptedData") {
        return at.len >= 3;
    }
    let last = at.last.unwrap_or("");
    if at.first == Some("sops") && last == "enc" {
        return true;
    }
    // env[name=X].value
    if last == "value" && at.len >= 2 && at.item_name.as_deref().is_some_and(sensitive_key) {
        return true;
    }
    let keyed_kind = !kind.builtin || (kind.group.is_empty() && kind.kind == "ConfigMap");
    if keyed_kind && at.first != Some("metadata") && sensitive_key(last) && !reference_key(last, s)
    {
        return true;
    }
    sensitive_value(s)
}

/// The taint set: secret values that must not appear in any output text.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    values: Vec<String>,
    /// One automaton over every value (built by [`Redactor::finish`]): texts with no tainted
    /// value, nearly all of them, are passed over in one scan, however many values there are
    /// and however long the text (a plan listing every object of a large render).
    matcher: Option<aho_corasick::AhoCorasick>,
}

impl Redactor {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a value (ignored below [`MIN_SCRUB_LEN`] bytes).
    pub fn add(&mut self, value: &str) {
        if value.len() >= MIN_SCRUB_LEN && !value.contains(SCRUBBED) {
            self.values.push(value.to_owned());
            self.matcher = None;
        }
    }

    /// Take over every value of `other` (the taint set of another pass over other objects).
    pub fn absorb(&mut self, other: Redactor) {
        self.values.extend(other.values);
        self.matcher = None;
    }

    /// Sort longest first and drop duplicates; call after the last [`Redactor::add`].
    pub fn finish(&mut self) {
        self.values
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        self.values.dedup();
        self.matcher = if self.values.is_empty() {
            None
        } else {
            aho_corasick::AhoCorasick::new(&self.values).ok()
        };
    }

    /// Whether no value is tainted.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Whether `text` holds a tainted value.
    fn tainted(&self, text: &str) -> bool {
        match &self.matcher {
            Some(m) => m.is_match(text),
            None => self.values.iter().any(|v| text.contains(v.as_str())),
        }
    }

    /// Replace every tainted value in `text`.
    pub fn scrub(&self, text: &str) -> String {
        if !self.tainted(text) {
            return text.to_owned();
        }
        let mut out = text.to_owned();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), SCRUBBED);
            }
        }
        out
    }

    /// Scrub in place; returns whether anything changed.
    pub fn scrub_in_place(&self, text: &mut String) -> bool {
        if self.tainted(text) {
            *text = self.scrub(text);
            true
        } else {
            false
        }
    }

    /// Scrub every string (and map key) inside a JSON value.
    pub fn scrub_value(&self, v: &mut Value) {
        if self.values.is_empty() {
            return;
        }
        match v {
            Value::String(s) => {
                self.scrub_in_place(s);
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.scrub_value(i)),
            Value::Object(m) => {
                let needs_key_scrub = m.keys().any(|k| self.tainted(k));
                if needs_key_scrub {
                    let old = std::mem::take(m);
                    for (k, mut c) in old {
                        self.scrub_value(&mut c);
                        m.insert(self.scrub(&k), c);
                    }
                } else {
                    m.values_mut().for_each(|c| self.scrub_value(c));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_regex_matches_credentials_not_references() {
        for k in [
            "password",
            "DB_PASSWORD",
            "dbPassword",
            "APIKey",
            "api_key",
            "clientSecret",
            "github-token",
            "connectionString",
        ] {
            assert!(sensitive_key(k), "{k}");
        }
        for k in [
            "name",
            "image",
            "replicas",
            "tokenizer",
            "passage",
            "author",
        ] {
            assert!(!sensitive_key(k), "{k}");
        }
        assert!(reference_key("passwordSecretRef", "db-creds"));
        assert!(!reference_key("existingSecret", "db-creds"));
    }

    #[test]
    fn scrub_finds_values_with_and_without_the_automaton() {
        let mut r = Redactor::new();
        r.add("s3cr3t-value");
        r.add("a.b*c(d)");
        let before_finish = r.scrub("x s3cr3t-value y a.b*c(d) z");
        r.finish();
        assert!(r.matcher.is_some());
        let after = r.scrub("x s3cr3t-value y a.b*c(d) z");
        assert_eq!(before_finish, after);
        assert_eq!(after, "x [REDACTED] y [REDACTED] z");
        assert_eq!(r.scrub("a.bxc(d)"), "a.bxc(d)", "values are literals");
        let mut s = "no secret here".to_owned();
        assert!(!r.scrub_in_place(&mut s));
    }

    #[test]
    fn scrub_replaces_longest_first() {
        let mut r = Redactor::new();
        r.add("hunter2x");
        r.add("hunter2xyz");
        r.add("abc");
        r.finish();
        assert_eq!(
            r.scrub("a hunter2xyz b hunter2x c abc"),
            "a [REDACTED] b [REDACTED] c abc"
        );
    }
}
