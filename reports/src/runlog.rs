//! The run log: one JSON line per report run (start, end, status, error),
//! appended to `<data-dir>/reports/runs.jsonl`. A torn last line (crash
//! mid-write) is skipped when reading.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::io;
use crate::runner::reports_dir;
use crate::{Error, Result};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Ok,
    Failed,
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Schedule,
    Manual,
}

/// One line of the run log. `agent` is set for one agent's output of a
/// per-agent report; the scheduler also writes one line without agent for
/// the report and period as a whole, which is what it schedules on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub report: String,
    pub period: String,
    #[serde(default)]
    pub agent: Option<Uuid>,
    pub attempt: u32,
    pub trigger: Trigger,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub status: RunStatus,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub lake_version: Option<i64>,
}

/// The run log file.
#[derive(Debug, Clone)]
pub struct RunLog {
    path: PathBuf,
}

impl RunLog {
    /// The run log of a data directory.
    pub fn open(data_dir: &Path) -> RunLog {
        RunLog { path: reports_dir(data_dir).join("runs.jsonl") }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one record (flushed and synced before returning).
    pub fn append(&self, record: &RunRecord) -> Result<()> {
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(io("create", parent))?;
        }
        let mut line =
            serde_json::to_string(record).map_err(|source| Error::Json { what: "run record".into(), source })?;
        line.push('\n');
        let mut f =
            std::fs::OpenOptions::new().create(true).append(true).open(&self.path).map_err(io("open", &self.path))?;
        f.write_all(line.as_bytes()).map_err(io("write", &self.path))?;
        f.sync_data().map_err(io("sync", &self.path))?;
        Ok(())
    }

    /// Every record, oldest first; unreadable lines are skipped.
    pub fn read_all(&self) -> Result<Vec<RunRecord>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("read", &self.path)(e)),
        };
        Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
    }
}
