//! The worker pool: a bounded number of tasks that claim jobs, run them through the
//! [`JobRunner`], keep their leases alive, and record how they ended.
//!
//! A run's [`CancelToken`] fires when:
//! - its job is superseded by a newer head of the merge request (at once through
//!   [`WorkerHandle::cancel`] when this process queued the newer job; otherwise at the next
//!   lease renewal, which reads the job's state);
//! - its lease was lost (it expired and another worker took the job);
//! - its deadline passed (the run is recorded as failed);
//! - the grace period of a shutdown ran out (the job is released back to the queue).
//!
//! A runner that has not returned a few seconds after its token fired is abandoned.
//! Dropping a worker (an aborted task, a killed process) records nothing: the lease expires
//! and another worker claims the job again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use thule_core::CancelToken;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::serve::job::{Job, JobRunner, JobState, RunOutcome, RunResult};
use crate::serve::metrics::Metrics;
use crate::serve::store::{Finish, Store, now_ms, short};

/// How the pool runs jobs.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Workers (jobs run at once).
    pub workers: usize,
    /// A worker's lease on a job, renewed every third of it while the job runs.
    pub lease: Duration,
    /// Longest one run may take.
    pub run_deadline: Duration,
    /// Starts of one job before it is given up.
    pub max_attempts: u32,
    /// How often an idle worker looks for claimable jobs without being woken.
    pub poll_interval: Duration,
    /// How long a runner may take to return once its token fired before it is abandoned.
    pub stop_wait: Duration,
    /// Run history kept.
    pub run_retention: Duration,
    /// Delivery ids remembered.
    pub delivery_retention: Duration,
}

/// Why a worker fired a run's token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// The job was superseded or cancelled (seen in the database or told by intake).
    Superseded,
    /// Another worker holds the lease now.
    LeaseLost,
    /// The run deadline passed.
    Deadline,
    /// Shutdown's grace period ran out.
    Shutdown,
}

struct Shared {
    store: Store,
    runner: Arc<dyn JobRunner>,
    config: WorkerConfig,
    metrics: Arc<Metrics>,
    instance: String,
    wake: Notify,
    running: Mutex<HashMap<i64, CancelToken>>,
    alive: AtomicUsize,
    stop_claiming: CancelToken,
    cancel_runs: CancelToken,
}

/// What intake and the HTTP handlers need of the pool: wake it, cancel superseded runs,
/// count live workers.
#[derive(Clone)]
pub struct WorkerHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for WorkerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("instance", &self.shared.instance)
            .field("alive", &self.alive())
            .finish()
    }
}

impl WorkerHandle {
    /// A job was queued: wake an idle worker.
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Fire the cancel tokens of these jobs' runs, if they run here.
    pub fn cancel(&self, jobs: &[i64]) {
        let running = self
            .shared
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for id in jobs {
            if let Some(token) = running.get(id) {
                token.cancel();
            }
        }
    }

    /// Workers whose loop is running.
    pub fn alive(&self) -> usize {
        self.shared.alive.load(Ordering::SeqCst)
    }

    /// Workers configured.
    pub fn configured(&self) -> usize {
        self.shared.config.workers
    }

    /// Jobs running in this process now.
    pub fn running(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .shared
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect();
        ids.sort_unstable();
        ids
    }

    /// This process's lease-owner prefix (`<pid>-<random>`).
    pub fn instance(&self) -> &str {
        &self.shared.instance
    }
}

/// The running pool.
pub struct Workers {
    handle: WorkerHandle,
    tasks: JoinSet<()>,
    maintenance: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

/// A lease owner prefix unique to this process: its pid and the clock's nanoseconds.
fn instance_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}-{nanos:08x}", std::process::id())
}

impl Workers {
    /// Start `config.workers` workers and the maintenance task (giving up stuck jobs,
    /// pruning history) on the current runtime.
    pub fn start(
        store: Store,
        runner: Arc<dyn JobRunner>,
        config: WorkerConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        let shared = Arc::new(Shared {
            store,
            runner,
            config,
            metrics,
            instance: instance_id(),
            wake: Notify::new(),
            running: Mutex::new(HashMap::new()),
            alive: AtomicUsize::new(0),
            stop_claiming: CancelToken::new(),
            cancel_runs: CancelToken::new(),
        });
        let mut tasks = JoinSet::new();
        for index in 0..shared.config.workers {
            // Counted before the task starts, so readiness never sees a pool still starting.
            shared.alive.fetch_add(1, Ordering::SeqCst);
            tasks.spawn(worker_loop(shared.clone(), index));
        }
        let maintenance = tokio::spawn(maintenance(shared.clone()));
        Self {
            handle: WorkerHandle { shared },
            tasks,
            maintenance,
        }
    }

    /// The handle intake and the handlers use.
    pub fn handle(&self) -> WorkerHandle {
        self.handle.clone()
    }

    /// Stop claiming, let running jobs finish for up to `grace`, then cancel them (their
    /// jobs are released to the queue), and wait a little more before dropping what still
    /// runs (its lease expires).
    pub async fn shutdown(mut self, grace: Duration) {
        let shared = &self.handle.shared;
        shared.stop_claiming.cancel();
        shared.wake.notify_waiters();
        self.maintenance.abort();
        if drain(&mut self.tasks, grace).await {
            return;
        }
        tracing::warn!(
            running = ?self.handle.running(),
            "shutdown grace period over: cancelling running jobs and releasing them"
        );
        shared.cancel_runs.cancel();
        if !drain(
            &mut self.tasks,
            shared.config.stop_wait + Duration::from_secs(2),
        )
        .await
        {
            tracing::warn!("runs did not stop: dropping them; their leases will expire");
            self.tasks.abort_all();
        }
    }

    /// Drop every worker at once, recording nothing and releasing no lease: what a killed
    /// process leaves behind (for crash tests).
    pub fn abort(mut self) {
        self.maintenance.abort();
        self.tasks.abort_all();
    }
}

/// Wait for every task, at most `limit`; whether they all ended.
async fn drain(tasks: &mut JoinSet<()>, limit: Duration) -> bool {
    let all = async {
        while let Some(done) = tasks.join_next().await {
            if let Err(e) = done
                && e.is_panic()
            {
                tracing::error!("a worker panicked: {e}");
            }
        }
    };
    tokio::time::timeout(limit, all).await.is_ok()
}

/// Decrements the live-worker count when the loop ends, however it ends.
struct Alive(Arc<Shared>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.alive.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn worker_loop(shared: Arc<Shared>, index: usize) {
    let _alive = Alive(shared.clone());
    let owner = format!("{}/w{index}", shared.instance);
    let config = &shared.config;
    while !shared.stop_claiming.is_cancelled() {
        match shared
            .store
            .claim(&owner, config.lease, config.max_attempts)
            .await
        {
            Ok(Some(job)) => run_one(&shared, &owner, job).await,
            Ok(None) => {
                tokio::select! {
                    () = shared.wake.notified() => {}
                    () = tokio::time::sleep(config.poll_interval) => {}
                    () = shared.stop_claiming.cancelled() => {}
                }
            }
            Err(e) => {
                tracing::error!(worker = %owner, "claiming a job failed: {e}");
                tokio::time::sleep(config.poll_interval).await;
            }
        }
    }
}

/// Removes a run's token from the registry when the run ends, however it ends.
struct Registered<'a> {
    shared: &'a Shared,
    job: i64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.shared
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.job);
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn run_one(shared: &Shared, owner: &str, job: Job) {
    let config = &shared.config;
    let token = CancelToken::new();
    shared
        .running
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(job.id, token.clone());
    let _registered = Registered {
        shared,
        job: job.id,
    };
    let started_at = now_ms();
    let started = Instant::now();
    tracing::info!(
        job = job.id,
        provider = job.provider.name(),
        repo = %job.repo,
        mr = job.mr,
        head = job.head_sha.as_deref().map(short),
        trigger = %job.trigger,
        kind = job.kind.as_str(),
        attempt = job.attempts,
        "run started"
    );

    // The run is its own task, so a panicking runner fails its job instead of the worker;
    // the guard aborts it whenever this future is dropped (a dropped worker leaves nothing
    // running).
    let runner = shared.runner.clone();
    let run_job = job.clone();
    let run_token = token.clone();
    let mut run = tokio::spawn(async move { runner.run(&run_job, run_token).await });
    let _abort_run = AbortOnDrop(run.abort_handle());
    let every = (config.lease / 3).max(Duration::from_millis(50));
    let mut renew = tokio::time::interval_at(Instant::now() + every, every);
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let deadline = tokio::time::sleep(config.run_deadline);
    let mut deadline = std::pin::pin!(deadline);
    let abandon = tokio::time::sleep(Duration::from_secs(365 * 24 * 3600));
    let mut abandon = std::pin::pin!(abandon);
    let mut stop: Option<Stop> = None;
    let fire = |why: Stop,
                stop: &mut Option<Stop>,
                abandon: &mut std::pin::Pin<&mut tokio::time::Sleep>| {
        if stop.is_none() {
            *stop = Some(why);
            token.cancel();
            abandon.as_mut().reset(Instant::now() + config.stop_wait);
        }
    };
    let outcome: Option<RunOutcome> = loop {
        tokio::select! {
            ended = &mut run => break Some(ended.unwrap_or_else(|e| {
                tracing::error!(job = job.id, "the runner failed: {e}");
                RunOutcome::new(RunResult::Failed, "the runner panicked")
            })),
            _ = renew.tick() => match shared.store.renew(job.id, owner, config.lease).await {
                Ok(Some(JobState::Running)) => {}
                Ok(Some(_)) => fire(Stop::Superseded, &mut stop, &mut abandon),
                Ok(None) => fire(Stop::LeaseLost, &mut stop, &mut abandon),
                Err(e) => tracing::warn!(job = job.id, "renewing the lease failed: {e}"),
            },
            () = &mut deadline, if stop.is_none() => fire(Stop::Deadline, &mut stop, &mut abandon),
            () = shared.cancel_runs.cancelled(), if stop.is_none() => fire(Stop::Shutdown, &mut stop, &mut abandon),
            () = token.cancelled(), if stop.is_none() => fire(Stop::Superseded, &mut stop, &mut abandon),
            () = &mut abandon, if stop.is_some() => break None,
        }
    };
    let took = started.elapsed();
    let abandoned = outcome.is_none();
    let mut outcome = outcome.unwrap_or_else(|| {
        RunOutcome::new(
            RunResult::Cancelled,
            format!(
                "the runner did not stop within {} s of being cancelled",
                config.stop_wait.as_secs()
            ),
        )
    });

    if stop == Some(Stop::Shutdown) && (abandoned || outcome.result == RunResult::Cancelled) {
        match shared.store.release(job.id, owner).await {
            Ok(_) => tracing::info!(job = job.id, "run stopped by shutdown: job released"),
            Err(e) => tracing::error!(job = job.id, "releasing the job failed: {e}"),
        }
        return;
    }
    if stop == Some(Stop::Deadline) && (abandoned || outcome.result == RunResult::Cancelled) {
        outcome.result = RunResult::Failed;
        outcome.message = format!(
            "deadline of {:?} exceeded{}",
            config.run_deadline,
            if outcome.message.is_empty() {
                String::new()
            } else {
                format!(": {}", outcome.message)
            }
        );
    }
    let state = match outcome.result {
        RunResult::Failed => JobState::Failed,
        _ => JobState::Done,
    };
    let finish = Finish {
        job: &job,
        owner,
        outcome: &outcome,
        state,
        started_at,
    };
    match shared.store.finish(&finish).await {
        Ok(Some(state)) => {
            shared.metrics.run(outcome.result, took);
            tracing::info!(
                job = job.id,
                repo = %job.repo,
                mr = job.mr,
                result = outcome.result.as_str(),
                state = state.as_str(),
                duration_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
                "run finished"
            );
        }
        Ok(None) => tracing::warn!(
            job = job.id,
            "run ended after its lease was lost: another worker owns the job, nothing recorded"
        ),
        Err(e) => tracing::error!(
            job = job.id,
            "recording the run failed (the job will be claimed again when its lease expires): {e}"
        ),
    }
}

async fn maintenance(shared: Arc<Shared>) {
    let config = &shared.config;
    let mut last_prune: Option<Instant> = None;
    loop {
        match shared.store.sweep(config.max_attempts).await {
            Ok(gave_up) if !gave_up.is_empty() => {
                shared.metrics.gave_up(gave_up.len());
                for g in gave_up {
                    tracing::warn!(
                        job = g.job,
                        attempts = g.attempts,
                        "job given up: started too many times without finishing"
                    );
                }
            }
            Ok(_) => {}
            Err(e) => tracing::error!("sweeping the queue failed: {e}"),
        }
        if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
            match shared
                .store
                .prune(config.run_retention, config.delivery_retention)
                .await
            {
                Ok(n) if n > 0 => tracing::info!(rows = n, "pruned history past retention"),
                Ok(_) => {}
                Err(e) => tracing::error!("pruning history failed: {e}"),
            }
            last_prune = Some(Instant::now());
        }
        tokio::time::sleep(config.poll_interval * 4).await;
    }
}
