//! The fixtures the crates' tests share, instead of a copy in each crate's
//! `tests/`: hand-made worlds of events whose KPIs and pages the tests work
//! out by hand, and the [`World`] builder they are written with.
//!
//! - [`world`]: [`World`], a list of events with deterministic ids, and a
//!   method per recurring piece (an order opened with its entitlement check,
//!   a visit, an invoice, a claim, master data).
//! - [`october`]: the October of the engine's KPI tests (two calendars, two
//!   contracts, pauses, a holiday, claims; read by the engine's and the API's
//!   tests).
//! - [`board`]: the October of the dashboard's tests (one 24x7 calendar,
//!   numbers per region, product and agent).
//! - [`id`], [`s`], [`t`], [`d`]: test ids and instants; [`json_rows`]:
//!   record batches as the JSON rows the tests compare.
//!
//! Only the domain is imported (the layer of `domain`, dev only), so every
//! crate's tests may use it; writing a world into a lake is the engine's
//! (`fieldhouse_engine::testing`, feature `testing`).

use arrow::array::RecordBatch;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use uuid::Uuid;

pub mod board;
pub mod october;
pub mod world;

pub use world::{OrderSpec, PartUse, VisitSpec, World, labour};

/// The test id `n`: a fixed UUIDv7-shaped prefix with `n` in its low bits.
pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0000 | n)
}

/// The id as the lake writes it.
pub fn s(n: u128) -> String {
    id(n).hyphenated().to_string()
}

/// An RFC 3339 instant, in UTC.
pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("`{s}` is not RFC 3339: {e}")).with_timezone(&Utc)
}

/// A `YYYY-MM-DD` date.
pub fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("`{s}` is not YYYY-MM-DD: {e}"))
}

/// Record batches as JSON rows (none for no rows).
pub fn json_rows(batches: &[RecordBatch]) -> Vec<Value> {
    let mut w = arrow::json::ArrayWriter::new(Vec::new());
    for b in batches {
        w.write(b).unwrap_or_else(|e| panic!("a batch as JSON: {e}"));
    }
    w.finish().unwrap_or_else(|e| panic!("batches as JSON: {e}"));
    let bytes = w.into_inner();
    if bytes.is_empty() { vec![] } else { serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("JSON rows: {e}")) }
}
