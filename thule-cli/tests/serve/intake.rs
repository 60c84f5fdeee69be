//! `POST /events` against the server on loopback: what is answered, what is stored.

use serde_json::json;
use thule_cli::serve::{JobCommand, JobKind, JobState, RecordOnly};

use crate::support::*;

/// A service that only receives (no workers), so queued jobs stay queued for inspection.
async fn intake_only(extra: &[(&str, &str)]) -> (tempfile::TempDir, Running) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings_with(dir.path(), extra);
    settings.workers = 0;
    let running = start(settings, std::sync::Arc::new(RecordOnly)).await;
    (dir, running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_delivery_is_stored_then_acknowledged_202() {
    bounded(async {
        let (_dir, srv) = intake_only(&[]).await;
        let head = sha('1');
        let (headers, body) = pull_delivery("opened", "acme/gitops", 7, &head, "d-1");
        let (status, answer) = srv.deliver(&headers, &body).await;
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["result"], "queued");
        let jobs = srv.service.store().jobs(10).await.unwrap();
        assert_eq!(jobs.len(), 1);
        let j = &jobs[0];
        assert_eq!(answer["job"], j.job.id);
        assert_eq!(j.state, JobState::Queued);
        assert_eq!(
            (j.job.repo.as_str(), j.job.mr, j.job.head_sha.as_deref()),
            ("acme/gitops", 7, Some(head.as_str()))
        );
        assert_eq!(j.job.trigger, "opened");
        assert_eq!(j.job.kind, JobKind::Plan);
        assert_eq!(j.job.actor.as_deref(), Some("alice"));
        assert_eq!(j.job.delivery_id.as_deref(), Some("d-1"));
        assert_eq!(j.job.details.base_branch.as_deref(), Some("main"));
        assert_eq!(srv.service.store().delivery_count().await.unwrap(), 1);
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_or_missing_signature_is_401_and_nothing_is_stored() {
    bounded(async {
        let (_dir, srv) = intake_only(&[]).await;
        let body = github_pull("opened", "acme/gitops", 7, &sha('1'), "acme/gitops");
        let wrong = github_headers("pull_request", "d-1", &body, "not-the-secret");
        let (status, answer) = srv.deliver(&wrong, &body).await;
        assert_eq!(status, 401);
        assert!(
            answer["error"].as_str().unwrap().contains("does not match"),
            "{answer}"
        );

        let mut missing = github_headers("pull_request", "d-2", &body, SECRET);
        missing.retain(|(k, _)| k != "X-Hub-Signature-256");
        let (status, answer) = srv.deliver(&missing, &body).await;
        assert_eq!(status, 401);
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("missing X-Hub-Signature-256"),
            "{answer}"
        );

        // Signed over other bytes than those sent: the signature covers the raw body.
        let tampered = github_headers("pull_request", "d-3", &body, SECRET);
        let mut other = body.clone();
        other.extend_from_slice(b" ");
        assert_eq!(srv.deliver(&tampered, &other).await.0, 401);

        // No forge's event header: thule cannot tell how to authenticate it.
        let (status, answer) = srv
            .deliver(&[("Content-Type".into(), "application/json".into())], &body)
            .await;
        assert_eq!(status, 401);
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("unknown webhook sender")
        );

        // A GitLab delivery with the wrong token.
        let gl = vec![
            ("X-Gitlab-Event".to_owned(), "Merge Request Hook".to_owned()),
            ("X-Gitlab-Token".to_owned(), "wrong-token".to_owned()),
        ];
        let (status, answer) = srv.deliver(&gl, b"{}").await;
        assert_eq!(status, 401, "{answer}");
        assert!(!answer.to_string().contains(SECRET));

        assert_eq!(srv.service.store().delivery_count().await.unwrap(), 0);
        assert!(srv.service.store().jobs(10).await.unwrap().is_empty());
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfigured_forge_is_refused_401() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = settings(dir.path());
        settings.providers.clear();
        settings.workers = 0;
        let srv = start(settings, std::sync::Arc::new(RecordOnly)).await;
        let (headers, body) = pull_delivery("opened", "acme/gitops", 7, &sha('1'), "d-1");
        let (status, answer) = srv.deliver(&headers, &body).await;
        assert_eq!(status, 401);
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("no webhook secret is configured for github"),
            "{answer}"
        );
        assert_eq!(srv.service.store().delivery_count().await.unwrap(), 0);
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_413() {
    bounded(async {
        let (_dir, srv) = intake_only(&[("THULE_MAX_BODY_BYTES", "2048")]).await;
        let (headers, body) = pull_delivery("opened", "acme/gitops", 7, &sha('1'), "d-1");
        assert!(body.len() < 2048);
        assert_eq!(srv.deliver(&headers, &body).await.0, 202);
        // The same JSON padded past the limit, correctly signed.
        let mut big = body.clone();
        big.splice(1..1, std::iter::repeat_n(b' ', 4096));
        let headers = github_headers("pull_request", "d-2", &big, SECRET);
        let (status, answer) = srv.deliver(&headers, &big).await;
        assert_eq!(status, 413, "{answer}");
        assert!(answer["error"].as_str().unwrap().contains("2048 bytes"));
        assert_eq!(srv.service.store().delivery_count().await.unwrap(), 1);
        assert_eq!(
            srv.service.metrics().deliveries(
                "github",
                thule_cli::serve::metrics::DeliveryResult::TooLarge
            ),
            1
        );
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_body_under_the_default_limit_is_accepted() {
    bounded(async {
        // GitHub sends up to 25 MB; the default limit is 25 MiB, well past axum's 2 MB default.
        let (_dir, srv) = intake_only(&[]).await;
        let mut body = github_pull("opened", "acme/gitops", 7, &sha('1'), "acme/gitops");
        body.splice(1..1, std::iter::repeat_n(b' ', 3 * 1024 * 1024));
        let headers = github_headers("pull_request", "big-1", &body, SECRET);
        let (status, answer) = srv.deliver(&headers, &body).await;
        assert_eq!(status, 202, "{answer}");
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_delivery_is_400_with_a_reason() {
    bounded(async {
        let (_dir, srv) = intake_only(&[]).await;
        let body = b"{not json".to_vec();
        let headers = github_headers("pull_request", "d-1", &body, SECRET);
        let (status, answer) = srv.deliver(&headers, &body).await;
        assert_eq!(status, 400);
        assert!(!answer["error"].as_str().unwrap().is_empty(), "{answer}");

        let body = json!({"action": "opened", "repository": {"full_name": "acme/gitops"}})
            .to_string()
            .into_bytes();
        let headers = github_headers("pull_request", "d-2", &body, SECRET);
        let (status, answer) = srv.deliver(&headers, &body).await;
        assert_eq!(status, 400);
        assert!(
            answer["error"].as_str().unwrap().contains("pull_request"),
            "{answer}"
        );
        assert_eq!(srv.service.store().delivery_count().await.unwrap(), 0);
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_off_the_allow_list_is_403_and_counted() {
    bounded(async {
        let (_dir, srv) = intake_only(&[("THULE_REPO_ALLOWLIST", "github.com/acme/*")]).await;
        let (headers, body) = pull_delivery("opened", "other/gitops", 1, &sha('1'), "d-1");
        let (status, answer) = srv.deliver(&headers, &body).await;
        assert_eq!(status, 403);
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("github.com/other/gitops"),
            "{answer}"
        );
        let (headers, body) = pull_delivery("opened", "acme/gitops", 1, &sha('1'), "d-2");
        assert_eq!(srv.deliver(&headers, &body).await.0, 202);
        let (_, metrics) = srv.get("/metrics").await;
        assert!(
            metrics.contains("thule_deliveries_total{provider=\"github\",result=\"forbidden\"} 1"),
            "{metrics}"
        );
        assert_eq!(srv.service.store().jobs(10).await.unwrap().len(), 1);
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_delivery_id_is_one_job() {
    bounded(async {
        let (_dir, srv) = intake_only(&[]).await;
        let (headers, body) = pull_delivery("opened", "acme/gitops", 7, &sha('1'), "same-id");
        assert_eq!(srv.deliver(&headers, &body).await.0, 202);
        let (status, answer) = srv.deliver(&headers, &body).await;
        assert_eq!(status, 200);
        assert_eq!(answer["result"], "duplicate");
        assert_eq!(srv.service.store().jobs(10).await.unwrap().len(), 1);
        assert_eq!(srv.service.store().delivery_count().await.unwrap(), 1);
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_mr_head_and_trigger_under_two_ids_is_one_job() {
    bounded(async {
        let (_dir, srv) = intake_only(&[]).await;
        let head = sha('1');
        let (h1, body) = pull_delivery("synchronize", "acme/gitops", 7, &head, "id-1");
        let (status, first) = srv.deliver(&h1, &body).await;
        assert_eq!(status, 202);
        let (h2, body) = pull_delivery("synchronize", "acme/gitops", 7, &head, "id-2");
        let (status, second) = srv.deliver(&h2, &body).await;
        assert_eq!(status, 200);
        assert_eq!(second["result"], "duplicate");
        assert_eq!(second["job"], first["job"]);
        assert_eq!(srv.service.store().jobs(10).await.unwrap().len(), 1);
        // Both deliveries are remembered (a redelivery of either is dropped too).
        assert_eq!(srv.service.store().delivery_count().await.unwrap(), 2);
        // Another trigger at the same head is another request.
        let (h3, body) = pull_delivery("reopened", "acme/gitops", 7, &head, "id-3");
        assert_eq!(srv.deliver(&h3, &body).await.0, 202);
        assert_eq!(srv.service.store().jobs(10).await.unwrap().len(), 2);
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_is_ignored_unless_forks_are_planned() {
    bounded(async {
        let body = github_pull("opened", "acme/gitops", 9, &sha('f'), "mallory/gitops");
        let headers = github_headers("pull_request", "fork-1", &body, SECRET);

        let (_dir, srv) = intake_only(&[]).await;
        let (status, answer) = srv.deliver(&headers, &body).await;
        assert_eq!(status, 200);
        assert_eq!(answer["result"], "ignored");
        assert!(
            answer["reason"].as_str().unwrap().contains("fork"),
            "{answer}"
        );
        assert!(srv.service.store().jobs(10).await.unwrap().is_empty());
        // Recorded, so a redelivery is dropped without a second look.
        assert_eq!(srv.service.store().delivery_count().await.unwrap(), 1);
        srv.service.shutdown().await.unwrap();

        let (_dir, srv) = intake_only(&[("THULE_PLAN_FORKS", "true")]).await;
        assert_eq!(srv.deliver(&headers, &body).await.0, 202);
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_events_answer_200_and_queue_nothing() {
    bounded(async {
        let (_dir, srv) = intake_only(&[]).await;
        let (headers, body) = pull_delivery("closed", "acme/gitops", 7, &sha('1'), "c-1");
        let (status, answer) = srv.deliver(&headers, &body).await;
        assert_eq!(status, 200);
        assert_eq!(answer["result"], "ignored");
        let ping = json!({"zen": "Keep it simple.", "hook_id": 1})
            .to_string()
            .into_bytes();
        let headers = github_headers("ping", "p-1", &ping, SECRET);
        let (status, answer) = srv.deliver(&headers, &ping).await;
        assert_eq!((status, answer["reason"].as_str()), (200, Some("ping")));
        let push = b"{\"ref\": \"refs/heads/main\"}".to_vec();
        let headers = github_headers("push", "push-1", &push, SECRET);
        assert_eq!(srv.deliver(&headers, &push).await.0, 200);
        assert!(srv.service.store().jobs(10).await.unwrap().is_empty());
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

fn github_comment(id: u64, text: &str) -> Vec<u8> {
    json!({
        "action": "created",
        "issue": {"number": 7, "state": "open", "pull_request": {"url": "u"}, "user": {"login": "alice"}},
        "comment": {"id": id, "node_id": "IC_1", "body": text, "html_url": "https://github.com/acme/gitops/pull/7#issuecomment-1",
                    "user": {"login": "bob", "id": 2}},
        "repository": {"full_name": "acme/gitops"},
        "sender": {"login": "bob", "id": 2}
    })
    .to_string()
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_command_queues_a_command_job_once() {
    bounded(async {
        let (_dir, srv) = intake_only(&[]).await;
        let body = github_comment(555, "/thule plan apps-prod");
        let headers = github_headers("issue_comment", "cm-1", &body, SECRET);
        let (status, answer) = srv.deliver(&headers, &body).await;
        assert_eq!(status, 202, "{answer}");
        let jobs = srv.service.store().jobs(10).await.unwrap();
        let j = &jobs[0].job;
        assert_eq!(j.kind, JobKind::Command);
        assert_eq!(j.trigger, "comment");
        assert_eq!(j.actor.as_deref(), Some("bob"));
        assert_eq!(j.head_sha, None, "GitHub comments carry no head");
        assert_eq!(
            j.command,
            Some(JobCommand::Plan {
                projects: vec!["apps-prod".into()],
                dirs: vec![]
            })
        );
        let comment = j.details.comment.as_ref().unwrap();
        assert_eq!((comment.id, comment.prefix.as_str()), (555, "thule"));
        // The same comment delivered under another id (a second hook) is one job.
        let headers = github_headers("issue_comment", "cm-2", &body, SECRET);
        let (status, answer) = srv.deliver(&headers, &body).await;
        assert_eq!(
            (status, answer["result"].as_str()),
            (200, Some("duplicate"))
        );
        // A comment without a command is ignored.
        let body = github_comment(556, "looks good");
        let headers = github_headers("issue_comment", "cm-3", &body, SECRET);
        let (status, answer) = srv.deliver(&headers, &body).await;
        assert_eq!((status, answer["result"].as_str()), (200, Some("ignored")));
        assert_eq!(srv.service.store().jobs(10).await.unwrap().len(), 1);
        srv.service.shutdown().await.unwrap();
    })
    .await;
}
