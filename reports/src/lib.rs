//! Scheduled reports: definitions, KPI runs pinned to a lake version, charts,
//! and the files readers get.
//!
//! - [`config`]: report definitions (TOML; shipped defaults in `reports.toml`).
//! - [`period`]: report periods (ISO weeks, calendar months) in a time zone.
//! - [`source`]: the [`KpiSource`] trait reports read numbers through, and an
//!   in-memory source for tests.
//! - `engine_source` (feature `engine`): `EngineSource`, the source over the
//!   real KPI engine.
//! - [`charts`]: line, bar, histogram and Pareto charts as SVG and PNG (shared
//!   with the dashboard).
//! - [`render`]: KPI results → CSV, charts, self-contained HTML, manifest
//!   ([`runner::render_files`] puts a report's files together, PDF included).
//! - [`runner`]: [`run_report`]: compute as of a lake version, write atomically.
//! - [`scheduler`]: due runs, catch-up, retries, the loop `serve` runs.
//! - [`catalog`]: listing written reports per caller, safe download paths.
//! - [`runlog`]: the JSON-lines run log.
//! - [`pdf`]: the PDF form (settlement statements), with the shipped font.
//! - [`error`]: the crate's [`Error`] and [`Result`].

pub mod catalog;
pub mod charts;
pub mod config;
#[cfg(feature = "engine")]
pub mod engine_source;
pub mod error;
pub mod pdf;
pub mod period;
pub mod render;
pub mod runlog;
pub mod runner;
pub mod scheduler;
pub mod source;

pub use catalog::{ReportListing, list_reports, resolve_download};
pub use config::{Config, Format, ReportDef};
#[cfg(feature = "engine")]
pub use engine_source::EngineSource;
pub use error::{Error, Result};
pub use period::{Period, PeriodKind};
pub use runner::{ReportRun, run_report};
pub use scheduler::{Scheduler, run_due};
pub use source::{KpiParams, KpiSource, MemorySource};
