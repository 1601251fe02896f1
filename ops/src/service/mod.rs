//! The service object: [`Ops`], one writer connection behind a mutex, reads
//! through a small pool of read-only connections, and [`Tx`], the
//! transaction every operation runs in (state change + outbox events, one
//! commit; any error rolls everything back, including the id generator).
//!
//! [`Ops::bulk`] starts a bulk load ([`BulkLoad`]): for an in-process loader
//! such as the simulator, many operations share one SQLite transaction (a
//! batch), each operation inside its own savepoint, so a refused operation
//! still rolls back exactly (state, outbox rows, id generator) while the
//! database pays one commit per batch instead of one durable commit per
//! operation. Every other caller (the HTTP API) keeps one transaction per
//! operation with `synchronous=FULL`.
//!
//! The bulk load (its options, statistics, batches and [`BulkLoad`]) is in
//! the `bulk` submodule; its public items are re-exported here.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use fieldhouse_domain::event::{Event, Payload, SCHEMA_VERSION, truncate_micros};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::{Connection, TransactionBehavior};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::outbox::{self, OutboxRow};
use crate::{Result, db};

mod bulk;

use bulk::BulkState;
pub use bulk::{BulkLoad, BulkOptions, BulkStats};

/// Configuration of the core.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpsConfig {
    /// With a seed, entity and event ids come from a ChaCha8 generator seeded
    /// with it (`ids::id_at(at, bytes)`): the same seed and the same calls
    /// give an identical outbox. Without, ids are fresh UUIDv7s.
    #[serde(default)]
    pub id_seed: Option<u64>,
}

/// Where events of an operation come from (`source` of the envelope).
pub(crate) const SOURCE_OPS: &str = "ops";
pub(crate) const SOURCE_MOBILE: &str = "mobile";

/// The operational core. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Ops {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Writer>,
    readers: Mutex<Vec<Connection>>,
    /// A bulk load is on: reads go to the writer connection, which sees the
    /// batch not committed yet. Set and cleared under the writer lock; read
    /// without it so that reads outside a bulk load never touch that lock.
    bulk: AtomicBool,
    /// Technicians decoded for suggestions.
    technicians: Mutex<crate::dispatch::TechnicianCache>,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

pub(crate) struct Writer {
    conn: Connection,
    rng: Option<ChaCha8Rng>,
    /// The bulk load in progress, if any.
    bulk: Option<BulkState>,
}

/// A page of a list: at most `limit` items whose id sorts after `after`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub after: Option<String>,
}

impl Page {
    /// Default page size.
    pub const DEFAULT_LIMIT: usize = 100;
    /// Largest page size.
    pub const MAX_LIMIT: usize = 1000;

    pub(crate) fn limit_i64(&self) -> i64 {
        let l = self.limit.unwrap_or(Self::DEFAULT_LIMIT).clamp(1, Self::MAX_LIMIT);
        i64::try_from(l).unwrap_or(100)
    }

    pub(crate) fn after_str(&self) -> String {
        self.after.clone().unwrap_or_default()
    }
}

impl Ops {
    /// Open (creating and migrating if needed) the database at `path`,
    /// usually `<data-dir>/ops.db`.
    pub fn open(path: &Path, config: OpsConfig) -> Result<Ops> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| crate::Error::corrupt(format!("cannot create {dir:?}: {e}")))?;
        }
        let conn = db::open_writer(path)?;
        let rng = config.id_seed.map(ChaCha8Rng::seed_from_u64);
        tracing::debug!(path = %path.display(), seeded = rng.is_some(), "opened ops database");
        Ok(Ops {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(Writer { conn, rng, bulk: None }),
                readers: Mutex::new(Vec::new()),
                bulk: AtomicBool::new(false),
                technicians: Mutex::new(Default::default()),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The decoded technicians of [`Ops::suggest_technicians`].
    pub(crate) fn technician_cache(&self) -> MutexGuard<'_, crate::dispatch::TechnicianCache> {
        self.inner.technicians.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn writer(&self) -> MutexGuard<'_, Writer> {
        // A panic inside a write rolled its transaction back (the
        // Transaction's Drop), so the connection is still consistent.
        self.inner.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run one operation in one transaction of the single writer.
    pub(crate) fn write<T>(&self, source: &'static str, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        self.writer().transact(source, f)
    }

    /// Run a read on a pooled read-only connection, inside one read
    /// transaction (a consistent snapshot).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if self.inner.bulk.load(Ordering::Acquire) {
            let mut w = self.writer();
            if w.bulk.is_some() {
                return w.read(f);
            }
        }
        let pooled = self.inner.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => db::open_reader(&self.inner.path)?,
        };
        let result = {
            let tx = conn.transaction()?;
            let r = f(&tx);
            tx.finish()?;
            r
        };
        let mut pool = self.inner.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < 8 {
            pool.push(conn);
        }
        result
    }

    /// Outbox rows with `seq > after_seq`, in order (at most `limit`).
    pub fn outbox_after(&self, after_seq: i64, limit: usize) -> Result<Vec<OutboxRow>> {
        self.read(|c| outbox::read_after(c, after_seq, limit))
    }

    /// The highest outbox `seq`; 0 when empty.
    pub fn outbox_max_seq(&self) -> Result<i64> {
        self.read(outbox::max_seq)
    }
}

impl Writer {
    /// Run one operation: in its own transaction, or in a bulk load in a
    /// savepoint of the open batch.
    pub(crate) fn transact<T>(&mut self, source: &'static str, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        if self.bulk.is_some() {
            return self.transact_bulk(source, f);
        }
        let saved_rng = self.rng.clone();
        let result = {
            let conn = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut tx = Tx { conn: Scope::Transaction(conn), rng: &mut self.rng, source };
            match f(&mut tx) {
                Ok(v) => tx.conn.commit().map(|()| v).map_err(Into::into),
                Err(e) => Err(e),
            }
        };
        if result.is_err() {
            self.rng = saved_rng;
        }
        result
    }
}

/// The savepoints of a bulk load: an operation's, a read's.
#[derive(Debug, Clone, Copy)]
enum SavepointName {
    Op,
    Read,
}

impl SavepointName {
    /// `SAVEPOINT`, `RELEASE`, `ROLLBACK TO` statements of this savepoint.
    fn sql(self) -> [&'static str; 3] {
        match self {
            SavepointName::Op => ["SAVEPOINT op", "RELEASE op", "ROLLBACK TO op"],
            SavepointName::Read => ["SAVEPOINT read", "RELEASE read", "ROLLBACK TO read"],
        }
    }
}

/// A savepoint run by cached statements (prepared once per connection, not
/// once per operation as `rusqlite::Savepoint` does). Rolled back and
/// released when dropped unreleased (e.g. by a panic).
struct SavepointGuard<'a> {
    conn: &'a Connection,
    name: SavepointName,
    open: bool,
}

impl<'a> SavepointGuard<'a> {
    fn begin(conn: &'a Connection, name: SavepointName) -> rusqlite::Result<SavepointGuard<'a>> {
        conn.prepare_cached(name.sql()[0])?.execute([])?;
        Ok(SavepointGuard { conn, name, open: true })
    }

    /// Keep the changes (they become part of the enclosing transaction).
    fn release(mut self) -> rusqlite::Result<()> {
        self.open = false;
        self.conn.prepare_cached(self.name.sql()[1])?.execute([])?;
        Ok(())
    }

    /// Undo the changes since `begin` and end the savepoint.
    fn rollback(mut self) -> rusqlite::Result<()> {
        self.open = false;
        Self::undo(self.conn, self.name)
    }

    fn undo(conn: &Connection, name: SavepointName) -> rusqlite::Result<()> {
        let [_, release, rollback_to] = name.sql();
        conn.prepare_cached(rollback_to)?.execute([])?;
        conn.prepare_cached(release)?.execute([])?;
        Ok(())
    }
}

impl Drop for SavepointGuard<'_> {
    fn drop(&mut self) {
        if self.open
            && let Err(e) = Self::undo(self.conn, self.name)
        {
            tracing::error!(error = %e, savepoint = ?self.name, "rolling back a dropped savepoint failed");
        }
    }
}

impl std::ops::Deref for SavepointGuard<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

/// The SQLite scope of one operation: its own transaction, or a savepoint
/// of a bulk load's batch.
enum Scope<'a> {
    Transaction(rusqlite::Transaction<'a>),
    Savepoint(SavepointGuard<'a>),
}

impl Scope<'_> {
    fn commit(self) -> rusqlite::Result<()> {
        match self {
            Scope::Transaction(t) => t.commit(),
            Scope::Savepoint(s) => s.release(),
        }
    }

    fn rollback(self) -> rusqlite::Result<()> {
        match self {
            Scope::Transaction(t) => t.rollback(),
            Scope::Savepoint(s) => s.rollback(),
        }
    }
}

impl std::ops::Deref for Scope<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            Scope::Transaction(t) => t,
            Scope::Savepoint(s) => s,
        }
    }
}

/// The transaction of one operation.
pub(crate) struct Tx<'a> {
    conn: Scope<'a>,
    rng: &'a mut Option<ChaCha8Rng>,
    source: &'static str,
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl Tx<'_> {
    /// A new id for something created at `at`: seeded or fresh UUIDv7.
    pub(crate) fn new_id(&mut self, at: DateTime<Utc>) -> Uuid {
        match self.rng.as_mut() {
            Some(rng) => {
                let mut bytes = [0u8; 10];
                rng.fill_bytes(&mut bytes);
                fieldhouse_domain::ids::id_at(at, bytes)
            }
            None => fieldhouse_domain::ids::new_id(),
        }
    }

    /// Append an event that happened at `at` to the outbox; returns its id.
    pub(crate) fn emit(&mut self, at: DateTime<Utc>, payload: impl Into<Payload>) -> Result<Uuid> {
        let event_id = self.new_id(at);
        let event = Event {
            event_id,
            schema_version: SCHEMA_VERSION,
            occurred_at: truncate_micros(at),
            recorded_at: None,
            source: self.source.to_string(),
            payload: payload.into(),
        };
        outbox::append(&self.conn, &event)?;
        Ok(event_id)
    }
}
