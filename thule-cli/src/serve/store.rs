//! The durable queue: deliveries, jobs, runs and last-seen heads in SQLite (through sqlx).
//!
//! - A delivery is acknowledged only after [`Store::accept`]'s transaction committed.
//! - Deliveries are deduped by `(provider, delivery id)`; jobs by their semantic key
//!   `(provider, repo, MR, head SHA, trigger)` (comment commands: the comment's id). A
//!   superseded or cancelled job frees its key, so a head that comes back plans again.
//! - Per merge request only the newest head plans: queuing a plan job supersedes the
//!   merge request's older plan jobs with another head, queued or running.
//! - Workers claim jobs with a lease ([`Store::claim`]), renew it while running
//!   ([`Store::renew`]), and finish ([`Store::finish`]) or release ([`Store::release`]) it.
//!   A job whose lease expired (its worker died) is claimable again; one started
//!   `max_attempts` times without finishing is given up as failed ([`Store::sweep`]).
//! - At most one job per merge request holds a live lease at a time.
//!
//! Every write transaction starts with a write, so SQLite takes the write lock up front and
//! waits (busy timeout) rather than failing on a lock upgrade.

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use thule_vcs::ProviderKind;

use crate::serve::job::{Job, JobCommand, JobDetails, JobKind, JobState, RunOutcome, RunResult};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Why the queue database cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A database error.
    #[error("queue database: {0}")]
    Db(#[from] sqlx::Error),
    /// Applying the migrations failed.
    #[error("queue database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database was written by a newer thule.
    #[error(
        "the queue database {db} has schema version {found}, newer than this thule knows ({known}): run the thule release that wrote it, or point --db at another file"
    )]
    SchemaTooNew {
        /// The database.
        db: String,
        /// Its newest applied migration.
        found: i64,
        /// The newest this binary has.
        known: i64,
    },
    /// A stored value this binary cannot read.
    #[error("queue database: unreadable {what}: {value}")]
    Corrupt {
        /// Which column.
        what: &'static str,
        /// The value.
        value: String,
    },
}

type Result<T> = std::result::Result<T, StoreError>;

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A delivery as received, authenticated and normalized.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewDelivery {
    /// The forge's name ([`ProviderKind::name`]).
    pub provider: String,
    /// Its delivery id, when the forge sent one.
    pub delivery_id: Option<String>,
    /// The event header.
    pub event: String,
    /// The repository, when the event names one.
    pub repo: Option<String>,
    /// The merge request, when the event names one.
    pub mr: Option<u64>,
    /// The head commit, when the event names one.
    pub head_sha: Option<String>,
}

/// A job to queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewJob {
    /// The forge.
    pub provider: ProviderKind,
    /// The repository.
    pub repo: String,
    /// The merge request.
    pub mr: u64,
    /// The head the event named.
    pub head_sha: Option<String>,
    /// Why (`opened`, `pushed`, …, `comment`).
    pub trigger: String,
    /// Plan or command.
    pub kind: JobKind,
    /// Who caused it.
    pub actor: Option<String>,
    /// The command, for command jobs.
    pub command: Option<JobCommand>,
    /// The event's other facts.
    pub details: JobDetails,
    /// The semantic dedupe key; `None` never dedupes.
    pub dedupe_key: Option<String>,
}

/// What to record for one delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intake {
    /// The delivery.
    pub delivery: NewDelivery,
    /// Remember the event's head as the merge request's last seen head.
    pub observe_head: bool,
    /// Bitbucket Cloud's `pullrequest:updated`: when the head did not move since the last
    /// delivery for the merge request, it is an edit and is ignored.
    pub ignore_if_head_unchanged: bool,
    /// The job to queue; `None` for an ignored event.
    pub job: Option<NewJob>,
    /// Why it is ignored, when there is no job.
    pub ignore_reason: String,
}

/// What [`Store::accept`] did with a delivery (committed when it returns).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// A job was queued.
    Queued {
        /// The new job.
        job: i64,
        /// Older jobs of the merge request superseded by it that were queued.
        superseded_queued: Vec<i64>,
        /// Older jobs of the merge request superseded by it that were running (their
        /// runners must be told to cancel).
        superseded_running: Vec<i64>,
    },
    /// The same delivery id was seen before: nothing done.
    DuplicateDelivery,
    /// Another delivery already queued the same (repository, MR, head, trigger).
    DuplicateJob {
        /// That delivery's job.
        job: i64,
    },
    /// Nothing to do; recorded so a redelivery is dropped too.
    Ignored {
        /// Why.
        reason: String,
    },
}

/// A job with its queue state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JobRecord {
    /// The job.
    #[serde(flatten)]
    pub job: Job,
    /// Its state.
    pub state: JobState,
    /// Why it is in that state (superseded by, failure), when said.
    pub message: Option<String>,
    /// The worker holding its lease.
    pub lease_owner: Option<String>,
}

/// One finished run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    /// The run's id.
    pub id: i64,
    /// Its job.
    pub job_id: i64,
    /// The forge.
    pub provider: String,
    /// The repository.
    pub repo: String,
    /// The merge request.
    pub mr: u64,
    /// The head planned (as the event named it).
    pub head_sha: Option<String>,
    /// Why it ran.
    pub trigger: String,
    /// Who caused it.
    pub actor: Option<String>,
    /// The projects planned.
    pub projects: Vec<String>,
    /// How it ended.
    pub result: RunResult,
    /// The runner's summary.
    pub message: Option<String>,
    /// Which start of the job this was.
    pub attempt: u32,
    /// Start (Unix milliseconds).
    pub started_at: i64,
    /// End (Unix milliseconds).
    pub finished_at: i64,
    /// How long it took.
    pub duration_ms: i64,
    /// A link to the comment posted.
    pub comment_url: Option<String>,
    /// The comments posted or updated.
    pub comment_ids: Vec<String>,
}

/// Which runs to list, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Only this repository.
    pub repo: Option<String>,
    /// Only this merge request.
    pub mr: Option<u64>,
    /// Only this result.
    pub result: Option<RunResult>,
    /// At most this many (default 50, at most 1000).
    pub limit: Option<u32>,
}

/// The queue at a glance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Jobs waiting.
    pub queued: u64,
    /// Jobs running.
    pub running: u64,
    /// When the oldest waiting job was queued (Unix milliseconds).
    pub oldest_queued_at: Option<i64>,
}

/// A job given up after too many starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GaveUp {
    /// The job.
    pub job: i64,
    /// How many times it was started.
    pub attempts: u32,
}

/// What a worker records when a run ends.
#[derive(Clone, Debug)]
pub struct Finish<'a> {
    /// The job run.
    pub job: &'a Job,
    /// The worker (lease owner).
    pub owner: &'a str,
    /// The runner's outcome.
    pub outcome: &'a RunOutcome,
    /// The state for the job, unless it was superseded or cancelled meanwhile.
    pub state: JobState,
    /// When the run started (Unix milliseconds).
    pub started_at: i64,
}

/// The queue database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    url: String,
}

const JOB_COLUMNS: &str = "id, provider, repo, mr, head_sha, trigger, kind, actor, command, details, \
     delivery_id, attempts, created_at, state, message, lease_owner";

impl Store {
    /// Open (creating it when missing) the SQLite database at `url`, apply this release's
    /// migrations, and refuse a database written by a newer release.
    ///
    /// # Errors
    /// A [`StoreError`]: unreadable file, newer schema, failed migration.
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a committed transaction survives power loss, so a 202 means stored.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        let store = Self {
            pool,
            url: url.to_owned(),
        };
        store.check_schema().await?;
        MIGRATOR.run(&store.pool).await?;
        Ok(store)
    }

    /// The database URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The newest schema version this binary knows.
    pub fn schema_version() -> i64 {
        MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
    }

    async fn check_schema(&self) -> Result<()> {
        let has_table: Option<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_optional(&self.pool)
        .await?;
        if has_table.is_none() {
            return Ok(());
        }
        let found: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
                .fetch_one(&self.pool)
                .await?;
        let known = Self::schema_version();
        match found {
            Some(found) if found > known => Err(StoreError::SchemaTooNew {
                db: self.url.clone(),
                found,
                known,
            }),
            _ => Ok(()),
        }
    }

    /// Whether the database answers.
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Close the connections (waits for those in use).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Record a delivery and queue its job, in one transaction: when this returns `Ok`, it
    /// is durably stored.
    ///
    /// # Errors
    /// On a database error (nothing is stored then).
    pub async fn accept(&self, intake: &Intake) -> Result<Accepted> {
        let now = now_ms();
        let d = &intake.delivery;
        let mut tx = self.pool.begin().await?;
        let delivery_row: Option<i64> = sqlx::query_scalar(
            "INSERT INTO deliveries (provider, delivery_id, event, result, repo, mr, head_sha, received_at)
             VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(&d.provider)
        .bind(&d.delivery_id)
        .bind(&d.event)
        .bind(&d.repo)
        .bind(d.mr.map(to_i64))
        .bind(&d.head_sha)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(delivery_row) = delivery_row else {
            tx.rollback().await?;
            return Ok(Accepted::DuplicateDelivery);
        };

        let mut job = intake.job.clone();
        let mut reason = intake.ignore_reason.clone();
        if intake.observe_head
            && let (Some(repo), Some(mr), Some(head)) = (&d.repo, d.mr, &d.head_sha)
        {
            let previous: Option<String> = sqlx::query_scalar(
                "SELECT head_sha FROM mr_heads WHERE provider = ? AND repo = ? AND mr = ?",
            )
            .bind(&d.provider)
            .bind(repo)
            .bind(to_i64(mr))
            .fetch_optional(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO mr_heads (provider, repo, mr, head_sha, seen_at) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (provider, repo, mr) DO UPDATE SET head_sha = excluded.head_sha, seen_at = excluded.seen_at",
            )
            .bind(&d.provider)
            .bind(repo)
            .bind(to_i64(mr))
            .bind(head)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if intake.ignore_if_head_unchanged && previous.as_deref() == Some(head.as_str()) {
                job = None;
                reason = "an update without new commits (the head did not move: a title or description edit)".to_owned();
            }
        }

        let Some(job) = job else {
            set_delivery(&mut tx, delivery_row, "ignored", Some(&reason), None).await?;
            tx.commit().await?;
            return Ok(Accepted::Ignored { reason });
        };

        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO jobs (provider, repo, mr, head_sha, trigger, kind, actor, command, details,
                               dedupe_key, delivery_id, state, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(job.provider.name())
        .bind(&job.repo)
        .bind(to_i64(job.mr))
        .bind(&job.head_sha)
        .bind(&job.trigger)
        .bind(job.kind.as_str())
        .bind(&job.actor)
        .bind(job.command.as_ref().map(json))
        .bind(json(&job.details))
        .bind(&job.dedupe_key)
        .bind(&d.delivery_id)
        .bind(now)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(job_id) = inserted else {
            let existing: i64 = sqlx::query_scalar("SELECT id FROM jobs WHERE dedupe_key = ?")
                .bind(&job.dedupe_key)
                .fetch_one(&mut *tx)
                .await?;
            set_delivery(&mut tx, delivery_row, "duplicate", None, Some(existing)).await?;
            tx.commit().await?;
            return Ok(Accepted::DuplicateJob { job: existing });
        };

        let mut superseded_queued = Vec::new();
        let mut superseded_running = Vec::new();
        if job.kind == JobKind::Plan
            && let Some(head) = &job.head_sha
        {
            let older = sqlx::query(
                "SELECT id, state FROM jobs
                 WHERE provider = ? AND repo = ? AND mr = ? AND id < ? AND kind = 'plan'
                   AND state IN ('queued', 'running')
                   AND head_sha IS NOT NULL AND head_sha != ?",
            )
            .bind(job.provider.name())
            .bind(&job.repo)
            .bind(to_i64(job.mr))
            .bind(job_id)
            .bind(head)
            .fetch_all(&mut *tx)
            .await?;
            let message = format!("superseded by {} (job {job_id})", short(head));
            for row in older {
                let id: i64 = row.try_get("id")?;
                let state: String = row.try_get("state")?;
                // A running job keeps its lease until its runner returns, so the merge
                // request's next job waits for it.
                // Its dedupe key is freed: the same head may come back (a revert pushed)
                // and must then plan again.
                sqlx::query(
                    "UPDATE jobs SET state = 'superseded', message = ?, updated_at = ?, dedupe_key = NULL,
                            finished_at = CASE WHEN state = 'queued' THEN ? ELSE finished_at END
                     WHERE id = ?",
                )
                .bind(&message)
                .bind(now)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if state == "running" {
                    superseded_running.push(id);
                } else {
                    superseded_queued.push(id);
                }
            }
        }
        set_delivery(&mut tx, delivery_row, "queued", None, Some(job_id)).await?;
        tx.commit().await?;
        Ok(Accepted::Queued {
            job: job_id,
            superseded_queued,
            superseded_running,
        })
    }

    /// Make jobs of a dead process claimable at once: running jobs whose lease expired go
    /// back to the queue, and expired leases on superseded or cancelled jobs are cleared.
    /// Returns how many jobs were queued again.
    ///
    /// # Errors
    /// On a database error.
    pub async fn recover(&self) -> Result<u64> {
        let now = now_ms();
        let requeued = sqlx::query(
            "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
             WHERE state = 'running' AND lease_expires_at < ?",
        )
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
             WHERE state NOT IN ('queued', 'running') AND lease_owner IS NOT NULL AND lease_expires_at < ?",
        )
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(requeued)
    }

    /// Give up jobs started `max_attempts` times that are not running under a live lease: they
    /// become failed, with a failed run in the history.
    ///
    /// # Errors
    /// On a database error.
    pub async fn sweep(&self, max_attempts: u32) -> Result<Vec<GaveUp>> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(&format!(
            "UPDATE jobs SET state = 'failed', lease_owner = NULL, lease_expires_at = NULL,
                    message = 'given up after ' || attempts || ' starts that did not finish (the worker stopped each time)',
                    finished_at = ?1, updated_at = ?1
             WHERE attempts >= ?2 AND (state = 'queued' OR (state = 'running' AND lease_expires_at < ?1))
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(now)
        .bind(i64::from(max_attempts))
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::new();
        for row in rows {
            let record = job_record(&row)?;
            let outcome = RunOutcome::new(
                RunResult::Failed,
                record.message.clone().unwrap_or_default(),
            );
            insert_run(&mut tx, &record.job, &outcome, now, now).await?;
            out.push(GaveUp {
                job: record.job.id,
                attempts: record.job.attempts,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Claim the oldest claimable job for `owner` with a lease of `lease`: a queued job, or a
    /// running one whose lease expired, started fewer than `max_attempts` times, whose merge
    /// request has no other job under a live lease.
    ///
    /// # Errors
    /// On a database error.
    pub async fn claim(
        &self,
        owner: &str,
        lease: Duration,
        max_attempts: u32,
    ) -> Result<Option<Job>> {
        let now = now_ms();
        let row = sqlx::query(&format!(
            "UPDATE jobs SET state = 'running', lease_owner = ?1, lease_expires_at = ?2,
                    attempts = attempts + 1, started_at = ?3, updated_at = ?3
             WHERE id = (
                 SELECT j.id FROM jobs j
                 WHERE (j.state = 'queued' OR (j.state = 'running' AND j.lease_expires_at < ?3))
                   AND j.attempts < ?4
                   AND NOT EXISTS (
                       SELECT 1 FROM jobs o
                       WHERE o.provider = j.provider AND o.repo = j.repo AND o.mr = j.mr
                         AND o.id != j.id AND o.lease_owner IS NOT NULL AND o.lease_expires_at >= ?3)
                 ORDER BY j.id LIMIT 1)
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(owner)
        .bind(now + ms(lease))
        .bind(now)
        .bind(i64::from(max_attempts))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| job_record(&r).map(|j| j.job)).transpose()
    }

    /// Extend `owner`'s lease on `job` to `lease` from now. Returns the job's state, or `None`
    /// when `owner` no longer holds the lease (it expired and another worker took the job).
    ///
    /// # Errors
    /// On a database error.
    pub async fn renew(&self, job: i64, owner: &str, lease: Duration) -> Result<Option<JobState>> {
        let now = now_ms();
        let state: Option<String> = sqlx::query_scalar(
            "UPDATE jobs SET lease_expires_at = ?, updated_at = ? WHERE id = ? AND lease_owner = ?
             RETURNING state",
        )
        .bind(now + ms(lease))
        .bind(now)
        .bind(job)
        .bind(owner)
        .fetch_optional(&self.pool)
        .await?;
        state.map(|s| parse_state(&s)).transpose()
    }

    /// Record the end of a run: the job's state (unless it was superseded or cancelled
    /// meanwhile) and a run in the history, in one transaction. Returns the job's final state,
    /// or `None` when the worker had lost its lease (another worker owns the job now, and
    /// nothing is recorded: that worker will).
    ///
    /// # Errors
    /// On a database error.
    pub async fn finish(&self, f: &Finish<'_>) -> Result<Option<JobState>> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let state: Option<String> = sqlx::query_scalar(
            "UPDATE jobs SET state = CASE WHEN state = 'running' THEN ?1 ELSE state END,
                    message = CASE WHEN state = 'running' THEN ?2 ELSE message END,
                    lease_owner = NULL, lease_expires_at = NULL, finished_at = ?3, updated_at = ?3
             WHERE id = ?4 AND lease_owner = ?5
             RETURNING state",
        )
        .bind(f.state.as_str())
        .bind(&f.outcome.message)
        .bind(now)
        .bind(f.job.id)
        .bind(f.owner)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(state) = state else {
            tx.rollback().await?;
            return Ok(None);
        };
        insert_run(&mut tx, f.job, f.outcome, f.started_at, now).await?;
        tx.commit().await?;
        parse_state(&state).map(Some)
    }

    /// Give `job` back to the queue (shutdown: the run was stopped before it finished); the
    /// start does not count as an attempt. A superseded or cancelled job only loses its lease.
    ///
    /// # Errors
    /// On a database error.
    pub async fn release(&self, job: i64, owner: &str) -> Result<bool> {
        let now = now_ms();
        let released = sqlx::query(
            "UPDATE jobs SET state = CASE WHEN state = 'running' THEN 'queued' ELSE state END,
                    attempts = CASE WHEN state = 'running' AND attempts > 0 THEN attempts - 1 ELSE attempts END,
                    lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
             WHERE id = ? AND lease_owner = ?",
        )
        .bind(now)
        .bind(job)
        .bind(owner)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(released > 0)
    }

    /// Cancel a queued or running job (an operator's action): a running one's worker sees it
    /// at its next lease renewal.
    ///
    /// # Errors
    /// On a database error.
    pub async fn cancel(&self, job: i64, message: &str) -> Result<bool> {
        let now = now_ms();
        let n = sqlx::query(
            "UPDATE jobs SET state = 'cancelled', message = ?, updated_at = ?, dedupe_key = NULL
             WHERE id = ? AND state IN ('queued', 'running')",
        )
        .bind(message)
        .bind(now)
        .bind(job)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// The queue at a glance.
    ///
    /// # Errors
    /// On a database error.
    pub async fn stats(&self) -> Result<QueueStats> {
        let row = sqlx::query(
            "SELECT
                 COALESCE(SUM(state = 'queued'), 0) AS queued,
                 COALESCE(SUM(state = 'running'), 0) AS running,
                 MIN(CASE WHEN state = 'queued' THEN created_at END) AS oldest
             FROM jobs WHERE state IN ('queued', 'running')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(QueueStats {
            queued: u64::try_from(row.try_get::<i64, _>("queued")?).unwrap_or(0),
            running: u64::try_from(row.try_get::<i64, _>("running")?).unwrap_or(0),
            oldest_queued_at: row.try_get("oldest")?,
        })
    }

    /// Jobs, newest first (at most `limit`).
    ///
    /// # Errors
    /// On a database error.
    pub async fn jobs(&self, limit: u32) -> Result<Vec<JobRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs ORDER BY id DESC LIMIT ?"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_record).collect()
    }

    /// One job.
    ///
    /// # Errors
    /// On a database error.
    pub async fn job(&self, id: i64) -> Result<Option<JobRecord>> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_record).transpose()
    }

    /// How many deliveries are remembered.
    ///
    /// # Errors
    /// On a database error.
    pub async fn delivery_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Finished runs, newest first.
    ///
    /// # Errors
    /// On a database error.
    pub async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        let limit = filter.limit.unwrap_or(50).clamp(1, 1000);
        let rows = sqlx::query(
            "SELECT id, job_id, provider, repo, mr, head_sha, trigger, actor, projects, result,
                    message, attempt, started_at, finished_at, duration_ms, comment_url, comment_ids
             FROM runs
             WHERE (?1 IS NULL OR repo = ?1) AND (?2 IS NULL OR mr = ?2) AND (?3 IS NULL OR result = ?3)
             ORDER BY finished_at DESC, id DESC LIMIT ?4",
        )
        .bind(&filter.repo)
        .bind(filter.mr.map(to_i64))
        .bind(filter.result.map(RunResult::as_str))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_record).collect()
    }

    /// Delete history past retention: runs and finished jobs older than `runs`, deliveries
    /// and last-seen heads older than `deliveries`. Returns how many rows went.
    ///
    /// # Errors
    /// On a database error.
    pub async fn prune(&self, runs: Duration, deliveries: Duration) -> Result<u64> {
        let now = now_ms();
        let run_cutoff = now - ms(runs);
        let delivery_cutoff = now - ms(deliveries);
        let mut tx = self.pool.begin().await?;
        let mut n = 0;
        n += sqlx::query("DELETE FROM runs WHERE finished_at < ?")
            .bind(run_cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        n += sqlx::query(
            "DELETE FROM jobs WHERE state IN ('done', 'failed', 'superseded', 'cancelled')
               AND lease_owner IS NULL AND updated_at < ?",
        )
        .bind(run_cutoff)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        n += sqlx::query("DELETE FROM deliveries WHERE received_at < ?")
            .bind(delivery_cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        n += sqlx::query("DELETE FROM mr_heads WHERE seen_at < ?")
            .bind(run_cutoff.min(delivery_cutoff))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The first 12 characters of a commit, for messages.
pub fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

fn parse_state(s: &str) -> Result<JobState> {
    JobState::parse(s).ok_or_else(|| StoreError::Corrupt {
        what: "job state",
        value: s.to_owned(),
    })
}

async fn set_delivery(
    tx: &mut Transaction<'_, Sqlite>,
    row: i64,
    result: &str,
    reason: Option<&str>,
    job: Option<i64>,
) -> Result<()> {
    sqlx::query("UPDATE deliveries SET result = ?, reason = ?, job_id = ? WHERE id = ?")
        .bind(result)
        .bind(reason)
        .bind(job)
        .bind(row)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_run(
    tx: &mut Transaction<'_, Sqlite>,
    job: &Job,
    outcome: &RunOutcome,
    started_at: i64,
    finished_at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO runs (job_id, provider, repo, mr, head_sha, trigger, actor, projects, result,
                           message, attempt, started_at, finished_at, duration_ms, comment_url, comment_ids)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(job.id)
    .bind(job.provider.name())
    .bind(&job.repo)
    .bind(to_i64(job.mr))
    .bind(&job.head_sha)
    .bind(&job.trigger)
    .bind(&job.actor)
    .bind(json(&outcome.projects))
    .bind(outcome.result.as_str())
    .bind(&outcome.message)
    .bind(i64::from(job.attempts))
    .bind(started_at)
    .bind(finished_at)
    .bind((finished_at - started_at).max(0))
    .bind(&outcome.comment_url)
    .bind(json(&outcome.comment_ids))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn job_record(row: &SqliteRow) -> Result<JobRecord> {
    let provider: String = row.try_get("provider")?;
    let provider = ProviderKind::parse(&provider).ok_or(StoreError::Corrupt {
        what: "provider",
        value: provider,
    })?;
    let command: Option<String> = row.try_get("command")?;
    let command = command
        .map(|c| {
            serde_json::from_str::<JobCommand>(&c).map_err(|_| StoreError::Corrupt {
                what: "command",
                value: c,
            })
        })
        .transpose()?;
    let details: String = row.try_get("details")?;
    let details =
        serde_json::from_str::<JobDetails>(&details).map_err(|_| StoreError::Corrupt {
            what: "details",
            value: details,
        })?;
    let kind: String = row.try_get("kind")?;
    let state: String = row.try_get("state")?;
    Ok(JobRecord {
        job: Job {
            id: row.try_get("id")?,
            provider,
            repo: row.try_get("repo")?,
            mr: u64::try_from(row.try_get::<i64, _>("mr")?).unwrap_or(0),
            head_sha: row.try_get("head_sha")?,
            trigger: row.try_get("trigger")?,
            actor: row.try_get("actor")?,
            kind: JobKind::parse(&kind),
            command,
            details,
            delivery_id: row.try_get("delivery_id")?,
            attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(0),
            created_at: row.try_get("created_at")?,
        },
        state: parse_state(&state)?,
        message: row.try_get("message")?,
        lease_owner: row.try_get("lease_owner")?,
    })
}

fn run_record(row: &SqliteRow) -> Result<RunRecord> {
    let list = |col: &str| -> Result<Vec<String>> {
        let text: String = row.try_get(col)?;
        Ok(serde_json::from_str(&text).unwrap_or_default())
    };
    let result: String = row.try_get("result")?;
    Ok(RunRecord {
        id: row.try_get("id")?,
        job_id: row.try_get("job_id")?,
        provider: row.try_get("provider")?,
        repo: row.try_get("repo")?,
        mr: u64::try_from(row.try_get::<i64, _>("mr")?).unwrap_or(0),
        head_sha: row.try_get("head_sha")?,
        trigger: row.try_get("trigger")?,
        actor: row.try_get("actor")?,
        projects: list("projects")?,
        result: RunResult::parse(&result).ok_or(StoreError::Corrupt {
            what: "run result",
            value: result.clone(),
        })?,
        message: row.try_get("message")?,
        attempt: u32::try_from(row.try_get::<i64, _>("attempt")?).unwrap_or(0),
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        duration_ms: row.try_get("duration_ms")?,
        comment_url: row.try_get("comment_url")?,
        comment_ids: list("comment_ids")?,
    })
}
