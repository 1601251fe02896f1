//! [`ServeConfig`]: how `fieldhouse serve` runs. Defaults below, overridden
//! by a TOML file (`--config FILE`, else `<data-dir>/fieldhouse.toml` when it
//! exists), then by `FIELDHOUSE_*` environment variables, then by flags.
//! Unknown keys are rejected.
//!
//! | key | environment | default | meaning |
//! |---|---|---|---|
//! | `addr` | `FIELDHOUSE_ADDR` | `127.0.0.1:8080` | where to listen |
//! | `pg_addr` | `FIELDHOUSE_PG_ADDR` | unset (off) | where to listen for the PostgreSQL wire protocol (e.g. `127.0.0.1:5433`); see [`crate::pg`] |
//! | `relay_latency_secs` | `FIELDHOUSE_RELAY_LATENCY` | 10 | seconds between outbox relay passes |
//! | `report_tick_secs` | `FIELDHOUSE_REPORT_TICK` | 60 | seconds between report-scheduler passes |
//! | `compact_interval_secs` | `FIELDHOUSE_COMPACT_INTERVAL` | 3600 | seconds between scheduled compactions of the lake tables (0: never) |
//! | `shutdown_grace_secs` | `FIELDHOUSE_SHUTDOWN_GRACE` | 30 | how long requests in flight may finish after a stop signal |
//! | `kpi_timeout_secs` | `FIELDHOUSE_KPI_TIMEOUT` | 120 | time limit of one KPI computation |
//! | `kpi_cache_entries` | `FIELDHOUSE_KPI_CACHE_ENTRIES` | 512 | KPI answers kept |
//! | `kpi_concurrency` | `FIELDHOUSE_KPI_CONCURRENCY` | 1 | KPI computations running at once (others wait; each uses every core) |
//! | `kpi_cache_mib` | `FIELDHOUSE_KPI_CACHE_MIB` | 256 | memory for kept KPI answers |
//! | `dashboard_max_stale_secs` | `FIELDHOUSE_DASHBOARD_MAX_STALE` | 10 | after a commit, a dashboard section may show its answer of the older lake version, if that answer was still the newest at most this long ago or its refresh is under way, while the new one is computed (0: always wait for the newest) |
//! | `memory_limit_mib` | `FIELDHOUSE_MEMORY_LIMIT` | half the machine's memory, at least 2048 | memory pool of KPI queries |
//! | `sql_max_rows` | `FIELDHOUSE_SQL_MAX_ROWS` | 100000 | most rows one SQL query returns |
//! | `sql_timeout_secs` | `FIELDHOUSE_SQL_TIMEOUT` | 30 | time limit of one SQL query |
//! | `sql_memory_mib` | `FIELDHOUSE_SQL_MEMORY` | 512 | memory pool of one SQL query (sorts spill to disk beyond it) |
//! | `sql_concurrency` | `FIELDHOUSE_SQL_CONCURRENCY` | 4 | SQL queries running at once (others wait) |
//! | `cluster_scheduler` | `FIELDHOUSE_CLUSTER_SCHEDULER` | unset (local) | run KPIs and SQL of unscoped callers on the Apache Ballista cluster whose scheduler is at this `host:port` (`fieldhouse cluster scheduler`); partner-scoped callers stay local |
//! | `lake` | `FIELDHOUSE_LAKE` | `<data-dir>/lake` | the lake: a directory or `s3://BUCKET/PREFIX` (every command reads it; `--lake` wins) |
//! | `[s3]` | `AWS_*` | none | options of the S3 store, object_store's names (`endpoint`, `region`, `allow_http`, `access_key_id`, ...); the `AWS_*` variables win |

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Settings of the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    /// The PostgreSQL wire protocol endpoint; `None`: off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pg_addr: Option<SocketAddr>,
    pub relay_latency_secs: u64,
    pub report_tick_secs: u64,
    pub compact_interval_secs: u64,
    pub shutdown_grace_secs: u64,
    pub kpi_timeout_secs: u64,
    pub kpi_cache_entries: usize,
    pub kpi_cache_mib: usize,
    pub kpi_concurrency: usize,
    pub dashboard_max_stale_secs: u64,
    pub memory_limit_mib: usize,
    pub sql_max_rows: usize,
    pub sql_timeout_secs: u64,
    pub sql_memory_mib: usize,
    pub sql_concurrency: usize,
    /// The Ballista scheduler (`host:port`) KPIs run on; `None`: in this process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_scheduler: Option<String>,
    /// The lake location; `None`: `<data-dir>/lake`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lake: Option<String>,
    /// Options of the S3 store (see [`crate::config`]'s table).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub s3: BTreeMap<String, String>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            pg_addr: None,
            relay_latency_secs: 10,
            report_tick_secs: 60,
            compact_interval_secs: 3600,
            shutdown_grace_secs: 30,
            kpi_timeout_secs: 120,
            kpi_cache_entries: 512,
            kpi_cache_mib: 256,
            kpi_concurrency: 1,
            dashboard_max_stale_secs: 10,
            memory_limit_mib: fieldhouse_engine::default_memory_limit() >> 20,
            sql_max_rows: 100_000,
            sql_timeout_secs: 30,
            sql_memory_mib: 512,
            sql_concurrency: 4,
            cluster_scheduler: None,
            lake: None,
            s3: BTreeMap::new(),
        }
    }
}

/// A configuration that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file `{path}`")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config file `{path}`: {message}")]
    Parse { path: String, message: String },
    #[error("environment variable {name}: `{value}` is not a valid value")]
    Env { name: String, value: String },
}

/// `(environment variable, key)` pairs.
pub const ENV: &[(&str, &str)] = &[
    ("FIELDHOUSE_ADDR", "addr"),
    ("FIELDHOUSE_PG_ADDR", "pg_addr"),
    ("FIELDHOUSE_RELAY_LATENCY", "relay_latency_secs"),
    ("FIELDHOUSE_REPORT_TICK", "report_tick_secs"),
    ("FIELDHOUSE_COMPACT_INTERVAL", "compact_interval_secs"),
    ("FIELDHOUSE_SHUTDOWN_GRACE", "shutdown_grace_secs"),
    ("FIELDHOUSE_KPI_TIMEOUT", "kpi_timeout_secs"),
    ("FIELDHOUSE_KPI_CACHE_ENTRIES", "kpi_cache_entries"),
    ("FIELDHOUSE_KPI_CACHE_MIB", "kpi_cache_mib"),
    ("FIELDHOUSE_KPI_CONCURRENCY", "kpi_concurrency"),
    ("FIELDHOUSE_DASHBOARD_MAX_STALE", "dashboard_max_stale_secs"),
    ("FIELDHOUSE_MEMORY_LIMIT", "memory_limit_mib"),
    ("FIELDHOUSE_SQL_MAX_ROWS", "sql_max_rows"),
    ("FIELDHOUSE_SQL_TIMEOUT", "sql_timeout_secs"),
    ("FIELDHOUSE_SQL_MEMORY", "sql_memory_mib"),
    ("FIELDHOUSE_SQL_CONCURRENCY", "sql_concurrency"),
    ("FIELDHOUSE_CLUSTER_SCHEDULER", "cluster_scheduler"),
    ("FIELDHOUSE_LAKE", "lake"),
];

impl ServeConfig {
    /// Defaults, then `file` (or `<data_dir>/fieldhouse.toml` if present),
    /// then the environment as given by `env` (e.g. `|k| std::env::var(k).ok()`).
    pub fn load(
        data_dir: &Path,
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ServeConfig, ConfigError> {
        let default_file = data_dir.join("fieldhouse.toml");
        let file = file.map(Path::to_path_buf).or_else(|| default_file.exists().then_some(default_file));
        let mut table = match &file {
            Some(p) => {
                let path = p.display().to_string();
                let text =
                    std::fs::read_to_string(p).map_err(|source| ConfigError::Read { path: path.clone(), source })?;
                text.parse::<toml::Table>().map_err(|e| ConfigError::Parse { path, message: e.to_string() })?
            }
            None => toml::Table::new(),
        };
        for (name, key) in ENV {
            let Some(value) = env(name) else { continue };
            let v = if ["addr", "pg_addr", "lake", "cluster_scheduler"].contains(key) {
                toml::Value::String(value.clone())
            } else {
                toml::Value::Integer(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| ConfigError::Env { name: name.to_string(), value: value.clone() })?,
                )
            };
            table.insert(key.to_string(), v);
        }
        let source = file.map(|p| p.display().to_string()).unwrap_or_else(|| "environment".into());
        let cfg: ServeConfig = toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| {
            ConfigError::Parse { path: source.clone(), message: e.message().to_string() }
        })?;
        cfg.validate().map_err(|message| ConfigError::Parse { path: source, message })?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        for (key, v) in [
            ("sql_max_rows", self.sql_max_rows),
            ("sql_concurrency", self.sql_concurrency),
            ("kpi_concurrency", self.kpi_concurrency),
            ("sql_memory_mib", self.sql_memory_mib),
            ("memory_limit_mib", self.memory_limit_mib),
            ("kpi_cache_entries", self.kpi_cache_entries),
        ] {
            if v == 0 {
                return Err(format!("`{key}` must be at least 1"));
            }
        }
        if self.sql_timeout_secs == 0 || self.kpi_timeout_secs == 0 {
            return Err("time limits must be at least 1 s".into());
        }
        Ok(())
    }

    pub fn sql_timeout(&self) -> Duration {
        Duration::from_secs(self.sql_timeout_secs)
    }

    /// The configuration as TOML, secrets of the `[s3]` table hidden.
    pub fn to_toml(&self) -> String {
        let mut shown = self.clone();
        for (k, v) in &mut shown.s3 {
            if k.contains("secret") || k.contains("token") {
                *v = "<hidden>".into();
            }
        }
        toml::to_string(&shown).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn file_then_environment_and_unknown_keys_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let none = |_: &str| None;
        assert_eq!(ServeConfig::load(dir.path(), None, none).unwrap(), ServeConfig::default());
        std::fs::write(dir.path().join("fieldhouse.toml"), "sql_max_rows = 10\naddr = \"0.0.0.0:9000\"\n").unwrap();
        let env = |k: &str| (k == "FIELDHOUSE_SQL_TIMEOUT").then(|| "7".to_string());
        let c = ServeConfig::load(dir.path(), None, env).unwrap();
        assert_eq!((c.sql_max_rows, c.sql_timeout_secs, c.addr.port()), (10, 7, 9000));
        std::fs::write(dir.path().join("bad.toml"), "sql_max_rowz = 10\n").unwrap();
        let e = ServeConfig::load(dir.path(), Some(&dir.path().join("bad.toml")), none).unwrap_err().to_string();
        assert!(e.contains("sql_max_rowz"), "{e}");
        let env = |k: &str| (k == "FIELDHOUSE_LAKE").then(|| "s3://bucket/prefix".to_string());
        std::fs::write(
            dir.path().join("s3.toml"),
            "[s3]\nendpoint = \"http://127.0.0.1:9000\"\nsecret_access_key = \"shh\"\n",
        )
        .unwrap();
        let c = ServeConfig::load(dir.path(), Some(&dir.path().join("s3.toml")), env).unwrap();
        assert_eq!(c.lake.as_deref(), Some("s3://bucket/prefix"));
        assert_eq!(c.s3.get("endpoint").map(String::as_str), Some("http://127.0.0.1:9000"));
        let shown = c.to_toml();
        assert!(shown.contains("<hidden>") && !shown.contains("shh"), "{shown}");
        // The cluster's scheduler, from the file and from the environment (which wins).
        std::fs::write(dir.path().join("cluster.toml"), "cluster_scheduler = \"10.0.0.1:50050\"\n").unwrap();
        let c = ServeConfig::load(dir.path(), Some(&dir.path().join("cluster.toml")), none).unwrap();
        assert_eq!(c.cluster_scheduler.as_deref(), Some("10.0.0.1:50050"));
        let env = |k: &str| (k == "FIELDHOUSE_CLUSTER_SCHEDULER").then(|| "sched:7000".to_string());
        let c = ServeConfig::load(dir.path(), Some(&dir.path().join("cluster.toml")), env).unwrap();
        assert_eq!(c.cluster_scheduler.as_deref(), Some("sched:7000"));
        let env = |k: &str| (k == "FIELDHOUSE_SQL_MEMORY").then(|| "lots".to_string());
        assert!(ServeConfig::load(dir.path(), None, env).unwrap_err().to_string().contains("FIELDHOUSE_SQL_MEMORY"));
    }
}
