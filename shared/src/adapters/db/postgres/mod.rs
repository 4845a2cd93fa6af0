//! PostgreSQL: what the production API reads.

use std::collections::HashMap;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Row;

use crate::contract::api::{isoformat, ApiArticle, ApiModel, ApiRec, RecsQuery};
use crate::contract::database::{
    ArticleRow, ModelRow, ModelStart, ModelType, RecDb, RecRow, Rollback, SiteLock,
};
use crate::contract::error::{Error, Result};

mod rec_db;

/// Rows per UNNEST batch.
const CHUNK: usize = 10_000;
/// Bytes of COPY data sent per message.
const COPY_BUFFER: usize = 1 << 20;

/// One row of COPY text format: tab-separated, with `\`, tab, newline and
/// carriage return escaped in the one free-text column.
fn copy_row(buf: &mut Vec<u8>, model_id: i32, r: &RecRow, target: i32) {
    use std::io::Write;
    let _ = write!(buf, "{model_id}\t");
    for b in r.source_entity_id.bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
    // writing to a Vec cannot fail
    let _ = writeln!(buf, "\t{target}\t{:.6}", r.score);
}

/// Parallel COPY streams for large loads; more than the server's cores is no faster.
const COPY_STREAMS: usize = 2;
/// Below this many rows one stream is fast enough.
const PARALLEL_COPY_MIN_ROWS: usize = 100_000;

#[derive(Debug, Clone)]
pub struct PgDb {
    pool: PgPool,
    /// Whether this role may skip per-row foreign-key triggers while loading
    /// (asked once).
    trusted_load: std::sync::Arc<tokio::sync::OnceCell<bool>>,
}

impl PgDb {
    /// Connects and applies migrations. With `schema`, every connection uses that
    /// schema (created if missing): how tests keep apart.
    ///
    /// # Errors
    /// `Db` when it cannot connect; `Migrate` when migrations fail.
    pub async fn open(url: &str, schema: Option<&str>) -> Result<PgDb> {
        // the name shows in pg_stat_activity and pg_locks: who holds a site lock
        let mut opts = PgConnectOptions::from_str(url)
            .map_err(Error::db("parse postgres url"))?
            .application_name(&match schema {
                Some(schema) => format!("article-rec/{schema}"),
                None => "article-rec".into(),
            });
        if let Some(schema) = schema {
            if !schema.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(Error::InvalidInput(format!("bad schema name {schema:?}")));
            }
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(opts.clone())
                .await
                .map_err(Error::db("connect postgres"))?;
            // creating needs a privilege on the database that a role with an
            // existing schema of its own may lack, so look first
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                    .bind(schema)
                    .fetch_one(&admin)
                    .await
                    .map_err(Error::db("find schema"))?;
            if !exists {
                // the name was checked to be [A-Za-z0-9_] above
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "CREATE SCHEMA IF NOT EXISTS {schema}"
                )))
                .execute(&admin)
                .await
                .map_err(Error::db("create schema"))?;
            }
            admin.close().await;
            opts = opts.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .connect_with(opts)
            .await
            .map_err(Error::db("connect postgres"))?;
        super::migrations::postgres()
            .run(&pool)
            .await
            .map_err(Error::migrate)?;
        Ok(PgDb {
            pool,
            trusted_load: std::sync::Arc::default(),
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Whether the role may set `session_replication_role` (a superuser, or
    /// on PostgreSQL 15+ a role granted `SET` on it, as RDS's `rds_superuser`).
    async fn may_skip_key_triggers(&self) -> Result<bool> {
        let pool = &self.pool;
        self.trusted_load
            .get_or_try_init(|| async move {
                let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
                    .fetch_one(pool)
                    .await
                    .map_err(Error::db("server version"))?;
                let query = if version >= 150_000 {
                    "SELECT has_parameter_privilege('session_replication_role', 'SET')"
                } else {
                    "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                };
                sqlx::query_scalar(query)
                    .fetch_one(pool)
                    .await
                    .map_err(Error::db("load privileges"))
            })
            .await
            .copied()
    }

    /// The foreign keys of a load, checked once as a set: every recommended
    /// article exists (the model was checked by the caller).
    async fn check_articles_exist(&self, recs: &[RecRow]) -> Result<()> {
        let mut ids: Vec<i32> = recs
            .iter()
            .map(|r| i32::try_from(r.recommended_article_id).unwrap_or(i32::MAX))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let missing: Vec<i32> = sqlx::query_scalar(
            "SELECT wanted FROM UNNEST($1::int[]) AS wanted \
             WHERE NOT EXISTS (SELECT 1 FROM article WHERE id = wanted) LIMIT 5",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .map_err(Error::db("check recommended articles"))?;
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidInput(format!(
                "recommendations name articles that do not exist (ids {missing:?})"
            )))
        }
    }

    /// One COPY of `recs` in a transaction of its own; returns rows written.
    /// With `trusted`, the rows' keys were checked as a set beforehand and the
    /// per-row key triggers are skipped for this transaction only, as
    /// `pg_restore --disable-triggers` does: they cost most of a load.
    async fn copy_stream(&self, model_id: i32, recs: &[&RecRow], trusted: bool) -> Result<u64> {
        let mut tx = self.pool.begin().await.map_err(Error::db("begin"))?;
        if trusted {
            sqlx::query("SET LOCAL session_replication_role = replica")
                .execute(&mut *tx)
                .await
                .map_err(Error::db("skip key triggers"))?;
        }
        let mut copy = tx
            .copy_in_raw(
                "COPY recommendation (model_id, source_entity_id, recommended_article_id, score) \
                 FROM STDIN (FORMAT text)",
            )
            .await
            .map_err(Error::db("start COPY recommendations"))?;
        let mut buf = Vec::with_capacity(COPY_BUFFER + 1024);
        for &r in recs {
            // checked by the caller
            let target = i32::try_from(r.recommended_article_id).unwrap_or(i32::MAX);
            copy_row(&mut buf, model_id, r, target);
            if buf.len() >= COPY_BUFFER {
                copy.send(std::mem::take(&mut buf))
                    .await
                    .map_err(Error::db("COPY recommendations"))?;
                buf.reserve(COPY_BUFFER + 1024);
            }
        }
        if !buf.is_empty() {
            copy.send(buf).await.map_err(Error::db("COPY recommendations"))?;
        }
        let written = copy.finish().await.map_err(Error::db("COPY recommendations"))?;
        tx.commit().await.map_err(Error::db("commit"))?;
        Ok(written)
    }

    /// Inserts articles or, for known ones, fills in (or with `replace`,
    /// replaces) their fields; returns each external id's `article.id`.
    async fn upsert(&self, site: &str, rows: &[ArticleRow], replace: bool) -> Result<HashMap<String, i64>> {
        let mut out = HashMap::with_capacity(rows.len());
        let mut tx = self.pool.begin().await.map_err(Error::db("begin"))?;
        for chunk in rows.chunks(CHUNK) {
            let ext: Vec<&str> = chunk.iter().map(|r| r.external_id.as_str()).collect();
            let title: Vec<Option<&str>> = chunk.iter().map(|r| r.title.as_deref()).collect();
            let path: Vec<Option<&str>> = chunk.iter().map(|r| r.path.as_deref()).collect();
            let published: Vec<Option<chrono::DateTime<chrono::Utc>>> =
                chunk.iter().map(|r| r.published_at).collect();
            let exclude: Vec<Option<&str>> = chunk.iter().map(|r| r.exclude_reason.as_deref()).collect();
            let excerpt: Vec<Option<&str>> = chunk.iter().map(|r| r.excerpt.as_deref()).collect();
            let section: Vec<Option<&str>> = chunk.iter().map(|r| r.section.as_deref()).collect();
            let tags: Vec<Option<&str>> = chunk.iter().map(|r| r.tags.as_deref()).collect();
            let sql = format!(
                "INSERT INTO article (site, external_id, title, path, published_at, exclude_reason, excerpt, section, tags) \
                 SELECT $1::text, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], \
                 $7::text[], $8::text[], $9::text[]) \
                 ON CONFLICT (site, external_id) DO UPDATE SET {}, updated_at = now() \
                 RETURNING external_id, id",
                super::article_conflict_set("EXCLUDED", replace)
            );
            let ids = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(site)
                .bind(&ext)
                .bind(&title)
                .bind(&path)
                .bind(&published)
                .bind(&exclude)
                .bind(&excerpt)
                .bind(&section)
                .bind(&tags)
                .fetch_all(&mut *tx)
                .await
                .map_err(Error::db("upsert articles"))?;
            for r in ids {
                out.insert(r.get::<String, _>(0), i64::from(r.get::<i32, _>(1)));
            }
        }
        tx.commit().await.map_err(Error::db("commit"))?;
        Ok(out)
    }
}

fn model_row(r: sqlx::postgres::PgRow) -> ModelRow {
    ModelRow {
        id: i64::from(r.get::<i32, _>(0)),
        site: r.get(1),
        model_type: r.get(2),
        status: r.get(3),
        run_id: r.get(4),
    }
}

#[cfg(test)]
mod tests;
