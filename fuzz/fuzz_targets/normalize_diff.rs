//! Normalize + diff over arbitrary base / desired / live streams: never panics, renders every
//! format, and a render diffed against itself changes nothing.
//!
//! Every input is also diffed as SOPS-encrypted documents (a `sops` block added, every
//! string under `data`, `stringData` and `spec` turned into `ENC[…]` ciphertext) and as
//! SealedSecrets (the same strings as `spec.encryptedData`), against the plaintext live
//! objects: no ciphertext may reach any output, and the SOPS comparison is by base only.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use thule_core::{LiveOutcome, Manifest, ObjectKey};
use thule_diff::input::parse_stream;
use thule_diff::{DiffInput, DiffOptions, FingerprintKey, Plan, diff, render};

/// A marker every synthetic ciphertext carries, so outputs can be searched for leaks.
const SOPS_TAG: &str = ",iv:RlVaWg==,tag:RlVaWg==,type:str]";
const SEALED_PREFIX: &str = "AgFUZZ";

fn every_output(plan: &Plan) -> String {
    let mut out = render::to_json(plan);
    out.push_str(&render::to_markdown(plan));
    out.push_str(&render::to_text(plan));
    out
}

/// Turn every string leaf into ciphertext (`wrap` of its bytes, hex-encoded).
fn encrypt(v: &mut Value, wrap: &dyn Fn(&str) -> String) {
    match v {
        Value::String(s) => *s = wrap(&hex::encode(s.as_bytes())),
        Value::Array(items) => items.iter_mut().for_each(|i| encrypt(i, wrap)),
        Value::Object(m) => m.values_mut().for_each(|c| encrypt(c, wrap)),
        _ => {}
    }
}

fn sops_value(hex: &str) -> String {
    format!("ENC[AES256_GCM,data:{hex}{SOPS_TAG}")
}

/// The document as SOPS writes it: values of `data`, `stringData` and `spec` encrypted, a
/// `sops` block with a data key and bookkeeping.
fn as_sops(m: &Manifest, stamp: &str) -> Option<Manifest> {
    let mut o = m.object.clone();
    let obj = o.as_object_mut()?;
    for field in ["data", "stringData", "spec"] {
        if let Some(v) = obj.get_mut(field) {
            encrypt(v, &sops_value);
        }
    }
    obj.insert(
        "sops".into(),
        json!({
            "age": [{"recipient": "age1fuzz", "enc": "-----BEGIN AGE ENCRYPTED FILE-----\nRlVaWkRBVEFLRVk=\n-----END AGE ENCRYPTED FILE-----\n"}],
            "lastmodified": format!("2024-01-0{stamp}T00:00:00Z"),
            "mac": sops_value(stamp),
            "version": "3.9.0",
        }),
    );
    Manifest::from_value(o, m.origin.clone()).ok()
}

/// The document as a SealedSecret: its `data` and `stringData` strings as encrypted data.
fn as_sealed(m: &Manifest) -> Option<Manifest> {
    let mut data = Map::new();
    for field in ["data", "stringData"] {
        if let Some(Value::Object(d)) = m.object.get(field) {
            for (k, v) in d {
                let mut v = v.clone();
                encrypt(&mut v, &|hex| format!("{SEALED_PREFIX}{hex}"));
                data.insert(k.clone(), v);
            }
        }
    }
    let o = json!({
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": m.object.get("metadata").cloned().unwrap_or(Value::Null),
        "spec": {"encryptedData": data, "template": {"type": "Opaque"}},
    });
    Manifest::from_value(o, m.origin.clone()).ok()
}

fn convert(ms: &[Manifest], f: &dyn Fn(&Manifest) -> Option<Manifest>) -> Vec<Manifest> {
    ms.iter().filter_map(f).collect()
}

fn run(
    options: &DiffOptions,
    base: Option<&[Manifest]>,
    desired: &[Manifest],
    live: Option<&BTreeMap<ObjectKey, LiveOutcome>>,
) -> Plan {
    diff(&DiffInput {
        base,
        desired,
        live,
        inventory: None,
        identical_skipped: 0,
        identical: &[],
        options,
    })
    .expect("default options are valid")
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Three streams separated by a line `%%%`: base, desired, live.
    let mut parts = text.splitn(3, "\n%%%\n");
    let base = parts.next().and_then(|t| parse_stream(t, "base.yaml").ok());
    let Some(desired) = parts
        .next()
        .and_then(|t| parse_stream(t, "desired.yaml").ok())
    else {
        return;
    };
    let live: Option<BTreeMap<_, _>> = parts
        .next()
        .and_then(|t| parse_stream(t, "live.yaml").ok())
        .map(|ms| {
            ms.into_iter()
                .map(|m| (m.key, LiveOutcome::Found(m.object)))
                .collect()
        });
    for applier in [None, Some("flux"), Some("argocd")] {
        let options = DiffOptions {
            applier: applier.and_then(|a| serde_json::from_value(Value::String(a.into())).ok()),
            default_namespace: Some("default".into()),
            include_noop: applier.is_none(),
            fingerprint_key: FingerprintKey::new(b"fuzz-fingerprint-key".to_vec()),
            ..DiffOptions::default()
        };
        let plan = run(&options, base.as_deref(), &desired, live.as_ref());
        let _ = every_output(&plan);
        let same = run(&options, Some(&desired), &desired, None);
        assert!(
            !same.has_changes(),
            "self-diff changed:\n{}",
            render::to_text(&same)
        );
    }

    // The same documents encrypted: with SOPS (compared by ciphertext with base) and sealed.
    let options = DiffOptions {
        default_namespace: Some("default".into()),
        include_noop: true,
        ..DiffOptions::default()
    };
    let leaks = |plan: &Plan, marker: &str| {
        if text.contains(marker) {
            return;
        }
        let out = every_output(plan);
        assert!(!out.contains(marker), "ciphertext in the output:\n{out}");
    };
    let sops_desired = convert(&desired, &|m| as_sops(m, "2"));
    let sops_base = base.as_deref().map(|b| convert(b, &|m| as_sops(m, "1")));
    let plan = run(&options, sops_base.as_deref(), &sops_desired, live.as_ref());
    leaks(&plan, SOPS_TAG);
    leaks(&plan, "RlVaWkRBVEFLRVk=");
    // A new `lastmodified` and `mac` alone change nothing.
    let restamped = convert(&desired, &|m| as_sops(m, "3"));
    let same = run(&options, Some(&sops_desired), &restamped, None);
    assert!(
        !same.has_changes(),
        "SOPS bookkeeping changed something:\n{}",
        render::to_text(&same)
    );
    let sealed_desired = convert(&desired, &as_sealed);
    let sealed_base = base.as_deref().map(|b| convert(b, &as_sealed));
    let plan = run(&options, sealed_base.as_deref(), &sealed_desired, live.as_ref());
    leaks(&plan, SEALED_PREFIX);
    let sealed_live: Option<BTreeMap<_, _>> = sealed_base.as_ref().map(|b| {
        b.iter()
            .map(|m| (m.key.clone(), LiveOutcome::Found(m.object.clone())))
            .collect()
    });
    let plan = run(&options, None, &sealed_desired, sealed_live.as_ref());
    leaks(&plan, SEALED_PREFIX);
});
