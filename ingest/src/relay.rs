//! The outbox relay: drains the operational core's outbox into `events`,
//! exactly once.
//!
//! The outbox is the SQLite table
//! `outbox (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, event_type TEXT NOT NULL,
//! occurred_at TEXT NOT NULL, body TEXT NOT NULL)` in `ops.db` (body = `Event::to_json()`), with a
//! gap-free increasing `seq`. [`Outbox`] reads it over its own read-only connection
//! (the table's DDL is the contract; no link to the `ops` crate is needed).
//!
//! Exactly once (kafka-delta-ingest's design): each Delta commit carries
//! `txn(app_id = "fieldhouse-outbox", version = last seq in the commit)` in the
//! same commit as its files. On start, and after any conflict, the relay reads
//! the table's transaction version and resumes after it. A concurrent commit
//! of the same app id makes deltalake's conflict checker fail our commit
//! (instead of rebasing it); we then reload, re-read the version and go on
//! from there, so a range is never committed twice and the version never
//! moves backwards.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use deltalake::DeltaTable;
use fieldhouse_domain::arrow_schema::to_record_batch;
use fieldhouse_domain::event::Event;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use tracing::{debug, info, warn};

use crate::error::{Error, Result};
use crate::lake::{EVENTS, Lake, Rejected};
use crate::metrics::Metrics;

pub use crate::lake::OUTBOX_APP_ID;

/// One outbox row.
#[derive(Debug)]
pub struct OutboxRow {
    pub seq: i64,
    /// The decoded event, or why the body is not one.
    pub event: std::result::Result<Event, fieldhouse_domain::Error>,
    /// The body as stored (kept for dead letters).
    pub body: String,
}

/// A read-only reader of the outbox table.
#[derive(Debug)]
pub struct Outbox {
    conn: Connection,
    path: PathBuf,
}

impl Outbox {
    /// Open `ops.db` read-only.
    pub fn open(path: &Path) -> Result<Outbox> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(Error::sqlite(path))?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(Error::sqlite(path))?;
        Ok(Outbox { conn, path: path.to_path_buf() })
    }

    /// Up to `limit` rows with `seq > after`, in `seq` order.
    pub fn read_after(&self, after: i64, limit: usize) -> Result<Vec<OutboxRow>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, body FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            .map_err(Error::sqlite(&self.path))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map((after, limit), |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(Error::sqlite(&self.path))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, body) = row.map_err(Error::sqlite(&self.path))?;
            out.push(OutboxRow { seq, event: Event::from_json(&body), body });
        }
        Ok(out)
    }

    /// The highest `seq` (0 when empty).
    pub fn max_seq(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT MAX(seq) FROM outbox", [], |r| r.get::<_, Option<i64>>(0))
            .optional()
            .map(|v| v.flatten().unwrap_or(0))
            .map_err(Error::sqlite(&self.path))
    }
}

/// What one relay pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RelayStats {
    /// The table's txn version when the pass started.
    pub start_version: i64,
    /// The table's txn version when the pass ended.
    pub end_version: i64,
    pub events: u64,
    pub rejected: u64,
    pub commits: u64,
    /// Commits lost to another relay (their range was committed by it).
    pub conflicts: u64,
}

/// Settings of the relay.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Outbox rows per Delta commit (flush by size).
    pub chunk_rows: usize,
    /// How often `run_forever` polls the outbox (events are queryable within this latency).
    pub latency: Duration,
    /// How many conflicts in a row before giving up.
    pub max_conflicts: usize,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig { chunk_rows: 10_000, latency: Duration::from_secs(10), max_conflicts: 20 }
    }
}

/// The outbox → `events` relay.
#[derive(Debug, Clone)]
pub struct Relay {
    ops_db: PathBuf,
    lake: Lake,
    config: RelayConfig,
    metrics: Arc<Metrics>,
}

impl Relay {
    pub fn new(ops_db: impl Into<PathBuf>, lake: Lake) -> Relay {
        Relay { ops_db: ops_db.into(), lake, config: RelayConfig::default(), metrics: Arc::default() }
    }

    pub fn with_config(mut self, config: RelayConfig) -> Relay {
        self.config = config;
        self
    }

    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Relay {
        self.metrics = metrics;
        self
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    async fn read(&self, after: i64, limit: usize) -> Result<(Vec<OutboxRow>, i64)> {
        let path = self.ops_db.clone();
        tokio::task::spawn_blocking(move || {
            let outbox = Outbox::open(&path)?;
            Ok((outbox.read_after(after, limit)?, outbox.max_seq()?))
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))?
    }

    /// Drain the outbox once: commit everything after the table's txn version,
    /// `chunk_rows` rows per commit, then return.
    pub async fn run_once(&self) -> Result<RelayStats> {
        let mut table = self.lake.load(EVENTS).await?;
        let mut after = Lake::txn_version(&table, OUTBOX_APP_ID).await?.unwrap_or(0);
        let mut stats = RelayStats { start_version: after, end_version: after, ..RelayStats::default() };
        let mut conflicts_in_row = 0;
        loop {
            let (rows, max_seq) = self.read(after, self.config.chunk_rows.max(1)).await?;
            self.metrics.outbox(after, max_seq);
            if after > max_seq {
                return Err(Error::LakeAhead { app_id: OUTBOX_APP_ID.into(), lake: after, outbox: max_seq });
            }
            let Some(last) = rows.last().map(|r| r.seq) else { break };
            if let Some(first) = rows.first()
                && first.seq != after + 1
            {
                warn!(expected = after + 1, found = first.seq, "outbox has a gap; continuing after it");
            }
            match self.commit_chunk(table.clone(), rows, last).await {
                Ok((t, events, rejected)) => {
                    table = t;
                    after = last;
                    conflicts_in_row = 0;
                    stats.events += events;
                    stats.rejected += rejected;
                    stats.commits += 1;
                    self.metrics.outbox(after, max_seq);
                }
                Err(e) if e.is_commit_conflict() => {
                    // Another relay committed (part of) this range: reload and re-check.
                    stats.conflicts += 1;
                    self.metrics.conflict();
                    table = self.lake.load(EVENTS).await?;
                    let now = Lake::txn_version(&table, OUTBOX_APP_ID).await?.unwrap_or(0);
                    if now < after {
                        return Err(Error::LakeAhead { app_id: OUTBOX_APP_ID.into(), lake: now, outbox: after });
                    }
                    // Losing to a relay that made progress is normal; losing
                    // without any progress over and over is not.
                    conflicts_in_row = if now > after { 0 } else { conflicts_in_row + 1 };
                    if conflicts_in_row > self.config.max_conflicts {
                        return Err(Error::ConflictRetriesExhausted {
                            table: EVENTS.into(),
                            attempts: conflicts_in_row,
                        });
                    }
                    info!(from = after, to = now, "another relay committed; resuming after its version");
                    after = now;
                }
                Err(e) => return Err(e),
            }
        }
        stats.end_version = after;
        Ok(stats)
    }

    async fn commit_chunk(&self, table: DeltaTable, rows: Vec<OutboxRow>, last: i64) -> Result<(DeltaTable, u64, u64)> {
        let now = Utc::now();
        let mut events = Vec::with_capacity(rows.len());
        let mut rejected = Vec::new();
        for row in rows {
            match row.event {
                Ok(mut e) => {
                    e.recorded_at.get_or_insert(now);
                    events.push(e);
                }
                Err(err) => rejected.push(Rejected {
                    batch_id: format!("outbox:{last}"),
                    source: "outbox".into(),
                    record_index: row.seq,
                    event_id: None,
                    field: err.field().map(str::to_string),
                    reason: err.to_string(),
                    raw: row.body,
                    received_at: now,
                }),
            }
        }
        // Dead letters first: if we crash after them, the next pass writes them
        // again (a dead letter may repeat; an event never does).
        self.lake.append_rejected(&rejected).await?;
        let n = events.len() as u64;
        let batch = to_record_batch(&events)?;
        let started = Instant::now();
        let table = Lake::append(table, EVENTS, vec![batch], Some((OUTBOX_APP_ID, last))).await?;
        self.metrics.commit(started.elapsed());
        self.metrics.add_outcomes(n, 0, rejected.len() as u64);
        debug!(
            version = crate::lake::version_of(&table),
            txn = last,
            events = n,
            rejected = rejected.len(),
            "relayed outbox chunk"
        );
        Ok((table, n, rejected.len() as u64))
    }

    /// Relay continuously: a pass every `latency` until `shutdown` resolves.
    /// Errors of one pass are logged and retried at the next tick.
    pub async fn run_forever(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(self.config.latency);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tick.tick() => {
                    if !self.ops_db.exists() {
                        continue;
                    }
                    match self.run_once().await {
                        Ok(s) if s.commits > 0 => info!(events = s.events, to = s.end_version, "relay pass"),
                        Ok(_) => {}
                        Err(e) => warn!(error = %e, "relay pass failed; retrying at next tick"),
                    }
                }
            }
        }
    }
}
