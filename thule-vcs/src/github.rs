//! The GitHub adapter (feature `github`): github.com and GitHub Enterprise Server, over the
//! REST API plus GraphQL for what REST cannot do (minimizing a comment, reading whether one is
//! minimized).
//!
//! - Every request sends `Accept: application/vnd.github+json`, `X-GitHub-Api-Version`
//!   [`API_VERSION`], the shared client's `User-Agent` (GitHub refuses requests without one)
//!   and `Authorization: Bearer <token>`.
//! - Plan comments are issue comments of the pull request. They are listed with REST
//!   (`per_page=100`, every `Link: rel="next"` page, oldest first); REST does not say whether a
//!   comment is minimized, so the comments whose first line is a current thule marker of this
//!   pull request are then looked up with one GraphQL `nodes(ids:)` query per 100, which fills
//!   [`Comment::minimized`]. Without it every older plan would be minimized again on every
//!   publication.
//! - Older plans are superseded with GraphQL `minimizeComment(classifier: OUTDATED)`, which
//!   keeps their body ([`SupersedeStyle::Minimize`]). A token that may not minimize (it needs
//!   write access to issues and pull requests) can use [`GitHub::with_supersede`] to edit them
//!   instead.
//! - Commit statuses are `POST /repos/{o}/{r}/statuses/{sha}` (`pending`, `success`,
//!   `failure`, `error`), descriptions cut to [`STATUS_DESCRIPTION_LIMIT`].
//!
//! # Who thule is ([`Provider::whoami`])
//! - [`Credentials::Token`] (a personal access token): `GET /user`. A 403 there is an error:
//!   guessing an identity instead would leave thule blind to its own comments and posting a
//!   new plan on every run.
//! - [`Credentials::ActionsToken`] (the `GITHUB_TOKEN` of a GitHub Actions run): `GET /user`,
//!   which answers 403 for that token; on 403 the identity is [`ACTIONS_BOT_LOGIN`]
//!   (`github-actions[bot]`), the account Actions comments as. The caller says which kind of
//!   token it holds (the CLI knows it runs under Actions); a 403 is never taken as a hint.
//! - [`Credentials::App`]: `GET /app` with the App's JWT; the App comments as
//!   `<slug>[bot]`.
//!
//! # Identities in errors
//! A [`VcsError`] never holds a token, a JWT or a private key.

mod app;

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use app::{DEFAULT_REFRESH_MARGIN, GitHubApp};

use crate::error::{ErrorKind, Result, VcsError};
use crate::http::{Auth, Http, Method, Response, RetryPolicy, Secret};
use crate::marker::{MarkState, Marker};
use crate::model::{
    Actor, ChangedPath, Comment, CommentHandle, CommitStatus, MergeRequest, MrRef, MrState,
    Permission, ProviderKind, RepoRef, StatusState,
};
use crate::provider::{Capabilities, Provider, SupersedeStyle};

/// github.com's REST API.
pub const API_URL: &str = "https://api.github.com";
/// github.com's GraphQL endpoint.
pub const GRAPHQL_URL: &str = "https://api.github.com/graphql";
/// The REST API version thule is written against (`X-GitHub-Api-Version`).
pub const API_VERSION: &str = "2022-11-28";
/// The account a GitHub Actions `GITHUB_TOKEN` comments as.
pub const ACTIONS_BOT_LOGIN: &str = "github-actions[bot]";
/// The longest commit-status description GitHub keeps, in characters.
pub const STATUS_DESCRIPTION_LIMIT: usize = 140;
/// The most items GitHub returns on one page (`per_page`).
pub const PER_PAGE: usize = 100;
/// The most files `GET /pulls/{n}/files` lists, whatever the pull request changes.
pub const FILES_LIST_CAP: usize = 3_000;
/// The most pages one list follows before giving up (a `next` link that never ends).
const MAX_PAGES: usize = 1_000;
/// The most node ids one GraphQL `nodes(ids:)` query may ask for.
const NODES_PER_QUERY: usize = 100;

/// The headers every GitHub request carries besides authentication and `User-Agent`.
pub(crate) const HEADERS: &[(&str, &str)] = &[
    ("Accept", "application/vnd.github+json"),
    ("X-GitHub-Api-Version", API_VERSION),
];

const MINIMIZED_QUERY: &str =
    "query($ids: [ID!]!) { nodes(ids: $ids) { ... on IssueComment { id isMinimized } } }";
const MINIMIZE_MUTATION: &str = "mutation($id: ID!) { minimizeComment(input: {subjectId: $id, classifier: OUTDATED}) { minimizedComment { isMinimized minimizedReason } } }";

/// The REST and GraphQL URLs of a GitHub Enterprise Server at `server`
/// (`https://github.example.com` → `https://github.example.com/api/v3`,
/// `https://github.example.com/api/graphql`).
pub fn enterprise_urls(server: &str) -> (String, String) {
    let server = server.trim_end_matches('/');
    (format!("{server}/api/v3"), format!("{server}/api/graphql"))
}

/// How the adapter authenticates, and so how it learns who it is.
#[derive(Debug)]
pub enum Credentials {
    /// A personal access token (classic or fine-grained) or an OAuth token.
    Token(Secret),
    /// The `GITHUB_TOKEN` of a GitHub Actions run: it comments as `github-actions[bot]` and
    /// may not read `GET /user`.
    ActionsToken(Secret),
    /// A GitHub App installation: installation tokens are exchanged and refreshed as
    /// [`GitHubApp`] says.
    App(GitHubApp),
}

enum Mode {
    Token { actions: bool },
    App(app::AppAuth),
}

/// The GitHub adapter for one repository.
pub struct GitHub {
    /// The REST client; authenticated with the token, or with nothing for an App (each call
    /// gets a copy with the current installation token).
    http: Http,
    graphql_url: String,
    repo: RepoRef,
    mode: Mode,
    supersede: SupersedeStyle,
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let credentials = match &self.mode {
            Mode::Token { actions: false } => "token",
            Mode::Token { actions: true } => "actions token",
            Mode::App(_) => "app",
        };
        f.debug_struct("GitHub")
            .field("api_url", &self.http.base())
            .field("graphql_url", &self.graphql_url)
            .field("repo", &self.repo.path)
            .field("credentials", &credentials)
            .field("supersede", &self.supersede)
            .finish()
    }
}

impl GitHub {
    /// An adapter for repository `repo` (`owner/name`) through the REST API at `api_url`
    /// ([`API_URL`], or `https://<host>/api/v3`) and the GraphQL endpoint `graphql_url`
    /// ([`GRAPHQL_URL`], or `https://<host>/api/graphql`; see [`enterprise_urls`]).
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] when `repo` is not an `owner/name` path, or
    /// [`ErrorKind::Transport`] when the HTTP client cannot be built.
    pub fn new(
        api_url: &str,
        graphql_url: &str,
        repo: &str,
        credentials: Credentials,
    ) -> Result<Self> {
        let valid_part = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        match repo.split_once('/') {
            Some((owner, name)) if valid_part(owner) && valid_part(name) => {}
            _ => {
                return Err(VcsError::new(
                    ProviderKind::GitHub,
                    "configuring the GitHub adapter",
                    ErrorKind::NotFound,
                    format!("{repo:?} is not an owner/name repository path"),
                ));
            }
        }
        let (auth, mode) = match credentials {
            Credentials::Token(token) => (Auth::Bearer(token), Mode::Token { actions: false }),
            Credentials::ActionsToken(token) => {
                (Auth::Bearer(token), Mode::Token { actions: true })
            }
            Credentials::App(app) => (Auth::None, Mode::App(app::AppAuth::new(app))),
        };
        Ok(Self {
            http: Http::new(ProviderKind::GitHub, api_url, auth)?,
            graphql_url: graphql_url.to_owned(),
            repo: RepoRef {
                provider: ProviderKind::GitHub,
                path: repo.to_owned(),
            },
            mode,
            supersede: SupersedeStyle::Minimize,
        })
    }

    /// Use these retry limits.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    /// Supersede older plans this way instead of minimizing them (for a token that may not
    /// minimize comments): [`SupersedeStyle::EditCollapsed`] edits them into a pointer with
    /// the old plan collapsed.
    #[must_use]
    pub fn with_supersede(mut self, style: SupersedeStyle) -> Self {
        self.supersede = style;
        self
    }

    /// The repository this adapter serves.
    pub fn repo(&self) -> &RepoRef {
        &self.repo
    }

    /// The repository's name without its owner.
    fn repo_name(&self) -> &str {
        self.repo.path.split_once('/').map_or("", |(_, name)| name)
    }

    /// `repo`'s path, when it is the repository this adapter serves.
    fn check_repo<'a>(&self, repo: &'a RepoRef, action: &str) -> Result<&'a str> {
        if repo.provider == ProviderKind::GitHub && repo.path.eq_ignore_ascii_case(&self.repo.path)
        {
            Ok(&repo.path)
        } else {
            Err(self.error(
                action,
                ErrorKind::NotFound,
                format!(
                    "this adapter serves {} on GitHub, not {} on {}",
                    self.repo.path, repo.path, repo.provider
                ),
            ))
        }
    }

    fn error(&self, action: &str, kind: ErrorKind, message: impl Into<String>) -> VcsError {
        VcsError::new(ProviderKind::GitHub, action, kind, message)
    }

    /// The REST client with the current credential.
    async fn authed(&self) -> Result<Http> {
        match &self.mode {
            Mode::Token { .. } => Ok(self.http.clone()),
            Mode::App(app) => {
                let token = app.token(&self.http, self.repo_name()).await?;
                let mut http = self.http.clone();
                http.set_auth(Auth::Bearer(token));
                Ok(http)
            }
        }
    }

    /// One request with GitHub's headers.
    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        action: &str,
        idempotent: bool,
    ) -> Result<Response> {
        let http = self.authed().await?;
        let result = http
            .send_with(method, path, body, action, HEADERS, idempotent)
            .await;
        if let (Err(e), Mode::App(app)) = (&result, &self.mode)
            && e.kind == ErrorKind::Unauthorized
        {
            // A revoked or expired installation token: the next call exchanges a new one.
            app.forget().await;
        }
        result
    }

    /// Every item of a paginated list, following `Link: rel="next"` to the end.
    async fn list_all(&self, first: &str, action: &str) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut path = first.to_owned();
        for _ in 0..MAX_PAGES {
            let response = self.request(Method::Get, &path, None, action, true).await?;
            let next = response.next_link();
            match response.body {
                Value::Array(page) => items.extend(page),
                other => {
                    return Err(self.error(
                        action,
                        ErrorKind::Transport,
                        format!("expected a JSON array, got {}", kind_of(&other)),
                    ));
                }
            }
            let Some(next) = next else {
                return Ok(items);
            };
            // The next page must be on the same API: never send the token elsewhere.
            if !next.starts_with(&format!("{}/", self.http.base())) {
                return Err(self.error(
                    action,
                    ErrorKind::Transport,
                    format!(
                        "the next page {next:?} is not on the API at {}",
                        self.http.base()
                    ),
                ));
            }
            path = next;
        }
        Err(self.error(
            action,
            ErrorKind::Transport,
            format!("more than {MAX_PAGES} pages"),
        ))
    }

    /// A GraphQL query or mutation (both are safe to repeat here); its `data`, or a
    /// [`VcsError`] made of its `errors`.
    async fn graphql(&self, query: &str, variables: Value, action: &str) -> Result<Value> {
        let body = json!({ "query": query, "variables": variables });
        let response = self
            .request(Method::Post, &self.graphql_url, Some(&body), action, true)
            .await?;
        if let Some(errors) = response.body.get("errors").and_then(Value::as_array)
            && !errors.is_empty()
        {
            return Err(graphql_error(errors, response.status, action));
        }
        match response.body.get("data") {
            Some(data) if !data.is_null() => Ok(data.clone()),
            _ => Err(self.error(
                action,
                ErrorKind::Transport,
                "the GraphQL answer has no `data`",
            )),
        }
    }

    /// Which of these comments GitHub shows minimized, by node id.
    async fn minimized(&self, node_ids: &[String], action: &str) -> Result<HashMap<String, bool>> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Node {
            id: String,
            is_minimized: bool,
        }
        #[derive(Deserialize)]
        struct Data {
            nodes: Vec<Option<Node>>,
        }
        let mut out = HashMap::new();
        for chunk in node_ids.chunks(NODES_PER_QUERY) {
            let data = self
                .graphql(MINIMIZED_QUERY, json!({ "ids": chunk }), action)
                .await?;
            let data: Data = decode(data, action)?;
            out.extend(
                data.nodes
                    .into_iter()
                    .flatten()
                    .map(|n| (n.id, n.is_minimized)),
            );
        }
        Ok(out)
    }

    /// A comment's GraphQL node id, asked of REST when the handle lacks it.
    async fn node_id(&self, path: &str, comment: &CommentHandle, action: &str) -> Result<String> {
        if let Some(id) = &comment.node_id {
            return Ok(id.clone());
        }
        let response = self
            .request(
                Method::Get,
                &format!("/repos/{path}/issues/comments/{}", comment.id),
                None,
                action,
                true,
            )
            .await?;
        let comment: ApiComment = decode(response.body, action)?;
        comment
            .node_id
            .ok_or_else(|| self.error(action, ErrorKind::Transport, "the comment has no `node_id`"))
    }
}

/// The kind of a GraphQL failure: its first error's `type`.
fn graphql_error(errors: &[Value], status: u16, action: &str) -> VcsError {
    let kind = match errors[0].get("type").and_then(Value::as_str) {
        Some("NOT_FOUND") => ErrorKind::NotFound,
        Some("FORBIDDEN" | "INSUFFICIENT_SCOPES") => ErrorKind::Forbidden,
        Some("RATE_LIMITED") => ErrorKind::RateLimited { reset: None },
        _ => ErrorKind::Rejected { status },
    };
    let messages: Vec<&str> = errors
        .iter()
        .filter_map(|e| e.get("message").and_then(Value::as_str))
        .collect();
    let message: String = format!("GraphQL: {}", messages.join("; "))
        .chars()
        .take(300)
        .collect();
    VcsError::new(ProviderKind::GitHub, action, kind, message)
}

/// `value` read as `T`, or an error naming where it is unreadable.
pub(crate) fn decode<T: DeserializeOwned>(value: Value, action: &str) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let at = e.path().to_string();
        VcsError::new(
            ProviderKind::GitHub,
            action,
            ErrorKind::Transport,
            format!("unreadable answer at `{at}`: {}", e.into_inner()),
        )
    })
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[derive(Deserialize)]
struct ApiUser {
    login: String,
    id: Option<u64>,
}

impl ApiUser {
    fn actor(self) -> Actor {
        Actor {
            login: self.login,
            id: self.id.map(|id| id.to_string()),
        }
    }
}

/// The account of a deleted user, as GitHub shows it.
fn ghost() -> Actor {
    Actor::login("ghost")
}

#[derive(Deserialize)]
struct ApiComment {
    id: u64,
    node_id: Option<String>,
    html_url: Option<String>,
    user: Option<ApiUser>,
    body: Option<String>,
}

impl ApiComment {
    fn handle(&self) -> CommentHandle {
        CommentHandle {
            id: self.id,
            node_id: self.node_id.clone(),
            version: None,
            url: self.html_url.clone(),
        }
    }
}

#[derive(Deserialize)]
struct ApiLabel {
    name: String,
}

#[derive(Deserialize)]
struct ApiRepo {
    full_name: String,
}

#[derive(Deserialize)]
struct ApiBranch {
    #[serde(rename = "ref")]
    branch: String,
    sha: String,
    /// `null` when the fork it came from was deleted.
    repo: Option<ApiRepo>,
}

#[derive(Deserialize)]
struct ApiPull {
    state: String,
    #[serde(default)]
    merged: bool,
    #[serde(default)]
    draft: bool,
    html_url: Option<String>,
    user: Option<ApiUser>,
    #[serde(default)]
    labels: Vec<ApiLabel>,
    head: ApiBranch,
    base: ApiBranch,
    changed_files: Option<u64>,
}

#[derive(Deserialize)]
struct ApiFile {
    filename: String,
    previous_filename: Option<String>,
    status: String,
}

/// GitHub's word for a status state.
fn status_word(state: StatusState) -> &'static str {
    match state {
        StatusState::Pending => "pending",
        StatusState::Success => "success",
        StatusState::Failure => "failure",
        StatusState::Error => "error",
    }
}

#[async_trait::async_trait]
impl Provider for GitHub {
    fn kind(&self) -> ProviderKind {
        ProviderKind::GitHub
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_comment_chars: crate::GITHUB_COMMENT_LIMIT,
            supersede: self.supersede,
            max_status_description: STATUS_DESCRIPTION_LIMIT,
        }
    }

    async fn whoami(&self) -> Result<Actor> {
        match &self.mode {
            Mode::Token { actions } => {
                let action = "asking GitHub who the token is";
                match self.request(Method::Get, "/user", None, action, true).await {
                    Ok(response) => Ok(decode::<ApiUser>(response.body, action)?.actor()),
                    Err(e) if *actions && e.kind == ErrorKind::Forbidden => {
                        Ok(Actor::login(ACTIONS_BOT_LOGIN))
                    }
                    Err(e) => Err(e),
                }
            }
            Mode::App(app) => {
                #[derive(Deserialize)]
                struct ApiApp {
                    slug: String,
                }
                let action = "asking GitHub which App the key belongs to";
                let response = app
                    .as_app(&self.http)?
                    .send_with(Method::Get, "/app", None, action, HEADERS, true)
                    .await?;
                let app: ApiApp = decode(response.body, action)?;
                Ok(Actor::login(&format!("{}[bot]", app.slug)))
            }
        }
    }

    async fn merge_request(&self, mr: &MrRef) -> Result<MergeRequest> {
        let action = format!("reading pull request {mr}");
        let path = self.check_repo(&mr.repo, &action)?;
        let pull = self.merge_request_raw(path, mr, &action).await?;
        let state = match (pull.state.as_str(), pull.merged) {
            ("open", _) => MrState::Open,
            (_, true) => MrState::Merged,
            _ => MrState::Closed,
        };
        // A head repository GitHub no longer shows is a deleted fork.
        let from_fork = match (&pull.head.repo, &pull.base.repo) {
            (Some(head), Some(base)) => !head.full_name.eq_ignore_ascii_case(&base.full_name),
            _ => true,
        };
        Ok(MergeRequest {
            mr: mr.clone(),
            head_sha: pull.head.sha,
            base_sha: Some(pull.base.sha),
            head_branch: pull.head.branch,
            base_branch: pull.base.branch,
            author: pull.user.map_or_else(ghost, ApiUser::actor),
            labels: pull.labels.into_iter().map(|l| l.name).collect(),
            draft: pull.draft,
            from_fork,
            state,
            web_url: pull.html_url,
        })
    }

    async fn changed_paths(&self, mr: &MrRef) -> Result<Vec<ChangedPath>> {
        let action = format!("listing the changed files of {mr}");
        let path = self.check_repo(&mr.repo, &action)?;
        let items = self
            .list_all(
                &format!(
                    "/repos/{path}/pulls/{}/files?per_page={PER_PAGE}",
                    mr.number
                ),
                &action,
            )
            .await?;
        let files: Vec<ApiFile> = decode(Value::Array(items), &action)?;
        if files.len() >= FILES_LIST_CAP {
            // GitHub stops listing at 3,000 files without saying so: a plan of a part of the
            // changes would be wrong, so say it cannot be listed.
            let pull = self.merge_request_raw(path, mr, &action).await?;
            if let Some(total) = pull.changed_files
                && total > files.len() as u64
            {
                return Err(self.error(
                    &action,
                    ErrorKind::Unsupported,
                    format!(
                        "GitHub lists at most {FILES_LIST_CAP} files and this pull request changes {total}"
                    ),
                ));
            }
        }
        Ok(files
            .into_iter()
            .map(|f| ChangedPath {
                previous: f.previous_filename.filter(|_| f.status == "renamed"),
                path: f.filename,
            })
            .collect())
    }

    async fn list_comments(&self, mr: &MrRef) -> Result<Vec<Comment>> {
        let action = format!("listing the comments of {mr}");
        let path = self.check_repo(&mr.repo, &action)?;
        let items = self
            .list_all(
                &format!(
                    "/repos/{path}/issues/{}/comments?per_page={PER_PAGE}",
                    mr.number
                ),
                &action,
            )
            .await?;
        let api: Vec<ApiComment> = decode(Value::Array(items), &action)?;
        let mut comments: Vec<Comment> = api
            .into_iter()
            .map(|c| Comment {
                handle: c.handle(),
                author: c.user.map_or_else(ghost, ApiUser::actor),
                body: c.body.unwrap_or_default(),
                minimized: false,
            })
            .collect();
        // Only current thule plan parts need to know whether they are minimized.
        let marked: Vec<String> = comments
            .iter()
            .filter(|c| {
                Marker::parse(&c.body).is_some_and(|m| m.is_for(mr) && m.state == MarkState::Plan)
            })
            .filter_map(|c| c.handle.node_id.clone())
            .collect();
        if !marked.is_empty() {
            let action = format!("reading which thule comments of {mr} are minimized");
            let minimized = self.minimized(&marked, &action).await?;
            for c in &mut comments {
                if let Some(node_id) = &c.handle.node_id {
                    c.minimized = minimized.get(node_id).copied().unwrap_or(false);
                }
            }
        }
        Ok(comments)
    }

    async fn create_comment(&self, mr: &MrRef, body: &str) -> Result<CommentHandle> {
        let action = format!("commenting on {mr}");
        let path = self.check_repo(&mr.repo, &action)?;
        let response = self
            .request(
                Method::Post,
                &format!("/repos/{path}/issues/{}/comments", mr.number),
                Some(&json!({ "body": body })),
                &action,
                false,
            )
            .await?;
        Ok(decode::<ApiComment>(response.body, &action)?.handle())
    }

    async fn update_comment(
        &self,
        mr: &MrRef,
        comment: &CommentHandle,
        body: &str,
    ) -> Result<CommentHandle> {
        let action = format!("editing comment {} of {mr}", comment.id);
        let path = self.check_repo(&mr.repo, &action)?;
        let response = self
            .request(
                Method::Patch,
                &format!("/repos/{path}/issues/comments/{}", comment.id),
                Some(&json!({ "body": body })),
                &action,
                true,
            )
            .await?;
        Ok(decode::<ApiComment>(response.body, &action)?.handle())
    }

    async fn delete_comment(&self, mr: &MrRef, comment: &CommentHandle) -> Result<()> {
        let action = format!("deleting comment {} of {mr}", comment.id);
        let path = self.check_repo(&mr.repo, &action)?;
        self.request(
            Method::Delete,
            &format!("/repos/{path}/issues/comments/{}", comment.id),
            None,
            &action,
            true,
        )
        .await?;
        Ok(())
    }

    async fn minimize_comment(&self, mr: &MrRef, comment: &CommentHandle) -> Result<()> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Minimized {
            is_minimized: bool,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Payload {
            minimized_comment: Minimized,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            minimize_comment: Payload,
        }
        let action = format!("minimizing comment {} of {mr} as outdated", comment.id);
        let path = self.check_repo(&mr.repo, &action)?;
        let node_id = self.node_id(path, comment, &action).await?;
        let data = self
            .graphql(MINIMIZE_MUTATION, json!({ "id": node_id }), &action)
            .await?;
        let data: Data = decode(data, &action)?;
        if data.minimize_comment.minimized_comment.is_minimized {
            Ok(())
        } else {
            Err(self.error(
                &action,
                ErrorKind::Rejected { status: 200 },
                "GitHub answered that the comment is not minimized",
            ))
        }
    }

    async fn permission(&self, repo: &RepoRef, user: &Actor) -> Result<Permission> {
        let action = format!("reading the permission of {} on {}", user.login, repo.path);
        let path = self.check_repo(repo, &action)?;
        let login: String = user
            .login
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '[' | ']' | '_'))
            .collect();
        let response = match self
            .request(
                Method::Get,
                &format!("/repos/{path}/collaborators/{login}/permission"),
                None,
                &action,
                true,
            )
            .await
        {
            Ok(r) => r,
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(Permission::None),
            Err(e) => return Err(e),
        };
        Ok(
            match response.body["permission"].as_str().unwrap_or("none") {
                "admin" => Permission::Admin,
                "maintain" | "write" => Permission::Write,
                "triage" | "read" => Permission::Read,
                _ => Permission::None,
            },
        )
    }

    async fn set_status(&self, repo: &RepoRef, sha: &str, status: &CommitStatus) -> Result<()> {
        let action = format!("setting status {} on {sha}", status.context);
        let path = self.check_repo(repo, &action)?;
        let mut body = json!({
            "state": status_word(status.state),
            "context": status.context,
            "description": crate::publish::one_line(&status.description, STATUS_DESCRIPTION_LIMIT),
        });
        if let Some(url) = &status.target_url {
            body["target_url"] = json!(url);
        }
        // Setting the same status twice leaves one: safe to retry.
        self.request(
            Method::Post,
            &format!("/repos/{path}/statuses/{sha}"),
            Some(&body),
            &action,
            true,
        )
        .await?;
        Ok(())
    }
}

impl GitHub {
    async fn merge_request_raw(&self, path: &str, mr: &MrRef, action: &str) -> Result<ApiPull> {
        let response = self
            .request(
                Method::Get,
                &format!("/repos/{path}/pulls/{}", mr.number),
                None,
                action,
                true,
            )
            .await?;
        decode(response.body, action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enterprise_urls_are_rest_v3_and_graphql() {
        assert_eq!(
            enterprise_urls("https://ghe.example.com/"),
            (
                "https://ghe.example.com/api/v3".to_owned(),
                "https://ghe.example.com/api/graphql".to_owned()
            )
        );
    }

    #[test]
    fn status_words_are_githubs() {
        assert_eq!(status_word(StatusState::Pending), "pending");
        assert_eq!(status_word(StatusState::Success), "success");
        assert_eq!(status_word(StatusState::Failure), "failure");
        assert_eq!(status_word(StatusState::Error), "error");
    }

    #[test]
    fn graphql_errors_have_kinds() {
        let e = graphql_error(
            &[json!({"type": "NOT_FOUND", "message": "Could not resolve to a node"})],
            200,
            "x",
        );
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert!(e.message.contains("Could not resolve"), "{e}");
        let e = graphql_error(&[json!({"message": "Something went wrong"})], 200, "x");
        assert_eq!(e.kind, ErrorKind::Rejected { status: 200 });
    }

    #[test]
    fn a_bad_repository_path_is_refused() {
        for bad in ["app", "a/b/c", "/app", "org/", "org/a b"] {
            let e = GitHub::new(
                API_URL,
                GRAPHQL_URL,
                bad,
                Credentials::Token(Secret::new("t")),
            )
            .unwrap_err();
            assert_eq!(e.kind, ErrorKind::NotFound, "{bad}");
        }
    }
}
