//! The domain crate's error type.

/// Errors of the domain crate: decoding events, building Arrow batches,
/// calendar definitions.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The JSON text is not valid JSON at all.
    #[error("malformed JSON: {message}")]
    MalformedJson { message: String },
    /// A record is not an object, or lacks a required field.
    #[error("missing required field `{field}`")]
    MissingField { field: String },
    /// A field has the wrong type or an invalid value.
    #[error("invalid field `{field}`: {message}")]
    InvalidField { field: String, message: String },
    /// The `type` names no known event.
    #[error("unknown event type `{event_type}`")]
    UnknownEventType { event_type: String },
    /// A schema version this build does not understand.
    #[error("unsupported schema_version {version} (this build reads 1..={supported})")]
    UnsupportedSchemaVersion { version: i64, supported: i32 },
    /// A calendar definition is invalid.
    #[error("invalid calendar: {message}")]
    Calendar { message: String },
    /// Building or reading an Arrow batch failed.
    #[error("arrow")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A batch does not have the `events` table's shape.
    #[error("batch does not match the events schema: {message}")]
    Schema { message: String },
}

impl Error {
    /// The name of the field the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::MissingField { field } | Error::InvalidField { field, .. } => Some(field),
            Error::UnknownEventType { .. } => Some("type"),
            Error::UnsupportedSchemaVersion { .. } => Some("schema_version"),
            _ => None,
        }
    }
}

/// `Result` with the domain [`Error`] by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;
