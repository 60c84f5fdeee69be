//! The git side of `thule plan`: resolving revisions, listing what a merge request changed,
//! and materializing a revision's files into a directory the renderers can read.
//!
//! git runs as a subprocess (the user's git, with its configuration); nothing here writes to
//! the repository: trees are materialized through a temporary index file, so the user's index
//! and working tree are untouched.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use thule_core::discovery::ChangedFile;
use thule_core::repo::DiskTree;

fn git(repo: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C").arg(repo);
    // Plans must not depend on the user's pager, colours or locale.
    c.env("GIT_PAGER", "cat").env("LC_ALL", "C");
    c
}

fn run(mut cmd: Command, what: &str) -> anyhow::Result<Vec<u8>> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run git to {what}; is git installed?"))?;
    if !out.status.success() {
        bail!(
            "git failed to {what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

/// The full commit id of a revision.
pub fn rev_parse(repo: &Path, rev: &str) -> anyhow::Result<String> {
    let mut c = git(repo);
    c.args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
        .arg(format!("{rev}^{{commit}}"));
    let out = run(c, &format!("resolve revision `{rev}`"))
        .with_context(|| format!("`{rev}` is not a commit of {}", repo.display()))?;
    Ok(String::from_utf8_lossy(&out).trim().to_owned())
}

/// The paths that differ between two commits (the merge request's changes), with renames.
pub fn changed_files(repo: &Path, base: &str, head: &str) -> anyhow::Result<Vec<ChangedFile>> {
    let mut c = git(repo);
    c.args([
        "diff",
        "--name-status",
        "-z",
        "-M",
        "--no-ext-diff",
        base,
        head,
    ]);
    let out = run(c, "list changed files")?;
    let mut fields = out.split(|b| *b == 0).filter(|f| !f.is_empty());
    let mut changed = Vec::new();
    while let Some(status) = fields.next() {
        let status = String::from_utf8_lossy(status);
        let path = |f: Option<&[u8]>| -> anyhow::Result<PathBuf> {
            let f = f.context("truncated output of git diff --name-status")?;
            Ok(PathBuf::from(String::from_utf8_lossy(f).into_owned()))
        };
        if status.starts_with('R') || status.starts_with('C') {
            let from = path(fields.next())?;
            let to = path(fields.next())?;
            changed.push(ChangedFile::renamed(from, to));
        } else {
            changed.push(ChangedFile::new(path(fields.next())?));
        }
    }
    changed.sort();
    Ok(changed)
}

/// Write the files of `rev` into `dest` (which must exist and be empty), using a temporary
/// index so the repository's own index is untouched.
pub fn materialize(repo: &Path, rev: &str, dest: &Path) -> anyhow::Result<()> {
    let index = dest.join(".thule-index");
    let mut read = git(repo);
    read.env("GIT_INDEX_FILE", &index).args(["read-tree", rev]);
    run(read, &format!("read the tree of {rev}"))?;
    let mut prefix = dest.as_os_str().to_owned();
    prefix.push("/");
    let mut checkout = git(repo);
    checkout
        .env("GIT_INDEX_FILE", &index)
        .args(["checkout-index", "--all", "--force"])
        .arg(format!("--prefix={}", prefix.to_string_lossy()));
    run(checkout, &format!("write the files of {rev}"))?;
    std::fs::remove_file(&index).context("removing the temporary index")?;
    Ok(())
}

/// The paths that differ between two directories (for `--base-path`): present on one side
/// only, or with different bytes. Renames show as a delete and an add.
pub fn changed_between(base: &DiskTree, head: &DiskTree) -> anyhow::Result<Vec<ChangedFile>> {
    use thule_core::repo::RepoTree;
    let base_files = base.files();
    let head_files = head.files();
    let mut all: Vec<&PathBuf> = base_files.iter().chain(head_files.iter()).collect();
    all.sort();
    all.dedup();
    let mut changed = Vec::new();
    for path in all {
        let a = base.is_file(path).then(|| base.read(path)).transpose()?;
        let b = head.is_file(path).then(|| head.read(path)).transpose()?;
        if a != b {
            changed.push(ChangedFile::new(path.clone()));
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(repo: &Path, args: &[&str]) {
        let status = Command::new("git")
            .arg("-C")
            .arg(repo)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    #[test]
    fn changed_files_and_materialize_follow_git() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path();
        sh(repo, &["init", "-q", "-b", "main"]);
        std::fs::create_dir_all(repo.join("a")).unwrap();
        std::fs::write(repo.join("a/one.yaml"), "x: 1\n".repeat(20)).unwrap();
        std::fs::write(repo.join("a/gone.yaml"), "y: 1\n").unwrap();
        sh(repo, &["add", "-A"]);
        sh(repo, &["commit", "-qm", "base"]);
        let base = rev_parse(repo, "HEAD").unwrap();
        std::fs::rename(repo.join("a/one.yaml"), repo.join("a/two.yaml")).unwrap();
        std::fs::remove_file(repo.join("a/gone.yaml")).unwrap();
        std::fs::write(repo.join("new.yaml"), "z: 1\n").unwrap();
        sh(repo, &["add", "-A"]);
        sh(repo, &["commit", "-qm", "head"]);
        let head = rev_parse(repo, "HEAD").unwrap();
        assert_eq!(head.len(), 40);

        let changed = changed_files(repo, &base, &head).unwrap();
        assert_eq!(
            changed,
            vec![
                ChangedFile::new("a/gone.yaml"),
                ChangedFile::renamed("a/one.yaml", "a/two.yaml"),
                ChangedFile::new("new.yaml"),
            ]
        );

        let out = tempfile::tempdir().unwrap();
        materialize(repo, &base, out.path()).unwrap();
        assert!(out.path().join("a/one.yaml").is_file());
        assert!(out.path().join("a/gone.yaml").is_file());
        assert!(!out.path().join("new.yaml").exists());
        assert!(!out.path().join(".thule-index").exists());

        let e = rev_parse(repo, "no-such-branch").unwrap_err();
        assert!(
            format!("{e:#}").contains("`no-such-branch` is not a commit"),
            "{e:#}"
        );
    }
}
