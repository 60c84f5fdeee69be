//! `thule serve`: the webhook service.
//!
//! Thin over [`crate::serve`]: flags, the environment and the optional config file resolve
//! into [`Settings`]; logging is set up; the service runs until SIGTERM or Ctrl-C and then
//! shuts down gracefully (503 for new deliveries, running jobs finish or release their leases
//! within the grace period).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::serve::Service;
use crate::serve::runner::PipelineRunner;
use crate::serve::settings::{LogFormat, Settings};

/// Clone caches kept in the data directory (least recently used evicted beyond it).
const WORKSPACE_BUDGET: u64 = 10 << 30;

/// Run the webhook service: receive merge-request and comment webhooks from GitHub, GitLab,
/// Gitea/Forgejo and Bitbucket, authenticate them, and queue plans durably (SQLite).
///
/// Every setting comes from a flag, else its environment variable, else the --config file,
/// else its default. Tokens and webhook secrets come only from the environment or from files
/// the config names: THULE_GITHUB_TOKEN, THULE_GITHUB_WEBHOOK_SECRET, THULE_GITHUB_APP_ID,
/// THULE_GITHUB_APP_KEY_FILE, THULE_GITHUB_API_URL, THULE_GITHUB_GRAPHQL_URL; THULE_GITLAB_URL,
/// THULE_GITLAB_TOKEN, THULE_GITLAB_WEBHOOK_SECRET, THULE_GITLAB_SIGNING_KEY; and the same
/// URL, TOKEN and WEBHOOK_SECRET for THULE_GITEA_* and THULE_BITBUCKET_*.
///
/// Endpoints: POST /events (webhooks), GET /healthz, GET /readyz, GET /metrics (Prometheus),
/// GET /api/runs (JSON), GET / (status page).
#[derive(Debug, Default, clap::Args)]
#[command(after_help = "Examples:
  # The documented example (SQLite in ./thule-data), a GitLab webhook secret from the environment:
  THULE_GITLAB_URL=https://gitlab.example.com THULE_GITLAB_WEBHOOK_SECRET=... \\
    thule serve --config examples/serve.yaml

  # In a container, no file: everything from the environment
  THULE_LISTEN=0.0.0.0:8080 THULE_DATA_DIR=/var/lib/thule THULE_REPO_ALLOWLIST='github.com/acme/*' \\
    THULE_GITHUB_WEBHOOK_SECRET=... THULE_GITHUB_TOKEN=... thule serve --log-format json")]
pub struct ServeArgs {
    /// The configuration file (YAML; schema in docs/schema/serve.schema.json).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [env: THULE_LISTEN] (default 0.0.0.0:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The queue database, sqlite:///ABS/PATH or sqlite://REL/PATH [env: THULE_DB]
    /// (default: thule.db in the data directory).
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Directory for the database and working files [env: THULE_DATA_DIR] (default
    /// thule-data).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log format [env: THULE_LOG_FORMAT] (default text).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Largest webhook body accepted, in bytes [env: THULE_MAX_BODY_BYTES] (default 25 MiB).
    #[arg(long, value_name = "N")]
    pub max_body_bytes: Option<u64>,
    /// Jobs run at once [env: THULE_WORKERS] (default 2).
    #[arg(long, value_name = "N")]
    pub workers: Option<u32>,
    /// A worker's lease on a job, renewed while it runs; at most 30 [env:
    /// THULE_LEASE_SECONDS] (default 30).
    #[arg(long, value_name = "SECONDS")]
    pub lease_seconds: Option<u64>,
    /// Longest one run may take [env: THULE_RUN_DEADLINE_SECONDS] (default 900).
    #[arg(long, value_name = "SECONDS")]
    pub run_deadline_seconds: Option<u64>,
    /// Time running jobs get to finish on SIGTERM [env: THULE_SHUTDOWN_GRACE_SECONDS]
    /// (default 25).
    #[arg(long, value_name = "SECONDS")]
    pub shutdown_grace_seconds: Option<u64>,
    /// Starts of one job before it is given up [env: THULE_MAX_ATTEMPTS] (default 3).
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,
    /// Days of run history kept [env: THULE_RUN_RETENTION_DAYS] (default 30).
    #[arg(long, value_name = "DAYS")]
    pub run_retention_days: Option<u32>,
    /// Days delivery ids are remembered [env: THULE_DELIVERY_RETENTION_DAYS] (default 7).
    #[arg(long, value_name = "DAYS")]
    pub delivery_retention_days: Option<u32>,
    /// Repositories served, globs over HOST/FULL/PATH, comma-separated or repeated; `*` for
    /// all [env: THULE_REPO_ALLOWLIST].
    #[arg(long = "repo-allowlist", value_name = "GLOB", value_delimiter = ',')]
    pub repo_allowlist: Vec<String>,
    /// Plan merge requests from forks [env: THULE_PLAN_FORKS] (default false).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub plan_forks: Option<bool>,
    /// Live snapshots, [CLUSTER=]PATH (repeatable) [env: THULE_LIVE, comma-separated].
    #[arg(long = "live", value_name = "[CLUSTER=]PATH")]
    pub live: Vec<String>,
    /// Read live objects from clusters with this kubeconfig (read-only) [env:
    /// THULE_KUBECONFIG].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context for a clusterRef, CLUSTER=CONTEXT (repeatable) [env:
    /// THULE_CONTEXTS, comma-separated].
    #[arg(long = "context", value_name = "CLUSTER=CONTEXT")]
    pub contexts: Vec<String>,
}

/// Run `thule serve` until SIGTERM or Ctrl-C.
pub fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(args, &|k| std::env::var(k).ok())?;
    crate::serve::logging::init(settings.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let readers = crate::cmd::plan::readers_from(
        &settings.clusters.live,
        settings.clusters.kubeconfig.as_ref(),
        &settings.clusters.contexts,
        &settings.data_dir,
    )?;
    let runner = PipelineRunner::new(
        settings.providers.clone(),
        &settings.data_dir,
        WORKSPACE_BUDGET,
        crate::cmd::plan::toolchain_from(None),
        readers,
    )?;
    runtime.block_on(async move {
        let service = Service::start(settings, Arc::new(runner)).await?;
        service.run_until(crate::serve::shutdown_signal()).await
    })?;
    Ok(ExitCode::SUCCESS)
}
