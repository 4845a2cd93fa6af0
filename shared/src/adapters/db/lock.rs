//! The per-site save lock: two runs of one site never interleave their model
//! switches. It must free itself when its holder dies without releasing it, so
//! it lives where death is noticed: a PostgreSQL session (advisory lock) or an
//! open file (OS lock), never a row that a crash would leave behind.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use tracing::{debug, warn};

use crate::contract::database::{HeldLock, SiteLock};
use crate::contract::error::{Error, Result};

/// How often a waiting run tries the lock again.
const POLL: Duration = Duration::from_millis(100);

#[derive(Debug)]
enum Held {
    Pg {
        conn: PoolConnection<Postgres>,
        key: i64,
    },
    File {
        file: std::fs::File,
        site: String,
    },
}

#[async_trait::async_trait]
impl HeldLock for Held {
    async fn release(self: Box<Self>) -> Result<()> {
        match *self {
            Held::Pg { mut conn, key } => {
                sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(key)
                    .execute(&mut *conn)
                    .await
                    .map_err(Error::db("release site lock"))?;
                Ok(())
            }
            Held::File { file, site } => file.unlock().map_err(|source| Error::Storage {
                key: format!("save lock of site {site}"),
                source,
            }),
        }
    }
}

/// The advisory-lock key of a site: stable across processes and releases.
fn pg_key(site: &str) -> i64 {
    // FNV-1a, so the key does not depend on a hasher's seed or version
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"article-rec/save/".iter().chain(site.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// Waits up to `wait` for the site's advisory lock on a connection of its own.
pub(super) async fn lock_pg(pool: &PgPool, site: &str, wait: Duration) -> Result<SiteLock> {
    let key = pg_key(site);
    let mut conn = pool
        .acquire()
        .await
        .map_err(Error::db("acquire lock connection"))?;
    // if this handle is ever dropped unreleased, the session ends and takes the lock
    conn.close_on_drop();
    let start = Instant::now();
    loop {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await
            .map_err(Error::db("take site lock"))?;
        if got {
            debug!(site, key, "site lock taken");
            return Ok(SiteLock::new(site, Box::new(Held::Pg { conn, key })));
        }
        if start.elapsed() >= wait {
            let holder: Option<String> = sqlx::query_scalar(
                "SELECT string_agg(format('pid %s (%s) since %s', a.pid, a.application_name, a.backend_start), ', ') \
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted \
                 AND ((l.classid::bigint << 32) | l.objid::bigint) = $1",
            )
            .bind(key)
            .fetch_one(&mut *conn)
            .await
            .unwrap_or(None);
            return Err(busy(
                site,
                wait,
                holder.unwrap_or_else(|| "another session".into()),
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits up to `wait` for the OS lock on `<database file>.<site>.lock`.
pub(super) async fn lock_file(db_file: &std::path::Path, site: &str, wait: Duration) -> Result<SiteLock> {
    let path = lock_path(db_file, site);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| Error::Storage {
            key: path.display().to_string(),
            source,
        })?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => {
                return Ok(SiteLock::new(
                    site,
                    Box::new(Held::File {
                        file,
                        site: site.to_string(),
                    }),
                ))
            }
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(Error::Storage {
                    key: path.display().to_string(),
                    source,
                })
            }
        }
        if start.elapsed() >= wait {
            warn!(site, lock = %path.display(), "site lock still held");
            return Err(busy(site, wait, format!("the holder of {}", path.display())));
        }
        tokio::time::sleep(POLL).await;
    }
}

fn lock_path(db_file: &std::path::Path, site: &str) -> PathBuf {
    // the site becomes part of a file name: keep only characters safe in one
    let safe: String = site
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut name = db_file.as_os_str().to_owned();
    name.push(format!(".{safe}-{:016x}.lock", pg_key(site)));
    PathBuf::from(name)
}

fn busy(site: &str, wait: Duration, holder: String) -> Error {
    Error::Busy {
        what: format!("save lock of site {site} (waited {:.1} s)", wait.as_secs_f64()),
        holder,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_differ_by_site() {
        assert_eq!(pg_key("wcp"), pg_key("wcp"));
        assert_ne!(pg_key("wcp"), pg_key("wcp2"));
        // stable across builds: a changed key would let old and new binaries interleave
        assert_eq!(pg_key("") as u64, 0x7583_45d0_7cb4_d06f, "{:x}", pg_key(""));
    }

    #[test]
    fn lock_files_are_per_site_and_safe_names() {
        let a = lock_path(std::path::Path::new("/tmp/x.sqlite"), "a/b");
        let b = lock_path(std::path::Path::new("/tmp/x.sqlite"), "a_b");
        assert_ne!(a, b);
        assert!(a.to_str().unwrap().starts_with("/tmp/x.sqlite.a_b-"));
    }
}
