//! The recommendation database behind one trait: SQLite (local default) and
//! PostgreSQL (production), chosen by the URL's scheme. Each dialect owns its
//! migrations and SQL; `conformance` is the story both must pass.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::contract::error::Result;

/// The two kinds of model the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelType {
    /// Per-article recommendations from matrix factorisation.
    Article,
    /// Default recommendations (`source_entity_id = 'default'`).
    Popularity,
}

impl ModelType {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelType::Article => "article",
            ModelType::Popularity => "popularity",
        }
    }
}

/// `source_entity_id` of default recommendations.
pub const DEFAULT_SOURCE: &str = "default";

/// An article row to upsert.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArticleRow {
    pub external_id: String,
    pub title: Option<String>,
    pub path: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub exclude_reason: Option<String>,
    /// The article's text for content neighbours (ours, not the API's).
    pub excerpt: Option<String>,
    pub section: Option<String>,
    /// One tag per line ([`crate::contract::site::CatalogEntry::tags_text`]).
    pub tags: Option<String>,
}

/// A recommendation row to insert.
#[derive(Debug, Clone, PartialEq)]
pub struct RecRow {
    pub source_entity_id: String,
    /// `article.id` of the recommended article.
    pub recommended_article_id: i64,
    /// In [0, 1]; stored with 6 decimals.
    pub score: f64,
}

/// What [`RecDb::begin_model`] found for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelStart {
    /// A pending model, empty, ready for recommendations.
    Fresh(i64),
    /// This run's model was already saved and switched: nothing to do.
    AlreadySaved(i64),
}

/// What [`RecDb::rollback`] switched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    /// The model that was current; now 'failed', so it is never rolled back to.
    pub from: ModelRow,
    /// The newest stale model; now current.
    pub to: ModelRow,
}

/// A model as the API sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRow {
    pub id: i64,
    pub site: String,
    pub model_type: String,
    pub status: String,
    pub run_id: String,
}

/// The API's query (`GET /recs`); `contract::api` parses it as the API does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecsQuery {
    pub site: String,
    /// The article the recommendations are for; `None` asks for every
    /// source of the model (as the API does without it).
    pub source_entity_id: Option<String>,
    pub model_type: ModelType,
    /// External ids not to recommend (the articles the reader has seen).
    pub exclude: Vec<String>,
    pub size: u32,
}

/// A recommendation as the API answers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiRec {
    pub id: i64,
    pub created_at: String,
    pub updated_at: String,
    pub source_entity_id: String,
    pub model: ApiModel,
    pub recommended_article: ApiArticle,
    /// The stored decimal, six places (`numeric(7, 6)`), as a string.
    pub score: String,
}

/// The recommendation's model, the API's columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiModel {
    pub id: i64,
    pub created_at: String,
    pub updated_at: String,
    pub site: String,
    #[serde(rename = "type")]
    pub model_type: String,
    pub status: String,
}

/// The recommended article, the API's columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiArticle {
    pub id: i64,
    pub created_at: String,
    pub updated_at: String,
    pub site: String,
    pub external_id: String,
    pub title: Option<String>,
    pub path: Option<String>,
    pub published_at: Option<String>,
    pub exclude_reason: Option<String>,
}

/// A held site lock. Release it with [`SiteLock::release`]; if it is dropped
/// instead (a crash, a cancelled task), what holds it (a database session,
/// an open file) closes and the lock goes with it.
#[derive(Debug)]
pub struct SiteLock {
    site: String,
    held: Box<dyn HeldLock>,
}

/// What a database adapter holds while a site is locked.
#[async_trait]
pub trait HeldLock: Send + Sync + std::fmt::Debug {
    /// # Errors
    /// When the lock's holder cannot be told; the lock still ends with it.
    async fn release(self: Box<Self>) -> Result<()>;
}

impl SiteLock {
    pub fn new(site: &str, held: Box<dyn HeldLock>) -> SiteLock {
        SiteLock {
            site: site.to_string(),
            held,
        }
    }

    pub fn site(&self) -> &str {
        &self.site
    }

    /// Frees the lock now rather than when its holder closes.
    ///
    /// # Errors
    /// `Db` or `Storage` when the holder cannot be told.
    pub async fn release(self) -> Result<()> {
        self.held.release().await
    }
}

/// Changes to a site's models (begin, discard, activate, rollback, prune) are
/// made by one run at a time: the caller holds [`RecDb::lock_site`]. Readers
/// never need it.
#[async_trait]
pub trait RecDb: Send + Sync + std::fmt::Debug {
    /// Takes the site's save lock, waiting up to `wait` for another run to
    /// finish. It is freed by [`SiteLock::release`] or by the holder's death.
    ///
    /// # Errors
    /// `Busy` (transient) when still held after `wait`; `Db`/`Storage` otherwise.
    async fn lock_site(&self, site: &str, wait: Duration) -> Result<SiteLock>;

    /// Inserts or updates articles by (site, external id); returns every given
    /// external id's `article.id`.
    ///
    /// # Errors
    /// `Db` on database failure.
    async fn upsert_articles(&self, site: &str, rows: &[ArticleRow]) -> Result<HashMap<String, i64>>;

    /// Stores what a successful metadata lookup answered: every field of an
    /// existing article is replaced, so a stale title, date or exclusion
    /// never outlives a later answer ([`RecDb::upsert_articles`] only fills
    /// in what a row carries and keeps the rest).
    ///
    /// # Errors
    /// `Db` on database failure.
    async fn replace_metadata(&self, site: &str, rows: &[ArticleRow]) -> Result<()>;

    /// The stored metadata of these articles (the metadata cache); unknown ids
    /// are left out.
    ///
    /// # Errors
    /// `Db` on database failure.
    async fn articles(&self, site: &str, external_ids: &[String]) -> Result<Vec<ArticleRow>>;

    /// Starts (or restarts) the run's model as 'pending' with no recommendations,
    /// unless the run's model is already saved. Idempotent per (site, type, run).
    ///
    /// # Errors
    /// `Db` on database failure.
    async fn begin_model(&self, site: &str, kind: ModelType, run_id: &str) -> Result<ModelStart>;

    /// Deletes the site's pending models of that type left by other runs (a
    /// save that died midway), with their recommendations; returns how many.
    ///
    /// # Errors
    /// `Db` on database failure.
    async fn discard_pending(&self, site: &str, kind: ModelType, except_run_id: &str) -> Result<u64>;

    /// Bulk-inserts recommendations of a pending model; returns rows written.
    ///
    /// # Errors
    /// `Db` on database failure (e.g. an unknown article id).
    async fn insert_recs(&self, model_id: i64, recs: &[RecRow]) -> Result<u64>;

    /// In one transaction: the site's current model of that type becomes
    /// 'stale' and this one 'current'. Readers see the old or the new set.
    ///
    /// # Errors
    /// `Db` on database failure; `InvalidInput` if the model is not pending.
    async fn activate(&self, model_id: i64) -> Result<()>;

    /// In one transaction: the current model becomes 'failed' and the newest
    /// stale one 'current' again. Readers see the old or the new set.
    ///
    /// # Errors
    /// `InvalidInput` when there is no current model or nothing to go back to.
    async fn rollback(&self, site: &str, kind: ModelType) -> Result<Rollback>;

    /// Deletes retired models of the site and type beyond the newest `keep`
    /// stale ones (rollback targets) and the newest `keep` rolled-back ones
    /// (their recommendations cascade); returns how many went.
    ///
    /// # Errors
    /// `Db` on database failure.
    async fn prune_stale(&self, site: &str, kind: ModelType, keep: u32) -> Result<u64>;

    /// # Errors
    /// `Db` on database failure.
    async fn current_model(&self, site: &str, kind: ModelType) -> Result<Option<ModelRow>>;

    /// Every model of the site the database still has, whatever its status, by id.
    ///
    /// # Errors
    /// `Db` on database failure.
    async fn models(&self, site: &str) -> Result<Vec<ModelRow>>;

    /// Records the digest of the `evaluation.json` an article model was
    /// saved on (before it is activated).
    ///
    /// # Errors
    /// `Db` on database failure.
    async fn record_evaluation(&self, model_id: i64, digest: &str) -> Result<()>;

    /// The digest [`RecDb::record_evaluation`] recorded, if any.
    ///
    /// # Errors
    /// `Db` on database failure.
    async fn evaluation_digest(&self, model_id: i64) -> Result<Option<String>>;

    /// How many recommendations a model holds.
    ///
    /// # Errors
    /// `Db` on database failure.
    async fn rec_count(&self, model_id: i64) -> Result<u64>;

    /// What the API serves for a source (an article's external id or
    /// [`DEFAULT_SOURCE`]): the current model's recommendations, best first,
    /// as (recommended external id, score).
    ///
    /// # Errors
    /// `Db` on database failure.
    async fn current_recs(&self, site: &str, source_entity_id: &str) -> Result<Vec<(String, f64)>>;

    /// The API's recommendation query (`contract::api`): the site's
    /// current model of the query's type, its recommendations for the source
    /// (every source when none), recommended articles of the site not in
    /// `exclude`, best first (ties by external id, as `current_recs`), at most `size`.
    ///
    /// # Errors
    /// `Db` on database failure.
    async fn api_recs(&self, query: &RecsQuery) -> Result<Vec<ApiRec>>;
}
