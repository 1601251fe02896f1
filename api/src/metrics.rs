//! [`ApiMetrics`]: requests by route, method and status, request latency
//! and query time histograms, authentication failures, rendered as
//! Prometheus text (with the KPI cache's figures and whatever extra text the
//! application adds, e.g. the ingest counters).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, seconds.
const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in BUCKETS.iter().enumerate() {
            let n = self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// (route, method, status) → count.
    requests: BTreeMap<(String, String, u16), u64>,
    /// route → latency.
    latency: BTreeMap<String, Histogram>,
    /// (kind, outcome) → query time.
    queries: BTreeMap<(String, String), Histogram>,
}

/// The API's own metrics; share one per process.
#[derive(Debug, Default)]
pub struct ApiMetrics {
    inner: Mutex<Inner>,
    auth_failures: AtomicU64,
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl ApiMetrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One answered request on `route` (the matched pattern, or `unmatched`).
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let mut inner = self.lock();
        *inner.requests.entry((route.to_string(), method.to_string(), status)).or_default() += 1;
        inner.latency.entry(route.to_string()).or_default().observe(took.as_secs_f64());
    }

    /// One query of `kind` (`kpi`, `kpi_cached`, `sql`) with `outcome` (`ok`, `error`).
    pub fn query(&self, kind: &str, outcome: &str, took: Duration) {
        self.lock().queries.entry((kind.to_string(), outcome.to_string())).or_default().observe(took.as_secs_f64());
    }

    /// A request without a valid token.
    pub fn auth_failure(&self) {
        self.auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// How many requests were answered on `route` with `status` (tests).
    pub fn count(&self, route: &str, status: u16) -> u64 {
        self.lock().requests.iter().filter(|((r, _, s), _)| r == route && *s == status).map(|(_, n)| n).sum()
    }

    /// Prometheus text exposition format.
    pub fn render(&self, cache: Option<fieldhouse_engine::cache::CacheStats>) -> String {
        let inner = self.lock();
        let mut out = String::new();
        out.push_str("# HELP fieldhouse_http_requests_total HTTP requests answered, by route, method and status.\n");
        out.push_str("# TYPE fieldhouse_http_requests_total counter\n");
        for ((route, method, status), n) in &inner.requests {
            let _ = writeln!(
                out,
                "fieldhouse_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP fieldhouse_http_request_duration_seconds Time to the response head, by route.\n");
        out.push_str("# TYPE fieldhouse_http_request_duration_seconds histogram\n");
        for (route, h) in &inner.latency {
            h.render(&mut out, "fieldhouse_http_request_duration_seconds", &format!("route=\"{}\"", escape(route)));
        }
        out.push_str("# HELP fieldhouse_query_duration_seconds KPI and SQL query time (to the first batch), by kind and outcome.\n");
        out.push_str("# TYPE fieldhouse_query_duration_seconds histogram\n");
        for ((kind, outcome), h) in &inner.queries {
            h.render(&mut out, "fieldhouse_query_duration_seconds", &format!("kind=\"{kind}\",outcome=\"{outcome}\""));
        }
        out.push_str("# HELP fieldhouse_auth_failures_total Requests without a valid bearer token.\n");
        out.push_str("# TYPE fieldhouse_auth_failures_total counter\n");
        let _ = writeln!(out, "fieldhouse_auth_failures_total {}", self.auth_failures.load(Ordering::Relaxed));
        if let Some(c) = cache {
            out.push_str("# HELP fieldhouse_kpi_cache_hits_total KPI answers served from the cache.\n");
            out.push_str("# TYPE fieldhouse_kpi_cache_hits_total counter\n");
            let _ = writeln!(out, "fieldhouse_kpi_cache_hits_total {}", c.hits);
            out.push_str("# HELP fieldhouse_kpi_cache_misses_total KPI answers computed.\n");
            out.push_str("# TYPE fieldhouse_kpi_cache_misses_total counter\n");
            let _ = writeln!(out, "fieldhouse_kpi_cache_misses_total {}", c.misses);
            out.push_str("# HELP fieldhouse_kpi_cache_entries KPI answers held.\n");
            out.push_str("# TYPE fieldhouse_kpi_cache_entries gauge\n");
            let _ = writeln!(out, "fieldhouse_kpi_cache_entries {}", c.entries);
            out.push_str("# HELP fieldhouse_kpi_cache_bytes Arrow memory held by cached KPI answers.\n");
            out.push_str("# TYPE fieldhouse_kpi_cache_bytes gauge\n");
            let _ = writeln!(out, "fieldhouse_kpi_cache_bytes {}", c.bytes);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = ApiMetrics::default();
        m.request("/api/v1/kpis/{name}", "GET", 200, Duration::from_millis(3));
        m.request("/api/v1/kpis/{name}", "GET", 200, Duration::from_millis(300));
        m.query("sql", "error", Duration::from_millis(20));
        let text = m.render(None);
        assert!(
            text.contains(
                "fieldhouse_http_requests_total{route=\"/api/v1/kpis/{name}\",method=\"GET\",status=\"200\"} 2"
            )
        );
        assert!(
            text.contains(
                "fieldhouse_http_request_duration_seconds_bucket{route=\"/api/v1/kpis/{name}\",le=\"0.005\"} 1"
            )
        );
        assert!(text.contains("fieldhouse_query_duration_seconds_count{kind=\"sql\",outcome=\"error\"} 1"));
        assert_eq!(m.count("/api/v1/kpis/{name}", 200), 2);
    }
}
