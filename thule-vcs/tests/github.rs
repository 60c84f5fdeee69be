//! The GitHub adapter, driven by the real [`Publisher`], against a loopback HTTP server that
//! speaks GitHub's real REST API and the GraphQL calls thule makes, with the real payload
//! shapes, because no real GitHub can run here.
//!
//! The fake ([`FakeGitHub`], from [`thule_vcs::testing::github`]) keeps issue comments (ids,
//! node ids, authors, minimized flags), pages lists as GitHub does (30 per page unless
//! `per_page` says otherwise, at most 100, absolute `Link` headers pointing at
//! `/repositories/{id}/...`), answers the GraphQL `nodes(ids:)` query and the
//! `minimizeComment` mutation with `{"data": ...}` or `{"errors": [...]}`, logs commit
//! statuses, serves a pull request and its files (capped at 3,000 like GitHub), refuses
//! requests without a `User-Agent` (403) or a known token (401), and exchanges GitHub App
//! JWTs (verified with the public half of a throwaway test key) for expiring installation
//! tokens. It is laid out like GitHub Enterprise Server (REST under `/api/v3`, GraphQL at
//! `/api/graphql`) so the adapter must take both URLs as given.
#![cfg(feature = "github")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::DecodingKey;
use serde_json::{Value, json};
use thule_vcs::github::{ACTIONS_BOT_LOGIN, Credentials, GitHub, GitHubApp};
use thule_vcs::http::{Auth, Http, Method, RetryPolicy, Secret};
use thule_vcs::marker::Marker;
use thule_vcs::supersede::part_body;
use thule_vcs::testing::github::{
    ACTIONS_TOKEN, APP_ID, APP_SLUG, FakeGitHub, INSTALLATION_ID, OWNER_REPO, PR, REPO_ID, TOKEN,
    User, actions_bot, alice, gh_error, not_found, now_secs, pull_json, thule_bot,
};
use thule_vcs::testing::{Recorded, Reply};
use thule_vcs::{
    CommitStatus, ErrorKind, GITHUB_COMMENT_LIMIT, MrRef, MrState, Provider, ProviderKind,
    Publisher, RepoRef, StatusState, SupersedeStyle, split_markdown,
};

/// A throwaway RSA key generated for these tests only (see tests/data/README.md).
const APP_KEY: &str = include_str!("data/github-app-test-key.pem");
const APP_PUBLIC_KEY: &str = include_str!("data/github-app-test-key.pub.pem");

const SHA_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1";
const SHA_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2";
/// The pull request's base commit.
const BASE_SHA: &str = "cccccccccccccccccccccccccccccccccccccccc";

// ---------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------

/// The fake GitHub, its pull request at [`SHA_B`].
async fn start() -> FakeGitHub {
    FakeGitHub::start(SHA_B, BASE_SHA).await
}

/// The adapter against a fake.
trait Adapters {
    /// A GitHub adapter with `credentials` and retries that do not slow the tests down.
    fn github(&self, credentials: Credentials) -> GitHub;
    /// The adapter with thule's personal access token.
    fn token_github(&self) -> GitHub;
    /// A publisher with thule's personal access token.
    async fn publisher(&self) -> Publisher<GitHub>;
}

impl Adapters for FakeGitHub {
    fn github(&self, credentials: Credentials) -> GitHub {
        let (rest, graphql) = self.urls();
        GitHub::new(&rest, &graphql, OWNER_REPO, credentials)
            .unwrap()
            .with_retry(RetryPolicy {
                attempts: 4,
                base_delay: Duration::from_millis(5),
                budget: Duration::from_secs(2),
            })
    }

    fn token_github(&self) -> GitHub {
        self.github(Credentials::Token(Secret::new(TOKEN)))
    }

    async fn publisher(&self) -> Publisher<GitHub> {
        Publisher::new(self.token_github()).await.unwrap()
    }
}

fn mr() -> MrRef {
    MrRef {
        repo: RepoRef {
            provider: ProviderKind::GitHub,
            path: OWNER_REPO.to_owned(),
        },
        number: PR,
    }
}

fn status(state: StatusState, description: &str, url: Option<String>) -> CommitStatus {
    CommitStatus {
        context: "thule/plan".to_owned(),
        state,
        description: description.to_owned(),
        target_url: url,
    }
}

/// One changed object as thule renders it: a `<details>` block with its diff.
fn object_block(i: usize) -> String {
    format!(
        "<details><summary><code>apps/v1 Deployment team-{team}/svc-{i:04}</code>: 2 changes</summary>\n\n\
         ```diff\n spec:\n-  replicas: 2\n+  replicas: 3\n   template:\n     spec:\n       containers:\n         - name: svc-{i:04}\n-          image: registry.example.com/svc-{i:04}:1.4.1\n+          image: registry.example.com/svc-{i:04}:1.4.2\n```\n\n</details>\n",
        team = i % 17
    )
}

/// A plan of `n` changed objects, split as the CLI splits it.
fn big_plan(n: usize, limit: usize) -> Vec<String> {
    let mut blocks = vec![format!(
        "## thule plan\n\n**{n} objects change** in 1 project (`payments`, cluster `prod-eu-1`).\n"
    )];
    blocks.extend((0..n).map(object_block));
    split_markdown(&blocks, limit, "thule plan")
}

fn marker(body: &str) -> Marker {
    Marker::parse(body).unwrap_or_else(|| panic!("no marker in {:.120}", body))
}

fn assert_github_headers(fake: &FakeGitHub, token: &str) {
    for r in fake.requests() {
        assert!(
            r.header("user-agent")
                .is_some_and(|ua| ua.starts_with("thule/")),
            "{}",
            r.line()
        );
        assert_eq!(
            r.header("accept"),
            Some("application/vnd.github+json"),
            "{}",
            r.line()
        );
        assert_eq!(
            r.header("x-github-api-version"),
            Some("2022-11-28"),
            "{}",
            r.line()
        );
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {token}").as_str()),
            "{}",
            r.line()
        );
    }
}

// ---------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_first_plan_posts_one_marked_comment_and_sets_pending_then_success() {
    let fake = start().await;
    let publisher = fake.publisher().await;
    assert_eq!(publisher.identity().login, "thule-bot");
    assert_eq!(publisher.part_limit(), GITHUB_COMMENT_LIMIT - 1_000);

    publisher
        .set_status(
            &mr().repo,
            SHA_A,
            &status(StatusState::Pending, "planning…", None),
        )
        .await
        .unwrap();
    let published = publisher
        .publish(&mr(), SHA_A, &["## thule plan\n\nNo changes.".to_owned()])
        .await
        .unwrap();
    publisher
        .set_status(
            &mr().repo,
            SHA_A,
            &status(
                StatusState::Success,
                &format!(
                    "1 project planned: 3 objects change, no blocker. {}",
                    "x".repeat(200)
                ),
                published.url.clone(),
            ),
        )
        .await
        .unwrap();

    let comments = fake.comments();
    assert_eq!(comments.len(), 1);
    let c = &comments[0];
    assert_eq!(c.user.login, "thule-bot");
    assert_eq!(
        marker(&c.body),
        Marker::plan(&mr(), SHA_A, 1, 1),
        "the first line is thule's marker"
    );
    assert!(c.body.ends_with("No changes."));
    assert_eq!(published.created.len(), 1);
    assert_eq!(published.created[0].id, c.id);
    assert_eq!(
        published.created[0].node_id.as_deref(),
        Some(c.node_id.as_str())
    );
    let url = published.url.unwrap();
    assert!(url.ends_with(&format!("#issuecomment-{}", c.id)), "{url}");

    let statuses = fake.state().statuses.clone();
    assert_eq!(statuses.len(), 2);
    assert!(
        statuses
            .iter()
            .all(|(sha, s)| sha == SHA_A && s["context"] == "thule/plan")
    );
    assert_eq!(statuses[0].1["state"], "pending");
    assert!(statuses[0].1.get("target_url").is_none());
    assert_eq!(statuses[1].1["state"], "success");
    assert_eq!(statuses[1].1["target_url"], url.as_str());
    let description = statuses[1].1["description"].as_str().unwrap();
    assert!(description.chars().count() <= 140, "{description}");
    assert!(description.ends_with('…'));

    // One GET /user, one comment list, no GraphQL (no thule comment existed), one POST.
    assert_eq!(fake.count("GET", "/user"), 1);
    assert_eq!(
        fake.count("GET", "/repos/octo-org/gitops/issues/7/comments"),
        1
    );
    assert_eq!(
        fake.count("POST", "/repos/octo-org/gitops/issues/7/comments"),
        1
    );
    assert!(fake.graphql("").is_empty());
    let list = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path.ends_with("/comments"))
        .unwrap();
    assert_eq!(list.query.get("per_page").map(String::as_str), Some("100"));
    assert_github_headers(&fake, TOKEN);
}

#[tokio::test]
async fn a_new_head_sha_posts_a_new_comment_and_minimizes_the_old_one_as_outdated() {
    let fake = start().await;
    let publisher = fake.publisher().await;
    publisher
        .publish(&mr(), SHA_A, &["plan at A".to_owned()])
        .await
        .unwrap();
    let old = fake.comments()[0].clone();

    let published = publisher
        .publish(&mr(), SHA_B, &["plan at B".to_owned()])
        .await
        .unwrap();

    let comments = fake.comments();
    assert_eq!(comments.len(), 2);
    let old_now = fake.comment(old.id);
    assert_eq!(old_now.minimized.as_deref(), Some("OUTDATED"));
    assert_eq!(old_now.body, old.body, "minimizing keeps the body");
    let new = &comments[1];
    assert_eq!(marker(&new.body), Marker::plan(&mr(), SHA_B, 1, 1));
    assert!(new.minimized.is_none());
    assert_eq!(published.created.len(), 1);
    assert_eq!(published.superseded.len(), 1);
    assert_eq!(published.superseded[0].id, old.id);

    let minimizes = fake.graphql("minimizeComment");
    assert_eq!(minimizes.len(), 1);
    assert_eq!(minimizes[0]["variables"]["id"], old.node_id.as_str());
    // The second publication asked GraphQL whether the old plan was minimized.
    let lookups = fake.graphql("nodes(ids:");
    assert_eq!(lookups.len(), 1);
    assert_eq!(lookups[0]["variables"]["ids"], json!([old.node_id]));
    // New parts are posted before old ones are minimized.
    let order: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(
        order[order.len() - 2..],
        [
            "/api/v3/repos/octo-org/gitops/issues/7/comments".to_owned(),
            "/api/graphql".to_owned()
        ]
    );
    assert_github_headers(&fake, TOKEN);
}

#[tokio::test]
async fn the_same_sha_again_posts_nothing_and_minimizes_nothing_twice() {
    let fake = start().await;
    let publisher = fake.publisher().await;
    let parts = ["plan at B".to_owned()];
    publisher
        .publish(&mr(), SHA_A, &["plan at A".to_owned()])
        .await
        .unwrap();
    publisher.publish(&mr(), SHA_B, &parts).await.unwrap();
    let before = fake.comments();
    fake.server.clear();

    let again = publisher.publish(&mr(), SHA_B, &parts).await.unwrap();

    assert_eq!(again.created, vec![]);
    assert_eq!(again.updated, vec![]);
    assert_eq!(
        again.superseded,
        vec![],
        "the minimized plan is not minimized again"
    );
    assert_eq!(again.unchanged, 1);
    assert!(
        again.url.is_some(),
        "the current plan's link is still known"
    );
    let after = fake.comments();
    assert_eq!(
        after
            .iter()
            .map(|c| (c.id, &c.body, &c.minimized))
            .collect::<Vec<_>>(),
        before
            .iter()
            .map(|c| (c.id, &c.body, &c.minimized))
            .collect::<Vec<_>>()
    );
    let writes: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.method != "GET" && r.path != "/api/graphql")
        .map(Recorded::line)
        .collect();
    assert_eq!(writes, Vec::<String>::new());
    assert!(fake.graphql("minimizeComment").is_empty());
    // Both thule comments were looked up, and GitHub said which one is minimized.
    let lookups = fake.graphql("nodes(ids:");
    assert_eq!(lookups.len(), 1);
    assert_eq!(lookups[0]["variables"]["ids"].as_array().unwrap().len(), 2);
    let listed = publisher.provider().list_comments(&mr()).await.unwrap();
    assert_eq!(
        listed.iter().map(|c| c.minimized).collect::<Vec<_>>(),
        [true, false]
    );

    // A new text for the same SHA edits the comment in place.
    let edited = publisher
        .publish(&mr(), SHA_B, &["plan at B, rendered again".to_owned()])
        .await
        .unwrap();
    assert_eq!(edited.updated.len(), 1);
    assert_eq!(edited.created, vec![]);
    assert_eq!(fake.comments().len(), 2);
    assert!(fake.comments()[1].body.ends_with("rendered again"));
}

#[tokio::test]
async fn a_plan_of_3000_objects_is_posted_as_ordered_parts_under_the_limit_then_fewer_parts_supersede_the_extra_ones()
 {
    let fake = start().await;
    let publisher = fake.publisher().await;
    let parts = big_plan(3_000, publisher.part_limit());
    let n = parts.len();
    assert!(n >= 5, "3,000 objects need several parts, got {n}");

    let published = publisher.publish(&mr(), SHA_A, &parts).await.unwrap();
    assert_eq!(published.created.len(), n);

    let comments = fake.comments();
    assert_eq!(comments.len(), n);
    let mut seen = 0;
    for (i, c) in comments.iter().enumerate() {
        assert_eq!(marker(&c.body), Marker::plan(&mr(), SHA_A, i + 1, n));
        assert!(
            c.body
                .contains(&format!("**thule plan: part {} of {n}**", i + 1)),
            "part {} is in order",
            i + 1
        );
        let chars = c.body.chars().count();
        assert!(
            chars <= GITHUB_COMMENT_LIMIT,
            "part {} has {chars} chars",
            i + 1
        );
        // Every object is there once, in order.
        for line in c
            .body
            .lines()
            .filter(|l| l.starts_with("<details><summary>"))
        {
            assert!(line.contains(&format!("svc-{seen:04}<")), "{line}");
            seen += 1;
        }
    }
    assert_eq!(seen, 3_000);
    let first_url = format!(
        "{}/{OWNER_REPO}/pull/7#issuecomment-{}",
        fake.server.url(),
        comments[0].id
    );
    assert_eq!(
        published.url,
        Some(first_url),
        "the status links the first part"
    );

    // The same SHA, now with fewer objects: fewer parts. The first ones are edited in place,
    // the extra old ones are minimized with their bodies kept.
    let fewer = big_plan(1_000, publisher.part_limit());
    let m = fewer.len();
    assert!(m < n && m >= 2, "{m} parts after {n}");
    fake.server.clear();
    let republished = publisher.publish(&mr(), SHA_A, &fewer).await.unwrap();
    assert_eq!(republished.created, vec![]);
    assert_eq!(republished.updated.len(), m);
    assert_eq!(
        republished
            .superseded
            .iter()
            .map(|h| h.id)
            .collect::<Vec<_>>(),
        comments[m..].iter().map(|c| c.id).collect::<Vec<_>>()
    );
    let after = fake.comments();
    assert_eq!(after.len(), n);
    for (i, (c, before)) in after.iter().zip(&comments).enumerate() {
        if i < m {
            assert_eq!(marker(&c.body), Marker::plan(&mr(), SHA_A, i + 1, m));
            assert!(c.minimized.is_none());
        } else {
            assert_eq!(c.minimized.as_deref(), Some("OUTDATED"), "part {}", i + 1);
            assert_eq!(c.body, before.body, "part {} keeps its body", i + 1);
        }
    }
    assert_eq!(fake.graphql("minimizeComment").len(), n - m);
    assert_eq!(
        fake.count("PATCH", "/repos/octo-org/gitops/issues/comments/"),
        m
    );
    assert_eq!(
        fake.count("POST", "/repos/octo-org/gitops/issues/7/comments"),
        0
    );

    // And once more: nothing to do, nothing minimized twice.
    fake.server.clear();
    let again = publisher.publish(&mr(), SHA_A, &fewer).await.unwrap();
    assert_eq!(
        (
            again.created.len(),
            again.updated.len(),
            again.superseded.len()
        ),
        (0, 0, 0)
    );
    assert!(fake.graphql("minimizeComment").is_empty());
}

#[tokio::test]
async fn pagination_reads_150_foreign_comments_before_thules() {
    let fake = start().await;
    let bob = User::new("bob", 102, false);
    let dependabot = User::new("dependabot[bot]", 49_699_333, true);
    for i in 0..150 {
        let user = [alice(), bob.clone(), dependabot.clone()][i % 3].clone();
        fake.add_comment(&user, &format!("comment {i}: LGTM"));
    }
    let publisher = fake.publisher().await;
    fake.server.clear();
    publisher
        .publish(&mr(), SHA_A, &["plan".to_owned()])
        .await
        .unwrap();

    // 150 comments at 100 a page: two list requests, the second through GitHub's Link.
    let lists: Vec<Recorded> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/comments"))
        .collect();
    assert_eq!(
        lists.len(),
        2,
        "{:?}",
        lists.iter().map(Recorded::line).collect::<Vec<_>>()
    );
    assert_eq!(
        lists[0].path,
        "/api/v3/repos/octo-org/gitops/issues/7/comments"
    );
    assert_eq!(
        lists[1].path,
        format!("/api/v3/repositories/{REPO_ID}/issues/7/comments")
    );
    assert_eq!(lists[1].query.get("page").map(String::as_str), Some("2"));
    assert_eq!(
        lists[1].query.get("per_page").map(String::as_str),
        Some("100")
    );

    // thule's comment is the 151st: the next publication of the same SHA finds it on page 2.
    fake.server.clear();
    let again = publisher
        .publish(&mr(), SHA_A, &["plan".to_owned()])
        .await
        .unwrap();
    assert_eq!((again.created.len(), again.unchanged), (0, 1));
    assert_eq!(fake.count("GET", "/"), 2);

    let listed = publisher.provider().list_comments(&mr()).await.unwrap();
    assert_eq!(listed.len(), 151);
    assert!(
        listed.windows(2).all(|w| w[0].handle.id < w[1].handle.id),
        "oldest first"
    );
    assert_eq!(listed[0].body, "comment 0: LGTM");
    assert_eq!(listed[0].author.login, "alice");
    assert_eq!(listed[0].author.id.as_deref(), Some("101"));
    assert_eq!(listed[2].author.login, "dependabot[bot]");
    assert_eq!(listed[150].author.login, "thule-bot");

    // The fake pages as GitHub does: 30 a page without per_page, at most 100.
    let (rest, _) = fake.urls();
    let http = Http::new(
        ProviderKind::GitHub,
        &rest,
        Auth::Bearer(Secret::new(TOKEN)),
    )
    .unwrap();
    let page = http
        .send(
            Method::Get,
            "/repos/octo-org/gitops/issues/7/comments",
            None,
            "listing",
        )
        .await
        .unwrap();
    assert_eq!(page.body.as_array().unwrap().len(), 30);
    assert!(page.next_link().unwrap().ends_with("per_page=30&page=2"));
    let page = http
        .send(
            Method::Get,
            "/repos/octo-org/gitops/issues/7/comments?per_page=500",
            None,
            "listing",
        )
        .await
        .unwrap();
    assert_eq!(page.body.as_array().unwrap().len(), 100);
}

#[tokio::test]
async fn foreign_and_misplaced_markers_are_never_touched() {
    let fake = start().await;
    // alice pastes thule's exact marker for this pull request as her first line.
    let forged = part_body(&mr(), SHA_A, 1, 1, "a forged plan");
    let alice_id = fake.add_comment(&alice(), &forged);
    // thule's own account, but a marker of another pull request, or not on the first line.
    let other_mr = MrRef { number: 8, ..mr() };
    let elsewhere = fake.add_comment(&thule_bot(), &part_body(&other_mr, SHA_A, 1, 1, "PR 8"));
    let quoted = fake.add_comment(
        &thule_bot(),
        &format!("> quoting\n{}", Marker::plan(&mr(), SHA_A, 1, 1)),
    );
    let publisher = fake.publisher().await;

    publisher
        .publish(&mr(), SHA_A, &["plan at A".to_owned()])
        .await
        .unwrap();
    publisher
        .publish(&mr(), SHA_B, &["plan at B".to_owned()])
        .await
        .unwrap();

    let alice_now = fake.comment(alice_id);
    assert_eq!(alice_now.body, forged);
    assert!(alice_now.minimized.is_none());
    for id in [elsewhere, quoted] {
        assert!(fake.comment(id).minimized.is_none());
    }
    let touched: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| matches!(r.method.as_str(), "PATCH" | "DELETE"))
        .map(Recorded::line)
        .collect();
    assert_eq!(touched, Vec::<String>::new());
    let minimized: Vec<Value> = fake
        .graphql("minimizeComment")
        .iter()
        .map(|b| b["variables"]["id"].clone())
        .collect();
    assert_eq!(minimized.len(), 1, "only thule's plan at A");
    assert_ne!(minimized[0], alice_now.node_id.as_str());
    assert_eq!(fake.comments().len(), 5);
}

#[tokio::test]
async fn refusals_have_typed_kinds_and_bounded_retries() {
    let fake = start().await;
    let github = fake.token_github();
    let rate_reset = now_secs();

    // (answer, how many times, the kind, requests made for a GET)
    let cases: Vec<(Reply, usize, ErrorKind, usize)> = vec![
        (
            gh_error(401, "Bad credentials", ""),
            9,
            ErrorKind::Unauthorized,
            1,
        ),
        (
            gh_error(403, "Resource not accessible by personal access token", ""),
            9,
            ErrorKind::Forbidden,
            1,
        ),
        (not_found(), 9, ErrorKind::NotFound, 1),
        (
            gh_error(502, "Server Error", ""),
            9,
            ErrorKind::Rejected { status: 502 },
            4,
        ),
    ];
    for (reply, times, kind, requests) in cases {
        fake.state().failures.clear();
        fake.fail_next(times, &reply);
        fake.server.clear();
        let err = github.merge_request(&mr()).await.unwrap_err();
        assert_eq!(err.kind, kind, "{err}");
        assert_eq!(fake.requests().len(), requests, "{err}");
        assert!(!err.to_string().contains(TOKEN));
        assert!(
            err.to_string()
                .contains("reading pull request octo-org/gitops#7"),
            "{err}"
        );
    }

    // A secondary rate limit (429 with retry-after) is waited out and retried, even for a POST.
    fake.state().failures.clear();
    fake.fail_next(
        1,
        &gh_error(429, "You have exceeded a secondary rate limit.", "")
            .with_header("retry-after", "0"),
    );
    fake.server.clear();
    github.create_comment(&mr(), "hello").await.unwrap();
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(fake.comments().len(), 1);

    // The primary limit: 403 with x-ratelimit-remaining 0. A reset now is waited for...
    let exhausted = |reset: u64| {
        gh_error(403, "API rate limit exceeded for user ID 9001.", "")
            .with_header("x-ratelimit-limit", "5000")
            .with_header("x-ratelimit-remaining", "0")
            .with_header("x-ratelimit-used", "5000")
            .with_header("x-ratelimit-reset", &reset.to_string())
            .with_header("x-ratelimit-resource", "core")
    };
    fake.fail_next(1, &exhausted(rate_reset));
    fake.server.clear();
    assert_eq!(github.merge_request(&mr()).await.unwrap().head_sha, SHA_B);
    assert_eq!(fake.requests().len(), 2);
    // ... a reset an hour away fails at once, with the reset time.
    let later = now_secs() + 3_600;
    fake.fail_next(9, &exhausted(later));
    fake.server.clear();
    let started = std::time::Instant::now();
    let err = github.list_comments(&mr()).await.unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::RateLimited {
            reset: Some(UNIX_EPOCH + Duration::from_secs(later))
        }
    );
    assert_eq!(fake.requests().len(), 1);
    assert!(started.elapsed() < Duration::from_secs(2));

    // 5xx: a GET is retried until it works; a comment POST is not repeated (it may have
    // been posted).
    fake.state().failures.clear();
    fake.fail_next(2, &gh_error(503, "Service Unavailable", ""));
    fake.server.clear();
    github.changed_paths(&mr()).await.unwrap();
    assert_eq!(fake.requests().len(), 3);
    fake.fail_next(9, &gh_error(500, "Server Error", ""));
    fake.server.clear();
    let err = github
        .create_comment(&mr(), "hello again")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected { status: 500 });
    assert_eq!(fake.requests().len(), 1);
    fake.state().failures.clear();

    // A comment over 65,536 characters is refused as GitHub refuses it.
    let err = github
        .create_comment(&mr(), &"x".repeat(GITHUB_COMMENT_LIMIT + 1))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected { status: 422 });

    // GraphQL failures come as 200 with `errors`: they are errors too, with a kind.
    let id = fake.add_comment(&thule_bot(), "to hide");
    let handle = github
        .list_comments(&mr())
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.handle.id == id)
        .unwrap()
        .handle;
    fake.state().deny_minimize = true;
    let err = github.minimize_comment(&mr(), &handle).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Forbidden);
    assert!(
        err.message
            .contains("Resource not accessible by integration"),
        "{err}"
    );
    fake.state().deny_minimize = false;
    let missing = thule_vcs::CommentHandle {
        node_id: Some("IC_doesNotExist".to_owned()),
        ..thule_vcs::CommentHandle::id(1)
    };
    let err = github.minimize_comment(&mr(), &missing).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    // Without a node id the adapter asks REST for it first.
    github
        .minimize_comment(&mr(), &thule_vcs::CommentHandle::id(id))
        .await
        .unwrap();
    assert_eq!(fake.comment(id).minimized.as_deref(), Some("OUTDATED"));

    // A wrong token: 401 Unauthorized, and the token is not in the message.
    let wrong = fake.github(Credentials::Token(Secret::new("ghp_wrong0123456789")));
    let err = wrong.whoami().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized);
    assert!(!err.to_string().contains("ghp_wrong"));
    // A next page on another host is not followed: the token would go there.
    fake.fail_next(
        1,
        &Reply::json(200, &json!([])).with_header(
            "link",
            "<http://elsewhere.invalid/api/v3/repositories/1/issues/7/comments?page=2>; rel=\"next\"",
        ),
    );
    fake.server.clear();
    let err = github.list_comments(&mr()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transport);
    assert!(err.message.contains("elsewhere.invalid"), "{err}");
    assert_eq!(fake.requests().len(), 1);
    // Another repository is not this adapter's.
    let other = MrRef {
        repo: RepoRef {
            provider: ProviderKind::GitHub,
            path: "octo-org/other".to_owned(),
        },
        number: 1,
    };
    assert_eq!(
        github.merge_request(&other).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn the_actions_token_comments_as_github_actions_bot() {
    let fake = start().await;
    // An earlier run's plan, by github-actions[bot].
    let earlier = fake.add_comment(&actions_bot(), &part_body(&mr(), SHA_A, 1, 1, "plan at A"));
    fake.add_comment(&alice(), "LGTM");

    let github = fake.github(Credentials::ActionsToken(Secret::new(ACTIONS_TOKEN)));
    let publisher = Publisher::new(github).await.unwrap();
    assert_eq!(publisher.identity().login, ACTIONS_BOT_LOGIN);
    assert_eq!(
        fake.count("GET", "/user"),
        1,
        "GET /user was asked and answered 403"
    );

    let published = publisher
        .publish(&mr(), SHA_B, &["plan at B".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        published.superseded.len(),
        1,
        "the earlier plan is recognised as thule's"
    );
    assert_eq!(published.superseded[0].id, earlier);
    assert_eq!(fake.comment(earlier).minimized.as_deref(), Some("OUTDATED"));
    let new = fake.comments().pop().unwrap();
    assert_eq!(new.user.login, ACTIONS_BOT_LOGIN);

    // Publishing again finds its own comments: nothing to do.
    let again = publisher
        .publish(&mr(), SHA_B, &["plan at B".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        (again.created.len(), again.superseded.len(), again.unchanged),
        (0, 0, 1)
    );
    assert_github_headers(&fake, ACTIONS_TOKEN);

    // The same token declared as a personal access token: the 403 is an error, not a guess.
    let plain = fake.github(Credentials::Token(Secret::new(ACTIONS_TOKEN)));
    let err = plain.whoami().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Forbidden);
    assert!(!err.to_string().contains(ACTIONS_TOKEN));
}

#[tokio::test]
async fn merge_request_and_changed_paths_map_githubs_json() {
    let fake = start().await;
    let github = fake.token_github();

    let pr = github.merge_request(&mr()).await.unwrap();
    assert_eq!(pr.mr, mr());
    assert_eq!(pr.head_sha, SHA_B);
    assert_eq!(
        pr.base_sha.as_deref(),
        Some("cccccccccccccccccccccccccccccccccccccccc")
    );
    assert_eq!(pr.head_branch, "scale-payments");
    assert_eq!(pr.base_branch, "main");
    assert_eq!(pr.author.login, "contributor");
    assert_eq!(pr.author.id.as_deref(), Some("555"));
    assert_eq!(pr.labels, ["thule", "team-payments"]);
    assert!(pr.draft);
    assert!(
        pr.from_fork,
        "head.repo contributor/gitops is not base.repo"
    );
    assert_eq!(pr.state, MrState::Open);
    assert_eq!(
        pr.web_url.as_deref(),
        Some("https://github.com/octo-org/gitops/pull/7")
    );

    {
        let mut state = fake.state();
        state.pull["state"] = json!("closed");
        state.pull["merged"] = json!(true);
        state.pull["draft"] = json!(false);
        state.pull["head"]["repo"] = state.pull["base"]["repo"].clone();
    }
    let pr = github.merge_request(&mr()).await.unwrap();
    assert_eq!(
        (pr.state, pr.draft, pr.from_fork),
        (MrState::Merged, false, false)
    );
    {
        let mut state = fake.state();
        state.pull["merged"] = json!(false);
        state.pull["head"]["repo"] = Value::Null;
    }
    let pr = github.merge_request(&mr()).await.unwrap();
    assert_eq!(pr.state, MrState::Closed);
    assert!(pr.from_fork, "a deleted head repository is a fork");
    fake.state().pull["head"]
        .as_object_mut()
        .unwrap()
        .remove("sha");
    let err = github.merge_request(&mr()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transport);
    assert!(
        err.message.contains("head") && err.message.contains("sha"),
        "{err}"
    );

    // 250 files: three pages of 100, renames carry their old path.
    let file = |i: usize| {
        let (status, previous) = match i % 5 {
            0 => ("renamed", Some(format!("apps/old-{i:03}.yaml"))),
            1 => ("added", None),
            2 => ("removed", None),
            3 => ("copied", Some(format!("apps/template-{i:03}.yaml"))),
            _ => ("modified", None),
        };
        let mut f = json!({
            "sha": format!("{i:040x}"),
            "filename": format!("apps/svc-{i:03}.yaml"),
            "status": status,
            "additions": 1, "deletions": 1, "changes": 2,
            "blob_url": format!("https://github.com/{OWNER_REPO}/blob/{SHA_B}/apps/svc-{i:03}.yaml"),
            "raw_url": format!("https://github.com/{OWNER_REPO}/raw/{SHA_B}/apps/svc-{i:03}.yaml"),
            "contents_url": format!("https://api.github.com/repos/{OWNER_REPO}/contents/apps/svc-{i:03}.yaml?ref={SHA_B}"),
            "patch": "@@ -1 +1 @@\n-replicas: 2\n+replicas: 3"
        });
        if let Some(p) = previous {
            f["previous_filename"] = json!(p);
        }
        f
    };
    fake.state().files = (0..250).map(file).collect();
    fake.server.clear();
    let paths = github.changed_paths(&mr()).await.unwrap();
    assert_eq!(paths.len(), 250);
    assert_eq!(fake.requests().len(), 3, "three pages");
    for (i, p) in paths.iter().enumerate() {
        assert_eq!(p.path, format!("apps/svc-{i:03}.yaml"));
        let expected = (i % 5 == 0).then(|| format!("apps/old-{i:03}.yaml"));
        assert_eq!(
            p.previous, expected,
            "{i}: only renames have a previous path"
        );
    }

    // GitHub stops at 3,000 files: a longer list is refused rather than planned in part.
    fake.state().files = (0..3_200).map(file).collect();
    fake.state().pull = pull_json(SHA_B, BASE_SHA);
    fake.state().pull["changed_files"] = json!(3_200);
    fake.server.clear();
    let err = github.changed_paths(&mr()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    assert!(err.message.contains("3200"), "{err}");
    assert_eq!(fake.requests().len(), 31, "30 pages and the pull request");
    fake.state().files.truncate(3_000);
    fake.state().pull["changed_files"] = json!(3_000);
    assert_eq!(github.changed_paths(&mr()).await.unwrap().len(), 3_000);
}

#[tokio::test]
async fn a_github_app_exchanges_one_installation_token_and_refreshes_it_before_expiry() {
    let fake = start().await;
    // Tokens live 5 s here, and the adapter replaces them 1 s before they expire.
    fake.enable_app(APP_PUBLIC_KEY, Duration::from_secs(5));
    let app = GitHubApp::new(APP_ID, APP_KEY, INSTALLATION_ID)
        .unwrap()
        .with_refresh_margin(Duration::from_secs(1));
    let shown = format!("{app:?}");
    assert!(
        shown.contains(APP_ID)
            && !shown.contains("PRIVATE KEY")
            && !shown.contains(&APP_KEY[40..80])
    );
    let publisher = Publisher::new(fake.github(Credentials::App(app)))
        .await
        .unwrap();
    assert_eq!(publisher.identity().login, format!("{APP_SLUG}[bot]"));
    assert_eq!(
        fake.state().exchanges.len(),
        0,
        "GET /app needs no installation token"
    );

    // Many calls, one exchange.
    publisher
        .set_status(
            &mr().repo,
            SHA_A,
            &status(StatusState::Pending, "planning", None),
        )
        .await
        .unwrap();
    publisher.provider().merge_request(&mr()).await.unwrap();
    publisher
        .publish(&mr(), SHA_A, &["plan at A".to_owned()])
        .await
        .unwrap();
    publisher
        .publish(&mr(), SHA_B, &["plan at B".to_owned()])
        .await
        .unwrap();
    let (first_token, first_expiry) = {
        let state = fake.state();
        assert_eq!(state.exchanges.len(), 1);
        state.exchanges[0].clone()
    };
    let comments = fake.comments();
    assert_eq!(comments.len(), 2);
    assert!(comments.iter().all(|c| c.user.login == "thule-plan[bot]"));
    assert_eq!(
        comments[0].minimized.as_deref(),
        Some("OUTDATED"),
        "the App's own plan is recognised"
    );

    // The JWT: RS256 (verified by the fake with the public key), the App as issuer,
    // issued a minute ago, expiring within 10 minutes.
    let claims = fake.state().jwt_claims.clone();
    assert_eq!(claims.len(), 2, "GET /app and one exchange");
    for c in &claims {
        assert_eq!(c["iss"], APP_ID);
        let (iat, exp) = (c["iat"].as_u64().unwrap(), c["exp"].as_u64().unwrap());
        assert!(iat + 55 <= now_secs(), "iat is backdated");
        assert_eq!(exp - iat, 60 + 9 * 60);
    }
    // The JWT authenticates only the App's endpoints; everything else uses the token.
    for r in fake.requests() {
        let auth = r.header("authorization").unwrap();
        if r.path.starts_with("/api/v3/app") {
            assert!(auth.starts_with("Bearer ey"), "{}: a JWT", r.line());
        } else {
            assert_eq!(auth, format!("Bearer {first_token}"), "{}", r.line());
        }
        assert_eq!(r.header("accept"), Some("application/vnd.github+json"));
    }
    let exchange = fake
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/access_tokens"))
        .unwrap();
    assert_eq!(
        exchange.path,
        format!("/api/v3/app/installations/{INSTALLATION_ID}/access_tokens")
    );
    assert_eq!(exchange.json(), json!({"repositories": ["gitops"]}));

    // Past expires_at minus the margin, the next call exchanges a new token first.
    let due = UNIX_EPOCH + Duration::from_secs(first_expiry - 1) + Duration::from_millis(100);
    if let Ok(wait) = due.duration_since(SystemTime::now()) {
        tokio::time::sleep(wait).await;
    }
    fake.server.clear();
    publisher.provider().list_comments(&mr()).await.unwrap();
    publisher.provider().merge_request(&mr()).await.unwrap();
    let second_token = {
        let state = fake.state();
        assert_eq!(state.exchanges.len(), 2);
        state.exchanges[1].0.clone()
    };
    assert_ne!(second_token, first_token);
    let used: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| !r.path.starts_with("/api/v3/app"))
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert!(!used.is_empty());
    assert!(
        used.iter().all(|a| *a == format!("Bearer {second_token}")),
        "{used:?}"
    );
    assert!(!format!("{:?}", publisher.provider()).contains("ghs_"));

    // A token GitHub no longer accepts (revoked): that call fails Unauthorized, the next one
    // exchanges a new token.
    fake.state().tokens.remove(&second_token);
    let err = publisher.provider().merge_request(&mr()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized);
    assert!(!err.to_string().contains(&second_token));
    publisher.provider().merge_request(&mr()).await.unwrap();
    assert_eq!(fake.state().exchanges.len(), 3);
}

#[tokio::test]
async fn an_unusable_app_key_is_refused_without_quoting_it() {
    let err = GitHubApp::new(
        APP_ID,
        "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n",
        INSTALLATION_ID,
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized);
    assert!(!err.to_string().contains("bm90IGEga2V5"), "{err}");

    // A JWT the fake cannot verify (another key) is refused with 401.
    let fake = start().await;
    fake.enable_app(APP_PUBLIC_KEY, Duration::from_secs(3_600));
    fake.state().app.as_mut().unwrap().public =
        DecodingKey::from_secret(b"not the App's public key");
    let github = fake.github(Credentials::App(
        GitHubApp::new(APP_ID, APP_KEY, INSTALLATION_ID).unwrap(),
    ));
    let err = github.merge_request(&mr()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized);
    assert!(err.action.contains("exchanging the App JWT"), "{err}");
    assert!(!err.to_string().contains("eyJ"), "no JWT in {err}");
}

#[tokio::test]
async fn the_fake_refuses_requests_without_a_user_agent_as_github_does() {
    let fake = start().await;
    let (rest, _) = fake.urls();
    let response = reqwest::Client::new()
        .get(format!("{rest}/user"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    assert!(response.text().await.unwrap().contains("User-Agent"));
    // The adapter's requests carry one.
    fake.token_github().whoami().await.unwrap();
}

#[test]
fn accept_is_sent_once_as_githubs_media_type() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut accepts = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("accept")
            {
                accepts.push(value.trim().to_owned());
            }
        }
        let body = br#"{"login":"thule-bot","id":9001}"#;
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        stream.write_all(body).unwrap();
        accepts
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("http://{addr}");
    let me = runtime.block_on(async {
        GitHub::new(
            &url,
            &format!("{url}/graphql"),
            OWNER_REPO,
            Credentials::Token(Secret::new(TOKEN)),
        )
        .unwrap()
        .whoami()
        .await
        .unwrap()
    });
    assert_eq!(me.login, "thule-bot");
    assert_eq!(server.join().unwrap(), ["application/vnd.github+json"]);
}

#[tokio::test]
async fn capabilities_are_githubs() {
    let fake = start().await;
    let caps = fake.token_github().capabilities();
    assert_eq!(caps.max_comment_chars, 65_536);
    assert_eq!(caps.supersede, SupersedeStyle::Minimize);
    assert_eq!(caps.max_status_description, 140);
    let editing = fake
        .token_github()
        .with_supersede(SupersedeStyle::EditCollapsed);
    assert_eq!(
        editing.capabilities().supersede,
        SupersedeStyle::EditCollapsed
    );

    // With EditCollapsed, an older plan is edited into a pointer instead of minimized.
    let publisher = Publisher::new(editing).await.unwrap();
    publisher
        .publish(&mr(), SHA_A, &["plan at A".to_owned()])
        .await
        .unwrap();
    publisher
        .publish(&mr(), SHA_B, &["plan at B".to_owned()])
        .await
        .unwrap();
    let comments = fake.comments();
    assert!(
        comments[0].body.starts_with("<!-- thule:superseded v=1"),
        "{}",
        comments[0].body
    );
    assert!(comments[0].minimized.is_none());
    assert!(fake.graphql("minimizeComment").is_empty());
}
