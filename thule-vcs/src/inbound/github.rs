//! GitHub's `pull_request`, `issue_comment` and `ping` payloads, and Gitea's/Forgejo's,
//! which follow GitHub's shape (`synchronized` for `synchronize`, `label_updated`, `is_pull`).

use serde::Deserialize;
use serde_json::Value;

use crate::inbound::command::parse_command;
use crate::inbound::detect::Delivery;
use crate::inbound::event::{CommentEvent, Event, MergeRequestEvent, Trigger};
use crate::inbound::parse::{ParseError, actor, decode, id_text, ignored, non_empty, required};
use crate::model::{Actor, CommentHandle, MrRef, MrState, ProviderKind, RepoRef};

#[derive(Deserialize)]
struct User {
    login: Option<String>,
    /// Gitea sends both `login` and `username`.
    username: Option<String>,
    id: Option<Value>,
}

impl User {
    fn actor(&self) -> Option<Actor> {
        actor(
            &[self.login.as_ref(), self.username.as_ref()],
            id_text(self.id.as_ref()),
        )
    }
}

#[derive(Deserialize)]
struct Repo {
    full_name: Option<String>,
}

#[derive(Deserialize)]
struct Label {
    name: Option<String>,
}

#[derive(Deserialize)]
struct Ref {
    #[serde(rename = "ref")]
    name: Option<String>,
    sha: Option<String>,
    repo: Option<Repo>,
}

#[derive(Deserialize)]
struct Pull {
    number: Option<u64>,
    state: Option<String>,
    draft: Option<bool>,
    merged: Option<bool>,
    user: Option<User>,
    labels: Option<Vec<Label>>,
    head: Option<Ref>,
    base: Option<Ref>,
}

#[derive(Deserialize)]
struct PullEvent {
    action: Option<String>,
    number: Option<u64>,
    pull_request: Option<Pull>,
    repository: Option<Repo>,
    sender: Option<User>,
    before: Option<String>,
    changes: Option<Value>,
}

#[derive(Deserialize)]
struct Issue {
    number: Option<u64>,
    state: Option<String>,
    /// Present (non-null) only when the issue is a pull request.
    pull_request: Option<Value>,
    user: Option<User>,
}

#[derive(Deserialize)]
struct Comment {
    id: Option<u64>,
    node_id: Option<String>,
    html_url: Option<String>,
    body: Option<String>,
    user: Option<User>,
}

#[derive(Deserialize)]
struct CommentPayload {
    action: Option<String>,
    issue: Option<Issue>,
    comment: Option<Comment>,
    repository: Option<Repo>,
    sender: Option<User>,
    /// Gitea: true for a comment on a pull request.
    is_pull: Option<bool>,
    /// Gitea: the pull request, for a comment on one.
    pull_request: Option<Value>,
}

enum Kind {
    Pull,
    Comment,
    Ping,
    Other,
}

fn route(provider: ProviderKind, event: &str) -> Kind {
    match event {
        "pull_request" => Kind::Pull,
        "issue_comment" => Kind::Comment,
        "ping" => Kind::Ping,
        // Gitea's finer event names, sent by older versions in X-Gitea-Event itself.
        "pull_request_sync"
        | "pull_request_label"
        | "pull_request_assign"
        | "pull_request_milestone"
            if provider != ProviderKind::GitHub =>
        {
            Kind::Pull
        }
        "pull_request_comment" if provider != ProviderKind::GitHub => Kind::Comment,
        _ => Kind::Other,
    }
}

pub(crate) fn normalize(
    delivery: &Delivery,
    body: &[u8],
) -> Result<(Option<Actor>, Event), ParseError> {
    match route(delivery.provider, &delivery.event) {
        Kind::Pull => pull(delivery.provider, body),
        Kind::Comment => comment(delivery.provider, body),
        Kind::Ping => {
            let sender = ignored::<User>(body, "sender")?.and_then(|u| u.actor());
            Ok((sender, Event::Ping))
        }
        Kind::Other => {
            let sender = ignored::<User>(body, "sender")?.and_then(|u| u.actor());
            let reason = format!("unsupported event `{}`", delivery.event);
            Ok((sender, Event::Ignored { reason }))
        }
    }
}

fn pull(provider: ProviderKind, body: &[u8]) -> Result<(Option<Actor>, Event), ParseError> {
    let p: PullEvent = decode(body)?;
    let sender = p.sender.as_ref().and_then(User::actor);
    let action = required(non_empty(p.action), "action")?;
    let pr = required(p.pull_request, "pull_request")?;
    let repo = required(
        p.repository.and_then(|r| non_empty(r.full_name)),
        "repository.full_name",
    )?;
    let number = required(p.number.or(pr.number), "number")?;
    let head = required(pr.head, "pull_request.head")?;
    let base = required(pr.base, "pull_request.base")?;
    let head_branch = required(non_empty(head.name), "pull_request.head.ref")?;
    let base_branch = required(non_empty(base.name), "pull_request.base.ref")?;
    let merged = pr.merged.unwrap_or(false);

    let trigger = match action.as_str() {
        "opened" => Trigger::Opened,
        "reopened" => Trigger::Reopened,
        "synchronize" | "synchronized" => Trigger::Pushed,
        "ready_for_review" => Trigger::ReadyForReview,
        // GitHub says `changes.base`, Gitea `changes.ref`, when the target branch moved.
        "edited"
            if p.changes
                .as_ref()
                .is_some_and(|c| c.get("base").is_some() || c.get("ref").is_some()) =>
        {
            Trigger::BaseChanged
        }
        "closed" if merged => Trigger::Merged,
        "closed" => Trigger::Closed,
        "labeled" | "unlabeled" | "label_updated" | "label_cleared" => Trigger::LabelsChanged,
        _ => Trigger::Other,
    };
    let state = if merged {
        MrState::Merged
    } else if pr.state.as_deref() == Some("closed") {
        MrState::Closed
    } else {
        MrState::Open
    };
    let before_sha = if trigger == Trigger::Pushed {
        non_empty(p.before)
    } else {
        None
    };
    let event = MergeRequestEvent {
        mr: MrRef {
            repo: RepoRef {
                provider,
                path: repo,
            },
            number,
        },
        trigger,
        action,
        head_sha: non_empty(head.sha),
        before_sha,
        base_branch,
        head_branch,
        head_repo: head.repo.and_then(|r| non_empty(r.full_name)),
        author: pr.user.as_ref().and_then(User::actor),
        draft: pr.draft.unwrap_or(false),
        labels: pr
            .labels
            .unwrap_or_default()
            .into_iter()
            .filter_map(|l| non_empty(l.name))
            .collect(),
        state,
    };
    Ok((sender, Event::MergeRequest(event)))
}

fn comment(provider: ProviderKind, body: &[u8]) -> Result<(Option<Actor>, Event), ParseError> {
    let p: CommentPayload = decode(body)?;
    let sender = p.sender.as_ref().and_then(User::actor);
    let action = required(non_empty(p.action), "action")?;
    let issue = required(p.issue, "issue")?;
    let is_pull =
        issue.pull_request.is_some() || p.is_pull == Some(true) || p.pull_request.is_some();
    if !is_pull {
        let reason = "comment on an issue, not a pull request".to_owned();
        return Ok((sender, Event::Ignored { reason }));
    }
    let edited = match action.as_str() {
        "created" => false,
        "edited" => true,
        other => {
            let reason = format!("comment action `{other}`");
            return Ok((sender, Event::Ignored { reason }));
        }
    };
    let repo = required(
        p.repository.and_then(|r| non_empty(r.full_name)),
        "repository.full_name",
    )?;
    let number = required(issue.number, "issue.number")?;
    let comment = required(p.comment, "comment")?;
    let id = required(comment.id, "comment.id")?;
    let text = required(comment.body, "comment.body")?;
    let author = required(
        comment.user.as_ref().and_then(User::actor),
        "comment.user.login",
    )?;
    let state = match issue.state.as_deref() {
        Some("closed") => Some(MrState::Closed),
        Some("open") => Some(MrState::Open),
        _ => None,
    };
    let event = CommentEvent {
        mr: MrRef {
            repo: RepoRef {
                provider,
                path: repo,
            },
            number,
        },
        comment: CommentHandle {
            id,
            node_id: non_empty(comment.node_id),
            version: None,
            url: non_empty(comment.html_url),
        },
        author,
        command: parse_command(&text),
        body: text,
        edited,
        head_sha: None,
        base_branch: None,
        head_branch: None,
        mr_author: issue.user.as_ref().and_then(User::actor),
        state,
    };
    Ok((sender, Event::Comment(event)))
}
