//! The Gitea/Forgejo adapter, driven by the real [`Publisher`], against a loopback HTTP server
//! that speaks Gitea's real REST API (v1) with the real payload shapes: no real Gitea can run
//! here. The fake keeps comments (ids, authors, `html_url`), commit statuses, a pull request
//! and its changed files; it answers the comment list the way Gitea does (all comments at
//! once, with `X-Total-Count`), or, in its paging mode, with `page`/`limit` and `Link` headers
//! as Gitea's other lists do; it pages changed files as Gitea does (`limit` capped at 50,
//! `Link`, `X-Total-Count`).

#![cfg(feature = "gitea")]

mod common;

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value, json};
use thule_vcs::gitea::{DEFAULT_COMMENT_LIMIT, Gitea};
use thule_vcs::http::Secret;
use thule_vcs::testing::{LoopbackServer, Recorded, Reply};
use thule_vcs::{
    ChangedPath, CommitStatus, ErrorKind, MrState, Provider, ProviderKind, Publisher, StatusState,
    split_markdown,
};

use common::{count, fast_retry, object_name, origin, part_of, plan_blocks, sha};

const TOKEN: &str = "gitea-tok-5f1e2d9c";
const REPO: &str = "org/deploy";
const BOT: &str = "thule-bot";
const BOT_ID: i64 = 41;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Stored {
    id: u64,
    login: String,
    uid: i64,
    body: String,
}

#[derive(Default)]
struct State {
    comments: Vec<Stored>,
    next_id: u64,
    statuses: Vec<(String, Value)>,
    pr: Value,
    files: Vec<Value>,
    /// Page the comment list (`page`/`limit`, `Link`) instead of answering it whole.
    paged_comments: bool,
}

impl State {
    fn with_comments(comments: Vec<(&str, i64, String)>) -> Self {
        let mut s = State {
            next_id: 100,
            ..State::default()
        };
        for (login, uid, body) in comments {
            s.add(login, uid, body);
        }
        s
    }

    fn add(&mut self, login: &str, uid: i64, body: String) -> u64 {
        self.next_id += 1;
        self.comments.push(Stored {
            id: self.next_id,
            login: login.to_owned(),
            uid,
            body,
        });
        self.next_id
    }
}

fn user_json(login: &str, id: i64) -> Value {
    json!({
        "id": id, "login": login, "login_name": "", "full_name": "", "email": format!("{login}@noreply.gitea.example"),
        "avatar_url": format!("https://gitea.example/avatars/{id}"), "language": "", "is_admin": false,
        "last_login": "2026-01-01T00:00:00Z", "created": "2025-01-01T00:00:00Z", "restricted": false,
        "active": true, "prohibit_login": false, "location": "", "website": "", "description": "",
        "visibility": "public", "followers_count": 0, "following_count": 0, "starred_repos_count": 0,
        "username": login
    })
}

fn comment_json(origin: &str, c: &Stored) -> Value {
    json!({
        "id": c.id,
        "html_url": format!("{origin}/{REPO}/pulls/7#issuecomment-{}", c.id),
        "pull_request_url": format!("{origin}/{REPO}/pulls/7"),
        "issue_url": "",
        "user": user_json(&c.login, c.uid),
        "original_author": "",
        "original_author_id": 0,
        "body": c.body,
        "assets": [],
        "created_at": "2026-03-01T10:00:00Z",
        "updated_at": "2026-03-01T10:00:00Z"
    })
}

fn not_found(origin: &str) -> Reply {
    Reply::json(
        404,
        &json!({"errors": ["the target couldn't be found"], "message": "The target couldn't be found.", "url": format!("{origin}/api/swagger")}),
    )
}

/// One page of `items` as Gitea pages a list: `page` from 1, `limit` (default 30, at most
/// 50), `Link` (next, last, first, prev) and `X-Total-Count`.
fn gitea_page(req: &Recorded, items: &[Value]) -> Reply {
    let page: usize = req
        .query
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let limit: usize = req
        .query
        .get("limit")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30)
        .clamp(1, 50);
    let start = ((page - 1) * limit).min(items.len());
    let end = (start + limit).min(items.len());
    let pages = items.len().div_ceil(limit).max(1);
    let link = |p: usize, rel: &str| {
        format!(
            "<{}{}?limit={limit}&page={p}>; rel=\"{rel}\"",
            origin(req),
            req.path
        )
    };
    let mut links = Vec::new();
    if page < pages {
        links.push(link(page + 1, "next"));
        links.push(link(pages, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
        links.push(link(page - 1, "prev"));
    }
    let mut reply = Reply::json(200, &Value::Array(items[start..end].to_vec()))
        .with_header("x-total-count", &items.len().to_string());
    if !links.is_empty() {
        reply = reply.with_header("link", &links.join(","));
    }
    reply
}

fn handle(state: &Mutex<State>, req: &Recorded) -> Reply {
    let origin = origin(req);
    if req.header("authorization") != Some(&format!("token {TOKEN}")) {
        return Reply::json(401, &json!({"message": "token is required", "url": origin}));
    }
    let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(path) = req.path.strip_prefix("/api/v1") else {
        return not_found(&origin);
    };
    let repo = format!("/repos/{REPO}");
    let Some(rest) = path.strip_prefix(&repo) else {
        return match (req.method.as_str(), path) {
            ("GET", "/user") => Reply::json(200, &user_json(BOT, BOT_ID)),
            _ => not_found(&origin),
        };
    };
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", ["issues", "7", "comments"]) => {
            let all: Vec<Value> = s
                .comments
                .iter()
                .map(|c| comment_json(&origin, c))
                .collect();
            if s.paged_comments {
                gitea_page(req, &all)
            } else {
                // Gitea answers this list whole, whatever `page` and `limit` say.
                Reply::json(200, &Value::Array(all.clone()))
                    .with_header("x-total-count", &all.len().to_string())
            }
        }
        ("POST", ["issues", "7", "comments"]) => {
            let Some(body) = req.json()["body"].as_str().map(str::to_owned) else {
                return Reply::json(422, &json!({"message": "[Body]: Required", "url": origin}));
            };
            let id = s.add(BOT, BOT_ID, body);
            let c = s.comments.iter().find(|c| c.id == id).unwrap().clone();
            Reply::json(201, &comment_json(&origin, &c))
        }
        ("PATCH", ["issues", "comments", id]) => {
            let body = req.json()["body"].as_str().unwrap_or_default().to_owned();
            let Some(c) = s.comments.iter_mut().find(|c| c.id.to_string() == *id) else {
                return not_found(&origin);
            };
            c.body = body;
            let c = c.clone();
            Reply::json(200, &comment_json(&origin, &c))
        }
        ("DELETE", ["issues", "comments", id]) => {
            let before = s.comments.len();
            s.comments.retain(|c| c.id.to_string() != *id);
            if s.comments.len() == before {
                not_found(&origin)
            } else {
                Reply::empty(204)
            }
        }
        ("POST", ["statuses", sha]) => {
            let body = req.json();
            let state = body["state"].as_str().unwrap_or_default();
            if !["pending", "success", "error", "failure", "warning"].contains(&state) {
                return Reply::json(422, &json!({"message": "invalid state", "url": origin}));
            }
            s.statuses.push(((*sha).to_owned(), body.clone()));
            Reply::json(
                201,
                &json!({
                    "id": s.statuses.len(), "status": state, "target_url": body["target_url"],
                    "description": body["description"], "url": format!("{origin}/api/v1/repos/{REPO}/statuses/{sha}"),
                    "context": body["context"], "creator": user_json(BOT, BOT_ID),
                    "created_at": "2026-03-01T10:00:00Z", "updated_at": "2026-03-01T10:00:00Z"
                }),
            )
        }
        ("GET", ["pulls", "7"]) if !s.pr.is_null() => Reply::json(200, &s.pr),
        ("GET", ["pulls", "7", "files"]) => gitea_page(req, &s.files),
        _ => not_found(&origin),
    }
}

struct Fake {
    server: LoopbackServer,
    state: Arc<Mutex<State>>,
}

impl Fake {
    async fn start(state: State) -> Self {
        let state = Arc::new(Mutex::new(state));
        let shared = Arc::clone(&state);
        let server = LoopbackServer::start(move |req| handle(&shared, req)).await;
        Self { server, state }
    }

    fn adapter(&self) -> Gitea {
        Gitea::new(
            &format!("{}/api/v1", self.server.url()),
            REPO,
            Secret::new(TOKEN),
            false,
        )
        .unwrap()
        .with_retry(fast_retry())
    }

    async fn publisher(&self) -> Publisher<Gitea> {
        Publisher::new(self.adapter()).await.unwrap()
    }

    fn comments(&self) -> Vec<Stored> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .comments
            .clone()
    }

    fn statuses(&self) -> Vec<(String, Value)> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .statuses
            .clone()
    }

    fn html_url(&self, id: u64) -> String {
        format!("{}/{REPO}/pulls/7#issuecomment-{id}", self.server.url())
    }
}

fn status(state: StatusState, url: Option<String>) -> CommitStatus {
    CommitStatus {
        context: "thule/plan".into(),
        state,
        description: "3 objects change in 1 project; no blockers".into(),
        target_url: url,
    }
}

fn marker(sha: &str, part: usize, parts: usize) -> String {
    format!("<!-- thule:plan v=1 provider=gitea repo={REPO} mr=7 sha={sha} part={part}/{parts} -->")
}

#[tokio::test]
async fn the_first_plan_is_one_marked_comment_and_the_status_goes_pending_then_success() {
    let fake = Fake::start(State::with_comments(vec![])).await;
    let publisher = fake.publisher().await;
    assert_eq!(publisher.identity().login, BOT);
    assert_eq!(publisher.identity().id.as_deref(), Some("41"));
    let mr = publisher.provider().mr(7);
    let head = sha('a');

    publisher
        .set_status(&mr.repo, &head, &status(StatusState::Pending, None))
        .await
        .unwrap();
    let out = publisher
        .publish(&mr, &head, &["**3 objects change**".to_owned()])
        .await
        .unwrap();
    publisher
        .set_status(
            &mr.repo,
            &head,
            &status(StatusState::Success, out.url.clone()),
        )
        .await
        .unwrap();

    let comments = fake.comments();
    assert_eq!(comments.len(), 1);
    assert_eq!(
        comments[0].body,
        format!("{}\n**3 objects change**", marker(&head, 1, 1))
    );
    assert_eq!(out.created.len(), 1);
    assert_eq!(out.url, Some(fake.html_url(comments[0].id)));

    let statuses = fake.statuses();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.iter().all(|(s, _)| *s == head));
    assert_eq!(statuses[0].1["state"], "pending");
    assert_eq!(statuses[0].1["context"], "thule/plan");
    assert!(statuses[0].1.get("target_url").is_none());
    assert_eq!(statuses[1].1["state"], "success");
    assert_eq!(statuses[1].1["target_url"], json!(out.url.unwrap()));

    for r in fake.server.requests() {
        assert_eq!(
            r.header("authorization"),
            Some(&*format!("token {TOKEN}")),
            "{}",
            r.line()
        );
    }
}

#[tokio::test]
async fn a_new_head_sha_posts_a_new_plan_and_collapses_the_old_one_with_a_link() {
    let fake = Fake::start(State::with_comments(vec![])).await;
    let publisher = fake.publisher().await;
    let mr = publisher.provider().mr(7);
    let (old, new) = (sha('a'), sha('b'));
    publisher
        .publish(&mr, &old, &["old plan body".to_owned()])
        .await
        .unwrap();

    let out = publisher
        .publish(&mr, &new, &["new plan body".to_owned()])
        .await
        .unwrap();

    let comments = fake.comments();
    assert_eq!(comments.len(), 2, "a new comment, the old one kept");
    let (first, second) = (&comments[0], &comments[1]);
    assert_eq!(out.created.len(), 1);
    assert_eq!(out.created[0].id, second.id);
    assert_eq!(out.superseded.len(), 1);
    assert_eq!(out.superseded[0].id, first.id);
    assert!(second.body.starts_with(&marker(&new, 1, 1)));
    assert!(
        first.body.starts_with(&format!(
            "<!-- thule:superseded v=1 provider=gitea repo={REPO} mr=7 sha={old} part=1/1 -->"
        )),
        "{}",
        first.body
    );
    let link = format!(
        "**Superseded** by [the plan for `bbbbbbbbbbbb`]({}).",
        fake.html_url(second.id)
    );
    assert!(first.body.contains(&link), "{}", first.body);
    // Gitea renders <details>: the old plan stays, collapsed.
    assert!(first.body.contains("<details><summary>Older thule plan"));
    assert!(first.body.contains("old plan body"));
    // Superseded by an edit, never deleted.
    assert_eq!(count(&fake.server.requests(), "DELETE", ""), 0);
}

#[tokio::test]
async fn the_same_sha_again_posts_and_edits_nothing() {
    let fake = Fake::start(State::with_comments(vec![])).await;
    let publisher = fake.publisher().await;
    let mr = publisher.provider().mr(7);
    let head = sha('c');
    let parts = vec!["the plan".to_owned()];
    let first = publisher.publish(&mr, &head, &parts).await.unwrap();
    fake.server.clear();

    let again = publisher.publish(&mr, &head, &parts).await.unwrap();

    assert_eq!(fake.comments().len(), 1);
    assert!(again.created.is_empty() && again.updated.is_empty() && again.superseded.is_empty());
    assert_eq!(again.unchanged, 1);
    assert_eq!(
        again.url, first.url,
        "the current plan's link is still given"
    );
    let requests = fake.server.requests();
    assert!(
        requests.iter().all(|r| r.method == "GET"),
        "{:?}",
        requests.iter().map(Recorded::line).collect::<Vec<_>>()
    );
}

/// Publish a 3,000-object plan; give the parts and the comments it left.
async fn publish_3000(fake: &Fake, publisher: &Publisher<Gitea>, head: &str) -> Vec<String> {
    let mr = publisher.provider().mr(7);
    let blocks = plan_blocks(3000);
    let parts = split_markdown(&blocks, publisher.part_limit(), "thule plan");
    let out = publisher.publish(&mr, head, &parts).await.unwrap();
    assert_eq!(out.created.len(), parts.len());
    assert_eq!(fake.comments().len(), parts.len());
    parts
}

#[tokio::test]
async fn a_plan_of_3000_objects_is_posted_as_ordered_parts_under_the_limit() {
    let fake = Fake::start(State::with_comments(vec![])).await;
    let publisher = fake.publisher().await;
    assert_eq!(
        publisher.provider().capabilities().max_comment_chars,
        DEFAULT_COMMENT_LIMIT
    );
    let head = sha('d');

    let parts = publish_3000(&fake, &publisher, &head).await;

    let comments = fake.comments();
    let n = parts.len();
    assert!(n >= 10, "a 3,000-object plan needs many parts, got {n}");
    for (i, c) in comments.iter().enumerate() {
        assert_eq!(part_of(&c.body), Some(format!("{}/{n}", i + 1)), "in order");
        assert!(c.body.chars().count() <= DEFAULT_COMMENT_LIMIT);
        assert!(
            c.body
                .contains(&format!("**thule plan: part {} of {n}**", i + 1))
        );
    }
    // Nothing dropped: every object is in exactly one part.
    let all: String = comments.iter().map(|c| c.body.as_str()).collect();
    for i in [0, 1, 1499, 2998, 2999] {
        assert_eq!(
            all.matches(&format!("team-a/{}<", object_name(i))).count(),
            1
        );
    }
}

#[tokio::test]
async fn fewer_parts_than_before_supersede_the_extra_old_parts() {
    let fake = Fake::start(State::with_comments(vec![])).await;
    let publisher = fake.publisher().await;
    let mr = publisher.provider().mr(7);
    let head = sha('d');
    let before = publish_3000(&fake, &publisher, &head).await;
    let old = fake.comments();

    let parts = split_markdown(&plan_blocks(1000), publisher.part_limit(), "thule plan");
    assert!(parts.len() < before.len());
    let out = publisher.publish(&mr, &head, &parts).await.unwrap();

    let comments = fake.comments();
    assert_eq!(comments.len(), before.len(), "no new comment, none deleted");
    assert!(out.created.is_empty());
    assert_eq!(out.updated.len(), parts.len());
    assert_eq!(out.superseded.len(), before.len() - parts.len());
    let first_url = fake.html_url(comments[0].id);
    assert_eq!(out.url.as_deref(), Some(first_url.as_str()));
    for (i, c) in comments.iter().enumerate() {
        assert_eq!(c.id, old[i].id);
        assert!(c.body.chars().count() <= DEFAULT_COMMENT_LIMIT);
        if i < parts.len() {
            assert!(c.body.starts_with(&marker(&head, i + 1, parts.len())));
        } else {
            assert!(c.body.starts_with("<!-- thule:superseded "), "{i}");
            assert!(c.body.contains(&format!("]({first_url}).")), "links part 1");
            assert!(c.body.contains("<details>"));
        }
    }
}

#[tokio::test]
async fn comments_of_150_other_users_are_all_read_whole_or_paged() {
    for paged in [false, true] {
        let mut comments: Vec<(&str, i64, String)> = Vec::new();
        let logins: Vec<String> = (0..150).map(|i| format!("dev-{i}")).collect();
        for (i, login) in logins.iter().enumerate() {
            comments.push((login, 1000 + i as i64, format!("review note {i}")));
        }
        // thule's plan for an older head, after all of them.
        comments.push((
            BOT,
            BOT_ID,
            format!("{}\nold plan", marker(&sha('1'), 1, 1)),
        ));
        let state = State {
            paged_comments: paged,
            ..State::with_comments(comments)
        };
        let fake = Fake::start(state).await;
        let publisher = fake.publisher().await;
        let mr = publisher.provider().mr(7);

        let listed = publisher.provider().list_comments(&mr).await.unwrap();
        assert_eq!(listed.len(), 151);
        assert!(listed.windows(2).all(|w| w[0].handle.id < w[1].handle.id));
        assert_eq!(listed[3].author.login, "dev-3");
        assert_eq!(listed[3].author.id.as_deref(), Some("1003"));
        let lists = count(&fake.server.requests(), "GET", "/issues/7/comments");
        // Gitea answers the list whole; a paging server gives 50 a page.
        assert_eq!(lists, if paged { 4 } else { 1 });
        if paged {
            let pages: Vec<String> = fake
                .server
                .requests()
                .iter()
                .filter(|r| r.path.ends_with("/comments"))
                .map(|r| r.query["page"].clone())
                .collect();
            assert_eq!(pages, ["1", "2", "3", "4"]);
        }

        let out = publisher
            .publish(&mr, &sha('2'), &["new".to_owned()])
            .await
            .unwrap();
        assert_eq!(
            out.superseded.len(),
            1,
            "the plan on the last page is found"
        );
        let after = fake.comments();
        assert_eq!(after.len(), 152);
        for (i, c) in after.iter().take(150).enumerate() {
            assert_eq!(c.body, format!("review note {i}"));
        }
    }
}

#[tokio::test]
async fn a_foreign_comment_starting_with_the_marker_is_untouched() {
    let forged = format!("{}\nI copied thule's marker", marker(&sha('1'), 1, 1));
    let other_mr = format!(
        "<!-- thule:plan v=1 provider=gitea repo={REPO} mr=8 sha={} part=1/1 -->\nplan of !8",
        sha('1')
    );
    let fake = Fake::start(State::with_comments(vec![
        ("mallory", 666, forged.clone()),
        (BOT, BOT_ID, other_mr.clone()),
    ]))
    .await;
    let publisher = fake.publisher().await;
    let mr = publisher.provider().mr(7);

    let out = publisher
        .publish(&mr, &sha('2'), &["the plan".to_owned()])
        .await
        .unwrap();

    assert!(out.superseded.is_empty());
    let comments = fake.comments();
    assert_eq!(comments[0].body, forged);
    assert_eq!(comments[1].body, other_mr);
    let requests = fake.server.requests();
    assert_eq!(count(&requests, "PATCH", ""), 0);
    assert_eq!(count(&requests, "DELETE", ""), 0);
}

/// A server that answers every request with `reply`.
async fn refusing(reply: Reply) -> LoopbackServer {
    LoopbackServer::start(move |_| reply.clone()).await
}

fn adapter_for(server: &LoopbackServer) -> Gitea {
    Gitea::new(
        &format!("{}/api/v1", server.url()),
        REPO,
        Secret::new(TOKEN),
        false,
    )
    .unwrap()
    .with_retry(fast_retry())
}

#[tokio::test]
async fn refusals_have_their_kind_and_retries_are_bounded() {
    let gitea_error = |msg: &str| json!({"message": format!("{msg} (token {TOKEN})"), "url": "https://gitea.example/api/swagger"});
    let cases = [
        (
            Reply::json(401, &gitea_error("token is required")),
            ErrorKind::Unauthorized,
            1,
        ),
        (
            Reply::json(403, &gitea_error("user should be an owner")),
            ErrorKind::Forbidden,
            1,
        ),
        (
            Reply::json(404, &gitea_error("The target couldn't be found.")),
            ErrorKind::NotFound,
            1,
        ),
        (
            Reply::json(429, &gitea_error("rate limited")).with_header("retry-after", "0"),
            ErrorKind::RateLimited { reset: None },
            4,
        ),
        (
            Reply::json(500, &gitea_error("internal error")),
            ErrorKind::Rejected { status: 500 },
            4,
        ),
        (
            Reply::json(503, &gitea_error("unavailable")),
            ErrorKind::Rejected { status: 503 },
            4,
        ),
    ];
    for (reply, kind, tries) in cases {
        let status = reply.status;
        let server = refusing(reply).await;
        let gitea = adapter_for(&server);
        let err = gitea.list_comments(&gitea.mr(7)).await.unwrap_err();
        match (&err.kind, &kind) {
            (ErrorKind::RateLimited { .. }, ErrorKind::RateLimited { .. }) => {}
            _ => assert_eq!(err.kind, kind, "{status}"),
        }
        assert_eq!(err.provider, ProviderKind::Gitea);
        assert_eq!(server.requests().len(), tries, "{status}: tries");
        assert!(!err.to_string().contains(TOKEN), "{err}");
        assert!(!format!("{err:?}").contains(TOKEN), "{err:?}");
        assert!(
            err.to_string()
                .contains("listing the comments of pull request org/deploy#7"),
            "{err}"
        );
    }

    // A comment POST is not repeated after an ambiguous 5xx (the next run finds it by its
    // marker), but is after a rate limit, which certainly refused it.
    let server = refusing(Reply::json(502, &gitea_error("bad gateway"))).await;
    let gitea = adapter_for(&server);
    let err = gitea.create_comment(&gitea.mr(7), "x").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected { status: 502 });
    assert_eq!(server.requests().len(), 1);
    let server =
        refusing(Reply::json(429, &gitea_error("slow down")).with_header("retry-after", "0")).await;
    let gitea = adapter_for(&server);
    gitea.create_comment(&gitea.mr(7), "x").await.unwrap_err();
    assert_eq!(server.requests().len(), 4);
    // A status POST may be repeated.
    let server = refusing(Reply::json(500, &gitea_error("oops"))).await;
    let gitea = adapter_for(&server);
    let repo = gitea.repo().clone();
    gitea
        .set_status(&repo, &sha('a'), &status(StatusState::Error, None))
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 4);
}

fn branch(label: &str, sha: &str, repo_id: i64, full_name: &str) -> Value {
    json!({
        "label": label, "ref": label, "sha": sha, "repo_id": repo_id,
        "repo": {"id": repo_id, "full_name": full_name, "name": full_name.split('/').nth(1), "private": false, "fork": repo_id != 3}
    })
}

fn pull(extra: Value) -> Value {
    let mut pr = json!({
        "id": 9001, "url": "https://gitea.example/org/deploy/pulls/7", "number": 7,
        "user": user_json("alice", 12), "title": "WIP: bump web to 1.4.2", "body": "",
        "labels": [{"id": 1, "name": "team-a", "color": "00aabb", "description": "", "url": ""},
                   {"id": 2, "name": "thule:plan", "color": "ccddee", "description": "", "url": ""}],
        "milestone": null, "assignee": null, "assignees": null, "state": "open", "is_locked": false,
        "comments": 3, "html_url": "https://gitea.example/org/deploy/pulls/7",
        "diff_url": "https://gitea.example/org/deploy/pulls/7.diff", "patch_url": "https://gitea.example/org/deploy/pulls/7.patch",
        "mergeable": true, "merged": false, "merged_at": null, "merge_commit_sha": null, "merged_by": null,
        "allow_maintainer_edit": false,
        "base": branch("main", &sha('b'), 3, "org/deploy"),
        "head": branch("bump-web", &sha('a'), 57, "alice/deploy"),
        "merge_base": sha('c'),
        "due_date": null, "created_at": "2026-03-01T09:00:00Z", "updated_at": "2026-03-01T10:00:00Z", "closed_at": null,
        "pin_order": 0
    });
    for (k, v) in extra.as_object().unwrap() {
        pr[k] = v.clone();
    }
    pr
}

fn file(name: &str, status: &str, previous: Option<&str>) -> Value {
    json!({
        "filename": name, "previous_filename": previous.unwrap_or(""), "status": status,
        "additions": 3, "deletions": 1, "changes": 4,
        "html_url": format!("https://gitea.example/org/deploy/src/commit/{}/{name}", sha('a')),
        "contents_url": "", "raw_url": ""
    })
}

#[tokio::test]
async fn merge_request_and_changed_paths_map_gitea_json() {
    let mut files: Vec<Value> = (0..117)
        .map(|i| file(&format!("apps/team-a/web-{i:03}.yaml"), "modified", None))
        .collect();
    files.push(file("apps/team-a/new.yaml", "added", None));
    files.push(file("apps/team-a/gone.yaml", "deleted", None));
    files.push(file(
        "apps/team-b/web.yaml",
        "renamed",
        Some("apps/team-a/web.yaml"),
    ));
    let state = State {
        pr: pull(json!({})),
        files,
        ..State::with_comments(vec![])
    };
    let fake = Fake::start(state).await;
    let gitea = fake.adapter();
    let mr = gitea.mr(7);

    let pr = gitea.merge_request(&mr).await.unwrap();
    assert_eq!(pr.mr, mr);
    assert_eq!(pr.head_sha, sha('a'));
    assert_eq!(pr.base_sha, Some(sha('b')));
    assert_eq!(pr.head_branch, "bump-web");
    assert_eq!(pr.base_branch, "main");
    assert_eq!(pr.author.login, "alice");
    assert_eq!(pr.author.id.as_deref(), Some("12"));
    assert_eq!(pr.labels, ["team-a", "thule:plan"]);
    assert!(pr.draft, "older Gitea: a WIP: title is a draft");
    assert!(pr.from_fork);
    assert_eq!(pr.state, MrState::Open);
    assert_eq!(
        pr.web_url.as_deref(),
        Some("https://gitea.example/org/deploy/pulls/7")
    );

    let paths = gitea.changed_paths(&mr).await.unwrap();
    assert_eq!(paths.len(), 120);
    assert_eq!(paths[0].path, "apps/team-a/web-000.yaml");
    assert_eq!(
        paths[118],
        ChangedPath {
            path: "apps/team-a/gone.yaml".into(),
            previous: None
        }
    );
    assert_eq!(
        paths[119],
        ChangedPath {
            path: "apps/team-b/web.yaml".into(),
            previous: Some("apps/team-a/web.yaml".into())
        }
    );
    let pages: Vec<String> = fake
        .server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/pulls/7/files"))
        .map(|r| format!("{}/{}", r.query["page"], r.query["limit"]))
        .collect();
    assert_eq!(pages, ["1/50", "2/50", "3/50"]);

    // A newer Gitea: `draft` says it; a merged pull request from the same repository whose
    // base has no sha falls back to the merge base.
    let mut base = branch("main", "", 3, "org/deploy");
    base["sha"] = json!("");
    fake.state.lock().unwrap().pr = pull(json!({
        "draft": false, "state": "closed", "merged": true, "labels": [],
        "head": branch("bump-web", &sha('a'), 3, "org/deploy"), "base": base,
    }));
    let pr = gitea.merge_request(&mr).await.unwrap();
    assert!(!pr.draft, "the draft field wins over the title");
    assert!(!pr.from_fork);
    assert_eq!(pr.state, MrState::Merged);
    assert_eq!(pr.base_sha, Some(sha('c')));
    assert!(pr.labels.is_empty());

    // A missing head sha is named.
    fake.state.lock().unwrap().pr = pull(json!({"head": {"ref": "x", "label": "x"}}));
    let err = gitea.merge_request(&mr).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transport);
    assert!(err.to_string().contains("head.sha"), "{err}");
}

#[tokio::test]
async fn forgejo_is_the_same_api_under_its_own_name() {
    let fake = Fake::start(State::with_comments(vec![])).await;
    let forgejo = Gitea::new(
        &format!("{}/api/v1", fake.server.url()),
        REPO,
        Secret::new(TOKEN),
        true,
    )
    .unwrap();
    assert_eq!(forgejo.kind(), ProviderKind::Forgejo);
    let publisher = Publisher::new(forgejo).await.unwrap();
    let mr = publisher.provider().mr(7);
    publisher
        .publish(&mr, &sha('e'), &["plan".to_owned()])
        .await
        .unwrap();
    assert!(
        fake.comments()[0]
            .body
            .starts_with("<!-- thule:plan v=1 provider=forgejo repo=org/deploy mr=7 ")
    );
}
