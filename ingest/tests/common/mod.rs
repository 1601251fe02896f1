//! Helpers shared by the ingest integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;

use chrono::{Duration, TimeZone, Utc};
use fieldhouse_domain::arrow_schema::from_record_batch;
use fieldhouse_domain::event::Event;
use fieldhouse_domain::samples::sample_events;
use fieldhouse_ingest::Lake;
use fieldhouse_ingest::lake::EVENTS;
use uuid::Uuid;

/// The outbox DDL of the operational core (the contract).
pub(crate) const OUTBOX_DDL: &str = "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, \
     event_type TEXT NOT NULL, occurred_at TEXT NOT NULL, body TEXT NOT NULL)";

/// `n` distinct events: the samples cycled, fresh ids, times spread over days.
pub(crate) fn events(n: usize, salt: u64) -> Vec<Event> {
    let samples = sample_events();
    let base = Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap();
    (0..n)
        .map(|i| {
            let mut e = samples[i % samples.len()].clone();
            e.event_id = Uuid::from_u128(((salt as u128) << 64) | (i as u128 + 1) | (0x7u128 << 76));
            e.occurred_at = base + Duration::minutes((i as i64 * 37) % (60 * 24 * 20));
            e.recorded_at = Some(e.occurred_at + Duration::seconds(5));
            e
        })
        .collect()
}

/// Create (if needed) an outbox at `path` and append `events` to it; returns the last seq.
pub(crate) fn append_outbox(path: &Path, events: &[Event]) -> i64 {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA journal_mode=WAL;").unwrap();
    conn.execute(OUTBOX_DDL, []).unwrap();
    let tx = conn.transaction().unwrap();
    for e in events {
        tx.execute(
            "INSERT INTO outbox (event_id, event_type, occurred_at, body) VALUES (?1, ?2, ?3, ?4)",
            (e.event_id.to_string(), e.event_type(), e.occurred_at.to_rfc3339(), e.to_json()),
        )
        .unwrap();
    }
    tx.commit().unwrap();
    conn.query_row("SELECT MAX(seq) FROM outbox", [], |r| r.get::<_, i64>(0)).unwrap()
}

/// Every event in the lake's `events` table.
pub(crate) async fn lake_events(lake: &Lake) -> Vec<Event> {
    let mut out = Vec::new();
    for b in lake.read_all(EVENTS).await.unwrap() {
        out.extend(from_record_batch(&b).unwrap());
    }
    out
}

/// event_id → number of rows with it.
pub(crate) fn id_counts(events: &[Event]) -> HashMap<Uuid, usize> {
    let mut m = HashMap::new();
    for e in events {
        *m.entry(e.event_id).or_default() += 1;
    }
    m
}
