//! Normalization and canonicalization (spec §3), applied identically to `D0`, `D1`, `L` and
//! the baseline `O`: strip server-owned fields, inject tool metadata, canonicalize values
//! (Quantity, numbers, base64, Secret `stringData`), default key fields and apply the
//! empty/null rules.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use crate::path::{canonical_number, item_key};
use crate::quantity::Quantity;
use crate::schema::{self, Kind, ListType, QuantityPath};

/// Which input a value comes from; desired sides get tool metadata and are type-checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// `D0`, `D1` or a baseline: what the applier sends.
    Desired,
    /// `L`: what the API server returned.
    Live,
}

/// Context for normalizing one object.
#[derive(Clone, Debug, Default)]
pub struct NormalizeContext {
    /// Resolved namespace (`""` for cluster-scoped objects).
    pub namespace: String,
    /// Whether the kind is cluster-scoped.
    pub cluster_scoped: bool,
    /// Labels the applier adds to every object it applies (desired sides only).
    pub inject_labels: Vec<(String, String)>,
    /// Annotations the applier adds to every object it applies (desired sides only).
    pub inject_annotations: Vec<(String, String)>,
    /// Annotation keys the applier strips from what it applies.
    pub strip_annotations: Vec<String>,
    /// Label keys the applier strips from what it applies.
    pub strip_labels: Vec<String>,
}

/// A normalized object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Normalized {
    /// The object, ready to merge and compare.
    pub value: Value,
    /// Why the object cannot be applied as written (desired sides only): a non-string label,
    /// a duplicate or missing list-map key, invalid base64.
    pub invalid: Vec<String>,
    /// Duplicate map-list keys found (reported as invalid under server-side apply).
    pub duplicate_keys: Vec<String>,
    /// Remarks (`object is terminating`).
    pub notes: Vec<String>,
    /// Secret values seen (decoded and as written), for the redaction set.
    pub secrets: Vec<String>,
}

const STRIP_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "selfLink",
    "managedFields",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
];

const STRIP_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deprecated.daemonset.template.generation",
];

const STRIP_ANNOTATION_PREFIXES: &[&str] = &[
    "pv.kubernetes.io/",
    "volume.kubernetes.io/",
    "volume.beta.kubernetes.io/",
];

fn b64_lenient() -> GeneralPurpose {
    GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

/// Decode base64 leniently (whitespace ignored, padding optional).
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    b64_lenient().decode(compact.as_bytes()).ok()
}

/// Encode bytes as standard padded base64.
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Whether an object as rendered is SOPS-encrypted: it has a top-level `sops` mapping.
pub fn is_sops(obj: &Value) -> bool {
    obj.get("sops").is_some_and(Value::is_object)
}

/// Normalize one object.
pub fn normalize(obj: &Value, kind: Kind<'_>, side: Side, ctx: &NormalizeContext) -> Normalized {
    let mut out = Normalized::default();
    let Some(src) = obj.as_object() else {
        out.value = obj.clone();
        return out;
    };
    let secret = kind.group.is_empty() && kind.kind == "Secret";
    let sops = is_sops(obj);
    let mut top = Map::new();
    let mut fields: Vec<&str> = Vec::with_capacity(16);
    for (k, v) in src {
        match k.as_str() {
            "apiVersion" | "status" => {}
            // Secret data as the API server stores it: `null` is an empty value, not an
            // absent key, so it is kept for `secret_data`.
            "data" | "stringData" if secret => {
                top.insert(k.clone(), v.clone());
            }
            "metadata" => {
                if v.get("deletionTimestamp").is_some_and(|t| !t.is_null()) {
                    out.notes.push("object is terminating".to_owned());
                }
                fields.push("metadata");
                if let Some(m) = canon(v, kind, side, &mut fields, &mut out) {
                    top.insert(k.clone(), m);
                }
                fields.pop();
            }
            _ => {
                fields.push(k.as_str());
                if let Some(c) = canon(v, kind, side, &mut fields, &mut out) {
                    top.insert(k.clone(), c);
                }
                fields.pop();
            }
        }
    }
    fix_metadata(&mut top, side, ctx, &mut out);
    if let Some(Value::Object(spec)) = top.get_mut("spec") {
        for holder in ["template"] {
            if let Some(Value::Object(ann)) = spec
                .get_mut(holder)
                .and_then(|t| t.get_mut("metadata"))
                .and_then(|m| m.get_mut("annotations"))
            {
                ann.remove("kubectl.kubernetes.io/restartedAt");
            }
        }
    }
    if secret && !sops {
        secret_data(&mut top, side, &mut out);
    }
    if sops || crate::redact::sealed_secret(kind) {
        for (k, v) in &top {
            collect_ciphertexts(kind, k, v, &mut out.secrets);
        }
        out.secrets.retain(|s| s.len() >= 6);
    }
    if kind.kind == "ClusterRole"
        && kind.group == "rbac.authorization.k8s.io"
        && top.get("aggregationRule").is_some_and(|a| !a.is_null())
    {
        // Aggregated rules are written by the aggregation controller.
        top.remove("rules");
    }
    if side == Side::Desired {
        check_metadata_types(&top, &mut out);
    }
    out.value = Value::Object(top);
    out
}

fn fix_metadata(
    top: &mut Map<String, Value>,
    side: Side,
    ctx: &NormalizeContext,
    out: &mut Normalized,
) {
    let meta = top
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(meta) = meta else {
        out.invalid.push("metadata: not a mapping".to_owned());
        return;
    };
    for f in STRIP_METADATA {
        meta.remove(*f);
    }
    if ctx.cluster_scoped {
        meta.remove("namespace");
    } else if !ctx.namespace.is_empty() {
        meta.insert("namespace".to_owned(), Value::String(ctx.namespace.clone()));
    }
    if side == Side::Desired {
        for (k, v) in &ctx.inject_labels {
            labels_mut(meta, "labels").insert(k.clone(), Value::String(v.clone()));
        }
        for (k, v) in &ctx.inject_annotations {
            labels_mut(meta, "annotations").insert(k.clone(), Value::String(v.clone()));
        }
    }
    if let Some(Value::Object(ann)) = meta.get_mut("annotations") {
        ann.retain(|k, _| {
            !STRIP_ANNOTATIONS.contains(&k.as_str())
                && !STRIP_ANNOTATION_PREFIXES.iter().any(|p| k.starts_with(p))
                && !ctx.strip_annotations.iter().any(|s| s == k)
        });
        if ann.is_empty() {
            meta.remove("annotations");
        }
    }
    if let Some(Value::Object(labels)) = meta.get_mut("labels") {
        labels.retain(|k, _| !ctx.strip_labels.iter().any(|s| s == k));
        if labels.is_empty() {
            meta.remove("labels");
        }
    }
}

fn labels_mut<'m>(meta: &'m mut Map<String, Value>, field: &str) -> &'m mut Map<String, Value> {
    let entry = meta
        .entry(field.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    match entry {
        Value::Object(m) => m,
        _ => unreachable!("just made an object"),
    }
}

/// Every ciphertext in a top-level field of an encrypted object, for the taint set: SOPS
/// values (`ENC[…]`), the data keys in the `sops` block, SealedSecret encrypted data.
fn collect_ciphertexts(kind: Kind<'_>, field: &str, v: &Value, out: &mut Vec<String>) {
    fn walk(v: &Value, all: bool, out: &mut Vec<String>) {
        match v {
            Value::String(s) if all || crate::redact::is_ciphertext(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|i| walk(i, all, out)),
            Value::Object(m) => {
                for (k, c) in m {
                    walk(c, all || k == "enc", out);
                }
            }
            _ => {}
        }
    }
    if field == "spec" && crate::redact::sealed_secret(kind) {
        if let Some(data) = v.get("encryptedData") {
            walk(data, true, out);
        }
        return;
    }
    walk(v, false, out);
}

fn secret_data(top: &mut Map<String, Value>, side: Side, out: &mut Normalized) {
    let string_data = top.remove("stringData");
    let mut data = match top.remove("data") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for (k, v) in data.iter_mut() {
        match v {
            Value::Null => *v = Value::String(String::new()),
            Value::String(s) => {
                if s.len() >= 6 {
                    out.secrets.push(s.clone());
                }
                match decode_base64(s) {
                    Some(bytes) => {
                        if let Ok(text) = String::from_utf8(bytes.clone()) {
                            out.secrets.push(text);
                        }
                        *s = encode_base64(&bytes);
                        out.secrets.push(s.clone());
                    }
                    None if side == Side::Desired => {
                        out.invalid.push(format!("data.{k}: not valid base64"));
                    }
                    None => {}
                }
            }
            _ => {
                if side == Side::Desired {
                    out.invalid.push(format!("data.{k}: not a string"));
                }
            }
        }
    }
    if let Some(Value::Object(sd)) = string_data {
        for (k, v) in sd {
            let text = match v {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let enc = encode_base64(text.as_bytes());
            out.secrets.push(text);
            out.secrets.push(enc.clone());
            data.insert(k, Value::String(enc));
        }
    }
    if !data.is_empty() {
        top.insert("data".to_owned(), Value::Object(data));
    }
    out.secrets.retain(|s| s.len() >= 6);
}

fn check_metadata_types(top: &Map<String, Value>, out: &mut Normalized) {
    let mut check = |meta: Option<&Value>, prefix: &str| {
        for field in ["labels", "annotations"] {
            if let Some(Value::Object(m)) = meta.and_then(|m| m.get(field)) {
                for (k, v) in m {
                    if !v.is_string() {
                        let what = match v {
                            Value::Bool(_) => "a boolean",
                            Value::Number(_) => "a number",
                            _ => "not a string",
                        };
                        out.invalid.push(format!(
                            "{prefix}{field}[{k:?}]: value is {what}, not a string (quote it)"
                        ));
                    }
                }
            }
        }
    };
    check(top.get("metadata"), "metadata.");
    check(
        top.get("spec")
            .and_then(|s| s.get("template"))
            .and_then(|t| t.get("metadata")),
        "spec.template.metadata.",
    );
}

/// Canonicalize a value at `fields`; `None` means "equal to absent, drop it".
fn canon<'a>(
    v: &'a Value,
    kind: Kind<'_>,
    side: Side,
    fields: &mut Vec<&'a str>,
    out: &mut Normalized,
) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Bool(_) => {
            if schema::zero_scalar_is_absent(kind, fields, v) {
                None
            } else {
                Some(v.clone())
            }
        }
        Value::Number(n) => {
            if let Some(qp) = schema::quantity_path(kind, fields)
                && let Some(q) = Quantity::parse(&n.to_string())
            {
                return Some(Value::String(quantity_string(q, qp)));
            }
            let v = Value::Number(canonical_number(n));
            if schema::zero_scalar_is_absent(kind, fields, &v) {
                None
            } else {
                Some(v)
            }
        }
        Value::String(s) if crate::redact::is_ciphertext(s) => Some(v.clone()),
        Value::String(s) => {
            if let Some(qp) = schema::quantity_path(kind, fields)
                && let Some(q) = Quantity::parse(s)
            {
                return Some(Value::String(quantity_string(q, qp)));
            }
            if schema::base64_path(kind, fields)
                && !(kind.kind == "Secret" && kind.group.is_empty())
            {
                if let Some(bytes) = decode_base64(s) {
                    return Some(Value::String(encode_base64(&bytes)));
                }
                if side == Side::Desired {
                    out.invalid
                        .push(format!("{}: not valid base64", fields.join(".")));
                }
            }
            if schema::zero_scalar_is_absent(kind, fields, v) {
                None
            } else {
                Some(v.clone())
            }
        }
        Value::Object(m) => {
            // Collected rather than inserted one by one: the keys come sorted, and a map
            // built from a sorted sequence is built in bulk.
            let res: Map<String, Value> = m
                .iter()
                .filter_map(|(k, child)| {
                    fields.push(k.as_str());
                    let c = canon(child, kind, side, fields, out);
                    fields.pop();
                    Some((k.clone(), c?))
                })
                .collect();
            if res.is_empty() && schema::empty_map_is_absent(kind, fields) {
                return None;
            }
            Some(Value::Object(res))
        }
        Value::Array(items) => {
            let mut res = Vec::with_capacity(items.len());
            let ports = schema::ports_default_protocol(kind, fields);
            let vct = kind.kind == "StatefulSet" && fields[..] == ["spec", "volumeClaimTemplates"];
            let hook_rules = kind.builtin
                && fields[..] == ["webhooks", "rules"]
                && kind.kind.ends_with("WebhookConfiguration");
            for item in items {
                let Some(mut c) = canon(item, kind, side, fields, out) else {
                    continue;
                };
                if let Value::Object(obj) = &mut c {
                    if ports && !obj.contains_key("protocol") {
                        obj.insert("protocol".to_owned(), Value::String("TCP".to_owned()));
                    }
                    if vct {
                        pvc_template_defaults(obj);
                    }
                    if hook_rules && !obj.contains_key("scope") {
                        obj.insert("scope".to_owned(), Value::String("*".to_owned()));
                    }
                }
                res.push(c);
            }
            if let ListType::Map(keys) = schema::list_type(kind, fields) {
                let mut seen = std::collections::BTreeSet::new();
                for item in &res {
                    match item_key(keys, item) {
                        Some(key) if !seen.insert(key.clone()) && side == Side::Desired => {
                            out.duplicate_keys
                                .push(format!("{}: duplicate item {key}", fields.join(".")));
                        }
                        Some(_) => {}
                        None if side == Side::Desired => out.invalid.push(format!(
                            "{}: an item lacks the list key field(s) {}",
                            fields.join("."),
                            keys.join(", ")
                        )),
                        None => {}
                    }
                }
            }
            if res.is_empty() && kind.builtin {
                return None;
            }
            Some(Value::Array(res))
        }
    }
}

fn quantity_string(q: Quantity, qp: QuantityPath) -> String {
    match qp {
        QuantityPath::ResourceList => q.round_up_milli().canonical(),
        QuantityPath::Plain => q.canonical(),
    }
}

/// PVC defaults inside `volumeClaimTemplates` items (an atomic list): the server adds them,
/// so they are applied to every side before the list is compared (§3.7).
fn pvc_template_defaults(obj: &mut Map<String, Value>) {
    obj.remove("status");
    if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
        meta.remove("creationTimestamp");
    }
    obj.entry("apiVersion")
        .or_insert_with(|| Value::String("v1".to_owned()));
    obj.entry("kind")
        .or_insert_with(|| Value::String("PersistentVolumeClaim".to_owned()));
    if let Some(Value::Object(spec)) = obj.get_mut("spec") {
        spec.entry("volumeMode")
            .or_insert_with(|| Value::String("Filesystem".to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn norm(v: Value, side: Side) -> Value {
        let kind = v["kind"].as_str().unwrap_or_default().to_owned();
        let group = v["apiVersion"]
            .as_str()
            .and_then(|a| a.rsplit_once('/').map(|(g, _)| g.to_owned()))
            .unwrap_or_default();
        normalize(
            &v,
            Kind::new(&group, &kind),
            side,
            &NormalizeContext::default(),
        )
        .value
    }

    #[test]
    fn quantities_numbers_and_empties_canonicalize() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w", "annotations": {}},
            "spec": {"template": {"spec": {"hostNetwork": false, "containers": [{"name": "a", "args": [],
              "ports": [{"containerPort": 80}],
              "resources": {"requests": {"cpu": 2, "memory": "1024Mi"}, "limits": {"cpu": "0.5"}}}]}}}});
        let n = norm(d, Side::Desired);
        let c = &n["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["resources"]["requests"]["cpu"], json!("2"));
        assert_eq!(c["resources"]["requests"]["memory"], json!("1Gi"));
        assert_eq!(c["resources"]["limits"]["cpu"], json!("500m"));
        assert_eq!(c["ports"][0]["protocol"], json!("TCP"));
        assert!(c.get("args").is_none());
        assert!(n["metadata"].get("annotations").is_none());
        assert!(n["spec"]["template"]["spec"].get("hostNetwork").is_none());
    }

    #[test]
    fn secret_string_data_becomes_data() {
        let a = norm(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"password": "s3cr3t"}}),
            Side::Desired,
        );
        let b = norm(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"password": "czNj\ncjN0"}}),
            Side::Live,
        );
        assert_eq!(a, b);
    }

    #[test]
    fn normalization_is_idempotent_on_an_example() {
        let d = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "labels": {}},
            "spec": {"ports": [{"port": 80}], "selector": {}}});
        let once = norm(d, Side::Desired);
        let mut again_in = once.clone();
        again_in["apiVersion"] = json!("v1");
        assert_eq!(norm(again_in, Side::Desired), once);
    }
}
