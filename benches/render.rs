//! Rendering benchmarks (issue 3), on the fixture repository of thule-render's tests.
//!
//! - `render_overhead/{raw,thule}/<project>`: the tool run directly (`std::process::Command`,
//!   same arguments) against thule's full render of the same project (input hashing, tool run
//!   through the `ToolRunner`, parsing, origins), cache off. Goal: thule under 5% over raw.
//! - `render_overhead/thule_work/<project>`: thule's own work alone, with a runner that replays
//!   the tool's recorded output instead of starting it. On a shared machine this is the stable
//!   measure of overhead: `thule_work / raw` is the fraction thule adds, free of process-start
//!   noise.
//! - `render_cached/<project>`: the same render served from the content-hash cache.
//! - `render_parallel/{sequential,parallel}/<n>`: N independent projects (cache off) with one
//!   job against two jobs. Goal on 2 cores: parallel close to half of sequential.
//!
//! `interleaved raw vs ProcessRunner` isolates the cost of thule's process runner (cleared
//! environment, reader threads, timeout) from the rest.
//!
//! The machine is shared, so criterion's groups (which run one after the other) can see
//! different load. Each group therefore also prints an interleaved A/B summary first: raw and
//! thule runs (or sequential and parallel batches) alternate, and the medians and their ratio
//! are printed to stderr as `interleaved …` lines.
//!
//! Run: `cargo bench -p thule-benches --bench render`. Needs the tools from
//! `scripts/install-tools.sh` (or `THULE_TOOLS_DIR`). Compare medians in
//! `target/criterion/render_*/**/new/estimates.json`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use criterion::{Criterion, criterion_group, criterion_main};
use thule_core::config::{ConfigLayers, ProjectConfig};
use thule_core::discovery::load_projects;
use thule_core::repo::DiskTree;
use thule_render::{
    ProcessRunner, RenderEngine, RenderOptions, Renderer, ToolError, ToolInvocation, ToolOutput,
    ToolRunner, Toolchain,
};

/// Runs each distinct invocation once for real, then replays its recorded output.
struct ReplayRunner {
    real: ProcessRunner,
    recorded: Mutex<HashMap<String, ToolOutput>>,
}

impl ToolRunner for ReplayRunner {
    fn run(&self, invocation: &ToolInvocation) -> Result<ToolOutput, ToolError> {
        let key = invocation.to_string();
        if let Some(out) = self.recorded.lock().expect("lock").get(&key) {
            return Ok(out.clone());
        }
        let out = self.real.run(invocation)?;
        self.recorded.lock().expect("lock").insert(key, out.clone());
        Ok(out)
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

fn tools_dir() -> Result<PathBuf> {
    let dir = std::env::var_os("THULE_TOOLS_DIR")
        .map_or_else(|| workspace_root().join(".tools/bin"), PathBuf::from);
    for tool in ["helm", "kubectl"] {
        if !dir.join(tool).is_file() {
            bail!(
                "`{}` not found: run `scripts/install-tools.sh` or set THULE_TOOLS_DIR",
                dir.join(tool).display()
            );
        }
    }
    Ok(dir)
}

fn repo() -> PathBuf {
    workspace_root().join("thule-render/tests/fixtures/repo")
}

fn projects(repo: &Path) -> Result<Vec<ProjectConfig>> {
    let tree = DiskTree::open(repo)?;
    let layers = ConfigLayers::load(&tree, None)?;
    Ok(load_projects(&tree, &layers, &[])?)
}

fn engine(repo: &Path, tools: &Path, jobs: usize) -> RenderEngine<ProcessRunner> {
    let options = RenderOptions::new(repo)
        .toolchain(Toolchain::from_dir(tools))
        .jobs(jobs);
    RenderEngine::new(ProcessRunner::new(), options)
}

/// The command thule runs for each benchmarked project, as a user would type it.
fn raw_args(name: &str) -> (&'static str, Vec<&'static str>) {
    match name {
        "web" => (
            "helm",
            vec![
                "template",
                "web",
                "./helm/web",
                "--namespace",
                "shop",
                "-f",
                "helm/values/base.yaml",
                "-f",
                "helm/values/prod.yaml",
                "--set",
                r"config.extra=a\,b",
                "--set",
                "image.tag=9.9.9",
                "--kube-version",
                "1.31.0",
                "--api-versions",
                "policy/v1/PodDisruptionBudget",
                "--include-crds",
            ],
        ),
        "api-prod" => (
            "kubectl",
            vec![
                "kustomize",
                "kustomize/overlays/prod",
                "--load-restrictor",
                "LoadRestrictionsRootOnly",
            ],
        ),
        other => panic!("no raw command for {other}"),
    }
}

fn run_raw(repo: &Path, tools: &Path, name: &str) -> Result<usize> {
    let (program, args) = raw_args(name);
    // The baseline: the tool run directly, without thule's runner.
    #[allow(clippy::disallowed_methods)]
    let out = Command::new(tools.join(program))
        .args(&args)
        .current_dir(repo)
        .output()?;
    ensure!(out.status.success(), "{program} failed");
    Ok(out.stdout.len())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// CPU time (user + system) used by this process's waited-for children so far, from
/// `/proc/self/stat` (Linux; `None` elsewhere). Much less sensitive to other load than wall
/// time, which makes it the better measure on a shared machine.
fn children_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    // After the command name: state is field 3; cutime and cstime are fields 16 and 17.
    let ticks: u64 = fields.get(13)?.parse::<u64>().ok()? + fields.get(14)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10)) // USER_HZ is 100 on Linux
}

/// Alternate `a` and `b` `pairs` times; print both wall-time medians and `b / a`, and the
/// children's CPU time per run for each side.
fn interleaved(label: &str, pairs: usize, mut a: impl FnMut(), mut b: impl FnMut()) {
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    let (mut ca, mut cb) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..pairs {
        let (c, t) = (children_cpu(), Instant::now());
        a();
        ta.push(t.elapsed());
        ca += children_cpu().zip(c).map_or(Duration::ZERO, |(x, y)| x - y);
        let (c, t) = (children_cpu(), Instant::now());
        b();
        tb.push(t.elapsed());
        cb += children_cpu().zip(c).map_or(Duration::ZERO, |(x, y)| x - y);
    }
    let (ma, mb) = (median(ta), median(tb));
    let per_run = |d: Duration| d.as_secs_f64() * 1e3 / pairs as f64;
    eprintln!(
        "interleaved {label}: {pairs} pairs, wall medians {:.2} ms / {:.2} ms, ratio {:.3}; \
         tool CPU per run {:.1} ms / {:.1} ms",
        ma.as_secs_f64() * 1e3,
        mb.as_secs_f64() * 1e3,
        mb.as_secs_f64() / ma.as_secs_f64(),
        per_run(ca),
        per_run(cb),
    );
}

fn bench_overhead(c: &mut Criterion) {
    let setup = || -> Result<_> {
        let repo = repo();
        let tools = tools_dir()?;
        let projects = projects(&repo)?;
        Ok((repo, tools, projects))
    };
    let (repo, tools, projects) = setup().expect("benchmark setup");
    let engine = engine(&repo, &tools, 1).without_cache();
    let cached = self::engine(&repo, &tools, 1);
    let replay = RenderEngine::new(
        ReplayRunner {
            real: ProcessRunner::new(),
            recorded: Mutex::new(HashMap::new()),
        },
        RenderOptions::new(&repo).toolchain(Toolchain::from_dir(&tools)),
    )
    .without_cache();

    let mut g = c.benchmark_group("render_overhead");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    for name in ["web", "api-prod"] {
        let p = projects
            .iter()
            .find(|p| p.name == name)
            .with_context(|| format!("no project {name}"))
            .expect("fixture project");
        // Warm the version cache and check both paths work before timing them.
        assert!(engine.render(p).is_rendered(), "{name} must render");
        run_raw(&repo, &tools, name).expect("raw tool run");
        let (program, args) = raw_args(name);
        let invocation = ToolInvocation::new(tools.join(program))
            .args(args)
            .cwd(&repo);
        let runner = ProcessRunner::new();
        interleaved(
            &format!("raw vs ProcessRunner {name}"),
            21,
            || {
                run_raw(&repo, &tools, name).expect("raw tool run");
            },
            || {
                runner.run(&invocation).expect("tool run");
            },
        );
        interleaved(
            &format!("raw vs thule {name}"),
            21,
            || {
                run_raw(&repo, &tools, name).expect("raw tool run");
            },
            || assert!(engine.render(p).is_rendered()),
        );
        g.bench_function(format!("raw/{name}"), |b| {
            b.iter(|| run_raw(&repo, &tools, name).expect("raw tool run"));
        });
        assert!(replay.render(p).is_rendered());
        g.bench_function(format!("thule_work/{name}"), |b| {
            b.iter(|| {
                let r = replay.render(p);
                assert!(r.is_rendered());
                r
            });
        });
        g.bench_function(format!("thule/{name}"), |b| {
            b.iter(|| {
                let r = engine.render(p);
                assert!(r.is_rendered());
                r
            });
        });
    }
    g.finish();

    let mut g = c.benchmark_group("render_cached");
    for name in ["web", "api-prod"] {
        let p = projects
            .iter()
            .find(|p| p.name == name)
            .expect("fixture project");
        assert!(cached.render(p).is_rendered());
        g.bench_function(name, |b| {
            b.iter(|| {
                let r = cached.render(p);
                assert!(r.output().is_some_and(|o| o.meta.cached));
                r
            });
        });
    }
    g.finish();
}

fn bench_parallel(c: &mut Criterion) {
    let repo = repo();
    let tools = tools_dir().expect("tools");
    let all = projects(&repo).expect("projects");
    // N independent projects: four copies each of the helm and the kustomize project.
    let n = 8;
    let batch: Vec<ProjectConfig> = (0..n)
        .map(|i| {
            let base = if i % 2 == 0 { "web" } else { "api-prod" };
            let mut p = all
                .iter()
                .find(|p| p.name == base)
                .cloned()
                .expect("fixture project");
            p.name = format!("{base}-{i}");
            p
        })
        .collect();
    let sequential = engine(&repo, &tools, 1).without_cache();
    let parallel = engine(&repo, &tools, 2).without_cache();
    for e in [&sequential, &parallel] {
        assert!(e.render_all(&batch).iter().all(|r| r.is_rendered()));
    }
    interleaved(
        &format!("sequential vs parallel {n} projects"),
        7,
        || {
            sequential.render_all(&batch);
        },
        || {
            parallel.render_all(&batch);
        },
    );
    let mut g = c.benchmark_group("render_parallel");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function(format!("sequential/{n}"), |b| {
        b.iter(|| sequential.render_all(&batch));
    });
    g.bench_function(format!("parallel/{n}"), |b| {
        b.iter(|| parallel.render_all(&batch));
    });
    g.finish();
}

criterion_group!(benches, bench_overhead, bench_parallel);
criterion_main!(benches);
