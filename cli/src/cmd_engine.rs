//! `fieldhouse kpi` and `fieldhouse sql`: thin over `fieldhouse_engine`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::runtime;
use anyhow::{Context, Result, bail};
use clap::Args;
use fieldhouse_engine::output::{Format, write_batches};
use fieldhouse_engine::{AsOf, Caller, Engine, KpiRequest, SessionOptions, Source, SqlLimits};

/// Compute a KPI of the catalog, or list the catalog (`--list`).
#[derive(Debug, Args)]
pub(crate) struct KpiArgs {
    /// The KPI's name (see `--list`).
    #[arg(required_unless_present = "list")]
    pub(crate) name: Option<String>,
    /// List the catalog: name, unit, dimensions, parameters, audience.
    #[arg(long)]
    pub(crate) list: bool,
    /// Start of the period (inclusive): RFC 3339 or YYYY-MM-DD.
    #[arg(long)]
    pub(crate) from: Option<String>,
    /// End of the period (exclusive): RFC 3339 or YYYY-MM-DD.
    #[arg(long)]
    pub(crate) to: Option<String>,
    /// Group by these dimensions (repeat or comma-separate), e.g. `--by month,region`.
    #[arg(long = "by", value_delimiter = ',')]
    pub(crate) by: Vec<String>,
    /// Another parameter of the KPI, `NAME=VALUE` (repeatable), e.g. `--param region=North`.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub(crate) params: Vec<String>,
    #[command(flatten)]
    pub(crate) common: QueryArgs,
}

/// Run one read-only SQL query over the lake and its views.
#[derive(Debug, Args)]
pub(crate) struct SqlArgs {
    /// The query (SELECT or WITH ... SELECT; `EXPLAIN ANALYZE <query>` shows its plan with metrics).
    pub(crate) query: String,
    /// At most this many rows.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) max_rows: usize,
    #[command(flatten)]
    pub(crate) common: QueryArgs,
}

/// Options shared by `kpi` and `sql`.
#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    /// Output format: table, csv, json or parquet.
    #[arg(long, default_value = "table")]
    pub(crate) format: String,
    /// Write to this file instead of standard output (needed for parquet on a terminal).
    #[arg(long, short)]
    pub(crate) output: Option<PathBuf>,
    /// Read the lake as of a Delta version number, an RFC 3339 instant or a date.
    #[arg(long)]
    pub(crate) as_of: Option<String>,
    /// The reference instant for SLA states and ages (default: the as-of instant or now).
    #[arg(long)]
    pub(crate) now: Option<String>,
    /// See only this service agent's rows, as its partner users do.
    #[arg(long)]
    pub(crate) agent: Option<uuid::Uuid>,
    /// Read views and KPIs from this `sql/` directory instead of the built-in copies.
    #[arg(long, env = "FIELDHOUSE_SQL_DIR")]
    pub(crate) sql_dir: Option<PathBuf>,
    /// Memory pool in MiB (sorts and joins spill to disk beyond it). Default: half of the machine's memory,
    /// at least 2048.
    #[arg(long)]
    pub(crate) memory_mb: Option<usize>,
    /// Time limit per query in seconds.
    #[arg(long, default_value_t = 300)]
    pub(crate) timeout_secs: u64,
    /// Where views come from: `auto` reads the lake's entity tables when they
    /// reflect the version read (kept current by `fieldhouse ingest` and
    /// `serve`), `events` always computes them from the raw events.
    #[arg(long, default_value = "auto", value_parser = ["auto", "events"])]
    pub(crate) source: String,
    /// Where the query runs: `local` (this process) or `ballista` (an Apache
    /// Ballista cluster of `fieldhouse cluster` nodes; needs --scheduler and a
    /// build with `--features cluster`).
    #[arg(long, default_value = "local", value_parser = ["local", "ballista"])]
    pub(crate) engine: String,
    /// The cluster's scheduler, HOST:PORT (port 50050 when left out), for `--engine ballista`.
    #[arg(long, env = "FIELDHOUSE_CLUSTER_SCHEDULER", value_name = "HOST:PORT")]
    pub(crate) scheduler: Option<String>,
}

impl QueryArgs {
    fn engine(&self, data_dir: &Path) -> Result<Engine> {
        let mut config = crate::lake::engine_config(data_dir)?;
        config.sql_dir = self.sql_dir.clone();
        if let Some(mb) = self.memory_mb {
            config.memory_limit = mb.saturating_mul(1 << 20);
        }
        config.query_timeout = std::time::Duration::from_secs(self.timeout_secs);
        if self.engine == "ballista" {
            let Some(scheduler) = &self.scheduler else {
                bail!("--engine ballista needs --scheduler HOST:PORT (a `fieldhouse cluster scheduler`)")
            };
            if !fieldhouse_engine::CLUSTER_AVAILABLE {
                bail!(
                    "this fieldhouse was built without the cluster engine: \
                     `cargo build --release -p fieldhouse-cli --features cluster`"
                );
            }
            if self.agent.is_some() {
                bail!("--agent runs on the local engine only (a partner's slice is never planned on a cluster)");
            }
            config.cluster = Some(scheduler.clone());
        }
        Ok(Engine::new(config)?)
    }

    fn session(&self) -> Result<SessionOptions> {
        let as_of = match &self.as_of {
            Some(s) => s.parse::<AsOf>()?,
            None => AsOf::Latest,
        };
        let now = match &self.now {
            Some(s) => Some(fieldhouse_domain::event::parse_ts("now", s)?),
            None => None,
        };
        let source = if self.source == "events" { Source::Events } else { Source::Auto };
        Ok(SessionOptions { as_of, now, source })
    }

    fn caller(&self) -> Caller {
        match self.agent {
            Some(a) => Caller::partner(a),
            None => Caller::admin(),
        }
    }

    fn format(&self) -> Result<Format> {
        Ok(self.format.parse::<Format>()?)
    }
}

fn emit(
    common: &QueryArgs,
    stream: fieldhouse_engine::SendableRecordBatchStream,
    rt: &tokio::runtime::Runtime,
) -> Result<()> {
    let schema = stream.schema();
    let batches = rt.block_on(fieldhouse_engine::collect(stream))?;
    let format = common.format()?;
    match &common.output {
        Some(path) => {
            let mut f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
            write_batches(&batches, &schema, format, &mut f)?;
            f.flush()?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            write_batches(&batches, &schema, format, &mut lock)?;
            lock.flush()?;
        }
    }
    Ok(())
}

/// `fieldhouse kpi ...`
pub(crate) fn run_kpi(data_dir: &Path, args: KpiArgs) -> Result<ExitCode> {
    let engine = args.common.engine(data_dir)?;
    if args.list {
        let mut out = String::new();
        for k in engine.catalog().list() {
            let params: Vec<String> = k
                .params
                .iter()
                .map(|p| match &p.default {
                    Some(d) => format!("{}={d}", p.name),
                    None if p.optional => format!("[{}]", p.name),
                    None => p.name.clone(),
                })
                .collect();
            let audience: Vec<&str> = k.audience.iter().map(|r| r.as_str()).collect();
            out.push_str(&format!("{:<28} {}\n", k.name, k.title));
            out.push_str(&format!(
                "{:<28} unit: {}; by: {}\n",
                "",
                k.unit,
                if k.dimensions.is_empty() { "-".into() } else { k.dimensions.join(",") }
            ));
            out.push_str(&format!("{:<28} params: {}; audience: {}\n", "", params.join(" "), audience.join(",")));
        }
        // A reader that stops early (`| head`) is not an error.
        match std::io::stdout().lock().write_all(out.as_bytes()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => return Err(e).context("writing the catalog"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(name) = args.name else { bail!("name a KPI, or use --list") };
    let mut params = BTreeMap::new();
    for p in &args.params {
        let Some((k, v)) = p.split_once('=') else { bail!("--param `{p}` is not NAME=VALUE") };
        params.insert(k.trim().to_string(), v.to_string());
    }
    if let Some(f) = args.from {
        params.insert("from".into(), f);
    }
    if let Some(t) = args.to {
        params.insert("to".into(), t);
    }
    let request = KpiRequest { name, params, by: args.by, session: args.common.session()? };
    let rt = runtime()?;
    let stream = rt.block_on(fieldhouse_engine::run_kpi(&engine, &request, &args.common.caller()))?;
    emit(&args.common, stream, &rt)?;
    Ok(ExitCode::SUCCESS)
}

/// `fieldhouse sql "SELECT ..."`
pub(crate) fn run_sql(data_dir: &Path, args: SqlArgs) -> Result<ExitCode> {
    let engine = args.common.engine(data_dir)?;
    let limits = SqlLimits { max_rows: args.max_rows, timeout: None };
    let rt = runtime()?;
    let session = args.common.session()?;
    let stream =
        rt.block_on(fieldhouse_engine::run_sql(&engine, &args.query, &args.common.caller(), limits, &session))?;
    emit(&args.common, stream, &rt)?;
    Ok(ExitCode::SUCCESS)
}
