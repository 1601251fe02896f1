//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong defining, running, rendering, storing or
/// serving a report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The report configuration (TOML) is malformed or names unknown keys.
    #[error("report configuration {origin}")]
    Config {
        origin: String,
        #[source]
        source: Box<toml::de::Error>,
    },
    /// The configuration parsed but a value is not acceptable.
    #[error("report {report:?}: {message}")]
    Invalid { report: String, message: String },
    /// No report of that name is defined.
    #[error("no report named {0:?}")]
    UnknownReport(String),
    /// A period label that is neither `YYYY-MM` nor `YYYY-Www`.
    #[error("period {label:?}: {message}")]
    Period { label: String, message: String },
    /// The KPI source failed (engine error, missing KPI, ...).
    #[error("KPI {kpi:?}: {message}")]
    Kpi { kpi: String, message: String },
    /// A KPI result lacks a column the report needs.
    #[error("KPI {kpi:?} has no column {column:?} (columns: {available})")]
    MissingColumn { kpi: String, column: String, available: String },
    /// Drawing a chart failed.
    #[error("chart {chart:?}: {message}")]
    Chart { chart: String, message: String },
    /// Arrow failed (CSV encoding, casting).
    #[error("arrow")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Encoding a PNG failed.
    #[error("png encoding")]
    Png(#[from] png::EncodingError),
    /// A file or directory could not be read or written.
    #[error("{action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// JSON (manifest, run log) failed to encode or decode.
    #[error("json {what}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// A download path that is malformed, escapes the reports folder, or
    /// belongs to someone the caller may not see. Deliberately vague.
    #[error("no such report file")]
    NotFound,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { action, path, source }
}
