//! The library's one error type. Every variant maps to an [`ErrorKind`], which is
//! what the outside world (Lambda `error_type`, CLI exit code) sees. Outside
//! libraries' errors are boxed sources: the contract depends on none of them.

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
    /// The database driver's error; `kind` is the driver's own
    /// classification, made by the adapter (`adapters::db::errors`).
    #[error("database error during {op}: {source}")]
    Db {
        op: &'static str,
        kind: ErrorKind,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stage that ran elsewhere (a Lambda function) failed with this error type.
    #[error("{error_type}: {message}")]
    Remote { error_type: String, message: String },
    #[error("database migration failed: {source}")]
    Migrate {
        kind: ErrorKind,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("parquet error on {key}: {source}")]
    Parquet {
        key: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file whose bytes are not the ones its writer recorded (a flipped
    /// byte, a truncated upload, another run's file), or whose values no
    /// stage writes (a NaN, a score out of range).
    #[error("{key} is damaged or was replaced: {why}")]
    Corrupt { key: String, why: String },
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
            Error::Db { kind, .. } | Error::Migrate { kind, .. } => *kind,
            Error::InvalidInput(_) | Error::Config(_) => ErrorKind::InvalidInput,
            Error::AccessDenied { .. } => ErrorKind::Permission,
            Error::NotFound { .. }
            | Error::Parquet { .. }
            | Error::Schema { .. }
            | Error::Corrupt { .. }
            | Error::Empty { .. } => ErrorKind::Data,
            Error::Bug(_) => ErrorKind::Bug,
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
}
