//! Publishing a 3,000-object plan against computing it.
//!
//! `compute`: what the pipeline does once the renders are in, and what `thule plan` prints
//! without publishing: diff and assess a project whose base and head renders differ in 3,000
//! objects (`pipeline::report::build`), and render the plan's markdown blocks.
//! `publish`: what publishing adds on top: the blocks split into comment parts under GitHub's
//! limit, the supersede planner over 150 existing comments (older thule parts among them), and
//! the JSON body of every request it plans. Network time is not in it.
//!
//! Besides criterion's figures, the bench prints the ratio of the two medians measured in the
//! same process (`publish / compute`).
//!
//!   cargo bench -p thule-benches --bench publish

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use thule_cli::pipeline::report::{self, MrPlan, RunMeta};
use thule_cli::pipeline::{Gathered, LiveState, ProjectInputs, RenderSide};
use thule_core::config::ConfigLayers;
use thule_core::discovery::{Reason, Why, load_projects};
use thule_core::repo::MemoryTree;
use thule_core::{Manifest, Origin};
use thule_vcs::supersede::{Op, part_body, plan_ops};
use thule_vcs::{Actor, Comment, CommentHandle, MrRef, ProviderKind, RepoRef};

const OBJECTS: usize = 3_000;

fn config_map(i: usize, level: &str) -> Manifest {
    let object = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("app-{i}"), "namespace": format!("team-{}", i % 20)},
        "data": {"LOG_LEVEL": level, "settings.yaml": format!("feature: {i}\nenabled: true\n")},
    });
    Manifest::from_value(object, Origin::default()).expect("a ConfigMap")
}

/// One project whose 3,000 ConfigMaps all change between base and head.
fn gathered() -> Gathered {
    let tree = MemoryTree::new().with("app/thule.yaml", "version: v1\nproject: app\n");
    let layers = ConfigLayers::load(&tree, None).expect("config");
    let config = load_projects(&tree, &layers, &[])
        .expect("project")
        .remove(0);
    let side = |level: &str| RenderSide::Rendered {
        objects: (0..OBJECTS).map(|i| config_map(i, level)).collect(),
        tool: "yaml".into(),
        notes: Vec::new(),
    };
    Gathered {
        projects: vec![ProjectInputs {
            config,
            reasons: vec![Reason {
                changed: "app/cm.yaml".into(),
                why: Why::ProjectFile,
            }],
            head: side("debug"),
            base: side("info"),
            live: LiveState::IntentOnly,
        }],
        unmatched: Vec::new(),
        has_base: true,
    }
}

fn mr() -> MrRef {
    MrRef {
        repo: RepoRef {
            provider: ProviderKind::GitHub,
            path: "org/app".into(),
        },
        number: 7,
    }
}

/// 150 comments: 120 by people, 30 by thule (an older plan of 30 parts).
fn existing() -> Vec<Comment> {
    (0..150u64)
        .map(|i| {
            let thule = i >= 120;
            Comment {
                handle: CommentHandle::id(i + 1),
                author: Actor::login(if thule { "thule-bot" } else { "alice" }),
                body: if thule {
                    part_body(&mr(), &"a".repeat(40), (i - 119) as usize, 30, "old plan")
                } else {
                    format!("review comment {i}")
                },
                minimized: false,
            }
        })
        .collect()
}

fn compute(g: &Gathered) -> (MrPlan, Vec<String>) {
    let plan = report::build(&RunMeta::default(), g).expect("plan");
    let blocks = report::markdown_blocks(&plan);
    (plan, blocks)
}

/// Split, plan the operations, and serialize every request body; returns the bytes sent.
fn publish(blocks: &[String], existing: &[Comment]) -> usize {
    let limit = thule_vcs::GITHUB_COMMENT_LIMIT - thule_vcs::publish::COMMENT_RESERVE;
    let parts = thule_vcs::split_markdown(blocks, limit, "thule plan");
    let ops = plan_ops(
        &Actor::login("thule-bot"),
        &mr(),
        &"b".repeat(40),
        &parts,
        existing,
    );
    ops.iter()
        .map(|op| {
            let body = match op {
                Op::Create { body, .. } | Op::Update { body, .. } => json!({ "body": body }),
                Op::Supersede { handle, .. } => json!({
                    "query": "mutation($id: ID!) { minimizeComment(input: {subjectId: $id, classifier: OUTDATED}) { minimizedComment { isMinimized } } }",
                    "variables": {"id": handle.id.to_string()},
                }),
            };
            serde_json::to_vec(&body).expect("JSON").len()
        })
        .sum()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn benches(c: &mut Criterion) {
    let g = gathered();
    let (plan, blocks) = compute(&g);
    assert_eq!(plan.summary().patch, OBJECTS);
    let existing = existing();
    let parts = report::markdown_parts(
        &plan,
        thule_vcs::GITHUB_COMMENT_LIMIT - thule_vcs::publish::COMMENT_RESERVE,
    );
    let mut group = c.benchmark_group("publish-3000");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    group.bench_function("compute", |b| b.iter(|| black_box(compute(&g))));
    group.bench_function("publish", |b| {
        b.iter(|| black_box(publish(&blocks, &existing)))
    });
    group.finish();

    // The same two, alternating, in this process: the ratio of the medians.
    let (mut t_compute, mut t_publish) = (Vec::new(), Vec::new());
    for _ in 0..11 {
        let start = Instant::now();
        black_box(compute(&g));
        t_compute.push(start.elapsed());
        let start = Instant::now();
        black_box(publish(&blocks, &existing));
        t_publish.push(start.elapsed());
    }
    let (mc, mp) = (median(t_compute), median(t_publish));
    println!(
        "publish-3000: {} parts; compute median {:.1} ms, publish median {:.2} ms, publish/compute = {:.2}%",
        parts.len(),
        mc.as_secs_f64() * 1e3,
        mp.as_secs_f64() * 1e3,
        100.0 * mp.as_secs_f64() / mc.as_secs_f64()
    );
}

criterion_group!(publish_benches, benches);
criterion_main!(publish_benches);
