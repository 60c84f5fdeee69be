//! The Gitea and Forgejo adapter (feature `gitea`): API v1, `Authorization: token <token>`.
//!
//! Forgejo speaks Gitea's API; the only difference thule makes is the [`ProviderKind`] it
//! reports (and so writes into its markers).
//!
//! - Comments are issue comments of the pull request
//!   (`/repos/{owner}/{repo}/issues/{index}/comments`). Gitea answers that list in one response
//!   (with `X-Total-Count`); the adapter still asks for pages and follows a `Link: rel="next"`
//!   (or an `X-Total-Count` larger than what it has read), so a server that pages is read to
//!   the end too.
//! - Gitea cannot hide a comment, so older plans are edited into a superseded stub with the
//!   old plan collapsed in `<details>` ([`SupersedeStyle::EditCollapsed`]).
//! - Gitea documents no comment size limit; [`DEFAULT_COMMENT_LIMIT`] keeps comments readable
//!   and portable, and [`Gitea::with_comment_limit`] changes it.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::{ErrorKind, Result, VcsError};
use crate::http::{Auth, Http, Method, Response, RetryPolicy, Secret};
use crate::model::{
    Actor, ChangedPath, Comment, CommentHandle, CommitStatus, MergeRequest, MrRef, MrState,
    Permission, ProviderKind, RepoRef, StatusState,
};
use crate::provider::{Capabilities, Provider, SupersedeStyle};

/// The comment size thule assumes for Gitea and Forgejo, which document none.
pub const DEFAULT_COMMENT_LIMIT: usize = 65_536;

/// The status description length thule keeps to. Gitea stores it as `TEXT`; this keeps it
/// one readable line in the pull request's checks.
pub const STATUS_DESCRIPTION_LIMIT: usize = 255;

/// The page size asked for: Gitea's default `MAX_RESPONSE_ITEMS` (a server may answer with
/// fewer, and says so in its `Link` header).
const PAGE_SIZE: usize = 50;

/// Pages read at most from one list, against a server that never says "last page".
const MAX_PAGES: usize = 10_000;

/// A Gitea or Forgejo server, for one repository.
///
/// The [`Provider`] methods act on the repository of the reference they are given; the
/// repository given to the constructor is the one [`Gitea::repo`] and [`Gitea::mr`] name.
#[derive(Debug)]
pub struct Gitea {
    http: Http,
    repo: RepoRef,
    comment_limit: usize,
}

impl Gitea {
    /// An adapter for `repo` (`owner/name`) on the API at `api_base`
    /// (`https://gitea.example.com/api/v1`), authenticating with `token`. `forgejo` makes it
    /// report [`ProviderKind::Forgejo`] instead of [`ProviderKind::Gitea`].
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(api_base: &str, repo: &str, token: Secret, forgejo: bool) -> Result<Self> {
        let kind = if forgejo {
            ProviderKind::Forgejo
        } else {
            ProviderKind::Gitea
        };
        Ok(Self {
            http: Http::new(kind, api_base, Auth::Token(token))?,
            repo: RepoRef {
                provider: kind,
                path: repo.trim_matches('/').to_owned(),
            },
            comment_limit: DEFAULT_COMMENT_LIMIT,
        })
    }

    /// Use these retry limits.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    /// Assume comments of at most `chars` characters (the server's own limit, if it has one).
    #[must_use]
    pub fn with_comment_limit(mut self, chars: usize) -> Self {
        self.comment_limit = chars;
        self
    }

    /// The repository given to the constructor.
    pub fn repo(&self) -> &RepoRef {
        &self.repo
    }

    /// Pull request `number` of that repository.
    pub fn mr(&self, number: u64) -> MrRef {
        MrRef {
            repo: self.repo.clone(),
            number,
        }
    }

    fn kind_(&self) -> ProviderKind {
        self.repo.provider
    }

    fn decode<T: DeserializeOwned>(&self, action: &str, what: &str, value: Value) -> Result<T> {
        serde_json::from_value(value).map_err(|e| {
            VcsError::new(
                self.kind_(),
                action,
                ErrorKind::Transport,
                format!("unexpected {what} in the answer: {e}"),
            )
        })
    }

    /// Every item of a paged list at `path`, reading pages until the server says there are
    /// no more.
    async fn get_all(&self, path: &str, action: &str) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        for page in 1..=MAX_PAGES {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = format!("{path}{sep}limit={PAGE_SIZE}&page={page}");
            let response = self.http.send(Method::Get, &url, None, action).await?;
            let more = has_more(&response, items.len());
            let Value::Array(values) = response.body else {
                return Err(VcsError::new(
                    self.kind_(),
                    action,
                    ErrorKind::Transport,
                    "expected a JSON array",
                ));
            };
            let empty = values.is_empty();
            items.extend(values);
            if !more || empty {
                return Ok(items);
            }
        }
        Err(VcsError::new(
            self.kind_(),
            action,
            ErrorKind::Transport,
            format!("the list did not end after {MAX_PAGES} pages"),
        ))
    }
}

/// Whether another page follows: a `Link: rel="next"`, or an `X-Total-Count` beyond the items
/// read so far and in this page.
fn has_more(response: &Response, read_before: usize) -> bool {
    if response.next_link().is_some() {
        return true;
    }
    let in_page = response.body.as_array().map_or(0, Vec::len);
    response
        .header("x-total-count")
        .and_then(|t| t.trim().parse::<usize>().ok())
        .is_some_and(|total| total > read_before + in_page)
}

/// `owner/name` as URL path segments.
fn repo_path(repo: &RepoRef) -> String {
    repo.path
        .split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// One URL path segment, percent-encoded except for unreserved characters.
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Gitea's word for a status state.
fn state_word(state: StatusState) -> &'static str {
    match state {
        StatusState::Pending => "pending",
        StatusState::Success => "success",
        StatusState::Failure => "failure",
        StatusState::Error => "error",
    }
}

/// The title prefixes Gitea treats as "work in progress" by default
/// (`[repository.pull-request] WORK_IN_PROGRESS_PREFIXES`), for servers without `draft`.
const WIP_PREFIXES: [&str; 2] = ["WIP:", "[WIP]"];

#[derive(Deserialize)]
struct User {
    login: String,
    #[serde(default)]
    id: Option<i64>,
}

impl User {
    fn actor(self) -> Actor {
        Actor {
            login: self.login,
            id: self.id.map(|id| id.to_string()),
        }
    }
}

#[derive(Deserialize)]
struct ApiComment {
    id: u64,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    user: Option<User>,
    #[serde(default)]
    body: String,
}

impl ApiComment {
    fn handle(&self) -> CommentHandle {
        CommentHandle {
            url: self.html_url.clone().filter(|u| !u.is_empty()),
            ..CommentHandle::id(self.id)
        }
    }
}

#[derive(Deserialize)]
struct RepoInfo {
    #[serde(default)]
    full_name: Option<String>,
}

#[derive(Deserialize)]
struct Branch {
    #[serde(rename = "ref")]
    branch: String,
    #[serde(default)]
    sha: Option<String>,
    #[serde(default)]
    repo_id: Option<i64>,
    #[serde(default)]
    repo: Option<RepoInfo>,
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

#[derive(Deserialize)]
struct PullRequest {
    head: Branch,
    base: Branch,
    #[serde(default)]
    merge_base: Option<String>,
    #[serde(default)]
    user: Option<User>,
    #[serde(default)]
    labels: Option<Vec<Label>>,
    #[serde(default)]
    draft: Option<bool>,
    #[serde(default)]
    title: String,
    state: String,
    #[serde(default)]
    merged: bool,
    #[serde(default)]
    html_url: Option<String>,
}

/// Whether the head branch lives in another repository: different repository ids when both
/// are known, else different names; a head repository that is gone was a fork.
fn is_fork(head: &Branch, base: &Branch) -> bool {
    match (head.repo_id, base.repo_id) {
        (Some(h), Some(b)) if h > 0 && b > 0 => h != b,
        _ => {
            let name = |b: &Branch| b.repo.as_ref().and_then(|r| r.full_name.clone());
            match (name(head), name(base)) {
                (Some(h), Some(b)) => !h.eq_ignore_ascii_case(&b),
                (None, Some(_)) => true,
                _ => false,
            }
        }
    }
}

#[derive(Deserialize)]
struct ChangedFile {
    filename: String,
    #[serde(default)]
    previous_filename: Option<String>,
    #[serde(default)]
    status: String,
}

#[async_trait::async_trait]
impl Provider for Gitea {
    fn kind(&self) -> ProviderKind {
        self.kind_()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_comment_chars: self.comment_limit,
            supersede: SupersedeStyle::EditCollapsed,
            max_status_description: STATUS_DESCRIPTION_LIMIT,
        }
    }

    async fn whoami(&self) -> Result<Actor> {
        let action = "asking who the token is";
        let r = self.http.send(Method::Get, "/user", None, action).await?;
        let user: User = self.decode(action, "user", r.body)?;
        Ok(user.actor())
    }

    async fn merge_request(&self, mr: &MrRef) -> Result<MergeRequest> {
        let action = format!("reading pull request {mr}");
        let path = format!("/repos/{}/pulls/{}", repo_path(&mr.repo), mr.number);
        let r = self.http.send(Method::Get, &path, None, &action).await?;
        let pr: PullRequest = self.decode(&action, "pull request", r.body)?;
        let head_sha = pr
            .head
            .sha
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                VcsError::new(
                    self.kind_(),
                    &action,
                    ErrorKind::Transport,
                    "the pull request has no head.sha",
                )
            })?;
        let base_sha = pr
            .base
            .sha
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| pr.merge_base.clone().filter(|s| !s.is_empty()));
        let draft = pr.draft.unwrap_or_else(|| {
            let title = pr.title.trim_start().to_ascii_uppercase();
            WIP_PREFIXES.iter().any(|p| title.starts_with(p))
        });
        let state = if pr.merged {
            MrState::Merged
        } else if pr.state.eq_ignore_ascii_case("open") {
            MrState::Open
        } else {
            MrState::Closed
        };
        Ok(MergeRequest {
            mr: mr.clone(),
            from_fork: is_fork(&pr.head, &pr.base),
            head_sha,
            base_sha,
            head_branch: pr.head.branch,
            base_branch: pr.base.branch,
            author: pr.user.map(User::actor).unwrap_or_default(),
            labels: pr
                .labels
                .unwrap_or_default()
                .into_iter()
                .map(|l| l.name)
                .collect(),
            draft,
            state,
            web_url: pr.html_url.filter(|u| !u.is_empty()),
        })
    }

    async fn changed_paths(&self, mr: &MrRef) -> Result<Vec<ChangedPath>> {
        let action = format!("listing the files of pull request {mr}");
        let path = format!("/repos/{}/pulls/{}/files", repo_path(&mr.repo), mr.number);
        let mut out = Vec::new();
        for item in self.get_all(&path, &action).await? {
            let file: ChangedFile = self.decode(&action, "changed file", item)?;
            let previous = file
                .previous_filename
                .filter(|p| file.status == "renamed" && !p.is_empty() && *p != file.filename);
            out.push(ChangedPath {
                path: file.filename,
                previous,
            });
        }
        Ok(out)
    }

    async fn list_comments(&self, mr: &MrRef) -> Result<Vec<Comment>> {
        let action = format!("listing the comments of pull request {mr}");
        let path = format!(
            "/repos/{}/issues/{}/comments",
            repo_path(&mr.repo),
            mr.number
        );
        let mut comments: Vec<Comment> = Vec::new();
        for item in self.get_all(&path, &action).await? {
            let c: ApiComment = self.decode(&action, "comment", item)?;
            comments.push(Comment {
                handle: c.handle(),
                author: c.user.map(User::actor).unwrap_or_default(),
                body: c.body,
                minimized: false,
            });
        }
        // Oldest first (ids grow with time); a server that ignored `page` repeats nothing.
        comments.sort_by_key(|c| c.handle.id);
        comments.dedup_by_key(|c| c.handle.id);
        Ok(comments)
    }

    async fn create_comment(&self, mr: &MrRef, body: &str) -> Result<CommentHandle> {
        let action = format!("commenting on pull request {mr}");
        let path = format!(
            "/repos/{}/issues/{}/comments",
            repo_path(&mr.repo),
            mr.number
        );
        let payload = json!({ "body": body });
        let r = self
            .http
            .send(Method::Post, &path, Some(&payload), &action)
            .await?;
        let c: ApiComment = self.decode(&action, "comment", r.body)?;
        Ok(c.handle())
    }

    async fn update_comment(
        &self,
        mr: &MrRef,
        comment: &CommentHandle,
        body: &str,
    ) -> Result<CommentHandle> {
        let action = format!("editing comment {} on pull request {mr}", comment.id);
        let path = format!(
            "/repos/{}/issues/comments/{}",
            repo_path(&mr.repo),
            comment.id
        );
        let payload = json!({ "body": body });
        let r = self
            .http
            .send(Method::Patch, &path, Some(&payload), &action)
            .await?;
        // 200 with the comment; a 204 (nothing to edit) keeps the handle as it was.
        if r.body.is_null() {
            return Ok(comment.clone());
        }
        let c: ApiComment = self.decode(&action, "comment", r.body)?;
        let mut handle = c.handle();
        if handle.url.is_none() {
            handle.url.clone_from(&comment.url);
        }
        Ok(handle)
    }

    async fn delete_comment(&self, mr: &MrRef, comment: &CommentHandle) -> Result<()> {
        let action = format!("deleting comment {} on pull request {mr}", comment.id);
        let path = format!(
            "/repos/{}/issues/comments/{}",
            repo_path(&mr.repo),
            comment.id
        );
        self.http
            .send(Method::Delete, &path, None, &action)
            .await
            .map(drop)
    }

    async fn permission(&self, repo: &RepoRef, user: &Actor) -> Result<Permission> {
        let action = format!("reading the permission of {} on {}", user.login, repo.path);
        let path = format!(
            "/repos/{}/collaborators/{}/permission",
            repo_path(repo),
            encode_segment(&user.login)
        );
        let response = match self.http.send(Method::Get, &path, None, &action).await {
            Ok(r) => r,
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(Permission::None),
            Err(e) => return Err(e),
        };
        Ok(
            match response.body["permission"].as_str().unwrap_or("none") {
                "owner" | "admin" => Permission::Admin,
                "write" => Permission::Write,
                "read" => Permission::Read,
                _ => Permission::None,
            },
        )
    }

    async fn set_status(&self, repo: &RepoRef, sha: &str, status: &CommitStatus) -> Result<()> {
        let action = format!("setting status {} on {}", status.context, short(sha));
        let path = format!(
            "/repos/{}/statuses/{}",
            repo_path(repo),
            encode_segment(sha)
        );
        let mut payload = json!({
            "state": state_word(status.state),
            "context": status.context,
            "description": status.description,
        });
        if let Some(url) = &status.target_url {
            payload["target_url"] = json!(url);
        }
        self.http
            .send_idempotent(Method::Post, &path, Some(&payload), &action)
            .await
            .map(drop)
    }
}

/// The first 12 characters of a SHA, for messages.
fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_and_states_mapped() {
        assert_eq!(encode_segment("my repo/x"), "my%20repo%2Fx");
        assert_eq!(encode_segment("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(state_word(StatusState::Failure), "failure");
        assert_eq!(state_word(StatusState::Error), "error");
    }

    #[test]
    fn the_token_does_not_show_in_debug() {
        let g = Gitea::new(
            "https://gitea.example.com/api/v1",
            "o/r",
            Secret::new("gitea-secret-token"),
            false,
        )
        .unwrap();
        assert!(!format!("{g:?}").contains("gitea-secret-token"));
    }
}
