//! The ground-truth lists of shared/bench are recovered exactly from the generated pairs:
//! every changed object is found as patch/create/delete, and nothing else is reported.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use thule_diff::input::{
    identify_unchanged, parse_documents, parse_stream, skip_identical, split_documents,
};
use thule_diff::{Action, DiffInput, DiffOptions, diff};

fn bench_dir() -> PathBuf {
    std::env::var_os("THULE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench"))
}

fn gunzip(src: &Path, dir: &Path) -> Result<String> {
    // Test data preparation; thule-diff does not depend on thule-render's runner.
    #[allow(clippy::disallowed_methods)]
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(src)
        .output()
        .with_context(|| format!("running gzip -dc {}", src.display()))?;
    if !out.status.success() {
        bail!("gzip -dc {} failed", src.display());
    }
    let dest = dir.join(src.file_stem().unwrap_or_default());
    std::fs::write(&dest, &out.stdout)?;
    Ok(std::fs::read_to_string(dest)?)
}

type Key = (String, String, String, String, String);

fn expected(pair: &str) -> Result<BTreeSet<Key>> {
    let truth: Value = serde_json::from_slice(&std::fs::read(
        bench_dir().join(format!("{pair}-changes.json")),
    )?)?;
    let mut out = BTreeSet::new();
    for c in truth["changes"].as_array().context("changes")? {
        let action = match c["type"].as_str().unwrap_or_default() {
            "add" => "create",
            "remove" => "delete",
            _ => "patch",
        };
        let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
        out.insert((
            action.to_owned(),
            s("group"),
            s("kind"),
            s("namespace"),
            s("name"),
        ));
    }
    Ok(out)
}

fn found(plan: &thule_diff::Plan) -> BTreeSet<Key> {
    plan.objects
        .iter()
        .filter(|o| o.action != Action::Noop)
        .map(|o| {
            (
                o.action.as_str().to_owned(),
                o.group.clone(),
                o.kind.clone(),
                o.namespace.clone(),
                o.name.clone(),
            )
        })
        .collect()
}

/// The render-against-render diff (no cluster).
fn intent_diff(
    base: &[thule_diff::Manifest],
    desired: &[thule_diff::Manifest],
    (identical_skipped, identical): (usize, &[thule_diff::input::Unchanged<'_>]),
    options: &DiffOptions,
) -> Result<thule_diff::Plan> {
    Ok(diff(&DiffInput {
        base: Some(base),
        desired,
        live: None,
        inventory: None,
        identical_skipped,
        identical,
        options,
    })?)
}

fn check_pair(pair: &str) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let base_text = gunzip(
        &bench_dir().join(format!("{pair}-base.yaml.gz")),
        tmp.path(),
    )?;
    let mod_text = gunzip(
        &bench_dir().join(format!("{pair}-modified.yaml.gz")),
        tmp.path(),
    )?;
    let want = expected(pair)?;
    let opts = DiffOptions::default();

    // Full parse of both sides.
    let base = parse_stream(&base_text, "base.yaml")?;
    let desired = parse_stream(&mod_text, "modified.yaml")?;
    let plan = intent_diff(&base, &desired, (0, &[]), &opts)?;
    assert_eq!(found(&plan), want, "{pair}: full parse");
    assert!(
        plan.objects
            .iter()
            .all(|o| o.detail.is_none() || o.detail == Some(thule_diff::Detail::Hook)),
        "{pair}: no details expected but hooks"
    );
    assert_eq!(
        plan.summary.noop + want.len(),
        base.len().max(desired.len()) + plan.summary.create.min(plan.summary.delete)
    );

    // Fast path: byte-identical documents skipped before parsing; same result.
    let (b, d, skipped) = skip_identical(
        split_documents(&base_text, "base.yaml"),
        split_documents(&mod_text, "modified.yaml"),
    );
    let base2 = parse_documents(&b)?;
    let desired2 = parse_documents(&d)?;
    let plan2 = intent_diff(&base2, &desired2, (skipped.len(), &[]), &opts)?;
    assert_eq!(found(&plan2), want, "{pair}: fast path");
    assert_eq!(plan2.summary, plan.summary, "{pair}: same counts");
    assert_eq!(
        thule_diff::render::to_json(&plan2),
        thule_diff::render::to_json(&plan),
        "{pair}: same JSON"
    );
    let unchanged = identify_unchanged(&skipped);
    assert_eq!(
        unchanged.len(),
        skipped.len(),
        "{pair}: one object per document"
    );
    // With every object listed (what `thule diff --format json` prints), the unparsed
    // identical documents are listed as no-ops exactly as parsed ones are: same identity,
    // apiVersion and source line, in the same order.
    let all = DiffOptions {
        include_noop: true,
        ..DiffOptions::default()
    };
    let full = intent_diff(&base, &desired, (0, &[]), &all)?;
    let fast = intent_diff(&base2, &desired2, (0, &unchanged), &all)?;
    assert_eq!(
        full.objects.len(),
        full.summary.noop + want.len(),
        "{pair}: every object listed"
    );
    assert_eq!(
        thule_diff::render::to_json(&fast),
        thule_diff::render::to_json(&full),
        "{pair}: same JSON with no-ops listed"
    );

    // The per-object passes on one thread and on three: the same plan, byte for byte
    // (no-ops listed too, so that rendering runs in parallel as well).
    let mut plans = Vec::new();
    for threads in [1, 3] {
        let opts = DiffOptions {
            threads,
            include_noop: true,
            ..DiffOptions::default()
        };
        let p = intent_diff(&base, &desired, (0, &[]), &opts)?;
        plans.push((
            thule_diff::render::to_json(&p),
            thule_diff::render::to_markdown(&p),
        ));
    }
    assert_eq!(plans[0], plans[1], "{pair}: same plan on 1 and 3 threads");

    // Each patch of the ground truth is exactly the described edit.
    for o in plan.objects.iter().filter(|o| o.action == Action::Patch) {
        assert!(!o.changes.is_empty());
        assert!(
            o.changes.iter().all(|c| c.path.ends_with(".image")
                || c.path.ends_with("replicas")
                || c.path.contains("env[name=THULE_PREVIEW_TEST]")),
            "{pair}: unexpected change in {}: {:?}",
            o.key,
            o.changes.iter().map(|c| &c.path).collect::<Vec<_>>()
        );
    }
    Ok(())
}

#[test]
fn argocd_ha_ground_truth_is_recovered_exactly() -> Result<()> {
    check_pair("argocd-ha")
}

#[test]
fn fleet_ground_truth_is_recovered_exactly() -> Result<()> {
    check_pair("fleet")
}
