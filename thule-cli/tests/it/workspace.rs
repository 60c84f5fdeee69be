//! The service's workspaces with the real git: a bare clone cache fetched by commit, per-run
//! checkouts of base and head, removal after the run, and the disk budget.

use thule_cli::workspace::{GitAuth, RemotePolicy, Workspaces};

use crate::support::git;

fn rev(dir: &std::path::Path, rev: &str) -> String {
    thule_cli::git::rev_parse(dir, rev).unwrap()
}

/// A repository with two commits: `app/cm.yaml` says `info`, then `debug`.
fn source() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "--quiet", "-b", "main"]);
    std::fs::create_dir(dir.path().join("app")).unwrap();
    std::fs::write(dir.path().join("app/cm.yaml"), "level: info\n").unwrap();
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "--quiet", "-m", "base"]);
    let base = rev(dir.path(), "HEAD");
    std::fs::write(dir.path().join("app/cm.yaml"), "level: debug\n").unwrap();
    git(dir.path(), &["commit", "--quiet", "-am", "head"]);
    let head = rev(dir.path(), "HEAD");
    // Serving by SHA needs this on a local remote (hosted forges allow it).
    git(
        dir.path(),
        &["config", "uploadpack.allowAnySHA1InWant", "true"],
    );
    (dir, base, head)
}

#[test]
fn a_run_checks_out_base_and_head_from_the_cache_and_cleans_up() {
    let (src, base, head) = source();
    let root = tempfile::tempdir().unwrap();
    let policy = RemotePolicy {
        hosts: Vec::new(),
        allow_local: true,
    };
    let ws = Workspaces::new(root.path(), 1 << 30, policy).unwrap();
    let url = format!("file://{}", src.path().display());
    let run = ws
        .checkout("local/app", &url, &GitAuth::None, &head, &base)
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(run.head.join("app/cm.yaml")).unwrap(),
        "level: debug\n"
    );
    assert_eq!(
        std::fs::read_to_string(run.base.join("app/cm.yaml")).unwrap(),
        "level: info\n"
    );
    let dir = run.head.parent().unwrap().to_path_buf();
    drop(run);
    assert!(!dir.exists(), "the run directory is removed");
    // The cache serves the next run without the remote.
    std::fs::remove_dir_all(src.path().join(".git")).unwrap();
    let again = ws
        .checkout("local/app", &url, &GitAuth::None, &head, &base)
        .unwrap();
    assert!(again.head.join("app/cm.yaml").is_file());
}

#[test]
fn unknown_hosts_and_unallowed_local_paths_are_refused() {
    let (src, base, head) = source();
    let root = tempfile::tempdir().unwrap();
    let ws = Workspaces::new(root.path(), 1 << 30, RemotePolicy::default()).unwrap();
    let url = format!("file://{}", src.path().display());
    let err = ws
        .checkout("local/app", &url, &GitAuth::None, &head, &base)
        .unwrap_err();
    assert!(err.to_string().contains("allowed local path"), "{err}");
    let err = ws
        .checkout(
            "x",
            "https://elsewhere.example/a.git",
            &GitAuth::None,
            &head,
            &base,
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("not a configured provider host"),
        "{err}"
    );
}

#[test]
fn the_disk_budget_evicts_the_least_recently_used_cache() {
    let (src, base, head) = source();
    let root = tempfile::tempdir().unwrap();
    let policy = RemotePolicy {
        hosts: Vec::new(),
        allow_local: true,
    };
    // A budget smaller than one cache: every other cache goes, the one in use stays.
    let ws = Workspaces::new(root.path(), 1, policy).unwrap();
    let url = format!("file://{}", src.path().display());
    drop(
        ws.checkout("one", &url, &GitAuth::None, &head, &base)
            .unwrap(),
    );
    assert!(root.path().join("cache/one.git").exists());
    drop(
        ws.checkout("two", &url, &GitAuth::None, &head, &base)
            .unwrap(),
    );
    assert!(root.path().join("cache/two.git").exists());
    assert!(
        !root.path().join("cache/one.git").exists(),
        "the older cache is evicted"
    );
}
