//! Ingest: every service event into Delta Lake, exactly once.
//!
//! - [`lake`]: the Delta tables `events` and `rejected_events` under one lake
//!   location (create, append with a `txn`, check, optimize, vacuum, checkpoint).
//! - [`storage`]: lake locations (local directory, `s3://`) and the S3 store.
//! - [`store`]: [`store::FsyncStore`], the local object store that fsyncs files
//!   and directories before a write returns.
//! - [`relay`]: the outbox relay (SQLite outbox → `events`, exactly once via
//!   the Delta `txn` of app id `fieldhouse-outbox`).
//! - [`decode`]: NDJSON / JSON array / CSV decoders with per-record validation.
//! - [`batch`]: external batches (files, HTTP bodies): dedupe, dead letters, commit.
//! - [`http`]: `POST /api/v1/events` with idempotency keys.
//! - [`metrics`]: counters rendered as Prometheus text.
//! - [`error`]: the crate's error type.

pub mod batch;
pub mod decode;
pub mod error;
pub mod http;
pub mod lake;
pub mod metrics;
pub mod relay;
pub mod storage;
pub mod store;

pub use batch::{BatchReport, IngestOptions, Ingestor, Outcome};
pub use decode::{Format, Limits};
pub use error::{Error, Result};
pub use lake::Lake;
pub use metrics::Metrics;
pub use relay::{Outbox, Relay, RelayConfig, RelayStats};
