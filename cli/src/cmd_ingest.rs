//! `fieldhouse ingest` and `fieldhouse lake ...`: thin over `fieldhouse_ingest`.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::runtime;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use fieldhouse_ingest::lake::{EVENTS, REJECTED};
use fieldhouse_ingest::{Format, IngestOptions, Ingestor, Lake, Limits, Relay, RelayConfig};

/// Land events in the lake: a file of external events (`--file`), or, without
/// a file, one pass of the outbox relay (ops.db → lake/events, exactly once).
#[derive(Debug, Args)]
pub(crate) struct IngestArgs {
    /// A file of events: NDJSON (.ndjson/.jsonl), a JSON array (.json) or CSV
    /// (.csv, header row of flat field names); `-` reads standard input.
    #[arg(long)]
    pub(crate) file: Option<PathBuf>,
    /// The file's format when its extension does not say: ndjson, json or csv.
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Records per commit.
    #[arg(long, default_value_t = 200_000)]
    pub(crate) flush_rows: usize,
    /// Largest record in bytes; larger records are rejected.
    #[arg(long, default_value_t = 1 << 20)]
    pub(crate) max_record_bytes: usize,
    /// How far in the future (hours) an event's time may be before it is rejected.
    #[arg(long, default_value_t = 24)]
    pub(crate) max_future_hours: i64,
    /// Batch id recorded with dead letters. Default: file name + a fresh id.
    #[arg(long)]
    pub(crate) batch_id: Option<String>,
    /// Print the per-record outcomes (JSON) instead of the summary only.
    #[arg(long)]
    pub(crate) records: bool,
    /// Do not bring the entity tables up to date after the commits.
    #[arg(long)]
    pub(crate) no_entities: bool,
}

/// Lake maintenance.
#[derive(Debug, Subcommand)]
pub(crate) enum LakeCommand {
    /// Open both tables; print version, files, rows, protocol and the outbox txn version.
    Check,
    /// Compact small files (bin-packing).
    Optimize {
        /// Target file size in bytes (default: the table's, 100 MiB).
        #[arg(long)]
        target_size: Option<u64>,
    },
    /// Delete files no longer referenced by the table and older than the retention.
    Vacuum {
        /// Retention in hours.
        #[arg(long, default_value_t = 168)]
        retention_hours: u64,
        /// List what would be deleted, delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write a checkpoint of both tables now (one is also written every 100 commits).
    Checkpoint,
    /// Recompute every entity table (lake/entities/<view>) from `events`.
    ///
    /// The entity tables are the views of sql/views kept as Delta tables;
    /// `ingest` and `serve` keep them current by recomputing the keys each
    /// commit touched. A rebuild is for a changed view definition or a check.
    RebuildEntities,
    /// Bring the entity tables up to the latest `events` version (what
    /// `ingest` does after its commits).
    UpdateEntities,
}

/// The lake of this command (see [`crate::lake`]), its tables created when missing.
async fn open_lake(data_dir: &Path) -> Result<Lake> {
    let location = crate::lake::resolve(data_dir)?;
    Lake::open(location.url().as_str()).await.with_context(|| format!("opening the lake at {location}"))
}

/// `fieldhouse ingest`.
pub(crate) fn run(data_dir: &Path, args: IngestArgs) -> Result<ExitCode> {
    runtime()?.block_on(async move {
        let lake = open_lake(data_dir).await?;
        let Some(file) = &args.file else {
            let ops_db = data_dir.join("ops.db");
            if !ops_db.exists() {
                bail!("no --file given and no outbox at {}", ops_db.display());
            }
            let relay = Relay::new(&ops_db, lake)
                .with_config(RelayConfig { chunk_rows: args.flush_rows, ..RelayConfig::default() });
            let stats = relay.run_once().await.context("relaying the outbox")?;
            println!("{}", serde_json::to_string_pretty(&stats)?);
            if !args.no_entities {
                update_entities(data_dir).await?;
            }
            return Ok(ExitCode::SUCCESS);
        };
        let format = match &args.format {
            Some(f) => f.parse::<Format>()?,
            None => Format::from_path(file).with_context(|| {
                format!("cannot tell the format of {} from its extension; use --format", file.display())
            })?,
        };
        let options = IngestOptions {
            limits: Limits {
                max_record_bytes: args.max_record_bytes,
                max_future: chrono::Duration::hours(args.max_future_hours),
                ..Limits::default()
            },
            flush_rows: args.flush_rows,
            keep_records: args.records,
            ..IngestOptions::default()
        };
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "stdin".into());
        let batch_id = args.batch_id.clone().unwrap_or_else(|| format!("file:{name}:{}", uuid_like()));
        let mut ingestor = Ingestor::new(lake, options);
        let report = if file.as_os_str() == "-" {
            ingestor.ingest_reader(format, std::io::stdin().lock(), &batch_id, "file").await?
        } else {
            let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
            ingestor.ingest_reader(format, BufReader::with_capacity(1 << 20, f), &batch_id, "file").await?
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
        if !args.no_entities {
            update_entities(data_dir).await?;
        }
        Ok(if report.rejected > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
    })
}

/// Bring the entity tables of the lake up to date; a one-line summary on stderr.
pub(crate) async fn update_entities(data_dir: &Path) -> Result<fieldhouse_engine::EntityReport> {
    let engine = crate::lake::engine(data_dir)?;
    let report = engine
        .maintain_entities(fieldhouse_engine::MaintainOptions::default())
        .await
        .context("bringing the entity tables up to date")?;
    let written = report.tables.iter().filter(|t| t.mode != "unchanged").count();
    eprintln!(
        "entity tables: {written} of {} written, now at events version {} ({} ms)",
        engine.entity_names().count(),
        report.events_version,
        report.ms
    );
    Ok(report)
}

fn uuid_like() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ").to_string()
}

/// `fieldhouse lake ...`.
pub(crate) fn run_lake(data_dir: &Path, cmd: LakeCommand) -> Result<ExitCode> {
    runtime()?.block_on(async move {
        match cmd {
            LakeCommand::Check => {
                let lake = open_lake(data_dir).await?;
                let reports = lake.check().await?;
                println!("{}", serde_json::to_string_pretty(&reports)?);
            }
            LakeCommand::Optimize { target_size } => {
                let lake = open_lake(data_dir).await?;
                for t in [EVENTS, REJECTED] {
                    println!("{}", serde_json::to_string(&lake.optimize(t, target_size).await?)?);
                }
                let engine = crate::lake::engine(data_dir)?;
                for (table, removed, added) in engine.compact_entities().await? {
                    println!(
                        "{}",
                        serde_json::json!({"table": format!("entities/{table}"), "files_removed": removed, "files_added": added})
                    );
                }
            }
            LakeCommand::RebuildEntities => {
                let engine = crate::lake::engine(data_dir)?;
                let options = fieldhouse_engine::MaintainOptions { rebuild: true, ..Default::default() };
                let report = engine.maintain_entities(options).await.context("rebuilding the entity tables")?;
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
            LakeCommand::UpdateEntities => {
                let report = update_entities(data_dir).await?;
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
            LakeCommand::Vacuum { retention_hours, dry_run } => {
                let lake = open_lake(data_dir).await?;
                for t in [EVENTS, REJECTED] {
                    let files = lake.vacuum(t, retention_hours, dry_run).await?;
                    println!("{}", serde_json::json!({"table": t, "dry_run": dry_run, "files": files}));
                }
            }
            LakeCommand::Checkpoint => {
                let lake = open_lake(data_dir).await?;
                for t in [EVENTS, REJECTED] {
                    let v = lake.checkpoint(t).await?;
                    println!("{}", serde_json::json!({"table": t, "checkpoint_version": v}));
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
