//! The planning pipeline as a library: it never blocks the async worker threads, it can be
//! cancelled while its render tools run, and it plans the bundled example exactly as the
//! binary prints it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use thule_cli::pipeline::readers::SnapshotReaders;
use thule_cli::pipeline::{
    Outcome, Pipeline, PlanRequest, Progress, Sides, Stage, ToolRenderers, report,
};
use thule_core::cancel::CancelToken;
use thule_core::config::ProjectConfig;
use thule_core::discovery::ChangedFile;
use thule_core::repo::{DiskTree, MemoryTree};
use thule_core::{Manifest, Origin};
use thule_render::{ProjectRender, Renderer, ToolInfo};

use crate::support::{EXAMPLE_PLAN, args_with, root, thule, tools};

/// A renderer that blocks its thread for `delay` (as a slow helm would) and renders one
/// ConfigMap per project.
struct Sleepy {
    delay: Duration,
    renders: AtomicUsize,
}

impl Renderer for Sleepy {
    fn render(&self, project: &ProjectConfig) -> ProjectRender {
        std::thread::sleep(self.delay);
        self.renders.fetch_add(1, Ordering::SeqCst);
        let object = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": project.name, "namespace": "default"},
        });
        let objects = vec![Manifest::from_value(object, Origin::default()).unwrap()];
        let tool = ToolInfo {
            name: "sleepy".into(),
            version: "v0".into(),
        };
        ProjectRender::rendered(&project.name, objects, tool)
    }
}

fn memory_repo(projects: &[&str]) -> MemoryTree {
    let mut tree = MemoryTree::new();
    for p in projects {
        tree = tree.with(
            &format!("{p}/thule.yaml"),
            format!("version: v1\nproject: {p}\n"),
        );
        tree = tree.with(&format!("{p}/cm.yaml"), "kind: ConfigMap\n");
    }
    tree
}

fn request(tree: MemoryTree, changed: &[&str]) -> PlanRequest {
    PlanRequest {
        head: Arc::new(tree),
        base: None,
        changed: changed.iter().map(|c| ChangedFile::new(*c)).collect(),
        head_sha: None,
        base_sha: None,
        org: None,
        overrides: Vec::new(),
    }
}

/// Two plans run at once on a two-worker runtime whose renders block for a second each,
/// while a ticker task ticks every 10 ms: if a render ran on a worker thread, both workers
/// would be blocked and the ticker would stall for a second. It does not: the longest gap
/// between ticks stays far below the render time.
#[test]
fn concurrent_plans_never_block_the_async_workers() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let delay = Duration::from_millis(1000);
    let renderer = Arc::new(Sides {
        head: Sleepy {
            delay,
            renders: AtomicUsize::new(0),
        },
        base: None::<Sleepy>,
    });
    let pipeline = Pipeline::new(renderer.clone());
    let (a, b) = (
        request(memory_repo(&["a"]), &["a/cm.yaml"]),
        request(memory_repo(&["b"]), &["b/cm.yaml"]),
    );
    let (gap, plans) = runtime.block_on(async {
        let done = Arc::new(tokio::sync::Notify::new());
        let ticker = {
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(Duration::from_millis(10));
                let mut last = Instant::now();
                let mut longest = Duration::ZERO;
                loop {
                    tokio::select! {
                        _ = interval.tick() => {
                            longest = longest.max(last.elapsed());
                            last = Instant::now();
                        }
                        () = done.notified() => return longest,
                    }
                }
            })
        };
        let plans = tokio::join!(pipeline.plan(&a), pipeline.plan(&b));
        done.notify_one();
        (ticker.await.unwrap(), plans)
    });
    for plan in [plans.0, plans.1] {
        let plan = plan.unwrap().planned().expect("not cancelled");
        assert_eq!(plan.summary().create, 1, "each plan creates its ConfigMap");
    }
    assert_eq!(renderer.head.renders.load(Ordering::SeqCst), 2);
    assert!(
        gap < delay / 2,
        "the ticker stalled for {gap:?} while renders blocked for {delay:?}"
    );
}

/// The stages a run reports, in order.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<String>>);

impl Progress for Recorder {
    fn stage(&self, stage: Stage<'_>) {
        self.0.lock().unwrap().push(format!("{stage:?}"));
    }
}

/// The library pipeline over the bundled example (real helm and kubectl, snapshots) gives
/// byte-for-byte the markdown, JSON and text that `thule plan` prints, and reports its
/// stages in order.
#[test]
fn the_library_plans_the_example_as_the_binary_prints_it() {
    let head = root().join("examples/gitops");
    let base = root().join("examples/gitops-base");
    let head_tree = DiskTree::open(&head).unwrap();
    let base_tree = DiskTree::open(&base).unwrap();
    let changed = thule_cli::git::changed_between(&base_tree, &head_tree).unwrap();
    let request = PlanRequest {
        head: Arc::new(head_tree),
        base: Some(Arc::new(base_tree)),
        changed,
        head_sha: None,
        base_sha: None,
        org: None,
        overrides: Vec::new(),
    };
    let toolchain = thule_render::Toolchain::from_dir(&tools());
    let renderers = ToolRenderers::new(&head, Some(&base), toolchain, 2, CancelToken::new());
    let recorder = Arc::new(Recorder::default());
    let live = root().join("examples/snapshots");
    let snapshots = SnapshotReaders {
        by_cluster: Default::default(),
        root: Some(live.clone()),
    };
    let pipeline = Pipeline::new(Arc::new(renderers))
        .with_readers(Arc::new(snapshots))
        .with_progress(recorder.clone());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let plan = runtime
        .block_on(pipeline.plan(&request))
        .unwrap()
        .planned()
        .unwrap();
    let binary = |format: &str| {
        let out = thule(&args_with(
            EXAMPLE_PLAN,
            &["--live", live.to_str().unwrap(), "--format", format],
        ));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(report::json(&plan), binary("json"));
    assert_eq!(report::text(&plan, false), binary("text"));
    let markdown = report::markdown_parts(&plan, thule_vcs::GITHUB_COMMENT_LIMIT);
    assert_eq!(markdown.join(report::PART_SEPARATOR), binary("markdown"));
    let stages = recorder.0.lock().unwrap().clone();
    assert_eq!(
        stages.first().map(String::as_str),
        Some("Rendering { projects: 5 }")
    );
    assert_eq!(stages.get(1).map(String::as_str), Some("Rendered"));
    assert!(
        stages.iter().any(|s| s.starts_with("ReadingCluster")),
        "{stages:?}"
    );
    assert!(stages.last().unwrap().starts_with("Diffing"), "{stages:?}");
}

/// A `helm` that answers `version` and otherwise writes its PID to `pid` and sleeps; the real
/// kubectl beside it.
#[cfg(target_os = "linux")]
fn hanging_helm(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let pid = dir.join("pid");
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = version ]; then echo v9.9.9; exit 0; fi\necho $$ > '{p}.tmp'\nmv '{p}.tmp' '{p}'\nexec sleep 30\n",
        p = pid.display()
    );
    std::fs::write(dir.join("helm"), script).unwrap();
    std::fs::set_permissions(dir.join("helm"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(tools().join("kubectl"), dir.join("kubectl")).unwrap();
    pid
}

/// Whether a process exists and is not a zombie.
#[cfg(target_os = "linux")]
fn running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

/// A run whose helm hangs is cancelled while the tool runs: the plan ends within one second
/// with the cancelled outcome (never a partial plan), and the helm process is gone.
#[cfg(target_os = "linux")]
#[test]
fn a_cancelled_run_ends_promptly_and_kills_its_render_tools() {
    let tools = tempfile::tempdir().unwrap();
    let pid_file = hanging_helm(tools.path());
    let head = root().join("examples/gitops");
    let request = PlanRequest {
        head: Arc::new(DiskTree::open(&head).unwrap()),
        base: None,
        changed: vec![ChangedFile::new("apps/web/values-prod.yaml")],
        head_sha: None,
        base_sha: None,
        org: None,
        overrides: Vec::new(),
    };
    let cancel = CancelToken::new();
    let toolchain = thule_render::Toolchain::from_dir(tools.path());
    let renderers = ToolRenderers::new(&head, None, toolchain, 2, cancel.clone());
    let pipeline = Pipeline::new(Arc::new(renderers)).with_cancel(cancel.clone());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (outcome, pid, took) = runtime.block_on(async {
        let run = tokio::spawn(async move { pipeline.plan(&request).await });
        let give_up = Instant::now() + Duration::from_secs(30);
        let pid = loop {
            if let Ok(pid) = std::fs::read_to_string(&pid_file) {
                break pid.trim().to_owned();
            }
            assert!(Instant::now() < give_up, "helm never started");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        assert!(running(&pid), "helm runs before the cancel");
        let cancelled_at = Instant::now();
        cancel.cancel();
        let outcome = run.await.unwrap().unwrap();
        (outcome, pid, cancelled_at.elapsed())
    });
    assert!(matches!(outcome, Outcome::Cancelled), "{outcome:?}");
    assert!(
        took < Duration::from_secs(1),
        "the run took {took:?} to end"
    );
    // The runner kills and reaps the tool; give the kernel a moment to drop the entry.
    let deadline = Instant::now() + Duration::from_secs(1);
    while running(&pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !running(&pid),
        "helm (pid {pid}) outlived the cancelled run"
    );
}

/// A comment command's selection plans only the named projects or directories, and a name
/// the merge request does not impact is an error that lists the impacted ones.
#[test]
fn a_selection_plans_only_the_chosen_impacted_projects() {
    use thule_cli::pipeline::{PipelineError, Selection};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let renderer = Arc::new(Sides {
        head: Sleepy {
            delay: Duration::ZERO,
            renders: AtomicUsize::new(0),
        },
        base: None::<Sleepy>,
    });
    let pipeline = Pipeline::new(renderer);
    let req = request(memory_repo(&["a", "b"]), &["a/cm.yaml", "b/cm.yaml"]);
    let names = |selection: Selection| -> Vec<String> {
        let outcome = runtime
            .block_on(pipeline.plan_selected(&req, &selection))
            .unwrap();
        let plan = outcome.planned().unwrap();
        plan.projects.iter().map(|p| p.name.clone()).collect()
    };
    assert_eq!(names(Selection::default()), ["a", "b"]);
    let by_name = Selection {
        projects: vec!["a".into()],
        dirs: Vec::new(),
    };
    assert_eq!(names(by_name), ["a"]);
    let by_dir = Selection {
        projects: Vec::new(),
        dirs: vec!["b/".into()],
    };
    assert_eq!(names(by_dir), ["b"]);
    let unknown = Selection {
        projects: vec!["zzz".into()],
        dirs: Vec::new(),
    };
    let err = runtime
        .block_on(pipeline.plan_selected(&req, &unknown))
        .unwrap_err();
    assert!(matches!(err, PipelineError::Selection(_)));
    assert!(err.to_string().contains("impacted: a, b"), "{err}");
}
