//! The durable queue with fake runners, against the server on loopback: superseding, lease
//! recovery after a worker dies, a service dropped mid-run and restarted on the same SQLite
//! file, giving up, deadlines, and graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use thule_cli::serve::store::{RunFilter, Store, now_ms};
use thule_cli::serve::{JobState, RecordOnly, RunResult};

use crate::support::*;

async fn runs_of(store: &Store, job: i64) -> Vec<thule_cli::serve::store::RunRecord> {
    store
        .runs(&RunFilter {
            limit: Some(1000),
            ..RunFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.job_id == job)
        .collect()
}

async fn state_of(store: &Store, job: i64) -> JobState {
    store.job(job).await.unwrap().expect("the job exists").state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_head_supersedes_the_queued_job() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(dir.path());
        s.workers = 0;
        let srv = start(s, Arc::new(RecordOnly)).await;
        let (h, b) = pull_delivery("opened", "acme/gitops", 7, &sha('1'), "d-1");
        let (_, first) = srv.deliver(&h, &b).await;
        let (h, b) = pull_delivery("opened", "acme/other", 7, &sha('1'), "d-2");
        let (_, other_mr) = srv.deliver(&h, &b).await;
        let (h, b) = pull_delivery("synchronize", "acme/gitops", 7, &sha('2'), "d-3");
        let (status, second) = srv.deliver(&h, &b).await;
        assert_eq!(status, 202);
        assert_eq!(second["superseded"], serde_json::json!([first["job"]]));
        let store = srv.service.store();
        let job1 = store
            .job(first["job"].as_i64().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job1.state, JobState::Superseded);
        assert!(job1.message.unwrap().contains("superseded by 222222222222"));
        assert_eq!(
            state_of(store, second["job"].as_i64().unwrap()).await,
            JobState::Queued
        );
        // Another merge request (same number, other repository) is untouched.
        assert_eq!(
            state_of(store, other_mr["job"].as_i64().unwrap()).await,
            JobState::Queued
        );
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_that_comes_back_after_being_superseded_plans_again() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(dir.path());
        s.workers = 0;
        let srv = start(s, Arc::new(RecordOnly)).await;
        let mut jobs = Vec::new();
        // Pushed SHA 1, then SHA 2, then SHA 1 again (a revert): each is the newest head.
        for (c, id) in [('1', "d-1"), ('2', "d-2"), ('1', "d-3")] {
            let (h, b) = pull_delivery("synchronize", "acme/gitops", 7, &sha(c), id);
            let (status, answer) = srv.deliver(&h, &b).await;
            assert_eq!(status, 202, "{id}: {answer}");
            jobs.push(answer["job"].as_i64().unwrap());
        }
        let store = srv.service.store();
        assert_eq!(state_of(store, jobs[0]).await, JobState::Superseded);
        assert_eq!(state_of(store, jobs[1]).await, JobState::Superseded);
        assert_eq!(state_of(store, jobs[2]).await, JobState::Queued);
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_runner_fails_its_job_and_the_worker_goes_on() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(dir.path());
        s.workers = 1;
        let runner = FakeRunner::new(Mode::PanicFirst);
        let srv = start(s, runner.clone()).await;
        let store = srv.service.store().clone();
        let mut jobs = Vec::new();
        for (mr, id) in [(1, "d-1"), (2, "d-2")] {
            let (h, b) = pull_delivery("opened", "acme/gitops", mr, &sha('1'), id);
            let (_, answer) = srv.deliver(&h, &b).await;
            jobs.push(answer["job"].as_i64().unwrap());
        }
        wait_until(Duration::from_secs(10), "both jobs finished", || async {
            state_of(&store, jobs[1]).await == JobState::Done
        })
        .await;
        assert_eq!(state_of(&store, jobs[0]).await, JobState::Failed);
        let runs = runs_of(&store, jobs[0]).await;
        assert_eq!(runs[0].message.as_deref(), Some("the runner panicked"));
        assert_eq!(srv.get("/readyz").await.0, 200, "the worker is still there");
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_head_cancels_the_running_job_and_runs_after_it() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(dir.path());
        s.workers = 2;
        let runner = FakeRunner::new(Mode::WaitForCancelFirst);
        let srv = start(s, runner.clone()).await;
        let (h, b) = pull_delivery("opened", "acme/gitops", 7, &sha('1'), "d-1");
        let (_, first) = srv.deliver(&h, &b).await;
        let job1 = first["job"].as_i64().unwrap();
        wait_until(Duration::from_secs(10), "job 1 running", || async {
            runner.calls_for(job1) == 1
        })
        .await;
        let (h, b) = pull_delivery("synchronize", "acme/gitops", 7, &sha('2'), "d-2");
        let (status, second) = srv.deliver(&h, &b).await;
        assert_eq!(status, 202);
        let job2 = second["job"].as_i64().unwrap();
        let store = srv.service.store().clone();
        wait_until(Duration::from_secs(10), "job 2 done", || async {
            state_of(&store, job2).await == JobState::Done
        })
        .await;
        assert_eq!(
            *runner.cancelled.lock().unwrap(),
            vec![job1],
            "job 1's token fired"
        );
        assert_eq!(state_of(&store, job1).await, JobState::Superseded);
        let run1 = runs_of(&store, job1).await;
        let run2 = runs_of(&store, job2).await;
        assert_eq!(run1.len(), 1);
        assert_eq!(run1[0].result, RunResult::Cancelled);
        assert_eq!(run2.len(), 1);
        assert_eq!(run2[0].result, RunResult::Done);
        // One merge request runs one job at a time: job 2 started after job 1 returned.
        assert!(
            run2[0].started_at >= run1[0].finished_at,
            "job 2 started at {} before job 1 ended at {}",
            run2[0].started_at,
            run1[0].finished_at
        );
        assert_eq!(runner.total(), 2);
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_worker_died_is_claimed_again_after_its_lease_and_done_once() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(dir.path());
        s.workers = 0;
        let srv = start(s, Arc::new(RecordOnly)).await;
        let (h, b) = pull_delivery("opened", "acme/gitops", 7, &sha('1'), "d-1");
        let (_, first) = srv.deliver(&h, &b).await;
        let job = first["job"].as_i64().unwrap();
        // A worker claims it with a short lease and dies without a word.
        let claimed = srv
            .service
            .store()
            .claim("dead-worker", Duration::from_millis(800), 3)
            .await
            .unwrap()
            .expect("claimed");
        let claimed_at = now_ms();
        assert_eq!((claimed.id, claimed.attempts), (job, 1));
        srv.service.shutdown().await.unwrap();

        let runner = FakeRunner::new(Mode::Done);
        let mut s = settings(dir.path());
        s.workers = 2;
        let srv = start(s, runner.clone()).await;
        let store = srv.service.store().clone();
        wait_until(Duration::from_secs(10), "the job done", || async {
            state_of(&store, job).await == JobState::Done
        })
        .await;
        let runs = runs_of(&store, job).await;
        assert_eq!(runs.len(), 1, "done once: {runs:?}");
        assert_eq!(runs[0].attempt, 2);
        assert!(
            runs[0].started_at >= claimed_at + 500,
            "claimed again only once the lease expired"
        );
        assert_eq!(runner.calls_for(job), 1);
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

/// The library-level `kill -9`: the service is dropped mid-run (every task aborted, nothing
/// recorded, no lease released), and a new service on the same SQLite file re-claims the job
/// once its lease expired and completes it exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_dropped_mid_run_and_restarted_completes_the_job_exactly_once() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let lease = Duration::from_millis(1500);
        let mut s = settings(dir.path());
        s.lease = lease;
        s.workers = 1;
        let hanging = FakeRunner::new(Mode::Hang);
        let srv = start(s, hanging.clone()).await;
        let (h, b) = pull_delivery("opened", "acme/gitops", 7, &sha('1'), "d-1");
        let (_, first) = srv.deliver(&h, &b).await;
        let job = first["job"].as_i64().unwrap();
        wait_until(Duration::from_secs(10), "the job running", || async {
            hanging.calls_for(job) == 1
        })
        .await;
        // Let a renewal or two happen, then drop everything at once.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let url = srv.url.clone();
        srv.service.abort();
        let aborted_at = now_ms();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            reqwest::Client::new()
                .get(format!("{url}/healthz"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_err(),
            "the dropped service no longer answers"
        );

        let runner = FakeRunner::new(Mode::Done);
        let mut s = settings(dir.path());
        s.lease = lease;
        s.workers = 2;
        let srv = start(s, runner.clone()).await;
        let store = srv.service.store().clone();
        let record = store.job(job).await.unwrap().unwrap();
        assert_eq!(
            record.state,
            JobState::Running,
            "still leased by the dead worker"
        );
        wait_until(Duration::from_secs(15), "the job done", || async {
            state_of(&store, job).await == JobState::Done
        })
        .await;
        let runs = runs_of(&store, job).await;
        assert_eq!(runs.len(), 1, "completed exactly once: {runs:?}");
        assert_eq!(runs[0].result, RunResult::Done);
        assert_eq!(runs[0].attempt, 2);
        // The last renewal was at most a third of a lease before the abort.
        assert!(
            runs[0].started_at >= aborted_at + 400,
            "re-claimed {} ms after the abort, before the lease could expire",
            runs[0].started_at - aborted_at
        );
        assert_eq!(runner.calls_for(job), 1);
        assert_eq!(hanging.total(), 1);
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_started_too_often_is_given_up_as_failed() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(dir.path());
        s.workers = 0;
        let srv = start(s, Arc::new(RecordOnly)).await;
        let (h, b) = pull_delivery("opened", "acme/gitops", 7, &sha('1'), "d-1");
        let (_, first) = srv.deliver(&h, &b).await;
        let job = first["job"].as_i64().unwrap();
        srv.service
            .store()
            .claim("dead-worker", Duration::from_millis(100), 1)
            .await
            .unwrap()
            .expect("claimed");
        srv.service.shutdown().await.unwrap();

        let runner = FakeRunner::new(Mode::Done);
        let mut s = settings(dir.path());
        s.max_attempts = 1;
        let srv = start(s, runner.clone()).await;
        let store = srv.service.store().clone();
        wait_until(Duration::from_secs(10), "the job given up", || async {
            state_of(&store, job).await == JobState::Failed
        })
        .await;
        let runs = runs_of(&store, job).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].result, RunResult::Failed);
        assert!(
            runs[0]
                .message
                .as_deref()
                .unwrap()
                .contains("given up after 1 starts")
        );
        assert_eq!(runner.total(), 0);
        let (_, metrics) = srv.get("/metrics").await;
        assert!(metrics.contains("thule_jobs_given_up_total 1"), "{metrics}");
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_past_its_deadline_is_cancelled_and_failed() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(dir.path());
        s.run_deadline = Duration::from_millis(300);
        let runner = FakeRunner::new(Mode::WaitForCancel);
        let srv = start(s, runner.clone()).await;
        let (h, b) = pull_delivery("opened", "acme/gitops", 7, &sha('1'), "d-1");
        let (_, first) = srv.deliver(&h, &b).await;
        let job = first["job"].as_i64().unwrap();
        let store = srv.service.store().clone();
        wait_until(Duration::from_secs(10), "the job failed", || async {
            state_of(&store, job).await == JobState::Failed
        })
        .await;
        let runs = runs_of(&store, job).await;
        assert_eq!(runs[0].result, RunResult::Failed);
        assert!(
            runs[0]
                .message
                .as_deref()
                .unwrap()
                .contains("deadline of 300ms exceeded"),
            "{runs:?}"
        );
        assert_eq!(*runner.cancelled.lock().unwrap(), vec![job]);
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_refuses_new_deliveries_and_lets_the_running_job_finish() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let runner = FakeRunner::new(Mode::Sleep(Duration::from_millis(1500)));
        let srv = start(settings(dir.path()), runner.clone()).await;
        let (h, b) = pull_delivery("opened", "acme/gitops", 7, &sha('1'), "d-1");
        let (_, first) = srv.deliver(&h, &b).await;
        let job = first["job"].as_i64().unwrap();
        wait_until(Duration::from_secs(10), "the job running", || async {
            runner.calls_for(job) == 1
        })
        .await;
        let url = srv.url.clone();
        let db = srv.service.store().url().to_owned();
        let shutdown = tokio::spawn(srv.service.shutdown());
        // While the job finishes: new deliveries get 503 with Retry-After, readiness fails.
        let (h, b) = pull_delivery("opened", "acme/gitops", 8, &sha('2'), "d-2");
        wait_until(Duration::from_secs(5), "a 503", || async {
            post(&url, &h, &b).await.0 == 503
        })
        .await;
        assert_eq!(get(&format!("{url}/readyz")).await.0, 503);
        assert_eq!(get(&format!("{url}/healthz")).await.0, 200);
        shutdown.await.unwrap().unwrap();
        let store = Store::open(&db).await.unwrap();
        assert_eq!(state_of(&store, job).await, JobState::Done);
        assert_eq!(runs_of(&store, job).await.len(), 1);
        assert_eq!(
            store.jobs(10).await.unwrap().len(),
            1,
            "the refused delivery stored nothing"
        );
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_past_the_grace_period_releases_the_job_to_the_queue() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(dir.path());
        s.shutdown_grace = Duration::from_millis(300);
        let runner = FakeRunner::new(Mode::WaitForCancel);
        let srv = start(s, runner.clone()).await;
        let (h, b) = pull_delivery("opened", "acme/gitops", 7, &sha('1'), "d-1");
        let (_, first) = srv.deliver(&h, &b).await;
        let job = first["job"].as_i64().unwrap();
        wait_until(Duration::from_secs(10), "the job running", || async {
            runner.calls_for(job) == 1
        })
        .await;
        let db = srv.service.store().url().to_owned();
        srv.service.shutdown().await.unwrap();
        assert_eq!(*runner.cancelled.lock().unwrap(), vec![job]);
        let store = Store::open(&db).await.unwrap();
        let record = store.job(job).await.unwrap().unwrap();
        assert_eq!(
            record.state,
            JobState::Queued,
            "released for the next start"
        );
        assert_eq!(record.job.attempts, 0, "a released start is not an attempt");
        assert_eq!(record.lease_owner, None);
        assert!(runs_of(&store, job).await.is_empty());
        store.close().await;

        // The next start picks it up at once.
        let runner = FakeRunner::new(Mode::Done);
        let srv = start(settings(dir.path()), runner.clone()).await;
        let store = srv.service.store().clone();
        wait_until(Duration::from_secs(10), "the job done", || async {
            state_of(&store, job).await == JobState::Done
        })
        .await;
        srv.service.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_a_newer_release_is_refused() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("thule.db").display());
        let store = Store::open(&url).await.unwrap();
        store.close().await;
        {
            use sqlx::Connection as _;
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
                 VALUES (9999, 'from the future', 1, x'00', 0)",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            conn.close().await.unwrap();
        }
        let err = Store::open(&url).await.unwrap_err().to_string();
        assert!(err.contains("schema version 9999"), "{err}");
        assert!(err.contains("newer than this thule"), "{err}");
    })
    .await;
}
