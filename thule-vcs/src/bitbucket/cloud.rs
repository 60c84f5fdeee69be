//! Bitbucket Cloud, API 2.0 (`https://api.bitbucket.org/2.0`).
//!
//! - Lists are paged JSON objects (`values`, `next`); every `next` is followed, and only
//!   when it stays under the API base, so credentials never go to another host.
//! - Pull requests name their commits by 12-character short hashes; the adapter resolves
//!   them to full SHAs (`GET /repositories/{workspace}/{repo}/commit/{hash}`).
//! - Deleted comments still appear in the list (`deleted: true`); they are skipped.
//! - A build status needs a `url`: the status's target, else the pull request's link (known
//!   once [`Provider::merge_request`] has read it), else the commit's page.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    MAX_PAGES, STATUS_DESCRIPTION_LIMIT, decode, encode_path, encode_segment, short, state_word,
    status_key, unexpected,
};
use crate::error::Result;
use crate::http::{Auth, Http, Method, RetryPolicy, Secret};
use crate::model::{
    Actor, ChangedPath, Comment, CommentHandle, CommitStatus, MergeRequest, MrRef, MrState,
    ProviderKind, RepoRef,
};
use crate::provider::{Capabilities, Provider, SupersedeStyle};

/// The comment size thule assumes for Bitbucket Cloud, which documents none.
pub const DEFAULT_COMMENT_LIMIT: usize = 65_536;

const KIND: ProviderKind = ProviderKind::BitbucketCloud;

/// How thule authenticates to Bitbucket Cloud.
#[derive(Clone, Debug)]
pub enum CloudAuth {
    /// A repository, project or workspace access token (`Authorization: Bearer`).
    AccessToken(Secret),
    /// A user name with an app password or API token (HTTP Basic).
    AppPassword {
        /// The Bitbucket user name (or the Atlassian account e-mail, for API tokens).
        user: String,
        /// The app password or API token.
        password: Secret,
    },
}

/// Bitbucket Cloud, for one repository.
///
/// The [`Provider`] methods act on the repository of the reference they are given; the
/// repository given to the constructor is the one [`BitbucketCloud::repo`] and
/// [`BitbucketCloud::mr`] name.
#[derive(Debug)]
pub struct BitbucketCloud {
    http: Http,
    repo: RepoRef,
    web_base: String,
    comment_limit: usize,
    /// Pull-request links by head SHA, from [`Provider::merge_request`], for status URLs.
    pr_links: Mutex<HashMap<String, String>>,
}

impl BitbucketCloud {
    /// An adapter for `repo` (`workspace/repo_slug`) on the API at `api_base`
    /// (`https://api.bitbucket.org/2.0`).
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(api_base: &str, repo: &str, auth: CloudAuth) -> Result<Self> {
        let auth = match auth {
            CloudAuth::AccessToken(token) => Auth::Bearer(token),
            CloudAuth::AppPassword { user, password } => Auth::Basic { user, password },
        };
        let http = Http::new(KIND, api_base, auth)?;
        let web_base = web_base_of(http.base());
        Ok(Self {
            http,
            repo: RepoRef {
                provider: KIND,
                path: repo.trim_matches('/').to_owned(),
            },
            web_base,
            comment_limit: DEFAULT_COMMENT_LIMIT,
            pr_links: Mutex::default(),
        })
    }

    /// Use these retry limits.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    /// Assume comments of at most `chars` characters.
    #[must_use]
    pub fn with_comment_limit(mut self, chars: usize) -> Self {
        self.comment_limit = chars;
        self
    }

    /// The web address commit links are built on (`https://bitbucket.org`, derived from the
    /// API base by default).
    #[must_use]
    pub fn with_web_base(mut self, web_base: &str) -> Self {
        web_base
            .trim_end_matches('/')
            .clone_into(&mut self.web_base);
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

    /// The full SHA of `hash` (a short hash) in repository `full_name`.
    ///
    /// # Errors
    /// When the forge refuses, or does not know the commit.
    pub async fn resolve_commit(&self, full_name: &str, hash: &str) -> Result<String> {
        if hash.len() >= 40 {
            return Ok(hash.to_owned());
        }
        let action = format!("resolving commit {hash} in {full_name}");
        let path = format!(
            "/repositories/{}/commit/{}",
            encode_path(full_name),
            encode_segment(hash)
        );
        let r = self.http.send(Method::Get, &path, None, &action).await?;
        let commit: Hash = decode(KIND, &action, "commit", r.body)?;
        if commit.hash.len() < 40 || !commit.hash.starts_with(hash) {
            return Err(unexpected(
                KIND,
                &action,
                format!("the commit's hash is {:?}", commit.hash),
            ));
        }
        Ok(commit.hash)
    }

    fn pr_path(mr: &MrRef) -> String {
        format!(
            "/repositories/{}/pullrequests/{}",
            encode_path(&mr.repo.path),
            mr.number
        )
    }

    /// Every item of a paged list at `path`, following `next` to the end.
    async fn get_all(&self, path: &str, action: &str) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut url = path.to_owned();
        let mut seen = HashSet::new();
        for _ in 0..MAX_PAGES {
            let mut r = self.http.send(Method::Get, &url, None, action).await?;
            let Value::Array(values) = r.body["values"].take() else {
                return Err(unexpected(KIND, action, "the page has no `values` array"));
            };
            items.extend(values);
            let Some(next) = r.body["next"].as_str().filter(|n| !n.is_empty()) else {
                return Ok(items);
            };
            if !next.starts_with(&format!("{}/", self.http.base())) {
                return Err(unexpected(
                    KIND,
                    action,
                    "the next page is not under the API base; not sending credentials there",
                ));
            }
            if !seen.insert(next.to_owned()) {
                return Err(unexpected(KIND, action, "the next page repeats a page"));
            }
            next.clone_into(&mut url);
        }
        Err(unexpected(
            KIND,
            action,
            format!("the list did not end after {MAX_PAGES} pages"),
        ))
    }
}

/// `https://bitbucket.org` for `https://api.bitbucket.org/2.0`; otherwise the API base
/// without its `/2.0`.
fn web_base_of(api_base: &str) -> String {
    let base = api_base.trim_end_matches('/');
    let base = base.strip_suffix("/2.0").unwrap_or(base);
    base.replacen("://api.bitbucket.org", "://bitbucket.org", 1)
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    uuid: Option<String>,
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    nickname: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
}

impl User {
    fn actor(self) -> Actor {
        let login = self
            .nickname
            .or(self.username)
            .or(self.display_name)
            .unwrap_or_default();
        Actor {
            login,
            id: self.uuid.or(self.account_id),
        }
    }
}

#[derive(Deserialize)]
struct Href {
    href: String,
}

#[derive(Deserialize, Default)]
struct Links {
    #[serde(default)]
    html: Option<Href>,
}

impl Links {
    fn html(self) -> Option<String> {
        self.html.map(|h| h.href).filter(|h| !h.is_empty())
    }
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    raw: Option<String>,
}

#[derive(Deserialize)]
struct ApiComment {
    id: u64,
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    user: Option<User>,
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    links: Links,
}

#[derive(Deserialize)]
struct Hash {
    hash: String,
}

#[derive(Deserialize)]
struct Name {
    name: String,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Deserialize)]
struct Endpoint {
    #[serde(default)]
    branch: Option<Name>,
    #[serde(default)]
    commit: Option<Hash>,
    #[serde(default)]
    repository: Option<Repository>,
}

#[derive(Deserialize)]
struct PullRequest {
    state: String,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    author: Option<User>,
    source: Endpoint,
    destination: Endpoint,
    #[serde(default)]
    links: Links,
}

#[derive(Deserialize)]
struct FilePath {
    path: String,
}

#[derive(Deserialize)]
struct DiffStat {
    #[serde(default)]
    status: String,
    #[serde(default)]
    old: Option<FilePath>,
    #[serde(default)]
    new: Option<FilePath>,
}

#[async_trait::async_trait]
impl Provider for BitbucketCloud {
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
        let action = "asking who the credential is";
        let r = self.http.send(Method::Get, "/user", None, action).await?;
        let user: User = decode(KIND, action, "user", r.body)?;
        let actor = user.actor();
        if actor.id.is_none() {
            return Err(unexpected(KIND, action, "the user has no `uuid`"));
        }
        Ok(actor)
    }

    async fn merge_request(&self, mr: &MrRef) -> Result<MergeRequest> {
        let action = format!("reading pull request {mr}");
        let r = self
            .http
            .send(Method::Get, &Self::pr_path(mr), None, &action)
            .await?;
        let pr: PullRequest = decode(KIND, &action, "pull request", r.body)?;
        let missing = |field: &str| unexpected(KIND, &action, format!("missing field `{field}`"));
        let head_repo = pr.source.repository.as_ref().map(|r| r.full_name.clone());
        let base_repo = pr
            .destination
            .repository
            .as_ref()
            .map_or_else(|| mr.repo.path.clone(), |r| r.full_name.clone());
        let head_short = pr
            .source
            .commit
            .as_ref()
            .map(|c| c.hash.clone())
            .ok_or_else(|| missing("source.commit.hash"))?;
        // A fork's commits live in the fork.
        let head_sha = self
            .resolve_commit(head_repo.as_deref().unwrap_or(&base_repo), &head_short)
            .await?;
        let base_sha = match &pr.destination.commit {
            Some(c) => Some(self.resolve_commit(&base_repo, &c.hash).await?),
            None => None,
        };
        let from_fork = match &head_repo {
            Some(h) => !h.eq_ignore_ascii_case(&base_repo),
            None => true,
        };
        let state = match pr.state.as_str() {
            "OPEN" => MrState::Open,
            "MERGED" => MrState::Merged,
            _ => MrState::Closed,
        };
        let web_url = pr.links.html();
        if let Some(url) = &web_url {
            self.pr_links
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(head_sha.clone(), url.clone());
        }
        Ok(MergeRequest {
            mr: mr.clone(),
            head_sha,
            base_sha,
            head_branch: pr
                .source
                .branch
                .map(|b| b.name)
                .ok_or_else(|| missing("source.branch.name"))?,
            base_branch: pr
                .destination
                .branch
                .map(|b| b.name)
                .ok_or_else(|| missing("destination.branch.name"))?,
            author: pr.author.map(User::actor).unwrap_or_default(),
            labels: Vec::new(),
            draft: pr.draft,
            from_fork,
            state,
            web_url,
        })
    }

    async fn changed_paths(&self, mr: &MrRef) -> Result<Vec<ChangedPath>> {
        let action = format!("listing the files of pull request {mr}");
        // Bitbucket redirects this to the repository's diffstat of the two commits.
        let path = format!("{}/diffstat", Self::pr_path(mr));
        let mut out = Vec::new();
        for item in self.get_all(&path, &action).await? {
            let stat: DiffStat = decode(KIND, &action, "diffstat", item)?;
            let old = stat.old.map(|f| f.path);
            let (path, previous) = match stat.new.map(|f| f.path) {
                Some(new) => {
                    let previous = old.filter(|o| stat.status == "renamed" && *o != new);
                    (new, previous)
                }
                None => match old {
                    Some(old) => (old, None),
                    None => {
                        return Err(unexpected(
                            KIND,
                            &action,
                            "a diffstat entry has neither `new.path` nor `old.path`",
                        ));
                    }
                },
            };
            out.push(ChangedPath { path, previous });
        }
        Ok(out)
    }

    async fn list_comments(&self, mr: &MrRef) -> Result<Vec<Comment>> {
        let action = format!("listing the comments of pull request {mr}");
        let path = format!("{}/comments", Self::pr_path(mr));
        let mut comments: Vec<Comment> = Vec::new();
        for item in self.get_all(&path, &action).await? {
            let c: ApiComment = decode(KIND, &action, "comment", item)?;
            if c.deleted {
                continue;
            }
            comments.push(Comment {
                handle: CommentHandle {
                    url: c.links.html(),
                    ..CommentHandle::id(c.id)
                },
                author: c.user.map(User::actor).unwrap_or_default(),
                body: c.content.and_then(|c| c.raw).unwrap_or_default(),
                minimized: false,
            });
        }
        // Oldest first (ids grow with time), each once.
        comments.sort_by_key(|c| c.handle.id);
        comments.dedup_by_key(|c| c.handle.id);
        Ok(comments)
    }

    async fn create_comment(&self, mr: &MrRef, body: &str) -> Result<CommentHandle> {
        let action = format!("commenting on pull request {mr}");
        let path = format!("{}/comments", Self::pr_path(mr));
        let payload = json!({ "content": { "raw": body } });
        let r = self
            .http
            .send(Method::Post, &path, Some(&payload), &action)
            .await?;
        let c: ApiComment = decode(KIND, &action, "comment", r.body)?;
        Ok(CommentHandle {
            url: c.links.html(),
            ..CommentHandle::id(c.id)
        })
    }

    async fn update_comment(
        &self,
        mr: &MrRef,
        comment: &CommentHandle,
        body: &str,
    ) -> Result<CommentHandle> {
        let action = format!("editing comment {} on pull request {mr}", comment.id);
        let path = format!("{}/comments/{}", Self::pr_path(mr), comment.id);
        let payload = json!({ "content": { "raw": body } });
        let r = self
            .http
            .send(Method::Put, &path, Some(&payload), &action)
            .await?;
        let c: ApiComment = decode(KIND, &action, "comment", r.body)?;
        Ok(CommentHandle {
            url: c.links.html().or_else(|| comment.url.clone()),
            ..CommentHandle::id(c.id)
        })
    }

    async fn delete_comment(&self, mr: &MrRef, comment: &CommentHandle) -> Result<()> {
        let action = format!("deleting comment {} on pull request {mr}", comment.id);
        let path = format!("{}/comments/{}", Self::pr_path(mr), comment.id);
        self.http
            .send(Method::Delete, &path, None, &action)
            .await
            .map(drop)
    }

    async fn set_status(&self, repo: &RepoRef, sha: &str, status: &CommitStatus) -> Result<()> {
        let action = format!("setting status {} on {}", status.context, short(sha));
        let path = format!(
            "/repositories/{}/commit/{}/statuses/build",
            encode_path(&repo.path),
            encode_segment(sha)
        );
        // Bitbucket requires a URL.
        let url = status
            .target_url
            .clone()
            .or_else(|| {
                self.pr_links
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(sha)
                    .cloned()
            })
            .unwrap_or_else(|| format!("{}/{}/commits/{sha}", self.web_base, repo.path));
        let payload = json!({
            "key": status_key(&status.context),
            "state": state_word(status.state),
            "name": status.context,
            "description": status.description,
            "url": url,
        });
        self.http
            .send_idempotent(Method::Post, &path, Some(&payload), &action)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_web_base_is_derived_from_the_api_base() {
        assert_eq!(
            web_base_of("https://api.bitbucket.org/2.0"),
            "https://bitbucket.org"
        );
        assert_eq!(web_base_of("http://127.0.0.1:1/2.0/"), "http://127.0.0.1:1");
    }

    #[test]
    fn credentials_do_not_show_in_debug() {
        let bb = BitbucketCloud::new(
            "https://api.bitbucket.org/2.0",
            "ws/repo",
            CloudAuth::AppPassword {
                user: "thule-bot".into(),
                password: Secret::new("app-password-secret"),
            },
        )
        .unwrap();
        assert!(!format!("{bb:?}").contains("app-password-secret"));
    }
}
