//! The transactional outbox: every operation appends its events here in the
//! same SQLite transaction as its state change.
//!
//! `outbox(seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, event_type
//! TEXT NOT NULL, occurred_at TEXT NOT NULL, body TEXT NOT NULL)`; `body` is
//! [`Event::to_json`]. `seq` is assigned inside the single writer's
//! transaction as `max(seq) + 1` and rows are never deleted, so the sequence
//! is gap-free and increasing, and a rolled-back operation leaves no row.
//! [`OutboxReader`] is what the ingest relay reads.

use std::path::Path;

use fieldhouse_domain::event::Event;
use rusqlite::{Connection, params};

use crate::{Result, db};

/// One outbox row: its sequence number and the event.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub seq: i64,
    pub event: Event,
}

/// Append one event inside the caller's transaction; returns its `seq`.
pub(crate) fn append(conn: &Connection, event: &Event) -> Result<i64> {
    let seq: i64 = conn.prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox")?.query_row([], |r| r.get(0))?;
    conn.prepare_cached(
        "INSERT INTO outbox (seq, event_id, event_type, occurred_at, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        seq,
        db::id(event.event_id),
        event.event_type(),
        db::ts(event.occurred_at),
        event.to_json()
    ])?;
    Ok(seq)
}

pub(crate) fn read_after(conn: &Connection, after_seq: i64, limit: usize) -> Result<Vec<OutboxRow>> {
    let mut stmt = conn.prepare_cached("SELECT seq, body FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![after_seq, limit], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, body) = row?;
        out.push(OutboxRow { seq, event: Event::from_json(&body)? });
    }
    Ok(out)
}

pub(crate) fn max_seq(conn: &Connection) -> Result<i64> {
    Ok(conn.prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM outbox")?.query_row([], |r| r.get(0))?)
}

/// A read-only view of the outbox for the ingest relay. Uses its own
/// read-only connection (WAL: it never blocks the writer).
#[derive(Debug)]
pub struct OutboxReader {
    conn: Connection,
}

impl OutboxReader {
    /// Open the outbox of the ops database at `db_path` (e.g.
    /// `<data-dir>/ops.db`). A missing database is created with the current
    /// schema first, so the relay may start before the core.
    pub fn open(db_path: &Path) -> Result<OutboxReader> {
        if !db_path.exists() {
            drop(db::open_writer(db_path)?);
        }
        Ok(OutboxReader { conn: db::open_reader(db_path)? })
    }

    /// Up to `limit` rows with `seq > after_seq`, in `seq` order.
    pub fn read_after(&self, after_seq: i64, limit: usize) -> Result<Vec<OutboxRow>> {
        read_after(&self.conn, after_seq, limit)
    }

    /// The highest `seq` written so far; 0 when the outbox is empty.
    pub fn max_seq(&self) -> Result<i64> {
        max_seq(&self.conn)
    }
}
