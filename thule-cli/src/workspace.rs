//! Workspaces for planning merge requests from a service: a bare clone cache per repository,
//! and per-run checkouts of an MR's base and head commits that are removed afterwards.
//!
//! - **Cache**: `<root>/cache/<key>.git`, a bare repository per remote, fetched by commit SHA
//!   (shallow: `--depth=1`), so only the commits a run needs are transferred.
//! - **Checkouts**: `<root>/runs/<n>/{head,base}`, written through a temporary index
//!   ([`crate::git::materialize`]), removed when the [`RunCheckout`] is dropped.
//! - **Credentials** reach git only through its environment (`GIT_CONFIG_COUNT` /
//!   `GIT_CONFIG_KEY_n` / `GIT_CONFIG_VALUE_n` setting `http.extraHeader`), never in a URL, an
//!   argument or a log line.
//! - **Where from**: a clone URL must be `https://` (or `http://`) on an allowed host; a local
//!   path or `file://` URL only when the configuration allows local URLs (tests).
//! - **Disk budget**: after each fetch, the least recently used caches beyond the budget are
//!   removed (never the one in use).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};
use thule_render::{ProcessRunner, ToolError, ToolInvocation, ToolRunner};
use thule_vcs::http::Secret;

/// How git authenticates to the remote.
#[derive(Clone, Debug)]
pub enum GitAuth {
    /// No credential (public repositories, local paths).
    None,
    /// HTTP Basic with this user and token (GitHub: `x-access-token`, GitLab: `oauth2`,
    /// Bitbucket: `x-token-auth`).
    Basic {
        /// The user name git sends.
        user: String,
        /// The token.
        token: Secret,
    },
}

impl GitAuth {
    /// The `Authorization` header value, if any.
    fn header(&self) -> Option<String> {
        match self {
            GitAuth::None => None,
            GitAuth::Basic { user, token } => {
                use base64::Engine as _;
                let raw = format!("{user}:{}", token.expose());
                Some(format!(
                    "Authorization: Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                ))
            }
        }
    }
}

/// Which remotes may be cloned.
#[derive(Clone, Debug, Default)]
pub struct RemotePolicy {
    /// Hosts (with port when not the scheme's default) clone URLs may name.
    pub hosts: Vec<String>,
    /// Whether local paths and `file://` URLs are allowed (tests only).
    pub allow_local: bool,
}

impl RemotePolicy {
    /// Check a clone URL against the policy.
    ///
    /// # Errors
    /// When the URL names another host, carries credentials, or is local without permission.
    pub fn check(&self, url: &str) -> anyhow::Result<()> {
        if let Some(rest) = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
        {
            let authority = rest.split('/').next().unwrap_or_default();
            if authority.contains('@') {
                bail!("clone URL carries credentials; refused");
            }
            if !self.hosts.iter().any(|h| h.eq_ignore_ascii_case(authority)) {
                bail!("clone URL host `{authority}` is not a configured provider host");
            }
            return Ok(());
        }
        if self.allow_local && (url.starts_with("file://") || url.starts_with('/')) {
            return Ok(());
        }
        bail!(
            "clone URL `{}` is neither https on a configured host nor an allowed local path",
            redact_url(url)
        )
    }
}

/// A URL without any user-info part, for messages.
fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The workspace root: clone caches and run checkouts.
#[derive(Debug)]
pub struct Workspaces {
    root: PathBuf,
    budget_bytes: u64,
    policy: RemotePolicy,
    next_run: AtomicU64,
}

/// A run's checkouts; removed from disk when dropped.
#[derive(Debug)]
pub struct RunCheckout {
    dir: PathBuf,
    /// The head commit's files.
    pub head: PathBuf,
    /// The base commit's files.
    pub base: PathBuf,
    /// The paths the merge request changes between base and head (with renames).
    pub changed: Vec<thule_core::discovery::ChangedFile>,
}

impl Drop for RunCheckout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Workspaces {
    /// Workspaces under `root` (created), keeping caches under `budget_bytes` in all.
    ///
    /// # Errors
    /// When `root` cannot be created.
    pub fn new(root: &Path, budget_bytes: u64, policy: RemotePolicy) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root.join("cache"))
            .with_context(|| format!("creating {}", root.display()))?;
        // Checkouts of a previous process are stale: start clean.
        let _ = std::fs::remove_dir_all(root.join("runs"));
        std::fs::create_dir_all(root.join("runs"))?;
        Ok(Self {
            root: root.to_path_buf(),
            budget_bytes,
            policy,
            next_run: AtomicU64::new(0),
        })
    }

    /// The cache directory of a repository key (`host/group/project`).
    fn cache_dir(&self, key: &str) -> PathBuf {
        let safe: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.root.join("cache").join(format!("{safe}.git"))
    }

    /// Fetch `head` and `base` of `clone_url` into the repository's cache and write both
    /// into a fresh run directory. Blocking (git subprocesses): call it off the async workers.
    ///
    /// # Errors
    /// When the URL is refused by the policy, or git cannot fetch or write the commits (the
    /// message never holds the credential).
    pub fn checkout(
        &self,
        key: &str,
        clone_url: &str,
        auth: &GitAuth,
        head: &str,
        base: &str,
    ) -> anyhow::Result<RunCheckout> {
        self.policy.check(clone_url)?;
        for sha in [head, base] {
            if sha.len() < 7 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("`{sha}` is not a commit SHA");
            }
        }
        let cache = self.cache_dir(key);
        if !cache.join("HEAD").exists() {
            std::fs::create_dir_all(&cache)?;
            git(
                &cache,
                auth,
                &["init", "--bare", "--quiet"],
                "create the clone cache",
            )?;
        }
        // Touch for LRU eviction.
        std::fs::write(cache.join("thule-last-used"), b"")?;
        let missing: Vec<&str> = [head, base]
            .into_iter()
            .filter(|sha| !has_commit(&cache, sha))
            .collect();
        if !missing.is_empty() {
            let mut args = vec!["fetch", "--quiet", "--no-tags", "--depth=1", clone_url];
            args.extend(missing.iter().copied());
            git(&cache, auth, &args, "fetch the merge request's commits")?;
        }
        let n = self.next_run.fetch_add(1, Ordering::SeqCst);
        let dir = self
            .root
            .join("runs")
            .join(format!("{}-{n}", std::process::id()));
        let run = RunCheckout {
            head: dir.join("head"),
            base: dir.join("base"),
            changed: crate::git::changed_files(&cache, base, head)?,
            dir,
        };
        std::fs::create_dir_all(&run.head)?;
        std::fs::create_dir_all(&run.base)?;
        crate::git::materialize(&cache, head, &run.head)?;
        crate::git::materialize(&cache, base, &run.base)?;
        self.evict(&cache);
        Ok(run)
    }

    /// Remove the least recently used caches until the rest fit the budget (`keep` stays).
    fn evict(&self, keep: &Path) {
        let Ok(entries) = std::fs::read_dir(self.root.join("cache")) else {
            return;
        };
        let mut caches: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .map(|p| {
                let used = std::fs::metadata(p.join("thule-last-used"))
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                (used, dir_size(&p), p)
            })
            .collect();
        let mut total: u64 = caches.iter().map(|c| c.1).sum();
        caches.sort();
        for (_, size, path) in caches {
            if total <= self.budget_bytes {
                break;
            }
            if path == keep {
                continue;
            }
            if std::fs::remove_dir_all(&path).is_ok() {
                total = total.saturating_sub(size);
            }
        }
    }
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

fn has_commit(cache: &Path, sha: &str) -> bool {
    let inv = ToolInvocation::new("git")
        .cwd(cache)
        .args(["cat-file", "-e"])
        .arg(format!("{sha}^{{commit}}"));
    ProcessRunner::new().run(&inv).is_ok()
}

/// The git invocation in `dir` with `auth` passed through git's environment configuration.
fn invocation(dir: &Path, auth: &GitAuth, args: &[&str]) -> ToolInvocation {
    let mut inv = ToolInvocation::new("git")
        .cwd(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .args(args.iter().copied());
    if let Some(header) = auth.header() {
        inv = inv
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "http.extraHeader")
            .env("GIT_CONFIG_VALUE_0", header);
    }
    inv
}

fn git(dir: &Path, auth: &GitAuth, args: &[&str], what: &str) -> anyhow::Result<()> {
    let inv = invocation(dir, auth, args);
    match ProcessRunner::new().run(&inv) {
        Ok(_) => Ok(()),
        Err(ToolError::Failed { stderr, .. }) => {
            let mut message = stderr.trim().to_owned();
            if let GitAuth::Basic { token, .. } = auth {
                message = message.replace(token.expose(), "***");
            }
            bail!("git failed to {what}: {message}")
        }
        Err(e) => Err(anyhow::anyhow!("{e}")).with_context(|| format!("cannot run git to {what}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_urls_must_be_on_a_configured_host() {
        let policy = RemotePolicy {
            hosts: vec!["gitlab.example.com".into(), "127.0.0.1:8929".into()],
            allow_local: false,
        };
        policy
            .check("https://gitlab.example.com/group/app.git")
            .unwrap();
        policy.check("http://127.0.0.1:8929/group/app.git").unwrap();
        assert!(policy.check("https://evil.example/group/app.git").is_err());
        let err = policy
            .check("https://user:tok@gitlab.example.com/a.git")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("tok"), "{err}");
        assert!(policy.check("file:///tmp/repo").is_err());
        assert!(policy.check("/tmp/repo").is_err());
        let local = RemotePolicy {
            allow_local: true,
            ..policy
        };
        local.check("file:///tmp/repo").unwrap();
    }

    #[test]
    fn the_token_is_in_the_environment_never_in_arguments() {
        let auth = GitAuth::Basic {
            user: "oauth2".into(),
            token: Secret::new("glpat-very-secret"),
        };
        let inv = invocation(
            Path::new("/tmp"),
            &auth,
            &["fetch", "https://h/r.git", "abc1234"],
        );
        assert!(inv.args.iter().all(|a| !a.contains("very-secret")));
        assert!(!inv.to_string().contains("very-secret"));
        let header = inv.env.get("GIT_CONFIG_VALUE_0").cloned().unwrap();
        assert!(header.starts_with("Authorization: Basic "));
    }
}
