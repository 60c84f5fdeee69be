//! The GitLab adapter, driven by the real [`Publisher`], against a loopback HTTP server that
//! speaks GitLab's REST API v4 with its real payload shapes ([`thule_vcs::testing::gitlab`]:
//! field names as in GitLab's docs, `doc/api/notes.md`, `merge_requests.md`, `commits.md`,
//! `users.md`), because no real GitLab can run here.
//!
//! The fake is stateful: users known by their `PRIVATE-TOKEN`, one project (id 42, path
//! `group/sub/app`, addressed by either), one merge request (iid 7), its notes (ids, authors,
//! system notes, GitLab's default order newest first and 20 per page, `sort`/`order_by`/
//! `per_page` (at most 100)/`page`, the `x-next-page` family of headers), the 1,000,000
//! character note limit, edits by the author only, commit statuses with GitLab's transition
//! refusals, and the merge request's changed files (`/diffs`, paginated the same way).

#![cfg(feature = "gitlab")]

use std::sync::MutexGuard;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use thule_vcs::gitlab::GitLab;
use thule_vcs::http::{Auth, Http, Method, RetryPolicy, Secret};
use thule_vcs::testing::gitlab::{
    ALICE_ID, ALICE_TOKEN, BOB_ID, ENCODED_PATH, FakeGitLab, Forge, IID, Note, PROJECT_ID,
    PROJECT_PATH, THULE_ID, THULE_TOKEN, WEB_URL, diff, message,
};
use thule_vcs::testing::{LoopbackServer, Recorded, Reply};
use thule_vcs::{
    CommitStatus, ErrorKind, GITLAB_NOTE_LIMIT, MrRef, MrState, Provider, ProviderKind, Publisher,
    StatusState, split_markdown,
};

const SHA1: &str = "1111111111111111111111111111111111111111";
const SHA2: &str = "2222222222222222222222222222222222222222";
const SHA3: &str = "3333333333333333333333333333333333333333";
const BASE_SHA: &str = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";

// ---------------------------------------------------------------------------------------------
// Helpers.

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        base_delay: Duration::from_millis(5),
        budget: Duration::from_secs(2),
    }
}

struct Setup {
    fake: FakeGitLab,
    publisher: Publisher<GitLab>,
    mr: MrRef,
}

fn adapter(server: &LoopbackServer, token: &str) -> GitLab {
    GitLab::new(
        &format!("{}/api/v4", server.url()),
        PROJECT_PATH,
        Secret::new(token),
    )
    .unwrap()
    .with_retry(fast_retries())
}

async fn setup() -> Setup {
    let fake = FakeGitLab::start(SHA1, BASE_SHA).await;
    let gitlab = adapter(&fake.server, THULE_TOKEN);
    let mr = gitlab.mr(IID);
    let publisher = Publisher::new(gitlab).await.unwrap();
    fake.server.clear();
    Setup {
        fake,
        publisher,
        mr,
    }
}

impl Setup {
    fn forge(&self) -> MutexGuard<'_, Forge> {
        self.fake.forge()
    }

    fn requests(&self, method: &str, suffix: &str) -> Vec<Recorded> {
        self.fake
            .server
            .requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .collect()
    }

    async fn publish(&self, sha: &str, parts: &[String]) -> thule_vcs::Published {
        self.forge().set_head(sha);
        self.publisher.publish(&self.mr, sha, parts).await.unwrap()
    }
}

fn status(state: StatusState, description: &str, target_url: Option<String>) -> CommitStatus {
    CommitStatus {
        context: "thule/plan".into(),
        state,
        description: description.into(),
        target_url,
    }
}

fn marker(sha: &str, part: usize, parts: usize) -> String {
    format!(
        "<!-- thule:plan v=1 provider=gitlab repo={PROJECT_PATH} mr={IID} sha={sha} part={part}/{parts} -->"
    )
}

/// A realistic plan of `n` changed objects: a summary, then one `<details>` block per object
/// with its diff in context (about 1,200 characters each).
fn plan_blocks(n: usize, tag: &str) -> Vec<String> {
    let mut blocks = vec![format!(
        "### thule plan ({tag})\n\n**{n} objects change** in 1 project: `apps` ({n} updated).\n"
    )];
    for i in 0..n {
        let team = format!("team-{:02}", i % 40);
        let name = format!("web-{i:04}");
        let diff = [
            " apiVersion: apps/v1".to_owned(),
            " kind: Deployment".to_owned(),
            " metadata:".to_owned(),
            format!("   name: {name}"),
            format!("   namespace: {team}"),
            "   labels:".to_owned(),
            format!("     app.kubernetes.io/name: {name}"),
            format!("     app.kubernetes.io/part-of: {team}-shop"),
            " spec:".to_owned(),
            "-  replicas: 2".to_owned(),
            "+  replicas: 3".to_owned(),
            "   selector:".to_owned(),
            "     matchLabels:".to_owned(),
            format!("       app.kubernetes.io/name: {name}"),
            "   template:".to_owned(),
            "     spec:".to_owned(),
            "       containers:".to_owned(),
            "         - name: web".to_owned(),
            format!("-          image: registry.example.com/{team}/web:1.4.{tag}"),
            format!("+          image: registry.example.com/{team}/web:1.5.{tag}"),
            "           ports:".to_owned(),
            "             - containerPort: 8080".to_owned(),
            "               name: http".to_owned(),
            "           env:".to_owned(),
            "             - name: LOG_LEVEL".to_owned(),
            "               value: info".to_owned(),
            "             - name: FEATURE_FLAGS".to_owned(),
            "               value: checkout-v2,search-v3".to_owned(),
            "           resources:".to_owned(),
            "             limits:".to_owned(),
            "               cpu: 500m".to_owned(),
            "               memory: 512Mi".to_owned(),
            "             requests:".to_owned(),
            "               cpu: 250m".to_owned(),
            "               memory: 256Mi".to_owned(),
        ]
        .join("\n");
        blocks.push(format!(
            "<details><summary><code>apps/v1/Deployment</code> <b>{team}/{name}</b>: 2 fields change</summary>\n\n```diff\n{diff}\n```\n\n</details>\n"
        ));
    }
    blocks
}

/// A plan of `n` objects split for the publisher's part limit.
fn big_plan(setup: &Setup, n: usize, tag: &str) -> Vec<String> {
    split_markdown(
        &plan_blocks(n, tag),
        setup.publisher.part_limit(),
        "thule plan",
    )
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[tokio::test]
async fn a_first_plan_posts_one_marked_note_and_sets_pending_then_success() {
    let s = setup().await;
    assert_eq!(s.publisher.identity().login, "project_42_bot_thule");
    assert_eq!(s.publisher.identity().id.as_deref(), Some("501"));
    let repo = s.mr.repo.clone();

    s.publisher
        .set_status(
            &repo,
            SHA1,
            &status(StatusState::Pending, "thule is planning…", None),
        )
        .await
        .unwrap();
    let published = s.publish(SHA1, &["1 object changes".to_owned()]).await;
    assert_eq!(published.created.len(), 1);
    assert!(published.superseded.is_empty());
    let id = published.created[0].id;
    let url = format!("{WEB_URL}#note_{id}");
    assert_eq!(published.url.as_deref(), Some(url.as_str()));
    s.publisher
        .set_status(
            &repo,
            SHA1,
            &status(StatusState::Success, "1 object changes", published.url),
        )
        .await
        .unwrap();

    let forge = s.forge();
    let notes = forge.thule_notes();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        notes[0].body,
        format!("{}\n1 object changes", marker(SHA1, 1, 1))
    );
    let posts: Vec<(&str, &str, &str)> = forge
        .status_log
        .iter()
        .map(|p| (p.sha.as_str(), p.state.as_str(), p.name.as_str()))
        .collect();
    assert_eq!(
        posts,
        [
            (SHA1, "pending", "thule/plan"),
            (SHA1, "success", "thule/plan")
        ]
    );
    assert_eq!(
        forge.status_log[1].target_url.as_deref(),
        Some(url.as_str())
    );
    assert!(forge.status_log.iter().all(|p| p.answered == 201));
    // The pending status became the success one, as GitLab moves a live status.
    assert_eq!(forge.statuses.len(), 1);
    assert_eq!(forge.statuses[0].state, "success");
    drop(forge);

    let requests = s.fake.server.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.header("private-token") == Some(THULE_TOKEN)),
        "every request carries PRIVATE-TOKEN"
    );
    assert!(
        requests.iter().all(|r| r
            .path
            .starts_with(&format!("/api/v4/projects/{ENCODED_PATH}/"))),
        "the project path is URL-encoded: {:?}",
        requests.iter().map(Recorded::line).collect::<Vec<_>>()
    );
    let lists = s.requests("GET", "/merge_requests/7/notes");
    assert_eq!(lists.len(), 1);
    assert_eq!(lists[0].query["sort"], "asc");
    assert_eq!(lists[0].query["order_by"], "created_at");
    assert_eq!(lists[0].query["per_page"], "100");
    let posts = s.requests("POST", "/merge_requests/7/notes");
    assert_eq!(posts[0].json(), json!({ "body": notes[0].body }));
    // The merge request's web_url is read once and cached.
    assert_eq!(s.requests("GET", "/merge_requests/7").len(), 1);
}

#[tokio::test]
async fn a_new_head_sha_posts_a_new_note_and_collapses_the_old_one_with_a_link() {
    let s = setup().await;
    let old = s.publish(SHA1, &["plan one".to_owned()]).await.created[0].id;
    let published = s.publish(SHA2, &["plan two".to_owned()]).await;
    assert_eq!(published.created.len(), 1);
    let new = published.created[0].id;
    assert_ne!(new, old);
    assert_eq!(published.superseded.len(), 1);
    assert_eq!(published.superseded[0].id, old);

    let (old_body, new_body, thule_notes) = {
        let forge = s.forge();
        (
            forge.note(old).body.clone(),
            forge.note(new).body.clone(),
            forge.thule_notes().len(),
        )
    };
    let first_line = old_body.lines().next().unwrap();
    assert_eq!(
        first_line,
        marker(SHA1, 1, 1).replace("thule:plan", "thule:superseded")
    );
    assert!(
        old_body.contains(&format!(
            "**Superseded** by [the plan for `222222222222`]({WEB_URL}#note_{new})."
        )),
        "{old_body}"
    );
    assert!(old_body.contains("<details><summary>Older thule plan for <code>111111111111</code>"));
    assert!(old_body.contains("plan one"));
    assert_eq!(new_body, format!("{}\nplan two", marker(SHA2, 1, 1)));
    assert_eq!(thule_notes, 2);
    // Superseded by editing, never deleted; the new note is posted before the old is edited.
    assert!(s.requests("DELETE", "").is_empty());
    let writes: Vec<String> = s
        .fake
        .server
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .map(Recorded::line)
        .collect();
    assert_eq!(
        writes,
        [
            format!("POST /api/v4/projects/{ENCODED_PATH}/merge_requests/7/notes"),
            format!("POST /api/v4/projects/{ENCODED_PATH}/merge_requests/7/notes"),
            format!("PUT /api/v4/projects/{ENCODED_PATH}/merge_requests/7/notes/{old}"),
        ]
    );

    // A third SHA supersedes only the current plan: the superseded note is left alone.
    s.fake.server.clear();
    let third = s.publish(SHA3, &["plan three".to_owned()]).await;
    assert_eq!(third.superseded.len(), 1);
    assert_eq!(third.superseded[0].id, new);
    assert!(
        !s.requests("PUT", "")
            .iter()
            .any(|r| r.path.ends_with(&format!("/notes/{old}")))
    );
}

#[tokio::test]
async fn the_same_sha_again_posts_nothing_and_edits_only_what_changed() {
    let s = setup().await;
    let parts = vec!["the plan".to_owned()];
    let first = s.publish(SHA1, &parts).await.created[0].id;
    s.fake.server.clear();

    let again = s.publish(SHA1, &parts).await;
    assert!(again.created.is_empty() && again.updated.is_empty() && again.superseded.is_empty());
    assert_eq!(again.unchanged, 1);
    assert_eq!(again.url, Some(format!("{WEB_URL}#note_{first}")));
    assert!(
        s.fake.server.requests().iter().all(|r| r.method == "GET"),
        "nothing is written"
    );

    let changed = s.publish(SHA1, &["the plan, re-rendered".to_owned()]).await;
    assert!(changed.created.is_empty());
    assert_eq!(changed.updated.len(), 1);
    assert_eq!(changed.updated[0].id, first);
    assert_eq!(
        changed.updated[0].url,
        Some(format!("{WEB_URL}#note_{first}"))
    );
    let forge = s.forge();
    assert_eq!(forge.thule_notes().len(), 1);
    assert_eq!(
        forge.note(first).body,
        format!("{}\nthe plan, re-rendered", marker(SHA1, 1, 1))
    );
}

#[tokio::test]
async fn a_plan_of_3000_objects_is_posted_as_ordered_parts_under_the_limit() {
    let s = setup().await;
    let parts = big_plan(&s, 3000, "a");
    assert!(parts.len() >= 3, "{} parts", parts.len());
    let n = parts.len();
    let published = s.publish(SHA1, &parts).await;
    assert_eq!(published.created.len(), n);
    assert_eq!(
        published.url,
        Some(format!("{WEB_URL}#note_{}", published.created[0].id))
    );

    let notes = s.forge().thule_notes();
    assert_eq!(notes.len(), n);
    let mut next_object = 0;
    for (i, note) in notes.iter().enumerate() {
        assert_eq!(note.id, published.created[i].id, "posted in order");
        assert!(note.body.chars().count() <= GITLAB_NOTE_LIMIT);
        let mut lines = note.body.lines();
        assert_eq!(lines.next(), Some(marker(SHA1, i + 1, n).as_str()));
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with(&format!("**thule plan: part {} of {n}**", i + 1))
        );
        assert!(thule_vcs::is_balanced(&note.body));
        // Every object shows up once, in order across the parts.
        for line in note.body.lines() {
            if let Some(rest) =
                line.strip_prefix("<details><summary><code>apps/v1/Deployment</code> <b>")
            {
                assert!(
                    rest.contains(&format!("/web-{next_object:04}</b>")),
                    "{rest}"
                );
                next_object += 1;
            }
        }
    }
    assert_eq!(next_object, 3000);
}

#[tokio::test]
async fn fewer_parts_on_the_same_sha_supersede_the_extra_ones() {
    let s = setup().await;
    let three = big_plan(&s, 3000, "a");
    let before = s.publish(SHA1, &three).await.created;
    assert!(before.len() >= 3);
    let fewer = big_plan(&s, 1000, "b");
    assert!(fewer.len() < before.len());

    s.fake.server.clear();
    let published = s.publish(SHA1, &fewer).await;
    assert!(published.created.is_empty(), "same SHA: edited in place");
    let updated: Vec<u64> = published.updated.iter().map(|h| h.id).collect();
    let kept: Vec<u64> = before[..fewer.len()].iter().map(|h| h.id).collect();
    assert_eq!(updated, kept);
    let superseded: Vec<u64> = published.superseded.iter().map(|h| h.id).collect();
    let extra: Vec<u64> = before[fewer.len()..].iter().map(|h| h.id).collect();
    assert_eq!(superseded, extra);

    let forge = s.forge();
    for id in extra {
        let body = &forge.note(id).body;
        assert!(body.starts_with("<!-- thule:superseded "), "{id}");
        assert!(body.contains(&format!("]({WEB_URL}#note_{})", kept[0])));
        assert!(body.chars().count() <= GITLAB_NOTE_LIMIT);
    }
    for (i, id) in kept.iter().enumerate() {
        assert!(
            forge
                .note(*id)
                .body
                .starts_with(&marker(SHA1, i + 1, fewer.len()))
        );
    }
}

#[tokio::test]
async fn fewer_parts_on_a_new_sha_supersede_every_old_part() {
    let s = setup().await;
    let before = s.publish(SHA1, &big_plan(&s, 3000, "a")).await.created;
    let fewer = big_plan(&s, 1000, "b");
    let published = s.publish(SHA2, &fewer).await;
    assert_eq!(published.created.len(), fewer.len());
    let mut superseded: Vec<u64> = published.superseded.iter().map(|h| h.id).collect();
    superseded.sort_unstable();
    let old: Vec<u64> = before.iter().map(|h| h.id).collect();
    assert_eq!(superseded, old);
    let forge = s.forge();
    let current: Vec<&Note> = forge
        .notes
        .iter()
        .filter(|n| n.body.starts_with("<!-- thule:plan "))
        .collect();
    assert_eq!(current.len(), fewer.len());
    assert!(
        current
            .iter()
            .all(|n| n.body.contains(&format!("sha={SHA2}")))
    );
}

#[tokio::test]
async fn every_page_of_notes_is_read_oldest_first_and_system_notes_are_skipped() {
    let s = setup().await;
    {
        let mut forge = s.forge();
        for i in 0..150 {
            let author = if i % 2 == 0 { ALICE_ID } else { BOB_ID };
            forge.add_note(author, &format!("review comment {i}"), false);
            if i % 15 == 0 {
                forge.add_note(ALICE_ID, "added 1 commit\n\n* 1111111 - scale web", true);
            }
        }
    }
    let old = s.publish(SHA1, &["old plan".to_owned()]).await.created[0].id;
    assert_eq!(s.forge().notes.len(), 150 + 10 + 1);

    // Listing reads both pages (100 + 61), oldest first, without the system notes.
    s.fake.server.clear();
    s.forge().pages.clear();
    let comments = s.publisher.provider().list_comments(&s.mr).await.unwrap();
    assert_eq!(comments.len(), 151);
    assert!(comments.windows(2).all(|w| w[0].handle.id < w[1].handle.id));
    assert_eq!(comments[0].body, "review comment 0");
    assert_eq!(comments[0].author.login, "alice");
    assert_eq!(comments[150].handle.id, old);
    assert_eq!(
        comments[150].handle.url,
        Some(format!("{WEB_URL}#note_{old}"))
    );
    assert!(
        comments
            .iter()
            .all(|c| !c.body.starts_with("added 1 commit"))
    );
    let lists = s.requests("GET", "/notes");
    assert_eq!(lists.len(), 2);
    assert_eq!(lists[0].query["page"], "1");
    assert_eq!(lists[1].query["page"], "2");
    assert_eq!(
        s.forge().pages,
        [("notes".to_owned(), 1), ("notes".to_owned(), 2)]
    );

    // Publishing a new SHA finds thule's plan on the second page and supersedes it.
    s.fake.server.clear();
    let published = s.publish(SHA2, &["new plan".to_owned()]).await;
    assert_eq!(published.superseded.len(), 1);
    assert_eq!(published.superseded[0].id, old);
    assert_eq!(s.requests("GET", "/notes").len(), 2);
}

#[tokio::test]
async fn the_fake_serves_gitlabs_default_order_and_page_size() {
    // Without `sort`/`per_page`, GitLab answers newest first, 20 per page: the adapter must
    // ask for ascending order and 100 per page itself.
    let s = setup().await;
    for i in 0..45 {
        s.forge().add_note(ALICE_ID, &format!("c{i}"), false);
    }
    let http = Http::new(
        ProviderKind::GitLab,
        &format!("{}/api/v4", s.fake.server.url()),
        Auth::Header("PRIVATE-TOKEN", Secret::new(THULE_TOKEN)),
    )
    .unwrap();
    let page = http
        .send(
            Method::Get,
            &format!("/projects/{PROJECT_ID}/merge_requests/7/notes"),
            None,
            "listing",
        )
        .await
        .unwrap();
    let bodies: Vec<&str> = page.body.as_array().unwrap()[..2]
        .iter()
        .map(|n| n["body"].as_str().unwrap())
        .collect();
    assert_eq!(page.body.as_array().unwrap().len(), 20);
    assert_eq!(bodies, ["c44", "c43"]);
    assert_eq!(page.header("x-next-page"), Some("2"));
    assert_eq!(page.header("x-total-pages"), Some("3"));
}

#[tokio::test]
async fn a_foreign_note_starting_with_thules_exact_marker_is_left_alone() {
    let s = setup().await;
    // Alice posts notes that start with thule's exact markers, through the API.
    let alice = adapter(&s.fake.server, ALICE_TOKEN);
    let mut forged = Vec::new();
    for sha in [SHA1, SHA2] {
        let body = format!("{}\nfake plan", marker(sha, 1, 1));
        forged.push(alice.create_comment(&s.mr, &body).await.unwrap().id);
    }
    let (forged_old, forged_new) = (forged[0], forged[1]);
    assert_eq!(s.forge().note(forged_old).author, ALICE_ID);
    let other_mr = s.forge().add_note(
        THULE_ID,
        &format!(
            "{}\nanother MR's plan",
            marker(SHA1, 1, 1).replace("mr=7", "mr=8")
        ),
        false,
    );
    let snapshot = |s: &Setup| -> Vec<(u64, String)> {
        let forge = s.forge();
        [forged_old, forged_new, other_mr]
            .iter()
            .map(|id| (*id, forge.note(*id).body.clone()))
            .collect()
    };
    let before = snapshot(&s);
    let first = s.publish(SHA1, &["real plan".to_owned()]).await;
    assert_eq!(
        first.created.len(),
        1,
        "a foreign marker is not thule's plan"
    );
    let second = s.publish(SHA2, &["real plan 2".to_owned()]).await;
    assert_eq!(second.created.len(), 1);
    assert_eq!(second.superseded.len(), 1);
    assert_eq!(second.superseded[0].id, first.created[0].id);
    s.publish(SHA2, &["real plan 2".to_owned()]).await;

    assert_eq!(snapshot(&s), before);
    for r in s.fake.server.requests() {
        if r.method != "GET" {
            for id in [forged_old, forged_new, other_mr] {
                assert!(!r.path.ends_with(&format!("/notes/{id}")), "{}", r.line());
            }
        }
    }
}

/// A server that answers `fail` to the first `n` requests, then lets the fake GitLab answer.
async fn with_failures(n: usize, fail: Reply) -> Setup {
    let s = setup().await;
    s.forge().inject = std::iter::repeat_n(fail, n).collect();
    s
}

fn count(s: &Setup) -> usize {
    s.fake.server.requests().len()
}

#[tokio::test]
async fn refusals_have_kinds_are_not_retried_and_never_show_the_token() {
    // 401: a wrong token.
    let s = setup().await;
    let stranger = adapter(&s.fake.server, "glpat-wrong-token-9999");
    let err = stranger.whoami().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized);
    assert_eq!(err.provider, ProviderKind::GitLab);
    assert_eq!(count(&s), 1);
    assert!(!err.to_string().contains("glpat-wrong"), "{err}");
    assert!(!format!("{err:?}").contains("glpat-wrong"));
    assert!(!format!("{stranger:?}").contains("glpat-wrong"));
    assert!(!format!("{:?}", s.publisher.provider()).contains(THULE_TOKEN));

    // 403: editing another user's note.
    s.fake.server.clear();
    let alices = s.forge().add_note(ALICE_ID, "LGTM", false);
    let err = s
        .publisher
        .provider()
        .update_comment(&s.mr, &thule_vcs::CommentHandle::id(alices), "hijacked")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Forbidden);
    assert!(err.to_string().contains("403 Forbidden"), "{err}");
    assert_eq!(count(&s), 1);
    assert_eq!(s.forge().note(alices).body, "LGTM");

    // 404: another merge request, another project.
    s.fake.server.clear();
    let gitlab = s.publisher.provider();
    let err = gitlab.merge_request(&gitlab.mr(999)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(err.to_string().contains("group/sub/app!999"), "{err}");
    let elsewhere = GitLab::new(
        &format!("{}/api/v4", s.fake.server.url()),
        "group/other",
        Secret::new(THULE_TOKEN),
    )
    .unwrap();
    let err = elsewhere.changed_paths(&elsewhere.mr(7)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(err.to_string().contains("404 Project Not Found"), "{err}");
    assert_eq!(count(&s), 2);
}

#[tokio::test]
async fn rate_limits_are_retried_after_retry_after_or_the_reset_header() {
    let limited = message(429, "Retry later").with_header("retry-after", "0");
    let s = with_failures(2, limited.clone()).await;
    let comments = s.publisher.provider().list_comments(&s.mr).await.unwrap();
    assert!(comments.is_empty());
    // Two refusals of the first request, then the merge request and the notes.
    assert_eq!(count(&s), 4);

    // GitLab's RateLimit-Reset (an epoch, here already passed) works as well.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let reset = message(429, "Retry later")
        .with_header("ratelimit-remaining", "0")
        .with_header("ratelimit-reset", &now.to_string());
    let s = with_failures(1, reset).await;
    s.publisher.provider().whoami().await.unwrap();
    assert_eq!(count(&s), 2);

    // A 429 on a note POST is retried: GitLab certainly did not post it.
    let s = with_failures(0, limited.clone()).await;
    s.publisher.provider().list_comments(&s.mr).await.unwrap();
    s.fake.server.clear();
    s.forge().inject = [limited.clone()].into();
    s.publisher
        .provider()
        .create_comment(&s.mr, "hello")
        .await
        .unwrap();
    assert_eq!(count(&s), 2);
    assert_eq!(s.forge().thule_notes().len(), 1);

    // Bounded: a limit that never lifts fails after the policy's 4 tries.
    let s = with_failures(100, limited).await;
    let err = s.publisher.provider().whoami().await.unwrap_err();
    assert!(matches!(err.kind, ErrorKind::RateLimited { .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(count(&s), 4);
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times_but_never_for_a_note_post() {
    let busy = message(502, "502 Bad Gateway");
    // A GET gets through after two 502s.
    let s = with_failures(2, busy.clone()).await;
    let mr = s.publisher.provider().merge_request(&s.mr).await.unwrap();
    assert_eq!(mr.head_sha, SHA1);
    assert_eq!(count(&s), 3);

    // A status POST is idempotent and retried too.
    let s = with_failures(1, message(503, "unavailable")).await;
    s.publisher
        .set_status(
            &s.mr.repo,
            SHA1,
            &status(StatusState::Pending, "planning", None),
        )
        .await
        .unwrap();
    assert_eq!(count(&s), 2);
    assert_eq!(s.forge().status_log.len(), 1);

    // Bounded: 4 tries in all.
    let s = with_failures(100, busy.clone()).await;
    let err = s.publisher.provider().whoami().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected { status: 502 });
    assert_eq!(count(&s), 4);

    // A note POST that failed ambiguously is not repeated (the next run finds it by marker).
    let s = setup().await;
    s.publisher.provider().list_comments(&s.mr).await.unwrap();
    s.fake.server.clear();
    s.forge().inject = [message(500, "500 Internal Server Error")].into();
    let err = s
        .publisher
        .provider()
        .create_comment(&s.mr, "hello")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected { status: 500 });
    assert_eq!(count(&s), 1);
}

#[tokio::test]
async fn a_repeated_status_gitlab_cannot_transition_counts_as_set() {
    let s = setup().await;
    let pending = status(StatusState::Pending, "planning", None);
    s.publisher
        .set_status(&s.mr.repo, SHA1, &pending)
        .await
        .unwrap();
    s.publisher
        .set_status(&s.mr.repo, SHA1, &pending)
        .await
        .unwrap();
    let failed = status(StatusState::Failure, "1 blocker risk", None);
    s.publisher
        .set_status(&s.mr.repo, SHA1, &failed)
        .await
        .unwrap();
    let error = status(StatusState::Error, "a project failed to render", None);
    s.publisher
        .set_status(&s.mr.repo, SHA1, &error)
        .await
        .unwrap();
    let answers: Vec<String> = s
        .forge()
        .status_log
        .iter()
        .map(|p| format!("{} {}", p.state, p.answered))
        .collect();
    assert_eq!(
        answers,
        ["pending 201", "pending 400", "failed 201", "failed 201"]
    );
    // Other refusals are errors: a commit GitLab does not know.
    let err = s
        .publisher
        .set_status(&s.mr.repo, SHA3, &pending)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    // A description is cut to GitLab's 255 characters; an over-long link is left out.
    let long = status(
        StatusState::Success,
        &"x".repeat(400),
        Some(format!("https://example.com/{}", "y".repeat(300))),
    );
    s.publisher
        .set_status(&s.mr.repo, SHA1, &long)
        .await
        .unwrap();
    let last = s
        .requests("POST", &format!("/statuses/{SHA1}"))
        .pop()
        .unwrap();
    assert_eq!(
        last.json()["description"].as_str().unwrap().chars().count(),
        255
    );
    assert!(last.json().get("target_url").is_none());
}

#[tokio::test]
async fn the_merge_request_is_mapped_from_gitlabs_json() {
    let s = setup().await;
    let gitlab = s.publisher.provider();
    let mr = gitlab.merge_request(&s.mr).await.unwrap();
    assert_eq!(mr.mr, s.mr);
    assert_eq!(mr.head_sha, SHA1);
    assert_eq!(mr.base_sha.as_deref(), Some(BASE_SHA));
    assert_eq!(mr.head_branch, "scale-web");
    assert_eq!(mr.base_branch, "main");
    assert_eq!(mr.author.login, "alice");
    assert_eq!(mr.author.id.as_deref(), Some("17"));
    assert_eq!(mr.labels, ["env::prod", "team/web"]);
    assert!(!mr.draft);
    assert!(!mr.from_fork);
    assert_eq!(mr.state, MrState::Open);
    assert_eq!(mr.web_url.as_deref(), Some(WEB_URL));

    {
        let mut forge = s.forge();
        forge.mr["draft"] = json!(true);
        forge.mr["source_project_id"] = json!(99);
        forge.mr["state"] = json!("merged");
        forge.mr["labels"] = json!([]);
        forge.mr["diff_refs"] = Value::Null;
    }
    let mr = gitlab.merge_request(&s.mr).await.unwrap();
    assert!(mr.draft);
    assert!(mr.from_fork);
    assert_eq!(mr.state, MrState::Merged);
    assert!(mr.labels.is_empty());
    assert_eq!(mr.base_sha, None);
    s.forge().mr["state"] = json!("closed");
    assert_eq!(
        gitlab.merge_request(&s.mr).await.unwrap().state,
        MrState::Closed
    );

    // The numeric project id works as the path does.
    let by_id = GitLab::new(
        &format!("{}/api/v4", s.fake.server.url()),
        "42",
        Secret::new(THULE_TOKEN),
    )
    .unwrap();
    assert_eq!(
        by_id.merge_request(&by_id.mr(7)).await.unwrap().head_sha,
        SHA1
    );
    assert!(
        s.fake
            .server
            .requests()
            .last()
            .unwrap()
            .path
            .starts_with("/api/v4/projects/42/merge_requests/7")
    );

    // A field GitLab should send and did not: a clear error naming it.
    s.forge()
        .mr
        .as_object_mut()
        .unwrap()
        .remove("source_branch");
    let err = gitlab.merge_request(&s.mr).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transport);
    assert!(
        err.message
            .contains("GitLab answered a merge request without `source_branch`"),
        "{err}"
    );
}

#[tokio::test]
async fn changed_paths_read_every_page_of_diffs_with_renames_and_deletions() {
    let s = setup().await;
    {
        let mut forge = s.forge();
        let mut diffs: Vec<Value> = (0..227)
            .map(|i| {
                let p = format!("apps/team-{i:03}/deployment.yaml");
                diff(&p, &p)
            })
            .collect();
        diffs.push(diff(
            "apps/old-name/service.yaml",
            "apps/new-name/service.yaml",
        ));
        let mut deleted = diff("apps/gone/configmap.yaml", "apps/gone/configmap.yaml");
        deleted["deleted_file"] = json!(true);
        diffs.push(deleted);
        let mut added = diff("apps/new/ingress.yaml", "apps/new/ingress.yaml");
        added["new_file"] = json!(true);
        diffs.push(added);
        forge.diffs = diffs;
    }
    let paths = s.publisher.provider().changed_paths(&s.mr).await.unwrap();
    assert_eq!(paths.len(), 230);
    assert_eq!(paths[0].path, "apps/team-000/deployment.yaml");
    assert_eq!(paths[0].previous, None);
    assert_eq!(paths[227].path, "apps/new-name/service.yaml");
    assert_eq!(
        paths[227].previous.as_deref(),
        Some("apps/old-name/service.yaml")
    );
    assert_eq!(paths[228].path, "apps/gone/configmap.yaml");
    assert_eq!(paths[228].previous, None);
    assert_eq!(paths[229].path, "apps/new/ingress.yaml");

    let lists = s.requests("GET", "/merge_requests/7/diffs");
    let pages: Vec<&str> = lists.iter().map(|r| r.query["page"].as_str()).collect();
    assert_eq!(pages, ["1", "2", "3"]);
    assert!(lists.iter().all(|r| r.query["per_page"] == "100"));
}

#[tokio::test]
async fn an_answer_without_a_needed_field_is_a_clear_transport_error() {
    let server = LoopbackServer::start(|req| match req.path.as_str() {
        "/api/v4/user" => Reply::json(200, &json!({"id": 5, "name": "No Username"})),
        _ => Reply::json(200, &json!([{"id": 1, "body": "x", "system": false}]))
            .with_header("x-next-page", ""),
    })
    .await;
    let gitlab = adapter(&server, THULE_TOKEN);
    let err = gitlab.whoami().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transport);
    assert!(
        err.message
            .contains("GitLab answered the user without `username`"),
        "{err}"
    );
    let err = gitlab.changed_paths(&gitlab.mr(7)).await.unwrap_err();
    assert!(
        err.message
            .contains("GitLab answered a diff without `new_path`"),
        "{err}"
    );
}

#[tokio::test]
async fn notes_can_be_deleted() {
    let s = setup().await;
    let published = s.publish(SHA1, &["plan".to_owned()]).await;
    s.publisher
        .provider()
        .delete_comment(&s.mr, &published.created[0])
        .await
        .unwrap();
    assert!(s.forge().thule_notes().is_empty());
    let deletes = s.requests("DELETE", "");
    assert_eq!(deletes.len(), 1);
    assert_eq!(
        deletes[0].path,
        format!(
            "/api/v4/projects/{ENCODED_PATH}/merge_requests/7/notes/{}",
            published.created[0].id
        )
    );
}

#[tokio::test]
async fn capabilities_follow_the_reference() {
    let s = setup().await;
    let caps = s.publisher.provider().capabilities();
    assert_eq!(caps.max_comment_chars, 1_000_000);
    assert_eq!(caps.supersede, thule_vcs::SupersedeStyle::EditCollapsed);
    assert_eq!(caps.max_status_description, 255);
    assert_eq!(s.publisher.provider().kind(), ProviderKind::GitLab);
    let err = s
        .publisher
        .provider()
        .minimize_comment(&s.mr, &thule_vcs::CommentHandle::id(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
}

#[tokio::test]
async fn without_x_next_page_the_page_of_the_link_header_is_followed_on_the_api_host() {
    // Some GitLab answers (behind proxies, keyset-style lists) carry only a `Link` header,
    // and it names GitLab's external URL: thule takes its page, not its host.
    let server = LoopbackServer::start(|req| {
        let page: u64 = req.query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let items: Vec<Value> = (0..if page < 3 { 100 } else { 7 })
            .map(|i| {
                let p = format!("apps/p{page}/f{i}.yaml");
                diff(&p, &p)
            })
            .collect();
        let reply = Reply::json(200, &Value::Array(items));
        if page < 3 {
            reply.with_header(
                "link",
                &format!(
                    "<https://gitlab.external.example/api/v4/projects/42/merge_requests/7/diffs?page={}&per_page=100>; rel=\"next\", <https://gitlab.external.example/api/v4/projects/42/merge_requests/7/diffs?page=1&per_page=100>; rel=\"first\"",
                    page + 1
                ),
            )
        } else {
            reply
        }
    })
    .await;
    let gitlab = adapter(&server, THULE_TOKEN);
    let paths = gitlab.changed_paths(&gitlab.mr(7)).await.unwrap();
    assert_eq!(paths.len(), 207);
    assert_eq!(paths[206].path, "apps/p3/f6.yaml");
    let pages: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.query["page"].clone())
        .collect();
    assert_eq!(pages, ["1", "2", "3"]);
}
