//! The database driver's errors as the library's: each classified by the
//! driver's own codes (PostgreSQL's SQLSTATE class, SQLite's primary result
//! code) into the [`ErrorKind`] whoever runs the stage acts on.

use crate::contract::error::{Error, ErrorKind};

impl Error {
    /// A database failure during `op`; one the database refuses for lack
    /// of a privilege (SQLSTATE 42501) is access denied, naming `op`.
    pub(crate) fn db(op: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
        move |source| match &source {
            sqlx::Error::Database(e) if e.code().as_deref() == Some("42501") => Error::AccessDenied {
                action: op,
                resource: "the recommendation database".into(),
                message: e.message().to_string(),
            },
            _ => Error::Db {
                op,
                kind: db_error_kind(&source),
                source: Box::new(source),
            },
        }
    }

    /// A failed migration; one whose own SQL fails is ours to fix.
    pub(crate) fn migrate(source: sqlx::migrate::MigrateError) -> Error {
        let kind = match &source {
            sqlx::migrate::MigrateError::Execute(e) => match db_error_kind(e) {
                ErrorKind::Data => ErrorKind::Bug,
                kind => kind,
            },
            _ => ErrorKind::Bug,
        };
        Error::Migrate {
            kind,
            source: Box::new(source),
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
