//! The library's one error type. Every variant maps to an [`ErrorKind`], which is
//! what the outside world (Lambda `error_type`, CLI exit code) sees.

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a failure should be handled by whoever runs the stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Worth retrying: network, throttling, a database that went away.
    Transient,
    /// The request itself is wrong (bad event, bad setting): retrying cannot help.
    InvalidInput,
    /// The data cannot produce a result (empty window, schema mismatch).
    Data,
    /// A defect in this code.
    Bug,
    /// The deployment's permissions refuse an action (an IAM role or a
    /// bucket policy): a person must grant it; retrying cannot help.
    Permission,
}

impl ErrorKind {
    /// The name used as Lambda `error_type`, matched by the state machine's Retry/Catch.
    pub fn error_type(self) -> &'static str {
        match self {
            ErrorKind::Transient => "ArticleRec.Transient",
            ErrorKind::InvalidInput => "ArticleRec.InvalidInput",
            ErrorKind::Data => "ArticleRec.Data",
            ErrorKind::Bug => "ArticleRec.Bug",
            ErrorKind::Permission => "ArticleRec.AccessDenied",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("object {key} not found")]
    /// The key as the store names it.
    NotFound { key: String },
    #[error("storage error on {key}: {source}")]
    Storage {
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("object store error on {key}: {message}")]
    ObjectStore {
        key: String,
        message: String,
        /// Throttling, timeouts, 5xx: worth retrying.
        transient: bool,
    },
    /// AWS refused an action: the role or a resource policy does not grant it.
    #[error("access denied: {action} on {resource} ({message})")]
    AccessDenied {
        /// The IAM action, e.g. `s3:GetObject`.
        action: &'static str,
        /// What it was asked on, e.g. `s3://bucket/key`.
        resource: String,
        message: String,
    },
    #[error("database error during {op}: {source}")]
    Db {
        op: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// A stage that ran elsewhere (a Lambda function) failed with this error type.
    #[error("{error_type}: {message}")]
    Remote { error_type: String, message: String },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("parquet error on {key}: {source}")]
    Parquet {
        key: String,
        #[source]
        source: polars_error::PolarsError,
    },
    #[error("schema mismatch in {key}: expected {expected}, found {found}")]
    Schema {
        key: String,
        expected: String,
        found: String,
    },
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("configuration error: {0}")]
    Config(String),
    #[error("{stage}: nothing to work on: {what}")]
    Empty { stage: &'static str, what: String },
    #[error("internal error: {0}")]
    Bug(String),
    /// Someone else holds what we need (another run's save lock): retry later.
    #[error("{what} is busy: {holder}")]
    Busy { what: String, holder: String },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Storage { .. } | Error::Busy { .. } => ErrorKind::Transient,
            Error::ObjectStore { transient: true, .. } => ErrorKind::Transient,
            // access denied, no such bucket: the deployment is wrong, not the moment
            Error::ObjectStore { transient: false, .. } => ErrorKind::InvalidInput,
            Error::Db { source, .. } => match source {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Tls(_) => ErrorKind::Transient,
                // 08: connection lost, 40: serialization/deadlock, 57: shutdown or
                // terminated backend, 53: out of resources: all pass with a retry
                sqlx::Error::Database(e)
                    if e.code()
                        .is_some_and(|c| ["08", "40", "53", "57"].iter().any(|p| c.starts_with(p))) =>
                {
                    ErrorKind::Transient
                }
                _ => ErrorKind::Bug,
            },
            Error::InvalidInput(_) | Error::Config(_) => ErrorKind::InvalidInput,
            Error::AccessDenied { .. } => ErrorKind::Permission,
            Error::NotFound { .. } | Error::Parquet { .. } | Error::Schema { .. } | Error::Empty { .. } => {
                ErrorKind::Data
            }
            Error::Migrate(_) | Error::Bug(_) => ErrorKind::Bug,
            Error::Remote { error_type, .. } => [
                ErrorKind::Transient,
                ErrorKind::InvalidInput,
                ErrorKind::Data,
                ErrorKind::Bug,
                ErrorKind::Permission,
            ]
            .into_iter()
            .find(|k| k.error_type() == error_type)
            // Lambda's own failures (timeouts, crashes) are worth a retry
            .unwrap_or(ErrorKind::Transient),
        }
    }

    pub(crate) fn db(op: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
        move |source| Error::Db { op, source }
    }

    pub(crate) fn parquet(
        key: &impl std::fmt::Display,
    ) -> impl FnOnce(polars_error::PolarsError) -> Error + '_ {
        move |source| Error::Parquet {
            key: key.to_string(),
            source,
        }
    }
}
