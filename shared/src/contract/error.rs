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

/// What a database failure means for whoever runs the stage, by the
/// driver's own classification: PostgreSQL's SQLSTATE class, SQLite's
/// primary result code.
fn db_error_kind(source: &sqlx::Error) -> ErrorKind {
    match source {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => ErrorKind::Transient,
        // a URL that does not parse (a port out of range), an unknown option
        sqlx::Error::Configuration(_) => ErrorKind::InvalidInput,
        sqlx::Error::Database(e) => {
            if e.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                return sqlite_error_kind(e.code().as_deref());
            }
            let code = e.code().unwrap_or_default();
            match code.get(..2).unwrap_or_default() {
                // 08: connection lost, 40: serialization/deadlock, 57: shutdown or
                // terminated backend, 53: out of resources (disk full): all pass with a retry
                "08" | "40" | "53" | "57" => ErrorKind::Transient,
                // 28: wrong user or password, 3D: no such database, 3F: no such
                // schema (search_path): the URL is wrong
                "28" | "3D" | "3F" => ErrorKind::InvalidInput,
                // 42501 insufficient privilege (42 else: our SQL, a bug)
                "42" if code == "42501" => ErrorKind::Permission,
                _ => ErrorKind::Bug,
            }
        }
        _ => ErrorKind::Bug,
    }
}

/// SQLite's primary result code (the low byte of an extended one).
fn sqlite_error_kind(code: Option<&str>) -> ErrorKind {
    let primary = code.and_then(|c| c.parse::<i64>().ok()).map(|c| c & 0xff);
    match primary {
        // BUSY, LOCKED (another process holds the file), IOERR, FULL (disk full),
        // PROTOCOL (a lock race): worth trying again later
        Some(5 | 6 | 10 | 13 | 15) => ErrorKind::Transient,
        // PERM, READONLY, AUTH: the file's permissions refuse the write
        Some(3 | 8 | 23) => ErrorKind::Permission,
        // CANTOPEN: no such directory, or not a file
        Some(14) => ErrorKind::InvalidInput,
        // CORRUPT, NOTADB: the file is not a sound database
        Some(11 | 26) => ErrorKind::Data,
        _ => ErrorKind::Bug,
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
            Error::Db { source, .. } => db_error_kind(source),
            Error::Migrate(sqlx::migrate::MigrateError::Execute(source)) => match db_error_kind(source) {
                // a migration's own SQL that fails is ours to fix
                ErrorKind::Data => ErrorKind::Bug,
                kind => kind,
            },
            Error::InvalidInput(_) | Error::Config(_) => ErrorKind::InvalidInput,
            Error::AccessDenied { .. } => ErrorKind::Permission,
            Error::NotFound { .. }
            | Error::Parquet { .. }
            | Error::Schema { .. }
            | Error::Corrupt { .. }
            | Error::Empty { .. } => ErrorKind::Data,
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

    /// A database failure during `op`; one the database refuses for lack
    /// of a privilege (SQLSTATE 42501) is access denied, naming `op`.
    pub(crate) fn db(op: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
        move |source| match &source {
            sqlx::Error::Database(e) if e.code().as_deref() == Some("42501") => Error::AccessDenied {
                action: op,
                resource: "the recommendation database".into(),
                message: e.message().to_string(),
            },
            _ => Error::Db { op, source },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    async fn sqlite_error(sql: &[&str], setup: &[&str]) -> Error {
        let dir = tempfile::tempdir().unwrap();
        let opts = SqliteConnectOptions::new()
            .filename(dir.path().join("t.sqlite"))
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::from_millis(50));
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(opts)
            .await
            .unwrap();
        let mut a = pool.acquire().await.unwrap();
        for s in setup {
            sqlx::query(sqlx::AssertSqlSafe(*s))
                .execute(&mut *a)
                .await
                .unwrap();
        }
        let mut b = pool.acquire().await.unwrap();
        for s in sql {
            if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(*s)).execute(&mut *b).await {
                return Error::db("write")(e);
            }
        }
        panic!("{sql:?} did not fail");
    }

    /// SQLite's own errors, made by SQLite: a file another process holds and
    /// a full disk (a page limit: the same SQLITE_FULL) are worth a retry.
    #[tokio::test]
    async fn sqlite_failures_map_by_their_result_code() {
        let busy = sqlite_error(
            &["INSERT INTO t VALUES (2)"],
            &[
                "CREATE TABLE t (x)",
                "BEGIN EXCLUSIVE",
                "INSERT INTO t VALUES (1)",
            ],
        )
        .await;
        assert_eq!(busy.kind(), ErrorKind::Transient, "{busy}");
        let full = sqlite_error(
            &[
                "PRAGMA max_page_count = 3",
                "CREATE TABLE t (x)",
                "INSERT INTO t SELECT zeroblob(100000)",
            ],
            &[],
        )
        .await;
        assert!(full.to_string().contains("full"), "{full}");
        assert_eq!(full.kind(), ErrorKind::Transient, "{full}");
        assert_eq!(sqlite_error_kind(Some("11")), ErrorKind::Data, "corrupt");
        assert_eq!(sqlite_error_kind(Some("8")), ErrorKind::Permission, "read-only");
        assert_eq!(
            sqlite_error_kind(Some("14")),
            ErrorKind::InvalidInput,
            "cannot open"
        );
        assert_eq!(
            sqlite_error_kind(Some("517")),
            ErrorKind::Transient,
            "busy snapshot"
        );
    }

    /// PostgreSQL's: by SQLSTATE class, through a real server.
    #[tokio::test]
    async fn postgres_failures_map_by_their_sqlstate() {
        let base = crate::devtools::test_database_url();
        let missing = sqlx::PgPool::connect(&base.replacen("/test", "/no_such_database", 1))
            .await
            .map(|_| ())
            .map_err(Error::db("connect"))
            .unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::InvalidInput, "{missing}");
        let port = sqlx::PgPool::connect("postgres://postgres@127.0.0.1:99999/test")
            .await
            .map(|_| ())
            .map_err(Error::db("connect"))
            .unwrap_err();
        assert_eq!(port.kind(), ErrorKind::InvalidInput, "{port}");
        let pool = sqlx::PgPool::connect(&base).await.unwrap();
        let mut tx = pool.begin().await.unwrap();
        let role = format!("t_err_{}", std::process::id());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE ROLE {role}")))
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("SET LOCAL ROLE {role}")))
            .execute(&mut *tx)
            .await
            .unwrap();
        let denied = sqlx::query("CREATE TABLE public.t_denied (x int)")
            .execute(&mut *tx)
            .await
            .map_err(Error::db("create a table"))
            .unwrap_err();
        tx.rollback().await.unwrap();
        assert_eq!(denied.kind(), ErrorKind::Permission, "{denied}");
        assert!(denied.to_string().contains("create a table"), "{denied}");
    }
}
