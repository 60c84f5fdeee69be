//! A fake GitHub (features `testing` and `github`): a stateful loopback server that speaks
//! GitHub's real REST API and the GraphQL calls thule makes, with the real payload shapes,
//! because no real GitHub can run in tests.
//!
//! It keeps issue comments (ids, node ids, authors, minimized flags), pages lists as GitHub
//! does (30 per page unless `per_page` says otherwise, at most 100, absolute `Link` headers
//! pointing at `/repositories/{id}/...`), answers the GraphQL `nodes(ids:)` query and the
//! `minimizeComment` mutation with `{"data": ...}` or `{"errors": [...]}`, logs commit
//! statuses, serves one pull request ([`PR`] of [`OWNER_REPO`], with the head and base
//! commits the test gives) and its files (capped at 3,000 like GitHub), refuses requests
//! without a `User-Agent` (403) or a known token (401), answers `GET /user` with 403 for the
//! Actions token ([`ACTIONS_TOKEN`], whose comments are `github-actions[bot]`'s), and, once
//! [`FakeGitHub::enable_app`] gave it the App's public key, exchanges GitHub App JWTs for
//! expiring installation tokens. It is laid out like GitHub Enterprise Server (REST under
//! `/api/v3`, GraphQL at `/api/graphql`), so a client must take both URLs as given.
//!
//! ```no_run
//! # async fn demo() {
//! use thule_vcs::testing::github::FakeGitHub;
//! let fake = FakeGitHub::start(&"b".repeat(40), &"c".repeat(40)).await;
//! let (rest, graphql) = fake.urls(); // GITHUB_API_URL, GITHUB_GRAPHQL_URL
//! // ... publish through the GitHub adapter or the thule binary ...
//! for c in fake.comments() {
//!     println!("{} minimized={:?}: {:.40}", c.user.login, c.minimized, c.body);
//! }
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::{LoopbackServer, Recorded, Reply};
use crate::GITHUB_COMMENT_LIMIT;
use crate::github::{ACTIONS_BOT_LOGIN, enterprise_urls};

/// The repository.
pub const OWNER_REPO: &str = "octo-org/gitops";
/// The repository's id (in the `/repositories/{id}/...` URLs of `Link` headers).
pub const REPO_ID: u64 = 4_242_001;
/// The pull request's number.
pub const PR: u64 = 7;
/// thule's personal access token (a machine user, [`thule_bot`]).
pub const TOKEN: &str = "ghp_thuleTestToken0123456789abcdefABCDEF";
/// A GitHub Actions `GITHUB_TOKEN` (it posts as [`actions_bot`]; `GET /user` answers 403).
pub const ACTIONS_TOKEN: &str = "ghs_actionsRunToken0123456789abcdefABCD";
/// The GitHub App's id.
pub const APP_ID: &str = "424242";
/// The App's installation on the repository.
pub const INSTALLATION_ID: u64 = 1337;
/// The App's slug (its bot is `thule-plan[bot]`).
pub const APP_SLUG: &str = "thule-plan";

/// A GitHub account.
#[derive(Clone, Debug)]
pub struct User {
    /// Its login (`github-actions[bot]` for the Actions token).
    pub login: String,
    /// Its id.
    pub id: u64,
    /// A bot account (`"type": "Bot"`).
    pub bot: bool,
}

impl User {
    /// An account.
    pub fn new(login: &str, id: u64, bot: bool) -> Self {
        Self {
            login: login.to_owned(),
            id,
            bot,
        }
    }

    /// The account as GitHub's API shows it (`user` of a comment, `GET /user`).
    pub fn json(&self) -> Value {
        json!({
            "login": self.login,
            "id": self.id,
            "node_id": format!("MDQ6VXNlcj{}", self.id),
            "avatar_url": format!("https://avatars.githubusercontent.com/u/{}?v=4", self.id),
            "url": format!("https://api.github.com/users/{}", self.login),
            "html_url": format!("https://github.com/{}", self.login),
            "type": if self.bot { "Bot" } else { "User" },
            "site_admin": false
        })
    }
}

/// thule's machine user, whose personal access token is [`TOKEN`].
pub fn thule_bot() -> User {
    User::new("thule-bot", 9_001, false)
}
/// A reviewer (no token: her comments are added with [`FakeGitHub::add_comment`]).
pub fn alice() -> User {
    User::new("alice", 101, false)
}
/// `github-actions[bot]`, the author of what the Actions token ([`ACTIONS_TOKEN`]) posts.
pub fn actions_bot() -> User {
    User::new(ACTIONS_BOT_LOGIN, 41_898_282, true)
}
/// The GitHub App's bot (`thule-plan[bot]`), the author of what installation tokens post.
pub fn app_bot() -> User {
    User::new(&format!("{APP_SLUG}[bot]"), 5_000_001, true)
}

/// An issue comment as the fake holds it.
#[derive(Clone, Debug)]
pub struct StoredComment {
    /// Its REST id.
    pub id: u64,
    /// Its GraphQL node id.
    pub node_id: String,
    /// The issue or pull request it is on.
    pub issue: u64,
    /// Its author.
    pub user: User,
    /// Its body.
    pub body: String,
    /// The classifier it was minimized with (`OUTDATED`), if it was.
    pub minimized: Option<String>,
}

/// Who a bearer token is.
#[derive(Clone, Debug)]
pub enum Who {
    /// A personal access token.
    User(User),
    /// An Actions `GITHUB_TOKEN` (comments as `github-actions[bot]`, no `GET /user`).
    Actions,
    /// An App installation token, until it expires.
    Installation {
        /// When it expires, in epoch seconds.
        expires: u64,
    },
}

/// The GitHub App the fake accepts JWTs of (see [`FakeGitHub::enable_app`]).
pub struct AppConfig {
    /// The App's public key, which verifies its JWTs.
    pub public: DecodingKey,
    /// How long installation tokens last.
    pub token_lifetime: Duration,
}

/// The fake's state. Tests read it and change it (a new head, injected failures) through
/// [`FakeGitHub::state`].
pub struct State {
    /// Every issue comment, in creation order (of every issue; see
    /// [`FakeGitHub::comments`] for the pull request's).
    pub comments: Vec<StoredComment>,
    /// The last comment id given.
    pub next_id: u64,
    /// Every commit status posted, in order: the commit and the request body.
    pub statuses: Vec<(String, Value)>,
    /// The pull request, as `GET /repos/{owner}/{repo}/pulls/{n}` answers it (see
    /// [`pull_json`]).
    pub pull: Value,
    /// The pull request's files, as `GET .../pulls/{n}/files` lists them.
    pub files: Vec<Value>,
    /// Who each bearer token is.
    pub tokens: HashMap<String, Who>,
    /// Answer the next requests with these, whatever they ask.
    pub failures: VecDeque<Reply>,
    /// `minimizeComment` answers FORBIDDEN (an integration without the permission).
    pub deny_minimize: bool,
    /// The GitHub App, when enabled.
    pub app: Option<AppConfig>,
    /// The installation tokens issued, with their `expires_at` (epoch seconds).
    pub exchanges: Vec<(String, u64)>,
    /// The claims of every JWT the fake accepted.
    pub jwt_claims: Vec<Value>,
}

impl State {
    /// A new head commit (a push to the pull request's branch): `head.sha`.
    pub fn set_head(&mut self, sha: &str) {
        self.pull["head"]["sha"] = json!(sha);
    }
}

/// Now, in epoch seconds.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `2016-07-11T22:14:10Z` for an epoch second.
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// GitHub's error shape: `message`, `documentation_url` (under `https://docs.github.com/rest/`
/// and `doc`) and `status`.
pub fn gh_error(status: u16, message: &str, doc: &str) -> Reply {
    Reply::json(
        status,
        &json!({
            "message": message,
            "documentation_url": format!("https://docs.github.com/rest/{doc}"),
            "status": status.to_string()
        }),
    )
}

/// GitHub's 404.
pub fn not_found() -> Reply {
    gh_error(404, "Not Found", "")
}

/// A running fake GitHub: its state and the loopback server answering from it. It stops when
/// dropped.
pub struct FakeGitHub {
    /// The server (its request log, [`LoopbackServer::clear`]).
    pub server: LoopbackServer,
    state: Arc<Mutex<State>>,
}

impl FakeGitHub {
    /// Start a fake GitHub whose pull request is at `head` over `base`, knowing [`TOKEN`] and
    /// [`ACTIONS_TOKEN`]. Must be called inside a tokio runtime.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(head: &str, base: &str) -> Self {
        let state = Arc::new(Mutex::new(State {
            comments: Vec::new(),
            next_id: 1_000_000_000,
            statuses: Vec::new(),
            pull: pull_json(head, base),
            files: Vec::new(),
            tokens: HashMap::from([
                (TOKEN.to_owned(), Who::User(thule_bot())),
                (ACTIONS_TOKEN.to_owned(), Who::Actions),
            ]),
            failures: VecDeque::new(),
            deny_minimize: false,
            app: None,
            exchanges: Vec::new(),
            jwt_claims: Vec::new(),
        }));
        let shared = Arc::clone(&state);
        let server = LoopbackServer::start(move |req| {
            let mut state = shared.lock().unwrap_or_else(PoisonError::into_inner);
            handle(&mut state, req)
        })
        .await;
        Self { server, state }
    }

    /// The state, locked (release it before the next request is answered).
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The REST and GraphQL URLs (`http://127.0.0.1:PORT/api/v3`, `.../api/graphql`), as
    /// GitHub Actions' `GITHUB_API_URL` and `GITHUB_GRAPHQL_URL` on GitHub Enterprise Server.
    pub fn urls(&self) -> (String, String) {
        enterprise_urls(&self.server.url())
    }

    /// Add a comment to the pull request as `user`, as if posted earlier; returns its id.
    pub fn add_comment(&self, user: &User, body: &str) -> u64 {
        let mut state = self.state();
        store_comment(&mut state, PR, user.clone(), body.to_owned())
    }

    /// The pull request's comments, oldest first.
    pub fn comments(&self) -> Vec<StoredComment> {
        self.state()
            .comments
            .iter()
            .filter(|c| c.issue == PR)
            .cloned()
            .collect()
    }

    /// The pull request's comment `id`.
    ///
    /// # Panics
    /// When there is none.
    pub fn comment(&self, id: u64) -> StoredComment {
        self.comments()
            .into_iter()
            .find(|c| c.id == id)
            .expect("no such comment")
    }

    /// Answer the next `n` requests with `reply`, whatever they ask.
    pub fn fail_next(&self, n: usize, reply: &Reply) {
        self.state()
            .failures
            .extend(std::iter::repeat_n(reply.clone(), n));
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.server.requests()
    }

    /// How many requests so far had `method` and a REST path (after `/api/v3`) starting with
    /// `prefix`.
    pub fn count(&self, method: &str, prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && rest_path(r).is_some_and(|p| p.starts_with(prefix)))
            .count()
    }

    /// The bodies of the GraphQL requests so far whose query contains `needle`.
    pub fn graphql(&self, needle: &str) -> Vec<Value> {
        self.requests()
            .iter()
            .filter(|r| r.path == "/api/graphql")
            .map(Recorded::json)
            .filter(|b| b["query"].as_str().is_some_and(|q| q.contains(needle)))
            .collect()
    }

    /// Accept JWTs of the App [`APP_ID`] signed with the private half of `public_key_pem`,
    /// and exchange them for installation tokens that last `token_lifetime`.
    ///
    /// # Panics
    /// When `public_key_pem` is not an RSA public key in PEM.
    pub fn enable_app(&self, public_key_pem: &str, token_lifetime: Duration) {
        self.state().app = Some(AppConfig {
            public: DecodingKey::from_rsa_pem(public_key_pem.as_bytes())
                .expect("an RSA public key in PEM"),
            token_lifetime,
        });
    }
}

fn store_comment(state: &mut State, issue: u64, user: User, body: String) -> u64 {
    state.next_id += 1;
    let id = state.next_id;
    state.comments.push(StoredComment {
        id,
        node_id: format!("IC_kwDOAEC1hc{id}"),
        issue,
        user,
        body,
        minimized: None,
    });
    id
}

fn comment_json(host: &str, c: &StoredComment) -> Value {
    let api = format!("http://{host}/api/v3/repos/{OWNER_REPO}");
    json!({
        "url": format!("{api}/issues/comments/{}", c.id),
        "html_url": format!("http://{host}/{OWNER_REPO}/pull/{}#issuecomment-{}", c.issue, c.id),
        "issue_url": format!("{api}/issues/{}", c.issue),
        "id": c.id,
        "node_id": c.node_id,
        "user": c.user.json(),
        "created_at": rfc3339(1_700_000_000 + c.id % 1_000_000),
        "updated_at": rfc3339(1_700_000_000 + c.id % 1_000_000),
        "author_association": if c.user.login == "alice" { "MEMBER" } else { "NONE" },
        "body": c.body,
        "reactions": {
            "url": format!("{api}/issues/comments/{}/reactions", c.id),
            "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
            "confused": 0, "heart": 0, "rocket": 0, "eyes": 0
        },
        "performed_via_github_app": null
    })
}

/// The pull request [`PR`] of [`OWNER_REPO`], from a fork, at `head` over `base`, as GitHub's
/// API answers it.
pub fn pull_json(head: &str, base: &str) -> Value {
    let repo = |full: &str, id: u64| {
        json!({
            "id": id,
            "node_id": format!("R_kgDO{id}"),
            "name": full.split('/').nth(1).unwrap_or(full),
            "full_name": full,
            "private": false,
            "owner": User::new(full.split('/').next().unwrap_or(full), id + 1, false).json(),
            "clone_url": format!("https://github.com/{full}.git"),
            "default_branch": "main"
        })
    };
    json!({
        "url": format!("https://api.github.com/repos/{OWNER_REPO}/pulls/{PR}"),
        "id": 1_987_654_321u64,
        "node_id": "PR_kwDOAEC1hc5wHh7x",
        "html_url": format!("https://github.com/{OWNER_REPO}/pull/{PR}"),
        "number": PR,
        "state": "open",
        "locked": false,
        "title": "Scale the payments service",
        "user": User::new("contributor", 555, false).json(),
        "body": "Bump replicas.",
        "labels": [
            {"id": 1, "node_id": "LA_1", "name": "thule", "color": "ededed", "default": false},
            {"id": 2, "node_id": "LA_2", "name": "team-payments", "color": "0e8a16", "default": false}
        ],
        "created_at": "2024-05-01T10:00:00Z",
        "updated_at": "2024-05-01T11:00:00Z",
        "closed_at": null,
        "merged_at": null,
        "merge_commit_sha": null,
        "draft": true,
        "head": {
            "label": "contributor:scale-payments",
            "ref": "scale-payments",
            "sha": head,
            "user": User::new("contributor", 555, false).json(),
            "repo": repo("contributor/gitops", 777)
        },
        "base": {
            "label": "octo-org:main",
            "ref": "main",
            "sha": base,
            "user": User::new("octo-org", 9, false).json(),
            "repo": repo(OWNER_REPO, REPO_ID)
        },
        "merged": false,
        "mergeable": true,
        "comments": 0,
        "commits": 1,
        "additions": 1,
        "deletions": 1,
        "changed_files": 1
    })
}

/// The REST path below `/api/v3`, if it is one.
fn rest_path(req: &Recorded) -> Option<&str> {
    req.path.strip_prefix("/api/v3")
}

/// Serve `items` as GitHub pages them: `per_page` (default 30, at most 100), `page`, and a
/// `Link` header with absolute `/repositories/{id}/...` URLs.
fn paginate(req: &Recorded, items: &[Value], canonical: &str) -> Reply {
    let per_page = req
        .query
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = req
        .query
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let start = ((page - 1) * per_page).min(items.len());
    let end = (start + per_page).min(items.len());
    let mut reply = Reply::json(200, &Value::Array(items[start..end].to_vec()));
    let host = req.header("host").unwrap_or("127.0.0.1");
    let url = |p: usize| {
        format!(
            "<http://{host}/api/v3/repositories/{REPO_ID}/{canonical}?per_page={per_page}&page={p}>"
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
        links.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", url(1)));
    }
    if !links.is_empty() {
        reply = reply.with_header("link", &links.join(", "));
    }
    reply
}

/// Verify an App JWT as GitHub does: RS256 with the App's public key, issuer the App id,
/// `iat` in the past, `exp` in the future but at most 10 minutes ahead.
fn verify_jwt(state: &mut State, jwt: &str) -> Result<(), Reply> {
    let Some(app) = &state.app else {
        return Err(gh_error(
            401,
            "A JSON web token could not be decoded",
            "apps",
        ));
    };
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[APP_ID]);
    validation.set_required_spec_claims(&["exp", "iat", "iss"]);
    validation.leeway = 0;
    let data = jsonwebtoken::decode::<Value>(jwt, &app.public, &validation).map_err(|e| {
        gh_error(
            401,
            &format!("A JSON web token could not be decoded ({e})"),
            "apps",
        )
    })?;
    let now = now_secs();
    let iat = data.claims["iat"].as_u64().unwrap_or(u64::MAX);
    let exp = data.claims["exp"].as_u64().unwrap_or(0);
    if iat > now {
        return Err(gh_error(
            401,
            "'Issued at' claim ('iat') must be an Integer representing a time in the past",
            "apps",
        ));
    }
    if exp > now + 600 {
        return Err(gh_error(
            401,
            "'Expiration time' claim ('exp') is too far in the future",
            "apps",
        ));
    }
    state.jwt_claims.push(data.claims);
    Ok(())
}

fn handle(state: &mut State, req: &Recorded) -> Reply {
    if req.header("user-agent").is_none_or(str::is_empty) {
        return Reply {
            status: 403,
            headers: vec![("content-type".into(), "text/html".into())],
            body: b"Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.\n".to_vec(),
        };
    }
    if let Some(reply) = state.failures.pop_front() {
        return reply;
    }
    let bearer = req
        .header("authorization")
        .and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("token "))
        })
        .map(str::to_owned);
    if req.path == "/api/graphql" {
        return match bearer.as_deref().and_then(|t| who(state, t)) {
            Some(who) => graphql(state, req, &who),
            None => gh_error(
                401,
                "This endpoint requires you to be authenticated.",
                "graphql",
            ),
        };
    }
    let Some(path) = rest_path(req) else {
        return not_found();
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // The App's own endpoints take the JWT.
    if segments.first() == Some(&"app") {
        let Some(jwt) = bearer else {
            return gh_error(401, "Requires authentication", "apps");
        };
        if let Err(reply) = verify_jwt(state, &jwt) {
            return reply;
        }
        return app_endpoint(state, req, &segments);
    }
    let Some(who) = bearer.as_deref().and_then(|t| who(state, t)) else {
        return gh_error(401, "Bad credentials", "");
    };
    let author = match &who {
        Who::User(u) => u.clone(),
        Who::Actions => actions_bot(),
        Who::Installation { .. } => app_bot(),
    };
    let host = req.header("host").unwrap_or("127.0.0.1").to_owned();
    let (o, r) = OWNER_REPO.split_once('/').unwrap_or((OWNER_REPO, ""));
    let repo_id = REPO_ID.to_string();
    let m = req.method.as_str();
    match segments.as_slice() {
        ["user"] if m == "GET" => match who {
            Who::User(u) => Reply::json(200, &u.json()),
            _ => gh_error(
                403,
                "Resource not accessible by integration",
                "users/users#get-the-authenticated-user",
            ),
        },
        ["repos", ro, rr, "issues", n, "comments"] if (*ro, *rr) == (o, r) => {
            let Ok(n) = n.parse::<u64>() else {
                return not_found();
            };
            match m {
                "GET" => list_comments(state, req, &host, n),
                "POST" => {
                    let body = req.json()["body"].as_str().unwrap_or_default().to_owned();
                    if body.chars().count() > GITHUB_COMMENT_LIMIT {
                        return too_long();
                    }
                    let id = store_comment(state, n, author, body);
                    let c = state.comments.iter().find(|c| c.id == id);
                    Reply::json(201, &c.map_or(Value::Null, |c| comment_json(&host, c)))
                }
                _ => not_found(),
            }
        }
        ["repositories", id, "issues", n, "comments"] if *id == repo_id && m == "GET" => {
            match n.parse::<u64>() {
                Ok(n) => list_comments(state, req, &host, n),
                Err(_) => not_found(),
            }
        }
        ["repos", ro, rr, "issues", "comments", id] if (*ro, *rr) == (o, r) => {
            let Some(i) = id
                .parse::<u64>()
                .ok()
                .and_then(|id| state.comments.iter().position(|c| c.id == id))
            else {
                return not_found();
            };
            match m {
                "GET" => Reply::json(200, &comment_json(&host, &state.comments[i])),
                "PATCH" | "DELETE" if state.comments[i].user.login != author.login => gh_error(
                    403,
                    "You must have write access to edit another user's comment",
                    "issues/comments",
                ),
                "PATCH" => {
                    let body = req.json()["body"].as_str().unwrap_or_default().to_owned();
                    if body.chars().count() > GITHUB_COMMENT_LIMIT {
                        return too_long();
                    }
                    state.comments[i].body = body;
                    Reply::json(200, &comment_json(&host, &state.comments[i]))
                }
                "DELETE" => {
                    state.comments.remove(i);
                    Reply::empty(204)
                }
                _ => not_found(),
            }
        }
        ["repos", ro, rr, "statuses", sha] if (*ro, *rr) == (o, r) && m == "POST" => {
            let body = req.json();
            let state_word = body["state"].as_str().unwrap_or_default();
            if !["pending", "success", "failure", "error"].contains(&state_word) {
                return Reply::json(
                    422,
                    &json!({"message": "Validation Failed", "errors": [{"resource": "Status", "code": "custom", "field": "state", "message": format!("state is not included in the list")}], "documentation_url": "https://docs.github.com/rest/commits/statuses#create-a-commit-status", "status": "422"}),
                );
            }
            state.statuses.push(((*sha).to_owned(), body.clone()));
            Reply::json(
                201,
                &json!({
                    "url": format!("https://api.github.com/repos/{OWNER_REPO}/statuses/{sha}"),
                    "id": state.statuses.len(),
                    "node_id": format!("SC_{}", state.statuses.len()),
                    "state": state_word,
                    "description": body["description"],
                    "target_url": body["target_url"],
                    "context": body["context"],
                    "created_at": "2024-05-01T11:00:00Z",
                    "updated_at": "2024-05-01T11:00:00Z",
                    "creator": author.json()
                }),
            )
        }
        ["repos", ro, rr, "pulls", n] if (*ro, *rr) == (o, r) && m == "GET" => {
            if n.parse::<u64>() == Ok(PR) {
                Reply::json(200, &state.pull)
            } else {
                not_found()
            }
        }
        ["repos", ro, rr, "pulls", n, "files"] if (*ro, *rr) == (o, r) && m == "GET" => {
            list_files(state, req, n)
        }
        ["repositories", id, "pulls", n, "files"] if *id == repo_id && m == "GET" => {
            list_files(state, req, n)
        }
        _ => not_found(),
    }
}

fn too_long() -> Reply {
    Reply::json(
        422,
        &json!({
            "message": "Validation Failed",
            "errors": [{"resource": "IssueComment", "code": "custom", "field": "body",
                        "message": "body is too long (maximum is 65536 characters)"}],
            "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
            "status": "422"
        }),
    )
}

fn who(state: &State, token: &str) -> Option<Who> {
    match state.tokens.get(token)? {
        Who::Installation { expires } if *expires <= now_secs() => None,
        who => Some(who.clone()),
    }
}

fn list_comments(state: &State, req: &Recorded, host: &str, n: u64) -> Reply {
    let items: Vec<Value> = state
        .comments
        .iter()
        .filter(|c| c.issue == n)
        .map(|c| comment_json(host, c))
        .collect();
    paginate(req, &items, &format!("issues/{n}/comments"))
}

fn list_files(state: &State, req: &Recorded, n: &str) -> Reply {
    if n.parse::<u64>() != Ok(PR) {
        return not_found();
    }
    // GitHub lists at most 3,000 files.
    let files = &state.files[..state.files.len().min(3_000)];
    paginate(req, files, &format!("pulls/{PR}/files"))
}

fn app_endpoint(state: &mut State, req: &Recorded, segments: &[&str]) -> Reply {
    match (req.method.as_str(), segments) {
        ("GET", ["app"]) => Reply::json(
            200,
            &json!({
                "id": APP_ID.parse::<u64>().unwrap_or_default(),
                "slug": APP_SLUG,
                "node_id": "A_kwDOAEC1hc4AAZ2y",
                "client_id": "Iv23liTHULEtest",
                "owner": User::new("octo-org", 9, false).json(),
                "name": "thule plan",
                "description": "Kubernetes GitOps plans",
                "external_url": "https://example.invalid/thule",
                "html_url": format!("https://github.com/apps/{APP_SLUG}"),
                "created_at": "2024-01-01T00:00:00Z",
                "updated_at": "2024-01-01T00:00:00Z",
                "permissions": {"issues": "write", "pull_requests": "write", "statuses": "write", "metadata": "read"},
                "events": ["pull_request", "issue_comment"]
            }),
        ),
        ("POST", ["app", "installations", id, "access_tokens"]) => {
            if id.parse::<u64>() != Ok(INSTALLATION_ID) {
                return gh_error(
                    404,
                    "Not Found",
                    "apps/apps#create-an-installation-access-token-for-an-app",
                );
            }
            let asked = req.json();
            let (_, name) = OWNER_REPO.split_once('/').unwrap_or(("", OWNER_REPO));
            if asked["repositories"] != json!([name]) {
                return gh_error(
                    422,
                    "The repositories asked for are not in the installation",
                    "apps",
                );
            }
            let lifetime = state
                .app
                .as_ref()
                .map_or(3_600, |a| a.token_lifetime.as_secs());
            let expires = now_secs() + lifetime;
            let token = format!("ghs_installationToken{:04}xyz", state.exchanges.len() + 1);
            state
                .tokens
                .insert(token.clone(), Who::Installation { expires });
            state.exchanges.push((token.clone(), expires));
            Reply::json(
                201,
                &json!({
                    "token": token,
                    "expires_at": rfc3339(expires),
                    "permissions": {"issues": "write", "pull_requests": "write", "statuses": "write", "metadata": "read"},
                    "repository_selection": "selected",
                    "repositories": [{"id": REPO_ID, "name": name, "full_name": OWNER_REPO}]
                }),
            )
        }
        _ => not_found(),
    }
}

fn graphql_errors(data: Value, errors: Value) -> Reply {
    Reply::json(200, &json!({ "data": data, "errors": errors }))
}

/// The GraphQL operations thule uses, recognised by their text.
fn graphql(state: &mut State, req: &Recorded, who: &Who) -> Reply {
    let body = req.json();
    let query = body["query"].as_str().unwrap_or_default();
    let vars = &body["variables"];
    if query.contains("minimizeComment(") {
        if !query.contains("classifier: OUTDATED") || !query.contains("isMinimized") {
            return graphql_errors(
                Value::Null,
                json!([{"message": "the fake expects classifier: OUTDATED and isMinimized"}]),
            );
        }
        let id = vars["id"].as_str().unwrap_or_default();
        if state.deny_minimize {
            return graphql_errors(
                json!({"minimizeComment": null}),
                json!([{"type": "FORBIDDEN", "path": ["minimizeComment"], "locations": [{"line": 1, "column": 20}],
                        "message": "Resource not accessible by integration"}]),
            );
        }
        let author = match who {
            Who::User(u) => u.login.clone(),
            Who::Actions => ACTIONS_BOT_LOGIN.to_owned(),
            Who::Installation { .. } => app_bot().login,
        };
        return match state.comments.iter_mut().find(|c| c.node_id == id) {
            Some(c) if c.user.login == author => {
                c.minimized = Some("OUTDATED".to_owned());
                Reply::json(
                    200,
                    &json!({"data": {"minimizeComment": {"minimizedComment": {"isMinimized": true, "minimizedReason": "outdated"}}}}),
                )
            }
            Some(_) => graphql_errors(
                json!({"minimizeComment": null}),
                json!([{"type": "FORBIDDEN", "path": ["minimizeComment"], "locations": [{"line": 1, "column": 20}],
                        "message": format!("{author} does not have the correct permissions to execute `MinimizeComment`")}]),
            ),
            None => graphql_errors(
                json!({"minimizeComment": null}),
                json!([{"type": "NOT_FOUND", "path": ["minimizeComment"], "locations": [{"line": 1, "column": 20}],
                        "message": format!("Could not resolve to a node with the global id of '{id}'")}]),
            ),
        };
    }
    if query.contains("nodes(ids:") {
        let ids: Vec<&str> = vars["ids"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if ids.len() > 100 {
            return graphql_errors(
                Value::Null,
                json!([{"type": "EXCESSIVE_PAGINATION", "message": format!("You may not ask for more than 100 node IDs at once; you asked for {}.", ids.len())}]),
            );
        }
        let mut errors = Vec::new();
        let nodes: Vec<Value> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| match state.comments.iter().find(|c| c.node_id == *id) {
                Some(c) => json!({"id": c.node_id, "isMinimized": c.minimized.is_some()}),
                None => {
                    errors.push(json!({"type": "NOT_FOUND", "path": ["nodes", i],
                        "message": format!("Could not resolve to a node with the global id of '{id}'.")}));
                    Value::Null
                }
            })
            .collect();
        let data = json!({ "nodes": nodes });
        return if errors.is_empty() {
            Reply::json(200, &json!({ "data": data }))
        } else {
            graphql_errors(data, Value::Array(errors))
        };
    }
    graphql_errors(
        Value::Null,
        json!([{"message": "Parse error on \"?\" (error) at [1, 1]", "locations": [{"line": 1, "column": 1}]}]),
    )
}
