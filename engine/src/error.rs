//! The engine's one error type.

use datafusion::error::DataFusionError;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A lake table could not be opened (or not at the requested version/time).
    #[error("cannot open lake table `{table}`")]
    Lake {
        table: String,
        #[source]
        source: deltalake::DeltaTableError,
    },
    /// Planning or running a query failed.
    #[error("query failed: {context}")]
    Query {
        context: String,
        #[source]
        source: DataFusionError,
    },
    /// A SQL file of the catalog or the views is malformed.
    #[error("bad SQL file `{file}`: {message}")]
    SqlFile { file: String, message: String },
    /// No KPI of that name.
    #[error("unknown KPI `{name}`; `fieldhouse kpi --list` shows the catalog")]
    UnknownKpi { name: String },
    /// A parameter value is missing, unknown or of the wrong type.
    #[error("parameter `{name}`: {message}")]
    Parameter { name: String, message: String },
    /// A group-by dimension the KPI does not allow.
    #[error("unknown dimension `{name}` for KPI `{kpi}`; allowed: {allowed}")]
    UnknownDimension { kpi: String, name: String, allowed: String },
    /// The caller may not read this.
    #[error("forbidden: {message}")]
    Forbidden { message: String },
    /// The statement is not a read-only query.
    #[error("refused: {message}")]
    Refused { message: String },
    /// Starting or reaching a Ballista scheduler or executor failed.
    #[error("cluster: {message}")]
    Cluster { message: String },
    /// The query ran longer than its time limit.
    #[error("query exceeded its time limit of {seconds} s")]
    Timeout { seconds: u64 },
    /// Reading a file of the SQL directory failed.
    #[error("cannot read `{path}`")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The message with every cause after it (`a: b: c`), for logs.
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut src = std::error::Error::source(self);
        while let Some(s) = src {
            out.push_str(": ");
            out.push_str(&s.to_string());
            src = s.source();
        }
        out
    }

    pub(crate) fn query(context: impl Into<String>) -> impl FnOnce(DataFusionError) -> Error {
        let context = context.into();
        move |source| Error::Query { context, source }
    }

    /// Whether this is the caller's fault (bad name, parameter, statement or
    /// permission) rather than the engine's: APIs map it to a 4xx.
    pub fn is_client_error(&self) -> bool {
        match self {
            Error::UnknownKpi { .. }
            | Error::Parameter { .. }
            | Error::UnknownDimension { .. }
            | Error::Forbidden { .. }
            | Error::Refused { .. }
            | Error::Timeout { .. } => true,
            Error::Query { source, .. } => matches!(
                source.find_root(),
                DataFusionError::Plan(_) | DataFusionError::SQL(..) | DataFusionError::SchemaError(..)
            ),
            _ => false,
        }
    }
}
