//! Turning YAML text into manifests, with the fast path for large renders: documents that are
//! byte-identical on both sides are matched by their text and never parsed (they cannot
//! differ after the same normalization). Pure functions over text; reading files is the
//! caller's job.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use thule_core::object::flatten_lists;
use thule_core::yaml::{ParseOptions, YamlError, parse_str, resolve_plain};
use thule_core::{Manifest, ManifestError, ObjectKey, Origin};

/// One YAML document of a stream, as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawDoc<'a> {
    /// Source label (file path) for errors and `source`.
    pub file: &'a str,
    /// The document's text, including its `---` line if any.
    pub text: &'a str,
    /// Line of the document's first line in the file, starting at 1.
    pub line: usize,
    /// Index of the document in the file, starting at 0.
    pub index: usize,
}

/// Why input could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// YAML syntax or dialect error (file:line:column).
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// A document is not a Kubernetes object.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// Split a YAML stream at its `---` document markers. A marker line can never be part of a
/// scalar (YAML forbids `---` at column 0 inside content), so this is exact.
pub fn split_documents<'a>(text: &'a str, file: &'a str) -> Vec<RawDoc<'a>> {
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let bytes = text.as_bytes();
    // Marker candidates: `---` at the start of the text or after a newline.
    let candidates = std::iter::once(0usize)
        .filter(|_| text.starts_with("---"))
        .chain(MARKER.find_iter(bytes).map(|i| i + 1));
    for pos in candidates {
        let rest = &bytes[pos + 3..];
        let is_marker = rest.is_empty() || matches!(rest[0], b'\n' | b'\r' | b' ' | b'\t');
        if !is_marker || pos == start {
            continue;
        }
        docs.push(RawDoc {
            file,
            text: &text[start..pos],
            line: start_line,
            index: docs.len(),
        });
        start_line += memchr::memchr_iter(b'\n', &bytes[start..pos]).count();
        start = pos;
    }
    if start < text.len() {
        docs.push(RawDoc {
            file,
            text: &text[start..],
            line: start_line,
            index: docs.len(),
        });
    }
    docs
}

static MARKER: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new("\n---"));

static SECRET: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new("Secret"));

/// Whether a document may be a Secret: some `Secret` in it is the value of a `kind` key, in
/// block (`kind: Secret`), quoted (`kind: "Secret"`), flow or JSON (`"kind": "Secret"`) form.
/// One pass over the text; a false positive only costs a parse.
fn may_hold_secret(text: &str) -> bool {
    let b = text.as_bytes();
    SECRET.find_iter(b).any(|at| {
        let after = b.get(at + 6).copied();
        let ends = matches!(
            after,
            None | Some(b'"' | b'\'' | b' ' | b'\n' | b'\r' | b'\t' | b',' | b'}' | b'#')
        );
        ends && is_kind_value(&b[..at])
    })
}

/// Whether `before` ends with `kind:` plus optional quotes and blanks, i.e. what follows is
/// the value of a `kind` key.
fn is_kind_value(before: &[u8]) -> bool {
    let mut end = before.len();
    let strip_quote = |end: &mut usize| {
        if *end > 0 && matches!(before[*end - 1], b'"' | b'\'') {
            *end -= 1;
        }
    };
    strip_quote(&mut end);
    while end > 0 && matches!(before[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    if end == 0 || before[end - 1] != b':' {
        return false;
    }
    end -= 1;
    strip_quote(&mut end);
    before[..end].ends_with(b"kind")
}

/// A fast non-cryptographic hash of a whole document: four independent FxHash-style lanes
/// over 32-byte blocks (so the multiplies overlap), folded at the end. Collisions are
/// harmless: matching compares the text.
fn fast_hash(b: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let word = |w: &[u8]| {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        u64::from_le_bytes(a)
    };
    let mut lanes = [b.len() as u64, K, K.rotate_left(17), K.rotate_left(31)];
    let mut blocks = b.chunks_exact(32);
    for block in &mut blocks {
        for (lane, w) in lanes.iter_mut().zip(block.chunks_exact(8)) {
            *lane = (lane.rotate_left(5) ^ word(w)).wrapping_mul(K);
        }
    }
    let mut h = lanes
        .iter()
        .fold(0u64, |h, &l| (h.rotate_left(5) ^ l).wrapping_mul(K));
    for &c in blocks.remainder() {
        h = (h.rotate_left(5) ^ u64::from(c)).wrapping_mul(K);
    }
    h
}

/// What matching identical documents needs to know of a desired document: a hash of its
/// text, and whether it may be matched at all (not blank, not possibly a Secret). Base
/// documents only need the hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DocDigest {
    hash: u64,
    matchable: bool,
}

/// Digest every desired document.
fn digest_documents(docs: &[RawDoc<'_>]) -> Vec<DocDigest> {
    docs.iter()
        .map(|d| DocDigest {
            hash: fast_hash(d.text.as_bytes()),
            matchable: !d.text.trim().is_empty() && !may_hold_secret(d.text),
        })
        .collect()
}

/// A hasher for keys that already are good hashes.
#[derive(Default)]
struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Drop documents whose exact text appears on both sides (as a multiset), returning the rest
/// of each side and the desired documents that were matched (identify them with
/// [`identify_unchanged`]). Secrets are never skipped, so their values always reach the
/// redaction set.
pub fn skip_identical<'a>(
    base: Vec<RawDoc<'a>>,
    desired: Vec<RawDoc<'a>>,
) -> (Vec<RawDoc<'a>>, Vec<RawDoc<'a>>, Vec<RawDoc<'a>>) {
    let hash_base = || -> Vec<u64> { base.iter().map(|d| fast_hash(d.text.as_bytes())).collect() };
    let bytes: usize = base.iter().chain(&desired).map(|d| d.text.len()).sum();
    // Large renders: hash the two sides on two threads.
    let (base_hashes, desired_digests) =
        if crate::par::threads_for(0, bytes, PARALLEL_MIN_BYTES) > 1 {
            std::thread::scope(|s| {
                let base_side = s.spawn(hash_base);
                let desired_digests = digest_documents(&desired);
                let base_hashes = base_side
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (base_hashes, desired_digests)
            })
        } else {
            (hash_base(), digest_documents(&desired))
        };
    skip_identical_digested(base, &base_hashes, desired, &desired_digests)
}

/// [`skip_identical`] with the base hashes and desired digests computed (one per document).
fn skip_identical_digested<'a>(
    base: Vec<RawDoc<'a>>,
    base_hashes: &[u64],
    desired: Vec<RawDoc<'a>>,
    desired_digests: &[DocDigest],
) -> (Vec<RawDoc<'a>>, Vec<RawDoc<'a>>, Vec<RawDoc<'a>>) {
    // Base documents by hash, lowest index last; each desired document takes the first
    // unmatched base document with the same text.
    let mut by_hash: HashMap<u64, Vec<usize>, std::hash::BuildHasherDefault<PassThrough>> =
        HashMap::with_capacity_and_hasher(base.len(), std::hash::BuildHasherDefault::default());
    for (i, &h) in base_hashes.iter().enumerate().rev() {
        by_hash.entry(h).or_default().push(i);
    }
    let mut base_skipped = vec![false; base.len()];
    let mut rest_desired = Vec::new();
    let mut skipped = Vec::new();
    for (d, g) in desired.into_iter().zip(desired_digests) {
        let twin = if g.matchable {
            by_hash.get_mut(&g.hash).and_then(|bucket| {
                let at = bucket.iter().rposition(|&i| base[i].text == d.text)?;
                Some(bucket.remove(at))
            })
        } else {
            None
        };
        match twin {
            Some(i) => {
                base_skipped[i] = true;
                skipped.push(d);
            }
            None => rest_desired.push(d),
        }
    }
    let rest_base = base
        .into_iter()
        .zip(base_skipped)
        .filter_map(|(d, skip)| (!skip).then_some(d))
        .collect();
    (rest_base, rest_desired, skipped)
}

/// An object whose document is byte-identical in base and desired: a no-op, known by its
/// identity alone, borrowed from the document's text where it can be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unchanged<'a> {
    /// `apiVersion`.
    pub api_version: Cow<'a, str>,
    /// `kind`.
    pub kind: Cow<'a, str>,
    /// `metadata.namespace` as written (`""` when absent; not resolved).
    pub namespace: Cow<'a, str>,
    /// `metadata.name`.
    pub name: Cow<'a, str>,
    /// The file of the desired document.
    pub file: &'a str,
    /// The line the object starts on, as a parse gives it.
    pub line: usize,
}

impl Unchanged<'_> {
    /// The identity, as [`Manifest::from_value`] gives it (namespace unresolved).
    pub fn key(&self) -> ObjectKey {
        ObjectKey::from_api_version(&self.api_version, &self.kind, &self.namespace, &self.name)
    }

    /// `file:line`, as a parsed manifest's origin reads.
    pub fn source(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

impl<'a> Unchanged<'a> {
    /// The identity of a parsed manifest of a document of `file`.
    fn of_manifest(m: Manifest, file: &'a str) -> Self {
        Unchanged {
            api_version: Cow::Owned(m.api_version),
            kind: Cow::Owned(m.key.kind),
            namespace: Cow::Owned(m.key.namespace),
            name: Cow::Owned(m.key.name),
            file,
            line: m.origin.line,
        }
    }
}

/// The objects of documents matched by [`skip_identical`], without parsing them: the
/// identity is read from the document's top-level `apiVersion` and `kind` lines and the
/// `name` and `namespace` lines of its `metadata` block. A document written any other way
/// (flow style, anchors, merge keys, a `List`, a value that is not a plain string) is
/// parsed instead; one that does not parse, or holds no object, contributes nothing.
pub fn identify_unchanged<'a>(docs: &[RawDoc<'a>]) -> Vec<Unchanged<'a>> {
    let opts = ParseOptions::default();
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        if let Some(u) = scan_identity(d) {
            out.push(u);
        } else if let Ok(ms) = parse_one(d, &opts) {
            out.extend(ms.into_iter().map(|m| Unchanged::of_manifest(m, d.file)));
        }
    }
    out
}

/// A scalar value written on a key's line, when it is certainly a string: plain (as the
/// YAML 1.1 resolver reads it) or quoted without escapes, with nothing after it.
fn line_string(value: &str) -> Option<&str> {
    let v = value.trim_matches(|c| c == ' ' || c == '\r');
    let first = *v.as_bytes().first()?;
    let s = match first {
        b'"' | b'\'' => {
            let inner = v.strip_prefix(first as char)?.strip_suffix(first as char)?;
            if inner.contains(first as char) || inner.contains('\\') {
                return None;
            }
            inner
        }
        _ => {
            let plain_ok = first.is_ascii_alphanumeric()
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/'));
            if !plain_ok || !matches!(resolve_plain(v), Ok(serde_json::Value::String(_))) {
                return None;
            }
            v
        }
    };
    (!s.is_empty()).then_some(s)
}

/// `key: rest` of a line whose key is a plain word (`apiVersion`, `app.kubernetes.io/name`);
/// `None` for anything else (quoted or complex keys, merge keys, sequences).
fn key_line(line: &str) -> Option<(&str, &str)> {
    let colon = line.find(':')?;
    let (key, rest) = (&line[..colon], &line[colon + 1..]);
    let key_ok = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/'));
    let rest_ok = rest.is_empty() || rest.starts_with(' ') || rest == "\r";
    (key_ok && rest_ok).then_some((key, rest))
}

/// The identity of a block-style document from its lines (see [`identify_unchanged`]);
/// `None` when the document is written otherwise.
fn scan_identity<'a>(d: &RawDoc<'a>) -> Option<Unchanged<'a>> {
    let mut api_version = None;
    let mut kind = None;
    let mut name = None;
    let mut namespace = None;
    let mut first_line = None;
    // Inside `metadata`: the indentation of its keys, once known.
    let mut in_metadata = false;
    let mut seen_metadata = false;
    let mut child_indent = 0usize;
    for (i, line) in d.text.split('\n').enumerate() {
        let bytes = line.as_bytes();
        // Nested lines outside `metadata` say nothing: skip them without looking further.
        if !in_metadata && bytes.first() == Some(&b' ') {
            continue;
        }
        if i == 0 && line.starts_with("---") {
            let rest = line[3..].trim_matches(|c| c == ' ' || c == '\t' || c == '\r');
            if rest.is_empty() || rest.starts_with('#') {
                continue;
            }
            return None;
        }
        let indent = bytes.iter().take_while(|&&b| b == b' ').count();
        let content = &line[indent..];
        if content.is_empty() || content == "\r" || content.starts_with('#') {
            continue;
        }
        if content.starts_with('\t') {
            return None;
        }
        // An item of a sequence written at its key's indentation (`finalizers:` then
        // `- x`): part of the key before it, whatever it holds.
        let item = content == "-" || content.starts_with("- ") || content.starts_with("-\r");
        if indent == 0 {
            if in_metadata && child_indent == 0 {
                return None; // `metadata:` with no keys
            }
            if item {
                if first_line.is_none() || in_metadata {
                    return None; // a sequence document, or a sequence as `metadata`
                }
                continue;
            }
            in_metadata = false;
            if api_version.is_some() && kind.is_some() && seen_metadata {
                break;
            }
            let (key, rest) = key_line(content)?;
            first_line.get_or_insert(i);
            let slot = match key {
                "apiVersion" => &mut api_version,
                "kind" => &mut kind,
                "metadata" => {
                    let rest = rest.trim_matches(|c| c == ' ' || c == '\r');
                    if seen_metadata || !rest.is_empty() {
                        return None;
                    }
                    seen_metadata = true;
                    in_metadata = true;
                    continue;
                }
                _ => continue,
            };
            if slot.is_some() {
                return None;
            }
            *slot = Some(line_string(rest)?);
        } else if in_metadata {
            if child_indent == 0 {
                child_indent = indent;
            }
            if indent < child_indent {
                return None;
            }
            if indent > child_indent || item {
                continue;
            }
            let (key, rest) = key_line(content)?;
            let slot = match key {
                "name" => &mut name,
                "namespace" => &mut namespace,
                _ => continue,
            };
            if slot.is_some() {
                return None;
            }
            *slot = Some(line_string(rest)?);
        }
    }
    let (api_version, kind, name) = (api_version?, kind?, name?);
    if kind == "List" || kind.ends_with("List") {
        return None;
    }
    Some(Unchanged {
        api_version: Cow::Borrowed(api_version),
        kind: Cow::Borrowed(kind),
        namespace: Cow::Borrowed(namespace.unwrap_or("")),
        name: Cow::Borrowed(name),
        file: d.file,
        line: d.line + first_line?,
    })
}

/// Parse documents into manifests (`List` kinds flattened, empty documents skipped).
///
/// Large inputs are parsed on one thread per core (documents are independent); the result,
/// and the error reported when several documents are bad, are those of a sequential parse.
///
/// # Errors
/// The first YAML or manifest error, naming file and line.
pub fn parse_documents(docs: &[RawDoc<'_>]) -> Result<Vec<Manifest>, InputError> {
    let opts = ParseOptions::default();
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    let threads = crate::par::threads_for(0, bytes, PARALLEL_MIN_BYTES)
        .min(crate::par::threads_for(0, docs.len(), 1));
    let (parsed, _) = crate::par::map_with(
        docs.iter().collect(),
        threads,
        || (),
        |(), d| parse_one(d, &opts),
    );
    let mut out = Vec::with_capacity(docs.len());
    for p in parsed {
        out.extend(p?);
    }
    Ok(out)
}

/// Below this many bytes of YAML, input passes stay on the calling thread.
const PARALLEL_MIN_BYTES: usize = 256 * 1024;

fn parse_one(d: &RawDoc<'_>, opts: &ParseOptions) -> Result<Vec<Manifest>, InputError> {
    let parsed = parse_str(d.text, d.file, opts).map_err(|mut e| {
        e.line += d.line - 1;
        e
    })?;
    let mut out = Vec::with_capacity(1);
    for (i, doc) in parsed.into_iter().enumerate() {
        if doc.value.is_null() {
            continue;
        }
        let line = d.line + doc.start.line.saturating_sub(1);
        for value in flatten_lists(doc.value) {
            let origin = Origin {
                project: String::new(),
                source: d.file.to_owned(),
                document: d.index + i,
                line,
            };
            out.push(Manifest::from_value(value, origin)?);
        }
    }
    Ok(out)
}

/// Split and parse a whole stream.
///
/// # Errors
/// As [`parse_documents`].
pub fn parse_stream(text: &str, file: &str) -> Result<Vec<Manifest>, InputError> {
    parse_documents(&split_documents(text, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_markers_and_keeps_lines() {
        let t = "a: 1\n---\nb: |\n  ---x\n--- # c\nc: 3\n";
        let d = split_documents(t, "f");
        assert_eq!(d.len(), 3);
        assert_eq!(d[1].line, 2);
        assert_eq!(d[2].line, 5);
        assert_eq!(d.iter().map(|d| d.text).collect::<String>(), t);
    }

    #[test]
    fn errors_name_the_file_line() {
        let t = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  name: c\n";
        let e = parse_stream(t, "x.yaml").unwrap_err().to_string();
        assert!(e.starts_with("x.yaml:9:"), "{e}");
    }

    #[test]
    fn identical_documents_are_skipped_once_each() {
        let a = split_documents("---\nx: 1\n---\nx: 1\n---\ny: 2\n", "a");
        let b = split_documents("---\nx: 1\n---\ny: 3\n", "b");
        let (ra, rb, same) = skip_identical(a, b);
        assert_eq!(same.len(), 1);
        assert_eq!(same[0].text, "---\nx: 1\n");
        assert_eq!(ra.len(), 2);
        assert_eq!(rb.len(), 1);
    }

    #[test]
    fn secrets_are_recognised_in_every_spelling_and_never_skipped() {
        for doc in [
            "kind: Secret\n",
            "apiVersion: v1\nkind: 'Secret'\ndata: {}\n",
            "{\"apiVersion\": \"v1\", \"kind\": \"Secret\"}",
            "{apiVersion: v1, kind: Secret, data: {a: Yg==}}",
            "kind:   Secret # comment\n",
            "items:\n- kind: Secret\n",
        ] {
            assert!(may_hold_secret(doc), "{doc}");
            let text = format!("---\n{doc}");
            let (rb, rd, same) =
                skip_identical(split_documents(&text, "b"), split_documents(&text, "d"));
            assert_eq!((rb.len(), rd.len(), same.len()), (1, 1, 0), "{doc}");
        }
        for doc in [
            "kind: SecretStore\n",
            "kind: ConfigMap\ndata:\n  note: see the Secret\n",
            "kind: ExternalSecret\n",
            "metadata:\n  name: Secret\n",
        ] {
            assert!(!may_hold_secret(doc), "{doc}");
        }
    }

    #[test]
    fn hash_sees_every_byte() {
        let base: Vec<u8> = (0..200u8).collect();
        let h = fast_hash(&base);
        for i in 0..base.len() {
            let mut b = base.clone();
            b[i] ^= 1;
            assert_ne!(fast_hash(&b), h, "byte {i}");
        }
        assert_ne!(fast_hash(&base[..199]), h);
    }

    #[test]
    fn equal_hashes_with_different_texts_never_match() {
        let base = split_documents("---\nx: 1\n---\ny: 2\n", "b");
        let desired = split_documents("---\ny: 2\n---\nz: 3\n", "d");
        let same = DocDigest {
            hash: 7,
            matchable: true,
        };
        let (rb, rd, n) = skip_identical_digested(base, &[7, 7], desired, &[same, same]);
        assert_eq!(n.len(), 1);
        assert_eq!(
            rb.iter().map(|d| d.text).collect::<Vec<_>>(),
            ["---\nx: 1\n"]
        );
        assert_eq!(
            rd.iter().map(|d| d.text).collect::<Vec<_>>(),
            ["---\nz: 3\n"]
        );
    }

    /// What a full parse says a document holds, as [`Unchanged`] entries.
    fn parsed<'a>(d: &RawDoc<'a>) -> Vec<(ObjectKey, String, String)> {
        parse_one(d, &ParseOptions::default())
            .map(|ms| {
                ms.into_iter()
                    .map(|m| (m.key, m.api_version, m.origin.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What [`identify_unchanged`] says, in the same terms.
    fn identified(d: &RawDoc<'_>) -> Vec<(ObjectKey, String, String)> {
        identify_unchanged(&[*d])
            .into_iter()
            .map(|u| (u.key(), u.api_version.to_string(), u.source()))
            .collect()
    }

    #[test]
    fn unchanged_documents_are_identified_as_a_parse_would() {
        // (document, read from its lines without parsing)
        let cases: &[(&str, bool)] = &[
            // kubectl/kustomize output: keys sorted, labels before the name.
            (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  labels:\n    app: web\n    name: not-this\n  name: web\n  namespace: shop\nspec:\n  replicas: 1\n",
                true,
            ),
            // Helm output: a source comment first; data before kind.
            (
                "---\n# Source: chart/templates/cm.yaml\napiVersion: v1\ndata:\n  name: not-this\n  a: |\n    name: nor-this\nkind: ConfigMap\nmetadata:\n  name: \"web-config\"\n",
                true,
            ),
            (
                "--- # comment\napiVersion: v1\nkind: Namespace\nmetadata:\n    name: 'shop'\n",
                true,
            ),
            (
                "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: crlf\r\n",
                true,
            ),
            (
                "kind: Service\nmetadata:\n  annotations:\n    x: |\n      namespace: no\n  name: svc\napiVersion: v1\n",
                true,
            ),
            // Written otherwise: parsed instead.
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flow}\n",
                false,
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web # trailing comment\n",
                false,
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"esc\\u0041\"\n",
                false,
            ),
            (
                "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\n",
                false,
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 1234\n",
                false,
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yes\n",
                false,
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  <<: {name: merged}\n",
                false,
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: &m\n  name: anchored\n",
                false,
            ),
            (
                "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"json\"}}\n",
                false,
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n",
                false,
            ),
            ("# only a comment\n", false),
            ("- apiVersion: v1\n  kind: ConfigMap\n", false),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n- name: x\n",
                false,
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: x\n",
                false,
            ),
        ];
        for &(text, fast) in cases {
            let stream = format!("---\nfirst: doc\n{text}");
            let docs = split_documents(&stream, "f.yaml");
            let d = docs.last().expect("a document");
            assert_eq!(scan_identity(d).is_some(), fast, "{text}");
            assert_eq!(identified(d), parsed(d), "{text}");
        }
    }
}
