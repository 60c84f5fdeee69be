//! Planning one merge request end to end, as the webhook service does for each job: read the
//! MR from its forge, fetch and check out its base and head, run the pipeline, and publish.
//!
//! Staleness is checked twice: before any work (a job for an older head is superseded and
//! touches nothing) and before publishing (a head that moved during the run discards the plan
//! and marks the old commit's status as superseded), so a stale run never posts a plan.

use std::sync::Arc;

use thule_core::cancel::CancelToken;
use thule_core::repo::DiskTree;
use thule_render::Toolchain;
use thule_vcs::{CommitStatus, MrRef, Provider, Published, Publisher, StatusState, VcsError};

use super::{
    Outcome, Pipeline, PipelineError, PlanRequest, Progress, ReaderFactory, Selection, Silent,
    ToolRenderers, blocking, publish,
};
use crate::workspace::{GitAuth, Workspaces};

/// One merge request to plan.
#[derive(Clone, Debug)]
pub struct MrJob {
    /// The merge request.
    pub mr: MrRef,
    /// Its repository's clone URL (from the webhook payload; checked against the policy).
    pub clone_url: String,
    /// The head commit the job was queued for.
    pub head_sha: String,
    /// The base commit, when the event gave it (else the forge's answer is used).
    pub base_sha: Option<String>,
    /// Which impacted projects (a comment command's choice; all by default).
    pub selection: Selection,
}

/// How a job ended.
#[derive(Debug)]
pub enum MrOutcome {
    /// Planned and published.
    Published {
        /// What was posted.
        published: Published,
        /// The plan's status.
        state: StatusState,
        /// Projects planned.
        projects: Vec<String>,
    },
    /// The merge request's head is no longer the job's: nothing was done or published.
    Superseded {
        /// The head the forge reports now.
        current_head: String,
    },
    /// The run was cancelled (a newer head arrived): nothing was published.
    Cancelled,
}

/// Why a job failed (its status is set to `error` when the forge can still be reached).
#[derive(Debug, thiserror::Error)]
pub enum MrError {
    /// The forge refused or could not be reached.
    #[error(transparent)]
    Forge(#[from] VcsError),
    /// The repository could not be fetched or checked out (the message has no credential).
    #[error("workspace: {0}")]
    Workspace(String),
    /// Nothing could be planned (configuration, selection, an internal error).
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// What the service plans merge requests with.
pub struct MrPlanner {
    /// Clone caches and run checkouts.
    pub workspaces: Arc<Workspaces>,
    /// How git authenticates to the forge.
    pub git_auth: GitAuth,
    /// The rendering tools.
    pub toolchain: Toolchain,
    /// Renders at once per run.
    pub jobs: usize,
    /// Live state (none: intent-only plans).
    pub readers: Option<Arc<dyn ReaderFactory>>,
    /// Stage listener.
    pub progress: Arc<dyn Progress>,
    /// The commit status's name.
    pub context: String,
}

impl std::fmt::Debug for MrPlanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MrPlanner")
            .field("jobs", &self.jobs)
            .field("live", &self.readers.is_some())
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl MrPlanner {
    /// A planner with no live source, silent progress and the default status context.
    pub fn new(workspaces: Arc<Workspaces>, git_auth: GitAuth, toolchain: Toolchain) -> Self {
        Self {
            workspaces,
            git_auth,
            toolchain,
            jobs: thule_render::default_jobs(),
            readers: None,
            progress: Arc::new(Silent),
            context: super::status::DEFAULT_CONTEXT.to_owned(),
        }
    }

    /// Plan `job` and publish the plan through `publisher`, unless the MR moved on or
    /// `cancel` fires.
    ///
    /// # Errors
    /// [`MrError`] when the forge, the workspace or the pipeline fails; the head's status is
    /// set to `error` with the reason first (best effort).
    pub async fn run<P: Provider>(
        &self,
        publisher: &Publisher<P>,
        job: &MrJob,
        cancel: CancelToken,
    ) -> Result<MrOutcome, MrError> {
        let mr = publisher.provider().merge_request(&job.mr).await?;
        if mr.head_sha != job.head_sha {
            return Ok(MrOutcome::Superseded {
                current_head: mr.head_sha,
            });
        }
        publish::announce(publisher, &job.mr, &job.head_sha, &self.context).await?;
        match self
            .plan_and_publish(publisher, job, mr.base_sha, cancel)
            .await
        {
            Ok(MrOutcome::Cancelled) => {
                // Never leave the commit pending: a cancelled run (a newer head arrived) says so.
                let status = CommitStatus {
                    context: self.context.clone(),
                    state: StatusState::Error,
                    description: "cancelled: a newer commit is being planned".to_owned(),
                    target_url: None,
                };
                let _ = publisher
                    .set_status(&job.mr.repo, &job.head_sha, &status)
                    .await;
                Ok(MrOutcome::Cancelled)
            }
            Ok(outcome) => Ok(outcome),
            Err(e) => {
                let _ = publish::report_failure(
                    publisher,
                    &job.mr,
                    &job.head_sha,
                    &self.context,
                    &e.to_string(),
                )
                .await;
                Err(e)
            }
        }
    }

    async fn plan_and_publish<P: Provider>(
        &self,
        publisher: &Publisher<P>,
        job: &MrJob,
        forge_base: Option<String>,
        cancel: CancelToken,
    ) -> Result<MrOutcome, MrError> {
        let base = job
            .base_sha
            .clone()
            .or(forge_base)
            .ok_or_else(|| MrError::Workspace(format!("{} has no base commit", job.mr)))?;
        let checkout = {
            let ws = Arc::clone(&self.workspaces);
            let key = format!("{}/{}", job.mr.repo.provider, job.mr.repo.path);
            let (url, auth, head) = (
                job.clone_url.clone(),
                self.git_auth.clone(),
                job.head_sha.clone(),
            );
            blocking("checkout", move || {
                ws.checkout(&key, &url, &auth, &head, &base)
            })
            .await?
            .map_err(|e| MrError::Workspace(format!("{e:#}")))?
        };
        let open = |dir: &std::path::Path| -> Result<super::SharedTree, MrError> {
            Ok(Arc::new(DiskTree::open(dir).map_err(|e| {
                MrError::Workspace(format!("reading the checkout: {e}"))
            })?))
        };
        let request = PlanRequest {
            head: open(&checkout.head)?,
            base: Some(open(&checkout.base)?),
            changed: checkout.changed.clone(),
            head_sha: Some(job.head_sha.clone()),
            base_sha: job.base_sha.clone(),
            org: None,
            overrides: Vec::new(),
        };
        let renderers = ToolRenderers::new(
            &checkout.head,
            Some(&checkout.base),
            self.toolchain.clone(),
            self.jobs,
            cancel.clone(),
        );
        let mut pipeline = Pipeline::new(Arc::new(renderers))
            .with_cancel(cancel.clone())
            .with_progress(Arc::clone(&self.progress));
        if let Some(readers) = &self.readers {
            pipeline = pipeline.with_readers(Arc::clone(readers));
        }
        let plan = match pipeline.plan_selected(&request, &job.selection).await? {
            Outcome::Planned(plan) => plan,
            Outcome::Cancelled => return Ok(MrOutcome::Cancelled),
        };
        drop(checkout);
        if cancel.is_cancelled() {
            return Ok(MrOutcome::Cancelled);
        }
        // The head may have moved while this run planned: never post a stale plan.
        let now = publisher.provider().merge_request(&job.mr).await?;
        if now.head_sha != job.head_sha {
            let status = CommitStatus {
                context: self.context.clone(),
                state: StatusState::Error,
                description: format!("superseded by {}", short(&now.head_sha)),
                target_url: None,
            };
            publisher
                .set_status(&job.mr.repo, &job.head_sha, &status)
                .await?;
            return Ok(MrOutcome::Superseded {
                current_head: now.head_sha,
            });
        }
        let published =
            publish::publish_plan(publisher, &job.mr, &job.head_sha, &self.context, &plan).await?;
        let (state, _) = super::status::plan_status(&plan);
        Ok(MrOutcome::Published {
            published,
            state,
            projects: plan.projects.iter().map(|p| p.name.clone()).collect(),
        })
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}
