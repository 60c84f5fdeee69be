//! What the service shows, against the server on loopback: /healthz, /readyz, /metrics,
//! /api/runs, the status page, and that no token or webhook secret appears in any of them.

use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// A service whose fake runner has finished three runs on two repositories.
async fn with_runs() -> (tempfile::TempDir, Running) {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(settings(dir.path()), FakeRunner::new(Mode::Done)).await;
    for (repo, mr, c, id) in [
        ("acme/a", 1, '1', "d-1"),
        ("acme/b", 2, '2', "d-2"),
        ("acme/a", 3, '3', "d-3"),
    ] {
        let (h, b) = pull_delivery("opened", repo, mr, &sha(c), id);
        assert_eq!(srv.deliver(&h, &b).await.0, 202);
        // One at a time, so "newest first" has a defined order.
        let store = srv.service.store().clone();
        let want = id.trim_start_matches("d-").parse::<usize>().unwrap();
        wait_until(Duration::from_secs(10), "the run recorded", || async {
            store.runs(&Default::default()).await.unwrap().len() == want
        })
        .await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (dir, srv)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_readyz() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let srv = start(settings(dir.path()), FakeRunner::new(Mode::Done)).await;
        assert_eq!(srv.get("/healthz").await, (200, "ok\n".to_owned()));
        let (status, body) = srv.get("/readyz").await;
        assert_eq!(status, 200, "{body}");
        let ready: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(ready["database"], "ok");
        assert_eq!(ready["workers"], 2);
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_deliveries_the_queue_and_runs() {
    bounded(async {
        let (_dir, srv) = with_runs().await;
        let body = github_pull("opened", "acme/a", 9, &sha('9'), "acme/a");
        let bad = github_headers("pull_request", "bad", &body, "wrong");
        assert_eq!(srv.deliver(&bad, &body).await.0, 401);
        let (status, text) = srv.get("/metrics").await;
        assert_eq!(status, 200);
        for line in [
            "thule_deliveries_total{provider=\"github\",result=\"queued\"} 3",
            "thule_deliveries_total{provider=\"github\",result=\"unauthorized\"} 1",
            "thule_runs_total{result=\"done\"} 3",
            "thule_run_duration_seconds_count{result=\"done\"} 3",
            "thule_queue_depth 0",
            "thule_queue_oldest_age_seconds 0",
            "thule_jobs_running 0",
            "thule_workers 2",
            "thule_database_up 1",
        ] {
            assert!(text.contains(line), "`{line}` missing from:\n{text}");
        }
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_depth_and_oldest_age_show_waiting_jobs() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(dir.path());
        s.workers = 0;
        let srv = start(s, FakeRunner::new(Mode::Done)).await;
        for (mr, id) in [(1, "d-1"), (2, "d-2")] {
            let (h, b) = pull_delivery("opened", "acme/a", mr, &sha('1'), id);
            assert_eq!(srv.deliver(&h, &b).await.0, 202);
        }
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (_, text) = srv.get("/metrics").await;
        assert!(text.contains("thule_queue_depth 2"), "{text}");
        let age: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("thule_queue_oldest_age_seconds "))
            .unwrap()
            .parse()
            .unwrap();
        assert!((1.0..60.0).contains(&age), "{age}");
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_runs_filters_and_lists_newest_first() {
    bounded(async {
        let (_dir, srv) = with_runs().await;
        let list = |path: &'static str| {
            let srv = &srv;
            async move {
                let (status, body) = srv.get(path).await;
                assert_eq!(status, 200, "{path}: {body}");
                serde_json::from_str::<Vec<Value>>(&body).unwrap()
            }
        };
        let all = list("/api/runs").await;
        let mrs: Vec<u64> = all.iter().map(|r| r["mr"].as_u64().unwrap()).collect();
        assert_eq!(mrs, [3, 2, 1], "newest first");
        let r = &all[0];
        assert_eq!(r["repo"], "acme/a");
        assert_eq!(r["headSha"], sha('3'));
        assert_eq!(r["trigger"], "opened");
        assert_eq!(r["actor"], "alice");
        assert_eq!(r["result"], "done");
        assert_eq!(r["projects"], serde_json::json!(["apps-prod"]));
        assert!(
            r["commentUrl"]
                .as_str()
                .unwrap()
                .starts_with("https://forge.invalid/acme/a/3")
        );
        assert!(r["finishedAt"].as_str().unwrap().ends_with('Z'));
        assert!(r["durationMs"].as_i64().unwrap() >= 0);

        assert_eq!(list("/api/runs?repo=acme/a").await.len(), 2);
        assert_eq!(list("/api/runs?repo=acme/a&mr=1").await.len(), 1);
        assert_eq!(list("/api/runs?result=done&limit=1").await.len(), 1);
        assert!(list("/api/runs?result=failed").await.is_empty());
        for bad in ["/api/runs?result=bogus", "/api/runs?mr=x"] {
            let (status, body) = srv.get(bad).await;
            assert_eq!(status, 400, "{bad}: {body}");
        }
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_lists_recent_runs() {
    bounded(async {
        let (_dir, srv) = with_runs().await;
        let (status, html) = srv.get("/").await;
        assert_eq!(status, 200);
        assert!(html.starts_with("<!doctype html>"));
        for needle in [
            "acme/a",
            "acme/b",
            "<code>333333333333</code>",
            "opened",
            "alice",
            "class=\"done\">done",
            "href=\"https://forge.invalid/acme/a/3#c3\"",
            "0 waiting",
        ] {
            assert!(
                html.contains(needle),
                "`{needle}` missing from the page:\n{html}"
            );
        }
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_secret_is_ever_shown() {
    bounded(async {
        let (_dir, srv) = with_runs().await;
        // Refusals of every kind, some carrying the secret in a header.
        let body = github_pull("opened", "acme/a", 9, &sha('9'), "acme/a");
        let _ = srv
            .deliver(&github_headers("pull_request", "x", &body, "wrong"), &body)
            .await;
        let gitlab = vec![
            ("X-Gitlab-Event".to_owned(), "Merge Request Hook".to_owned()),
            ("X-Gitlab-Token".to_owned(), SECRET.to_owned()),
        ];
        let (status, answer) = srv.deliver(&gitlab, b"{\"object_kind\": 1}").await;
        assert!(matches!(status, 200 | 400), "{status} {answer}");
        assert!(!answer.to_string().contains(SECRET));
        let (status, answer) = srv.deliver(&gitlab[..1], b"{}").await;
        assert_eq!(status, 401);
        assert!(!answer.to_string().contains(SECRET));
        for path in ["/", "/metrics", "/api/runs", "/readyz", "/healthz"] {
            let (_, text) = srv.get(path).await;
            assert!(!text.contains(SECRET), "{path} shows the webhook secret");
            assert!(!text.contains(TOKEN), "{path} shows the token");
        }
        srv.service.shutdown().await.unwrap();
    })
    .await;
}
