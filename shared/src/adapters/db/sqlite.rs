//! SQLite: the local default. WAL mode so a reader can query while save writes.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::contract::api::{decimal6, isoformat, ApiArticle, ApiModel, ApiRec, RecsQuery};
use crate::contract::database::{
    ArticleRow, ModelRow, ModelStart, ModelType, RecDb, RecRow, Rollback, SiteLock,
};
use crate::contract::error::{Error, Result};

/// The current time as SQLite text, in the format the migrations' defaults use.
macro_rules! now {
    () => {
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    };
}
/// Rows per INSERT statement: 4 parameters each, well under SQLite's 32766.
const CHUNK: usize = 2000;

#[derive(Debug, Clone)]
pub struct SqliteDb {
    pool: SqlitePool,
    /// Site lock files are named after this path.
    lock_base: std::path::PathBuf,
}

impl SqliteDb {
    /// Opens `sqlite://path` (creating the file) and applies migrations.
    ///
    /// # Errors
    /// `Db` when the file cannot be opened; `Migrate` when migrations fail.
    pub async fn open(url: &str) -> Result<SqliteDb> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(Error::db("parse sqlite url"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let file = opts.get_filename();
        let lock_base = if file.as_os_str().is_empty() || file.to_str() == Some(":memory:") {
            // a private in-memory database: no other process can share it
            std::env::temp_dir().join(format!("article-rec-memory-{}", std::process::id()))
        } else {
            file.to_path_buf()
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .map_err(Error::db("connect sqlite"))?;
        super::migrations::sqlite()
            .run(&pool)
            .await
            .map_err(Error::migrate)?;
        Ok(SqliteDb { pool, lock_base })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

impl SqliteDb {
    /// A transaction that takes the write lock at once, so a read-then-write
    /// never fails on a snapshot another writer moved.
    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(Error::db("begin"))
    }

    /// Inserts articles or, for known ones, fills in (or with `replace`,
    /// replaces) their fields; returns each external id's `article.id`.
    async fn upsert(&self, site: &str, rows: &[ArticleRow], replace: bool) -> Result<HashMap<String, i64>> {
        let mut tx = self.pool.begin().await.map_err(Error::db("begin"))?;
        for chunk in rows.chunks(CHUNK / 2) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO article (site, external_id, title, path, published_at, exclude_reason, excerpt, section, tags) ",
            );
            q.push_values(chunk, |mut b, r| {
                b.push_bind(site)
                    .push_bind(&r.external_id)
                    .push_bind(&r.title)
                    .push_bind(&r.path)
                    .push_bind(r.published_at)
                    .push_bind(&r.exclude_reason)
                    .push_bind(&r.excerpt)
                    .push_bind(&r.section)
                    .push_bind(&r.tags);
            });
            q.push(format!(
                " ON CONFLICT (site, external_id) DO UPDATE SET {}, updated_at = {}",
                super::article_conflict_set("excluded", replace),
                now!()
            ));
            q.build()
                .execute(&mut *tx)
                .await
                .map_err(Error::db("upsert articles"))?;
        }
        let ids = sqlx::query("SELECT external_id, id FROM article WHERE site = ?")
            .bind(site)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::db("read article ids"))?;
        tx.commit().await.map_err(Error::db("commit"))?;
        let wanted: std::collections::HashSet<&str> = rows.iter().map(|r| r.external_id.as_str()).collect();
        Ok(ids
            .into_iter()
            .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
            .filter(|(e, _)| wanted.contains(e.as_str()))
            .collect())
    }
}

fn model_row(r: sqlx::sqlite::SqliteRow) -> ModelRow {
    ModelRow {
        id: r.get(0),
        site: r.get(1),
        model_type: r.get(2),
        status: r.get(3),
        run_id: r.get(4),
    }
}

mod rec_db;

#[cfg(test)]
mod tests;
