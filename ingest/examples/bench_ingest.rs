//! Benchmark helper for `bench/ingest/run.sh`.
//!
//! - `bench_ingest gen N FILE`: write N simulated events as NDJSON (the sample
//!   events of every type, cycled, with fresh ids and times over a year).
//! - `bench_ingest ingest FILE LAKE_DIR [FLUSH_ROWS]`: NDJSON → committed Delta
//!   rows; prints one JSON line with rows, seconds and rows per second.
#![allow(clippy::unwrap_used)]

use std::io::{BufReader, BufWriter, Write};
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use fieldhouse_domain::samples::sample_events;
use fieldhouse_ingest::{Format, IngestOptions, Ingestor, Lake};
use uuid::Uuid;

/// The same allocator as the `fieldhouse` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("gen") => {
            let n: usize = args[2].parse()?;
            let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&args[3])?);
            let samples = sample_events();
            let base = Utc.with_ymd_and_hms(2025, 10, 1, 0, 0, 0).unwrap();
            for i in 0..n {
                let mut e = samples[i % samples.len()].clone();
                e.event_id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | (i as u128 + 1));
                e.occurred_at = base + Duration::seconds((i as i64 * 6_311) % (365 * 86_400));
                e.recorded_at = Some(e.occurred_at + Duration::seconds(3));
                out.write_all(e.to_json().as_bytes())?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        Some("ingest") => {
            let flush_rows = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(500_000);
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(async {
                let lake = Lake::open(&args[3]).await?;
                let opts = IngestOptions { flush_rows, keep_records: false, ..IngestOptions::default() };
                let file = BufReader::with_capacity(1 << 20, std::fs::File::open(&args[2])?);
                let started = Instant::now();
                let report = Ingestor::new(lake, opts).ingest_reader(Format::Ndjson, file, "bench", "file").await?;
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "{}",
                    serde_json::json!({"rows": report.accepted, "rejected": report.rejected,
                        "seconds": secs, "rows_per_second": report.accepted as f64 / secs})
                );
                anyhow::Ok(())
            })?;
        }
        _ => anyhow::bail!("usage: bench_ingest gen N FILE | ingest FILE LAKE_DIR [FLUSH_ROWS]"),
    }
    Ok(())
}
