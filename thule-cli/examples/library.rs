//! Using thule as a library: parse manifests in the Kubernetes YAML dialect and diff them.
//! This is the snippet in the README; `cargo test` builds it and `cargo run --example library`
//! runs it.

use thule_core::yaml::{ParseOptions, parse_str};
use thule_core::{Manifest, Origin};

fn manifests(text: &str, file: &str) -> Vec<Manifest> {
    parse_str(text, file, &ParseOptions::default())
        .expect("valid YAML")
        .into_iter()
        .filter(|d| !d.value.is_null())
        .map(|d| Manifest::from_value(d.value, Origin::default()).expect("a Kubernetes object"))
        .collect()
}

fn main() {
    let base = manifests(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {LOG_LEVEL: info}\n",
        "base.yaml",
    );
    let desired = manifests(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {LOG_LEVEL: debug}\n",
        "desired.yaml",
    );
    let options = thule_diff::DiffOptions::default();
    let plan = thule_diff::diff(&thule_diff::DiffInput {
        base: Some(&base),
        desired: &desired,
        live: None,
        inventory: None,
        identical_skipped: 0,
        identical: &[],
        options: &options,
    })
    .expect("valid options");
    assert_eq!(plan.summary.patch, 1);
    print!("{}", thule_diff::render::to_text(&plan));
}
