//! The recommendation database: SQLite (local default) and PostgreSQL
//! (production), chosen by the URL's scheme. Each dialect owns its migrations
//! and SQL; `conformance` is the story both must pass.

mod errors;
mod lock;
mod migrations;
mod postgres;
mod sqlite;

#[cfg(test)]
pub(crate) mod conformance;

use std::sync::Arc;

pub use postgres::PgDb;
pub use sqlite::SqliteDb;

use crate::contract::database::{ModelType, RecDb, RecRow};
use crate::contract::error::{Error, Result};

/// The `ON CONFLICT` assignments of an article upsert: fill in what the new
/// row carries and keep the rest, or replace every field with the new row's.
fn article_conflict_set(excluded: &str, replace: bool) -> String {
    [
        "title",
        "path",
        "published_at",
        "exclude_reason",
        "excerpt",
        "section",
        "tags",
    ]
    .iter()
    .map(|c| {
        if replace {
            format!("{c} = {excluded}.{c}")
        } else {
            format!("{c} = COALESCE({excluded}.{c}, article.{c})")
        }
    })
    .collect::<Vec<_>>()
    .join(", ")
}

/// A model in one of these states was saved and switched in once; a retried
/// save of its run must leave it alone.
fn is_retired_or_live(status: &str) -> bool {
    matches!(status, "current" | "stale" | "failed")
}

fn nothing_to_roll_back(site: &str, kind: ModelType, why: &str) -> Error {
    Error::InvalidInput(format!(
        "cannot roll back the {} model of site {site}: {why}",
        kind.as_str()
    ))
}

/// Scores are stored as numeric(7, 6): finite, in [0, 10).
fn check_score(r: &RecRow) -> Result<()> {
    if r.score.is_finite() && (0.0..10.0).contains(&r.score) {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "score {} of recommendation {} -> {} is outside [0, 10)",
            r.score, r.source_entity_id, r.recommended_article_id
        )))
    }
}

/// Opens (and migrates) the database a URL names: `sqlite://path` or `postgres://...`.
///
/// # Errors
/// `Config` for another scheme; `Db`/`Migrate` when it cannot connect or migrate.
pub async fn open(url: &str) -> Result<Arc<dyn RecDb>> {
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteDb::open(url).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PgDb::open(url, None).await?));
    }
    Err(Error::Config(format!(
        "DATABASE_URL {}: unsupported scheme (use sqlite:// or postgres://)",
        crate::contract::redact::redact_url(url)
    )))
}
