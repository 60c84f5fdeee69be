//! The shared HTTP client against a loopback server: typed errors and bounded retries.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use thule_vcs::http::{Auth, Http, Method, RetryPolicy, Secret};
use thule_vcs::testing::{LoopbackServer, Reply};
use thule_vcs::{ErrorKind, ProviderKind};

fn client(server: &LoopbackServer) -> Http {
    Http::new(
        ProviderKind::GitHub,
        &server.url(),
        Auth::Bearer(Secret::new("tok-123456")),
    )
    .unwrap()
    .with_retry(RetryPolicy {
        attempts: 4,
        base_delay: Duration::from_millis(5),
        budget: Duration::from_secs(2),
    })
}

/// A server that answers `fail` with `status` for the first `n` requests, then 200.
async fn flaky(n: usize, fail: Reply) -> (LoopbackServer, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    let server = LoopbackServer::start(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) < n {
            fail.clone()
        } else {
            Reply::json(200, &json!({"ok": true}))
        }
    })
    .await;
    (server, count)
}

#[tokio::test]
async fn idempotent_requests_retry_5xx_then_succeed() {
    let (server, count) = flaky(2, Reply::json(503, &json!({"message": "busy"}))).await;
    let r = client(&server)
        .send(Method::Get, "/x", None, "reading x")
        .await
        .unwrap();
    assert_eq!(r.body["ok"], true);
    assert_eq!(count.load(Ordering::SeqCst), 3);
    let sent = server.requests();
    assert_eq!(sent[0].header("authorization"), Some("Bearer tok-123456"));
    assert!(sent[0].header("user-agent").unwrap().starts_with("thule/"));
}

#[tokio::test]
async fn retries_are_bounded_in_count() {
    let (server, count) = flaky(100, Reply::json(502, &json!({"message": "bad gateway"}))).await;
    let err = client(&server)
        .send(Method::Get, "/x", None, "reading x")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected { status: 502 });
    assert_eq!(count.load(Ordering::SeqCst), 4);
    assert!(err.to_string().contains("HTTP 502: bad gateway"), "{err}");
}

#[tokio::test]
async fn a_post_is_not_repeated_after_an_ambiguous_failure_but_is_after_a_rate_limit() {
    let (server, count) = flaky(1, Reply::json(500, &json!({}))).await;
    let err = client(&server)
        .send(
            Method::Post,
            "/comments",
            Some(&json!({"body": "x"})),
            "posting",
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected { status: 500 });
    assert_eq!(count.load(Ordering::SeqCst), 1);

    let (server, count) = flaky(
        1,
        Reply::json(429, &json!({})).with_header("retry-after", "0"),
    )
    .await;
    client(&server)
        .send(
            Method::Post,
            "/comments",
            Some(&json!({"body": "x"})),
            "posting",
        )
        .await
        .unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn refusals_have_kinds_and_never_show_the_token() {
    for (status, kind) in [
        (401, ErrorKind::Unauthorized),
        (403, ErrorKind::Forbidden),
        (404, ErrorKind::NotFound),
    ] {
        let (server, count) = flaky(
            100,
            Reply::json(status, &json!({"message": "token tok-123456 refused"})),
        )
        .await;
        let err = client(&server)
            .send(Method::Get, "/x", None, "reading x")
            .await
            .unwrap_err();
        assert_eq!(err.kind, kind);
        assert_eq!(count.load(Ordering::SeqCst), 1, "{status} is not retried");
        assert!(!err.to_string().contains("tok-123456"), "{err}");
    }
}

#[tokio::test]
async fn a_rate_limit_reset_beyond_the_budget_fails_at_once() {
    let reply = Reply::json(403, &json!({"message": "API rate limit exceeded"}))
        .with_header("x-ratelimit-remaining", "0")
        .with_header("x-ratelimit-reset", "4000000000");
    let (server, count) = flaky(100, reply).await;
    let started = std::time::Instant::now();
    let err = client(&server)
        .send(Method::Get, "/x", None, "reading x")
        .await
        .unwrap_err();
    assert!(matches!(
        err.kind,
        ErrorKind::RateLimited { reset: Some(_) }
    ));
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert!(started.elapsed() < Duration::from_secs(2));
}
