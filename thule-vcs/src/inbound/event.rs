//! The normalized event: one shape for every forge's merge-request and comment webhooks.

use crate::inbound::command::Invocation;
use crate::inbound::detect::Delivery;
use crate::model::{Actor, CommentHandle, MrRef, MrState};

/// A delivery, authenticated and normalized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inbound {
    /// Forge, event and delivery ids, from the headers.
    pub delivery: Delivery,
    /// Who caused the event (GitHub/Gitea `sender`, GitLab `user`, Bitbucket `actor`),
    /// when the payload says.
    pub sender: Option<Actor>,
    /// What happened.
    pub event: Event,
}

impl Inbound {
    /// What thule does with it: plan, run a command, or ignore (answering 2xx all the same).
    pub fn kind(&self) -> EventKind {
        self.event.kind()
    }
}

/// What happened, in thule's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Something happened to a merge request itself.
    MergeRequest(MergeRequestEvent),
    /// A comment on a merge request was written or edited.
    Comment(CommentEvent),
    /// The forge checks the hook (GitHub/Gitea `ping`, Bitbucket DC `diagnostics:ping`).
    Ping,
    /// Nothing for thule: another event type, a comment not on a merge request, a system
    /// note, a deleted comment.
    Ignored {
        /// Why, for the log.
        reason: String,
    },
}

impl Event {
    /// What thule does with it.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::MergeRequest(mr) => {
                if mr.trigger.plans() {
                    EventKind::Plan
                } else {
                    EventKind::Ignore
                }
            }
            Event::Comment(c) if c.command.is_some() && !c.edited => EventKind::Command,
            Event::Comment(_) | Event::Ping | Event::Ignored { .. } => EventKind::Ignore,
        }
    }
}

/// The three things thule does with a delivery (the `kind` of the webhook case corpus).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Plan the merge request.
    Plan,
    /// Answer a comment command.
    Command,
    /// Nothing (still a 2xx answer: GitLab disables hooks that get 4xx).
    Ignore,
}

impl EventKind {
    /// `plan`, `command` or `ignore`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Plan => "plan",
            EventKind::Command => "command",
            EventKind::Ignore => "ignore",
        }
    }
}

/// Why a merge-request event fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// Opened (GitHub `opened`, GitLab `open`, Bitbucket `pullrequest:created`/`pr:opened`).
    Opened,
    /// New commits on the source branch (GitHub `synchronize`, Gitea `synchronized`, GitLab
    /// `update` with `oldrev`, Bitbucket DC `pr:from_ref_updated`).
    ///
    /// Bitbucket Cloud's `pullrequest:updated` fires for pushes and for title/description
    /// edits alike and says nothing about which; it is reported as `Pushed`, and
    /// [`crate::inbound::SeenHeads`] turns it into [`Trigger::Other`] when the source
    /// commit did not change since the last delivery for that merge request.
    Pushed,
    /// Reopened.
    Reopened,
    /// Marked ready for review (was a draft).
    ReadyForReview,
    /// The target branch changed.
    BaseChanged,
    /// Labels were added or removed (thule plans on it only when label-gated).
    LabelsChanged,
    /// Closed without merging (Bitbucket: declined or deleted).
    Closed,
    /// Merged.
    Merged,
    /// Anything else: a metadata edit (title, description, assignees, reviewers,
    /// milestone), an approval, converted to draft, an action thule does not know.
    Other,
}

impl Trigger {
    /// Whether this trigger asks for a plan.
    pub fn plans(self) -> bool {
        matches!(
            self,
            Trigger::Opened
                | Trigger::Pushed
                | Trigger::Reopened
                | Trigger::ReadyForReview
                | Trigger::BaseChanged
        )
    }
}

/// A merge-request event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeRequestEvent {
    /// Which merge request (the target repository and its number / GitLab iid).
    pub mr: MrRef,
    /// Why it fired.
    pub trigger: Trigger,
    /// The forge's own word for it (`synchronize`, `update`, `pr:from_ref_updated`), for logs.
    pub action: String,
    /// The head commit as the payload gives it. Full SHAs everywhere except Bitbucket Cloud,
    /// whose webhooks carry a 12-character abbreviated hash: it is reported as given, and the
    /// service resolves it through the API before using it as a key. A hint in any case:
    /// the service re-reads the live merge request before planning.
    pub head_sha: Option<String>,
    /// The previous head on a push, when the forge says (GitHub `before`, GitLab `oldrev`,
    /// Bitbucket DC `previousFromHash`).
    pub before_sha: Option<String>,
    /// The target branch.
    pub base_branch: String,
    /// The source branch.
    pub head_branch: String,
    /// The source repository (`owner/repo`, `group/sub/proj`, `PROJECT/slug`), when the
    /// payload names it; different from `mr.repo` for a fork.
    pub head_repo: Option<String>,
    /// Who opened it, when the payload names them (GitLab's merge-request hook gives only
    /// an `author_id`, so it is `None` there).
    pub author: Option<Actor>,
    /// Draft / work in progress.
    pub draft: bool,
    /// Its current labels (Bitbucket has none).
    pub labels: Vec<String>,
    /// Open, closed or merged, as the payload says.
    pub state: MrState,
}

/// A comment on a merge request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommentEvent {
    /// The merge request commented on.
    pub mr: MrRef,
    /// The comment's identity (Bitbucket DC: with its `version`).
    pub comment: CommentHandle,
    /// Who wrote the comment (check it is not thule itself before acting).
    pub author: Actor,
    /// The comment text as written.
    pub body: String,
    /// The command in it, if any.
    pub command: Option<Invocation>,
    /// An edit of an earlier comment rather than a new one (thule acts on new ones only).
    pub edited: bool,
    /// The merge request's head at comment time, when the payload carries it (GitLab,
    /// Bitbucket; abbreviated on Bitbucket Cloud). GitHub and Gitea comments carry none.
    pub head_sha: Option<String>,
    /// The target branch, when the payload carries it.
    pub base_branch: Option<String>,
    /// The source branch, when the payload carries it.
    pub head_branch: Option<String>,
    /// Who opened the merge request, when the payload names them.
    pub mr_author: Option<Actor>,
    /// The merge request's state, when the payload says.
    pub state: Option<MrState>,
}
