//! `fieldhouse demo`: the one command a new user runs first. Builds a fresh
//! data directory, simulates a service organisation, lands its events in the
//! lake, prints a KPI summary, writes the scheduled reports once, and serves
//! the API until Ctrl-C (unless `--no-serve`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use crate::cli::runtime;
use anyhow::{Context, Result, bail};
use clap::Args;
use fieldhouse_engine::output::{Format, write_batches};
use fieldhouse_engine::{Caller, Engine, EngineConfig, KpiRequest, SessionOptions};
use fieldhouse_ingest::{Lake, Relay};
use fieldhouse_reports::scheduler::{error_chain, run_now};
use fieldhouse_reports::{Config, EngineSource, Period};
use fieldhouse_sim::{SimConfig, Size};
use indicatif::{ProgressBar, ProgressStyle};

/// Options of `fieldhouse demo`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    fieldhouse demo --size small              # the one-minute tour: 20 technicians, 3 months\n  \
    fieldhouse demo                           # the default organisation: 200 technicians, 12 months\n  \
    fieldhouse --data-dir ./d demo --force    # start over in ./d\n  \
    fieldhouse demo --size small --no-serve   # stop after the reports")]
pub(crate) struct DemoArgs {
    /// Size of the simulated organisation: `small` (20 technicians, 3
    /// months: the one-minute tour), `default` (200 technicians, 12 months) or `large`.
    #[arg(long, default_value = "default")]
    pub(crate) size: Size,
    /// Seed of the simulation.
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Months to simulate (overrides the preset).
    #[arg(long)]
    pub(crate) months: Option<u32>,
    /// Number of technicians (overrides the preset).
    #[arg(long)]
    pub(crate) technicians: Option<u32>,
    /// Delete an existing data directory's contents first.
    #[arg(long)]
    pub(crate) force: bool,
    /// Stop after writing the reports instead of serving.
    #[arg(long)]
    pub(crate) no_serve: bool,
    /// Where to serve.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) addr: SocketAddr,
    /// Where to serve the PostgreSQL wire protocol (psql, Grafana, Metabase).
    #[arg(long, default_value = "127.0.0.1:5433")]
    pub(crate) pg_addr: SocketAddr,
}

/// The KPIs of the summary table, with the column that carries the headline number.
const SUMMARY: &[(&str, &str)] = &[
    ("sla_response_compliance", "SLA response compliance"),
    ("sla_resolution_compliance", "SLA resolution compliance"),
    ("first_time_fix_rate", "First-time fix rate"),
    ("parts_attach_rate", "Parts attach rate"),
    ("csat", "Customer satisfaction"),
    ("dso", "Days sales outstanding"),
];

fn step(n: u32, text: &str) {
    println!("\n[{n}/5] {text}");
}

/// The demo's steps and how long each took, for the closing summary.
#[derive(Default)]
struct Timings {
    steps: Vec<(&'static str, std::time::Duration)>,
}

impl Timings {
    /// Record that `name` took since `started`, and say so.
    fn done(&mut self, name: &'static str, started: Instant) {
        let took = started.elapsed();
        println!("      {name}: {}", human(took));
        self.steps.push((name, took));
    }

    fn print(&self) {
        let total: std::time::Duration = self.steps.iter().map(|(_, d)| *d).sum();
        println!("\n      time per step:");
        for (name, took) in &self.steps {
            println!("        {name:<14} {:>9}", human(*took));
        }
        println!("        {:<14} {:>9}", "total", human(total));
    }
}

fn human(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 { format!("{s:.1} s") } else { format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60) }
}

/// A spinner with the elapsed time, for steps without a known length.
fn spinner(text: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("      [{elapsed_precise}] {spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(text.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// A bar over `len` items.
fn bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("      [{elapsed_precise}] {bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

pub(crate) fn run(data_dir: &Path, args: DemoArgs) -> Result<ExitCode> {
    if let Some(lake) = crate::lake::flag() {
        anyhow::bail!(
            "the demo builds a fresh lake in <data-dir>/lake; --lake / FIELDHOUSE_LAKE (`{lake}`) is for the other commands"
        );
    }
    prepare_dir(data_dir, args.force)?;
    let mut cfg = SimConfig::preset(args.size);
    if let Some(s) = args.seed {
        cfg.seed = s;
    }
    if let Some(m) = args.months {
        cfg.months = m;
    }
    if let Some(t) = args.technicians {
        cfg.technicians = t;
    }
    cfg.validate()?;

    let mut timings = Timings::default();
    step(1, &format!("simulating {} technicians over {} months from {}", cfg.technicians, cfg.months, cfg.start));
    let started = Instant::now();
    let summary = simulate(data_dir, &cfg)?;
    timings.done("simulation", started);
    println!(
        "      {} orders, {} visits, {} invoices, {} payments, {} claims; {} events",
        summary.orders, summary.visits, summary.invoices, summary.payments, summary.claims, summary.events
    );

    let rt = runtime()?;
    step(2, "landing the events in the lake (Delta tables under lake/)");
    let started = Instant::now();
    let lake_dir = data_dir.join("lake");
    let progress = spinner(&format!("{} events from the outbox", summary.events));
    let stats = rt.block_on(async {
        let lake = Lake::open(&lake_dir.display().to_string()).await?;
        Relay::new(data_dir.join("ops.db"), lake).run_once().await
    });
    progress.finish_and_clear();
    let stats = stats?;
    println!("      {} events in {} commits, outbox sequence {}", stats.events, stats.commits, stats.end_version);
    timings.done("ingest", started);
    let started = Instant::now();
    let progress = spinner("entity tables: the views kept as Delta tables under lake/entities/");
    let report = rt.block_on(async {
        Engine::open(data_dir)?.maintain_entities(fieldhouse_engine::MaintainOptions::default()).await
    });
    progress.finish_and_clear();
    let report = report?;
    let rows: usize = report.tables.iter().map(|t| t.rows).sum();
    println!("      {} entity tables, {rows} rows, at events version {}", report.tables.len(), report.events_version);
    timings.done("entities", started);

    step(3, "computing KPIs over the simulated period");
    let from = cfg.start.to_string();
    let to = cfg.end().to_string();
    let engine = Engine::new(EngineConfig::new(data_dir))?;
    // One reference instant for the whole summary, so the KPIs share the views computed for the first.
    let session = SessionOptions { now: Some(chrono::Utc::now()), ..SessionOptions::default() };
    let started = Instant::now();
    let progress = bar(SUMMARY.len() as u64);
    let mut tables = Vec::new();
    for (kpi, title) in SUMMARY {
        progress.set_message(*kpi);
        let mut params = BTreeMap::new();
        params.insert("from".to_string(), from.clone());
        params.insert("to".to_string(), to.clone());
        let request = KpiRequest { name: (*kpi).to_string(), params, by: Vec::new(), session: session.clone() };
        let result = rt.block_on(async {
            let stream = fieldhouse_engine::run_kpi(&engine, &request, &Caller::admin()).await?;
            let schema = stream.schema();
            let batches = fieldhouse_engine::collect(stream).await?;
            let mut out = Vec::new();
            write_batches(&batches, &schema, Format::Table, &mut out)?;
            Ok::<_, fieldhouse_engine::Error>(String::from_utf8_lossy(&out).into_owned())
        });
        progress.inc(1);
        tables.push((title, kpi, result));
    }
    progress.finish_and_clear();
    for (title, kpi, result) in tables {
        match result {
            Ok(table) => {
                println!("\n  {title} ({kpi})");
                for line in table.lines() {
                    println!("  {line}");
                }
            }
            Err(e) => println!("\n  {title} ({kpi}): failed: {e}"),
        }
    }
    timings.done("KPIs", started);

    step(4, "writing the scheduled reports for the last full period");
    let config = Config::load(data_dir)?;
    let started = Instant::now();
    let progress = bar(config.reports.len() as u64);
    let mut failed = Vec::new();
    let source = EngineSource::new(Engine::open(data_dir)?);
    let written = rt.block_on(async {
        let mut written = Vec::new();
        for def in &config.reports {
            progress.set_message(def.name.clone());
            let period = Period::last_full(def.period, cfg.end());
            match run_now(&source, data_dir, def, period, None, None).await {
                Ok(runs) => written.extend(runs.into_iter().map(|r| r.dir)),
                Err(e) => failed.push(format!("report {} {period} failed: {}", def.name, error_chain(&e))),
            }
            progress.inc(1);
        }
        Ok::<_, fieldhouse_reports::Error>(written)
    });
    progress.finish_and_clear();
    let written = written?;
    for dir in &written {
        println!("      {}", dir.display());
    }
    for line in &failed {
        println!("      {line}");
    }
    timings.done("reports", started);
    timings.print();

    let token = fieldhouse_api::TokenStore::open_in(data_dir)?.create(
        fieldhouse_engine::Role::Admin,
        None,
        Some("demo-admin"),
    )?;
    println!(
        "\n      admin token (shown once; `fieldhouse token list` / `token revoke` manage it):\n      {}",
        token.secret
    );
    println!("      dashboard: http://{}/login (paste the token there)", args.addr);
    println!("      API:       curl -H 'Authorization: Bearer {}' http://{}/api/v1/kpis", token.secret, args.addr);
    println!(
        "      SQL:       psql \"host={} port={} user=fh password={}\" -c 'SELECT * FROM kpi.first_time_fix_rate'",
        args.pg_addr.ip(),
        args.pg_addr.port(),
        token.secret
    );

    if args.no_serve {
        step(5, "done (--no-serve)");
        println!("      explore: fieldhouse --data-dir {} kpi --list", data_dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    step(5, &format!("serving on http://{} (Ctrl-C stops)", args.addr));
    crate::serve::serve_blocking(data_dir, args.addr, Some(args.pg_addr))
}

fn prepare_dir(data_dir: &Path, force: bool) -> Result<()> {
    if data_dir.exists() {
        let non_empty =
            std::fs::read_dir(data_dir).with_context(|| format!("reading {}", data_dir.display()))?.next().is_some();
        if non_empty {
            if !force {
                bail!(
                    "{} already holds data; the demo builds a fresh data directory. \
                     Use --force to delete its contents, or choose another with --data-dir",
                    data_dir.display()
                );
            }
            std::fs::remove_dir_all(data_dir).with_context(|| format!("removing {}", data_dir.display()))?;
        }
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    Ok(())
}

fn simulate(data_dir: &Path, cfg: &SimConfig) -> Result<fieldhouse_sim::SimSummary> {
    let days = (cfg.end() - cfg.start).num_days().max(1) as u64;
    let bar = ProgressBar::new(days);
    bar.set_style(
        ProgressStyle::with_template("      [{elapsed_precise}] {bar:40} day {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let report = |p: fieldhouse_sim::Progress| {
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        bar.set_position(p.day.min(p.days));
        bar.set_message(format!("{} orders, {:.0} events/s", p.orders, p.events as f64 / secs));
    };
    let summary = fieldhouse_sim::simulate(data_dir, cfg, Some(&report))
        .with_context(|| format!("simulating into {}", data_dir.display()))?;
    bar.finish_and_clear();
    Ok(summary)
}
