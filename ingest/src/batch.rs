//! External batches (files and HTTP bodies) into `events`: validate, drop
//! duplicates, dead-letter the bad records, commit.
//!
//! **Duplicates.** An event is a duplicate when an event with the same
//! `event_id` and the same `event_date` (UTC date of `occurred_at`) is already
//! in `events`, or earlier in the same batch. A re-sent event has the same
//! `occurred_at`, so every re-send is caught, however old; the check reads only
//! the partitions the batch touches. An [`Ingestor`] caches the ids of the
//! partitions it has read, keyed by table version: the cache is kept across
//! its own commits and dropped when another writer committed in between, and
//! dropped when it holds more than `dedupe_cache_ids` ids (bounded memory).
//!
//! **Durability.** The answer (a [`BatchReport`]) is returned only after the
//! dead letters and the events are committed, i.e. durable.
//!
//! **Flushing.** Records are committed in chunks of `flush_rows` records or
//! `flush_bytes` bytes, whichever comes first; when reading a slow stream a
//! chunk is also flushed at the first record after `flush_age`.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};
use deltalake::DeltaTable;
use fieldhouse_domain::arrow_schema::to_record_batch;
use fieldhouse_domain::event::Event;
use tracing::info;

use crate::decode::{Format, Limits, RawRecord, RecordReader};
use crate::error::{Error, Result};
use crate::lake::{EVENTS, Lake, Rejected, days_since_epoch, version_of};
use crate::metrics::Metrics;

/// Settings of external-batch ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub limits: Limits,
    /// Records per commit (flush by size). Default 200 000.
    pub flush_rows: usize,
    /// Bytes of input per commit (flush by size). Default 128 MiB.
    pub flush_bytes: usize,
    /// Flush a chunk at the first record after this age (slow streams). Default 10 s.
    pub flush_age: Duration,
    /// Keep the per-record outcome list in the report (HTTP: yes; big files: no).
    pub keep_records: bool,
    /// Threads used to decode and build batches. Default: all cores.
    pub threads: usize,
    /// Largest number of ids the duplicate cache holds before it is dropped.
    pub dedupe_cache_ids: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            limits: Limits::default(),
            flush_rows: 200_000,
            flush_bytes: 128 << 20,
            flush_age: Duration::from_secs(10),
            keep_records: true,
            threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            dedupe_cache_ids: 20_000_000,
        }
    }
}

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Accepted { event_id: String },
    Duplicate { event_id: String },
    Rejected { field: Option<String>, reason: String, event_id: Option<String> },
}

/// One record's outcome with its position in the batch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordOutcome {
    pub index: u64,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The answer to a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BatchReport {
    pub batch_id: String,
    pub records: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// The `events` table version after the last commit of this batch.
    pub lake_version: Option<i64>,
    /// Per-record outcomes, in input order (omitted for large file ingests).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<RecordOutcome>,
}

#[derive(Debug, Default)]
struct DedupeCache {
    version: Option<i64>,
    by_date: HashMap<i32, HashSet<u128>>,
    ids: usize,
}

/// Ingests external batches into one lake.
#[derive(Debug)]
pub struct Ingestor {
    lake: Lake,
    options: IngestOptions,
    metrics: Arc<Metrics>,
    cache: DedupeCache,
}

type Validated = crate::decode::Decoded;

impl Ingestor {
    pub fn new(lake: Lake, options: IngestOptions) -> Ingestor {
        Ingestor { lake, options, metrics: Arc::default(), cache: DedupeCache::default() }
    }

    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Ingestor {
        self.metrics = metrics;
        self
    }

    pub fn options(&self) -> &IngestOptions {
        &self.options
    }

    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    /// Ingest a whole in-memory body as one batch (one commit for events).
    pub async fn ingest_body(
        &mut self,
        format: Format,
        body: &[u8],
        batch_id: &str,
        source: &str,
    ) -> Result<BatchReport> {
        let limits = self.options.limits;
        if body.len() > limits.max_body_bytes {
            return Err(Error::BodyTooLarge { size: body.len(), limit: limits.max_body_bytes });
        }
        if format == Format::Ndjson && std::str::from_utf8(body).is_err() {
            return Err(Error::MalformedBody { format: "ndjson", message: "body is not UTF-8".into() });
        }
        let mut reader = RecordReader::new(format, body)?;
        let records = reader.next_chunk(usize::MAX)?;
        let mut report = BatchReport { batch_id: batch_id.to_string(), ..BatchReport::default() };
        self.ingest_chunk(records, batch_id, source, &mut report).await?;
        Ok(report)
    }

    /// Ingest a stream (a file) in chunks, each chunk one commit.
    ///
    /// Pipelined: while one chunk is being encoded as Parquet and committed
    /// (a background task), the next one is read and validated. Chunks are
    /// still committed one at a time and in order, and a chunk's duplicates
    /// are checked against the lake after the commit before it, so the
    /// outcome is the same as committing them one after the other. At most
    /// two chunks are in memory at once (memory is bounded by `flush_rows` /
    /// `flush_bytes`, not by the input's size).
    pub async fn ingest_reader<R: BufRead>(
        &mut self,
        format: Format,
        input: R,
        batch_id: &str,
        source: &str,
    ) -> Result<BatchReport> {
        let mut reader = RecordReader::new(format, input)?;
        let mut report = BatchReport { batch_id: batch_id.to_string(), ..BatchReport::default() };
        let mut table: Option<DeltaTable> = None;
        let mut inflight: Option<(Pending, Commit)> = None;
        loop {
            let records = self.read_chunk(&mut reader)?;
            let now = Utc::now();
            let validated = if records.is_empty() { Vec::new() } else { self.validate_parallel(records, now) };
            if let Some((pending, commit)) = inflight.take() {
                table = Some(self.finish(pending, commit, &mut report).await?);
            }
            if validated.is_empty() {
                break;
            }
            let current = self.refresh(table.take()).await?;
            let mut pending = self.classify(validated, &current, batch_id, source, now).await?;
            let commit = self.start_commit(current, &mut pending);
            inflight = Some((pending, commit));
        }
        Ok(report)
    }

    /// The next chunk: up to `flush_rows` records or `flush_bytes` bytes, or
    /// what arrived within `flush_age`.
    fn read_chunk<R: BufRead>(&self, reader: &mut RecordReader<R>) -> Result<Vec<RawRecord>> {
        let started = Instant::now();
        let mut chunk = Vec::new();
        let mut bytes = 0usize;
        while chunk.len() < self.options.flush_rows
            && bytes < self.options.flush_bytes
            && started.elapsed() < self.options.flush_age
        {
            let mut more = reader.next_chunk(1024.min(self.options.flush_rows - chunk.len()))?;
            if more.is_empty() {
                break;
            }
            bytes += more.iter().map(|r| r.raw.len()).sum::<usize>();
            chunk.append(&mut more);
        }
        Ok(chunk)
    }

    /// The `events` table at its latest version: `table` brought up to date
    /// (another writer may have committed), or loaded.
    async fn refresh(&self, table: Option<DeltaTable>) -> Result<DeltaTable> {
        if let Some(mut t) = table
            && t.update_incremental(None).await.is_ok()
        {
            return Ok(t);
        }
        self.lake.load(EVENTS).await
    }

    fn validate_parallel(&self, records: Vec<RawRecord>, now: DateTime<Utc>) -> Vec<Validated> {
        let limits = self.options.limits;
        let threads = self.options.threads.max(1);
        if threads == 1 || records.len() < 2048 {
            return records.into_iter().map(|r| r.validate(&limits, now)).collect();
        }
        let parts = split(records, threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = parts
                .into_iter()
                .map(|part| s.spawn(move || part.into_iter().map(|r| r.validate(&limits, now)).collect::<Vec<_>>()))
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
        })
    }

    async fn ingest_chunk(
        &mut self,
        records: Vec<RawRecord>,
        batch_id: &str,
        source: &str,
        report: &mut BatchReport,
    ) -> Result<()> {
        let now = Utc::now();
        let validated = self.validate_parallel(records, now);
        let table = self.lake.load(EVENTS).await?;
        let mut pending = self.classify(validated, &table, batch_id, source, now).await?;
        let commit = self.start_commit(table, &mut pending);
        self.finish(pending, commit, report).await?;
        Ok(())
    }

    /// Sort validated records into accepted, duplicates and rejected, against
    /// the lake at `table`'s version and earlier records of the chunk.
    async fn classify(
        &mut self,
        validated: Vec<Validated>,
        table: &DeltaTable,
        batch_id: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<Pending> {
        let version = version_of(table);
        if self.cache.version != version || self.cache.ids > self.options.dedupe_cache_ids {
            self.cache = DedupeCache { version, ..DedupeCache::default() };
        }
        let mut missing: Vec<i32> = validated
            .iter()
            .filter_map(|(_, _, r)| r.as_ref().ok())
            .map(|e| days_since_epoch(&e.occurred_at))
            .filter(|d| !self.cache.by_date.contains_key(d))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            for (d, ids) in self.lake.ids_on_dates(table, &missing).await? {
                self.cache.ids += ids.len();
                self.cache.by_date.insert(d, ids);
            }
        }

        let mut p = Pending {
            version,
            outcomes: Vec::with_capacity(if self.options.keep_records { validated.len() } else { 0 }),
            ..Pending::default()
        };
        let mut seen: HashSet<(i32, u128)> = HashSet::new();
        for (index, raw, result) in validated {
            let outcome = match result {
                Ok(event) => {
                    let key = (days_since_epoch(&event.occurred_at), event.event_id.as_u128());
                    let id = || event.event_id.to_string();
                    let in_lake = self.cache.by_date.get(&key.0).is_some_and(|s| s.contains(&key.1));
                    if in_lake || !seen.insert(key) {
                        p.duplicates += 1;
                        self.options.keep_records.then(|| Outcome::Duplicate { event_id: id() })
                    } else {
                        let outcome = self.options.keep_records.then(|| Outcome::Accepted { event_id: id() });
                        p.accepted.push(event);
                        p.accepted_keys.push(key);
                        outcome
                    }
                }
                Err(r) => {
                    let outcome = self.options.keep_records.then(|| Outcome::Rejected {
                        field: r.field.clone(),
                        reason: r.reason.clone(),
                        event_id: r.event_id.clone(),
                    });
                    p.rejected.push(Rejected {
                        batch_id: batch_id.to_string(),
                        source: source.to_string(),
                        record_index: i64::try_from(index).unwrap_or(i64::MAX),
                        event_id: r.event_id,
                        field: r.field,
                        reason: r.reason,
                        raw,
                        received_at: now,
                    });
                    outcome
                }
            };
            if let Some(outcome) = outcome {
                p.outcomes.push(RecordOutcome { index, outcome });
            }
        }
        p.n_accepted = p.accepted.len() as u64;
        p.n_rejected = p.rejected.len() as u64;
        Ok(p)
    }

    /// Start committing a chunk: the dead letters, then the accepted events
    /// (Arrow batches built on the blocking pool, then one Delta commit), in
    /// a task of their own. The chunk's events move into the task.
    fn start_commit(&self, table: DeltaTable, pending: &mut Pending) -> Commit {
        let lake = self.lake.clone();
        let rejected = std::mem::take(&mut pending.rejected);
        let events = std::mem::take(&mut pending.accepted);
        let threads = self.options.threads.max(1);
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            lake.append_rejected(&rejected).await?;
            drop(rejected);
            if events.is_empty() {
                return Ok(table);
            }
            let batches = tokio::task::spawn_blocking(move || build_batches(events, threads))
                .await
                .map_err(|e| Error::Task(format!("batch builder: {e}")))??;
            let started = Instant::now();
            let table = Lake::append(table, EVENTS, batches, None).await?;
            metrics.commit(started.elapsed());
            Ok(table)
        })
    }

    /// Wait for a chunk's commit, then account for it: the duplicate cache
    /// (kept only if the commit was ours alone), metrics and the report.
    async fn finish(&mut self, p: Pending, commit: Commit, report: &mut BatchReport) -> Result<DeltaTable> {
        let table = commit.await.map_err(|e| Error::Task(format!("commit task: {e}")))??;
        let new_version = version_of(&table);
        let (n_acc, n_dup, n_rej) = (p.n_accepted, p.duplicates, p.n_rejected);
        if new_version == p.version.map(|v| v + 1) || (n_acc == 0 && new_version == p.version) {
            self.cache.version = new_version;
            for (d, id) in p.accepted_keys {
                if let Some(set) = self.cache.by_date.get_mut(&d) {
                    set.insert(id);
                    self.cache.ids += 1;
                }
            }
        } else {
            self.cache = DedupeCache::default();
        }
        self.metrics.add_outcomes(n_acc, n_dup, n_rej);
        info!(
            batch_id = report.batch_id.as_str(),
            accepted = n_acc,
            duplicates = n_dup,
            rejected = n_rej,
            version = new_version,
            "ingested chunk"
        );
        report.records += n_acc + n_dup + n_rej;
        report.accepted += n_acc;
        report.duplicates += n_dup;
        report.rejected += n_rej;
        report.lake_version = new_version;
        report.outcomes.extend(p.outcomes);
        Ok(table)
    }
}

type Commit = tokio::task::JoinHandle<Result<DeltaTable>>;

/// A classified chunk, between its classification and the end of its commit.
#[derive(Debug, Default)]
struct Pending {
    /// The table version the chunk was checked against.
    version: Option<i64>,
    accepted: Vec<Event>,
    accepted_keys: Vec<(i32, u128)>,
    rejected: Vec<Rejected>,
    outcomes: Vec<RecordOutcome>,
    n_accepted: u64,
    duplicates: u64,
    n_rejected: u64,
}

fn build_batches(events: Vec<Event>, threads: usize) -> Result<Vec<RecordBatch>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    if threads == 1 || events.len() < 4096 {
        return Ok(vec![to_record_batch(&events)?]);
    }
    let parts = split(events, threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = parts.iter().map(|part| s.spawn(move || to_record_batch(part))).collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| Error::Task("batch builder panicked".into()))?.map_err(Error::from))
            .collect()
    })
}

/// Split `v` into at most `n` owned parts of near-equal size, in order.
fn split<T>(mut v: Vec<T>, n: usize) -> Vec<Vec<T>> {
    let size = v.len().div_ceil(n.max(1)).max(1);
    let mut parts = Vec::with_capacity(n);
    while v.len() > size {
        let tail = v.split_off(size);
        parts.push(std::mem::replace(&mut v, tail));
    }
    parts.push(v);
    parts
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn split_keeps_order_and_items() {
        let parts = split((0..10).collect::<Vec<_>>(), 3);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts.concat(), (0..10).collect::<Vec<_>>());
        assert_eq!(split(Vec::<u8>::new(), 4).concat(), Vec::<u8>::new());
    }
}
