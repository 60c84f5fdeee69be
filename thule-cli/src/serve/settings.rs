//! The service's settings: flags over environment over the config file over defaults.
//!
//! [`Settings::load`] reads the `--config` file (if any) and resolves; [`Settings::resolve`]
//! does the same from an already-parsed file and an explicit environment, for tests and
//! embedders. Secrets (tokens, webhook secrets, signing keys) come from the environment or
//! from files the config names, and are held as types whose `Debug` hides them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use globset::{GlobSet, GlobSetBuilder};
use thule_core::config::serve::{ForgeServe, GitHubServe, ServeFile};
use thule_core::config::{Loaded, parse_serve_file};
use thule_vcs::ProviderKind;
use thule_vcs::http::Secret;
use thule_vcs::inbound::{AuthConfig, SigningKey};

use crate::cmd::serve::ServeArgs;

/// Longest lease a worker may hold on a job before it must renew it.
pub const MAX_LEASE: Duration = Duration::from_secs(30);
/// Default largest webhook body (GitHub sends up to 25 MB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 25 * 1024 * 1024;

/// How log lines are written (stderr).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The forge families the service is configured for; Forgejo shares Gitea's settings, and
/// Bitbucket Cloud and Data Center share Bitbucket's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Forge {
    /// GitHub (`THULE_GITHUB_*`).
    GitHub,
    /// GitLab (`THULE_GITLAB_*`).
    GitLab,
    /// Gitea and Forgejo (`THULE_GITEA_*`).
    Gitea,
    /// Bitbucket Cloud and Data Center (`THULE_BITBUCKET_*`).
    Bitbucket,
}

impl Forge {
    /// The family a delivery's forge belongs to.
    pub fn of(provider: ProviderKind) -> Self {
        match provider {
            ProviderKind::GitHub => Forge::GitHub,
            ProviderKind::GitLab => Forge::GitLab,
            ProviderKind::Gitea | ProviderKind::Forgejo => Forge::Gitea,
            ProviderKind::BitbucketCloud | ProviderKind::BitbucketDataCenter => Forge::Bitbucket,
        }
    }

    /// `github`, `gitlab`, `gitea`, `bitbucket`.
    pub fn name(self) -> &'static str {
        match self {
            Forge::GitHub => "github",
            Forge::GitLab => "gitlab",
            Forge::Gitea => "gitea",
            Forge::Bitbucket => "bitbucket",
        }
    }

    fn env_prefix(self) -> &'static str {
        match self {
            Forge::GitHub => "THULE_GITHUB",
            Forge::GitLab => "THULE_GITLAB",
            Forge::Gitea => "THULE_GITEA",
            Forge::Bitbucket => "THULE_BITBUCKET",
        }
    }
}

/// A GitHub App the service acts as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitHubApp {
    /// The app id.
    pub app_id: String,
    /// The private key file (PEM); read by whoever signs the app's tokens.
    pub key_file: PathBuf,
}

/// One forge's settings.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    /// Which forge family.
    pub forge: Forge,
    /// The REST API base URL (`https://api.github.com`, `https://gitlab.example.com/api/v4`).
    pub api_url: String,
    /// GitHub's GraphQL URL.
    pub graphql_url: Option<String>,
    /// The host (with its port when the URL has one) that the repository allow-list names.
    pub host: String,
    /// The API token, if configured (held for the runner; `Debug` hides it).
    pub token: Option<Secret>,
    /// How its deliveries are authenticated; no secret means every delivery is refused 401.
    pub webhook: AuthConfig,
    /// A GitHub App instead of a token.
    pub app: Option<GitHubApp>,
}

/// Where live objects come from for plans, as `thule plan` takes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterAccess {
    /// Snapshots: `[CLUSTER=]PATH`, as `thule plan --live`.
    pub live: Vec<String>,
    /// A kubeconfig for reading clusters.
    pub kubeconfig: Option<PathBuf>,
    /// Contexts, `CLUSTER=CONTEXT`, as `thule plan --context`.
    pub contexts: Vec<String>,
}

/// The repositories served: globs over `HOST/FULL/PATH`, case-insensitive, `*` crossing `/`.
#[derive(Clone)]
pub struct RepoAllowlist {
    globs: Vec<String>,
    set: GlobSet,
}

impl RepoAllowlist {
    /// The allow-list of `globs`.
    ///
    /// # Errors
    /// When one is not a valid glob.
    pub fn new(globs: &[String]) -> anyhow::Result<Self> {
        let mut builder = GlobSetBuilder::new();
        for g in globs {
            let glob = globset::GlobBuilder::new(g)
                .case_insensitive(true)
                .literal_separator(false)
                .build()
                .map_err(|e| anyhow::anyhow!("repository allow-list entry `{g}`: {e}"))?;
            builder.add(glob);
        }
        Ok(Self {
            globs: globs.to_vec(),
            set: builder.build()?,
        })
    }

    /// Whether `host/path` is served.
    pub fn allows(&self, host: &str, path: &str) -> bool {
        self.set.is_match(format!("{host}/{path}"))
    }

    /// The globs as configured.
    pub fn globs(&self) -> &[String] {
        &self.globs
    }

    /// Whether nothing is served.
    pub fn is_empty(&self) -> bool {
        self.globs.is_empty()
    }
}

impl fmt::Debug for RepoAllowlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RepoAllowlist").field(&self.globs).finish()
    }
}

/// Everything `thule serve` runs with, resolved.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Address to listen on (`HOST:PORT`; port 0 picks a free one).
    pub listen: String,
    /// The queue database URL (`sqlite://…`).
    pub db: String,
    /// The data directory (created when missing).
    pub data_dir: PathBuf,
    /// Log format.
    pub log_format: LogFormat,
    /// Largest webhook body accepted (413 beyond).
    pub max_body_bytes: usize,
    /// Jobs run at once; 0 only receives and queues.
    pub workers: usize,
    /// A worker's lease on a job (at most [`MAX_LEASE`]), renewed every third of it.
    pub lease: Duration,
    /// Longest one run may take.
    pub run_deadline: Duration,
    /// Time running jobs get to finish on shutdown.
    pub shutdown_grace: Duration,
    /// Starts of one job before it is given up.
    pub max_attempts: u32,
    /// Run history kept.
    pub run_retention: Duration,
    /// How long delivery ids are remembered.
    pub delivery_retention: Duration,
    /// Repositories served.
    pub allowlist: RepoAllowlist,
    /// Plan merge requests from forks.
    pub plan_forks: bool,
    /// The configured forges.
    pub providers: BTreeMap<Forge, ProviderSettings>,
    /// Live objects for plans.
    pub clusters: ClusterAccess,
    /// How often an idle worker looks for claimable jobs (expired leases) without being woken.
    pub poll_interval: Duration,
}

impl Settings {
    /// Settings for a service on `listen` with its database in `data_dir`, nothing else
    /// configured (no forge, nothing allowed): a base for tests and embedders.
    pub fn new(listen: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        Self {
            listen: listen.into(),
            db: sqlite_url(&data_dir.join("thule.db")),
            data_dir,
            log_format: LogFormat::Text,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            workers: 2,
            lease: MAX_LEASE,
            run_deadline: Duration::from_secs(900),
            shutdown_grace: Duration::from_secs(25),
            max_attempts: 3,
            run_retention: days(30),
            delivery_retention: days(7),
            allowlist: RepoAllowlist::new(&[]).unwrap_or_else(|_| unreachable!("empty")),
            plan_forks: false,
            providers: BTreeMap::new(),
            clusters: ClusterAccess::default(),
            poll_interval: Duration::from_millis(500),
        }
    }

    /// The settings from `args`, the environment `env` and the `--config` file it names.
    ///
    /// # Errors
    /// When the file cannot be read or is invalid, or a value is invalid (naming its flag or
    /// variable).
    pub fn load(args: &ServeArgs, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                Some(parse_serve_file(&bytes, &path.display().to_string())?)
            }
            None => None,
        };
        Self::resolve(args, file.as_ref(), env)
    }

    /// The settings from flags, environment and a parsed config file.
    ///
    /// # Errors
    /// As [`Settings::load`].
    pub fn resolve(
        args: &ServeArgs,
        file: Option<&Loaded<ServeFile>>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let empty = ServeFile::default();
        let f = file.map_or(&empty, |l| &l.value);
        // Relative paths in the file are relative to the file's directory.
        let base = file
            .and_then(|l| Path::new(&l.file).parent().map(Path::to_path_buf))
            .unwrap_or_default();
        let from_file = |p: &str| -> PathBuf {
            let p = PathBuf::from(p);
            if p.is_absolute() || base.as_os_str().is_empty() {
                p
            } else {
                base.join(p)
            }
        };
        let var = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let number =
            |flag: Option<u64>, name: &str, file: Option<u64>| -> anyhow::Result<Option<u64>> {
                if flag.is_some() {
                    return Ok(flag);
                }
                if let Some(v) = var(name) {
                    return v
                        .trim()
                        .parse()
                        .map(Some)
                        .with_context(|| format!("{name}={v} is not a whole number"));
                }
                Ok(file)
            };

        let mut s = Settings::new("0.0.0.0:8080", "thule-data");
        if let Some(listen) = args
            .listen
            .clone()
            .or_else(|| var("THULE_LISTEN"))
            .or_else(|| f.listen.clone())
        {
            s.listen = listen;
        }
        if let Some(dir) = args
            .data_dir
            .clone()
            .or_else(|| var("THULE_DATA_DIR").map(PathBuf::from))
            .or_else(|| f.data_dir.as_deref().map(from_file))
        {
            s.data_dir = dir;
        }
        s.db = match args
            .db
            .clone()
            .or_else(|| var("THULE_DB"))
            .or_else(|| f.db.as_deref().map(|u| relative_db(u, &base)))
        {
            Some(url) => check_db_url(&url)?,
            None => sqlite_url(&s.data_dir.join("thule.db")),
        };
        s.log_format = match (
            args.log_format,
            var("THULE_LOG_FORMAT"),
            f.log_format.clone(),
        ) {
            (Some(l), _, _) => l,
            (None, Some(v), _) | (None, None, Some(v)) => parse_log_format(&v)?,
            (None, None, None) => LogFormat::Text,
        };
        if let Some(n) = number(
            args.max_body_bytes,
            "THULE_MAX_BODY_BYTES",
            f.max_body_bytes,
        )? {
            if n == 0 {
                bail!("the largest webhook body (max-body-bytes) must be above 0");
            }
            s.max_body_bytes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = number(
            args.workers.map(u64::from),
            "THULE_WORKERS",
            f.workers.map(u64::from),
        )? {
            s.workers = usize::try_from(n).unwrap_or(usize::MAX).min(64);
        }
        if let Some(n) = number(args.lease_seconds, "THULE_LEASE_SECONDS", f.lease_seconds)? {
            if n == 0 || n > MAX_LEASE.as_secs() {
                bail!("lease-seconds is {n}: a lease is 1 to 30 seconds");
            }
            s.lease = Duration::from_secs(n);
        }
        if let Some(n) = number(
            args.run_deadline_seconds,
            "THULE_RUN_DEADLINE_SECONDS",
            f.run_deadline_seconds,
        )? {
            if n == 0 {
                bail!("run-deadline-seconds must be above 0");
            }
            s.run_deadline = Duration::from_secs(n);
        }
        if let Some(n) = number(
            args.shutdown_grace_seconds,
            "THULE_SHUTDOWN_GRACE_SECONDS",
            f.shutdown_grace_seconds,
        )? {
            s.shutdown_grace = Duration::from_secs(n);
        }
        if let Some(n) = number(
            args.max_attempts.map(u64::from),
            "THULE_MAX_ATTEMPTS",
            f.max_attempts.map(u64::from),
        )? {
            if n == 0 {
                bail!("max-attempts must be at least 1");
            }
            s.max_attempts = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(n) = number(
            args.run_retention_days.map(u64::from),
            "THULE_RUN_RETENTION_DAYS",
            f.run_retention_days.map(u64::from),
        )? {
            s.run_retention = days(n);
        }
        if let Some(n) = number(
            args.delivery_retention_days.map(u64::from),
            "THULE_DELIVERY_RETENTION_DAYS",
            f.delivery_retention_days.map(u64::from),
        )? {
            s.delivery_retention = days(n);
        }
        let allow = if !args.repo_allowlist.is_empty() {
            args.repo_allowlist.clone()
        } else if let Some(v) = var("THULE_REPO_ALLOWLIST") {
            split_list(&v)
        } else {
            f.repo_allowlist.clone().unwrap_or_default()
        };
        s.allowlist = RepoAllowlist::new(&allow)?;
        s.plan_forks = match (args.plan_forks, var("THULE_PLAN_FORKS"), f.plan_forks) {
            (Some(b), _, _) => b,
            (None, Some(v), _) => parse_bool(&v)
                .with_context(|| format!("THULE_PLAN_FORKS={v}: expected true or false"))?,
            (None, None, Some(b)) => b,
            (None, None, None) => false,
        };
        s.clusters = clusters(args, f, &var, &from_file)?;
        let files = f.providers.clone().unwrap_or_default();
        for forge in [Forge::GitHub, Forge::GitLab, Forge::Gitea, Forge::Bitbucket] {
            let provider = match forge {
                Forge::GitHub => github(files.github.as_ref(), &var, &from_file)?,
                Forge::GitLab => forge_settings(forge, files.gitlab.as_ref(), &var, &from_file)?,
                Forge::Gitea => forge_settings(forge, files.gitea.as_ref(), &var, &from_file)?,
                Forge::Bitbucket => {
                    forge_settings(forge, files.bitbucket.as_ref(), &var, &from_file)?
                }
            };
            if let Some(p) = provider {
                s.providers.insert(forge, p);
            }
        }
        Ok(s)
    }

    /// The settings of the forge that sent a delivery.
    pub fn provider(&self, provider: ProviderKind) -> Option<&ProviderSettings> {
        self.providers.get(&Forge::of(provider))
    }
}

fn days(n: u64) -> Duration {
    Duration::from_secs(n.saturating_mul(24 * 60 * 60))
}

/// `sqlite://` URL of a file path.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Check a `--db` URL: SQLite forms pass; PostgreSQL and anything else are refused.
///
/// # Errors
/// For `postgres://` (not supported yet), in-memory SQLite (not durable) and other schemes.
pub fn check_db_url(url: &str) -> anyhow::Result<String> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        bail!(
            "--db {}: PostgreSQL is not supported yet; use SQLite, sqlite:///ABS/PATH/thule.db (or leave --db unset for thule.db in the data directory)",
            redact_url(url)
        );
    }
    let Some(rest) = url.strip_prefix("sqlite:") else {
        bail!(
            "--db {}: expected a SQLite URL, sqlite:///ABS/PATH/thule.db or sqlite://REL/PATH/thule.db",
            redact_url(url)
        );
    };
    let path = rest.strip_prefix("//").unwrap_or(rest);
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        bail!("--db {url}: an in-memory database is not durable; name a file");
    }
    Ok(url.to_owned())
}

/// A SQLite URL from the config file with a relative path made relative to the file's
/// directory (`base`), as every path in the file is.
fn relative_db(url: &str, base: &Path) -> String {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return url.to_owned();
    };
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if path.starts_with('/') || path.starts_with(':') || base.as_os_str().is_empty() {
        return url.to_owned();
    }
    format!("sqlite://{}", base.join(path).display())
}

/// A URL with any `user:password@` removed, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

fn parse_log_format(v: &str) -> anyhow::Result<LogFormat> {
    match v.trim().to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => bail!("log format `{other}`: expected text or json"),
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

type Var<'a> = dyn Fn(&str) -> Option<String> + 'a;
type FromFile<'a> = dyn Fn(&str) -> PathBuf + 'a;

fn clusters(
    args: &ServeArgs,
    f: &ServeFile,
    var: &Var<'_>,
    from_file: &FromFile<'_>,
) -> anyhow::Result<ClusterAccess> {
    let file = f.clusters.clone().unwrap_or_default();
    let live = if !args.live.is_empty() {
        args.live.clone()
    } else if let Some(v) = var("THULE_LIVE") {
        split_list(&v)
    } else {
        file.live
            .unwrap_or_default()
            .into_iter()
            .map(|(cluster, path)| {
                let path = from_file(&path).display().to_string();
                if cluster == "*" {
                    path
                } else {
                    format!("{cluster}={path}")
                }
            })
            .collect()
    };
    let kubeconfig = args
        .kubeconfig
        .clone()
        .or_else(|| var("THULE_KUBECONFIG").map(PathBuf::from))
        .or_else(|| file.kubeconfig.as_deref().map(from_file));
    let contexts = if !args.contexts.is_empty() {
        args.contexts.clone()
    } else if let Some(v) = var("THULE_CONTEXTS") {
        split_list(&v)
    } else {
        file.contexts
            .unwrap_or_default()
            .into_iter()
            .map(|(c, ctx)| format!("{c}={ctx}"))
            .collect()
    };
    if !live.is_empty() && (kubeconfig.is_some() || !contexts.is_empty()) {
        bail!("use either live snapshots or a kubeconfig with contexts, not both");
    }
    for c in &contexts {
        if !c.contains('=') {
            bail!("context `{c}`: expected CLUSTER=CONTEXT");
        }
    }
    for l in &live {
        let path = l.split_once('=').map_or(l.as_str(), |(_, p)| p);
        if !Path::new(path).exists() {
            bail!("live snapshot {path}: no such file or directory");
        }
    }
    Ok(ClusterAccess {
        live,
        kubeconfig,
        contexts,
    })
}

/// A secret from `env_var`, else from the file the config names (trailing newline removed).
fn secret(
    env_var: &str,
    file: Option<&str>,
    var: &Var<'_>,
    from_file: &FromFile<'_>,
) -> anyhow::Result<Option<String>> {
    if let Some(v) = var(env_var) {
        return Ok(Some(v));
    }
    let Some(file) = file else {
        return Ok(None);
    };
    let path = from_file(file);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the secret file {}", path.display()))?;
    let text = text.trim_end_matches(['\n', '\r']).to_owned();
    if text.is_empty() {
        bail!("the secret file {} is empty", path.display());
    }
    Ok(Some(text))
}

fn webhook(secret: Option<String>, signing_key: Option<String>) -> anyhow::Result<AuthConfig> {
    let mut auth = AuthConfig::default();
    if let Some(s) = secret {
        auth = AuthConfig::with_secret(s.into_bytes());
    }
    if let Some(k) = signing_key {
        auth = auth.signing_key(SigningKey::parse(&k)?);
    }
    Ok(auth)
}

/// The host (and port) of a URL, lowercase: `https://gitlab.example.com:8443/x` gives
/// `gitlab.example.com:8443`. `api.github.com` and `api.bitbucket.org` give the site's host,
/// which is what people write in an allow-list.
pub fn url_host(url: &str) -> anyhow::Result<String> {
    let rest = url
        .split_once("://")
        .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
        .map(|(_, rest)| rest)
        .with_context(|| format!("`{url}` is not an http(s) URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .to_ascii_lowercase();
    if host.is_empty() {
        bail!("`{url}` has no host");
    }
    Ok(match host.as_str() {
        "api.github.com" => "github.com".to_owned(),
        "api.bitbucket.org" => "bitbucket.org".to_owned(),
        _ => host,
    })
}

fn github(
    file: Option<&GitHubServe>,
    var: &Var<'_>,
    from_file: &FromFile<'_>,
) -> anyhow::Result<Option<ProviderSettings>> {
    let f = file.cloned().unwrap_or_default();
    let token = secret(
        "THULE_GITHUB_TOKEN",
        f.token_file.as_deref(),
        var,
        from_file,
    )?;
    let hook = secret(
        "THULE_GITHUB_WEBHOOK_SECRET",
        f.webhook_secret_file.as_deref(),
        var,
        from_file,
    )?;
    let api = var("THULE_GITHUB_API_URL").or(f.api_url.clone());
    let graphql = var("THULE_GITHUB_GRAPHQL_URL").or(f.graphql_url.clone());
    let app_id = var("THULE_GITHUB_APP_ID").or(f.app_id.clone());
    let app_key = var("THULE_GITHUB_APP_KEY_FILE")
        .map(PathBuf::from)
        .or_else(|| f.app_key_file.as_deref().map(from_file));
    if file.is_none()
        && token.is_none()
        && hook.is_none()
        && api.is_none()
        && app_id.is_none()
        && app_key.is_none()
    {
        return Ok(None);
    }
    let app = match (app_id, app_key) {
        (Some(app_id), Some(key_file)) => {
            if !key_file.is_file() {
                bail!(
                    "THULE_GITHUB_APP_KEY_FILE {}: no such file",
                    key_file.display()
                );
            }
            Some(GitHubApp { app_id, key_file })
        }
        (None, None) => None,
        _ => bail!("a GitHub App needs both THULE_GITHUB_APP_ID and THULE_GITHUB_APP_KEY_FILE"),
    };
    let api_url = api
        .unwrap_or_else(|| "https://api.github.com".to_owned())
        .trim_end_matches('/')
        .to_owned();
    let graphql_url = Some(graphql.unwrap_or_else(|| {
        match api_url.strip_suffix("/v3") {
            // Enterprise Server: https://HOST/api/v3 → https://HOST/api/graphql
            Some(api) => format!("{api}/graphql"),
            None => format!("{api_url}/graphql"),
        }
    }));
    Ok(Some(ProviderSettings {
        forge: Forge::GitHub,
        host: url_host(&api_url).context("THULE_GITHUB_API_URL")?,
        api_url,
        graphql_url,
        token: token.map(Secret::new),
        webhook: webhook(hook, None)?,
        app,
    }))
}

fn forge_settings(
    forge: Forge,
    file: Option<&ForgeServe>,
    var: &Var<'_>,
    from_file: &FromFile<'_>,
) -> anyhow::Result<Option<ProviderSettings>> {
    let prefix = forge.env_prefix();
    let f = file.cloned().unwrap_or_default();
    let token = secret(
        &format!("{prefix}_TOKEN"),
        f.token_file.as_deref(),
        var,
        from_file,
    )?;
    let hook = secret(
        &format!("{prefix}_WEBHOOK_SECRET"),
        f.webhook_secret_file.as_deref(),
        var,
        from_file,
    )?;
    let signing = if forge == Forge::GitLab {
        secret(
            "THULE_GITLAB_SIGNING_KEY",
            f.signing_key_file.as_deref(),
            var,
            from_file,
        )?
    } else {
        if f.signing_key_file.is_some() {
            bail!(
                "providers.{}.signingKeyFile: only GitLab signs deliveries with a signing token",
                forge.name()
            );
        }
        None
    };
    let url = var(&format!("{prefix}_URL")).or(f.url.clone());
    if file.is_none() && token.is_none() && hook.is_none() && signing.is_none() && url.is_none() {
        return Ok(None);
    }
    let url = match (url, forge) {
        (Some(u), _) => u.trim_end_matches('/').to_owned(),
        (None, Forge::GitLab) => "https://gitlab.com".to_owned(),
        (None, Forge::Bitbucket) => "https://api.bitbucket.org/2.0".to_owned(),
        (None, _) => bail!(
            "{prefix}_URL is not set: the {} instance's URL is needed",
            forge.name()
        ),
    };
    let host = url_host(&url).with_context(|| format!("{prefix}_URL"))?;
    let api_url = match forge {
        Forge::GitLab if !url.ends_with("/api/v4") => format!("{url}/api/v4"),
        Forge::Gitea if !url.ends_with("/api/v1") => format!("{url}/api/v1"),
        _ => url,
    };
    Ok(Some(ProviderSettings {
        forge,
        api_url,
        graphql_url: None,
        host,
        token: token.map(Secret::new),
        webhook: webhook(hook, signing).with_context(|| format!("{prefix}_SIGNING_KEY"))?,
        app: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_need_nothing() {
        let s = Settings::resolve(&ServeArgs::default(), None, &env(&[])).unwrap();
        assert_eq!(s.listen, "0.0.0.0:8080");
        assert_eq!(s.db, "sqlite://thule-data/thule.db");
        assert_eq!(s.lease, MAX_LEASE);
        assert_eq!(s.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert!(s.providers.is_empty());
        assert!(s.allowlist.is_empty());
        assert!(!s.plan_forks);
    }

    #[test]
    fn flags_beat_the_environment_which_beats_the_file() {
        let file = parse_serve_file(
            b"version: v1\nlisten: 127.0.0.1:1\nworkers: 7\nplanForks: true\nrepoAllowlist: [a/*]\n",
            "serve.yaml",
        )
        .unwrap();
        let args = ServeArgs {
            listen: Some("127.0.0.1:3".into()),
            ..ServeArgs::default()
        };
        let e = env(&[
            ("THULE_LISTEN", "127.0.0.1:2"),
            ("THULE_WORKERS", "5"),
            ("THULE_REPO_ALLOWLIST", "h/x/*, h/y"),
        ]);
        let s = Settings::resolve(&args, Some(&file), &e).unwrap();
        assert_eq!(s.listen, "127.0.0.1:3");
        assert_eq!(s.workers, 5);
        assert!(s.plan_forks);
        assert_eq!(s.allowlist.globs(), ["h/x/*", "h/y"]);
    }

    #[test]
    fn provider_urls_hosts_and_secrets() {
        let e = env(&[
            ("THULE_GITLAB_URL", "http://127.0.0.1:8929/"),
            ("THULE_GITLAB_WEBHOOK_SECRET", "s3cret"),
            ("THULE_GITHUB_TOKEN", "ghp_x"),
            ("THULE_GITEA_WEBHOOK_SECRET", "g"),
            ("THULE_GITEA_URL", "https://codeberg.org"),
        ]);
        let s = Settings::resolve(&ServeArgs::default(), None, &e).unwrap();
        let gl = &s.providers[&Forge::GitLab];
        assert_eq!(gl.api_url, "http://127.0.0.1:8929/api/v4");
        assert_eq!(gl.host, "127.0.0.1:8929");
        assert!(gl.webhook.secret.is_some());
        let gh = &s.providers[&Forge::GitHub];
        assert_eq!(gh.host, "github.com");
        assert_eq!(
            gh.graphql_url.as_deref(),
            Some("https://api.github.com/graphql")
        );
        assert!(gh.webhook.secret.is_none());
        assert_eq!(
            s.providers[&Forge::Gitea].api_url,
            "https://codeberg.org/api/v1"
        );
        assert!(!format!("{s:?}").contains("s3cret"));
        assert!(!format!("{s:?}").contains("ghp_x"));
        let missing = Settings::resolve(
            &ServeArgs::default(),
            None,
            &env(&[("THULE_GITEA_WEBHOOK_SECRET", "g")]),
        )
        .unwrap_err();
        assert!(missing.to_string().contains("THULE_GITEA_URL"), "{missing}");
    }

    #[test]
    fn paths_in_the_file_are_relative_to_it() {
        let file = parse_serve_file(
            b"version: v1\ndb: sqlite://q/thule.db\ndataDir: data\n",
            "conf/serve.yaml",
        )
        .unwrap();
        let s = Settings::resolve(&ServeArgs::default(), Some(&file), &env(&[])).unwrap();
        assert_eq!(s.db, "sqlite://conf/q/thule.db");
        assert_eq!(s.data_dir, PathBuf::from("conf/data"));
        let file = parse_serve_file(
            b"version: v1\ndb: sqlite:///abs/thule.db\n",
            "conf/serve.yaml",
        )
        .unwrap();
        let s = Settings::resolve(&ServeArgs::default(), Some(&file), &env(&[])).unwrap();
        assert_eq!(s.db, "sqlite:///abs/thule.db");
    }

    #[test]
    fn database_urls() {
        assert!(check_db_url("sqlite:///var/lib/thule/thule.db").is_ok());
        assert!(check_db_url("sqlite://rel/thule.db").is_ok());
        let pg = check_db_url("postgres://thule:pw@db/thule")
            .unwrap_err()
            .to_string();
        assert!(pg.contains("PostgreSQL is not supported yet"), "{pg}");
        assert!(!pg.contains("pw"), "{pg}");
        assert!(check_db_url("sqlite::memory:").is_err());
        assert!(check_db_url("mysql://x").is_err());
    }

    #[test]
    fn allowlist_globs() {
        let a = RepoAllowlist::new(&["127.0.0.1:8929/platform/*".into()]).unwrap();
        assert!(a.allows("127.0.0.1:8929", "platform/gitops"));
        assert!(a.allows("127.0.0.1:8929", "Platform/sub/gitops"));
        assert!(!a.allows("127.0.0.1:8929", "other/gitops"));
        assert!(!a.allows("gitlab.com", "platform/gitops"));
        let all = RepoAllowlist::new(&["*".into()]).unwrap();
        assert!(all.allows("github.com", "a/b"));
        assert!(!RepoAllowlist::new(&[]).unwrap().allows("github.com", "a/b"));
        assert_eq!(
            url_host("https://api.github.com").unwrap(),
            "github.com".to_owned()
        );
        assert_eq!(
            url_host("https://ghe.example.com/api/v3").unwrap(),
            "ghe.example.com".to_owned()
        );
    }

    #[test]
    fn lease_is_at_most_thirty_seconds() {
        let e = env(&[("THULE_LEASE_SECONDS", "31")]);
        assert!(Settings::resolve(&ServeArgs::default(), None, &e).is_err());
    }
}
