//! `thule plan --publish` end to end: the real `thule` binary runs against loopback fakes that
//! speak GitLab's and GitHub's real APIs (`thule_vcs::testing::{gitlab, github}`: no real
//! forge can run here), in a cleared environment that holds only one CI system's variables
//! (plus `PATH`, `HOME`, `THULE_TOOLS_DIR` and `THULE_NO_PROGRESS`), on a temporary git
//! repository whose commits are the merge request's base and heads. No revision flag is
//! given: the CI environment says everything.
//!
//! Each scenario runs thule three times, as three pipelines would: the first head (one plan
//! comment, `pending` then a final status on the head commit), a new head (the older plan
//! superseded, a new one posted), the same head again (nothing new posted). The token never
//! shows in the output, and a missing variable is an error that names it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;
use thule_vcs::marker::{MarkState, Marker};
use thule_vcs::testing::github::{self, FakeGitHub};
use thule_vcs::testing::gitlab::{self, FakeGitLab};
use thule_vcs::{MrRef, ProviderKind, RepoRef};

use crate::support::{git, tools};

/// A GitLab CI job token: GitLab CI always sets one, and thule must not use it.
const JOB_TOKEN: &str = "glcbt-64_jobTokenNeverUsed";
/// GitHub's `GITHUB_SHA` on a `pull_request` event: the test merge commit, not the head.
const MERGE_SHA: &str = "e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0";

/// A temporary git repository with one thule project of plain YAML (a ConfigMap).
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    /// The repository with its first commit (the merge request's base); returns it and the
    /// commit.
    fn new() -> (Self, String) {
        let repo = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        let project = repo.path().join("apps/web");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(
            project.join("thule.yaml"),
            "version: v1\nproject: web\nnamespace: web\nrender:\n  mode: yaml\n",
        )
        .unwrap();
        git(repo.path(), &["init", "-q", "-b", "main"]);
        let base = repo.commit("base", "1");
        (repo, base)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn arg(&self) -> String {
        self.path().to_string_lossy().into_owned()
    }

    /// Commit the ConfigMap with `replicas` as its value; returns the commit.
    fn commit(&self, message: &str, replicas: &str) -> String {
        std::fs::write(
            self.path().join("apps/web/configmap.yaml"),
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-settings\ndata:\n  replicas: \"{replicas}\"\n"
            ),
        )
        .unwrap();
        git(self.path(), &["add", "-A"]);
        git(self.path(), &["commit", "-qm", message]);
        rev_parse(self.path(), "HEAD")
    }
}

/// The full commit id of `rev` in `dir`.
#[allow(clippy::disallowed_methods)] // Reads the test repository, outside what is tested.
fn rev_parse(dir: &Path, rev: &str) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--verify", rev])
        .output()
        .unwrap();
    assert!(out.status.success(), "git rev-parse {rev} failed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `thule plan --publish --repo REPO` with nothing in its environment but `ci` and what any
/// job has (`PATH`, `HOME`), the tools and no progress line.
#[allow(clippy::disallowed_methods)] // Runs the built binary as a CI job would.
fn thule_in_ci(repo: &Repo, ci: &[(&str, String)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_thule"));
    command
        .args(["plan", "--publish", "--repo", &repo.arg()])
        .current_dir(repo.path())
        .env_clear()
        .env("THULE_TOOLS_DIR", tools())
        .env("THULE_NO_PROGRESS", "1");
    for var in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(var) {
            command.env(var, value);
        }
    }
    command.envs(ci.iter().map(|(k, v)| (k, v)));
    command.output().expect("running thule")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The run's exit code is `code`, and `secret` is nowhere in what it printed.
fn assert_run(out: &Output, code: i32, secret: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !String::from_utf8_lossy(text).contains(secret),
            "the token is in {name}"
        );
    }
}

/// `ci` without `var`.
fn without(ci: &[(&'static str, String)], var: &str) -> Vec<(&'static str, String)> {
    ci.iter().filter(|(k, _)| *k != var).cloned().collect()
}

fn marker(body: &str) -> Marker {
    Marker::parse(body).unwrap_or_else(|| panic!("no marker on the first line of {body:.200}"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

// ---------------------------------------------------------------------------------------------
// GitLab CI.

/// What a merge-request pipeline's job sees (the variables thule reads, and some it must not
/// be confused by).
fn gitlab_ci(fake: &FakeGitLab, head: &str, base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("CI", "true".to_owned()),
        ("GITLAB_CI", "true".to_owned()),
        ("CI_SERVER_URL", "https://gitlab.example.com".to_owned()),
        ("CI_API_V4_URL", fake.api_url()),
        ("CI_PROJECT_ID", gitlab::PROJECT_ID.to_string()),
        ("CI_PROJECT_PATH", gitlab::PROJECT_PATH.to_owned()),
        ("CI_PIPELINE_SOURCE", "merge_request_event".to_owned()),
        ("CI_MERGE_REQUEST_IID", gitlab::IID.to_string()),
        (
            "CI_MERGE_REQUEST_PROJECT_ID",
            gitlab::PROJECT_ID.to_string(),
        ),
        (
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
            "scale-web".to_owned(),
        ),
        ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main".to_owned()),
        ("CI_COMMIT_SHA", head.to_owned()),
        ("CI_MERGE_REQUEST_DIFF_BASE_SHA", base.to_owned()),
        ("CI_JOB_TOKEN", JOB_TOKEN.to_owned()),
        ("GITLAB_TOKEN", gitlab::THULE_TOKEN.to_owned()),
    ]
}

/// The merge request as thule names it from GitLab CI: the project by its id.
fn gitlab_mr() -> MrRef {
    MrRef {
        repo: RepoRef {
            provider: ProviderKind::GitLab,
            path: gitlab::PROJECT_ID.to_string(),
        },
        number: gitlab::IID,
    }
}

#[test]
fn gitlab_ci_publishes_one_plan_per_head_and_supersedes_the_older_one() {
    let (repo, base) = Repo::new();
    let head1 = repo.commit("scale web to 2", "2");
    let rt = runtime();
    let fake = rt.block_on(FakeGitLab::start(&head1, &base));
    let secret = gitlab::THULE_TOKEN;

    // The first pipeline: one plan note, pending then success on the head commit.
    let out = thule_in_ci(&repo, &gitlab_ci(&fake, &head1, &base));
    assert_run(&out, 1, secret);
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(printed.contains("web-settings"), "{printed}");
    let first = {
        let forge = fake.forge();
        let notes = forge.thule_notes();
        assert_eq!(notes.len(), 1, "{notes:#?}");
        assert_eq!(
            marker(&notes[0].body),
            Marker::plan(&gitlab_mr(), &head1, 1, 1)
        );
        assert!(notes[0].body.contains("web-settings"), "{}", notes[0].body);
        let posts: Vec<(&str, &str, &str, u16)> = forge
            .status_log
            .iter()
            .map(|p| {
                (
                    p.sha.as_str(),
                    p.state.as_str(),
                    p.name.as_str(),
                    p.answered,
                )
            })
            .collect();
        assert_eq!(
            posts,
            [
                (head1.as_str(), "pending", "thule/plan", 201),
                (head1.as_str(), "success", "thule/plan", 201)
            ]
        );
        let link = format!("{}#note_{}", gitlab::WEB_URL, notes[0].id);
        assert_eq!(
            forge.status_log[1].target_url.as_deref(),
            Some(link.as_str())
        );
        notes[0].clone()
    };
    let requests = fake.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.header("private-token") == Some(secret)),
        "every request carries GITLAB_TOKEN, never CI_JOB_TOKEN"
    );
    assert!(
        requests
            .iter()
            .all(|r| r.path == "/api/v4/user" || r.path.starts_with("/api/v4/projects/42/")),
        "{:?}",
        requests.iter().map(|r| r.line()).collect::<Vec<_>>()
    );
    assert!(stderr(&out).contains("published the plan on 42!7 (1 posted"));

    // A push: the merge request's new head. The first plan is collapsed with a link to the
    // new one.
    let head2 = repo.commit("scale web to 3", "3");
    fake.forge().set_head(&head2);
    fake.server.clear();
    let out = thule_in_ci(&repo, &gitlab_ci(&fake, &head2, &base));
    assert_run(&out, 1, secret);
    let second = {
        let forge = fake.forge();
        let notes = forge.thule_notes();
        assert_eq!(notes.len(), 2, "{notes:#?}");
        assert_eq!(notes[0].id, first.id);
        let old = marker(&notes[0].body);
        assert_eq!(old.state, MarkState::Superseded);
        assert_eq!(old.sha, head1);
        assert!(
            notes[0].body.contains(&format!(
                "**Superseded** by [the plan for `{}`]({}#note_{}).",
                &head2[..12],
                gitlab::WEB_URL,
                notes[1].id
            )),
            "{}",
            notes[0].body
        );
        assert_eq!(
            marker(&notes[1].body),
            Marker::plan(&gitlab_mr(), &head2, 1, 1)
        );
        let posts: Vec<(&str, &str)> = forge.status_log[2..]
            .iter()
            .map(|p| (p.sha.as_str(), p.state.as_str()))
            .collect();
        assert_eq!(
            posts,
            [(head2.as_str(), "pending"), (head2.as_str(), "success")]
        );
        notes[1].clone()
    };

    // The same head again (a retried job): nothing new is posted, nothing edited.
    fake.server.clear();
    let out = thule_in_ci(&repo, &gitlab_ci(&fake, &head2, &base));
    assert_run(&out, 1, secret);
    let notes = fake.forge().thule_notes();
    assert_eq!(notes.len(), 2);
    assert_eq!((notes[1].id, &notes[1].body), (second.id, &second.body));
    let note_writes: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.method != "GET" && r.path.contains("/notes"))
        .map(|r| r.line())
        .collect();
    assert_eq!(note_writes, Vec::<String>::new());
    assert!(
        stderr(&out).contains("(0 posted, 0 updated, 1 unchanged, 0 superseded)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_gitlab_merged_results_pipeline_plans_and_marks_the_source_branch_head_not_the_merge_commit() {
    // The MR branches off `base`; the target branch moves on (another project changes), and
    // GitLab's merged-results pipeline runs on a merge commit of both: CI_COMMIT_SHA is that
    // commit, the MR's head is CI_MERGE_REQUEST_SOURCE_BRANCH_SHA.
    let (repo, base) = Repo::new();
    git(repo.path(), &["checkout", "-q", "-b", "scale-web"]);
    let head = repo.commit("scale web to 2", "2");
    git(repo.path(), &["checkout", "-q", "main"]);
    let other = repo.path().join("apps/api");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join("thule.yaml"),
        "version: v1\nproject: api\nnamespace: api\nrender:\n  mode: yaml\n",
    )
    .unwrap();
    std::fs::write(
        other.join("configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-settings\ndata:\n  mode: fast\n",
    )
    .unwrap();
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-qm", "meanwhile on main"]);
    let target = rev_parse(repo.path(), "HEAD");
    git(repo.path(), &["checkout", "-q", "--detach"]);
    git(
        repo.path(),
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "merge scale-web",
            "scale-web",
        ],
    );
    let merge = rev_parse(repo.path(), "HEAD");

    let rt = runtime();
    let fake = rt.block_on(FakeGitLab::start(&head, &base));
    let mut ci = gitlab_ci(&fake, &merge, &base);
    ci.push(("CI_MERGE_REQUEST_EVENT_TYPE", "merged_result".to_owned()));
    ci.push(("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", head.clone()));
    ci.push(("CI_MERGE_REQUEST_TARGET_BRANCH_SHA", target));
    let out = thule_in_ci(&repo, &ci);
    assert_run(&out, 1, gitlab::THULE_TOKEN);

    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(printed.contains("web-settings"), "{printed}");
    assert!(
        !printed.contains("api-settings"),
        "the target branch's own change is not the MR's: {printed}"
    );
    let forge = fake.forge();
    let notes = forge.thule_notes();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        marker(&notes[0].body),
        Marker::plan(&gitlab_mr(), &head, 1, 1)
    );
    let posts: Vec<(&str, &str)> = forge
        .status_log
        .iter()
        .map(|p| (p.sha.as_str(), p.state.as_str()))
        .collect();
    assert_eq!(
        posts,
        [(head.as_str(), "pending"), (head.as_str(), "success")]
    );
}

#[test]
fn gitlab_ci_without_the_merge_request_iid_names_the_variable() {
    let (repo, base) = Repo::new();
    let head = repo.commit("scale web to 2", "2");
    let rt = runtime();
    let fake = rt.block_on(FakeGitLab::start(&head, &base));
    let ci = without(&gitlab_ci(&fake, &head, &base), "CI_MERGE_REQUEST_IID");
    let out = thule_in_ci(&repo, &ci);
    assert_run(&out, 2, gitlab::THULE_TOKEN);
    assert!(
        stderr(&out).contains("CI_MERGE_REQUEST_IID is not set"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty(), "no plan without a merge request");
    assert!(fake.requests().is_empty(), "GitLab was not called");
}

// ---------------------------------------------------------------------------------------------
// GitHub Actions.

/// A `pull_request` event as GitHub writes it to `GITHUB_EVENT_PATH` (the fields thule
/// reads, with their neighbours).
fn write_event(path: &Path, head: &str, base: &str) {
    let event = json!({
        "action": "synchronize",
        "number": github::PR,
        "pull_request": {
            "number": github::PR,
            "state": "open",
            "head": {"ref": "scale-payments", "sha": head, "label": "contributor:scale-payments"},
            "base": {"ref": "main", "sha": base, "label": "octo-org:main"},
            "merge_commit_sha": MERGE_SHA
        },
        "repository": {"full_name": github::OWNER_REPO, "id": github::REPO_ID}
    });
    std::fs::write(path, serde_json::to_vec_pretty(&event).unwrap()).unwrap();
}

/// What a `pull_request` workflow's step sees.
fn github_actions(fake: &FakeGitHub, event: &Path) -> Vec<(&'static str, String)> {
    let (api, graphql) = fake.urls();
    vec![
        ("CI", "true".to_owned()),
        ("GITHUB_ACTIONS", "true".to_owned()),
        ("GITHUB_API_URL", api),
        ("GITHUB_GRAPHQL_URL", graphql),
        ("GITHUB_SERVER_URL", fake.server.url()),
        ("GITHUB_REPOSITORY", github::OWNER_REPO.to_owned()),
        ("GITHUB_EVENT_NAME", "pull_request".to_owned()),
        ("GITHUB_EVENT_PATH", event.to_string_lossy().into_owned()),
        ("GITHUB_REF", format!("refs/pull/{}/merge", github::PR)),
        ("GITHUB_SHA", MERGE_SHA.to_owned()),
        ("GITHUB_TOKEN", github::ACTIONS_TOKEN.to_owned()),
    ]
}

fn github_mr() -> MrRef {
    MrRef {
        repo: RepoRef {
            provider: ProviderKind::GitHub,
            path: github::OWNER_REPO.to_owned(),
        },
        number: github::PR,
    }
}

/// The statuses posted so far: (commit, state, context).
fn github_statuses(fake: &FakeGitHub) -> Vec<(String, String, String)> {
    fake.state()
        .statuses
        .iter()
        .map(|(sha, body)| {
            let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
            (sha.clone(), text("state"), text("context"))
        })
        .collect()
}

#[test]
fn github_actions_publishes_as_github_actions_bot_on_the_head_not_the_merge_commit() {
    let (repo, base) = Repo::new();
    let head1 = repo.commit("scale payments to 2", "2");
    let rt = runtime();
    let fake = rt.block_on(FakeGitHub::start(&head1, &base));
    let event_dir = tempfile::tempdir().unwrap();
    let event: PathBuf = event_dir.path().join("event.json");
    write_event(&event, &head1, &base);
    let secret = github::ACTIONS_TOKEN;
    let bot = github::actions_bot().login;

    // The first run: one comment by github-actions[bot], statuses on the PR's head.
    let out = thule_in_ci(&repo, &github_actions(&fake, &event));
    assert_run(&out, 1, secret);
    let comments = fake.comments();
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert_eq!(comments[0].user.login, bot);
    assert_eq!(
        marker(&comments[0].body),
        Marker::plan(&github_mr(), &head1, 1, 1)
    );
    assert!(comments[0].body.contains("web-settings"));
    let pending_and_final = |sha: &str| {
        vec![
            (
                sha.to_owned(),
                "pending".to_owned(),
                "thule/plan".to_owned(),
            ),
            (
                sha.to_owned(),
                "success".to_owned(),
                "thule/plan".to_owned(),
            ),
        ]
    };
    assert_eq!(github_statuses(&fake), pending_and_final(&head1));
    let last = fake.state().statuses[1].1.clone();
    assert!(
        last["target_url"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("#issuecomment-{}", comments[0].id))),
        "{last}"
    );
    // The Actions token may not ask who it is: GET /user was asked once and refused.
    assert_eq!(fake.count("GET", "/user"), 1);
    for r in fake.requests() {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {secret}").as_str()),
            "{}",
            r.line()
        );
    }

    // A push: the new head supersedes the first plan (minimized, its body kept), recognised
    // as thule's although the token never learned its login from GitHub.
    let head2 = repo.commit("scale payments to 3", "3");
    fake.state().set_head(&head2);
    write_event(&event, &head2, &base);
    fake.server.clear();
    let out = thule_in_ci(&repo, &github_actions(&fake, &event));
    assert_run(&out, 1, secret);
    let after = fake.comments();
    assert_eq!(after.len(), 2, "{after:#?}");
    assert_eq!(after[0].id, comments[0].id);
    assert_eq!(after[0].minimized.as_deref(), Some("OUTDATED"));
    assert_eq!(after[0].body, comments[0].body);
    assert_eq!(after[1].user.login, bot);
    assert!(after[1].minimized.is_none());
    assert_eq!(
        marker(&after[1].body),
        Marker::plan(&github_mr(), &head2, 1, 1)
    );
    assert_eq!(fake.graphql("minimizeComment").len(), 1);
    let mut expected = pending_and_final(&head1);
    expected.extend(pending_and_final(&head2));
    assert_eq!(github_statuses(&fake), expected);

    // The same head again: nothing posted, nothing minimized.
    fake.server.clear();
    let out = thule_in_ci(&repo, &github_actions(&fake, &event));
    assert_run(&out, 1, secret);
    let again = fake.comments();
    assert_eq!(
        again
            .iter()
            .map(|c| (c.id, &c.body, &c.minimized))
            .collect::<Vec<_>>(),
        after
            .iter()
            .map(|c| (c.id, &c.body, &c.minimized))
            .collect::<Vec<_>>()
    );
    assert_eq!(fake.count("POST", "/repos/octo-org/gitops/issues"), 0);
    assert!(fake.graphql("minimizeComment").is_empty());
    assert!(
        github_statuses(&fake)
            .iter()
            .all(|(sha, _, _)| *sha != MERGE_SHA),
        "no status on GITHUB_SHA"
    );
}

#[test]
fn github_actions_without_the_repository_names_the_variable() {
    let (repo, base) = Repo::new();
    let head = repo.commit("scale payments to 2", "2");
    let rt = runtime();
    let fake = rt.block_on(FakeGitHub::start(&head, &base));
    let event_dir = tempfile::tempdir().unwrap();
    let event = event_dir.path().join("event.json");
    write_event(&event, &head, &base);
    let ci = without(&github_actions(&fake, &event), "GITHUB_REPOSITORY");
    let out = thule_in_ci(&repo, &ci);
    assert_run(&out, 2, github::ACTIONS_TOKEN);
    assert!(
        stderr(&out).contains("GITHUB_REPOSITORY is not set"),
        "{}",
        stderr(&out)
    );
    assert!(fake.requests().is_empty(), "GitHub was not called");
}
