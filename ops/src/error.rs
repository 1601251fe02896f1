//! The ops crate's error type.

use uuid::Uuid;

/// Errors of the operational core. Every failed operation leaves the
/// database unchanged (its transaction is rolled back).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An id names no record.
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    /// The operation is not allowed in the order's (or claim's, invoice's) current state.
    #[error("cannot {action} {entity} in state `{state}`")]
    Transition { entity: &'static str, action: &'static str, state: String },
    /// A conflict with existing data (already invoiced, duplicate serial, ...).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// A semantically invalid value (CSAT 7, negative quantity, ...).
    #[error("invalid `{field}`: {message}")]
    Invalid { field: &'static str, message: String },
    /// Not enough of a part at a stock location.
    #[error("out of stock: part {part_id} at location {location_id} has {on_hand}, {requested} requested")]
    OutOfStock { part_id: Uuid, location_id: Uuid, on_hand: i64, requested: i64 },
    /// The database failed.
    #[error("database")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value could not be read back.
    #[error("stored data is unreadable: {message}")]
    Corrupt { message: String },
    /// The event contract refused a value.
    #[error("event contract")]
    Domain(#[from] fieldhouse_domain::Error),
    /// JSON encoding of stored state failed.
    #[error("json")]
    Json(#[from] serde_json::Error),
}

impl Error {
    /// A stable code word for the error (the API's `error` field).
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::Transition { .. } => "transition_not_allowed",
            Error::Conflict { code, .. } => code,
            Error::Invalid { .. } => "invalid",
            Error::OutOfStock { .. } => "out_of_stock",
            Error::Sqlite(_) | Error::Corrupt { .. } | Error::Domain(_) | Error::Json(_) => "internal",
        }
    }

    pub(crate) fn not_found(entity: &'static str, id: impl ToString) -> Error {
        Error::NotFound { entity, id: id.to_string() }
    }

    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Error {
        Error::Invalid { field, message: message.into() }
    }

    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> Error {
        Error::Conflict { code, message: message.into() }
    }

    pub(crate) fn corrupt(message: impl Into<String>) -> Error {
        Error::Corrupt { message: message.into() }
    }
}

/// `Result` with the ops [`Error`] by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;
