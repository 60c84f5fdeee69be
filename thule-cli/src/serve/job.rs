//! Jobs, runs and the [`JobRunner`] seam the workers call.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thule_core::CancelToken;
use thule_vcs::ProviderKind;

/// What a job asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Plan the merge request (it was opened, pushed to, reopened, marked ready, retargeted).
    Plan,
    /// Answer a comment command (`/thule plan`, `/thule help`, …).
    Command,
}

impl JobKind {
    /// `plan` or `command`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Plan => "plan",
            JobKind::Command => "command",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        if s == "command" {
            JobKind::Command
        } else {
            JobKind::Plan
        }
    }
}

/// A job's state in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for a worker.
    Queued,
    /// A worker holds its lease.
    Running,
    /// Finished (whatever the run's result).
    Done,
    /// The run failed, its deadline passed, or it was given up after too many starts.
    Failed,
    /// A newer head of the same merge request was queued; it will not run (or was told to
    /// stop).
    Superseded,
    /// Cancelled by an operator.
    Cancelled,
}

impl JobState {
    /// The lowercase name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Superseded => "superseded",
            JobState::Cancelled => "cancelled",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            "superseded" => JobState::Superseded,
            "cancelled" => JobState::Cancelled,
            _ => return None,
        })
    }
}

/// A comment command, as queued (`thule_vcs::inbound::Command` in a stored form).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "command")]
pub enum JobCommand {
    /// `/thule plan [PROJECT…] [-d DIR…]`.
    Plan {
        /// Only these projects.
        projects: Vec<String>,
        /// Only projects under these directories.
        dirs: Vec<String>,
    },
    /// `/thule help`.
    Help,
    /// An unknown word (`/thule apply`): answer with the help.
    Unknown {
        /// The word.
        word: String,
    },
    /// A known command with unusable arguments.
    Invalid {
        /// What is wrong.
        reason: String,
    },
}

impl From<&thule_vcs::Command> for JobCommand {
    fn from(c: &thule_vcs::Command) -> Self {
        match c {
            thule_vcs::Command::Plan { projects, dirs } => JobCommand::Plan {
                projects: projects.clone(),
                dirs: dirs.clone(),
            },
            thule_vcs::Command::Help => JobCommand::Help,
            thule_vcs::Command::Unknown { word } => JobCommand::Unknown { word: word.clone() },
            thule_vcs::Command::Invalid { reason } => JobCommand::Invalid {
                reason: reason.clone(),
            },
        }
    }
}

/// The comment a command came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobComment {
    /// The REST id.
    pub id: u64,
    /// GitHub's GraphQL node id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// Bitbucket Data Center's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// A link to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Its author's forge id, when the forge gives one (check permissions by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_id: Option<String>,
    /// `thule` or `atlantis`: how the command was spelled.
    pub prefix: String,
}

/// What the webhook said beyond the queue's columns: hints for the runner, which re-reads
/// the live merge request before planning.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobDetails {
    /// The event header as sent (`pull_request`, `Merge Request Hook`).
    pub event: String,
    /// The forge's action word (`synchronize`, `update`), for merge-request events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The target branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
    /// The source branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_branch: Option<String>,
    /// The source repository, when the payload names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_repo: Option<String>,
    /// The previous head on a push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_sha: Option<String>,
    /// Who opened the merge request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mr_author: Option<String>,
    /// Draft / work in progress.
    #[serde(default)]
    pub draft: bool,
    /// Labels at event time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// The comment, for command jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<JobComment>,
}

/// A queued merge-request job, as a worker claims it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Job {
    /// Its id in the queue.
    pub id: i64,
    /// The forge that sent it.
    #[serde(serialize_with = "provider_name")]
    pub provider: ProviderKind,
    /// The repository, as the forge's API names it (`group/sub/proj`, `owner/repo`).
    pub repo: String,
    /// The merge request's number (GitLab iid).
    pub mr: u64,
    /// The head commit the event named (a hint: Bitbucket Cloud abbreviates it, GitHub
    /// comments carry none).
    pub head_sha: Option<String>,
    /// Why: `opened`, `pushed`, `reopened`, `ready-for-review`, `base-changed`, `comment`.
    pub trigger: String,
    /// Who caused it (the event's sender, or the comment's author).
    pub actor: Option<String>,
    /// Plan or command.
    pub kind: JobKind,
    /// The command, for command jobs.
    pub command: Option<JobCommand>,
    /// The webhook's other facts.
    pub details: JobDetails,
    /// The delivery that queued it.
    pub delivery_id: Option<String>,
    /// How many times it was started, this one included.
    pub attempts: u32,
    /// When it was queued (Unix milliseconds).
    pub created_at: i64,
}

fn provider_name<S: serde::Serializer>(p: &ProviderKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.name())
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunResult {
    /// Planned and published: something changes.
    Changes,
    /// Planned and published: nothing changes.
    NoChanges,
    /// Done without a plan to report (a help reply; the placeholder runner).
    Done,
    /// Not run on purpose (the head moved, no permission, a fork): the message says why.
    Skipped,
    /// Failed: the message says why.
    Failed,
    /// Stopped through the cancel token (superseded, deadline, shutdown).
    Cancelled,
}

impl RunResult {
    /// Every result, for metrics.
    pub const ALL: [RunResult; 6] = [
        RunResult::Changes,
        RunResult::NoChanges,
        RunResult::Done,
        RunResult::Skipped,
        RunResult::Failed,
        RunResult::Cancelled,
    ];

    /// `changes`, `no-changes`, `done`, `skipped`, `failed`, `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Changes => "changes",
            RunResult::NoChanges => "no-changes",
            RunResult::Done => "done",
            RunResult::Skipped => "skipped",
            RunResult::Failed => "failed",
            RunResult::Cancelled => "cancelled",
        }
    }

    /// The result named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What a runner reports for one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    /// How it ended.
    pub result: RunResult,
    /// A one-line summary for the history (shown on the status page: never a secret).
    pub message: String,
    /// The projects planned.
    pub projects: Vec<String>,
    /// A link to the (first) comment posted.
    pub comment_url: Option<String>,
    /// The ids of the comments posted or updated.
    pub comment_ids: Vec<String>,
}

impl RunOutcome {
    /// An outcome with a result and a message, nothing posted.
    pub fn new(result: RunResult, message: impl Into<String>) -> Self {
        Self {
            result,
            message: message.into(),
            projects: Vec::new(),
            comment_url: None,
            comment_ids: Vec::new(),
        }
    }
}

/// What workers call for each job they claim.
///
/// `cancel` fires when the job is superseded by a newer head of its merge request, when its
/// deadline passes, and at shutdown after the grace period; a runner checks it between
/// steps (the planning pipeline takes it as is) and returns [`RunResult::Cancelled`] soon
/// after. A runner that does not return within a few seconds of the token firing is
/// abandoned. Runners must not publish anything after the token fired.
#[async_trait]
pub trait JobRunner: Send + Sync + 'static {
    /// Run `job` to its outcome.
    async fn run(&self, job: &Job, cancel: CancelToken) -> RunOutcome;
}

/// The runner of this release: records the job as done without planning or publishing.
///
/// A placeholder: the runner that checks out the merge request, runs the planning pipeline
/// and publishes the plan replaces it.
#[derive(Clone, Copy, Debug, Default)]
pub struct RecordOnly;

#[async_trait]
impl JobRunner for RecordOnly {
    async fn run(&self, job: &Job, _cancel: CancelToken) -> RunOutcome {
        RunOutcome::new(
            RunResult::Done,
            format!(
                "queued {} job recorded; planning from the service is not enabled in this build",
                job.kind.as_str()
            ),
        )
    }
}
