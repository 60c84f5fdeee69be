//! Bitbucket Cloud (`pullrequest:*`) and Bitbucket Data Center (`pr:*`) payloads.

use serde::Deserialize;
use serde_json::Value;

use crate::inbound::command::parse_command;
use crate::inbound::detect::Delivery;
use crate::inbound::event::{CommentEvent, Event, MergeRequestEvent, Trigger};
use crate::inbound::parse::{ParseError, actor, decode, id_text, ignored, non_empty, required};
use crate::model::{Actor, CommentHandle, MrRef, MrState, ProviderKind, RepoRef};

// ---------- Bitbucket Cloud ----------

/// A Cloud account. Cloud has no usernames in payloads any more: the login is the
/// `nickname` when present, else the `display_name`; the id is the `account_id` (else the
/// `uuid`).
#[derive(Deserialize)]
struct CloudUser {
    nickname: Option<String>,
    display_name: Option<String>,
    username: Option<String>,
    account_id: Option<String>,
    uuid: Option<String>,
}

impl CloudUser {
    fn actor(&self) -> Option<Actor> {
        actor(
            &[
                self.nickname.as_ref(),
                self.display_name.as_ref(),
                self.username.as_ref(),
            ],
            non_empty(self.account_id.clone()).or_else(|| non_empty(self.uuid.clone())),
        )
    }
}

#[derive(Deserialize)]
struct CloudRepo {
    full_name: Option<String>,
}

#[derive(Deserialize)]
struct CloudBranch {
    name: Option<String>,
}

#[derive(Deserialize)]
struct CloudCommit {
    hash: Option<String>,
}

#[derive(Deserialize)]
struct CloudEnd {
    branch: Option<CloudBranch>,
    commit: Option<CloudCommit>,
    repository: Option<CloudRepo>,
}

#[derive(Deserialize)]
struct CloudPull {
    id: Option<u64>,
    state: Option<String>,
    draft: Option<bool>,
    author: Option<CloudUser>,
    source: Option<CloudEnd>,
    destination: Option<CloudEnd>,
}

#[derive(Deserialize)]
struct CloudContent {
    raw: Option<String>,
}

#[derive(Deserialize)]
struct CloudComment {
    id: Option<u64>,
    content: Option<CloudContent>,
    user: Option<CloudUser>,
    deleted: Option<bool>,
}

#[derive(Deserialize)]
struct CloudPayload {
    pullrequest: Option<CloudPull>,
    repository: Option<CloudRepo>,
    actor: Option<CloudUser>,
    comment: Option<CloudComment>,
}

/// The parts of a Cloud pull request both event shapes need.
struct CloudMr {
    mr: MrRef,
    head_sha: Option<String>,
    base_branch: String,
    head_branch: String,
    head_repo: Option<String>,
    author: Option<Actor>,
    draft: bool,
    state: MrState,
}

fn cloud_mr(pull: Option<CloudPull>, repository: Option<CloudRepo>) -> Result<CloudMr, ParseError> {
    let pr = required(pull, "pullrequest")?;
    let number = required(pr.id, "pullrequest.id")?;
    let source = required(pr.source, "pullrequest.source")?;
    let destination = required(pr.destination, "pullrequest.destination")?;
    let dest_repo = destination.repository.and_then(|r| non_empty(r.full_name));
    let repo = required(
        repository
            .and_then(|r| non_empty(r.full_name))
            .or(dest_repo),
        "repository.full_name",
    )?;
    let head_branch = required(
        source.branch.and_then(|b| non_empty(b.name)),
        "pullrequest.source.branch.name",
    )?;
    let base_branch = required(
        destination.branch.and_then(|b| non_empty(b.name)),
        "pullrequest.destination.branch.name",
    )?;
    let state = match pr.state.as_deref() {
        Some("MERGED") => MrState::Merged,
        Some("DECLINED" | "SUPERSEDED") => MrState::Closed,
        _ => MrState::Open,
    };
    Ok(CloudMr {
        mr: MrRef {
            repo: RepoRef {
                provider: ProviderKind::BitbucketCloud,
                path: repo,
            },
            number,
        },
        // A 12-character abbreviated hash: reported as given (see `MergeRequestEvent`).
        head_sha: non_empty(source.commit.and_then(|c| c.hash)),
        base_branch,
        head_branch,
        head_repo: source.repository.and_then(|r| non_empty(r.full_name)),
        author: pr.author.as_ref().and_then(CloudUser::actor),
        draft: pr.draft.unwrap_or(false),
        state,
    })
}

pub(crate) fn cloud(
    delivery: &Delivery,
    body: &[u8],
) -> Result<(Option<Actor>, Event), ParseError> {
    let key = delivery.event.as_str();
    let trigger = match key {
        "pullrequest:created" => Some(Trigger::Opened),
        // Pushes and metadata edits alike; see `Trigger::Pushed` and `SeenHeads`.
        "pullrequest:updated" => Some(Trigger::Pushed),
        "pullrequest:fulfilled" => Some(Trigger::Merged),
        "pullrequest:rejected" => Some(Trigger::Closed),
        _ => None,
    };
    let edited = match key {
        "pullrequest:comment_created" => Some(false),
        "pullrequest:comment_updated" => Some(true),
        _ => None,
    };
    if trigger.is_none() && edited.is_none() {
        let sender = ignored::<CloudUser>(body, "actor")?.and_then(|u| u.actor());
        let reason = format!("unsupported event `{key}`");
        return Ok((sender, Event::Ignored { reason }));
    }
    let p: CloudPayload = decode(body)?;
    let sender = p.actor.as_ref().and_then(CloudUser::actor);
    let m = cloud_mr(p.pullrequest, p.repository)?;
    if let Some(trigger) = trigger {
        let event = MergeRequestEvent {
            mr: m.mr,
            trigger,
            action: key.to_owned(),
            head_sha: m.head_sha,
            before_sha: None,
            base_branch: m.base_branch,
            head_branch: m.head_branch,
            head_repo: m.head_repo,
            author: m.author,
            draft: m.draft,
            labels: Vec::new(),
            state: m.state,
        };
        return Ok((sender, Event::MergeRequest(event)));
    }
    let comment = required(p.comment, "comment")?;
    if comment.deleted == Some(true) {
        let reason = "comment deleted".to_owned();
        return Ok((sender, Event::Ignored { reason }));
    }
    let id = required(comment.id, "comment.id")?;
    let text = required(comment.content.and_then(|c| c.raw), "comment.content.raw")?;
    let author = required(
        comment.user.as_ref().and_then(CloudUser::actor),
        "comment.user",
    )?;
    let event = CommentEvent {
        mr: m.mr,
        comment: CommentHandle::id(id),
        author,
        command: parse_command(&text),
        body: text,
        edited: edited == Some(true),
        head_sha: m.head_sha,
        base_branch: Some(m.base_branch),
        head_branch: Some(m.head_branch),
        mr_author: m.author,
        state: Some(m.state),
    };
    Ok((sender, Event::Comment(event)))
}

// ---------- Bitbucket Data Center ----------

#[derive(Deserialize)]
struct DcUser {
    name: Option<String>,
    slug: Option<String>,
    id: Option<Value>,
}

impl DcUser {
    fn actor(&self) -> Option<Actor> {
        actor(
            &[self.name.as_ref(), self.slug.as_ref()],
            id_text(self.id.as_ref()),
        )
    }
}

#[derive(Deserialize)]
struct DcParticipant {
    user: Option<DcUser>,
}

#[derive(Deserialize)]
struct DcProject {
    key: Option<String>,
}

#[derive(Deserialize)]
struct DcRepo {
    slug: Option<String>,
    project: Option<DcProject>,
}

impl DcRepo {
    /// `PROJECT/slug`, as the REST paths name it.
    fn path(self) -> Option<String> {
        let key = non_empty(self.project.and_then(|p| p.key))?;
        let slug = non_empty(self.slug)?;
        Some(format!("{key}/{slug}"))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DcRef {
    id: Option<String>,
    display_id: Option<String>,
    latest_commit: Option<String>,
    repository: Option<DcRepo>,
}

impl DcRef {
    /// The branch name: `displayId`, else `id` without `refs/heads/`.
    fn branch(&self) -> Option<String> {
        non_empty(self.display_id.clone()).or_else(|| {
            let id = self.id.as_deref()?;
            non_empty(Some(
                id.strip_prefix("refs/heads/").unwrap_or(id).to_owned(),
            ))
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DcPull {
    id: Option<u64>,
    state: Option<String>,
    draft: Option<bool>,
    author: Option<DcParticipant>,
    from_ref: Option<DcRef>,
    to_ref: Option<DcRef>,
}

#[derive(Deserialize)]
struct DcComment {
    id: Option<u64>,
    version: Option<u64>,
    text: Option<String>,
    author: Option<DcUser>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DcPayload {
    actor: Option<DcUser>,
    pull_request: Option<DcPull>,
    comment: Option<DcComment>,
    previous_from_hash: Option<String>,
    previous_target: Option<DcRef>,
}

pub(crate) fn data_center(
    delivery: &Delivery,
    body: &[u8],
) -> Result<(Option<Actor>, Event), ParseError> {
    let key = delivery.event.as_str();
    let known = matches!(
        key,
        "pr:opened"
            | "pr:from_ref_updated"
            | "pr:modified"
            | "pr:merged"
            | "pr:declined"
            | "pr:deleted"
            | "pr:comment:added"
            | "pr:comment:edited"
    );
    if !known {
        let sender = ignored::<DcUser>(body, "actor")?.and_then(|u| u.actor());
        let reason = format!("unsupported event `{key}`");
        return Ok((sender, Event::Ignored { reason }));
    }
    let p: DcPayload = decode(body)?;
    let sender = p.actor.as_ref().and_then(DcUser::actor);
    let pr = required(p.pull_request, "pullRequest")?;
    let number = required(pr.id, "pullRequest.id")?;
    let from = required(pr.from_ref, "pullRequest.fromRef")?;
    let to = required(pr.to_ref, "pullRequest.toRef")?;
    let head_branch = required(from.branch(), "pullRequest.fromRef.displayId")?;
    let base_branch = required(to.branch(), "pullRequest.toRef.displayId")?;
    let head_sha = non_empty(from.latest_commit);
    let head_repo = from.repository.and_then(DcRepo::path);
    let repo = required(
        to.repository.and_then(DcRepo::path),
        "pullRequest.toRef.repository",
    )?;
    let mr = MrRef {
        repo: RepoRef {
            provider: ProviderKind::BitbucketDataCenter,
            path: repo,
        },
        number,
    };
    let author = pr
        .author
        .and_then(|a| a.user)
        .as_ref()
        .and_then(DcUser::actor);
    // `pr:deleted` still says OPEN: route on the key, not on the state.
    let state = match pr.state.as_deref() {
        Some("MERGED") => MrState::Merged,
        Some("DECLINED") => MrState::Closed,
        _ => MrState::Open,
    };

    if let Some(edited) = match key {
        "pr:comment:added" => Some(false),
        "pr:comment:edited" => Some(true),
        _ => None,
    } {
        let comment = required(p.comment, "comment")?;
        let id = required(comment.id, "comment.id")?;
        let text = required(comment.text, "comment.text")?;
        let author_of_comment = required(
            comment.author.as_ref().and_then(DcUser::actor),
            "comment.author.name",
        )?;
        let event = CommentEvent {
            mr,
            comment: CommentHandle {
                id,
                node_id: None,
                version: comment.version,
                url: None,
            },
            author: author_of_comment,
            command: parse_command(&text),
            body: text,
            edited,
            head_sha,
            base_branch: Some(base_branch),
            head_branch: Some(head_branch),
            mr_author: author,
            state: Some(state),
        };
        return Ok((sender, Event::Comment(event)));
    }

    let trigger = match key {
        "pr:opened" => Trigger::Opened,
        "pr:from_ref_updated" => Trigger::Pushed,
        "pr:modified" => match p.previous_target.as_ref().and_then(DcRef::branch) {
            Some(previous) if previous != base_branch => Trigger::BaseChanged,
            _ => Trigger::Other,
        },
        "pr:merged" => Trigger::Merged,
        _ => Trigger::Closed,
    };
    let event = MergeRequestEvent {
        mr,
        trigger,
        action: key.to_owned(),
        head_sha,
        before_sha: if trigger == Trigger::Pushed {
            non_empty(p.previous_from_hash)
        } else {
            None
        },
        base_branch,
        head_branch,
        head_repo,
        author,
        draft: pr.draft.unwrap_or(false),
        labels: Vec::new(),
        state,
    };
    Ok((sender, Event::MergeRequest(event)))
}
