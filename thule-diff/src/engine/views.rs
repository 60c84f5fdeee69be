//! The per-object views: masking sensitive values (pass 1, which completes the taint set),
//! then the text diff, JSON patch and change pointers, scrubbed with the complete taint set
//! (pass 2).

use serde_json::Value;
use thule_core::ObjectKey;
use thule_core::config::Applier;

use super::draft::Draft;
use super::options::{DiffOptions, FingerprintKey};
use crate::input::Unchanged;
use crate::mask;
use crate::merge::{self, RawChange, RawOp, sort_lists};
use crate::path::{Seg, display};
use crate::plan::{Action, ApplierSource, Change, ChangeOrigin, Fingerprint, ObjectPlan, Op};
use crate::redact::{self, Redactor};
use crate::schema::{self, Kind, ListType};
use crate::yamlout::to_yaml;

/// A draft with masked change values and masked before/after documents.
pub(super) struct Masked {
    draft: Draft,
    changes: Vec<Change>,
}

/// Mask a listed draft's documents and changes; the masked values join the taint set.
pub(super) fn mask_draft(mut d: Draft, redactor: &mut Redactor, opts: &DiffOptions) -> Masked {
    let kind_owned = (d.key.group.clone(), d.key.kind.clone());
    let kind = Kind::new(&kind_owned.0, &kind_owned.1);
    let mut seen = Vec::new();
    if d.action == Action::Noop && d.detail.is_none() && d.changes.is_empty() {
        // A plain no-op has no views to show: its two sides are equal.
        d.before_doc = None;
        d.after_doc = None;
    }
    let fp_key = opts
        .fingerprint_key
        .as_ref()
        .filter(|_| !d.encrypted && kind.group.is_empty() && kind.kind == "Secret");
    // Documents for the text diff and patch view: list-sorted, sensitive values masked.
    let mut before = d.before_doc.take();
    let mut after = d.after_doc.take();
    for doc in [&mut before, &mut after].into_iter().flatten() {
        sort_lists(kind, doc);
        if let Value::Object(m) = doc
            && !d.api_version.is_empty()
        {
            m.insert(
                "apiVersion".to_owned(),
                Value::String(d.api_version.clone()),
            );
        }
    }
    mask::mask_pair(kind, &[], before.as_mut(), after.as_mut(), &mut seen);
    let mut raw_changes = std::mem::take(&mut d.changes);
    raw_changes.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    let docs = (before.as_ref(), after.as_ref());
    let changes = raw_changes
        .into_iter()
        .map(|change| {
            let fingerprint = fp_key.and_then(|k| fingerprint(k, &change.0));
            let mut c = mask_change(kind, change, docs, &mut seen);
            c.fingerprint = fingerprint.filter(|_| c.sensitive);
            c
        })
        .collect();
    for s in seen {
        redactor.add(&s);
    }
    d.before_doc = before;
    d.after_doc = after;
    Masked { draft: d, changes }
}

/// One change, its values masked (a sensitive leaf entirely), with its pointer into the
/// (list-sorted) document it lives in.
fn mask_change(
    kind: Kind<'_>,
    (rc, origin, note): (RawChange, ChangeOrigin, Option<String>),
    (before, after): (Option<&Value>, Option<&Value>),
    seen: &mut Vec<String>,
) -> Change {
    let leaf_sensitive = [&rc.before, &rc.after]
        .into_iter()
        .flatten()
        .any(|v| !v.is_object() && !v.is_array() && redact::is_sensitive(kind, &rc.path, v));
    let pointer = match rc.op {
        RawOp::Add => after.map(|a| pointer_of(kind, a, &rc.path)),
        _ => before.map(|b| pointer_of(kind, b, &rc.path)),
    }
    .unwrap_or_default();
    let (before_v, after_v) = if leaf_sensitive {
        for v in [&rc.before, &rc.after].into_iter().flatten() {
            if let Value::String(s) = v {
                seen.push(s.clone());
            }
        }
        (
            rc.before.as_ref().map(|_| Value::Null),
            rc.after.as_ref().map(|_| Value::Null),
        )
    } else {
        let (mut b, mut a) = (rc.before.clone(), rc.after.clone());
        mask::mask_pair(kind, &rc.path, b.as_mut(), a.as_mut(), seen);
        (b, a)
    };
    Change {
        path: display(&rc.path),
        op: match rc.op {
            RawOp::Add => Op::Add,
            RawOp::Remove => Op::Remove,
            RawOp::Replace => Op::Replace,
        },
        before: before_v,
        after: after_v,
        origin,
        sensitive: leaf_sensitive,
        pointer,
        note,
        fingerprint: None,
        keyed: rc.path,
    }
}

/// The fingerprint of a value of a Secret's `data` (spec §6.2 rule 4): the first 4 bytes,
/// in hex, of HMAC-SHA256 under the operator's key of `thule/fp/v1`, a zero byte and the
/// decoded value. Deliberately not bound to the object or key (unlike the spec's sketch):
/// reviewers use it to see that two keys, or two Secrets, now hold the same value. The key
/// is what keeps it from being checked against guesses; operators who do not want
/// environments compared use a key per environment.
fn value_fingerprint(key: &FingerprintKey, value: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key.bytes()) else {
        return String::new();
    };
    mac.update(b"thule/fp/v1\0");
    mac.update(value);
    hex::encode(&mac.finalize().into_bytes()[..4])
}

/// Fingerprints of a change to one key of a Secret's `data` (after normalization every
/// value there is base64 of the bytes the API server stores).
fn fingerprint(key: &FingerprintKey, rc: &RawChange) -> Option<Fingerprint> {
    let data_key = matches!(rc.path.as_slice(), [Seg::Field(f), Seg::Field(_)] if f == "data");
    if !data_key {
        return None;
    }
    let fp = |v: Option<&Value>| -> Option<String> {
        let bytes = crate::normalize::decode_base64(v?.as_str()?)?;
        Some(value_fingerprint(key, &bytes))
    };
    let (before, after) = (fp(rc.before.as_ref()), fp(rc.after.as_ref()));
    (before.is_some() || after.is_some()).then_some(Fingerprint { before, after })
}

/// The RFC 6901 pointer of a keyed path in a (list-sorted) document; as far as it exists.
fn pointer_of(kind: Kind<'_>, doc: &Value, path: &[Seg]) -> String {
    let mut out = String::new();
    let mut cur = doc;
    let mut fields: Vec<String> = Vec::new();
    for seg in path {
        match (seg, cur) {
            (Seg::Field(n), Value::Object(m)) => {
                out.push('/');
                out.push_str(&thule_core::yaml::escape_pointer_token(n));
                fields.push(n.clone());
                match m.get(n) {
                    Some(c) => cur = c,
                    None => return out,
                }
            }
            (_, Value::Array(items)) => {
                let fs: Vec<&str> = fields.iter().map(String::as_str).collect();
                let keys: Vec<String> = match schema::list_type(kind, &fs) {
                    ListType::Map(k) => k.iter().map(|s| (*s).to_owned()).collect(),
                    _ => crate::path::key_fields(seg),
                };
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                match crate::path::find_item(items, seg, &keys) {
                    Some(i) => {
                        out.push_str(&format!("/{i}"));
                        cur = &items[i];
                    }
                    None => {
                        out.push_str("/-");
                        return out;
                    }
                }
            }
            _ => return out,
        }
    }
    out
}

/// The unified YAML diff of the two documents (empty when their YAML is equal).
fn text_view(before: Option<&Value>, after: Option<&Value>, live: bool, context: usize) -> String {
    let by = before.map(to_yaml).unwrap_or_default();
    let ay = after.map(to_yaml).unwrap_or_default();
    if by == ay {
        return String::new();
    }
    similar::TextDiff::from_lines(&by, &ay)
        .unified_diff()
        .context_radius(context)
        .header(
            if live { "live" } else { "base" },
            if live { "predicted" } else { "desired" },
        )
        .to_string()
}

/// The RFC 6902 patch from one document to the other (a missing one is `{}`).
fn patch_view(before: Option<&Value>, after: Option<&Value>) -> Vec<Value> {
    let empty = merge::empty_object();
    let patch = json_patch::diff(before.unwrap_or(&empty), after.unwrap_or(&empty));
    match serde_json::to_value(&patch) {
        Ok(Value::Array(ops)) => ops,
        _ => Vec::new(),
    }
}

/// The plan entry of an object whose document is byte-identical in both renders and was
/// never parsed: a plain no-op.
pub(super) fn unchanged_object(
    key: ObjectKey,
    u: &Unchanged<'_>,
    (applier, applier_source): (Applier, ApplierSource),
    redactor: &Redactor,
) -> ObjectPlan {
    let (mut name, mut source) = (key.name.clone(), u.source());
    redactor.scrub_in_place(&mut name);
    redactor.scrub_in_place(&mut source);
    ObjectPlan {
        api_version: u.api_version.to_string(),
        applier,
        applier_source,
        kind: key.kind.clone(),
        group: key.group.clone(),
        namespace: key.namespace.clone(),
        name,
        action: Action::Noop,
        detail: None,
        origin: ChangeOrigin::Mr,
        source: Some(source),
        changes: Vec::new(),
        risks: Vec::new(),
        notes: Vec::new(),
        text_diff: String::new(),
        json_patch: Vec::new(),
        key,
        state: None,
    }
}

/// The plan entry: views rendered, every text scrubbed with the complete taint set.
pub(super) fn render_object(m: Masked, redactor: &Redactor, opts: &DiffOptions) -> ObjectPlan {
    let Masked {
        draft: d,
        mut changes,
    } = m;
    let (before, after) = (d.before_doc.as_ref(), d.after_doc.as_ref());
    let (mut text_diff, mut json_patch) = if before.is_none() && after.is_none() {
        (String::new(), Vec::new())
    } else {
        let text = text_view(before, after, d.state_live, opts.context_lines);
        let patch = if opts.patch_view {
            patch_view(before, after)
        } else {
            Vec::new()
        };
        (text, patch)
    };
    redactor.scrub_in_place(&mut text_diff);
    for p in &mut json_patch {
        redactor.scrub_value(p);
    }
    for c in &mut changes {
        redactor.scrub_in_place(&mut c.path);
        redactor.scrub_in_place(&mut c.pointer);
        for v in [&mut c.before, &mut c.after].into_iter().flatten() {
            redactor.scrub_value(v);
        }
    }
    let mut notes = d.notes;
    for n in &mut notes {
        redactor.scrub_in_place(n);
    }
    let state = opts.keep_state.then(|| Box::new(d.state));
    ObjectPlan {
        api_version: d.api_version,
        applier: d.applier,
        applier_source: d.applier_source,
        kind: d.key.kind.clone(),
        group: d.key.group.clone(),
        namespace: d.key.namespace.clone(),
        name: redactor.scrub(&d.key.name),
        action: d.action,
        detail: d.detail,
        origin: d.origin,
        source: d.source.map(|s| redactor.scrub(&s)),
        changes,
        risks: Vec::new(),
        notes,
        text_diff,
        json_patch,
        key: d.key,
        state,
    }
}
