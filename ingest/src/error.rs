//! The ingest crate's error type.

/// Errors of the ingest crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Delta Lake operation (open, create, write, commit, optimize, vacuum) failed.
    #[error("delta table `{table}`: {action}")]
    Delta {
        table: String,
        action: &'static str,
        #[source]
        source: Box<deltalake::DeltaTableError>,
    },
    /// A query over a lake table failed.
    #[error("query on `{table}`")]
    Query {
        table: String,
        #[source]
        source: Box<deltalake::datafusion::error::DataFusionError>,
    },
    /// Building or reading an Arrow batch failed.
    #[error("arrow batch for `{table}`")]
    Arrow {
        table: String,
        #[source]
        source: arrow::error::ArrowError,
    },
    /// The event contract rejected a conversion (not a per-record rejection).
    #[error("event contract")]
    Domain(#[source] Box<fieldhouse_domain::Error>),
    /// The lake location is not a usable URL or path.
    #[error("invalid lake location `{location}`: {message}")]
    Location { location: String, message: String },
    /// Reading the outbox or the ingest state database failed.
    #[error("sqlite `{path}`")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    /// An outbox row could not be decoded as an event: the outbox contract is broken.
    #[error("outbox row seq {seq} is not a valid event")]
    OutboxRow {
        seq: i64,
        #[source]
        source: Box<fieldhouse_domain::Error>,
    },
    /// The outbox sequence is not gap-free and increasing where the relay expected it.
    #[error("outbox gap: expected seq {expected}, found {found}")]
    OutboxGap { expected: i64, found: i64 },
    /// The table's transaction version for our app id is ahead of the outbox.
    #[error("lake txn version {lake} for `{app_id}` is ahead of the outbox max seq {outbox}")]
    LakeAhead { app_id: String, lake: i64, outbox: i64 },
    /// Another writer kept winning the commit race.
    #[error("gave up after {attempts} commit conflicts on `{table}`")]
    ConflictRetriesExhausted { table: String, attempts: usize },
    /// A whole batch body could not be parsed (not a per-record problem).
    #[error("malformed {format} body: {message}")]
    MalformedBody { format: &'static str, message: String },
    /// A body or a file exceeded the configured size limit.
    #[error("body of {size} bytes exceeds the limit of {limit} bytes")]
    BodyTooLarge { size: usize, limit: usize },
    /// The format of a batch could not be determined.
    #[error("unknown batch format `{0}` (use ndjson, json or csv)")]
    UnknownFormat(String),
    /// The same idempotency key was used with a different body.
    #[error("idempotency key `{key}` was already used with a different body")]
    IdempotencyMismatch { key: String },
    /// File system I/O outside the object store.
    #[error("i/o on `{path}`")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A background task panicked or was cancelled.
    #[error("background task: {0}")]
    Task(String),
}

impl From<fieldhouse_domain::Error> for Error {
    fn from(e: fieldhouse_domain::Error) -> Error {
        Error::Domain(Box::new(e))
    }
}

impl Error {
    pub(crate) fn delta<'a>(
        table: &'a str,
        action: &'static str,
    ) -> impl FnOnce(deltalake::DeltaTableError) -> Error + 'a {
        move |source| Error::Delta { table: table.to_string(), action, source: Box::new(source) }
    }

    pub(crate) fn sqlite(path: &std::path::Path) -> impl FnOnce(rusqlite::Error) -> Error + '_ {
        move |source| Error::Sqlite { path: path.display().to_string(), source }
    }

    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io { path: path.display().to_string(), source }
    }

    /// Whether this is a Delta commit conflict on an application transaction
    /// (another writer committed the same `app_id` concurrently).
    pub fn is_commit_conflict(&self) -> bool {
        matches!(self, Error::Delta { source, .. } if is_conflict(source))
    }
}

pub(crate) fn is_conflict(e: &deltalake::DeltaTableError) -> bool {
    use deltalake::kernel::transaction::TransactionError;
    match e {
        deltalake::DeltaTableError::Transaction { source } => matches!(
            source,
            TransactionError::CommitConflict(_)
                | TransactionError::VersionAlreadyExists(_)
                | TransactionError::MaxCommitAttempts(_)
        ),
        deltalake::DeltaTableError::VersionAlreadyExists(_) => true,
        _ => false,
    }
}

/// `Result` with the ingest [`Error`] by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;
