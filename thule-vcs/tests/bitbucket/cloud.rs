//! Bitbucket Cloud (API 2.0) against its loopback fake.

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value, json};
use thule_vcs::bitbucket::{BitbucketCloud, CloudAuth, DEFAULT_COMMENT_LIMIT};
use thule_vcs::http::Secret;
use thule_vcs::testing::{LoopbackServer, Recorded, Reply};
use thule_vcs::{
    ChangedPath, CommitStatus, ErrorKind, MrState, Provider, ProviderKind, Publisher, StatusState,
    split_markdown,
};

use crate::common::{count, fast_retry, object_name, origin, part_of, plan_blocks, sha};

const TOKEN: &str = "bb-access-token-3a9f0c";
const USER: &str = "thule-bot";
const APP_PASSWORD: &str = "app-pass-7d1c";
/// base64("thule-bot:app-pass-7d1c").
const BASIC: &str = "Basic dGh1bGUtYm90OmFwcC1wYXNzLTdkMWM=";
const REPO: &str = "acme/deploy";
const FORK: &str = "alice/deploy";
const BOT_UUID: &str = "{7b1c2d3e-5f60-4a71-8b92-a3b4c5d6e7f8}";

#[derive(Clone, Debug, PartialEq, Eq)]
struct Stored {
    id: u64,
    nickname: String,
    uuid: String,
    body: String,
    deleted: bool,
}

#[derive(Default)]
struct State {
    comments: Vec<Stored>,
    next_id: u64,
    statuses: Vec<(String, Value)>,
    pr: Value,
    /// (repository full name, full SHA) of every commit the fake knows.
    commits: Vec<(String, String)>,
    diffstat: Vec<Value>,
}

impl State {
    fn with_comments(comments: Vec<(&str, &str, String)>) -> Self {
        let mut s = State {
            next_id: 1000,
            ..State::default()
        };
        for (nickname, uuid, body) in comments {
            s.add(nickname, uuid, body);
        }
        s
    }

    fn add(&mut self, nickname: &str, uuid: &str, body: String) -> u64 {
        self.next_id += 1;
        self.comments.push(Stored {
            id: self.next_id,
            nickname: nickname.to_owned(),
            uuid: uuid.to_owned(),
            body,
            deleted: false,
        });
        self.next_id
    }
}

fn user_json(nickname: &str, uuid: &str) -> Value {
    json!({
        "display_name": nickname.replace('-', " "),
        "links": {
            "self": {"href": format!("https://api.bitbucket.org/2.0/users/{uuid}")},
            "avatar": {"href": "https://secure.gravatar.com/avatar/0?d=identicon"},
            "html": {"href": format!("https://bitbucket.org/{uuid}/")}
        },
        "type": "user",
        "uuid": uuid,
        "account_id": format!("557058:{}", uuid.trim_matches(|c| c == '{' || c == '}')),
        "nickname": nickname
    })
}

fn comment_json(origin: &str, c: &Stored) -> Value {
    json!({
        "id": c.id,
        "created_on": "2026-03-01T10:00:00.000000+00:00",
        "updated_on": "2026-03-01T10:00:00.000000+00:00",
        "content": {
            "type": "rendered",
            "raw": if c.deleted { "" } else { c.body.as_str() },
            "markup": "markdown",
            "html": ""
        },
        "user": user_json(&c.nickname, &c.uuid),
        "deleted": c.deleted,
        "pending": false,
        "type": "pullrequest_comment",
        "links": {
            "self": {"href": format!("{origin}/2.0/repositories/{REPO}/pullrequests/7/comments/{}", c.id)},
            "html": {"href": format!("{origin}/{REPO}/pull-requests/7/_/diff#comment-{}", c.id)}
        },
        "pullrequest": {"type": "pullrequest", "id": 7, "title": "Bump web to 1.4.2",
            "links": {"html": {"href": format!("{origin}/{REPO}/pull-requests/7")}}}
    })
}

fn error(status: u16, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"type": "error", "error": {"message": message}}),
    )
}

/// One page of `items` as Bitbucket Cloud pages a list: `page` from 1, `pagelen` (default
/// `default`, at most `max`), `size`, and an absolute `next` keeping the `pagelen` asked for.
fn bb_page(req: &Recorded, items: &[Value], default: usize, max: usize) -> Reply {
    let page: usize = req
        .query
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let asked = req.query.get("pagelen").and_then(|p| p.parse().ok());
    let pagelen: usize = asked.unwrap_or(default).clamp(1, max);
    let start = ((page - 1) * pagelen).min(items.len());
    let end = (start + pagelen).min(items.len());
    let mut body = json!({
        "pagelen": pagelen,
        "size": items.len(),
        "page": page,
        "values": items[start..end],
    });
    if end < items.len() {
        // The same query, the next page.
        let mut query: Vec<String> = req
            .query
            .iter()
            .filter(|(k, _)| *k != "page")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        query.push(format!("page={}", page + 1));
        body["next"] = json!(format!("{}{}?{}", origin(req), req.path, query.join("&")));
    }
    Reply::json(200, &body)
}

fn handle(state: &Mutex<State>, req: &Recorded) -> Reply {
    let origin = origin(req);
    let auth = req.header("authorization").unwrap_or_default();
    if auth != format!("Bearer {TOKEN}") && auth != BASIC {
        return error(401, "Access token expired.");
    }
    let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(path) = req.path.strip_prefix("/2.0") else {
        return error(404, "Resource not found");
    };
    if (req.method.as_str(), path) == ("GET", "/user") {
        return Reply::json(200, &user_json(USER, BOT_UUID));
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let Some(["repositories", ws, slug, rest @ ..]) = Some(segments.as_slice()) else {
        return error(404, "Resource not found");
    };
    let full_name = format!("{ws}/{slug}");
    if let ("GET", ["commit", hash]) = (req.method.as_str(), rest) {
        return match s
            .commits
            .iter()
            .find(|(repo, full)| *repo == full_name && full.starts_with(hash))
        {
            Some((_, full)) => Reply::json(
                200,
                &json!({"type": "commit", "hash": full, "date": "2026-03-01T09:00:00+00:00",
                        "message": "bump web\n", "parents": [],
                        "links": {"html": {"href": format!("{origin}/{full_name}/commits/{full}")}}}),
            ),
            None => error(404, &format!("Commit not found: {hash}")),
        };
    }
    if full_name != REPO {
        return error(404, "Repository not found");
    }
    match (req.method.as_str(), rest) {
        ("GET", ["pullrequests", "7", "comments"]) => {
            let all: Vec<Value> = s
                .comments
                .iter()
                .map(|c| comment_json(&origin, c))
                .collect();
            bb_page(req, &all, 10, 100)
        }
        ("POST", ["pullrequests", "7", "comments"]) => {
            let Some(raw) = req.json()["content"]["raw"].as_str().map(str::to_owned) else {
                return error(400, "content: This field is required.");
            };
            let id = s.add(USER, BOT_UUID, raw);
            let c = s.comments.iter().find(|c| c.id == id).unwrap().clone();
            Reply::json(201, &comment_json(&origin, &c))
        }
        ("PUT", ["pullrequests", "7", "comments", id]) => {
            let raw = req.json()["content"]["raw"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let Some(c) = s
                .comments
                .iter_mut()
                .find(|c| c.id.to_string() == *id && !c.deleted)
            else {
                return error(404, "No such comment");
            };
            c.body = raw;
            let c = c.clone();
            Reply::json(200, &comment_json(&origin, &c))
        }
        ("DELETE", ["pullrequests", "7", "comments", id]) => {
            match s
                .comments
                .iter_mut()
                .find(|c| c.id.to_string() == *id && !c.deleted)
            {
                Some(c) => {
                    c.deleted = true;
                    Reply::empty(204)
                }
                None => error(404, "No such comment"),
            }
        }
        ("POST", ["commit", sha, "statuses", "build"]) => {
            let body = req.json();
            let key = body["key"].as_str().unwrap_or_default();
            let state = body["state"].as_str().unwrap_or_default();
            if body["url"].as_str().is_none_or(str::is_empty) {
                return error(400, "url: This field is required.");
            }
            if key.is_empty() || key.chars().count() > 40 {
                return error(400, "key: Ensure this value has at most 40 characters.");
            }
            if !["INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED"].contains(&state) {
                return error(400, "state: invalid");
            }
            if sha.len() != 40 {
                return error(404, "Commit not found");
            }
            s.statuses.push(((*sha).to_owned(), body.clone()));
            Reply::json(
                201,
                &json!({"type": "build", "key": key, "state": state, "name": body["name"],
                        "description": body["description"], "url": body["url"],
                        "refname": null, "created_on": "2026-03-01T10:00:00+00:00",
                        "updated_on": "2026-03-01T10:00:00+00:00",
                        "links": {"commit": {"href": format!("{origin}/2.0/repositories/{REPO}/commit/{sha}")}}}),
            )
        }
        ("GET", ["pullrequests", "7"]) if !s.pr.is_null() => Reply::json(200, &s.pr),
        ("GET", ["pullrequests", "7", "diffstat"]) => {
            let src = s.pr["source"]["commit"]["hash"]
                .as_str()
                .unwrap_or_default();
            let dst = s.pr["destination"]["commit"]["hash"]
                .as_str()
                .unwrap_or_default();
            let to = format!(
                "{origin}/2.0/repositories/{REPO}/diffstat/{REPO}:{src}%0D{dst}?from_pullrequest_id=7&topic=true"
            );
            Reply::empty(302).with_header("location", &to)
        }
        ("GET", ["diffstat", ..]) => bb_page(req, &s.diffstat, 500, 5000),
        _ => error(404, "Resource not found"),
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

    fn base(&self) -> String {
        format!("{}/2.0", self.server.url())
    }

    fn adapter(&self) -> BitbucketCloud {
        BitbucketCloud::new(
            &self.base(),
            REPO,
            CloudAuth::AccessToken(Secret::new(TOKEN)),
        )
        .unwrap()
        .with_retry(fast_retry())
    }

    async fn publisher(&self) -> Publisher<BitbucketCloud> {
        Publisher::new(self.adapter()).await.unwrap()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn comments(&self) -> Vec<Stored> {
        self.state().comments.clone()
    }

    fn html_url(&self, id: u64) -> String {
        format!(
            "{}/{REPO}/pull-requests/7/_/diff#comment-{id}",
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
        "<!-- thule:plan v=1 provider=bitbucket-cloud repo={REPO} mr=7 sha={sha} part={part}/{parts} -->"
    )
}

#[tokio::test]
async fn the_first_plan_is_one_marked_comment_and_the_status_goes_pending_then_success() {
    let fake = Fake::start(State::with_comments(vec![])).await;
    let publisher = fake.publisher().await;
    assert_eq!(publisher.identity().login, USER);
    assert_eq!(publisher.identity().id.as_deref(), Some(BOT_UUID));
    let mr = publisher.provider().mr(7);
    let head = sha('a');

    publisher
        .set_status(
            &mr.repo,
            &head,
            &status(
                StatusState::Pending,
                Some("https://ci.example/thule".into()),
            ),
        )
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
    assert_eq!(out.url, Some(fake.html_url(comments[0].id)));
    let posted = fake
        .server
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/comments"))
        .unwrap();
    assert_eq!(
        posted.json(),
        json!({"content": {"raw": comments[0].body.clone()}})
    );

    let statuses = fake.state().statuses.clone();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.iter().all(|(s, _)| *s == head));
    assert_eq!(statuses[0].1["state"], "INPROGRESS");
    assert_eq!(statuses[0].1["key"], "thule/plan");
    assert_eq!(statuses[0].1["name"], "thule/plan");
    assert_eq!(statuses[0].1["url"], "https://ci.example/thule");
    assert_eq!(statuses[1].1["state"], "SUCCESSFUL");
    assert_eq!(statuses[1].1["url"], json!(out.url.unwrap()));
    for r in fake.server.requests() {
        assert_eq!(
            r.header("authorization"),
            Some(&*format!("Bearer {TOKEN}")),
            "{}",
            r.line()
        );
    }
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
    assert!(second.body.starts_with(&marker(&new, 1, 1)));
    assert_eq!(
        first.body,
        format!(
            "<!-- thule:superseded v=1 provider=bitbucket-cloud repo={REPO} mr=7 sha={old} part=1/1 -->\n\
             **Superseded** by [the plan for `bbbbbbbbbbbb`]({}).\n",
            fake.html_url(second.id)
        )
    );
    // Bitbucket does not render <details>: the old plan is dropped, not collapsed.
    assert!(!first.body.contains("<details>"));
    assert!(!first.body.contains("old plan body"));
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
    assert_eq!(again.url, first.url);
    assert!(fake.server.requests().iter().all(|r| r.method == "GET"));
}

async fn publish_3000(
    fake: &Fake,
    publisher: &Publisher<BitbucketCloud>,
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
        DEFAULT_COMMENT_LIMIT
    );
    let parts = publish_3000(&fake, &publisher, &sha('d')).await;

    let comments = fake.comments();
    let n = parts.len();
    assert!(n >= 10, "{n} parts");
    for (i, c) in comments.iter().enumerate() {
        assert_eq!(part_of(&c.body), Some(format!("{}/{n}", i + 1)));
        assert!(c.body.chars().count() <= DEFAULT_COMMENT_LIMIT);
    }
    let all: String = comments.iter().map(|c| c.body.as_str()).collect();
    for i in [0, 777, 2999] {
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
    assert!(out.created.is_empty());
    assert_eq!(out.updated.len(), parts.len());
    assert_eq!(out.superseded.len(), before.len() - parts.len());
    let first_url = fake.html_url(comments[0].id);
    for (i, c) in comments.iter().enumerate() {
        if i < parts.len() {
            assert!(c.body.starts_with(&marker(&head, i + 1, parts.len())));
        } else {
            assert!(c.body.starts_with("<!-- thule:superseded "));
            assert!(
                c.body.ends_with(&format!("]({first_url}).\n")),
                "{}",
                c.body
            );
            assert_eq!(c.body.lines().count(), 2, "a stub");
        }
    }
}

#[tokio::test]
async fn comments_of_150_other_users_are_read_page_by_page_and_deleted_ones_skipped() {
    let logins: Vec<(String, String)> = (0..150)
        .map(|i| {
            (
                format!("dev-{i}"),
                format!("{{00000000-0000-4000-8000-{i:012}}}"),
            )
        })
        .collect();
    let mut comments: Vec<(&str, &str, String)> = logins
        .iter()
        .enumerate()
        .map(|(i, (l, u))| (l.as_str(), u.as_str(), format!("review note {i}")))
        .collect();
    comments.push((
        USER,
        BOT_UUID,
        format!("{}\nold plan", marker(&sha('1'), 1, 1)),
    ));
    comments.push((
        USER,
        BOT_UUID,
        format!("{}\nolder", marker(&sha('0'), 1, 1)),
    ));
    let mut state = State::with_comments(comments);
    let deleted_id = state.comments[151].id;
    state.comments[151].deleted = true;
    let fake = Fake::start(state).await;
    let publisher = fake.publisher().await;
    let mr = publisher.provider().mr(7);

    let listed = publisher.provider().list_comments(&mr).await.unwrap();
    assert_eq!(listed.len(), 151, "152 stored, one deleted");
    assert!(listed.iter().all(|c| c.handle.id != deleted_id));
    assert_eq!(listed[7].author.login, "dev-7");
    assert_eq!(
        listed[7].author.id.as_deref(),
        Some("{00000000-0000-4000-8000-000000000007}")
    );
    let pages: Vec<String> = fake
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/comments"))
        .map(|r| r.query.get("page").cloned().unwrap_or_default())
        .collect();
    // 10 a page: 16 requests, the first without `page`, then each `next`.
    assert_eq!(pages.len(), 16);
    assert_eq!(pages[0], "");
    assert_eq!(pages[15], "16");

    let out = publisher
        .publish(&mr, &sha('2'), &["new".to_owned()])
        .await
        .unwrap();
    assert_eq!(out.superseded.len(), 1, "the plan on the last page");
    let after = fake.comments();
    for (i, c) in after.iter().take(150).enumerate() {
        assert_eq!(c.body, format!("review note {i}"));
    }
    assert!(after[151].deleted, "the deleted comment is left alone");
}

#[tokio::test]
async fn a_foreign_comment_starting_with_the_marker_is_untouched() {
    let forged = format!("{}\nI copied thule's marker", marker(&sha('1'), 1, 1));
    // Same nickname, another account: the uuid decides.
    let impostor = format!("{}\nimpostor", marker(&sha('1'), 1, 1));
    let fake = Fake::start(State::with_comments(vec![
        (
            "mallory",
            "{66666666-0000-4000-8000-000000000666}",
            forged.clone(),
        ),
        (
            USER,
            "{99999999-0000-4000-8000-000000000999}",
            impostor.clone(),
        ),
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
    assert_eq!(comments[1].body, impostor);
    assert_eq!(count(&fake.server.requests(), "PUT", ""), 0);
    assert_eq!(count(&fake.server.requests(), "DELETE", ""), 0);
}

async fn refusing(reply: Reply) -> LoopbackServer {
    LoopbackServer::start(move |_| reply.clone()).await
}

fn adapter_for(server: &LoopbackServer) -> BitbucketCloud {
    BitbucketCloud::new(
        &format!("{}/2.0", server.url()),
        REPO,
        CloudAuth::AppPassword {
            user: USER.into(),
            password: Secret::new(APP_PASSWORD),
        },
    )
    .unwrap()
    .with_retry(fast_retry())
}

#[tokio::test]
async fn refusals_have_their_kind_and_retries_are_bounded() {
    let echo = |status: u16, msg: &str| error(status, &format!("{msg} ({APP_PASSWORD})"));
    let cases = [
        (echo(401, "Invalid credentials"), ErrorKind::Unauthorized, 1),
        (
            echo(
                403,
                "Your credentials lack one or more required privilege scopes.",
            ),
            ErrorKind::Forbidden,
            1,
        ),
        (echo(404, "Repository not found"), ErrorKind::NotFound, 1),
        (
            echo(429, "Rate limit for this resource has been exceeded")
                .with_header("retry-after", "0"),
            ErrorKind::RateLimited { reset: None },
            4,
        ),
        (
            echo(500, "Something went wrong"),
            ErrorKind::Rejected { status: 500 },
            4,
        ),
        (
            echo(502, "Bad gateway"),
            ErrorKind::Rejected { status: 502 },
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
        assert_eq!(err.provider, ProviderKind::BitbucketCloud);
        assert_eq!(server.requests().len(), tries, "{status}: tries");
        assert!(!err.to_string().contains(APP_PASSWORD), "{err}");
        assert!(!format!("{err:?}").contains(APP_PASSWORD));
        assert_eq!(server.requests()[0].header("authorization"), Some(BASIC));
    }
    // A 401's message is Bitbucket's own.
    let server = refusing(error(401, "Access token expired.")).await;
    let bb = adapter_for(&server);
    let err = bb.whoami().await.unwrap_err();
    assert!(
        err.to_string().contains("HTTP 401: Access token expired."),
        "{err}"
    );

    // A comment POST is not repeated after an ambiguous 5xx; a status POST is.
    let server = refusing(echo(500, "oops")).await;
    let bb = adapter_for(&server);
    bb.create_comment(&bb.mr(7), "x").await.unwrap_err();
    assert_eq!(server.requests().len(), 1);
    server.clear();
    let repo = bb.repo().clone();
    bb.set_status(&repo, &sha('a'), &status(StatusState::Failure, None))
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 4);
}

fn endpoint(branch: &str, hash: &str, repo: &str) -> Value {
    json!({
        "branch": {"name": branch},
        "commit": {"type": "commit", "hash": hash,
                   "links": {"self": {"href": format!("https://api.bitbucket.org/2.0/repositories/{repo}/commit/{hash}")}}},
        "repository": {"type": "repository", "full_name": repo, "name": "deploy",
                       "uuid": "{aaaaaaaa-0000-4000-8000-000000000001}"}
    })
}

fn pull(origin: &str, source_repo: &str, state: &str, draft: bool) -> Value {
    json!({
        "type": "pullrequest", "id": 7, "title": "Bump web to 1.4.2", "description": "",
        "state": state, "draft": draft,
        "author": user_json("alice", "{a11ce000-0000-4000-8000-000000000001}"),
        "source": endpoint("bump-web", &sha('a')[..12], source_repo),
        "destination": endpoint("main", &sha('b')[..12], REPO),
        "merge_commit": null, "comment_count": 3, "task_count": 0, "close_source_branch": true,
        "closed_by": null, "reason": "", "created_on": "2026-03-01T09:00:00+00:00",
        "updated_on": "2026-03-01T10:00:00+00:00", "reviewers": [], "participants": [],
        "links": {
            "self": {"href": format!("{origin}/2.0/repositories/{REPO}/pullrequests/7")},
            "html": {"href": format!("{origin}/{REPO}/pull-requests/7")},
            "diffstat": {"href": format!("{origin}/2.0/repositories/{REPO}/pullrequests/7/diffstat")}
        },
        "summary": {"type": "rendered", "raw": "", "markup": "markdown", "html": ""}
    })
}

fn diffstat(status: &str, old: Option<&str>, new: Option<&str>) -> Value {
    let file = |p: Option<&str>| {
        p.map_or(Value::Null, |p| {
            json!({"path": p, "type": "commit_file", "escaped_path": p,
                   "links": {"self": {"href": format!("https://api.bitbucket.org/2.0/repositories/{REPO}/src/{}/{p}", sha('a'))}}})
        })
    };
    json!({"type": "diffstat", "status": status, "lines_added": 3, "lines_removed": 1,
           "old": file(old), "new": file(new)})
}

#[tokio::test]
async fn merge_request_resolves_short_hashes_and_changed_paths_follow_the_diffstat() {
    let mut diff: Vec<Value> = (0..1097)
        .map(|i| {
            let p = format!("apps/team-a/web-{i:04}.yaml");
            diffstat("modified", Some(&p), Some(&p))
        })
        .collect();
    diff.push(diffstat("added", None, Some("apps/team-a/new.yaml")));
    diff.push(diffstat("removed", Some("apps/team-a/gone.yaml"), None));
    diff.push(diffstat(
        "renamed",
        Some("apps/team-a/web.yaml"),
        Some("apps/team-b/web.yaml"),
    ));
    let fake = Fake::start(State {
        commits: vec![
            (FORK.to_owned(), sha('a')),
            (REPO.to_owned(), sha('b')),
            (REPO.to_owned(), sha('c')),
        ],
        diffstat: diff,
        ..State::with_comments(vec![])
    })
    .await;
    fake.state().pr = pull(&fake.server.url(), FORK, "OPEN", true);
    let bb = fake.adapter();
    let mr = bb.mr(7);

    let pr = bb.merge_request(&mr).await.unwrap();
    assert_eq!(
        pr.head_sha,
        sha('a'),
        "the short source hash, resolved in the fork"
    );
    assert_eq!(pr.base_sha, Some(sha('b')));
    assert_eq!(pr.head_branch, "bump-web");
    assert_eq!(pr.base_branch, "main");
    assert_eq!(pr.author.login, "alice");
    assert_eq!(
        pr.author.id.as_deref(),
        Some("{a11ce000-0000-4000-8000-000000000001}")
    );
    assert!(pr.labels.is_empty());
    assert!(pr.draft);
    assert!(pr.from_fork);
    assert_eq!(pr.state, MrState::Open);
    let pr_url = format!("{}/{REPO}/pull-requests/7", fake.server.url());
    assert_eq!(pr.web_url.as_deref(), Some(pr_url.as_str()));
    let resolved: Vec<String> = fake
        .server
        .requests()
        .iter()
        .filter(|r| r.path.contains("/commit/"))
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(
        resolved,
        [
            format!("/2.0/repositories/{FORK}/commit/{}", &sha('a')[..12]),
            format!("/2.0/repositories/{REPO}/commit/{}", &sha('b')[..12]),
        ]
    );

    // A status without a target links the pull request; its key is cut to 40 characters.
    let long = CommitStatus {
        context: "thule/plan/production-cluster-eu-west-1/apps".into(),
        ..status(StatusState::Pending, None)
    };
    bb.set_status(bb.repo(), &pr.head_sha, &long).await.unwrap();
    bb.set_status(bb.repo(), &sha('c'), &status(StatusState::Error, None))
        .await
        .unwrap();
    let statuses = fake.state().statuses.clone();
    assert_eq!(statuses[0].1["url"], json!(pr_url));
    assert_eq!(
        statuses[0].1["key"],
        "thule/plan/production-cluster-eu-west-1/"
    );
    assert_eq!(statuses[0].1["name"], json!(long.context));
    assert_eq!(
        statuses[1].1["url"],
        json!(format!("{}/{REPO}/commits/{}", fake.server.url(), sha('c'))),
        "no pull request known for that commit: its page"
    );
    assert_eq!(statuses[1].1["state"], "FAILED");

    fake.server.clear();
    let paths = bb.changed_paths(&mr).await.unwrap();
    assert_eq!(paths.len(), 1100);
    assert_eq!(paths[0].path, "apps/team-a/web-0000.yaml");
    assert_eq!(paths[0].previous, None);
    assert_eq!(
        paths[1097..],
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
    let lines: Vec<String> = fake.server.requests().iter().map(Recorded::line).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(
        lines[0],
        format!("GET /2.0/repositories/{REPO}/pullrequests/7/diffstat")
    );
    assert!(lines[1].contains("/diffstat/") && !lines[1].contains("page="));
    assert!(lines[3].contains("page=3"), "{lines:?}");

    // Merged, from the same repository; declined is closed.
    fake.state().pr = pull(&fake.server.url(), REPO, "MERGED", false);
    fake.state().commits.push((REPO.to_owned(), sha('a')));
    let pr = bb.merge_request(&mr).await.unwrap();
    assert!(!pr.from_fork && !pr.draft);
    assert_eq!(pr.state, MrState::Merged);
    fake.state().pr = pull(&fake.server.url(), REPO, "DECLINED", false);
    assert_eq!(bb.merge_request(&mr).await.unwrap().state, MrState::Closed);

    // A short hash the forge does not know is an error, not a guess.
    fake.state().pr["source"]["commit"]["hash"] = json!("0123456789ab");
    let err = bb.merge_request(&mr).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(
        err.to_string().contains("resolving commit 0123456789ab"),
        "{err}"
    );
}

#[tokio::test]
async fn an_app_password_authenticates_with_basic_auth() {
    let fake = Fake::start(State::with_comments(vec![])).await;
    let bb = BitbucketCloud::new(
        &fake.base(),
        REPO,
        CloudAuth::AppPassword {
            user: USER.into(),
            password: Secret::new(APP_PASSWORD),
        },
    )
    .unwrap();
    let publisher = Publisher::new(bb).await.unwrap();
    let mr = publisher.provider().mr(7);
    publisher
        .publish(&mr, &sha('e'), &["plan".to_owned()])
        .await
        .unwrap();
    assert_eq!(fake.comments().len(), 1);
    assert!(
        fake.server
            .requests()
            .iter()
            .all(|r| r.header("authorization") == Some(BASIC))
    );
}
