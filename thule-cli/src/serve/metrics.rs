//! Prometheus metrics, written by hand in the text exposition format.
//!
//! Counters live in memory (they restart at zero with the process, as Prometheus expects);
//! the queue's depth and oldest age are read from the database at each scrape. Labels are
//! the forge's name and fixed result words: never a repository, a header or a secret.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::serve::job::RunResult;
use crate::serve::store::QueueStats;

/// Upper bounds of the run-duration histogram, in seconds.
const BUCKETS: [f64; 11] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
];

/// What a delivery came to, for `thule_deliveries_total{result=…}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeliveryResult {
    /// A job was queued (202).
    Queued,
    /// The delivery id was seen before (200).
    DuplicateDelivery,
    /// Another delivery queued the same job (200).
    DuplicateJob,
    /// Nothing to do (200).
    Ignored,
    /// Not authenticated (401).
    Unauthorized,
    /// Unreadable (400).
    Malformed,
    /// The repository is not on the allow-list (403).
    Forbidden,
    /// The body is over the limit (413).
    TooLarge,
    /// Shutting down (503).
    Unavailable,
    /// The database failed (500).
    Error,
}

impl DeliveryResult {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryResult::Queued => "queued",
            DeliveryResult::DuplicateDelivery => "duplicate_delivery",
            DeliveryResult::DuplicateJob => "duplicate_job",
            DeliveryResult::Ignored => "ignored",
            DeliveryResult::Unauthorized => "unauthorized",
            DeliveryResult::Malformed => "malformed",
            DeliveryResult::Forbidden => "forbidden",
            DeliveryResult::TooLarge => "too_large",
            DeliveryResult::Unavailable => "unavailable",
            DeliveryResult::Error => "error",
        }
    }
}

#[derive(Debug, Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Counters {
    deliveries: BTreeMap<(&'static str, DeliveryResult), u64>,
    runs: BTreeMap<&'static str, u64>,
    durations: BTreeMap<&'static str, Histogram>,
    superseded: u64,
    gave_up: u64,
}

/// The service's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Counters) -> R) -> R {
        f(&mut self.counters.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Count a delivery from `provider` (`unknown` when it could not be told).
    pub fn delivery(&self, provider: &'static str, result: DeliveryResult) {
        self.with(|c| *c.deliveries.entry((provider, result)).or_default() += 1);
    }

    /// How many deliveries from `provider` came to `result`.
    pub fn deliveries(&self, provider: &'static str, result: DeliveryResult) -> u64 {
        self.with(|c| c.deliveries.get(&(provider, result)).copied().unwrap_or(0))
    }

    /// Count a finished run.
    pub fn run(&self, result: RunResult, took: Duration) {
        self.with(|c| {
            *c.runs.entry(result.as_str()).or_default() += 1;
            let h = c.durations.entry(result.as_str()).or_default();
            let secs = took.as_secs_f64();
            for (i, bound) in BUCKETS.iter().enumerate() {
                if secs <= *bound {
                    h.buckets[i] += 1;
                }
            }
            h.count += 1;
            h.sum += secs;
        });
    }

    /// Count jobs superseded by newer heads.
    pub fn superseded(&self, n: usize) {
        self.with(|c| c.superseded += n as u64);
    }

    /// Count jobs given up after too many starts.
    pub fn gave_up(&self, n: usize) {
        self.with(|c| c.gave_up += n as u64);
    }

    /// The exposition text, with the queue as read now (`None`: the database did not answer)
    /// and the number of live workers.
    pub fn render(&self, queue: Option<(QueueStats, i64)>, workers: usize) -> String {
        let mut out = String::new();
        let c = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = writeln!(
            out,
            "# HELP thule_deliveries_total Webhook deliveries by forge and what came of them.\n# TYPE thule_deliveries_total counter"
        );
        for ((provider, result), n) in &c.deliveries {
            let _ = writeln!(
                out,
                "thule_deliveries_total{{provider=\"{provider}\",result=\"{}\"}} {n}",
                result.as_str()
            );
        }
        let _ = writeln!(
            out,
            "# HELP thule_runs_total Finished runs by result.\n# TYPE thule_runs_total counter"
        );
        for r in RunResult::ALL {
            let n = c.runs.get(r.as_str()).copied().unwrap_or(0);
            let _ = writeln!(out, "thule_runs_total{{result=\"{}\"}} {n}", r.as_str());
        }
        let _ = writeln!(
            out,
            "# HELP thule_run_duration_seconds How long runs took, by result.\n# TYPE thule_run_duration_seconds histogram"
        );
        for (result, h) in &c.durations {
            for (bound, n) in BUCKETS.iter().zip(h.buckets) {
                let _ = writeln!(
                    out,
                    "thule_run_duration_seconds_bucket{{result=\"{result}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "thule_run_duration_seconds_bucket{{result=\"{result}\",le=\"+Inf\"}} {}\nthule_run_duration_seconds_sum{{result=\"{result}\"}} {}\nthule_run_duration_seconds_count{{result=\"{result}\"}} {}",
                h.count, h.sum, h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP thule_jobs_superseded_total Jobs superseded by a newer head of their merge request.\n# TYPE thule_jobs_superseded_total counter\nthule_jobs_superseded_total {}",
            c.superseded
        );
        let _ = writeln!(
            out,
            "# HELP thule_jobs_given_up_total Jobs failed after too many starts that did not finish.\n# TYPE thule_jobs_given_up_total counter\nthule_jobs_given_up_total {}",
            c.gave_up
        );
        drop(c);
        let _ = writeln!(
            out,
            "# HELP thule_workers Workers running.\n# TYPE thule_workers gauge\nthule_workers {workers}"
        );
        let up = u8::from(queue.is_some());
        let _ = writeln!(
            out,
            "# HELP thule_database_up Whether the queue database answered this scrape.\n# TYPE thule_database_up gauge\nthule_database_up {up}"
        );
        if let Some((q, now)) = queue {
            let age = q
                .oldest_queued_at
                .map_or(0.0, |t| ((now - t).max(0) as f64) / 1000.0);
            let _ = writeln!(
                out,
                "# HELP thule_queue_depth Jobs waiting for a worker.\n# TYPE thule_queue_depth gauge\nthule_queue_depth {}\n# HELP thule_jobs_running Jobs running.\n# TYPE thule_jobs_running gauge\nthule_jobs_running {}\n# HELP thule_queue_oldest_age_seconds Age of the oldest waiting job (0 when none).\n# TYPE thule_queue_oldest_age_seconds gauge\nthule_queue_oldest_age_seconds {age}",
                q.queued, q.running
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_the_queue() {
        let m = Metrics::default();
        m.delivery("github", DeliveryResult::Queued);
        m.delivery("github", DeliveryResult::Queued);
        m.delivery("unknown", DeliveryResult::Unauthorized);
        m.run(RunResult::Done, Duration::from_secs(3));
        let text = m.render(
            Some((
                QueueStats {
                    queued: 2,
                    running: 1,
                    oldest_queued_at: Some(1_000),
                },
                6_500,
            )),
            2,
        );
        assert!(text.contains("thule_deliveries_total{provider=\"github\",result=\"queued\"} 2"));
        assert!(
            text.contains("thule_deliveries_total{provider=\"unknown\",result=\"unauthorized\"} 1")
        );
        assert!(text.contains("thule_runs_total{result=\"done\"} 1"));
        assert!(text.contains("thule_run_duration_seconds_bucket{result=\"done\",le=\"1\"} 0"));
        assert!(text.contains("thule_run_duration_seconds_bucket{result=\"done\",le=\"5\"} 1"));
        assert!(text.contains("thule_run_duration_seconds_count{result=\"done\"} 1"));
        assert!(text.contains("thule_queue_depth 2"));
        assert!(text.contains("thule_queue_oldest_age_seconds 5.5"));
        assert!(text.contains("thule_workers 2"));
    }
}
