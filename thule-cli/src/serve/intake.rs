//! From an authenticated, normalized delivery to what the queue records: the allow-list, the
//! fork rule, the job and its dedupe key.

use thule_vcs::ProviderKind;
use thule_vcs::inbound::CommandPrefix;
use thule_vcs::inbound::{Event, EventKind, Inbound, Trigger};

use crate::serve::job::{JobCommand, JobComment, JobDetails, JobKind};
use crate::serve::settings::Settings;
use crate::serve::store::{Intake, NewDelivery, NewJob};

/// What to do with a delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Its repository is not served (403).
    Forbidden {
        /// `HOST/PATH` as matched against the allow-list.
        repo: String,
    },
    /// Record it (and queue its job, if any).
    Record(Box<Intake>),
}

/// `opened`, `pushed`, `reopened`, `ready-for-review`, `base-changed`, `labels-changed`,
/// `closed`, `merged`, `other`.
pub fn trigger_name(t: Trigger) -> &'static str {
    match t {
        Trigger::Opened => "opened",
        Trigger::Pushed => "pushed",
        Trigger::Reopened => "reopened",
        Trigger::ReadyForReview => "ready-for-review",
        Trigger::BaseChanged => "base-changed",
        Trigger::LabelsChanged => "labels-changed",
        Trigger::Closed => "closed",
        Trigger::Merged => "merged",
        Trigger::Other => "other",
    }
}

/// Decide what `inbound` comes to under `settings`.
///
/// - A merge-request or comment event for a repository off the allow-list is forbidden.
/// - A merge-request event that plans queues a plan job, keyed
///   `provider|repo|mr|head|trigger` (no key when the payload has no head); a fork's is
///   recorded as ignored unless `planForks` is on.
/// - A new comment with a command queues a command job keyed by the comment's id (the same
///   comment delivered twice is one job; two comments are two requests). Whether its author
///   may run it is the runner's to check, as is whether a comment's merge request is a fork
///   (comment payloads do not all say).
/// - Anything else is recorded as ignored, with the reason.
pub fn decide(inbound: &Inbound, settings: &Settings) -> Decision {
    let provider = inbound.delivery.provider;
    let host = settings
        .provider(provider)
        .map_or("", |p| p.host.as_str())
        .to_owned();
    let mut delivery = NewDelivery {
        provider: provider.name().to_owned(),
        delivery_id: inbound.delivery.id.clone(),
        event: inbound.delivery.event.clone(),
        ..NewDelivery::default()
    };
    let sender = inbound.sender.as_ref().map(|a| a.login.clone());
    let ignored = |delivery: NewDelivery, reason: String| {
        Decision::Record(Box::new(Intake {
            delivery,
            observe_head: false,
            ignore_if_head_unchanged: false,
            job: None,
            ignore_reason: reason,
        }))
    };
    match &inbound.event {
        Event::MergeRequest(mr) => {
            let repo = &mr.mr.repo.path;
            if !settings.allowlist.allows(&host, repo) {
                return Decision::Forbidden {
                    repo: format!("{host}/{repo}"),
                };
            }
            delivery.repo = Some(repo.clone());
            delivery.mr = Some(mr.mr.number);
            delivery.head_sha = mr.head_sha.clone();
            let trigger = trigger_name(mr.trigger);
            let fork = mr
                .head_repo
                .as_deref()
                .is_some_and(|h| !h.eq_ignore_ascii_case(repo));
            let reason = if inbound.kind() != EventKind::Plan {
                Some(format!(
                    "merge request {} ({trigger}): nothing to plan",
                    mr.action
                ))
            } else if fork && !settings.plan_forks {
                Some("a merge request from a fork (planForks is off)".to_owned())
            } else {
                None
            };
            let job = reason.is_none().then(|| NewJob {
                provider,
                repo: repo.clone(),
                mr: mr.mr.number,
                head_sha: mr.head_sha.clone(),
                trigger: trigger.to_owned(),
                kind: JobKind::Plan,
                actor: sender
                    .clone()
                    .or_else(|| mr.author.as_ref().map(|a| a.login.clone())),
                command: None,
                details: JobDetails {
                    event: inbound.delivery.event.clone(),
                    action: Some(mr.action.clone()),
                    base_branch: Some(mr.base_branch.clone()),
                    head_branch: Some(mr.head_branch.clone()),
                    head_repo: mr.head_repo.clone(),
                    before_sha: mr.before_sha.clone(),
                    mr_author: mr.author.as_ref().map(|a| a.login.clone()),
                    draft: mr.draft,
                    labels: mr.labels.clone(),
                    comment: None,
                },
                dedupe_key: mr.head_sha.as_ref().map(|head| {
                    format!(
                        "{}|{repo}|{}|{head}|{trigger}",
                        provider.name(),
                        mr.mr.number
                    )
                }),
            });
            Decision::Record(Box::new(Intake {
                observe_head: mr.head_sha.is_some(),
                ignore_if_head_unchanged: provider == ProviderKind::BitbucketCloud
                    && mr.trigger == Trigger::Pushed,
                delivery,
                job,
                ignore_reason: reason.unwrap_or_default(),
            }))
        }
        Event::Comment(c) => {
            let repo = &c.mr.repo.path;
            if !settings.allowlist.allows(&host, repo) {
                return Decision::Forbidden {
                    repo: format!("{host}/{repo}"),
                };
            }
            delivery.repo = Some(repo.clone());
            delivery.mr = Some(c.mr.number);
            delivery.head_sha = c.head_sha.clone();
            let invocation = match (&c.command, inbound.kind()) {
                (Some(inv), EventKind::Command) => inv,
                _ => {
                    let reason = if c.edited {
                        "an edited comment (only new comments run commands)"
                    } else {
                        "a comment without a command"
                    };
                    return ignored(delivery, reason.to_owned());
                }
            };
            let job = NewJob {
                provider,
                repo: repo.clone(),
                mr: c.mr.number,
                head_sha: c.head_sha.clone(),
                trigger: "comment".to_owned(),
                kind: JobKind::Command,
                actor: Some(c.author.login.clone()),
                command: Some(JobCommand::from(&invocation.command)),
                details: JobDetails {
                    event: inbound.delivery.event.clone(),
                    action: None,
                    base_branch: c.base_branch.clone(),
                    head_branch: c.head_branch.clone(),
                    head_repo: None,
                    before_sha: None,
                    mr_author: c.mr_author.as_ref().map(|a| a.login.clone()),
                    draft: false,
                    labels: Vec::new(),
                    comment: Some(JobComment {
                        id: c.comment.id,
                        node_id: c.comment.node_id.clone(),
                        version: c.comment.version,
                        url: c.comment.url.clone(),
                        author_id: c.author.id.clone(),
                        prefix: match invocation.prefix {
                            CommandPrefix::Thule => "thule",
                            CommandPrefix::Atlantis => "atlantis",
                        }
                        .to_owned(),
                    }),
                },
                dedupe_key: Some(format!(
                    "{}|{repo}|{}|comment:{}",
                    provider.name(),
                    c.mr.number,
                    c.comment.id
                )),
            };
            Decision::Record(Box::new(Intake {
                delivery,
                observe_head: false,
                ignore_if_head_unchanged: false,
                job: Some(job),
                ignore_reason: String::new(),
            }))
        }
        Event::Ping => ignored(delivery, "ping".to_owned()),
        Event::Ignored { reason } => ignored(delivery, reason.clone()),
    }
}
