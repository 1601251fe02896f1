//! Run a preset and print the summary with events per second.
//!
//! `cargo run --release -p fieldhouse-tests --example simulate -- [small|default|large] [BACKEND] [DATA_DIR] [--months N]`
//!
//! Backends: `memory` (the in-memory reference core), `ops` (the library
//! path: `fieldhouse_ops::Ops` in-process into `DATA_DIR/ops.db`, a bulk
//! load committing in batches, as `fieldhouse simulate` runs it),
//! `ops-unbatched` (the same with one durable commit per operation, as the
//! HTTP API commits: the same outbox, the baseline of the batching), `http`
//! (the HTTP path: the full API in-process on 127.0.0.1, auth on, over
//! `DATA_DIR/ops.db`), or an `http://host:port` URL of a running
//! `fieldhouse serve` (token from `FIELDHOUSE_TOKEN`). `--months N` bounds the run;
//! `--start YYYY-MM-DD` moves its first day (default 2026-01-01; ingest rejects
//! events more than a day ahead of the clock, so a lake of the whole `large`
//! preset needs a start 24 months back).
//! `--ndjson FILE` (memory backend only) writes the in-memory core's outbox,
//! in order, as NDJSON: a quick way to a big lake for benchmarks
//! (`bench_ingest ingest FILE LAKE_DIR`) without the hours the SQLite core
//! takes for the `large` preset.

use std::time::Instant;

use fieldhouse_sim::{SimConfig, Size};

mod common;
use common::{BoxError, LocalServer};

fn main() -> Result<(), BoxError> {
    let mut positional = Vec::new();
    let mut months = None;
    let mut ndjson: Option<std::path::PathBuf> = None;
    let mut start = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--months" {
            months = Some(args.next().ok_or("--months N")?.parse::<u32>()?);
        } else if a == "--start" {
            let day = args.next().ok_or("--start YYYY-MM-DD")?;
            start = Some(chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d")?);
        } else if a == "--ndjson" {
            ndjson = Some(args.next().ok_or("--ndjson FILE")?.into());
        } else {
            positional.push(a);
        }
    }
    let size: Size = positional.first().map_or("small", String::as_str).parse()?;
    let backend = positional.get(1).map_or("memory", String::as_str).to_string();
    let dir = positional.get(2).map_or_else(|| std::env::temp_dir().join("fieldhouse-sim-bench"), Into::into);
    let mut cfg = SimConfig::preset(size);
    if let Some(m) = months {
        cfg.months = m;
    }
    if let Some(d) = start {
        cfg.start = d;
    }
    if ndjson.is_some() && backend != "memory" {
        return Err("--ndjson needs the memory backend".into());
    }
    let started;
    let summary = match backend.as_str() {
        "memory" => {
            started = Instant::now();
            let mut core = fieldhouse_sim::memory::MemoryCore::new();
            let summary = fieldhouse_sim::simulate_with(&mut core, &cfg, None)?;
            if let Some(path) = &ndjson {
                use std::io::Write;
                let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
                for e in core.events() {
                    out.write_all(e.to_json().as_bytes())?;
                    out.write_all(b"\n")?;
                }
                out.flush()?;
                eprintln!("wrote {} events to {}", core.events().len(), path.display());
            }
            summary
        }
        "ops" => {
            started = Instant::now();
            fieldhouse_sim::simulate(&dir, &cfg, None)?
        }
        "ops-unbatched" => {
            started = Instant::now();
            fieldhouse_sim::simulate_unbatched(&dir, &cfg, None)?
        }
        "http" => {
            std::fs::create_dir_all(&dir)?;
            let server = LocalServer::start(&dir, Some(cfg.seed))?;
            started = Instant::now();
            fieldhouse_sim::simulate_http(&server.base, Some(&server.token), &cfg, None)?
        }
        url => {
            started = Instant::now();
            let token = std::env::var("FIELDHOUSE_TOKEN").ok();
            fieldhouse_sim::simulate_http(url, token.as_deref(), &cfg, None)?
        }
    };
    let secs = started.elapsed().as_secs_f64();
    println!("{}", serde_json::to_string_pretty(&summary)?);
    println!(
        "backend={backend} size={size:?} months={} events={} seconds={secs:.1} events_per_second={:.0}",
        cfg.months,
        summary.events,
        summary.events as f64 / secs
    );
    Ok(())
}
