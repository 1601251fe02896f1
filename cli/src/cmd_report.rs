//! `fieldhouse report`: the report definitions in force, the reports written
//! so far, and running a report now (as the scheduler in `serve` would).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Subcommand;
use fieldhouse_reports::runlog::RunLog;
use fieldhouse_reports::scheduler::{error_chain, run_now};
use fieldhouse_reports::{Config, EngineSource, Period, list_reports};
use uuid::Uuid;

#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// List the report definitions (built-in, or <data-dir>/reports.toml)
    /// and the reports written under <data-dir>/reports.
    List,
    /// Run a report now and write it to <data-dir>/reports/<report>/<period>/.
    Run {
        /// The report's name (see `fieldhouse report list`).
        name: String,
        /// The period: `2026-10` for monthly reports, `2026-W42` for weekly
        /// ones. Default: the last full period.
        #[arg(long)]
        period: Option<String>,
        /// Per-agent reports (settlement statements): only this agent's.
        /// Default: one for every agent.
        #[arg(long)]
        agent: Option<Uuid>,
        /// Compute as of this lake version (reproduce an earlier report).
        /// Default: the lake's current version.
        #[arg(long, value_name = "VERSION")]
        as_of_version: Option<i64>,
    },
}

pub(crate) fn run(data_dir: &Path, cmd: ReportCommand) -> Result<ExitCode> {
    let config = Config::load(data_dir).context("loading the report definitions")?;
    match cmd {
        ReportCommand::List => {
            println!("{:<28} {:<16} {:<28} {:<16} audience", "report", "period", "schedule", "formats");
            for r in &config.reports {
                let formats: Vec<String> = r.formats.iter().map(|f| format!("{f:?}").to_lowercase()).collect();
                println!(
                    "{:<28} {:<16} {:<28} {:<16} {}{}",
                    r.name,
                    format!("{:?}", r.period),
                    format!("{} {}", r.schedule, r.time_zone),
                    formats.join(","),
                    r.audience.join(","),
                    if r.per_agent { " (one per agent)" } else { "" }
                );
            }
            let written = list_reports(data_dir, None).context("listing written reports")?;
            println!("\n{} report(s) written under {}", written.len(), data_dir.join("reports").display());
            for w in written {
                println!("  {:<70} lake version {}", w.path, w.lake_version);
            }
            let runs = RunLog::open(data_dir).read_all().context("reading the run log")?;
            if let Some(last) = runs.last() {
                println!("last run: {} {} {:?} at {}", last.report, last.period, last.status, last.finished_at);
            }
            Ok(ExitCode::SUCCESS)
        }
        ReportCommand::Run { name, period, agent, as_of_version } => {
            let def = config.get(&name)?;
            let period = match period {
                Some(label) => Period::parse(def.period, &label)?,
                None => Period::last_full(def.period, Utc::now().with_timezone(&def.time_zone).date_naive()),
            };
            let runtime = crate::cli::runtime()?;
            let source = EngineSource::new(crate::lake::engine(data_dir)?);
            let result =
                runtime.block_on(async { run_now(&source, data_dir, def, period, agent, as_of_version).await });
            match result {
                Ok(runs) => {
                    for r in runs {
                        let state = if r.unchanged { "unchanged" } else { "written" };
                        println!(
                            "{state}: {} (lake version {}, {} files)",
                            r.dir.display(),
                            r.lake_version,
                            r.files.len()
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("report {name} {period} failed: {}", error_chain(&e));
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}
