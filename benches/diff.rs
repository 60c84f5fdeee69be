//! Diff-engine benchmarks (issue 4): objects/second for parsing, for normalize+diff, and for
//! the whole `thule diff` pipeline, on the shared `fleet` pair (619 objects a side, 4.3 MB)
//! and on a generated 10,000-object pair; with `diff -u` on the same files as the baseline.
//!
//! `cargo bench -p thule-benches --bench diff`. The whole-process group runs the `thule`
//! binary when it is found (`THULE_BIN`, else `$CARGO_TARGET_DIR/release/thule`).
//!
//! Parsing and normalize+diff use every core for large inputs, as `thule diff` does; for
//! single-core figures run the bench under `taskset -c 0`.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use thule_core::Manifest;
use thule_diff::input::{parse_documents, skip_identical, split_documents};
use thule_diff::{DiffInput, DiffOptions, RiskContext, assess, diff, render};

struct Pair {
    name: &'static str,
    base: String,
    modified: String,
    base_path: PathBuf,
    modified_path: PathBuf,
    objects: u64,
}

fn bench_dir() -> PathBuf {
    std::env::var_os("THULE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench"))
}

fn gunzip(src: &Path) -> anyhow::Result<String> {
    // Test data preparation, outside anything measured or shipped.
    #[allow(clippy::disallowed_methods)]
    let out = Command::new("gzip").arg("-dc").arg(src).output()?;
    anyhow::ensure!(out.status.success(), "gzip -dc {} failed", src.display());
    Ok(String::from_utf8(out.stdout)?)
}

fn deployment(i: usize, image_tag: usize, replicas: usize, extra_env: bool) -> String {
    let mut env = String::new();
    for e in 0..4 {
        let _ = write!(
            env,
            "        - name: VAR_{e}\n          value: \"value-{i}-{e}\"\n"
        );
    }
    if extra_env {
        env.push_str("        - name: THULE_PREVIEW_TEST\n          value: \"1\"\n");
    }
    format!(
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  namespace: team-{ns}\n  labels:\n    app: app-{i}\n    app.kubernetes.io/part-of: fleet\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: app-{i}\n  template:\n    metadata:\n      labels:\n        app: app-{i}\n    spec:\n      containers:\n      - name: main\n        image: registry.example/app-{i}:1.{image_tag}.0\n        args: [\"--port=8080\", \"--log=info\"]\n        ports:\n        - containerPort: 8080\n          name: http\n        env:\n{env}        resources:\n          requests:\n            cpu: 100m\n            memory: 128Mi\n          limits:\n            memory: 256Mi\n        readinessProbe:\n          httpGet:\n            path: /healthz\n            port: http\n",
        ns = i % 20
    )
}

fn service(i: usize) -> String {
    format!(
        "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app-{i}\n  namespace: team-{ns}\nspec:\n  selector:\n    app: app-{i}\n  ports:\n  - name: http\n    port: 80\n    targetPort: http\n",
        ns = i % 20
    )
}

fn configmap(i: usize, tweak: bool) -> String {
    format!(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i}-config\n  namespace: team-{ns}\ndata:\n  LOG_LEVEL: {lvl}\n  settings.yaml: |\n    feature: {i}\n    enabled: true\n",
        ns = i % 20,
        lvl = if tweak { "debug" } else { "info" }
    )
}

/// A 10,000-object pair (Deployment, Service, ConfigMap per app); about 5% of the objects
/// change (image, replicas, env, data, removed, added), as in the shared pairs.
fn generated_pair() -> (String, String) {
    let mut base = String::new();
    let mut modified = String::new();
    let apps = 10_000 / 3 + 1;
    for i in 0..apps {
        // One app in 40 per change type: 3 of 40 Deployments changed, 1 of 40 Services
        // removed, 1 of 40 ConfigMaps changed, 1 in 40 apps gains a ConfigMap (about 5%).
        let kind_change = i % 40;
        base.push_str(&deployment(i, 0, 2, false));
        modified.push_str(&match kind_change {
            0 => deployment(i, 1, 2, false),
            1 => deployment(i, 0, 3, false),
            2 => deployment(i, 0, 2, true),
            _ => deployment(i, 0, 2, false),
        });
        base.push_str(&service(i));
        if kind_change != 3 {
            modified.push_str(&service(i));
        }
        if i * 3 + 2 < 10_000 {
            base.push_str(&configmap(i, false));
            modified.push_str(&configmap(i, kind_change == 4));
        }
        if kind_change == 5 {
            modified.push_str(&configmap(i + 1_000_000, false));
        }
    }
    (base, modified)
}

fn load_pairs(dir: &Path) -> anyhow::Result<Vec<Pair>> {
    let mut pairs = Vec::new();
    let fleet_base = gunzip(&bench_dir().join("fleet-base.yaml.gz"))?;
    let fleet_mod = gunzip(&bench_dir().join("fleet-modified.yaml.gz"))?;
    let (gen_base, gen_mod) = generated_pair();
    for (name, base, modified) in [
        ("fleet", fleet_base, fleet_mod),
        ("gen10k", gen_base, gen_mod),
    ] {
        let base_path = dir.join(format!("{name}-base.yaml"));
        let modified_path = dir.join(format!("{name}-modified.yaml"));
        std::fs::write(&base_path, &base)?;
        std::fs::write(&modified_path, &modified)?;
        let objects = split_documents(&base, "b").len() as u64;
        pairs.push(Pair {
            name,
            base,
            modified,
            base_path,
            modified_path,
            objects,
        });
    }
    Ok(pairs)
}

fn parse_both(p: &Pair) -> (Vec<Manifest>, Vec<Manifest>) {
    let b = parse_documents(&split_documents(&p.base, "base.yaml")).expect("base parses");
    let m =
        parse_documents(&split_documents(&p.modified, "modified.yaml")).expect("modified parses");
    (b, m)
}

/// The `thule diff --base --desired` pipeline in process: split, skip identical, parse the
/// rest, diff, assess risks, render.
fn pipeline(p: &Pair, opts: &DiffOptions) -> usize {
    let (b, d, skipped) = skip_identical(
        split_documents(&p.base, "base.yaml"),
        split_documents(&p.modified, "modified.yaml"),
    );
    let base = parse_documents(&b).expect("parses");
    let desired = parse_documents(&d).expect("parses");
    let mut plan = diff(&DiffInput {
        base: Some(&base),
        desired: &desired,
        live: None,
        inventory: None,
        identical_skipped: skipped.len(),
        identical: &[],
        options: opts,
    })
    .expect("diff");
    let context = RiskContext {
        desired: &desired,
        ..RiskContext::default()
    };
    assess(&mut plan, &context);
    render::to_text(&plan).len()
}

fn thule_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("THULE_BIN") {
        return Some(PathBuf::from(p));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let p = target.join("release/thule");
    p.exists().then_some(p)
}

fn benches(c: &mut Criterion) {
    // THULE_BENCH_OUT keeps the generated files (for `/usr/bin/time -v thule diff …`).
    let dir = tempfile::tempdir().expect("tempdir");
    let out =
        std::env::var_os("THULE_BENCH_OUT").map_or_else(|| dir.path().to_owned(), PathBuf::from);
    let pairs = load_pairs(&out).expect("bench inputs (shared/bench and the generator)");
    let opts = DiffOptions::default();
    // What `thule diff --format text` runs: no text-diff / JSON-patch views, the normalized
    // sides kept for the risk pass.
    let cli_opts = DiffOptions {
        views: false,
        keep_state: true,
        ..DiffOptions::default()
    };

    let mut g = c.benchmark_group("diff");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    for p in &pairs {
        // Objects on both sides.
        g.throughput(Throughput::Elements(p.objects * 2));
        g.bench_with_input(BenchmarkId::new("parse", p.name), p, |b, p| {
            b.iter(|| black_box(parse_both(p)))
        });
        let (base, desired) = parse_both(p);
        g.bench_with_input(BenchmarkId::new("normalize+diff", p.name), p, |b, _| {
            b.iter(|| {
                black_box(
                    diff(&DiffInput {
                        base: Some(&base),
                        desired: &desired,
                        live: None,
                        inventory: None,
                        identical_skipped: 0,
                        identical: &[],
                        options: &opts,
                    })
                    .expect("diff"),
                )
            });
        });
        g.bench_with_input(
            BenchmarkId::new("pipeline-in-process", p.name),
            p,
            |b, p| {
                b.iter(|| black_box(pipeline(p, &cli_opts)));
            },
        );
        if let Some(bin) = thule_bin() {
            g.bench_with_input(BenchmarkId::new("thule-diff-process", p.name), p, |b, p| {
                b.iter(|| {
                    // Measures the `thule` binary as a user starts it.
                    #[allow(clippy::disallowed_methods)]
                    let st = Command::new(&bin)
                        .args(["diff", "--base"])
                        .arg(&p.base_path)
                        .arg("--desired")
                        .arg(&p.modified_path)
                        .stdout(Stdio::null())
                        .status()
                        .expect("thule runs");
                    assert_eq!(st.code(), Some(1));
                });
            });
        }
        g.bench_with_input(BenchmarkId::new("diff-u-process", p.name), p, |b, p| {
            b.iter(|| {
                // The baseline: plain `diff -u` as a user starts it.
                #[allow(clippy::disallowed_methods)]
                let st = Command::new("diff")
                    .arg("-u")
                    .arg(&p.base_path)
                    .arg(&p.modified_path)
                    .stdout(Stdio::null())
                    .status()
                    .expect("diff runs");
                assert_eq!(st.code(), Some(1));
            });
        });
    }
    g.finish();
}

criterion_group!(diff_benches, benches);
criterion_main!(diff_benches);
