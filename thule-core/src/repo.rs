//! The repository as thule sees it: a tree of files addressed by repo-relative paths.
//!
//! [`RepoTree`] is the seam between discovery/configuration (pure) and the file system.
//! [`MemoryTree`] holds files in memory (tests, embedders with a git object store);
//! [`DiskTree`] reads a checkout and is the only place in this crate that touches the disk.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Read access to the files of one revision of a repository.
pub trait RepoTree {
    /// Every file, repo-relative with `/` separators, sorted.
    fn files(&self) -> Vec<PathBuf>;

    /// A file's bytes.
    ///
    /// # Errors
    /// When the file does not exist or cannot be read.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;

    /// Whether `path` (repo-relative, already free of `..`) resolves inside the repository
    /// once symbolic links are followed. A tree without links answers `true`.
    fn resolves_inside(&self, path: &Path) -> bool;

    /// Whether `path` is a file of the tree.
    fn is_file(&self, path: &Path) -> bool {
        self.files().iter().any(|f| f == path)
    }

    /// Whether `path` is a directory of the tree (some file lies below it).
    fn is_dir(&self, path: &Path) -> bool {
        path.as_os_str().is_empty()
            || self
                .files()
                .iter()
                .any(|f| f.starts_with(path) && f != path)
    }
}

/// A repository held in memory.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    files: BTreeMap<PathBuf, Vec<u8>>,
    /// Paths that are symbolic links pointing outside the repository.
    escaping_links: Vec<PathBuf>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add (or replace) a file.
    #[must_use]
    pub fn with(mut self, path: &str, contents: impl Into<Vec<u8>>) -> Self {
        self.files.insert(PathBuf::from(path), contents.into());
        self
    }

    /// Mark a path as a symbolic link that leaves the repository.
    #[must_use]
    pub fn with_escaping_link(mut self, path: &str) -> Self {
        self.escaping_links.push(PathBuf::from(path));
        self
    }
}

impl RepoTree for MemoryTree {
    fn files(&self) -> Vec<PathBuf> {
        self.files.keys().cloned().collect()
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files.get(path).cloned().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} not found", path.display()),
            )
        })
    }

    fn resolves_inside(&self, path: &Path) -> bool {
        !self.escaping_links.iter().any(|l| path.starts_with(l))
    }

    fn is_file(&self, path: &Path) -> bool {
        self.files.contains_key(path)
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.as_os_str().is_empty()
            || self
                .files
                .range(path.to_path_buf()..)
                .next()
                .is_some_and(|(f, _)| f.starts_with(path) && f != path)
    }
}

/// A checkout on disk. `.git` is skipped; symbolic links are listed but never followed
/// out of the repository.
#[derive(Clone, Debug)]
pub struct DiskTree {
    root: PathBuf,
    canonical_root: PathBuf,
    files: Vec<PathBuf>,
}

impl DiskTree {
    /// Walk `root` (deterministically, sorted).
    ///
    /// # Errors
    /// When `root` cannot be read.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        let canonical_root = std::fs::canonicalize(&root)?;
        let mut files = Vec::new();
        walk(&root, Path::new(""), &mut files)?;
        files.sort();
        Ok(Self {
            root,
            canonical_root,
            files,
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(root.join(rel))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let path = rel.join(&name);
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else {
            // Files and symbolic links (to files or directories) are listed as files; a link
            // is checked by `resolves_inside` before anything reads through it.
            out.push(path);
        }
    }
    Ok(())
}

impl RepoTree for DiskTree {
    fn files(&self) -> Vec<PathBuf> {
        self.files.clone()
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        if !self.resolves_inside(path) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} is a link that leaves the repository", path.display()),
            ));
        }
        std::fs::read(self.root.join(path))
    }

    fn resolves_inside(&self, path: &Path) -> bool {
        // Check every existing prefix, so a link to a directory is caught too.
        let mut current = self.root.clone();
        for part in path.components() {
            current.push(part);
            match std::fs::symlink_metadata(&current) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    match std::fs::canonicalize(&current) {
                        Ok(target) if target.starts_with(&self.canonical_root) => {}
                        _ => return false,
                    }
                }
                Ok(_) => {}
                Err(_) => return true,
            }
        }
        true
    }

    fn is_file(&self, path: &Path) -> bool {
        self.files
            .binary_search_by(|f| f.as_path().cmp(path))
            .is_ok()
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.as_os_str().is_empty() || self.root.join(path).is_dir()
    }
}

/// A path that leaves the repository (through `..` or because it is absolute).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` leaves the repository")]
pub struct EscapesRepo(pub String);

/// Join a relative path onto a repo-relative directory and normalize `.` and `..` lexically.
///
/// # Errors
/// When `rel` is absolute or climbs above the repository root.
pub fn join_in_repo(dir: &Path, rel: &str) -> Result<PathBuf, EscapesRepo> {
    let rel_path = Path::new(rel);
    if rel_path.is_absolute() || rel.starts_with('/') {
        return Err(EscapesRepo(rel.to_owned()));
    }
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in dir.components().chain(rel_path.components()) {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(EscapesRepo(rel.to_owned()));
                }
            }
            Component::RootDir | Component::Prefix(_) => return Err(EscapesRepo(rel.to_owned())),
        }
    }
    Ok(parts.iter().collect())
}

/// A repo-relative path as a `/`-separated string (for globs and messages).
pub fn slash(path: &Path) -> String {
    let parts: Vec<_> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect();
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_normalizes_and_refuses_escapes() {
        assert_eq!(
            join_in_repo(Path::new("apps/a"), "../base").unwrap(),
            PathBuf::from("apps/base")
        );
        assert_eq!(
            join_in_repo(Path::new("apps/a"), "./x/./y").unwrap(),
            PathBuf::from("apps/a/x/y")
        );
        assert_eq!(join_in_repo(Path::new(""), ".").unwrap(), PathBuf::new());
        assert!(join_in_repo(Path::new("apps"), "../../etc").is_err());
        assert!(join_in_repo(Path::new("apps"), "/etc/passwd").is_err());
    }

    #[test]
    fn memory_tree_knows_dirs() {
        let t = MemoryTree::new().with("a/b/c.yaml", "x");
        assert!(t.is_dir(Path::new("a")));
        assert!(t.is_dir(Path::new("a/b")));
        assert!(!t.is_dir(Path::new("a/b/c.yaml")));
        assert!(t.is_file(Path::new("a/b/c.yaml")));
        assert!(!t.is_dir(Path::new("ab")));
    }
}
