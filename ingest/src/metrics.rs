//! [`Metrics`]: ingest counters shared by the relay, file and HTTP ingest,
//! rendered as Prometheus text by [`Metrics::render_prometheus`] (plain
//! atomics, no global registry: the API crate appends this text to its own
//! `/metrics` answer).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Counters and gauges of the ingest pipeline.
#[derive(Debug, Default)]
pub struct Metrics {
    accepted: AtomicU64,
    duplicates: AtomicU64,
    rejected: AtomicU64,
    commits: AtomicU64,
    commit_conflicts: AtomicU64,
    commit_micros_total: AtomicU64,
    commit_micros_max: AtomicU64,
    outbox_txn_version: AtomicI64,
    outbox_max_seq: AtomicI64,
}

/// A point-in-time copy of [`Metrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MetricsSnapshot {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub commits: u64,
    pub commit_conflicts: u64,
    pub commit_micros_total: u64,
    pub commit_micros_max: u64,
    pub outbox_txn_version: i64,
    pub outbox_max_seq: i64,
    /// `outbox_max_seq - outbox_txn_version`: outbox rows not yet in the lake.
    pub outbox_lag: i64,
}

impl Metrics {
    pub(crate) fn add_outcomes(&self, accepted: u64, duplicates: u64, rejected: u64) {
        self.accepted.fetch_add(accepted, Ordering::Relaxed);
        self.duplicates.fetch_add(duplicates, Ordering::Relaxed);
        self.rejected.fetch_add(rejected, Ordering::Relaxed);
    }

    pub(crate) fn commit(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.commit_micros_total.fetch_add(micros, Ordering::Relaxed);
        self.commit_micros_max.fetch_max(micros, Ordering::Relaxed);
    }

    pub(crate) fn conflict(&self) {
        self.commit_conflicts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn outbox(&self, txn_version: i64, max_seq: i64) {
        self.outbox_txn_version.store(txn_version, Ordering::Relaxed);
        self.outbox_max_seq.store(max_seq, Ordering::Relaxed);
    }

    /// Copy the current values.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let v = self.outbox_txn_version.load(Ordering::Relaxed);
        let m = self.outbox_max_seq.load(Ordering::Relaxed);
        MetricsSnapshot {
            accepted: self.accepted.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            commit_conflicts: self.commit_conflicts.load(Ordering::Relaxed),
            commit_micros_total: self.commit_micros_total.load(Ordering::Relaxed),
            commit_micros_max: self.commit_micros_max.load(Ordering::Relaxed),
            outbox_txn_version: v,
            outbox_max_seq: m,
            outbox_lag: (m - v).max(0),
        }
    }

    /// Prometheus text exposition (version 0.0.4) of all ingest metrics.
    pub fn render_prometheus(&self) -> String {
        let s = self.snapshot();
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        metric(
            "fieldhouse_ingest_events_accepted_total",
            "counter",
            "Events committed to the lake.",
            s.accepted.to_string(),
        );
        metric(
            "fieldhouse_ingest_events_duplicate_total",
            "counter",
            "Events dropped because their event_id is already in the lake.",
            s.duplicates.to_string(),
        );
        metric(
            "fieldhouse_ingest_events_rejected_total",
            "counter",
            "Records written to rejected_events.",
            s.rejected.to_string(),
        );
        metric(
            "fieldhouse_ingest_commits_total",
            "counter",
            "Delta commits to the events table.",
            s.commits.to_string(),
        );
        metric(
            "fieldhouse_ingest_commit_conflicts_total",
            "counter",
            "Commits lost to a concurrent writer of the same outbox range.",
            s.commit_conflicts.to_string(),
        );
        metric(
            "fieldhouse_ingest_commit_seconds_sum",
            "counter",
            "Total time spent in Delta commits (write + fsync + log entry).",
            format!("{:.6}", s.commit_micros_total as f64 / 1e6),
        );
        metric(
            "fieldhouse_ingest_commit_seconds_max",
            "gauge",
            "Longest Delta commit since start.",
            format!("{:.6}", s.commit_micros_max as f64 / 1e6),
        );
        metric(
            "fieldhouse_ingest_outbox_lag",
            "gauge",
            "Outbox rows not yet committed to the lake.",
            s.outbox_lag.to_string(),
        );
        metric(
            "fieldhouse_ingest_outbox_txn_version",
            "gauge",
            "Last outbox seq committed to the lake (Delta txn version).",
            s.outbox_txn_version.to_string(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_lag() {
        let m = Metrics::default();
        m.add_outcomes(5, 2, 1);
        m.commit(Duration::from_millis(1500));
        m.outbox(10, 14);
        let text = m.render_prometheus();
        assert!(text.contains("fieldhouse_ingest_events_accepted_total 5\n"), "{text}");
        assert!(text.contains("fieldhouse_ingest_events_duplicate_total 2\n"), "{text}");
        assert!(text.contains("fieldhouse_ingest_events_rejected_total 1\n"), "{text}");
        assert!(text.contains("fieldhouse_ingest_commit_seconds_sum 1.500000\n"), "{text}");
        assert!(text.contains("fieldhouse_ingest_outbox_lag 4\n"), "{text}");
        assert_eq!(m.snapshot().commits, 1);
    }
}
