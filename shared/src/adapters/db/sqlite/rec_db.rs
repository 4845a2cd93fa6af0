//! The recommendation database's port on SQLite: the same statements as PostgreSQL's where SQL allows.

use super::*;

#[async_trait]
impl RecDb for SqliteDb {
    async fn lock_site(&self, site: &str, wait: Duration) -> Result<SiteLock> {
        super::super::lock::lock_file(&self.lock_base, site, wait).await
    }

    async fn discard_pending(&self, site: &str, kind: ModelType, except_run_id: &str) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM model WHERE site = ? AND type = ? AND status = 'pending' AND run_id <> ?",
        )
        .bind(site)
        .bind(kind.as_str())
        .bind(except_run_id)
        .execute(&self.pool)
        .await
        .map_err(Error::db("discard pending models"))?;
        Ok(done.rows_affected())
    }

    async fn rollback(&self, site: &str, kind: ModelType) -> Result<Rollback> {
        let mut tx = self.write_tx().await?;
        let pick = |status: &'static str| {
            sqlx::query(
                "SELECT id, site, type, status, run_id FROM model \
                 WHERE site = ? AND type = ? AND status = ? ORDER BY id DESC LIMIT 1",
            )
            .bind(site)
            .bind(kind.as_str())
            .bind(status)
        };
        let from = pick("current")
            .fetch_optional(&mut *tx)
            .await
            .map_err(Error::db("find current model"))?
            .map(model_row)
            .ok_or_else(|| super::super::nothing_to_roll_back(site, kind, "no current model"))?;
        let to = pick("stale")
            .fetch_optional(&mut *tx)
            .await
            .map_err(Error::db("find stale model"))?
            .map(model_row)
            .ok_or_else(|| super::super::nothing_to_roll_back(site, kind, "no earlier model is kept"))?;
        for (id, status) in [(from.id, "failed"), (to.id, "current")] {
            sqlx::query(concat!(
                "UPDATE model SET status = ?, updated_at = ",
                now!(),
                " WHERE id = ?"
            ))
            .bind(status)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("switch models"))?;
        }
        tx.commit().await.map_err(Error::db("commit"))?;
        Ok(Rollback {
            from: ModelRow {
                status: "failed".into(),
                ..from
            },
            to: ModelRow {
                status: "current".into(),
                ..to
            },
        })
    }

    async fn upsert_articles(&self, site: &str, rows: &[ArticleRow]) -> Result<HashMap<String, i64>> {
        self.upsert(site, rows, false).await
    }

    async fn replace_metadata(&self, site: &str, rows: &[ArticleRow]) -> Result<()> {
        self.upsert(site, rows, true).await.map(drop)
    }

    async fn articles(&self, site: &str, external_ids: &[String]) -> Result<Vec<ArticleRow>> {
        let ids = serde_json::to_string(external_ids).map_err(|e| Error::Bug(e.to_string()))?;
        let rows = sqlx::query(
            "SELECT external_id, title, path, published_at, exclude_reason, excerpt, section, tags FROM article \
             WHERE site = ? AND external_id IN (SELECT value FROM json_each(?)) ORDER BY external_id",
        )
        .bind(site)
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(Error::db("read articles"))?;
        Ok(rows
            .into_iter()
            .map(|r| ArticleRow {
                external_id: r.get(0),
                title: r.get(1),
                path: r.get(2),
                published_at: r.get(3),
                exclude_reason: r.get(4),
                excerpt: r.get(5),
                section: r.get(6),
                tags: r.get(7),
            })
            .collect())
    }

    async fn begin_model(&self, site: &str, kind: ModelType, run_id: &str) -> Result<ModelStart> {
        let mut tx = self.write_tx().await?;
        let found = sqlx::query("SELECT id, status FROM model WHERE site = ? AND type = ? AND run_id = ?")
            .bind(site)
            .bind(kind.as_str())
            .bind(run_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(Error::db("find model"))?;
        let start = match found {
            Some(row) => {
                let id: i64 = row.get(0);
                let status: String = row.get(1);
                if super::super::is_retired_or_live(&status) {
                    ModelStart::AlreadySaved(id)
                } else {
                    sqlx::query("DELETE FROM recommendation WHERE model_id = ?")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(Error::db("clear pending model"))?;
                    sqlx::query(concat!(
                        "UPDATE model SET status = 'pending', updated_at = ",
                        now!(),
                        " WHERE id = ?"
                    ))
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::db("reset model"))?;
                    ModelStart::Fresh(id)
                }
            }
            None => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO model (site, type, status, run_id) VALUES (?, ?, 'pending', ?) RETURNING id",
                )
                .bind(site)
                .bind(kind.as_str())
                .bind(run_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(Error::db("create model"))?;
                ModelStart::Fresh(id)
            }
        };
        tx.commit().await.map_err(Error::db("commit"))?;
        Ok(start)
    }

    async fn insert_recs(&self, model_id: i64, recs: &[RecRow]) -> Result<u64> {
        recs.iter().try_for_each(super::super::check_score)?;
        let mut tx = self.write_tx().await?;
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM model WHERE id = ?")
            .bind(model_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(Error::db("find model"))?;
        if status.as_deref() != Some("pending") {
            return Err(Error::InvalidInput(format!(
                "model {model_id} is {}, not pending: recommendations go only into a pending model",
                status.as_deref().unwrap_or("missing")
            )));
        }
        let mut written = 0;
        for chunk in recs.chunks(CHUNK) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO recommendation (model_id, source_entity_id, recommended_article_id, score) ",
            );
            q.push_values(chunk, |mut b, r| {
                b.push_bind(model_id)
                    .push_bind(&r.source_entity_id)
                    .push_bind(r.recommended_article_id)
                    .push_bind((r.score * 1e6).round() / 1e6);
            });
            written += q
                .build()
                .execute(&mut *tx)
                .await
                .map_err(Error::db("insert recommendations"))?
                .rows_affected();
        }
        tx.commit().await.map_err(Error::db("commit"))?;
        Ok(written)
    }

    async fn activate(&self, model_id: i64) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT site, type, status FROM model WHERE id = ?")
            .bind(model_id)
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
        sqlx::query(concat!(
            "UPDATE model SET status = 'stale', updated_at = ",
            now!(),
            " WHERE site = ? AND type = ? AND status = 'current'"
        ))
        .bind(&site)
        .bind(&kind)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("retire current model"))?;
        sqlx::query(concat!(
            "UPDATE model SET status = 'current', updated_at = ",
            now!(),
            " WHERE id = ?"
        ))
        .bind(model_id)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("activate model"))?;
        tx.commit().await.map_err(Error::db("commit"))
    }

    async fn prune_stale(&self, site: &str, kind: ModelType, keep: u32) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM model WHERE site = ?1 AND type = ?2 AND status IN ('stale', 'failed') AND id NOT IN \
             (SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY status ORDER BY id DESC) AS newest \
              FROM model WHERE site = ?1 AND type = ?2 AND status IN ('stale', 'failed')) AS retired \
              WHERE newest <= ?3)",
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
            "SELECT id, site, type, status, run_id FROM model WHERE site = ? AND type = ? AND status = 'current'",
        )
        .bind(site)
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(Error::db("current model"))?;
        Ok(row.map(model_row))
    }

    async fn record_evaluation(&self, model_id: i64, digest: &str) -> Result<()> {
        sqlx::query("UPDATE model SET evaluation_digest = ? WHERE id = ?")
            .bind(digest)
            .bind(model_id)
            .execute(&self.pool)
            .await
            .map_err(Error::db("record the model's evaluation"))?;
        Ok(())
    }

    async fn evaluation_digest(&self, model_id: i64) -> Result<Option<String>> {
        let d: Option<Option<String>> =
            sqlx::query_scalar("SELECT evaluation_digest FROM model WHERE id = ?")
                .bind(model_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(Error::db("read the model's evaluation digest"))?;
        Ok(d.flatten())
    }

    async fn models(&self, site: &str) -> Result<Vec<ModelRow>> {
        let rows = sqlx::query("SELECT id, site, type, status, run_id FROM model WHERE site = ? ORDER BY id")
            .bind(site)
            .fetch_all(&self.pool)
            .await
            .map_err(Error::db("list models"))?;
        Ok(rows.into_iter().map(model_row).collect())
    }

    async fn rec_count(&self, model_id: i64) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recommendation WHERE model_id = ?")
            .bind(model_id)
            .fetch_one(&self.pool)
            .await
            .map_err(Error::db("count recommendations"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn current_recs(&self, site: &str, source_entity_id: &str) -> Result<Vec<(String, f64)>> {
        let rows = sqlx::query(
            "SELECT a.external_id, CAST(r.score AS REAL) FROM recommendation r \
             JOIN model m ON m.id = r.model_id \
             JOIN article a ON a.id = r.recommended_article_id \
             WHERE m.site = ? AND m.status = 'current' AND r.source_entity_id = ? \
             ORDER BY r.score DESC, a.external_id",
        )
        .bind(site)
        .bind(source_entity_id)
        .fetch_all(&self.pool)
        .await
        .map_err(Error::db("read recommendations"))?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn api_recs(&self, q: &RecsQuery) -> Result<Vec<ApiRec>> {
        let exclude =
            serde_json::to_string(&q.exclude).map_err(|e| Error::Bug(format!("exclude list: {e}")))?;
        let rows = sqlx::query(
            "SELECT r.id, r.created_at, r.updated_at, r.source_entity_id, r.score, \
                    m.id, m.created_at, m.updated_at, m.site, m.type, m.status, \
                    a.id, a.created_at, a.updated_at, a.site, a.external_id, a.title, a.path, \
                    a.published_at, a.exclude_reason \
             FROM recommendation r \
             JOIN model m ON m.id = r.model_id \
             JOIN article a ON a.id = r.recommended_article_id \
             WHERE m.site = ?1 AND m.type = ?2 AND m.status = 'current' \
               AND (?3 IS NULL OR r.source_entity_id = ?3) \
               AND a.site = ?1 AND a.external_id NOT IN (SELECT value FROM json_each(?4)) \
             ORDER BY r.score DESC, a.external_id \
             LIMIT ?5",
        )
        .bind(&q.site)
        .bind(q.model_type.as_str())
        .bind(q.source_entity_id.as_deref())
        .bind(exclude)
        .bind(i64::from(q.size))
        .fetch_all(&self.pool)
        .await
        .map_err(Error::db("read recommendations as the API does"))?;
        // stored as RFC 3339 text (the migration's strftime)
        let time = |r: &sqlx::sqlite::SqliteRow, i: usize| -> Result<Option<String>> {
            r.get::<Option<String>, _>(i)
                .map(|t| {
                    DateTime::parse_from_rfc3339(&t)
                        .map(|t| isoformat(t.with_timezone(&Utc)))
                        .map_err(|e| Error::InvalidInput(format!("timestamp {t:?} in the database: {e}")))
                })
                .transpose()
        };
        let need =
            |r: &sqlx::sqlite::SqliteRow, i: usize| -> Result<String> { Ok(time(r, i)?.unwrap_or_default()) };
        rows.iter()
            .map(|r| {
                Ok(ApiRec {
                    id: r.get(0),
                    created_at: need(r, 1)?,
                    updated_at: need(r, 2)?,
                    source_entity_id: r.get(3),
                    score: decimal6(r.get(4)),
                    model: ApiModel {
                        id: r.get(5),
                        created_at: need(r, 6)?,
                        updated_at: need(r, 7)?,
                        site: r.get(8),
                        model_type: r.get(9),
                        status: r.get(10),
                    },
                    recommended_article: ApiArticle {
                        id: r.get(11),
                        created_at: need(r, 12)?,
                        updated_at: need(r, 13)?,
                        site: r.get(14),
                        external_id: r.get(15),
                        title: r.get(16),
                        path: r.get(17),
                        published_at: time(r, 18)?,
                        exclude_reason: r.get(19),
                    },
                })
            })
            .collect()
    }
}
