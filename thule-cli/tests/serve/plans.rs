//! The service with its real runner (`PipelineRunner`), end to end on loopback: signed GitHub
//! deliveries to `thule serve`'s intake, a fake speaking GitHub's real REST and GraphQL API,
//! a git repository fetched by the real git as an allowed local URL, the real renderers.
//! MR opened → one comment and a status; a push → a new comment, the old one minimized; the
//! same delivery again → one run; `/thule plan` by a non-member → a polite refusal, no run;
//! `/thule help` → the help text.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use thule_cli::serve::runner::PipelineRunner;
use thule_vcs::testing::github::{FakeGitHub, OWNER_REPO, PR, StoredComment, TOKEN};

use crate::support::{SECRET, github_headers, github_pull, settings_with, start};

fn git(dir: &Path, args: &[&str]) {
    let inv = thule_render::ToolInvocation::new("git")
        .cwd(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@thule.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args.iter().copied());
    use thule_render::ToolRunner as _;
    thule_render::ProcessRunner::new().run(&inv).expect("git");
}

fn commit(dir: &Path, level: &str, message: &str) -> String {
    std::fs::write(
        dir.join("app/cm.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app}}\ndata: {{LOG: {level}}}\n"
        ),
    )
    .unwrap();
    git(dir, &["add", "."]);
    git(dir, &["commit", "--quiet", "-m", message]);
    thule_cli::git::rev_parse(dir, "HEAD").unwrap()
}

fn tools() -> std::path::PathBuf {
    std::env::var_os("THULE_TOOLS_DIR")
        .map(Into::into)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/bin"))
}

/// The service with the real runner against `fake`, cloning from `clones`, rendering with the
/// tools in `tools`; its data directory lives as long as the returned guard.
async fn serve(
    fake: &FakeGitHub,
    clones: &Path,
    tools: &Path,
) -> (tempfile::TempDir, crate::support::Running) {
    let (rest, graphql) = fake.urls();
    let data = tempfile::tempdir().unwrap();
    let settings = settings_with(
        data.path(),
        &[
            ("THULE_GITHUB_API_URL", &rest),
            ("THULE_GITHUB_GRAPHQL_URL", &graphql),
            ("THULE_GITHUB_TOKEN", TOKEN),
        ],
    );
    let runner = PipelineRunner::new(
        settings.providers.clone(),
        &settings.data_dir,
        1 << 30,
        thule_render::Toolchain::from_dir(tools),
        None,
    )
    .unwrap()
    .with_local_clones(clones.to_path_buf(), &settings.data_dir)
    .unwrap();
    (data, start(settings, Arc::new(runner)).await)
}

/// Wait until `done` holds (bounded).
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < give_up, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn plans(fake: &FakeGitHub) -> Vec<StoredComment> {
    fake.comments()
        .into_iter()
        .filter(|c| c.body.starts_with("<!-- thule:plan"))
        .collect()
}

fn issue_comment(login: &str, id: u64, body: &str) -> Vec<u8> {
    json!({
        "action": "created",
        "issue": {"number": PR, "state": "open", "pull_request": {"url": "x"}, "labels": [],
                  "user": {"login": "alice", "id": 1}},
        "comment": {"id": id, "node_id": format!("IC_{id}"), "body": body,
                    "user": {"login": login, "id": 99}},
        "repository": {"full_name": OWNER_REPO},
        "sender": {"login": login, "id": 99}
    })
    .to_string()
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_requests_are_planned_published_superseded_and_commands_checked() {
    tokio::time::timeout(Duration::from_secs(120), async {
        // The repository, at <clones>/octo-org/gitops.
        let clones = tempfile::tempdir().unwrap();
        let repo = clones.path().join(OWNER_REPO);
        std::fs::create_dir_all(repo.join("app")).unwrap();
        git(&repo, &["init", "--quiet", "-b", "main"]);
        std::fs::write(
            repo.join("app/thule.yaml"),
            "version: v1\nproject: app\nnamespace: app\n",
        )
        .unwrap();
        let base = commit(&repo, "info", "base");
        let head = commit(&repo, "debug", "head");
        git(&repo, &["config", "uploadpack.allowAnySHA1InWant", "true"]);

        let fake = FakeGitHub::start(&head, &base).await;
        let (_data, running) = serve(&fake, clones.path(), &tools()).await;

        // Opened: one plan comment, then a final status on the head.
        let body = github_pull("opened", OWNER_REPO, PR, &head, OWNER_REPO);
        let (status, _) = running
            .deliver(&github_headers("pull_request", "d-1", &body, SECRET), &body)
            .await;
        assert_eq!(status, 202);
        until("the first plan", || {
            plans(&fake).len() == 1
                && fake
                    .state()
                    .statuses
                    .iter()
                    .any(|(sha, s)| *sha == head && s["state"] != "pending")
        })
        .await;
        assert!(plans(&fake)[0].body.contains(&format!("sha={head}")));
        // The same delivery again: one run, nothing new.
        let (status, _) = running
            .deliver(&github_headers("pull_request", "d-1", &body, SECRET), &body)
            .await;
        assert!(status < 300);

        // A push: a new plan, the old one minimized.
        let head2 = commit(&repo, "warn", "push");
        fake.state().set_head(&head2);
        let body = github_pull("synchronize", OWNER_REPO, PR, &head2, OWNER_REPO);
        running
            .deliver(&github_headers("pull_request", "d-2", &body, SECRET), &body)
            .await;
        until("the second plan", || {
            let p = plans(&fake);
            p.len() == 2 && p[0].minimized.is_some()
        })
        .await;
        let current: Vec<_> = plans(&fake)
            .into_iter()
            .filter(|c| c.minimized.is_none())
            .collect();
        assert_eq!(current.len(), 1, "exactly one current plan");
        assert!(current[0].body.contains(&format!("sha={head2}")));

        // A command by someone without write access: a polite refusal, no run.
        let body = issue_comment("mallory", 9001, "/thule plan");
        running
            .deliver(
                &github_headers("issue_comment", "d-3", &body, SECRET),
                &body,
            )
            .await;
        until("the refusal", || {
            fake.comments()
                .iter()
                .any(|c| c.body.contains("only for people with write access"))
        })
        .await;
        assert_eq!(plans(&fake).len(), 2, "no run for a non-member");

        // Help.
        let body = issue_comment("alice", 9002, "/thule help");
        running
            .deliver(
                &github_headers("issue_comment", "d-4", &body, SECRET),
                &body,
            )
            .await;
        until("the help", || {
            fake.comments()
                .iter()
                .any(|c| c.body.contains("`/thule plan -d DIR`"))
        })
        .await;
        running.service.shutdown().await.expect("shutdown");
    })
    .await
    .expect("bounded");
}

/// A `helm` that hangs (writing its PID) when the checkout it renders holds `SLOW`, and runs
/// the real helm otherwise.
#[cfg(target_os = "linux")]
fn hanging_helm(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let pid = dir.join("pid");
    let real = tools().join("helm");
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" != version ] && grep -rqs SLOW .; then echo $$ > '{p}.tmp'; mv '{p}.tmp' '{p}'; exec sleep 30; fi\nexec '{real}' \"$@\"\n",
        p = pid.display(),
        real = real.display()
    );
    std::fs::write(dir.join("helm"), script).unwrap();
    std::fs::set_permissions(dir.join("helm"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(tools().join("kubectl"), dir.join("kubectl")).unwrap();
    pid
}

/// Whether a process exists and is not a zombie.
#[cfg(target_os = "linux")]
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Stale run: SHA1 is rendering (its helm hangs) when SHA2 of the same merge request arrives.
/// SHA1's run is cancelled and its helm killed, SHA1 gets no plan (its status says it was
/// cancelled), and SHA2's plan is the one current plan.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_head_cancels_the_run_rendering_an_older_one() {
    tokio::time::timeout(Duration::from_secs(120), async {
        let clones = tempfile::tempdir().unwrap();
        let repo = clones.path().join(OWNER_REPO);
        std::fs::create_dir_all(repo.join("app/chart/templates")).unwrap();
        git(&repo, &["init", "--quiet", "-b", "main"]);
        std::fs::write(
            repo.join("app/thule.yaml"),
            "version: v1\nproject: app\nnamespace: app\nrender:\n  mode: helm\n  path: chart\n",
        )
        .unwrap();
        std::fs::write(repo.join("app/chart/Chart.yaml"), "apiVersion: v2\nname: app\nversion: 0.1.0\n").unwrap();
        std::fs::write(
            repo.join("app/chart/templates/cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {LOG: {{ .Values.level | quote }}}\n",
        )
        .unwrap();
        let values = |level: &str, note: &str| {
            std::fs::write(repo.join("app/chart/values.yaml"), format!("level: {level}\n# {note}\n")).unwrap();
            git(&repo, &["add", "."]);
            git(&repo, &["commit", "--quiet", "-m", level]);
            thule_cli::git::rev_parse(&repo, "HEAD").unwrap()
        };
        let base = values("info", "base");
        let head1 = values("debug", "SLOW");
        let head2 = values("warn", "fast");
        git(&repo, &["config", "uploadpack.allowAnySHA1InWant", "true"]);

        let tools_dir = tempfile::tempdir().unwrap();
        let pid_file = hanging_helm(tools_dir.path());
        let fake = FakeGitHub::start(&head1, &base).await;
        let (_data, running) = serve(&fake, clones.path(), tools_dir.path()).await;

        let body = github_pull("opened", OWNER_REPO, PR, &head1, OWNER_REPO);
        assert_eq!(running.deliver(&github_headers("pull_request", "s-1", &body, SECRET), &body).await.0, 202);
        until("SHA1's helm to start", || pid_file.exists()).await;
        let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_owned();
        assert!(alive(&pid), "SHA1 renders");

        fake.state().set_head(&head2);
        let body = github_pull("synchronize", OWNER_REPO, PR, &head2, OWNER_REPO);
        assert_eq!(running.deliver(&github_headers("pull_request", "s-2", &body, SECRET), &body).await.0, 202);
        until("SHA2's plan", || plans(&fake).iter().any(|c| c.body.contains(&format!("sha={head2}")))).await;
        until("SHA1's helm to be gone", || !alive(&pid)).await;
        let all = plans(&fake);
        assert_eq!(all.len(), 1, "only SHA2's plan was posted");
        assert!(!all[0].body.contains(&format!("sha={head1}")));
        let statuses = fake.state().statuses.clone();
        let last_for_head1 = statuses.iter().rev().find(|(sha, _)| *sha == head1).map(|(_, s)| s.clone());
        assert_eq!(last_for_head1.as_ref().map(|s| s["state"].clone()), Some(json!("error")), "{statuses:?}");
        running.service.shutdown().await.expect("shutdown");
    })
    .await
    .expect("bounded");
}
