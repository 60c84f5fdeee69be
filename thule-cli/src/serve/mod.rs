//! `thule serve`: the webhook service (feature `serve`, on by default).
//!
//! This part receives deliveries and queues them durably; what runs a job is the
//! [`JobRunner`] seam (this release ships [`RecordOnly`], which only records the job as done).
//!
//! - [`settings`]: flags over environment over the config file (`thule_core`'s
//!   [`ServeFile`](thule_core::config::serve::ServeFile)) over defaults.
//! - [`http`]: the endpoints; [`intake`]: from a normalized delivery to what is queued.
//! - [`store`]: the SQLite queue (deliveries, jobs, runs) with its migrations.
//! - [`worker`]: the bounded pool that claims jobs under leases and calls the runner.
//! - [`metrics`], [`page`]: Prometheus text and the status page.
//! - [`Service`]: all of it started on one address, and stopped gracefully.

pub mod http;
pub mod intake;
pub mod job;
pub mod logging;
pub mod metrics;
pub mod page;
pub mod runner;
pub mod settings;
pub mod store;
pub mod worker;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use thule_core::CancelToken;

pub use job::{
    Job, JobCommand, JobComment, JobDetails, JobKind, JobRunner, JobState, RecordOnly, RunOutcome,
    RunResult,
};
pub use settings::Settings;
pub use store::Store;

use crate::serve::http::AppState;
use crate::serve::metrics::Metrics;
use crate::serve::worker::{WorkerConfig, Workers};

/// How long a runner may take to return once its cancel token fired.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// A running service: the HTTP server, the worker pool and the queue.
#[derive(Debug)]
pub struct Service {
    addr: SocketAddr,
    state: AppState,
    store: Store,
    metrics: Arc<Metrics>,
    workers: Workers,
    stop_http: CancelToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    grace: Duration,
}

impl Service {
    /// Open the queue (migrating it, recovering jobs of a dead process), start the workers
    /// with `runner`, and listen on `settings.listen`.
    ///
    /// # Errors
    /// When the data directory, the database or the address cannot be used.
    pub async fn start(settings: Settings, runner: Arc<dyn JobRunner>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                settings.data_dir.display()
            )
        })?;
        let store = Store::open(&settings.db)
            .await
            .with_context(|| format!("opening the queue database {}", settings.db))?;
        let requeued = store.recover().await?;
        if requeued > 0 {
            tracing::info!(
                jobs = requeued,
                "queued again the jobs of a process that stopped while running them"
            );
        }
        if settings.allowlist.is_empty() {
            tracing::warn!(
                "the repository allow-list is empty: every delivery naming a repository is refused (403); set THULE_REPO_ALLOWLIST"
            );
        }
        if settings.providers.is_empty() {
            tracing::warn!(
                "no forge is configured: every delivery is refused (401); set e.g. THULE_GITLAB_URL and THULE_GITLAB_WEBHOOK_SECRET"
            );
        }
        for (forge, p) in &settings.providers {
            if p.webhook.secret.is_none() && p.webhook.signing_key.is_none() {
                tracing::warn!(
                    forge = forge.name(),
                    "no webhook secret: this forge's deliveries are refused (401)"
                );
            }
        }
        let metrics = Arc::new(Metrics::default());
        let workers = Workers::start(
            store.clone(),
            runner,
            WorkerConfig {
                workers: settings.workers,
                lease: settings.lease,
                run_deadline: settings.run_deadline,
                max_attempts: settings.max_attempts,
                poll_interval: settings.poll_interval,
                stop_wait: STOP_WAIT.min(settings.shutdown_grace.max(Duration::from_secs(1))),
                run_retention: settings.run_retention,
                delivery_retention: settings.delivery_retention,
            },
            metrics.clone(),
        );
        let listener = tokio::net::TcpListener::bind(&settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let addr = listener.local_addr()?;
        let grace = settings.shutdown_grace;
        tracing::info!(
            address = %addr,
            db = %settings.db,
            workers = settings.workers,
            forges = ?settings.providers.keys().map(|f| f.name()).collect::<Vec<_>>(),
            "thule serve listening on {addr}"
        );
        let state = AppState::new(settings, store.clone(), metrics.clone(), workers.handle());
        let app = http::router(state.clone());
        let stop_http = CancelToken::new();
        let stop = stop_http.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        });
        Ok(Self {
            addr,
            state,
            store,
            metrics,
            workers,
            stop_http,
            server,
            grace,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The queue.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Shut down gracefully: answer 503 to new deliveries, let running jobs finish within the
    /// grace period (then cancel them and release their jobs to the queue), stop the HTTP
    /// server and close the database.
    ///
    /// # Errors
    /// When the HTTP server had failed.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        tracing::info!(
            grace_seconds = self.grace.as_secs(),
            "shutting down: refusing new deliveries, letting running jobs finish"
        );
        self.state.drain();
        self.workers.shutdown(self.grace).await;
        self.stop_http.cancel();
        let result = match tokio::time::timeout(Duration::from_secs(5), self.server).await {
            Ok(Ok(r)) => r.context("the HTTP server failed"),
            Ok(Err(e)) => Err(anyhow::anyhow!("the HTTP server task failed: {e}")),
            Err(_) => Ok(()),
        };
        self.store.close().await;
        tracing::info!("stopped");
        result
    }

    /// Serve until `signal` completes (or the server fails), then shut down gracefully.
    ///
    /// # Errors
    /// When the HTTP server failed.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
        tokio::select! {
            () = signal => self.shutdown().await,
            ended = &mut self.server => {
                self.workers.abort();
                match ended {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(anyhow::Error::from(e).context("the HTTP server failed")),
                    Err(e) => Err(anyhow::anyhow!("the HTTP server task failed: {e}")),
                }
            }
        }
    }

    /// Stop everything at once, recording nothing and releasing no lease: what a killed
    /// process leaves behind (for crash tests). Running jobs are claimed again once their
    /// leases expire.
    pub fn abort(self) {
        self.server.abort();
        self.workers.abort();
    }
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
