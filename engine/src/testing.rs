//! Test support: write typed events into a Delta `events` table under
//! `<data_dir>/lake/events`, one commit per call (from async code, or from
//! any code with [`write_events_blocking`]).

use std::path::Path;

use deltalake::DeltaTableBuilder;
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::protocol::SaveMode;
use fieldhouse_domain::arrow_schema::{PARTITION_COLUMN, events_schema, to_record_batch};
use fieldhouse_domain::event::Event;

/// Append `events` to `<data_dir>/lake/events` (created when missing) in one
/// commit; returns the new table version.
pub async fn write_events(data_dir: &Path, events: &[Event]) -> Result<u64, Box<dyn std::error::Error>> {
    let dir = data_dir.join("lake").join("events");
    std::fs::create_dir_all(&dir)?;
    let url = deltalake::ensure_table_uri(dir.display().to_string())?;
    let mut table = DeltaTableBuilder::from_url(url)?.build()?;
    if table.load().await.is_err() {
        let fields: StructType = events_schema().as_ref().try_into_kernel()?;
        table = table
            .create()
            .with_table_name("events")
            .with_columns(fields.fields().cloned())
            .with_partition_columns([PARTITION_COLUMN])
            .with_save_mode(SaveMode::Ignore)
            .await?;
    }
    let batch = to_record_batch(events)?;
    let table =
        table.write(vec![batch]).with_save_mode(SaveMode::Append).with_partition_columns([PARTITION_COLUMN]).await?;
    Ok(table.version().unwrap_or(0))
}

/// [`write_events`] from code that is not async, or that already runs inside
/// a runtime: on a runtime of its own, on a thread of its own.
pub fn write_events_blocking(data_dir: &Path, events: &[Event]) -> Result<u64, String> {
    std::thread::scope(|scope| -> Result<u64, String> {
        let writer = scope.spawn(|| -> Result<u64, String> {
            let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            rt.block_on(write_events(data_dir, events)).map_err(|e| e.to_string())
        });
        writer.join().map_err(|_| "the thread writing the events panicked".to_string())?
    })
}
