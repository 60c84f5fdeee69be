//! The merge-request vocabulary shared by every provider: which forge, which repository and
//! merge request, who wrote a comment, what a commit status says.

use std::fmt;

/// A forge thule talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProviderKind {
    /// GitLab (gitlab.com or self-managed), API v4.
    GitLab,
    /// GitHub (github.com or Enterprise Server).
    GitHub,
    /// Gitea, API v1.
    Gitea,
    /// Forgejo (Gitea's API).
    Forgejo,
    /// Bitbucket Cloud, API 2.0.
    BitbucketCloud,
    /// Bitbucket Data Center / Server, REST 1.0.
    BitbucketDataCenter,
}

impl ProviderKind {
    /// The lowercase name used in markers, flags and messages (`gitlab`, `bitbucket-cloud`).
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::GitLab => "gitlab",
            ProviderKind::GitHub => "github",
            ProviderKind::Gitea => "gitea",
            ProviderKind::Forgejo => "forgejo",
            ProviderKind::BitbucketCloud => "bitbucket-cloud",
            ProviderKind::BitbucketDataCenter => "bitbucket-dc",
        }
    }

    /// The kind named `name` (as [`ProviderKind::name`] prints it; `bitbucket` is Cloud).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "gitlab" => ProviderKind::GitLab,
            "github" => ProviderKind::GitHub,
            "gitea" => ProviderKind::Gitea,
            "forgejo" => ProviderKind::Forgejo,
            "bitbucket" | "bitbucket-cloud" => ProviderKind::BitbucketCloud,
            "bitbucket-dc" | "bitbucket-server" | "bitbucket-datacenter" => {
                ProviderKind::BitbucketDataCenter
            }
            _ => return None,
        })
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A repository on a forge.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RepoRef {
    /// The forge.
    pub provider: ProviderKind,
    /// The repository as the forge's API names it: `group/sub/proj` or a numeric GitLab
    /// project id, `owner/repo`, `workspace/repo`, `PROJECT/slug`.
    pub path: String,
}

/// A merge request (GitLab iid, GitHub/Gitea pull number, Bitbucket pull-request id).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MrRef {
    /// Its repository.
    pub repo: RepoRef,
    /// Its number within the repository.
    pub number: u64,
}

impl fmt::Display for MrRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sigil = if self.repo.provider == ProviderKind::GitLab {
            '!'
        } else {
            '#'
        };
        write!(f, "{}{sigil}{}", self.repo.path, self.number)
    }
}

/// A user or bot account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Actor {
    /// Login / username (`thule-bot`, `github-actions[bot]`).
    pub login: String,
    /// The forge's stable id, when it gives one.
    pub id: Option<String>,
}

impl Actor {
    /// An actor known by login only.
    pub fn login(login: &str) -> Self {
        Self {
            login: login.to_owned(),
            id: None,
        }
    }

    /// Whether `other` is the same account: same id when both have one, else same login.
    pub fn same_as(&self, other: &Actor) -> bool {
        match (&self.id, &other.id) {
            (Some(a), Some(b)) => a == b,
            _ => self.login.eq_ignore_ascii_case(&other.login),
        }
    }
}

/// A comment's identity on its forge.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommentHandle {
    /// The REST id.
    pub id: u64,
    /// GitHub's GraphQL node id (for minimizing), when known.
    pub node_id: Option<String>,
    /// Bitbucket Data Center's version (edits and deletes must name it).
    pub version: Option<u64>,
    /// A link to the comment, when the forge gives one.
    pub url: Option<String>,
}

impl CommentHandle {
    /// A handle with only the REST id.
    pub fn id(id: u64) -> Self {
        Self {
            id,
            node_id: None,
            version: None,
            url: None,
        }
    }
}

/// A comment on a merge request, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// Its identity.
    pub handle: CommentHandle,
    /// Who wrote it.
    pub author: Actor,
    /// Its body.
    pub body: String,
    /// Whether the forge shows it minimized (GitHub), when known.
    pub minimized: bool,
}

/// A merge request, as read from its forge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeRequest {
    /// Which one.
    pub mr: MrRef,
    /// The head commit (full SHA).
    pub head_sha: String,
    /// The base commit the forge diffs against (full SHA), when it says.
    pub base_sha: Option<String>,
    /// The source branch.
    pub head_branch: String,
    /// The target branch.
    pub base_branch: String,
    /// Who opened it.
    pub author: Actor,
    /// Its labels.
    pub labels: Vec<String>,
    /// Draft / work in progress.
    pub draft: bool,
    /// Whether the source branch lives in another repository (a fork).
    pub from_fork: bool,
    /// Open, closed or merged.
    pub state: MrState,
    /// A link to the merge request.
    pub web_url: Option<String>,
}

/// Where a merge request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MrState {
    /// Open.
    Open,
    /// Closed without merging.
    Closed,
    /// Merged.
    Merged,
}

/// One changed path of a merge request.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChangedPath {
    /// The path at head (for a deletion: the deleted path).
    pub path: String,
    /// The path at base, for a rename.
    pub previous: Option<String>,
}

/// The state of a commit status, in thule's terms; each provider maps it to its own words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusState {
    /// Planning has not finished.
    Pending,
    /// Planned; nothing blocks the merge.
    Success,
    /// Planned; a blocker risk or a denying policy.
    Failure,
    /// Could not plan (a project failed to render or read, or thule failed).
    Error,
}

/// A commit status on the merge request's head commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitStatus {
    /// The status's name (`thule/plan`).
    pub context: String,
    /// Its state.
    pub state: StatusState,
    /// One line; providers cut it to their limit.
    pub description: String,
    /// A link (the plan comment), if any.
    pub target_url: Option<String>,
}

/// What a user may do in a repository, as far as thule's comment commands care.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// No access.
    None,
    /// Read (GitHub read/triage, GitLab guest/reporter).
    Read,
    /// Write (GitHub write/maintain, GitLab developer/maintainer, Gitea write).
    Write,
    /// Administration (GitHub admin, GitLab owner, Gitea admin/owner).
    Admin,
}
