//! PostgreSQL: what the production API reads.

use std::collections::HashMap;
use std::str::FromStr;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Row;

use super::{ArticleRow, ModelRow, ModelStart, ModelType, RecDb, RecRow};
use crate::error::{Error, Result};

/// Rows per UNNEST batch.
const CHUNK: usize = 10_000;

#[derive(Debug, Clone)]
pub struct PgDb {
    pool: PgPool,
}

impl PgDb {
    /// Connects and applies migrations. With `schema`, every connection uses that
    /// schema (created if missing): how tests keep apart.
    ///
    /// # Errors
    /// `Db` when it cannot connect; `Migrate` when migrations fail.
    pub async fn open(url: &str, schema: Option<&str>) -> Result<PgDb> {
        let mut opts = PgConnectOptions::from_str(url).map_err(Error::db("parse postgres url"))?;
        if let Some(schema) = schema {
            if !schema.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(Error::InvalidInput(format!("bad schema name {schema:?}")));
            }
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(opts.clone())
                .await
                .map_err(Error::db("connect postgres"))?;
            // the name was checked to be [A-Za-z0-9_] above
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}"
            )))
            .execute(&admin)
            .await
            .map_err(Error::db("create schema"))?;
            admin.close().await;
            opts = opts.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .connect_with(opts)
            .await
            .map_err(Error::db("connect postgres"))?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgDb { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl RecDb for PgDb {
    async fn upsert_articles(&self, site: &str, rows: &[ArticleRow]) -> Result<HashMap<String, i64>> {
        let mut out = HashMap::with_capacity(rows.len());
        let mut tx = self.pool.begin().await.map_err(Error::db("begin"))?;
        for chunk in rows.chunks(CHUNK) {
            let ext: Vec<&str> = chunk.iter().map(|r| r.external_id.as_str()).collect();
            let title: Vec<Option<&str>> = chunk.iter().map(|r| r.title.as_deref()).collect();
            let path: Vec<Option<&str>> = chunk.iter().map(|r| r.path.as_deref()).collect();
            let published: Vec<Option<chrono::DateTime<chrono::Utc>>> =
                chunk.iter().map(|r| r.published_at).collect();
            let exclude: Vec<Option<&str>> = chunk.iter().map(|r| r.exclude_reason.as_deref()).collect();
            let ids = sqlx::query(
                "INSERT INTO article (site, external_id, title, path, published_at, exclude_reason) \
                 SELECT $1::text, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[]) \
                 ON CONFLICT (site, external_id) DO UPDATE SET \
                 title = COALESCE(EXCLUDED.title, article.title), \
                 path = COALESCE(EXCLUDED.path, article.path), \
                 published_at = COALESCE(EXCLUDED.published_at, article.published_at), \
                 exclude_reason = COALESCE(EXCLUDED.exclude_reason, article.exclude_reason), \
                 updated_at = now() \
                 RETURNING external_id, id",
            )
            .bind(site)
            .bind(&ext)
            .bind(&title)
            .bind(&path)
            .bind(&published)
            .bind(&exclude)
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

    async fn begin_model(&self, site: &str, kind: ModelType, run_id: &str) -> Result<ModelStart> {
        let mut tx = self.pool.begin().await.map_err(Error::db("begin"))?;
        let found = sqlx::query(
            "SELECT id, status FROM model WHERE site = $1 AND type = $2 AND run_id = $3 FOR UPDATE",
        )
        .bind(site)
        .bind(kind.as_str())
        .bind(run_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(Error::db("find model"))?;
        let start = match found {
            Some(row) => {
                let id = i64::from(row.get::<i32, _>(0));
                let status: String = row.get(1);
                if status == "current" || status == "stale" {
                    ModelStart::AlreadySaved(id)
                } else {
                    sqlx::query("DELETE FROM recommendation WHERE model_id = $1")
                        .bind(id as i32)
                        .execute(&mut *tx)
                        .await
                        .map_err(Error::db("clear pending model"))?;
                    sqlx::query("UPDATE model SET status = 'pending', updated_at = now() WHERE id = $1")
                        .bind(id as i32)
                        .execute(&mut *tx)
                        .await
                        .map_err(Error::db("reset model"))?;
                    ModelStart::Fresh(id)
                }
            }
            None => {
                let id: i32 = sqlx::query_scalar(
                    "INSERT INTO model (site, type, status, run_id) VALUES ($1, $2, 'pending', $3) RETURNING id",
                )
                .bind(site)
                .bind(kind.as_str())
                .bind(run_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(Error::db("create model"))?;
                ModelStart::Fresh(i64::from(id))
            }
        };
        tx.commit().await.map_err(Error::db("commit"))?;
        Ok(start)
    }

    async fn insert_recs(&self, model_id: i64, recs: &[RecRow]) -> Result<u64> {
        let model_id =
            i32::try_from(model_id).map_err(|_| Error::InvalidInput(format!("model id {model_id}")))?;
        let mut tx = self.pool.begin().await.map_err(Error::db("begin"))?;
        let mut written = 0;
        for chunk in recs.chunks(CHUNK) {
            let src: Vec<&str> = chunk.iter().map(|r| r.source_entity_id.as_str()).collect();
            let art: Vec<i32> = chunk
                .iter()
                .map(|r| i32::try_from(r.recommended_article_id).unwrap_or(i32::MAX))
                .collect();
            let score: Vec<f64> = chunk.iter().map(|r| r.score).collect();
            written += sqlx::query(
                "INSERT INTO recommendation (model_id, source_entity_id, recommended_article_id, score) \
                 SELECT $1::int, * FROM UNNEST($2::text[], $3::int[], $4::float8[])",
            )
            .bind(model_id)
            .bind(&src)
            .bind(&art)
            .bind(&score)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("insert recommendations"))?
            .rows_affected();
        }
        tx.commit().await.map_err(Error::db("commit"))?;
        Ok(written)
    }

    async fn activate(&self, model_id: i64) -> Result<()> {
        let id = i32::try_from(model_id).map_err(|_| Error::InvalidInput(format!("model id {model_id}")))?;
        let mut tx = self.pool.begin().await.map_err(Error::db("begin"))?;
        let row = sqlx::query("SELECT site, type, status FROM model WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(Error::db("find model"))?
            .ok_or_else(|| Error::InvalidInput(format!("no model {model_id}")))?;
        let (site, kind, status): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        if status == "current" {
            return Ok(());
        }
        if status != "pending" {
            return Err(Error::InvalidInput(format!(
                "model {model_id} is {status}, not pending"
            )));
        }
        sqlx::query(
            "UPDATE model SET status = 'stale', updated_at = now() WHERE site = $1 AND type = $2 AND status = 'current'",
        )
        .bind(&site)
        .bind(&kind)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("retire current model"))?;
        sqlx::query("UPDATE model SET status = 'current', updated_at = now() WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("activate model"))?;
        tx.commit().await.map_err(Error::db("commit"))
    }

    async fn prune_stale(&self, site: &str, kind: ModelType, keep: u32) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM model WHERE site = $1 AND type = $2 AND status = 'stale' AND id NOT IN \
             (SELECT id FROM model WHERE site = $1 AND type = $2 AND status = 'stale' ORDER BY id DESC LIMIT $3)",
        )
        .bind(site)
        .bind(kind.as_str())
        .bind(i64::from(keep))
        .execute(&self.pool)
        .await
        .map_err(Error::db("prune stale models"))?;
        Ok(done.rows_affected())
    }

    async fn current_model(&self, site: &str, kind: ModelType) -> Result<Option<ModelRow>> {
        let row = sqlx::query(
            "SELECT id, site, type, status, run_id FROM model WHERE site = $1 AND type = $2 AND status = 'current'",
        )
        .bind(site)
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(Error::db("current model"))?;
        Ok(row.map(|r| ModelRow {
            id: i64::from(r.get::<i32, _>(0)),
            site: r.get(1),
            model_type: r.get(2),
            status: r.get(3),
            run_id: r.get(4),
        }))
    }

    async fn current_recs(&self, site: &str, source_entity_id: &str) -> Result<Vec<(String, f64)>> {
        let rows = sqlx::query(
            "SELECT a.external_id, r.score::float8 FROM recommendation r \
             JOIN model m ON m.id = r.model_id \
             JOIN article a ON a.id = r.recommended_article_id \
             WHERE m.site = $1 AND m.status = 'current' AND r.source_entity_id = $2 \
             ORDER BY r.score DESC, a.external_id",
        )
        .bind(site)
        .bind(source_entity_id)
        .fetch_all(&self.pool)
        .await
        .map_err(Error::db("read recommendations"))?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The machine's PostgreSQL (CI starts it); override with TEST_DATABASE_URL.
    fn test_url() -> String {
        crate::settings::test_database_url()
    }

    #[tokio::test]
    async fn postgres_passes_the_conformance_story() {
        let schema = format!("t_conf_{}_{}", std::process::id(), rand::random::<u32>());
        let db = PgDb::open(&test_url(), Some(&schema))
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {} is needed: {e}", test_url()));
        crate::db::conformance::story(&db).await;
        let again = PgDb::open(&test_url(), Some(&schema)).await.unwrap();
        assert!(again
            .current_model("site-a", ModelType::Article)
            .await
            .unwrap()
            .is_some());
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(db.pool())
            .await
            .unwrap();
    }
}
