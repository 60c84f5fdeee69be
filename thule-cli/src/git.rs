//! The git side of `thule plan`: resolving revisions, listing what a merge request changed,
//! and materializing a revision's files into a directory the renderers can read.
//!
//! git runs as a subprocess through [`thule_render::ToolRunner`] (the one place thule starts
//! processes): the user's git with its configuration (`HOME` passes through), but otherwise a
//! cleared environment, so a `GIT_DIR` or `GIT_INDEX_FILE` of the caller (a git hook) cannot
//! redirect it. Nothing here writes to the repository: trees are materialized through a
//! temporary index file, so the user's index and working tree are untouched.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use thule_core::discovery::ChangedFile;
use thule_core::repo::DiskTree;
use thule_render::{ProcessRunner, ToolError, ToolInvocation, ToolRunner};

/// `git` in `repo`.
fn git(repo: &Path) -> ToolInvocation {
    // Plans must not depend on the user's pager, colours or locale.
    ToolInvocation::new("git")
        .cwd(repo)
        .env("GIT_PAGER", "cat")
        .env("LC_ALL", "C")
}

fn run(inv: &ToolInvocation, what: &str) -> anyhow::Result<Vec<u8>> {
    match ProcessRunner::new().run(inv) {
        Ok(out) => Ok(out.stdout),
        Err(ToolError::Failed { stderr, .. }) => {
            bail!("git failed to {what}: {}", stderr.trim())
        }
        Err(e @ ToolError::NotFound { .. }) => {
            Err(e).with_context(|| format!("cannot run git to {what}; is git installed?"))
        }
        Err(e) => Err(e).with_context(|| format!("cannot run git to {what}")),
    }
}

/// The full commit id of a revision.
pub fn rev_parse(repo: &Path, rev: &str) -> anyhow::Result<String> {
    let c = git(repo)
        .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
        .arg(format!("{rev}^{{commit}}"));
    let out = run(&c, &format!("resolve revision `{rev}`"))
        .with_context(|| format!("`{rev}` is not a commit of {}", repo.display()))?;
    Ok(String::from_utf8_lossy(&out).trim().to_owned())
}

/// The best common ancestor of two commits (what a merge request's changes are measured
/// from), or `None` when the history does not reach one (a shallow clone).
pub fn merge_base(repo: &Path, a: &str, b: &str) -> Option<String> {
    let c = git(repo).args(["merge-base", a, b]);
    let out = run(&c, "find the merge base").ok()?;
    let sha = String::from_utf8_lossy(&out).trim().to_owned();
    (!sha.is_empty()).then_some(sha)
}

/// The paths that differ between two commits (the merge request's changes), with renames.
pub fn changed_files(repo: &Path, base: &str, head: &str) -> anyhow::Result<Vec<ChangedFile>> {
    let c = git(repo).args([
        "diff",
        "--name-status",
        "-z",
        "-M",
        "--no-ext-diff",
        base,
        head,
    ]);
    let out = run(&c, "list changed files")?;
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
    // Tool arguments and environment are text; a non-UTF-8 temporary directory would be
    // misspelled, so refuse it instead.
    let dest_text = dest
        .to_str()
        .with_context(|| format!("`{}` is not a UTF-8 path", dest.display()))?;
    let index_text = format!("{dest_text}/.thule-index");
    let read = git(repo)
        .env("GIT_INDEX_FILE", &index_text)
        .args(["read-tree", rev]);
    run(&read, &format!("read the tree of {rev}"))?;
    // `dest` as the work tree: this also works in a bare repository (a service's cache).
    let checkout = git(repo)
        .env("GIT_INDEX_FILE", &index_text)
        .env("GIT_WORK_TREE", dest_text)
        .args(["checkout-index", "--all", "--force"]);
    run(&checkout, &format!("write the files of {rev}"))?;
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
        let inv = ToolInvocation::new("git")
            .cwd(repo)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args.iter().copied());
        if let Err(e) = ProcessRunner::new().run(&inv) {
            panic!("git {args:?}: {e}");
        }
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
