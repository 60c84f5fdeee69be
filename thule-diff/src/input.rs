//! Turning YAML text into manifests, with the fast path for large renders: documents that are
//! byte-identical on both sides are matched by their text and never parsed (they cannot
//! differ after the same normalization). Pure functions over text; reading files is the
//! caller's job.

use std::collections::HashMap;
use std::sync::LazyLock;

use thule_core::object::flatten_lists;
use thule_core::yaml::{ParseOptions, YamlError, parse_str};
use thule_core::{Manifest, ManifestError, Origin};

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
/// of each side and how many were matched. Secrets are never skipped, so their values always
/// reach the redaction set.
pub fn skip_identical<'a>(
    base: Vec<RawDoc<'a>>,
    desired: Vec<RawDoc<'a>>,
) -> (Vec<RawDoc<'a>>, Vec<RawDoc<'a>>, usize) {
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
) -> (Vec<RawDoc<'a>>, Vec<RawDoc<'a>>, usize) {
    // Base documents by hash, lowest index last; each desired document takes the first
    // unmatched base document with the same text.
    let mut by_hash: HashMap<u64, Vec<usize>, std::hash::BuildHasherDefault<PassThrough>> =
        HashMap::with_capacity_and_hasher(base.len(), std::hash::BuildHasherDefault::default());
    for (i, &h) in base_hashes.iter().enumerate().rev() {
        by_hash.entry(h).or_default().push(i);
    }
    let mut base_skipped = vec![false; base.len()];
    let mut rest_desired = Vec::new();
    let mut skipped = 0;
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
                skipped += 1;
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
        let (ra, rb, n) = skip_identical(a, b);
        assert_eq!(n, 1);
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
            let (rb, rd, n) =
                skip_identical(split_documents(&text, "b"), split_documents(&text, "d"));
            assert_eq!((rb.len(), rd.len(), n), (1, 1, 0), "{doc}");
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
        assert_eq!(n, 1);
        assert_eq!(
            rb.iter().map(|d| d.text).collect::<Vec<_>>(),
            ["---\nx: 1\n"]
        );
        assert_eq!(
            rd.iter().map(|d| d.text).collect::<Vec<_>>(),
            ["---\nz: 3\n"]
        );
    }
}
