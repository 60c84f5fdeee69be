//! The configuration file of the webhook service, `thule serve --config FILE`.
//!
//! Every setting is optional here: each one can also come from a flag or an environment
//! variable (the variable is named in its doc), so a container needs no file at all. The
//! order is flag, then environment, then this file, then the default.
//!
//! Tokens and webhook secrets are never written in this file: they come from the environment
//! (`THULE_GITHUB_TOKEN`, `THULE_GITLAB_WEBHOOK_SECRET`, …) or from files this file names
//! (`tokenFile`, `webhookSecretFile`), so the file can be committed and shown.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `thule serve`'s configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServeFile {
    /// Configuration version, `v1`.
    pub version: String,
    /// Address to listen on, `HOST:PORT` (`THULE_LISTEN`, `--listen`; default `0.0.0.0:8080`).
    pub listen: Option<String>,
    /// The queue database as a URL (`THULE_DB`, `--db`): `sqlite:///abs/path/thule.db` or
    /// `sqlite://relative/thule.db` (relative to this file's directory here, to the working
    /// directory in a flag or variable). Default: `thule.db` in the data directory.
    /// PostgreSQL is not supported yet.
    pub db: Option<String>,
    /// Directory for the database and working files (`THULE_DATA_DIR`, `--data-dir`; default
    /// `thule-data` in the working directory). Created when missing. Relative paths in this
    /// file are relative to the file's directory.
    pub data_dir: Option<String>,
    /// Log format, `text` or `json` (`THULE_LOG_FORMAT`, `--log-format`; default `text`).
    pub log_format: Option<String>,
    /// Largest webhook body accepted, in bytes; larger ones get 413 (`THULE_MAX_BODY_BYTES`,
    /// `--max-body-bytes`; default 26214400, 25 MiB: GitHub sends up to 25 MB).
    pub max_body_bytes: Option<u64>,
    /// Jobs run at once (`THULE_WORKERS`, `--workers`; default 2).
    pub workers: Option<u32>,
    /// How long a worker's claim on a job lasts before another may take it, renewed while the
    /// job runs; at most 30 (`THULE_LEASE_SECONDS`, `--lease-seconds`; default 30).
    pub lease_seconds: Option<u64>,
    /// Longest one run may take before it is cancelled and recorded as failed
    /// (`THULE_RUN_DEADLINE_SECONDS`, `--run-deadline-seconds`; default 900).
    pub run_deadline_seconds: Option<u64>,
    /// On SIGTERM or Ctrl-C, how long running jobs may take to finish before they are
    /// cancelled and their leases released for the next start (`THULE_SHUTDOWN_GRACE_SECONDS`,
    /// `--shutdown-grace-seconds`; default 25, under Kubernetes' 30 s termination grace).
    pub shutdown_grace_seconds: Option<u64>,
    /// How many times a job is started before it is given up as failed (a job whose worker
    /// died counts as started) (`THULE_MAX_ATTEMPTS`, `--max-attempts`; default 3).
    pub max_attempts: Option<u32>,
    /// History kept, in days: finished runs and jobs older than this are deleted
    /// (`THULE_RUN_RETENTION_DAYS`, `--run-retention-days`; default 30).
    pub run_retention_days: Option<u32>,
    /// How long delivery ids are remembered to drop redeliveries, in days (GitHub redelivers
    /// for 3 days) (`THULE_DELIVERY_RETENTION_DAYS`, `--delivery-retention-days`; default 7).
    pub delivery_retention_days: Option<u32>,
    /// Repositories served, as globs over `HOST/FULL/PATH` (`THULE_REPO_ALLOWLIST`,
    /// comma-separated, `--repo-allowlist`): HOST is the configured forge URL's host, with
    /// its port when it has one (`gitlab.example.com/platform/*`,
    /// `127.0.0.1:8929/platform/*`, `github.com/acme/gitops`); `*` allows every repository.
    /// A delivery for any other repository is refused with 403. Empty: nothing is served.
    pub repo_allowlist: Option<Vec<String>>,
    /// Plan merge requests from forks (`THULE_PLAN_FORKS`, `--plan-forks`; default false).
    /// When false, a fork's merge-request events are answered 200, recorded as ignored and
    /// never queued.
    pub plan_forks: Option<bool>,
    /// The forges thule answers.
    pub providers: Option<ServeProviders>,
    /// Where live objects come from, as `thule plan` takes it; none: intent-only plans.
    pub clusters: Option<ServeClusters>,
}

/// The forges, each configured on its own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServeProviders {
    /// GitHub (github.com or Enterprise Server).
    pub github: Option<GitHubServe>,
    /// GitLab (gitlab.com or self-managed).
    pub gitlab: Option<ForgeServe>,
    /// Gitea and Forgejo.
    pub gitea: Option<ForgeServe>,
    /// Bitbucket Cloud or Data Center.
    pub bitbucket: Option<ForgeServe>,
}

/// GitHub: its API, and a token or a GitHub App.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GitHubServe {
    /// REST API URL (`THULE_GITHUB_API_URL`; default `https://api.github.com`, Enterprise
    /// Server: `https://HOST/api/v3`).
    pub api_url: Option<String>,
    /// GraphQL URL (`THULE_GITHUB_GRAPHQL_URL`; default: beside the API URL).
    pub graphql_url: Option<String>,
    /// File holding the token (`THULE_GITHUB_TOKEN` instead).
    pub token_file: Option<String>,
    /// File holding the webhook secret (`THULE_GITHUB_WEBHOOK_SECRET` instead).
    pub webhook_secret_file: Option<String>,
    /// GitHub App id, to act as an app instead of with a token (`THULE_GITHUB_APP_ID`).
    pub app_id: Option<String>,
    /// The GitHub App's private key, PEM (`THULE_GITHUB_APP_KEY_FILE`).
    pub app_key_file: Option<String>,
}

/// GitLab, Gitea/Forgejo or Bitbucket: the instance and its secrets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ForgeServe {
    /// The instance URL (`THULE_GITLAB_URL`, `THULE_GITEA_URL`, `THULE_BITBUCKET_URL`).
    /// GitLab's API is `<url>/api/v4`, Gitea's `<url>/api/v1`; Bitbucket Cloud is
    /// `https://api.bitbucket.org/2.0` (the default), Data Center its instance URL.
    pub url: Option<String>,
    /// File holding the token (`THULE_GITLAB_TOKEN`, `THULE_GITEA_TOKEN`,
    /// `THULE_BITBUCKET_TOKEN` instead).
    pub token_file: Option<String>,
    /// File holding the webhook secret: GitLab's secret token, else the HMAC key
    /// (`THULE_GITLAB_WEBHOOK_SECRET`, `THULE_GITEA_WEBHOOK_SECRET`,
    /// `THULE_BITBUCKET_WEBHOOK_SECRET` instead).
    pub webhook_secret_file: Option<String>,
    /// GitLab only: file holding the webhook signing token (`whsec_…`), to accept signed
    /// deliveries (`THULE_GITLAB_SIGNING_KEY` instead).
    pub signing_key_file: Option<String>,
}

/// Live objects for plans, as `thule plan` reads them: snapshots or clusters, not both.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServeClusters {
    /// Snapshots (`kubectl get -o yaml` output) by clusterRef; the key `*` names a directory
    /// with one subdirectory per clusterRef (`THULE_LIVE`, comma-separated `[CLUSTER=]PATH`,
    /// `--live`).
    pub live: Option<BTreeMap<String, String>>,
    /// Kubeconfig for reading clusters, read-only (`THULE_KUBECONFIG`, `--kubeconfig`).
    pub kubeconfig: Option<String>,
    /// Kubeconfig context by clusterRef (`THULE_CONTEXTS`, comma-separated
    /// `CLUSTER=CONTEXT`, `--context`).
    pub contexts: Option<BTreeMap<String, String>>,
}
