//! Bitbucket Data Center (REST 1.0) against its loopback fake.

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value, json};
use thule_vcs::bitbucket::{BitbucketDataCenter, DataCenterAuth};
use thule_vcs::http::Secret;
use thule_vcs::testing::{LoopbackServer, Recorded, Reply};
use thule_vcs::{
    BITBUCKET_DC_COMMENT_LIMIT, ChangedPath, CommentHandle, CommitStatus, ErrorKind, MrState,
    Provider, ProviderKind, Publisher, StatusState, split_markdown,
};

use crate::common::{count, fast_retry, object_name, part_of, plan_blocks, sha};

const TOKEN: &str = "dc-http-access-token-81e4";
const REPO: &str = "ACME/deploy";
const API: &str = "/rest/api/1.0/projects/ACME/repos/deploy";
const BOT: &str = "thule-bot";
const BOT_ID: u64 = 42;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Stored {
    id: u64,
    name: String,
    uid: u64,
    text: String,
    version: u64,
}

/// An entry of the pull request's activity log.
#[derive(Clone, Debug)]
enum Entry {
    /// A top-level comment was added (shown with the comment as it is now).
    Commented(u64),
    /// Something else happened (`OPENED`, `APPROVED`, `RESCOPED`).
    Other(&'static str),
}

#[derive(Default)]
struct State {
    comments: Vec<Stored>,
    /// (activity id, entry), oldest first.
    activities: Vec<(u64, Entry)>,
    next_id: u64,
    statuses: Vec<(String, Value)>,
    pr: Value,
    changes: Vec<Value>,
    /// Before the next edit of this comment, someone else edits it (its version moves on).
    concurrent_edit: Option<u64>,
}

impl State {
    fn with_comments(comments: Vec<(&str, u64, String)>) -> Self {
        let mut s = State {
            next_id: 500,
            ..State::default()
        };
        s.activity(Entry::Other("OPENED"));
        for (name, uid, text) in comments {
            s.add(name, uid, text);
        }
        s
    }

    fn activity(&mut self, entry: Entry) {
        self.next_id += 1;
        self.activities.push((self.next_id, entry));
    }

    fn add(&mut self, name: &str, uid: u64, text: String) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.comments.push(Stored {
            id,
            name: name.to_owned(),
            uid,
            text,
            version: 0,
        });
        self.activity(Entry::Commented(id));
        id
    }
}

fn user_json(name: &str, id: u64) -> Value {
    json!({
        "name": name, "emailAddress": format!("{name}@acme.example"), "id": id,
        "displayName": name.replace('-', " "), "active": true, "slug": name, "type": "NORMAL",
        "links": {"self": [{"href": format!("https://bitbucket.acme.example/users/{name}")}]}
    })
}

fn comment_json(c: &Stored) -> Value {
    json!({
        "properties": {"repositoryId": 84},
        "id": c.id, "version": c.version, "text": c.text,
        "author": user_json(&c.name, c.uid),
        "createdDate": 1_772_358_000_000_u64 + c.id, "updatedDate": 1_772_358_000_000_u64 + c.id,
        "comments": [], "tasks": [], "severity": "NORMAL", "state": "OPEN",
        "permittedOperations": {"editable": c.name == BOT, "transitionable": true, "deletable": c.name == BOT}
    })
}

fn errors(status: u16, message: &str, exception: &str) -> Reply {
    Reply::json(
        status,
        &json!({"errors": [{"context": null, "message": message, "exceptionName": exception}]}),
    )
}

/// One page of `items` as Data Center pages a list: `start`, `limit` (default 25, capped at
/// `cap`, as a server's configuration may cap it), `size`, `isLastPage`, `nextPageStart`.
fn dc_page(req: &Recorded, items: &[Value], cap: usize) -> Reply {
    let start: usize = req
        .query
        .get("start")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let limit: usize = req
        .query
        .get("limit")
        .and_then(|p| p.parse().ok())
        .unwrap_or(25)
        .clamp(1, cap);
    let start = start.min(items.len());
    let end = (start + limit).min(items.len());
    let mut body = json!({
        "size": end - start, "limit": limit, "start": start,
        "isLastPage": end == items.len(), "values": items[start..end],
    });
    if end < items.len() {
        body["nextPageStart"] = json!(end);
    }
    Reply::json(200, &body)
}

fn handle(state: &Mutex<State>, req: &Recorded) -> Reply {
    if req.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
        return errors(
            401,
            "Authentication failed. Please check your credentials and try again.",
            "com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException",
        );
    }
    // Every authenticated answer names its user.
    route(state, req)
        .with_header("x-ausername", BOT)
        .with_header("x-auserid", &BOT_ID.to_string())
}

fn route(state: &Mutex<State>, req: &Recorded) -> Reply {
    let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
    let writes = ["POST", "PUT", "DELETE"].contains(&req.method.as_str());
    if writes && req.header("x-atlassian-token") != Some("no-check") {
        return errors(
            403,
            "XSRF check failed",
            "com.atlassian.plugins.rest.common.security.XsrfCheckFailedException",
        );
    }
    if let Some(sha) = req.path.strip_prefix("/rest/build-status/1.0/commits/") {
        let body = req.json();
        if req.method != "POST" {
            return errors(405, "Method not allowed", "");
        }
        if body["url"].as_str().is_none_or(str::is_empty) {
            return errors(400, "url: may not be empty", "");
        }
        let key = body["key"].as_str().unwrap_or_default();
        if key.is_empty() || key.chars().count() > 255 {
            return errors(400, "key: must be 1 to 255 characters", "");
        }
        if !["INPROGRESS", "SUCCESSFUL", "FAILED"]
            .contains(&body["state"].as_str().unwrap_or_default())
        {
            return errors(400, "state: invalid", "");
        }
        s.statuses.push((sha.to_owned(), body));
        return Reply::empty(204);
    }
    let Some(rest) = req.path.strip_prefix(API) else {
        return errors(
            404,
            "Repository ACME/other does not exist.",
            "com.atlassian.bitbucket.repository.NoSuchRepositoryException",
        );
    };
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let no_comment = || {
        errors(
            404,
            "Comment 1 does not exist.",
            "com.atlassian.bitbucket.comment.NoSuchCommentException",
        )
    };
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", [""]) => Reply::json(
            200,
            &json!({"slug": "deploy", "id": 84, "name": "deploy", "scmId": "git", "state": "AVAILABLE",
                    "forkable": true, "project": {"key": "ACME", "id": 3, "name": "Acme", "type": "NORMAL"},
                    "public": false}),
        ),
        ("GET", ["pull-requests", "7", "activities"]) => {
            // Newest first, as Data Center lists them; deleted comments are gone.
            let values: Vec<Value> = s
                .activities
                .iter()
                .rev()
                .filter_map(|(aid, entry)| match entry {
                    Entry::Commented(cid) => {
                        let c = s.comments.iter().find(|c| c.id == *cid)?;
                        Some(
                            json!({"id": aid, "createdDate": 1_772_358_000_000_u64 + aid,
                                    "user": user_json(&c.name, c.uid), "action": "COMMENTED",
                                    "commentAction": "ADDED", "comment": comment_json(c)}),
                        )
                    }
                    Entry::Other(action) => Some(
                        json!({"id": aid, "createdDate": 1_772_358_000_000_u64 + aid,
                                    "user": user_json("alice", 12), "action": action}),
                    ),
                })
                .collect();
            dc_page(req, &values, 50)
        }
        ("POST", ["pull-requests", "7", "comments"]) => {
            let Some(text) = req.json()["text"].as_str().map(str::to_owned) else {
                return errors(400, "text: may not be empty", "");
            };
            if text.chars().count() > BITBUCKET_DC_COMMENT_LIMIT {
                return errors(400, "The comment is too long", "");
            }
            let id = s.add(BOT, BOT_ID, text);
            let c = s.comments.iter().find(|c| c.id == id).unwrap().clone();
            Reply::json(201, &comment_json(&c))
        }
        ("GET", ["pull-requests", "7", "comments", id]) => {
            match s.comments.iter().find(|c| c.id.to_string() == *id) {
                Some(c) => Reply::json(200, &comment_json(c)),
                None => no_comment(),
            }
        }
        ("PUT", ["pull-requests", "7", "comments", id]) => {
            let body = req.json();
            let concurrent = s.concurrent_edit.take();
            let Some(c) = s.comments.iter_mut().find(|c| c.id.to_string() == *id) else {
                return no_comment();
            };
            if concurrent == Some(c.id) {
                c.version += 1;
            }
            if body["version"].as_u64() != Some(c.version) {
                return errors(
                    409,
                    "You are attempting to modify a comment based on out-of-date information.",
                    "com.atlassian.bitbucket.comment.CommentOutOfDateException",
                );
            }
            let text = body["text"].as_str().unwrap_or_default().to_owned();
            if text.chars().count() > BITBUCKET_DC_COMMENT_LIMIT {
                return errors(400, "The comment is too long", "");
            }
            c.text = text;
            c.version += 1;
            let c = c.clone();
            Reply::json(200, &comment_json(&c))
        }
        ("DELETE", ["pull-requests", "7", "comments", id]) => {
            let version = req.query.get("version").and_then(|v| v.parse::<u64>().ok());
            let Some(c) = s.comments.iter().find(|c| c.id.to_string() == *id) else {
                return no_comment();
            };
            if version != Some(c.version) {
                return errors(
                    409,
                    "You are attempting to modify a comment based on out-of-date information.",
                    "com.atlassian.bitbucket.comment.CommentOutOfDateException",
                );
            }
            let cid = c.id;
            s.comments.retain(|c| c.id != cid);
            s.activities
                .retain(|(_, e)| !matches!(e, Entry::Commented(x) if *x == cid));
            Reply::empty(204)
        }
        ("GET", ["pull-requests", "7"]) if !s.pr.is_null() => Reply::json(200, &s.pr),
        ("GET", ["pull-requests", "7", "changes"]) => dc_page(req, &s.changes, 250),
        _ => errors(
            404,
            "Pull request 8 does not exist in ACME/deploy.",
            "com.atlassian.bitbucket.pull.NoSuchPullRequestException",
        ),
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

    fn adapter(&self) -> BitbucketDataCenter {
        BitbucketDataCenter::new(
            &self.server.url(),
            REPO,
            DataCenterAuth::AccessToken(Secret::new(TOKEN)),
        )
        .unwrap()
        .with_retry(fast_retry())
    }

    async fn publisher(&self) -> Publisher<BitbucketDataCenter> {
        Publisher::new(self.adapter()).await.unwrap()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn comments(&self) -> Vec<Stored> {
        self.state().comments.clone()
    }

    fn comment_url(&self, id: u64) -> String {
        format!(
            "{}/projects/ACME/repos/deploy/pull-requests/7/overview?commentId={id}",
            self.server.url()
        )
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
    format!(
        "<!-- thule:plan v=1 provider=bitbucket-dc repo={REPO} mr=7 sha={sha} part={part}/{parts} -->"
    )
}

#[tokio::test]
async fn the_first_plan_is_one_marked_comment_and_the_status_goes_pending_then_success() {
    let fake = Fake::start(State::with_comments(vec![])).await;
    let publisher = fake.publisher().await;
    assert_eq!(publisher.identity().login, BOT, "from X-AUSERNAME");
    assert_eq!(
        publisher.identity().id.as_deref(),
        Some("42"),
        "from X-AUSERID"
    );
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
        comments[0].text,
        format!("{}\n**3 objects change**", marker(&head, 1, 1))
    );
    assert_eq!(out.url, Some(fake.comment_url(comments[0].id)));
    assert_eq!(out.created[0].version, Some(0));

    let statuses = fake.state().statuses.clone();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.iter().all(|(s, _)| *s == head));
    assert_eq!(statuses[0].1["state"], "INPROGRESS");
    assert_eq!(statuses[0].1["key"], "thule/plan");
    assert_eq!(
        statuses[0].1["url"],
        json!(format!(
            "{}/projects/ACME/repos/deploy/commits/{head}",
            fake.server.url()
        )),
        "no target and no pull request read: the commit's page"
    );
    assert_eq!(statuses[1].1["state"], "SUCCESSFUL");
    assert_eq!(statuses[1].1["url"], json!(out.url.unwrap()));
}

#[tokio::test]
async fn a_new_head_sha_posts_a_new_plan_and_stubs_the_old_one_with_a_link() {
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
    assert_eq!(comments.len(), 2);
    let (first, second) = (&comments[0], &comments[1]);
    assert_eq!(out.created[0].id, second.id);
    assert_eq!(out.superseded[0].id, first.id);
    assert_eq!(
        first.text,
        format!(
            "<!-- thule:superseded v=1 provider=bitbucket-dc repo={REPO} mr=7 sha={old} part=1/1 -->\n\
             **Superseded** by [the plan for `bbbbbbbbbbbb`]({}).\n",
            fake.comment_url(second.id)
        )
    );
    assert_eq!(first.version, 1, "edited once, naming version 0");
    let put = fake
        .server
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(put.json()["version"], 0);
    assert_eq!(count(&fake.server.requests(), "DELETE", ""), 0);
}

#[tokio::test]
async fn the_same_sha_again_posts_and_edits_nothing() {
    let fake = Fake::start(State::with_comments(vec![])).await;
    let publisher = fake.publisher().await;
    let mr = publisher.provider().mr(7);
    let parts = vec!["the plan".to_owned()];
    let first = publisher.publish(&mr, &sha('c'), &parts).await.unwrap();
    fake.server.clear();

    let again = publisher.publish(&mr, &sha('c'), &parts).await.unwrap();

    assert_eq!(fake.comments().len(), 1);
    assert!(again.created.is_empty() && again.updated.is_empty() && again.superseded.is_empty());
    assert_eq!(again.url, first.url);
    assert!(fake.server.requests().iter().all(|r| r.method == "GET"));
}

async fn publish_3000(
    fake: &Fake,
    publisher: &Publisher<BitbucketDataCenter>,
    head: &str,
) -> Vec<String> {
    let mr = publisher.provider().mr(7);
    let parts = split_markdown(&plan_blocks(3000), publisher.part_limit(), "thule plan");
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
        BITBUCKET_DC_COMMENT_LIMIT
    );
    let parts = publish_3000(&fake, &publisher, &sha('d')).await;

    let comments = fake.comments();
    let n = parts.len();
    assert!(n >= 25, "32,768 characters a comment: {n} parts");
    for (i, c) in comments.iter().enumerate() {
        assert_eq!(part_of(&c.text), Some(format!("{}/{n}", i + 1)));
        assert!(c.text.chars().count() <= BITBUCKET_DC_COMMENT_LIMIT);
    }
    let all: String = comments.iter().map(|c| c.text.as_str()).collect();
    for i in [0, 2048, 2999] {
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

    let parts = split_markdown(&plan_blocks(1000), publisher.part_limit(), "thule plan");
    let out = publisher.publish(&mr, &head, &parts).await.unwrap();

    let comments = fake.comments();
    assert_eq!(comments.len(), before.len());
    assert_eq!(out.updated.len(), parts.len());
    assert_eq!(out.superseded.len(), before.len() - parts.len());
    let first_url = fake.comment_url(comments[0].id);
    for (i, c) in comments.iter().enumerate() {
        assert_eq!(c.version, 1, "each edited once");
        if i < parts.len() {
            assert!(c.text.starts_with(&marker(&head, i + 1, parts.len())));
        } else {
            assert!(c.text.starts_with("<!-- thule:superseded "));
            assert!(c.text.ends_with(&format!("]({first_url}).\n")));
        }
    }
}

#[tokio::test]
async fn comments_of_150_other_users_are_read_from_every_activity_page() {
    let names: Vec<String> = (0..150).map(|i| format!("dev-{i}")).collect();
    let mut comments: Vec<(&str, u64, String)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), 1000 + i as u64, format!("review note {i}")))
        .collect();
    comments.push((
        BOT,
        BOT_ID,
        format!("{}\nold plan", marker(&sha('1'), 1, 1)),
    ));
    let mut state = State::with_comments(comments);
    state.activity(Entry::Other("APPROVED"));
    state.activity(Entry::Other("RESCOPED"));
    let fake = Fake::start(state).await;
    let publisher = fake.publisher().await;
    let mr = publisher.provider().mr(7);

    let listed = publisher.provider().list_comments(&mr).await.unwrap();
    assert_eq!(listed.len(), 151);
    assert_eq!(listed[0].body, "review note 0", "oldest first");
    assert_eq!(listed[0].author.login, "dev-0");
    assert_eq!(listed[0].author.id.as_deref(), Some("1000"));
    assert_eq!(listed[0].handle.version, Some(0));
    let starts: Vec<String> = fake
        .server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/activities"))
        .map(|r| r.query["start"].clone())
        .collect();
    // 154 activities, 50 a page (the server's cap under the 100 asked for).
    assert_eq!(starts, ["0", "50", "100", "150"]);

    let out = publisher
        .publish(&mr, &sha('2'), &["new".to_owned()])
        .await
        .unwrap();
    assert_eq!(out.superseded.len(), 1, "the oldest-page plan is found");
    for (i, c) in fake.comments().iter().take(150).enumerate() {
        assert_eq!(c.text, format!("review note {i}"));
        assert_eq!(c.version, 0);
    }
}

#[tokio::test]
async fn a_foreign_comment_starting_with_the_marker_is_untouched() {
    let forged = format!("{}\nI copied thule's marker", marker(&sha('1'), 1, 1));
    let fake = Fake::start(State::with_comments(vec![("mallory", 666, forged.clone())])).await;
    let publisher = fake.publisher().await;
    let mr = publisher.provider().mr(7);

    let out = publisher
        .publish(&mr, &sha('2'), &["the plan".to_owned()])
        .await
        .unwrap();

    assert!(out.superseded.is_empty());
    assert_eq!(fake.comments()[0].text, forged);
    assert_eq!(fake.comments()[0].version, 0);
    assert_eq!(count(&fake.server.requests(), "PUT", ""), 0);
}

#[tokio::test]
async fn a_concurrent_edit_is_retried_with_the_current_version() {
    let fake = Fake::start(State::with_comments(vec![])).await;
    let publisher = fake.publisher().await;
    let mr = publisher.provider().mr(7);
    publisher
        .publish(&mr, &sha('a'), &["old".to_owned()])
        .await
        .unwrap();
    let old_id = fake.comments()[0].id;
    fake.state().concurrent_edit = Some(old_id);
    fake.server.clear();

    let out = publisher
        .publish(&mr, &sha('b'), &["new".to_owned()])
        .await
        .unwrap();

    assert_eq!(out.superseded[0].id, old_id);
    let lines: Vec<String> = fake
        .server
        .requests()
        .iter()
        .filter(|r| r.path.contains(&format!("/comments/{old_id}")))
        .map(|r| format!("{} {}", r.method, r.json()["version"]))
        .collect();
    assert_eq!(lines, ["PUT 0", "GET null", "PUT 1"]);
    let old = fake.comments()[0].clone();
    assert!(old.text.starts_with("<!-- thule:superseded "));
    assert_eq!(old.version, 2);

    // Deleting names the version; a handle without one reads it first.
    let bb = fake.adapter();
    let handle = CommentHandle::id(old_id);
    fake.server.clear();
    bb.delete_comment(&mr, &handle).await.unwrap();
    let lines: Vec<String> = fake.server.requests().iter().map(Recorded::line).collect();
    assert_eq!(
        lines,
        [
            format!("GET {API}/pull-requests/7/comments/{old_id}"),
            format!("DELETE {API}/pull-requests/7/comments/{old_id}?version=2"),
        ]
    );
    assert_eq!(fake.comments().len(), 1);
}

async fn refusing(reply: Reply) -> LoopbackServer {
    LoopbackServer::start(move |_| reply.clone()).await
}

fn adapter_for(server: &LoopbackServer) -> BitbucketDataCenter {
    BitbucketDataCenter::new(
        &server.url(),
        REPO,
        DataCenterAuth::Password {
            user: BOT.into(),
            password: Secret::new(TOKEN),
        },
    )
    .unwrap()
    .with_retry(fast_retry())
}

#[tokio::test]
async fn refusals_have_their_kind_and_retries_are_bounded() {
    let echo = |status: u16, msg: &str| errors(status, &format!("{msg} ({TOKEN})"), "");
    let cases = [
        (
            echo(401, "Authentication failed"),
            ErrorKind::Unauthorized,
            1,
        ),
        (echo(403, "You are not permitted"), ErrorKind::Forbidden, 1),
        (
            echo(404, "Pull request 7 does not exist"),
            ErrorKind::NotFound,
            1,
        ),
        (
            echo(429, "Too many requests").with_header("retry-after", "0"),
            ErrorKind::RateLimited { reset: None },
            4,
        ),
        (
            echo(500, "Internal error"),
            ErrorKind::Rejected { status: 500 },
            4,
        ),
        (
            echo(503, "Unavailable"),
            ErrorKind::Rejected { status: 503 },
            4,
        ),
    ];
    for (reply, kind, tries) in cases {
        let status = reply.status;
        let server = refusing(reply).await;
        let bb = adapter_for(&server);
        let err = bb.list_comments(&bb.mr(7)).await.unwrap_err();
        match (&err.kind, &kind) {
            (ErrorKind::RateLimited { .. }, ErrorKind::RateLimited { .. }) => {}
            _ => assert_eq!(err.kind, kind, "{status}"),
        }
        assert_eq!(err.provider, ProviderKind::BitbucketDataCenter);
        assert_eq!(server.requests().len(), tries, "{status}: tries");
        assert!(!err.to_string().contains(TOKEN), "{err}");
        assert!(!format!("{err:?}").contains(TOKEN));
    }
    // whoami needs the user named in the answer.
    let server = refusing(Reply::json(200, &json!({"slug": "deploy"}))).await;
    let err = adapter_for(&server).whoami().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transport);
    assert!(err.to_string().contains("X-AUSERNAME"), "{err}");
    // A comment POST is not repeated after a 5xx; a status POST is.
    let server = refusing(echo(502, "Bad gateway")).await;
    let bb = adapter_for(&server);
    bb.create_comment(&bb.mr(7), "x").await.unwrap_err();
    assert_eq!(server.requests().len(), 1);
    server.clear();
    let repo = bb.repo().clone();
    bb.set_status(&repo, &sha('a'), &status(StatusState::Error, None))
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 4);
}

fn git_ref(branch: &str, sha: &str, project: &str) -> Value {
    json!({
        "id": format!("refs/heads/{branch}"), "displayId": branch, "latestCommit": sha, "type": "BRANCH",
        "repository": {"slug": "deploy", "id": 84, "name": "deploy", "scmId": "git", "state": "AVAILABLE",
                       "forkable": true, "public": false,
                       "project": {"key": project, "id": 3, "name": project, "type": if project.starts_with('~') { "PERSONAL" } else { "NORMAL" }}}
    })
}

fn pull(origin: &str, from_project: &str, state: &str, draft: bool) -> Value {
    json!({
        "id": 7, "version": 4, "title": "Bump web to 1.4.2", "description": "", "state": state,
        "open": state == "OPEN", "closed": state != "OPEN", "draft": draft,
        "createdDate": 1_772_358_000_000_u64, "updatedDate": 1_772_358_600_000_u64,
        "fromRef": git_ref("bump-web", &sha('a'), from_project),
        "toRef": git_ref("main", &sha('b'), "ACME"),
        "locked": false,
        "author": {"user": user_json("alice", 12), "role": "AUTHOR", "approved": false, "status": "UNAPPROVED"},
        "reviewers": [], "participants": [],
        "links": {"self": [{"href": format!("{origin}/projects/ACME/repos/deploy/pull-requests/7")}]}
    })
}

fn change(kind: &str, path: &str, src: Option<&str>) -> Value {
    let p = |p: &str| {
        let components: Vec<&str> = p.split('/').collect();
        json!({"components": components, "parent": components[..components.len() - 1].join("/"),
               "name": components.last(), "extension": "yaml", "toString": p})
    };
    let mut v = json!({"contentId": sha('e'), "fromContentId": sha('f'), "path": p(path),
                       "executable": false, "percentUnchanged": -1, "type": kind, "nodeType": "FILE",
                       "srcExecutable": false, "properties": {"gitChangeType": kind}});
    if let Some(src) = src {
        v["srcPath"] = p(src);
    }
    v
}

#[tokio::test]
async fn merge_request_and_changed_paths_map_data_center_json() {
    let mut changes: Vec<Value> = (0..597)
        .map(|i| change("MODIFY", &format!("apps/team-a/web-{i:03}.yaml"), None))
        .collect();
    changes.push(change("ADD", "apps/team-a/new.yaml", None));
    changes.push(change("DELETE", "apps/team-a/gone.yaml", None));
    changes.push(change(
        "MOVE",
        "apps/team-b/web.yaml",
        Some("apps/team-a/web.yaml"),
    ));
    let fake = Fake::start(State {
        changes,
        ..State::with_comments(vec![])
    })
    .await;
    fake.state().pr = pull(&fake.server.url(), "~ALICE", "OPEN", true);
    let bb = fake.adapter();
    let mr = bb.mr(7);

    let pr = bb.merge_request(&mr).await.unwrap();
    assert_eq!(pr.head_sha, sha('a'));
    assert_eq!(pr.base_sha, Some(sha('b')));
    assert_eq!(pr.head_branch, "bump-web");
    assert_eq!(pr.base_branch, "main");
    assert_eq!(pr.author.login, "alice");
    assert_eq!(pr.author.id.as_deref(), Some("12"));
    assert!(pr.draft && pr.from_fork);
    assert_eq!(pr.state, MrState::Open);
    let pr_url = format!(
        "{}/projects/ACME/repos/deploy/pull-requests/7",
        fake.server.url()
    );
    assert_eq!(pr.web_url.as_deref(), Some(pr_url.as_str()));

    // A status without a target links the pull request read for that head.
    bb.set_status(bb.repo(), &pr.head_sha, &status(StatusState::Failure, None))
        .await
        .unwrap();
    let statuses = fake.state().statuses.clone();
    assert_eq!(statuses[0].1["url"], json!(pr_url));
    assert_eq!(statuses[0].1["state"], "FAILED");

    let paths = bb.changed_paths(&mr).await.unwrap();
    assert_eq!(paths.len(), 600);
    assert_eq!(
        paths[597..],
        [
            ChangedPath {
                path: "apps/team-a/new.yaml".into(),
                previous: None
            },
            ChangedPath {
                path: "apps/team-a/gone.yaml".into(),
                previous: None
            },
            ChangedPath {
                path: "apps/team-b/web.yaml".into(),
                previous: Some("apps/team-a/web.yaml".into())
            },
        ]
    );
    let starts: Vec<String> = fake
        .server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/changes"))
        .map(|r| r.query["start"].clone())
        .collect();
    // 100 a page, as asked (under the server's cap).
    assert_eq!(starts, ["0", "100", "200", "300", "400", "500"]);

    fake.state().pr = pull(&fake.server.url(), "ACME", "MERGED", false);
    let pr = bb.merge_request(&mr).await.unwrap();
    assert!(!pr.from_fork && !pr.draft);
    assert_eq!(pr.state, MrState::Merged);
    fake.state().pr = pull(&fake.server.url(), "ACME", "DECLINED", false);
    assert_eq!(bb.merge_request(&mr).await.unwrap().state, MrState::Closed);

    let err = bb.merge_request(&bb.mr(8)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
}
