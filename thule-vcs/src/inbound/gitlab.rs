//! GitLab's `Merge Request Hook` and `Note Hook` payloads.

use serde::Deserialize;
use serde_json::Value;

use crate::inbound::command::parse_command;
use crate::inbound::detect::Delivery;
use crate::inbound::event::{CommentEvent, Event, MergeRequestEvent, Trigger};
use crate::inbound::parse::{ParseError, actor, decode, id_text, ignored, non_empty, required};
use crate::model::{Actor, CommentHandle, MrRef, MrState, ProviderKind, RepoRef};

#[derive(Deserialize)]
struct User {
    username: Option<String>,
    id: Option<Value>,
}

impl User {
    fn actor(&self) -> Option<Actor> {
        actor(&[self.username.as_ref()], id_text(self.id.as_ref()))
    }
}

#[derive(Deserialize)]
struct Project {
    path_with_namespace: Option<String>,
}

#[derive(Deserialize)]
struct Commit {
    id: Option<String>,
}

#[derive(Deserialize)]
struct Label {
    title: Option<String>,
}

#[derive(Deserialize)]
struct MrAttributes {
    iid: Option<u64>,
    action: Option<String>,
    state: Option<String>,
    draft: Option<bool>,
    work_in_progress: Option<bool>,
    source_branch: Option<String>,
    target_branch: Option<String>,
    last_commit: Option<Commit>,
    oldrev: Option<String>,
    labels: Option<Vec<Label>>,
    source: Option<Project>,
}

#[derive(Deserialize)]
struct MrPayload {
    user: Option<User>,
    project: Option<Project>,
    object_attributes: Option<MrAttributes>,
    labels: Option<Vec<Label>>,
    changes: Option<Value>,
}

#[derive(Deserialize)]
struct NoteAttributes {
    id: Option<u64>,
    note: Option<String>,
    noteable_type: Option<String>,
    action: Option<String>,
    system: Option<bool>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct NoteMr {
    iid: Option<u64>,
    state: Option<String>,
    source_branch: Option<String>,
    target_branch: Option<String>,
    last_commit: Option<Commit>,
}

#[derive(Deserialize)]
struct NotePayload {
    user: Option<User>,
    project: Option<Project>,
    object_attributes: Option<NoteAttributes>,
    merge_request: Option<NoteMr>,
}

pub(crate) fn normalize(
    delivery: &Delivery,
    body: &[u8],
) -> Result<(Option<Actor>, Event), ParseError> {
    match delivery.event.as_str() {
        "Merge Request Hook" => merge_request(body),
        "Note Hook" => note(body),
        other => {
            let sender = ignored::<User>(body, "user")?.and_then(|u| u.actor());
            let reason = format!("unsupported event `{other}`");
            Ok((sender, Event::Ignored { reason }))
        }
    }
}

fn state(word: Option<&str>) -> MrState {
    match word {
        Some("merged") => MrState::Merged,
        Some("closed") => MrState::Closed,
        // `opened`, `locked` (discussion locked, still open), absent.
        _ => MrState::Open,
    }
}

/// A title GitLab shows as a draft (`Draft:`, `[Draft]`, `(Draft)`, legacy `WIP:`/`[WIP]`).
fn draft_title(title: &str) -> bool {
    let t = title.trim_start().to_ascii_lowercase();
    ["draft:", "[draft]", "(draft)", "wip:", "[wip]"]
        .iter()
        .any(|p| t.starts_with(p))
}

/// `changes.<name>` as `(previous, current)`.
fn change<'a>(changes: Option<&'a Value>, name: &str) -> Option<(&'a Value, &'a Value)> {
    let c = changes?.get(name)?;
    Some((
        c.get("previous").unwrap_or(&Value::Null),
        c.get("current").unwrap_or(&Value::Null),
    ))
}

/// Whether `changes` says the merge request left draft: `draft`/`work_in_progress` went
/// from true to false, or the title lost its draft prefix (GitLab ~16 sends only that).
fn became_ready(changes: Option<&Value>) -> bool {
    let flag = |name| {
        change(changes, name)
            .is_some_and(|(p, c)| p.as_bool() == Some(true) && c.as_bool() == Some(false))
    };
    let title = change(changes, "title").is_some_and(|(p, c)| {
        p.as_str().is_some_and(draft_title) && c.as_str().is_some_and(|c| !draft_title(c))
    });
    flag("draft") || flag("work_in_progress") || title
}

fn merge_request(body: &[u8]) -> Result<(Option<Actor>, Event), ParseError> {
    let p: MrPayload = decode(body)?;
    let sender = p.user.as_ref().and_then(User::actor);
    let repo = required(
        p.project.and_then(|p| non_empty(p.path_with_namespace)),
        "project.path_with_namespace",
    )?;
    let oa = required(p.object_attributes, "object_attributes")?;
    let number = required(oa.iid, "object_attributes.iid")?;
    let head_branch = required(
        non_empty(oa.source_branch),
        "object_attributes.source_branch",
    )?;
    let base_branch = required(
        non_empty(oa.target_branch),
        "object_attributes.target_branch",
    )?;
    let action = oa.action.unwrap_or_default();
    let head_sha = non_empty(oa.last_commit.and_then(|c| c.id));
    let oldrev = non_empty(oa.oldrev);
    let changes = p.changes.as_ref();

    let pushed = oldrev.is_some() && oldrev != head_sha;
    let trigger = match action.as_str() {
        "open" => Trigger::Opened,
        "reopen" => Trigger::Reopened,
        "close" => Trigger::Closed,
        "merge" => Trigger::Merged,
        "update" if pushed => Trigger::Pushed,
        "update" if became_ready(changes) => Trigger::ReadyForReview,
        "update" if change(changes, "target_branch").is_some() => Trigger::BaseChanged,
        "update" if change(changes, "labels").is_some() => Trigger::LabelsChanged,
        // Metadata-only updates, approvals, and actions GitLab adds over time.
        _ => Trigger::Other,
    };
    let labels = p
        .labels
        .or(oa.labels)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|l| non_empty(l.title))
        .collect();
    let event = MergeRequestEvent {
        mr: MrRef {
            repo: RepoRef {
                provider: ProviderKind::GitLab,
                path: repo,
            },
            number,
        },
        trigger,
        action,
        head_sha,
        before_sha: if trigger == Trigger::Pushed {
            oldrev
        } else {
            None
        },
        base_branch,
        head_branch,
        head_repo: oa.source.and_then(|s| non_empty(s.path_with_namespace)),
        // The hook gives only `author_id`; the login comes from the API.
        author: None,
        draft: oa.draft.or(oa.work_in_progress).unwrap_or(false),
        labels,
        state: state(oa.state.as_deref()),
    };
    Ok((sender, Event::MergeRequest(event)))
}

fn note(body: &[u8]) -> Result<(Option<Actor>, Event), ParseError> {
    let p: NotePayload = decode(body)?;
    let sender = p.user.as_ref().and_then(User::actor);
    let oa = required(p.object_attributes, "object_attributes")?;
    let noteable = oa.noteable_type.as_deref().unwrap_or("unknown object");
    if noteable != "MergeRequest" {
        let reason = format!("note on a {noteable}, not a merge request");
        return Ok((sender, Event::Ignored { reason }));
    }
    if oa.system == Some(true) {
        let reason = "system note".to_owned();
        return Ok((sender, Event::Ignored { reason }));
    }
    // No `action` before GitLab 16.11: read it as `create`.
    let edited = match oa.action.as_deref() {
        None | Some("create") => false,
        Some("update") => true,
        Some(other) => {
            let reason = format!("note action `{other}`");
            return Ok((sender, Event::Ignored { reason }));
        }
    };
    let repo = required(
        p.project.and_then(|p| non_empty(p.path_with_namespace)),
        "project.path_with_namespace",
    )?;
    let mr = required(p.merge_request, "merge_request")?;
    let number = required(mr.iid, "merge_request.iid")?;
    let id = required(oa.id, "object_attributes.id")?;
    let text = required(oa.note, "object_attributes.note")?;
    let author = required(sender.clone(), "user.username")?;
    let event = CommentEvent {
        mr: MrRef {
            repo: RepoRef {
                provider: ProviderKind::GitLab,
                path: repo,
            },
            number,
        },
        comment: CommentHandle {
            id,
            node_id: None,
            version: None,
            url: non_empty(oa.url),
        },
        author,
        command: parse_command(&text),
        body: text,
        edited,
        head_sha: non_empty(mr.last_commit.and_then(|c| c.id)),
        base_branch: non_empty(mr.target_branch),
        head_branch: non_empty(mr.source_branch),
        mr_author: None,
        state: mr.state.as_deref().map(|s| state(Some(s))),
    };
    Ok((sender, Event::Comment(event)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draft_titles() {
        for t in [
            "Draft: x",
            "draft: x",
            "[Draft] x",
            "(Draft) x",
            "WIP: x",
            "[WIP] x",
        ] {
            assert!(draft_title(t), "{t}");
        }
        for t in ["Drafting x", "x Draft:", "Update README"] {
            assert!(!draft_title(t), "{t}");
        }
    }

    #[test]
    fn ready_needs_a_true_to_false_change() {
        let c = serde_json::json!({"draft": {"previous": true, "current": false}});
        assert!(became_ready(Some(&c)));
        let c = serde_json::json!({"draft": {"previous": false, "current": true}});
        assert!(!became_ready(Some(&c)));
        let c = serde_json::json!({"title": {"previous": "Draft: a", "current": "a"}});
        assert!(became_ready(Some(&c)));
        let c = serde_json::json!({"title": {"previous": "a", "current": "Draft: a"}});
        assert!(!became_ready(Some(&c)));
        let c = serde_json::json!([]);
        assert!(!became_ready(Some(&c)));
        assert!(!became_ready(None));
    }
}
