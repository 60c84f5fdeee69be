//! [`PipelineRunner`]: the [`JobRunner`] that plans merge requests: it reads the MR from its
//! forge, checks out base and head into the data directory's workspaces, runs the planning
//! pipeline and publishes the plan (one comment, older plans superseded, a commit status),
//! through [`crate::pipeline::mr::MrPlanner`].
//!
//! Comment commands: the commenter needs write access (GitHub, Gitea: write; GitLab:
//! Developer), asked of the forge's permission API; others get a polite refusal and no run.
//! thule's own comments never trigger anything; `/thule help` and unknown commands get the
//! help text.
//!
//! Clone URLs are derived from the configured forge (`<instance>/<repo>.git`), so they are
//! always on its host; credentials reach git only through its environment.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use thule_core::CancelToken;
use thule_render::Toolchain;
use thule_vcs::{Actor, MrRef, Permission, Provider, ProviderKind, Publisher, RepoRef};

use super::job::{Job, JobCommand, JobKind, JobRunner, RunOutcome, RunResult};
use super::settings::{Forge, ProviderSettings};
use crate::pipeline::Selection;
use crate::pipeline::mr::{MrJob, MrOutcome, MrPlanner};
use crate::workspace::{GitAuth, RemotePolicy, Workspaces};

/// The help text a `/thule help` or an unknown command gets.
pub const HELP: &str = "thule plans Kubernetes GitOps merge requests (read-only).\n\n\
- `/thule plan`: plan every project this merge request touches\n\
- `/thule plan PROJECT...`: plan these projects\n\
- `/thule plan -d DIR`: plan the projects under DIR\n\
- `/thule help`: this text\n\n\
Commands need write access to the repository.";

/// Where clones come from.
#[derive(Clone, Debug)]
enum Clones {
    /// `<forge instance>/<repo>.git`.
    Forge,
    /// `file://<root>/<repo>` (tests only; local URLs are allowed then).
    Local(PathBuf),
}

/// Plans and publishes each job.
pub struct PipelineRunner {
    providers: BTreeMap<Forge, ProviderSettings>,
    workspaces: Arc<Workspaces>,
    toolchain: Toolchain,
    readers: Option<Arc<dyn crate::pipeline::ReaderFactory>>,
    clones: Clones,
    identities: Mutex<BTreeMap<Forge, Actor>>,
}

impl std::fmt::Debug for PipelineRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineRunner")
            .field("forges", &self.providers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl PipelineRunner {
    /// A runner for the configured forges, with workspaces under `data_dir/workspaces`
    /// (at most `budget_bytes` of clone caches).
    ///
    /// # Errors
    /// When the workspace directory cannot be created.
    pub fn new(
        providers: BTreeMap<Forge, ProviderSettings>,
        data_dir: &std::path::Path,
        budget_bytes: u64,
        toolchain: Toolchain,
        readers: Option<Arc<dyn crate::pipeline::ReaderFactory>>,
    ) -> anyhow::Result<Self> {
        let hosts = providers.values().map(web_host).collect();
        let policy = RemotePolicy {
            hosts,
            allow_local: false,
        };
        Ok(Self {
            workspaces: Arc::new(Workspaces::new(
                &data_dir.join("workspaces"),
                budget_bytes,
                policy,
            )?),
            providers,
            toolchain,
            readers,
            clones: Clones::Forge,
            identities: Mutex::default(),
        })
    }

    /// Clone from `file://<root>/<repo>` instead of the forge (tests: a local repository per
    /// path). Local URLs are allowed only then.
    ///
    /// # Errors
    /// When the workspace directory cannot be re-created.
    pub fn with_local_clones(
        mut self,
        root: PathBuf,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let policy = RemotePolicy {
            hosts: Vec::new(),
            allow_local: true,
        };
        self.workspaces = Arc::new(Workspaces::new(
            &data_dir.join("workspaces"),
            u64::MAX,
            policy,
        )?);
        self.clones = Clones::Local(root);
        Ok(self)
    }

    fn settings(&self, provider: ProviderKind) -> Result<&ProviderSettings, String> {
        self.providers
            .get(&Forge::of(provider))
            .ok_or_else(|| format!("{provider} is not configured"))
    }

    fn provider(
        p: &ProviderSettings,
        kind: ProviderKind,
        repo: &str,
    ) -> Result<Box<dyn Provider>, String> {
        let token = p
            .token
            .clone()
            .ok_or_else(|| format!("no token configured for {kind}"))?;
        let target = crate::cmd::publish::Target {
            provider: kind,
            api_url: p.api_url.clone(),
            graphql_url: p.graphql_url.clone(),
            mr: MrRef {
                repo: RepoRef {
                    provider: kind,
                    path: repo.to_owned(),
                },
                number: 0,
            },
            head_sha: None,
            base_sha: None,
            token,
            actions_token: false,
            github_app: None,
            bitbucket_user: None,
        };
        crate::cmd::publish::provider(&target).map_err(|e| format!("{e:#}"))
    }

    async fn publisher(
        &self,
        p: &ProviderSettings,
        job: &Job,
    ) -> Result<Publisher<Box<dyn Provider>>, String> {
        let provider = Self::provider(p, job.provider, &job.repo)?;
        let known = self
            .identities
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&p.forge)
            .cloned();
        if let Some(me) = known {
            return Ok(Publisher::with_identity(provider, me));
        }
        let publisher = Publisher::new(provider).await.map_err(|e| e.to_string())?;
        self.identities
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(p.forge, publisher.identity().clone());
        Ok(publisher)
    }

    fn clone_url(&self, p: &ProviderSettings, job: &Job) -> String {
        match &self.clones {
            Clones::Local(root) => format!("file://{}", root.join(&job.repo).display()),
            Clones::Forge => format!("{}/{}.git", web_base(p), job.repo),
        }
    }

    fn git_auth(p: &ProviderSettings) -> GitAuth {
        let Some(token) = &p.token else {
            return GitAuth::None;
        };
        let user = match p.forge {
            Forge::GitHub => "x-access-token",
            Forge::GitLab => "oauth2",
            Forge::Bitbucket => "x-token-auth",
            Forge::Gitea => "thule",
        };
        GitAuth::Basic {
            user: user.to_owned(),
            token: token.clone(),
        }
    }

    async fn run_job(&self, job: &Job, cancel: CancelToken) -> Result<RunOutcome, String> {
        let p = self.settings(job.provider)?;
        let publisher = self.publisher(p, job).await?;
        let mr = MrRef {
            repo: RepoRef {
                provider: job.provider,
                path: job.repo.clone(),
            },
            number: job.mr,
        };
        let mut selection = Selection::default();
        if job.kind == JobKind::Command {
            let author = Actor {
                login: job.actor.clone().unwrap_or_default(),
                id: job
                    .details
                    .comment
                    .as_ref()
                    .and_then(|c| c.author_id.clone()),
            };
            if author.same_as(publisher.identity()) {
                return Ok(RunOutcome::new(RunResult::Skipped, "thule's own comment"));
            }
            match &job.command {
                Some(JobCommand::Plan { projects, dirs }) => {
                    let allowed = publisher
                        .provider()
                        .permission(&mr.repo, &author)
                        .await
                        .map_err(|e| e.to_string())?;
                    if allowed < Permission::Write {
                        let reply = format!(
                            "@{} thule runs `/thule plan` only for people with write access to this repository.",
                            author.login
                        );
                        publisher
                            .provider()
                            .create_comment(&mr, &reply)
                            .await
                            .map_err(|e| e.to_string())?;
                        return Ok(RunOutcome::new(
                            RunResult::Skipped,
                            "refused: no write access",
                        ));
                    }
                    selection = Selection {
                        projects: projects.clone(),
                        dirs: dirs.clone(),
                    };
                }
                _ => {
                    publisher
                        .provider()
                        .create_comment(&mr, HELP)
                        .await
                        .map_err(|e| e.to_string())?;
                    return Ok(RunOutcome::new(
                        RunResult::Done,
                        "answered with the help text",
                    ));
                }
            }
        }
        // The head: the event's full SHA, else the forge's (comments carry none, Bitbucket
        // Cloud abbreviates it).
        let head = match &job.head_sha {
            Some(sha) if sha.len() >= 40 && job.kind == JobKind::Plan => sha.clone(),
            _ => {
                publisher
                    .provider()
                    .merge_request(&mr)
                    .await
                    .map_err(|e| e.to_string())?
                    .head_sha
            }
        };
        let planner = MrPlanner {
            workspaces: Arc::clone(&self.workspaces),
            git_auth: Self::git_auth(p),
            toolchain: self.toolchain.clone(),
            jobs: thule_render::default_jobs(),
            readers: self.readers.clone(),
            progress: Arc::new(crate::pipeline::Silent),
            context: crate::pipeline::status::DEFAULT_CONTEXT.to_owned(),
        };
        let mr_job = MrJob {
            mr,
            clone_url: self.clone_url(p, job),
            head_sha: head,
            base_sha: None,
            selection,
        };
        match planner.run(&publisher, &mr_job, cancel).await {
            Ok(MrOutcome::Published {
                published,
                state,
                projects,
            }) => {
                let mut out = RunOutcome::new(
                    RunResult::Done,
                    format!(
                        "published ({state:?}): {} posted, {} updated, {} superseded",
                        published.created.len(),
                        published.updated.len(),
                        published.superseded.len()
                    ),
                );
                out.projects = projects;
                out.comment_url = published.url.clone();
                out.comment_ids = published
                    .created
                    .iter()
                    .chain(&published.updated)
                    .map(|h| h.id.to_string())
                    .collect();
                Ok(out)
            }
            Ok(MrOutcome::Superseded { current_head }) => Ok(RunOutcome::new(
                RunResult::Skipped,
                format!("superseded: the merge request is now at {current_head}"),
            )),
            Ok(MrOutcome::Cancelled) => Ok(RunOutcome::new(RunResult::Cancelled, "cancelled")),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[async_trait]
impl JobRunner for PipelineRunner {
    async fn run(&self, job: &Job, cancel: CancelToken) -> RunOutcome {
        match self.run_job(job, cancel).await {
            Ok(outcome) => outcome,
            Err(message) => RunOutcome::new(RunResult::Failed, message),
        }
    }
}

/// The forge's web base: the API URL without its API path.
fn web_base(p: &ProviderSettings) -> String {
    let api = p.api_url.trim_end_matches('/');
    if api == "https://api.github.com" {
        return "https://github.com".to_owned();
    }
    if api == "https://api.bitbucket.org/2.0" {
        return "https://bitbucket.org".to_owned();
    }
    for suffix in ["/api/v4", "/api/v3", "/api/v1", "/rest/api/1.0"] {
        if let Some(base) = api.strip_suffix(suffix) {
            return base.to_owned();
        }
    }
    api.to_owned()
}

/// The host (with port) clones come from.
fn web_host(p: &ProviderSettings) -> String {
    let base = web_base(p);
    let rest = base.split_once("://").map_or(base.as_str(), |(_, r)| r);
    rest.split('/').next().unwrap_or_default().to_owned()
}
