//! Bulk loads: [`Ops::bulk`] and [`BulkLoad`], their options and
//! statistics, and the writer's batches (each operation in a savepoint of
//! the open batch, a commit per batch).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::{Ops, SavepointGuard, SavepointName, Scope, Tx, Writer};
use crate::Result;

/// How a bulk load ([`Ops::bulk`]) groups operations into batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkOptions {
    /// Commit the open batch after this many operations (at least 1).
    pub max_operations: u32,
    /// Commit the open batch once it is this old (checked after each operation).
    pub max_age: Duration,
    /// `true`: every batch commit is durable (`synchronous=FULL`, one fsync
    /// of the write-ahead log per batch). `false`: `synchronous=NORMAL` while
    /// loading (the log is fsynced at checkpoints and when the load
    /// finishes; after a power loss the database is consistent but may miss
    /// the last batches). Either way `synchronous=FULL` is back when the load ends.
    pub durable_batches: bool,
}

impl Default for BulkOptions {
    fn default() -> BulkOptions {
        BulkOptions { max_operations: 10_000, max_age: Duration::from_secs(1), durable_batches: false }
    }
}

/// What a bulk load did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkStats {
    /// Operations run (mobile sync: each action counts).
    pub operations: u64,
    /// Operations refused or failed, rolled back to their savepoint.
    pub rolled_back: u64,
    /// Batches committed.
    pub batches: u64,
}

/// Page cache of the writer during a bulk load, in KiB (as `cache_size`
/// takes it, negative).
const BULK_CACHE_KIB: i64 = -128 * 1024;

/// Write-ahead log pages after which a bulk load's commit checkpoints.
const BULK_AUTOCHECKPOINT_PAGES: i64 = 16_384;

/// Connection settings a bulk load changes, as they were before it.
#[derive(Debug, Clone, Copy)]
struct Pragmas {
    temp_store: i64,
    cache_size: i64,
    wal_autocheckpoint: i64,
}

impl Pragmas {
    fn read(conn: &Connection) -> rusqlite::Result<Pragmas> {
        Ok(Pragmas {
            temp_store: conn.pragma_query_value(None, "temp_store", |r| r.get(0))?,
            cache_size: conn.pragma_query_value(None, "cache_size", |r| r.get(0))?,
            wal_autocheckpoint: conn.pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))?,
        })
    }

    fn restore(self, conn: &Connection) -> rusqlite::Result<()> {
        conn.pragma_update(None, "temp_store", self.temp_store)?;
        conn.pragma_update(None, "cache_size", self.cache_size)?;
        conn.pragma_update(None, "wal_autocheckpoint", self.wal_autocheckpoint)
    }
}

/// The writer's side of a bulk load.
pub(super) struct BulkState {
    /// Settings to put back when the load ends (`synchronous` is FULL).
    restore: Pragmas,
    options: BulkOptions,
    /// Operations in the open batch; 0 when no batch is open.
    pending: u32,
    /// When the open batch began.
    batch_started: Instant,
    stats: BulkStats,
    /// SQLite rolled an open batch back (an I/O error, a full disk, ...) or
    /// a batch failed to commit: the operations since the last commit are
    /// lost, so every later operation of this load is refused.
    broken: bool,
}

/// The error of an operation in a bulk load whose batch was lost.
fn batch_lost() -> crate::Error {
    crate::Error::Sqlite(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT_ROLLBACK),
        Some("bulk load: the open batch was rolled back; operations since the last commit are lost".into()),
    ))
}

impl Ops {
    /// Start a bulk load: until the returned [`BulkLoad`] is finished (or
    /// dropped), operations through this `Ops` (and its clones) are grouped
    /// into batches, one SQLite transaction each, committed after
    /// [`BulkOptions::max_operations`] operations or [`BulkOptions::max_age`]
    /// and when the load ends. Each operation runs in a savepoint of the
    /// batch: a refused or failed operation rolls back to it (its state
    /// changes, its outbox rows and the id generator), exactly as outside a
    /// bulk load, so the same calls give the same outbox either way. Reads
    /// during the load run on the writer connection and see the batch not
    /// yet committed.
    ///
    /// For one in-process loader owning a fresh database (the simulator):
    /// a crash mid-load leaves the database at the last committed batch
    /// (with `durable_batches: false`, after a power loss possibly an
    /// earlier one), consistent but incomplete, so such a load is rerun
    /// into a fresh database. Writes of other callers through this `Ops`
    /// during the load join its batches. Refused with a conflict when a
    /// bulk load is already on.
    pub fn bulk(&self, options: BulkOptions) -> Result<BulkLoad> {
        let mut w = self.writer();
        if w.bulk.is_some() {
            return Err(crate::Error::conflict("bulk_load_active", "a bulk load is already in progress"));
        }
        let restore = Pragmas::read(&w.conn)?;
        let relax = |conn: &Connection| -> rusqlite::Result<()> {
            if !options.durable_batches {
                conn.pragma_update(None, "synchronous", "NORMAL")?;
            }
            // Savepoint journals in memory, not a temporary file written at
            // every operation's first change of a page; a page cache large
            // enough for the indexes a load keeps touching.
            conn.pragma_update(None, "temp_store", "MEMORY")?;
            conn.pragma_update(None, "cache_size", BULK_CACHE_KIB)?;
            // Checkpoints every 64 MiB of log, not every 4 MiB: the pages a
            // load keeps changing (index leaves, the outbox's end) are copied
            // into the database once per checkpoint, not after nearly every batch.
            conn.pragma_update(None, "wal_autocheckpoint", BULK_AUTOCHECKPOINT_PAGES)
        };
        if let Err(e) = relax(&w.conn) {
            if let Err(back) = w.conn.pragma_update(None, "synchronous", "FULL").and_then(|()| restore.restore(&w.conn))
            {
                tracing::error!(error = %back, "bulk load: restoring the connection settings failed");
            }
            return Err(e.into());
        }
        w.bulk = Some(BulkState {
            restore,
            options,
            pending: 0,
            batch_started: Instant::now(),
            stats: BulkStats::default(),
            broken: false,
        });
        self.inner.bulk.store(true, Ordering::Release);
        tracing::info!(
            path = %self.inner.path.display(),
            max_operations = options.max_operations,
            max_age_ms = u64::try_from(options.max_age.as_millis()).unwrap_or(u64::MAX),
            durable_batches = options.durable_batches,
            "bulk load started"
        );
        Ok(BulkLoad { ops: self.clone(), started: Instant::now(), done: false })
    }

    /// End the bulk load: commit the open batch, restore
    /// `synchronous=FULL`, checkpoint the write-ahead log into the database
    /// (fsynced) and send reads to the pool again.
    fn end_bulk(&self) -> Result<BulkStats> {
        let mut w = self.writer();
        let result = w.end_bulk();
        self.inner.bulk.store(false, Ordering::Release);
        result
    }
}

impl Writer {
    pub(super) fn transact_bulk<T>(
        &mut self,
        source: &'static str,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        self.open_batch()?;
        let saved_rng = self.rng.clone();
        let result = {
            let sp = SavepointGuard::begin(&self.conn, SavepointName::Op)?;
            let mut tx = Tx { conn: Scope::Savepoint(sp), rng: &mut self.rng, source };
            match f(&mut tx) {
                Ok(v) => tx.conn.commit().map(|()| v).map_err(Into::into),
                // Back to the savepoint (the guard's drop does the same,
                // but would hide a failure to roll back).
                Err(e) => match tx.conn.rollback() {
                    Ok(()) => Err(e),
                    Err(rollback) => {
                        tracing::error!(error = %e, rollback = %rollback, "bulk load: rolling back an operation failed");
                        Err(rollback.into())
                    }
                },
            }
        };
        if result.is_err() {
            self.rng = saved_rng;
        }
        let after = self.after_bulk_op(result.is_ok());
        match (result, after) {
            (result, Ok(())) => result,
            (Ok(_), Err(e)) => Err(e),
            (Err(op), Err(e)) => {
                tracing::error!(error = %op, "bulk load: operation failed and its batch is lost");
                Err(e)
            }
        }
    }

    /// Begin a batch unless one is open.
    fn open_batch(&mut self) -> Result<()> {
        let Some(b) = self.bulk.as_mut() else { return Ok(()) };
        if b.broken {
            return Err(batch_lost());
        }
        if !self.conn.is_autocommit() {
            // Open (also when an operation panicked in it: its savepoint
            // was rolled back, the batch goes on).
            return Ok(());
        }
        if b.pending > 0 {
            // Operations ran in a batch that SQLite has ended since.
            b.broken = true;
            return Err(batch_lost());
        }
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        b.batch_started = Instant::now();
        Ok(())
    }

    /// Count the operation just run and commit the batch when it is due.
    fn after_bulk_op(&mut self, ok: bool) -> Result<()> {
        let Some(b) = self.bulk.as_mut() else { return Ok(()) };
        b.stats.operations += 1;
        if !ok {
            b.stats.rolled_back += 1;
        }
        if self.conn.is_autocommit() {
            // SQLite ended the transaction itself: the batch is gone.
            b.broken = true;
            b.pending = 0;
            return Err(batch_lost());
        }
        b.pending = b.pending.saturating_add(1);
        if b.pending >= b.options.max_operations.max(1) || b.batch_started.elapsed() >= b.options.max_age {
            self.commit_batch()?;
        }
        Ok(())
    }

    /// Commit the open batch, if any.
    fn commit_batch(&mut self) -> Result<()> {
        let Some(b) = self.bulk.as_mut() else { return Ok(()) };
        let operations = std::mem::take(&mut b.pending);
        if self.conn.is_autocommit() {
            if operations > 0 {
                // Operations ran in a batch that SQLite has ended since.
                b.broken = true;
                return Err(batch_lost());
            }
            return Ok(());
        }
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            b.broken = true;
            if !self.conn.is_autocommit()
                && let Err(rollback) = self.conn.execute_batch("ROLLBACK")
            {
                tracing::error!(error = %rollback, "bulk load: rolling back a failed batch failed");
            }
            tracing::error!(error = %e, operations, "bulk load: committing a batch failed");
            return Err(e.into());
        }
        b.stats.batches += 1;
        tracing::trace!(
            operations,
            elapsed_ms = u64::try_from(b.batch_started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "bulk batch committed"
        );
        Ok(())
    }

    /// Commit the last batch and leave bulk mode (see [`Ops::end_bulk`]).
    fn end_bulk(&mut self) -> Result<BulkStats> {
        let committed = self.commit_batch();
        let Some(state) = self.bulk.take() else { return committed.map(|()| BulkStats::default()) };
        if !self.conn.is_autocommit() {
            // Only after a failed commit whose rollback failed too.
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, "bulk load: rolling back at the end failed");
            }
        }
        // The log is fsynced by the checkpoint (synchronous is FULL again),
        // so everything committed in NORMAL mode is durable after it.
        let restored =
            self.conn.pragma_update(None, "synchronous", "FULL").and_then(|()| state.restore.restore(&self.conn));
        let checkpoint = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        match &checkpoint {
            Ok((0, log, done)) => {
                tracing::debug!(log_frames = log, checkpointed = done, "bulk load: wal checkpoint");
            }
            Ok((busy, log, done)) => tracing::warn!(
                busy,
                log_frames = log,
                checkpointed = done,
                "bulk load: wal checkpoint incomplete (readers); the last batches are durable at the next checkpoint"
            ),
            Err(e) => tracing::warn!(error = %e, "bulk load: wal checkpoint failed"),
        }
        committed?;
        restored?;
        checkpoint?;
        if state.broken {
            return Err(batch_lost());
        }
        Ok(state.stats)
    }

    /// A read on the writer connection (in a bulk load): it sees the open
    /// batch. Inside a savepoint that is rolled back, so it is one snapshot
    /// and changes nothing.
    pub(super) fn read<T>(&mut self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let sp = SavepointGuard::begin(&self.conn, SavepointName::Read)?;
        let result = f(&sp);
        sp.rollback()?;
        result
    }
}

/// A bulk load in progress; see [`Ops::bulk`]. [`BulkLoad::finish`] ends
/// it; dropping it unfinished ends it too (the open batch is committed,
/// an error only logged).
#[derive(Debug)]
#[must_use = "a bulk load ends when this is finished or dropped"]
pub struct BulkLoad {
    ops: Ops,
    started: Instant,
    done: bool,
}

impl BulkLoad {
    /// Commit the open batch now (durably with `durable_batches`).
    pub fn commit(&self) -> Result<()> {
        self.ops.writer().commit_batch()
    }

    /// Commit the last batch, restore `synchronous=FULL`, checkpoint the
    /// log (fsync) and leave bulk mode; what the load did.
    pub fn finish(mut self) -> Result<BulkStats> {
        self.done = true;
        let stats = self.ops.end_bulk()?;
        tracing::info!(
            operations = stats.operations,
            rolled_back = stats.rolled_back,
            batches = stats.batches,
            seconds = self.started.elapsed().as_secs_f64(),
            "bulk load finished"
        );
        Ok(stats)
    }
}

impl Drop for BulkLoad {
    fn drop(&mut self) {
        if !self.done
            && let Err(e) = self.ops.end_bulk()
        {
            tracing::error!(error = %e, path = %self.ops.path().display(), "ending a bulk load failed");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use fieldhouse_domain::event::ManufacturerRegistered;
    use rusqlite::params;
    use uuid::Uuid;

    use super::*;
    use crate::db;
    use crate::master::RegisterManufacturer;
    use crate::service::{OpsConfig, SOURCE_OPS};

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap()
    }

    fn register(ops: &Ops, name: &str) -> Uuid {
        ops.register_manufacturer(RegisterManufacturer { name: name.into(), at: at() }).unwrap().manufacturer_id
    }

    /// An operation refused after it wrote a row, drew ids and emitted an event.
    fn refused_late(ops: &Ops) -> crate::Error {
        ops.write(SOURCE_OPS, |tx| {
            let id = tx.new_id(at());
            let ev = ManufacturerRegistered { manufacturer_id: id, name: "late".into() };
            tx.prepare_cached("INSERT INTO manufacturers (id, body) VALUES (?1, ?2)")?
                .execute(params![db::id(id), serde_json::to_string(&ev)?])?;
            tx.emit(at(), ev)?;
            Err::<(), _>(crate::Error::invalid("name", "refused after writing"))
        })
        .unwrap_err()
    }

    /// Rows of the outbox and of the manufacturers, as the writer sees them.
    fn rows(ops: &Ops) -> (Vec<String>, Vec<String>) {
        ops.read(|c| {
            let mut out = Vec::new();
            for sql in
                ["SELECT seq || body FROM outbox ORDER BY seq", "SELECT id || body FROM manufacturers ORDER BY id"]
            {
                let mut stmt = c.prepare(sql)?;
                out.push(stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?);
            }
            Ok((out.remove(0), out.remove(0)))
        })
        .unwrap()
    }

    fn synchronous(ops: &Ops) -> i64 {
        ops.writer().conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_late_refusal_in_a_bulk_load_rolls_back_rows_events_and_ids() {
        let scenario = |bulk: bool| {
            let dir = tempfile::tempdir().unwrap();
            let ops = Ops::open(&dir.path().join("ops.db"), OpsConfig { id_seed: Some(9) }).unwrap();
            let load = bulk.then(|| ops.bulk(BulkOptions::default()).unwrap());
            let first = register(&ops, "first");
            let before = rows(&ops);
            assert_eq!(refused_late(&ops).code(), "invalid");
            assert_eq!(rows(&ops), before, "no row, no event left");
            let next = register(&ops, "next");
            let after = rows(&ops);
            if let Some(load) = load {
                let stats = load.finish().unwrap();
                assert_eq!((stats.operations, stats.rolled_back, stats.batches), (3, 1, 1));
            }
            assert_eq!(rows(&ops), after, "committed at the end");
            (first, next, after)
        };
        let (plain, bulk) = (scenario(false), scenario(true));
        assert_eq!(bulk, plain, "the same ids after the refusal, the same rows");
        assert_eq!(plain.2.0.len(), 2);
    }

    #[test]
    fn a_bulk_load_relaxes_synchronous_only_while_it_runs() {
        let dir = tempfile::tempdir().unwrap();
        let ops = Ops::open(&dir.path().join("ops.db"), OpsConfig::default()).unwrap();
        assert_eq!(synchronous(&ops), 2, "FULL");
        let load = ops.bulk(BulkOptions::default()).unwrap();
        assert_eq!(synchronous(&ops), 1, "NORMAL");
        register(&ops, "a");
        load.finish().unwrap();
        assert_eq!(synchronous(&ops), 2, "FULL again");
        let cache: i64 = ops.writer().conn.pragma_query_value(None, "cache_size", |r| r.get(0)).unwrap();
        assert_eq!(cache, -2000, "SQLite's default page cache again");
        let pages: i64 = ops.writer().conn.pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0)).unwrap();
        assert_eq!(pages, 1000, "SQLite's default checkpoints again");
        let load = ops.bulk(BulkOptions { durable_batches: true, ..BulkOptions::default() }).unwrap();
        assert_eq!(synchronous(&ops), 2, "durable batches keep FULL");
        drop(load);
        assert_eq!(synchronous(&ops), 2);
        assert!(!ops.inner.bulk.load(Ordering::Acquire));
    }

    #[test]
    fn an_operation_that_panics_in_a_bulk_load_leaves_nothing_and_the_load_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let ops = Ops::open(&dir.path().join("ops.db"), OpsConfig::default()).unwrap();
        let load = ops.bulk(BulkOptions::default()).unwrap();
        for first in [true, false] {
            // First of its batch (the batch began with it), then inside a batch.
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                ops.write(SOURCE_OPS, |tx| -> crate::Result<()> {
                    tx.prepare_cached("INSERT INTO manufacturers (id, body) VALUES ('x', '{}')")?.execute([])?;
                    panic!("in the middle of an operation")
                })
            }));
            assert!(panicked.is_err());
            assert_eq!(rows(&ops).1.len(), usize::from(!first), "the panicking operation left nothing");
            register(&ops, "after");
        }
        load.finish().unwrap();
        assert_eq!(rows(&ops).1.len(), 2);
    }

    #[test]
    fn a_batch_sqlite_rolled_back_fails_the_rest_of_the_load() {
        let dir = tempfile::tempdir().unwrap();
        let ops = Ops::open(&dir.path().join("ops.db"), OpsConfig::default()).unwrap();
        let load = ops.bulk(BulkOptions::default()).unwrap();
        register(&ops, "lost");
        // As SQLite does on an I/O error or a full disk: the whole transaction is gone.
        let e = ops.write(SOURCE_OPS, |tx| Ok(tx.execute_batch("ROLLBACK")?)).unwrap_err();
        assert_eq!(e.code(), "internal");
        let e = ops.register_manufacturer(RegisterManufacturer { name: "b".into(), at: at() }).unwrap_err();
        assert!(e.to_string().contains("database") && matches!(e, crate::Error::Sqlite(_)), "{e:?}");
        assert!(load.finish().is_err(), "the load reports the lost batch");
        // The database is usable again, without what the lost batch held.
        assert_eq!(rows(&ops).1.len(), 0);
        register(&ops, "after");
        assert_eq!(rows(&ops).1.len(), 1);
        assert_eq!(synchronous(&ops), 2);
    }
}
