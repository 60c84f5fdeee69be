//! Bitbucket Data Center / Server, REST 1.0 (`/rest/api/1.0`, `/rest/build-status/1.0`).
//!
//! - There is no "who am I" resource: every authenticated answer names its user in the
//!   `X-AUSERNAME` (and `X-AUSERID`) headers, so [`Provider::whoami`] reads the repository
//!   and takes the user from those headers.
//! - A pull request's top-level comments are read from its activities (paged with `start`,
//!   `isLastPage`, `nextPageStart`; newest first, returned oldest first).
//! - Edits and deletions name the comment's `version` ([`CommentHandle::version`]); a 409
//!   (someone else edited it) re-reads the comment and tries once more with its version.
//! - Comments hold at most [`BITBUCKET_DC_COMMENT_LIMIT`] characters.
//! - A build status needs a `url`: the status's target, else the pull request's link (known
//!   once [`Provider::merge_request`] has read it), else the commit's page.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    MAX_PAGES, STATUS_DESCRIPTION_LIMIT, decode, encode_segment, short, state_word, unexpected,
};
use crate::BITBUCKET_DC_COMMENT_LIMIT;
use crate::error::{ErrorKind, Result};
use crate::http::{Auth, Http, Method, Response, RetryPolicy, Secret};
use crate::model::{
    Actor, ChangedPath, Comment, CommentHandle, CommitStatus, MergeRequest, MrRef, MrState,
    ProviderKind, RepoRef,
};
use crate::provider::{Capabilities, Provider, SupersedeStyle};

const KIND: ProviderKind = ProviderKind::BitbucketDataCenter;

/// The page size asked for (the server applies its own cap and says so).
const PAGE_LIMIT: usize = 100;

/// The longest build-status key Data Center accepts, in characters.
const KEY_LIMIT: usize = 255;

/// Bitbucket asks writes to opt out of its XSRF check.
const NO_XSRF: (&str, &str) = ("X-Atlassian-Token", "no-check");

/// How thule authenticates to Bitbucket Data Center.
#[derive(Clone, Debug)]
pub enum DataCenterAuth {
    /// A personal, project or repository HTTP access token (`Authorization: Bearer`).
    AccessToken(Secret),
    /// A user name and password (HTTP Basic).
    Password {
        /// The user name.
        user: String,
        /// The password.
        password: Secret,
    },
}

/// Bitbucket Data Center (or Server), for one repository.
///
/// The [`Provider`] methods act on the repository of the reference they are given
/// (`PROJECT/slug`, or `~USER/slug` for a personal repository); the repository given to the
/// constructor is the one [`BitbucketDataCenter::repo`] and [`BitbucketDataCenter::mr`]
/// name, and the one [`Provider::whoami`] reads.
#[derive(Debug)]
pub struct BitbucketDataCenter {
    http: Http,
    repo: RepoRef,
    comment_limit: usize,
    /// Pull-request links by head SHA, from [`Provider::merge_request`], for status URLs.
    pr_links: Mutex<HashMap<String, String>>,
}

impl BitbucketDataCenter {
    /// An adapter for `repo` (`PROJECT/slug`) on the server at `server`
    /// (`https://bitbucket.example.com`, without `/rest`: thule uses two of its REST APIs).
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(server: &str, repo: &str, auth: DataCenterAuth) -> Result<Self> {
        let auth = match auth {
            DataCenterAuth::AccessToken(token) => Auth::Bearer(token),
            DataCenterAuth::Password { user, password } => Auth::Basic { user, password },
        };
        Ok(Self {
            http: Http::new(KIND, server, auth)?,
            repo: RepoRef {
                provider: KIND,
                path: repo.trim_matches('/').to_owned(),
            },
            comment_limit: BITBUCKET_DC_COMMENT_LIMIT,
            pr_links: Mutex::default(),
        })
    }

    /// Use these retry limits.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    /// Assume comments of at most `chars` characters (a server configured below the
    /// default).
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

    /// `/projects/{key}/repos/{slug}` of `repo`.
    fn repo_part(repo: &RepoRef, action: &str) -> Result<String> {
        match repo.path.split('/').collect::<Vec<_>>().as_slice() {
            [project, slug] if !project.is_empty() && !slug.is_empty() => Ok(format!(
                "/projects/{}/repos/{}",
                encode_segment(project),
                encode_segment(slug)
            )),
            _ => Err(unexpected(
                KIND,
                action,
                format!(
                    "a Data Center repository is PROJECT/slug, not {:?}",
                    repo.path
                ),
            )),
        }
    }

    fn pr_path(mr: &MrRef, action: &str) -> Result<String> {
        Ok(format!(
            "/rest/api/1.0{}/pull-requests/{}",
            Self::repo_part(&mr.repo, action)?,
            mr.number
        ))
    }

    /// The web link of a comment.
    fn comment_url(&self, mr: &MrRef, id: u64) -> Option<String> {
        let repo = Self::repo_part(&mr.repo, "").ok()?;
        Some(format!(
            "{}{repo}/pull-requests/{}/overview?commentId={id}",
            self.http.base(),
            mr.number
        ))
    }

    fn handle(&self, mr: &MrRef, c: &ApiComment) -> CommentHandle {
        CommentHandle {
            version: Some(c.version),
            url: self.comment_url(mr, c.id),
            ..CommentHandle::id(c.id)
        }
    }

    /// Every item of a paged list at `path` (`start`, `isLastPage`, `nextPageStart`).
    async fn get_all(&self, path: &str, action: &str) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut start = 0u64;
        let mut seen = HashSet::new();
        for _ in 0..MAX_PAGES {
            let url = format!("{path}?start={start}&limit={PAGE_LIMIT}");
            let mut r = self.http.send(Method::Get, &url, None, action).await?;
            let Value::Array(values) = r.body["values"].take() else {
                return Err(unexpected(KIND, action, "the page has no `values` array"));
            };
            items.extend(values);
            if r.body["isLastPage"].as_bool().unwrap_or(true) {
                return Ok(items);
            }
            let Some(next) = r.body["nextPageStart"].as_u64() else {
                return Err(unexpected(
                    KIND,
                    action,
                    "a page that is not the last has no `nextPageStart`",
                ));
            };
            if !seen.insert(next) {
                return Err(unexpected(KIND, action, "the next page repeats a page"));
            }
            start = next;
        }
        Err(unexpected(
            KIND,
            action,
            format!("the list did not end after {MAX_PAGES} pages"),
        ))
    }

    /// A comment as it is now (for its current version).
    async fn read_comment(&self, mr: &MrRef, id: u64, action: &str) -> Result<ApiComment> {
        let path = format!("{}/comments/{id}", Self::pr_path(mr, action)?);
        let r = self.http.send(Method::Get, &path, None, action).await?;
        decode(KIND, action, "comment", r.body)
    }

    /// Send a versioned write (`make` builds the path and body for a version); on a 409
    /// (stale version) read the comment's version and try once more.
    async fn versioned(
        &self,
        mr: &MrRef,
        comment: &CommentHandle,
        method: Method,
        action: &str,
        make: impl Fn(u64) -> (String, Option<Value>),
    ) -> Result<Response> {
        let version = match comment.version {
            Some(v) => v,
            None => self.read_comment(mr, comment.id, action).await?.version,
        };
        let send = |version: u64| {
            let (path, body) = make(version);
            async move {
                self.http
                    .send_with(method, &path, body.as_ref(), action, &[NO_XSRF], true)
                    .await
            }
        };
        match send(version).await {
            Err(e) if e.kind == (ErrorKind::Rejected { status: 409 }) => {
                let current = self.read_comment(mr, comment.id, action).await?.version;
                send(current).await
            }
            other => other,
        }
    }
}

#[derive(Deserialize)]
struct User {
    name: String,
    #[serde(default)]
    id: Option<u64>,
}

impl User {
    fn actor(self) -> Actor {
        Actor {
            login: self.name,
            id: self.id.map(|id| id.to_string()),
        }
    }
}

#[derive(Deserialize)]
struct ApiComment {
    id: u64,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    text: String,
    #[serde(default)]
    author: Option<User>,
}

#[derive(Deserialize)]
struct Activity {
    #[serde(default)]
    action: String,
    #[serde(default, rename = "commentAction")]
    comment_action: Option<String>,
    #[serde(default)]
    comment: Option<ApiComment>,
}

#[derive(Deserialize)]
struct Project {
    key: String,
}

#[derive(Deserialize)]
struct Repository {
    slug: String,
    project: Project,
}

#[derive(Deserialize)]
struct Ref {
    #[serde(rename = "displayId")]
    display_id: String,
    #[serde(rename = "latestCommit")]
    latest_commit: String,
    #[serde(default)]
    repository: Option<Repository>,
}

impl Ref {
    fn repo_key(&self) -> Option<(String, String)> {
        self.repository.as_ref().map(|r| {
            (
                r.project.key.to_ascii_uppercase(),
                r.slug.to_ascii_lowercase(),
            )
        })
    }
}

#[derive(Deserialize)]
struct Participant {
    user: User,
}

#[derive(Deserialize)]
struct SelfLink {
    href: String,
}

#[derive(Deserialize, Default)]
struct PrLinks {
    #[serde(rename = "self", default)]
    self_: Vec<SelfLink>,
}

#[derive(Deserialize)]
struct PullRequest {
    state: String,
    #[serde(default)]
    draft: bool,
    #[serde(rename = "fromRef")]
    from_ref: Ref,
    #[serde(rename = "toRef")]
    to_ref: Ref,
    #[serde(default)]
    author: Option<Participant>,
    #[serde(default)]
    links: PrLinks,
}

#[derive(Deserialize)]
struct Path {
    #[serde(rename = "toString")]
    to_string: String,
}

#[derive(Deserialize)]
struct Change {
    path: Path,
    #[serde(default, rename = "srcPath")]
    src_path: Option<Path>,
    #[serde(default, rename = "type")]
    kind: String,
}

#[async_trait::async_trait]
impl Provider for BitbucketDataCenter {
    fn kind(&self) -> ProviderKind {
        KIND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_comment_chars: self.comment_limit,
            supersede: SupersedeStyle::EditStub,
            max_status_description: STATUS_DESCRIPTION_LIMIT,
        }
    }

    async fn whoami(&self) -> Result<Actor> {
        let action = format!("asking who the credential is (reading {})", self.repo.path);
        let path = format!("/rest/api/1.0{}", Self::repo_part(&self.repo, &action)?);
        let r = self.http.send(Method::Get, &path, None, &action).await?;
        let login = r
            .header("x-ausername")
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .ok_or_else(|| {
                unexpected(
                    KIND,
                    &action,
                    "the answer names no user (no X-AUSERNAME header): is the credential sent?",
                )
            })?
            .to_owned();
        let id = r
            .header("x-auserid")
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map(str::to_owned);
        Ok(Actor { login, id })
    }

    async fn merge_request(&self, mr: &MrRef) -> Result<MergeRequest> {
        let action = format!("reading pull request {mr}");
        let path = Self::pr_path(mr, &action)?;
        let r = self.http.send(Method::Get, &path, None, &action).await?;
        let pr: PullRequest = decode(KIND, &action, "pull request", r.body)?;
        let from_fork = match (pr.from_ref.repo_key(), pr.to_ref.repo_key()) {
            (Some(from), Some(to)) => from != to,
            (None, _) => true,
            (Some(_), None) => false,
        };
        let state = match pr.state.as_str() {
            "OPEN" => MrState::Open,
            "MERGED" => MrState::Merged,
            _ => MrState::Closed,
        };
        let web_url = pr.links.self_.into_iter().next().map(|l| l.href);
        if let Some(url) = &web_url {
            self.pr_links
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(pr.from_ref.latest_commit.clone(), url.clone());
        }
        Ok(MergeRequest {
            mr: mr.clone(),
            head_sha: pr.from_ref.latest_commit,
            base_sha: Some(pr.to_ref.latest_commit).filter(|s| !s.is_empty()),
            head_branch: pr.from_ref.display_id,
            base_branch: pr.to_ref.display_id,
            author: pr.author.map(|a| a.user.actor()).unwrap_or_default(),
            labels: Vec::new(),
            draft: pr.draft,
            from_fork,
            state,
            web_url,
        })
    }

    async fn changed_paths(&self, mr: &MrRef) -> Result<Vec<ChangedPath>> {
        let action = format!("listing the files of pull request {mr}");
        let path = format!("{}/changes", Self::pr_path(mr, &action)?);
        let mut out = Vec::new();
        for item in self.get_all(&path, &action).await? {
            let change: Change = decode(KIND, &action, "change", item)?;
            let previous = change
                .src_path
                .map(|p| p.to_string)
                .filter(|p| change.kind == "MOVE" && *p != change.path.to_string);
            out.push(ChangedPath {
                path: change.path.to_string,
                previous,
            });
        }
        Ok(out)
    }

    async fn list_comments(&self, mr: &MrRef) -> Result<Vec<Comment>> {
        let action = format!("listing the comments of pull request {mr}");
        let path = format!("{}/activities", Self::pr_path(mr, &action)?);
        let mut latest: HashMap<u64, ApiComment> = HashMap::new();
        let mut deleted = HashSet::new();
        for item in self.get_all(&path, &action).await? {
            let activity: Activity = decode(KIND, &action, "activity", item)?;
            if activity.action != "COMMENTED" {
                continue;
            }
            let Some(comment) = activity.comment else {
                continue;
            };
            if activity.comment_action.as_deref() == Some("DELETED") {
                deleted.insert(comment.id);
                continue;
            }
            // An edited comment may show in several activities: keep its newest version.
            match latest.get(&comment.id) {
                Some(seen) if seen.version >= comment.version => {}
                _ => {
                    latest.insert(comment.id, comment);
                }
            }
        }
        let mut comments: Vec<Comment> = latest
            .into_values()
            .filter(|c| !deleted.contains(&c.id))
            .map(|c| Comment {
                handle: self.handle(mr, &c),
                author: c.author.map(User::actor).unwrap_or_default(),
                body: c.text,
                minimized: false,
            })
            .collect();
        // Activities come newest first; comments go oldest first (ids grow with time).
        comments.sort_by_key(|c| c.handle.id);
        Ok(comments)
    }

    async fn create_comment(&self, mr: &MrRef, body: &str) -> Result<CommentHandle> {
        let action = format!("commenting on pull request {mr}");
        let path = format!("{}/comments", Self::pr_path(mr, &action)?);
        let payload = json!({ "text": body });
        let r = self
            .http
            .send_with(
                Method::Post,
                &path,
                Some(&payload),
                &action,
                &[NO_XSRF],
                false,
            )
            .await?;
        let c: ApiComment = decode(KIND, &action, "comment", r.body)?;
        Ok(self.handle(mr, &c))
    }

    async fn update_comment(
        &self,
        mr: &MrRef,
        comment: &CommentHandle,
        body: &str,
    ) -> Result<CommentHandle> {
        let action = format!("editing comment {} on pull request {mr}", comment.id);
        let path = format!("{}/comments/{}", Self::pr_path(mr, &action)?, comment.id);
        let r = self
            .versioned(mr, comment, Method::Put, &action, |version| {
                (
                    path.clone(),
                    Some(json!({ "text": body, "version": version })),
                )
            })
            .await?;
        let c: ApiComment = decode(KIND, &action, "comment", r.body)?;
        Ok(self.handle(mr, &c))
    }

    async fn delete_comment(&self, mr: &MrRef, comment: &CommentHandle) -> Result<()> {
        let action = format!("deleting comment {} on pull request {mr}", comment.id);
        let path = format!("{}/comments/{}", Self::pr_path(mr, &action)?, comment.id);
        self.versioned(mr, comment, Method::Delete, &action, |version| {
            (format!("{path}?version={version}"), None)
        })
        .await
        .map(drop)
    }

    async fn set_status(&self, repo: &RepoRef, sha: &str, status: &CommitStatus) -> Result<()> {
        let action = format!("setting status {} on {}", status.context, short(sha));
        let path = format!("/rest/build-status/1.0/commits/{}", encode_segment(sha));
        // Bitbucket requires a URL.
        let url = match status.target_url.clone().or_else(|| {
            self.pr_links
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(sha)
                .cloned()
        }) {
            Some(url) => url,
            None => format!(
                "{}{}/commits/{sha}",
                self.http.base(),
                Self::repo_part(repo, &action)?
            ),
        };
        let payload = json!({
            "key": status.context.chars().take(KEY_LIMIT).collect::<String>(),
            "state": state_word(status.state),
            "name": status.context,
            "description": status.description,
            "url": url,
        });
        self.http
            .send_with(
                Method::Post,
                &path,
                Some(&payload),
                &action,
                &[NO_XSRF],
                true,
            )
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_project_and_slug() {
        let repo = |path: &str| RepoRef {
            provider: KIND,
            path: path.into(),
        };
        assert_eq!(
            BitbucketDataCenter::repo_part(&repo("ACME/deploy"), "x").unwrap(),
            "/projects/ACME/repos/deploy"
        );
        assert_eq!(
            BitbucketDataCenter::repo_part(&repo("~ALICE/deploy"), "x").unwrap(),
            "/projects/~ALICE/repos/deploy"
        );
        let err = BitbucketDataCenter::repo_part(&repo("deploy"), "x").unwrap_err();
        assert!(err.message.contains("PROJECT/slug"), "{err}");
    }

    #[test]
    fn credentials_do_not_show_in_debug() {
        let bb = BitbucketDataCenter::new(
            "https://bitbucket.example.com",
            "ACME/deploy",
            DataCenterAuth::AccessToken(Secret::new("dc-token-secret")),
        )
        .unwrap();
        assert!(!format!("{bb:?}").contains("dc-token-secret"));
    }
}
