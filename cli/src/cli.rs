//! Command-line definitions and dispatch.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use fieldhouse_domain::arrow_schema::events_schema;
use fieldhouse_domain::calendar::Calendar;
use fieldhouse_domain::event::{EVENT_TYPES, Event, parse_ts};
use fieldhouse_domain::sla::{Pause, sla_state};

/// Fieldhouse: the analytics and KPI warehouse for after-sales field service.
///
/// Records service orders, dispatch, visits, parts, invoices, payments and
/// warranty claims as events, lands them in a Delta Lake, and computes the
/// KPIs service managers, dispatchers, engineers, finance and partners act on.
#[derive(Debug, Parser)]
#[command(name = "fieldhouse", version, about, long_about)]
pub(crate) struct Cli {
    /// Where Fieldhouse keeps its data: the operational database (ops.db),
    /// the lake (lake/) and reports (reports/).
    #[arg(long, global = true, env = "FIELDHOUSE_DATA_DIR", default_value = "./fieldhouse-data")]
    pub(crate) data_dir: PathBuf,

    /// The lake: a directory or s3://BUCKET/PREFIX (default: <data-dir>/lake,
    /// or `lake` in <data-dir>/fieldhouse.toml). For S3, credentials, region
    /// and endpoint come from the AWS_* variables (AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL, AWS_ALLOW_HTTP)
    /// or the config file's [s3] table.
    #[arg(long, global = true, env = "FIELDHOUSE_LAKE", value_name = "LOCATION")]
    pub(crate) lake: Option<String>,

    /// More log output (-v: debug for Fieldhouse, info for its libraries; -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,

    /// Log lines as human-readable text (default) or as one JSON object per
    /// line (for a log collector: timestamp, level, target, fields, spans).
    #[arg(long, global = true, env = "FIELDHOUSE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub(crate) log_format: LogFormat,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// How log lines are written (to standard error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// The one-command tour: simulate an organisation into a fresh data
    /// directory, land it in the lake, print KPIs, write the reports, serve.
    Demo(crate::demo::DemoArgs),
    /// Serve the HTTP API (operations, event ingest, metrics), relay the
    /// outbox into the lake continuously and run scheduled reports.
    Serve(crate::serve::ServeArgs),
    /// Simulate a service organisation into the operational core (ops.db):
    /// months of orders, visits, parts, invoices, payments and claims.
    Simulate(crate::cmd_sim::SimulateArgs),
    /// Land events in the lake: drain the operational core's outbox once
    /// (default), or ingest a file of events (--file: NDJSON, JSON array, CSV).
    Ingest(crate::cmd_ingest::IngestArgs),
    /// Lake maintenance: check, optimize (compact), vacuum, checkpoint.
    #[command(subcommand)]
    Lake(crate::cmd_ingest::LakeCommand),
    /// Compute a KPI of the catalog (`fieldhouse kpi --list` shows them).
    Kpi(crate::cmd_engine::KpiArgs),
    /// Run a read-only SQL query over the lake's tables and views.
    Sql(crate::cmd_engine::SqlArgs),
    /// Run a node of an Apache Ballista cluster that computes KPIs:
    /// `cluster scheduler`, `cluster executor` (see `kpi --engine ballista`).
    #[cfg(feature = "cluster")]
    #[command(subcommand)]
    Cluster(crate::cmd_cluster::ClusterCommand),
    /// Scheduled reports: list the definitions and run one now.
    #[command(subcommand)]
    Report(crate::cmd_report::ReportCommand),
    /// API bearer tokens: create (shown once, stored hashed), list, revoke.
    #[command(subcommand)]
    Token(crate::cmd_token::TokenCommand),
    /// The service-event contract: list event types, print the lake schema,
    /// validate files of events before sending them.
    #[command(subcommand)]
    Events(EventsCommand),
    /// The SLA clock: compute a deadline, business time elapsed, or SLA state
    /// for a business calendar (a JSON file, or `24x7`).
    #[command(subcommand)]
    Sla(SlaCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum EventsCommand {
    /// List every event type with its group (master, order, money, claim, stock).
    Types,
    /// Print the Arrow schema of the lake's wide `events` table.
    Schema,
    /// Check a file of events (NDJSON, one event per line) against the
    /// contract; prints one line per bad record naming the field, exits 1 if any.
    Validate {
        /// The NDJSON file; `-` reads standard input.
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub(crate) struct CalendarArg {
    /// The business calendar: `24x7` (UTC), `24x7:ZONE`, or a JSON file
    /// (see README, "Business calendars").
    #[arg(long, default_value = "24x7")]
    pub(crate) calendar: String,
    /// A pause of the clock, `START/END` in RFC 3339; repeatable.
    #[arg(long = "pause", value_name = "START/END")]
    pub(crate) pauses: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SlaCommand {
    /// The instant a business-time target runs out.
    Deadline {
        #[command(flatten)]
        calendar: CalendarArg,
        /// When the clock starts (RFC 3339 with a zone, e.g. 2026-10-02T16:30:00+02:00).
        #[arg(long)]
        start: String,
        /// The target in business minutes.
        #[arg(long)]
        minutes: i64,
    },
    /// Business time between two instants, minus pauses.
    Elapsed {
        #[command(flatten)]
        calendar: CalendarArg,
        #[arg(long)]
        start: String,
        #[arg(long)]
        end: String,
    },
    /// SLA state (on_track, at_risk, breached, met) at an instant.
    State {
        #[command(flatten)]
        calendar: CalendarArg,
        #[arg(long)]
        start: String,
        /// The target in business minutes.
        #[arg(long)]
        minutes: i64,
        /// When the goal was reached (arrival or completion), if it was.
        #[arg(long)]
        stopped: Option<String>,
        /// The instant to evaluate at (default: now).
        #[arg(long)]
        at: Option<String>,
        /// At risk when less than this share of the target is left.
        #[arg(long, default_value_t = 0.25)]
        at_risk: f64,
    },
}

pub(crate) fn init_tracing(verbose: u8, format: LogFormat) {
    // Our crates at info (-v: debug), the libraries under them (DataFusion,
    // delta-rs, hyper) only when they warn (-v: info); -vv traces everything.
    const OURS: &[&str] = &[
        "fieldhouse",
        "fieldhouse_domain",
        "fieldhouse_ops",
        "fieldhouse_ingest",
        "fieldhouse_engine",
        "fieldhouse_api",
        "fieldhouse_dashboard",
        "fieldhouse_reports",
        "fieldhouse_sim",
    ];
    let (ours, theirs) = match verbose {
        0 => ("info", "warn"),
        1 => ("debug", "info"),
        _ => ("trace", "trace"),
    };
    let default: String = std::iter::once(theirs.to_string())
        .chain(OURS.iter().map(|c| format!("{c}={ours}")))
        .collect::<Vec<_>>()
        .join(",");
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only on a terminal: a log file or a pipe gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => fmt.with_ansi(ansi).try_init(),
        LogFormat::Json => fmt.json().with_current_span(true).with_span_list(false).try_init(),
    };
}

pub(crate) fn run(cli: Cli) -> Result<ExitCode> {
    let data_dir = cli.data_dir.as_path();
    crate::lake::set_flag(cli.lake.clone());
    match cli.command {
        Command::Demo(args) => crate::demo::run(data_dir, args),
        Command::Serve(args) => crate::serve::run(data_dir, args),
        Command::Simulate(args) => crate::cmd_sim::run(data_dir, args),
        Command::Ingest(args) => crate::cmd_ingest::run(data_dir, args),
        Command::Lake(cmd) => crate::cmd_ingest::run_lake(data_dir, cmd),
        Command::Kpi(args) => crate::cmd_engine::run_kpi(data_dir, args),
        Command::Sql(args) => crate::cmd_engine::run_sql(data_dir, args),
        #[cfg(feature = "cluster")]
        Command::Cluster(cmd) => crate::cmd_cluster::run(data_dir, cmd),
        Command::Report(cmd) => crate::cmd_report::run(data_dir, cmd),
        Command::Token(cmd) => crate::cmd_token::run(data_dir, cmd),
        Command::Events(cmd) => events(cmd),
        Command::Sla(cmd) => sla(cmd),
    }
}

fn events(cmd: EventsCommand) -> Result<ExitCode> {
    match cmd {
        EventsCommand::Types => {
            for (name, group) in EVENT_TYPES {
                println!("{group:<7} {name}");
            }
            Ok(ExitCode::SUCCESS)
        }
        EventsCommand::Schema => {
            for f in events_schema().fields() {
                let null = if f.is_nullable() { "" } else { " not null" };
                println!("{:<20} {}{null}", f.name(), f.data_type());
            }
            Ok(ExitCode::SUCCESS)
        }
        EventsCommand::Validate { file } => {
            let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
                Box::new(BufReader::new(std::io::stdin()))
            } else {
                let f = std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
                Box::new(BufReader::new(f))
            };
            let (mut good, mut bad) = (0u64, 0u64);
            for (n, line) in reader.lines().enumerate() {
                let line = line.with_context(|| format!("cannot read line {}", n + 1))?;
                if line.trim().is_empty() {
                    continue;
                }
                match Event::from_json(&line) {
                    Ok(_) => good += 1,
                    Err(e) => {
                        bad += 1;
                        println!("line {}: {e}", n + 1);
                    }
                }
            }
            eprintln!("{good} valid, {bad} rejected");
            Ok(if bad == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}

fn load_calendar(spec: &str) -> Result<Calendar> {
    if spec == "24x7" {
        return Ok(Calendar::always(chrono_tz::UTC));
    }
    if let Some(zone) = spec.strip_prefix("24x7:") {
        let tz: chrono_tz::Tz = zone.parse().map_err(|_| anyhow::anyhow!("unknown time zone `{zone}`"))?;
        return Ok(Calendar::always(tz));
    }
    let text = std::fs::read_to_string(spec).with_context(|| format!("cannot read calendar file {spec}"))?;
    Calendar::from_json(&text).with_context(|| format!("calendar file {spec}"))
}

fn ts(field: &str, s: &str) -> Result<DateTime<Utc>> {
    Ok(parse_ts(field, s)?)
}

fn pauses(specs: &[String]) -> Result<Vec<Pause>> {
    specs
        .iter()
        .map(|p| {
            let (a, b) = p.split_once('/').ok_or_else(|| anyhow::anyhow!("--pause `{p}` must be START/END"))?;
            Ok(Pause { start: ts("--pause", a)?, end: ts("--pause", b)? })
        })
        .collect()
}

fn sla(cmd: SlaCommand) -> Result<ExitCode> {
    match cmd {
        SlaCommand::Deadline { calendar, start, minutes } => {
            let cal = load_calendar(&calendar.calendar)?;
            let start = ts("--start", &start)?;
            let p = pauses(&calendar.pauses)?;
            match cal.deadline(start, chrono::TimeDelta::minutes(minutes), &p) {
                Some(d) => println!("{}", d.with_timezone(&cal.tz).to_rfc3339()),
                None => anyhow::bail!("calendar `{}` has no business time: no deadline", cal.name),
            }
        }
        SlaCommand::Elapsed { calendar, start, end } => {
            let cal = load_calendar(&calendar.calendar)?;
            let d = cal.business_elapsed(ts("--start", &start)?, ts("--end", &end)?, &pauses(&calendar.pauses)?);
            println!("{} business minutes ({} s)", d.num_seconds() as f64 / 60.0, d.num_seconds());
        }
        SlaCommand::State { calendar, start, minutes, stopped, at, at_risk } => {
            let cal = load_calendar(&calendar.calendar)?;
            let stopped = stopped.map(|s| ts("--stopped", &s)).transpose()?;
            let now = at.map(|s| ts("--at", &s)).transpose()?.unwrap_or_else(Utc::now);
            let state = sla_state(
                &cal,
                ts("--start", &start)?,
                chrono::TimeDelta::minutes(minutes),
                &pauses(&calendar.pauses)?,
                stopped,
                now,
                at_risk,
            );
            println!("{}", state.as_str());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The async runtime of a command: a worker per core, with thread stacks
/// big enough for the plans of a cluster (they are encoded recursively; see
/// `fieldhouse_engine::CLUSTER_STACK_BYTES`).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(fieldhouse_engine::CLUSTER_STACK_BYTES)
        .enable_all()
        .build()
        .context("starting the async runtime")
}
