//! Secret values: empty and null data as Kubernetes stores them, SOPS and SealedSecret
//! objects compared by ciphertext key by key, and keyed fingerprints. No value, ciphertext,
//! base64 or length ever reaches an output.

mod common;

use base64::Engine as _;
use common::*;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use thule_core::config::Applier;
use thule_diff::{Action, Detail, DiffOptions, FingerprintKey, Plan};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn opts() -> DiffOptions {
    DiffOptions {
        applier: None,
        default_namespace: Some("shop".into()),
        include_noop: true,
        ..DiffOptions::default()
    }
}

fn secret(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
        "type": "Opaque", "data": data})
}

/// A live Secret as the API server returns it, applied by Flux.
fn live_secret(data: Value) -> Value {
    let applied = secret(data);
    let mut live = applied.clone();
    live["metadata"]["uid"] = json!("1");
    live["metadata"]["resourceVersion"] = json!("9");
    live["metadata"]["managedFields"] = json!([{"manager": "kustomize-controller",
        "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
        "fieldsV1": fields_v1_of(&applied)}]);
    live
}

/// No output mentions any of `values`, their base64, or a length.
fn assert_hidden(plan: &Plan, values: &[&str]) {
    let out = all_outputs(plan);
    for v in values {
        assert!(!out.contains(v), "value {v:?} leaked:\n{out}");
        let enc = b64(v);
        assert!(!out.contains(&enc), "base64 of {v:?} leaked:\n{out}");
    }
    let lengths = regex::Regex::new(r"(?i)\b\d+ (bytes?|chars?|characters)\b|length").unwrap();
    assert!(!lengths.is_match(&out), "a length is printed:\n{out}");
}

#[test]
fn empty_and_null_secret_data_compare_as_stored() {
    // `""` and `null` are both an empty value under the key: no change, either way round.
    for (git, cluster) in [(json!(""), Value::Null), (Value::Null, json!(""))] {
        let plan = run(
            &opts(),
            None,
            Some(secret(json!({"a": git, "b": b64("x")}))),
            Live::Found(live_secret(json!({"a": cluster, "b": b64("x")}))),
        );
        let o = only(&plan);
        assert_eq!(o.action, Action::Noop, "{}", all_outputs(&plan));
    }
    // A missing key is not an empty one: adding the key is a change.
    let plan = run(
        &opts(),
        None,
        Some(secret(json!({"a": "", "b": b64("x")}))),
        Live::Found(live_secret(json!({"b": b64("x")}))),
    );
    assert_eq!(paths(only(&plan)), [("data.a".to_owned(), "add")]);
}

const ENC_A: &str = "ENC[AES256_GCM,data:3q2+7w==,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:BBBBBBBBBBBBBBBBBBBBBB==,type:str]";
const ENC_B1: &str = "ENC[AES256_GCM,data:cGFzc3dvcmQx,iv:CCCCCCCCCCCCCCCCCCCCCC==,tag:DDDDDDDDDDDDDDDDDDDDDD==,type:str]";
const ENC_B2: &str = "ENC[AES256_GCM,data:cGFzc3dvcmQy,iv:EEEEEEEEEEEEEEEEEEEEEE==,tag:FFFFFFFFFFFFFFFFFFFFFF==,type:str]";
const ENC_C: &str = "ENC[AES256_GCM,data:b2xkLWtleQ==,iv:GGGGGGGGGGGGGGGGGGGGGG==,tag:HHHHHHHHHHHHHHHHHHHHHH==,type:str]";
const ENC_D: &str = "ENC[AES256_GCM,data:bmV3LWtleQ==,iv:IIIIIIIIIIIIIIIIIIIIII==,tag:JJJJJJJJJJJJJJJJJJJJJJ==,type:str]";
const AGE_KEY: &str = "-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBhYmNkZWYK\n-----END AGE ENCRYPTED FILE-----\n";

fn sops_secret(data: Value, modified: &str, mac: &str) -> Value {
    let mut s = secret(data);
    s["sops"] = json!({
        "age": [{"recipient": "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq", "enc": AGE_KEY}],
        "lastmodified": modified,
        "mac": mac,
        "encrypted_regex": "^(data|stringData)$",
        "version": "3.9.0",
    });
    s
}

#[test]
fn sops_objects_are_compared_with_base_by_ciphertext_key_by_key() {
    let base = sops_secret(
        json!({"a": ENC_A, "b": ENC_B1, "c": ENC_C}),
        "2024-01-01T00:00:00Z",
        ENC_A,
    );
    let desired = sops_secret(
        json!({"a": ENC_A, "b": ENC_B2, "d": ENC_D}),
        "2024-06-01T00:00:00Z",
        ENC_D,
    );
    // The cluster holds the decrypted values; they are never compared with ciphertext.
    let live = live_secret(
        json!({"a": b64("alpha-plain"), "b": b64("bravo-plain"), "c": b64("charlie-plain")}),
    );
    let plan = run(
        &opts(),
        Some(base.clone()),
        Some(desired.clone()),
        Live::Found(live),
    );
    let o = only(&plan);
    assert_eq!(o.action, Action::Patch);
    assert_eq!(
        paths(o),
        [
            ("data.b".to_owned(), "replace"),
            ("data.c".to_owned(), "remove"),
            ("data.d".to_owned(), "add"),
        ],
        "{}",
        all_outputs(&plan)
    );
    assert!(
        o.changes
            .iter()
            .all(|c| c.sensitive && c.fingerprint.is_none())
    );
    assert!(
        o.notes
            .iter()
            .any(|n| n == "encrypted with SOPS: compared by ciphertext")
    );
    assert_hidden(
        &plan,
        &[
            ENC_A,
            ENC_B1,
            ENC_B2,
            ENC_C,
            ENC_D,
            "cGFzc3dvcmQ",
            AGE_KEY.lines().nth(1).unwrap(),
            "alpha-plain",
            "bravo-plain",
        ],
    );
    assert!(all_outputs(&plan).contains("value hidden"));

    // The same document on both sides, with or without a cluster: nothing changes.
    for live in [
        Live::NoCluster,
        Live::Found(live_secret(json!({"a": b64("alpha-plain")}))),
    ] {
        let plan = run(&opts(), Some(desired.clone()), Some(desired.clone()), live);
        let o = only(&plan);
        assert_eq!(
            (o.action, o.detail),
            (Action::Noop, None),
            "{}",
            all_outputs(&plan)
        );
    }

    // Only `sops.lastmodified` and `sops.mac` moved: nothing changes.
    let touched = sops_secret(
        json!({"a": ENC_A, "b": ENC_B1, "c": ENC_C}),
        "2025-01-01T00:00:00Z",
        ENC_D,
    );
    let plan = run(&opts(), Some(base.clone()), Some(touched), Live::NoCluster);
    assert_eq!(only(&plan).action, Action::Noop, "{}", all_outputs(&plan));

    // Not in the cluster yet: a create, values hidden.
    let plan = run(
        &opts(),
        Some(base.clone()),
        Some(desired.clone()),
        Live::Absent,
    );
    assert_eq!(only(&plan).action, Action::Create);
    assert_hidden(&plan, &[ENC_A, ENC_B2, ENC_D, "cGFzc3dvcmQ"]);

    // In the cluster but with no base version: unknown, never compared with live.
    let live = live_secret(json!({"a": b64("alpha-plain")}));
    let plan = run(&opts(), None, Some(desired), Live::Found(live));
    let o = only(&plan);
    assert_eq!((o.action, o.detail), (Action::Noop, Some(Detail::Unknown)));
    assert!(o.changes.is_empty());
}

#[test]
fn sealed_secrets_show_encrypted_data_changes_per_key_without_values() {
    let sealed = |data: Value| {
        json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
            "metadata": {"name": "db", "namespace": "shop"},
            "spec": {"encryptedData": data,
                "template": {"metadata": {"name": "db", "namespace": "shop"}, "type": "Opaque"}}})
    };
    let c1 = "AgBy3i4OJSWK+PiTySYZZA9rO43cGDEq8ZdGf5nO3LzL0xq1QRpFqQ7HnTk0uvN9sl";
    let c2 = "AgCk9t2Wq1PzPoR0xLx5vVq8mY3zJ0Yw6hQ5RrT7bN2kD4sA1fG3hJ5kL7zX9cV1bN";
    let c3 = "AgDm4n6B8v0C2x4Z6a8S0d2F4g6H8j0K2l4Q6w8E0r2T4y6U8i0O2p4A6s8D0f2G4h";
    let applied = sealed(json!({"password": c1, "user": c2}));
    let live = server_like(
        &applied,
        Some(("kustomize-controller", fields_v1_of(&applied))),
    );
    let desired = sealed(json!({"password": c3, "user": c2, "token": c3}));
    let plan = run(&opts(), None, Some(desired), Live::Found(live));
    let o = only(&plan);
    assert_eq!(o.action, Action::Patch);
    assert_eq!(
        paths(o),
        [
            ("spec.encryptedData.password".to_owned(), "replace"),
            ("spec.encryptedData.token".to_owned(), "add"),
        ]
    );
    assert!(o.changes.iter().all(|c| c.sensitive));
    assert!(
        o.notes
            .iter()
            .any(|n| n == "sealed with Sealed Secrets: compared by ciphertext")
    );
    assert_hidden(&plan, &[c1, c2, c3]);
}

fn fp(key: &[u8], value: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(b"thule/fp/v1\0");
    mac.update(value.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..4])
}

#[test]
fn fingerprints_are_keyed_stable_and_absent_without_a_key() {
    let key = b"0123456789abcdef0123456789abcdef-operator-key";
    let live = live_secret(json!({"user": b64("admin"), "password": b64("old-password-1")}));
    let desired = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop"}, "type": "Opaque",
        "stringData": {"user": "admin", "password": "shared-value-9", "token": "shared-value-9"}});
    let with_key = DiffOptions {
        fingerprint_key: FingerprintKey::new(key.to_vec()),
        ..opts()
    };
    let run_once = || {
        run(
            &with_key,
            None,
            Some(desired.clone()),
            Live::Found(live.clone()),
        )
    };
    let plan = run_once();
    let o = only(&plan);
    assert_eq!(
        paths(o),
        [
            ("data.password".to_owned(), "replace"),
            ("data.token".to_owned(), "add"),
        ]
    );
    let password = o.changes[0].fingerprint.clone().expect("fingerprint");
    let token = o.changes[1].fingerprint.clone().expect("fingerprint");
    assert_eq!(
        password.before.as_deref(),
        Some(fp(key, "old-password-1").as_str())
    );
    assert_eq!(
        password.after.as_deref(),
        Some(fp(key, "shared-value-9").as_str())
    );
    assert_eq!(
        (token.before, token.after),
        (None, password.after.clone()),
        "two keys now share a value"
    );
    let text = thule_diff::render::to_text(&plan);
    let line = format!(
        "~ data.password  (changed, value hidden; fp {} → {})",
        fp(key, "old-password-1"),
        fp(key, "shared-value-9")
    );
    assert!(text.contains(&line), "{text}");
    // Stable: the same inputs and key give byte-identical output.
    assert_eq!(all_outputs(&run_once()), all_outputs(&plan));
    assert_hidden(
        &plan,
        &["old-password-1", "shared-value-9", "0123456789abcdef"],
    );
    assert!(
        !format!("{with_key:?}").contains("0123456789abcdef"),
        "the key stays out of Debug"
    );
    // Another key, other fingerprints; no key, none at all.
    let other = DiffOptions {
        fingerprint_key: FingerprintKey::new(b"another-operator-key".to_vec()),
        ..opts()
    };
    let plan2 = run(
        &other,
        None,
        Some(desired.clone()),
        Live::Found(live.clone()),
    );
    assert_ne!(
        only(&plan2).changes[0].fingerprint,
        only(&plan).changes[0].fingerprint
    );
    let plain = run(&opts(), None, Some(desired), Live::Found(live));
    assert!(only(&plain).changes.iter().all(|c| c.fingerprint.is_none()));
    let out = all_outputs(&plain);
    assert!(
        !out.contains("fingerprint") && !out.contains("fp "),
        "{out}"
    );
    assert!(FingerprintKey::new(Vec::new()).is_none());
    let _ = Applier::Flux;
}
