//! The service object: [`Ops`], one writer connection behind a mutex, reads
//! through a small pool of read-only connections, and [`Tx`], the
//! transaction every operation runs in (state change + outbox events, one
//! commit; any error rolls everything back, including the id generator).

use std::path::{Path, PathBuf};
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
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

pub(crate) struct Writer {
    conn: Connection,
    rng: Option<ChaCha8Rng>,
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
                writer: Mutex::new(Writer { conn, rng }),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
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
    pub(crate) fn transact<T>(&mut self, source: &'static str, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let saved_rng = self.rng.clone();
        let result = {
            let conn = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut tx = Tx { conn, rng: &mut self.rng, source };
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

/// The transaction of one operation.
pub(crate) struct Tx<'a> {
    conn: rusqlite::Transaction<'a>,
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
