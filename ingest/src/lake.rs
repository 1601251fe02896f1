//! [`Lake`]: the Delta tables `events` and `rejected_events` under one lake
//! location, and the operations ingest needs on them.
//!
//! - Local lakes (a path or `file://` URL) go through [`FsyncStore`], so a
//!   commit that returned is on disk.
//! - Both tables stay at Delta protocol (reader 1, writer 2): only plain
//!   types, `Timestamp(Microsecond, "UTC")`, no deletion vectors, no column
//!   mapping. A checkpoint is written every 100 commits
//!   (`delta.checkpointInterval`, written by the post-commit hook).
//! - `s3://bucket/prefix` lakes go through object_store's S3 client (see
//!   [`crate::storage`]; call [`crate::storage::register_s3`] first).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use arrow::array::{
    Array, ArrayRef, AsArray, Date32Builder, Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::compute::{SortColumn, lexsort_to_indices, take_record_batch};
use arrow::datatypes::{DataType, Date32Type, Field, Schema, SchemaRef};
use chrono::{DateTime, Utc};
use deltalake::datafusion::prelude::{SessionContext, col, lit};
use deltalake::datafusion::scalar::ScalarValue;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::kernel::{StructType, Transaction};
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError, TableProperty};
use fieldhouse_domain::arrow_schema::{PARTITION_COLUMN, events_schema, timestamp_type};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use tracing::{debug, info};

use crate::error::{Error, Result, is_conflict};
use crate::storage::LakeUrl;
use crate::store::FsyncStore;

/// Name of the events table (directory under the lake root).
pub const EVENTS: &str = "events";
/// Name of the dead-letter table.
pub const REJECTED: &str = "rejected_events";
/// Partition column of `rejected_events`.
pub const REJECTED_PARTITION: &str = "received_date";
/// Commits between checkpoints.
pub const CHECKPOINT_INTERVAL: u64 = 100;
/// The Delta `txn` application id of the outbox relay.
pub const OUTBOX_APP_ID: &str = "fieldhouse-outbox";

static REJECTED_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("batch_id", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("record_index", DataType::Int64, false),
        Field::new("event_id", DataType::Utf8, true),
        Field::new("field", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("raw", DataType::Utf8, false),
        Field::new("received_at", timestamp_type(), false),
        Field::new(REJECTED_PARTITION, DataType::Date32, false),
    ]))
});

/// The Arrow schema of `rejected_events`.
pub fn rejected_schema() -> SchemaRef {
    REJECTED_SCHEMA.clone()
}

/// One dead letter: a record that could not become an event, with why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rejected {
    /// The batch it came in (idempotency key, file name + run id, or `outbox`).
    pub batch_id: String,
    /// Where the batch came from: `http`, `file`, `outbox`.
    pub source: String,
    /// 0-based position of the record in its batch.
    pub record_index: i64,
    /// The record's `event_id` when it could be read.
    pub event_id: Option<String>,
    /// The offending field, when the problem is about one field.
    pub field: Option<String>,
    pub reason: String,
    /// The record's text as received (one NDJSON line, one array element, one CSV row).
    pub raw: String,
    pub received_at: DateTime<Utc>,
}

fn rejected_batch(rows: &[Rejected]) -> Result<RecordBatch> {
    let n = rows.len();
    let mut batch_id = StringBuilder::new();
    let mut source = StringBuilder::new();
    let mut index = Int64Builder::with_capacity(n);
    let mut event_id = StringBuilder::new();
    let mut field = StringBuilder::new();
    let mut reason = StringBuilder::new();
    let mut raw = StringBuilder::new();
    let mut received_at = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut received_date = Date32Builder::with_capacity(n);
    for r in rows {
        batch_id.append_value(&r.batch_id);
        source.append_value(&r.source);
        index.append_value(r.record_index);
        event_id.append_option(r.event_id.as_deref());
        field.append_option(r.field.as_deref());
        reason.append_value(&r.reason);
        raw.append_value(&r.raw);
        received_at.append_value(r.received_at.timestamp_micros());
        received_date.append_value(days_since_epoch(&r.received_at));
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(batch_id.finish()),
        Arc::new(source.finish()),
        Arc::new(index.finish()),
        Arc::new(event_id.finish()),
        Arc::new(field.finish()),
        Arc::new(reason.finish()),
        Arc::new(raw.finish()),
        Arc::new(received_at.finish()),
        Arc::new(received_date.finish()),
    ];
    RecordBatch::try_new(rejected_schema(), columns).map_err(|source| Error::Arrow { table: REJECTED.into(), source })
}

/// Days since 1970-01-01 of an instant's UTC date (the `Date32` value).
pub fn days_since_epoch(t: &DateTime<Utc>) -> i32 {
    i32::try_from(t.timestamp().div_euclid(86_400)).unwrap_or(i32::MAX)
}

/// A summary of one table, for `fieldhouse lake check`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableReport {
    pub table: String,
    pub version: i64,
    pub files: usize,
    pub rows: u64,
    pub min_reader_version: i32,
    pub min_writer_version: i32,
    /// The outbox relay's transaction version (`events` only).
    pub outbox_txn_version: Option<i64>,
}

/// What `optimize` did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OptimizeReport {
    pub table: String,
    pub files_added: u64,
    pub files_removed: u64,
    pub partitions_optimized: u64,
}

/// The Delta tables of one lake location (a local directory or an S3 prefix).
#[derive(Debug, Clone)]
pub struct Lake {
    location: LakeUrl,
}

impl Lake {
    /// Open the lake at `location` (a local path or `file://` URL), creating
    /// the directory and both tables when missing.
    pub async fn open(location: &str) -> Result<Lake> {
        let lake = Lake::at(location)?;
        lake.ensure_tables().await?;
        Ok(lake)
    }

    /// The lake at `location` (see [`LakeUrl::parse`]), creating a local
    /// lake's directory, without touching the tables.
    pub fn at(location: &str) -> Result<Lake> {
        Ok(Lake { location: LakeUrl::parse(location)? })
    }

    /// Where the lake is.
    pub fn location(&self) -> &LakeUrl {
        &self.location
    }

    /// The location of table `name`, as other engines should be given it
    /// (a directory for a local lake, else the URL).
    pub fn table_location(&self, name: &str) -> String {
        let url = self.location.table(name);
        crate::storage::local_path(&url).map_or_else(|| url.to_string(), |p| p.display().to_string())
    }

    fn builder(&self, name: &str) -> Result<DeltaTableBuilder> {
        let url = self.location.table(name);
        let builder = DeltaTableBuilder::from_url(url.clone()).map_err(Error::delta(name, "locate"))?;
        let Some(root) = self.location.local_dir() else { return Ok(builder) };
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        let store = Arc::new(FsyncStore::new(root));
        Ok(builder.with_storage_backend(store, url))
    }

    /// Load table `name` at its latest version.
    pub async fn load(&self, name: &str) -> Result<DeltaTable> {
        self.builder(name)?.load().await.map_err(Error::delta(name, "load"))
    }

    /// Create both tables if they do not exist yet. Safe against a concurrent creator.
    pub async fn ensure_tables(&self) -> Result<()> {
        self.ensure_table(EVENTS, events_schema(), PARTITION_COLUMN).await?;
        self.ensure_table(REJECTED, rejected_schema(), REJECTED_PARTITION).await?;
        Ok(())
    }

    async fn ensure_table(&self, name: &str, schema: SchemaRef, partition: &str) -> Result<DeltaTable> {
        let mut table = self.builder(name)?.build().map_err(Error::delta(name, "open"))?;
        // Probe for the log first: loading a table that is not there makes
        // the Delta kernel log an error on a healthy first run.
        if table.verify_deltatable_existence().await.map_err(Error::delta(name, "probe"))? {
            match table.load().await {
                Ok(()) => return Ok(table),
                Err(DeltaTableError::NotATable(_)) => {}
                Err(e) => return Err(Error::delta(name, "load")(e)),
            }
        }
        let fields: StructType =
            schema.as_ref().try_into_kernel().map_err(|e| Error::delta(name, "convert schema")(e.into()))?;
        let created = table
            .create()
            .with_table_name(name)
            .with_columns(fields.fields().cloned())
            .with_partition_columns([partition])
            .with_configuration_property(TableProperty::CheckpointInterval, Some(CHECKPOINT_INTERVAL.to_string()))
            .with_save_mode(SaveMode::Ignore)
            .await;
        match created {
            Ok(t) => {
                info!(table = name, "created delta table");
                Ok(t)
            }
            // Another process created it between our load and our create.
            Err(e) if is_conflict(&e) => self.load(name).await,
            Err(e) => Err(Error::delta(name, "create")(e)),
        }
    }

    /// The application transaction version `app_id` last committed to `table`.
    pub async fn txn_version(table: &DeltaTable, app_id: &str) -> Result<Option<i64>> {
        let state = table.snapshot().map_err(Error::delta(EVENTS, "snapshot"))?;
        state.transaction_version(table.log_store().as_ref(), app_id).await.map_err(Error::delta(EVENTS, "read txn"))
    }

    /// Append `batches` to `table` in one commit; with `txn`, the commit also
    /// carries `txn(app_id, version)`. Returns the table at the new version.
    /// The commit is durable when this returns (local lakes: [`FsyncStore`]).
    /// Conflicts are returned as errors (see [`Error::is_commit_conflict`]),
    /// never retried blindly here.
    pub async fn append(
        table: DeltaTable,
        name: &str,
        batches: Vec<RecordBatch>,
        txn: Option<(&str, i64)>,
    ) -> Result<DeltaTable> {
        let partition = if name == REJECTED { REJECTED_PARTITION } else { PARTITION_COLUMN };
        let mut props = CommitProperties::default();
        if let Some((app_id, version)) = txn {
            // deltalake's conflict checker fails the commit (instead of rebasing
            // it) when a concurrent commit carries a txn for the same app id.
            props = props.with_application_transaction(Transaction::new(app_id, version));
        }
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let started = Instant::now();
        let write = if name == EVENTS {
            table.write(vec![clustered(batches)?]).with_writer_properties(events_writer_properties())
        } else {
            table.write(batches)
        };
        let table = write
            .with_save_mode(SaveMode::Append)
            .with_partition_columns([partition])
            .with_commit_properties(props)
            .await
            .map_err(Error::delta(name, "append"))?;
        debug!(
            table = name,
            rows,
            version = version_of(&table),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "committed"
        );
        Ok(table)
    }

    /// Write dead letters to `rejected_events` in one commit.
    pub async fn append_rejected(&self, rows: &[Rejected]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let batch = rejected_batch(rows)?;
        let table = self.load(REJECTED).await?;
        // Dead letters carry no txn; a plain append retries on conflicts by itself.
        let props = CommitProperties::default();
        table
            .write(vec![batch])
            .with_save_mode(SaveMode::Append)
            .with_partition_columns([REJECTED_PARTITION])
            .with_commit_properties(props)
            .await
            .map_err(Error::delta(REJECTED, "append"))?;
        Ok(())
    }

    /// Read a whole table into memory (tests and small checks).
    pub async fn read_all(&self, name: &str) -> Result<Vec<RecordBatch>> {
        let table = self.load(name).await?;
        let ctx = SessionContext::new();
        table.update_datafusion_session(&ctx.state()).map_err(Error::delta(name, "register store"))?;
        let provider = table
            .table_provider()
            .await
            .map_err(|source| Error::Query { table: name.into(), source: Box::new(source) })?;
        let df =
            ctx.read_table(provider).map_err(|source| Error::Query { table: name.into(), source: Box::new(source) })?;
        let batches =
            df.collect().await.map_err(|source| Error::Query { table: name.into(), source: Box::new(source) })?;
        batches.iter().map(|b| plain_types(b).map_err(|source| Error::Arrow { table: name.into(), source })).collect()
    }

    /// The `event_id`s already in `events` for the given partition dates, by date.
    pub async fn ids_on_dates(&self, table: &DeltaTable, dates: &[i32]) -> Result<HashMap<i32, HashSet<u128>>> {
        let mut out: HashMap<i32, HashSet<u128>> = dates.iter().map(|d| (*d, HashSet::new())).collect();
        if dates.is_empty() || table.snapshot().map(|s| s.log_data().num_files()).unwrap_or(0) == 0 {
            return Ok(out);
        }
        let qerr = |source| Error::Query { table: EVENTS.into(), source: Box::new(source) };
        let ctx = SessionContext::new();
        table.update_datafusion_session(&ctx.state()).map_err(Error::delta(EVENTS, "register store"))?;
        let provider = table.table_provider().await.map_err(qerr)?;
        let list = dates.iter().map(|d| lit(ScalarValue::Date32(Some(*d)))).collect();
        let df = ctx
            .read_table(provider)
            .map_err(qerr)?
            .filter(col(PARTITION_COLUMN).in_list(list, false))
            .map_err(qerr)?
            .select_columns(&["event_id", PARTITION_COLUMN])
            .map_err(qerr)?;
        for batch in df.collect().await.map_err(qerr)? {
            let batch = plain_types(&batch).map_err(|source| Error::Arrow { table: EVENTS.into(), source })?;
            let (Some(ids), Some(days)) =
                (batch.column(0).as_string_opt::<i32>(), batch.column(1).as_primitive_opt::<Date32Type>())
            else {
                return Err(Error::Arrow {
                    table: EVENTS.into(),
                    source: arrow::error::ArrowError::SchemaError("event_id/event_date have unexpected types".into()),
                });
            };
            collect_ids(ids, days, &mut out);
        }
        Ok(out)
    }

    /// Version, files, rows and protocol of both tables.
    pub async fn check(&self) -> Result<Vec<TableReport>> {
        let mut out = Vec::new();
        for name in [EVENTS, REJECTED] {
            let table = self.load(name).await?;
            let state = table.snapshot().map_err(Error::delta(name, "snapshot"))?;
            let files = state.log_data().num_files();
            let protocol = state.snapshot().protocol();
            let (r, w) = (protocol.min_reader_version(), protocol.min_writer_version());
            let rows = self.read_all(name).await?.iter().map(|b| b.num_rows() as u64).sum();
            let outbox_txn_version =
                if name == EVENTS { Lake::txn_version(&table, OUTBOX_APP_ID).await? } else { None };
            out.push(TableReport {
                table: name.into(),
                version: version_of(&table).unwrap_or(-1),
                files,
                rows,
                min_reader_version: r,
                min_writer_version: w,
                outbox_txn_version,
            });
        }
        Ok(out)
    }

    /// Compact small files of table `name` (bin-packing to `target_size` bytes).
    pub async fn optimize(&self, name: &str, target_size: Option<u64>) -> Result<OptimizeReport> {
        let table = self.load(name).await?;
        let mut builder = table.optimize();
        if let Some(size) = target_size.and_then(std::num::NonZeroU64::new) {
            builder = builder.with_target_size(size);
        }
        if name == EVENTS {
            // Compaction concatenates files: each input file's rows stay one run in type order, in the same
            // small pages (see [`clustered`]).
            builder = builder.with_writer_properties(events_writer_properties());
        }
        let (_, m) = builder.await.map_err(Error::delta(name, "optimize"))?;
        info!(table = name, added = m.num_files_added, removed = m.num_files_removed, "optimized");
        Ok(OptimizeReport {
            table: name.into(),
            files_added: m.num_files_added,
            files_removed: m.num_files_removed,
            partitions_optimized: m.partitions_optimized,
        })
    }

    /// Delete files no longer referenced and older than `retention_hours`
    /// (default 7 days). Returns the deleted (or, dry run, deletable) files.
    pub async fn vacuum(&self, name: &str, retention_hours: u64, dry_run: bool) -> Result<Vec<String>> {
        let table = self.load(name).await?;
        let hours = i64::try_from(retention_hours).unwrap_or(i64::MAX);
        let (_, m) = table
            .vacuum()
            .with_retention_period(chrono::Duration::hours(hours))
            .with_enforce_retention_duration(false)
            .with_dry_run(dry_run)
            .await
            .map_err(Error::delta(name, "vacuum"))?;
        info!(table = name, files = m.files_deleted.len(), dry_run, "vacuumed");
        Ok(m.files_deleted)
    }

    /// Compact both tables every `every` (for `fieldhouse serve`) until
    /// `shutdown` resolves; failures are logged and retried at the next tick.
    pub async fn compact_forever(&self, every: std::time::Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is immediate; compact after one period
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tick.tick() => {
                    for name in [EVENTS, REJECTED] {
                        if let Err(e) = self.optimize(name, None).await {
                            tracing::warn!(table = name, error = %e, "scheduled compaction failed");
                        }
                    }
                }
            }
        }
    }

    /// Write a checkpoint of table `name` at its current version.
    pub async fn checkpoint(&self, name: &str) -> Result<i64> {
        let table = self.load(name).await?;
        deltalake::checkpoints::create_checkpoint(&table, None).await.map_err(Error::delta(name, "checkpoint"))?;
        Ok(version_of(&table).unwrap_or(-1))
    }
}

/// The rows of one `events` commit in the order they are written: by
/// `event_type`, then `occurred_at` (then `event_id`, so the order is total).
///
/// Every view and KPI filters `events` on `event_type` first (`order_opened`
/// is 7 % of the rows, `contract_signed` far less). With the rows of a type
/// together in each file, the page index prunes the other types' pages and a
/// filtered scan decodes only its own: this, with small pages
/// ([`events_writer_properties`]), is the lake's clustering. Any reader
/// still sees the same rows; only their order in a file changes.
pub fn clustered(batches: Vec<RecordBatch>) -> Result<RecordBatch> {
    let arrow_err = |source| Error::Arrow { table: EVENTS.into(), source };
    let schema = batches.first().map_or_else(events_schema, RecordBatch::schema);
    let batch = arrow::compute::concat_batches(&schema, &batches).map_err(arrow_err)?;
    drop(batches);
    let key = |name: &str| -> Result<SortColumn> {
        let values = batch.column_by_name(name).cloned().ok_or_else(|| Error::Arrow {
            table: EVENTS.into(),
            source: arrow::error::ArrowError::SchemaError(format!("no column `{name}` to cluster by")),
        })?;
        Ok(SortColumn { values, options: None })
    };
    let order =
        lexsort_to_indices(&[key("event_type")?, key("occurred_at")?, key("event_id")?], None).map_err(arrow_err)?;
    take_record_batch(&batch, &order).map_err(arrow_err)
}

/// Parquet settings of `events` files: Snappy (deltalake's default) and data
/// pages of at most 4,096 rows (parquet's default is 20,000: one or two pages
/// per column in a day's file, too coarse for the page index to skip a type).
pub fn events_writer_properties() -> WriterProperties {
    WriterProperties::builder().set_compression(Compression::SNAPPY).set_data_page_row_count_limit(4096).build()
}

/// DataFusion reads strings as `Utf8View` and partition values as
/// dictionaries; cast them back to the plain types of the table schema
/// (what `from_record_batch` expects).
pub fn plain_types(batch: &RecordBatch) -> std::result::Result<RecordBatch, arrow::error::ArrowError> {
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        let target = match f.data_type() {
            DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
            DataType::Dictionary(_, v) => match v.as_ref() {
                DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
                other => other.clone(),
            },
            other => other.clone(),
        };
        let col = if &target == f.data_type() { c.clone() } else { arrow::compute::cast(c, &target)? };
        fields.push(Field::new(f.name(), target, f.is_nullable()));
        columns.push(col);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// The table's version as a signed number (`None` before the first commit is loaded).
pub fn version_of(table: &DeltaTable) -> Option<i64> {
    table.version().and_then(|v| i64::try_from(v).ok())
}

fn collect_ids(
    ids: &arrow::array::StringArray,
    days: &arrow::array::Date32Array,
    out: &mut HashMap<i32, HashSet<u128>>,
) {
    for i in 0..ids.len() {
        if ids.is_null(i) || days.is_null(i) {
            continue;
        }
        if let Ok(id) = uuid::Uuid::parse_str(ids.value(i)) {
            out.entry(days.value(i)).or_default().insert(id.as_u128());
        }
    }
}
