//! `fieldhouse simulate`: drive the operational core with a simulated
//! service organisation (months of orders, visits, parts, invoices,
//! payments and claims), deterministic from `--seed`: in-process into
//! `<data-dir>/ops.db`, or with `--target` over HTTP to a running server
//! (the simulator as a real client and load generator).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::Args;
use fieldhouse_sim::{Progress, SimConfig, SimSummary, Size};
use indicatif::{ProgressBar, ProgressStyle};

/// Options of `fieldhouse simulate`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    fieldhouse --data-dir ./data simulate --size small\n  \
    fieldhouse --data-dir ./srv token create --role admin --quiet > token.txt\n  \
    fieldhouse --data-dir ./srv serve &\n  \
    FIELDHOUSE_TOKEN=$(cat token.txt) fieldhouse simulate --size small --target http://127.0.0.1:8080")]
pub(crate) struct SimulateArgs {
    /// Size preset: `small` (20 technicians, 3 months), `default` (200
    /// technicians, 12 months) or `large` (2,000 technicians, 24 months).
    #[arg(long, default_value = "default")]
    pub(crate) size: Size,
    /// Seed of the random generator: the same seed and options give an identical event stream.
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Months to simulate (overrides the preset).
    #[arg(long)]
    pub(crate) months: Option<u32>,
    /// Number of technicians (overrides the preset; the installed base scales with it).
    #[arg(long)]
    pub(crate) technicians: Option<u32>,
    /// First simulated day, e.g. 2026-01-01.
    #[arg(long)]
    pub(crate) start: Option<NaiveDate>,
    /// No progress bar.
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Send the operations over HTTP to the server at this address
    /// (`http://host:port` of a running `fieldhouse serve`) instead of writing
    /// `<data-dir>/ops.db` in-process: each operation is the matching
    /// `/api/v1/` request. The server's outbox must be empty (serve a fresh
    /// data directory); the events are the same as in-process for the same
    /// seed, except the ids the server assigns. Plain http only.
    #[arg(long, value_name = "URL")]
    pub(crate) target: Option<String>,
    /// Bearer token sent as `Authorization: Bearer <token>` on every request
    /// to --target (a role that may write master data, orders and billing:
    /// admin; `fieldhouse token create --role admin` makes one). Ignored without --target.
    #[arg(long, env = "FIELDHOUSE_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub(crate) token: Option<String>,
}

impl SimulateArgs {
    /// The simulation these options describe.
    pub(crate) fn config(&self) -> SimConfig {
        let mut cfg = SimConfig::preset(self.size);
        if let Some(seed) = self.seed {
            cfg.seed = seed;
        }
        if let Some(m) = self.months {
            cfg.months = m;
        }
        if let Some(t) = self.technicians {
            cfg.technicians = t;
        }
        if let Some(s) = self.start {
            cfg.start = s;
        }
        cfg
    }
}

/// Run `fieldhouse simulate` into `<data_dir>/ops.db`, or over HTTP to `--target`.
pub(crate) fn run(data_dir: &Path, args: SimulateArgs) -> Result<ExitCode> {
    let cfg = args.config();
    cfg.validate()?;
    let days = (cfg.end() - cfg.start).num_days().max(1) as u64;
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(days) };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} day {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let report = |p: Progress| {
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        bar.set_position(p.day.min(p.days));
        bar.set_message(format!("{} orders, {} events, {:.0} events/s", p.orders, p.events, p.events as f64 / secs));
    };
    let (summary, into) = match &args.target {
        Some(target) => {
            let summary = fieldhouse_sim::simulate_http(target, args.token.as_deref(), &cfg, Some(&report))
                .with_context(|| format!("simulating over HTTP to {target}"))?;
            (summary, target.clone())
        }
        None => {
            let summary = fieldhouse_sim::simulate(data_dir, &cfg, Some(&report))
                .with_context(|| format!("simulating into {}", data_dir.display()))?;
            (summary, data_dir.join("ops.db").display().to_string())
        }
    };
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&cfg, &summary, secs, &into);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(cfg: &SimConfig, s: &SimSummary, secs: f64, into: &str) {
    let pct = |a: u64, b: u64| if b == 0 { 0.0 } else { 100.0 * a as f64 / b as f64 };
    println!("simulated {} months from {} (seed {}) into {into}", cfg.months, cfg.start, cfg.seed);
    println!(
        "  organisation   {} customers, {} units installed, {} technicians",
        s.customers, s.equipment, s.technicians
    );
    println!("  orders         {} ({} preventive), {} visits", s.orders, s.preventive_orders, s.visits);
    println!(
        "  first visits   {:.1} % of corrective orders fixed on the first visit; {} parts consumed, {} stock-outs",
        pct(s.first_time_fixes, s.orders.saturating_sub(s.preventive_orders).max(1)),
        s.parts_consumed,
        s.stock_outs
    );
    println!(
        "  billing        {} invoices, {} payments, {} credit notes, {} completed orders never invoiced",
        s.invoices, s.payments, s.credit_notes, s.never_invoiced
    );
    println!("  claims         {} filed, {} suspect", s.claims, s.suspect_claims);
    println!("  mobile sync    {} offline batches, {} sent twice", s.mobile_batches, s.mobile_batches_resent);
    println!(
        "  events         {} in {:.1} s ({:.0} events/s), {} operations, {} refused",
        s.events,
        secs,
        s.events as f64 / secs.max(1e-3),
        s.operations,
        s.refused
    );
    for (op, (n, msg)) in &s.refusals {
        println!("    refused {op} x{n}: {msg}");
    }
}
