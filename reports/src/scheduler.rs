//! The scheduler: which report periods are due, catching up on periods
//! missed while the server was down (each exactly once) and retrying failed
//! runs a bounded number of times, with a growing pause.
//!
//! Rule: a report's cron schedule fires at instants `t`; a firing at `t`
//! covers the last full period before `t`'s local date. The newest due
//! period is the one covered by the latest firing at or before `now`. A
//! report with successful runs is due for every period after its newest
//! success up to the newest due period; a report that never ran is due for
//! the newest due period only (no backfill of history). Only scheduled runs
//! count as "successful runs" there: a manual run (`fieldhouse report run`,
//! the demo's first reports of a simulated past period) is not run again,
//! but starts no catch-up from its period, so a report run by hand for last
//! spring does not make the server backfill every week since. A period whose last
//! runs failed is due again after `5 min × 2^(failures-1)` until it has
//! failed `1 + retries` times.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tracing::{error, info, warn};
use uuid::Uuid;

use crate::config::{Config, ReportDef};
use crate::period::Period;
use crate::runlog::{RunLog, RunRecord, RunStatus, Trigger};
use crate::runner::{run_report, run_report_agents};
use crate::source::KpiSource;
use crate::{Error, Result};

/// At most this many missed periods are caught up per report.
pub const MAX_CATCH_UP: usize = 100;

/// What the run log says about one report period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodState {
    pub succeeded: bool,
    /// Succeeded in a scheduled run (what catching up starts from).
    pub scheduled: bool,
    /// Failed attempts since the last success (or ever).
    pub failures: u32,
    pub last_finished: Option<DateTime<Utc>>,
}

/// The run history the scheduler decides on: report → period label → state
/// (records of the report as a whole, not of single agents).
#[derive(Debug, Clone, Default)]
pub struct RunHistory {
    pub periods: BTreeMap<String, BTreeMap<String, PeriodState>>,
}

impl RunHistory {
    /// Build from run-log records, oldest first.
    pub fn from_records(records: &[RunRecord]) -> RunHistory {
        let mut h = RunHistory::default();
        for r in records.iter().filter(|r| r.agent.is_none()) {
            let st = h.periods.entry(r.report.clone()).or_default().entry(r.period.clone()).or_default();
            match r.status {
                RunStatus::Ok => {
                    st.succeeded = true;
                    st.scheduled |= r.trigger == Trigger::Schedule;
                    st.failures = 0;
                }
                RunStatus::Failed => st.failures += 1,
            }
            st.last_finished = Some(r.finished_at);
        }
        h
    }

    fn state(&self, report: &str, period: &str) -> Option<&PeriodState> {
        self.periods.get(report).and_then(|p| p.get(period))
    }
}

/// One run the scheduler should start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueRun {
    pub report: String,
    pub period: Period,
    /// 1 for a first run, 2 for the first retry, ...
    pub attempt: u32,
}

/// Decides what is due, from the definitions in force.
#[derive(Debug, Clone)]
pub struct Scheduler {
    pub config: Config,
}

impl Scheduler {
    pub fn new(config: Config) -> Scheduler {
        Scheduler { config }
    }

    /// The newest period of `def` due at `now` (covered by the latest
    /// firing of its schedule at or before `now`).
    pub fn latest_due(def: &ReportDef, now: DateTime<Utc>) -> Result<Option<Period>> {
        let cron = def.cron()?;
        let local = now.with_timezone(&def.time_zone);
        match cron.find_previous_occurrence(&local, true) {
            Ok(fired) => Ok(Some(Period::last_full(def.period, fired.date_naive()))),
            Err(croner::errors::CronError::TimeSearchLimitExceeded) => Ok(None),
            Err(e) => Err(Error::Invalid { report: def.name.clone(), message: format!("schedule: {e}") }),
        }
    }

    /// The runs due at `now`, oldest period first, reports in definition order.
    pub fn due_runs(&self, now: DateTime<Utc>, history: &RunHistory) -> Result<Vec<DueRun>> {
        let mut due = Vec::new();
        for def in &self.config.reports {
            let Some(latest) = Scheduler::latest_due(def, now)? else { continue };
            let known = history.periods.get(&def.name);
            let newest_ok = known.and_then(|ps| {
                ps.iter()
                    .filter(|(_, s)| s.scheduled)
                    .filter_map(|(label, _)| Period::parse(def.period, label).ok())
                    .max()
            });
            // Candidate periods: after the newest success up to the latest
            // due (or just the latest), plus earlier periods still failing.
            let mut candidates: Vec<Period> = Vec::new();
            match newest_ok {
                Some(ok) => {
                    let mut p = ok.next();
                    while p <= latest && candidates.len() < MAX_CATCH_UP {
                        candidates.push(p);
                        p = p.next();
                    }
                }
                None => candidates.push(latest),
            }
            if let Some(ps) = known {
                for (label, st) in ps {
                    if let Ok(p) = Period::parse(def.period, label)
                        && !st.succeeded
                        && st.failures > 0
                        && p <= latest
                        && !candidates.contains(&p)
                    {
                        candidates.push(p);
                    }
                }
            }
            candidates.sort();
            for p in candidates {
                let st = history.state(&def.name, &p.label()).cloned().unwrap_or_default();
                if st.succeeded {
                    continue;
                }
                if st.failures > 0 {
                    if st.failures > def.retries {
                        continue;
                    }
                    let wait = Duration::minutes(5 * (1i64 << (st.failures - 1).min(10)));
                    if st.last_finished.is_some_and(|t| now < t + wait) {
                        continue;
                    }
                }
                due.push(DueRun { report: def.name.clone(), period: p, attempt: st.failures + 1 });
            }
        }
        Ok(due)
    }
}

/// Run one due run (every agent, for per-agent reports), record it in the
/// run log, and return the record for the report as a whole.
pub async fn execute(
    source: &dyn KpiSource,
    data_dir: &Path,
    def: &ReportDef,
    run: &DueRun,
    trigger: Trigger,
    now: impl Fn() -> DateTime<Utc>,
) -> Result<RunRecord> {
    let log = RunLog::open(data_dir);
    let started_at = now();
    let label = run.period.label();
    let record = |status, error: Option<String>, agent, lake_version, finished_at| RunRecord {
        report: def.name.clone(),
        period: label.clone(),
        agent,
        attempt: run.attempt,
        trigger,
        started_at,
        finished_at,
        status,
        error,
        lake_version,
    };
    let outcome: Result<i64> = async {
        let lake_version = source.lake_version().await?;
        if !def.per_agent {
            run_report(source, data_dir, def, run.period, None, Some(lake_version)).await?;
            return Ok(lake_version);
        }
        // Agents already done for this period are not run again on a retry.
        let done: Vec<Uuid> = log
            .read_all()?
            .into_iter()
            .filter(|r| r.report == def.name && r.period == label && r.status == RunStatus::Ok)
            .filter_map(|r| r.agent)
            .collect();
        let results = run_report_agents(source, data_dir, def, run.period, Some(lake_version), &done).await?;
        let mut failed = Vec::new();
        for (agent, r) in results {
            let (status, err) = match &r {
                Ok(_) => (RunStatus::Ok, None),
                Err(e) => {
                    failed.push(format!("{agent}: {}", error_chain(e)));
                    (RunStatus::Failed, Some(error_chain(e)))
                }
            };
            log.append(&record(status, err, Some(agent), Some(lake_version), now()))?;
        }
        if failed.is_empty() {
            Ok(lake_version)
        } else {
            Err(Error::Invalid { report: def.name.clone(), message: format!("agents failed: {}", failed.join("; ")) })
        }
    }
    .await;
    let rec = match outcome {
        Ok(v) => record(RunStatus::Ok, None, None, Some(v), now()),
        Err(e) => record(RunStatus::Failed, Some(error_chain(&e)), None, None, now()),
    };
    log.append(&rec)?;
    Ok(rec)
}

/// An error with its sources, `a: b: c`.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// One scheduler pass at `now`: load the definitions, read the run log, run
/// everything due, each independently. Returns the records written for the
/// reports as a whole.
pub async fn run_due(source: &dyn KpiSource, data_dir: &Path, now: DateTime<Utc>) -> Result<Vec<RunRecord>> {
    let config = Config::load(data_dir)?;
    run_due_with(source, data_dir, &config, now, Utc::now).await
}

/// [`run_due`] with the definitions and the clock for run times given.
pub async fn run_due_with(
    source: &dyn KpiSource,
    data_dir: &Path,
    config: &Config,
    now: DateTime<Utc>,
    clock: impl Fn() -> DateTime<Utc> + Copy,
) -> Result<Vec<RunRecord>> {
    let history = RunHistory::from_records(&RunLog::open(data_dir).read_all()?);
    let scheduler = Scheduler::new(config.clone());
    let mut out = Vec::new();
    for run in scheduler.due_runs(now, &history)? {
        let def = config.get(&run.report)?;
        let rec = execute(source, data_dir, def, &run, Trigger::Schedule, clock).await?;
        match rec.status {
            RunStatus::Ok => info!(report = %rec.report, period = %rec.period, attempt = rec.attempt, "report run"),
            RunStatus::Failed => {
                warn!(report = %rec.report, period = %rec.period, attempt = rec.attempt, error = ?rec.error, "report failed")
            }
        }
        out.push(rec);
    }
    Ok(out)
}

/// The scheduler loop for `fieldhouse serve`: a pass every `tick` until
/// `shutdown` completes. Definitions are reloaded on every pass; a broken
/// definitions file or run log is logged and retried on the next pass.
pub async fn serve(
    source: Arc<dyn KpiSource>,
    data_dir: PathBuf,
    tick: std::time::Duration,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        if let Err(e) = run_due(source.as_ref(), &data_dir, Utc::now()).await {
            error!(error = %error_chain(&e), "report scheduler pass failed");
        }
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(tick) => {}
        }
    }
    info!("report scheduler stopped");
}

/// Run a report now (`fieldhouse report run`): every agent of a per-agent
/// report unless `agent` names one, as of `as_of` (default: the current
/// lake version). Each output is recorded in the run log (trigger
/// `manual`); the report as a whole is recorded too when it ran complete.
/// Returns the runs written, or the first failure after trying all.
pub async fn run_now(
    source: &dyn KpiSource,
    data_dir: &Path,
    def: &ReportDef,
    period: Period,
    agent: Option<Uuid>,
    as_of: Option<i64>,
) -> Result<Vec<crate::runner::ReportRun>> {
    let log = RunLog::open(data_dir);
    let started_at = Utc::now();
    let lake_version = match as_of {
        Some(v) => v,
        None => source.lake_version().await?,
    };
    let record = |agent, status, error: Option<&Error>| RunRecord {
        report: def.name.clone(),
        period: period.label(),
        agent,
        attempt: 1,
        trigger: Trigger::Manual,
        started_at,
        finished_at: Utc::now(),
        status,
        error: error.map(|e| error_chain(e)),
        lake_version: Some(lake_version),
    };
    let results: Vec<(Option<Uuid>, Result<crate::runner::ReportRun>)> = if def.per_agent && agent.is_none() {
        run_report_agents(source, data_dir, def, period, Some(lake_version), &[])
            .await?
            .into_iter()
            .map(|(a, r)| (Some(a), r))
            .collect()
    } else {
        vec![(agent, run_report(source, data_dir, def, period, agent, Some(lake_version)).await)]
    };
    let mut runs = Vec::new();
    let mut first_error = None;
    for (a, r) in results {
        match r {
            Ok(run) => {
                if a.is_some() {
                    log.append(&record(a, RunStatus::Ok, None))?;
                }
                runs.push(run);
            }
            Err(e) => {
                log.append(&record(a, RunStatus::Failed, Some(&e)))?;
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        None => {
            if agent.is_none() {
                log.append(&record(None, RunStatus::Ok, None))?;
            }
            Ok(runs)
        }
        Some(e) => Err(e),
    }
}
