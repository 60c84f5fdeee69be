//! The service's unit of work, `pipeline::mr::MrPlanner`: a merge request read from a loopback
//! fake speaking GitLab's real API, its commits fetched with the real git from a repository
//! allowed as a local URL, planned with the real renderers, and published. A job for an older
//! head touches nothing; a cancelled job publishes nothing.

use std::sync::Arc;

use thule_cli::pipeline::Selection;
use thule_cli::pipeline::mr::{MrJob, MrOutcome, MrPlanner};
use thule_cli::workspace::{GitAuth, RemotePolicy, Workspaces};
use thule_core::cancel::CancelToken;
use thule_vcs::http::Secret;
use thule_vcs::testing::gitlab::{FakeGitLab, IID, PROJECT_PATH, THULE_TOKEN};
use thule_vcs::{MrRef, ProviderKind, Publisher, RepoRef};

use crate::support::{git, tools};

/// A repository with one plain-YAML project whose ConfigMap changes between two commits.
fn repo() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "--quiet", "-b", "main"]);
    std::fs::create_dir_all(d.join("app")).unwrap();
    std::fs::write(
        d.join("app/thule.yaml"),
        "version: v1\nproject: app\nnamespace: app\n",
    )
    .unwrap();
    let cm = |level: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app}}\ndata: {{LOG: {level}}}\n"
        )
    };
    std::fs::write(d.join("app/cm.yaml"), cm("info")).unwrap();
    git(d, &["add", "."]);
    git(d, &["commit", "--quiet", "-m", "base"]);
    let base = thule_cli::git::rev_parse(d, "HEAD").unwrap();
    std::fs::write(d.join("app/cm.yaml"), cm("debug")).unwrap();
    git(d, &["commit", "--quiet", "-am", "head"]);
    let head = thule_cli::git::rev_parse(d, "HEAD").unwrap();
    git(d, &["config", "uploadpack.allowAnySHA1InWant", "true"]);
    (dir, base, head)
}

fn planner(root: &std::path::Path) -> MrPlanner {
    let policy = RemotePolicy {
        hosts: Vec::new(),
        allow_local: true,
    };
    let ws = Arc::new(Workspaces::new(root, 1 << 30, policy).unwrap());
    MrPlanner::new(
        ws,
        GitAuth::None,
        thule_render::Toolchain::from_dir(&tools()),
    )
}

fn job(src: &std::path::Path, head: &str) -> MrJob {
    MrJob {
        mr: MrRef {
            repo: RepoRef {
                provider: ProviderKind::GitLab,
                path: PROJECT_PATH.into(),
            },
            number: IID,
        },
        clone_url: format!("file://{}", src.display()),
        head_sha: head.to_owned(),
        base_sha: None,
        selection: Selection::default(),
    }
}

#[test]
fn a_job_is_planned_and_published_and_a_stale_or_cancelled_one_touches_nothing() {
    let (src, base, head) = repo();
    let root = tempfile::tempdir().unwrap();
    let planner = planner(root.path());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let fake = FakeGitLab::start(&head, &base).await;
        let gitlab =
            thule_vcs::gitlab::GitLab::new(&fake.api_url(), PROJECT_PATH, Secret::new(THULE_TOKEN))
                .unwrap();
        let publisher = Publisher::new(gitlab).await.unwrap();

        let outcome = planner
            .run(&publisher, &job(src.path(), &head), CancelToken::new())
            .await
            .unwrap();
        let MrOutcome::Published {
            published,
            projects,
            ..
        } = outcome
        else {
            panic!("not published: {outcome:?}");
        };
        assert_eq!(projects, ["app"]);
        assert_eq!(published.created.len(), 1);
        let notes = fake.forge().thule_notes();
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].body.contains(&format!("sha={head}")),
            "{}",
            notes[0].body
        );
        assert!(notes[0].body.contains("LOG"), "the plan shows the change");
        assert!(
            fake.requests().iter().all(|r| r.method != "DELETE"),
            "nothing is deleted"
        );

        // A job for an older head: superseded, no request writes anything.
        fake.server.clear();
        let outcome = planner
            .run(&publisher, &job(src.path(), &base), CancelToken::new())
            .await
            .unwrap();
        assert!(
            matches!(outcome, MrOutcome::Superseded { ref current_head } if *current_head == head)
        );
        assert!(
            fake.requests().iter().all(|r| r.method == "GET"),
            "read only"
        );

        // A cancelled job publishes nothing (the pending status is all it set).
        fake.server.clear();
        let cancel = CancelToken::new();
        cancel.cancel();
        let outcome = planner
            .run(&publisher, &job(src.path(), &head), cancel)
            .await
            .unwrap();
        assert!(matches!(outcome, MrOutcome::Cancelled), "{outcome:?}");
        let writes: Vec<String> = fake
            .requests()
            .iter()
            .filter(|r| r.method != "GET")
            .map(|r| r.line())
            .collect();
        assert!(
            writes.iter().all(|w| w.contains("/statuses/")),
            "{writes:?}"
        );
        assert_eq!(fake.forge().thule_notes().len(), 1);
    });
}
