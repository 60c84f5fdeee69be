//! Content hashing for the render cache, and the deterministic directory walk.
//!
//! A [`CacheKey`] is a SHA-256 over everything a render depends on: the mode and options, the
//! tool and its version, and the path and bytes of every input file. Paths are hashed
//! repository-relative, so the key does not depend on where the checkout lives.
//!
//! Input discovery errs on the side of hashing too much: a kustomization hashes every file
//! under its directory and under every directory or file any of its string values points at
//! (`resources`, `components`, patches, generator files, `helmCharts` chart homes, …),
//! followed recursively. A needless re-render costs time; a missed input would serve a stale
//! plan.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};
use thule_core::ParseOptions;

use crate::RenderError;

/// A content hash identifying one render's complete input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(pub [u8; 32]);

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// Builds a [`CacheKey`] from length-prefixed fields, so `("ab", "c")` and `("a", "bc")` differ.
pub(crate) struct Fingerprint(Sha256);

impl Fingerprint {
    pub(crate) fn new(domain: &str) -> Self {
        let mut f = Self(Sha256::new());
        f.field("domain", domain.as_bytes());
        f
    }

    pub(crate) fn field(&mut self, name: &str, value: &[u8]) {
        for part in [name.as_bytes(), value] {
            self.0.update((part.len() as u64).to_le_bytes());
            self.0.update(part);
        }
    }

    /// Hash a repository-relative file: its path and its bytes (or that it is missing).
    /// Returns whether the file is a symbolic link that leaves the repository (its bytes are
    /// then not read, so the key cannot follow them: the caller must refuse the render).
    #[must_use]
    pub(crate) fn file(&mut self, repo_root: &Path, rel: &Path) -> bool {
        let label = rel_label(rel);
        match read_in_repo(repo_root, rel) {
            Ok(bytes) => {
                self.field("file", label.as_bytes());
                self.field("bytes", &bytes);
                false
            }
            Err(e) => {
                self.field("unreadable", label.as_bytes());
                self.field("error", format!("{:?}", e.kind()).as_bytes());
                leaves_repository(&e)
            }
        }
    }

    pub(crate) fn finish(self) -> CacheKey {
        CacheKey(self.0.finalize().into())
    }
}

/// A repository-relative path as a `/`-separated label (`.` for the root).
pub(crate) fn rel_label(rel: &Path) -> String {
    let s: Vec<_> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy()),
            _ => None,
        })
        .collect();
    if s.is_empty() {
        ".".to_owned()
    } else {
        s.join("/")
    }
}

/// Lexically normalize a relative path (`a/./b/../c` → `a/c`). `None` when it is absolute or
/// climbs above its start.
pub(crate) fn normalize_rel(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// The error of reading through a symbolic link that leaves the repository.
#[derive(Debug)]
struct LeavesRepository;

impl fmt::Display for LeavesRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("it is a symbolic link that leaves the repository")
    }
}

impl std::error::Error for LeavesRepository {}

/// Whether `e` is [`read_in_repo`] refusing a link that leaves the repository.
fn leaves_repository(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.is::<LeavesRepository>())
}

/// The render error for an input that is a symbolic link leaving the repository: thule
/// refuses such inputs for every kind of project, since neither thule nor the cache key can
/// follow them (and a tool would read a file outside what the merge request shows).
pub(crate) fn escaping_link(rel: &Path) -> RenderError {
    RenderError::Read {
        path: rel_label(rel),
        message: "it is a symbolic link that leaves the repository; thule reads only files \
                  inside the repository, so replace the link with the file"
            .to_owned(),
    }
}

/// Read a repository file, refusing symbolic links that resolve outside the repository and
/// anything that is not a regular file (a link to `/dev/zero` must not hang a render).
pub(crate) fn read_in_repo(repo_root: &Path, rel: &Path) -> io::Result<Vec<u8>> {
    let root = repo_root.canonicalize()?;
    let real = repo_root.join(rel).canonicalize()?;
    if !real.starts_with(&root) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            LeavesRepository,
        ));
    }
    if !std::fs::metadata(&real)?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a regular file",
        ));
    }
    std::fs::read(real)
}

/// The result of [`walk_files`].
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Walk {
    /// Files, in walk order.
    pub files: Vec<PathBuf>,
    /// Entries whose symbolic links resolve outside the repository (not entered, not read).
    pub escaping: Vec<PathBuf>,
}

/// All files under `rel_dir` (repository-relative), depth first, each directory's entries in
/// byte order of their names, so the order is the same on every machine. `.git` directories
/// are skipped; symbolic links are followed inside the repository (a directory is never
/// entered twice) and reported in [`Walk::escaping`] when they leave it.
pub(crate) fn walk_files(repo_root: &Path, rel_dir: &Path) -> io::Result<Walk> {
    let mut walk = Walk::default();
    let mut seen = BTreeSet::new();
    let root = repo_root.canonicalize()?;
    walk_into(repo_root, &root, rel_dir, &mut walk, &mut seen)?;
    Ok(walk)
}

fn walk_into(
    repo_root: &Path,
    canonical_root: &Path,
    rel_dir: &Path,
    walk: &mut Walk,
    seen: &mut BTreeSet<PathBuf>,
) -> io::Result<()> {
    let abs = repo_root.join(rel_dir);
    if !seen.insert(abs.canonicalize()?) {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(&abs)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    entries.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    for name in entries {
        if name == ".git" {
            continue;
        }
        let rel = rel_dir.join(&name);
        let path = repo_root.join(&rel);
        if path
            .canonicalize()
            .is_ok_and(|c| !c.starts_with(canonical_root))
        {
            walk.escaping.push(rel);
            continue;
        }
        // `metadata` follows symbolic links; a dangling link is listed (and fails to read).
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk_into(repo_root, canonical_root, &rel, walk, seen)?,
            _ => walk.files.push(rel),
        }
    }
    Ok(())
}

/// Hash every file under a repository-relative directory (or the file itself); returns the
/// symbolic links among them that leave the repository (see [`escaping_link`]).
pub(crate) fn hash_tree(
    f: &mut Fingerprint,
    repo_root: &Path,
    rel: &Path,
) -> io::Result<Vec<PathBuf>> {
    if repo_root.join(rel).is_dir() {
        let walk = walk_files(repo_root, rel)?;
        for file in walk.files {
            // Files of the walk stay inside the repository.
            let _ = f.file(repo_root, &file);
        }
        Ok(walk.escaping)
    } else if f.file(repo_root, rel) {
        Ok(vec![rel.to_owned()])
    } else {
        Ok(Vec::new())
    }
}

/// The kustomization file names kustomize accepts, in its order of preference.
pub(crate) const KUSTOMIZATION_FILES: &[&str] =
    &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Every repository path a kustomize build of `rel_dir` may read: directories (hashed whole)
/// and single files. See the module docs for why this over-approximates.
pub(crate) fn kustomize_inputs(repo_root: &Path, rel_dir: &Path) -> BTreeSet<PathBuf> {
    let mut inputs = BTreeSet::new();
    let mut stack = vec![rel_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if !inputs.insert(dir.clone()) {
            continue;
        }
        let Some(text) = KUSTOMIZATION_FILES
            .iter()
            .find_map(|n| std::fs::read(repo_root.join(&dir).join(n)).ok())
        else {
            continue;
        };
        // An unparsable kustomization is still hashed (its directory is an input); the tool
        // reports the error.
        let Ok(docs) =
            thule_core::yaml::parse_stream(&text, "kustomization", &ParseOptions::default())
        else {
            continue;
        };
        let mut strings = Vec::new();
        for d in &docs {
            collect_strings(&d.value, &mut strings);
        }
        for s in strings {
            for candidate in path_candidates(s) {
                let Some(rel) = normalize_rel(&dir.join(candidate)) else {
                    continue;
                };
                let abs = repo_root.join(&rel);
                if abs.is_dir() {
                    stack.push(rel);
                } else if abs.is_file() {
                    inputs.insert(rel);
                }
            }
        }
    }
    inputs
}

fn collect_strings<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

/// The ways a kustomization string may name a path: as is, or after `key=` (generator files).
fn path_candidates(s: &str) -> Vec<&str> {
    if s.is_empty() || s.contains("://") || s.contains('\n') || s.len() > 4096 {
        return Vec::new();
    }
    let mut v = vec![s];
    if let Some((_, path)) = s.split_once('=') {
        v.push(path);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_rejects_escapes_and_absolute_paths() {
        assert_eq!(
            normalize_rel(Path::new("a/./b/../c")),
            Some(PathBuf::from("a/c"))
        );
        assert_eq!(normalize_rel(Path::new("a/../..")), None);
        assert_eq!(normalize_rel(Path::new("/etc")), None);
    }

    #[test]
    fn fields_are_length_prefixed() {
        let key = |a: &str, b: &str| {
            let mut f = Fingerprint::new("t");
            f.field("x", a.as_bytes());
            f.field("y", b.as_bytes());
            f.finish()
        };
        assert_ne!(key("ab", "c"), key("a", "bc"));
        assert_eq!(key("ab", "c"), key("ab", "c"));
    }

    #[test]
    fn walk_is_sorted_and_skips_git() -> io::Result<()> {
        let t = tempfile::tempdir()?;
        for f in ["b/z.yaml", "b/a.yaml", "a.yaml", ".git/config", "c.yaml"] {
            let p = t.path().join("d").join(f);
            std::fs::create_dir_all(p.parent().unwrap_or(t.path()))?;
            std::fs::write(p, "x")?;
        }
        let files: Vec<_> = walk_files(t.path(), Path::new("d"))?
            .files
            .iter()
            .map(|p| rel_label(p))
            .collect();
        assert_eq!(files, ["d/a.yaml", "d/b/a.yaml", "d/b/z.yaml", "d/c.yaml"]);
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn links_leaving_the_repository_are_neither_walked_nor_read() -> io::Result<()> {
        let outside = tempfile::tempdir()?;
        std::fs::write(outside.path().join("secret.yaml"), "token: x")?;
        let t = tempfile::tempdir()?;
        std::fs::create_dir(t.path().join("d"))?;
        std::fs::write(t.path().join("d/ok.yaml"), "a: 1")?;
        std::os::unix::fs::symlink(outside.path(), t.path().join("d/dir-link"))?;
        std::os::unix::fs::symlink(
            outside.path().join("secret.yaml"),
            t.path().join("d/file-link.yaml"),
        )?;
        std::os::unix::fs::symlink("ok.yaml", t.path().join("d/inside-link.yaml"))?;
        std::os::unix::fs::symlink("/dev/zero", t.path().join("d/zero.yaml"))?;
        let walk = walk_files(t.path(), Path::new("d"))?;
        let labels = |v: &[PathBuf]| v.iter().map(|p| rel_label(p)).collect::<Vec<_>>();
        assert_eq!(labels(&walk.files), ["d/inside-link.yaml", "d/ok.yaml"]);
        assert_eq!(
            labels(&walk.escaping),
            ["d/dir-link", "d/file-link.yaml", "d/zero.yaml"]
        );
        assert_eq!(
            read_in_repo(t.path(), Path::new("d/inside-link.yaml"))?,
            b"a: 1"
        );
        let err = read_in_repo(t.path(), Path::new("d/file-link.yaml")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        Ok(())
    }

    /// A named pipe inside the repository is refused, not read (reading it would block).
    #[cfg(unix)]
    #[test]
    fn a_non_regular_file_inside_the_repository_is_not_read() -> io::Result<()> {
        let t = tempfile::tempdir()?;
        let fifo = t.path().join("pipe.yaml");
        let mkfifo = crate::tool::ToolInvocation::new("mkfifo").arg(fifo.to_string_lossy());
        crate::tool::ToolRunner::run(&crate::tool::ProcessRunner::new(), &mkfifo)
            .map_err(io::Error::other)?;
        let err = read_in_repo(t.path(), Path::new("pipe.yaml")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(err.to_string(), "it is not a regular file");
        Ok(())
    }

    #[test]
    fn kustomize_inputs_follow_references() -> io::Result<()> {
        let t = tempfile::tempdir()?;
        let w = |p: &str, s: &str| -> io::Result<()> {
            let p = t.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap_or(t.path()))?;
            std::fs::write(p, s)
        };
        w("base/kustomization.yaml", "resources: [d.yaml]\n")?;
        w("base/d.yaml", "x")?;
        w("shared/app.env", "A=1")?;
        w(
            "ov/kustomization.yaml",
            "resources: [../base, https://example.com/x]\nconfigMapGenerator:\n- name: c\n  envs: [../shared/app.env]\n  files: [k=../shared/app.env]\n",
        )?;
        w("unrelated/x.yaml", "x")?;
        let got: Vec<_> = kustomize_inputs(t.path(), Path::new("ov"))
            .iter()
            .map(|p| rel_label(p))
            .collect();
        // `base/d.yaml` is named by `resources` and also lies under `base`: hashing it twice is
        // harmless.
        assert_eq!(got, ["base", "base/d.yaml", "ov", "shared/app.env"]);
        Ok(())
    }
}
