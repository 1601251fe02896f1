//! The simulator's error type.

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is unusable (zero technicians, bad start date...).
    #[error("invalid simulation config: {message}")]
    Config { message: String },
    /// The operational core refused an operation the simulator expected to succeed.
    #[error("operation `{op}` at {at} was refused: {message}")]
    Refused { op: &'static str, at: String, message: String },
    /// The backend failed (storage, transport).
    #[error("backend failed during `{op}`")]
    Backend {
        op: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The operational database already holds events: simulate into a fresh data directory.
    #[error("{path} already holds {events} events; simulate into a fresh data directory")]
    NotEmpty { path: String, events: i64 },
    /// Creating the data directory failed.
    #[error("cannot prepare data directory {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with the simulator's [`Error`] by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;
